"""TF 1.15 ``BeamSearchDecoder(coverage_penalty_weight=)`` (``beam_search_decoder.py``: ``get_attention_probs``,
``_get_scores``), for :mod:`legacy_rnn.seq2seq.decoders`.

* attention probabilities ``[B, W, T_mem]``: the ``alignments`` of the (first-level) ``AttentionWrapperState`` of the
  cell state, averaged over mechanisms and over attentional cells; a beam that had finished adds nothing;
* ``accumulated_attention_probs += attention probabilities`` at each step (then gathered by parent beam);
* ``coverage = sum_t log(min(acc_t, 1))`` (``acc_t == 0``, i.e. padded memory, counts as 1), applied only to beams
  finished before this step: ``score = log_probs / length_penalty + weight * coverage * finished``.
"""
from __future__ import annotations

import tensorflow as tf

from legacy_rnn.seq2seq.attention_wrapper import AttentionWrapperState


def _mean_last(probs):
    return probs[0] if len(probs) == 1 else tf.reduce_mean(tf.stack(probs, -1), -1)


def attention_probs(cell_state, coverage_penalty_weight):
    """The attention probabilities of ``cell_state`` (None when the weight is statically 0)."""
    if not tf.is_tensor(coverage_penalty_weight) and coverage_penalty_weight == 0.0:
        return None
    states = [cell_state] if isinstance(cell_state, AttentionWrapperState) else [
        s for s in (cell_state if isinstance(cell_state, tuple) else ()) if isinstance(s, AttentionWrapperState)]
    if not states:
        raise ValueError("coverage_penalty_weight must be 0.0 if no cell is attentional.")
    per_cell = [_mean_last(list(s.alignments) if isinstance(s.alignments, tuple) else [s.alignments])
                for s in states]
    return _mean_last(per_cell)


def coverage_penalty(scores, accumulated_attention_probs, finished, coverage_penalty_weight):
    """``scores + weight * sum_t log(min(acc, 1)) * finished`` (``[B, W, V]``)."""
    weight = tf.convert_to_tensor(coverage_penalty_weight, name="coverage_penalty_weight")
    if weight.shape.rank != 0:
        raise ValueError(f"coverage_penalty_weight should be a scalar, but saw shape: {weight.shape}")
    if tf.get_static_value(weight) == 0.0:
        return scores
    if accumulated_attention_probs is None:
        raise ValueError("accumulated_attention_probs can be None only if coverage penalty is disabled.")
    acc = tf.where(tf.equal(accumulated_attention_probs, 0.0), tf.ones_like(accumulated_attention_probs),
                   accumulated_attention_probs)
    penalty = tf.reduce_sum(tf.math.log(tf.minimum(acc, 1.0)), 2) * tf.cast(finished, scores.dtype)
    return scores + tf.expand_dims(penalty * tf.cast(weight, scores.dtype), 2)


__all__ = ["attention_probs", "coverage_penalty"]
