"""One step of TF 1.15's beam search (``beam_search_decoder._beam_search_step``) and the helpers around it, as
module-level functions with 1.15's signatures (TF's own ``beam_search_decoder_test`` calls them directly).

* ``log_probs [B, W]``; ``total = log_probs + log_softmax(logits)``; a finished beam may only extend with
  ``end_token`` at 0 cost (:func:`mask_probs`); ``score = total / ((5 + len) / 6) ** length_penalty_weight``
  (:func:`length_penalty`), then the coverage penalty (:mod:`.coverage`); ``top_k`` over ``W * V``;
  parent = index // V, word = index % V; cell states are gathered by parent (TensorArrays, e.g. an attention
  ``alignment_history``, are left as they are and re-sorted at the end by :func:`gather_tree_from_array`).

The 1.15 private names (``_beam_search_step``, ``_mask_probs``, ``_check_batch_beam``) are aliases of the public
functions here. Used by :class:`legacy_rnn.seq2seq.decoders.BeamSearchDecoder`.
"""
from __future__ import annotations

import collections

import numpy as np
import tensorflow as tf

from legacy_rnn.seq2seq.coverage import attention_probs, coverage_penalty

nest = tf.nest


def gather_tree(step_ids, parent_ids, max_sequence_lengths, end_token, name=None):
    """The ``GatherTree`` kernel of 1.15 (``beam_search_ops.gather_tree``), in TF ops.

    ``step_ids``/``parent_ids`` are ``[T, B, W]``. Each beam is back-tracked from step ``max_len[b] - 1``;
    steps at and after ``max_len[b]`` and every step after the first ``end_token`` become ``end_token``.

    Modern equivalent: :func:`modern_rnn.seq2seq.gather_tree`.
    """
    with tf.name_scope(name or "GatherTree"):
        return _gather_tree(step_ids, parent_ids, max_sequence_lengths, end_token)


def _gather_tree(step_ids, parent_ids, max_sequence_lengths, end_token):
    step_ids, parent_ids = tf.convert_to_tensor(step_ids), tf.convert_to_tensor(parent_ids)
    end_token = tf.cast(end_token, step_ids.dtype)
    steps = tf.shape(step_ids)[0]
    beams = tf.shape(step_ids)[2]
    max_len = tf.cast(max_sequence_lengths, tf.int32)
    start = tf.tile(tf.range(beams)[None, :], [tf.shape(step_ids)[1], 1])

    def back(idx, t):
        valid = tf.less(t, max_len)[:, None]
        with tf.control_dependencies([_check_parents(idx, valid, t, beams)]):
            idx = tf.identity(idx)
        out = tf.where(valid, tf.gather(step_ids[t], idx, batch_dims=1), end_token)
        new_idx = tf.where(valid, tf.gather(parent_ids[t], idx, batch_dims=1), idx)
        return new_idx, out

    times = tf.range(steps - 1, -1, -1)
    _, outs = tf.scan(lambda acc, t: back(acc[0], t), times, initializer=(start, tf.zeros_like(start)))
    beams_out = tf.reverse(outs, [0])
    seen_end = tf.cumsum(tf.cast(tf.equal(beams_out, end_token), tf.int32), axis=0, exclusive=True) > 0
    return tf.where(seen_end, end_token, beams_out)


def _check_parents(idx, valid, t, beams):
    """The ``GatherTree`` kernel's check: a parent id outside ``[0, beam_width)`` fails naming its (batch, time, beam)
    position (TF 1.15: ``Saw invalid parent id P at (batch, time, beam) == (b, t, w)``)."""
    bad = tf.logical_and(valid, tf.logical_or(idx < 0, idx >= beams))
    where = tf.cast(tf.where(bad), tf.int32)
    first = tf.concat([where, tf.zeros([1, 2], tf.int32)], 0)[0]
    message = tf.strings.format("Saw invalid parent id {} at (batch, time, beam) == ({}, {}, {})",
                                (tf.gather_nd(idx, first[None])[0],
                                 first[0], t, first[1]))
    return tf.debugging.Assert(tf.logical_not(tf.reduce_any(bad)), [message], name="gather_tree_parent_ids")


class BeamSearchDecoderState(collections.namedtuple(
        "BeamSearchDecoderState", ("cell_state", "log_probs", "finished", "lengths", "accumulated_attention_probs"))):
    """``tf.contrib.seq2seq.BeamSearchDecoderState``. Modern equivalent: :class:`modern_rnn.seq2seq.BeamSearchDecoderState`."""


class BeamSearchDecoderOutput(collections.namedtuple("BeamSearchDecoderOutput",
                                                     ("scores", "predicted_ids", "parent_ids"))):
    """``tf.contrib.seq2seq.BeamSearchDecoderOutput``. Modern equivalent: :class:`modern_rnn.seq2seq.BeamSearchDecoderOutput`."""


class FinalBeamSearchDecoderOutput(collections.namedtuple("FinalBeamDecoderOutput",
                                                          ["predicted_ids", "beam_search_decoder_output"])):
    """``tf.contrib.seq2seq.FinalBeamSearchDecoderOutput``; ``predicted_ids [B, T, W]`` after ``gather_tree``.

    Modern equivalent: :class:`modern_rnn.seq2seq.FinalBeamSearchDecoderOutput`."""



def mask_probs(probs, eos_token, finished):
    """Rows of finished beams become ``[min, ..., 0 at eos_token, ..., min]`` (1.15 ``_mask_probs``)."""
    vocab_size = tf.shape(probs)[2]
    finished_row = tf.one_hot(eos_token, vocab_size, dtype=probs.dtype, on_value=tf.constant(0.0, probs.dtype),
                              off_value=probs.dtype.min)
    finished_probs = tf.tile(tf.reshape(finished_row, [1, 1, -1]), tf.concat([tf.shape(finished), [1]], 0))
    finished_mask = tf.tile(tf.expand_dims(finished, 2), [1, 1, vocab_size])
    return tf.where(finished_mask, finished_probs, probs)


def length_penalty(sequence_lengths, penalty_factor):
    """GNMT's ``((5 + len) / 6) ** penalty_factor``; 1.0 when the factor is statically 0 (1.15 skipped it)."""
    if not tf.is_tensor(penalty_factor):
        if penalty_factor == 0:
            return 1.0
    else:
        penalty_factor = tf.cast(penalty_factor, tf.float32)  # a weight fed at run time (TF 1.x accepted one)
    return ((5.0 + tf.cast(sequence_lengths, tf.float32)) ** penalty_factor) / ((5.0 + 1.0) ** penalty_factor)


def gather_beams(gather_from, indices, batch_size, range_size, gather_shape):
    """Gather ``[B, W, ...]`` rows by beam ``indices [B, W]`` (1.15 ``_tensor_gather_helper``)."""
    range_ = tf.expand_dims(tf.range(batch_size) * range_size, 1)
    flat = tf.reshape(indices + range_, [-1])
    output = tf.gather(tf.reshape(gather_from, gather_shape), flat)
    output = tf.reshape(output, tf.shape(gather_from)[:1 + len(gather_shape)])
    output.set_shape(tf.TensorShape([tf.get_static_value(batch_size)]).concatenate(
        gather_from.shape[1:1 + len(gather_shape)]))
    return output


def _gather_state(state, beam_ids, batch, width):
    if isinstance(state, tf.TensorArray) or state.shape.rank < 2:
        return state  # 1.15: TensorArrays are re-sorted in finalize (reorder_tensor_arrays), scalars kept
    return gather_beams(state, beam_ids, batch, width, [batch * width, -1])


def beam_search_step(time, logits, next_cell_state, beam_state, batch_size, beam_width, end_token,
                     length_penalty_weight, coverage_penalty_weight):
    """1.15 ``_beam_search_step``: ``logits [B, W, V]`` and the state before the step -> ``(BeamSearchDecoderOutput,
    BeamSearchDecoderState)`` (the namedtuples of ``beam_state``'s module)."""
    batch, width = batch_size, beam_width
    previously_finished = beam_state.finished
    step_log_probs = mask_probs(tf.nn.log_softmax(logits), end_token, previously_finished)
    total_probs = tf.expand_dims(beam_state.log_probs, 2) + step_log_probs
    vocab_size = tf.compat.dimension_value(logits.shape[-1]) or tf.shape(logits)[-1]
    lengths_to_add = tf.one_hot(tf.fill([batch, width], end_token), depth=vocab_size,
                                on_value=np.int64(0), off_value=np.int64(1), dtype=tf.int64)
    lengths_to_add *= tf.expand_dims(tf.cast(tf.logical_not(previously_finished), tf.int64), 2)
    lengths = tf.cast(beam_state.lengths, tf.int64)
    new_lengths = lengths_to_add + tf.expand_dims(lengths, 2)
    scores = total_probs / length_penalty(new_lengths, length_penalty_weight)
    acc_probs = attention_probs(next_cell_state, coverage_penalty_weight)
    if acc_probs is not None:
        acc_probs = beam_state.accumulated_attention_probs + acc_probs * tf.expand_dims(
            tf.cast(tf.logical_not(previously_finished), acc_probs.dtype), 2)
        scores = coverage_penalty(scores, acc_probs, previously_finished, coverage_penalty_weight)
    scores_flat = tf.reshape(scores, [batch, -1])
    next_beam_scores, word_indices = tf.nn.top_k(scores_flat, k=width)
    static_batch = tf.get_static_value(batch)
    next_beam_scores.set_shape([static_batch, width])
    word_indices.set_shape([static_batch, width])
    next_beam_probs = gather_beams(total_probs, word_indices, batch, width * vocab_size, [-1])
    next_word_ids = tf.cast(tf.math.floormod(word_indices, vocab_size), tf.int32)
    next_beam_ids = tf.cast(word_indices // vocab_size, tf.int32)
    previously_finished = gather_beams(previously_finished, next_beam_ids, batch, width, [-1])
    next_finished = tf.logical_or(previously_finished, tf.equal(next_word_ids, end_token))
    next_len = gather_beams(lengths, next_beam_ids, batch, width, [-1])
    next_len += tf.cast(tf.logical_not(previously_finished), tf.int64)
    next_cell_state = nest.map_structure(lambda s: _gather_state(s, next_beam_ids, batch, width), next_cell_state)
    state = BeamSearchDecoderState(cell_state=next_cell_state, log_probs=next_beam_probs, lengths=next_len,
                             finished=next_finished, accumulated_attention_probs=() if acc_probs is None
                             else gather_beams(acc_probs, next_beam_ids, batch, width, [batch * width, -1]))
    return BeamSearchDecoderOutput(next_beam_scores, next_word_ids, next_beam_ids), state


def check_batch_beam(t, batch_size, beam_width):
    """1.15 ``_check_batch_beam``: an op asserting ``t [T, B*W, ...]`` (or ``[T, B, W, ...]``) can be reshaped to
    ``[T, B, W, -1]`` before a TensorArray is re-sorted by beam."""
    message = ("TensorArray reordering expects elements to be reshapable to [batch_size, beam_size, -1] which is "
               f"incompatible with the current shape {t.shape}. Consider setting reorder_tensor_arrays to False to "
               "disable TensorArray reordering during the beam search.")
    shape = tf.shape(t)
    if t.shape.rank == 2:
        condition = tf.equal(shape[1], batch_size * beam_width)
    else:
        condition = tf.logical_or(tf.equal(shape[1], batch_size * beam_width),
                                  tf.logical_and(tf.equal(shape[1], batch_size), tf.equal(shape[2], beam_width)))
    return tf.debugging.Assert(condition, [message])


def gather_tree_from_array(t, parent_ids, sequence_length):
    """1.15 ``beam_search_decoder.gather_tree_from_array``: re-sort ``t [T, B*W, ...]`` (or ``[T, B, W, ...]``) along
    the beams by back-tracking ``parent_ids [T, B, W]``; steps past each beam's ``sequence_length [B, W]`` keep
    their own beam."""
    parent_ids = tf.convert_to_tensor(parent_ids)
    max_time = tf.compat.dimension_value(parent_ids.shape[0]) or tf.shape(parent_ids)[0]
    batch_size = tf.compat.dimension_value(parent_ids.shape[1]) or tf.shape(parent_ids)[1]
    beam_width = tf.compat.dimension_value(parent_ids.shape[2]) or tf.shape(parent_ids)[2]
    beam_ids = tf.tile(tf.range(beam_width)[None, None, :], [max_time, batch_size, 1])
    max_sequence_lengths = tf.cast(tf.reduce_max(sequence_length, axis=1), tf.int32)
    sorted_beam_ids = gather_tree(beam_ids, parent_ids, max_sequence_lengths, beam_width + 1)
    in_bound_steps = tf.transpose(tf.sequence_mask(sequence_length, maxlen=max_time), perm=[2, 0, 1])
    sorted_beam_ids = tf.where(in_bound_steps, sorted_beam_ids, beam_ids)
    time_ind = tf.tile(tf.reshape(tf.range(max_time), [-1, 1, 1]), [1, batch_size, beam_width])
    batch_ind = tf.transpose(tf.tile(tf.reshape(tf.range(batch_size), [-1, 1, 1]), [1, max_time, beam_width]),
                             perm=[1, 0, 2])
    indices = tf.stack([time_ind, batch_ind, sorted_beam_ids], -1)
    final_shape = tf.shape(t)
    ordered = tf.gather_nd(tf.reshape(t, [max_time, batch_size, beam_width, -1]), indices)
    return tf.reshape(ordered, final_shape)


#: TF 1.15's private names for the same functions (``beam_search_decoder._beam_search_step`` ...).
_beam_search_step, _mask_probs, _check_batch_beam = beam_search_step, mask_probs, check_batch_beam
