"""The Keras 3 twin of ``modern_rnn.FeedbackDecoder`` (a TF1 ``tf.nn.raw_rnn`` decoder loop), registered as
``rnn_migrate>FeedbackDecoder`` for safe-mode loading; ``keras.ops`` only (no TensorFlow, nothing of rnn-migrate), so
it runs on the TensorFlow and JAX backends::

    import migration.targets.keras3_cells, migration.targets.keras3_feedback  # noqa: F401  (registers rnn_migrate>...)
    model = keras.saving.load_model("out/model.keras3.keras", safe_mode=True)

The loop is the Keras 2 layer's (TF1's ``raw_rnn``) step for step, as one ``keras.ops.while_loop``:

* step ``t`` runs the cells (a stack: each reads the one below) on ``x_t`` and the carried states;
* ``finished`` is the flag carried **into** step ``t``: a finished row emits zeros and keeps its states (``where``);
* the next flags are ``finished | (t + 1 >= lengths)`` (``| argmax == eos_id`` with ``eos_id``);
* the next input is ``embeddings[argmax(output @ kernel + bias)]`` (``feedback="argmax"``) or ``inputs[t + 1]`` of
  the time-major sequence (``feedback="inputs"``; its last row re-read past the end);
* the loop stops when every row is finished (at most ``max(max(lengths), 1)`` steps: the flags of step
  ``max(lengths) - 1`` are all set), the outputs are written into a ``[bound, batch, units]`` buffer
  (``slice_update``) and cut to the steps run: **time-major** ``[steps, batch, units]``.

Call ``layer([first_input, first_finished, lengths, *state])`` (teacher forcing: the sequence ``[T, batch, depth]``
in place of ``first_input``), the state flat in **TF1 order**; ``order[i]`` is the Keras flat index of TF1 state
``i`` (an LSTM's Keras ``[h, c]`` is TF1's ``(c, h)``). Returns ``[outputs, *final_state]`` in TF1 order.

The number of steps is data-dependent (the lengths, an EOS), so the output's time axis is too: the model runs eagerly
(``model(x)``) on every backend and under ``tf.function`` on TensorFlow; ``jax.jit`` cannot give a data-dependent
shape (a ``TypeError`` while tracing the buffer's size).
"""
from __future__ import annotations

import keras
from keras import ops

PACKAGE = "rnn_migrate"
FEEDBACK = ("argmax", "inputs")


@keras.saving.register_keras_serializable(package=PACKAGE)
class FeedbackDecoder(keras.layers.Layer):
    """See the module docstring. ``cells``: Keras 3 cells (or their serialized configs), bottom to top."""

    def __init__(self, cells, vocab_size: int, input_depth: int, order, feedback: str = "argmax",
                 use_bias: bool = True, eos_id=None, **kwargs) -> None:
        if feedback not in FEEDBACK:
            raise ValueError(f"Received an invalid value for `feedback`: expected one of {FEEDBACK}, got {feedback!r}.")
        super().__init__(**kwargs)
        self.cells = [keras.saving.deserialize_keras_object(c) if isinstance(c, dict) else c for c in cells]
        self.vocab_size, self.input_depth = int(vocab_size), int(input_depth)
        self.order = [int(k) for k in order]
        self.feedback, self.use_bias = feedback, bool(use_bias)
        self.eos_id = None if eos_id is None else int(eos_id)
        self.counts = [len(c.state_size) if isinstance(c.state_size, (list, tuple)) else 1 for c in self.cells]
        if sorted(self.order) != list(range(sum(self.counts))):
            raise ValueError(f"Received an invalid value for `order`: a permutation of the {sum(self.counts)} "
                             f"states of the cells expected, got {self.order}.")
        self.units = int(self.cells[-1].output_size)

    def build(self, input_shape=None) -> None:
        depth = self.input_depth
        for cell in self.cells:
            if not cell.built:
                cell.build((None, depth))
            depth = int(cell.output_size)
        self.kernel = self.bias = self.embeddings = None
        if self.feedback == "argmax":
            self.kernel = self.add_weight(name="kernel", shape=(self.units, self.vocab_size), initializer="zeros")
            if self.use_bias:
                self.bias = self.add_weight(name="bias", shape=(self.vocab_size,), initializer="zeros")
            self.embeddings = self.add_weight(name="embeddings", shape=(self.vocab_size, self.input_depth),
                                              initializer="zeros")
        self.built = True

    def compute_output_spec(self, inputs):
        first, _, _, *rest = inputs
        batch = first.shape[1] if self.feedback == "inputs" else first.shape[0]
        return [keras.KerasTensor((None, batch, self.units), dtype=first.dtype)] + [
            keras.KerasTensor(tuple(r.shape), dtype=r.dtype) for r in rest]

    def _step(self, x, flat):
        """(top output, new flat states in Keras order) of the stack on ``x``."""
        new, pos = [], 0
        for cell, n in zip(self.cells, self.counts):
            x, states = cell(x, list(flat[pos:pos + n]), training=False)
            new += list(states) if isinstance(states, (list, tuple)) else [states]
            pos += n
        return x, new

    def _next(self, time, output, sequence, lengths):
        """(next input, rows finishing at this step)."""
        step_done = ops.greater_equal(time + 1, lengths)
        if self.feedback == "inputs":
            last = ops.shape(sequence)[0] - 1
            return ops.take(sequence, ops.minimum(time + 1, last), axis=0), step_done
        logits = ops.matmul(output, self.kernel)
        if self.bias is not None:
            logits = logits + self.bias
        prediction = ops.cast(ops.argmax(logits, axis=1), "int32")
        if self.eos_id is not None:
            step_done = ops.logical_or(step_done, ops.equal(prediction, self.eos_id))
        return ops.take(self.embeddings, prediction, axis=0), step_done

    def call(self, inputs):
        first, finished, lengths, *rest = inputs
        sequence = None
        if self.feedback == "inputs":
            sequence, first = first, first[0]
        if len(rest) != len(self.order):
            raise ValueError(f"FeedbackDecoder: the cells carry {len(self.order)} state tensors, got {len(rest)}.")
        flat = [None] * len(self.order)
        for tf1_index, keras_index in enumerate(self.order):
            flat[keras_index] = rest[tf1_index]
        lengths = ops.cast(lengths, "int32")
        bound = ops.maximum(ops.max(lengths), 1)
        buffer = ops.zeros((bound, ops.shape(first)[0], self.units), dtype=first.dtype)

        def cond(time, finished, x, buffer, *flat):
            return ops.logical_and(ops.logical_not(ops.all(finished)), ops.less(time, bound))

        def body(time, finished, x, buffer, *flat):
            output, new = self._step(x, flat)
            done = ops.expand_dims(finished, 1)
            emitted = ops.where(done, ops.zeros_like(output), output)
            buffer = ops.slice_update(buffer, (time, 0, 0), ops.expand_dims(emitted, 0))
            kept = [ops.where(done, old, n) for old, n in zip(flat, new)]
            next_x, step_done = self._next(time, output, sequence, lengths)
            return (time + 1, ops.logical_or(finished, step_done), ops.cast(next_x, x.dtype), buffer, *kept)

        loop = ops.while_loop(cond, body, (ops.convert_to_tensor(0, "int32"), ops.cast(finished, "bool"), first,
                                           buffer, *flat))
        time, final = loop[0], list(loop[4:])
        return [loop[3][:time]] + [final[k] for k in self.order]

    def get_config(self) -> dict:
        return {**super().get_config(), "cells": [keras.saving.serialize_keras_object(c) for c in self.cells],
                "vocab_size": self.vocab_size, "input_depth": self.input_depth, "order": self.order,
                "feedback": self.feedback, "use_bias": self.use_bias, "eos_id": self.eos_id}
