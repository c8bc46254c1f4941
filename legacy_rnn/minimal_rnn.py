"""``tf.contrib.rnn.MinimalRNNCell`` and ``CFNCell`` (TF 1.15 ``tensorflow/contrib/rnn/python/ops/rnn_cell.py``),
rebuilt for TensorFlow 2.21 under the variable names TF 1.15 gave them.

Read beside :mod:`modern_rnn.minimal_rnn`: the same names, in the same order.

MinimalRNN (Chen, Pennington, Schoenholz, ICML 2018) projects the input, then one update gate mixes it with the
state; CFN, the Chaos Free Network (Laurent & von Brecht, ICLR 2017), mixes the activated state and the activated
projected input through decoupled gates::

    MinimalRNNCell: z = act(x W_x);  u = sigmoid([z, h] [W; V] + b);  h' = u h + (1 - u) z
                    kernel [D+2U, U] (rows W_x, then W for z, then V for h), bias [U] (ones at init)
    CFNCell:        theta, eta = split(sigmoid(h U + x V + b));  h' = theta act(h) + (1 - eta) act(x W)
                    kernel [D, 3U] (columns V_theta, V_eta, W), recurrent_kernel [U, 2U], bias [2U] (ones at init)

TF 1.15's signatures take Keras-style ``activation``/``kernel_initializer``/``bias_initializer`` names
(``"tanh"``, ``"glorot_uniform"``, ``"ones"``). Variables: ``minimal_rnn_cell/{kernel, bias}``,
``cfn_cell/{kernel, recurrent_kernel, bias}``; the activation is a Python value of the program.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras
from tf_keras.src.layers.rnn.legacy_cells import LayerRNNCell

from legacy_rnn.cell_utils import input_depth
from migration.core.errors import check_positive_int


class _UnitsCell(LayerRNNCell):
    """What MinimalRNNCell and CFNCell share in TF 1.15: Keras-style arguments (``units``, ``activation``,
    initializers), state and output both ``[batch, units]``."""

    def __init__(self, units: int, activation="tanh", kernel_initializer="glorot_uniform", bias_initializer="ones",
                 name: Optional[str] = None, dtype=None, **kwargs) -> None:
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.input_spec = tf_keras.layers.InputSpec(ndim=2)
        self.units = check_positive_int("units", units)
        self.activation = tf_keras.activations.get(activation)
        self.kernel_initializer = tf_keras.initializers.get(kernel_initializer)
        self.bias_initializer = tf_keras.initializers.get(bias_initializer)

    @property
    def state_size(self) -> int:
        return self.units

    @property
    def output_size(self) -> int:
        return self.units


class MinimalRNNCell(_UnitsCell):
    """``tf.contrib.rnn.MinimalRNNCell``; see :func:`minimal_rnn_cell`.

    Modern equivalent: :class:`modern_rnn.minimal_rnn.MinimalRNNCell`.
    """

    def build(self, inputs_shape) -> None:
        depth = input_depth(inputs_shape)
        self.kernel = self.add_weight(name="kernel", shape=[depth + 2 * self.units, self.units],
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=[self.units], initializer=self.bias_initializer)
        self.built = True

    def call(self, inputs, state):
        depth = input_depth(inputs.shape)
        feedforward_weight, gate_weight = tf.split(self.kernel, [depth, 2 * self.units], axis=0)
        feedforward = self.activation(tf.matmul(inputs, feedforward_weight))
        u = tf.sigmoid(tf.nn.bias_add(tf.matmul(tf.concat([feedforward, state], 1), gate_weight), self.bias))
        new_h = u * state + (1 - u) * feedforward
        return new_h, new_h


class CFNCell(_UnitsCell):
    """``tf.contrib.rnn.CFNCell``; see :func:`cfn_cell`.

    Modern equivalent: :class:`modern_rnn.minimal_rnn.CFNCell`.
    """

    def build(self, inputs_shape) -> None:
        depth, u = input_depth(inputs_shape), self.units
        self.kernel = self.add_weight(shape=[depth, 3 * u], name="kernel", initializer=self.kernel_initializer)
        self.recurrent_kernel = self.add_weight(shape=[u, 2 * u], name="recurrent_kernel",
                                                initializer=self.kernel_initializer)
        self.bias = self.add_weight(shape=[2 * u], name="bias", initializer=self.bias_initializer)
        self.built = True

    def call(self, inputs, state):
        v, w = tf.split(self.kernel, [2 * self.units, self.units], axis=1)
        gates = tf.sigmoid(tf.nn.bias_add(tf.matmul(state, self.recurrent_kernel) + tf.matmul(inputs, v), self.bias))
        theta, eta = tf.split(gates, 2, axis=1)
        new_h = theta * self.activation(state) + (1 - eta) * self.activation(tf.matmul(inputs, w))
        return new_h, new_h


def minimal_rnn_cell(units: int, activation: Optional[str] = None, name: Optional[str] = None) -> MinimalRNNCell:
    """``tf.contrib.rnn.MinimalRNNCell(units, activation)`` (TF 1.15); variables ``minimal_rnn_cell/kernel
    [D+2U, U]`` (row blocks W_x, W, V) and ``bias [U]``.

    Modern equivalent: :func:`modern_rnn.minimal_rnn.minimal_rnn_cell`.
    """
    return MinimalRNNCell(units, activation=activation or "tanh", name=name)


def cfn_cell(units: int, activation: Optional[str] = None, name: Optional[str] = None) -> CFNCell:
    """``tf.contrib.rnn.CFNCell(units, activation)`` (TF 1.15); variables ``cfn_cell/kernel [D, 3U]`` (column blocks
    V_theta, V_eta, W), ``recurrent_kernel [U, 2U]`` and ``bias [2U]``.

    Modern equivalent: :func:`modern_rnn.minimal_rnn.cfn_cell`.
    """
    return CFNCell(units, activation=activation or "tanh", name=name)


__all__ = ["MinimalRNNCell", "CFNCell", "minimal_rnn_cell", "cfn_cell"]
