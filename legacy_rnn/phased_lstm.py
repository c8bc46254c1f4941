"""``tf.contrib.rnn.PhasedLSTMCell`` (TF 1.15 ``tensorflow/contrib/rnn/python/ops/rnn_cell.py``), rebuilt for
TensorFlow 2.21 under the variable names TF 1.15 gave it, so a TF1 program that used it runs and restores its
checkpoint.

Read beside :mod:`modern_rnn.phased_lstm`: the same names, in the same order.

Phased LSTM (Neil, Pfeiffer, Liu, "Phased LSTM", NIPS 2016): an LSTM step whose update is let through by a
per-unit time gate ``k`` that opens once per period. The input is the pair ``(time [B, 1], x [B, D])``::

    i, f = split(sigmoid([x, h (, c)] K_mask + b_mask), 2)   # mask_gates/kernel [D+U(+U), 2U]; blocks i, f
    j = tanh([x, h] K_new + b_new)                          # new_input/kernel [D+U, U]
    c~ = c f + i j
    o = sigmoid([x, h (, c~)] K_out + b_out)                # output_gate/kernel [D+U(+U), U]
    h~ = tanh(c~) o
    r = mod(time - phase, period) / period                  # the cycle ratio, in time's dtype, then float32
    k = 2 r / ratio_on        where r < ratio_on / 2        # opening
        2 - 2 r / ratio_on    where ratio_on / 2 <= r < ratio_on   # closing
        leak r                otherwise                     # closed: leak is applied at inference too
    c' = k c~ + (1 - k) c;  h' = k h~ + (1 - k) h           # output h', state LSTMStateTuple(c', h')

``mod`` passes the gradient of its first argument through (``stop_gradient(mod(a, b) - a) + a``). leak, the
peephole switch and the initial ratio_on are Python constants; ``ratio_on`` itself is a variable (trainable or
not). Variables under the cell's scope ``phased_lstm_cell``: ``mask_gates/{kernel,bias}``,
``new_input/{kernel,bias}``, ``output_gate/{kernel,bias}`` (biases zeros at init), ``period`` (``exp(U(log min,
log max))``), ``phase`` (``U(0, period)``), ``ratio_on``.

Beyond TF 1.15 (a superset, for the Keras twin's layout): the input may also be ONE tensor ``[B, 1 + D]`` whose
first column is the time (what :class:`modern_rnn.phased_lstm.PhasedLSTMCell` reads); the maths are the same.
"""
from __future__ import annotations

import tensorflow as tf

from migration.core.errors import check_positive_int

v1 = tf.compat.v1
rnn_cell = v1.nn.rnn_cell


def _random_exp_initializer(minval, maxval, seed=None, dtype=tf.float32):
    """TF 1.15's ``_random_exp_initializer``: ``exp(U(log minval, log maxval))``."""
    def initializer(shape, dtype=dtype, partition_info=None):
        del partition_info
        return tf.exp(tf.random.uniform(shape, tf.math.log(minval), tf.math.log(maxval), dtype, seed=seed))
    return initializer


def _linear(args: list, output_size: int):
    """1.15 ``_Linear(args, output_size, True)`` in the current scope: ``concat(args, 1) @ kernel + bias``."""
    depth = sum(int(a.shape[-1]) for a in args)
    kernel = v1.get_variable("kernel", [depth, output_size], args[0].dtype)
    bias = v1.get_variable("bias", [output_size], args[0].dtype, initializer=v1.constant_initializer(0.0))
    return tf.nn.bias_add(tf.matmul(tf.concat(args, 1), kernel), bias)


def _split_time(inputs):
    """``(time, x)`` as TF 1.15 takes it, or one ``[B, 1 + D]`` tensor whose first column is the time."""
    if isinstance(inputs, (tuple, list)):
        time, x = inputs
        return time, x
    return inputs[:, :1], inputs[:, 1:]


class PhasedLSTMCell(rnn_cell.RNNCell):
    """``tf.contrib.rnn.PhasedLSTMCell`` with TF 1.15's signature; see :func:`phased_lstm_cell`.

    Modern equivalent: :class:`modern_rnn.phased_lstm.PhasedLSTMCell`.
    """

    def __init__(self, num_units: int, use_peepholes: bool = False, leak=0.001, ratio_on=0.1,
                 trainable_ratio_on: bool = True, period_init_min=1.0, period_init_max=1000.0, reuse=None) -> None:
        super().__init__(_reuse=reuse)
        self._num_units = check_positive_int("num_units", num_units)
        self._use_peepholes = bool(use_peepholes)
        self._leak = leak
        self._ratio_on = ratio_on
        self._trainable_ratio_on = trainable_ratio_on
        self._period_init_min = period_init_min
        self._period_init_max = period_init_max

    @property
    def state_size(self):
        return rnn_cell.LSTMStateTuple(self._num_units, self._num_units)

    @property
    def output_size(self) -> int:
        return self._num_units

    @staticmethod
    def _mod(x, y):
        """Modulo that propagates x gradients."""
        return tf.stop_gradient(tf.math.floormod(x, y) - x) + x

    def _get_cycle_ratio(self, time, phase, period):
        """The cycle ratio in the dtype of the time, cast to float32."""
        phase_casted = tf.cast(phase, dtype=time.dtype)
        period_casted = tf.cast(period, dtype=time.dtype)
        shifted_time = time - phase_casted
        cycle_ratio = self._mod(shifted_time, period_casted) / period_casted
        return tf.cast(cycle_ratio, dtype=tf.float32)

    def call(self, inputs, state):
        c_prev, h_prev = state
        time, x = _split_time(inputs)
        u = self._num_units
        with v1.variable_scope("mask_gates"):
            mask_gates = tf.sigmoid(_linear([x, h_prev] + ([c_prev] if self._use_peepholes else []), 2 * u))
            input_gate, forget_gate = tf.split(mask_gates, 2, axis=1)
        with v1.variable_scope("new_input"):
            new_input = tf.tanh(_linear([x, h_prev], u))
        new_c = c_prev * forget_gate + input_gate * new_input
        with v1.variable_scope("output_gate"):
            output_gate = tf.sigmoid(_linear([x, h_prev] + ([new_c] if self._use_peepholes else []), u))
        new_h = tf.tanh(new_c) * output_gate
        period = v1.get_variable("period", [u], initializer=_random_exp_initializer(self._period_init_min,
                                                                                    self._period_init_max))
        phase = v1.get_variable("phase", [u], initializer=v1.random_uniform_initializer(0.0, period.initial_value))
        ratio_on = v1.get_variable("ratio_on", [u], initializer=v1.constant_initializer(self._ratio_on),
                                   trainable=self._trainable_ratio_on)
        cycle_ratio = self._get_cycle_ratio(time, phase, period)
        k_up = 2 * cycle_ratio / ratio_on
        k_down = 2 - k_up
        k_closed = self._leak * cycle_ratio
        k = tf.where(cycle_ratio < ratio_on, k_down, k_closed)
        k = tf.where(cycle_ratio < 0.5 * ratio_on, k_up, k)
        new_c = k * new_c + (1 - k) * c_prev
        new_h = k * new_h + (1 - k) * h_prev
        return new_h, rnn_cell.LSTMStateTuple(new_c, new_h)


def phased_lstm_cell(units: int, use_peepholes: bool = False, leak: float = 0.001, ratio_on: float = 0.1,
                     trainable_ratio_on: bool = True) -> PhasedLSTMCell:
    """``tf.contrib.rnn.PhasedLSTMCell(units, use_peepholes, leak, ratio_on, trainable_ratio_on)`` (TF 1.15);
    input ``(time [B, 1], x [B, D])`` or one ``[B, 1 + D]`` tensor (time first); state ``LSTMStateTuple(c, h)``.

    Modern equivalent: :func:`modern_rnn.phased_lstm.phased_lstm_cell` (the ``[B, 1 + D]`` layout).
    """
    return PhasedLSTMCell(units, use_peepholes=use_peepholes, leak=leak, ratio_on=ratio_on,
                          trainable_ratio_on=trainable_ratio_on)


__all__ = ["PhasedLSTMCell", "phased_lstm_cell"]
