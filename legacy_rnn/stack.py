"""``tf.contrib.rnn.stack_bidirectional_dynamic_rnn`` / ``stack_bidirectional_rnn`` for TensorFlow 2.21.

Layer k is a bidirectional pair reading ``concat([out_fw, out_bw], -1)`` of layer k-1 (not a MultiRNNCell per
direction: there the backward stack never sees the forward outputs). Variables, as TF 1.15's
``contrib/rnn/python/ops/rnn.py`` named them: ``stack_bidirectional_rnn/cell_k/bidirectional_rnn/{fw,bw}/<cell>/...``;
layer k's kernels have ``2U_{k-1} + U_k`` input rows.

Read beside :mod:`modern_rnn.stack`: the same names, in the same order.
"""
from __future__ import annotations

from typing import Optional, Sequence

import tensorflow as tf

from legacy_rnn.rnn import bidirectional_dynamic_rnn, static_bidirectional_rnn

v1 = tf.compat.v1


def _pairs(cells_fw: Sequence, cells_bw: Sequence) -> list:
    if not cells_fw or len(cells_fw) != len(cells_bw):
        raise ValueError(f"Received {len(cells_fw)} forward and {len(cells_bw)} backward cells: expected the same "
                         "non-zero number (one pair per layer).")
    return list(zip(cells_fw, cells_bw))


def stack_bidirectional_dynamic_rnn(cells_fw: Sequence, cells_bw: Sequence, inputs, sequence_length=None,
                                    dtype=tf.float32, time_major: bool = False, scope: Optional[str] = None):
    """Returns ``(outputs [B, T, U_fw + U_bw] of the top layer, states_fw tuple, states_bw tuple)``.

    Modern equivalent: :func:`modern_rnn.stack.stack_bidirectional_dynamic_rnn`.
    """
    states_fw, states_bw, layer = [], [], inputs
    with v1.variable_scope(scope or "stack_bidirectional_rnn"):
        for k, (fw, bw) in enumerate(_pairs(cells_fw, cells_bw)):
            with v1.variable_scope(f"cell_{k}"):
                outs, (s_fw, s_bw) = bidirectional_dynamic_rnn(fw, bw, layer, sequence_length=sequence_length,
                                                               time_major=time_major, dtype=dtype)
            layer = tf.concat(outs, 2)
            states_fw.append(s_fw)
            states_bw.append(s_bw)
    return layer, tuple(states_fw), tuple(states_bw)


def stack_bidirectional_rnn(cells_fw: Sequence, cells_bw: Sequence, inputs: Sequence, sequence_length=None,
                            dtype=tf.float32, scope: Optional[str] = None):
    """The static form: a list of ``[B, D]`` inputs; returns ``(outputs list, states_fw tuple, states_bw tuple)``.

    Modern equivalent: :func:`modern_rnn.stack.stack_bidirectional_rnn`.
    """
    states_fw, states_bw, layer = [], [], list(inputs)
    with v1.variable_scope(scope or "stack_bidirectional_rnn"):
        for k, (fw, bw) in enumerate(_pairs(cells_fw, cells_bw)):
            with v1.variable_scope(f"cell_{k}"):
                layer, s_fw, s_bw = static_bidirectional_rnn(fw, bw, layer, sequence_length=sequence_length,
                                                             dtype=dtype)
            states_fw.append(s_fw)
            states_bw.append(s_bw)
    return layer, tuple(states_fw), tuple(states_bw)
