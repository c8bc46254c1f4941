"""``tf.contrib.rnn`` cell wrappers that own variables: OutputProjectionWrapper, InputProjectionWrapper,
EmbeddingWrapper, rebuilt for TensorFlow 2.21 under TF 1.15's names (``contrib/rnn/python/ops/core_rnn_cell.py``).

Each wrapper is a layer whose variable scope holds its own variables **and** the wrapped cell's:
``rnn/output_projection_wrapper/{kernel [U, P], bias [P]}`` beside ``rnn/output_projection_wrapper/<cell>/...``;
``input_projection_wrapper/{kernel [D, P], bias [P]}`` (the cell then reads P-wide inputs);
``embedding_wrapper/embedding [V, E]`` (the cell reads ids, one per step); and ``AttentionCellWrapper``
(``contrib/rnn/python/ops/rnn_cell.py``: ``attention_cell_wrapper/{kernel, bias, attention/..., attn_output_projection/...}``,
see :func:`attention_cell_wrapper`).

The classes are the single home of these wrappers in this package (``legacy_rnn.seq2seq`` imports them).

Read beside :mod:`modern_rnn.wrappers`: the same names, in the same order.
"""
from __future__ import annotations

import math
from typing import Optional

import tensorflow as tf

from migration.core.cell_check import assert_like_rnncell
from migration.core.errors import check_positive_int

v1 = tf.compat.v1
nest = tf.nest
rnn_cell = tf.compat.v1.nn.rnn_cell


def _linear(x, size: int):
    """1.15 ``core_rnn_cell._Linear(x, size, bias=True)``: ``concat(x, 1) @ kernel + bias`` with ``kernel`` (the
    scope's initializer, Glorot uniform by default) and ``bias`` (zeros) in the current scope, in ``x``'s dtype."""
    x = tf.concat(list(x), 1) if isinstance(x, (list, tuple)) else x
    kernel = v1.get_variable("kernel", [int(x.shape[-1]), size], x.dtype)
    bias = v1.get_variable("bias", [size], x.dtype, v1.constant_initializer(0.0, dtype=x.dtype))
    return tf.nn.bias_add(tf.matmul(x, kernel), bias)


class Wrapper(rnn_cell.RNNCell):
    """The state is the wrapped cell's; the scope name comes from the class name, as in 1.15
    (``OutputProjectionWrapper`` -> ``output_projection_wrapper``)."""

    def __init__(self, cell, reuse=None) -> None:
        super().__init__(_reuse=reuse)
        assert_like_rnncell("cell", cell)
        self._cell = cell

    @property
    def state_size(self):
        return self._cell.state_size

    @property
    def output_size(self):
        return self._cell.output_size

    def zero_state(self, batch_size, dtype):
        return self._cell.zero_state(batch_size, dtype)


class OutputProjectionWrapper(Wrapper):
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


class InputProjectionWrapper(Wrapper):
    """1.15 ``contrib.rnn.InputProjectionWrapper``; see :func:`input_projection_wrapper`."""

    def __init__(self, cell, num_proj: int, activation=None, input_size=None, reuse=None) -> None:
        super().__init__(cell, reuse)   # input_size: deprecated and ignored by 1.15 (it logged a warning)
        self._size, self._activation = check_positive_int("num_proj", num_proj), activation

    def call(self, inputs, state):
        projected = _linear(inputs, self._size)
        return self._cell(self._activation(projected) if self._activation else projected, state)


class EmbeddingWrapper(Wrapper):
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


class AttentionCellWrapper(Wrapper):
    """1.15 ``contrib.rnn.AttentionCellWrapper``; see :func:`attention_cell_wrapper` for the equations."""

    def __init__(self, cell, attn_length: int, attn_size: Optional[int] = None, attn_vec_size: Optional[int] = None,
                 input_size: Optional[int] = None, state_is_tuple: bool = True, reuse=None) -> None:
        super().__init__(cell, reuse)
        if nest.is_nested(cell.state_size) and not state_is_tuple:
            raise ValueError(f"Received a cell whose state is a tuple ({cell.state_size}) with state_is_tuple=False: "
                             "pass state_is_tuple=True (TF 1.15 refuses the same).")
        self._length = check_positive_int("attn_length", attn_length)
        self._size = check_positive_int("attn_size", attn_size if attn_size is not None else cell.output_size)
        self._vec_size = check_positive_int("attn_vec_size", attn_vec_size if attn_vec_size is not None
                                            else self._size)
        self._input_size = None if input_size is None else check_positive_int("input_size", input_size)
        self._tuple = state_is_tuple

    @property
    def state_size(self):
        size = (self._cell.state_size, self._size, self._size * self._length)
        return size if self._tuple else sum(size)

    @property
    def output_size(self) -> int:
        return self._size

    def zero_state(self, batch_size, dtype):
        return rnn_cell.RNNCell.zero_state(self, batch_size, dtype)

    def _split(self, state):
        if self._tuple:
            return state
        cell_size = self._cell.state_size
        return (state[:, :cell_size], state[:, cell_size:cell_size + self._size],
                state[:, cell_size + self._size:])

    def call(self, inputs, state):
        cell_state, attns, window = self._split(state)
        window = tf.reshape(window, [-1, self._length, self._size])
        projected = _linear([inputs, attns], self._input_size or int(inputs.shape[-1]))
        cell_output, new_cell_state = self._cell(projected, cell_state)
        query = tf.concat(nest.flatten(new_cell_state), 1)
        with v1.variable_scope("attention"):
            attn_w = v1.get_variable("attn_w", [1, 1, self._size, self._vec_size], inputs.dtype)
            attn_v = v1.get_variable("attn_v", [self._vec_size], inputs.dtype)
            hidden = tf.reshape(window, [-1, self._length, 1, self._size])
            features = tf.nn.conv2d(hidden, attn_w, [1, 1, 1, 1], "SAME")  # a 1x1 conv: window @ attn_w[0, 0]
            y = tf.reshape(_linear(query, self._vec_size), [-1, 1, 1, self._vec_size])
            a = tf.nn.softmax(tf.reduce_sum(attn_v * tf.tanh(features + y), [2, 3]))  # over the window, [B, L]
            new_attns = tf.reduce_sum(tf.reshape(a, [-1, self._length, 1, 1]) * hidden, [1, 2])
        with v1.variable_scope("attn_output_projection"):
            output = _linear([cell_output, new_attns], self._size)
        new_window = tf.reshape(tf.concat([window[:, 1:], tf.expand_dims(output, 1)], 1),
                                [-1, self._length * self._size])
        new_state = (new_cell_state, new_attns, new_window)
        return output, (new_state if self._tuple else tf.concat(list(new_state), 1))


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


def attention_cell_wrapper(cell, attn_length: int, attn_size: Optional[int] = None,
                           attn_vec_size: Optional[int] = None, input_size: Optional[int] = None,
                           state_is_tuple: bool = True) -> AttentionCellWrapper:
    """``tf.contrib.rnn.AttentionCellWrapper`` (TF 1.15 ``contrib/rnn/python/ops/rnn_cell.py``): attention over a
    window of the last ``L = attn_length`` outputs. ``A = attn_size`` (default the cell's output size),
    ``V = attn_vec_size`` (default A), ``I = input_size`` (default the input depth D), ``S`` = the cell's flattened
    state size (``c`` then ``h`` for an LSTM). One step, window ``W [B, L, A]`` and ``attns [B, A]`` from the state::

        x'      = [x, attns] @ kernel + bias                         kernel [D + A, I], bias [I]
        out, s' = cell(x', s)
        q       = concat(flatten(s'))                                [B, S]   (LSTMStateTuple: c, h)
        e_l     = attn_v . tanh(W_l @ attn_w[0, 0] + q @ attention/kernel + attention/bias)
        a       = softmax(e) over the L window slots;  attns' = sum_l a_l W_l
        y       = [out, attns'] @ attn_output_projection/kernel + bias  kernel [U + A, A]
        W'      = concat(W[:, 1:], y)                                (oldest slot dropped, y appended last)

    The state is ``(s', attns', W' flattened [B, L*A])`` (concatenated when ``state_is_tuple=False``); the output is
    ``y``. Variables under ``<rnn scope>/attention_cell_wrapper/``: ``kernel``, ``bias``, ``<cell>/...``,
    ``attention/{attn_w [1, 1, A, V], attn_v [V], kernel [S, V], bias [V]}``,
    ``attn_output_projection/{kernel, bias}``. The window starts as zeros, so the first steps attend over zero
    slots too (as in 1.15).

    Modern equivalent: :func:`modern_rnn.wrappers.attention_cell_wrapper` (converters in
    :mod:`migration.wrapper_converters`).
    """
    return AttentionCellWrapper(cell, attn_length, attn_size, attn_vec_size, input_size, state_is_tuple)
