"""``tf.contrib.rnn.IntersectionRNNCell`` (TF 1.15 ``tensorflow/contrib/rnn/python/ops/rnn_cell.py``), rebuilt for
TensorFlow 2.21 under the variable names TF 1.15 gave it.

Read beside :mod:`modern_rnn.intersection_rnn`: the same names, in the same order.

The Intersection RNN (+RNN; Collins, Sohl-Dickstein, Sussillo, ICLR 2017) gates the state through time and the
output through depth; its output is not its state, and its output must be as wide as its input::

    x = x P + p                          # only when D != U (and num_in_proj is set): in_projection/kernel [D, U], bias
    gh, h_, gy, y_ = split([x, h] K + b, 4)      # kernel [2U, 4U], bias [4U] (zeros at init)
    h' = sigmoid(gh + fb) h + (1 - sigmoid(gh + fb)) tanh(h_)       # the state, through time
    y  = sigmoid(gy + fb) x + (1 - sigmoid(gy + fb)) y_activation(y_)   # the output, through depth (relu default)

forget_bias (1.0) and y_activation are Python values of the program, not in the checkpoint. Variables:
``intersection_rnn_cell/{kernel, bias}`` and, with a projection, ``intersection_rnn_cell/in_projection/{kernel, bias}``.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras

from legacy_rnn.cell_utils import NumUnitsCell, input_depth
from migration.core.errors import check_positive_int

v1 = tf.compat.v1


class IntersectionRNNCell(NumUnitsCell):
    """``tf.contrib.rnn.IntersectionRNNCell``; see :func:`intersection_rnn_cell`.

    Modern equivalent: :class:`modern_rnn.intersection_rnn.IntersectionRNNCell`.
    """

    def __init__(self, num_units: int, num_in_proj: Optional[int] = None, initializer=None, forget_bias: float = 1.0,
                 y_activation=tf.nn.relu, reuse=None, name: Optional[str] = None) -> None:
        super().__init__(_reuse=reuse, name=name)
        self._num_units = check_positive_int("units", num_units)
        self._num_input_proj = num_in_proj
        self._initializer = initializer
        self._forget_bias = float(forget_bias)
        self._y_activation = tf_keras.activations.get(y_activation)
        self._in_kernel = self._in_bias = None

    def build(self, inputs_shape) -> None:
        depth, u = input_depth(inputs_shape), self._num_units
        if depth != u:
            if not self._num_input_proj:
                raise ValueError("Must have input size == output size for Intersection RNN. To fix, num_in_proj "
                                 "should be set to num_units at cell init.")
            self._in_kernel = self.add_weight("in_projection/kernel", [depth, u], initializer=self._initializer)
            self._in_bias = self.add_weight("in_projection/bias", [u], initializer=v1.constant_initializer(0.0))
        self._kernel = self.add_weight("kernel", [2 * u, 4 * u], initializer=self._initializer)
        self._bias = self.add_weight("bias", [4 * u], initializer=v1.constant_initializer(0.0))
        self.built = True

    def call(self, inputs, state):
        u = self._num_units
        if self._in_kernel is not None:
            inputs = tf.nn.bias_add(tf.matmul(inputs, self._in_kernel), self._in_bias)
        rnn_matrix = tf.nn.bias_add(tf.matmul(tf.concat([inputs, state], 1), self._kernel), self._bias)
        gh_act, h_act, gy_act, y_act = (rnn_matrix[:, k * u:(k + 1) * u] for k in range(4))
        gh = tf.sigmoid(gh_act + self._forget_bias)
        gy = tf.sigmoid(gy_act + self._forget_bias)
        new_state = gh * state + (1.0 - gh) * tf.tanh(h_act)
        new_y = gy * inputs + (1.0 - gy) * self._y_activation(y_act)
        return new_y, new_state


def intersection_rnn_cell(units: int, forget_bias: float = 1.0, y_activation: Optional[str] = None,
                          name: Optional[str] = None) -> IntersectionRNNCell:
    """``tf.contrib.rnn.IntersectionRNNCell(units, num_in_proj=units, forget_bias=..., y_activation=...)`` (TF 1.15;
    the input is projected exactly when its depth is not ``units``); variables ``intersection_rnn_cell/kernel
    [2U, 4U]`` (blocks gh, h, gy, y), ``bias [4U]``, and ``in_projection/{kernel [D, U], bias [U]}`` when D != U.

    Modern equivalent: :func:`modern_rnn.intersection_rnn.intersection_rnn_cell`.
    """
    return IntersectionRNNCell(units, num_in_proj=units, forget_bias=forget_bias,
                               y_activation=y_activation or tf.nn.relu, name=name)


__all__ = ["IntersectionRNNCell", "intersection_rnn_cell"]
