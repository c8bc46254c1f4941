"""``tf.contrib.rnn.IndRNNCell``, ``IndyGRUCell`` and ``IndyLSTMCell`` (TF 1.15
``tensorflow/contrib/rnn/python/ops/rnn_cell.py``), rebuilt for TensorFlow 2.21 under the variable names TF 1.15 gave
them, so a TF1 program that used them runs and restores its checkpoint.

Read beside :mod:`modern_rnn.indrnn`: the same names, in the same order.

The independently recurrent cells (Li et al., "Independently Recurrent Neural Network", CVPR 2018; IndyGRU/IndyLSTM:
Gonnet & Deselaers, arXiv:1903.08023) replace each recurrent matrix by a vector: every unit sees only its own state.
``*`` below is element-wise; ``u`` vectors are stored as ``[1, n]`` matrices (TF 1.15's shapes)::

    IndRNNCell:   h' = act(x W + h * u + b)                        kernel_w [D, U], kernel_u [1, U], bias [U]
    IndyGRUCell:  r, z = split(sigmoid(x Wg + [h, h] * ug + bg))    gates/kernel_w [D, 2U], gates/kernel_u [1, 2U],
                  c = act(x Wc + (r * h) * uc + bc)                 gates/bias [2U] (ones at init), candidate/kernel
                  h' = z h + (1 - z) c                              [D, U], candidate/kernel_u [1, U], candidate/bias
    IndyLSTMCell: i, j, f, o = split(x W + [h, h, h, h] * u + b)    kernel_w [D, 4U], kernel_u [1, 4U], bias [4U]
                  c' = c sigmoid(f + forget_bias) + sigmoid(i) act(j);  h' = act(c') sigmoid(o);  state (c, h)

Variables live under the cell's default scope (its class name in snake case): ``ind_rnn_cell``, ``indy_gru_cell``,
``indy_lstm_cell``. forget_bias and the activations are Python values of the program, not in the checkpoint.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras
from tf_keras.src.layers.rnn.legacy_cells import LayerRNNCell

from legacy_rnn.cell_utils import NumUnitsCell, activation_fn, input_depth
from migration.core.errors import check_positive_int

v1 = tf.compat.v1


def _u_initializer():
    return v1.random_uniform_initializer(minval=-1, maxval=1)


class IndRNNCell(NumUnitsCell):
    """``tf.contrib.rnn.IndRNNCell``; see :func:`ind_rnn_cell`.

    Modern equivalent: :class:`modern_rnn.indrnn.IndRNNCell`.
    """

    def __init__(self, num_units: int, activation=None, reuse=None, name: Optional[str] = None, dtype=None) -> None:
        super().__init__(_reuse=reuse, name=name, dtype=dtype)
        self.input_spec = tf_keras.layers.InputSpec(ndim=2)
        self._num_units = check_positive_int("units", num_units)
        self._activation = activation_fn(activation)

    def build(self, inputs_shape) -> None:
        depth, u = input_depth(inputs_shape), self._num_units
        self._kernel_w = self.add_weight("kernel_w", [depth, u])
        self._kernel_u = self.add_weight("kernel_u", [1, u], initializer=_u_initializer())
        self._bias = self.add_weight("bias", [u], initializer=v1.zeros_initializer())
        self.built = True

    def call(self, inputs, state):
        gate_inputs = tf.matmul(inputs, self._kernel_w) + state * self._kernel_u
        output = self._activation(tf.nn.bias_add(gate_inputs, self._bias))
        return output, output


class IndyGRUCell(NumUnitsCell):
    """``tf.contrib.rnn.IndyGRUCell``; see :func:`indy_gru_cell`.

    Modern equivalent: :class:`modern_rnn.indrnn.IndyGRUCell`.
    """

    def __init__(self, num_units: int, activation=None, reuse=None, kernel_initializer=None, bias_initializer=None,
                 name: Optional[str] = None, dtype=None) -> None:
        super().__init__(_reuse=reuse, name=name, dtype=dtype)
        self.input_spec = tf_keras.layers.InputSpec(ndim=2)
        self._num_units = check_positive_int("units", num_units)
        self._activation = activation_fn(activation)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    def build(self, inputs_shape) -> None:
        depth, u = input_depth(inputs_shape), self._num_units
        init_k, init_b = self._kernel_initializer, self._bias_initializer
        self._gate_kernel_w = self.add_weight("gates/kernel_w", [depth, 2 * u], initializer=init_k)
        self._gate_kernel_u = self.add_weight("gates/kernel_u", [1, 2 * u], initializer=_u_initializer())
        self._gate_bias = self.add_weight("gates/bias", [2 * u],
                                          initializer=init_b if init_b is not None else v1.constant_initializer(1.0))
        self._candidate_kernel_w = self.add_weight("candidate/kernel", [depth, u], initializer=init_k)
        self._candidate_kernel_u = self.add_weight("candidate/kernel_u", [1, u], initializer=_u_initializer())
        self._candidate_bias = self.add_weight("candidate/bias", [u],
                                               initializer=init_b if init_b is not None else v1.zeros_initializer())
        self.built = True

    def call(self, inputs, state):
        gate_inputs = tf.matmul(inputs, self._gate_kernel_w) + tf.tile(state, [1, 2]) * self._gate_kernel_u
        r, u = tf.split(tf.sigmoid(tf.nn.bias_add(gate_inputs, self._gate_bias)), 2, axis=1)
        candidate = tf.matmul(inputs, self._candidate_kernel_w) + (r * state) * self._candidate_kernel_u
        c = self._activation(tf.nn.bias_add(candidate, self._candidate_bias))
        new_h = u * state + (1 - u) * c
        return new_h, new_h


class IndyLSTMCell(LayerRNNCell):
    """``tf.contrib.rnn.IndyLSTMCell``; see :func:`indy_lstm_cell`.

    Modern equivalent: :class:`modern_rnn.indrnn.IndyLSTMCell`.
    """

    def __init__(self, num_units: int, forget_bias: float = 1.0, activation=None, reuse=None,
                 kernel_initializer=None, bias_initializer=None, name: Optional[str] = None, dtype=None) -> None:
        super().__init__(_reuse=reuse, name=name, dtype=dtype)
        self.input_spec = tf_keras.layers.InputSpec(ndim=2)
        self._num_units = check_positive_int("units", num_units)
        self._forget_bias = float(forget_bias)
        self._activation = activation_fn(activation)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    @property
    def state_size(self):
        return v1.nn.rnn_cell.LSTMStateTuple(self._num_units, self._num_units)

    @property
    def output_size(self) -> int:
        return self._num_units

    def build(self, inputs_shape) -> None:
        depth, u = input_depth(inputs_shape), self._num_units
        init_b = self._bias_initializer
        self._kernel_w = self.add_weight("kernel_w", [depth, 4 * u], initializer=self._kernel_initializer)
        self._kernel_u = self.add_weight("kernel_u", [1, 4 * u], initializer=_u_initializer())
        self._bias = self.add_weight("bias", [4 * u],
                                     initializer=init_b if init_b is not None else v1.zeros_initializer())
        self.built = True

    def call(self, inputs, state):
        c, h = state
        gate_inputs = tf.matmul(inputs, self._kernel_w) + tf.tile(h, [1, 4]) * self._kernel_u
        i, j, f, o = tf.split(tf.nn.bias_add(gate_inputs, self._bias), 4, axis=1)
        new_c = c * tf.sigmoid(f + tf.constant(self._forget_bias, f.dtype)) + tf.sigmoid(i) * self._activation(j)
        new_h = self._activation(new_c) * tf.sigmoid(o)
        return new_h, v1.nn.rnn_cell.LSTMStateTuple(new_c, new_h)


def ind_rnn_cell(units: int, activation: Optional[str] = None, name: Optional[str] = None) -> IndRNNCell:
    """``tf.contrib.rnn.IndRNNCell(units, activation)`` (TF 1.15); variables ``ind_rnn_cell/kernel_w [D, U]``,
    ``kernel_u [1, U]``, ``bias [U]``.

    Modern equivalent: :func:`modern_rnn.indrnn.ind_rnn_cell`.
    """
    return IndRNNCell(units, activation=activation, name=name)


def indy_gru_cell(units: int, activation: Optional[str] = None, name: Optional[str] = None) -> IndyGRUCell:
    """``tf.contrib.rnn.IndyGRUCell(units, activation)`` (TF 1.15); variables ``indy_gru_cell/gates/{kernel_w [D, 2U],
    kernel_u [1, 2U], bias [2U]}`` (blocks r, u) and ``candidate/{kernel [D, U], kernel_u [1, U], bias [U]}``.

    Modern equivalent: :func:`modern_rnn.indrnn.indy_gru_cell` (blocks z, r, h).
    """
    return IndyGRUCell(units, activation=activation, name=name)


def indy_lstm_cell(units: int, forget_bias: float = 1.0, activation: Optional[str] = None,
                   name: Optional[str] = None) -> IndyLSTMCell:
    """``tf.contrib.rnn.IndyLSTMCell(units, forget_bias, activation)`` (TF 1.15); variables
    ``indy_lstm_cell/kernel_w [D, 4U]``, ``kernel_u [1, 4U]``, ``bias [4U]`` (blocks i, j, f, o); state ``(c, h)``.

    Modern equivalent: :func:`modern_rnn.indrnn.indy_lstm_cell` (blocks i, f, c, o; forget_bias folded).
    """
    return IndyLSTMCell(units, forget_bias=forget_bias, activation=activation, name=name)


__all__ = ["IndRNNCell", "IndyGRUCell", "IndyLSTMCell", "ind_rnn_cell", "indy_gru_cell", "indy_lstm_cell"]
