"""Keras 2 twins of the TF1 unrolling functions, name for name.

Read beside :mod:`legacy_rnn.rnn`. How each TF1 semantic is reproduced:

* ``sequence_length`` -> ``mask = tf.sequence_mask(len, T)`` and ``zero_output_for_mask=True`` (the default False
  repeats the last valid output in the padding); the final state stops at ``len - 1`` as in TF1.
* ``time_major`` -> ``RNN(time_major=True)`` with the mask **transposed to [T, B]**.
* bidirectional -> ``Bidirectional(..., merge_mode=None)`` called **with the mask**, so the backward pass starts at
  each sequence's last valid step like TF1's ``reverse_sequence``.
* states come back in **Keras order** (``[h, c]`` per LSTM layer, nested per layer for stacked cells);
  :func:`flatten_state` turns them into TF1's flat order (c, h per LSTM layer).
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras as keras

from modern_rnn.projection_lstm import ProjectionLSTMCell


def _check_rank(name: str, tensor, rank: int, layout: str) -> None:
    shape = tensor.shape
    if shape.rank is not None and shape.rank != rank:
        raise ValueError(f"Received an invalid shape for `{name}`: expected rank {rank} {layout}, got {shape.as_list()}.")


def _as_tensor(inputs):
    if isinstance(inputs, (list, tuple)):
        if not inputs:
            raise ValueError("Received an invalid value for `inputs`: expected a non-empty list of [batch, depth] tensors, got [].")
        return tf.stack(list(inputs), axis=1)
    inputs = tf.convert_to_tensor(inputs)
    _check_rank("inputs", inputs, 3, "[batch, time, depth]")
    return inputs


def _mask(sequence_length, inputs, time_major: bool = False):
    if sequence_length is None:
        return None
    steps = tf.shape(inputs)[0 if time_major else 1]
    mask = tf.sequence_mask(sequence_length, steps)
    return tf.transpose(mask) if time_major else mask


def _as_list(states) -> list:
    return list(states) if isinstance(states, (list, tuple)) else [states]


def manual_rnn(cell, inputs, initial_state=None, scope: Optional[str] = None):
    """The seed-000 loop: ``for x_t in tf.unstack(inputs, axis=1): output, state = cell(x_t, state)``.

    Returns ``(outputs [B, T, H], state)`` with the state in Keras order. ``scope`` mirrors the legacy signature.

    Legacy equivalent: :func:`legacy_rnn.rnn.manual_rnn`.
    """
    inputs = _as_tensor(inputs)
    steps = tf.unstack(inputs, axis=1)
    states = initial_state
    if states is None:
        states = cell.get_initial_state(batch_size=tf.shape(inputs)[0], dtype=inputs.dtype)
    states = _as_list(states)
    outputs = []
    for x_t in steps:
        output, states = cell(x_t, states)
        states = _as_list(states)
        outputs.append(output)
    return tf.stack(outputs, axis=1), states


def _run(layer, inputs, mask, initial_state, training=None):
    if initial_state is not None:  # Keras wants tensors, not NumPy arrays, here
        initial_state = tf.nest.map_structure(tf.convert_to_tensor, _as_list(initial_state))
    result = layer(inputs, mask=mask, initial_state=initial_state, training=training)
    return result[0], list(result[1:])


def static_rnn(cell, inputs, initial_state=None, sequence_length=None, dtype=None, scope: Optional[str] = None,
               training=None):
    """``keras.layers.RNN(cell, unroll=True)``: the graph holds one copy of the cell per step, as in TF1.

    Returns ``(outputs: list of [B, H], final_state)``.

    Legacy equivalent: :func:`legacy_rnn.rnn.static_rnn`.
    """
    inputs = _as_tensor(inputs)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True, unroll=True, zero_output_for_mask=True)
    outputs, states = _run(layer, inputs, _mask(sequence_length, inputs), initial_state, training)
    return tf.unstack(outputs, axis=1), states


def dynamic_rnn(cell, inputs, sequence_length=None, initial_state=None, time_major: bool = False, dtype=None,
                scope: Optional[str] = None, training=None):
    """``keras.layers.RNN(cell)`` with a mask: a ``while_loop`` over time. Returns ``(outputs, final_state)``.

    Legacy equivalent: :func:`legacy_rnn.rnn.dynamic_rnn`.
    """
    inputs = tf.convert_to_tensor(inputs)
    _check_rank("inputs", inputs, 3, "[time, batch, depth]" if time_major else "[batch, time, depth]")
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True, time_major=time_major,
                             zero_output_for_mask=True)
    return _run(layer, inputs, _mask(sequence_length, inputs, time_major), initial_state, training)


def _reverse(x, sequence_length):
    """``tf.reverse_sequence`` along time (batch-major): the first len steps of each row reversed, padding kept."""
    if sequence_length is None:
        return tf.reverse(x, axis=[1])
    return tf.reverse_sequence(x, tf.cast(sequence_length, tf.int64), seq_axis=1, batch_axis=0)


def _bidirectional(cell_fw, cell_bw, inputs, sequence_length, initial_state_fw, initial_state_bw, unroll, merge_mode,
                   training):
    """What ``keras.layers.Bidirectional`` computes, from two RNN layers over the caller's own cells.

    Two Keras traps are avoided here:

    * ``Bidirectional`` re-creates its layers from their config, so the cells passed to it are not the ones that run.
    * ``RNN(unroll=True, go_backwards=True)`` with a mask and ``zero_output_for_mask=True`` zeroes *valid* outputs
      of shorter sequences (tf_keras 2.21; the non-unrolled path is right).

    So the backward layer reads the inputs reversed **by length** (TF1's ``reverse_sequence``) with the same mask, and
    its outputs are reversed back the same way: it starts at each sequence's last valid step, as in TF1.
    """
    def rnn(cell):
        return keras.layers.RNN(cell, return_sequences=True, return_state=True, unroll=unroll,
                                zero_output_for_mask=True)

    if (initial_state_fw is None) != (initial_state_bw is None):
        raise ValueError("Received only one of `initial_state_fw`/`initial_state_bw`: give both or neither.")
    mask = _mask(sequence_length, inputs)
    out_fw, state_fw = _run(rnn(cell_fw), inputs, mask, initial_state_fw, training)
    out_bw, state_bw = _run(rnn(cell_bw), _reverse(inputs, sequence_length), mask, initial_state_bw, training)
    out_bw = _reverse(out_bw, sequence_length)
    outputs = (tf.concat([out_fw, out_bw], -1),) if merge_mode == "concat" else (out_fw, out_bw)
    return outputs, state_fw, state_bw


def static_bidirectional_rnn(cell_fw, cell_bw, inputs, initial_state_fw=None, initial_state_bw=None,
                             sequence_length=None, dtype=None, scope: Optional[str] = None, training=None):
    """``Bidirectional(RNN(unroll=True), merge_mode='concat')`` with the mask (see :func:`_bidirectional`).

    Returns ``(outputs: list of concat([fw, bw]), state_fw, state_bw)``.

    Legacy equivalent: :func:`legacy_rnn.rnn.static_bidirectional_rnn`.
    """
    inputs = _as_tensor(inputs)
    (outputs,), state_fw, state_bw = _bidirectional(cell_fw, cell_bw, inputs, sequence_length, initial_state_fw,
                                                    initial_state_bw, True, "concat", training)
    return tf.unstack(outputs, axis=1), state_fw, state_bw


def bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, sequence_length=None, initial_state_fw=None,
                              initial_state_bw=None, time_major: bool = False, dtype=None,
                              scope: Optional[str] = None, training=None):
    """``Bidirectional(RNN(cell_fw), backward_layer=RNN(cell_bw, go_backwards=True), merge_mode=None)`` with the mask
    (computed from two RNN layers over the given cells, see :func:`_bidirectional`).

    Returns ``((out_fw, out_bw), (state_fw, state_bw))``, the backward outputs time-aligned as in TF1. With
    ``time_major`` the inputs are transposed to batch-major and the outputs back.

    Legacy equivalent: :func:`legacy_rnn.rnn.bidirectional_dynamic_rnn`.
    """
    inputs = tf.convert_to_tensor(inputs)
    _check_rank("inputs", inputs, 3, "[time, batch, depth]" if time_major else "[batch, time, depth]")
    if time_major:
        inputs = tf.transpose(inputs, [1, 0, 2])
    (out_fw, out_bw), state_fw, state_bw = _bidirectional(cell_fw, cell_bw, inputs, sequence_length, initial_state_fw,
                                                          initial_state_bw, False, None, training)
    if time_major:
        out_fw, out_bw = tf.transpose(out_fw, [1, 0, 2]), tf.transpose(out_bw, [1, 0, 2])
    return (out_fw, out_bw), (state_fw, state_bw)


def _is_lstm(cell) -> bool:
    while hasattr(cell, "cell"):  # DropoutCell, ResidualWrapper: look through to the wrapped cell
        cell = cell.cell
    return isinstance(cell, (keras.layers.LSTMCell, ProjectionLSTMCell)) or getattr(cell, "is_lstm_state", False)


def flatten_state(state, cell=None) -> list:
    """Keras state (``[h, c]`` per LSTM layer, nested per layer) -> flat list in **TF1 order** (c, h per LSTM layer).

    ``cell`` tells which layers are LSTMs; without it the state is flattened as it is.
    Legacy equivalent: :func:`legacy_rnn.rnn.flatten_state`.
    """
    if cell is None:
        return list(tf.nest.flatten(state))
    if isinstance(cell, keras.layers.StackedRNNCells):
        return [t for sub, s in zip(cell.cells, state) for t in flatten_state(s, sub)]
    flat = list(tf.nest.flatten(state))
    if _is_lstm(cell):
        h, c = flat
        return [c, h]
    return flat
