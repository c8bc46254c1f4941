"""The equivalence table: every row builds a real TF1 graph and its Keras 2 twin and shares weights both ways.

Rows: cell kind x unroll (manual loop, static, dynamic) x direction x layers x sequence_length x time_major x
forget_bias. For each row:

* ``test_tf1_checkpoint_into_keras``: random TF1 values -> Saver checkpoint -> ``tf.train.load_checkpoint`` ->
  ``cell_to_keras`` -> Keras; outputs and final states agree within 1e-5 (float32), gradients of a scalar loss with
  respect to the shared weights within 1e-4 (TF1 gradients converted with the layout-only transform), and the TF1
  side agrees with the NumPy reference.
* ``test_keras_weights_into_tf1``: random Keras weights -> ``cell_to_tf1`` -> TF1 graph; same checks but the
  gradients (one gradient comparison per row is enough, and the while-loop gradient graphs dominate the run time).

A new cell kind joins every test by adding a spec to ``CELLS``.
"""
from __future__ import annotations

import numpy as np
import pytest

from migration import converters
from migration.cudnn_converters import cudnn_gru_gradient_to_keras
from migration.core.specs import CellSpec

from .harness import LENGTHS, Case, loss_weights, random_inputs, rerun_tf1, run_keras, run_tf1
from .reference import bidirectional, unroll

ATOL_OUT, ATOL_GRAD = 1e-5, 1e-4

# Cells that get the full grid.
CELLS = {
    "basic_rnn": CellSpec("basic_rnn", 5),
    "basic_lstm": CellSpec("basic_lstm", 5, forget_bias=1.0),
    "peephole_proj_lstm": CellSpec("lstm", 6, use_peepholes=True, num_proj=3, cell_clip=0.25, proj_clip=0.12,
                                   forget_bias=0.5),
    "gru": CellSpec("gru", 5),
}
# Cells that get a reduced grid (the options they add are orthogonal to unrolling).
EXTRA_CELLS = {
    "basic_lstm_fb0": CellSpec("basic_lstm", 5, forget_bias=0.0),
    "basic_lstm_fb0.5": CellSpec("basic_lstm", 5, forget_bias=0.5),
    "lstm_plain": CellSpec("lstm", 5),
    "lstm_peepholes": CellSpec("lstm", 4, use_peepholes=True),
    "lstm_proj": CellSpec("lstm", 6, num_proj=4, forget_bias=0.0),
    "basic_rnn_relu": CellSpec("basic_rnn", 4, activation="relu"),
    "lstm_peepholes_relu": CellSpec("lstm", 4, use_peepholes=True, activation="relu"),
    "basic_lstm_relu": CellSpec("basic_lstm", 4, activation="relu"),
    # tf.contrib.rnn block cells (legacy_rnn.contrib: TensorFlow's own LSTMBlockCell / GRUBlockCell kernels). The
    # clipped LSTMBlockCell and the fused cell are in test_contrib_table.py (no gradient through the clip in TF1);
    # the block kernel with forget_bias 0 is the cudnn_compatible_lstm row below.
    "lstm_block_peep_fb0.5": CellSpec("lstm_block", 5, forget_bias=0.5, use_peepholes=True),
    "gru_block": CellSpec("gru_block", 4),
    "gru_block_v2": CellSpec("gru_block_v2", 4),
    # tf.contrib.cudnn_rnn canonical cells (legacy_rnn.cudnn); the opaque buffer is in test_cudnn.py
    "cudnn_compatible_lstm": CellSpec("cudnn_compatible_lstm", 4, forget_bias=0.0),
    "cudnn_compatible_gru": CellSpec("cudnn_compatible_gru", 5),
    # tf.contrib.rnn.LayerNormBasicLSTMCell (a custom Keras cell: modern_rnn.layer_norm_lstm)
    "layer_norm_lstm_fb0.5": CellSpec("layer_norm_lstm", 5, forget_bias=0.5),
}


def build_table() -> list[Case]:
    cases = [Case("handwritten-manual", CellSpec("handwritten", 4), "manual")]
    for name, spec in CELLS.items():
        for layers in (1, 2):
            cases.append(Case(f"{name}-manual-uni-L{layers}", spec, "manual", layers=layers))
            for bi in (False, True):
                for ragged in (False, True):
                    d = "bi" if bi else "uni"
                    r = "ragged" if ragged else "full"
                    cases.append(Case(f"{name}-static-{d}-L{layers}-{r}", spec, "static", bi, layers, ragged))
                    for tm in (False, True):
                        cases.append(Case(f"{name}-dynamic-{d}-L{layers}-{r}-{'tmajor' if tm else 'bmajor'}",
                                          spec, "dynamic", bi, layers, ragged, tm))
    for name, spec in EXTRA_CELLS.items():
        cases += [
            Case(f"{name}-manual-uni-L1", spec, "manual"),
            Case(f"{name}-static-uni-L1-ragged", spec, "static", ragged=True),
            Case(f"{name}-dynamic-uni-L2-ragged-tmajor", spec, "dynamic", layers=2, ragged=True, time_major=True),
            Case(f"{name}-dynamic-bi-L1-ragged-bmajor", spec, "dynamic", True, 1, True),
        ]
    return cases


CASES = build_table()


def _cell_arrays(weights: dict, prefix: str) -> dict:
    return {name[len(prefix):]: value for name, value in weights.items() if name.startswith(prefix)}


def _reference(case: Case, tf1_weights: dict, x: np.ndarray):
    per_dir = {d: [_cell_arrays(tf1_weights, case.cell_prefix(d, k)) for k in range(case.layers)]
               for d in case.directions}
    lengths = LENGTHS if case.ragged else None
    if case.bidirectional:
        return bidirectional(case.specs, per_dir["fw"], case.specs, per_dir["bw"], x, lengths)
    return unroll(case.specs, per_dir[""], x, lengths)


def _assert_close(actual, expected, atol, what):
    assert len(actual) == len(expected), f"{what}: {len(actual)} arrays vs {len(expected)}"
    for k, (a, e) in enumerate(zip(actual, expected)):
        assert np.shape(a) == np.shape(e), f"{what}[{k}]: shape {np.shape(a)} vs {np.shape(e)}"
        diff = float(np.max(np.abs(np.asarray(a, np.float64) - e))) if np.size(a) else 0.0
        assert diff <= atol, f"{what}[{k}]: max |diff| {diff:.3g} > {atol}"


def _check(case: Case, tf1, keras, x):
    ref_out, ref_states = _reference(case, tf1.weights, x)
    _assert_close([tf1.outputs], [ref_out], ATOL_OUT, "TF1 outputs vs NumPy reference")
    _assert_close(tf1.states, ref_states, ATOL_OUT, "TF1 states vs NumPy reference")
    _assert_close([keras.outputs], [tf1.outputs], ATOL_OUT, "Keras outputs vs TF1")
    _assert_close(keras.states, tf1.states, ATOL_OUT, "Keras states vs TF1")
    if case.ragged:  # outputs past each length are exactly zero on both sides
        for b, n in enumerate(LENGTHS):
            assert not np.any(keras.outputs[b, n:]) and not np.any(tf1.outputs[b, n:])
    assert bool(keras.grads) == bool(tf1.grads)
    for (d, layer), keras_grads in keras.grads.items():
        tf1_grads = _cell_arrays(tf1.grads, case.cell_prefix(d, layer))
        if case.spec.kind == "cudnn_compatible_gru":  # one TF1 gates/bias = two Keras bias rows: both get its gradient
            converted = cudnn_gru_gradient_to_keras(tf1_grads, case.input_size(layer))
        else:
            converted = converters.cell_to_keras(case.spec, tf1_grads, case.input_size(layer), include_forget_bias=False)
        _assert_close(keras_grads, converted, ATOL_GRAD, f"gradients {d or 'uni'} layer {layer}")


#: case name -> the TF1 graph (open session) test_tf1_checkpoint_into_keras built, for test_keras_weights_into_tf1 of
#: the same case to run with its own weights and inputs instead of building the same graph again (about half a second
#: each, 161 times). tests/core/conftest.py runs the two tests of a case one after the other, on one xdist worker;
#: when the first did not run there (-k, a failure before it), the second builds its own graph as before.
_KEPT: dict = {}
_KEEP_AT_MOST = 4  # open sessions


@pytest.mark.parametrize("case", CASES, ids=str)
def test_tf1_checkpoint_into_keras(case: Case) -> None:
    x, lw = random_inputs(0), loss_weights(case)
    while len(_KEPT) >= _KEEP_AT_MOST:  # the other direction never came for the oldest (filtered out): close it
        _KEPT.pop(next(iter(_KEPT))).sess.close()
    tf1 = run_tf1(case, x, lw, seed=11, keep=_KEPT)

    def from_checkpoint(direction: str, layer: int):
        arrays = _cell_arrays(tf1.weights, case.cell_prefix(direction, layer))
        return converters.cell_to_keras(case.spec, arrays, case.input_size(layer))

    keras = run_keras(case, x, lw, set_weights=from_checkpoint)
    _check(case, tf1, keras, x)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_keras_weights_into_tf1(case: Case) -> None:
    x, lw = random_inputs(1), loss_weights(case, seed=2)
    keras = run_keras(case, x, lw, seed=23, with_grads=False)
    keras_weights = {key: cell.get_weights() for key, cell in keras.cells.items()}  # read eagerly, before the graph

    def from_keras(direction: str, layer: int):
        return converters.cell_to_tf1(case.spec, keras_weights[(direction, layer)])

    kept = _KEPT.pop(case.name, None)
    if kept is not None:  # the same graph, every variable loaded with the converted Keras weights, fed this x
        tf1 = rerun_tf1(kept, x, from_keras)
    else:
        tf1 = run_tf1(case, x, lw, set_weights=from_keras, via_checkpoint=False, with_grads=False)
    _check(case, tf1, keras, x)


def test_table_covers_every_axis() -> None:
    """The table really spans what it claims (a refactor that drops an axis fails here)."""
    kinds = {c.spec.kind for c in CASES}
    assert kinds == {"handwritten", "basic_rnn", "basic_lstm", "lstm", "gru", "lstm_block", "gru_block", "gru_block_v2",
                     "cudnn_compatible_lstm", "cudnn_compatible_gru", "layer_norm_lstm"}
    assert {c.unroll for c in CASES} == {"manual", "static", "dynamic"}
    assert {c.bidirectional for c in CASES} == {False, True}
    assert {c.layers for c in CASES} == {1, 2}
    assert {c.ragged for c in CASES} == {False, True}
    assert {c.time_major for c in CASES} == {False, True}
    assert {c.spec.forget_bias for c in CASES if c.spec.is_lstm} >= {0.0, 0.5, 1.0}
    assert len(CASES) >= 100
