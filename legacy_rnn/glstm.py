"""``tf.contrib.rnn.GLSTMCell`` (TF 1.15 ``tensorflow/contrib/rnn/python/ops/rnn_cell.py``), rebuilt for TensorFlow
2.21 under the variable names TF 1.15 gave it, so a TF1 program that used it runs and restores its checkpoint.

Read beside :mod:`modern_rnn.glstm`: the same names, in the same order.

The group LSTM (Kuchaiev and Ginsburg, "Factorization Tricks for LSTM Networks", ICLR 2017 workshop): G independent
LSTM sub-cells, sub-cell g reading the g-th slice of the input and of the previous output::

    i_g, j_g, f_g, o_g = split([x_g, m_g] W_g, 4)          # group{g}/kernel [D/G + R/G, 4U/G], no bias; R = P or U
    i, j, f, o = concat_g(i_g) + bias_i, ... + bias_o       # bias_{i,j,f,o} [U] (zeros at init)
    c' = sigmoid(f + forget_bias) c + sigmoid(i) tanh(j)   # tanh here whatever the activation (as in TF 1.15)
    m' = sigmoid(o) activation(c')                         # [m' = m' projection/kernel, [U, P]]

Variables (the cell's default scope is its class name in snake case): ``<rnn scope>/glstm_cell/group0/kernel`` ..
``group{G-1}/kernel``, ``bias_i``, ``bias_j``, ``bias_f``, ``bias_o``, with ``num_proj`` ``projection/kernel``.
State ``LSTMStateTuple(c, m)``. forget_bias and activation are Python values of the program, not in the checkpoint.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

from legacy_rnn.cell_utils import SizesFromAttributes
from legacy_rnn.contrib_lstm_variants import activation_fn, check_proj
from migration.core.errors import check_positive_int

v1 = tf.compat.v1
rnn_cell = v1.nn.rnn_cell
_GATES: tuple[str, ...] = ("i", "j", "f", "o")


class GLSTMCell(SizesFromAttributes, rnn_cell.RNNCell):
    """``tf.contrib.rnn.GLSTMCell`` with TF 1.15's signature; see :func:`glstm_cell`.

    Modern equivalent: :class:`modern_rnn.glstm.GLSTMCell`.
    """

    def __init__(self, num_units: int, initializer=None, num_proj: Optional[int] = None, number_of_groups: int = 1,
                 forget_bias: float = 1.0, activation=tf.tanh, reuse=None) -> None:
        super().__init__(_reuse=reuse)
        self._num_units = check_positive_int("units", num_units)
        self._initializer, self._num_proj = initializer, check_proj(num_proj)
        self._number_of_groups = check_positive_int("number_of_groups", number_of_groups)
        self._forget_bias, self._activation = float(forget_bias), activation_fn(activation)
        if num_units % number_of_groups != 0:
            raise ValueError("num_units must be divisible by number_of_groups")
        if num_proj and num_proj % number_of_groups != 0:
            raise ValueError("num_proj must be divisible by number_of_groups")
        out = num_proj or num_units
        self._group_shape = [out // number_of_groups, num_units // number_of_groups]
        self._state_size = rnn_cell.LSTMStateTuple(num_units, out)
        self._output_size = out

    def call(self, inputs, state):
        c_prev, m_prev = state
        groups, (rows_m, units_g) = self._number_of_groups, self._group_shape
        depth = tf.compat.dimension_value(inputs.shape[1])
        if depth is None:
            raise ValueError("input size must be statically known")
        if depth % groups != 0:
            raise ValueError(f"input size ({depth}) must be divisible by number_of_groups ({groups})")
        rows_x, dtype = depth // groups, inputs.dtype
        with v1.variable_scope(v1.get_variable_scope(), initializer=self._initializer):
            parts = {gate: [] for gate in _GATES}
            for g in range(groups):
                with v1.variable_scope(f"group{g}"):
                    x_g = tf.concat([inputs[:, g * rows_x:(g + 1) * rows_x], m_prev[:, g * rows_m:(g + 1) * rows_m]], 1)
                    kernel = v1.get_variable("kernel", [rows_x + rows_m, 4 * units_g], dtype)
                    for gate, block in zip(_GATES, tf.split(tf.matmul(x_g, kernel), 4, axis=1)):
                        parts[gate].append(block)
            i, j, f, o = (tf.nn.bias_add(tf.concat(parts[gate], 1), v1.get_variable(
                f"bias_{gate}", [self._num_units], dtype, initializer=v1.constant_initializer(0.0))) for gate in _GATES)
        c = tf.sigmoid(f + self._forget_bias) * c_prev + tf.sigmoid(i) * tf.tanh(j)
        m = tf.sigmoid(o) * self._activation(c)
        if self._num_proj is not None:
            with v1.variable_scope("projection"):
                m = tf.matmul(m, v1.get_variable("kernel", [self._num_units, self._num_proj], dtype))
        return m, rnn_cell.LSTMStateTuple(c, m)


def glstm_cell(units: int, forget_bias: float = 1.0, activation: Optional[str] = None, num_proj: Optional[int] = None,
               number_of_groups: int = 1) -> GLSTMCell:
    """``tf.contrib.rnn.GLSTMCell(units, num_proj=, number_of_groups=, forget_bias=, activation=)`` (TF 1.15);
    variables ``glstm_cell/group{g}/kernel [D/G + R/G, 4U/G]`` (blocks i, j, f, o of group g), ``bias_{i,j,f,o}
    [U]``, [``projection/kernel [U, P]``].

    Modern equivalent: :func:`modern_rnn.glstm.glstm_cell` (group kernels stacked by rows, forget_bias folded).
    """
    return GLSTMCell(units, num_proj=num_proj, number_of_groups=number_of_groups, forget_bias=forget_bias,
                     activation=activation_fn(activation))


__all__ = ["GLSTMCell", "glstm_cell"]
