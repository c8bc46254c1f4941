"""``tf.contrib.rnn.TimeFreqLSTMCell`` (TF 1.15 ``tensorflow/contrib/rnn/python/ops/rnn_cell.py``), rebuilt for
TensorFlow 2.21 under the variable names TF 1.15 gave it, so a TF1 program that used it runs and restores its
checkpoint.

Read beside :mod:`modern_rnn.time_freq_lstm`: the same names, in the same order.

Time-frequency LSTM (Sainath and Li, INTERSPEECH 2016): the input ``[B, D]`` is cut into ``F = int((D -
feature_size) / frequency_skip) + 1`` overlapping frequency windows ``x_f = x[:, f*skip : f*skip + feature_size]``;
ONE LSTM (shared weights) runs over them, each window reading its own time state and the previous window's output::

    m_prev_freq = 0
    for f in range(F):
        c_prev, m_prev = state[:, 2fU : 2fU+U], state[:, (2f+1)U : (2f+2)U]
        i, j, fg, o = split([x_f, m_prev, m_prev_freq] W + B, 4)   # W [feature_size+2U, 4U], B [4U]; i, j, f, o
        c = sigmoid(fg + forget_bias [+ W_F_diag c_prev]) c_prev + sigmoid(i [+ W_I_diag c_prev]) tanh(j)
        c = clip(c, +-cell_clip)                                  # if cell_clip
        m = sigmoid(o [+ W_O_diag c]) tanh(c);  m_prev_freq = m
    output = concat(m_0 .. m_{F-1})  [B, F U];  state = concat(c_0, m_0, .., c_{F-1}, m_{F-1})  [B, 2 F U]

Variables under ``time_freq_lstm_cell``: ``W_0`` (``W_0 .. W_{n-1}`` row shards with ``num_unit_shards=n``), ``B``
(zeros at init); with ``use_peepholes`` ``W_F_diag``, ``W_I_diag``, ``W_O_diag``. forget_bias, cell_clip,
feature_size and frequency_skip are Python constants (feature_size is readable from ``W``'s rows).

TF 1.15 traps kept as they were: ``state_size`` is ``2 * num_units`` and ``output_size`` ``num_units`` whatever F
is, so ``dynamic_rnn`` (its output TensorArray and zero state use those sizes) only runs with F = 1; F > 1 needs an
explicit ``[B, 2 F U]`` initial state and ``static_rnn`` without ``sequence_length`` (or a hand-written loop).
TF 1.15 also needed a static batch size (``int(inputs.get_shape()[0])``) and a feature_size; here an unknown batch
is read at run time and ``feature_size=None`` means one window over the whole input (what ``verify`` rebuilds).
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

from legacy_rnn.cell_utils import input_depth
from legacy_rnn.contrib_lstm_variants import concat_variable
from migration.core.errors import check_positive_int

v1 = tf.compat.v1
rnn_cell = v1.nn.rnn_cell


def _num_frequencies(input_size: int, feature_size: int, frequency_skip: int) -> int:
    """TF 1.15's ``int((input_size - feature_size) / frequency_skip) + 1``."""
    return int((input_size - feature_size) / frequency_skip) + 1


class TimeFreqLSTMCell(rnn_cell.RNNCell):
    """``tf.contrib.rnn.TimeFreqLSTMCell`` with TF 1.15's signature; see :func:`time_freq_lstm_cell`.

    Modern equivalent: :class:`modern_rnn.time_freq_lstm.TimeFreqLSTMCell`.
    """

    def __init__(self, num_units: int, use_peepholes: bool = False, cell_clip=None, initializer=None,
                 num_unit_shards: int = 1, forget_bias: float = 1.0, feature_size=None, frequency_skip=1,
                 reuse=None) -> None:
        super().__init__(_reuse=reuse)
        self._num_units = check_positive_int("num_units", num_units)
        self._use_peepholes = use_peepholes
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_unit_shards = num_unit_shards
        self._forget_bias = forget_bias
        self._feature_size = feature_size
        self._frequency_skip = frequency_skip
        self._state_size = 2 * num_units
        self._output_size = num_units

    @property
    def output_size(self) -> int:
        return self._output_size

    @property
    def state_size(self) -> int:
        return self._state_size

    def call(self, inputs, state):
        sigmoid, tanh, u = tf.sigmoid, tf.tanh, self._num_units
        freq_inputs = self._make_tf_features(inputs)
        dtype = inputs.dtype
        actual_input_size = int(freq_inputs[0].shape[1])
        concat_w = concat_variable("W", [actual_input_size + 2 * u, 4 * u], dtype, self._num_unit_shards)
        b = v1.get_variable("B", shape=[4 * u], initializer=v1.zeros_initializer(), dtype=dtype)
        if self._use_peepholes:
            w_f_diag = v1.get_variable("W_F_diag", shape=[u], dtype=dtype)
            w_i_diag = v1.get_variable("W_I_diag", shape=[u], dtype=dtype)
            w_o_diag = v1.get_variable("W_O_diag", shape=[u], dtype=dtype)
        batch = tf.compat.dimension_value(inputs.shape[0])
        m_prev_freq = tf.zeros([batch if batch is not None else tf.shape(inputs)[0], u], dtype)
        m_out, state_out = [], []
        for fq, freq_input in enumerate(freq_inputs):
            c_prev = tf.slice(state, [0, 2 * fq * u], [-1, u])
            m_prev = tf.slice(state, [0, (2 * fq + 1) * u], [-1, u])
            lstm_matrix = tf.nn.bias_add(tf.matmul(tf.concat([freq_input, m_prev, m_prev_freq], 1), concat_w), b)
            i, j, f, o = tf.split(lstm_matrix, 4, axis=1)
            if self._use_peepholes:
                c = sigmoid(f + self._forget_bias + w_f_diag * c_prev) * c_prev + \
                    sigmoid(i + w_i_diag * c_prev) * tanh(j)
            else:
                c = sigmoid(f + self._forget_bias) * c_prev + sigmoid(i) * tanh(j)
            if self._cell_clip is not None:
                c = tf.clip_by_value(c, -self._cell_clip, self._cell_clip)
            m = sigmoid(o + w_o_diag * c) * tanh(c) if self._use_peepholes else sigmoid(o) * tanh(c)
            m_prev_freq = m
            m_out.append(m)
            state_out += [c, m]
        return tf.concat(m_out, 1), tf.concat(state_out, 1)

    def _make_tf_features(self, input_feat) -> list:
        """The frequency windows ``input_feat[:, f*skip : f*skip + feature_size]``, ``f < F``."""
        input_size = input_depth(input_feat.shape)
        size = input_size if self._feature_size is None else self._feature_size  # None: TF 1.15 raised TypeError
        return [tf.slice(input_feat, [0, f * self._frequency_skip], [-1, size])
                for f in range(_num_frequencies(input_size, size, self._frequency_skip))]


def time_freq_lstm_cell(units: int, feature_size: Optional[int] = None, frequency_skip: int = 1,
                        forget_bias: float = 1.0) -> TimeFreqLSTMCell:
    """``tf.contrib.rnn.TimeFreqLSTMCell(units, forget_bias=, feature_size=, frequency_skip=)`` (TF 1.15); variables
    ``time_freq_lstm_cell/W_0 [feature_size+2U, 4U]`` (blocks i, j, f, o) and ``.../B [4U]``.

    Modern equivalent: :func:`modern_rnn.time_freq_lstm.time_freq_lstm_cell`.
    """
    return TimeFreqLSTMCell(units, forget_bias=forget_bias, feature_size=feature_size, frequency_skip=frequency_skip)


__all__ = ["TimeFreqLSTMCell", "time_freq_lstm_cell"]
