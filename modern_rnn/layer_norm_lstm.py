"""``LayerNormLSTMCell``: the Keras 2 twin of ``tf.contrib.rnn.LayerNormBasicLSTMCell`` (layer_norm=True).

Stock tf_keras has no equivalent: ``keras.layers.LayerNormalization`` after an LSTM normalises the output, not the
gate pre-activations, uses epsilon 1e-3, and a ``LayerNormLSTMCell`` from other libraries adds a bias and normalises
the input and recurrent products separately. TF 1.15's cell (``contrib/rnn/python/ops/rnn_cell.py``), in Keras gate
order ``i, f, c, o``, with ``LN(a) = (a - mean(a)) / sqrt(var(a) + 1e-12)`` over the U units (contrib
``layers.layer_norm``'s epsilon; population variance):

.. math::

    i, f, \\hat c, o &= \\mathrm{split}(x W + h_{t-1} R, 4) \\qquad \\text{(no bias)} \\\\
    g_k &= \\gamma_k \\odot \\mathrm{LN}(k) + \\beta_k \\quad (k = i, f, \\hat c, o) \\\\
    c_t &= c_{t-1} \\odot \\sigma(g_f) + \\sigma(g_i) \\odot \\tanh(g_{\\hat c}) \\\\
    c_t &= \\gamma_s \\odot \\mathrm{LN}(c_t) + \\beta_s \\\\
    h_t &= \\tanh(c_t) \\odot \\sigma(g_o)

Weights (``get_weights()`` order): ``kernel [D, 4U]``, ``recurrent_kernel [U, 4U]``, ``gamma [4U]``, ``beta [4U]``
(gate blocks i, f, c, o; TF1's forget_bias is folded into ``beta_f``), ``state_gamma [U]``, ``state_beta [U]``.
State ``[h, c]`` (TF1: ``LSTMStateTuple(c, h)``).
Legacy equivalent: ``legacy_rnn.layer_norm_basic_lstm_cell``.
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

#: contrib ``layers.layer_norm``'s variance epsilon (TF 1.15).
TF1_LAYER_NORM_EPSILON = 1e-12


def layer_norm(x, gamma, beta, epsilon: float = TF1_LAYER_NORM_EPSILON):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta`` over the last axis (population variance)."""
    mean, var = tf.nn.moments(x, [-1], keepdims=True)
    return tf.nn.batch_normalization(x, mean, var, beta, gamma, epsilon)


@keras.saving.register_keras_serializable(package="modern_rnn")
class LayerNormLSTMCell(keras.layers.Layer):
    """LSTM cell with TF1 contrib's per-gate layer normalisation (see the module docstring)."""

    is_lstm_state = True  # state [h, c]: modern_rnn.flatten_state returns TF1's (c, h)

    def __init__(self, units: int, activation: str = "tanh", **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(f"Received an invalid value for `units`: expected a positive integer, got {units!r}.")
        self.units = units
        self.activation = keras.activations.get(activation)
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape) -> None:
        depth, u = int(input_shape[-1]), self.units
        self.kernel = self.add_weight(name="kernel", shape=(depth, 4 * u), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(u, 4 * u), initializer="orthogonal")
        beta = [0.0] * u + [1.0] * u + [0.0] * (2 * u)  # a fresh TF1 cell: beta 0, forget_bias 1.0 folded in
        self.gamma = self.add_weight(name="gamma", shape=(4 * u,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(4 * u,), initializer=keras.initializers.Constant(beta))
        self.state_gamma = self.add_weight(name="state_gamma", shape=(u,), initializer="ones")
        self.state_beta = self.add_weight(name="state_beta", shape=(u,), initializer="zeros")
        self.built = True

    def call(self, inputs, states, training=None):
        h_prev, c_prev = states[0], states[1]
        z = tf.matmul(inputs, self.kernel) + tf.matmul(h_prev, self.recurrent_kernel)
        blocks = zip(tf.split(z, 4, -1), tf.split(self.gamma, 4), tf.split(self.beta, 4))
        i, f, c_hat, o = (layer_norm(a, g, b) for a, g, b in blocks)
        c = c_prev * tf.sigmoid(f) + tf.sigmoid(i) * self.activation(c_hat)
        c = layer_norm(c, self.state_gamma, self.state_beta)
        h = self.activation(c) * tf.sigmoid(o)
        return h, [h, c]

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            batch_size, dtype = tf.shape(inputs)[0], inputs.dtype
        return [tf.zeros([batch_size, self.units], dtype or tf.float32)] * 2

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, activation=keras.activations.serialize(self.activation))
        return config
