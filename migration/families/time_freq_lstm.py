"""``time_freq_lstm``: ``tf.contrib.rnn.TimeFreqLSTMCell`` (TF 1.15), one LSTM run over frequency windows of each step.

TF1 (:mod:`legacy_rnn.time_freq_lstm`): for each of the ``F = int((D - feature_size) / frequency_skip) + 1``
windows ``x_f``: ``i, j, f, o = split([x_f, m_prev, m_prev_freq] W + B, 4)``; ``c = sigmoid(f + forget_bias) c_prev
+ sigmoid(i) tanh(j)``; ``m = sigmoid(o) tanh(c)``. Output ``concat(m_f)``, state ``concat(c_0, m_0, ...)`` (one
tensor). Checkpoint under ``time_freq_lstm_cell``: ``W_0 [feature_size + 2U, 4U]`` (column blocks i, j, f, o), ``B
[4U]``. forget_bias, frequency_skip, use_peepholes, cell_clip are Python constants (feature_size is W_0's rows - 2U).

Keras 2 (:mod:`modern_rnn.time_freq_lstm`): ``kernel`` = W_0 (blocks kept), ``bias`` = B with forget_bias added to
the f block.

Converted layout: F = 1 with input size = feature_size, the only one TF 1.15's ``dynamic_rnn`` can run (TF 1.15's
``state_size``/``output_size`` are one window's, so its output TensorArray and zero state refuse F > 1). The Keras
twin itself computes any F; a program that ran F > 1 windows (``static_rnn`` with an explicit state) is refused,
seen in the ``.meta`` (:func:`refuse_windows`). forget_bias is not read from the ``.meta`` (1.0 assumed and listed, or
``--forget-bias``; ``verify`` checks it). Peepholes (``W_F_diag``...) and sharded ``W_1`` are refused by the
recognizer, naming them; cell_clip shows in ``verify`` only.

Keras 3 / ONNX: the custom step ``TimeFreqLSTMCell`` (:mod:`migration.targets.keras3_cells`, :mod:`migration.targets.
onnx_cells`) on the Keras 2 arrays; the state is the one ``[B, 2U]`` tensor ``concat(c, m)`` TF1 returns.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from migration.core.errors import MigrationError, ShapeError
from migration.core.specs import CellSpec
from migration.families.row import Builder, Converter, Family, Layout, custom_export, keras_spec_hook

TF1_NAMES: tuple[str, ...] = ("W_0", "B")
KERAS_NAMES: tuple[str, ...] = ("kernel", "bias")
KERAS_CLASS = "modern_rnn.time_freq_lstm:TimeFreqLSTMCell"


def time_freq_to_keras(kernel: np.ndarray, bias: np.ndarray, forget_bias: float) -> list[np.ndarray]:
    """TF1 ``W_0 [feature_size+2U, 4U]``, ``B [4U]`` -> Keras ``[kernel, bias]`` (forget_bias into the f block)."""
    units = bias.shape[0] // 4
    if kernel.ndim != 2 or kernel.shape[1] != 4 * units or kernel.shape[0] <= 2 * units:
        raise ShapeError(f"Received an invalid shape for `W_0`: expected (feature_size + {2 * units}, {4 * units}) "
                         f"for a TimeFreqLSTMCell with units={units}; got {kernel.shape}.")
    keras_bias = bias.copy()
    keras_bias[2 * units:3 * units] += np.asarray(forget_bias, bias.dtype)
    return [kernel.copy(), keras_bias]


def time_freq_to_tf1(kernel: np.ndarray, bias: np.ndarray, forget_bias: float) -> dict[str, np.ndarray]:
    """Inverse of :func:`time_freq_to_keras`."""
    units = bias.shape[0] // 4
    tf1_bias = bias.copy()
    tf1_bias[2 * units:3 * units] -= np.asarray(forget_bias, bias.dtype)
    return {"W_0": kernel.copy(), "B": tf1_bias}


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    """``input_size``: the converted layout's (F = 1: feature_size)."""
    return {"W_0": (input_size + 2 * spec.units, 4 * spec.units), "B": (4 * spec.units,)}


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    units = shape("B")[0] // 4
    return units, shape("W_0")[0] - 2 * units, None


def _to_keras(spec: CellSpec, w: Mapping[str, np.ndarray], d: int, fb: float) -> list[np.ndarray]:
    return time_freq_to_keras(np.asarray(w["W_0"]), np.asarray(w["B"]), fb)


def _to_tf1(spec: CellSpec, w: Sequence[np.ndarray], fb: float) -> dict[str, np.ndarray]:
    return time_freq_to_tf1(w[0], w[1], fb)


def refuse_windows(meta: Any, key: str) -> dict:
    """The row's ``meta_fallback``: a program that ran the cell over F > 1 windows (``static_rnn`` with an explicit
    ``[B, 2FU]`` state; TF 1.15's ``dynamic_rnn`` cannot) is refused. Seen in the ``.meta``: a MatMul by ``W_0`` whose
    ``concat([x_f, m_prev, m_prev_freq])`` has a computed ``m_prev_freq`` (the first window's is zeros). Reads no
    hyper-parameter (returns none)."""
    nodes, cell = meta.main, key.rsplit("/", 1)[0]  # key: any variable of the cell
    for node in nodes.values():
        if node.op != "MatMul" or not node.input[1].split(":")[0].startswith(cell + "/W_0"):
            continue
        concat = nodes.get(node.input[0].split(":")[0])
        if concat is None or concat.op != "ConcatV2" or len(concat.input) != 4:
            continue
        third = nodes.get(concat.input[2].split(":")[0])
        if third is not None and third.op not in ("Const", "Fill", "ZerosLike"):
            raise MigrationError(
                f"{meta.path!r}: the TimeFreqLSTMCell {cell!r} runs over more than one frequency window ({node.name!r} "
                "reads the previous window's output): only F = 1 (feature_size = the input size, what TF 1.15's "
                "dynamic_rnn runs) converts; the legacy cell legacy_rnn.time_freq_lstm.TimeFreqLSTMCell runs it.")
    return {}


def _sizes(spec: CellSpec) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    """Output ``m`` (U), ONE state ``concat(c, m)`` (2U: what TF 1.15's cell returns for the converted F = 1)."""
    return spec.units, (2 * spec.units,), (2 * spec.units,)


def _keras_input_size(spec: CellSpec, w: Sequence[np.ndarray]) -> int:
    return int(np.shape(w[0])[0]) - 2 * spec.units


FAMILY = Family(
    kind="time_freq_lstm",
    description="tf.contrib TimeFreqLSTMCell: one LSTM over frequency windows of each step (F = 1 converted); Keras "
                "modern_rnn.TimeFreqLSTMCell",
    tf1_classes=("tf.contrib.rnn.TimeFreqLSTMCell",),
    scope="time_freq_lstm_cell",
    layouts=(Layout("time_freq_lstm_cell", TF1_NAMES),),
    hyper={"forget_bias": 1.0},
    not_in_checkpoint={"forget_bias": "meta: not read for this family yet (1.0 assumed and listed; verify checks it)"},
    converter=Converter(lambda s: TF1_NAMES, lambda s: KERAS_NAMES, _to_keras, _to_tf1, _shapes, _keras_input_size),
    export=custom_export("TimeFreqLSTMCell", "MatMul, Add, Split, Sigmoid, Tanh, Mul, Concat; the state concat(c, m) "
                                             "as TF1 holds it; one frequency window, the converted layout"),
    custom_cell="TimeFreqLSTMCell",
    spec_sizes=_sizes,
    legacy=Builder("legacy_rnn.time_freq_lstm:time_freq_lstm_cell", lambda s, d, scope: (
        (s.units,), {"feature_size": d, "forget_bias": s.forget_bias})),
    targets={"keras2": Builder("modern_rnn.time_freq_lstm:time_freq_lstm_cell", lambda s, d, scope: (
        (s.units,), {"feature_size": d, "forget_bias": s.forget_bias, "input_size": d or 0}))},
    upgrade_homes={"tf.contrib.rnn.TimeFreqLSTMCell": "legacy_rnn.time_freq_lstm.TimeFreqLSTMCell"},
    dims=_dims,
    matrices=("W_0",),
    keras_spec=keras_spec_hook("time_freq_lstm", KERAS_CLASS, with_forget_bias=True),
    keras_classes=(KERAS_CLASS,),
    inspect_keys=("forget_bias",),
    meta_fallback=refuse_windows,
)
