"""Keras 2 twins of TF 1.15 ``tf.contrib.seq2seq`` decoding: helpers, a decoder, an eager decode loop, beam search.

Read beside :mod:`legacy_rnn.seq2seq.decoders`: same names, same maths, run eagerly (a Python loop instead of a
``while_loop``). ``cell`` is a :class:`modern_rnn.seq2seq.AttentionWrapper` or any Keras cell called as
``cell(inputs, state)``; ``embedding`` is a Keras ``Embedding`` layer, a callable or a matrix; ``output_layer`` a
Keras ``Dense``. Beam search follows 1.15's ``_beam_search_step`` (no coverage penalty), see the legacy docstring.

Legacy equivalent: :mod:`legacy_rnn.seq2seq.decoders`.
"""
from __future__ import annotations

import collections
from typing import Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int

nest = tf.nest


def _embedding_fn(embedding):
    if callable(embedding):
        return embedding
    return lambda ids: tf.nn.embedding_lookup(embedding, ids)


class TrainingHelper:
    """Teacher forcing over batch-major ``inputs [B, T, D]``; finished once ``t + 1 >= sequence_length``.

    Legacy equivalent: :class:`legacy_rnn.seq2seq.TrainingHelper`.
    """

    def __init__(self, inputs, sequence_length, time_major: bool = False) -> None:
        inputs = tf.convert_to_tensor(inputs)
        self._inputs = inputs if time_major else tf.transpose(inputs, [1, 0, 2])
        self._sequence_length = tf.convert_to_tensor(sequence_length)
        self.batch_size = int(self._sequence_length.shape[0])

    def initialize(self):
        finished = tf.equal(0, self._sequence_length)
        return finished, (tf.zeros_like(self._inputs[0]) if bool(tf.reduce_all(finished)) else self._inputs[0])

    def sample(self, time, outputs, state):
        return tf.cast(tf.argmax(outputs, axis=-1), tf.int32)

    def next_inputs(self, time, outputs, state, sample_ids):
        finished = time + 1 >= self._sequence_length
        if bool(tf.reduce_all(finished)) or time + 1 >= self._inputs.shape[0]:
            return finished, tf.zeros_like(self._inputs[0]), state
        return finished, self._inputs[time + 1], state


class GreedyEmbeddingHelper:
    """Feeds ``embedding(argmax(logits))`` back from ``start_tokens``; a row finishes on ``end_token``.

    Legacy equivalent: :class:`legacy_rnn.seq2seq.GreedyEmbeddingHelper`.
    """

    def __init__(self, embedding, start_tokens, end_token: int) -> None:
        self._embedding_fn = _embedding_fn(embedding)
        self._start_tokens = tf.convert_to_tensor(start_tokens, tf.int32)
        self._end_token = int(end_token)
        self.batch_size = int(self._start_tokens.shape[0])
        self._start_inputs = self._embedding_fn(self._start_tokens)

    def initialize(self):
        return tf.zeros([self.batch_size], tf.bool), self._start_inputs

    def sample(self, time, outputs, state):
        return tf.cast(tf.argmax(outputs, axis=-1), tf.int32)

    def next_inputs(self, time, outputs, state, sample_ids):
        finished = tf.equal(sample_ids, self._end_token)
        next_inputs = tf.where(tf.reduce_all(finished), self._start_inputs, self._embedding_fn(sample_ids))
        return finished, next_inputs, state


class BasicDecoderOutput(collections.namedtuple("BasicDecoderOutput", ("rnn_output", "sample_id"))):
    """Per-step ``(rnn_output, sample_id)``. Legacy equivalent: :class:`legacy_rnn.seq2seq.BasicDecoderOutput`."""


class BasicDecoder:
    """``out, state = cell(inputs, state)``; ``logits = output_layer(out)``; the helper samples.

    Legacy equivalent: :class:`legacy_rnn.seq2seq.BasicDecoder`.
    """

    tracks_own_finished = False

    def __init__(self, cell, helper, initial_state, output_layer=None) -> None:
        self.cell, self.helper, self.initial_state, self.output_layer = cell, helper, initial_state, output_layer

    @property
    def batch_size(self) -> int:
        return self.helper.batch_size

    def initialize(self):
        return self.helper.initialize() + (self.initial_state,)

    def step(self, time: int, inputs, state):
        cell_outputs, cell_state = self.cell(inputs, state)
        if self.output_layer is not None:
            cell_outputs = self.output_layer(cell_outputs)
        sample_ids = self.helper.sample(time, cell_outputs, cell_state)
        finished, next_inputs, next_state = self.helper.next_inputs(time, cell_outputs, cell_state, sample_ids)
        return BasicDecoderOutput(cell_outputs, sample_ids), next_state, next_inputs, finished

    def finalize(self, outputs, final_state, sequence_lengths):
        return outputs, final_state


def dynamic_decode(decoder, output_time_major: bool = False, impute_finished: bool = False,
                   maximum_iterations: Optional[int] = None):
    """Step ``decoder`` until every row is finished or ``maximum_iterations``; returns ``(outputs, state, lengths)``
    with batch-major outputs unless ``output_time_major``. An eager Python loop (no variable scope to open).

    Legacy equivalent: :func:`legacy_rnn.seq2seq.dynamic_decode` (a ``while_loop`` under ``variable_scope('decoder')``).
    """
    finished, inputs, state = decoder.initialize()
    if maximum_iterations is not None and maximum_iterations <= 0:
        finished = tf.ones_like(finished)
    lengths = tf.zeros_like(finished, dtype=tf.int32)
    emitted, time = [], 0
    while not bool(tf.reduce_all(finished)):
        outputs, decoder_state, next_inputs, decoder_finished = decoder.step(time, inputs, state)
        next_finished = decoder_finished if decoder.tracks_own_finished else tf.logical_or(decoder_finished, finished)
        lengths = tf.where(tf.logical_not(finished), time + 1, lengths)
        if decoder.tracks_own_finished and getattr(decoder_state, "lengths", None) is not None:
            lengths = tf.cast(decoder_state.lengths, tf.int32)
        if maximum_iterations is not None and time + 1 >= maximum_iterations:
            next_finished = tf.ones_like(next_finished)
        if impute_finished:
            def keep(mask, new, cur):
                while mask.shape.rank < new.shape.rank:
                    mask = mask[..., None]
                return tf.where(mask, cur, new)
            outputs = nest.map_structure(lambda o: keep(finished, o, tf.zeros_like(o)), outputs)
            decoder_state = nest.map_structure(
                lambda n, c: n if isinstance(c, tf.TensorArray) or c.shape.rank == 0 else keep(finished, n, c),
                decoder_state, state)
        emitted.append(outputs)
        state, inputs, finished, time = decoder_state, next_inputs, next_finished, time + 1
    if not emitted:
        raise ValueError("dynamic_decode: every row was finished before the first step (zero sequence lengths or "
                         "maximum_iterations=0); there is nothing to decode.")
    stacked = nest.map_structure(lambda *steps: tf.stack(steps), *emitted)
    stacked, state = decoder.finalize(stacked, state, lengths)
    if not output_time_major:
        stacked = nest.map_structure(lambda t: tf.transpose(t, [1, 0] + list(range(2, t.shape.rank))), stacked)
    return stacked, state, lengths


def tile_batch(t, multiplier: int):
    """``[B, ...] -> [B * multiplier, ...]``, each row repeated in place (``b0, b0, b1, b1``); nested structures too.

    Legacy equivalent: :func:`legacy_rnn.seq2seq.tile_batch`.
    """
    multiplier = check_positive_int("multiplier", multiplier)
    return nest.map_structure(lambda x: x if tf.rank(x) == 0 else tf.repeat(x, multiplier, axis=0), t)


def gather_tree(step_ids, parent_ids, max_sequence_lengths, end_token: int) -> tf.Tensor:
    """Back-track beam ids ``[T, B, W]`` from step ``max_len[b] - 1`` (the 1.15 ``GatherTree`` kernel); positions past
    ``max_len`` and after the first ``end_token`` become ``end_token``. A Python loop over steps.

    Legacy equivalent: :func:`legacy_rnn.seq2seq.gather_tree`.
    """
    step_ids, parent_ids = np.asarray(step_ids), np.asarray(parent_ids)
    steps, batch, beams = step_ids.shape
    max_len = np.asarray(max_sequence_lengths)
    out = np.full_like(step_ids, end_token)
    idx = np.tile(np.arange(beams), (batch, 1))
    rows = np.arange(batch)[:, None]
    for t in range(steps - 1, -1, -1):
        valid = (t < max_len)[:, None]
        bad = np.argwhere(valid & ((idx < 0) | (idx >= beams)))
        if len(bad):
            b, w = bad[0]
            raise tf.errors.InvalidArgumentError(
                None, None, f"Saw invalid parent id {idx[b, w]} at (batch, time, beam) == ({b}, {t}, {w})")
        out[t] = np.where(valid, step_ids[t][rows, idx], end_token)
        idx = np.where(valid, parent_ids[t][rows, idx], idx)
    seen = np.cumsum(out == end_token, axis=0) - (out == end_token) > 0
    return tf.constant(np.where(seen, end_token, out))


class BeamSearchDecoderState(collections.namedtuple(
        "BeamSearchDecoderState", ("cell_state", "log_probs", "finished", "lengths", "accumulated_attention_probs"))):
    """Beam state, ``[B, W, ...]`` tensors. Legacy equivalent: :class:`legacy_rnn.seq2seq.BeamSearchDecoderState`."""


class BeamSearchDecoderOutput(collections.namedtuple("BeamSearchDecoderOutput",
                                                     ("scores", "predicted_ids", "parent_ids"))):
    """Per-step beam output. Legacy equivalent: :class:`legacy_rnn.seq2seq.BeamSearchDecoderOutput`."""


class FinalBeamSearchDecoderOutput(collections.namedtuple("FinalBeamDecoderOutput",
                                                          ["predicted_ids", "beam_search_decoder_output"])):
    """``predicted_ids [B, T, W]`` after :func:`gather_tree`.

    Legacy equivalent: :class:`legacy_rnn.seq2seq.FinalBeamSearchDecoderOutput`."""


class BeamSearchDecoder:
    """Beam search over a Keras cell, eager; ``initial_state`` tiled with :func:`tile_batch` (``[B * W, ...]``), as
    must the attention memory be (``setup_memory(tile_batch(memory, W), tile_batch(lengths, W))``). TensorArrays in
    the cell state (``AttentionWrapper(alignment_history=True)``) pass through every step and are re-sorted by beam
    in :meth:`finalize` (:func:`gather_tree_from_array`) unless ``reorder_tensor_arrays=False``.

    Legacy equivalent: :class:`legacy_rnn.seq2seq.BeamSearchDecoder`.
    """

    tracks_own_finished = True

    def __init__(self, cell, embedding, start_tokens, end_token: int, initial_state, beam_width: int,
                 output_layer=None, length_penalty_weight: float = 0.0, coverage_penalty_weight: float = 0.0,
                 reorder_tensor_arrays: bool = True) -> None:
        if coverage_penalty_weight:
            raise NotImplementedError("coverage_penalty_weight != 0 is not supported by modern_rnn.seq2seq.")
        self.reorder_tensor_arrays = bool(reorder_tensor_arrays)
        self.cell, self.output_layer = cell, output_layer
        self._embedding_fn = _embedding_fn(embedding)
        self._start_tokens = tf.convert_to_tensor(start_tokens, tf.int32)
        self.end_token = int(end_token)
        self.batch_size = int(self._start_tokens.shape[0])
        self.beam_width = check_positive_int("beam_width", beam_width)
        self.length_penalty_weight = float(length_penalty_weight)
        self._initial_cell_state = nest.map_structure(self._split, initial_state)
        self._start_inputs = self._embedding_fn(tf.repeat(self._start_tokens[:, None], self.beam_width, axis=1))

    def _split(self, t):
        if isinstance(t, tf.TensorArray) or t.shape.rank == 0:
            return t
        return tf.reshape(t, [self.batch_size, self.beam_width] + t.shape[1:].as_list())

    def _merge(self, t):
        if isinstance(t, tf.TensorArray) or t.shape.rank == 0:
            return t
        return tf.reshape(t, [self.batch_size * self.beam_width] + t.shape[2:].as_list())

    def initialize(self):
        first = tf.one_hot(tf.zeros([self.batch_size], tf.int32), self.beam_width)
        finished = tf.logical_not(tf.cast(first, tf.bool))  # only beam 0 is alive at the start
        log_probs = tf.where(tf.cast(first, tf.bool), 0.0, float("-inf"))
        state = BeamSearchDecoderState(self._initial_cell_state, log_probs, finished,
                                       tf.zeros([self.batch_size, self.beam_width], tf.int64), ())
        return finished, self._start_inputs, state

    def step(self, time: int, inputs, state: BeamSearchDecoderState):
        cell_outputs, next_cell_state = self.cell(self._merge(inputs), nest.map_structure(self._merge, state.cell_state))
        logits = self._split(cell_outputs)
        next_cell_state = nest.map_structure(self._split, next_cell_state)
        if self.output_layer is not None:
            logits = self.output_layer(logits)
        vocab = int(logits.shape[-1])
        prev_finished = state.finished
        step_log_probs = tf.nn.log_softmax(logits)
        eos_row = tf.where(tf.range(vocab) == self.end_token, 0.0, logits.dtype.min)  # finished beams: only EOS, at 0
        step_log_probs = tf.where(prev_finished[:, :, None], eos_row, step_log_probs)
        total = state.log_probs[:, :, None] + step_log_probs
        grows = tf.logical_and(tf.logical_not(prev_finished)[:, :, None], tf.range(vocab) != self.end_token)
        new_lengths = state.lengths[:, :, None] + tf.cast(grows, tf.int64)
        scores = total
        if self.length_penalty_weight != 0:
            penalty = ((5.0 + tf.cast(new_lengths, tf.float32)) / 6.0) ** self.length_penalty_weight
            scores = total / penalty
        top_scores, indices = tf.math.top_k(tf.reshape(scores, [self.batch_size, -1]), k=self.beam_width)
        word_ids, parent_ids = indices % vocab, indices // vocab
        log_probs = tf.gather(tf.reshape(total, [self.batch_size, -1]), indices, batch_dims=1)
        parent_finished = tf.gather(prev_finished, parent_ids, batch_dims=1)
        finished = tf.logical_or(parent_finished, tf.equal(word_ids, self.end_token))
        lengths = tf.gather(state.lengths, parent_ids, batch_dims=1) + tf.cast(tf.logical_not(parent_finished), tf.int64)
        keep = lambda s: isinstance(s, tf.TensorArray) or s.shape.rank < 2  # noqa: E731  (history arrays, scalars)
        next_cell_state = nest.map_structure(
            lambda s: s if keep(s) else tf.gather(s, parent_ids, batch_dims=1), next_cell_state)
        next_state = BeamSearchDecoderState(next_cell_state, log_probs, finished, lengths, ())
        next_inputs = tf.where(tf.reduce_all(finished), self._start_inputs, self._embedding_fn(word_ids))
        return BeamSearchDecoderOutput(top_scores, word_ids, parent_ids), next_state, next_inputs, finished

    def finalize(self, outputs, final_state, sequence_lengths):
        max_len = tf.reduce_max(final_state.lengths, axis=1)
        ids = gather_tree(outputs.predicted_ids, outputs.parent_ids, max_len, self.end_token)
        if self.reorder_tensor_arrays:
            final_state = final_state._replace(cell_state=nest.map_structure(
                lambda t: gather_tree_from_array(t.stack(), outputs.parent_ids, final_state.lengths)
                if isinstance(t, tf.TensorArray) else t, final_state.cell_state))
        return FinalBeamSearchDecoderOutput(predicted_ids=ids, beam_search_decoder_output=outputs), final_state


def gather_tree_from_array(t, parent_ids, sequence_length):
    """Re-sort ``t [T, B*W, ...]`` along the beams by back-tracking ``parent_ids [T, B, W]`` (steps past a beam's
    ``sequence_length [B, W]`` keep their own beam): the stacked ``alignment_history`` of a beam search.

    Legacy equivalent: ``legacy_rnn.seq2seq.beam_step.gather_tree_from_array`` (TF 1.15's function of that name).
    """
    steps, batch, width = parent_ids.shape
    beam_ids = tf.tile(tf.range(width)[None, None, :], [steps, batch, 1])
    sorted_ids = gather_tree(beam_ids, parent_ids, tf.reduce_max(sequence_length, axis=1), width + 1)
    in_bound = tf.transpose(tf.sequence_mask(sequence_length, maxlen=steps), [2, 0, 1])
    sorted_ids = tf.where(in_bound, sorted_ids, beam_ids)
    ordered = tf.gather(tf.reshape(t, [steps, batch, width, -1]), sorted_ids, batch_dims=2)
    return tf.reshape(ordered, tf.shape(t))


def sequence_loss(logits, targets, weights, average_across_timesteps: bool = True, average_across_batch: bool = True,
                  sum_over_timesteps: bool = False, sum_over_batch: bool = False) -> tf.Tensor:
    """Weighted sparse cross-entropy of ``logits [B, T, V]`` via ``keras.losses.sparse_categorical_crossentropy``;
    averages divide by the weight sums, sums by the count of non-zero weights (``divide_no_nan``).

    Legacy equivalent: :func:`legacy_rnn.seq2seq.sequence_loss`.
    """
    if (average_across_timesteps and sum_over_timesteps) or (average_across_batch and sum_over_batch):
        raise ValueError("average_across_timesteps and sum_over_timesteps cannot be set to True at same time. "
                         "Same for average_across_batch and sum_over_batch.")
    weights = tf.convert_to_tensor(weights, tf.float32)
    crossent = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True) * weights
    count = lambda axis=None: tf.cast(tf.math.count_nonzero(weights, axis=axis), tf.float32)  # noqa: E731
    if average_across_timesteps and average_across_batch:
        return tf.math.divide_no_nan(tf.reduce_sum(crossent), tf.reduce_sum(weights))
    if sum_over_timesteps and sum_over_batch:
        return tf.math.divide_no_nan(tf.reduce_sum(crossent), count())
    if average_across_timesteps or average_across_batch:
        axis = 0 if average_across_batch else 1
        return tf.math.divide_no_nan(tf.reduce_sum(crossent, axis), tf.reduce_sum(weights, axis))
    if sum_over_timesteps or sum_over_batch:
        axis = 0 if sum_over_batch else 1
        return tf.math.divide_no_nan(tf.reduce_sum(crossent, axis), count(axis))
    return crossent
