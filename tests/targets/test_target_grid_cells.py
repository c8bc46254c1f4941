"""The Keras 3 custom steps (``rnn_migrate>GridLSTMCell`` / ``BidirectionalGridLSTMCell`` / ``TimeFreqLSTMCell``) and
their ONNX Scan bodies over every TF 1.15 option the grid rows convert, against the Keras 2 twins on the same arrays.

The family fixture (test_target_families.py) checks three grid blocks and a TimeFreq block against the ORIGINAL TF1
session; the twins themselves are checked against the legacy TF1 cells for these option sets in
tests/checkpoint/test_family_contrib_cells3_grid.py (within 1e-6). Here the options the fixture does not hold: several
blocks with start/end lists and frequency_skip 2, a cell_clip with shared weights and three slices, the backward grid
with a negative slice offset, and TimeFreq over F = 3 windows (the Keras 3 cell computes any F like the Keras 2 twin; the
converted layout, and so the ONNX step, is F = 1). Seeded asymmetric arrays, non-zero biases; a negative control per
option set (the i and j gate blocks swapped) on both targets; one file saved and loaded back in safe mode.
"""
from __future__ import annotations

import numpy as np
import pytest

from migration.families import grid_lstm as grid_row
from migration.families import time_freq_lstm as time_freq_row
from migration.targets import keras3, onnx_export
from migration.targets.weights import CUSTOM, TargetCell, gate_blocks

B, T, U = 3, 4, 3
TOL = 1e-5
#: name -> (bidirectional, TF 1.15 arguments, input depth)
GRIDS = {
    "blocks_peepholes": (False, dict(feature_size=2, frequency_skip=2, num_frequency_blocks=[2, 1],
                                     start_freqindex_list=[0, 4], end_freqindex_list=[5, 7], use_peepholes=True), 7),
    "shared_clip": (False, dict(feature_size=3, frequency_skip=1, num_frequency_blocks=[3], use_peepholes=True,
                                share_time_frequency_weights=True, cell_clip=0.4), 5),
    "coupled": (False, dict(feature_size=2, frequency_skip=1, num_frequency_blocks=[3],
                            couple_input_forget_gates=True), 4),
    "bidi_negative_offset": (True, dict(feature_size=2, frequency_skip=1, num_frequency_blocks=[3], use_peepholes=True,
                                        couple_input_forget_gates=True, backward_slice_offset=-1), 4),
    "bidi_offset_blocks": (True, dict(feature_size=2, frequency_skip=2, num_frequency_blocks=[1, 2],
                                      start_freqindex_list=[0, 2], end_freqindex_list=[2, 6], backward_slice_offset=1,
                                      share_time_frequency_weights=True), 6),
}
FB = 0.6


def _spec(bidirectional: bool, kwargs: dict):
    row = grid_row.BIDIRECTIONAL_FAMILY if bidirectional else grid_row.FAMILY
    return row, row.spec_from_config(dict(kwargs, units=U), FB)


def _arrays(shapes, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-0.8, 0.8, shape).astype(np.float32) for shape in shapes]


def _keras2(cell, x: np.ndarray, weights) -> list[np.ndarray]:
    """The Keras 2 twin in tf_keras' RNN over full-length x: [outputs, final states...]."""
    from modern_rnn import keras as tf_keras

    layer = tf_keras.layers.RNN(cell, return_sequences=True, return_state=True)
    layer(x)
    layer.cell.set_weights(weights)
    return [np.asarray(a) for a in layer(x)]


def _targets(spec, custom: str, weights, x: np.ndarray, labels) -> tuple[list, list]:
    """(Keras 3 TensorFlow-backend outputs, onnxruntime outputs) of the one-cell block on full lengths."""
    import onnxruntime as ort

    cells = {"": [TargetCell(spec, CUSTOM, weights[0], np.zeros(0, np.float32), np.zeros(0, np.float32), custom,
                             tuple(weights))]}
    lengths = np.full(x.shape[0], x.shape[1], np.int32)
    k3 = keras3.build_block(cells, x.shape[-1], "probe")([x, lengths], training=False)
    model = onnx_export.build_block(cells, x.shape[-1], "probe", labels)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [np.asarray(a) for a in k3], onnx_export.run_block(sess, x, lengths)


def _diff(a, b) -> float:
    assert len(a) == len(b)
    return max(float(np.max(np.abs(np.asarray(p) - np.asarray(q)))) for p, q in zip(a, b))


def _swap_ij(weights, units: int):
    """i and j (the first two gate blocks) swapped in every gate-blocked array (peepholes untouched)."""
    def swap(a):
        if a.shape[-1] < 2 * units:
            return a
        blocks = gate_blocks(a, units)
        return np.concatenate([blocks[1], blocks[0]] + blocks[2:], axis=-1)
    return [swap(a) for a in weights]


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_grid_steps_equal_the_keras2_twin_and_a_gate_swap_fails(name):
    from modern_rnn import grid_lstm as modern_grid

    bidirectional, kwargs, depth = GRIDS[name]
    row, spec = _spec(bidirectional, kwargs)
    build = modern_grid.bidirectional_grid_lstm_cell if bidirectional else modern_grid.grid_lstm_cell
    twin = build(U, forget_bias=FB, **kwargs)
    twin.build((None, depth))
    weights = _arrays([tuple(w.shape) for w in twin.weights], seed=len(name))
    x = np.random.default_rng(7).normal(0, 1, (B, T, depth)).astype(np.float32)
    expected = _keras2(twin, x, weights)
    assert np.max(np.abs(expected[0])) > 0.05 and len(expected) == 1 + len(row.spec_sizes(spec)[1])
    labels = ["outputs"] + list(row.state_labels(spec))
    k3, onnx = _targets(spec, row.custom_cell, weights, x, labels)
    assert _diff(expected, k3) <= TOL and _diff(expected, onnx) <= TOL
    if kwargs.get("cell_clip"):  # the clip bites: the twin's c_t reach it
        assert np.max(np.abs(np.concatenate(expected[1::2], 1))) == pytest.approx(kwargs["cell_clip"], abs=1e-6)
    wrong = _swap_ij(weights, U)
    assert min(_diff(expected, out) for out in _targets(spec, row.custom_cell, wrong, x, labels)) > 1e-3


def test_a_grid_file_round_trips_its_options_in_safe_mode(tmp_path):
    """The bidirectional cell's options (lists, the offset, shared weights) survive save and safe-mode load."""
    from modern_rnn import grid_lstm as modern_grid

    bidirectional, kwargs, depth = GRIDS["bidi_offset_blocks"]
    row, spec = _spec(bidirectional, kwargs)
    twin = modern_grid.bidirectional_grid_lstm_cell(U, forget_bias=FB, **kwargs)
    twin.build((None, depth))
    weights = _arrays([tuple(w.shape) for w in twin.weights], seed=3)
    cells = {"": [TargetCell(spec, CUSTOM, weights[0], np.zeros(0, np.float32), np.zeros(0, np.float32),
                             row.custom_cell, tuple(weights))]}
    x = np.random.default_rng(8).normal(0, 1, (B, T, depth)).astype(np.float32)
    lengths = np.array([T, 1, 2], np.int32)
    model = keras3.build_block(cells, depth, "probe")
    keras3.save_block(model, str(tmp_path / "grid.keras3.keras"))
    loaded = keras3.load_block(str(tmp_path / "grid.keras3.keras"))
    step = [layer.cell for layer in loaded.layers if hasattr(layer, "cell")][0]
    assert step.get_config()["backward_slice_offset"] == 1 and list(step.get_config()["num_frequency_blocks"]) == [1, 2]
    assert _diff(model([x, lengths]), loaded([x, lengths])) == 0.0


@pytest.mark.parametrize("windows", [1, 3])
def test_time_freq_step_equals_the_keras2_twin(windows):
    """F = 1 (the converted layout) on both targets; F = 3 overlapping windows (feature_size 3, skip 2, D 7) on the
    Keras 3 cell (the ONNX step is the converted layout's). Negative control: i and j swapped."""
    import keras as keras3_api

    from migration.core.specs import CellSpec
    from migration.targets import keras3_cells
    from modern_rnn.time_freq_lstm import time_freq_lstm_cell

    depth, size, skip = (4, 4, 1) if windows == 1 else (7, 3, 2)
    twin = time_freq_lstm_cell(U, size, skip, forget_bias=FB, input_size=depth)
    twin.build((None, depth))
    weights = _arrays([tuple(w.shape) for w in twin.weights], seed=11 + windows)
    x = np.random.default_rng(9).normal(0, 1, (B, T, depth)).astype(np.float32)
    expected = _keras2(twin, x, weights)
    assert expected[1].shape == (B, 2 * U * windows) and np.max(np.abs(expected[0])) > 0.05
    if windows == 1:
        spec = CellSpec(time_freq_row.FAMILY.kind, U, forget_bias=FB)
        k3, onnx = _targets(spec, "TimeFreqLSTMCell", weights, x, ["outputs", "state/h"])
        assert _diff(expected, k3) <= TOL and _diff(expected, onnx) <= TOL
        assert min(_diff(expected, out) for out in _targets(spec, "TimeFreqLSTMCell", _swap_ij(weights, U), x,
                                                                ["outputs", "state/h"])) > 1e-3
        return

    def run(arrays):
        cell = keras3_cells.TimeFreqLSTMCell(U, feature_size=size, frequency_skip=skip, input_size=depth)
        layer = keras3_api.layers.RNN(cell, return_sequences=True, return_state=True)
        layer(x)
        layer.set_weights(arrays)
        return [np.asarray(a) for a in layer(x)]
    assert _diff(expected, run(weights)) <= TOL
    assert _diff(expected, run(_swap_ij(weights, U))) > 1e-3
