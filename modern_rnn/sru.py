"""``SRUCell``: the Keras 2 (tf_keras) twin of TF 1.15's ``tf.contrib.rnn.SRUCell``; stock tf_keras has none.

Read beside :mod:`legacy_rnn.sru`: the same names, in the same order.

TF1's layout is kept: ``kernel [D, 4U]`` (column blocks x_bar, f, r, x_tx), ``bias [2U]`` (f, r); no recurrent
matrix. ``f, r = sigmoid(x K_f + b_f, x K_r + b_r)``, ``c' = f c + (1 - f) x K_xbar``,
``h = r act(c') + (1 - r) x K_xtx``. The layer's output is h, its state ``[c]`` (they differ, as in TF1).
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int


@keras.saving.register_keras_serializable(package="modern_rnn")
class SRUCell(keras.layers.Layer):
    """The SRU cell (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.sru.SRUCell`.
    """

    def __init__(self, units: int, activation: str = "tanh", **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.activation = keras.activations.get(activation)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape) -> None:
        depth, u = int(input_shape[-1]), self.units
        self.kernel = self.add_weight(name="kernel", shape=(depth, 4 * u), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(2 * u,), initializer="zeros")
        self.built = True

    def call(self, inputs, states, training=None):
        c = states[0] if isinstance(states, (list, tuple)) else states
        x_bar, f_in, r_in, x_tx = tf.split(tf.matmul(inputs, self.kernel), 4, axis=-1)
        f, r = tf.split(tf.sigmoid(tf.concat([f_in, r_in], -1) + self.bias), 2, axis=-1)
        new_c = f * c + (1.0 - f) * x_bar
        h = r * self.activation(new_c) + (1.0 - r) * x_tx
        return h, [new_c]

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            batch_size, dtype = tf.shape(inputs)[0], inputs.dtype
        return [tf.zeros([batch_size, self.units], dtype or tf.float32)]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, activation=keras.activations.serialize(self.activation))
        return config


def sru_cell(units: int, activation: Optional[str] = None, name: Optional[str] = None) -> SRUCell:
    """:class:`SRUCell` (output h, state ``[c]``).

    Legacy equivalent: :func:`legacy_rnn.sru.sru_cell`.
    """
    return SRUCell(units, activation=activation or "tanh", name=name)


__all__ = ["SRUCell", "sru_cell"]
