"""Keras 2 (tf_keras) twins of the ``tf.contrib.cudnn_rnn`` canonical cells.

Read beside :mod:`legacy_rnn.cudnn`: the same names, in the same order. Weights from
:mod:`migration.cudnn_converters` (or ``migration.converters.cell_to_keras`` with the ``cudnn_compatible_*`` kinds).
On a GPU these stock cells also take the cuDNN path of ``keras.layers.LSTM``/``GRU`` (not tested here: no GPU).
"""
from __future__ import annotations

from typing import Optional

import tf_keras as keras

from migration.core.errors import check_positive_int


def cudnn_compatible_lstm_cell(units: int, name: Optional[str] = None) -> keras.layers.LSTMCell:
    """``LSTMCell(units, unit_forget_bias=False)``: cuDNN LSTMs have no forget_bias, so nothing is folded into b_f;
    gate blocks ``i, j, f, o`` -> ``i, f, c, o`` as for every TF1 LSTM.

    Legacy equivalent: :func:`legacy_rnn.cudnn.cudnn_compatible_lstm_cell`.
    """
    return keras.layers.LSTMCell(check_positive_int("units", units), unit_forget_bias=False, name=name)


def cudnn_compatible_gru_cell(units: int, name: Optional[str] = None) -> keras.layers.GRUCell:
    """``GRUCell(units, reset_after=True)`` (the tf_keras default): ``bias [2, 3U]`` holds the input biases in row 0
    and the recurrent biases in row 1, so cuDNN's separate candidate biases survive: ``b_x`` -> ``bias[0, h]``,
    ``b_h`` -> ``bias[1, h]``; the summed ``gates/bias`` goes to row 0 (row 1 zero for z, r).

    Legacy equivalent: :func:`legacy_rnn.cudnn.cudnn_compatible_gru_cell`.
    """
    return keras.layers.GRUCell(check_positive_int("units", units), reset_after=True, name=name)
