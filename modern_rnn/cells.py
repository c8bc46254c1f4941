"""Keras 2 (tf_keras) twins of the TF1 recurrent cells.

Read beside :mod:`legacy_rnn.cells`: the same names, in the same order. Each builder returns a Keras cell that, with
weights from :func:`migration.converters.cell_to_keras`, computes exactly what its TF1 twin computes.
Keras gate orders: LSTM ``i, f, c, o``; GRU ``z, r, h``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import tf_keras as keras
from tf_keras.src.layers.rnn import cell_wrappers as _wrappers

from migration.core.errors import check_positive_int
from migration.core.specs import CellSpec
from modern_rnn import cudnn
from modern_rnn.dropout import DropoutCell
from modern_rnn.layer_norm_lstm import LayerNormLSTMCell
from modern_rnn.projection_lstm import ProjectionLSTMCell


def handwritten_rnn_cell(units: int, input_size: Optional[int] = None) -> keras.layers.SimpleRNNCell:
    """``SimpleRNNCell(units)``: ``h' = tanh(x W_x + h W_h + b)``, the seed-002 hand-written cell.

    ``input_size`` is accepted for symmetry with the legacy builder (Keras infers it at build time).

    Legacy equivalent: :func:`legacy_rnn.cells.handwritten_rnn_cell` (``W = concat([kernel, recurrent_kernel])``).
    """
    check_positive_int("units", units)
    if input_size is not None:
        check_positive_int("input_size", input_size)
    return keras.layers.SimpleRNNCell(units)


def basic_rnn_cell(units: int, activation: Optional[str] = None, name: Optional[str] = None) -> keras.layers.SimpleRNNCell:
    """``SimpleRNNCell``: ``kernel [D, U]``, ``recurrent_kernel [U, U]``, ``bias [U]``.

    Legacy equivalent: :func:`legacy_rnn.cells.basic_rnn_cell` (``BasicRNNCell``, ``kernel = [W_x; W_h]``).
    """
    return keras.layers.SimpleRNNCell(check_positive_int("units", units), activation=activation or "tanh", name=name)


def _forget_bias_initializer(units: int, forget_bias: float):
    """Bias initialiser that starts where a fresh TF1 LSTM starts: zero bias plus the run-time forget_bias."""
    if forget_bias == 1.0:
        return None  # unit_forget_bias=True does exactly this
    values = np.zeros(4 * units, np.float32)
    values[units:2 * units] = forget_bias
    return keras.initializers.Constant(values.tolist())


def basic_lstm_cell(units: int, forget_bias: float = 1.0, state_is_tuple: bool = True,
                    activation: Optional[str] = None, name: Optional[str] = None) -> keras.layers.LSTMCell:
    """``LSTMCell``: ``kernel [D, 4U]``, ``recurrent_kernel [U, 4U]``, ``bias [4U]`` with blocks **i, f, c, o**.

    Keras has no run-time forget_bias: a fresh cell starts with ``b_f = forget_bias`` instead (``unit_forget_bias``
    for 1.0), and converted TF1 weights carry ``b_f + forget_bias``. State order ``[h, c]`` (TF1: ``(c, h)``).
    ``state_is_tuple`` is accepted for symmetry (Keras states are always a list).

    Legacy equivalent: :func:`legacy_rnn.cells.basic_lstm_cell` (``BasicLSTMCell``, blocks i, j, f, o).
    """
    units = check_positive_int("units", units)
    init = _forget_bias_initializer(units, float(forget_bias))
    kwargs = {"unit_forget_bias": True} if init is None else {"unit_forget_bias": False, "bias_initializer": init}
    return keras.layers.LSTMCell(units, activation=activation or "tanh", name=name, **kwargs)


def lstm_cell(units: int, use_peepholes: bool = False, num_proj: Optional[int] = None,
              cell_clip: Optional[float] = None, proj_clip: Optional[float] = None, forget_bias: float = 1.0,
              activation: Optional[str] = None, name: Optional[str] = None):
    """``LSTMCell``, or :class:`modern_rnn.projection_lstm.ProjectionLSTMCell` when peepholes, projection or
    clipping are on (stock Keras 2 has none of them). State ``[m, c]``; output m (size num_proj or units).

    Legacy equivalent: :func:`legacy_rnn.cells.lstm_cell`.
    """
    spec = CellSpec("lstm", check_positive_int("units", units), forget_bias=float(forget_bias),
                    use_peepholes=use_peepholes, num_proj=num_proj, cell_clip=cell_clip, proj_clip=proj_clip,
                    activation=activation or "tanh")
    if not spec.needs_custom_keras_cell:
        return basic_lstm_cell(units, forget_bias=forget_bias, activation=spec.activation, name=name)
    init = _forget_bias_initializer(units, spec.forget_bias) or keras.initializers.Constant(
        np.concatenate([np.zeros(units), np.ones(units), np.zeros(2 * units)]).tolist())
    return ProjectionLSTMCell(units, use_peepholes=spec.use_peepholes, num_proj=spec.num_proj, cell_clip=spec.cell_clip,
                              proj_clip=spec.proj_clip, activation=spec.activation, bias_initializer=init, name=name)


def gru_cell(units: int, name: Optional[str] = None) -> keras.layers.GRUCell:
    """``GRUCell(reset_after=False)``: ``kernel [D, 3U]``, ``recurrent_kernel [U, 3U]``, ``bias [3U]``, blocks z, r, h.

    ``reset_after=False`` computes ``tanh(x W_h + (r*h) U_h + b_h)`` like TF1. The tf_keras default
    (``reset_after=True``, bias [2, 3U]) computes ``r * (h U_h)`` and cannot equal a TF1 GRUCell.

    Legacy equivalent: :func:`legacy_rnn.cells.gru_cell`.
    """
    return keras.layers.GRUCell(check_positive_int("units", units), reset_after=False, name=name)


def cell_from_spec(spec: CellSpec, input_size: Optional[int] = None, scope: str = "rnn_cell"):
    """Build the Keras cell that ``spec`` describes (``input_size``/``scope`` mirror the legacy signature).

    Legacy equivalent: :func:`legacy_rnn.cells.cell_from_spec`.
    """
    if spec.kind == "handwritten":
        return handwritten_rnn_cell(spec.units, input_size)
    if spec.kind == "basic_rnn":
        return basic_rnn_cell(spec.units, activation=spec.activation)
    if spec.kind == "basic_lstm":
        return basic_lstm_cell(spec.units, forget_bias=spec.forget_bias, activation=spec.activation)
    if spec.kind in ("lstm", "lstm_block", "lstm_block_fused"):  # block kernels compute the LSTMCell maths
        return lstm_cell(spec.units, spec.use_peepholes, spec.num_proj, spec.cell_clip, spec.proj_clip, spec.forget_bias,
                         activation=spec.activation)
    if spec.kind == "layer_norm_lstm":  # = contrib.layer_norm_basic_lstm_cell (forget_bias lives in the weights)
        return LayerNormLSTMCell(check_positive_int("units", spec.units))
    if spec.kind in ("cudnn_compatible_lstm", "cudnn_compatible_gru"):
        return getattr(cudnn, spec.kind + "_cell")(spec.units)
    return gru_cell(spec.units)  # gru, gru_block, gru_block_v2


def multi_rnn_cell(cells: Sequence) -> keras.layers.StackedRNNCells:
    """``StackedRNNCells``: states come back per layer, ``[[h0, c0], h1]`` (TF1 ``((c0, h0), h1)``).

    Legacy equivalent: :func:`legacy_rnn.cells.multi_rnn_cell`.
    """
    cells = list(cells)
    if not cells:
        raise ValueError("Received an invalid value for `cells`: expected a non-empty list of cells, got [].")
    if len({id(c) for c in cells}) != len(cells):
        raise ValueError("Received the same cell object more than once in `cells`: build one cell per layer.")
    return keras.layers.StackedRNNCells(cells)


def dropout_wrapper(cell, input_keep_prob: float = 1.0, output_keep_prob: float = 1.0, state_keep_prob: float = 1.0,
                    variational_recurrent: bool = False, input_size: Optional[int] = None, dtype=None,
                    seed: Optional[int] = None) -> DropoutCell:
    """:class:`modern_rnn.dropout.DropoutCell`: TF1's keep-probability semantics (a fresh mask per step on x_t, the
    new h and the output; c never dropped), active only when the layer is called with ``training=True``.

    The idiomatic Keras alternative changes the semantics: ``LSTM(dropout=1-input_keep_prob)`` uses one mask per
    sequence, ``recurrent_dropout`` masks h_{t-1} inside the recurrent matmul only, and ``output_keep_prob`` becomes a
    ``Dropout(1 - keep_prob)`` layer after the RNN. ``variational_recurrent=True`` (one mask per sequence) maps to
    exactly those Keras arguments, so it is refused here with that remedy. ``input_size``/``dtype`` mirror the
    legacy signature (Keras infers both).

    Legacy equivalent: :func:`legacy_rnn.cells.dropout_wrapper`.
    """
    if variational_recurrent:
        raise ValueError(
            "Received variational_recurrent=True: use the Keras cell's own `dropout=1-input_keep_prob` and "
            "`recurrent_dropout=1-state_keep_prob` (one mask per sequence), plus Dropout(1-output_keep_prob) after."
        )
    return DropoutCell(cell, input_keep_prob=input_keep_prob, output_keep_prob=output_keep_prob,
                       state_keep_prob=state_keep_prob, seed=seed)


def residual_wrapper(cell):
    """tf_keras' ``ResidualWrapper``: output = cell output + input; the state is not residual.

    Legacy equivalent: :func:`legacy_rnn.cells.residual_wrapper`.
    """
    return _wrappers.ResidualWrapper(cell)
