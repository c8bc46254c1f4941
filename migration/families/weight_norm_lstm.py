"""``weight_norm_lstm``: ``tf.contrib.rnn.WeightNormLSTMCell`` (TF 1.15) with ``norm=True`` (its default).

TF1 (:mod:`legacy_rnn.weight_norm_lstm`): ``W = concat([l2n(K[:D]) * norm_0, l2n(K[D:]) * norm_1])`` (each column
scaled to length 1, then by its gain); ``i, j, f, o = split([x, h] W + bias, 4)``; an LSTM step with forget_bias.
Checkpoint (TF 1.15 doubled the scope): ``wn_lstm_cell/wn_lstm_cell/{kernel [D+U, 4U], norm_0 [4U], norm_1 [4U],
bias [4U]}``, i.e. the cell directory ``wn_lstm_cell`` holding ``wn_lstm_cell/kernel`` ...

Keras 2 (:mod:`modern_rnn.weight_norm_lstm`): ``kernel`` = K[:D], ``recurrent_kernel`` = K[D:], ``kernel_norm`` =
norm_0, ``recurrent_norm`` = norm_1, ``bias`` (forget_bias added to the f block); all in Keras gate order
**i, f, c, o** (column normalisation commutes with the column permutation).

Not converted (the recognizer names the missing or unexpected variables): peepholes, the projection, and
``norm=False`` (``LSTMCell``'s maths under ``wn_lstm_cell/wn_lstm_cell/{kernel, bias}``: reading it as ``lstm`` needs
a rename layout whose first name, ``wn_lstm_cell/kernel``, is this layout's too, and the recognizer keys renames by
(directory, first name)). forget_bias and
activation are read from the ``.meta`` like LSTMCell's (the split's block 2 plus a Const; the op on block 1).
"""
from __future__ import annotations

import importlib
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from migration.core.gates import KERAS_LSTM_GATES, TF1_LSTM_GATES, reorder_gates, split_fused_rows
from migration.core.specs import CellSpec
from migration.families.row import META_LSTM_GATES, Builder, Converter, Family, Layout, act_or_none, default_dims

INNER = "wn_lstm_cell/"
TF1_NAMES: tuple[str, ...] = tuple(INNER + n for n in ("kernel", "norm_0", "norm_1", "bias"))
KERAS_NAMES: tuple[str, ...] = ("kernel", "recurrent_kernel", "kernel_norm", "recurrent_norm", "bias")
KERAS_CLASS = "modern_rnn.weight_norm_lstm:WeightNormLSTMCell"


def wn_to_keras(w: Mapping[str, np.ndarray], input_size: int, forget_bias: float) -> list[np.ndarray]:
    """TF1 arrays by name -> ``[kernel, recurrent_kernel, kernel_norm, recurrent_norm, bias]`` (i, f, c, o)."""
    def keras(a):
        return reorder_gates(np.asarray(a), TF1_LSTM_GATES, KERAS_LSTM_GATES)

    units = w[INNER + "bias"].shape[0] // 4
    rows_x, rows_h = split_fused_rows(np.asarray(w[INNER + "kernel"]), input_size, INNER + "kernel")
    bias = keras(w[INNER + "bias"]).copy()
    bias[units:2 * units] += np.asarray(forget_bias, bias.dtype)  # Keras f block; TF1 adds it at run time
    return [keras(rows_x), keras(rows_h), keras(w[INNER + "norm_0"]), keras(w[INNER + "norm_1"]), bias]


def wn_to_tf1(w: Sequence[np.ndarray], forget_bias: float) -> dict[str, np.ndarray]:
    """Inverse of :func:`wn_to_keras`."""
    def tf1(a):
        return reorder_gates(np.asarray(a), KERAS_LSTM_GATES, TF1_LSTM_GATES)

    kernel, recurrent, norm_x, norm_h, bias = w
    units = recurrent.shape[0]
    bias = bias.copy()
    bias[units:2 * units] -= np.asarray(forget_bias, bias.dtype)
    return {INNER + "kernel": np.concatenate([tf1(kernel), tf1(recurrent)], 0), INNER + "norm_0": tf1(norm_x),
            INNER + "norm_1": tf1(norm_h), INNER + "bias": tf1(bias)}


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    u = spec.units
    return {INNER + "kernel": (input_size + u, 4 * u), INNER + "norm_0": (4 * u,), INNER + "norm_1": (4 * u,),
            INNER + "bias": (4 * u,)}


def _keras_spec(cell: Any, forget_bias: float, where: str) -> Optional[CellSpec]:
    """Export hook: a :class:`modern_rnn.weight_norm_lstm.WeightNormLSTMCell` -> its spec."""
    module, name = KERAS_CLASS.split(":")
    if not isinstance(cell, getattr(importlib.import_module(module), name)):
        return None
    activation = cell.get_config()["activation"]
    return CellSpec("weight_norm_lstm", cell.units, forget_bias=forget_bias,
                    activation=activation if isinstance(activation, str) else activation["config"]["name"])


def _folded(spec: CellSpec, weights: list[np.ndarray]) -> tuple[str, list[np.ndarray]]:
    """The output targets' standard LSTM: each kernel's columns l2-normalised (``tf.nn.l2_normalize``'s
    ``w / sqrt(max(sum(w^2), 1e-12))``, in float64) times their gains, as the cell computes them every step."""
    kernel, recurrent, kernel_norm, recurrent_norm, bias = (np.asarray(w, np.float64) for w in weights)

    def fold(w: np.ndarray, gain: np.ndarray) -> np.ndarray:
        return (w / np.sqrt(np.maximum((w * w).sum(axis=0), 1e-12)) * gain).astype(np.float32)

    return "LSTM", [fold(kernel, kernel_norm), fold(recurrent, recurrent_norm), bias.astype(np.float32)]


FAMILY = Family(
    kind="weight_norm_lstm",
    description="tf.contrib WeightNormLSTMCell(norm=True): kernel with per-column gains norm_0/norm_1; Keras "
                "modern_rnn.WeightNormLSTMCell",
    tf1_classes=("tf.contrib.rnn.WeightNormLSTMCell",),
    scope="wn_lstm_cell",
    layouts=(Layout("wn_lstm_cell", TF1_NAMES),),
    hyper={"forget_bias": 1.0, "activation": "tanh"},
    not_in_checkpoint={"forget_bias": "meta: the Const added to the f block (split output 2) before its Sigmoid",
                       "activation": "meta: the activation op on the j block"},
    meta_reader=META_LSTM_GATES,
    converter=Converter(lambda s: TF1_NAMES, lambda s: KERAS_NAMES, lambda s, w, d, fb: wn_to_keras(w, d, fb),
                        lambda s, w, fb: wn_to_tf1(w, fb), _shapes),
    export={"keras3": "exact: keras.layers.LSTM with the weight norm folded into its kernels (l2-normalised columns "
                      "times their gains, computed once: the inference maths; gates i, f, c, o; forget_bias folded)",
            "onnx": "exact: ONNX LSTM with the weight norm folded into W and R (gates i, o, f, c; Rb = 0)"},
    standard=_folded,
    legacy=Builder("legacy_rnn.weight_norm_lstm:weight_norm_lstm_cell", lambda s, d, scope: (
        (s.units,), {"forget_bias": s.forget_bias, "activation": act_or_none(s)})),
    targets={"keras2": Builder("modern_rnn.weight_norm_lstm:weight_norm_lstm_cell", lambda s, d, scope: (
        (s.units,), {"forget_bias": s.forget_bias, "activation": s.activation}))},
    upgrade_homes={"tf.contrib.rnn.WeightNormLSTMCell": "legacy_rnn.weight_norm_lstm.WeightNormLSTMCell"},
    lstm=True,
    dims=default_dims(kernel=INNER + "kernel", bias=INNER + "bias", blocks=4),
    keras_spec=_keras_spec,
    keras_classes=(KERAS_CLASS,),
    inspect_keys=("forget_bias", "activation"),
)
