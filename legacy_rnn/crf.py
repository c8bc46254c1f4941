"""``tf.contrib.crf`` for TensorFlow 2.21: linear-chain CRF log-likelihood and Viterbi decoding in TF ops.

The equations (path score, forward recursion, log-likelihood, Viterbi) and the ``transitions [N, N]`` variable
are written once, in :mod:`migration.core.crf_maths`.

Read beside :mod:`modern_rnn.crf`: the same names, in the same order. Both call the one implementation in
:mod:`migration.core.crf_maths`; the two differ only in their Keras layer
(:class:`modern_rnn.crf.CRF`) and in eager mode, where ``transition_params`` is required.

The three CRF RNN cells of 1.15 (``CrfForwardRnnCell``, ``CrfDecodeForwardRnnCell``, ``CrfDecodeBackwardRnnCell``,
run with ``dynamic_rnn``) are here too, for programs that build the recursions themselves; they have no variables and
no Keras twin (the Keras side uses the functions).
"""

from __future__ import annotations

import tensorflow as tf

from migration.core import crf_maths


def crf_sequence_score(inputs, tag_indices, sequence_lengths, transition_params):
    """``s(y)`` of the given tag paths ``[B, T]``: unary plus binary scores up to each length. Shape ``[B]``.

    Modern equivalent: :func:`modern_rnn.crf.crf_sequence_score`.
    """
    return crf_maths.crf_sequence_score(inputs, tag_indices, sequence_lengths, transition_params)


def crf_unary_score(tag_indices, sequence_lengths, inputs):
    """``sum_{t < len} inputs[t, y_t]`` of the tag paths ``[B, T]`` (shape ``[B]``); note TF 1.15's argument order.

    Modern equivalent: :func:`modern_rnn.crf.crf_unary_score`.
    """
    return crf_maths.crf_unary_score(tag_indices, sequence_lengths, inputs)


def crf_binary_score(tag_indices, sequence_lengths, transition_params):
    """``sum_{t < len - 1} transitions[y_t, y_{t+1}]`` of the tag paths ``[B, T]`` (shape ``[B]``).

    Modern equivalent: :func:`modern_rnn.crf.crf_binary_score`.
    """
    return crf_maths.crf_binary_score(tag_indices, sequence_lengths, transition_params)


def crf_multitag_sequence_score(inputs, tag_bitmap, sequence_lengths, transition_params):
    """Log of the summed ``exp`` score of every path allowed by ``tag_bitmap [B, T, N]`` (shape ``[B]``).

    Modern equivalent: :func:`modern_rnn.crf.crf_multitag_sequence_score`.
    """
    return crf_maths.crf_multitag_sequence_score(inputs, tag_bitmap, sequence_lengths, transition_params)


def crf_log_norm(inputs, sequence_lengths, transition_params):
    """``log Z`` by the forward recursion; 0 for a length-0 sequence. Shape ``[B]``.

    Modern equivalent: :func:`modern_rnn.crf.crf_log_norm`.
    """
    return crf_maths.crf_log_norm(inputs, sequence_lengths, transition_params)


def crf_log_likelihood(inputs, tag_indices, sequence_lengths, transition_params=None):
    """``(log_likelihood [B], transition_params)``; creates ``transitions [N, N]`` with ``get_variable`` when
    ``transition_params`` is None (as TF 1.15 did).

    Modern equivalent: :func:`modern_rnn.crf.crf_log_likelihood` (and :class:`modern_rnn.crf.CRF`).
    """
    return crf_maths.crf_log_likelihood(inputs, tag_indices, sequence_lengths, transition_params)


def crf_decode(potentials, transition_params, sequence_length):
    """Viterbi: ``(decode_tags [B, T] int32, best_score [B])``; tags past each length are 0.

    Modern equivalent: :func:`modern_rnn.crf.crf_decode`.
    """
    return crf_maths.crf_decode(potentials, transition_params, sequence_length)


def viterbi_decode(score, transition_params):
    """``tf.contrib.crf.viterbi_decode``: NumPy Viterbi for one sequence ``score [T, N]`` -> ``(path list, best
    score)`` (TF 1.15 ran it outside the graph, on fetched potentials).

    Modern equivalent: :func:`modern_rnn.crf.viterbi_decode`.
    """
    return crf_maths.viterbi_decode(score, transition_params)


class _CrfCell(tf.compat.v1.nn.rnn_cell.RNNCell):
    """TF 1.15's CRF cells: no variables; ``__call__(inputs, state, scope=None)`` is the whole step."""

    def __init__(self, num_tags) -> None:
        super().__init__()
        self._num_tags = num_tags

    @property
    def state_size(self):
        return self._num_tags

    @property
    def output_size(self):
        return self._num_tags


class CrfForwardRnnCell(_CrfCell):
    """``tf.contrib.crf.CrfForwardRnnCell(transition_params)``: the forward (alpha) step of ``crf_log_norm``,
    ``alpha' = inputs + logsumexp_i(alpha[:, i, None] + transitions[i, :])``; returns ``(alpha', alpha')``. Run with
    ``dynamic_rnn`` over ``inputs[:, 1:]`` from ``inputs[:, 0]`` and ``sequence_length - 1``."""

    def __init__(self, transition_params) -> None:
        super().__init__(tf.compat.dimension_value(transition_params.shape[0]))
        self._transition_params = tf.expand_dims(transition_params, 0)

    def __call__(self, inputs, state, scope=None):
        new_alphas = inputs + tf.reduce_logsumexp(tf.expand_dims(state, 2) + self._transition_params, [1])
        return new_alphas, new_alphas


class CrfDecodeForwardRnnCell(_CrfCell):
    """``tf.contrib.crf.CrfDecodeForwardRnnCell(transition_params)``: the Viterbi forward step; returns
    ``(backpointers [B, N] int32 = argmax_i(score_i + transitions[i, :]), score' = inputs + max_i(...))``."""

    def __init__(self, transition_params) -> None:
        super().__init__(tf.compat.dimension_value(transition_params.shape[0]))
        self._transition_params = tf.expand_dims(transition_params, 0)

    def __call__(self, inputs, state, scope=None):
        scores = tf.expand_dims(state, 2) + self._transition_params
        return tf.cast(tf.argmax(scores, 1), tf.int32), inputs + tf.reduce_max(scores, [1])


class CrfDecodeBackwardRnnCell(_CrfCell):
    """``tf.contrib.crf.CrfDecodeBackwardRnnCell(num_tags)``: the Viterbi back-tracking step; ``inputs`` are the next
    step's backpointers ``[B, N]``, the state the next tag ``[B, 1]``; returns ``(tag [B, 1], tag [B, 1])``."""

    @property
    def state_size(self):
        return 1

    @property
    def output_size(self):
        return 1

    def __call__(self, inputs, state, scope=None):
        state = tf.squeeze(state, axis=[1])
        indices = tf.stack([tf.range(tf.shape(inputs)[0]), state], axis=1)
        new_tags = tf.expand_dims(tf.gather_nd(inputs, indices), axis=-1)
        return new_tags, new_tags
