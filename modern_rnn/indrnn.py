"""``IndRNNCell``, ``IndyGRUCell``, ``IndyLSTMCell``: the Keras 2 (tf_keras) twins of TF 1.15's
``tf.contrib.rnn`` cells of the same names; stock tf_keras has none.

Read beside :mod:`legacy_rnn.indrnn`: the same names, in the same order.

Each recurrent matrix of TF1 is a vector here too (``recurrent_kernel`` is 1-D, multiplied element-wise):

* ``IndRNNCell``: ``kernel [D, U]``, ``recurrent_kernel [U]``, ``bias [U]``; ``h' = act(x K + h * u + b)``.
* ``IndyGRUCell``: Keras' GRU block order **z, r, h**: ``kernel [D, 3U]``, ``recurrent_kernel [3U]``, ``bias [3U]``;
  ``z, r = sigmoid(x K_zr + [h, h] * u_zr + b_zr)``, ``h~ = act(x K_h + (r * h) * u_h + b_h)``,
  ``h' = z h + (1 - z) h~``. TF1 stores ``gates`` as r, u (u = z) and the candidate apart.
* ``IndyLSTMCell``: Keras' LSTM block order **i, f, c, o**: ``kernel [D, 4U]``, ``recurrent_kernel [4U]``,
  ``bias [4U]`` with TF1's run-time forget_bias folded into the f block; state ``[h, c]`` (TF1 ``(c, h)``).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int


class _IndCell(keras.layers.Layer):
    """Shared plumbing: ``blocks`` column blocks of ``units``; kernel, element-wise recurrent kernel, bias."""

    blocks = 1

    def __init__(self, units: int, activation: str = "tanh", **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.activation = keras.activations.get(activation)
        self.state_size = units
        self.output_size = units

    def _bias_init(self):
        return "zeros"

    def build(self, input_shape) -> None:
        depth, n = int(input_shape[-1]), self.blocks * self.units
        self.kernel = self.add_weight(name="kernel", shape=(depth, n), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(n,),
                                                initializer=keras.initializers.RandomUniform(-1.0, 1.0))
        self.bias = self.add_weight(name="bias", shape=(n,), initializer=self._bias_init())
        self.built = True

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            batch_size, dtype = tf.shape(inputs)[0], inputs.dtype
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [tf.zeros([batch_size, s], dtype or tf.float32) for s in sizes]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, activation=keras.activations.serialize(self.activation))
        return config


@keras.saving.register_keras_serializable(package="modern_rnn")
class IndRNNCell(_IndCell):
    """The IndRNN cell (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.indrnn.IndRNNCell`.
    """

    def call(self, inputs, states, training=None):
        h = states[0] if isinstance(states, (list, tuple)) else states
        new_h = self.activation(tf.matmul(inputs, self.kernel) + h * self.recurrent_kernel + self.bias)
        return new_h, [new_h]


@keras.saving.register_keras_serializable(package="modern_rnn")
class IndyGRUCell(_IndCell):
    """The IndyGRU cell (see the module docstring; blocks z, r, h).

    Legacy equivalent: :class:`legacy_rnn.indrnn.IndyGRUCell`.
    """

    blocks = 3

    def _bias_init(self):
        u = self.units
        return keras.initializers.Constant(np.concatenate([np.ones(2 * u), np.zeros(u)]).tolist())

    def call(self, inputs, states, training=None):
        h = states[0] if isinstance(states, (list, tuple)) else states
        u = self.units
        x = tf.matmul(inputs, self.kernel) + self.bias
        z = tf.sigmoid(x[:, :u] + h * self.recurrent_kernel[:u])
        r = tf.sigmoid(x[:, u:2 * u] + h * self.recurrent_kernel[u:2 * u])
        candidate = self.activation(x[:, 2 * u:] + (r * h) * self.recurrent_kernel[2 * u:])
        new_h = z * h + (1.0 - z) * candidate
        return new_h, [new_h]


@keras.saving.register_keras_serializable(package="modern_rnn")
class IndyLSTMCell(_IndCell):
    """The IndyLSTM cell (see the module docstring; blocks i, f, c, o; state ``[h, c]``).

    Legacy equivalent: :class:`legacy_rnn.indrnn.IndyLSTMCell`.
    """

    blocks = 4
    is_lstm_state = True  # state [h, c]: modern_rnn.flatten_state returns TF1's (c, h)

    def __init__(self, units: int, activation: str = "tanh", forget_bias: float = 1.0, **kwargs) -> None:
        super().__init__(units, activation=activation, **kwargs)
        self.forget_bias = float(forget_bias)
        self.state_size = [units, units]

    def _bias_init(self):
        u = self.units
        return keras.initializers.Constant(
            np.concatenate([np.zeros(u), np.full(u, self.forget_bias), np.zeros(2 * u)]).tolist())

    def call(self, inputs, states, training=None):
        h, c = states
        z = tf.matmul(inputs, self.kernel) + tf.tile(h, [1, 4]) * self.recurrent_kernel + self.bias
        i, f, g, o = tf.split(z, 4, axis=-1)
        new_c = tf.sigmoid(f) * c + tf.sigmoid(i) * self.activation(g)
        new_h = self.activation(new_c) * tf.sigmoid(o)
        return new_h, [new_h, new_c]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(forget_bias=self.forget_bias)
        return config


def ind_rnn_cell(units: int, activation: Optional[str] = None, name: Optional[str] = None) -> IndRNNCell:
    """:class:`IndRNNCell`.

    Legacy equivalent: :func:`legacy_rnn.indrnn.ind_rnn_cell`.
    """
    return IndRNNCell(units, activation=activation or "tanh", name=name)


def indy_gru_cell(units: int, activation: Optional[str] = None, name: Optional[str] = None) -> IndyGRUCell:
    """:class:`IndyGRUCell` (blocks z, r, h).

    Legacy equivalent: :func:`legacy_rnn.indrnn.indy_gru_cell`.
    """
    return IndyGRUCell(units, activation=activation or "tanh", name=name)


def indy_lstm_cell(units: int, forget_bias: float = 1.0, activation: Optional[str] = None,
                   name: Optional[str] = None) -> IndyLSTMCell:
    """:class:`IndyLSTMCell` (blocks i, f, c, o; forget_bias folded into the f block of a fresh cell's bias).

    Legacy equivalent: :func:`legacy_rnn.indrnn.indy_lstm_cell`.
    """
    return IndyLSTMCell(units, activation=activation or "tanh", forget_bias=forget_bias, name=name)


__all__ = ["IndRNNCell", "IndyGRUCell", "IndyLSTMCell", "ind_rnn_cell", "indy_gru_cell", "indy_lstm_cell"]
