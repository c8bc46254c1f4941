"""A TF1 ``tf.nn.raw_rnn`` decoder with a hand-written ``loop_fn``: greedy feedback of its own prediction
(``embedding_lookup(embeddings, argmax(output @ kernel + bias))``) or teacher forcing (``inputs`` read from a
``TensorArray`` unstacked from a time-major sequence), as seq2seq tutorials write it.

Rows stop at ``time >= lengths`` (and, with ``eos_id``, when they predict it); ``raw_rnn`` then emits zeros for them and
carries their state unchanged. Returns ``(outputs [steps, batch, units] time-major, final_state)``.

Modern equivalent: :class:`modern_rnn.feedback_decoder.FeedbackDecoder`.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf


def greedy_raw_rnn(cell, first_input, initial_state, lengths, embeddings=None, kernel=None, bias=None,
                   eos_id: Optional[int] = None, inputs=None, pad_input=None, scope: Optional[str] = None):
    """``raw_rnn(cell, loop_fn)``; ``inputs`` (time-major ``[T, batch, depth]``) switches to teacher forcing, else
    ``embeddings``/``kernel`` (and ``bias``) make the argmax feedback; ``first_input`` None then reads ``inputs[0]``.
    ``pad_input``: what the ``loop_fn`` feeds
    once every row has finished (TF1 tutorials use the PAD embedding; the value never reaches an output)."""
    v1 = tf.compat.v1
    if inputs is None and (embeddings is None or kernel is None):
        raise ValueError("greedy_raw_rnn: give `inputs` (teacher forcing) or `embeddings` and `kernel` (argmax feedback)")
    inputs_ta = None
    if inputs is not None:
        inputs_ta = tf.TensorArray(inputs.dtype, size=tf.shape(inputs)[0]).unstack(inputs)
    if first_input is None and inputs_ta is not None:  # teacher forcing: row 0 of the inputs
        first_input = inputs_ta.read(0)
    pad = tf.zeros_like(first_input) if pad_input is None else pad_input

    def next_input(time, output):
        if inputs_ta is not None:
            return inputs_ta.read(tf.minimum(time, inputs_ta.size() - 1)), None
        logits = tf.matmul(output, kernel)
        if bias is not None:
            logits = logits + bias
        prediction = tf.argmax(logits, axis=1)
        return v1.nn.embedding_lookup(embeddings, prediction), prediction

    def loop_fn(time, cell_output, cell_state, loop_state):
        if cell_state is None:  # time == 0
            return (0 >= lengths, first_input, initial_state, None, None)
        finished = time >= lengths
        x, prediction = next_input(time, cell_output)
        if eos_id is not None:
            finished = tf.logical_or(finished, tf.equal(prediction, tf.cast(eos_id, prediction.dtype)))
        x = tf.cond(tf.reduce_all(finished), lambda: pad, lambda: x)
        return (finished, x, cell_state, cell_output, None)

    outputs_ta, final_state, _ = v1.nn.raw_rnn(cell, loop_fn, scope=scope)
    return outputs_ta.stack(), final_state
