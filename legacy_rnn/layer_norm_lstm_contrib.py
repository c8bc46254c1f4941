"""``tf.contrib.rnn.LayerNormLSTMCell`` (TF 1.15 ``tensorflow/contrib/rnn/python/ops/rnn_cell.py``; not
``LayerNormBasicLSTMCell``, which is :mod:`legacy_rnn.contrib`), rebuilt for TensorFlow 2.21 under TF 1.15's variable
names, so a TF1 program that used it runs and restores its checkpoint.

Read beside :mod:`modern_rnn.layer_norm_lstm_contrib`: the same names, in the same order.

An ``LSTMCell`` whose gate pre-activations and new cell state are layer-normalised (contrib ``layers.layer_norm``:
population variance, epsilon 1e-12) when ``layer_norm=True`` (TF 1.15's default is **False**: then it is exactly
``LSTMCell``'s maths under this cell's scope)::

    i, j, f, o = split([x, m] kernel [+ bias], 4)   # the bias is added only without layer_norm
    i, j, f, o = LN_input(i), LN_transform(j), LN_forget(f), LN_output(o)   # layer_norm only
    c = sigmoid(f + forget_bias [+ w_f_diag c]) c + sigmoid(i [+ w_i_diag c]) act(j)
    c = LN_state(c)                                  # layer_norm only
    c = clip(c, cell_clip);  m = sigmoid(o [+ w_o_diag c]) act(c);  [m = m projection/kernel, clipped]

Variables (default scope ``layer_norm_lstm_cell``): ``kernel [D+R, 4U]``, ``bias [4U]`` (created even with
layer_norm, where TF 1.15 never reads it), ``{input,transform,forget,output,state}/{gamma,beta}`` (layer_norm),
``w_{f,i,o}_diag`` (peepholes), ``projection/kernel [U, P]`` (num_proj). State ``LSTMStateTuple(c, m)``.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

from legacy_rnn.contrib_lstm_variants import activation_fn, check_proj, contrib_norm
from migration.core.errors import check_positive_int

v1 = tf.compat.v1
rnn_cell = v1.nn.rnn_cell
GATE_SCOPES = ("input", "transform", "forget", "output")  # TF1 i, j, f, o


class LayerNormLSTMCell(rnn_cell.RNNCell):
    """``tf.contrib.rnn.LayerNormLSTMCell`` with TF 1.15's signature; see :func:`layer_norm_lstm_contrib_cell`.

    Modern equivalent: :class:`modern_rnn.layer_norm_lstm_contrib.LayerNormLSTMCell`.
    """

    def __init__(self, num_units: int, use_peepholes: bool = False, cell_clip: Optional[float] = None,
                 initializer=None, num_proj: Optional[int] = None, proj_clip: Optional[float] = None,
                 forget_bias: float = 1.0, activation=None, layer_norm: bool = False, norm_gain: float = 1.0,
                 norm_shift: float = 0.0, reuse=None) -> None:
        super().__init__(_reuse=reuse)
        self._num_units = check_positive_int("units", num_units)
        self._use_peepholes, self._cell_clip, self._initializer = bool(use_peepholes), cell_clip, initializer
        self._num_proj, self._proj_clip = check_proj(num_proj), proj_clip
        self._forget_bias, self._activation = float(forget_bias), activation_fn(activation)
        self._layer_norm, self._norm_gain, self._norm_shift = bool(layer_norm), norm_gain, norm_shift

    @property
    def state_size(self):
        return rnn_cell.LSTMStateTuple(self._num_units, self._num_proj or self._num_units)

    @property
    def output_size(self) -> int:
        return self._num_proj or self._num_units

    def call(self, inputs, state):
        c_prev, m_prev = state
        u, dtype = self._num_units, inputs.dtype
        if inputs.shape[-1] is None:
            raise ValueError("Could not infer input size from inputs.get_shape()[-1]")
        with v1.variable_scope(v1.get_variable_scope(), initializer=self._initializer) as unit_scope:
            args = tf.concat([inputs, m_prev], 1)
            z = tf.matmul(args, v1.get_variable("kernel", [args.shape[-1], 4 * u], dtype))
            bias = v1.get_variable("bias", [4 * u], dtype, initializer=v1.constant_initializer(0.0))
            if not self._layer_norm:
                z = tf.nn.bias_add(z, bias)
            i, j, f, o = tf.split(z, 4, axis=1)
            if self._layer_norm:
                i, j, f, o = (contrib_norm(self._norm_gain, self._norm_shift, a, s)
                              for a, s in zip((i, j, f, o), GATE_SCOPES))
            peep = {}
            if self._use_peepholes:
                with v1.variable_scope(unit_scope):
                    peep = {g: v1.get_variable(f"w_{g}_diag", [u], dtype) for g in "fio"}
                f, i = f + peep["f"] * c_prev, i + peep["i"] * c_prev
            c = tf.sigmoid(f + self._forget_bias) * c_prev + tf.sigmoid(i) * self._activation(j)
            if self._layer_norm:
                c = contrib_norm(self._norm_gain, self._norm_shift, c, "state")
            if self._cell_clip is not None:
                c = tf.clip_by_value(c, -self._cell_clip, self._cell_clip)
            m = tf.sigmoid(o + peep["o"] * c if peep else o) * self._activation(c)
            if self._num_proj is not None:
                with v1.variable_scope("projection"):
                    m = tf.matmul(m, v1.get_variable("kernel", [u, self._num_proj], dtype))
                if self._proj_clip is not None:
                    m = tf.clip_by_value(m, -self._proj_clip, self._proj_clip)
        return m, rnn_cell.LSTMStateTuple(c, m)


def layer_norm_lstm_contrib_cell(units: int, forget_bias: float = 1.0, activation: Optional[str] = None,
                                 layer_norm: bool = True, **options) -> LayerNormLSTMCell:
    """``tf.contrib.rnn.LayerNormLSTMCell(units, forget_bias=, activation=, layer_norm=)`` (TF 1.15; note this
    builder defaults to ``layer_norm=True``, the class to TF 1.15's False). ``options``: the other TF 1.15 arguments.

    Modern equivalent: :func:`modern_rnn.layer_norm_lstm_contrib.layer_norm_lstm_contrib_cell`.
    """
    return LayerNormLSTMCell(units, forget_bias=forget_bias, activation=activation_fn(activation),
                             layer_norm=layer_norm, **options)


__all__ = ["LayerNormLSTMCell", "layer_norm_lstm_contrib_cell"]
