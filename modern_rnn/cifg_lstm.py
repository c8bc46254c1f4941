"""``CoupledInputForgetGateLSTMCell``: the Keras 2 (tf_keras) twin of ``tf.contrib.rnn.CoupledInputForgetGateLSTMCell``
(default options: no peepholes, projection or layer norm); stock tf_keras has none.

Read beside :mod:`legacy_rnn.cifg_lstm`: the same names, in the same order.

.. math::

    c_a, f_a, o_a &= \\mathrm{split}(x W + h_{t-1} R + b, 3) \\\\
    f &= \\sigma(f_a), \\quad c_t = f \\odot c_{t-1} + (1 - f) \\odot \\mathrm{act}(c_a) \\\\
    h_t &= \\sigma(o_a) \\odot \\mathrm{act}(c_t)

Weights (``get_weights()`` order): ``kernel [D, 3U]`` (rows of TF1's ``W_0`` for x), ``recurrent_kernel [U, 3U]``
(rows for h), ``bias [3U]``; column blocks **c, f, o** (TF1's j, f, o: no reordering). TF1 adds ``forget_bias`` to
the f block at run time: here it is folded into ``bias[U:2U]``. State ``[h, c]`` (TF1: ``LSTMStateTuple(c, h)``).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from modern_rnn.lstm_state_cell import LSTMStateCell


@keras.saving.register_keras_serializable(package="modern_rnn")
class CoupledInputForgetGateLSTMCell(LSTMStateCell):
    """The coupled input-forget gate LSTM cell (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.cifg_lstm.CoupledInputForgetGateLSTMCell`.
    """

    def build(self, input_shape) -> None:
        depth, u = int(input_shape[-1]), self.units
        bias = np.concatenate([np.zeros(u), np.full(u, self.forget_bias), np.zeros(u)]).tolist()
        self.kernel = self.add_weight(name="kernel", shape=(depth, 3 * u), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(u, 3 * u), initializer="orthogonal")
        self.bias = self.add_weight(name="bias", shape=(3 * u,), initializer=keras.initializers.Constant(bias))
        self.built = True

    def call(self, inputs, states, training=None):
        h_prev, c_prev = states[0], states[1]
        z = tf.matmul(inputs, self.kernel) + tf.matmul(h_prev, self.recurrent_kernel) + self.bias
        c_act, f_act, o_act = tf.split(z, 3, -1)
        f = tf.sigmoid(f_act)
        c = f * c_prev + (1.0 - f) * self.activation(c_act)
        h = tf.sigmoid(o_act) * self.activation(c)
        return h, [h, c]


def cifg_lstm_cell(units: int, forget_bias: float = 1.0, activation: Optional[str] = None,
                   **options) -> CoupledInputForgetGateLSTMCell:
    """:class:`CoupledInputForgetGateLSTMCell` (default TF1 options only: ``options`` must be empty).

    Legacy equivalent: :func:`legacy_rnn.cifg_lstm.cifg_lstm_cell`.
    """
    if options:
        raise ValueError(f"The Keras CoupledInputForgetGateLSTMCell implements TF 1.15's default options only; got "
                         f"{sorted(options)} (peepholes, projection and layer norm have no twin yet).")
    return CoupledInputForgetGateLSTMCell(units, activation=activation or "tanh", forget_bias=forget_bias)


__all__ = ["CoupledInputForgetGateLSTMCell", "cifg_lstm_cell"]
