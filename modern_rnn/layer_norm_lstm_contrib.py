"""``LayerNormLSTMCell``: the Keras 2 (tf_keras) twin of ``tf.contrib.rnn.LayerNormLSTMCell`` with
``layer_norm=True`` (no peepholes, clipping or projection); stock tf_keras has none.

Read beside :mod:`legacy_rnn.layer_norm_lstm_contrib`: the same names, in the same order.

The maths are :class:`modern_rnn.layer_norm_lstm.LayerNormLSTMCell`'s (``LN`` with contrib's epsilon 1e-12, gate
blocks **i, f, c, o**, forget_bias folded into ``beta_f``); what differs is the checkpoint: TF 1.15's cell also
creates ``bias [4U]`` and never reads it when layer_norm is on. This cell keeps it as ``unused_bias``
(non-trainable, gate order i, f, c, o), so that converting and exporting give back the program's array::

    i, f, c, o = split(x W + h R, 4);  g_k = gamma_k LN(k) + beta_k
    c_t = sigma(g_f) c_{t-1} + sigma(g_i) act(g_c);  c_t = gamma_s LN(c_t) + beta_s;  h_t = sigma(g_o) act(c_t)

Weights (``get_weights()`` order: trainable first): ``kernel [D, 4U]``, ``recurrent_kernel [U, 4U]``,
``gamma [4U]``, ``beta [4U]``, ``state_gamma [U]``, ``state_beta [U]``, ``unused_bias [4U]``. State ``[h, c]``.
Registered as ``modern_rnn.contrib>LayerNormLSTMCell`` (``modern_rnn>LayerNormLSTMCell`` is
LayerNormBasicLSTMCell's twin).
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras as keras

from modern_rnn.lstm_state_cell import LSTMStateCell
from modern_rnn.layer_norm_lstm import layer_norm


@keras.saving.register_keras_serializable(package="modern_rnn.contrib")
class LayerNormLSTMCell(LSTMStateCell):
    """LSTM cell with contrib LayerNormLSTMCell's layer normalisation (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.layer_norm_lstm_contrib.LayerNormLSTMCell`.
    """

    def build(self, input_shape) -> None:
        depth, u = int(input_shape[-1]), self.units
        beta = [0.0] * u + [self.forget_bias] * u + [0.0] * (2 * u)  # a fresh TF1 cell: beta 0, forget_bias folded
        self.kernel = self.add_weight(name="kernel", shape=(depth, 4 * u), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(u, 4 * u), initializer="orthogonal")
        self.gamma = self.add_weight(name="gamma", shape=(4 * u,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(4 * u,), initializer=keras.initializers.Constant(beta))
        self.state_gamma = self.add_weight(name="state_gamma", shape=(u,), initializer="ones")
        self.state_beta = self.add_weight(name="state_beta", shape=(u,), initializer="zeros")
        self.unused_bias = self.add_weight(name="unused_bias", shape=(4 * u,), initializer="zeros", trainable=False)
        self.built = True

    def call(self, inputs, states, training=None):
        h_prev, c_prev = states[0], states[1]
        z = tf.matmul(inputs, self.kernel) + tf.matmul(h_prev, self.recurrent_kernel)
        blocks = zip(tf.split(z, 4, -1), tf.split(self.gamma, 4), tf.split(self.beta, 4))
        i, f, c_hat, o = (layer_norm(a, g, b) for a, g, b in blocks)
        c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * self.activation(c_hat)
        c = layer_norm(c, self.state_gamma, self.state_beta)
        h = tf.sigmoid(o) * self.activation(c)
        return h, [h, c]


def layer_norm_lstm_contrib_cell(units: int, forget_bias: float = 1.0, activation: Optional[str] = None,
                                 layer_norm: bool = True, **options) -> LayerNormLSTMCell:
    """:class:`LayerNormLSTMCell` (``layer_norm=True`` and no other option: the rest have no twin yet).

    Legacy equivalent: :func:`legacy_rnn.layer_norm_lstm_contrib.layer_norm_lstm_contrib_cell`.
    """
    if not layer_norm or options:
        raise ValueError(f"The Keras twin of tf.contrib.rnn.LayerNormLSTMCell implements layer_norm=True with TF "
                         f"1.15's other defaults only; got layer_norm={layer_norm!r}, options {sorted(options)} "
                         "(layer_norm=False is LSTMCell's maths: use keras.layers.LSTMCell).")
    return LayerNormLSTMCell(units, activation=activation or "tanh", forget_bias=forget_bias)


__all__ = ["LayerNormLSTMCell", "layer_norm_lstm_contrib_cell"]
