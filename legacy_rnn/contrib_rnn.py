"""``tf.contrib.rnn`` as one namespace for TensorFlow 2.21: what ``rnn-migrate upgrade`` points a TF1 program's
``from tensorflow.contrib import rnn`` / ``rnn = tf.contrib.rnn`` at.

The core cells and functions are TensorFlow's own (``tf.compat.v1.nn.rnn_cell.*``, ``tf.compat.v1.nn.static_rnn``...):
the same objects ``tf.contrib.rnn`` re-exported in TF 1.x. The contrib cells are :mod:`legacy_rnn.contrib`,
:mod:`legacy_rnn.wrappers` and :mod:`legacy_rnn.cudnn` (TF 1.15 variable names, TensorFlow's own kernels), the LSTM
variants of the family modules (:mod:`legacy_rnn.cifg_lstm`, :mod:`legacy_rnn.layer_norm_lstm_contrib`,
:mod:`legacy_rnn.weight_norm_lstm`; :mod:`legacy_rnn.phased_lstm`, :mod:`legacy_rnn.time_freq_lstm`), the
fused-cell interface, wrappers and helpers of :mod:`legacy_rnn.contrib_rnn_misc`, and the
stacked bidirectional functions keep TF 1.15's signature here (``initial_states_fw``, ``dtype`` ... in TF 1.15's
order). A name TF 1.15 had that is not rebuilt raises an ``AttributeError`` naming it (``rnn-migrate scan`` lists it
as a manual check).
"""
from __future__ import annotations

import legacy_rnn  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf

from legacy_rnn.contrib import (  # noqa: F401
    ConvLSTMCell, GRUBlockCell, GRUBlockCellV2, LayerNormBasicLSTMCell, LSTMBlockCell, LSTMBlockFusedCell,
)
from legacy_rnn.cifg_lstm import CoupledInputForgetGateLSTMCell  # noqa: F401
from legacy_rnn.layer_norm_lstm_contrib import LayerNormLSTMCell  # noqa: F401
from legacy_rnn.weight_norm_lstm import WeightNormLSTMCell  # noqa: F401
from legacy_rnn.indrnn import IndRNNCell, IndyGRUCell, IndyLSTMCell  # noqa: F401
from legacy_rnn.intersection_rnn import IntersectionRNNCell  # noqa: F401
from legacy_rnn.minimal_rnn import CFNCell, MinimalRNNCell  # noqa: F401
from legacy_rnn.sru import SRUCell  # noqa: F401
from legacy_rnn.grid_lstm import BidirectionalGridLSTMCell, GridLSTMCell  # noqa: F401
from legacy_rnn.nas import NASCell  # noqa: F401
from legacy_rnn.glstm import GLSTMCell  # noqa: F401
from legacy_rnn.ugrnn import UGRNNCell  # noqa: F401
from legacy_rnn.phased_lstm import PhasedLSTMCell  # noqa: F401
from legacy_rnn.time_freq_lstm import TimeFreqLSTMCell  # noqa: F401
from legacy_rnn.contrib_rnn_misc import (  # noqa: F401
    CompiledWrapper, Conv1DLSTMCell, Conv2DLSTMCell, Conv3DLSTMCell, FusedRNNCell, FusedRNNCellAdaptor,
    HighwayWrapper, LayerRNNCell, LSTMBlockWrapper, TimeReversedFusedRNN, best_effort_input_batch_size,
    transpose_batch_time,
)
from legacy_rnn.wrappers import (  # noqa: F401
    AttentionCellWrapper, EmbeddingWrapper, InputProjectionWrapper, OutputProjectionWrapper,
)

v1 = tf.compat.v1
_cells = v1.nn.rnn_cell
BasicRNNCell, BasicLSTMCell, LSTMCell, GRUCell = _cells.BasicRNNCell, _cells.BasicLSTMCell, _cells.LSTMCell, _cells.GRUCell
MultiRNNCell, DropoutWrapper, ResidualWrapper = _cells.MultiRNNCell, _cells.DropoutWrapper, _cells.ResidualWrapper
DeviceWrapper, RNNCell, LSTMStateTuple = _cells.DeviceWrapper, _cells.RNNCell, _cells.LSTMStateTuple
static_rnn, static_bidirectional_rnn = v1.nn.static_rnn, v1.nn.static_bidirectional_rnn
static_state_saving_rnn = v1.nn.static_state_saving_rnn


def stack_bidirectional_dynamic_rnn(cells_fw, cells_bw, inputs, initial_states_fw=None, initial_states_bw=None,
                                    dtype=None, sequence_length=None, parallel_iterations=None, time_major=False,
                                    scope=None, swap_memory=False):
    """TF 1.15's signature and variable names (``stack_bidirectional_rnn/cell_k/bidirectional_rnn/{fw,bw}/...``):
    each layer reads ``concat(fw, bw)`` of the layer below. Returns ``(outputs, states_fw, states_bw)``."""
    _check_stack(cells_fw, cells_bw, initial_states_fw, initial_states_bw)
    states_fw, states_bw, layer = [], [], inputs
    with v1.variable_scope(scope or "stack_bidirectional_rnn"):
        for k, (fw, bw) in enumerate(zip(cells_fw, cells_bw)):
            with v1.variable_scope(f"cell_{k}"):
                outs, (s_fw, s_bw) = v1.nn.bidirectional_dynamic_rnn(
                    fw, bw, layer, initial_state_fw=initial_states_fw[k] if initial_states_fw else None,
                    initial_state_bw=initial_states_bw[k] if initial_states_bw else None,
                    sequence_length=sequence_length, parallel_iterations=parallel_iterations, dtype=dtype,
                    swap_memory=swap_memory, time_major=time_major)
                layer = tf.concat(outs, 2)
            states_fw.append(s_fw)
            states_bw.append(s_bw)
    return layer, tuple(states_fw), tuple(states_bw)


def stack_bidirectional_rnn(cells_fw, cells_bw, inputs, initial_states_fw=None, initial_states_bw=None, dtype=None,
                            sequence_length=None, scope=None):
    """The static form (a list of ``[B, D]`` inputs), TF 1.15's signature and variable names."""
    _check_stack(cells_fw, cells_bw, initial_states_fw, initial_states_bw)
    states_fw, states_bw, layer = [], [], list(inputs)
    with v1.variable_scope(scope or "stack_bidirectional_rnn"):
        for k, (fw, bw) in enumerate(zip(cells_fw, cells_bw)):
            with v1.variable_scope(f"cell_{k}"):
                layer, s_fw, s_bw = v1.nn.static_bidirectional_rnn(
                    fw, bw, layer, initial_state_fw=initial_states_fw[k] if initial_states_fw else None,
                    initial_state_bw=initial_states_bw[k] if initial_states_bw else None,
                    sequence_length=sequence_length, dtype=dtype)
            states_fw.append(s_fw)
            states_bw.append(s_bw)
    return layer, tuple(states_fw), tuple(states_bw)


def _check_stack(cells_fw, cells_bw, initial_fw, initial_bw) -> None:
    if not cells_fw or not cells_bw:
        raise ValueError("cells_fw and cells_bw must each hold at least one cell (TF 1.15 raised the same).")
    if len(cells_fw) != len(cells_bw):
        raise ValueError(f"Forward and backward cells must be the same number: {len(cells_fw)} != {len(cells_bw)}.")
    for what, states in (("initial_states_fw", initial_fw), ("initial_states_bw", initial_bw)):
        if states is not None and len(states) != len(cells_fw):
            raise ValueError(f"{what} must hold one state per cell ({len(cells_fw)}), got {len(states)}.")


#: Every TF 1.15 ``tf.contrib.rnn`` name this module provides (``rnn-migrate upgrade`` reads it).
__all__ = [
    "BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell", "DropoutWrapper", "ResidualWrapper",
    "DeviceWrapper", "RNNCell", "LSTMStateTuple", "static_rnn", "static_bidirectional_rnn", "static_state_saving_rnn",
    "LSTMBlockCell", "LSTMBlockFusedCell", "GRUBlockCell", "GRUBlockCellV2", "LayerNormBasicLSTMCell", "ConvLSTMCell",
    "OutputProjectionWrapper", "InputProjectionWrapper", "EmbeddingWrapper", "AttentionCellWrapper",
    "stack_bidirectional_dynamic_rnn", "stack_bidirectional_rnn",
    "IndRNNCell", "IndyGRUCell", "IndyLSTMCell", "MinimalRNNCell", "CFNCell", "SRUCell",
    "IntersectionRNNCell", "UGRNNCell",
    "GridLSTMCell", "BidirectionalGridLSTMCell",
    "NASCell", "GLSTMCell",
    "CoupledInputForgetGateLSTMCell", "LayerNormLSTMCell", "WeightNormLSTMCell",
    "PhasedLSTMCell", "TimeFreqLSTMCell",
    "CompiledWrapper", "Conv1DLSTMCell", "Conv2DLSTMCell", "Conv3DLSTMCell", "FusedRNNCell", "FusedRNNCellAdaptor",
    "HighwayWrapper", "LayerRNNCell", "LSTMBlockWrapper", "TimeReversedFusedRNN", "best_effort_input_batch_size",
    "transpose_batch_time",
]
