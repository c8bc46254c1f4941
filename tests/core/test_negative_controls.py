"""Negative controls: each deliberately wrong conversion must be caught by the same comparison the table uses.

If one of these started to pass, the equivalence table would no longer prove anything about that quirk.
"""
from __future__ import annotations

import numpy as np
import pytest

import modern_rnn
from migration import converters
from migration.core.gates import TF1_LSTM_GATES, reorder_gates
from migration.core.specs import CellSpec

from .harness import LENGTHS, Case, loss_weights, random_inputs, run_keras, run_tf1

WRONG = 1e-3  # every wrong conversion below is off by far more than the 1e-5 tolerance


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)))


def _run_with(case: Case, convert) -> float:
    x, lw = random_inputs(0), loss_weights(case)
    tf1 = run_tf1(case, x, lw, seed=5, with_grads=False)

    def set_weights(direction, layer):
        prefix = case.cell_prefix(direction, layer)
        arrays = {n[len(prefix):]: v for n, v in tf1.weights.items() if n.startswith(prefix)}
        return convert(arrays, case.input_size(layer))

    keras = run_keras(case, x, lw, set_weights=set_weights, with_grads=False)
    return max(_max_diff(keras.outputs, tf1.outputs), *(_max_diff(k, t) for k, t in zip(keras.states, tf1.states)))


LSTM = CellSpec("basic_lstm", 5, forget_bias=1.0)
PROJ = CellSpec("lstm", 6, use_peepholes=True, num_proj=3, forget_bias=0.5)


def _lstm_no_reorder(w, d):
    k, b = w["kernel"], w["bias"].copy()
    b[2 * 5:3 * 5] += 1.0  # forget_bias added to TF1's f block, but the blocks are left in i, j, f, o order
    return [k[:d], k[d:], b]


def _lstm_no_forget_bias(w, d):
    return converters.cell_to_keras(LSTM, w, d, include_forget_bias=False)


def _lstm_reordered_twice(w, d):
    k, rk, b = converters.cell_to_keras(LSTM, w, d)
    return [reorder_gates(a, TF1_LSTM_GATES, ("i", "f", "j", "o")) for a in (k, rk, b)]


def _simple_rows_swapped(w, d):
    k, b = (w["W"], w["b"]) if "W" in w else (w["kernel"], w["bias"])
    units = k.shape[1]
    return [k[units:units + d], np.vstack([k[:units], k[units + d:]]), b]  # state rows taken as input rows


def _gru_r_u_not_swapped(w, d):
    g, gb, c, cb = w["gates/kernel"], w["gates/bias"], w["candidate/kernel"], w["candidate/bias"]
    full = np.concatenate([g, c], 1)
    return [full[:d], full[d:], np.concatenate([gb, cb])]


def _proj_peepholes_dropped(w, d):
    out = converters.cell_to_keras(PROJ, w, d)
    return out[:3] + [np.zeros_like(a) for a in out[3:6]] + out[6:]


def _proj_no_reorder(w, d):
    out = converters.cell_to_keras(PROJ, w, d)
    k, b = w["kernel"], w["bias"].copy()
    b[2 * 6:3 * 6] += 0.5
    return [k[:d], k[d:], b] + out[3:]


BLOCK = CellSpec("lstm_block", 5, forget_bias=0.5, use_peepholes=True)


def _block_kernel_read_as_keras_order(w, d):
    out = converters.cell_to_keras(BLOCK, w, d)
    k, b = w["kernel"], w["bias"].copy()
    b[5:10] += 0.5  # forget_bias folded where Keras keeps f, but the block's i, c, f, o blocks left as they are
    return [k[:d], k[d:], b] + out[3:]


def _gru_block_w_ru_not_swapped(w, d):
    full = np.concatenate([w["w_ru"], w["w_c"]], 1)
    return [full[:d], full[d:], np.concatenate([w["b_ru"], w["b_c"]])]


LAYER_NORM = CellSpec("layer_norm_lstm", 5, forget_bias=0.5)


def _layer_norm_params_in_tf1_order(w, d):
    out = converters.cell_to_keras(LAYER_NORM, w, d)
    scopes = ("input", "transform", "forget", "output")  # gamma/beta left in i, j, f, o while the kernel is reordered
    out[2] = np.concatenate([w[f"{s}/gamma"] for s in scopes])
    out[3] = np.concatenate([w[f"{s}/beta"] + (0.5 if s == "forget" else 0.0) for s in scopes])
    return out


CONTROLS = [
    ("lstm-no-gate-reorder", Case("c", LSTM, "dynamic", ragged=True), _lstm_no_reorder),
    ("lstm-no-forget-bias", Case("c", LSTM, "dynamic", ragged=True), _lstm_no_forget_bias),
    ("lstm-wrong-reorder", Case("c", LSTM, "static"), _lstm_reordered_twice),
    ("simple-rnn-state-rows-first", Case("c", CellSpec("basic_rnn", 4), "dynamic"), _simple_rows_swapped),
    ("handwritten-state-rows-first", Case("c", CellSpec("handwritten", 4), "manual"), _simple_rows_swapped),
    ("gru-r-u-not-swapped", Case("c", CellSpec("gru", 5), "dynamic", ragged=True), _gru_r_u_not_swapped),
    ("projection-lstm-peepholes-dropped", Case("c", PROJ, "dynamic"), _proj_peepholes_dropped),
    ("projection-lstm-no-gate-reorder", Case("c", PROJ, "manual"), _proj_no_reorder),
    ("lstm-block-icfo-read-as-ifco", Case("c", BLOCK, "dynamic", ragged=True), _block_kernel_read_as_keras_order),
    ("lstm-block-no-forget-bias", Case("c", BLOCK, "static"),
     lambda w, d: converters.cell_to_keras(BLOCK, w, d, include_forget_bias=False)),
    ("layer-norm-lstm-no-forget-bias", Case("c", LAYER_NORM, "dynamic", ragged=True),
     lambda w, d: converters.cell_to_keras(LAYER_NORM, w, d, include_forget_bias=False)),
    ("layer-norm-lstm-gamma-beta-not-reordered", Case("c", LAYER_NORM, "static"), _layer_norm_params_in_tf1_order),
    ("gru-block-r-u-not-swapped", Case("c", CellSpec("gru_block", 4), "dynamic", ragged=True),
     _gru_block_w_ru_not_swapped),
]


@pytest.mark.parametrize("case,convert", [c[1:] for c in CONTROLS], ids=[c[0] for c in CONTROLS])
def test_wrong_conversion_is_caught(case: Case, convert) -> None:
    assert _run_with(case, convert) > WRONG


def test_right_conversion_passes_the_same_check() -> None:
    """The control's positive twin: the same harness with the real converter agrees within 1e-5."""
    case = Case("c", LSTM, "dynamic", ragged=True)
    assert _run_with(case, lambda w, d: converters.cell_to_keras(LSTM, w, d)) < 1e-5


def test_keras_default_gru_reset_after_cannot_equal_tf1_gru() -> None:
    """tf_keras' default GRU(reset_after=True) computes r*(h U_h): with the best mapping (recurrent bias 0) it still
    differs from TF1's (r*h) U_h for a non-diagonal U_h, while reset_after=False matches."""
    spec = CellSpec("gru", 5)
    case = Case("c", spec, "dynamic")
    x, lw = random_inputs(0), loss_weights(case)
    tf1 = run_tf1(case, x, lw, seed=5, with_grads=False)
    arrays = {n.split("gru_cell/", 1)[1]: v for n, v in tf1.weights.items()}
    k, rk, b = converters.cell_to_keras(spec, arrays, 4)
    keras = modern_rnn.keras
    after = keras.layers.GRU(5, reset_after=True, return_sequences=True)
    after(x)
    after.set_weights([k, rk, np.stack([b, np.zeros_like(b)])])
    before = keras.layers.GRU(5, reset_after=False, return_sequences=True)
    before(x)
    before.set_weights([k, rk, b])
    assert _max_diff(after(x).numpy(), tf1.outputs) > 1e-2
    assert _max_diff(before(x).numpy(), tf1.outputs) < 1e-5


def test_bidirectional_without_mask_is_caught() -> None:
    """Keras' backward pass without the mask starts inside the padding: it must differ from TF1 on ragged input."""
    spec = CellSpec("basic_lstm", 4)
    case = Case("c", spec, "dynamic", bidirectional=True, ragged=True)
    x, lw = random_inputs(0), loss_weights(case)
    tf1 = run_tf1(case, x, lw, seed=5, with_grads=False)
    keras = modern_rnn.keras
    weights = []
    for d in ("fw", "bw"):
        prefix = case.cell_prefix(d, 0)
        weights += converters.cell_to_keras(spec, {n[len(prefix):]: v for n, v in tf1.weights.items()
                                                   if n.startswith(prefix)}, 4)
    layer = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True), merge_mode="concat")
    layer(x)
    layer.set_weights(weights)
    no_mask = layer(x).numpy()
    with_mask = layer(x, mask=modern_rnn.tf.sequence_mask(LENGTHS, x.shape[1])).numpy()
    assert _max_diff(no_mask, tf1.outputs) > 1e-2
    assert _max_diff(with_mask, tf1.outputs) < 1e-5  # Keras' own Bidirectional is right once given the mask


def test_zero_output_for_mask_false_repeats_last_output() -> None:
    """The masking trap: Keras' default zero_output_for_mask=False fills the padding with the last valid output."""
    keras, tf = modern_rnn.keras, modern_rnn.tf
    x = random_inputs(0)
    mask = tf.sequence_mask(LENGTHS, x.shape[1])
    cell = modern_rnn.basic_lstm_cell(3)
    default = keras.layers.RNN(cell, return_sequences=True)(x, mask=mask).numpy()
    zeroed = keras.layers.RNN(cell, return_sequences=True, zero_output_for_mask=True)(x, mask=mask).numpy()
    assert np.abs(default[2, 1:]).max() > 1e-3 and not zeroed[2, 1:].any()
    np.testing.assert_allclose(default[2, 1], default[2, 0])


# --- the Keras -> TF1 direction ----------------------------------------------------------------------------------

def _tf1_from_keras(case: Case, convert) -> float:
    """Random Keras weights into the TF1 graph through ``convert``: max diff of TF1 against Keras."""
    x, lw = random_inputs(1), loss_weights(case)
    keras = run_keras(case, x, lw, seed=3, with_grads=False)
    weights = {key: cell.get_weights() for key, cell in keras.cells.items()}
    tf1 = run_tf1(case, x, lw, set_weights=lambda d, layer: convert(weights[(d, layer)]), via_checkpoint=False,
                  with_grads=False)
    return max(_max_diff(tf1.outputs, keras.outputs), *(_max_diff(t, k) for t, k in zip(tf1.states, keras.states)))


TO_TF1_CONTROLS = [
    ("lstm-forget-bias-not-removed", Case("c", LSTM, "dynamic", ragged=True),
     lambda w: converters.cell_to_tf1(LSTM, w, include_forget_bias=False)),
    ("lstm-keras-order-kept", Case("c", LSTM, "dynamic"),
     lambda w: {"kernel": np.concatenate([w[0], w[1]]),
                "bias": converters.cell_to_tf1(LSTM, w)["bias"]}),
    ("gru-z-r-not-swapped-back", Case("c", CellSpec("gru", 5), "dynamic"),
     lambda w: dict(zip(("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias"),
                        (np.concatenate([w[0], w[1]])[:, :10], w[2][:10],
                         np.concatenate([w[0], w[1]])[:, 10:], w[2][10:])))),
]


@pytest.mark.parametrize("case,convert", [c[1:] for c in TO_TF1_CONTROLS], ids=[c[0] for c in TO_TF1_CONTROLS])
def test_wrong_inverse_conversion_is_caught(case: Case, convert) -> None:
    assert _tf1_from_keras(case, convert) > WRONG


def test_right_inverse_conversion_passes_the_same_check() -> None:
    case = Case("c", LSTM, "dynamic", ragged=True)
    assert _tf1_from_keras(case, lambda w: converters.cell_to_tf1(LSTM, w)) < 1e-5
