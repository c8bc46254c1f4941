"""``MinimalRNNCell`` and ``CFNCell``: the Keras 2 (tf_keras) twins of TF 1.15's ``tf.contrib.rnn`` cells of the
same names; stock tf_keras has neither.

Read beside :mod:`legacy_rnn.minimal_rnn`: the same names, in the same order.

* ``MinimalRNNCell``: TF1's one ``kernel [D+2U, U]`` is split by what its rows multiply: ``kernel [D, U]`` (the input
  projection W_x), ``gate_kernel [U, U]`` (W, multiplying the projected input z) and ``recurrent_kernel [U, U]``
  (V, multiplying h); ``bias [U]``. ``z = act(x K)``, ``u = sigmoid(z G + h R + b)``, ``h' = u h + (1 - u) z``.
* ``CFNCell``: TF1's layout is already Keras-shaped and is kept: ``kernel [D, 3U]`` (V_theta, V_eta, W),
  ``recurrent_kernel [U, 2U]``, ``bias [2U]``; ``theta, eta = sigmoid(h R + x K_[:2U] + b)``,
  ``h' = theta act(h) + (1 - eta) act(x K_[2U:])``.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int


class _SingleStateCell(keras.layers.Layer):
    def __init__(self, units: int, activation: str = "tanh", **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.activation = keras.activations.get(activation)
        self.state_size = units
        self.output_size = units

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            batch_size, dtype = tf.shape(inputs)[0], inputs.dtype
        return [tf.zeros([batch_size, self.units], dtype or tf.float32)]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, activation=keras.activations.serialize(self.activation))
        return config


@keras.saving.register_keras_serializable(package="modern_rnn")
class MinimalRNNCell(_SingleStateCell):
    """The MinimalRNN cell (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.minimal_rnn.MinimalRNNCell`.
    """

    def build(self, input_shape) -> None:
        depth, u = int(input_shape[-1]), self.units
        self.kernel = self.add_weight(name="kernel", shape=(depth, u), initializer="glorot_uniform")
        self.gate_kernel = self.add_weight(name="gate_kernel", shape=(u, u), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(u, u), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(u,), initializer="ones")
        self.built = True

    def call(self, inputs, states, training=None):
        h = states[0] if isinstance(states, (list, tuple)) else states
        z = self.activation(tf.matmul(inputs, self.kernel))
        u = tf.sigmoid(tf.matmul(z, self.gate_kernel) + tf.matmul(h, self.recurrent_kernel) + self.bias)
        new_h = u * h + (1.0 - u) * z
        return new_h, [new_h]


@keras.saving.register_keras_serializable(package="modern_rnn")
class CFNCell(_SingleStateCell):
    """The Chaos Free Network cell (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.minimal_rnn.CFNCell`.
    """

    def build(self, input_shape) -> None:
        depth, u = int(input_shape[-1]), self.units
        self.kernel = self.add_weight(name="kernel", shape=(depth, 3 * u), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(u, 2 * u),
                                                initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(2 * u,), initializer="ones")
        self.built = True

    def call(self, inputs, states, training=None):
        h = states[0] if isinstance(states, (list, tuple)) else states
        u = self.units
        x = tf.matmul(inputs, self.kernel)
        theta, eta = tf.split(tf.sigmoid(tf.matmul(h, self.recurrent_kernel) + x[:, :2 * u] + self.bias), 2, -1)
        new_h = theta * self.activation(h) + (1.0 - eta) * self.activation(x[:, 2 * u:])
        return new_h, [new_h]


def minimal_rnn_cell(units: int, activation: Optional[str] = None, name: Optional[str] = None) -> MinimalRNNCell:
    """:class:`MinimalRNNCell`.

    Legacy equivalent: :func:`legacy_rnn.minimal_rnn.minimal_rnn_cell`.
    """
    return MinimalRNNCell(units, activation=activation or "tanh", name=name)


def cfn_cell(units: int, activation: Optional[str] = None, name: Optional[str] = None) -> CFNCell:
    """:class:`CFNCell`.

    Legacy equivalent: :func:`legacy_rnn.minimal_rnn.cfn_cell`.
    """
    return CFNCell(units, activation=activation or "tanh", name=name)


__all__ = ["MinimalRNNCell", "CFNCell", "minimal_rnn_cell", "cfn_cell"]
