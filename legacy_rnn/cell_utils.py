"""Small helpers the rebuilt ``tf.contrib.rnn`` cells share (TF 1.15's argument conventions)."""
from __future__ import annotations

from typing import Callable

import tensorflow as tf
import tf_keras
from tf_keras.src.layers.rnn.legacy_cells import LayerRNNCell


def activation_fn(activation) -> Callable:
    """TF 1.15's ``activation or tanh``; a name (``"relu"``) is also accepted."""
    return tf.tanh if activation is None else tf_keras.activations.get(activation)


def input_depth(inputs_shape) -> int:
    """The static input depth of a ``[batch, depth]`` input; TF 1.15's ValueError when it is unknown."""
    depth = tf.compat.dimension_value(tf.TensorShape(inputs_shape)[-1])
    if depth is None:
        raise ValueError(f"Expected inputs.shape[-1] to be known, saw shape: {inputs_shape}")
    return int(depth)


class SizesFromAttributes:
    """Mixin (listed before the cell base): ``state_size`` and ``output_size`` read from ``self._state_size`` and
    ``self._output_size``, which the cell's constructor sets (LSTM-style cells with an optional projection)."""

    @property
    def state_size(self):
        return self._state_size

    @property
    def output_size(self) -> int:
        return self._output_size


class NumUnitsCell(LayerRNNCell):
    """A TF1 cell whose state and output are both ``[batch, num_units]`` (``self._num_units``, set by the subclass)."""

    @property
    def state_size(self) -> int:
        return self._num_units

    @property
    def output_size(self) -> int:
        return self._num_units
