"""Keras 3 twin of TF 1.15 ``tf.contrib.legacy_seq2seq.embedding_attention_seq2seq`` (``convert --target keras3``):
the layer ``rnn_migrate>LegacySeq2Seq``, written with ``keras.ops`` only (TensorFlow, JAX, PyTorch backends).

One layer stands for both Keras 2 models ``rnn-migrate convert`` writes for such a checkpoint
(:class:`modern_rnn.seq2seq.models.LegacyAttentionSeq2SeqModel`: one cell, ``OutputProjectionWrapper``;
:class:`modern_rnn.seq2seq.legacy_models.LegacyStackSeq2SeqModel`: a ``MultiRNNCell`` stack, shared cells,
``output_projection=(w, b)``, ``feed_previous``): a pool of Keras 3 cells (``LSTMCell`` / ``GRUCell(reset_after=
False)`` / ``SimpleRNNCell``, one per TF1 weight set), ``encoder_layers`` / ``decoder_layers`` indexing it layer by
layer, and the scope's weights under their TF1-relative names (``/`` written ``__``):

* encoder: ``rnn/embedding_wrapper/embedding [Vin, E]`` lookup, the stack from zeros; its top outputs are the
  attention states ``H [B, Te, A]``;
* decoder (``embedding_attention_decoder``): ``embedding [Vout, E]`` lookup (step ``t > 0`` with ``feed_previous``:
  ``argmax(prev [@ w + b])`` looked up instead); ``x = [inp, attns] @ attention_decoder/kernel + bias``; the stack
  (its state kept in TF1's flat order, ``c, h`` per LSTM layer); ``output_projection_wrapper`` when TF1 had one;
  per head ``a``: ``softmax(sum(AttnV_a * tanh(H @ AttnW_a + (state @ Attention_a/kernel + bias)), 2)`` weighs
  ``H`` (``AttnW_a``: TF1's ``[1, 1, A, A]`` 1x1 convolution as an ``[A, A]`` matrix); the step's output is
  ``[cell output, attns] @ AttnOutputProjection/kernel + bias``.

``model([encoder_inputs int32 [B, Te], decoder_inputs int32 [B, Td]])`` -> ``[B, Td, O]`` (the TF1 output list
stacked on axis 1; ``project_outputs``: ``@ w + b`` after it). Any lengths: every bucket of a ``model_with_buckets``
graph is this one model. The steps are a Python loop over the static lengths (TF1's static unroll): call it eagerly
or in a function traced on concrete shapes.

This module imports only ``keras`` (the JAX check's child process loads it by its file path); the cells are
deserialized from their configs. Loading: ``import migration.targets.keras3_legacy`` first (safe mode).
"""
from __future__ import annotations

import keras
from keras import ops

PACKAGE = "rnn_migrate"
TOP = "embedding_attention_seq2seq"
DEC = TOP + "/embedding_attention_decoder"
ATT = DEC + "/attention_decoder"


def weight_shapes(state: list[int], enc_top: int, dec_top: int, vin: int, vout: int, emb: int, heads: int,
                  projection: bool) -> dict[str, tuple[int, ...]]:
    """TF1-relative name -> shape of the scope's weights: ``state`` the decoder's TF1 state sizes (the attention
    query), ``enc_top``/``dec_top`` the top cells' units (A is ``enc_top``)."""
    a, query = enc_top, sum(state)
    out = dec_top if projection else vout
    shapes = {f"{TOP}/rnn/embedding_wrapper/embedding": (vin, emb), f"{DEC}/embedding": (vout, emb)}
    for k in range(heads):
        shapes[f"{ATT}/AttnW_{k}"] = (a, a)
        shapes[f"{ATT}/AttnV_{k}"] = (a,)
    shapes.update({f"{ATT}/kernel": (emb + heads * a, emb), f"{ATT}/bias": (emb,)})
    if not projection:
        shapes.update({f"{ATT}/output_projection_wrapper/kernel": (dec_top, vout),
                       f"{ATT}/output_projection_wrapper/bias": (vout,)})
    for k in range(heads):
        shapes.update({f"{ATT}/Attention_{k}/kernel": (query, a), f"{ATT}/Attention_{k}/bias": (a,)})
    shapes.update({f"{ATT}/AttnOutputProjection/kernel": (out + heads * a, out),
                   f"{ATT}/AttnOutputProjection/bias": (out,)})
    return shapes


def _pair(cell) -> bool:
    return isinstance(cell.state_size, (list, tuple)) and len(cell.state_size) == 2


def _linear(args, kernel, bias):
    return ops.matmul(ops.concatenate(list(args), axis=1), kernel) + bias


@keras.saving.register_keras_serializable(package=PACKAGE)
class LegacySeq2Seq(keras.layers.Layer):
    """See the module docstring. ``cells``: serialized Keras 3 cells (the pool); ``projection``: TF1 used
    ``output_projection=(w, b)`` (no ``OutputProjectionWrapper``); ``projection_shape``: ``[units, V]`` when
    ``w``/``b`` are weights of the layer."""

    def __init__(self, cells: list, encoder_layers: list, decoder_layers: list, num_encoder_symbols: int,
                 num_decoder_symbols: int, embedding_size: int, num_heads: int = 1, projection: bool = False,
                 projection_shape=None, project_outputs: bool = False, feed_previous: bool = False,
                 initial_state_attention: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cell_configs = [c if isinstance(c, dict) else keras.layers.serialize(c) for c in cells]
        self.pool = [keras.layers.deserialize(c) for c in self.cell_configs]
        self.encoder_layers, self.decoder_layers = [int(i) for i in encoder_layers], [int(i) for i in decoder_layers]
        self.num_encoder_symbols, self.num_decoder_symbols = int(num_encoder_symbols), int(num_decoder_symbols)
        self.embedding_size, self.num_heads = int(embedding_size), int(num_heads)
        self.projection, self.project_outputs = bool(projection), bool(project_outputs)
        self.projection_shape = [int(s) for s in projection_shape] if projection_shape else None
        self.feed_previous, self.initial_state_attention = bool(feed_previous), bool(initial_state_attention)
        if (self.feed_previous or self.project_outputs) and self.projection and not self.projection_shape:
            raise ValueError("feed_previous/project_outputs with output_projection need the projection's w and b "
                             "(projection_shape)")

    def _input_sizes(self) -> dict[int, int]:
        sizes: dict[int, int] = {}
        for layers in (self.encoder_layers, self.decoder_layers):
            depth = self.embedding_size
            for index in layers:
                if sizes.setdefault(index, depth) != depth:
                    raise ValueError(f"cell {index} is used with inputs of {sizes[index]} and {depth} units")
                depth = int(self.pool[index].units)
        return sizes

    def build(self, *args, **kwargs) -> None:
        for index, depth in sorted(self._input_sizes().items()):
            self.pool[index].build((None, depth))
        state = [int(self.pool[i].units) * (2 if _pair(self.pool[i]) else 1) for i in self.decoder_layers]
        shapes = weight_shapes(state, int(self.pool[self.encoder_layers[-1]].units),
                               int(self.pool[self.decoder_layers[-1]].units), self.num_encoder_symbols,
                               self.num_decoder_symbols, self.embedding_size, self.num_heads, self.projection)
        self.named = {name: self.add_weight(name=name.replace("/", "__"), shape=shape, initializer="zeros")
                      for name, shape in shapes.items()}
        self.proj_kernel = self.proj_bias = None
        if self.projection_shape:
            self.proj_kernel = self.add_weight(name="output_projection_w", shape=tuple(self.projection_shape),
                                               initializer="zeros")
            self.proj_bias = self.add_weight(name="output_projection_b", shape=tuple(self.projection_shape[1:]),
                                             initializer="zeros")
        self.built = True

    # -- pieces ---------------------------------------------------------------------------------------------------

    def _stack(self, layers, x, flat):
        """One step of the stack on the flat TF1-order state: (top output, new flat state)."""
        new, at = [], 0
        for index in layers:
            cell = self.pool[index]
            if _pair(cell):  # TF1 LSTMStateTuple (c, h); Keras [h, c]
                x, (h, c) = cell(x, [flat[at + 1], flat[at]])
                new += [c, h]
                at += 2
            else:
                x, s = cell(x, [flat[at]])
                new.append(s[0] if isinstance(s, (list, tuple)) else s)
                at += 1
        return x, new

    def _zeros(self, layers, batch):
        return [ops.zeros((batch, int(self.pool[i].units))) for i in layers
                for _ in range(2 if _pair(self.pool[i]) else 1)]

    def _attention(self, hidden, features, flat):
        query = ops.concatenate(flat, axis=1)
        out = []
        for k in range(self.num_heads):
            y = _linear([query], self.named[f"{ATT}/Attention_{k}/kernel"], self.named[f"{ATT}/Attention_{k}/bias"])
            scores = ops.sum(self.named[f"{ATT}/AttnV_{k}"] * ops.tanh(features[k] + ops.expand_dims(y, 1)), axis=2)
            weights = ops.softmax(scores, axis=1)
            out.append(ops.sum(ops.expand_dims(weights, 2) * hidden, axis=1))
        return out

    def _feedback(self, prev):
        """TF1's ``_extract_argmax_and_embed``: ``argmax(prev [@ w + b])`` looked up in the decoder table."""
        if self.projection:
            prev = ops.matmul(prev, self.proj_kernel) + self.proj_bias
        return ops.take(self.named[f"{DEC}/embedding"], ops.argmax(prev, axis=1), axis=0)

    def _encode(self, enc):
        table = self.named[f"{TOP}/rnn/embedding_wrapper/embedding"]
        state = self._zeros(self.encoder_layers, ops.shape(enc)[0])
        outputs = []
        for t in range(int(enc.shape[1])):
            out, state = self._stack(self.encoder_layers, ops.take(table, enc[:, t], axis=0), state)
            outputs.append(out)
        return ops.stack(outputs, axis=1), state

    def call(self, inputs):
        enc, dec = ops.cast(inputs[0], "int32"), ops.cast(inputs[1], "int32")
        if enc.shape[1] is None or dec.shape[1] is None:
            raise ValueError("LegacySeq2Seq unrolls over static lengths (as TF1's legacy_seq2seq): call it on arrays "
                             "(or trace it on concrete shapes)")
        hidden, state = self._encode(enc)
        features = [ops.einsum("bta,ac->btc", hidden, self.named[f"{ATT}/AttnW_{k}"]) for k in range(self.num_heads)]
        batch, size = ops.shape(enc)[0], int(hidden.shape[2])
        attns = (self._attention(hidden, features, state) if self.initial_state_attention
                 else [ops.zeros((batch, size))] * self.num_heads)
        outputs, prev = [], None
        for t in range(int(dec.shape[1])):
            if self.feed_previous and prev is not None:
                inp = self._feedback(prev)
            else:
                inp = ops.take(self.named[f"{DEC}/embedding"], dec[:, t], axis=0)
            x = _linear([inp] + attns, self.named[f"{ATT}/kernel"], self.named[f"{ATT}/bias"])
            cell_out, state = self._stack(self.decoder_layers, x, state)
            if not self.projection:
                cell_out = _linear([cell_out], self.named[f"{ATT}/output_projection_wrapper/kernel"],
                                   self.named[f"{ATT}/output_projection_wrapper/bias"])
            attns = self._attention(hidden, features, state)
            prev = _linear([cell_out] + attns, self.named[f"{ATT}/AttnOutputProjection/kernel"],
                           self.named[f"{ATT}/AttnOutputProjection/bias"])
            outputs.append(prev)
        out = ops.stack(outputs, axis=1)
        if self.project_outputs and self.proj_kernel is not None:
            out = ops.einsum("btu,uv->btv", out, self.proj_kernel) + self.proj_bias
        return out

    def output_width(self) -> int:
        if self.project_outputs and self.projection_shape:
            return self.projection_shape[1]
        return int(self.pool[self.decoder_layers[-1]].units) if self.projection else self.num_decoder_symbols

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((inputs[1].shape[0], inputs[1].shape[1], self.output_width()), dtype="float32")

    def get_config(self) -> dict:
        return {**super().get_config(), "cells": self.cell_configs, "encoder_layers": self.encoder_layers,
                "decoder_layers": self.decoder_layers, "num_encoder_symbols": self.num_encoder_symbols,
                "num_decoder_symbols": self.num_decoder_symbols, "embedding_size": self.embedding_size,
                "num_heads": self.num_heads, "projection": self.projection, "projection_shape": self.projection_shape,
                "project_outputs": self.project_outputs, "feed_previous": self.feed_previous,
                "initial_state_attention": self.initial_state_attention}


def legacy_model(layer: LegacySeq2Seq, name: str = "legacy_seq2seq"):
    """The functional Keras 3 model around ``layer``: inputs ``[encoder_inputs, decoder_inputs]`` (int32 ``[B, T]``,
    any lengths)."""
    enc = keras.Input((None,), dtype="int32", name="encoder_inputs")
    dec = keras.Input((None,), dtype="int32", name="decoder_inputs")
    return keras.Model([enc, dec], layer([enc, dec]), name=name)
