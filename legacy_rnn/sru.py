"""``tf.contrib.rnn.SRUCell`` (TF 1.15 ``tensorflow/contrib/rnn/python/ops/rnn_cell.py``), rebuilt for TensorFlow
2.21 under the variable names TF 1.15 gave it.

Read beside :mod:`modern_rnn.sru`: the same names, in the same order.

The Simple Recurrent Unit (Lei et al., "Training RNNs as Fast as CNNs", arXiv:1709.02755) has no recurrent matrix:
the state enters only element-wise. Its output is not its state::

    x_bar, f_in, r_in, x_tx = split(x K, 4)          # kernel [D, 4U]
    f, r = split(sigmoid([f_in, r_in] + b), 2)       # bias [2U] (zeros at init)
    c' = f c + (1 - f) x_bar                         # the state
    h = r act(c') + (1 - r) x_tx                     # the output (act: tanh by default)

Variables: ``sru_cell/kernel``, ``sru_cell/bias``; the activation is a Python value of the program.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras

from legacy_rnn.cell_utils import NumUnitsCell, activation_fn, input_depth
from migration.core.errors import check_positive_int

v1 = tf.compat.v1


class SRUCell(NumUnitsCell):
    """``tf.contrib.rnn.SRUCell``; see :func:`sru_cell`.

    Modern equivalent: :class:`modern_rnn.sru.SRUCell`.
    """

    def __init__(self, num_units: int, activation=None, reuse=None, name: Optional[str] = None, **kwargs) -> None:
        super().__init__(_reuse=reuse, name=name, **kwargs)
        self._num_units = check_positive_int("units", num_units)
        self._activation = activation_fn(activation)
        self.input_spec = tf_keras.layers.InputSpec(ndim=2)

    def build(self, inputs_shape) -> None:
        depth, u = input_depth(inputs_shape), self._num_units
        self._kernel = self.add_weight("kernel", [depth, 4 * u])
        self._bias = self.add_weight("bias", [2 * u], initializer=v1.zeros_initializer())
        self.built = True

    def call(self, inputs, state):
        x_bar, f_intermediate, r_intermediate, x_tx = tf.split(tf.matmul(inputs, self._kernel), 4, axis=1)
        f_r = tf.sigmoid(tf.nn.bias_add(tf.concat([f_intermediate, r_intermediate], 1), self._bias))
        f, r = tf.split(f_r, 2, axis=1)
        c = f * state + (1.0 - f) * x_bar
        h = r * self._activation(c) + (1.0 - r) * x_tx
        return h, c


def sru_cell(units: int, activation: Optional[str] = None, name: Optional[str] = None) -> SRUCell:
    """``tf.contrib.rnn.SRUCell(units, activation)`` (TF 1.15); variables ``sru_cell/kernel [D, 4U]`` (column blocks
    x_bar, f, r, x_tx) and ``bias [2U]`` (f, r). Output h, state c.

    Modern equivalent: :func:`modern_rnn.sru.sru_cell`.
    """
    return SRUCell(units, activation=activation, name=name)


__all__ = ["SRUCell", "sru_cell"]
