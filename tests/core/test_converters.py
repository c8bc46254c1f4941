"""The NumPy converters on their own: layouts pinned as literals, exact round trips, errors that teach."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migration import converters
from migration.core.errors import ShapeError, UnknownCellError
from migration.core.gates import KERAS_LSTM_GATES, TF1_LSTM_GATES, reorder_gates, split_gates
from migration.core.specs import CellSpec

from .harness import random_tf1_weights

SPECS = [
    CellSpec("handwritten", 3), CellSpec("basic_rnn", 4), CellSpec("basic_lstm", 3, forget_bias=0.5),
    CellSpec("lstm", 4), CellSpec("lstm", 5, use_peepholes=True, num_proj=2, cell_clip=1.0, proj_clip=0.5),
    CellSpec("lstm", 3, use_peepholes=True), CellSpec("lstm", 3, num_proj=5), CellSpec("gru", 4),
]


def _blocks(units: int, rows: int, values) -> np.ndarray:
    """A kernel whose k-th gate block is filled with values[k]: a permutation shows up as a different literal."""
    return np.concatenate([np.full((rows, units), v, np.float32) for v in values], axis=1)


def test_lstm_gate_layout_is_i_f_c_o_in_keras() -> None:
    d, u = 2, 3
    kernel = _blocks(u, d + u, [1, 2, 3, 4])  # TF1 i, j, f, o
    bias = np.concatenate([np.full(u, v, np.float32) for v in (10, 20, 30, 40)])
    k, rk, b = converters.lstm_to_keras(kernel, bias, d, forget_bias=1.0)
    assert [float(k[0, g * u]) for g in range(4)] == [1, 3, 2, 4]  # Keras i, f, c(=j), o
    assert [float(rk[0, g * u]) for g in range(4)] == [1, 3, 2, 4]
    assert [float(b[g * u]) for g in range(4)] == [10, 31, 20, 40]  # forget_bias folded into b_f only
    assert k.shape == (d, 4 * u) and rk.shape == (u, 4 * u)


def test_gru_gate_layout_is_z_r_h_in_keras() -> None:
    d, u = 2, 3
    gates = _blocks(u, d + u, [1, 2])  # TF1 r, u
    cand = _blocks(u, d + u, [3])
    g_bias = np.concatenate([np.full(u, 10.0), np.full(u, 20.0)]).astype(np.float32)
    k, rk, b = converters.gru_to_keras(gates, g_bias, cand, np.full(u, 30.0, np.float32), d)
    assert [float(k[0, g * u]) for g in range(3)] == [2, 1, 3]  # z(=u), r, h
    assert [float(rk[-1, g * u]) for g in range(3)] == [2, 1, 3]
    assert [float(b[g * u]) for g in range(3)] == [20, 10, 30]


def test_simple_rnn_input_rows_come_first() -> None:
    kernel = np.vstack([np.full((2, 3), 1.0), np.full((3, 3), 2.0)]).astype(np.float32)
    k, rk, _ = converters.simple_rnn_to_keras(kernel, np.zeros(3, np.float32), 2)
    assert np.all(k == 1.0) and np.all(rk == 2.0)


def test_projection_lstm_layout() -> None:
    spec = CellSpec("lstm", 3, use_peepholes=True, num_proj=2)
    w = random_tf1_weights(spec, 4, np.random.default_rng(0))
    out = converters.cell_to_keras(spec, w, 4)
    assert converters.keras_names_for(spec) == (
        "kernel", "recurrent_kernel", "bias", "w_i_diag", "w_f_diag", "w_o_diag", "projection_kernel")
    assert [a.shape for a in out] == [(4, 12), (2, 12), (12,), (3,), (3,), (3,), (3, 2)]
    np.testing.assert_array_equal(out[3], w["w_i_diag"])  # peepholes pass through unchanged, by name
    np.testing.assert_array_equal(out[6], w["projection/kernel"])


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{s.units}-{s.num_proj}-{s.use_peepholes}")
def test_round_trip_is_exact(spec: CellSpec) -> None:
    w = random_tf1_weights(spec, 4, np.random.default_rng(1))
    back = converters.cell_to_tf1(spec, converters.cell_to_keras(spec, w, 4))
    assert set(back) == set(w)
    for name in w:
        np.testing.assert_allclose(back[name], w[name], atol=1e-7, err_msg=name)


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["handwritten", "basic_rnn", "basic_lstm", "lstm", "gru"]),
       units=st.integers(1, 7), depth=st.integers(1, 6), fb=st.sampled_from([0.0, 0.5, 1.0, 2.5]),
       seed=st.integers(0, 2**16))
def test_round_trip_property(kind: str, units: int, depth: int, fb: float, seed: int) -> None:
    spec = CellSpec(kind, units, forget_bias=fb)
    w = random_tf1_weights(spec, depth, np.random.default_rng(seed))
    keras_w = converters.cell_to_keras(spec, w, depth)
    assert [a.shape[0] for a in keras_w[:2]] == [depth, spec.output_size]
    back = converters.cell_to_tf1(spec, keras_w)
    for name in w:
        np.testing.assert_allclose(back[name], w[name], atol=1e-6)


def test_slots_and_gradients_skip_forget_bias() -> None:
    spec = CellSpec("basic_lstm", 2, forget_bias=1.0)
    w = {"kernel": np.zeros((5, 8), np.float32), "bias": np.zeros(8, np.float32)}
    assert converters.cell_to_keras(spec, w, 3)[2][2:4].tolist() == [1.0, 1.0]
    assert not converters.cell_to_keras(spec, w, 3, include_forget_bias=False)[2].any()


def test_reorder_gates_is_a_permutation_and_invertible() -> None:
    a = np.arange(24, dtype=np.float32).reshape(2, 12)
    b = reorder_gates(a, TF1_LSTM_GATES, KERAS_LSTM_GATES)
    assert sorted(b.ravel()) == sorted(a.ravel()) and not np.array_equal(a, b)
    np.testing.assert_array_equal(reorder_gates(b, KERAS_LSTM_GATES, TF1_LSTM_GATES), a)
    with pytest.raises(ValueError, match="not a multiple of 4"):
        split_gates(np.zeros((2, 10)), TF1_LSTM_GATES)


def test_state_order_helpers() -> None:
    lstm, gru = CellSpec("basic_lstm", 2), CellSpec("gru", 2)
    c, h = np.full(2, 1.0), np.full(2, 2.0)
    assert [x[0] for x in converters.tf1_state_to_keras(lstm, (c, h))] == [2.0, 1.0]
    assert [x[0] for x in converters.keras_state_to_tf1(lstm, [h, c])] == [1.0, 2.0]
    assert converters.tf1_state_to_keras(gru, h)[0] is h


def test_mod_partition_permutation_matches_documented_example() -> None:
    # tf1-keras2-facts.md §4: fixed_size_partitioner(3) over 10 rows, 'mod' reads full[perm]
    assert converters.mod_partition_permutation(10, 3).tolist() == [0, 4, 7, 1, 5, 8, 2, 6, 9, 3]
    assert converters.mod_partition_permutation(7, 1).tolist() == list(range(7))
    with pytest.raises(ValueError, match="num_shards"):
        converters.mod_partition_permutation(10, 0)


# --- bad input: the error names the argument, the shape received and the shape needed ---------------------------

def test_wrong_kernel_shape_names_argument_and_shapes() -> None:
    spec = CellSpec("basic_lstm", 4)
    w = {"kernel": np.zeros((7, 16), np.float32), "bias": np.zeros(16, np.float32)}
    with pytest.raises(ShapeError, match=r"`kernel`.*expected \(9, 16\), got \(7, 16\)"):
        converters.cell_to_keras(spec, w, 5)


def test_mismatched_units_are_reported() -> None:
    spec = CellSpec("gru", 3)
    w = random_tf1_weights(CellSpec("gru", 4), 2, np.random.default_rng(0))
    with pytest.raises(ShapeError, match="gates/kernel"):
        converters.cell_to_keras(spec, w, 2)


def test_missing_weight_is_named() -> None:
    with pytest.raises(UnknownCellError, match=r"Missing TF1 weights \['candidate/bias'\]"):
        w = random_tf1_weights(CellSpec("gru", 2), 2, np.random.default_rng(0))
        del w["candidate/bias"]
        converters.cell_to_keras(CellSpec("gru", 2), w, 2)


def test_unknown_cell_kind() -> None:
    with pytest.raises(UnknownCellError, match=r"invalid value for `kind`.*'ntm'"):  # NTMCell; "nas" is a kind now
        CellSpec("ntm", 3)


@pytest.mark.parametrize("kwargs,pattern", [
    ({"kind": "gru", "units": 0}, r"`units`: expected a positive integer, got 0"),
    ({"kind": "gru", "units": 3, "num_proj": 2}, r"`num_proj`.*LSTMCell option"),
    ({"kind": "lstm", "units": 3, "proj_clip": 1.0}, r"`proj_clip`.*needs `num_proj`"),
    ({"kind": "lstm", "units": 3, "cell_clip": -1.0}, r"`cell_clip`: expected a positive number"),
    ({"kind": "basic_rnn", "units": 3, "activation": "swish"}, r"`activation`"),
])
def test_spec_validation(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        CellSpec(**kwargs)


def test_gru_reset_after_bias_is_refused_with_the_reason() -> None:
    with pytest.raises(ShapeError, match="reset_after=True"):
        converters.cell_to_tf1(CellSpec("gru", 2), [np.zeros((3, 6)), np.zeros((2, 6)), np.zeros((2, 6))])


def test_wrong_number_of_keras_weights() -> None:
    with pytest.raises(ShapeError, match=r"Received 2 Keras weights.*expected 3"):
        converters.cell_to_tf1(CellSpec("basic_lstm", 2), [np.zeros((3, 8)), np.zeros((2, 8))])


def test_spec_dict_round_trip_and_unknown_fields() -> None:
    spec = CellSpec("lstm", 3, use_peepholes=True, num_proj=2)
    assert CellSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="unknown CellSpec fields"):
        CellSpec.from_dict({"kind": "lstm", "units": 3, "peepholes": True})
