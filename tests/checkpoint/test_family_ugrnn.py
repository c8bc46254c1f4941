"""The ``ugrnn`` family (``tf.contrib.rnn.UGRNNCell``, TF 1.15): added as one module (migration/families/ugrnn.py)
with its legacy/Keras twins (legacy_rnn/ugrnn.py, modern_rnn/ugrnn.py) and one registry line; nothing else knows it.

* both cells against an independent NumPy step written from TF 1.15's equations (forward, and gradients with respect
  to the inputs and every weight), with seeded asymmetric weights and non-zero biases, forget_bias in {0, 0.5, 1};
* negative controls: the g/c blocks swapped, or forget_bias not folded, must differ;
* a real ``tf.compat.v1.train.Saver`` checkpoint written by the legacy cell (dynamic_rnn, ragged lengths, a dense
  head and a loss; the program is shared with the other contrib family modules: contrib_program.py):
  ``inspect``/``convert``/``verify`` recognize it, verify against the ORIGINAL graph, a wrong
  ``--forget-bias`` fails there; the whole model loads in safe mode and reproduces the program's logits; ``export``
  writes a checkpoint the legacy graph restores.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import run_cli
from contrib_program import Part, register
from legacy_rnn import tf, v1
from legacy_rnn.ugrnn import ugrnn_cell as legacy_ugrnn
from migration import families
from migration.core.specs import CellSpec
from modern_rnn import keras
from modern_rnn.ugrnn import ugrnn_cell as keras_ugrnn
from tests.checkpoint.tf1_values import FAST

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
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
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


def _encoders(x, lengths):
    """The shared program's encoder of this module (contrib_program.py: one TF1 program of the contrib family modules,
    saved by Saver with its .meta, converted once): dynamic_rnn(UGRNNCell(6)) under scope 'encoder', ragged lengths."""
    return {"ugrnn": v1.nn.dynamic_rnn(legacy_ugrnn(U), x, sequence_length=lengths, dtype=tf.float32, scope="encoder")}


register(Part("ugrnn", _encoders), (B, T, D), LENGTHS)
pytestmark = pytest.mark.xdist_group("checkpoint/contrib_program")  # the modules sharing the program: one worker


def _manifest(out) -> dict:
    with open(os.path.join(str(out), "manifest.json")) as f:
        return json.load(f)


def _block(out) -> dict:
    (block,) = [b for b in _manifest(out)["blocks"] if b["scope"] == "encoder"]
    return block


def test_checkpoint_converts_and_verifies_against_the_original_graph(contrib_program):
    p = contrib_program
    code, printed, _ = p.inspect
    assert code == 0 and "ugrnn" in printed
    assert p.code == 0
    m = _manifest(p.out)
    assert len(m["blocks"]) == len(p.ref["outs"])  # one block per encoder of the program, nothing else
    assert [b["scope"] for b in m["blocks"] if b["cells"][0]["spec"]["kind"] == "ugrnn"] == ["encoder"]
    block = _block(p.out)
    (cell,) = block["cells"]
    assert (block["scope"], cell["spec"]["kind"], cell["spec"]["units"], cell["input_size"]) == ("encoder", "ugrnn", U,
                                                                                                 D)
    assert cell["hyper_sources"]["forget_bias"].startswith("default")  # assumed and said so
    v = m["verification"]
    assert v["ok"] and v["references"]["block encoder"] == "original-graph"
    assert v["references"]["whole model"] == "original-graph"
    assert p.verify == 0  # `verify PREFIX OUT_DIR`
    # the whole network in safe mode reproduces the program's own logits
    np.testing.assert_allclose(p.model_logits, p.ref["logits"], atol=1e-5)
    from migration.safe_io import load_keras_model

    block_model = load_keras_model(os.path.join(str(p.out), block["file"]))
    got = [np.asarray(t) for t in block_model([p.x_np, LENGTHS], training=False)]
    np.testing.assert_allclose(got[0], p.ref["outs"]["ugrnn"], atol=1e-5)
    (state,) = p.ref["states"]["ugrnn"]
    np.testing.assert_allclose(got[1], state, atol=1e-5)


def test_wrong_forget_bias_fails_against_the_original_graph(contrib_program):
    """``convert --forget-bias 0.0`` (one run for the shared program): exit 1, nothing installed, the UGRNN block
    (forget_bias 1.0 in the program) fails against the original graph."""
    p = contrib_program
    assert p.wrong_code == 1 and not p.wrong_written, p.wrong_printed
    assert p.wrong_verdicts.get("encoder") == "FAIL", p.wrong_printed


def test_export_writes_a_checkpoint_the_legacy_graph_restores(contrib_program, tmp_path):
    p = contrib_program
    assert p.code == 0
    block = _block(p.out)
    exported = str(tmp_path / "exp" / "model.ckpt")
    assert run_cli("export", os.path.join(str(p.out), block["file"]), exported, "--scope", "encoder") == 0
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        x = v1.placeholder(tf.float32, [None, T, D])
        lengths = v1.placeholder(tf.int32, [None])
        outputs, _ = v1.nn.dynamic_rnn(legacy_ugrnn(U), x, sequence_length=lengths, dtype=tf.float32,
                                       scope="encoder")
        v1.train.Saver().restore(sess, exported)
        np.testing.assert_allclose(sess.run(outputs, {x: p.x_np, lengths: LENGTHS}), p.ref["outs"]["ugrnn"], atol=1e-5)
