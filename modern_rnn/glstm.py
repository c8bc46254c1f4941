"""``GLSTMCell``: the Keras 2 (tf_keras) twin of ``tf.contrib.rnn.GLSTMCell`` (every TF 1.15 option:
``number_of_groups``, ``num_proj``, ``forget_bias``, ``activation``); stock tf_keras has none (a block-diagonal
``LSTMCell`` computes the same forward step, but trains the off-diagonal blocks the group LSTM does not have).

Read beside :mod:`legacy_rnn.glstm`: the same names, in the same order.

With G groups of U/G units, D/G input and R/G recurrent columns (R = P or U), group g computes
``z_g = x[:, gD/G:(g+1)D/G] K_g + m[:, gR/G:(g+1)R/G] R_g`` and splits it into its i, j, f, o blocks; the gates are
the groups' blocks concatenated plus ``bias``; ``c' = sigmoid(f) c + sigmoid(i) tanh(j)``, ``m' = sigmoid(o)
act(c')`` [``m' P``].

Weights (``get_weights()`` order): ``kernel [D, 4U/G]`` (row block g = the x rows of TF1's ``group{g}/kernel``),
``recurrent_kernel [R, 4U/G]`` (row block g = its m rows), ``bias [4U]`` = ``bias_i, bias_j, bias_f +
forget_bias, bias_o`` (TF1's gate order i, j, f, o kept throughout), ``projection_kernel [U, P]`` (``num_proj``
only). State ``[m, c]`` (TF1: ``LSTMStateTuple(c, m)``). Output ``m``.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int
from modern_rnn.lstm_state_cell import ZerosFromStateSize


@keras.saving.register_keras_serializable(package="modern_rnn")
class GLSTMCell(ZerosFromStateSize, keras.layers.Layer):
    """The group LSTM cell (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.glstm.GLSTMCell`.
    """

    is_lstm_state = True  # state [m, c]: modern_rnn.flatten_state returns TF1's (c, m)

    def __init__(self, units: int, num_proj: Optional[int] = None, number_of_groups: int = 1,
                 activation: str = "tanh", forget_bias: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.num_proj = None if num_proj is None else check_positive_int("num_proj", num_proj)
        self.number_of_groups = check_positive_int("number_of_groups", number_of_groups)
        self.activation = keras.activations.get(activation)
        self.forget_bias = float(forget_bias)
        self.output_size = self.units if num_proj is None else self.num_proj
        for what, size in (("units", self.units), ("num_proj", self.output_size)):
            if size % self.number_of_groups:
                raise ValueError(f"Received an invalid value for `{what}`: {size} is not divisible by "
                                 f"number_of_groups={self.number_of_groups}.")
        self.state_size = [self.output_size, self.units]

    def build(self, input_shape) -> None:
        depth, groups = int(input_shape[-1]), self.number_of_groups
        if depth % groups:
            raise ValueError(f"input size ({depth}) must be divisible by number_of_groups ({groups})")
        width = 4 * self.units // groups
        bias = [0.0] * (2 * self.units) + [self.forget_bias] * self.units + [0.0] * self.units
        self.kernel = self.add_weight(name="kernel", shape=(depth, width), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.output_size, width),
                                                initializer="orthogonal")
        self.bias = self.add_weight(name="bias", shape=(4 * self.units,), initializer=keras.initializers.Constant(bias))
        if self.num_proj is not None:
            self.projection_kernel = self.add_weight(name="projection_kernel", shape=(self.units, self.num_proj),
                                                     initializer="glorot_uniform")
        self.built = True

    def call(self, inputs, states, training=None):
        m_prev, c_prev = states[0], states[1]
        groups = self.number_of_groups
        xs, ms = tf.split(inputs, groups, -1), tf.split(m_prev, groups, -1)
        kernels, recurrents = tf.split(self.kernel, groups, 0), tf.split(self.recurrent_kernel, groups, 0)
        blocks = [tf.split(tf.matmul(x, k) + tf.matmul(m, r), 4, -1) for x, m, k, r in zip(xs, ms, kernels, recurrents)]
        i, j, f, o = tf.split(tf.concat([tf.concat([b[gate] for b in blocks], -1) for gate in range(4)], -1)
                              + self.bias, 4, -1)
        c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * tf.tanh(j)
        h = tf.sigmoid(o) * self.activation(c)
        if self.num_proj is not None:
            h = tf.matmul(h, self.projection_kernel)
        return h, [h, c]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, num_proj=self.num_proj, number_of_groups=self.number_of_groups,
                      activation=keras.activations.serialize(self.activation), forget_bias=self.forget_bias)
        return config


def glstm_cell(units: int, forget_bias: float = 1.0, activation: Optional[str] = None, num_proj: Optional[int] = None,
               number_of_groups: int = 1) -> GLSTMCell:
    """:class:`GLSTMCell` with TF 1.15's options.

    Legacy equivalent: :func:`legacy_rnn.glstm.glstm_cell`.
    """
    return GLSTMCell(units, num_proj=num_proj, number_of_groups=number_of_groups, activation=activation or "tanh",
                     forget_bias=forget_bias)


__all__ = ["GLSTMCell", "glstm_cell"]
