"""``tf.contrib.rnn.UGRNNCell`` (TF 1.15 ``tensorflow/contrib/rnn/python/ops/rnn_cell.py``), rebuilt for TensorFlow
2.21 under the variable names TF 1.15 gave it, so a TF1 program that used it runs and restores its checkpoint.

Read beside :mod:`modern_rnn.ugrnn`: the same names, in the same order.

The Update Gate RNN (Collins, Sohl-Dickstein, Sussillo, "Capacity and Trainability in Recurrent Neural Networks",
ICLR 2017): one gate decides, per unit, between keeping the state and a fresh candidate::

    g_act, c_act = split([x, h] K + b, 2)      # kernel [D+U, 2U], bias [2U] (zeros at init); blocks g, c
    c = activation(c_act)                      # tanh by default
    g = sigmoid(g_act + forget_bias)           # forget_bias: a Python constant (1.0), not in the checkpoint
    h' = g * h + (1 - g) * c                   # output = new state

Variables (the cell's default scope is its class name in snake case): ``<rnn scope>/ugrnn_cell/kernel``,
``.../ugrnn_cell/bias``.
"""
from __future__ import annotations

from typing import Callable, Optional

import tensorflow as tf

from legacy_rnn.cell_utils import NumUnitsCell
from migration.core.errors import check_positive_int
from migration.core.specs import ACTIVATIONS

v1 = tf.compat.v1
_ACTIVATIONS: dict[str, Callable] = {"tanh": tf.tanh, "relu": tf.nn.relu, "sigmoid": tf.sigmoid,
                                     "linear": tf.identity, "softsign": tf.nn.softsign, "elu": tf.nn.elu}


def _activation(activation: Optional[str]) -> Callable:
    if activation is None:
        return tf.tanh
    if activation not in ACTIVATIONS:
        raise ValueError(f"Received an invalid value for `activation`: expected one of {ACTIVATIONS}, got {activation!r}.")
    return _ACTIVATIONS[activation]


class UGRNNCell(NumUnitsCell):
    """``tf.contrib.rnn.UGRNNCell``; see :func:`ugrnn_cell`.

    Modern equivalent: :class:`modern_rnn.ugrnn.UGRNNCell`.
    """

    def __init__(self, num_units: int, initializer=None, forget_bias: float = 1.0, activation: Optional[str] = None,
                 reuse=None, name: Optional[str] = None) -> None:
        super().__init__(_reuse=reuse, name=name)
        self._num_units = check_positive_int("units", num_units)
        self._initializer = initializer
        self._forget_bias = float(forget_bias)
        self._activation = _activation(activation)

    def build(self, inputs_shape) -> None:
        depth, u = int(inputs_shape[-1]), self._num_units
        self._kernel = self.add_weight("kernel", [depth + u, 2 * u], initializer=self._initializer)
        self._bias = self.add_weight("bias", [2 * u], initializer=v1.constant_initializer(0.0))
        self.built = True

    def call(self, inputs, state):
        h = state[0] if isinstance(state, (list, tuple)) else state
        rnn_matrix = tf.nn.bias_add(tf.matmul(tf.concat([inputs, h], 1), self._kernel), self._bias)
        g_act, c_act = tf.split(rnn_matrix, 2, axis=1)
        c = self._activation(c_act)
        g = tf.sigmoid(g_act + self._forget_bias)
        new_h = g * h + (1.0 - g) * c
        return new_h, new_h


def ugrnn_cell(units: int, forget_bias: float = 1.0, activation: Optional[str] = None, initializer=None,
               name: Optional[str] = None) -> UGRNNCell:
    """``tf.contrib.rnn.UGRNNCell(units, initializer, forget_bias, activation)`` (TF 1.15); variables
    ``ugrnn_cell/kernel [D+U, 2U]`` (blocks g, c) and ``ugrnn_cell/bias [2U]``.

    Modern equivalent: :func:`modern_rnn.ugrnn.ugrnn_cell` (forget_bias folded into the g half of the bias).
    """
    return UGRNNCell(units, initializer=initializer, forget_bias=forget_bias, activation=activation, name=name)


__all__ = ["UGRNNCell", "ugrnn_cell"]
