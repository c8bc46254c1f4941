"""Three tf.contrib.rnn LSTM variants added as family rows (issue 22), each as one module per library plus one row
and a registry line: ``CoupledInputForgetGateLSTMCell`` (``cifg_lstm``), the contrib ``LayerNormLSTMCell`` with
layer_norm=True (``layer_norm_lstm_contrib``) and ``WeightNormLSTMCell`` (``weight_norm_lstm``).

* each legacy cell and its Keras twin against an independent NumPy step written from TF 1.15's equations (forward
  within 1e-6) and against each other in gradients (inputs and every weight, within 1e-6), with seeded asymmetric
  weights, non-zero biases, gains away from 1 and forget_bias 0.5; TF 1.15's variable names checked;
* negative controls: a conversion without the gate reordering, with forget_bias not folded, or (weight norm) with
  the two gains swapped, must differ;
* the legacy cells' TF 1.15 options the twins do not cover (peepholes, projection, clipping, shards, layer norm on
  the CIFG cell) against the NumPy step too;
* one real ``tf.compat.v1.train.Saver`` checkpoint of a program using all three (ragged lengths, a dense head, a
  loss; the program is shared with the other contrib family modules: contrib_program.py):
  ``inspect``/``convert``/``verify`` recognise the three blocks and verify them against the ORIGINAL graph; a
  wrong ``--forget-bias`` fails there; the whole model loads in safe mode and reproduces the program's logits;
  ``export`` writes checkpoints the legacy graph restores; a checkpoint with peephole variables is refused, naming
  them.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import legacy_rnn
from conftest import run_cli
from contrib_program import Part, register
from legacy_rnn import tf, v1
from legacy_rnn.cifg_lstm import CoupledInputForgetGateLSTMCell
from legacy_rnn.layer_norm_lstm_contrib import LayerNormLSTMCell
from legacy_rnn.weight_norm_lstm import WeightNormLSTMCell
from migration import families
from migration.core.specs import CellSpec
from modern_rnn import keras
from tests.checkpoint.tf1_values import FAST

B, T, D, U = 3, 5, 4, 6
LENGTHS = np.array([5, 1, 3], np.int32)
KINDS = ("cifg_lstm", "layer_norm_lstm_contrib", "weight_norm_lstm")
SCOPES = {"cifg_lstm": "coupled_input_forget_gate_lstm_cell", "layer_norm_lstm_contrib": "layer_norm_lstm_cell",
          "weight_norm_lstm": "wn_lstm_cell/wn_lstm_cell"}
FB = 0.5


# -- NumPy references, written from TF 1.15's rnn_cell.py -------------------------------------------------------------
def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def _ln(a, gamma, beta):
    mean = a.mean(-1, keepdims=True)
    var = ((a - mean) ** 2).mean(-1, keepdims=True)
    return gamma * (a - mean) / np.sqrt(var + 1e-12) + beta


def _l2n(w):
    return w / np.sqrt(np.maximum((w ** 2).sum(0, keepdims=True), 1e-12))


def ref_cifg(x, c, h, w, fb, peep=None, proj=None, clip=None, ln=None):
    """CoupledInputForgetGateLSTMCell.call: j, f, o; f = sig(f + fb [+ W_F_diag c]); c = f c + (1 - f) tanh(j)."""
    z = np.concatenate([x, h], 1) @ w["W"]
    if ln is None:
        z = z + w["B"]
    j, f, o = np.split(z, 3, 1)
    if ln is not None:
        j, f, o = (_ln(a, *ln[s]) for a, s in zip((j, f, o), ("transform", "forget", "output")))
    f = _sig(f + fb + (peep["W_F_diag"] * c if peep else 0))
    c = f * c + (1 - f) * np.tanh(j)
    if ln is not None:
        c = _ln(c, *ln["state"])
    m = _sig(o + (peep["W_O_diag"] * c if peep else 0)) * np.tanh(c)
    if proj is not None:
        m = m @ proj
        m = np.clip(m, -clip, clip) if clip else m
    return c, m


def ref_ln_lstm(x, c, h, w, fb, peep=None, cell_clip=None, proj=None):
    """contrib LayerNormLSTMCell(layer_norm=True).call: LN on i, j, f, o (no bias), then on the new c."""
    z = np.concatenate([x, h], 1) @ w["kernel"]
    i, j, f, o = (_ln(a, w[f"{s}/gamma"], w[f"{s}/beta"])
                  for a, s in zip(np.split(z, 4, 1), ("input", "transform", "forget", "output")))
    if peep:
        f, i = f + peep["w_f_diag"] * c, i + peep["w_i_diag"] * c
    c = _sig(f + fb) * c + _sig(i) * np.tanh(j)
    c = _ln(c, w["state/gamma"], w["state/beta"])
    c = np.clip(c, -cell_clip, cell_clip) if cell_clip else c
    m = _sig(o + (peep["w_o_diag"] * c if peep else 0)) * np.tanh(c)
    return c, (m if proj is None else m @ proj)


def ref_wn(x, c, h, w, fb, peep=None, proj=None):
    """WeightNormLSTMCell.call (norm=True): W = [l2n(K_x) norm_0; l2n(K_h) norm_1]; an LSTM step."""
    k = w["wn_lstm_cell/kernel"]
    d = x.shape[1]
    kernel = np.concatenate([_l2n(k[:d]) * w["wn_lstm_cell/norm_0"], _l2n(k[d:]) * w["wn_lstm_cell/norm_1"]], 0)
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ kernel + w["wn_lstm_cell/bias"], 4, 1)
    if peep:
        f, i = f + peep["w_f_diag"] * c, i + peep["w_i_diag"] * c
    c = c * _sig(f + fb) + _sig(i) * np.tanh(j)
    m = _sig(o + (peep["w_o_diag"] * c if peep else 0)) * np.tanh(c)
    if proj is not None:
        m = m @ (_l2n(proj[0]) * proj[1])
    return c, m


def _ref_step(kind, x, c, h, w, fb):
    if kind == "cifg_lstm":
        return ref_cifg(x, c, h, {"W": w["W_0"], "B": w["B"]}, fb)
    return (ref_ln_lstm if kind == "layer_norm_lstm_contrib" else ref_wn)(x, c, h, w, fb)


def reference_run(step, x, units, out_units=None):
    c, h, outs = np.zeros((x.shape[0], units)), np.zeros((x.shape[0], out_units or units)), []
    for t in range(x.shape[1]):
        c, h = step(x[:, t], c, h)
        outs.append(h)
    return np.stack(outs, 1), (c, h)


def _arrays(kind, seed):
    """Seeded asymmetric TF1 arrays for every variable of the row (gains around 1 but not 1, biases non-zero)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in families.tf1_shapes(CellSpec(kind, U), D).items():
        gain = name.endswith(("gamma", "norm_0", "norm_1"))
        out[name] = (rng.uniform(0.5, 1.5, shape) if gain else rng.uniform(-0.8, 0.8, shape)).astype(np.float32)
    return out


def _weights(kind, seed):
    return _arrays(kind, seed), np.random.default_rng(seed + 100).normal(0, 1, (B, T, D)).astype(np.float32)


LOSS_W = np.linspace(-1, 1, U, dtype=np.float32)


def _legacy(kind, x, arrays, fb):
    """outputs, final (c, h) and d(sum(outputs * w))/d(x, every variable) from the TF1 graph (tf.gradients).
    TensorFlow's default (optimizing) session: unoptimized, layer_norm_lstm_contrib's d/dx differs from the Keras
    twin's by 1.07e-6 in one element (float rounding), over this comparison's 1e-6."""
    with tf.Graph().as_default(), v1.Session() as sess:
        xt = tf.constant(x)
        out, state = v1.nn.dynamic_rnn(families.legacy_cell(CellSpec(kind, U, forget_bias=fb)), xt, dtype=tf.float32)
        loss = tf.reduce_sum(out * LOSS_W)
        prefix = f"rnn/{SCOPES[kind].rsplit('/', 1)[0]}/"
        variables = {v.op.name[len(prefix):]: v for v in v1.global_variables()}
        assert sorted(variables) == sorted(arrays), sorted(v.op.name for v in v1.global_variables())  # TF 1.15's names
        names = sorted(arrays)
        grads = tf.gradients(loss, [xt] + [variables[n] for n in names])
        sess.run([variables[n].assign(arrays[n]) for n in names])
        got = sess.run([out, state] + [g if g is not None else tf.zeros_like(xt) for g in grads])
        grad_w = {n: (g if grads[k + 1] is not None else np.zeros_like(arrays[n]))
                  for k, (n, g) in enumerate(zip(names, got[3:]))}
        return got[0], (got[1].c, got[1].h), got[2], grad_w


def _keras(kind, x, weights, fb):
    layer = keras.layers.RNN(families.keras_cell(CellSpec(kind, U, forget_bias=fb)), return_sequences=True,
                             return_state=True)
    xt = tf.constant(x)
    layer(xt)
    layer.cell.set_weights(weights)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out, h, c = layer(xt)
        loss = tf.reduce_sum(out * LOSS_W)
    grads = tape.gradient(loss, [xt, *layer.cell.weights])
    grads = [np.zeros(w.shape, np.float32) if g is None else np.asarray(g)
             for g, w in zip(grads, [xt, *layer.cell.weights])]
    return np.asarray(out), (np.asarray(c), np.asarray(h)), grads[0], grads[1:]


@pytest.mark.parametrize("kind", KINDS)
def test_both_cells_equal_the_numpy_step_forward_and_in_gradients(kind):
    arrays, x = _weights(kind, KINDS.index(kind) + 3)
    ref_out, (ref_c, ref_h) = reference_run(lambda xt, c, h: _ref_step(kind, xt, c, h, arrays, FB), x, U)
    out, (c, h), gx, gw = _legacy(kind, x, arrays, FB)
    np.testing.assert_allclose(out, ref_out, atol=1e-6)
    np.testing.assert_allclose(c, ref_c, atol=1e-6)
    spec = CellSpec(kind, U, forget_bias=FB)
    weights = families.cell_to_keras(spec, arrays, D)
    k_out, (k_c, k_h), k_gx, k_gw = _keras(kind, x, weights, FB)
    np.testing.assert_allclose(k_out, ref_out, atol=1e-6)
    np.testing.assert_allclose(k_c, ref_c, atol=1e-6)
    np.testing.assert_allclose(k_h, ref_h, atol=1e-6)
    np.testing.assert_allclose(k_gx, gx, atol=1e-6)
    assert np.max(np.abs(gx)) > 1e-2  # the gradients are real, not zeros on both sides
    # weight gradients: the TF1 ones converted like the weights (layout only, no forget_bias) equal Keras' (within
    # 1e-6 absolute, or 1e-6 relative for the few float32 sums of magnitude > 1)
    for a, b in zip(families.cell_to_keras(spec, gw, D, include_forget_bias=False), k_gw):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-6)
    back = families.cell_to_tf1(spec, weights)  # and the way back gives the TF1 arrays
    for name, value in arrays.items():
        np.testing.assert_allclose(back[name], value, atol=1e-7)


def _wrong_conversions(kind, arrays):
    spec = CellSpec(kind, U, forget_bias=FB)
    good = families.cell_to_keras(spec, arrays, D)
    yield "forget_bias not folded", families.cell_to_keras(spec, arrays, D, include_forget_bias=False)
    if kind == "cifg_lstm":  # blocks j, f, o kept: the wrong one swaps j and f
        swap = lambda a: np.concatenate([a[..., U:2 * U], a[..., :U], a[..., 2 * U:]], -1)  # noqa: E731
        yield "j and f blocks swapped", [swap(w) for w in good]
    else:  # TF1's i, j, f, o left unreordered
        def raw(w):
            return np.concatenate(np.split(w, 4, -1)[:1] + [np.split(w, 4, -1)[2], np.split(w, 4, -1)[1]]
                                  + np.split(w, 4, -1)[3:], -1) if w.shape[-1] == 4 * U else w
        yield "gates not reordered", [raw(w) for w in good]
    if kind == "weight_norm_lstm":
        yield "norm_0 and norm_1 swapped", [good[0], good[1], good[3], good[2], good[4]]


@pytest.mark.parametrize("kind", KINDS)
def test_negative_controls_wrong_conversions_differ(kind):
    arrays, x = _weights(kind, 11)
    ref_out, _ = reference_run(lambda xt, c, h: _ref_step(kind, xt, c, h, arrays, FB), x, U)
    for what, wrong in _wrong_conversions(kind, arrays):
        out = _keras(kind, x, wrong, FB)[0]
        assert np.max(np.abs(out - ref_out)) > 1e-3, what


def _run_legacy_cell(cell, x, seed):
    """Run ``cell`` over x with every variable seeded; (outputs, final state, arrays by name under the cell)."""
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        out, state = v1.nn.dynamic_rnn(cell, tf.constant(x), dtype=tf.float32)
        rng = np.random.default_rng(seed)
        arrays = {}
        for var in v1.global_variables():
            gain = var.op.name.endswith(("gamma", "norm_0", "norm_1"))
            value = (rng.uniform(0.5, 1.5, var.shape) if gain else rng.uniform(-0.8, 0.8, var.shape)).astype(np.float32)
            var.load(value, sess)
            arrays[var.op.name.split("/", 2)[2]] = value
        got = sess.run([out, state])
    return got[0], got[1], arrays


def test_legacy_cells_tf115_options_equal_the_numpy_step():
    """The options no Keras twin covers yet run in the legacy cells with TF 1.15's maths and variable names."""
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, (B, T, D)).astype(np.float32)
    # CIFG: peepholes, projection P=4 with clipping, the kernel in 2 shards (W_0, W_1: 4 rows each of D+P=8)
    out, state, a = _run_legacy_cell(CoupledInputForgetGateLSTMCell(U, use_peepholes=True, num_proj=4, proj_clip=0.3,
                                                                     num_unit_shards=2, forget_bias=0.5), x, 1)
    assert sorted(a) == ["B", "W_0", "W_1", "W_F_diag", "W_O_diag", "W_P_0"]
    w = {"W": np.concatenate([a["W_0"], a["W_1"]]), "B": a["B"]}
    ref, (c, _) = reference_run(lambda xt, c, h: ref_cifg(xt, c, h, w, 0.5, a, a["W_P_0"], 0.3), x, U, 4)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    np.testing.assert_allclose(state.c, c, atol=1e-6)
    assert np.max(np.abs(out)) == pytest.approx(0.3)  # the clip is really active
    # CIFG with layer_norm: B is created but not added
    out, _, a = _run_legacy_cell(CoupledInputForgetGateLSTMCell(U, layer_norm=True), x, 2)
    assert sorted(a) == sorted(["B", "W_0"] + [f"{s}/{p}" for s in ("transform", "forget", "output", "state")
                                               for p in ("gamma", "beta")])
    ln = {s: (a[f"{s}/gamma"], a[f"{s}/beta"]) for s in ("transform", "forget", "output", "state")}
    ref, _ = reference_run(lambda xt, c, h: ref_cifg(xt, c, h, {"W": a["W_0"], "B": a["B"]}, 1.0, ln=ln), x, U)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    # LayerNormLSTMCell: peepholes, cell_clip, projection
    out, _, a = _run_legacy_cell(LayerNormLSTMCell(U, use_peepholes=True, cell_clip=0.4, num_proj=4, layer_norm=True,
                                                   forget_bias=0.5), x, 3)
    assert {"w_f_diag", "w_i_diag", "w_o_diag", "projection/kernel", "bias"} <= set(a)
    ref, _ = reference_run(lambda xt, c, h: ref_ln_lstm(xt, c, h, a, 0.5, a, 0.4, a["projection/kernel"]), x, U, 4)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    # WeightNormLSTMCell: peepholes and a weight-normalised projection
    out, _, a = _run_legacy_cell(WeightNormLSTMCell(U, use_peepholes=True, num_proj=4, forget_bias=0.5), x, 4)
    assert sorted(a) == sorted(f"wn_lstm_cell/{n}" for n in ("kernel", "norm_0", "norm_1", "bias", "w_f_diag",
                                                              "w_i_diag", "w_o_diag", "projection/kernel",
                                                              "projection/norm_0"))
    peep = {k: a[f"wn_lstm_cell/{k}"] for k in ("w_f_diag", "w_i_diag", "w_o_diag")}
    proj = (a["wn_lstm_cell/projection/kernel"], a["wn_lstm_cell/projection/norm_0"])
    ref, _ = reference_run(lambda xt, c, h: ref_wn(xt, c, h, a, 0.5, peep, proj), x, U, 4)
    np.testing.assert_allclose(out, ref, atol=1e-6)


def test_cifg_reproduces_tf115s_own_kernel_test_numbers():
    """TF 1.15's contrib ``rnn_cell_test.testCoupledInputForgetGateLSTMCell`` (its expected numbers are facts: every
    weight 0.5 from the scope initializer, B zeros, x rows of 1s/2s/3s, state 0.1, concatenated ``[c, m]``): the
    legacy cell, and the Keras twin on the converted weights, give them."""
    expected_m = np.repeat([[0.121753], [0.103349], [0.100178]], 2, 1)
    expected_c = np.repeat([[0.137523], [0.105450], [0.100742]], 2, 1)
    x_np = np.repeat([[1.0], [2.0], [3.0]], 4, 1).astype(np.float32)
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        with v1.variable_scope("root", initializer=v1.constant_initializer(0.5)):
            x, m = tf.zeros([3, 4]), tf.zeros([3, 4])
            output, state = CoupledInputForgetGateLSTMCell(num_units=2, forget_bias=1.0, state_is_tuple=False)(x, m)
        sess.run(v1.global_variables_initializer())
        names = sorted(v.op.name for v in v1.global_variables())
        out, st = sess.run([output, state], {x: x_np, m: np.full((3, 4), 0.1, np.float32)})
    assert names == ["root/coupled_input_forget_gate_lstm_cell/B", "root/coupled_input_forget_gate_lstm_cell/W_0"]
    np.testing.assert_allclose(out, expected_m, atol=1e-6)
    np.testing.assert_allclose(st, np.concatenate([expected_c, expected_m], 1), atol=1e-6)
    spec = CellSpec("cifg_lstm", 2, forget_bias=1.0)
    cell = families.keras_cell(spec)
    cell.build((3, 4))
    cell.set_weights(families.cell_to_keras(spec, {"W_0": np.full((6, 6), 0.5, np.float32),
                                                   "B": np.zeros(6, np.float32)}, 4))
    h, (_, c) = cell(tf.constant(x_np), [tf.fill([3, 2], 0.1), tf.fill([3, 2], 0.1)])
    np.testing.assert_allclose(np.asarray(h), expected_m, atol=1e-6)
    np.testing.assert_allclose(np.asarray(c), expected_c, atol=1e-6)


def test_the_rows_are_the_only_places_that_know_the_families():
    import legacy_rnn.contrib_rnn as rnn  # the tf.contrib.rnn namespace upgrade points `rnn = tf.contrib.rnn` at

    homes = families.upgrade_homes()
    rows = {s: h for r in families.families() for s, h in r.upgrade_homes.items()}
    for cls in (CoupledInputForgetGateLSTMCell, LayerNormLSTMCell, WeightNormLSTMCell):
        symbol = f"tf.contrib.rnn.{cls.__name__}"
        assert rows[symbol] == f"{cls.__module__}.{cls.__name__}"
        assert homes[symbol] == f"legacy_rnn.contrib_rnn.{cls.__name__}" and getattr(rnn, cls.__name__) is cls
    for kind in KINDS:
        spec = CellSpec(kind, U)
        assert type(families.legacy_cell(spec)).__module__ == "legacy_rnn." + kind
        assert type(families.keras_cell(spec)).__module__ == "modern_rnn." + kind
        assert spec.is_lstm and spec.tf1_scope == families.family(kind).scope
    from modern_rnn.cifg_lstm import cifg_lstm_cell

    with pytest.raises(ValueError, match="default options only"):  # the twin refuses what it does not implement
        cifg_lstm_cell(U, use_peepholes=True)


# -- a real TF1 program, its Saver checkpoint, and the CLI ------------------------------------------------------------
ENCODERS = {"cifg_lstm": "enc_cifg", "layer_norm_lstm_contrib": "enc_ln", "weight_norm_lstm": "enc_wn"}
#: forget_bias of the program's cells: not the default where the .meta is read (the manifest must find them)
PROGRAM_FB = {"enc_cifg": 1.0, "enc_ln": 0.7, "enc_wn": 0.3}
#: TF 1.15's LayerNormLSTMCell default (layer_norm=False): LSTMCell's maths and arrays
PLAIN = {"enc_ln_off": lambda: LayerNormLSTMCell(U)}


def _encoders(x, lengths):
    """The shared program's encoders of this module (contrib_program.py: one TF1 program of the contrib family modules,
    saved by Saver with its .meta, converted once): four dynamic_rnn encoders (scopes enc_cifg, enc_ln, enc_wn, and
    enc_ln_off: LayerNormLSTMCell with TF 1.15's default layer_norm=False; ragged lengths)."""
    cells = {"cifg_lstm": CoupledInputForgetGateLSTMCell(U),
             "layer_norm_lstm_contrib": LayerNormLSTMCell(U, layer_norm=True, forget_bias=PROGRAM_FB["enc_ln"]),
             "weight_norm_lstm": WeightNormLSTMCell(U, forget_bias=PROGRAM_FB["enc_wn"])}
    cells.update({scope: make() for scope, make in PLAIN.items()})
    return {kind: v1.nn.dynamic_rnn(cells[kind], x, sequence_length=lengths, dtype=tf.float32, scope=scope)
            for kind, scope in list(ENCODERS.items()) + [(s, s) for s in PLAIN]}


register(Part("contrib_cells2", _encoders), (B, T, D), LENGTHS)
pytestmark = pytest.mark.xdist_group("checkpoint/contrib_program")  # the modules sharing the program: one worker
MINE = list(ENCODERS.values()) + list(PLAIN)


def _manifest(out) -> dict:
    with open(os.path.join(str(out), "manifest.json")) as f:
        return json.load(f)


def test_checkpoint_converts_and_verifies_against_the_original_graph(contrib_program):
    p = contrib_program
    outs, logits = p.ref["outs"], p.ref["logits"]
    assert p.code == 0
    code, printed, _ = p.inspect
    assert code == 0
    assert all(kind in printed for kind in KINDS)
    m = _manifest(p.out)
    blocks = {b["scope"]: b for b in m["blocks"]}
    assert len(blocks) == len(m["blocks"]) == len(outs)  # one block per encoder of the program, nothing else
    assert set(MINE) <= set(blocks)
    assert not any(b["cells"][0]["spec"]["kind"] in KINDS for s, b in blocks.items() if s not in MINE)
    for scope in PLAIN:  # layer_norm=False: LSTMCell's arrays, read as an LSTMCell
        (cell,) = blocks[scope]["cells"]
        assert (cell["spec"]["kind"], cell["keras_class"]) == ("lstm", "LSTMCell")
    for kind, scope in ENCODERS.items():
        (cell,) = blocks[scope]["cells"]
        assert (cell["spec"]["kind"], cell["spec"]["units"], cell["input_size"]) == (kind, U, D)
        assert cell["spec"]["forget_bias"] == PROGRAM_FB[scope]
        # CIFG: assumed and said so; LayerNormLSTMCell, WeightNormLSTMCell: read from the .meta
        assert cell["hyper_sources"]["forget_bias"].startswith("default" if kind == "cifg_lstm" else "meta")
    v = m["verification"]
    assert v["ok"] and v["references"]["whole model"] == "original-graph"
    assert all(v["references"][f"block {scope}"] == "original-graph" for scope in MINE)
    assert p.verify == 0  # `verify PREFIX OUT_DIR`
    # the whole network in safe mode reproduces the program's own logits; each block its encoder's outputs
    np.testing.assert_allclose(p.model_logits, logits, atol=1e-5)
    from migration.safe_io import load_keras_model

    for kind, scope in list(ENCODERS.items()) + [(s, s) for s in PLAIN]:
        block_model = load_keras_model(os.path.join(str(p.out), blocks[scope]["file"]))
        got = np.asarray(block_model([p.x_np, LENGTHS], training=False)[0])
        np.testing.assert_allclose(got, outs[kind], atol=1e-5)
        assert np.max(np.abs(got)) > 1e-2


def test_wrong_forget_bias_fails_against_the_original_graph(contrib_program):
    """``convert --forget-bias 0.0`` (one run for the shared program): exit 1, nothing installed; each of the four
    blocks (forget_bias 1.0, 0.7, 0.3 and LSTMCell's 1.0 in the program) fails against the original graph."""
    p = contrib_program
    assert p.wrong_code == 1 and not p.wrong_written, p.wrong_printed
    assert {s: p.wrong_verdicts.get(s) for s in MINE} == {s: "FAIL" for s in MINE}, p.wrong_printed


@pytest.mark.parametrize("kind", KINDS)
def test_export_writes_a_checkpoint_the_legacy_graph_restores(contrib_program, tmp_path, kind):
    p = contrib_program
    block = {b["scope"]: b for b in _manifest(p.out)["blocks"]}[ENCODERS[kind]]
    exported = str(tmp_path / "exp" / "model.ckpt")
    fb = str(PROGRAM_FB[ENCODERS[kind]])  # export takes TF1's forget_bias from --forget-bias (default 1.0)
    assert run_cli("export", os.path.join(str(p.out), block["file"]), exported, "--scope", ENCODERS[kind],
                   "--forget-bias", fb) == 0
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        x = v1.placeholder(tf.float32, [None, T, D])
        lengths = v1.placeholder(tf.int32, [None])
        cell = families.legacy_cell(CellSpec(kind, U, forget_bias=PROGRAM_FB[ENCODERS[kind]]))
        outputs, _ = v1.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32, scope=ENCODERS[kind])
        v1.train.Saver().restore(sess, exported)
        np.testing.assert_allclose(sess.run(outputs, {x: p.x_np, lengths: LENGTHS}), p.ref["outs"][kind], atol=1e-5)


def test_a_checkpoint_with_options_the_twin_lacks_is_refused_naming_them(tmp_path, capsys):
    """CoupledInputForgetGateLSTMCell(use_peepholes=True): W_F_diag/W_O_diag have no Keras twin yet; convert must
    refuse (exit 2) and name them, not drop them."""
    with legacy_rnn.new_graph(5) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        v1.nn.dynamic_rnn(CoupledInputForgetGateLSTMCell(U, use_peepholes=True), x, dtype=tf.float32)
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            prefix = v1.train.Saver().save(sess, str(tmp_path / "ckpt" / "model.ckpt"))
    capsys.readouterr()
    assert run_cli("convert", prefix, tmp_path / "out", "--quiet") == 2
    err = capsys.readouterr().err
    assert "W_F_diag" in err and "W_O_diag" in err
    assert not os.path.exists(tmp_path / "out")


def test_row_hooks_matrices_and_unread_are_what_the_jobs_ask():
    """``Family.matrices``: CIFG's ``W_0`` passes the recognizer's 2-D check, a 1-D ``W_0`` (or a 2-D ``B``) does not;
    ``Family.unread``: the contrib LayerNormLSTMCell's ``bias`` is left out of the keys that locate its loop in the
    original graph, every other variable (and every other family's) stays in."""
    from migration.checkpoint.cell_table import check_cell_variables
    from migration.checkpoint.reader import VariableInfo
    from migration.core.errors import ShapeError
    from migration.graph.wrapper_check import manifest_block_keys

    names = {"W_0": "enc/coupled_input_forget_gate_lstm_cell/W_0", "B": "enc/coupled_input_forget_gate_lstm_cell/B"}
    good = {names["W_0"]: VariableInfo(names["W_0"], (10, 18), "float32"),
            names["B"]: VariableInfo(names["B"], (18,), "float32")}
    check_cell_variables("cifg_lstm", names, good)
    for key, shape in ((names["W_0"], (180,)), (names["B"], (3, 6))):
        with pytest.raises(ShapeError, match="W_0" if key == names["W_0"] else "/B"):
            check_cell_variables("cifg_lstm", names, {**good, key: VariableInfo(key, shape, "float32")})

    def block(kind):
        variables = {n: f"enc/{families.family(kind).scope}/{n}" for n in families.tf1_names_for(kind)}
        cell = {"direction": "", "spec": {"kind": kind}, "variables": variables,
                "weights": [{"sources": sorted(variables.values())}]}
        return {"cells": [cell], "outputs": ["outputs", "state/c", "state/h"]}, set(variables.values())

    keys, n_states = manifest_block_keys(block("layer_norm_lstm_contrib")[0])
    assert keys[""] == block("layer_norm_lstm_contrib")[1] - {"enc/layer_norm_lstm_cell/bias"} and n_states == {"": 2}
    for kind in ("cifg_lstm", "weight_norm_lstm", "lstm"):
        assert manifest_block_keys(block(kind)[0])[0][""] == block(kind)[1]
