"""``tf.contrib.rnn`` cell wrappers that own variables: OutputProjectionWrapper, InputProjectionWrapper,
EmbeddingWrapper, rebuilt for TensorFlow 2.21 under TF 1.15's names (``contrib/rnn/python/ops/core_rnn_cell.py``).

Each wrapper is a layer whose variable scope holds its own variables **and** the wrapped cell's:
``rnn/output_projection_wrapper/{kernel [U, P], bias [P]}`` beside ``rnn/output_projection_wrapper/<cell>/...``;
``input_projection_wrapper/{kernel [D, P], bias [P]}`` (the cell then reads P-wide inputs);
``embedding_wrapper/embedding [V, E]`` (the cell reads ids, one per step).

The classes are the single home of these wrappers in this package (``legacy_rnn.seq2seq`` imports them).

Read beside :mod:`modern_rnn.wrappers`: the same names, in the same order.
"""
from __future__ import annotations

import math

import tensorflow as tf

from migration.errors import check_positive_int

v1 = tf.compat.v1
nest = tf.nest
rnn_cell = tf.compat.v1.nn.rnn_cell


def _linear(x, size: int):
    """1.15 ``core_rnn_cell._Linear(x, size, bias=True)``: ``kernel`` (the scope's initializer, Glorot uniform by
    default) and ``bias`` (zeros) in the current scope, in ``x``'s dtype."""
    kernel = v1.get_variable("kernel", [int(x.shape[-1]), size], x.dtype)
    bias = v1.get_variable("bias", [size], x.dtype, v1.constant_initializer(0.0, dtype=x.dtype))
    return tf.nn.bias_add(tf.matmul(x, kernel), bias)


class _Wrapper(rnn_cell.RNNCell):
    """The state is the wrapped cell's; the scope name comes from the class name, as in 1.15
    (``OutputProjectionWrapper`` -> ``output_projection_wrapper``)."""

    def __init__(self, cell, reuse=None) -> None:
        super().__init__(_reuse=reuse)
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
    """1.15 ``contrib.rnn.OutputProjectionWrapper``; see :func:`output_projection_wrapper`."""

    def __init__(self, cell, output_size: int, activation=None, reuse=None) -> None:
        super().__init__(cell, reuse)
        self._size, self._activation = check_positive_int("output_size", output_size), activation

    @property
    def output_size(self) -> int:
        return self._size

    def call(self, inputs, state):
        output, new_state = self._cell(inputs, state)
        projected = _linear(output, self._size)
        return (self._activation(projected) if self._activation else projected), new_state


class InputProjectionWrapper(_Wrapper):
    """1.15 ``contrib.rnn.InputProjectionWrapper``; see :func:`input_projection_wrapper`."""

    def __init__(self, cell, num_proj: int, activation=None, reuse=None) -> None:
        super().__init__(cell, reuse)
        self._size, self._activation = check_positive_int("num_proj", num_proj), activation

    def call(self, inputs, state):
        projected = _linear(inputs, self._size)
        return self._cell(self._activation(projected) if self._activation else projected, state)


class EmbeddingWrapper(_Wrapper):
    """1.15 ``contrib.rnn.EmbeddingWrapper``; see :func:`embedding_wrapper`.

    As in 1.15: the table's initializer is ``initializer``, else the variable scope's, else uniform
    ``±sqrt(3)`` (variance 1); its dtype is the state's (``state[0].dtype`` for tuple states); ``inputs`` are ids
    ``[B]`` or ``[B, 1]`` (float ids, as a ``[B, T, 1]`` float placeholder feeds them, are cast to int32).
    """

    def __init__(self, cell, embedding_classes: int, embedding_size: int, initializer=None, reuse=None) -> None:
        super().__init__(cell, reuse)
        self._classes = check_positive_int("embedding_classes", embedding_classes)
        self._size = check_positive_int("embedding_size", embedding_size)
        self._initializer = initializer

    def call(self, inputs, state):
        initializer = (self._initializer or v1.get_variable_scope().initializer
                       or v1.random_uniform_initializer(-math.sqrt(3), math.sqrt(3)))
        data_type = nest.flatten(state)[0].dtype
        embedding = v1.get_variable("embedding", [self._classes, self._size], initializer=initializer,
                                    dtype=data_type)
        ids = inputs if inputs.dtype.is_integer else tf.cast(inputs, tf.int32)
        return self._cell(tf.nn.embedding_lookup(embedding, tf.reshape(ids, [-1])), state)


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


def embedding_wrapper(cell, embedding_classes: int, embedding_size: int, initializer=None) -> EmbeddingWrapper:
    """``tf.contrib.rnn.EmbeddingWrapper``: the cell reads ``embedding[id]`` for integer inputs ``[B, 1]`` per step;
    ``embedding_wrapper/embedding [V, E]`` (uniform ``±sqrt(3)`` unless ``initializer`` or the scope's is set; the
    state's dtype). The one home of the class: :mod:`legacy_rnn.seq2seq.legacy_seq2seq` imports it.

    Modern equivalent: :func:`modern_rnn.wrappers.embedding_wrapper` (or an ``Embedding`` layer before the RNN).
    """
    return EmbeddingWrapper(cell, embedding_classes, embedding_size, initializer)
