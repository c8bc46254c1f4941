"""Two tf.contrib.rnn cells added as family rows (issue 22): ``PhasedLSTMCell`` (``phased_lstm``: input ``(time,
x)``, the Keras twin reads ``[time, x]`` concatenated) and ``TimeFreqLSTMCell`` (``time_freq_lstm``: one LSTM over
frequency windows of each step).

* each legacy cell and its Keras twin against an independent NumPy step written from TF 1.15's equations (forward
  within 1e-6) and against each other in gradients (inputs, the time included, and every weight, within 1e-6),
  with seeded asymmetric weights and non-zero biases; the three regimes of the phased time gate (opening, closing,
  closed with the leak) all occur; TimeFreq with F = 3 overlapping windows; TF 1.15's variable names checked;
* negative controls: swapped gate blocks, a swapped period/phase, a wrong leak, the time dropped, forget_bias not
  folded, m_prev/m_prev_freq rows swapped: each must differ;
* the TF 1.15 options the twins do not cover (peepholes; TimeFreq's cell_clip and shards) against NumPy too;
* one real ``tf.compat.v1.train.Saver`` checkpoint of a program using both (ragged lengths, a stack, a bidirectional
  phased block, a dense head, a loss):
  ``convert`` (exit 0) verifies every block and the whole model against the ORIGINAL graph (the whole model feeds
  the phased blocks ``concat([times, x])`` from the graph's two placeholders); the whole model loads in safe mode and
  reproduces the program's logits; ``export`` writes checkpoints the legacy graph restores;
* negative controls on real checkpoints: a program with another leak and forget_bias fails against its own graph in
  both blocks; peepholes, shards and F > 1 windows are refused, naming the variable or the reason;
* the nested-input plumbing (``locate``, ``input_feeds``) on its own.
"""
from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

import legacy_rnn
from conftest import randomize, run_cli
from legacy_rnn import tf, v1
from legacy_rnn.phased_lstm import PhasedLSTMCell
from legacy_rnn.time_freq_lstm import TimeFreqLSTMCell
from migration import families
from migration.core.specs import CellSpec
from migration.families.time_freq_lstm import time_freq_to_keras
from modern_rnn import keras
from modern_rnn.time_freq_lstm import time_freq_lstm_cell
from tests.checkpoint.tf1_values import FAST

B, T, D, U = 3, 5, 4, 6
LENGTHS = np.array([5, 1, 3], np.int32)
LOSS_W = np.linspace(-1, 1, U, dtype=np.float32)
PHASED = tuple(n for n in families.tf1_names_for("phased_lstm"))


# -- NumPy references, written from TF 1.15's rnn_cell.py -------------------------------------------------------------
def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def time_gate(t, w, leak):
    """k of PhasedLSTMCell: opening 2r/ratio_on, closing 2 - 2r/ratio_on, closed leak r; r = mod(t - phase, period)
    / period."""
    r = np.mod(t - w["phase"], w["period"]) / w["period"]
    k = np.where(r < w["ratio_on"], 2 - 2 * r / w["ratio_on"], leak * r)
    return np.where(r < 0.5 * w["ratio_on"], 2 * r / w["ratio_on"], k), r


def ref_phased(t, x, c, h, w, leak=0.001, peep=False):
    ig, fg = np.split(_sig(np.concatenate([x, h] + ([c] if peep else []), 1) @ w["mask_gates/kernel"]
                           + w["mask_gates/bias"]), 2, 1)
    new_c = c * fg + ig * np.tanh(np.concatenate([x, h], 1) @ w["new_input/kernel"] + w["new_input/bias"])
    o = _sig(np.concatenate([x, h] + ([new_c] if peep else []), 1) @ w["output_gate/kernel"] + w["output_gate/bias"])
    k, _ = time_gate(t, w, leak)
    return k * new_c + (1 - k) * c, k * np.tanh(new_c) * o + (1 - k) * h


def ref_time_freq(x, state, w, b, fb, fs, skip, peep=None, clip=None):
    """One TimeFreqLSTMCell step: windows x[:, f*skip : f*skip+fs], state concat(c_0, m_0, ...)."""
    u = b.shape[0] // 4
    n = int((x.shape[1] - fs) / skip) + 1
    m_freq, outs, new = np.zeros((x.shape[0], u)), [], []
    for f in range(n):
        c, m = state[:, 2 * f * u:(2 * f + 1) * u], state[:, (2 * f + 1) * u:(2 * f + 2) * u]
        i, j, g, o = np.split(np.concatenate([x[:, f * skip:f * skip + fs], m, m_freq], 1) @ w + b, 4, 1)
        if peep:
            c = _sig(g + fb + peep["W_F_diag"] * c) * c + _sig(i + peep["W_I_diag"] * c) * np.tanh(j)
        else:
            c = _sig(g + fb) * c + _sig(i) * np.tanh(j)
        c = np.clip(c, -clip, clip) if clip else c
        m = _sig(o + (peep["W_O_diag"] * c if peep else 0)) * np.tanh(c)
        m_freq = m
        outs.append(m)
        new += [c, m]
    return np.concatenate(outs, 1), np.concatenate(new, 1)


def phased_arrays(seed, rows=D + U):
    rng = np.random.default_rng(seed)
    w = {n: rng.uniform(-0.8, 0.8, s).astype(np.float32) for n, s in
         {"mask_gates/kernel": (rows, 2 * U), "mask_gates/bias": (2 * U,), "new_input/kernel": (D + U, U),
          "new_input/bias": (U,), "output_gate/kernel": (rows, U), "output_gate/bias": (U,)}.items()}
    w["period"] = rng.uniform(2.0, 8.0, U).astype(np.float32)
    w["phase"] = (rng.uniform(0.0, 1.0, U) * w["period"]).astype(np.float32)
    w["ratio_on"] = rng.uniform(0.25, 0.6, U).astype(np.float32)
    return w


def phased_inputs(seed):
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.uniform(0.3, 2.5, (B, T, 1)), 1).astype(np.float32)
    return times, rng.normal(0, 1, (B, T, D)).astype(np.float32)


def _phased_ref_run(times, x, w, leak=0.001, peep=False):
    c, h, outs = np.zeros((B, U)), np.zeros((B, U)), []
    for t in range(x.shape[1]):
        c, h = ref_phased(times[:, t], x[:, t], c, h, w, leak, peep)
        outs.append(h)
    return np.stack(outs, 1), c, h


def _legacy_phased(times, x, w, peep=False):
    """outputs, final (c, h), d(sum(outputs * LOSS_W))/d(times, x, every variable) from the TF1 graph, on TF 1.15's
    (times, x) tuple input."""
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        tt, xt = tf.constant(times), tf.constant(x)
        out, state = v1.nn.dynamic_rnn(PhasedLSTMCell(U, use_peepholes=peep), (tt, xt), dtype=tf.float32)
        variables = {v.op.name[len("rnn/phased_lstm_cell/"):]: v for v in v1.global_variables()}
        assert sorted(variables) == sorted(PHASED), sorted(variables)  # TF 1.15's names
        names = list(PHASED)
        grads = tf.gradients(tf.reduce_sum(out * LOSS_W), [tt, xt] + [variables[n] for n in names])
        sess.run([variables[n].assign(w[n]) for n in names])
        got = sess.run([out, state] + grads)
    return got[0], (got[1].c, got[1].h), got[2], got[3], dict(zip(names, got[4:]))


def _keras_run(cell, inputs, weights):
    """outputs, final states, d(sum(outputs * LOSS_W))/d(inputs, every weight) of a Keras RNN over ``cell``."""
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    xt = tf.constant(inputs)
    layer(xt)
    layer.cell.set_weights(weights)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out, *states = layer(xt)
        loss = tf.reduce_sum(out[..., :U] * LOSS_W) + tf.reduce_sum(out[..., U:] * 0.5)
    grads = tape.gradient(loss, [xt, *layer.cell.weights])
    return np.asarray(out), [np.asarray(s) for s in states], np.asarray(grads[0]), [np.asarray(g) for g in grads[1:]]


def test_phased_cells_equal_the_numpy_step_forward_and_in_gradients():
    w = phased_arrays(3)
    times, x = phased_inputs(4)
    ref, ref_c, ref_h = _phased_ref_run(times, x, w)
    _, r = time_gate(times[:, :, 0][..., None], w, 0.001)  # [B, T, U]: every regime of the gate occurs
    assert (r < 0.5 * w["ratio_on"]).any() and ((r >= 0.5 * w["ratio_on"]) & (r < w["ratio_on"])).any()
    assert (r >= w["ratio_on"]).mean() > 0.2
    out, (c, h), g_t, g_x, g_w = _legacy_phased(times, x, w)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    np.testing.assert_allclose(c, ref_c, atol=1e-6)
    spec = CellSpec("phased_lstm", U)
    weights = families.cell_to_keras(spec, w, D + 1)
    k_out, (k_h, k_c), k_g, k_gw = _keras_run(families.keras_cell(spec, D + 1), np.concatenate([times, x], -1),
                                              weights)
    np.testing.assert_allclose(k_out, ref, atol=1e-6)
    np.testing.assert_allclose(k_c, ref_c, atol=1e-6)
    np.testing.assert_allclose(k_h, ref_h, atol=1e-6)
    np.testing.assert_allclose(k_g[..., :1], g_t, atol=1e-6)  # the time's gradient (mod passes it through)
    np.testing.assert_allclose(k_g[..., 1:], g_x, atol=1e-6)
    assert np.max(np.abs(g_t)) > 1e-2 and np.max(np.abs(g_x)) > 1e-2
    for name, a, b in zip(PHASED, families.cell_to_keras(spec, g_w, D + 1), k_gw):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-6, err_msg=name)
        assert np.max(np.abs(a)) > 1e-4, name  # every weight has a real gradient (period, phase, ratio_on too)
    back = families.cell_to_tf1(spec, weights)
    assert all(np.array_equal(back[n], w[n]) for n in PHASED)


def _time_freq_tf1(x, w0, b, fs, skip, fb, **options):
    """TF1 TimeFreqLSTMCell through static_rnn with an explicit [B, 2 F U] zero state (TF 1.15's dynamic_rnn takes
    F = 1 only); outputs [B, T, F U], the final state and the gradients of sum(outputs * weights) by x, W_0, B."""
    n = int((x.shape[2] - fs) / skip) + 1
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        xt = tf.constant(x)
        cell = TimeFreqLSTMCell(U, feature_size=fs, frequency_skip=skip, forget_bias=fb, **options)
        outs, state = v1.nn.static_rnn(cell, tf.unstack(xt, axis=1), initial_state=tf.zeros([B, 2 * U * n]))
        out = tf.stack(outs, 1)
        variables = {v.op.name.split("/")[-1]: v for v in v1.global_variables()}
        assert all(v.op.name.startswith("rnn/time_freq_lstm_cell/") for v in variables.values())
        weights = np.concatenate([LOSS_W, np.full(U * (n - 1), 0.5, np.float32)])
        grads = tf.gradients(tf.reduce_sum(out * weights), [xt, variables["W_0"], variables["B"]])
        sess.run(v1.global_variables_initializer())
        sess.run([variables["W_0"].assign(w0), variables["B"].assign(b)])
        arrays = {k: v.eval() for k, v in variables.items()}
        got = sess.run([out, state] + grads)
    return got[0], got[1], got[2], got[3:], arrays


#: (D, feature_size, frequency_skip): F = 3 overlapping windows (skip 1, F = 3 again: the TF 1.15 smoke test below)
TF_WINDOWS = ((7, 3, 2),)


@pytest.mark.parametrize("d,fs,skip", TF_WINDOWS)
def test_time_freq_cells_equal_the_numpy_step_forward_and_in_gradients(d, fs, skip):
    rng = np.random.default_rng(d)
    w0, b = rng.uniform(-0.8, 0.8, (fs + 2 * U, 4 * U)).astype(np.float32), rng.uniform(-0.8, 0.8, 4 * U).astype(
        np.float32)
    x = rng.normal(0, 1, (B, T, d)).astype(np.float32)
    n = int((d - fs) / skip) + 1
    state, ref = np.zeros((B, 2 * U * n)), []
    for t in range(T):
        o, state = ref_time_freq(x[:, t], state, w0, b, 0.5, fs, skip)
        ref.append(o)
    out, final, g_x, (g_w, g_b), _ = _time_freq_tf1(x, w0, b, fs, skip, 0.5)
    np.testing.assert_allclose(out, np.stack(ref, 1), atol=1e-6)
    np.testing.assert_allclose(final, state, atol=1e-6)
    cell = time_freq_lstm_cell(U, fs, skip, forget_bias=0.5, input_size=d)
    k_out, (k_state,), k_gx, (k_gw, k_gb) = _keras_run(cell, x, time_freq_to_keras(w0, b, 0.5))
    np.testing.assert_allclose(k_out, out, atol=1e-6)
    np.testing.assert_allclose(k_state, final, atol=1e-6)
    np.testing.assert_allclose(k_gx, g_x, atol=1e-6)
    np.testing.assert_allclose(k_gw, g_w, atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(k_gb, g_b, atol=1e-6, rtol=1e-6)
    assert np.max(np.abs(g_x)) > 1e-2 and np.max(np.abs(g_w[fs + U:])) > 1e-3  # m_prev_freq rows are really read


def test_negative_controls_wrong_conversions_differ():
    w = phased_arrays(11)
    times, x = phased_inputs(12)
    ref, _, _ = _phased_ref_run(times, x, w)
    spec = CellSpec("phased_lstm", U)
    good = families.cell_to_keras(spec, w, D + 1)
    swap_if = [np.concatenate([good[0][:, U:], good[0][:, :U]], 1), np.concatenate([good[1][U:], good[1][:U]])]
    wrong = {"i and f blocks swapped": (swap_if + good[2:], 0.001, times),
             "period and phase swapped": (good[:6] + [good[7], good[6], good[8]], 0.001, times),
             "leak 0.05 instead of 0.001": (good, 0.05, times),
             "the time dropped (zeros)": (good, 0.001, np.zeros_like(times))}
    for what, (weights, leak, t) in wrong.items():
        cell = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(
            families.keras_cell(spec, D + 1)))
        cell.leak = leak
        out = _keras_run(cell, np.concatenate([t, x], -1), weights)[0]
        assert np.max(np.abs(out - ref)) > 1e-4, what
    rng = np.random.default_rng(13)
    d, fs, skip = TF_WINDOWS[0]
    w0, b = rng.uniform(-0.8, 0.8, (fs + 2 * U, 4 * U)).astype(np.float32), rng.uniform(-0.8, 0.8, 4 * U).astype(
        np.float32)
    xf = rng.normal(0, 1, (B, T, d)).astype(np.float32)
    right = _keras_run(time_freq_lstm_cell(U, fs, skip, 0.5, d), xf, time_freq_to_keras(w0, b, 0.5))[0]
    rows = np.concatenate([w0[:fs], w0[fs + U:], w0[fs:fs + U]])
    cols = np.concatenate([w0[:, U:2 * U], w0[:, :U], w0[:, 2 * U:]], 1)
    folded = time_freq_to_keras(w0, b, 0.5)[1]
    for what, (kernel, bias) in {"forget_bias not folded": (w0, b), "m_prev and m_prev_freq rows swapped": (
            rows, folded), "i and j blocks swapped": (cols, folded)}.items():
        out = _keras_run(time_freq_lstm_cell(U, fs, skip, 0.5, d), xf, [kernel, bias])[0]
        assert np.max(np.abs(out - right)) > 1e-4, what


def test_legacy_cells_tf115_options_equal_the_numpy_step():
    """The options no twin covers run in the legacy cells with TF 1.15's maths and variable names."""
    w = phased_arrays(21, rows=D + 2 * U)
    times, x = phased_inputs(22)
    out, (c, _), _, _, _ = _legacy_phased(times, x, w, peep=True)
    ref, ref_c, _ = _phased_ref_run(times, x, w, peep=True)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    np.testing.assert_allclose(c, ref_c, atol=1e-6)
    d, fs, skip = TF_WINDOWS[0]
    rng = np.random.default_rng(23)
    xf = rng.normal(0, 1, (B, T, d)).astype(np.float32)
    w0, b = rng.uniform(-0.8, 0.8, (fs + 2 * U, 4 * U)).astype(np.float32), rng.uniform(-0.8, 0.8, 4 * U).astype(
        np.float32)
    out, _, _, _, arrays = _time_freq_tf1(xf, w0, b, fs, skip, 0.3, use_peepholes=True, cell_clip=0.2,
                                          num_unit_shards=1)
    assert sorted(arrays) == ["B", "W_0", "W_F_diag", "W_I_diag", "W_O_diag"]
    state, ref = np.zeros((B, 2 * U * 3)), []
    for t in range(T):
        o, state = ref_time_freq(xf[:, t], state, w0, b, 0.3, fs, skip, peep=arrays, clip=0.2)
        ref.append(o)
    np.testing.assert_allclose(out, np.stack(ref, 1), atol=1e-6)
    with tf.Graph().as_default():  # two shards: W_0 [6+1 rows], W_1 [6 rows] (the first rows % n one longer)
        TimeFreqLSTMCell(U, feature_size=fs, frequency_skip=skip, num_unit_shards=2)(tf.zeros([B, d]),
                                                                                    tf.zeros([B, 6 * U]))
        assert {v.op.name.split("/")[-1]: v.shape.as_list() for v in v1.global_variables()} == {
            "W_0": [8, 4 * U], "W_1": [7, 4 * U], "B": [4 * U]}


def test_time_freq_keeps_tf115s_sizes_and_smoke_shapes():
    """TF 1.15's own test (a smoke test: shapes, rows differ; constant 0.5 weights, state 0.1): output [3, 8 F],
    state [3, 16 F] for 4 inputs, feature_size 2, skip 1 (F = 3), while state_size/output_size stay one window's;
    and the Keras twin gives the same numbers on the same weights."""
    x_np = np.repeat([[1.0], [2.0], [3.0]], 4, 1).astype(np.float32)
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        with v1.variable_scope("root", initializer=v1.constant_initializer(0.5)):
            cell = TimeFreqLSTMCell(num_units=8, feature_size=2, frequency_skip=1, forget_bias=1.0)
            output, state = cell(tf.constant(x_np), tf.fill([3, 48], 0.1))
        sess.run(v1.global_variables_initializer())
        out, st = sess.run([output, state])
    assert (cell.state_size, cell.output_size, out.shape, st.shape) == (16, 8, (3, 24), (3, 48))
    assert all(np.linalg.norm(out[0] - out[i]) > 1e-6 and np.linalg.norm(st[0] - st[i]) > 1e-6 for i in (1, 2))
    keras_cell = time_freq_lstm_cell(8, 2, 1, 1.0, input_size=4)
    keras_cell.build((3, 4))
    keras_cell.set_weights(time_freq_to_keras(np.full((18, 32), 0.5, np.float32), np.zeros(32, np.float32), 1.0))
    k_out, (k_st,) = keras_cell(tf.constant(x_np), [tf.fill([3, 48], 0.1)])
    np.testing.assert_allclose(np.asarray(k_out), out, atol=1e-6)
    np.testing.assert_allclose(np.asarray(k_st), st, atol=1e-6)


def test_phased_runs_tf115s_own_test_setup_with_a_float64_time():
    """TF 1.15's ``testPhasedLSTMCell`` setup: a float64 time ``[[1], [2], [3]]``, x rows of 1s/2s/3s, zero state,
    every kernel 0.5 from the scope initializer (biases zeros). Its expected numbers come from TF 1.x's random stream
    (period and phase have their own random initializers), so period/phase/ratio_on are fixed here and the expected
    values are the NumPy step's; output == state.h, and the Keras twin (float32 time) agrees."""
    t_np = np.array([[1.0], [2.0], [3.0]])
    x_np = np.repeat([[1.0], [2.0], [3.0]], 4, 1).astype(np.float32)
    fixed = {"period": np.array([2.5, 7.0], np.float32), "phase": np.array([0.4, 1.5], np.float32),
             "ratio_on": np.array([0.5, 0.3], np.float32)}
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        with v1.variable_scope("root", initializer=v1.constant_initializer(0.5)):
            t = tf.constant(t_np, tf.float64)
            output, state = PhasedLSTMCell(num_units=2)((t, tf.constant(x_np)), v1.nn.rnn_cell.LSTMStateTuple(
                tf.zeros([3, 2]), tf.zeros([3, 2])))
        sess.run(v1.global_variables_initializer())
        variables = {v.op.name.split("/", 2)[2]: v for v in v1.global_variables()}
        for name, value in fixed.items():
            variables[name].load(value, sess)
        arrays = {n: v.eval() for n, v in variables.items()}
        out, st = sess.run([output, state])
    assert out.dtype == np.float32 and np.array_equal(out, st.h)
    c, h = ref_phased(t_np, x_np, np.zeros((3, 2)), np.zeros((3, 2)), arrays)
    np.testing.assert_allclose(st.c, c, atol=1e-6)
    np.testing.assert_allclose(out, h, atol=1e-6)
    _, r = time_gate(t_np, arrays, 0.001)  # the fixed values put the gate in all three regimes
    ratio = arrays["ratio_on"]
    assert (r < ratio / 2).any() and ((r >= ratio / 2) & (r < ratio)).any() and (r >= ratio).any()
    spec = CellSpec("phased_lstm", 2)
    cell = families.keras_cell(spec, 5)
    cell.build((3, 5))
    cell.set_weights(families.cell_to_keras(spec, arrays, 5))
    k_h, (_, k_c) = cell(tf.constant(np.concatenate([t_np, x_np], 1), tf.float32), [tf.zeros([3, 2])] * 2)
    np.testing.assert_allclose(np.asarray(k_h), h, atol=1e-6)
    np.testing.assert_allclose(np.asarray(k_c), c, atol=1e-6)


def test_the_rows_are_the_only_places_that_know_the_families():
    import legacy_rnn.contrib_rnn as rnn

    homes = families.upgrade_homes()
    for cls in (PhasedLSTMCell, TimeFreqLSTMCell):
        symbol = f"tf.contrib.rnn.{cls.__name__}"
        assert homes[symbol] == f"legacy_rnn.contrib_rnn.{cls.__name__}" and getattr(rnn, cls.__name__) is cls
    for kind, lstm in (("phased_lstm", True), ("time_freq_lstm", False)):
        spec = CellSpec(kind, U)
        assert type(families.legacy_cell(spec)).__module__ == "legacy_rnn." + kind
        assert type(families.keras_cell(spec, D)).__module__ == "modern_rnn." + kind
        assert spec.is_lstm == lstm and spec.tf1_scope == families.family(kind).scope
    from modern_rnn.phased_lstm import phased_lstm_cell

    with pytest.raises(ValueError, match="use_peepholes=False only"):
        phased_lstm_cell(U, use_peepholes=True)


# -- a real TF1 program, its Saver checkpoint, and the CLI ------------------------------------------------------------
SCOPES = {"phased_lstm": "enc_phased", "time_freq_lstm": "enc_tf"}
STACK, U2, BIDI = "enc_tf_stack", 5, "enc_phased_bi"


def _phased_loads(sess, seed):
    """Sensible period/phase/ratio_on for every PhasedLSTMCell of the graph (randomize gives them any sign)."""
    w = phased_arrays(seed)
    for var in v1.global_variables():
        leaf = var.op.name.rsplit("/", 1)[-1]
        if "phased_lstm_cell" in var.op.name and leaf in ("period", "phase", "ratio_on"):
            var.load(w[leaf], sess)


def _program_graph(peep=False):
    """x [B, T, D] (a static batch, as TF 1.15's TimeFreqLSTMCell needed), times [B, T, 1], lengths [B] -> a
    PhasedLSTMCell over (times, x), a TimeFreqLSTMCell (F = 1) over x, and a MultiRNNCell of two TimeFreqLSTMCells,
    ragged lengths -> the last relevant outputs concatenated -> dense head -> softmax loss."""
    x = v1.placeholder(tf.float32, [B, T, D], name="x")
    times = v1.placeholder(tf.float32, [B, T, 1], name="times")
    lengths = v1.placeholder(tf.int32, [B], name="lengths")
    outs, lasts = {}, []
    cells = {"phased_lstm": (PhasedLSTMCell(U, use_peepholes=peep), (times, x)),
             "time_freq_lstm": (TimeFreqLSTMCell(U, feature_size=D), x)}
    # a stack: layer 1 reads layer 0's U outputs (its own input size; F = 1 with feature_size = U)
    stack = v1.nn.rnn_cell.MultiRNNCell([TimeFreqLSTMCell(U, feature_size=D), TimeFreqLSTMCell(U2, feature_size=U)])
    for kind, (cell, inputs) in list(cells.items()) + [(STACK, (stack, x))]:
        scope = SCOPES.get(kind, kind)
        outs[kind], _ = v1.nn.dynamic_rnn(cell, inputs, sequence_length=lengths, dtype=tf.float32, scope=scope)
        lasts.append(tf.gather_nd(outs[kind], tf.stack([tf.range(B), lengths - 1], 1)))
    # bidirectional over (times, x): the bw loop reads the reversed parts; the block takes the fw loop's two tensors
    (fw, bw), _ = v1.nn.bidirectional_dynamic_rnn(PhasedLSTMCell(U), PhasedLSTMCell(U), (times, x),
                                                  sequence_length=lengths, dtype=tf.float32, scope=BIDI)
    outs[BIDI] = (fw, bw)
    lasts += [tf.gather_nd(fw, tf.stack([tf.range(B), lengths - 1], 1)), bw[:, 0]]
    logits = v1.layers.dense(tf.concat(lasts, 1), 3, name="head")
    labels = v1.placeholder(tf.int32, [B], name="labels")
    tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits), name="loss")
    return x, times, lengths, outs, logits


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    root = tmp_path_factory.mktemp("contrib_cells3")
    times_np, x_np = phased_inputs(41)
    with legacy_rnn.new_graph(41) as graph:
        x, times, lengths, outs, logits = _program_graph()
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 41)
            _phased_loads(sess, 41)
            ref = sess.run([outs, logits], {x: x_np, times: times_np, lengths: LENGTHS})
            prefix = v1.train.Saver().save(sess, os.path.join(str(root / "ckpt"), "model.ckpt"))
    out = root / "out"
    code = run_cli("convert", prefix, out, "--quiet")
    return root, prefix, (times_np, x_np), ref, out, code


def _manifest(out) -> dict:
    with open(os.path.join(str(out), "manifest.json")) as f:
        return json.load(f)


def test_checkpoint_converts_and_verifies_against_the_original_graph(program, capsys):
    root, prefix, (times_np, x_np), (outs, logits), out, code = program
    assert code == 0, capsys.readouterr()
    assert run_cli("inspect", prefix) == 0
    printed = capsys.readouterr().out
    assert "phased_lstm" in printed and "time_freq_lstm" in printed
    m = _manifest(out)
    blocks = {b["scope"]: b for b in m["blocks"]}
    assert sorted(blocks) == sorted(list(SCOPES.values()) + [STACK, BIDI])
    assert [(c["spec"]["kind"], c["spec"]["units"], c["input_size"]) for c in blocks[STACK]["cells"]] == [
        ("time_freq_lstm", U, D), ("time_freq_lstm", U2, U)]
    for kind, scope in SCOPES.items():
        (cell,) = blocks[scope]["cells"]
        assert (cell["spec"]["kind"], cell["spec"]["units"]) == (kind, U)
        assert blocks[scope]["input_size"] == (D + 1 if kind == "phased_lstm" else D)
    assert blocks["enc_phased"]["cells"][0]["hyper_sources"]["leak"].startswith("default")
    assert blocks["enc_tf"]["cells"][0]["hyper_sources"]["forget_bias"].startswith("default")
    from migration.commands.convert import print_assumptions

    said = io.StringIO()
    print_assumptions(m, said)  # the assumed values, named (leak is no CellSpec field: the row's default)
    assert "enc_phased/phased_lstm_cell: leak=0.001" in said.getvalue()
    assert "enc_tf/time_freq_lstm_cell: forget_bias=1.0" in said.getvalue()
    v = m["verification"]
    assert v["ok"] and v["references"]["whole model"] == "original-graph"
    assert all(v["references"][f"block {s}"] == "original-graph" for s in list(SCOPES.values()) + [STACK, BIDI])
    from migration.safe_io import load_keras_model

    model = load_keras_model(os.path.join(str(out), m["model"]["file"]))
    names = [i.name.split(":")[0].removeprefix("input_") for i in model.inputs]
    feeds = {"x": x_np, "times": times_np, "lengths": LENGTHS}
    np.testing.assert_allclose(np.asarray(model([feeds[n] for n in names], training=False)), logits, atol=1e-5)
    for kind, scope in list(SCOPES.items()) + [(STACK, STACK)]:
        block_model = load_keras_model(os.path.join(str(out), blocks[scope]["file"]))
        xin = np.concatenate([times_np, x_np], -1) if kind == "phased_lstm" else x_np
        got = np.asarray(block_model([xin, LENGTHS], training=False)[0])
        np.testing.assert_allclose(got, outs[kind], atol=1e-5)
        assert np.max(np.abs(got)) > 1e-2
    bidi = load_keras_model(os.path.join(str(out), blocks[BIDI]["file"]))([np.concatenate([times_np, x_np], -1), LENGTHS])
    for got, want in zip(bidi[:2], outs[BIDI]):  # fw, bw outputs
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)


@pytest.mark.parametrize("kind", tuple(SCOPES))
def test_export_writes_a_checkpoint_the_legacy_graph_restores(program, tmp_path, kind):
    _, _, (times_np, x_np), (outs, _), out, _ = program
    block = {b["scope"]: b for b in _manifest(out)["blocks"]}[SCOPES[kind]]
    exported = str(tmp_path / "exp" / "model.ckpt")
    assert run_cli("export", os.path.join(str(out), block["file"]), exported, "--scope", SCOPES[kind]) == 0
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        x = v1.placeholder(tf.float32, [B, T, D])
        times = v1.placeholder(tf.float32, [B, T, 1])
        lengths = v1.placeholder(tf.int32, [B])
        cell, inputs = (PhasedLSTMCell(U), (times, x)) if kind == "phased_lstm" else \
            (TimeFreqLSTMCell(U, feature_size=D), x)
        outputs, _ = v1.nn.dynamic_rnn(cell, inputs, sequence_length=lengths, dtype=tf.float32, scope=SCOPES[kind])
        v1.train.Saver().restore(sess, exported)
        got = sess.run(outputs, {x: x_np, times: times_np, lengths: LENGTHS})
    np.testing.assert_allclose(got, outs[kind], atol=1e-5)


def test_other_hyper_parameters_fail_against_the_original_graph(tmp_path, capsys):
    """leak and forget_bias are Python constants the .meta is not read for: convert assumes TF 1.15's 0.001 and 1.0
    and says so. A program that used leak=0.05 (PhasedLSTMCell) and forget_bias=0.3 (TimeFreqLSTMCell) must fail
    against its own graph in BOTH blocks (exit 1, nothing written), not convert silently."""
    times_np, x_np = phased_inputs(7)
    with legacy_rnn.new_graph(7) as graph:
        x = v1.placeholder(tf.float32, [B, T, D], name="x")
        times = v1.placeholder(tf.float32, [B, T, 1], name="times")
        phased, _ = v1.nn.dynamic_rnn(PhasedLSTMCell(U, leak=0.05), (times, x), dtype=tf.float32, scope="enc_phased")
        freq, _ = v1.nn.dynamic_rnn(TimeFreqLSTMCell(U, feature_size=D, forget_bias=0.3), x, dtype=tf.float32,
                                    scope="enc_tf")
        logits = v1.layers.dense(tf.concat([phased[:, -1], freq[:, -1]], 1), 3, name="head")
        labels = v1.placeholder(tf.int32, [B], name="labels")
        tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits), name="loss")
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 7)
            _phased_loads(sess, 7)
            prefix = v1.train.Saver().save(sess, str(tmp_path / "ckpt" / "model.ckpt"))
    capsys.readouterr()
    # --no-model: the blocks are what must fail (the whole model is checked on the program fixture above)
    assert run_cli("convert", prefix, tmp_path / "out", "--no-model", "--json") == 1
    v = json.loads(capsys.readouterr().out)["verification"]
    failed = {c["what"] for c in v["checks"] if c["max_abs_diff"] > v["tolerance"]}
    assert {"block enc_phased", "block enc_tf"} <= failed, failed
    assert all(v["references"][f"block {s}"] == "original-graph" for s in ("enc_phased", "enc_tf"))
    assert not os.path.exists(tmp_path / "out")


def _hostile(kind):
    """Programs with what the twins lack: PhasedLSTMCell(use_peepholes=True) (kernels of D+2U rows); TimeFreqLSTMCell
    with peepholes and two shards; TimeFreqLSTMCell over F = 3 windows (static_rnn with an explicit [B, 2FU] state,
    the only way TF 1.15 ran it)."""
    x = v1.placeholder(tf.float32, [B, T, D + 3], name="x")
    if kind == "phased peepholes":
        times = v1.placeholder(tf.float32, [B, T, 1], name="times")
        v1.nn.dynamic_rnn(PhasedLSTMCell(U, use_peepholes=True), (times, x), dtype=tf.float32)
    elif kind == "time_freq peepholes, shards":
        v1.nn.dynamic_rnn(TimeFreqLSTMCell(U, use_peepholes=True, num_unit_shards=2, feature_size=D + 3), x,
                          dtype=tf.float32)
    else:
        cell = TimeFreqLSTMCell(U, feature_size=3, frequency_skip=2)
        outs, _ = v1.nn.static_rnn(cell, tf.unstack(x, axis=1), initial_state=tf.zeros([B, 2 * U * 3]))
        v1.layers.dense(outs[-1], 3, name="head")


REFUSED = {"phased peepholes": r"mask_gates/kernel|output_gate/kernel",
           "time_freq peepholes, shards": r"W_1|W_F_diag", "time_freq F = 3": r"more than one frequency window"}


@pytest.mark.parametrize("kind", tuple(REFUSED))
def test_a_checkpoint_with_options_the_twins_lack_is_refused_naming_them(tmp_path, capsys, kind):
    """convert must refuse (exit 2) naming the variable or the reason, and write nothing (never drop or misread)."""
    import re

    with legacy_rnn.new_graph(5) as graph:
        _hostile(kind)
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            prefix = v1.train.Saver().save(sess, str(tmp_path / "ckpt" / "model.ckpt"))
    capsys.readouterr()
    assert run_cli("convert", prefix, tmp_path / "out", "--quiet") == 2
    err = capsys.readouterr().err
    assert re.search(REFUSED[kind], err), err
    assert not os.path.exists(tmp_path / "out")


def test_a_nested_loop_input_is_taken_only_by_a_family_that_reads_it():
    """``locate``: a ``dynamic_rnn`` over ``(times, x)`` (two input tensors) is the block of a cell whose row takes two
    parts (PhasedLSTMCell), never of a one-input cell (an LSTMCell that concatenated them inside its step would get
    the parts silently glued): each mismatch is a MigrationError naming the tensors."""
    import types

    from migration.core.errors import MigrationError
    from migration.graph.blocks import Loop
    from migration.graph.whole_model import locate

    def case(kind, parts):
        variables = {n: f"enc/{families.family(kind).scope}/{n}" for n in families.tf1_names_for(kind)}
        block = {"name": "enc", "outputs": ["outputs", "state/c", "state/h"],
                 "cells": [{"direction": "", "spec": {"kind": kind}, "variables": variables,
                            "weights": [{"sources": sorted(variables.values())}]}]}
        loop = Loop("enc", "enc/while", set(variables.values()), x="x:0", outputs="enc/out:0",
                    state_candidates=["enc/while:4", "enc/while:5"], parts=list(parts))
        return locate(types.SimpleNamespace(substitute={}), [loop], block)

    where = case("phased_lstm", ["times:0", "x:0"])
    assert (where.x, where.parts, where.outputs) == ("x:0", ("times:0", "x:0"), ["enc/out:0", "enc/while:4",
                                                                                "enc/while:5"])
    assert case("lstm", []).parts == ()
    with pytest.raises(MigrationError, match=r"reads 2 input tensor\(s\) \['times:0', 'x:0'\], its cells take \[1\]"):
        case("lstm", ["times:0", "x:0"])
    with pytest.raises(MigrationError, match=r"reads 1 input tensor\(s\) \['x:0'\], its cells take \[2\]"):
        case("phased_lstm", [])


def test_verify_cuts_the_test_input_back_into_the_nested_parts():
    """``input_feeds``: the [B, T, 1 + D] test input goes to the original loop as its two tensors, split at the
    first part's static width (time-major graphs transposed first); an unknown width is a MigrationError, not a guess."""
    import types

    from tensorflow.core.framework import node_def_pb2

    from migration.core.errors import MigrationError
    from migration.graph.block_feeds import input_feeds

    times = node_def_pb2.NodeDef(name="times", op="Placeholder")
    for size in (T, B, 1):
        times.attr["shape"].shape.dim.add(size=size)
    og = types.SimpleNamespace(index=types.SimpleNamespace(node=lambda n: times if n == "times" else None))
    x = np.random.default_rng(3).normal(0, 1, (B, T, 1 + D)).astype(np.float32)
    where = types.SimpleNamespace(x="x:0", parts=("times:0", "x:0"), time_major=True)
    feeds = input_feeds(og, where, x)
    np.testing.assert_array_equal(feeds["times:0"], np.transpose(x[..., :1], (1, 0, 2)))
    np.testing.assert_array_equal(feeds["x:0"], np.transpose(x[..., 1:], (1, 0, 2)))
    ((name, value),) = input_feeds(og, types.SimpleNamespace(x="x:0", parts=(), time_major=False), x).items()
    assert name == "x:0" and value is x  # one input: fed as it is
    with pytest.raises(MigrationError, match="widths of its first parts"):
        input_feeds(og, types.SimpleNamespace(x="x:0", parts=("other:0", "x:0"), time_major=False), x)
