"""Issue 9, classes 4-5: hostile or odd checkpoints and arguments give exit 2 with a clear message (never 3), and
`convert --check-integrity` (the default) notices a damaged tensor that the conversion itself would not read."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import tf, v1
from conftest import T, copy_checkpoint, randomize, run_cli, save
from tests.checkpoint.tf1_values import FAST

D, U = 3, 4


def save_arrays(directory, arrays: dict, name: str = "model.ckpt") -> str:
    """A checkpoint holding exactly ``arrays`` (any dtype, strings included), written by Saver."""
    with legacy_rnn.new_graph() as graph:
        variables = [v1.Variable(value, name=key) for key, value in arrays.items()]
        sess = v1.Session(graph=graph, config=FAST)
        sess.run(v1.global_variables_initializer())
        os.makedirs(directory, exist_ok=True)
        prefix = v1.train.Saver(variables).save(sess, os.path.join(str(directory), name), write_meta_graph=False)
        sess.close()
    return prefix


def lstm_arrays(dtype, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"rnn/basic_lstm_cell/kernel": rng.normal(0, 0.5, (D + U, 4 * U)).astype(dtype),
            "rnn/basic_lstm_cell/bias": rng.normal(0, 0.5, (4 * U,)).astype(dtype)}


def _expect(capsys, *args, pattern: str, code: int = 2) -> str:
    assert run_cli(*args) == code
    err = capsys.readouterr().err
    assert pattern in err, err
    assert "Traceback" not in err and "internal error" not in err
    return err


def _keras_kernel(out_dir) -> np.ndarray:
    from migration.safe_io import load_keras_model

    model = load_keras_model(os.path.join(out_dir, "blocks", "rnn.keras"))
    return model.get_weights()[0]


# -- dtypes, shapes, zero units --------------------------------------------------------------------------------------

def test_float16_weights_convert_exactly_and_say_so(tmp_path, capsys):
    arrays = lstm_arrays(np.float16)
    prefix = save_arrays(tmp_path / "f16", arrays)
    assert run_cli("convert", prefix, tmp_path / "out", "--quiet") == 0  # verified against a float32 copy
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    cell = manifest["blocks"][0]["cells"][0]
    assert set(cell["source_dtypes"].values()) == {"float16"}
    assert all("float16 -> float32 (exact" in note for note in cell["dtype_casts"].values())
    assert manifest["verification"]["ok"] and manifest["verification"]["max_abs_diff"] <= 1e-5
    assert run_cli("verify", prefix, tmp_path / "out") == 0  # the verify command too
    # the input rows of the Keras kernel, gate block i, are the float16 values widened exactly
    np.testing.assert_array_equal(_keras_kernel(tmp_path / "out")[:, :U],
                                  arrays["rnn/basic_lstm_cell/kernel"][:D, :U].astype(np.float32))


def test_float64_weights_exact_or_refused(tmp_path, capsys):
    exact = {k: v.astype(np.float32).astype(np.float64) for k, v in lstm_arrays(np.float64).items()}
    prefix = save_arrays(tmp_path / "exact", exact)
    assert run_cli("convert", prefix, tmp_path / "out", "--quiet") == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert all("float64 -> float32 (exact" in n for n in manifest["blocks"][0]["cells"][0]["dtype_casts"].values())
    lossy = lstm_arrays(np.float64)  # random doubles: rounding to float32 would change them
    prefix = save_arrays(tmp_path / "lossy", lossy)
    _expect(capsys, "convert", prefix, tmp_path / "out2", "--quiet", pattern="not exactly representable in float32")
    assert not (tmp_path / "out2").exists()


@pytest.mark.parametrize("case, pattern", [
    ("int64", "has dtype int64"), ("string", "has dtype string"), ("scalar", "expected a 2-D kernel"),
    ("zero_units", "zero-size axis"),
])
def test_odd_kernels_are_refused(tmp_path, capsys, case, pattern):
    arrays = lstm_arrays(np.float32)
    key = "rnn/basic_lstm_cell/kernel"
    if case == "int64":
        arrays[key] = arrays[key].astype(np.int64)
    elif case == "string":
        arrays[key] = np.array([[b"w"] * (4 * U)] * (D + U))
    elif case == "scalar":
        arrays[key] = np.float32(1.5)
    else:
        arrays = {key: np.zeros((D, 0), np.float32), "rnn/basic_lstm_cell/bias": np.zeros((0,), np.float32)}
    prefix = save_arrays(tmp_path / case, arrays)
    _expect(capsys, "convert", prefix, tmp_path / "out", "--quiet", pattern=pattern)
    _expect(capsys, "inspect", prefix, pattern=pattern)
    assert not (tmp_path / "out").exists()


# -- Adam beta1_power ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def adam_ckpt(tmp_path_factory):
    """dynamic_rnn(BasicRNNCell) trained by Adam without a global_step: iterations come from beta1_power."""
    directory = tmp_path_factory.mktemp("adam")
    with legacy_rnn.new_graph(11) as graph:
        x = v1.placeholder(tf.float32, [None, T, D])
        outputs, _ = legacy_rnn.dynamic_rnn(legacy_rnn.basic_rnn_cell(U), x)
        v1.train.AdamOptimizer().minimize(tf.reduce_sum(outputs))
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        randomize(sess, 11)
        powers = {v.op.name: v for v in v1.global_variables() if v.op.name.endswith("beta1_power")}
        prefixes = {}
        for label, value in (("ok", 0.9 ** 4), ("zero", 0.0), ("negative", -0.5), ("nan", np.nan), ("one", 1.0)):
            for var in powers.values():
                var.load(np.float32(value), sess)
            prefixes[label] = save(sess, directory / label)
        sess.close()
    return prefixes


@pytest.mark.parametrize("label", ["zero", "negative", "nan", "one"])
def test_impossible_beta1_power(adam_ckpt, tmp_path, capsys, label):
    _expect(capsys, "convert", adam_ckpt[label], tmp_path / "out", "--quiet", "--with-optimizer",
            pattern="beta1_power")
    assert not (tmp_path / "out").exists()
    # weights only: converted, the optimizer entry says why its iteration count is unknown
    assert run_cli("convert", adam_ckpt[label], tmp_path / "w", "--quiet", "--no-verify") == 0
    manifest = json.loads((tmp_path / "w" / "manifest.json").read_text())
    assert manifest["optimizer"]["optimizers"][0]["iterations"] is None
    assert any("beta1_power" in n for n in manifest["notes"])


def test_valid_beta1_power_gives_iterations(adam_ckpt, tmp_path):
    assert run_cli("convert", adam_ckpt["ok"], tmp_path / "out", "--quiet", "--with-optimizer") == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["optimizer"]["optimizers"][0]["iterations"] == 3  # beta1 ** (t + 1) with t = 3


# -- files around the checkpoint -------------------------------------------------------------------------------------

def test_binary_state_file(ckpts, tmp_path, capsys):
    copy_checkpoint(ckpts["seed002_static"], tmp_path)
    (tmp_path / "checkpoint").write_bytes(b"\x00\xff\xfe\x89PNG binary")
    _expect(capsys, "inspect", tmp_path, pattern="not UTF-8 text")
    (tmp_path / "checkpoint").write_text("model_checkpoint_path: {{{ nonsense")
    _expect(capsys, "convert", tmp_path, tmp_path / "out", pattern="Cannot parse the checkpoint state file")  # parsed by us (bounded), not by TF


def test_glob_characters_are_taken_literally(ckpts, tmp_path, capsys):
    literal = copy_checkpoint(ckpts["seed002_static"], tmp_path, name="model[1]*.ckpt")
    copy_checkpoint(ckpts["gru_encoder"], tmp_path, name="model1x.ckpt")  # what the pattern would match
    assert run_cli("convert", literal, tmp_path / "out", "--quiet") == 0  # verified against the literal files
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["checkpoint"] == literal and [b["scope"] for b in manifest["blocks"]] == ["rnn"]
    assert manifest["verification"]["ok"]
    assert run_cli("verify", literal, tmp_path / "out") == 0
    _expect(capsys, "inspect", tmp_path / "model[1]?.ckpt", pattern="not found")  # a pattern is not a file


def test_meta_from_another_model_or_empty(ckpts, tmp_path, capsys):
    other = copy_checkpoint(ckpts["seed002_static"], tmp_path / "other", with_meta=False)
    shutil.copy(ckpts["gru_encoder"] + ".meta", other + ".meta")
    err = _expect(capsys, "convert", other, tmp_path / "out", pattern="does not declare")
    assert "does not belong to the checkpoint" in err and "move the .meta away" in err
    empty = copy_checkpoint(ckpts["seed002_static"], tmp_path / "empty", with_meta=False)
    open(empty + ".meta", "wb").close()
    _expect(capsys, "convert", empty, tmp_path / "out", pattern="declares no variables at all")
    os.remove(empty + ".meta")  # the remedy works: without the .meta it converts with defaults
    assert run_cli("convert", empty, tmp_path / "out", "--quiet") == 0


# -- arguments -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["convert", "--json"], ["verify", "c", "o", "--tolerance", "nan", "--json"],
    ["verify", "c", "o", "--tolerance", "-1e-5", "--json"], ["verify", "c", "o", "--tolerance", "inf", "--json"],
    ["convert", "c", "o", "--forget-bias", "nan", "--json"], ["export", "m.keras", "p", "--bogus", "--json"],
])
def test_usage_errors_print_json(argv, capsys):
    with pytest.raises(SystemExit) as info:
        run_cli(*argv)
    assert info.value.code == 2
    captured = capsys.readouterr()
    line = json.loads(captured.out.strip().splitlines()[-1])
    assert line["exit_code"] == 2 and line["error"].startswith("usage:")
    assert "error:" in captured.err


def test_tolerance_zero_is_a_valid_tolerance(ckpts, converted, capsys):
    code, out = converted("seed002_static")
    assert code == 0
    assert run_cli("verify", ckpts["seed002_static"], out, "--tolerance", "0", "--json") in (0, 1)
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["tolerance"] == 0.0


# -- 5. integrity ----------------------------------------------------------------------------------------------------

def _corrupt_tensor(prefix: str, name: str) -> None:
    """Flip bytes of tensor ``name`` inside the .data file (found by its exact bytes: values are random)."""
    value = tf.train.load_checkpoint(prefix).get_tensor(name)
    data = prefix + ".data-00000-of-00001"
    raw = bytearray(open(data, "rb").read())
    offset = raw.find(value.tobytes())
    assert offset >= 0 and raw.find(value.tobytes(), offset + 1) < 0
    for i in range(offset, offset + 8):
        raw[i] ^= 0xFF
    open(data, "wb").write(bytes(raw))


def test_corrupt_slot_is_caught_by_the_integrity_check(ckpts, tmp_path, capsys):
    slot = "rnn/basic_lstm_cell/kernel/Adam_1"
    prefix = copy_checkpoint(ckpts["seed004"], tmp_path / "bad")
    _corrupt_tensor(prefix, slot)
    err = _expect(capsys, "convert", prefix, tmp_path / "out", "--quiet", pattern=repr(slot))
    assert "damaged" in err and not (tmp_path / "out").exists()
    # control: the conversion alone does not read that slot (without --with-optimizer), so only the check notices
    assert run_cli("convert", prefix, tmp_path / "unchecked", "--quiet", "--no-check-integrity") == 0
    manifest = json.loads((tmp_path / "unchecked" / "manifest.json").read_text())
    assert manifest["variables"][slot]["destination"].startswith("not migrated")
    assert manifest["integrity"] is None


def test_integrity_reads_every_tensor(ckpts, converted):
    code, out = converted("seed004")
    assert code == 0
    manifest = json.loads(open(os.path.join(out, "manifest.json")).read())
    assert manifest["integrity"]["checked"] == len(manifest["variables"])
    assert manifest["integrity"]["read_only_for_the_check"] > 0  # the Adam slots, not converted


def test_odd_global_step(tmp_path, capsys):
    arrays = lstm_arrays(np.float32)
    for key in list(arrays):
        arrays[key + "/Adam"] = arrays[key] * 0.1
        arrays[key + "/Adam_1"] = np.abs(arrays[key]) + 0.01
    arrays.update(beta1_power=np.float32(0.9 ** 4), beta2_power=np.float32(0.999 ** 4),
                  global_step=np.array([3.0, 4.0], np.float32))
    prefix = save_arrays(tmp_path / "ckpt", arrays)
    # not an int scalar: reported as unrecognized, and the iteration count comes from beta1_power instead
    assert run_cli("convert", prefix, tmp_path / "out", "--quiet", "--with-optimizer") == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["optimizer"]["optimizers"][0]["iterations"] == 3
    assert manifest["optimizer"]["optimizers"][0]["iterations_source"] == "beta1_power"
    assert manifest["variables"]["global_step"]["role"] == "unrecognized"


@pytest.mark.parametrize("which", [".meta", ".index", ".data-00000-of-00001"])
def test_checkpoint_files_must_be_regular_files(ckpts, tmp_path, capsys, which):
    """A FIFO would block the reader forever (the test would hang, not fail, without the check)."""
    prefix = copy_checkpoint(ckpts["seed002_static"], tmp_path)
    os.remove(prefix + which)
    os.mkfifo(prefix + which)
    _expect(capsys, "convert", prefix, tmp_path / "out", "--quiet", pattern="not a regular file")
