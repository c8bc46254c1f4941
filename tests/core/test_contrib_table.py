"""Equivalence table of the ``tf.contrib.rnn`` block/fused family where the shared harness cannot go.

``LSTMBlockCell``, ``GRUBlockCell`` and ``GRUBlockCellV2`` are RNNCells and join the main table
(``test_equivalence_table.py``, rows ``lstm_block*``/``gru_block*``). Here:

* ``LSTMBlockFusedCell`` (time-major, one ``BlockLSTM`` op, not an RNNCell): full and ragged lengths, one and two
  stacked cells, plain / peepholes + forget_bias 0.5 / cell_clip, both weight directions. TF1 runs TensorFlow's own
  kernel; a NumPy reference checks it; Keras must agree within 1e-5 (outputs, final c and h), gradients within 1e-4.
* ``LSTMBlockCell`` with an active ``cell_clip``: outputs and states (the kernel's gradient ignores the clip, which
  :func:`test_block_kernel_gradient_ignores_cell_clip` pins).
* ``BlockLSTMV2`` (gate order i, f, c, o, no forget_bias) fed the Keras-converted weights: TensorFlow's other kernel
  confirms the converted layout independently of Keras.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

import legacy_rnn
import modern_rnn
from migration import converters
from migration.core.specs import CellSpec

from .harness import BATCH, DEPTH, FAST_SESSION, LENGTHS, STEPS, Case, loss_weights, random_inputs, random_tf1_weights
from .harness import run_keras, run_tf1
from .reference import sigmoid, unroll

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
ATOL_OUT, ATOL_GRAD = 1e-5, 1e-4

FUSED = {
    "plain": CellSpec("lstm_block_fused", 5),
    "peep_fb0.5": CellSpec("lstm_block_fused", 5, forget_bias=0.5, use_peepholes=True),
    "clip_fb0": CellSpec("lstm_block_fused", 5, forget_bias=0.0, cell_clip=0.3),
}
FUSED_CASES = [(f"{name}-L{layers}-{'ragged' if ragged else 'full'}", spec, layers, ragged)
               for name, spec in FUSED.items() for layers, ragged in ((1, True), (2, False), (2, True))]


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _fused_tf1(spec: CellSpec, layers: int, ragged: bool, x_bm: np.ndarray, lw, values=None, seed: int = 0):
    """TF1 graph of ``layers`` stacked fused cells (time-major); weights random or ``values[k]`` (TF1 names).
    Returns (outputs [B,T,U], [c0, h0, c1, h1 ...], {checkpoint name: value}, {name: gradient})."""
    rng = np.random.default_rng(seed)
    with legacy_rnn.new_graph(seed) as graph:
        x = legacy_rnn.placeholder(tf.float32, (STEPS, BATCH, DEPTH), name="x")
        lengths = tf.constant(LENGTHS) if ragged else None
        h, states = x, []
        for _ in range(layers):
            cell = legacy_rnn.lstm_block_fused_cell(spec.units, spec.forget_bias, spec.cell_clip, spec.use_peepholes)
            h, (c_fin, h_fin) = cell(h, dtype=tf.float32, sequence_length=lengths)
            states += [c_fin, h_fin]
        out = tf.transpose(h, [1, 0, 2])
        loss = tf.reduce_sum(out * lw[0]) + sum(tf.reduce_sum(s * w) for s, w in zip(states, lw[1:]))
        variables = v1.trainable_variables()
        grads = tf.gradients(loss, variables)
        assigns = []
        for k in range(layers):
            prefix = "lstm_fused_cell/" if k == 0 else f"lstm_fused_cell_{k}/"
            arrays = values[k] if values else random_tf1_weights(spec, DEPTH if k == 0 else spec.units, rng)
            for name, value in arrays.items():
                (var,) = [v for v in variables if v.op.name == prefix + name]
                assigns.append(var.assign(value))
        assert len(assigns) == len(variables), [v.op.name for v in variables]
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            legacy_rnn.initialize(sess)
            sess.run(assigns)
            out_v, states_v, grads_v = sess.run([out, states, grads], {x: np.transpose(x_bm, (1, 0, 2))})
            with tempfile.TemporaryDirectory() as tmp:
                reader = tf.train.load_checkpoint(legacy_rnn.save(sess, os.path.join(tmp, "model.ckpt")))
                weights = {v.op.name: reader.get_tensor(v.op.name) for v in variables}
    return out_v, list(states_v), weights, dict(zip([v.op.name for v in variables], grads_v))


def _fused_keras(spec: CellSpec, layers: int, ragged: bool, x_bm: np.ndarray, lw, keras_weights=None, seed: int = 0):
    """The modern twin; returns (outputs [B,T,U], states in TF1 order, cells, gradients per cell)."""
    rng = np.random.default_rng(seed)
    cells = [modern_rnn.lstm_block_fused_cell(spec.units, spec.forget_bias, spec.cell_clip, spec.use_peepholes)
             for _ in range(layers)]
    x = tf.constant(np.transpose(x_bm, (1, 0, 2)))
    lengths = tf.constant(LENGTHS) if ragged else None

    def forward():
        h, states = x, []
        for cell in cells:
            h, (h_fin, c_fin) = cell(h, sequence_length=lengths)
            states += [c_fin, h_fin]
        return tf.transpose(h, [1, 0, 2]), states

    forward()
    for k, cell in enumerate(cells):
        depth = DEPTH if k == 0 else spec.units
        cell.cell.set_weights(keras_weights[k] if keras_weights else
                              converters.cell_to_keras(spec, random_tf1_weights(spec, depth, rng), depth))
    with tf.GradientTape() as tape:
        out, states = forward()
        loss = tf.reduce_sum(out * lw[0]) + sum(tf.reduce_sum(s * w) for s, w in zip(states, lw[1:]))
    grads = tape.gradient(loss, [c.cell.trainable_weights for c in cells])
    return out.numpy(), [s.numpy() for s in states], cells, [[g.numpy() for g in gs] for gs in grads]


def _lw(spec: CellSpec, layers: int, seed: int):
    return loss_weights(Case("lw", CellSpec("lstm", spec.units), "dynamic", layers=layers), seed)


def _check(spec, layers, ragged, x, tf1, keras, compare_grads: bool):
    out, states, weights, grads = tf1
    k_out, k_states, _, k_grads = keras
    per_layer = [{n.split("/", 1)[1]: v for n, v in weights.items() if n.split("/")[0] == p}
                 for p in ["lstm_fused_cell"] + [f"lstm_fused_cell_{k}" for k in range(1, layers)]]
    ref_out, ref_states = unroll([spec] * layers, per_layer, x, LENGTHS if ragged else None)
    assert _max_diff(out, ref_out) <= ATOL_OUT and max(map(_max_diff, states, ref_states)) <= ATOL_OUT
    assert _max_diff(k_out, out) <= ATOL_OUT, _max_diff(k_out, out)
    assert max(map(_max_diff, k_states, states)) <= ATOL_OUT
    if ragged:
        for b, n in enumerate(LENGTHS):
            assert not out[b, n:].any() and not k_out[b, n:].any()
    if compare_grads:
        for k, prefix in enumerate(["lstm_fused_cell/"] + [f"lstm_fused_cell_{j}/" for j in range(1, layers)]):
            g = {n[len(prefix):]: v for n, v in grads.items() if n.startswith(prefix)}
            want = converters.cell_to_keras(spec, g, DEPTH if k == 0 else spec.units, include_forget_bias=False)
            assert max(map(_max_diff, k_grads[k], want)) <= ATOL_GRAD


@pytest.mark.parametrize("name,spec,layers,ragged", FUSED_CASES, ids=[c[0] for c in FUSED_CASES])
def test_fused_checkpoint_into_keras(name, spec, layers, ragged) -> None:
    x, lw = random_inputs(0), _lw(spec, layers, 1)
    tf1 = _fused_tf1(spec, layers, ragged, x, lw, seed=11)
    per_layer = [{n.split("/", 1)[1]: v for n, v in tf1[2].items() if n.split("/")[0] == p}
                 for p in ["lstm_fused_cell"] + [f"lstm_fused_cell_{k}" for k in range(1, layers)]]
    converted = [converters.cell_to_keras(spec, w, DEPTH if k == 0 else spec.units) for k, w in enumerate(per_layer)]
    keras = _fused_keras(spec, layers, ragged, x, lw, converted)
    _check(spec, layers, ragged, x, tf1, keras, compare_grads=spec.cell_clip is None)


@pytest.mark.parametrize("name,spec,layers,ragged", FUSED_CASES[::2], ids=[c[0] for c in FUSED_CASES[::2]])
def test_fused_keras_weights_into_tf1(name, spec, layers, ragged) -> None:
    x, lw = random_inputs(1), _lw(spec, layers, 2)
    keras = _fused_keras(spec, layers, ragged, x, lw, seed=23)
    values = [converters.cell_to_tf1(spec, c.cell.get_weights()) for c in keras[2]]
    tf1 = _fused_tf1(spec, layers, ragged, x, lw, values=values)
    _check(spec, layers, ragged, x, tf1, keras, compare_grads=False)


def test_fused_wrong_conversion_is_caught() -> None:
    """Negative control: the fused cell's forget_bias (an op attribute) left out of b_f is caught by the same check."""
    spec = FUSED["peep_fb0.5"]
    x, lw = random_inputs(0), _lw(spec, 1, 1)
    out, states, weights, _ = _fused_tf1(spec, 1, True, x, lw, seed=11)
    arrays = {n.split("/", 1)[1]: v for n, v in weights.items()}
    wrong = converters.cell_to_keras(spec, arrays, DEPTH, include_forget_bias=False)
    k_out, k_states, _, _ = _fused_keras(spec, 1, True, x, lw, [wrong])
    assert max(_max_diff(k_out, out), *map(_max_diff, k_states, states)) > 1e-3
    right = converters.cell_to_keras(spec, arrays, DEPTH)
    assert _max_diff(_fused_keras(spec, 1, True, x, lw, [right])[0], out) <= ATOL_OUT


def test_fused_cell_without_lengths_or_dtype_is_refused() -> None:
    with legacy_rnn.new_graph(0):
        cell = legacy_rnn.lstm_block_fused_cell(3)
        with pytest.raises(ValueError, match="dtype"):
            cell(tf.zeros([2, 1, 4]))
        with pytest.raises(ValueError, match="time-major"):
            cell(tf.zeros([2, 4]), dtype=tf.float32)


# --- LSTMBlockCell with an active clip (the main table compares gradients, which the clip breaks in TF1) ----------

CLIPPED = CellSpec("lstm_block", 6, forget_bias=0.0, cell_clip=0.25, use_peepholes=True)
CLIP_CASES = [Case("lstm_block_clip-dynamic-bi-L2-ragged-tmajor", CLIPPED, "dynamic", True, 2, True, True),
              Case("lstm_block_clip-static-uni-L1-ragged", CLIPPED, "static", ragged=True)]


@pytest.mark.parametrize("case", CLIP_CASES, ids=str)
def test_clipped_block_cell_both_directions(case: Case) -> None:
    from .test_equivalence_table import _cell_arrays, _reference

    x, lw = random_inputs(0), loss_weights(case)
    tf1 = run_tf1(case, x, lw, seed=11, with_grads=False)
    ref_out, ref_states = _reference(case, tf1.weights, x)
    assert _max_diff(tf1.outputs, ref_out) <= ATOL_OUT
    keras = run_keras(case, x, lw, with_grads=False, set_weights=lambda d, k: converters.cell_to_keras(
        CLIPPED, _cell_arrays(tf1.weights, case.cell_prefix(d, k)), case.input_size(k)))
    assert _max_diff(keras.outputs, tf1.outputs) <= ATOL_OUT
    assert max(map(_max_diff, keras.states, tf1.states)) <= ATOL_OUT
    c_final = np.abs(tf1.states[0])
    assert np.mean(np.isclose(c_final, 0.25)) > 0.1, "the clip must really be active"
    back = {key: cell.get_weights() for key, cell in keras.cells.items()}
    tf1_back = run_tf1(case, x, lw, set_weights=lambda d, k: converters.cell_to_tf1(CLIPPED, back[(d, k)]),
                       via_checkpoint=False, with_grads=False)
    assert _max_diff(tf1_back.outputs, keras.outputs) <= ATOL_OUT


def test_block_kernel_gradient_ignores_cell_clip() -> None:
    """TF's LSTMBlockCellGrad has no cell_clip attribute: with the clip active its weight gradient differs from the
    true gradient (Keras' tape through clip_by_value); without clipping the two agree (the main table)."""
    case = Case("c", CLIPPED, "dynamic", ragged=False)
    x, lw = random_inputs(0), loss_weights(case)
    tf1 = run_tf1(case, x, lw, seed=11)
    keras = run_keras(case, x, lw, set_weights=lambda d, k: converters.cell_to_keras(
        CLIPPED, {n.split("lstm_cell/")[1]: v for n, v in tf1.weights.items()}, DEPTH))
    tf1_grads = {n.split("lstm_cell/")[1]: v for n, v in tf1.grads.items()}
    want = converters.cell_to_keras(CLIPPED, tf1_grads, DEPTH, include_forget_bias=False)
    assert _max_diff(keras.outputs, tf1.outputs) <= ATOL_OUT
    assert _max_diff(keras.grads[("", 0)][0], want[0]) > 1e-2


def test_block_lstm_v2_kernel_takes_keras_layout() -> None:
    """``BlockLSTMV2`` (gates i, f, c, o, no forget_bias attribute) fed our Keras-converted weights reproduces the
    TF1 ``BlockLSTM`` run: the converted layout is TensorFlow's own second kernel layout, forget_bias folded in."""
    spec = CellSpec("lstm_block_fused", 5, forget_bias=0.5, use_peepholes=True)
    x, lw = random_inputs(0), _lw(spec, 1, 1)
    out, states, weights, _ = _fused_tf1(spec, 1, False, x, lw, seed=3)
    arrays = {n.split("/", 1)[1]: v for n, v in weights.items()}
    k, rk, b, wi, wf, wo = converters.cell_to_keras(spec, arrays, DEPTH)
    zeros = tf.zeros([BATCH, spec.units])
    _, cs, _, _, _, _, h = tf.raw_ops.BlockLSTMV2(
        seq_len_max=tf.constant(STEPS, tf.int64), x=tf.constant(np.transpose(x, (1, 0, 2))), cs_prev=zeros,
        h_prev=zeros, w=tf.constant(np.concatenate([k, rk])), wci=wi, wcf=wf, wco=wo, b=b, cell_clip=0.0,
        use_peephole=True)
    assert _max_diff(np.transpose(h.numpy(), (1, 0, 2)), out) <= ATOL_OUT
    assert _max_diff(cs.numpy()[-1], states[0]) <= ATOL_OUT


# --- ConvLSTMCell (5-D inputs: its own small table) ---------------------------------------------------------------

CONV_B, CONV_T, HW, C_IN, C_OUT, CONV_LENGTHS = 2, 3, 4, 2, 3, np.array([3, 2], np.int32)


def _conv_same(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """2-D 'SAME' convolution (stride 1, odd kernel) in NumPy: x [B, H, W, Ci], k [kh, kw, Ci, Co]."""
    kh, kw = k.shape[:2]
    padded = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = np.zeros(x.shape[:3] + (k.shape[-1],))
    for a in range(kh):
        for b in range(kw):
            out += padded[:, a:a + x.shape[1], b:b + x.shape[2]] @ k[a, b]
    return out


def _conv_reference(kernel, biases, fb, x):
    c = h = np.zeros((CONV_B, HW, HW, C_OUT))
    outs = []
    for t in range(CONV_T):
        i, j, f, o = np.split(_conv_same(np.concatenate([x[:, t], h], -1), kernel) + biases, 4, -1)
        c_new = sigmoid(f + fb) * c + sigmoid(i) * np.tanh(j)
        h_new = np.tanh(c_new) * sigmoid(o)
        live = (t < CONV_LENGTHS)[:, None, None, None]
        c, h = np.where(live, c_new, c), np.where(live, h_new, h)
        outs.append(np.where(live, h_new, 0.0))
    return np.stack(outs, 1), c, h


def _conv_tf1(x, fb, values=None, seed=0):
    rng = np.random.default_rng(seed)
    with legacy_rnn.new_graph(seed) as graph:
        xp = legacy_rnn.placeholder(tf.float32, x.shape, name="x")
        cell = legacy_rnn.conv_lstm_cell(2, [HW, HW, C_IN], C_OUT, [3, 3], forget_bias=fb)
        # tf.compat.v1.nn.dynamic_rnn itself: legacy_rnn.dynamic_rnn checks for rank-3 inputs
        out, (c, h) = v1.nn.dynamic_rnn(cell, xp, sequence_length=tf.constant(CONV_LENGTHS), dtype=tf.float32)
        k_var, b_var = v1.trainable_variables()
        assert (k_var.op.name, b_var.op.name) == ("rnn/conv_lstm_cell/kernel", "rnn/conv_lstm_cell/biases")
        if values is None:
            values = {"kernel": rng.uniform(-.3, .3, k_var.shape).astype(np.float32),
                      "biases": rng.uniform(-.5, .5, b_var.shape).astype(np.float32)}
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run([k_var.assign(values["kernel"]), b_var.assign(values["biases"])])
            return sess.run([out, c, h], {xp: x}), values


def _conv_keras(x, fb, weights=None, layer=None):
    layer = layer or modern_rnn.conv_lstm_cell(2, [HW, HW, C_IN], C_OUT, [3, 3], forget_bias=fb)
    mask = tf.sequence_mask(CONV_LENGTHS, CONV_T)
    layer(x, mask=mask)
    if weights is not None:
        layer.set_weights(weights)
    out, h, c = layer(x, mask=mask)
    return [out.numpy(), c.numpy(), h.numpy()], layer


@pytest.mark.parametrize("fb", [1.0, 0.5])
def test_conv_lstm_both_directions(fb: float) -> None:
    from migration.contrib_converters import conv_lstm_to_keras, conv_lstm_to_tf1

    x = np.random.default_rng(4).normal(0, 1, (CONV_B, CONV_T, HW, HW, C_IN)).astype(np.float32)
    (out, c, h), tf1 = _conv_tf1(x, fb, seed=2)
    ref_out, ref_c, ref_h = _conv_reference(tf1["kernel"], tf1["biases"], fb, x)
    assert max(_max_diff(out, ref_out), _max_diff(c, ref_c), _max_diff(h, ref_h)) <= ATOL_OUT
    keras_out, layer = _conv_keras(x, fb, conv_lstm_to_keras(tf1["kernel"], tf1["biases"], C_IN, fb))
    assert max(map(_max_diff, keras_out, (out, c, h))) <= ATOL_OUT
    assert not out[1, 2:].any() and not keras_out[0][1, 2:].any()
    # Keras -> TF1: fresh Keras weights through the inverse
    fresh, fresh_layer = _conv_keras(x, fb)
    (back, _, _), _ = _conv_tf1(x, fb, values=conv_lstm_to_tf1(*fresh_layer.get_weights(), fb))
    assert _max_diff(back, fresh[0]) <= ATOL_OUT


def test_conv_lstm_keras_defaults_are_caught() -> None:
    """Negative controls: ConvLSTM2D's default recurrent_activation='hard_sigmoid' is off, the converted weights
    notwithstanding (and its default padding='valid' changes the output shape); without the zeroing wrapper the
    padded outputs repeat the last valid one."""
    from migration.contrib_converters import conv_lstm_to_keras

    x = np.random.default_rng(4).normal(0, 1, (CONV_B, CONV_T, HW, HW, C_IN)).astype(np.float32)
    (out, _, _), tf1 = _conv_tf1(x, 1.0, seed=2)
    from modern_rnn.contrib import ZeroMaskedConvLSTM

    hard = ZeroMaskedConvLSTM(modern_rnn.keras.layers.ConvLSTM2D(C_OUT, (3, 3), padding="same",
                                                                 return_sequences=True, return_state=True))
    weights = conv_lstm_to_keras(tf1["kernel"], tf1["biases"], C_IN, 1.0)
    keras_out, _ = _conv_keras(x, 1.0, weights, layer=hard)
    assert _max_diff(keras_out[0], out) > 1e-3
    _, right = _conv_keras(x, 1.0, weights)
    unmasked = right.layer(x, mask=tf.sequence_mask(CONV_LENGTHS, CONV_T))[0].numpy()
    assert _max_diff(unmasked, out) > 1e-3 and _max_diff(unmasked[:, :2], out[:, :2]) <= ATOL_OUT


def test_custom_keras_twins_serialize_and_reload(tmp_path) -> None:
    """LayerNormLSTMCell and ZeroMaskedConvLSTM go through model.save / load_model (.keras) with their weights."""
    keras = modern_rnn.keras
    x = random_inputs(0)
    inp = keras.Input((None, DEPTH))
    model = keras.Model(inp, keras.layers.RNN(modern_rnn.LayerNormLSTMCell(3), return_sequences=True)(inp))
    path = str(tmp_path / "ln.keras")
    model.save(path)
    assert _max_diff(keras.models.load_model(path)(x).numpy(), model(x).numpy()) == 0.0
    conv_in = keras.Input((CONV_T, HW, HW, C_IN))
    conv = modern_rnn.conv_lstm_cell(2, [HW, HW, C_IN], C_OUT, [3, 3])
    conv_model = keras.Model(conv_in, conv(conv_in)[0])
    xc = np.random.default_rng(4).normal(0, 1, (CONV_B, CONV_T, HW, HW, C_IN)).astype(np.float32)
    conv_path = str(tmp_path / "conv.keras")
    conv_model.save(conv_path)
    assert _max_diff(keras.models.load_model(conv_path)(xc).numpy(), conv_model(xc).numpy()) == 0.0
