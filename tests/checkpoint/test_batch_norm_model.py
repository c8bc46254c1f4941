"""Batch normalization in the default whole model (issue 21, show-attend-tell): the moving-average updates are never
part of the model, a training flag is no model input, training-mode batch norm keeps its batch statistics.

One real program (GRU ``dynamic_rnn`` over batch-normalized features, dense logits, sparse cross-entropy, Adam under
``control_dependencies(UPDATE_OPS)``) with every spelling at once: a training-mode ``batch_norm(is_training=True,
updates_collections=None)`` first (show-attend-tell: its output waits for ``AssignMovingAvg``), then
``tf.layers.batch_normalization(training=is_training)`` and
``tf.contrib.layers.batch_norm(is_training=is_training)`` (slim's: the same function after ``upgrade``) on a boolean
placeholder, ``batch_norm(is_training=tf.placeholder_with_default(False, []))``,
``tf.layers.batch_normalization(training=False)``, and the logits themselves under
``control_dependencies(UPDATE_OPS)``. Default ``convert``; the model is compared here with the untouched original
graph (``import_meta_graph`` + ``Saver.restore``, ``is_training`` fed False): equal, and equal again on a batch
whose other rows changed (the training-mode layer's batch statistics are computed, as in the graph). Negative
controls: the graph fed ``is_training=True`` differs from the model, and so does the graph with its moving means
moved; a ``placeholder_with_default(True)`` flag and a condition on data are not rewritten; without the rewrite the
model's closure holds the variable writes the sandbox refuses.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import legacy_rnn
import legacy_rnn.contrib_layers as contrib_layers
from migration.checkpoint import convert_checkpoint
from migration.checkpoint.export import load_model
from migration.graph.graphdef import GraphIndex, load_meta_graph
from migration.graph.training_conds import take_inference_branches
from migration.graph.update_rewrite import detach_updates
from tests.checkpoint.ground_truth_graphs import tf1_graph_form
from tests.checkpoint.tf1_values import FAST, load_values

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
B, T, D, H, C = 4, 5, 3, 6, 3
_WRITES = ("AssignSub", "AssignSubVariableOp", "AssignVariableOp", "Assign", "AssignAdd", "AssignAddVariableOp")


def _build(directory: str) -> dict:
    rng = np.random.default_rng(21)
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, T, D], "x")
        y = v1.placeholder(tf.int32, [None], "y")
        is_training = v1.placeholder(tf.bool, [], "is_training")
        h = contrib_layers.batch_norm(x, is_training=True, updates_collections=None, scale=True, scope="bn_batch")
        h = v1.layers.batch_normalization(h, training=is_training, name="bn_layers")
        h = contrib_layers.batch_norm(h, is_training=is_training, scale=True, decay=0.9, scope="bn_contrib")
        h = contrib_layers.batch_norm(h, is_training=v1.placeholder_with_default(False, [], "phase"), scale=True,
                                      scope="bn_default")
        h = v1.layers.batch_normalization(h, training=False, name="bn_inference")
        _, state = v1.nn.dynamic_rnn(v1.nn.rnn_cell.GRUCell(H), h, dtype=tf.float32)
        with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
            logits = tf.identity(v1.layers.dense(state, C, name="out"), name="logits")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
            train = v1.train.AdamOptimizer(0.01).minimize(loss)
        with v1.Session(config=FAST) as sess:
            sess.run(v1.global_variables_initializer())
            pairs = []
            for var in v1.global_variables():
                if var.dtype.base_dtype.is_floating and "Adam" not in var.op.name and "power" not in var.op.name:
                    value = rng.uniform(-1, 1, var.shape.as_list())
                    pairs.append((var, (np.abs(value) + 0.3 if "variance" in var.op.name else value).astype(np.float32)))
            load_values(sess, pairs)
            sess.run(train, {x: rng.normal(size=(B, T, D)).astype(np.float32) * 2 + 1,
                             y: np.array([0, 1, 2, 1], np.int32), is_training: True})
            prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    return {"prefix": prefix, "logits": logits.name}


@pytest.fixture(scope="module")
def bn(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("bn")
    graph = _build(str(root))
    convert_checkpoint(graph["prefix"], root / "conv")
    graph["manifest"] = json.load(open(root / "conv" / "manifest.json"))
    graph["model"] = load_model(str(root / "conv" / "model.keras"))
    return graph


def _original(graph: dict, x: np.ndarray, training: bool = False, moved: float = 0.0) -> np.ndarray:
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(graph["prefix"] + ".meta")
        with v1.Session(config=FAST) as sess:
            saver.restore(sess, graph["prefix"])
            for var in v1.global_variables():
                if moved and var.op.name.endswith("moving_mean"):
                    var.load(sess.run(var) + moved, sess)
            return sess.run(graph["logits"], {"x:0": x, "is_training:0": training})


def test_default_model_is_the_logits_of_x_alone_verified_on_the_original_graph(bn) -> None:
    entry = bn["manifest"]["model"]
    assert entry["outputs"] == [bn["logits"]] and entry["inputs"] == ["x"]  # no flag, no label, no update op
    verification = bn["manifest"]["verification"]
    assert verification["ok"] and verification["references"]["whole model"] == "original-graph"
    # the one training-mode layer is named in a note with the remedy; the flag-switched ones are not
    notes = [n for n in bn["manifest"]["notes"] if n.startswith("batch norm ")]
    assert len(notes) == 1 and "'bn_batch'" in notes[0] and "training mode" in notes[0] and "--outputs" in notes[0]


def test_model_equals_the_original_graph_with_batch_statistics_where_the_graph_has_them(bn) -> None:
    x = np.random.default_rng(1).normal(size=(B, T, D)).astype(np.float32) * 1.5 + 0.5
    want = _original(bn, x)
    np.testing.assert_allclose(np.asarray(bn["model"](x, training=False)), want, atol=1e-5)
    other = x.copy()
    other[1:] = other[1:] * 3 - 2  # only the other rows change: row 0 moves through bn_batch's batch statistics
    want_other = _original(bn, other)
    np.testing.assert_allclose(np.asarray(bn["model"](other, training=False)), want_other, atol=1e-5)
    assert np.abs(want_other[0] - want[0]).max() > 1e-3
    # negative controls: the training-mode graph is another function; a moved moving mean is caught
    assert np.abs(_original(bn, x, training=True) - want).max() > 1e-3
    assert np.abs(_original(bn, x, moved=0.5) - want).max() > 1e-3  # the model holds the checkpoint's averages


def _writes_needed(graph_def, fetch: str) -> list[str]:
    index = GraphIndex(graph_def)
    names, fns = index.closure([fetch])
    ops = [index.nodes[n].op for n in names]
    ops += [n.op for f in graph_def.library.function if f.signature.name in fns for n in f.node_def]
    return [op for op in ops if op in _WRITES]


def test_rewrites_take_the_updates_and_the_flag_out_of_the_model_closure(bn) -> None:
    meta = load_meta_graph(bn["prefix"] + ".meta")
    graph_def = meta.graph_def
    assert _writes_needed(graph_def, bn["logits"])                     # the point: the raw closure writes
    conds = take_inference_branches(graph_def)
    assert {c.split("/")[0] for c in conds} >= {"cond bn_layers", "cond bn_contrib", "cond bn_default"}
    detach_updates(graph_def, meta.collection_def["update_ops"].node_list.value)
    assert not _writes_needed(graph_def, bn["logits"])
    index = GraphIndex(graph_def)
    names, _ = index.closure([bn["logits"]])
    assert not {"is_training", "phase"} & set(names)


def test_only_training_flag_conditions_are_rewritten() -> None:
    with tf.Graph().as_default() as g:
        x = v1.placeholder(tf.float32, [None, 3], "x")
        contrib_layers.batch_norm(x, is_training=v1.placeholder_with_default(True, [], "train_by_default"),
                                  scope="bn_true")
        var = v1.get_variable("v", [3])
        tf.cond(tf.reduce_sum(x) > 0, lambda: tf.identity(var), lambda: x * 2.0)      # a condition on data
        assert take_inference_branches(g.as_graph_def()) == []


def test_training_flag_conditions_in_the_tf1_graph_form() -> None:
    """TF 1.x's graph form (``Switch``/``Merge``, RefVariables: what ``upgrade --to compat`` programs build): the same
    three flag-switched spellings take their moving averages; the flag and its switches leave the logits' closure."""
    with tf1_graph_form(True), tf.Graph().as_default() as g:
        x = v1.placeholder(tf.float32, [None, D], "x")
        is_training = v1.placeholder(tf.bool, [], "is_training")
        h = v1.layers.batch_normalization(x, training=is_training, name="bn_layers")
        h = contrib_layers.batch_norm(h, is_training=is_training, scale=True, scope="bn_contrib")
        phase = v1.placeholder_with_default(False, [], "phase")
        h = contrib_layers.batch_norm(h, is_training=phase, scope="bn_default")
        logits = v1.layers.dense(h, C, name="out")
        graph_def = g.as_graph_def()
    assert GraphIndex(graph_def).closure([logits.name])[0].count("is_training") == 1  # the point: it is read
    conds = take_inference_branches(graph_def)
    assert {c.split("/")[0] for c in conds} == {"cond bn_layers", "cond bn_contrib", "cond bn_default"}
    index = GraphIndex(graph_def)
    names, _ = index.closure([logits.name])
    assert not {"is_training", "phase"} & set(names)
    assert not [n for n in names if index.nodes[n].op in ("Switch", "RefSwitch", "Merge", "RefMerge")]


@pytest.mark.parametrize("form", ["tf1", "tf2"])
def test_contrib_batch_norm_with_a_flag_tensor_updates_through_update_ops(form: str) -> None:
    """``legacy_rnn.contrib_layers.batch_norm(is_training=<tensor>)`` (it failed to build: its ``UPDATE_OPS`` were ops
    inside a cond branch): fed True, running ``UPDATE_OPS`` moves the averages to TF 1.15's values; fed False, not."""
    x_value = np.random.default_rng(4).normal(size=(6, D)).astype(np.float32) * 2 + 1
    with tf1_graph_form(form == "tf1"), tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, D], "x")
        flag = v1.placeholder(tf.bool, [], "is_training")
        out = contrib_layers.batch_norm(x, is_training=flag, decay=0.9, scope="bn")
        updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
        with v1.Session(config=FAST) as sess:
            sess.run(v1.global_variables_initializer())
            mean = v1.global_variables("bn/moving_mean")[0]
            sess.run(updates, {x: x_value, flag: False})
            np.testing.assert_allclose(sess.run(mean), 0.0)
            sess.run(updates, {x: x_value, flag: True})
            np.testing.assert_allclose(sess.run(mean), 0.1 * x_value.mean(0), rtol=1e-5)
            y = sess.run(out, {x: x_value, flag: True})
    np.testing.assert_allclose(y.mean(0), 0.0, atol=1e-4)  # batch statistics in training
    assert len(updates) == 2
