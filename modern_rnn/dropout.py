"""``DropoutCell``: TF1 ``DropoutWrapper`` semantics for any Keras 2 cell.

tf_keras' own ``DropoutWrapper`` refuses ``LSTMCell`` ("keras LSTM cell does not work with DropoutWrapper"), and the
cells' ``dropout``/``recurrent_dropout`` arguments mean something else (one mask per sequence; recurrent dropout masks
h_{t-1} inside the matmul only). This wrapper reproduces TF1 (non-variational):

* ``input_keep_prob``: a fresh mask on x_t every step, survivors scaled by ``1/keep_prob``;
* ``state_keep_prob``: a fresh mask on the **new h** (state[0] in Keras order; c is never dropped), which is carried;
* ``output_keep_prob``: a fresh mask on the step output.

Dropout happens only with ``training=True``; inference equals the bare cell (TF1: feed keep_prob = 1.0).
Legacy equivalent: :func:`legacy_rnn.cells.dropout_wrapper`.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras as keras

from modern_rnn.wrappers import Wrapper


@keras.saving.register_keras_serializable(package="modern_rnn")
class DropoutCell(Wrapper):
    """Wrap ``cell``; keep probabilities as in TF1 (1.0 = no dropout)."""

    def __init__(self, cell, input_keep_prob: float = 1.0, output_keep_prob: float = 1.0,
                 state_keep_prob: float = 1.0, seed: Optional[int] = None, **kwargs) -> None:
        if isinstance(cell, dict):
            cell = keras.layers.deserialize(cell)
        for name, value in (("input_keep_prob", input_keep_prob), ("output_keep_prob", output_keep_prob),
                            ("state_keep_prob", state_keep_prob)):
            if not 0.0 < float(value) <= 1.0:
                raise ValueError(f"Received an invalid value for `{name}`: expected a float in (0, 1], got {value!r}.")
        super().__init__(cell, **kwargs)
        self.input_keep_prob = float(input_keep_prob)
        self.output_keep_prob = float(output_keep_prob)
        self.state_keep_prob = float(state_keep_prob)
        self.seed = seed

    def build(self, input_shape) -> None:
        if not self.cell.built:
            self.cell.build(input_shape)
        self.built = True

    def _drop(self, x, keep_prob: float):
        if keep_prob >= 1.0:
            return x
        return tf.nn.dropout(x, rate=1.0 - keep_prob, seed=self.seed)

    def call(self, inputs, states, training=None):
        if training:
            inputs = self._drop(inputs, self.input_keep_prob)
        output, new_states = self.cell(inputs, states, training=training)
        if training:
            flat = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
            flat[0] = self._drop(flat[0], self.state_keep_prob)
            new_states = flat if isinstance(new_states, (list, tuple)) else flat[0]
            output = self._drop(output, self.output_keep_prob)
        return output, new_states

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        return self.cell.get_initial_state(inputs=inputs, batch_size=batch_size, dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(cell=keras.layers.serialize(self.cell), input_keep_prob=self.input_keep_prob,
                      output_keep_prob=self.output_keep_prob, state_keep_prob=self.state_keep_prob, seed=self.seed)
        return config
