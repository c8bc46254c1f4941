"""``tf.contrib.rnn.CoupledInputForgetGateLSTMCell`` (TF 1.15 ``tensorflow/contrib/rnn/python/ops/rnn_cell.py``),
rebuilt for TensorFlow 2.21 under the variable names TF 1.15 gave it, so a TF1 program that used it runs and restores
its checkpoint.

Read beside :mod:`modern_rnn.cifg_lstm`: the same names, in the same order.

The input gate is coupled to the forget gate (``i = 1 - f``; Greff et al., "LSTM: A Search Space Odyssey")::

    j, f, o = split([x, m] W + B, 3)          # W_0 [D+R, 3U], B [3U] (zeros at init); blocks j, f, o
    f = sigmoid(f + forget_bias [+ W_F_diag * c])   # forget_bias: a Python constant (1.0), not in the checkpoint
    c = f * c + (1 - f) * act(j)              # act: tanh by default
    m = sigmoid(o [+ W_O_diag * c]) * act(c)  # [m = m W_P_0, clipped to proj_clip]

Variables (the cell's default scope is its class name in snake case): ``<rnn scope>/coupled_input_forget_gate_
lstm_cell/W_0``, ``.../B``; with ``use_peepholes`` ``W_F_diag``, ``W_O_diag``; with ``num_proj`` ``W_P_0``; with
``num_unit_shards=n`` ``W_0 .. W_{n-1}``; with ``layer_norm`` (no bias added, B still created)
``{transform,forget,output,state}/{gamma,beta}``. The state is ``LSTMStateTuple(c, m)`` (or ``concat([c, m])`` with
``state_is_tuple=False``). TF 1.15 ignored ``initializer`` (the weights took the scope's initializer); so does this.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

from legacy_rnn.cell_utils import SizesFromAttributes
from legacy_rnn.contrib_lstm_variants import activation_fn, check_proj, concat_variable, contrib_norm
from migration.core.errors import check_positive_int

v1 = tf.compat.v1
rnn_cell = v1.nn.rnn_cell


class CoupledInputForgetGateLSTMCell(SizesFromAttributes, rnn_cell.RNNCell):
    """``tf.contrib.rnn.CoupledInputForgetGateLSTMCell`` with TF 1.15's signature; see :func:`cifg_lstm_cell`.

    Modern equivalent: :class:`modern_rnn.cifg_lstm.CoupledInputForgetGateLSTMCell`.
    """

    def __init__(self, num_units: int, use_peepholes: bool = False, initializer=None, num_proj: Optional[int] = None,
                 proj_clip: Optional[float] = None, num_unit_shards: int = 1, num_proj_shards: int = 1,
                 forget_bias: float = 1.0, state_is_tuple: bool = True, activation=tf.tanh, reuse=None,
                 layer_norm: bool = False, norm_gain: float = 1.0, norm_shift: float = 0.0) -> None:
        super().__init__(_reuse=reuse)
        self._num_units = check_positive_int("units", num_units)
        self._use_peepholes, self._initializer = bool(use_peepholes), initializer
        self._num_proj, self._proj_clip = check_proj(num_proj), proj_clip
        self._num_unit_shards, self._num_proj_shards = num_unit_shards, num_proj_shards
        self._forget_bias, self._state_is_tuple = float(forget_bias), bool(state_is_tuple)
        self._activation = activation_fn(activation)
        self._layer_norm, self._norm_gain, self._norm_shift = bool(layer_norm), norm_gain, norm_shift
        out = num_proj or num_units
        self._state_size = (rnn_cell.LSTMStateTuple(num_units, out) if state_is_tuple else num_units + out)
        self._output_size = out

    def call(self, inputs, state):
        u = self._num_units
        proj = self._num_proj or u
        if self._state_is_tuple:
            c_prev, m_prev = state
        else:
            c_prev, m_prev = state[:, :u], state[:, u:u + proj]
        dtype, depth = inputs.dtype, inputs.shape[-1]
        if depth is None:
            raise ValueError("Could not infer input size from inputs.get_shape()[-1]")
        w = concat_variable("W", [int(depth) + proj, 3 * u], dtype, self._num_unit_shards)
        b = v1.get_variable("B", [3 * u], dtype, initializer=v1.zeros_initializer())
        z = tf.matmul(tf.concat([inputs, m_prev], 1), w)
        if not self._layer_norm:
            z = tf.nn.bias_add(z, b)
        j, f, o = tf.split(z, 3, axis=1)
        if self._layer_norm:
            j, f, o = (contrib_norm(self._norm_gain, self._norm_shift, a, s)
                       for a, s in zip((j, f, o), ("transform", "forget", "output")))
        if self._use_peepholes:
            w_f = v1.get_variable("W_F_diag", [u], dtype)
            w_o = v1.get_variable("W_O_diag", [u], dtype)
            f_act = tf.sigmoid(f + self._forget_bias + w_f * c_prev)
        else:
            f_act = tf.sigmoid(f + self._forget_bias)
        c = f_act * c_prev + (1 - f_act) * self._activation(j)
        if self._layer_norm:
            c = contrib_norm(self._norm_gain, self._norm_shift, c, "state")
        m = tf.sigmoid(o + w_o * c if self._use_peepholes else o) * self._activation(c)
        if self._num_proj is not None:
            m = tf.matmul(m, concat_variable("W_P", [u, self._num_proj], dtype, self._num_proj_shards))
            if self._proj_clip is not None:
                m = tf.clip_by_value(m, -self._proj_clip, self._proj_clip)
        new_state = rnn_cell.LSTMStateTuple(c, m) if self._state_is_tuple else tf.concat([c, m], 1)
        return m, new_state


def cifg_lstm_cell(units: int, forget_bias: float = 1.0, activation: Optional[str] = None,
                   **options) -> CoupledInputForgetGateLSTMCell:
    """``tf.contrib.rnn.CoupledInputForgetGateLSTMCell(units, forget_bias=, activation=)`` (TF 1.15); variables
    ``coupled_input_forget_gate_lstm_cell/W_0 [D+U, 3U]`` (blocks j, f, o) and ``B [3U]``. ``options``: the other
    TF 1.15 arguments (use_peepholes, num_proj, layer_norm ...), which only the legacy cell implements.

    Modern equivalent: :func:`modern_rnn.cifg_lstm.cifg_lstm_cell` (forget_bias folded into the f block of the bias).
    """
    return CoupledInputForgetGateLSTMCell(units, forget_bias=forget_bias, activation=activation_fn(activation),
                                          **options)


__all__ = ["CoupledInputForgetGateLSTMCell", "cifg_lstm_cell"]
