"""The Keras 3 block model: ``blocks/<name>.keras3.keras``, built from ``keras`` 3.x standard layers, so it loads
with ``keras.saving.load_model(path, safe_mode=True)`` on any backend (nothing of rnn-migrate needed); a cell no
standard layer computes is a custom cell of :mod:`migration.targets.keras3_cells` in ``keras.layers.RNN`` (loading
then needs ``import migration.targets.keras3_cells`` first).

Same contract as the Keras 2 block model (:mod:`migration.checkpoint.blocks`): inputs ``[x float32 [batch, time,
input_size], sequence_length int32 [batch]]``; outputs ``tf.nest.flatten((outputs, final_state))`` as TF1's
``dynamic_rnn`` / ``bidirectional_dynamic_rnn`` returns them (LSTM states ``c, h``, layer by layer, fw before bw;
outputs past a sequence's length are zero). Cells: ``keras.layers.LSTM`` / ``GRU(reset_after=False)`` (``True`` for cuDNN's GRU) /
``SimpleRNN`` per layer, with the mask of ``sequence_length`` (a masked step keeps the state, as TF1 does); the
backward direction reads the sequence backwards under the same mask, which is TF1's reverse-within-length.
"""
from __future__ import annotations

from typing import Sequence

from migration.targets.weights import CUSTOM, GRU, LSTM, TargetCell

SUFFIX = ".keras3.keras"


def _layer(keras, cell: TargetCell, backwards: bool, name: str):
    if cell.op == CUSTOM:
        from migration.targets import keras3_cells

        step = keras3_cells.make_cell(cell.custom, cell.units, cell.spec.activation, cell.spec.to_dict())
        # zero_output_for_mask: TF1's zeros past a length; without it Keras 3's JAX loop carries the first state as
        # the masked step's output, which breaks a cell whose output is not its first state (the grids, TimeFreq)
        return keras.layers.RNN(step, return_sequences=True, return_state=True, go_backwards=backwards,
                                zero_output_for_mask=True, name=name)
    common = dict(activation=cell.spec.activation, return_sequences=True, return_state=True, go_backwards=backwards,
                  name=name)
    if cell.op == LSTM:
        return keras.layers.LSTM(cell.units, recurrent_activation="sigmoid", **common)
    if cell.op == GRU:
        return keras.layers.GRU(cell.units, recurrent_activation="sigmoid", reset_after=cell.reset_after, **common)
    return keras.layers.SimpleRNN(cell.units, **common)


def step_cell(cell: TargetCell):
    """``cell`` as a Keras 3 cell (the step the block's ``keras.layers.LSTM`` / ``GRU`` / ``SimpleRNN`` /
    ``RNN(custom cell)`` runs): for the loops that call a cell themselves (AttentionCellWrapper, raw_rnn decoders)."""
    import keras

    act = cell.spec.activation
    if cell.op == CUSTOM:
        from migration.targets import keras3_cells

        return keras3_cells.make_cell(cell.custom, cell.units, act, cell.spec.to_dict())
    if cell.op == LSTM:
        return keras.layers.LSTMCell(cell.units, activation=act, recurrent_activation="sigmoid")
    if cell.op == GRU:
        return keras.layers.GRUCell(cell.units, activation=act, recurrent_activation="sigmoid",
                                    reset_after=cell.reset_after)
    return keras.layers.SimpleRNNCell(cell.units, activation=act)


def _direction(keras, x, mask, cells: Sequence[TargetCell], backwards: bool, prefix: str):
    """(outputs [batch, time, units] zero past each length, flat final states in TF1 order) of one stack."""
    from keras import ops

    states: list = []
    out = x
    for k, cell in enumerate(cells):
        layer = _layer(keras, cell, backwards, f"{prefix}layer{k}")
        result = layer(out, mask=mask)
        layer.set_weights(cell.arrays())
        seq, *final = result
        if backwards:  # Keras returns the backward pass in reading order: back to time order
            seq = ops.flip(seq, axis=1)
        out = seq
        states += [final[1], final[0]] if cell.lstm_state else list(final)  # Keras [h, c]; TF1 (c, h)
    out = out * ops.expand_dims(ops.cast(mask, "float32"), -1)
    return out, states


def build_block(directions: dict[str, list[TargetCell]], input_size: int, name: str):
    """The Keras 3 functional model of one block (see the module docstring)."""
    import keras
    from keras import ops

    x = keras.Input((None, input_size), dtype="float32", name="x")
    length = keras.Input((), dtype="int32", name="sequence_length")
    # positions 1..T from x itself (the time axis is dynamic), compared with the lengths: the sequence mask
    position = ops.cumsum(ops.sum(ops.zeros_like(x), axis=-1) + 1.0, axis=1)
    mask = ops.less_equal(position, ops.expand_dims(ops.cast(length, "float32"), 1))
    if set(directions) == {"fw", "bw"}:
        out_fw, st_fw = _direction(keras, x, mask, directions["fw"], False, "fw_")
        out_bw, st_bw = _direction(keras, x, mask, directions["bw"], True, "bw_")
        flat = [out_fw, out_bw] + st_fw + st_bw
    else:
        out, states = _direction(keras, x, mask, directions[""], False, "")
        flat = [out] + states
    return keras.Model([x, length], flat, name=name)


def save_block(model, path: str) -> None:
    model.save(path)


def load_block(path: str):
    """Load a Keras 3 block model in safe mode (no code in the file is run; the custom cells of
    :mod:`migration.targets.keras3_cells` and the layers of :mod:`migration.targets.keras3_layers` registered
    first)."""
    import keras

    from migration.targets import (keras3_cells, keras3_feedback, keras3_layers,  # noqa: F401  (rnn_migrate>...)
                                   keras3_seq2seq, keras3_wrappers)

    return keras.saving.load_model(path, safe_mode=True, compile=False)
