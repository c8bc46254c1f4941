"""``tf.contrib.crf`` for TensorFlow 2.21: linear-chain CRF log-likelihood and Viterbi decoding in TF ops.

The equations (path score, forward recursion, log-likelihood, Viterbi) and the ``transitions [N, N]`` variable
are written once, in :mod:`migration.core.crf_maths`.

Read beside :mod:`modern_rnn.crf`: the same names, in the same order. Both call the one implementation in
:mod:`migration.core.crf_maths`; the two differ only in their Keras layer
(:class:`modern_rnn.crf.CRF`) and in eager mode, where ``transition_params`` is required.
"""

from __future__ import annotations

from migration.core import crf_maths


def crf_sequence_score(inputs, tag_indices, sequence_lengths, transition_params):
    """``s(y)`` of the given tag paths ``[B, T]``: unary plus binary scores up to each length. Shape ``[B]``.

    Modern equivalent: :func:`modern_rnn.crf.crf_sequence_score`.
    """
    return crf_maths.crf_sequence_score(inputs, tag_indices, sequence_lengths, transition_params)


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
