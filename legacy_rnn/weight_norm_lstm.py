"""``tf.contrib.rnn.WeightNormLSTMCell`` (TF 1.15 ``tensorflow/contrib/rnn/python/ops/rnn_cell.py``; Salimans &
Kingma, "Weight Normalization"), rebuilt for TensorFlow 2.21 under TF 1.15's variable names.

Read beside :mod:`modern_rnn.weight_norm_lstm`: the same names, in the same order.

An ``LSTMCell`` whose kernel is weight-normalised per argument (``norm=True``, TF 1.15's default)::

    W = concat([l2_normalize(kernel[:D], axis=0) * norm_0, l2_normalize(kernel[D:], axis=0) * norm_1], 0)
    i, j, f, o = split([x, h] W + bias, 4)
    c = c sigmoid(f + forget_bias [+ w_f_diag c]) + sigmoid(i [+ w_i_diag c]) act(j);  c = clip(c, cell_clip)
    h = sigmoid(o [+ w_o_diag c]) act(c);  [h = h W_proj (normalised with projection/norm_0), clipped]

``l2_normalize(w, axis=0) = w / sqrt(max(sum(w^2, axis=0), 1e-12))``: each column scaled to length 1, then by its
gain. Variables: TF 1.15 set the layer's ``_scope`` to the string ``"wn_lstm_cell"`` **and** opened
``variable_scope("wn_lstm_cell")`` in ``call``, so they sit under ``<rnn scope>/wn_lstm_cell/wn_lstm_cell/``:
``kernel [D+U, 4U]``, ``norm_0 [4U]`` (input rows), ``norm_1 [4U]`` (recurrent rows), ``bias [4U]``; peepholes
``w_{f,i,o}_diag``; projection ``projection/kernel``, ``projection/norm_0``. (The tf.layers scope machinery is the
same code in tf_keras' legacy layers, so the names come out as TF 1.15's.) State ``LSTMStateTuple(c, h)``.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

from legacy_rnn.contrib_lstm_variants import activation_fn, check_proj
from migration.core.errors import check_positive_int

v1 = tf.compat.v1
rnn_cell = v1.nn.rnn_cell


class WeightNormLSTMCell(rnn_cell.RNNCell):
    """``tf.contrib.rnn.WeightNormLSTMCell`` with TF 1.15's signature; see :func:`weight_norm_lstm_cell`.

    Modern equivalent: :class:`modern_rnn.weight_norm_lstm.WeightNormLSTMCell`.
    """

    def __init__(self, num_units: int, norm: bool = True, use_peepholes: bool = False,
                 cell_clip: Optional[float] = None, initializer=None, num_proj: Optional[int] = None,
                 proj_clip: Optional[float] = None, forget_bias: float = 1, activation=None, reuse=None) -> None:
        super().__init__(_reuse=reuse)
        self._scope = "wn_lstm_cell"  # TF 1.15: the layer scope and the call's inner scope (names doubled)
        self._num_units = check_positive_int("units", num_units)
        self._norm, self._use_peepholes, self._cell_clip = bool(norm), bool(use_peepholes), cell_clip
        self._initializer, self._num_proj, self._proj_clip = initializer, check_proj(num_proj), proj_clip
        self._activation, self._forget_bias = activation_fn(activation), float(forget_bias)

    @property
    def state_size(self):
        return rnn_cell.LSTMStateTuple(self._num_units, self._num_proj or self._num_units)

    @property
    def output_size(self) -> int:
        return self._num_proj or self._num_units

    def _linear(self, args: list, output_size: int, bias: bool):
        sizes = [int(a.shape[-1]) for a in args]
        dtype = args[0].dtype
        weights = v1.get_variable("kernel", [sum(sizes), output_size], dtype)
        if self._norm:
            parts, start = [], 0
            for k, size in enumerate(sizes):
                g = v1.get_variable(f"norm_{k}", [output_size], dtype)
                parts.append(tf.nn.l2_normalize(weights[start:start + size, :], axis=0) * g)
                start += size
            weights = tf.concat(parts, axis=0)
        res = tf.matmul(args[0] if len(args) == 1 else tf.concat(args, 1), weights)
        if not bias:
            return res
        return tf.nn.bias_add(res, v1.get_variable("bias", [output_size], dtype,
                                                   initializer=v1.constant_initializer(0.0)))

    def call(self, inputs, state):
        c, h = state
        u, dtype = self._num_units, inputs.dtype
        if inputs.shape[-1] is None:
            raise ValueError("Could not infer input size from inputs.get_shape()[-1]")
        with v1.variable_scope(self._scope, initializer=self._initializer):
            i, j, f, o = tf.split(self._linear([inputs, h], 4 * u, bias=True), 4, axis=1)
            peep = {}
            if self._use_peepholes:
                peep = {g: v1.get_variable(f"w_{g}_diag", [u], dtype) for g in "fio"}
                f, i = f + peep["f"] * c, i + peep["i"] * c
            new_c = c * tf.sigmoid(f + self._forget_bias) + tf.sigmoid(i) * self._activation(j)
            if self._cell_clip is not None:
                new_c = tf.clip_by_value(new_c, -self._cell_clip, self._cell_clip)
            new_h = tf.sigmoid(o + peep["o"] * new_c if peep else o) * self._activation(new_c)
            if self._num_proj is not None:
                with v1.variable_scope("projection"):
                    new_h = self._linear([new_h], self._num_proj, bias=False)
                if self._proj_clip is not None:
                    new_h = tf.clip_by_value(new_h, -self._proj_clip, self._proj_clip)
            return new_h, rnn_cell.LSTMStateTuple(new_c, new_h)


def weight_norm_lstm_cell(units: int, forget_bias: float = 1.0, activation: Optional[str] = None,
                          **options) -> WeightNormLSTMCell:
    """``tf.contrib.rnn.WeightNormLSTMCell(units, forget_bias=, activation=)`` (TF 1.15, ``norm=True``); variables
    ``wn_lstm_cell/wn_lstm_cell/{kernel, norm_0, norm_1, bias}``. ``options``: the other TF 1.15 arguments.

    Modern equivalent: :func:`modern_rnn.weight_norm_lstm.weight_norm_lstm_cell`.
    """
    return WeightNormLSTMCell(units, forget_bias=forget_bias, activation=activation_fn(activation), **options)


__all__ = ["WeightNormLSTMCell", "weight_norm_lstm_cell"]
