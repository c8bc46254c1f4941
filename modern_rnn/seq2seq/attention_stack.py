"""TF 1.15 ``MultiRNNCell([cell_0, ..., AttentionWrapper(cell_k, mechanism), ..., cell_n])`` as one Keras layer:
a stack of plain cells with attention on ONE layer (on the top decoder layer, as GNMT-style and many NMT programs
write it, or at the bottom, or in between).

:class:`AttentionStack` steps the layers bottom to top as ``MultiRNNCell`` does: layer ``j`` reads the output of
layer ``j - 1`` (the decoder input for ``j = 0``); the attention layer is an :class:`AttentionWrapper` around one
Keras cell (its input ``concat([x, previous attention])``, its output the attention or the cell output as its
``output_attention`` says); the stack's output is the top layer's. The state is a tuple with one entry per layer,
the attention layer's an :class:`AttentionWrapperState` (as TF1's ``MultiRNNCell`` state). It offers what
:class:`AttentionWrapper` offers to the decoders (``setup_memory``, ``get_initial_state``, ``named_weights``,
``attention_mechanism``), so :class:`~modern_rnn.seq2seq.models.AttentionDecoderModel` and
:class:`~modern_rnn.seq2seq.teacher_forced.TeacherForcedDecoder` run it unchanged. Registered for ``.keras``
serialisation (``safe_mode=True`` loads it).

Weights (:meth:`AttentionStack.named_weights`): the wrapper's (``memory_layer/kernel``, the mechanism, ``attention_layer
/kernel``, ``cell/...`` for the wrapped cell) and ``stack/cell_<j>/{kernel, recurrent_kernel, bias}`` for each plain
layer ``j`` (its TF1 ``multi_rnn_cell`` index).

GNMT's ``GNMTAttentionMultiCell`` (the attention computed from the bottom layer and fed to every layer) is another
structure, not this one.

Legacy equivalent: ``legacy_rnn.v1.nn.rnn_cell.MultiRNNCell`` holding one :class:`legacy_rnn.seq2seq.AttentionWrapper`.
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from modern_rnn.seq2seq.attention_wrapper import AttentionWrapper

register = keras.saving.register_keras_serializable(package="modern_rnn.seq2seq")


def _state_count(cell) -> int:
    size = cell.state_size
    return len(size) if isinstance(size, (list, tuple)) else 1


@register
class AttentionStack(keras.layers.Layer):
    """See the module docstring. ``cells``: the plain Keras cells, bottom to top, without the attention layer;
    ``wrapper``: the :class:`AttentionWrapper` (around one cell); ``index``: its position in the stack."""

    def __init__(self, cells, wrapper, index: int, name: str = "attention_stack", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.wrapper: AttentionWrapper = keras.layers.deserialize(wrapper) if isinstance(wrapper, dict) else wrapper
        self.cells = [keras.layers.deserialize(c) if isinstance(c, dict) else c for c in cells]
        self.index = int(index)
        if not 0 <= self.index <= len(self.cells):
            raise ValueError(f"AttentionStack: index {self.index} outside a stack of {len(self.cells) + 1} layers.")
        if isinstance(self.wrapper.cell, keras.layers.StackedRNNCells):
            raise ValueError("AttentionStack: the attention layer wraps one cell, not a StackedRNNCells.")

    @property
    def attention_mechanism(self):
        return self.wrapper.attention_mechanism

    @property
    def layers_in_order(self) -> list:
        """Every layer bottom to top, the :class:`AttentionWrapper` at :attr:`index`."""
        return self.cells[:self.index] + [self.wrapper] + self.cells[self.index:]

    def layer_state_sizes(self) -> list[int]:
        """How many cell state tensors each layer has (2 for an LSTM, 1 otherwise; the wrapped cell's for the
        attention layer)."""
        return [_state_count(self.wrapper.cell if layer is self.wrapper else layer) for layer in self.layers_in_order]

    def setup_memory(self, memory, memory_sequence_length=None) -> None:
        self.wrapper.setup_memory(memory, memory_sequence_length)

    def get_initial_state(self, batch_size, dtype=tf.float32, cell_state=None) -> tuple:
        """Zero state per layer; ``cell_state``: one Keras cell state per layer (e.g. an encoder's final states),
        the attention layer's given as its wrapped cell's state."""
        if cell_state is not None and len(cell_state) != len(self.layers_in_order):
            raise ValueError(f"AttentionStack: {len(cell_state)} layer states for {len(self.layers_in_order)} layers.")
        states = []
        for j, layer in enumerate(self.layers_in_order):
            given = None if cell_state is None else cell_state[j]
            if layer is self.wrapper:
                states.append(self.wrapper.get_initial_state(batch_size, dtype, cell_state=given))
            else:
                states.append(given if given is not None else layer.get_initial_state(batch_size=batch_size,
                                                                                      dtype=dtype))
        return tuple(states)

    zero_state = get_initial_state

    def call(self, inputs, state):
        x, new = inputs, []
        for layer, layer_state in zip(self.layers_in_order, state):
            x, layer_state = layer(x, layer_state)
            new.append(layer_state)
        return x, tuple(new)

    def named_weights(self) -> dict[str, tf.Variable]:
        out = dict(self.wrapper.named_weights())
        for j, cell in enumerate(self.layers_in_order):
            if cell is self.wrapper:
                continue
            if len(cell.weights) != 3:
                raise NotImplementedError("named_weights covers cells with kernel/recurrent_kernel/bias only.")
            out.update({f"stack/cell_{j}/{n}": w for n, w in zip(("kernel", "recurrent_kernel", "bias"), cell.weights)})
        return out

    def get_config(self) -> dict:
        return {**super().get_config(), "cells": [keras.layers.serialize(c) for c in self.cells],
                "wrapper": keras.layers.serialize(self.wrapper), "index": self.index}
