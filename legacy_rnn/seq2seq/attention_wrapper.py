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

from migration.core.cell_check import assert_like_rnncell
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


class AttentionMechanism:
    """``tf.contrib.seq2seq.AttentionMechanism``: the base every mechanism :class:`AttentionWrapper` accepts."""

    @property
    def alignments_size(self):
        raise NotImplementedError

    @property
    def state_size(self):
        raise NotImplementedError


class _BaseAttentionMechanism(AttentionMechanism):
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


def hardmax(logits, name=None):
    """``tf.contrib.seq2seq.hardmax``: one-hot of the argmax along the last axis, in the dtype of ``logits``."""
    with tf.name_scope(name or "Hardmax"):
        logits = tf.convert_to_tensor(logits, name="logits")
        depth = tf.compat.dimension_value(logits.shape[-1]) or tf.shape(logits)[-1]
        return tf.one_hot(tf.argmax(logits, -1), depth, dtype=logits.dtype)


def safe_cumprod(x, *args, **kwargs):
    """``tf.contrib.seq2seq.safe_cumprod``: ``exp(cumsum(log(clip(x, tiny, 1))))``; arguments as ``tf.cumsum``."""
    with tf.name_scope("SafeCumprod"):
        x = tf.convert_to_tensor(x, name="x")
        tiny = np.finfo(x.dtype.as_numpy_dtype).tiny
        return tf.exp(tf.cumsum(tf.math.log(tf.clip_by_value(x, tiny, 1)), *args, **kwargs))


def monotonic_attention(p_choose_i, previous_attention, mode):
    """``tf.contrib.seq2seq.monotonic_attention`` (Raffel et al. 2017), ``[B, T]`` in and out.

    * ``recursive``: ``q_i = (1 - p_{i-1}) q_{i-1} + prev_i``, ``a_i = p_i q_i`` (a scan; exact);
    * ``parallel``: ``a = p * c * cumsum(prev / clip(c, 1e-10, 1))`` with ``c = safe_cumprod(1 - p, exclusive)``;
    * ``hard``: ``p * cumsum(prev)`` then ``a = p * cumprod(1 - p, exclusive)`` (``p`` must be 0 or 1).
    """
    p_choose_i = tf.convert_to_tensor(p_choose_i, name="p_choose_i")
    previous_attention = tf.convert_to_tensor(previous_attention, name="previous_attention")
    if mode == "recursive":
        batch_size = tf.compat.dimension_value(p_choose_i.shape[0]) or tf.shape(p_choose_i)[0]
        shifted = tf.concat([tf.ones((batch_size, 1), p_choose_i.dtype), 1 - p_choose_i[:, :-1]], 1)
        q = tf.scan(lambda x, yz: tf.reshape(yz[0] * x + yz[1], (batch_size,)),
                    [tf.transpose(shifted), tf.transpose(previous_attention)],
                    tf.zeros((batch_size,), p_choose_i.dtype))
        return p_choose_i * tf.transpose(q)
    if mode == "parallel":
        cumprod_1mp = safe_cumprod(1 - p_choose_i, axis=1, exclusive=True)
        return p_choose_i * cumprod_1mp * tf.cumsum(
            previous_attention / tf.clip_by_value(cumprod_1mp, 1e-10, 1.), axis=1)
    if mode == "hard":
        p_choose_i *= tf.cumsum(previous_attention, axis=1)
        return p_choose_i * tf.math.cumprod(1 - p_choose_i, axis=1, exclusive=True)
    raise ValueError("mode must be 'recursive', 'parallel', or 'hard'.")


def _monotonic_probability_fn(score, previous_alignments, sigmoid_noise, mode, seed=None):
    if sigmoid_noise > 0:
        score += sigmoid_noise * tf.random.normal(tf.shape(score), dtype=score.dtype, seed=seed)
    p_choose_i = tf.cast(score > 0, score.dtype) if mode == "hard" else tf.sigmoid(score)
    return monotonic_attention(p_choose_i, previous_alignments, mode)


class _BaseMonotonicAttentionMechanism(_BaseAttentionMechanism):
    """Initial alignments are a dirac ``[1, 0, ..., 0]`` (1.15)."""

    def initial_alignments(self, batch_size, dtype) -> tf.Tensor:
        return tf.one_hot(tf.zeros((batch_size,), dtype=tf.int32), self._alignments_size, dtype=dtype)


def _monotonic_fn(sigmoid_noise, mode, seed):
    if mode not in ("recursive", "parallel", "hard"):
        raise ValueError("mode must be 'recursive', 'parallel', or 'hard'.")
    return lambda score, prev: _monotonic_probability_fn(score, prev, sigmoid_noise, mode, seed)


def _score_bias(dtype, init) -> tf.Tensor:
    return v1.get_variable("attention_score_bias", shape=(), dtype=dtype, initializer=v1.constant_initializer(init))


class BahdanauMonotonicAttention(_BaseMonotonicAttentionMechanism):
    """``tf.contrib.seq2seq.BahdanauMonotonicAttention``: the Bahdanau score plus a scalar
    ``bahdanau_monotonic_attention/attention_score_bias`` (init ``score_bias_init``), through
    ``sigmoid`` (with optional pre-sigmoid noise) and :func:`monotonic_attention`."""

    def __init__(self, num_units: int, memory, memory_sequence_length=None, normalize: bool = False,
                 score_mask_value=None, sigmoid_noise: float = 0., sigmoid_noise_seed=None,
                 score_bias_init: float = 0., mode: str = "parallel", dtype=None,
                 name: str = "BahdanauMonotonicAttention") -> None:
        self._num_units = check_positive_int("num_units", num_units)
        self._normalize, self._score_bias_init = bool(normalize), float(score_bias_init)
        dtype = dtype or tf.float32
        super().__init__(
            query_layer=v1.layers.Dense(num_units, name="query_layer", use_bias=False, dtype=dtype),
            memory=memory, probability_fn=_monotonic_fn(sigmoid_noise, mode, sigmoid_noise_seed),
            memory_sequence_length=memory_sequence_length,
            memory_layer=v1.layers.Dense(num_units, name="memory_layer", use_bias=False, dtype=dtype),
            score_mask_value=score_mask_value, name=name)

    def __call__(self, query: tf.Tensor, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with v1.variable_scope(None, "bahdanau_monotonic_attention", [query]):
            processed_query = self.query_layer(query)
            score = _bahdanau_score(processed_query, self._keys, self._normalize)
            score += _score_bias(processed_query.dtype, self._score_bias_init)
        alignments = self._probability_fn(score, state)
        return alignments, alignments


class LuongMonotonicAttention(_BaseMonotonicAttentionMechanism):
    """``tf.contrib.seq2seq.LuongMonotonicAttention``: the Luong score (``attention_g`` with ``scale``) plus a scalar
    ``luong_monotonic_attention/attention_score_bias``, through ``sigmoid`` and :func:`monotonic_attention`."""

    def __init__(self, num_units: int, memory, memory_sequence_length=None, scale: bool = False,
                 score_mask_value=None, sigmoid_noise: float = 0., sigmoid_noise_seed=None,
                 score_bias_init: float = 0., mode: str = "parallel", dtype=None,
                 name: str = "LuongMonotonicAttention") -> None:
        self._num_units = check_positive_int("num_units", num_units)
        self._scale, self._score_bias_init = bool(scale), float(score_bias_init)
        dtype = dtype or tf.float32
        super().__init__(
            query_layer=None, memory=memory, probability_fn=_monotonic_fn(sigmoid_noise, mode, sigmoid_noise_seed),
            memory_sequence_length=memory_sequence_length,
            memory_layer=v1.layers.Dense(num_units, name="memory_layer", use_bias=False, dtype=dtype),
            score_mask_value=score_mask_value, name=name)

    def __call__(self, query: tf.Tensor, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with v1.variable_scope(None, "luong_monotonic_attention", [query]):
            score = _luong_score(query, self._keys, self._scale)
            score += _score_bias(query.dtype, self._score_bias_init)
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


def _compute_attention(attention_mechanism, cell_output, attention_state, attention_layer):
    """1.15 ``_compute_attention``: ``(attention, alignments, next_attention_state)`` for one mechanism."""
    alignments, next_attention_state = attention_mechanism(cell_output, state=attention_state)
    context = tf.squeeze(tf.matmul(tf.expand_dims(alignments, 1), attention_mechanism.values), [1])
    attention = attention_layer(tf.concat([cell_output, context], 1)) if attention_layer is not None else context
    return attention, alignments, next_attention_state


class AttentionWrapper(v1.nn.rnn_cell.RNNCell):
    """``tf.contrib.seq2seq.AttentionWrapper`` for one attention mechanism or a list of them (1.15 ``call``)::

        cell_inputs = cell_input_fn(inputs, state.attention)        # default concat([inputs, attention], -1)
        cell_output, next_cell_state = cell(cell_inputs, state.cell_state)
        alignments = mechanism(cell_output, state.attention_state)
        context = alignments @ values
        attention = concat([cell_output, context], 1) @ attention_layer/kernel   (or context)
        output = attention if output_attention else cell_output

    The wrapped cell's kernel therefore has rows ``[inputs | previous attention | h]``.

    With a list of mechanisms each one scores the same ``cell_output``; ``attention`` is the concatenation of their
    attentions (each through its own ``attention_layer``, ``attention_layer_1``, ... Dense), and ``alignments``,
    ``attention_state``, ``alignment_history`` become tuples. ``attention_layer=`` gives the layers instead of
    ``attention_layer_size``; ``attention_fn(mechanism, cell_output, attention_state, attention_layer)`` replaces the
    computation above and returns ``(attention, alignments, next_attention_state)``.

    Modern equivalent: :class:`modern_rnn.seq2seq.AttentionWrapper` (one mechanism, ``attention_layer_size`` only).
    """

    def __init__(self, cell, attention_mechanism, attention_layer_size=None,
                 alignment_history: bool = False, cell_input_fn: Optional[Callable] = None,
                 output_attention: bool = True, initial_cell_state=None, name: Optional[str] = None,
                 attention_layer=None, attention_fn=None) -> None:
        super().__init__(name=name)
        assert_like_rnncell("cell", cell)
        self._is_multi = isinstance(attention_mechanism, (list, tuple))
        mechanisms = tuple(attention_mechanism) if self._is_multi else (attention_mechanism,)
        for mech in mechanisms:
            if not isinstance(mech, AttentionMechanism):
                raise TypeError("attention_mechanism must be an AttentionMechanism or list of multiple "
                                f"AttentionMechanism instances, saw type: {type(mech).__name__}")
        if cell_input_fn is not None and not callable(cell_input_fn):
            raise TypeError(f"cell_input_fn must be callable, saw type: {type(cell_input_fn).__name__}")
        if attention_layer_size is not None and attention_layer is not None:
            raise ValueError("Only one of attention_layer_size and attention_layer should be set")
        self._attention_layers, self._attention_layer_size = self._make_layers(
            cell, mechanisms, attention_layer_size, attention_layer)
        self._attention_fn = attention_fn or _compute_attention
        self._cell, self._attention_mechanisms = cell, mechanisms
        self._attention_mechanism = mechanisms[0]
        self._cell_input_fn = cell_input_fn or _concat_cell_input
        self._output_attention, self._alignment_history = output_attention, alignment_history
        self._initial_cell_state = initial_cell_state

    @staticmethod
    def _make_layers(cell, mechanisms, attention_layer_size, attention_layer):
        """1.15: one ``attention_layer`` Dense (no bias) per mechanism, or the given layers, or none (the context);
        the attention size is the sum over mechanisms."""
        if attention_layer_size is not None:
            sizes = tuple(attention_layer_size) if isinstance(attention_layer_size, (list, tuple)) else (
                attention_layer_size,)
            if len(sizes) != len(mechanisms):
                raise ValueError("If provided, attention_layer_size must contain exactly one integer per "
                                 f"attention_mechanism, saw: {len(sizes)} vs {len(mechanisms)}")
            sizes = tuple(check_positive_int("attention_layer_size", n) for n in sizes)
            return tuple(v1.layers.Dense(n, name="attention_layer", use_bias=False, dtype=m.dtype)
                         for n, m in zip(sizes, mechanisms)), sum(sizes)
        if attention_layer is not None:
            layers = tuple(attention_layer) if isinstance(attention_layer, (list, tuple)) else (attention_layer,)
            if len(layers) != len(mechanisms):
                raise ValueError("If provided, attention_layer must contain exactly one layer per "
                                 f"attention_mechanism, saw: {len(layers)} vs {len(mechanisms)}")
            return layers, sum(tf.compat.dimension_value(layer.compute_output_shape(
                [None, cell.output_size + tf.compat.dimension_value(m.values.shape[-1])])[-1])
                for layer, m in zip(layers, mechanisms))
        return None, sum(tf.compat.dimension_value(m.values.shape[-1]) for m in mechanisms)

    def _item_or_tuple(self, seq):
        t = tuple(seq)
        return t if self._is_multi else t[0]

    @property
    def output_size(self):
        return self._attention_layer_size if self._output_attention else self._cell.output_size

    @property
    def state_size(self) -> AttentionWrapperState:
        mechs = self._attention_mechanisms
        return AttentionWrapperState(
            cell_state=self._cell.state_size, time=tf.TensorShape([]), attention=self._attention_layer_size,
            alignments=self._item_or_tuple(m.alignments_size for m in mechs),
            attention_state=self._item_or_tuple(m.state_size for m in mechs),
            alignment_history=self._item_or_tuple(m.alignments_size if self._alignment_history else ()
                                                  for m in mechs))

    def zero_state(self, batch_size, dtype) -> AttentionWrapperState:
        with tf.name_scope(type(self).__name__ + "ZeroState"):
            cell_state = self._initial_cell_state
            if cell_state is None:
                cell_state = self._cell.zero_state(batch_size, dtype)
            alignments = [m.initial_alignments(batch_size, dtype) for m in self._attention_mechanisms]
            return AttentionWrapperState(
                cell_state=cell_state, time=tf.zeros([], dtype=tf.int32),
                attention=tf.zeros(tf.stack([batch_size, self._attention_layer_size]), dtype=dtype),
                alignments=self._item_or_tuple(alignments),
                attention_state=self._item_or_tuple(m.initial_state(batch_size, dtype)
                                                    for m in self._attention_mechanisms),
                alignment_history=self._item_or_tuple(
                    tf.TensorArray(dtype, size=0, dynamic_size=True, element_shape=a.shape)
                    if self._alignment_history else () for a in alignments))

    def call(self, inputs: tf.Tensor, state: AttentionWrapperState):
        if not isinstance(state, AttentionWrapperState):
            raise TypeError(f"Expected state to be instance of AttentionWrapperState. Received type {type(state)} "
                            "instead.")
        cell_inputs = self._cell_input_fn(inputs, state.attention)
        cell_output, next_cell_state = self._cell(cell_inputs, state.cell_state)
        previous_states = state.attention_state if self._is_multi else [state.attention_state]
        previous_histories = state.alignment_history if self._is_multi else [state.alignment_history]
        attentions, alignments_all, states, histories = [], [], [], []
        for i, mech in enumerate(self._attention_mechanisms):
            attention, alignments, next_attention_state = self._attention_fn(
                mech, cell_output, previous_states[i], self._attention_layers[i] if self._attention_layers else None)
            histories.append(previous_histories[i].write(state.time, alignments) if self._alignment_history else ())
            attentions.append(attention)
            alignments_all.append(alignments)
            states.append(next_attention_state)
        attention = tf.concat(attentions, 1)
        next_state = AttentionWrapperState(
            time=state.time + 1, cell_state=next_cell_state, attention=attention,
            attention_state=self._item_or_tuple(states), alignments=self._item_or_tuple(alignments_all),
            alignment_history=self._item_or_tuple(histories))
        return (attention if self._output_attention else cell_output), next_state
