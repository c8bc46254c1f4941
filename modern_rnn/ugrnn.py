"""``UGRNNCell``: the Keras 2 (tf_keras) twin of ``tf.contrib.rnn.UGRNNCell``; stock tf_keras has none.

Read beside :mod:`legacy_rnn.ugrnn`: the same names, in the same order.

.. math::

    g_a, c_a &= \\mathrm{split}(x W + h_{t-1} R + b, 2) \\\\
    h_t &= \\sigma(g_a) \\odot h_{t-1} + (1 - \\sigma(g_a)) \\odot \\mathrm{act}(c_a)

Weights (``get_weights()`` order): ``kernel [D, 2U]`` (rows of TF1's kernel for x), ``recurrent_kernel [U, 2U]``
(rows for h), ``bias [2U]``; column blocks **g, c** as in TF1. TF1 adds ``forget_bias`` to the g block at run time:
here it is folded into ``bias[:U]`` (a fresh cell starts at ``bias = [forget_bias]*U + [0]*U``). State ``[h]``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int


@keras.saving.register_keras_serializable(package="modern_rnn")
class UGRNNCell(keras.layers.Layer):
    """The UGRNN cell (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.ugrnn.UGRNNCell`.
    """

    def __init__(self, units: int, activation: str = "tanh", forget_bias: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.activation = keras.activations.get(activation)
        self.forget_bias = float(forget_bias)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape) -> None:
        depth, u = int(input_shape[-1]), self.units
        bias = np.concatenate([np.full(u, self.forget_bias), np.zeros(u)]).tolist()
        self.kernel = self.add_weight(name="kernel", shape=(depth, 2 * u), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(u, 2 * u), initializer="orthogonal")
        self.bias = self.add_weight(name="bias", shape=(2 * u,), initializer=keras.initializers.Constant(bias))
        self.built = True

    def call(self, inputs, states, training=None):
        h = states[0] if isinstance(states, (list, tuple)) else states
        g_act, c_act = tf.split(tf.matmul(inputs, self.kernel) + tf.matmul(h, self.recurrent_kernel) + self.bias, 2, -1)
        g = tf.sigmoid(g_act)
        new_h = g * h + (1.0 - g) * self.activation(c_act)
        return new_h, [new_h]

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            batch_size, dtype = tf.shape(inputs)[0], inputs.dtype
        return [tf.zeros([batch_size, self.units], dtype or tf.float32)]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, activation=keras.activations.serialize(self.activation),
                      forget_bias=self.forget_bias)
        return config


def ugrnn_cell(units: int, forget_bias: float = 1.0, activation: Optional[str] = None, initializer=None,
               name: Optional[str] = None) -> UGRNNCell:
    """:class:`UGRNNCell` (``initializer`` is accepted for symmetry with the legacy builder; Keras uses its own).

    Legacy equivalent: :func:`legacy_rnn.ugrnn.ugrnn_cell`.
    """
    return UGRNNCell(units, activation=activation or "tanh", forget_bias=forget_bias, name=name)


__all__ = ["UGRNNCell", "ugrnn_cell"]
