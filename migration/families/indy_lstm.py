"""``indy_lstm``: ``tf.contrib.rnn.IndyLSTMCell`` (TF 1.15), an LSTM whose recurrent matrices are vectors.

TF1 (:mod:`legacy_rnn.indrnn`): ``i, j, f, o = split(x W + [h, h, h, h] * u + b)``;
``c' = c sigmoid(f + forget_bias) + sigmoid(i) act(j)``; ``h' = act(c') sigmoid(o)``; state ``(c, h)``. Checkpoint:
``indy_lstm_cell/kernel_w [D, 4U]``, ``kernel_u [1, 4U]``, ``bias [4U]`` (blocks i, j, f, o). forget_bias (default
1.0) is a Python constant of the program, not in the checkpoint.

Keras 2 (:mod:`modern_rnn.indrnn`): Keras' LSTM order **i, f, c, o**: ``kernel [D, 4U]``, ``recurrent_kernel [4U]``,
``bias [4U]`` with forget_bias added to the f block; state ``[h, c]``.

Not read from the ``.meta``: forget_bias and the activation (1.0, tanh assumed and listed; ``verify`` against the
original graph checks them; ``--forget-bias`` sets it).
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from migration.core.gates import KERAS_LSTM_GATES, TF1_LSTM_GATES, reorder_gates
from migration.core.specs import CellSpec
from migration.families.row import Builder, Converter, Family, Layout, act_or_none, diagonal_recurrence, keras_spec_hook

TF1_NAMES: tuple[str, ...] = ("kernel_w", "kernel_u", "bias")
KERAS_NAMES: tuple[str, ...] = ("kernel", "recurrent_kernel", "bias")
KERAS_CLASS = "modern_rnn.indrnn:IndyLSTMCell"


def indy_lstm_to_keras(kernel_w: np.ndarray, kernel_u: np.ndarray, bias: np.ndarray,
                       forget_bias: float) -> list[np.ndarray]:
    """TF1 ``kernel_w [D, 4U]``, ``kernel_u [1, 4U]``, ``bias [4U]`` (i, j, f, o) -> Keras ``[kernel, recurrent_kernel
    [4U], bias]`` (i, f, c, o; forget_bias added to the f block)."""
    units = bias.shape[0] // 4
    keras_bias = reorder_gates(bias, TF1_LSTM_GATES, KERAS_LSTM_GATES)
    keras_bias[units:2 * units] += np.asarray(forget_bias, bias.dtype)
    return [reorder_gates(kernel_w, TF1_LSTM_GATES, KERAS_LSTM_GATES),
            reorder_gates(kernel_u[0], TF1_LSTM_GATES, KERAS_LSTM_GATES), keras_bias]


def indy_lstm_to_tf1(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray,
                     forget_bias: float) -> dict[str, np.ndarray]:
    """Inverse of :func:`indy_lstm_to_keras`."""
    units = bias.shape[0] // 4
    tf1_bias = bias.copy()
    tf1_bias[units:2 * units] -= np.asarray(forget_bias, bias.dtype)
    return {"kernel_w": reorder_gates(kernel, KERAS_LSTM_GATES, TF1_LSTM_GATES),
            "kernel_u": reorder_gates(recurrent_kernel, KERAS_LSTM_GATES, TF1_LSTM_GATES)[None, :],
            "bias": reorder_gates(tf1_bias, KERAS_LSTM_GATES, TF1_LSTM_GATES)}


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    u = spec.units
    return {"kernel_w": (input_size, 4 * u), "kernel_u": (1, 4 * u), "bias": (4 * u,)}


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    return shape("bias")[0] // 4, shape("kernel_w")[0], None


def _to_keras(spec: CellSpec, w: Mapping[str, np.ndarray], d: int, fb: float) -> list[np.ndarray]:
    return indy_lstm_to_keras(*(np.asarray(w[n]) for n in TF1_NAMES), fb)


def _to_tf1(spec: CellSpec, w: Sequence[np.ndarray], fb: float) -> dict[str, np.ndarray]:
    return indy_lstm_to_tf1(w[0], w[1], w[2], fb)


FAMILY = Family(
    kind="indy_lstm",
    description="tf.contrib IndyLSTMCell: an LSTM with vector recurrences (i, j, f, o); Keras modern_rnn.IndyLSTMCell "
                "(i, f, c, o; forget_bias folded)",
    tf1_classes=("tf.contrib.rnn.IndyLSTMCell",),
    scope="indy_lstm_cell",
    layouts=(Layout("indy_lstm_cell", TF1_NAMES),),
    hyper={"forget_bias": 1.0, "activation": "tanh"},
    not_in_checkpoint={"forget_bias": "meta: not read for this family yet (default assumed and listed; verify checks it)",
                       "activation": "meta: not read for this family yet (tanh assumed and listed)"},
    converter=Converter(lambda s: TF1_NAMES, lambda s: KERAS_NAMES, _to_keras, _to_tf1, _shapes),
    export={"keras3": "exact: keras.layers.LSTM, each recurrent gate block diag(u) (gates i, f, c, o; forget_bias folded "
                      "into b_f)",
            "onnx": "exact: ONNX LSTM, each R block diag(u) (gates i, o, f, c; forget_bias folded into Wb_f; Rb = 0)"},
    standard=diagonal_recurrence("LSTM"),
    legacy=Builder("legacy_rnn.indrnn:indy_lstm_cell", lambda s, d, scope: (
        (s.units,), {"forget_bias": s.forget_bias, "activation": act_or_none(s)})),
    targets={"keras2": Builder("modern_rnn.indrnn:indy_lstm_cell", lambda s, d, scope: (
        (s.units,), {"forget_bias": s.forget_bias, "activation": s.activation}))},
    upgrade_homes={"tf.contrib.rnn.IndyLSTMCell": "legacy_rnn.indrnn.IndyLSTMCell"},
    lstm=True,
    dims=_dims,
    keras_spec=keras_spec_hook("indy_lstm", KERAS_CLASS, with_forget_bias=True),
    keras_classes=(KERAS_CLASS,),
    inspect_keys=("forget_bias", "activation"),
    matrices=("kernel_w", "kernel_u"),
)
