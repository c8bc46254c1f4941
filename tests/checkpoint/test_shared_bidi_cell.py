"""A bidirectional RNN given ONE cell object for both directions (``bidirectional_dynamic_rnn(cell, cell, x)``,
``static_bidirectional_rnn(cell, cell, xs)``; issue 21): the checkpoint holds only ``<scope>/fw/...``, the ``bw``
loop reads those variables. ``convert`` recognizes the block through the ``.meta`` and its Keras block reproduces the
ORIGINAL graph's fw and bw outputs (run here with ``import_meta_graph`` + ``Saver.restore``, not by rnn-migrate), in
TF 2.x's graph form (resource variables, ``While``) and TF 1.x's (``Enter`` frames, where the cell's bw ops keep the
fw name scope). Negative controls: without the ``.meta`` the block is refused with the reason; the detector says no
for an ordinary fw/bw pair; a converted block fed other weights differs.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import legacy_rnn
from migration.checkpoint import convert_checkpoint
from migration.checkpoint.export import load_model
from migration.checkpoint.meta import load_meta
from migration.checkpoint.shared_cell import bw_reads_fw
from migration.core.errors import MigrationError
from tests.checkpoint.ground_truth_graphs import tf1_graph_form
from tests.checkpoint.tf1_values import FAST

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
B, T, D = 3, 5, 4
LENGTHS = np.array([T, 2, 4], np.int32)


def _build(directory: str, form: str, shared: bool = True) -> dict:
    rng = np.random.default_rng(7)
    with tf1_graph_form(form == "tf1"), tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, T, D], "x")
        lengths = v1.placeholder(tf.int32, [None], "lengths")
        if form == "static":
            cell = v1.nn.rnn_cell.GRUCell(3)
            outs, _, _ = v1.nn.static_bidirectional_rnn(cell, cell, tf.unstack(x, axis=1), sequence_length=lengths,
                                                        dtype=tf.float32, scope="birnn")
            fw, bw = tf.stack([o[:, :3] for o in outs], 1), tf.stack([o[:, 3:] for o in outs], 1)
        else:
            cell = v1.nn.rnn_cell.LSTMCell(3, forget_bias=0.5)
            other = cell if shared else v1.nn.rnn_cell.LSTMCell(3)
            (fw, bw), _ = v1.nn.bidirectional_dynamic_rnn(cell, other, x, sequence_length=lengths, dtype=tf.float32,
                                                          scope="birnn")
        loss = tf.reduce_mean(tf.square(fw)) + tf.reduce_mean(bw)
        train = v1.train.GradientDescentOptimizer(0.1).minimize(loss)
        feeds = {x: rng.normal(size=(B, T, D)).astype(np.float32), lengths: LENGTHS}
        with v1.Session(config=FAST) as sess:
            sess.run(v1.global_variables_initializer())
            for var in v1.trainable_variables():
                var.load(rng.uniform(-1, 1, var.shape.as_list()).astype(np.float32), sess)
            sess.run(train, feeds)
            prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
            expected = sess.run([fw, bw], feeds)
    return {"prefix": prefix, "x": feeds[x], "expected": expected, "outputs": [fw.name, bw.name]}


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict:
    out = {}
    for form in ("tf2", "tf1", "static"):
        root = tmp_path_factory.mktemp(f"shared_{form}")
        graph = _build(str(root), form)
        result = convert_checkpoint(graph["prefix"], root / "conv", verify=form != "static")  # static: checked below
        graph.update(root=root, conv=str(root / "conv"), result=result)
        out[form] = graph
    return out


def _original(graph: dict, x: np.ndarray) -> list[np.ndarray]:
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(graph["prefix"] + ".meta")
        with v1.Session(config=FAST) as sess:
            saver.restore(sess, graph["prefix"])
            return sess.run(graph["outputs"], {"x:0": x, "lengths:0": LENGTHS})


@pytest.mark.parametrize("form", ["tf2", "tf1", "static"])
def test_shared_cell_block_converts_and_matches_the_original_graph(shared, form: str) -> None:
    graph = shared[form]
    assert sorted({k.split("/")[1] for k, _ in tf.train.list_variables(graph["prefix"]) if k.startswith("birnn/")}) \
        == ["fw"]                                                   # the fixture's point: no bw variables at all
    manifest = json.load(open(os.path.join(graph["conv"], "manifest.json")))
    (block,) = manifest["blocks"]
    assert block["bidirectional"] and {c["direction"] for c in block["cells"]} == {"fw", "bw"}
    checks = [c for c in (manifest.get("verification") or {}).get("checks", []) if c["what"] == "block birnn"]
    if form != "static":  # a dynamic block is located in the original graph (each direction's loop by its scope)
        assert len(checks) == 6 and {c["reference"] for c in checks} == {"original-graph"}
        assert max(c["max_abs_diff"] for c in checks) < 1e-5
    bw = next(c for c in block["cells"] if c["direction"] == "bw")
    assert all(k.startswith("birnn/fw/") for k in bw["variables"].values())
    model = load_model(os.path.join(graph["conv"], block["file"]))
    x = np.random.default_rng(3).normal(size=(B, T, D)).astype(np.float32)
    got = model([x, LENGTHS])
    expected = _original(graph, x)
    np.testing.assert_allclose(np.asarray(got[0]), expected[0], atol=1e-5)
    np.testing.assert_allclose(np.asarray(got[1]), expected[1], atol=1e-5)
    assert np.abs(expected[0] - expected[1]).max() > 1e-2              # fw and bw really differ (reversed inputs)
    # negative control: weights off by 0.1 are caught by the same comparison, in both directions
    model.set_weights([w + 0.1 for w in model.get_weights()])
    off = model([x, LENGTHS])
    assert min(np.abs(np.asarray(off[j]) - expected[j]).max() for j in (0, 1)) > 1e-3


def test_shared_cell_block_exports_to_the_original_graph(shared, tmp_path) -> None:
    from migration.checkpoint.export import export_keras_model
    from migration.checkpoint.export_names import names_for

    graph = shared["tf1"]
    manifest = json.load(open(os.path.join(graph["conv"], "manifest.json")))
    path = os.path.join(graph["conv"], manifest["blocks"][0]["file"])
    result = export_keras_model(path, str(tmp_path / "tf1" / "model.ckpt"), names=names_for(path))
    assert sorted(result.variables) == ["birnn/fw/lstm_cell/bias", "birnn/fw/lstm_cell/kernel"]
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(graph["prefix"] + ".meta")
        with v1.Session(config=FAST) as sess:
            v1.train.Saver(var_list=[v for v in v1.global_variables() if "/fw/" in v.op.name]).restore(
                sess, result.prefix)
            restored = sess.run(graph["outputs"], {"x:0": graph["x"], "lengths:0": LENGTHS})
    for got, want in zip(restored, graph["expected"]):
        np.testing.assert_allclose(got, want, atol=1e-5)
    model = load_model(path)  # negative control: the two copies trained apart have no single TF1 cell
    model.set_weights([w + 0.1 * k for k, w in enumerate(model.get_weights())])
    with pytest.raises(MigrationError, match="read by both directions"):
        export_keras_model(model, str(tmp_path / "apart" / "model.ckpt"), names=names_for(path))


def test_without_the_meta_the_fw_only_block_is_refused_with_the_reason(shared, tmp_path) -> None:
    graph = shared["tf2"]
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in os.listdir(os.path.dirname(graph["prefix"])):
        if f.startswith("model.ckpt") and not f.endswith(".meta"):
            shutil.copy(os.path.join(os.path.dirname(graph["prefix"]), f), bare / f)
    with pytest.raises(MigrationError, match="one cell object for both directions.*put the .meta"):
        convert_checkpoint(str(bare / "model.ckpt"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_detector_says_no_for_an_ordinary_fw_bw_pair(tmp_path) -> None:
    graph = _build(str(tmp_path), "tf1", shared=False)
    meta = load_meta(graph["prefix"])
    fw_keys = [k for k, _ in tf.train.list_variables(graph["prefix"]) if k.startswith("birnn/fw/") and "/" in k]
    assert fw_keys and not bw_reads_fw(meta.main, "birnn", fw_keys)
    bw_keys = [k for k, _ in tf.train.list_variables(graph["prefix"]) if k.startswith("birnn/bw/")]
    assert bw_reads_fw(meta.main, "birnn", bw_keys)                     # the bw loop does read its own cell
