"""``WeightNormLSTMCell``: the Keras 2 (tf_keras) twin of ``tf.contrib.rnn.WeightNormLSTMCell`` (``norm=True``, no
peepholes, clipping or projection); stock tf_keras has none.

Read beside :mod:`legacy_rnn.weight_norm_lstm`: the same names, in the same order.

.. math::

    \\hat W &= \\frac{W}{\\lVert W_{:,k} \\rVert} g_x, \\quad \\hat R = \\frac{R}{\\lVert R_{:,k} \\rVert} g_h
    \\qquad \\text{(per column; } \\lVert\\cdot\\rVert = \\sqrt{\\max(\\sum w^2, 10^{-12})}\\text{)} \\\\
    i, f, c, o &= \\mathrm{split}(x \\hat W + h_{t-1} \\hat R + b, 4) \\\\
    c_t &= \\sigma(f) c_{t-1} + \\sigma(i) \\mathrm{act}(c), \\quad h_t = \\sigma(o) \\mathrm{act}(c_t)

Weights (``get_weights()`` order): ``kernel [D, 4U]``, ``recurrent_kernel [U, 4U]``, ``kernel_norm [4U]`` (TF1's
``norm_0``), ``recurrent_norm [4U]`` (``norm_1``), ``bias [4U]``; gate blocks **i, f, c, o** (TF1 i, j, f, o);
forget_bias folded into the f block of the bias. The direction (kernel) and the gain (norm) stay separate, as in
TF1, so training continues with the same parametrisation. State ``[h, c]``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from modern_rnn.lstm_state_cell import LSTMStateCell


@keras.saving.register_keras_serializable(package="modern_rnn")
class WeightNormLSTMCell(LSTMStateCell):
    """The weight-normalised LSTM cell (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.weight_norm_lstm.WeightNormLSTMCell`.
    """

    def build(self, input_shape) -> None:
        depth, u = int(input_shape[-1]), self.units
        bias = np.concatenate([np.zeros(u), np.full(u, self.forget_bias), np.zeros(2 * u)]).tolist()
        self.kernel = self.add_weight(name="kernel", shape=(depth, 4 * u), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(u, 4 * u), initializer="orthogonal")
        self.kernel_norm = self.add_weight(name="kernel_norm", shape=(4 * u,), initializer="ones")
        self.recurrent_norm = self.add_weight(name="recurrent_norm", shape=(4 * u,), initializer="ones")
        self.bias = self.add_weight(name="bias", shape=(4 * u,), initializer=keras.initializers.Constant(bias))
        self.built = True

    def call(self, inputs, states, training=None):
        h_prev, c_prev = states[0], states[1]
        w = tf.nn.l2_normalize(self.kernel, axis=0) * self.kernel_norm
        r = tf.nn.l2_normalize(self.recurrent_kernel, axis=0) * self.recurrent_norm
        i, f, c_hat, o = tf.split(tf.matmul(inputs, w) + tf.matmul(h_prev, r) + self.bias, 4, -1)
        c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * self.activation(c_hat)
        h = tf.sigmoid(o) * self.activation(c)
        return h, [h, c]


def weight_norm_lstm_cell(units: int, forget_bias: float = 1.0, activation: Optional[str] = None,
                          **options) -> WeightNormLSTMCell:
    """:class:`WeightNormLSTMCell` (``norm=True`` and TF 1.15's other defaults only: ``options`` must be empty).

    Legacy equivalent: :func:`legacy_rnn.weight_norm_lstm.weight_norm_lstm_cell`.
    """
    if options:
        raise ValueError(f"The Keras WeightNormLSTMCell implements norm=True with TF 1.15's other defaults only; got "
                         f"{sorted(options)} (norm=False is LSTMCell's maths: use keras.layers.LSTMCell).")
    return WeightNormLSTMCell(units, activation=activation or "tanh", forget_bias=forget_bias)


__all__ = ["WeightNormLSTMCell", "weight_norm_lstm_cell"]
