"""TF1 ``legacy_seq2seq.embedding_attention_seq2seq`` / ``embedding_rnn_seq2seq`` with any cell stack, as one Keras
model: what ``rnn-migrate convert`` writes for a checkpoint the single-cell
:class:`~modern_rnn.seq2seq.models.LegacyAttentionSeq2SeqModel` does not cover:

* a ``MultiRNNCell`` stack (``multi_rnn_cell/cell_k/<cell>``) of 1-3+ layers, or a bare cell;
* weights shared the way TF1 programs share them: one cell object in every layer (``MultiRNNCell([cell] * n)``:
  only ``cell_0`` in the checkpoint), and the encoder and decoder on one cell object (the
  ``__deepcopy__ = lambda self, _: self`` work-around: the decoder has no cell variables of its own);
* ``output_projection=(w, b)`` (no ``OutputProjectionWrapper``): the model returns what TF1 returned, the decoder
  outputs ``[B, Td, units]`` (attention: the ``AttnOutputProjection`` outputs) before the projection; with the
  projection's ``w``/``b`` given, ``project_outputs=True`` returns the logits ``outputs @ w + b`` and
  ``feed_previous=True`` feeds back ``argmax(outputs @ w + b)`` as TF1's ``_extract_argmax_and_embed``.

``model({"encoder_inputs": ids [B, Te], "decoder_inputs": ids [B, Td]})``: every bucket of a ``model_with_buckets``
graph is this one model called with that bucket's lengths (the buckets share every variable).

The Keras cells live in :attr:`pool` (one per distinct TF1 weight set); ``encoder_layers``/``decoder_layers`` index
the pool layer by layer. The state is kept in TF1's flat order (``c, h`` per LSTM layer), the attention query's order.

Legacy equivalent: :func:`legacy_rnn.seq2seq.legacy_seq2seq.embedding_attention_seq2seq` and
:func:`~legacy_rnn.seq2seq.legacy_seq2seq.embedding_rnn_seq2seq` with a ``MultiRNNCell``.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import tensorflow as tf
import tf_keras as keras

from modern_rnn.seq2seq.legacy_seq2seq import BuildsOnOneStep, Seq2SeqScope, embedding_attention_seq2seq, embedding_rnn_seq2seq


def _pair(cell) -> bool:
    size = cell.state_size
    return isinstance(size, (list, tuple)) and len(size) == 2


class TF1Stack:
    """Keras cells run as TF1's ``MultiRNNCell`` (or one bare cell): the state is the flat TF1-order list."""

    tf1_state_order = True

    def __init__(self, cells: Sequence) -> None:
        self.cells = list(cells)
        last = self.cells[-1]
        self.output_size = int(last.units if hasattr(last, "units") else last.output_size)

    def get_initial_state(self, batch_size, dtype):
        out = []
        for cell in self.cells:
            sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
            out += [tf.zeros([batch_size, int(s)], dtype) for s in sizes]
        return out

    def __call__(self, inputs, state):
        flat, new, x, at = list(state), [], inputs, 0
        for cell in self.cells:
            if _pair(cell):  # TF1 LSTMStateTuple (c, h); Keras [h, c]
                c, h = flat[at], flat[at + 1]
                x, (h2, c2) = cell(x, [h, c])
                new += [c2, h2]
                at += 2
            else:
                x, s = cell(x, [flat[at]])
                new.append(s[0] if isinstance(s, (list, tuple)) else s)
                at += 1
        return x, new


@keras.saving.register_keras_serializable(package="modern_rnn.seq2seq")
class LegacyStackSeq2SeqModel(BuildsOnOneStep, keras.Model):
    """See the module docstring. ``cells``: serialized Keras cells (the pool); ``attention``: False for
    ``embedding_rnn_seq2seq``; ``projection``: True when TF1 used ``output_projection=(w, b)``;
    ``projection_shape``: ``[units, V]`` when ``w``/``b`` are part of the model (else None)."""

    def __init__(self, cells: list, encoder_layers: list, decoder_layers: list, num_encoder_symbols: int,
                 num_decoder_symbols: int, embedding_size: int, num_heads: int = 1, attention: bool = True,
                 projection: bool = False, projection_shape: Optional[list] = None, project_outputs: bool = False,
                 feed_previous: bool = False, initial_state_attention: bool = False, stacked: bool = True,
                 tf1: Optional[dict[str, Any]] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cell_configs = [c if isinstance(c, dict) else keras.layers.serialize(c) for c in cells]
        self.pool = [keras.layers.deserialize(c) for c in self.cell_configs]
        self.encoder_layers, self.decoder_layers = [int(i) for i in encoder_layers], [int(i) for i in decoder_layers]
        self.num_encoder_symbols, self.num_decoder_symbols = int(num_encoder_symbols), int(num_decoder_symbols)
        self.embedding_size, self.num_heads, self.attention = int(embedding_size), int(num_heads), bool(attention)
        self.projection, self.project_outputs = bool(projection), bool(project_outputs)
        self.projection_shape = list(projection_shape) if projection_shape else None
        self.feed_previous, self.initial_state_attention = bool(feed_previous), bool(initial_state_attention)
        self.stacked = bool(stacked)
        if (feed_previous or project_outputs) and self.projection and not self.projection_shape:
            raise ValueError("feed_previous/project_outputs with output_projection need the projection's w and b "
                             "(projection_shape) in the model")
        self.scope = Seq2SeqScope()
        self.proj_kernel = self.proj_bias = None
        if self.projection_shape:
            self.proj_kernel = self.add_weight(name="output_projection_w", shape=self.projection_shape)
            self.proj_bias = self.add_weight(name="output_projection_b", shape=self.projection_shape[1:],
                                             initializer="zeros")
        self.tf1 = dict(tf1 or {})
        # built once: the scope registers each stack object under its TF1 cell scope
        self._stacks = (TF1Stack([self.pool[i] for i in self.encoder_layers]),
                        TF1Stack([self.pool[i] for i in self.decoder_layers]))

    def call(self, inputs):
        enc = tf.convert_to_tensor(inputs["encoder_inputs"], tf.int32)
        dec = tf.convert_to_tensor(inputs["decoder_inputs"], tf.int32)
        enc_list = [enc[:, t] for t in range(int(enc.shape[1]))]
        dec_list = [dec[:, t] for t in range(int(dec.shape[1]))]
        proj = None
        if self.projection:
            proj = (self.proj_kernel, self.proj_bias) if self.proj_kernel is not None else ()
        common = dict(output_projection=proj, feed_previous=self.feed_previous,
                      encoder_cell=self._stacks[0], scope=self.scope)
        cell = self._stacks[1]
        if self.attention:
            outputs, _ = embedding_attention_seq2seq(
                enc_list, dec_list, cell, self.num_encoder_symbols, self.num_decoder_symbols, self.embedding_size,
                self.num_heads, initial_state_attention=self.initial_state_attention, **common)
        else:
            outputs, _ = embedding_rnn_seq2seq(enc_list, dec_list, cell, self.num_encoder_symbols,
                                               self.num_decoder_symbols, self.embedding_size, **common)
        out = tf.stack(outputs, 1)
        if self.project_outputs and self.proj_kernel is not None:
            out = tf.einsum("btu,uv->btv", out, self.proj_kernel) + self.proj_bias
        return out

    def get_config(self) -> dict:
        return {"cells": self.cell_configs, "encoder_layers": self.encoder_layers,
                "decoder_layers": self.decoder_layers, "num_encoder_symbols": self.num_encoder_symbols,
                "num_decoder_symbols": self.num_decoder_symbols, "embedding_size": self.embedding_size,
                "num_heads": self.num_heads, "attention": self.attention, "projection": self.projection,
                "projection_shape": self.projection_shape, "project_outputs": self.project_outputs,
                "feed_previous": self.feed_previous, "initial_state_attention": self.initial_state_attention,
                "stacked": self.stacked, "tf1": self.tf1, "name": self.name}
