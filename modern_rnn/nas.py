"""``NASCell``: the Keras 2 (tf_keras) twin of ``tf.contrib.rnn.NASCell`` (every TF 1.15 option: ``num_proj``,
``use_bias``); stock tf_keras has none.

Read beside :mod:`legacy_rnn.nas`: the same names, in the same order.

.. math::

    x_0..x_7 &= \\mathrm{split}(x K, 8), \\quad m_0..m_7 = \\mathrm{split}(m_{t-1} R + b, 8) \\\\
    c_t &= \\tanh(\\tanh(\\sigma(x_0 + m_0)\\,\\mathrm{relu}(x_1 + m_1)) + c_{t-1})
           \\tanh(\\sigma(x_2 + m_2) + \\mathrm{relu}(x_3 m_3)) \\\\
    m_t &= \\tanh(c_t \\tanh(\\tanh(\\tanh(x_4 + m_4)\\,\\sigma(x_5 + m_5))
           + \\sigma(\\tanh(x_6 + m_6) + \\sigma(x_7 + m_7)))) \\; [P]

Weights (``get_weights()`` order, TF1's arrays unchanged): ``kernel [D, 8U]``, ``recurrent_kernel [R, 8U]`` (R = P
or U), ``bias [8U]`` (``use_bias`` only), ``projection_weights [U, P]`` (``num_proj`` only). State ``[m, c]`` (TF1:
``LSTMStateTuple(c, m)``). Output ``m``.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int
from modern_rnn.lstm_state_cell import ZerosFromStateSize

NAS_BASE = 8


@keras.saving.register_keras_serializable(package="modern_rnn")
class NASCell(ZerosFromStateSize, keras.layers.Layer):
    """The NAS recurrent cell (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.nas.NASCell`.
    """

    is_lstm_state = True  # state [m, c]: modern_rnn.flatten_state returns TF1's (c, m)

    def __init__(self, units: int, num_proj: Optional[int] = None, use_bias: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.num_proj = None if num_proj is None else check_positive_int("num_proj", num_proj)
        self.use_bias = bool(use_bias)
        self.output_size = self.units if num_proj is None else self.num_proj
        self.state_size = [self.output_size, self.units]

    def build(self, input_shape) -> None:
        depth, u = int(input_shape[-1]), self.units
        self.kernel = self.add_weight(name="kernel", shape=(depth, NAS_BASE * u), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.output_size, NAS_BASE * u),
                                                initializer="glorot_uniform")
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(NAS_BASE * u,), initializer="zeros")
        if self.num_proj is not None:
            self.projection_weights = self.add_weight(name="projection_weights", shape=(u, self.num_proj),
                                                      initializer="glorot_uniform")
        self.built = True

    def call(self, inputs, states, training=None):
        m_prev, c_prev = states[0], states[1]
        m_matrix = tf.matmul(m_prev, self.recurrent_kernel)
        if self.use_bias:
            m_matrix = m_matrix + self.bias
        x, m = tf.split(tf.matmul(inputs, self.kernel), NAS_BASE, -1), tf.split(m_matrix, NAS_BASE, -1)
        first = [tf.sigmoid(x[0] + m[0]), tf.nn.relu(x[1] + m[1]), tf.sigmoid(x[2] + m[2]), tf.nn.relu(x[3] * m[3]),
                 tf.tanh(x[4] + m[4]), tf.sigmoid(x[5] + m[5]), tf.tanh(x[6] + m[6]), tf.sigmoid(x[7] + m[7])]
        c = tf.tanh(tf.tanh(first[0] * first[1]) + c_prev) * tf.tanh(first[2] + first[3])
        h = tf.tanh(c * tf.tanh(tf.tanh(first[4] * first[5]) + tf.sigmoid(first[6] + first[7])))
        if self.num_proj is not None:
            h = tf.matmul(h, self.projection_weights)
        return h, [h, c]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, num_proj=self.num_proj, use_bias=self.use_bias)
        return config


def nas_cell(units: int, num_proj: Optional[int] = None, use_bias: bool = False,
             name: Optional[str] = None) -> NASCell:
    """:class:`NASCell` with TF 1.15's options.

    Legacy equivalent: :func:`legacy_rnn.nas.nas_cell`.
    """
    return NASCell(units, num_proj=num_proj, use_bias=use_bias, name=name)


__all__ = ["NASCell", "nas_cell"]
