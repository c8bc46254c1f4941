"""``tf.contrib.legacy_seq2seq.model_with_buckets`` for TensorFlow 2.21 (TF 1.15's semantics): one seq2seq graph per
bucket, the variables created by the first bucket and reused by the others, and each bucket's
``sequence_loss`` (or ``sequence_loss_by_example``) over its own targets and weights."""
from __future__ import annotations

import tensorflow as tf

from legacy_rnn.seq2seq.legacy_seq2seq import sequence_loss, sequence_loss_by_example

v1 = tf.compat.v1


def model_with_buckets(encoder_inputs, decoder_inputs, targets, weights, buckets, seq2seq,
                       softmax_loss_function=None, per_example_loss=False, name=None):
    """Returns ``(outputs, losses)``: one list of decoder outputs and one loss per bucket ``(enc_len, dec_len)``."""
    if len(encoder_inputs) < buckets[-1][0]:
        raise ValueError(f"Length of the encoder inputs ({len(encoder_inputs)}) must be at least that of the last "
                         f"bucket ({buckets[-1][0]}).")
    for what, seq in (("targets", targets), ("weights", weights)):
        if len(seq) < buckets[-1][1]:
            raise ValueError(f"Length of the {what} ({len(seq)}) must be at least that of the last bucket "
                             f"({buckets[-1][1]}).")
    outputs, losses = [], []
    with tf.name_scope(name or "model_with_buckets"):
        for j, (enc_len, dec_len) in enumerate(buckets):
            with v1.variable_scope(v1.get_variable_scope(), reuse=True if j > 0 else None):
                bucket_outputs, _ = seq2seq(encoder_inputs[:enc_len], decoder_inputs[:dec_len])
                outputs.append(bucket_outputs)
                loss = sequence_loss_by_example if per_example_loss else sequence_loss
                losses.append(loss(outputs[-1], targets[:dec_len], weights[:dec_len],
                                   softmax_loss_function=softmax_loss_function))
    return outputs, losses


__all__ = ["model_with_buckets"]
