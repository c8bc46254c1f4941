"""``PhasedLSTMCell``: the Keras 2 (tf_keras) twin of TF 1.15's ``tf.contrib.rnn.PhasedLSTMCell`` (default options:
no peepholes); stock tf_keras has none.

Read beside :mod:`legacy_rnn.phased_lstm`: the same names, in the same order.

The input is ONE tensor ``[B, 1 + D]``: column 0 is the time (TF1's ``time [B, 1]``), columns 1.. the features
(TF1's ``x``). ``keras.layers.RNN`` iterates over one tensor, so the pair TF1 fed to ``dynamic_rnn`` as
``(times [B, T, 1], x [B, T, D])`` is fed here as ``concat([times, x], -1)`` (``rnn-migrate convert`` builds that
concatenation from the original graph's two tensors). The time is read in float32 (TF1 computed the cycle ratio in
the time's own dtype: with a float64 time, large timestamps give other gates here; feed times relative to the start).

TF1's arrays are kept under mirrored names (the conversion is a checked copy): ``mask_gates_kernel [D+U, 2U]``,
``mask_gates_bias [2U]`` (blocks i, f), ``new_input_kernel [D+U, U]``, ``new_input_bias``, ``output_gate_kernel
[D+U, U]``, ``output_gate_bias``, ``period [U]``, ``phase [U]``, ``ratio_on [U]`` (trainable unless
``trainable_ratio_on=False``). ``leak`` is a constant of the config. State ``[h, c]`` (TF1: ``LSTMStateTuple(c,
h)``); the step is :mod:`legacy_rnn.phased_lstm`'s.
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int

@keras.saving.register_keras_serializable(package="modern_rnn")
class PhasedLSTMCell(keras.layers.Layer):
    """The Phased LSTM cell on ``[time, x]`` inputs (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.phased_lstm.PhasedLSTMCell`.
    """

    is_lstm_state = True

    def __init__(self, units: int, leak: float = 0.001, ratio_on: float = 0.1, trainable_ratio_on: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.leak = float(leak)
        self.ratio_on_init = float(ratio_on)
        self.trainable_ratio_on = bool(trainable_ratio_on)
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape) -> None:
        depth, u = int(input_shape[-1]) - 1, self.units
        if depth < 1:
            raise ValueError(f"PhasedLSTMCell takes [time, x...] inputs of width 1 + D (D >= 1); got {input_shape}.")
        add = self.add_weight
        self.mask_gates_kernel = add(name="mask_gates_kernel", shape=(depth + u, 2 * u), initializer="glorot_uniform")
        self.mask_gates_bias = add(name="mask_gates_bias", shape=(2 * u,), initializer="zeros")
        self.new_input_kernel = add(name="new_input_kernel", shape=(depth + u, u), initializer="glorot_uniform")
        self.new_input_bias = add(name="new_input_bias", shape=(u,), initializer="zeros")
        self.output_gate_kernel = add(name="output_gate_kernel", shape=(depth + u, u), initializer="glorot_uniform")
        self.output_gate_bias = add(name="output_gate_bias", shape=(u,), initializer="zeros")
        self.period = add(name="period", shape=(u,), initializer=keras.initializers.RandomUniform(1.0, 1000.0))
        self.phase = add(name="phase", shape=(u,), initializer=keras.initializers.RandomUniform(0.0, 1.0))
        self.ratio_on = add(name="ratio_on", shape=(u,), initializer=keras.initializers.Constant(self.ratio_on_init),
                            trainable=self.trainable_ratio_on)
        self.built = True

    def call(self, inputs, states, training=None):
        h_prev, c_prev = states[0], states[1]
        time, x = inputs[:, :1], inputs[:, 1:]
        xh = tf.concat([x, h_prev], 1)
        input_gate, forget_gate = tf.split(tf.sigmoid(tf.matmul(xh, self.mask_gates_kernel) + self.mask_gates_bias),
                                           2, axis=1)
        new_input = tf.tanh(tf.matmul(xh, self.new_input_kernel) + self.new_input_bias)
        new_c = c_prev * forget_gate + input_gate * new_input
        new_h = tf.tanh(new_c) * tf.sigmoid(tf.matmul(xh, self.output_gate_kernel) + self.output_gate_bias)
        shifted = time - self.phase
        # mod passing the gradient of its first argument through, as TF1's _mod
        cycle_ratio = (tf.stop_gradient(tf.math.floormod(shifted, self.period) - shifted) + shifted) / self.period
        k_up = 2 * cycle_ratio / self.ratio_on
        k = tf.where(cycle_ratio < self.ratio_on, 2 - k_up, self.leak * cycle_ratio)
        k = tf.where(cycle_ratio < 0.5 * self.ratio_on, k_up, k)
        new_c = k * new_c + (1 - k) * c_prev
        new_h = k * new_h + (1 - k) * h_prev
        return new_h, [new_h, new_c]

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            batch_size, dtype = tf.shape(inputs)[0], inputs.dtype
        return [tf.zeros([batch_size, self.units], dtype or tf.float32)] * 2

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, leak=self.leak, ratio_on=self.ratio_on_init,
                      trainable_ratio_on=self.trainable_ratio_on)
        return config


def phased_lstm_cell(units: int, use_peepholes: bool = False, leak: float = 0.001, ratio_on: float = 0.1,
                     trainable_ratio_on: bool = True) -> PhasedLSTMCell:
    """:class:`PhasedLSTMCell` on ``[B, 1 + D]`` inputs (time first); no peepholes (TF1's ``use_peepholes=True``
    has no twin yet: refused).

    Legacy equivalent: :func:`legacy_rnn.phased_lstm.phased_lstm_cell`.
    """
    if use_peepholes:
        raise ValueError("The Keras PhasedLSTMCell implements use_peepholes=False only (TF 1.15's peephole option "
                         "has no twin yet).")
    return PhasedLSTMCell(units, leak=leak, ratio_on=ratio_on, trainable_ratio_on=trainable_ratio_on)


__all__ = ["PhasedLSTMCell", "phased_lstm_cell"]
