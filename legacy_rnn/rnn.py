"""TF1 unrolling: the seeds' manual loop, ``static_rnn``, ``dynamic_rnn`` and the two bidirectional forms.

Read beside :mod:`modern_rnn.rnn`. Semantics that the Keras twins must reproduce:

* ``sequence_length``: outputs are **0 for t >= len**, the final state is the state at ``t = len - 1`` (zero for
  len = 0).
* ``time_major``: inputs ``[T, B, D]``; variable names do not change.
* bidirectional: the backward pass runs over each sequence reversed **by its own length** (``reverse_sequence``)
  and its outputs are re-reversed, so they are time-aligned with the forward outputs.
* scopes: ``dynamic_rnn(..., scope='enc')`` *replaces* the default ``rnn`` scope; bidirectional uses
  ``bidirectional_rnn/fw`` and ``/bw``.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

v1 = tf.compat.v1


def _check_rank(name: str, tensor, rank: int, layout: str) -> None:
    shape = tensor.shape
    if shape.rank is not None and shape.rank != rank:
        raise ValueError(f"Received an invalid shape for `{name}`: expected rank {rank} {layout}, got {shape.as_list()}.")


def _as_step_list(inputs) -> list:
    if isinstance(inputs, (list, tuple)):
        if not inputs:
            raise ValueError("Received an invalid value for `inputs`: expected a non-empty list of [batch, depth] tensors, got [].")
        return list(inputs)
    inputs = tf.convert_to_tensor(inputs)
    _check_rank("inputs", inputs, 3, "[batch, time, depth]")
    return tf.unstack(inputs, axis=1)


def manual_rnn(cell, inputs, initial_state=None, scope: Optional[str] = None):
    """The seeds' Python loop: ``for x_t in tf.unstack(inputs, axis=1): output, state = cell(x_t, state)``.

    ``cell`` is a TF1 cell, or the hand-written step function of :func:`legacy_rnn.cells.handwritten_rnn_cell`
    (which returns the new state, also used as the output). TF1 cells are called inside ``variable_scope(scope or
    'rnn')`` so their variables get the same names as under ``dynamic_rnn``. Returns ``(outputs [B, T, H], state)``.

    Modern equivalent: :func:`modern_rnn.rnn.manual_rnn`.
    """
    steps = _as_step_list(inputs)
    handwritten = not hasattr(cell, "zero_state")
    if initial_state is None:
        batch = tf.shape(steps[0])[0]
        initial_state = (tf.zeros([batch, cell.units], steps[0].dtype) if handwritten
                         else cell.zero_state(batch, steps[0].dtype))
    state, outputs = initial_state, []
    if handwritten:
        for x_t in steps:
            state = cell(x_t, state)
            outputs.append(state)
        return tf.stack(outputs, axis=1), state
    with v1.variable_scope(scope or "rnn"):
        for x_t in steps:
            output, state = cell(x_t, state)
            outputs.append(output)
    return tf.stack(outputs, axis=1), state


def static_rnn(cell, inputs, initial_state=None, sequence_length=None, dtype=tf.float32, scope: Optional[str] = None):
    """``tf.compat.v1.nn.static_rnn``: the graph holds one copy of the cell per step.

    ``inputs`` is a list of ``[B, D]`` tensors (as TF1 wants) or a ``[B, T, D]`` tensor (unstacked for you).
    Returns ``(outputs: list of [B, H], final_state)``.

    Modern equivalent: :func:`modern_rnn.rnn.static_rnn` (``keras.layers.RNN(cell, unroll=True)``).
    """
    return v1.nn.static_rnn(cell, _as_step_list(inputs), initial_state=initial_state, dtype=dtype,
                            sequence_length=sequence_length, scope=scope)


def dynamic_rnn(cell, inputs, sequence_length=None, initial_state=None, time_major: bool = False,
                dtype=tf.float32, scope: Optional[str] = None, parallel_iterations: int = 32):
    """``tf.compat.v1.nn.dynamic_rnn``: a ``while_loop`` over time. Returns ``(outputs, final_state)``.

    ``inputs``: ``[B, T, D]`` (``[T, B, D]`` with ``time_major``). With ``sequence_length`` the outputs past each
    length are zero and the state stops at ``len - 1``.

    ``parallel_iterations`` (TF1's default 32) changes no value, with one exception: a stateful random op in the loop
    body (a ``DropoutWrapper``'s mask) is drawn by up to that many iterations in a racy order under TF 2.x's
    ``while_v2``, so the masks differ from run to run even with one thread and op determinism; TF 1.x's v1 frames
    did not show this. Pass ``parallel_iterations=1`` for reproducible masks (measured: 32 differs run to run, 1 is
    bit-identical; the v1 control flow is identical at 32).

    Modern equivalent: :func:`modern_rnn.rnn.dynamic_rnn` (``keras.layers.RNN`` with a mask and
    ``zero_output_for_mask=True``).
    """
    inputs = tf.convert_to_tensor(inputs)
    _check_rank("inputs", inputs, 3, "[time, batch, depth]" if time_major else "[batch, time, depth]")
    return v1.nn.dynamic_rnn(cell, inputs, sequence_length=sequence_length, initial_state=initial_state,
                             dtype=dtype, time_major=time_major, scope=scope, parallel_iterations=parallel_iterations)


def static_bidirectional_rnn(cell_fw, cell_bw, inputs, initial_state_fw=None, initial_state_bw=None,
                             sequence_length=None, dtype=tf.float32, scope: Optional[str] = None):
    """``tf.compat.v1.nn.static_bidirectional_rnn``: returns ``(outputs: list of concat([fw, bw]), state_fw,
    state_bw)``; variables under ``bidirectional_rnn/fw`` and ``/bw``.

    Modern equivalent: :func:`modern_rnn.rnn.static_bidirectional_rnn`.
    """
    return v1.nn.static_bidirectional_rnn(cell_fw, cell_bw, _as_step_list(inputs), initial_state_fw=initial_state_fw,
                                          initial_state_bw=initial_state_bw, dtype=dtype,
                                          sequence_length=sequence_length, scope=scope)


def bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, sequence_length=None, initial_state_fw=None,
                              initial_state_bw=None, time_major: bool = False, dtype=tf.float32,
                              scope: Optional[str] = None):
    """``tf.compat.v1.nn.bidirectional_dynamic_rnn``: returns ``((out_fw, out_bw), (state_fw, state_bw))``; the
    backward outputs are time-aligned (re-reversed by length).

    Modern equivalent: :func:`modern_rnn.rnn.bidirectional_dynamic_rnn` (``Bidirectional(merge_mode=None)`` called
    **with the mask**: without it Keras' backward pass starts inside the padding).
    """
    inputs = tf.convert_to_tensor(inputs)
    _check_rank("inputs", inputs, 3, "[time, batch, depth]" if time_major else "[batch, time, depth]")
    return v1.nn.bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, sequence_length=sequence_length,
                                           initial_state_fw=initial_state_fw, initial_state_bw=initial_state_bw,
                                           dtype=dtype, time_major=time_major, scope=scope)


def flatten_state(state, cell=None) -> list:
    """TF1 state structure -> flat list in TF1 order (``LSTMStateTuple`` gives c, h; stacked cells layer by layer).

    ``cell`` is accepted for symmetry with the modern twin (TF1 states carry their own structure).

    Modern equivalent: :func:`modern_rnn.rnn.flatten_state` (which turns Keras' ``[h, c]`` into the TF1 order).
    """
    return list(tf.nest.flatten(state))


