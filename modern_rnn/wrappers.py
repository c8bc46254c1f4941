"""Keras 2 (tf_keras) twins of the ``tf.contrib.rnn`` wrappers that own variables.

Read beside :mod:`legacy_rnn.wrappers`: the same names, in the same order. Each twin is a Keras cell wrapping a
cell (``.cell``) plus one sublayer (``.projection``, a ``Dense``; or ``.embedding``, an ``Embedding``), so converted
weights go in per sublayer: ``twin.cell.set_weights(converted cell)``, ``twin.projection.set_weights([kernel, bias])``
(the TF1 arrays unchanged), ``twin.embedding.set_weights([embedding])``.
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from migration.errors import check_positive_int


class _CellWrapper(keras.layers.Layer):
    def __init__(self, cell, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cell = cell

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self):
        return self.cell.output_size


class OutputProjectionCell(_CellWrapper):
    """``output = projection(cell_output)``; the state is the cell's (see :func:`output_projection_wrapper`)."""

    def __init__(self, cell, output_size: int, activation=None, **kwargs) -> None:
        super().__init__(cell, **kwargs)
        self.projection = keras.layers.Dense(check_positive_int("output_size", output_size), activation=activation)

    @property
    def output_size(self) -> int:
        return self.projection.units

    def build(self, input_shape) -> None:
        self.cell.build(input_shape)
        out = self.cell.output_size
        self.projection.build((None, out if isinstance(out, int) else out[-1]))
        self.built = True

    def call(self, inputs, states, training=None):
        output, new_states = self.cell(inputs, states, training=training)
        return self.projection(output), new_states


class InputProjectionCell(_CellWrapper):
    """The cell reads ``projection(x)`` (see :func:`input_projection_wrapper`)."""

    def __init__(self, cell, num_proj: int, activation=None, **kwargs) -> None:
        super().__init__(cell, **kwargs)
        self.projection = keras.layers.Dense(check_positive_int("num_proj", num_proj), activation=activation)

    def build(self, input_shape) -> None:
        self.projection.build(input_shape)
        self.cell.build((input_shape[0], self.projection.units))
        self.built = True

    def call(self, inputs, states, training=None):
        return self.cell(self.projection(inputs), states, training=training)


class EmbeddingCell(_CellWrapper):
    """The cell reads ``embedding[id]`` for ids given as ``[B, 1]`` per step (see :func:`embedding_wrapper`)."""

    def __init__(self, cell, embedding_classes: int, embedding_size: int, **kwargs) -> None:
        super().__init__(cell, **kwargs)
        self.embedding = keras.layers.Embedding(check_positive_int("embedding_classes", embedding_classes),
                                                check_positive_int("embedding_size", embedding_size))

    def build(self, input_shape) -> None:
        self.embedding.build((None,))
        self.cell.build((None, self.embedding.output_dim))
        self.built = True

    def call(self, inputs, states, training=None):
        ids = tf.reshape(tf.cast(inputs, tf.int32), [-1])
        return self.cell(self.embedding(ids), states, training=training)


def output_projection_wrapper(cell, output_size: int, activation=None) -> OutputProjectionCell:
    """:class:`OutputProjectionCell`: ``projection.kernel = output_projection_wrapper/kernel`` as saved.

    Legacy equivalent: :func:`legacy_rnn.wrappers.output_projection_wrapper`.
    """
    return OutputProjectionCell(cell, output_size, activation)


def input_projection_wrapper(cell, num_proj: int, activation=None) -> InputProjectionCell:
    """:class:`InputProjectionCell`: ``projection.kernel = input_projection_wrapper/kernel`` as saved.

    Legacy equivalent: :func:`legacy_rnn.wrappers.input_projection_wrapper`.
    """
    return InputProjectionCell(cell, num_proj, activation)


def embedding_wrapper(cell, embedding_classes: int, embedding_size: int) -> EmbeddingCell:
    """:class:`EmbeddingCell`: ``embedding.embeddings = embedding_wrapper/embedding`` as saved. (Equivalently, an
    ``Embedding`` layer in front of the RNN on ``[B, T]`` ids.)

    Legacy equivalent: :func:`legacy_rnn.wrappers.embedding_wrapper`.
    """
    return EmbeddingCell(cell, embedding_classes, embedding_size)


__all__ = ["OutputProjectionCell", "InputProjectionCell", "EmbeddingCell", "output_projection_wrapper",
           "input_projection_wrapper", "embedding_wrapper"]
