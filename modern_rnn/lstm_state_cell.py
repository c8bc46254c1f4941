"""The shared frame of the Keras twins whose state is an LSTM's ``[h, c]`` and whose options are ``units``,
``activation`` and ``forget_bias`` (contrib's CoupledInputForgetGateLSTMCell, LayerNormLSTMCell,
WeightNormLSTMCell): the constructor, the zero state and the config. Each twin adds its own weights and step."""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int


class ZerosFromStateSize:
    """Mixin (listed before ``keras.layers.Layer``): the zero initial state, one ``[batch, size]`` tensor per entry of
    ``self.state_size`` (twins whose state widths differ, e.g. an LSTM state with a projected ``h``)."""

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            batch_size, dtype = tf.shape(inputs)[0], inputs.dtype
        return [tf.zeros([batch_size, size], dtype or tf.float32) for size in self.state_size]


class LSTMStateCell(keras.layers.Layer):
    """Base of an LSTM-state twin: state ``[h, c]`` (``modern_rnn.flatten_state`` returns TF1's ``(c, h)``)."""

    is_lstm_state = True

    def __init__(self, units: int, activation: str = "tanh", forget_bias: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.activation = keras.activations.get(activation)
        self.forget_bias = float(forget_bias)
        self.state_size = [units, units]
        self.output_size = units

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            batch_size, dtype = tf.shape(inputs)[0], inputs.dtype
        return [tf.zeros([batch_size, self.units], dtype or tf.float32)] * 2

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, activation=keras.activations.serialize(self.activation),
                      forget_bias=self.forget_bias)
        return config
