"""``dynamic_decode(BasicDecoder(wrapper, TrainingHelper(inputs, lengths), initial_state[, output_layer]))`` as one
Keras layer, for a whole-graph ``model.keras`` (:mod:`migration.graph.decoder_block`): the TF1 training decoder's
``rnn_output`` from tensors the rest of the model computes.

:class:`TeacherForcedDecoder` takes ``[inputs [B, T, D], lengths [B], memory [B, S, M], memory_lengths [B],
*initial_state]`` and returns ``[B, max(lengths), O]``, as TF1 did:

* the loop runs until every row is finished, i.e. ``max(lengths)`` steps (TF1 reads ``inputs[:, t]`` for every row
  at every step, past a row's own length too);
* ``impute_finished=False`` (TF1's default): a row's outputs past its length are computed like the others;
  ``True``: they are zeros and its state stops changing;
* ``memory_lengths=False``: no ``memory_lengths`` input (a mechanism built without ``memory_sequence_length``);
* ``initial_state``: the wrapped cell's state in TF1 order and flattened (``(c, h)`` per LSTM layer, ``h`` per GRU /
  RNN layer; one ``MultiRNNCell`` layer after the other), or nothing for the wrapper's zero state.

Written as a ``tf.while_loop`` over a dynamic length (the decoder length is data). Registered for ``.keras``
serialisation (``safe_mode=True`` loads it; no code in the file).

Legacy equivalent: none as one object (:func:`legacy_rnn.seq2seq.dynamic_decode` with a ``TrainingHelper``).
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras as keras

from modern_rnn.seq2seq.attention_wrapper import AttentionWrapper


def _layer_state_sizes(cell) -> list[int]:
    """How many state tensors each wrapped layer has (2 for an LSTM, 1 otherwise)."""
    cells = cell.cells if isinstance(cell, keras.layers.StackedRNNCells) else [cell]
    return [len(c.state_size) if isinstance(c.state_size, (list, tuple)) else 1 for c in cells]


@keras.saving.register_keras_serializable(package="modern_rnn.seq2seq")
class TeacherForcedDecoder(keras.layers.Layer):
    """See the module docstring. ``wrapper``: an :class:`AttentionWrapper`; ``output_layer``: the ``BasicDecoder``'s
    ``output_layer`` applied inside the loop (``None`` when the program applies its Dense after ``dynamic_decode``)."""

    def __init__(self, wrapper, output_layer=None, impute_finished: bool = False, memory_lengths: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.memory_lengths = bool(memory_lengths)  # False: no memory_lengths input (the whole memory attended)
        self.wrapper: AttentionWrapper = keras.layers.deserialize(wrapper) if isinstance(wrapper, dict) else wrapper
        self.output_layer = (keras.layers.deserialize(output_layer) if isinstance(output_layer, dict)
                             else output_layer)
        self.impute_finished = bool(impute_finished)

    def build(self, input_shape) -> None:
        """Create the wrapper's weights (a ``.keras`` load builds before reading them) by one step on zeros."""
        x_shape, memory_shape = input_shape[0], input_shape[2]
        with tf.init_scope():
            self.wrapper.setup_memory(tf.zeros([1, 2, int(memory_shape[-1])]), tf.constant([2]))
            out, _ = self.wrapper(tf.zeros([1, int(x_shape[-1])]), self.wrapper.get_initial_state(1))
            if self.output_layer is not None:
                self.output_layer(out)
        super().build(input_shape)

    def _initial_state(self, batch, flat: list):
        if not flat:
            return self.wrapper.get_initial_state(batch)
        stack = hasattr(self.wrapper, "layer_state_sizes")  # an AttentionStack: one state per layer
        sizes = self.wrapper.layer_state_sizes() if stack else _layer_state_sizes(self.wrapper.cell)
        if len(flat) != sum(sizes):
            raise ValueError(f"TeacherForcedDecoder: {len(flat)} initial state tensors for a cell with {sum(sizes)}")
        layers, k = [], 0
        for n in sizes:  # TF1 (c, h) -> Keras [h, c]
            part = flat[k:k + n]
            layers.append([part[1], part[0]] if n == 2 else [part[0]])
            k += n
        cell_state = layers if stack or isinstance(self.wrapper.cell, keras.layers.StackedRNNCells) else layers[0]
        return self.wrapper.get_initial_state(batch, cell_state=cell_state)

    def call(self, inputs):
        x, lengths, memory, *rest = inputs
        memory_lengths, flat = (tf.cast(rest[0], tf.int32), rest[1:]) if self.memory_lengths else (None, rest)
        lengths = tf.cast(lengths, tf.int32)
        self.wrapper.setup_memory(memory, memory_lengths)
        state = self._initial_state(tf.shape(x)[0], list(flat))
        steps = tf.maximum(tf.reduce_max(lengths), 0)
        size = self.output_layer.units if self.output_layer is not None else None
        outputs = tf.TensorArray(x.dtype, size=steps, element_shape=tf.TensorShape([None, size]))

        def step(t, state, outputs):
            out, next_state = self.wrapper(x[:, t], state)
            next_state = tf.nest.pack_sequence_as(state, tf.nest.flatten(next_state))  # StackedRNNCells: tuples
            if self.output_layer is not None:
                out = self.output_layer(out)
            if self.impute_finished:  # TF1: zeros past a row's length, its state passed through
                done = (t >= lengths)[:, None]
                out = tf.where(done, tf.zeros_like(out), out)
                next_state = tf.nest.map_structure(
                    lambda new, old: new if new.shape.rank == 0 or isinstance(new, tf.TensorArray)
                    else tf.where(done, old, new), next_state, state)
            return t + 1, next_state, outputs.write(t, out)

        _, _, outputs = tf.while_loop(lambda t, *_: t < steps, step, (tf.constant(0), state, outputs))
        return tf.transpose(outputs.stack(), [1, 0, 2])

    def get_config(self) -> dict:
        return {**super().get_config(), "wrapper": keras.layers.serialize(self.wrapper),
                "output_layer": None if self.output_layer is None else keras.layers.serialize(self.output_layer),
                "impute_finished": self.impute_finished, "memory_lengths": self.memory_lengths}


def teacher_forced_decoder(wrapper: AttentionWrapper, output_layer: Optional[keras.layers.Layer] = None,
                           impute_finished: bool = False, memory_lengths: bool = True,
                           name: Optional[str] = None) -> TeacherForcedDecoder:
    """A :class:`TeacherForcedDecoder` sharing ``wrapper`` (and ``output_layer``) with an already built model."""
    return TeacherForcedDecoder(wrapper, output_layer, impute_finished, memory_lengths, name=name)
