"""TF 1.15 ``tf.contrib.seq2seq`` decoding (``helper.py``, ``basic_decoder.py``, ``decoder.py``,
``beam_search_decoder.py``, ``loss.py``), rebuilt on ``tf.compat.v1`` graph mode with the same maths.

* ``dynamic_decode`` opens ``variable_scope('decoder')``: every variable the cell and the output layer create while
  decoding lives under ``decoder/`` (``decoder/attention_wrapper/...``, ``decoder/<output layer name>/kernel``).
* Greedy: ``sample_id = argmax(logits)``; a row finishes when it emits ``end_token``.
* Beam search (1.15 ``_beam_search_step``; the coverage penalty is in :mod:`.coverage`): ``log_probs [B, W]``
  start at ``[0, -inf, ...]``;
  ``total = log_probs + log_softmax(logits)`` (finished beams may only extend with ``end_token`` at 0 cost);
  ``score = total / ((5 + len) / 6) ** length_penalty_weight``; ``top_k`` over ``W * V``; parent = index // V,
  word = index % V; cell states are gathered by parent; ``gather_tree`` back-tracks the ids at the end.

Modern equivalent: :mod:`modern_rnn.seq2seq.decoders`.
"""
from __future__ import annotations

import abc
import collections
from typing import Optional

import tensorflow as tf

from legacy_rnn.seq2seq.beam_step import (  # noqa: F401  (gather_tree and the state tuples are public here too)
    BeamSearchDecoderOutput, BeamSearchDecoderState, FinalBeamSearchDecoderOutput, beam_search_step, check_batch_beam,
    gather_tree, gather_tree_from_array,
)
from legacy_rnn.seq2seq.coverage import attention_probs
from legacy_rnn.seq2seq.helper import Helper, transpose_batch_time
from migration.core.cell_check import assert_like_rnncell
from migration.core.errors import check_positive_int

v1 = tf.compat.v1
nest = tf.nest


class Decoder(abc.ABC):
    """``tf.contrib.seq2seq.Decoder``: the interface :func:`dynamic_decode` runs (``initialize``, ``step``,
    ``output_size``, ``output_dtype``, ``batch_size``; optional ``finalize`` and ``tracks_own_finished``)."""

    @property
    @abc.abstractmethod
    def batch_size(self):
        """Scalar int32 tensor."""

    @property
    @abc.abstractmethod
    def output_size(self):
        """Structure of shapes of one step's outputs."""

    @property
    @abc.abstractmethod
    def output_dtype(self):
        """Structure of dtypes of one step's outputs."""

    @abc.abstractmethod
    def initialize(self, name=None):
        """``(finished, initial_inputs, initial_state)``."""

    @abc.abstractmethod
    def step(self, time, inputs, state, name=None):
        """``(outputs, next_state, next_inputs, finished)``."""

    def finalize(self, outputs, final_state, sequence_lengths):
        raise NotImplementedError

    @property
    def tracks_own_finished(self) -> bool:
        return False


class BasicDecoderOutput(collections.namedtuple("BasicDecoderOutput", ("rnn_output", "sample_id"))):
    """``tf.contrib.seq2seq.BasicDecoderOutput``. Modern equivalent: :class:`modern_rnn.seq2seq.BasicDecoderOutput`."""


class BasicDecoder(Decoder):
    """``tf.contrib.seq2seq.BasicDecoder``: ``out, state = cell(inputs, state)``; ``logits = output_layer(out)``;
    the helper samples and chooses the next inputs.

    Modern equivalent: :class:`modern_rnn.seq2seq.BasicDecoder`.
    """

    tracks_own_finished = False

    def __init__(self, cell, helper, initial_state, output_layer=None) -> None:
        assert_like_rnncell("cell", cell)
        if not isinstance(helper, Helper):
            raise TypeError(f"helper must be a Helper, received: {type(helper)}")
        if output_layer is not None and not (callable(output_layer) and hasattr(output_layer, "compute_output_shape")):
            raise TypeError(f"output_layer must be a Layer, received: {type(output_layer)}")
        self._cell, self._helper, self._initial_state, self._output_layer = cell, helper, initial_state, output_layer

    @property
    def batch_size(self):
        return self._helper.batch_size

    def _rnn_output_size(self):
        size = self._cell.output_size
        if self._output_layer is None:
            return size
        with_batch = nest.map_structure(lambda s: tf.TensorShape([None]).concatenate(s), size)
        layer_shape = self._output_layer.compute_output_shape(with_batch)
        return nest.map_structure(lambda s: s[1:], layer_shape)

    @property
    def output_size(self) -> BasicDecoderOutput:
        """``(rnn_output size, sample_id shape)`` as 1.15: the output layer's size when there is one."""
        return BasicDecoderOutput(rnn_output=self._rnn_output_size(), sample_id=self._helper.sample_ids_shape)

    @property
    def output_dtype(self) -> BasicDecoderOutput:
        """The dtype of the initial state for ``rnn_output`` (a float16/float64 decoder stays so), the helper's
        ``sample_ids_dtype`` for ``sample_id`` (1.15)."""
        dtype = nest.flatten(self._initial_state)[0].dtype
        return BasicDecoderOutput(nest.map_structure(lambda _: dtype, self._rnn_output_size()),
                                  self._helper.sample_ids_dtype)

    def initialize(self, name=None):
        return self._helper.initialize() + (self._initial_state,)

    def step(self, time, inputs, state, name=None):
        with tf.name_scope(name or "BasicDecoderStep"):
            cell_outputs, cell_state = self._cell(inputs, state)
            if self._output_layer is not None:
                cell_outputs = self._output_layer(cell_outputs)
            sample_ids = self._helper.sample(time=time, outputs=cell_outputs, state=cell_state)
            finished, next_inputs, next_state = self._helper.next_inputs(
                time=time, outputs=cell_outputs, state=cell_state, sample_ids=sample_ids)
        return BasicDecoderOutput(cell_outputs, sample_ids), next_state, next_inputs, finished

    def finalize(self, outputs, final_state, sequence_lengths):
        return outputs, final_state


def dynamic_decode(decoder, output_time_major: bool = False, impute_finished: bool = False,
                   maximum_iterations=None, parallel_iterations: int = 32, swap_memory: bool = False, scope=None):
    """``tf.contrib.seq2seq.dynamic_decode``: run ``decoder.step`` in a ``while_loop`` under ``variable_scope('decoder')``
    until every row is finished or ``maximum_iterations`` is reached. Returns ``(final_outputs, final_state,
    final_sequence_lengths)``; outputs are batch-major unless ``output_time_major``.

    Modern equivalent: :func:`modern_rnn.seq2seq.dynamic_decode` (a Python loop, eager).
    """
    if not isinstance(decoder, Decoder):
        raise TypeError(f"Expected decoder to be type Decoder, but saw: {type(decoder)}")
    with v1.variable_scope(scope, "decoder"):
        if maximum_iterations is not None:
            maximum_iterations = tf.convert_to_tensor(maximum_iterations, dtype=tf.int32, name="maximum_iterations")
        initial_finished, initial_inputs, initial_state = decoder.initialize()
        if maximum_iterations is not None:
            initial_finished = tf.logical_or(initial_finished, 0 >= maximum_iterations)
        initial_lengths = tf.zeros_like(initial_finished, dtype=tf.int32)

        def condition(time, outputs_ta, state, inputs, finished, lengths):
            return tf.logical_not(tf.reduce_all(finished))

        def body(time, outputs_ta, state, inputs, finished, lengths):
            next_outputs, decoder_state, next_inputs, decoder_finished = decoder.step(time, inputs, state)
            if decoder.tracks_own_finished:
                next_finished = decoder_finished
            else:
                next_finished = tf.logical_or(decoder_finished, finished)
            next_lengths = tf.where(tf.logical_not(finished), tf.fill(tf.shape(lengths), time + 1), lengths)
            if decoder.tracks_own_finished and getattr(decoder_state, "lengths", None) is not None:
                next_lengths = tf.cast(decoder_state.lengths, tf.int32)
            if maximum_iterations is not None:
                next_finished = tf.logical_or(next_finished, time + 1 >= maximum_iterations)
            if impute_finished:
                emit = nest.map_structure(lambda out: tf.where(_expand_like(finished, out), tf.zeros_like(out), out),
                                          next_outputs)

                def copy_state(new, cur):
                    if isinstance(cur, tf.TensorArray) or cur.shape.rank == 0:
                        return new
                    new.set_shape(cur.shape)
                    return tf.where(_expand_like(finished, cur), cur, new)

                next_state = nest.map_structure(copy_state, decoder_state, state)
            else:
                emit, next_state = next_outputs, decoder_state
            outputs_ta = nest.map_structure(lambda ta, out: ta.write(time, out), outputs_ta, emit)
            return time + 1, outputs_ta, next_state, next_inputs, next_finished, next_lengths

        outputs_ta = nest.map_structure(lambda dt: tf.TensorArray(dt, size=0, dynamic_size=True),
                                        decoder.output_dtype)
        res = tf.while_loop(
            condition, body,
            loop_vars=(tf.constant(0, tf.int32), outputs_ta, initial_state, initial_inputs, initial_finished,
                       initial_lengths),
            parallel_iterations=parallel_iterations, maximum_iterations=maximum_iterations, swap_memory=swap_memory)
        final_outputs = nest.map_structure(lambda ta: ta.stack(), res[1])
        final_state, final_lengths = res[2], res[5]
        final_outputs, final_state = decoder.finalize(final_outputs, final_state, final_lengths)
        if not output_time_major:
            final_outputs = nest.map_structure(transpose_batch_time, final_outputs)
    return final_outputs, final_state, final_lengths


def _expand_like(mask: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    while mask.shape.rank < like.shape.rank:
        mask = tf.expand_dims(mask, -1)
    return tf.broadcast_to(mask, tf.shape(like))


def tile_batch(t, multiplier: int, name: Optional[str] = None):
    """``tf.contrib.seq2seq.tile_batch``: ``[B, ...] -> [B * multiplier, ...]`` with each row repeated in place
    (``b0, b0, b1, b1``), not ``tf.tile`` (``b0, b1, b0, b1``). Works on nested structures.

    Modern equivalent: :func:`modern_rnn.seq2seq.tile_batch`.
    """
    multiplier = check_positive_int("multiplier", multiplier)

    def tile_one(x):
        x = tf.convert_to_tensor(x)
        if x.shape.rank == 0:
            return x
        tiled = tf.repeat(x, multiplier, axis=0)
        return tiled

    with tf.name_scope(name or "tile_batch"):
        return nest.map_structure(tile_one, t)


class BeamSearchDecoder(Decoder):
    """``tf.contrib.seq2seq.BeamSearchDecoder`` (1.15; ``coverage_penalty_weight`` as in :mod:`.coverage`).

    ``initial_state`` must already be tiled with :func:`tile_batch` (``[B * W, ...]``), as must the attention memory
    and its lengths. ``output_layer`` turns cell outputs into logits. TensorArrays in the cell state (an
    ``AttentionWrapper(alignment_history=True)``) pass through every step as they are and are re-sorted by beam in
    :meth:`finalize` (:func:`.beam_step.gather_tree_from_array`) unless ``reorder_tensor_arrays=False``, as in 1.15.

    Modern equivalent: :class:`modern_rnn.seq2seq.BeamSearchDecoder`.
    """

    tracks_own_finished = True

    def __init__(self, cell, embedding, start_tokens, end_token, initial_state, beam_width: int, output_layer=None,
                 length_penalty_weight: float = 0.0, coverage_penalty_weight: float = 0.0,
                 reorder_tensor_arrays: bool = True) -> None:
        self._coverage_penalty_weight = coverage_penalty_weight
        self._reorder_tensor_arrays = bool(reorder_tensor_arrays)
        self._cell, self._output_layer = cell, output_layer
        self._embedding_fn = embedding if callable(embedding) else (lambda ids: tf.nn.embedding_lookup(embedding, ids))
        self._start_tokens = tf.convert_to_tensor(start_tokens, dtype=tf.int32, name="start_tokens")
        self._end_token = tf.convert_to_tensor(end_token, dtype=tf.int32, name="end_token")
        self._batch_size = tf.size(self._start_tokens)
        self._beam_width = check_positive_int("beam_width", beam_width)
        self._length_penalty_weight = (length_penalty_weight if tf.is_tensor(length_penalty_weight)
                                       else float(length_penalty_weight))  # TF 1.x accepted a tensor (fed at run time)
        self._initial_cell_state = nest.map_structure(self._split, initial_state)
        self._start_tokens_tiled = tf.tile(tf.expand_dims(self._start_tokens, 1), [1, self._beam_width])
        self._start_inputs = self._embedding_fn(self._start_tokens_tiled)
        self._finished = tf.one_hot(tf.zeros([self._batch_size], tf.int32), depth=self._beam_width,
                                    on_value=False, off_value=True, dtype=tf.bool)

    @property
    def batch_size(self):
        return self._batch_size

    @property
    def output_size(self):
        width = tf.TensorShape([self._beam_width])
        return BeamSearchDecoderOutput(scores=width, predicted_ids=width, parent_ids=width)

    @property
    def output_dtype(self):
        return BeamSearchDecoderOutput(scores=tf.float32, predicted_ids=tf.int32, parent_ids=tf.int32)

    def _split(self, t):
        if isinstance(t, tf.TensorArray) or t.shape.rank == 0:
            return t
        out = tf.reshape(t, tf.concat([[self._batch_size, self._beam_width], tf.shape(t)[1:]], 0))
        out.set_shape(tf.TensorShape([tf.get_static_value(self._batch_size), self._beam_width]).concatenate(
            t.shape[1:]))
        return out

    def _merge(self, t):
        if isinstance(t, tf.TensorArray) or t.shape.rank == 0:
            return t
        out = tf.reshape(t, tf.concat([[self._batch_size * self._beam_width], tf.shape(t)[2:]], 0))
        static = tf.get_static_value(self._batch_size)
        out.set_shape(tf.TensorShape([None if static is None else static * self._beam_width]).concatenate(
            t.shape[2:]))
        return out

    def _initial_attention_probs(self):
        probs = attention_probs(self._initial_cell_state, self._coverage_penalty_weight)
        return () if probs is None else probs

    def initialize(self, name=None):
        log_probs = tf.one_hot(tf.zeros([self._batch_size], tf.int32), depth=self._beam_width,
                               on_value=0.0, off_value=float("-inf"), dtype=tf.float32)
        state = BeamSearchDecoderState(cell_state=self._initial_cell_state, log_probs=log_probs,
                                       finished=self._finished,
                                       lengths=tf.zeros([self._batch_size, self._beam_width], tf.int64),
                                       accumulated_attention_probs=self._initial_attention_probs())
        return self._finished, self._start_inputs, state

    def step(self, time, inputs, state, name=None):
        with tf.name_scope(name or "BeamSearchDecoderStep"):
            merged_inputs = self._merge(inputs)
            cell_state = nest.map_structure(self._merge, state.cell_state)
            cell_outputs, next_cell_state = self._cell(merged_inputs, cell_state)
            cell_outputs = self._split(cell_outputs)
            next_cell_state = nest.map_structure(self._split, next_cell_state)
            if self._output_layer is not None:
                cell_outputs = self._output_layer(cell_outputs)
            output, next_state = beam_search_step(
                time, cell_outputs, next_cell_state, state, self._batch_size, self._beam_width, self._end_token,
                self._length_penalty_weight, self._coverage_penalty_weight)
            sample_ids = output.predicted_ids
            next_inputs = tf.cond(tf.reduce_all(next_state.finished), lambda: self._start_inputs,
                                  lambda: self._embedding_fn(sample_ids))
        return output, next_state, next_inputs, next_state.finished

    def finalize(self, outputs, final_state, sequence_lengths):
        max_len = tf.cast(tf.reduce_max(final_state.lengths, axis=1), tf.int32)
        predicted_ids = gather_tree(outputs.predicted_ids, outputs.parent_ids, max_len, self._end_token)
        if self._reorder_tensor_arrays:
            final_state = final_state._replace(cell_state=nest.map_structure(
                lambda t: self._sort_array_beams(t, outputs.parent_ids, final_state.lengths), final_state.cell_state))
        return FinalBeamSearchDecoderOutput(beam_search_decoder_output=outputs, predicted_ids=predicted_ids), final_state

    def _sort_array_beams(self, t, parent_ids, sequence_length):
        """1.15 ``_maybe_sort_array_beams``: a TensorArray of ``[B*W, ...]`` elements is stacked and re-sorted by
        beam; anything else (or elements of unknown or other shape, as 1.15 warned) is returned as it is."""
        if not isinstance(t, tf.TensorArray):
            return t
        shape = t.element_shape
        static_batch = tf.get_static_value(self._batch_size)
        if shape.rank is None or shape.rank < 1 or (
                shape[0] is not None and static_batch is not None and shape[0] != static_batch * self._beam_width):
            return t
        stacked = t.stack()
        with tf.control_dependencies([check_batch_beam(stacked, self._batch_size, self._beam_width)]):
            return gather_tree_from_array(stacked, parent_ids, sequence_length)


def sequence_loss(logits, targets, weights, average_across_timesteps: bool = True, average_across_batch: bool = True,
                  sum_over_timesteps: bool = False, sum_over_batch: bool = False, softmax_loss_function=None,
                  name: Optional[str] = None):
    """``tf.contrib.seq2seq.sequence_loss``: weighted sparse softmax cross-entropy of ``logits [B, T, V]``.

    Averages divide by the sum of the weights (``div_no_nan``); sums divide by the count of non-zero weights.

    Modern equivalent: :func:`modern_rnn.seq2seq.sequence_loss`.
    """
    if (average_across_timesteps and sum_over_timesteps) or (average_across_batch and sum_over_batch):
        raise ValueError("average_across_timesteps and sum_over_timesteps cannot be set to True at same time. "
                         "Same for average_across_batch and sum_over_batch.")
    with tf.name_scope(name or "sequence_loss"):
        logits, weights = tf.convert_to_tensor(logits), tf.convert_to_tensor(weights)
        num_classes = tf.shape(logits)[2]
        logits_flat = tf.reshape(logits, [-1, num_classes])
        targets_flat = tf.reshape(targets, [-1])
        if softmax_loss_function is None:
            crossent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets_flat, logits=logits_flat)
        else:
            crossent = softmax_loss_function(labels=targets_flat, logits=logits_flat)
        crossent *= tf.reshape(weights, [-1])
        if average_across_timesteps and average_across_batch:
            return tf.math.divide_no_nan(tf.reduce_sum(crossent), tf.reduce_sum(weights))
        if sum_over_timesteps and sum_over_batch:
            count = tf.cast(tf.math.count_nonzero(weights), logits.dtype)
            return tf.math.divide_no_nan(tf.reduce_sum(crossent), count)
        crossent = tf.reshape(crossent, tf.shape(logits)[0:2])
        if average_across_timesteps or average_across_batch:
            axis = [0] if average_across_batch else [1]
            return tf.math.divide_no_nan(tf.reduce_sum(crossent, axis=axis), tf.reduce_sum(weights, axis=axis))
        if sum_over_timesteps or sum_over_batch:
            axis = [0] if sum_over_batch else [1]
            count = tf.cast(tf.math.count_nonzero(weights, axis=axis), logits.dtype)
            return tf.math.divide_no_nan(tf.reduce_sum(crossent, axis=axis), count)
        return crossent


class SequenceLoss(tf.keras.losses.Loss):
    """``tf.contrib.seq2seq.SequenceLoss``: :func:`sequence_loss` as a Keras loss, ``loss(y_true=targets,
    y_pred=logits, sample_weight=weights)``; 1.15's defaults sum over time and batch (divided by the count of non-zero
    weights)."""

    def __init__(self, average_across_timesteps: bool = False, average_across_batch: bool = False,
                 sum_over_timesteps: bool = True, sum_over_batch: bool = True, softmax_loss_function=None,
                 name=None) -> None:
        super().__init__(name=name)
        self.average_across_timesteps, self.average_across_batch = average_across_timesteps, average_across_batch
        self.sum_over_timesteps, self.sum_over_batch = sum_over_timesteps, sum_over_batch
        self.softmax_loss_function = softmax_loss_function

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Override the parent __call__ to have a customized reduce behavior (as 1.15)."""
        return sequence_loss(y_pred, y_true, sample_weight, average_across_timesteps=self.average_across_timesteps,
                             average_across_batch=self.average_across_batch,
                             sum_over_timesteps=self.sum_over_timesteps, sum_over_batch=self.sum_over_batch,
                             softmax_loss_function=self.softmax_loss_function, name=self.name)

    def call(self, y_true, y_pred):
        raise NotImplementedError("SequenceLoss is called through __call__ (it needs the weights).")
