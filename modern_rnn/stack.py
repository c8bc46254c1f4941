"""Keras 2 (tf_keras) twins of ``stack_bidirectional_dynamic_rnn`` / ``stack_bidirectional_rnn``.

Read beside :mod:`legacy_rnn.stack`: the same names, in the same order. One masked ``Bidirectional`` pair per layer,
layer k reading ``concat([fw, bw])`` of layer k-1; weights per layer and direction from
``migration.converters.cell_to_keras`` (layer k's input size is ``U_fw + U_bw`` of layer k-1).
"""
from __future__ import annotations

from typing import Optional, Sequence

import tensorflow as tf

from modern_rnn.rnn import bidirectional_dynamic_rnn, static_bidirectional_rnn


def _pairs(cells_fw: Sequence, cells_bw: Sequence) -> list:
    if not cells_fw or len(cells_fw) != len(cells_bw):
        raise ValueError(f"Received {len(cells_fw)} forward and {len(cells_bw)} backward cells: expected the same "
                         "non-zero number (one pair per layer).")
    return list(zip(cells_fw, cells_bw))


def stack_bidirectional_dynamic_rnn(cells_fw: Sequence, cells_bw: Sequence, inputs, sequence_length=None,
                                    dtype=None, time_major: bool = False, scope: Optional[str] = None,
                                    training=None):
    """Returns ``(outputs of the top layer, states_fw tuple, states_bw tuple)`` (Keras state order per cell).

    Legacy equivalent: :func:`legacy_rnn.stack.stack_bidirectional_dynamic_rnn`.
    """
    states_fw, states_bw, layer = [], [], inputs
    for fw, bw in _pairs(cells_fw, cells_bw):
        outs, (s_fw, s_bw) = bidirectional_dynamic_rnn(fw, bw, layer, sequence_length=sequence_length,
                                                       time_major=time_major, training=training)
        layer = tf.concat(outs, 2)
        states_fw.append(s_fw)
        states_bw.append(s_bw)
    return layer, tuple(states_fw), tuple(states_bw)


def stack_bidirectional_rnn(cells_fw: Sequence, cells_bw: Sequence, inputs: Sequence, sequence_length=None,
                            dtype=None, scope: Optional[str] = None, training=None):
    """The static form over a list of ``[B, D]`` inputs.

    Legacy equivalent: :func:`legacy_rnn.stack.stack_bidirectional_rnn`.
    """
    states_fw, states_bw, layer = [], [], list(inputs)
    for fw, bw in _pairs(cells_fw, cells_bw):
        layer, s_fw, s_bw = static_bidirectional_rnn(fw, bw, layer, sequence_length=sequence_length,
                                                     training=training)
        states_fw.append(s_fw)
        states_bw.append(s_bw)
    return layer, tuple(states_fw), tuple(states_bw)
