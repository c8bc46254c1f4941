"""Keras 2 (tf_keras) twin of ``tf.contrib.crf``: a ``CRF`` layer owning ``transitions`` and the same functions.

Read beside :mod:`legacy_rnn.crf`: the same names, in the same order. The maths are plain TF ops that run eagerly
as well as in graphs, so both twins call one implementation, :mod:`migration.core.crf_maths` (checked against
brute-force enumeration of every tag path); :class:`CRF` adds the Keras weight. Conversion: ``CRF.transitions`` = the
checkpoint's ``transitions [N, N]``, unchanged (row = previous tag, column = next tag, as TF1 stored it).
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from migration.core import crf_maths
from migration.core.errors import check_positive_int


@keras.saving.register_keras_serializable(package="modern_rnn")
class CRF(keras.layers.Layer):
    """Linear-chain CRF over potentials ``[B, T, N]``: ``log_likelihood(potentials, tags, lengths)`` for training
    (``-mean`` is the loss) and ``call(potentials, lengths)`` = Viterbi ``(tags [B, T], best_score [B])``."""

    def __init__(self, num_tags: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_tags = check_positive_int("num_tags", num_tags)

    def build(self, input_shape=None) -> None:
        self.transitions = self.add_weight(name="transitions", shape=(self.num_tags, self.num_tags),
                                           initializer="glorot_uniform")
        self.built = True

    def log_likelihood(self, potentials, tags, lengths):
        if not self.built:
            self.build()
        return crf_log_likelihood(potentials, tags, lengths, self.transitions)[0]

    def call(self, potentials, lengths):
        return crf_decode(potentials, self.transitions, lengths)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_tags": self.num_tags}


def crf_sequence_score(inputs, tag_indices, sequence_lengths, transition_params):
    """Legacy equivalent: :func:`legacy_rnn.crf.crf_sequence_score`."""
    return crf_maths.crf_sequence_score(inputs, tag_indices, sequence_lengths, transition_params)


def crf_unary_score(tag_indices, sequence_lengths, inputs):
    """``sum_{t < len} inputs[t, y_t]`` of the tag paths ``[B, T]`` (shape ``[B]``); note TF 1.15's argument order.

    Legacy equivalent: :func:`legacy_rnn.crf.crf_unary_score`.
    """
    return crf_maths.crf_unary_score(tag_indices, sequence_lengths, inputs)


def crf_binary_score(tag_indices, sequence_lengths, transition_params):
    """``sum_{t < len - 1} transitions[y_t, y_{t+1}]`` of the tag paths ``[B, T]`` (shape ``[B]``).

    Legacy equivalent: :func:`legacy_rnn.crf.crf_binary_score`.
    """
    return crf_maths.crf_binary_score(tag_indices, sequence_lengths, transition_params)


def crf_multitag_sequence_score(inputs, tag_bitmap, sequence_lengths, transition_params):
    """Log of the summed ``exp`` score of every path allowed by ``tag_bitmap [B, T, N]`` (shape ``[B]``).

    Legacy equivalent: :func:`legacy_rnn.crf.crf_multitag_sequence_score`.
    """
    return crf_maths.crf_multitag_sequence_score(inputs, tag_bitmap, sequence_lengths, transition_params)


def crf_log_norm(inputs, sequence_lengths, transition_params):
    """Legacy equivalent: :func:`legacy_rnn.crf.crf_log_norm`."""
    return crf_maths.crf_log_norm(inputs, sequence_lengths, transition_params)


def crf_log_likelihood(inputs, tag_indices, sequence_lengths, transition_params=None):
    """``(log_likelihood, transition_params)``; eagerly ``transition_params`` is required (use :class:`CRF`).

    Legacy equivalent: :func:`legacy_rnn.crf.crf_log_likelihood`.
    """
    if transition_params is None and tf.executing_eagerly():
        raise ValueError("Received transition_params=None in eager mode: there is no get_variable here; pass "
                         "CRF(num_tags).transitions (or the converted checkpoint's `transitions`).")
    return crf_maths.crf_log_likelihood(inputs, tag_indices, sequence_lengths, transition_params)


def crf_decode(potentials, transition_params, sequence_length):
    """Legacy equivalent: :func:`legacy_rnn.crf.crf_decode`."""
    return crf_maths.crf_decode(potentials, transition_params, sequence_length)


def viterbi_decode(score, transition_params):
    """NumPy Viterbi for one sequence (``CRF.transitions.numpy()`` as ``transition_params``).

    Legacy equivalent: :func:`legacy_rnn.crf.viterbi_decode`.
    """
    return crf_maths.viterbi_decode(score, transition_params)
