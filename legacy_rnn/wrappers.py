"""``tf.contrib.rnn`` cell wrappers that own variables: OutputProjectionWrapper, InputProjectionWrapper,
EmbeddingWrapper, rebuilt for TensorFlow 2.21 under TF 1.15's names (``contrib/rnn/python/ops/core_rnn_cell.py``).

Each wrapper is a layer whose variable scope holds its own variables **and** the wrapped cell's:
``rnn/output_projection_wrapper/{kernel [U, P], bias [P]}`` beside ``rnn/output_projection_wrapper/<cell>/...``;
``input_projection_wrapper/{kernel [D, P], bias [P]}`` (the cell then reads P-wide inputs);
``embedding_wrapper/embedding [V, E]`` (the cell reads ids, one per step).

Read beside :mod:`modern_rnn.wrappers`: the same names, in the same order.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

from migration.errors import check_positive_int

v1 = tf.compat.v1
rnn_cell = tf.compat.v1.nn.rnn_cell


def _linear(x, size: int):
    kernel = v1.get_variable("kernel", [int(x.shape[-1]), size], x.dtype)
    return tf.matmul(x, kernel) + v1.get_variable("bias", [size], x.dtype, v1.constant_initializer(0.0))


class _Wrapper(rnn_cell.RNNCell):
    def __init__(self, cell, name: str) -> None:
        super().__init__(name=name)
        self._cell = cell

    @property
    def state_size(self):
        return self._cell.state_size

    @property
    def output_size(self):
        return self._cell.output_size

    def zero_state(self, batch_size, dtype):
        return self._cell.zero_state(batch_size, dtype)


class OutputProjectionWrapper(_Wrapper):
    """See :func:`output_projection_wrapper`."""

    def __init__(self, cell, output_size: int, activation=None) -> None:
        super().__init__(cell, "output_projection_wrapper")
        self._size, self._activation = check_positive_int("output_size", output_size), activation

    @property
    def output_size(self) -> int:
        return self._size

    def call(self, inputs, state):
        output, new_state = self._cell(inputs, state)
        projected = _linear(output, self._size)
        return (self._activation(projected) if self._activation else projected), new_state


class InputProjectionWrapper(_Wrapper):
    """See :func:`input_projection_wrapper`."""

    def __init__(self, cell, num_proj: int, activation=None) -> None:
        super().__init__(cell, "input_projection_wrapper")
        self._size, self._activation = check_positive_int("num_proj", num_proj), activation

    def call(self, inputs, state):
        projected = _linear(inputs, self._size)
        return self._cell(self._activation(projected) if self._activation else projected, state)


class EmbeddingWrapper(_Wrapper):
    """See :func:`embedding_wrapper`."""

    def __init__(self, cell, embedding_classes: int, embedding_size: int) -> None:
        super().__init__(cell, "embedding_wrapper")
        self._classes = check_positive_int("embedding_classes", embedding_classes)
        self._size = check_positive_int("embedding_size", embedding_size)

    def call(self, inputs, state):
        embedding = v1.get_variable("embedding", [self._classes, self._size], tf.float32)
        ids = tf.reshape(tf.cast(inputs, tf.int32), [-1])
        return self._cell(tf.nn.embedding_lookup(embedding, ids), state)


def output_projection_wrapper(cell, output_size: int, activation=None) -> OutputProjectionWrapper:
    """``tf.contrib.rnn.OutputProjectionWrapper``: ``output = act(cell_output W + b)``; the state is the cell's.

    Variables ``output_projection_wrapper/kernel [U, P]``, ``bias [P]`` (zeros), the cell's under
    ``output_projection_wrapper/<cell>/``.

    Modern equivalent: :func:`modern_rnn.wrappers.output_projection_wrapper` (a ``Dense`` inside the cell step).
    """
    return OutputProjectionWrapper(cell, output_size, activation)


def input_projection_wrapper(cell, num_proj: int, activation=None) -> InputProjectionWrapper:
    """``tf.contrib.rnn.InputProjectionWrapper``: the cell reads ``act(x W + b)``; ``kernel [D, P]``, ``bias [P]``.

    Modern equivalent: :func:`modern_rnn.wrappers.input_projection_wrapper`.
    """
    return InputProjectionWrapper(cell, num_proj, activation)


def embedding_wrapper(cell, embedding_classes: int, embedding_size: int) -> EmbeddingWrapper:
    """``tf.contrib.rnn.EmbeddingWrapper``: the cell reads ``embedding[id]`` for integer inputs ``[B, 1]`` per step;
    ``embedding_wrapper/embedding [V, E]``.

    Modern equivalent: :func:`modern_rnn.wrappers.embedding_wrapper` (or an ``Embedding`` layer before the RNN).
    """
    return EmbeddingWrapper(cell, embedding_classes, embedding_size)
