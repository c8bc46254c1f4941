"""``IntersectionRNNCell``: the Keras 2 (tf_keras) twin of TF 1.15's ``tf.contrib.rnn.IntersectionRNNCell``; stock
tf_keras has none.

Read beside :mod:`legacy_rnn.intersection_rnn`: the same names, in the same order.

Weights (``get_weights()`` order): ``in_projection_kernel [D, U]``, ``in_projection_bias [U]``, ``kernel [U, 4U]``
(TF1's kernel rows for the projected input), ``recurrent_kernel [U, 4U]`` (rows for h), ``bias [4U]`` (column blocks
gh, h, gy, y as in TF1, TF1's run-time forget_bias folded into the gh and gy blocks). When D == U TF1 has no
projection: the cell then does not use the projection weights (they stay the identity and zeros, receive no gradient,
and ``export`` refuses them if they were changed). The output is y, the state ``[h]``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int


@keras.saving.register_keras_serializable(package="modern_rnn")
class IntersectionRNNCell(keras.layers.Layer):
    """The Intersection RNN cell (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.intersection_rnn.IntersectionRNNCell`.
    """

    def __init__(self, units: int, forget_bias: float = 1.0, y_activation: str = "relu", **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.forget_bias = float(forget_bias)
        self.y_activation = keras.activations.get(y_activation)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape) -> None:
        depth, u = int(input_shape[-1]), self.units
        self.projects = depth != u
        bias = np.zeros(4 * u)
        bias[:u] = bias[2 * u:3 * u] = self.forget_bias
        self.in_projection_kernel = self.add_weight(
            name="in_projection_kernel", shape=(depth, u), initializer="glorot_uniform" if self.projects else "identity")
        self.in_projection_bias = self.add_weight(name="in_projection_bias", shape=(u,), initializer="zeros")
        self.kernel = self.add_weight(name="kernel", shape=(u, 4 * u), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(u, 4 * u), initializer="orthogonal")
        self.bias = self.add_weight(name="bias", shape=(4 * u,), initializer=keras.initializers.Constant(bias.tolist()))
        self.built = True

    def call(self, inputs, states, training=None):
        h = states[0] if isinstance(states, (list, tuple)) else states
        x = tf.matmul(inputs, self.in_projection_kernel) + self.in_projection_bias if self.projects else inputs
        gh_act, h_act, gy_act, y_act = tf.split(tf.matmul(x, self.kernel) + tf.matmul(h, self.recurrent_kernel)
                                                + self.bias, 4, axis=-1)
        gh, gy = tf.sigmoid(gh_act), tf.sigmoid(gy_act)
        new_h = gh * h + (1.0 - gh) * tf.tanh(h_act)
        new_y = gy * x + (1.0 - gy) * self.y_activation(y_act)
        return new_y, [new_h]

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            batch_size, dtype = tf.shape(inputs)[0], inputs.dtype
        return [tf.zeros([batch_size, self.units], dtype or tf.float32)]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, forget_bias=self.forget_bias,
                      y_activation=keras.activations.serialize(self.y_activation))
        return config


def intersection_rnn_cell(units: int, forget_bias: float = 1.0, y_activation: Optional[str] = None,
                          name: Optional[str] = None) -> IntersectionRNNCell:
    """:class:`IntersectionRNNCell` (the projection is used exactly when the input depth is not ``units``).

    Legacy equivalent: :func:`legacy_rnn.intersection_rnn.intersection_rnn_cell`.
    """
    return IntersectionRNNCell(units, forget_bias=forget_bias, y_activation=y_activation or "relu", name=name)


__all__ = ["IntersectionRNNCell", "intersection_rnn_cell"]
