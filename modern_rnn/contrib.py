"""Keras 2 (tf_keras) twins of the ``tf.contrib.rnn`` block and fused cells.

Read beside :mod:`legacy_rnn.contrib`: the same names, in the same order. The block cells compute exactly the
``tf.nn.rnn_cell`` maths in one kernel, so their twins are the core twins (:mod:`modern_rnn.cells`) with weights
from :mod:`migration.contrib_converters`: the block kernel's gate order ``i, c, f, o`` is TF1's ``i, j, f, o``
(reordered to Keras ``i, f, c, o``, ``forget_bias`` folded into ``b_f``); GRU blocks ``[r | u]`` + candidate become
Keras ``[z | r | h]`` with ``reset_after=False``.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int
from modern_rnn.cells import gru_cell, lstm_cell
from modern_rnn.layer_norm_lstm import LayerNormLSTMCell
from modern_rnn.rnn import dynamic_rnn


def _block_clip(cell_clip: Optional[float]) -> Optional[float]:
    """The block kernels clip only when ``cell_clip > 0``: 0 or a negative value means no clipping (TF 1.15), which
    the Keras cells spell ``None``."""
    return None if cell_clip is None or float(cell_clip) <= 0 else float(cell_clip)


class LSTMBlockFusedCell:
    """A Keras LSTM cell run over time-major sequences; see :func:`lstm_block_fused_cell`."""

    def __init__(self, units: int, forget_bias: float = 1.0, cell_clip: Optional[float] = None,
                 use_peephole: bool = False, name: Optional[str] = None) -> None:
        self.num_units = check_positive_int("units", units)
        self.cell = lstm_cell(units, use_peepholes=use_peephole, cell_clip=_block_clip(cell_clip),
                              forget_bias=forget_bias, name=name)

    def __call__(self, inputs, initial_state=None, dtype=None, sequence_length=None, training=None):
        """Time-major ``inputs [T, B, D]`` -> ``(outputs [T, B, U], [h, c])`` (Keras state order; TF1 gives (c, h))."""
        return dynamic_rnn(self.cell, inputs, sequence_length=sequence_length, initial_state=initial_state,
                           time_major=True, training=training)


@keras.saving.register_keras_serializable(package="modern_rnn")
class ZeroMaskedConvLSTM(keras.layers.Layer):
    """A ``ConvLSTM*D(return_sequences=True, return_state=True)`` whose outputs past each length are zero (TF1's
    ``dynamic_rnn``); ``ConvRNN`` does not honour ``zero_output_for_mask``. Weights are the wrapped layer's."""

    def __init__(self, layer, **kwargs) -> None:
        super().__init__(**kwargs)
        self.layer = layer

    def call(self, inputs, mask=None, training=None, initial_state=None):
        out, h, c = self.layer(inputs, mask=mask, training=training, initial_state=initial_state)
        if mask is not None:
            keep = tf.cast(tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([out.shape.rank - 2], tf.int32)], 0)),
                           out.dtype)
            out = out * keep
        return [out, h, c]

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": keras.layers.serialize(self.layer)}

    @classmethod
    def from_config(cls, config):
        return cls(keras.layers.deserialize(config.pop("layer")), **config)


def lstm_block_cell(units: int, forget_bias: float = 1.0, cell_clip: Optional[float] = None,
                    use_peephole: bool = False, name: Optional[str] = None):
    """``LSTMCell`` (or ``ProjectionLSTMCell`` with peepholes or clipping): weights from
    ``migration.converters.cell_to_keras(CellSpec('lstm_block', ...))``.

    Legacy equivalent: :func:`legacy_rnn.contrib.lstm_block_cell` (``tf.raw_ops.LSTMBlockCell``).
    """
    return lstm_cell(units, use_peepholes=use_peephole, cell_clip=_block_clip(cell_clip), forget_bias=forget_bias,
                     name=name)


def lstm_block_fused_cell(units: int, forget_bias: float = 1.0, cell_clip: Optional[float] = None,
                          use_peephole: bool = False, name: Optional[str] = None) -> LSTMBlockFusedCell:
    """:class:`LSTMBlockFusedCell`: ``keras.layers.RNN(cell, time_major=True, zero_output_for_mask=True)`` with the
    mask from ``sequence_length``; ``.cell`` takes the converted weights (the ``lstm_block_cell`` ones).

    Legacy equivalent: :func:`legacy_rnn.contrib.lstm_block_fused_cell` (``tf.raw_ops.BlockLSTM``).
    """
    return LSTMBlockFusedCell(units, forget_bias, cell_clip, use_peephole, name)


def gru_block_cell(units: int, name: Optional[str] = None) -> keras.layers.GRUCell:
    """``GRUCell(reset_after=False)``; the v1 names ``w_ru, b_ru, w_c, b_c`` convert like ``gates/*, candidate/*``.

    Legacy equivalent: :func:`legacy_rnn.contrib.gru_block_cell` (``tf.raw_ops.GRUBlockCell``).
    """
    return gru_cell(units, name=name)


def gru_block_cell_v2(units: int, name: Optional[str] = None) -> keras.layers.GRUCell:
    """``GRUCell(reset_after=False)``, converted exactly like a ``GRUCell`` checkpoint.

    Legacy equivalent: :func:`legacy_rnn.contrib.gru_block_cell_v2`.
    """
    return gru_cell(units, name=name)


def layer_norm_basic_lstm_cell(units: int, forget_bias: float = 1.0, layer_norm: bool = True, norm_gain: float = 1.0,
                               norm_shift: float = 0.0, dropout_keep_prob: float = 1.0, dropout_prob_seed=None,
                               name: Optional[str] = None):
    """:class:`modern_rnn.layer_norm_lstm.LayerNormLSTMCell` (``layer_norm=True``) or ``LSTMCell`` (``False``).

    ``norm_gain``/``norm_shift`` are initial values only (a fresh cell starts at gamma 1, beta 0, forget_bias 1.0
    folded into ``beta_f``); converted weights carry the real values, ``beta_f`` holding ``beta_f + forget_bias``. The candidate dropout of ``dropout_keep_prob < 1`` is not ported: it
    is refused rather than silently dropped.

    Legacy equivalent: :func:`legacy_rnn.contrib.layer_norm_basic_lstm_cell`.
    """
    if dropout_keep_prob != 1.0:
        raise ValueError(f"Received dropout_keep_prob={dropout_keep_prob!r}: the candidate dropout of "
                         "LayerNormBasicLSTMCell has no Keras twin here; convert with 1.0 (inference) instead.")
    if not layer_norm:
        return lstm_cell(units, forget_bias=forget_bias, name=name)
    return LayerNormLSTMCell(check_positive_int("units", units), name=name)


def conv_lstm_cell(conv_ndims: int, input_shape, output_channels: int, kernel_shape, use_bias: bool = True,
                   forget_bias: float = 1.0, name: Optional[str] = None):
    """``keras.layers.ConvLSTM{1,2,3}D(output_channels, kernel_shape, padding='same', recurrent_activation='sigmoid',
    return_sequences=True, return_state=True)``: the settings that make it equal TF1's cell. The tf_keras defaults
    (``padding='valid'``, ``recurrent_activation='hard_sigmoid'``) compute something else. Call it with
    ``mask=tf.sequence_mask(lengths, T)`` for ragged batches; it returns ``[outputs, h, c]``.

    Weights: ``kernel [*k, C_in, 4C]`` = TF1 ``kernel[..., :C_in, :]``, ``recurrent_kernel [*k, C, 4C]`` =
    ``kernel[..., C_in:, :]``, gate blocks reordered i, j, f, o -> i, f, c, o; ``bias = biases`` reordered with
    ``+ forget_bias`` on f (:func:`migration.contrib_converters.conv_lstm_to_keras`).

    Legacy equivalent: :func:`legacy_rnn.contrib.conv_lstm_cell` (``input_shape`` is only checked here).
    """
    if conv_ndims not in (1, 2, 3) or len(input_shape) != conv_ndims + 1 or len(kernel_shape) != conv_ndims:
        raise ValueError(f"Received conv_ndims={conv_ndims!r}, input_shape={input_shape!r}, kernel_shape="
                         f"{kernel_shape!r}: expected conv_ndims in 1..3 and matching shapes.")
    layer = {1: keras.layers.ConvLSTM1D, 2: keras.layers.ConvLSTM2D, 3: keras.layers.ConvLSTM3D}[conv_ndims]
    return ZeroMaskedConvLSTM(layer(check_positive_int("output_channels", output_channels), tuple(kernel_shape),
                                    padding="same", recurrent_activation="sigmoid", use_bias=use_bias,
                                    unit_forget_bias=forget_bias == 1.0, return_sequences=True, return_state=True),
                              name=name)


__all__ = ["ZeroMaskedConvLSTM", "conv_lstm_cell", "layer_norm_basic_lstm_cell", "LSTMBlockFusedCell", "lstm_block_cell", "lstm_block_fused_cell", "gru_block_cell", "gru_block_cell_v2",
           "tf"]
