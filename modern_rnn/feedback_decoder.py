"""``FeedbackDecoder``: the Keras 2 twin of a TF1 ``tf.nn.raw_rnn`` decoder whose ``loop_fn`` feeds back its own
greedy prediction (``embedding_lookup(E, argmax(output @ W + b))``), or reads teacher-forced inputs.

The loop is TF1's ``raw_rnn`` step for step (``tensorflow/python/ops/rnn.py``), so the numbers are the same:

* step ``t`` runs the cell on ``x_t`` and the carried state;
* ``finished`` is the flag carried **into** step ``t``: a finished row emits zeros and keeps its state (``where``);
* the next flags are ``finished | (t + 1 >= lengths)`` (``| argmax == eos_id`` when ``eos_id`` is set);
* the next input is the embedding of the argmax of the projected cell output (``feedback="argmax"``), or
  ``inputs[t + 1]`` of a time-major sequence (``feedback="inputs"``, teacher forcing; the last row is re-read past
  the end, as finished rows ignore their input);
* the loop stops when every row is finished; the outputs are stacked **time-major** ``[steps, batch, units]``.

Call: ``layer([first_input, first_finished, lengths, *state])`` (teacher forcing: ``inputs [T, batch, depth]`` in
place of ``first_input``, whose row 0 is the first input), state flat in **TF1 order** (``c, h`` for an LSTM, see :func:`modern_rnn.flatten_state`); returns
``[outputs, *final_state]`` in the same order. ``first_input``/``first_finished`` are what the ``loop_fn`` returned at
time 0 (outside the loop in TF1 as well). Weights: the cell's, then ``kernel [units, vocab]``, ``bias [vocab]`` (the
projection the argmax reads) and ``embeddings [vocab, depth]``, for the argmax feedback only.

Legacy equivalent: :func:`legacy_rnn.feedback_decoder.greedy_raw_rnn`.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras as keras

from modern_rnn.rnn import flatten_state

FEEDBACK = ("argmax", "inputs")


def state_order(cell) -> list[int]:
    """``order[i]``: the Keras flat state index of TF1 flat state ``i``."""
    flat_sizes = tf.nest.flatten(cell.state_size)
    nested = tf.nest.pack_sequence_as(cell.state_size, list(range(len(flat_sizes))))
    return [int(i) for i in flatten_state(nested, cell)]


@keras.saving.register_keras_serializable(package="modern_rnn")
class FeedbackDecoder(keras.layers.Layer):
    """See the module docstring. ``cell``: a built or unbuilt Keras cell (or its serialized config)."""

    def __init__(self, cell, vocab_size: int, input_depth: int, feedback: str = "argmax", use_bias: bool = True,
                 eos_id: Optional[int] = None, **kwargs) -> None:
        if isinstance(cell, dict):
            cell = keras.layers.deserialize(cell)
        if feedback not in FEEDBACK:
            raise ValueError(f"Received an invalid value for `feedback`: expected one of {FEEDBACK}, got {feedback!r}.")
        for name, value in (("vocab_size", vocab_size), ("input_depth", input_depth)):
            if int(value) < 1:
                raise ValueError(f"Received an invalid value for `{name}`: expected a positive int, got {value!r}.")
        super().__init__(**kwargs)
        self.cell = cell
        self.vocab_size, self.input_depth = int(vocab_size), int(input_depth)
        self.feedback, self.use_bias = feedback, bool(use_bias)
        self.eos_id = None if eos_id is None else int(eos_id)

    def build(self, input_shape=None) -> None:
        if not self.cell.built:
            self.cell.build((None, self.input_depth))
        units = int(tf.nest.flatten(self.cell.output_size)[0])
        self.kernel = self.bias = self.embeddings = None
        if self.feedback == "argmax":  # teacher forcing reads its inputs: no projection, no embedding
            self.kernel = self.add_weight(name="kernel", shape=(units, self.vocab_size), initializer="glorot_uniform")
            if self.use_bias:
                self.bias = self.add_weight(name="bias", shape=(self.vocab_size,), initializer="zeros")
            self.embeddings = self.add_weight(name="embeddings", shape=(self.vocab_size, self.input_depth),
                                              initializer="uniform")
        self.built = True

    def _prediction(self, output):
        logits = tf.matmul(output, self.kernel)
        if self.bias is not None:
            logits = logits + self.bias
        return tf.argmax(logits, axis=1)

    def call(self, inputs):
        first_input, finished, lengths, *rest = inputs
        sequence = None
        if self.feedback == "inputs":
            sequence, first_input = first_input, first_input[0]
        order = state_order(self.cell)
        if len(rest) != len(order):
            raise ValueError(f"FeedbackDecoder: the cell carries {len(order)} state tensors, got {len(rest)}.")
        keras_flat = [None] * len(order)
        for tf1_index, keras_index in enumerate(order):
            keras_flat[keras_index] = rest[tf1_index]
        lengths = tf.cast(lengths, tf.int32)
        finished = tf.cast(finished, tf.bool)
        units = int(tf.nest.flatten(self.cell.output_size)[0])
        zeros = tf.zeros(tf.stack([tf.shape(first_input)[0], units]), first_input.dtype)
        emitted = tf.TensorArray(first_input.dtype, size=0, dynamic_size=True, element_shape=tf.TensorShape([None, units]))

        def body(time, finished, x, emitted, *flat):
            output, new = self.cell(x, tf.nest.pack_sequence_as(self.cell.state_size, list(flat)))
            new = tf.nest.flatten(new)
            done = tf.expand_dims(finished, 1)
            emitted = emitted.write(time, tf.where(done, zeros, output))
            flat = [tf.where(done, old, n) for old, n in zip(flat, new)]
            step_done = time + 1 >= lengths
            if self.feedback == "argmax":
                prediction = self._prediction(output)
                next_x = tf.gather(self.embeddings, prediction)
                if self.eos_id is not None:
                    step_done = tf.logical_or(step_done, tf.equal(prediction, self.eos_id))
            else:
                next_x = sequence[tf.minimum(time + 1, tf.shape(sequence)[0] - 1)]
            return (time + 1, tf.logical_or(finished, step_done), next_x, emitted, *flat)

        loop = tf.while_loop(lambda time, finished, *_: tf.logical_not(tf.reduce_all(finished)), body,
                             (tf.constant(0), finished, first_input, emitted, *keras_flat))
        final = list(loop[4:])
        return [loop[3].stack()] + [final[k] for k in order]

    def get_config(self) -> dict:
        return {**super().get_config(), "cell": keras.layers.serialize(self.cell), "vocab_size": self.vocab_size,
                "input_depth": self.input_depth, "feedback": self.feedback, "use_bias": self.use_bias,
                "eos_id": self.eos_id}
