"""Checkpoint layouts through ``rnn-migrate convert`` WITH the ``.meta`` of the program that wrote them, verified
against the ORIGINAL graph (``layouts_graph``, TF 1.x graph form).

* pre-TF-1.2 names: TF 1.0's ``BasicLSTMCell`` written out (``basic_lstm_cell/weights``, ``biases``) and TF 0.12's
  (``RNN/BasicLSTMCell/Linear/Matrix``, ``Linear/Bias``), forget_bias 0.5 read from the ``.meta``;
* tutorial heads (``Variable``..``Variable_3`` dicts, ``W`` + ``output/b``, ``softmax_w``/``softmax_b``) chained after
  an LSTM, with RMSProp under ``variable_scope('Optimizer')``, Ftrl, Adadelta and two Adams, ``--with-optimizer``.

Each convert exits 0 with reference ``original-graph`` for every block and the whole model (so the ``.meta``
consistency check does not refuse a real ``.meta`` of old names); the independent reference for ``model.keras`` is
the original program (``import_meta_graph`` + ``Saver.restore``) on fresh inputs; the optimizer slot files are
compared with the checkpoint by an independent NumPy gate permutation; a wrong ``--forget-bias`` fails per group.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import layouts_graph as lg
from conftest import run_cli
from families_graph import run_original_program_on
from legacy_rnn import tf


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts_meta")
    built = {"old": lg.build_old_names(root / "old"), "heads": lg.build_heads(root / "heads")}
    codes = {"old": run_cli("convert", built["old"], root / "old_out", "--quiet"),
             "heads": run_cli("convert", built["heads"], root / "heads_out", "--quiet", "--with-optimizer")}
    return {k: (built[k], str(root / f"{k}_out"), codes[k]) for k in built}


def _manifest(out: str) -> dict:
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


def _whole_model_equals_the_program(prefix: str, out: str) -> None:
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    m = _manifest(out)["model"]
    ins, logits, name = lg.reference(prefix)
    assert m["inputs"] == ["x", "lengths"] and m["outputs"] == [name]
    model = keras.models.load_model(os.path.join(out, m["file"]), compile=False, safe_mode=True)
    rng = np.random.default_rng(8)
    fresh = {"x": rng.normal(0, 1, ins["x"].shape).astype(np.float32), "lengths": np.array([3, 6, 1, 2], np.int32)}
    for feeds, (expected,) in zip((ins, fresh), run_original_program_on(prefix, m["outputs"], [ins, fresh])):
        got = np.asarray(model([feeds["x"], feeds["lengths"]], training=False))
        np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(model([ins["x"], ins["lengths"]], training=False)), logits, atol=1e-5)


@pytest.mark.parametrize("group", ["old", "heads"])
def test_layout_converts_and_verifies_against_the_original_graph(layouts, group):
    prefix, out, code = layouts[group]
    assert code == 0
    m = _manifest(out)
    v = m["verification"]
    assert v["ok"] and v["reference"] == "original-graph"
    blocks = {"old": {"old09_RNN", "old10_rnn"}, "heads": {"rnn"}}[group]
    assert v["references"] == {**{f"block {b}": "original-graph" for b in blocks}, "whole model": "original-graph"}
    assert all(c["max_abs_diff"] <= 1e-5 for c in v["checks"])
    cells = [c for b in m["blocks"] for c in b["cells"]]
    assert all(c["spec"]["forget_bias"] == lg.FORGET_BIAS and c["hyper_sources"]["forget_bias"] == "meta"
               for c in cells)
    _whole_model_equals_the_program(prefix, out)


def test_pre_tf12_names_are_read_from_the_old_variables(layouts):
    _, out, _ = layouts["old"]
    sources = {c["path"]: {s for w in c["weights"] for s in w["sources"]} for b in _manifest(out)["blocks"]
               for c in b["cells"]}
    assert sources == {"old10/rnn/basic_lstm_cell": {"old10/rnn/basic_lstm_cell/weights",
                                                     "old10/rnn/basic_lstm_cell/biases"},
                       "old09/RNN/BasicLSTMCell": {"old09/RNN/BasicLSTMCell/Linear/Matrix",
                                                   "old09/RNN/BasicLSTMCell/Linear/Bias"}}


def test_tutorial_heads_and_every_optimizer_migrated(layouts):
    prefix, out, _ = layouts["heads"]
    m = _manifest(out)
    heads = {d["name"]: (d["kernel"], d["bias"]) for d in m["dense"]}
    assert heads == {"softmax": ("softmax_w", "softmax_b"), "output": ("W", "output/b"),
                     "Variable": ("Variable", "Variable_2"), "Variable_1": ("Variable_1", "Variable_3")}
    opts = {o["tf1_name"]: o for o in m["optimizer"]["optimizers"]}
    assert {k: o["kind"] for k, o in opts.items()} == {"RMSProp": "rmsprop", "Ftrl": "ftrl", "Adadelta": "adadelta",
                                                       "Adam": "adam", "MyAdam": "adam"}
    assert all(o["migrated"] for o in opts.values()) and opts["MyAdam"]["keras"]["learning_rate"] == 0.02
    assert not m["unrecognized"]
    reader = tf.train.load_checkpoint(prefix)
    dense = {d["name"]: d for d in m["dense"]}
    expected = {("softmax", "kernel", "accumulator"): "softmax_w/Ftrl",
                ("softmax", "bias", "linear"): "softmax_b/Ftrl_1",
                ("output", "kernel", "m"): "W/Adam", ("output", "bias", "v"): "output/b/MyAdam_1",
                ("Variable", "bias", "accum"): "Variable_2/Adadelta",
                ("Variable_1", "kernel", "accum_update"): "Variable_1/Adadelta_1"}
    for (name, what, role), key in expected.items():
        got = np.load(os.path.join(out, dense[name]["slots"][what][role]))
        np.testing.assert_array_equal(got, reader.get_tensor(key))
    # the LSTM's RMSProp slots (saved under the custom scope) are permuted like its weights: TF1 [x; h] rows and
    # column blocks i, j, f, o -> Keras kernel / recurrent_kernel / bias with blocks i, f, c(=j), o
    units = 4
    for role, suffix in (("rms", "RMSProp"), ("momentum", "RMSProp_1")):
        kernel = reader.get_tensor(f"Optimizer/rnn/basic_lstm_cell/kernel/{suffix}")
        bias = reader.get_tensor(f"Optimizer/rnn/basic_lstm_cell/bias/{suffix}")
        order = np.concatenate([np.arange(g * units, (g + 1) * units) for g in (0, 2, 1, 3)])
        want = [kernel[:lg.D][:, order], kernel[lg.D:][:, order], bias[order]]
        got = [np.load(os.path.join(out, "optimizer", role, "rnn", f"rnn0_{j}.npy")) for j in range(3)]
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("group", ["old", "heads"])
def test_wrong_forget_bias_fails_against_the_original_graph(layouts, group, tmp_path, capsys):
    prefix, _, _ = layouts[group]
    capsys.readouterr()
    flags = ["--with-optimizer"] if group == "heads" else []
    assert run_cli("convert", prefix, tmp_path / "wrong", "--forget-bias", "1.0", "--no-model", "--json", *flags) == 1
    assert not os.path.exists(tmp_path / "wrong")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    failed = {c["what"]: c["reference"] for c in result["verification"]["checks"] if c["max_abs_diff"] > 1e-5}
    blocks = {"old": {"old09_RNN", "old10_rnn"}, "heads": {"rnn"}}[group]
    assert failed == {f"block {b}": "original-graph" for b in blocks}
