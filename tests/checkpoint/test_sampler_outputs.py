"""A training loss AND greedy samplers in one graph (issue 21, show-attend-tell's pattern): the default whole model
returns the loss's logits and the samplers' predictions, and cells stepped by hand with a per-step attention input
are checked against the ORIGINAL graph's own ops.

One checkpoint (tests/checkpoint/sampler_fixture.py: a BasicLSTMCell decoder with a learned initial state, a GRUCell
decoder, a MultiRNNCell of two LSTMCells, each stepped by hand with soft attention feeding the cell input; samplers
spelled four ways; negative controls), converted once with default options. Checked: the default outputs are the
training logits plus exactly the samplers' terminal predictions (not an argmax of the training logits, an accuracy, an
unused final state, a random draw, a second model with its own placeholder; the top-k sampler, which the translator
cannot render, dropped with a note); model.keras equals the program's own tensors run by TensorFlow independently
(import_meta_graph + restore); every hand-stepped block is verified against the original graph, the cell whose state
path reads another variable is not claimed (rebuilt, with the reason); a wrong weight in a block or in the model is
caught by the original-graph check.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from sampler_fixture import B, D, L, LEFT_OUT, PICKED, T, V, build
from tests.checkpoint.tf1_values import FAST

TOL = 1e-5


@pytest.fixture(scope="module")
def sampler_conversion(tmp_path_factory):
    from migration.cli import main

    root = tmp_path_factory.mktemp("sampler")
    prefix, logits = build(str(root / "ckpt"))
    out = root / "out"
    code = main(["convert", prefix, str(out), "--quiet"])
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    return code, prefix, str(out), logits, manifest


def _feeds(seed: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"features": rng.uniform(0, 1, (B, L, D)).astype(np.float32),
            "captions": rng.integers(2, V, (B, T + 1)).astype(np.int32)}


def test_default_outputs_are_the_logits_and_the_samplers_predictions(sampler_conversion):
    code, _, _, logits, manifest = sampler_conversion
    assert code == 0
    model = manifest["model"]
    assert model["outputs"] == logits + [f"{n}:0" for n in PICKED]
    assert model["inputs"] == ["features", "captions"]
    assert all(f"{n}:0" in model["outputs_from"] for n in PICKED)
    for name in LEFT_OUT:
        assert f"{name}:0" not in model["outputs"]
    # the top-k sampler was a prediction, but TopKV2 has no Keras form: dropped, named, the rest of the model written
    dropped = [n for n in manifest["notes"] if "s4_topk:0" in n]
    assert len(dropped) == 1 and "TopKV2" in dropped[0] and "s4_topk" not in model["outputs_from"]
    assert any("s1_ids:0" in n and "sampler" in n for n in manifest["notes"])


def test_samplers_in_the_model_equal_the_programs_tensors(sampler_conversion):
    """Independent of rnn-migrate: the program's tensors run by TensorFlow from the .meta and the checkpoint, against
    model.keras loaded in safe mode, on the same inputs: ids exactly, probabilities and attention within 1e-5."""
    import tensorflow as tf
    import modern_rnn  # noqa: F401  registers the custom layers
    from modern_rnn import keras

    _, prefix, out, logits, manifest = sampler_conversion
    feeds = _feeds()
    names = logits + [f"{n}:0" for n in PICKED]
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(prefix + ".meta")
        with tf.compat.v1.Session(graph=graph, config=FAST) as sess:
            saver.restore(sess, prefix)
            ref = sess.run(names, {f"{k}:0": v for k, v in feeds.items()})
    model = keras.models.load_model(os.path.join(out, "model.keras"), compile=False, safe_mode=True)
    got = [np.asarray(g) for g in model([feeds["features"], feeds["captions"]], training=False)]
    assert len(got) == len(names)
    for name, a, b in zip(names, ref, got):
        assert a.shape == b.shape, name
        if "ids" in name:
            assert a.dtype.kind in "iu" and np.array_equal(a, b), name
            assert len(np.unique(a)) > 1  # a sampler that really samples (not one constant word)
        else:
            assert float(np.max(np.abs(a - b))) < TOL, name


def test_hand_stepped_cells_are_verified_against_the_original_graph(sampler_conversion):
    _, _, _, _, manifest = sampler_conversion
    report = manifest["verification"]
    refs = report["references"]
    for block in ("lstm", "gru", "stack"):
        assert refs[f"block {block}"] == "original-graph", report["notes"]
    assert refs["whole model"] == "original-graph"
    counts = {}
    for c in report["checks"]:
        if c["what"].startswith("block "):
            counts[c["what"]] = counts.get(c["what"], 0) + 1
            assert c["max_abs_diff"] < TOL, c
    assert counts == {"block lstm": 3, "block gru": 2, "block stack": 5, "block mixed": 3}
    # negative control: h mixed with the context through another variable between steps is not one cell per step
    assert refs["block mixed"] == "rebuilt"
    assert any(n.startswith("block mixed:") and "not one cell" in n for n in report["notes"])
    assert report["ok"]


def _tamper(path: str, layer: str = "", delta: float = 1e-3) -> None:
    from modern_rnn import keras

    model = keras.models.load_model(path, compile=False)
    target = model.get_layer(layer) if layer else model
    weights = target.get_weights()
    weights[-1] = weights[-1] + delta  # the last weight: a bias
    target.set_weights(weights)
    model.save(path)


def test_wrong_weights_are_caught_by_the_original_graph(sampler_conversion, tmp_path):
    """A bias off by 1e-3 in the hand-stepped lstm and stack blocks, and in the model's attention layer that only
    the samplers and the lstm decoder read: caught against the original graph (not a rebuilt one)."""
    from migration.checkpoint.verify import verify_conversion

    _, prefix, out, _, manifest = sampler_conversion
    tampered = tmp_path / "tampered"
    shutil.copytree(out, tampered)
    files = {b["name"]: b["file"] for b in manifest["blocks"]}
    for name in ("lstm", "stack"):
        _tamper(str(tampered / files[name]))
    layer = [k for k, v in manifest["model"]["layers"].items() if v.get("dense") == "lstm_att/w"]
    assert len(layer) == 1
    _tamper(str(tampered / "model.keras"), layer[0])
    report = verify_conversion(prefix, tampered)
    assert not report.ok
    for name in ("lstm", "stack"):
        mine = [c for c in report.checks if c.what == f"block {name}"]
        assert mine and all(c.reference == "original-graph" for c in mine)
        assert 1e-5 < max(c.max_abs_diff for c in mine) < 1.0
    gru = [c for c in report.checks if c.what == "block gru"]
    assert gru and all(c.max_abs_diff < TOL and c.reference == "original-graph" for c in gru)
    whole = {c.output: c for c in report.checks if c.what == "whole model"}
    assert all(whole[f"{n}:0"].reference == "original-graph" for n in PICKED)
    for n in ("s1_alphas", "s2_alphas", "s3_probs"):
        assert whole[f"{n}:0"].max_abs_diff > TOL
    assert all(whole[n].max_abs_diff < TOL for n in whole if n.startswith("gru_"))  # the gru decoder: untouched


def test_stepped_locator_claims_the_cell_not_a_projection_after_it(tmp_path):
    """A cell stepped by hand with feedback (``x_t = concat([u_t, dense(h_{t-1})])``) is located from its own
    variables; counted with a per-step output projection (``matmul(h_t, w_p)``, read after the cell and passed to no
    later step) it is refused by name (negative control: a wrapper's projection is not part of one cell per step)."""
    import legacy_rnn
    import tensorflow as tf
    from migration.checkpoint.reader import CheckpointReader
    from migration.core.errors import MigrationError
    from migration.graph.reference import OriginalGraph
    from migration.graph.stepped_blocks import locate_stepped

    v1 = tf.compat.v1
    with legacy_rnn.new_graph(7) as graph:
        u = v1.placeholder(tf.float32, [None, T, 2], "u")
        cell = v1.nn.rnn_cell.BasicLSTMCell(3)
        state = zero = cell.zero_state(tf.shape(u)[0], tf.float32)
        w_fb = v1.get_variable("w_fb", [3, 2])
        w_p = v1.get_variable("w_p", [3, 2])
        outs, xs, hs = [], [], []
        for t in range(T):
            xs.append(tf.concat([u[:, t], tf.matmul(state.h, w_fb)], 1))
            with v1.variable_scope("dec", reuse=t > 0):
                h, state = cell(xs[-1], state)
            hs.append(h.name)
            outs.append(tf.matmul(h, w_p))
        tf.stack(outs, 1, name="projected")
        with v1.Session(graph=graph, config=FAST) as sess:
            sess.run(v1.global_variables_initializer())
            prefix = v1.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    og = OriginalGraph(prefix + ".meta", CheckpointReader(prefix))
    keys = {"dec/basic_lstm_cell/kernel", "dec/basic_lstm_cell/bias"}
    found = locate_stepped(og, keys, 2)
    assert found.block.steps == [x.name for x in xs]
    assert found.block.states == [state.c.name, state.h.name]
    assert found.initial == [zero.c.name, zero.h.name]
    assert found.block.sequences == [hs] and hs[-1] == state.h.name  # the cell's output, step by step
    with pytest.raises(MigrationError, match="not one cell per step"):
        locate_stepped(og, keys | {"w_p"}, 2)
