"""``TimeFreqLSTMCell``: the Keras 2 (tf_keras) twin of TF 1.15's ``tf.contrib.rnn.TimeFreqLSTMCell`` (default
options: no peepholes, no cell clipping); stock tf_keras has none.

Read beside :mod:`legacy_rnn.time_freq_lstm`: the same names, in the same order.

One LSTM (shared weights) runs over the ``F = int((D - feature_size) / frequency_skip) + 1`` frequency windows of
each ``[B, D]`` step, each window reading its own time state and the previous window's output (see the legacy
module). Weights: ``kernel [feature_size + 2U, 4U]`` (TF1's ``W_0``: rows x_f, m_prev, m_prev_freq; column blocks
i, j, f, o kept), ``bias [4U]`` (TF1's ``B`` with ``forget_bias`` folded into the f block). Output ``[B, F U]``, state
``[concat(c_0, m_0, .., c_{F-1}, m_{F-1})]`` (one ``[B, 2 F U]`` tensor, TF1's layout). Unlike TF 1.15 the sizes
are right for F > 1 (TF 1.15 reported ``2U``/``U``).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int


def _frequencies(input_size: int, feature_size: int, frequency_skip: int) -> int:
    if input_size < feature_size:
        raise ValueError(f"TimeFreqLSTMCell: the input size {input_size} is below feature_size {feature_size}.")
    return int((input_size - feature_size) / frequency_skip) + 1


@keras.saving.register_keras_serializable(package="modern_rnn")
class TimeFreqLSTMCell(keras.layers.Layer):
    """The time-frequency LSTM cell (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.time_freq_lstm.TimeFreqLSTMCell`.
    """

    def __init__(self, units: int, feature_size: int, frequency_skip: int = 1, forget_bias: float = 1.0,
                 input_size: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.feature_size = check_positive_int("feature_size", feature_size)
        self.frequency_skip = check_positive_int("frequency_skip", frequency_skip)
        self.forget_bias = float(forget_bias)
        self.input_size = int(input_size) or self.feature_size
        self.frequencies = _frequencies(self.input_size, self.feature_size, self.frequency_skip)
        self.state_size = [2 * units * self.frequencies]
        self.output_size = units * self.frequencies

    def build(self, input_shape) -> None:
        if int(input_shape[-1]) != self.input_size:
            raise ValueError(f"TimeFreqLSTMCell was made for inputs of size {self.input_size}; got {input_shape}.")
        u = self.units
        bias = np.concatenate([np.zeros(2 * u), np.full(u, self.forget_bias), np.zeros(u)]).tolist()
        self.kernel = self.add_weight(name="kernel", shape=(self.feature_size + 2 * u, 4 * u),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(4 * u,), initializer=keras.initializers.Constant(bias))
        self.built = True

    def call(self, inputs, states, training=None):
        state = states[0] if isinstance(states, (list, tuple)) else states
        u, fs = self.units, self.feature_size
        m_prev_freq = tf.zeros_like(state[:, :u])
        outputs, new_state = [], []
        for fq in range(self.frequencies):
            x_f = inputs[:, fq * self.frequency_skip:fq * self.frequency_skip + fs]
            c_prev, m_prev = state[:, 2 * fq * u:(2 * fq + 1) * u], state[:, (2 * fq + 1) * u:(2 * fq + 2) * u]
            z = tf.matmul(tf.concat([x_f, m_prev, m_prev_freq], 1), self.kernel) + self.bias
            i, j, f, o = tf.split(z, 4, axis=1)
            c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * tf.tanh(j)
            m = tf.sigmoid(o) * tf.tanh(c)
            m_prev_freq = m
            outputs.append(m)
            new_state += [c, m]
        return tf.concat(outputs, 1), [tf.concat(new_state, 1)]

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            batch_size, dtype = tf.shape(inputs)[0], inputs.dtype
        return [tf.zeros([batch_size, self.state_size[0]], dtype or tf.float32)]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, feature_size=self.feature_size, frequency_skip=self.frequency_skip,
                      forget_bias=self.forget_bias, input_size=self.input_size)
        return config


def time_freq_lstm_cell(units: int, feature_size: int, frequency_skip: int = 1, forget_bias: float = 1.0,
                        input_size: int = 0) -> TimeFreqLSTMCell:
    """:class:`TimeFreqLSTMCell` over ``[B, input_size]`` steps (``input_size`` 0: ``feature_size``, one window).

    Legacy equivalent: :func:`legacy_rnn.time_freq_lstm.time_freq_lstm_cell`.
    """
    return TimeFreqLSTMCell(units, feature_size, frequency_skip, forget_bias, input_size)


__all__ = ["TimeFreqLSTMCell", "time_freq_lstm_cell"]
