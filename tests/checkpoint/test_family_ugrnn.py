"""The ``ugrnn`` family (``tf.contrib.rnn.UGRNNCell``, TF 1.15): added as one module (migration/families/ugrnn.py)
with its legacy/Keras twins (legacy_rnn/ugrnn.py, modern_rnn/ugrnn.py) and one registry line; nothing else knows it.

* both cells against an independent NumPy step written from TF 1.15's equations (forward, and gradients with respect
  to the inputs and every weight), with seeded asymmetric weights and non-zero biases, forget_bias in {0, 0.5, 1};
* negative controls: the g/c blocks swapped, or forget_bias not folded, must differ;
* a real ``tf.compat.v1.train.Saver`` checkpoint written by the legacy cell (dynamic_rnn, ragged lengths, a dense
  head and a loss): ``inspect``/``convert``/``verify`` recognize it, verify against the ORIGINAL graph, a wrong
  ``--forget-bias`` fails there; the whole model loads in safe mode and reproduces the program's logits; ``export``
  writes a checkpoint the legacy graph restores.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import legacy_rnn
from conftest import randomize, run_cli
from legacy_rnn import tf, v1
from legacy_rnn.ugrnn import ugrnn_cell as legacy_ugrnn
from migration import families
from migration.core.specs import CellSpec
from modern_rnn import keras
from modern_rnn.ugrnn import ugrnn_cell as keras_ugrnn

B, T, D, U = 3, 5, 4, 6
LENGTHS = np.array([5, 1, 3], np.int32)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def reference_step(x, h, kernel, bias, forget_bias):
    """TF 1.15 UGRNNCell.call: g_act, c_act = split([x, h] K + b); g = sigma(g_act + fb); h' = g h + (1-g) tanh(c)."""
    z = np.concatenate([x, h], 1) @ kernel + bias
    g_act, c_act = z[:, :U], z[:, U:]
    g = _sigmoid(g_act + forget_bias)
    return g * h + (1.0 - g) * np.tanh(c_act)


def reference_run(x, kernel, bias, forget_bias):
    h, outs = np.zeros((x.shape[0], U)), []
    for t in range(x.shape[1]):
        h = reference_step(x[:, t], h, kernel, bias, forget_bias)
        outs.append(h)
    return np.stack(outs, 1), h


def _weights(seed):
    rng = np.random.default_rng(seed)
    kernel = rng.uniform(-0.8, 0.8, (D + U, 2 * U)).astype(np.float32)
    bias = rng.uniform(-0.5, 0.5, 2 * U).astype(np.float32)  # non-zero, asymmetric between the g and c blocks
    x = rng.normal(0, 1, (B, T, D)).astype(np.float32)
    return kernel, bias, x


def _legacy(x, kernel, bias, forget_bias):
    """outputs, final state and d(sum(outputs * w))/d(x, kernel, bias) from the TF1 graph (tf.gradients)."""
    with tf.Graph().as_default(), v1.Session() as sess:
        xt = tf.constant(x)
        cell = legacy_ugrnn(U, forget_bias=forget_bias)
        out, state = v1.nn.dynamic_rnn(cell, xt, dtype=tf.float32)
        loss = tf.reduce_sum(out * np.linspace(-1, 1, U, dtype=np.float32))
        names = {v.op.name: v for v in v1.global_variables()}
        assert sorted(names) == ["rnn/ugrnn_cell/bias", "rnn/ugrnn_cell/kernel"]  # TF 1.15's names
        grads = tf.gradients(loss, [xt, names["rnn/ugrnn_cell/kernel"], names["rnn/ugrnn_cell/bias"]])
        sess.run([names["rnn/ugrnn_cell/kernel"].assign(kernel), names["rnn/ugrnn_cell/bias"].assign(bias)])
        return sess.run([out, state, *grads])


def _keras(x, weights, forget_bias):
    layer = keras.layers.RNN(keras_ugrnn(U, forget_bias=forget_bias), return_sequences=True, return_state=True)
    xt = tf.constant(x)
    layer(xt)
    layer.cell.set_weights(weights)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out, state = layer(xt)
        loss = tf.reduce_sum(out * np.linspace(-1, 1, U, dtype=np.float32))
    grads = tape.gradient(loss, [xt, *layer.cell.weights])
    return [np.asarray(out), np.asarray(state)] + [np.asarray(g) for g in grads]


@pytest.mark.parametrize("forget_bias", [0.0, 0.5, 1.0])
def test_both_cells_equal_the_numpy_step_forward_and_in_gradients(forget_bias):
    kernel, bias, x = _weights(int(forget_bias * 10) + 3)
    ref_out, ref_state = reference_run(x, kernel, bias, forget_bias)
    out, state, gx, gk, gb = _legacy(x, kernel, bias, forget_bias)
    np.testing.assert_allclose(out, ref_out, atol=1e-6)
    np.testing.assert_allclose(state, ref_state, atol=1e-6)
    spec = CellSpec("ugrnn", U, forget_bias=forget_bias)
    weights = families.cell_to_keras(spec, {"kernel": kernel, "bias": bias}, D)
    k_out, k_state, k_gx, *k_gw = _keras(x, weights, forget_bias)
    np.testing.assert_allclose(k_out, ref_out, atol=1e-6)
    np.testing.assert_allclose(k_state, ref_state, atol=1e-6)
    np.testing.assert_allclose(k_gx, gx, atol=1e-6)
    # weight gradients: the TF1 ones converted like the weights (layout only, no forget_bias) equal Keras'
    for a, b in zip(families.cell_to_keras(spec, {"kernel": gk, "bias": gb}, D, include_forget_bias=False), k_gw):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # and the way back restores the TF1 arrays exactly
    back = families.cell_to_tf1(spec, weights)
    np.testing.assert_array_equal(back["kernel"], kernel)
    np.testing.assert_allclose(back["bias"], bias, atol=1e-7)


def test_negative_controls_swapped_blocks_or_unfolded_forget_bias_differ():
    kernel, bias, x = _weights(11)
    ref_out, _ = reference_run(x, kernel, bias, 1.0)
    spec = CellSpec("ugrnn", U, forget_bias=1.0)
    good = families.cell_to_keras(spec, {"kernel": kernel, "bias": bias}, D)
    swap = lambda a: np.concatenate([a[..., U:], a[..., :U]], -1)  # noqa: E731  (c, g instead of g, c)
    unfolded = families.cell_to_keras(spec, {"kernel": kernel, "bias": bias}, D, include_forget_bias=False)
    for wrong in ([swap(w) for w in good], unfolded):
        out = _keras(x, wrong, 1.0)[0]
        assert np.max(np.abs(out - ref_out)) > 1e-2
    np.testing.assert_allclose(_keras(x, good, 1.0)[0], ref_out, atol=1e-6)


def test_the_row_is_the_only_place_that_knows_the_family():
    row = families.family("ugrnn")
    assert families.upgrade_homes()["tf.contrib.rnn.UGRNNCell"] == "legacy_rnn.ugrnn.UGRNNCell"
    assert families.tf1_shapes(CellSpec("ugrnn", U), D) == {"kernel": (D + U, 2 * U), "bias": (2 * U,)}
    assert type(families.legacy_cell(CellSpec("ugrnn", U))).__module__ == "legacy_rnn.ugrnn"
    assert type(families.keras_cell(CellSpec("ugrnn", U))).__module__ == "modern_rnn.ugrnn"
    assert row.scope == CellSpec("ugrnn", U).tf1_scope == "ugrnn_cell"


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    """A TF1 program on the legacy cell, saved by Saver with its .meta: x -> dynamic_rnn(UGRNNCell(6)) under scope
    'encoder', ragged lengths -> the last relevant output -> dense head -> softmax loss."""
    root = tmp_path_factory.mktemp("ugrnn")
    x_np = np.random.default_rng(41).normal(0, 1, (B, T, D)).astype(np.float32)
    with legacy_rnn.new_graph(41) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        outputs, state = v1.nn.dynamic_rnn(legacy_ugrnn(U), x, sequence_length=lengths, dtype=tf.float32,
                                           scope="encoder")
        last = tf.gather_nd(outputs, tf.stack([tf.range(tf.shape(x)[0]), lengths - 1], 1))
        logits = v1.layers.dense(last, 3, name="head")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits), name="loss")
        with v1.Session(graph=graph) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 41)
            ref = sess.run([outputs, state, logits], {x: x_np, lengths: LENGTHS})
            prefix = v1.train.Saver().save(sess, os.path.join(str(root / "ckpt"), "model.ckpt"))
    return root, prefix, x_np, ref


def _manifest(out) -> dict:
    with open(os.path.join(str(out), "manifest.json")) as f:
        return json.load(f)


def test_checkpoint_converts_and_verifies_against_the_original_graph(program, capsys):
    root, prefix, x_np, ref = program
    assert run_cli("inspect", prefix) == 0
    assert "ugrnn" in capsys.readouterr().out
    out = root / "out"
    assert run_cli("convert", prefix, out, "--quiet") == 0
    m = _manifest(out)
    (block,) = m["blocks"]
    (cell,) = block["cells"]
    assert (block["scope"], cell["spec"]["kind"], cell["spec"]["units"], cell["input_size"]) == ("encoder", "ugrnn", U, D)
    assert cell["hyper_sources"]["forget_bias"].startswith("default")  # assumed and said so
    v = m["verification"]
    assert v["ok"] and v["references"]["block encoder"] == "original-graph"
    assert v["references"]["whole model"] == "original-graph"
    assert run_cli("verify", prefix, out) == 0
    # the whole network in safe mode reproduces the program's own logits
    from migration.safe_io import load_keras_model

    model = load_keras_model(os.path.join(str(out), m["model"]["file"]))
    np.testing.assert_allclose(np.asarray(model([x_np, LENGTHS], training=False)), ref[2], atol=1e-5)
    block_model = load_keras_model(os.path.join(str(out), block["file"]))
    got = [np.asarray(t) for t in block_model([x_np, LENGTHS], training=False)]
    np.testing.assert_allclose(got[0], ref[0], atol=1e-5)
    np.testing.assert_allclose(got[1], ref[1], atol=1e-5)


def test_wrong_forget_bias_fails_against_the_original_graph(program, tmp_path):
    _, prefix, _, _ = program
    assert run_cli("convert", prefix, tmp_path / "wrong", "--forget-bias", "0.0", "--quiet") == 1
    assert not os.path.exists(tmp_path / "wrong")


def test_export_writes_a_checkpoint_the_legacy_graph_restores(program, tmp_path):
    root, prefix, x_np, ref = program
    out = root / "out"
    if not os.path.exists(out):
        assert run_cli("convert", prefix, out, "--quiet") == 0
    block = _manifest(out)["blocks"][0]
    exported = str(tmp_path / "exp" / "model.ckpt")
    assert run_cli("export", os.path.join(str(out), block["file"]), exported, "--scope", "encoder") == 0
    with tf.Graph().as_default(), v1.Session() as sess:
        x = v1.placeholder(tf.float32, [None, T, D])
        lengths = v1.placeholder(tf.int32, [None])
        outputs, _ = v1.nn.dynamic_rnn(legacy_ugrnn(U), x, sequence_length=lengths, dtype=tf.float32,
                                       scope="encoder")
        v1.train.Saver().restore(sess, exported)
        np.testing.assert_allclose(sess.run(outputs, {x: x_np, lengths: LENGTHS}), ref[0], atol=1e-5)
