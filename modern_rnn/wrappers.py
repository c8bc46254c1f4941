"""Keras 2 (tf_keras) twins of the ``tf.contrib.rnn`` wrappers that own variables.

Read beside :mod:`legacy_rnn.wrappers`: the same names, in the same order. Each twin is a Keras cell wrapping a
cell (``.cell``) plus one sublayer (``.projection``, a ``Dense``; or ``.embedding``, an ``Embedding``), so converted
weights go in per sublayer: ``twin.cell.set_weights(converted cell)``, ``twin.projection.set_weights([kernel, bias])``
(the TF1 arrays unchanged), ``twin.embedding.set_weights([embedding])``. :class:`AttentionCell` (the
``AttentionCellWrapper`` twin) takes its weights from :mod:`migration.wrapper_converters`.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int


class Wrapper(keras.layers.Layer):
    """The state and output sizes are the wrapped cell's (twin of :class:`legacy_rnn.wrappers.Wrapper`; also the
    base of :class:`modern_rnn.dropout.DropoutCell`)."""

    def __init__(self, cell, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cell = cell

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self):
        return self.cell.output_size


class OutputProjectionCell(Wrapper):
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


class InputProjectionCell(Wrapper):
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


class EmbeddingCell(Wrapper):
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


@keras.saving.register_keras_serializable(package="modern_rnn")
class AttentionCell(Wrapper):
    """Keras twin of TF 1.15 ``AttentionCellWrapper`` (see :func:`attention_cell_wrapper`).

    Sublayers/weights, name for name with the TF1 variables: ``input_projection`` (``Dense(I)`` = ``kernel``,
    ``bias``), ``cell``, ``attn_w [1, 1, A, V]``, ``attn_v [V]``, ``query`` (``Dense(V)`` = ``attention/{kernel,
    bias}``, its rows in **Keras state order**: ``[h, c]`` for an LSTM, where TF1 concatenates ``c, h``),
    ``output_projection`` (``Dense(A)`` = ``attn_output_projection/{kernel, bias}``). The state is the cell's
    states (Keras order), then ``attns [A]``, then the window ``[L*A]``. Load weights with
    :func:`migration.wrapper_converters.attention_cell_wrapper_to_keras`.
    """

    def __init__(self, cell, attn_length: int, attn_size: Optional[int] = None, attn_vec_size: Optional[int] = None,
                 input_size: Optional[int] = None, **kwargs) -> None:
        super().__init__(cell, **kwargs)
        out = cell.output_size
        self.attn_length = check_positive_int("attn_length", attn_length)
        self.attn_size = check_positive_int("attn_size", attn_size if attn_size is not None else out)
        self.attn_vec_size = check_positive_int("attn_vec_size", attn_vec_size if attn_vec_size is not None
                                                else self.attn_size)
        self.input_size = None if input_size is None else check_positive_int("input_size", input_size)
        self.query = keras.layers.Dense(self.attn_vec_size, name="query")
        self.output_projection = keras.layers.Dense(self.attn_size, name="output_projection")

    def _cell_sizes(self) -> list:
        sizes = self.cell.state_size
        return list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]

    @property
    def state_size(self):
        return self._cell_sizes() + [self.attn_size, self.attn_size * self.attn_length]

    @property
    def output_size(self) -> int:
        return self.attn_size

    def build(self, input_shape) -> None:
        depth = int(input_shape[-1])
        self.input_projection = keras.layers.Dense(self.input_size or depth, name="input_projection")
        self.input_projection.build((None, depth + self.attn_size))
        self.cell.build((None, self.input_projection.units))
        a, v = self.attn_size, self.attn_vec_size
        self.attn_w = self.add_weight(name="attn_w", shape=(1, 1, a, v), initializer="glorot_uniform")
        self.attn_v = self.add_weight(name="attn_v", shape=(v,), initializer="glorot_uniform")
        self.query.build((None, sum(self._cell_sizes())))
        self.output_projection.build((None, self.cell.output_size + a))
        self.built = True

    def call(self, inputs, states, training=None):
        n = len(self._cell_sizes())
        cell_states, attns = list(states[:n]), states[n]
        window = tf.reshape(states[n + 1], [-1, self.attn_length, self.attn_size])
        x = self.input_projection(tf.concat([inputs, attns], 1))
        cell_output, new_cell_states = self.cell(x, cell_states, training=training)
        new_cell_states = list(tf.nest.flatten(new_cell_states))
        features = tf.einsum("bla,av->blv", window, self.attn_w[0, 0])
        y = self.query(tf.concat(new_cell_states, 1))[:, None, :]
        scores = tf.reduce_sum(self.attn_v * tf.tanh(features + y), -1)  # [B, L]
        weights = tf.nn.softmax(scores, axis=-1)  # over the window slots, not the batch
        new_attns = tf.reduce_sum(weights[:, :, None] * window, 1)
        output = self.output_projection(tf.concat([cell_output, new_attns], 1))
        new_window = tf.reshape(tf.concat([window[:, 1:], output[:, None, :]], 1),
                                [-1, self.attn_length * self.attn_size])
        return output, new_cell_states + [new_attns, new_window]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(cell=keras.layers.serialize(self.cell), attn_length=self.attn_length,
                      attn_size=self.attn_size, attn_vec_size=self.attn_vec_size, input_size=self.input_size)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "AttentionCell":
        config = dict(config)
        cell = keras.layers.deserialize(config.pop("cell"))
        return cls(cell, **config)


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


def attention_cell_wrapper(cell, attn_length: int, attn_size: Optional[int] = None,
                           attn_vec_size: Optional[int] = None, input_size: Optional[int] = None) -> AttentionCell:
    """:class:`AttentionCell`: the TF 1.15 ``AttentionCellWrapper`` step (window of the last ``attn_length``
    outputs, additive attention queried by the cell's new state, output projection fed back into the window).
    Its state is flat (Keras cells carry lists): cell states in Keras order, ``attns``, the window ``[L*A]``.

    Legacy equivalent: :func:`legacy_rnn.wrappers.attention_cell_wrapper`.
    """
    return AttentionCell(cell, attn_length, attn_size, attn_vec_size, input_size)


__all__ = ["OutputProjectionCell", "InputProjectionCell", "EmbeddingCell", "output_projection_wrapper",
           "input_projection_wrapper", "embedding_wrapper",
           "AttentionCell", "attention_cell_wrapper"]
