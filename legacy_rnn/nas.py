"""``tf.contrib.rnn.NASCell`` (TF 1.15 ``tensorflow/contrib/rnn/python/ops/rnn_cell.py``), rebuilt for TensorFlow 2.21
under the variable names TF 1.15 gave it, so a TF1 program that used it runs and restores its checkpoint.

Read beside :mod:`modern_rnn.nas`: the same names, in the same order.

The recurrent cell found by Neural Architecture Search (Zoph and Le, ICLR 2017): eight blocks of the input and of
the previous output, a fixed tree of sigmoid/relu/tanh nodes, and an optional linear projection::

    m_k = split(m_prev R [+ b], 8);  x_k = split(x K, 8)      # R [P or U, 8U], K [D, 8U], b [8U] (use_bias)
    l0 = sig(x0 + m0)   l1 = relu(x1 + m1)   l2 = sig(x2 + m2)   l3 = relu(x3 * m3)      # note: x3 * m3
    l4 = tanh(x4 + m4)  l5 = sig(x5 + m5)    l6 = tanh(x6 + m6)  l7 = sig(x7 + m7)
    c' = tanh(tanh(l0 l1) + c) * tanh(l2 + l3)
    m' = tanh(c' * tanh(tanh(l4 l5) + sig(l6 + l7)))          # [m' = m' W_P, projection_weights [U, P]]

Variables (the cell's default scope is its class name in snake case): ``<rnn scope>/nas_cell/recurrent_kernel``,
``kernel``, with ``use_bias=True`` ``bias`` (zeros at init; added to the recurrent product only), with ``num_proj``
``projection_weights``. State ``LSTMStateTuple(c, m)``. No hyper-parameter lives outside the checkpoint.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
from tf_keras.src.layers.rnn.legacy_cells import LayerRNNCell

from legacy_rnn.cell_utils import SizesFromAttributes, input_depth
from migration.core.errors import check_positive_int

v1 = tf.compat.v1
rnn_cell = v1.nn.rnn_cell
NAS_BASE = 8


class NASCell(SizesFromAttributes, LayerRNNCell):
    """``tf.contrib.rnn.NASCell`` with TF 1.15's signature; see :func:`nas_cell`.

    Modern equivalent: :class:`modern_rnn.nas.NASCell`.
    """

    def __init__(self, num_units: int, num_proj: Optional[int] = None, use_bias: bool = False, reuse=None,
                 **kwargs) -> None:
        super().__init__(_reuse=reuse, **kwargs)
        self._num_units = check_positive_int("units", num_units)
        self._num_proj = None if num_proj is None else check_positive_int("num_proj", num_proj)
        self._use_bias = bool(use_bias)
        out = num_units if num_proj is None else num_proj
        self._state_size = rnn_cell.LSTMStateTuple(num_units, out)
        self._output_size = out

    def build(self, inputs_shape) -> None:
        depth, u = input_depth(inputs_shape), self._num_units
        self.recurrent_kernel = self.add_weight("recurrent_kernel", [self._output_size, NAS_BASE * u])
        self.kernel = self.add_weight("kernel", [depth, NAS_BASE * u])
        if self._use_bias:
            self.bias = self.add_weight("bias", [NAS_BASE * u], initializer=v1.zeros_initializer())
        if self._num_proj is not None:
            self.projection_weights = self.add_weight("projection_weights", [u, self._num_proj])
        self.built = True

    def call(self, inputs, state):
        c_prev, m_prev = state
        m_matrix = tf.matmul(m_prev, self.recurrent_kernel)
        if self._use_bias:
            m_matrix = tf.nn.bias_add(m_matrix, self.bias)
        x, m = tf.split(tf.matmul(inputs, self.kernel), NAS_BASE, axis=1), tf.split(m_matrix, NAS_BASE, axis=1)
        first = [tf.sigmoid(x[0] + m[0]), tf.nn.relu(x[1] + m[1]), tf.sigmoid(x[2] + m[2]), tf.nn.relu(x[3] * m[3]),
                 tf.tanh(x[4] + m[4]), tf.sigmoid(x[5] + m[5]), tf.tanh(x[6] + m[6]), tf.sigmoid(x[7] + m[7])]
        new_c = tf.tanh(tf.tanh(first[0] * first[1]) + c_prev) * tf.tanh(first[2] + first[3])
        new_m = tf.tanh(new_c * tf.tanh(tf.tanh(first[4] * first[5]) + tf.sigmoid(first[6] + first[7])))
        if self._num_proj is not None:
            new_m = tf.matmul(new_m, self.projection_weights)
        return new_m, rnn_cell.LSTMStateTuple(new_c, new_m)


def nas_cell(units: int, num_proj: Optional[int] = None, use_bias: bool = False,
             name: Optional[str] = None) -> NASCell:
    """``tf.contrib.rnn.NASCell(units, num_proj, use_bias)`` (TF 1.15); variables ``nas_cell/recurrent_kernel
    [P or U, 8U]``, ``kernel [D, 8U]``, [``bias [8U]``], [``projection_weights [U, P]``].

    Modern equivalent: :func:`modern_rnn.nas.nas_cell` (the same arrays, the same names).
    """
    return NASCell(units, num_proj=num_proj, use_bias=use_bias, name=name)


__all__ = ["NASCell", "nas_cell"]
