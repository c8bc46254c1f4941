"""TF 1.15 ``tf.contrib.seq2seq`` attention (``attention_wrapper.py``), rebuilt on ``tf.compat.v1`` graph mode.

Same variable names, shapes and maths as the 1.15 source. With the mechanism built at the top level and the wrapper
run by :func:`legacy_rnn.seq2seq.dynamic_decode` (variable scope ``decoder``), the checkpoint holds::

    memory_layer/kernel                                      [M, N]   keys = memory @ W_m (built at construction)
    decoder/attention_wrapper/<cell scope>/...               the wrapped cell; its input is concat([x, attention])
    decoder/attention_wrapper/bahdanau_attention/query_layer/kernel  [Q, N]
    decoder/attention_wrapper/bahdanau_attention/attention_v         [N]
    decoder/attention_wrapper/bahdanau_attention/attention_g         []   (normalize=True)
    decoder/attention_wrapper/bahdanau_attention/attention_b         [N]  (normalize=True)
    decoder/attention_wrapper/luong_attention/attention_g            []   (scale=True)
    decoder/attention_wrapper/attention_layer/kernel         [Q + M, A]  (attention_layer_size=A)

Scores (``keys`` [B, T, N], query q [B, Q]):

* Bahdanau: ``score = sum_n v_n tanh(keys + q W_q)``; with ``normalize``: ``v -> g v / ||v||`` and ``+ b`` inside tanh.
* Luong: ``score = q . keys_t`` (needs Q == N); with ``scale``: ``g * score``.

``alignments = softmax(mask(score))`` where padded memory steps get ``-inf`` (``memory_sequence_length``); the memory
itself is zeroed past each length before ``memory_layer``. ``context = alignments @ values``;
``attention = [cell_output, context] @ W_a`` (or ``context`` when ``attention_layer_size`` is None).

Modern equivalent: :mod:`modern_rnn.seq2seq.attention_wrapper`.
"""
from __future__ import annotations

import collections
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from migration.core.errors import check_positive_int

v1 = tf.compat.v1
nest = tf.nest


def _prepare_memory(memory: tf.Tensor, memory_sequence_length: Optional[tf.Tensor]) -> tf.Tensor:
    """Zero the memory past each sequence length (1.15 ``_prepare_memory``)."""
    memory = tf.convert_to_tensor(memory, name="memory")
    if memory_sequence_length is None:
        return memory
    mask = tf.sequence_mask(memory_sequence_length, maxlen=tf.shape(memory)[1], dtype=memory.dtype)
    return memory * tf.expand_dims(mask, -1)


def _maybe_mask_score(score: tf.Tensor, memory_sequence_length, score_mask_value) -> tf.Tensor:
    """Padded memory steps get ``score_mask_value`` (default ``-inf``) before the probability function."""
    if memory_sequence_length is None:
        return score
    score_mask = tf.sequence_mask(memory_sequence_length, maxlen=tf.shape(score)[1])
    return tf.where(score_mask, score, score_mask_value * tf.ones_like(score))


class _BaseAttentionMechanism:
    """Shared part of the 1.15 mechanisms: masked memory, ``memory_layer`` keys, masked probability function."""

    def __init__(self, query_layer, memory, probability_fn: Callable, memory_sequence_length, memory_layer,
                 score_mask_value, name: str) -> None:
        self.query_layer, self.memory_layer = query_layer, memory_layer
        self.dtype = memory_layer.dtype if memory_layer is not None else tf.float32
        if score_mask_value is None:
            score_mask_value = float("-inf")
        self._probability_fn = lambda score, prev: probability_fn(
            _maybe_mask_score(score, memory_sequence_length, score_mask_value), prev)
        with tf.name_scope(name):
            self._values = _prepare_memory(memory, memory_sequence_length)
            self._keys = self.memory_layer(self._values) if self.memory_layer is not None else self._values
        self._batch_size = tf.compat.dimension_value(self._keys.shape[0]) or tf.shape(self._keys)[0]
        self._alignments_size = tf.compat.dimension_value(self._keys.shape[1]) or tf.shape(self._keys)[1]
        self.memory_sequence_length = memory_sequence_length

    @property
    def values(self) -> tf.Tensor:
        return self._values

    @property
    def keys(self) -> tf.Tensor:
        return self._keys

    @property
    def batch_size(self):
        return self._batch_size

    @property
    def alignments_size(self):
        return self._alignments_size

    @property
    def state_size(self):
        return self._alignments_size

    def initial_alignments(self, batch_size, dtype) -> tf.Tensor:
        return tf.zeros(tf.stack([batch_size, self._alignments_size]), dtype=dtype)

    def initial_state(self, batch_size, dtype) -> tf.Tensor:
        return self.initial_alignments(batch_size, dtype)


def _bahdanau_score(processed_query: tf.Tensor, keys: tf.Tensor, normalize: bool) -> tf.Tensor:
    dtype = processed_query.dtype
    num_units = tf.compat.dimension_value(keys.shape[2]) or tf.shape(keys)[2]
    processed_query = tf.expand_dims(processed_query, 1)
    v = v1.get_variable("attention_v", [num_units], dtype=dtype)
    if normalize:
        g = v1.get_variable("attention_g", dtype=dtype, shape=(),
                            initializer=v1.constant_initializer(float(np.sqrt(1.0 / num_units))))
        b = v1.get_variable("attention_b", [num_units], dtype=dtype, initializer=v1.zeros_initializer())
        normed_v = g * v * tf.math.rsqrt(tf.reduce_sum(tf.square(v)))
        return tf.reduce_sum(normed_v * tf.tanh(keys + processed_query + b), [2])
    return tf.reduce_sum(v * tf.tanh(keys + processed_query), [2])


class BahdanauAttention(_BaseAttentionMechanism):
    """``tf.contrib.seq2seq.BahdanauAttention`` (additive attention, optional weight normalisation).

    Variables: ``memory_layer/kernel [M, N]`` (at construction), and at the first call under the calling scope
    ``bahdanau_attention/query_layer/kernel [Q, N]``, ``bahdanau_attention/attention_v [N]``, plus
    ``attention_g []`` (init ``sqrt(1/N)``) and ``attention_b [N]`` with ``normalize=True``.

    Modern equivalent: :class:`modern_rnn.seq2seq.BahdanauAttention`.
    """

    def __init__(self, num_units: int, memory, memory_sequence_length=None, normalize: bool = False,
                 probability_fn: Optional[Callable] = None, score_mask_value=None, dtype=None,
                 custom_key_value_fn=None, name: str = "BahdanauAttention") -> None:
        if custom_key_value_fn is not None:
            raise NotImplementedError("custom_key_value_fn is not supported by legacy_rnn.seq2seq.")
        self._num_units = check_positive_int("num_units", num_units)
        self._normalize = bool(normalize)
        prob = probability_fn or tf.nn.softmax
        dtype = dtype or tf.float32
        super().__init__(
            query_layer=v1.layers.Dense(num_units, name="query_layer", use_bias=False, dtype=dtype),
            memory=memory, probability_fn=lambda score, _: prob(score),
            memory_sequence_length=memory_sequence_length,
            memory_layer=v1.layers.Dense(num_units, name="memory_layer", use_bias=False, dtype=dtype),
            score_mask_value=score_mask_value, name=name)

    def __call__(self, query: tf.Tensor, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with v1.variable_scope(None, "bahdanau_attention", [query]):
            processed_query = self.query_layer(query) if self.query_layer else query
            score = _bahdanau_score(processed_query, self._keys, self._normalize)
        alignments = self._probability_fn(score, state)
        return alignments, alignments


def _luong_score(query: tf.Tensor, keys: tf.Tensor, scale: bool) -> tf.Tensor:
    depth, key_units = query.shape[-1], keys.shape[-1]
    if depth != key_units:
        raise ValueError(
            f"Incompatible or unknown inner dimensions between query and keys. Query ({query}) has units: {depth}. "
            f"Keys ({keys}) have units: {key_units}. Perhaps you need to set num_units to the keys' dimension ({depth})?")
    score = tf.squeeze(tf.matmul(tf.expand_dims(query, 1), keys, transpose_b=True), [1])
    if scale:
        g = v1.get_variable("attention_g", dtype=query.dtype, initializer=v1.ones_initializer(), shape=())
        score = g * score
    return score


class LuongAttention(_BaseAttentionMechanism):
    """``tf.contrib.seq2seq.LuongAttention`` (multiplicative attention, optional learned scale).

    Variables: ``memory_layer/kernel [M, N]`` and, with ``scale=True``, ``luong_attention/attention_g []`` (init 1).
    There is no query layer: the query depth (the cell output) must equal ``num_units``.

    Modern equivalent: :class:`modern_rnn.seq2seq.LuongAttention`.
    """

    def __init__(self, num_units: int, memory, memory_sequence_length=None, scale: bool = False,
                 probability_fn: Optional[Callable] = None, score_mask_value=None, dtype=None,
                 custom_key_value_fn=None, name: str = "LuongAttention") -> None:
        if custom_key_value_fn is not None:
            raise NotImplementedError("custom_key_value_fn is not supported by legacy_rnn.seq2seq.")
        self._num_units = check_positive_int("num_units", num_units)
        self._scale = bool(scale)
        prob = probability_fn or tf.nn.softmax
        dtype = dtype or tf.float32
        super().__init__(
            query_layer=None, memory=memory, probability_fn=lambda score, _: prob(score),
            memory_sequence_length=memory_sequence_length,
            memory_layer=v1.layers.Dense(num_units, name="memory_layer", use_bias=False, dtype=dtype),
            score_mask_value=score_mask_value, name=name)

    def __call__(self, query: tf.Tensor, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with v1.variable_scope(None, "luong_attention", [query]):
            score = _luong_score(query, self._keys, self._scale)
        alignments = self._probability_fn(score, state)
        return alignments, alignments


class AttentionWrapperState(collections.namedtuple(
        "AttentionWrapperState",
        ("cell_state", "attention", "time", "alignments", "alignment_history", "attention_state"))):
    """``tf.contrib.seq2seq.AttentionWrapperState``: the wrapped cell's state plus the attention bookkeeping.

    ``alignment_history`` is a ``TensorArray`` (one ``[B, T]`` alignment per decoder step; ``.stack()`` gives
    ``[steps, B, T]``) when the wrapper was built with ``alignment_history=True``, else ``()``.

    Modern equivalent: :class:`modern_rnn.seq2seq.AttentionWrapperState`.
    """

    def clone(self, **kwargs) -> "AttentionWrapperState":
        return self._replace(**kwargs)


def _concat_cell_input(inputs: tf.Tensor, attention: tf.Tensor) -> tf.Tensor:
    return tf.concat([inputs, attention], -1)


class AttentionWrapper(v1.nn.rnn_cell.RNNCell):
    """``tf.contrib.seq2seq.AttentionWrapper`` for one attention mechanism (1.15 ``call``)::

        cell_inputs = cell_input_fn(inputs, state.attention)        # default concat([inputs, attention], -1)
        cell_output, next_cell_state = cell(cell_inputs, state.cell_state)
        alignments = mechanism(cell_output, state.attention_state)
        context = alignments @ values
        attention = concat([cell_output, context], 1) @ attention_layer/kernel   (or context)
        output = attention if output_attention else cell_output

    The wrapped cell's kernel therefore has rows ``[inputs | previous attention | h]``.

    Modern equivalent: :class:`modern_rnn.seq2seq.AttentionWrapper`.
    """

    def __init__(self, cell, attention_mechanism, attention_layer_size: Optional[int] = None,
                 alignment_history: bool = False, cell_input_fn: Optional[Callable] = None,
                 output_attention: bool = True, initial_cell_state=None, name: Optional[str] = None,
                 attention_layer=None, attention_fn=None) -> None:
        super().__init__(name=name)
        if isinstance(attention_mechanism, (list, tuple)) or attention_layer is not None or attention_fn is not None:
            raise NotImplementedError(
                "legacy_rnn.seq2seq.AttentionWrapper supports one attention mechanism with the default "
                "attention_layer_size/attention_fn; got a list, attention_layer or attention_fn.")
        self._cell, self._attention_mechanism = cell, attention_mechanism
        self._cell_input_fn = cell_input_fn or _concat_cell_input
        if attention_layer_size is not None:
            attention_layer_size = check_positive_int("attention_layer_size", attention_layer_size)
            self._attention_layer = v1.layers.Dense(attention_layer_size, name="attention_layer", use_bias=False,
                                                    dtype=attention_mechanism.dtype)
            self._attention_layer_size = attention_layer_size
        else:
            self._attention_layer = None
            self._attention_layer_size = tf.compat.dimension_value(attention_mechanism.values.shape[-1])
        self._output_attention, self._alignment_history = output_attention, alignment_history
        self._initial_cell_state = initial_cell_state

    @property
    def output_size(self):
        return self._attention_layer_size if self._output_attention else self._cell.output_size

    @property
    def state_size(self) -> AttentionWrapperState:
        mech = self._attention_mechanism
        return AttentionWrapperState(
            cell_state=self._cell.state_size, time=tf.TensorShape([]), attention=self._attention_layer_size,
            alignments=mech.alignments_size, attention_state=mech.state_size,
            alignment_history=mech.alignments_size if self._alignment_history else ())

    def zero_state(self, batch_size, dtype) -> AttentionWrapperState:
        with tf.name_scope(type(self).__name__ + "ZeroState"):
            cell_state = self._initial_cell_state
            if cell_state is None:
                cell_state = self._cell.zero_state(batch_size, dtype)
            mech = self._attention_mechanism
            alignments = mech.initial_alignments(batch_size, dtype)
            history = (tf.TensorArray(dtype, size=0, dynamic_size=True, element_shape=alignments.shape)
                       if self._alignment_history else ())
            return AttentionWrapperState(
                cell_state=cell_state, time=tf.zeros([], dtype=tf.int32),
                attention=tf.zeros(tf.stack([batch_size, self._attention_layer_size]), dtype=dtype),
                alignments=alignments, attention_state=mech.initial_state(batch_size, dtype),
                alignment_history=history)

    def call(self, inputs: tf.Tensor, state: AttentionWrapperState):
        if not isinstance(state, AttentionWrapperState):
            raise TypeError(f"Expected state to be instance of AttentionWrapperState. Received type {type(state)} "
                            "instead.")
        cell_inputs = self._cell_input_fn(inputs, state.attention)
        cell_output, next_cell_state = self._cell(cell_inputs, state.cell_state)
        mech = self._attention_mechanism
        alignments, next_attention_state = mech(cell_output, state=state.attention_state)
        context = tf.squeeze(tf.matmul(tf.expand_dims(alignments, 1), mech.values), [1])
        if self._attention_layer is not None:
            attention = self._attention_layer(tf.concat([cell_output, context], 1))
        else:
            attention = context
        history = state.alignment_history.write(state.time, alignments) if self._alignment_history else ()
        next_state = AttentionWrapperState(
            time=state.time + 1, cell_state=next_cell_state, attention=attention,
            attention_state=next_attention_state, alignments=alignments, alignment_history=history)
        return (attention if self._output_attention else cell_output), next_state
