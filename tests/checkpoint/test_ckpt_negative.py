"""Negative controls (verify catches wrong conversions) and bad input (clear errors, exit 2, nothing partial)."""
from __future__ import annotations

import json
import os
import shutil


from conftest import build_forget_bias, copy_checkpoint, run_cli


def _no_partial(parent) -> None:
    leftovers = [p for p in os.listdir(parent) if p.startswith(".") and (".tmp-" in p or ".old-" in p)]
    assert leftovers == []


def test_ignoring_forget_bias_fails_verify(ckpts, tmp_path, capsys):
    out = tmp_path / "out"
    # forget_bias=1.0 for the model that used 0.0 / 0.5: verify (TF1 side from the .meta) must catch it ...
    assert run_cli("convert", ckpts["forget_bias"], out, "--forget-bias", "1.0") == 1
    assert not out.exists()
    _no_partial(tmp_path)
    assert "FAIL" in capsys.readouterr().out
    # ... and with --no-verify the files are written, and `verify` fails on them
    assert run_cli("convert", ckpts["forget_bias"], out, "--forget-bias", "1.0", "--no-verify", "--quiet") == 0
    assert run_cli("verify", ckpts["forget_bias"], out, "--json") == 1
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not report["ok"] and report["max_abs_diff"] > 1e-3


def test_tampered_block_fails_verify(ckpts, converted, tmp_path, capsys):
    from modern_rnn import keras
    import modern_rnn  # noqa: F401

    code, out = converted("gru_encoder")
    tampered = tmp_path / "tampered"
    shutil.copytree(out, tampered)
    path = str(tampered / "blocks" / "encoder.keras")
    model = keras.models.load_model(path, compile=False)
    weights = model.get_weights()
    weights[2] = weights[2] + 1e-3  # layer 0 bias
    model.set_weights(weights)
    model.save(path)
    assert run_cli("verify", ckpts["gru_encoder"], tampered, "--json") == 1
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 1e-5 < report["max_abs_diff"] < 1.0
    assert run_cli("verify", ckpts["gru_encoder"], out) == 0  # the untouched conversion still passes


def test_existing_out_dir_refused_then_forced(ckpts, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    assert run_cli("convert", ckpts["seed002_static"], out, "--quiet") == 2
    assert "already exists" in capsys.readouterr().err and (out / "keep.txt").exists()
    # --force replaces only a directory rnn-migrate wrote: this one has no manifest, so it is the user's
    assert run_cli("convert", ckpts["seed002_static"], out, "--quiet", "--force") == 2
    assert "not a conversion written by rnn-migrate" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "user data"
    shutil.rmtree(out)
    assert run_cli("convert", ckpts["seed002_static"], out, "--quiet") == 0
    (out / "stale.txt").write_text("added by the user")  # issue 20: --force never deletes a file we did not write
    assert run_cli("convert", ckpts["seed002_static"], out, "--quiet", "--force") == 2
    assert "holds 'stale.txt', which rnn-migrate did not write" in capsys.readouterr().err
    assert (out / "stale.txt").read_text() == "added by the user"
    (out / "stale.txt").unlink()
    assert run_cli("convert", ckpts["seed002_static"], out, "--quiet", "--force") == 0  # a conversion: replaced
    assert (out / "manifest.json").exists()
    _no_partial(tmp_path)


def _expect_error(capsys, *args, pattern: str) -> None:
    assert run_cli(*args) == 2
    err = capsys.readouterr().err
    assert pattern in err, err


def test_missing_and_truncated_data(ckpts, tmp_path, capsys):
    src = ckpts["seed004"]
    missing = copy_checkpoint(src, tmp_path / "missing")
    os.remove(missing + ".data-00000-of-00001")
    _expect_error(capsys, "inspect", missing, pattern="Missing data file")
    truncated = copy_checkpoint(src, tmp_path / "truncated")
    data = truncated + ".data-00000-of-00001"
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)
    _expect_error(capsys, "convert", truncated, tmp_path / "out", pattern="is truncated")
    assert not (tmp_path / "out").exists()
    _expect_error(capsys, "inspect", tmp_path / "nowhere" / "model.ckpt", pattern="not found")
    _expect_error(capsys, "inspect", tmp_path, pattern="no 'checkpoint' state file")


def test_index_of_another_checkpoint(ckpts, tmp_path, capsys):
    # same variable names and shapes, other values: only the data file's checksums can tell
    other = build_forget_bias(tmp_path / "other", seed=70)
    mixed = copy_checkpoint(ckpts["forget_bias"], tmp_path / "mixed", with_meta=False)
    shutil.copy(other + ".index", mixed + ".index")
    _expect_error(capsys, "convert", mixed, tmp_path / "out", "--quiet", pattern="belongs to another save")
    assert not (tmp_path / "out").exists()
    _no_partial(tmp_path)


def test_no_rnn_and_unknown_cell(ckpts, tmp_path, capsys):
    _expect_error(capsys, "convert", ckpts["dense_only"], tmp_path / "a", pattern="holds no RNN cell")
    _expect_error(capsys, "convert", ckpts["unknown_cell"], tmp_path / "b", pattern="rnn/my_cell/kernel")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    _no_partial(tmp_path)


def test_shape_contradicts_graph(ckpts, tmp_path, capsys):
    bad = copy_checkpoint(ckpts["seed002_static"], tmp_path / "bad", with_meta=False)
    shutil.copy(ckpts["partitioned_div"] + ".meta", bad + ".meta")  # rnn/basic_rnn_cell/kernel [9,4] vs [6,4]
    _expect_error(capsys, "inspect", bad, pattern="'rnn/basic_rnn_cell/kernel' has shape [6, 4] in the checkpoint")
    _expect_error(capsys, "convert", bad, tmp_path / "out", pattern="belongs to another model")
    assert not (tmp_path / "out").exists()


def test_verify_needs_a_conversion(ckpts, tmp_path, capsys):
    _expect_error(capsys, "verify", ckpts["seed004"], tmp_path, pattern="manifest.json")
