"""A whole attention decoder as one Keras model: what ``rnn-migrate convert`` writes for a ``tf.contrib.seq2seq``
``AttentionWrapper`` found in a TF1 checkpoint (``seq2seq/<name>.keras``, loadable with ``safe_mode=True``).

:class:`AttentionDecoderModel` = optional ``Embedding`` (the decoder's ``embedding_lookup`` table) ->
:class:`~modern_rnn.seq2seq.AttentionWrapper` -> optional ``Dense`` (the ``BasicDecoder``'s ``output_layer``). It
decodes three ways, as the TF1 graphs did:

* teacher forced (``TrainingHelper``): ``model({"decoder_inputs": ids [B, T], "memory": [B, S, M],
  "memory_sequence_length": [B]})`` -> logits ``[B, T, V]`` (the tensor ``sequence_loss`` consumed);
* greedy (``GreedyEmbeddingHelper``): :meth:`AttentionDecoderModel.greedy` -> ids ``[B, T']``, lengths;
* beam search (``BeamSearchDecoder``): :meth:`AttentionDecoderModel.beam_search` -> ids ``[B, T', W]``, lengths.

The teacher-forced call is a ``for`` loop over the static decoder length, so it traces inside ``tf.function`` too.

Legacy equivalent: none as one object; in TF1 this was graph code around :mod:`legacy_rnn.seq2seq` (``TrainingHelper``
/ ``GreedyEmbeddingHelper`` / ``BeamSearchDecoder`` + ``BasicDecoder`` + ``dynamic_decode``).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from modern_rnn.seq2seq.attention_wrapper import AttentionWrapper
from modern_rnn.seq2seq.attention_stack import AttentionStack  # noqa: F401  (registered: a mixed-stack wrapper)
from modern_rnn.seq2seq.decoders import (BasicDecoder, BeamSearchDecoder, GreedyEmbeddingHelper, dynamic_decode,
                                         tile_batch)
from modern_rnn.seq2seq.legacy_seq2seq import BuildsOnOneStep, Seq2SeqScope, embedding_attention_seq2seq
from modern_rnn.seq2seq import legacy_models  # noqa: F401  (registers LegacyStackSeq2SeqModel for safe-mode loading)
from modern_rnn.seq2seq.teacher_forced import TeacherForcedDecoder  # noqa: F401  (registered: whole-model files)


@keras.saving.register_keras_serializable(package="modern_rnn.seq2seq")
class AttentionDecoderModel(keras.Model):
    """``Embedding(vocab_size, embedding_dim)`` (optional) -> ``wrapper`` -> ``Dense(output_size)`` (optional).

    ``tf1`` is free-form JSON metadata (the TF1 names the weights came from), kept in the config so that
    ``rnn-migrate export`` can write them back under the same names.
    """

    def __init__(self, wrapper, vocab_size: Optional[int] = None, embedding_dim: Optional[int] = None,
                 output_size: Optional[int] = None, output_use_bias: bool = True,
                 tf1: Optional[dict[str, Any]] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.wrapper: AttentionWrapper = (keras.layers.deserialize(wrapper) if isinstance(wrapper, dict) else wrapper)
        self.vocab_size, self.embedding_dim = vocab_size, embedding_dim
        self.embedding = (keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
                          if vocab_size is not None else None)
        self.output_size, self.output_use_bias = output_size, bool(output_use_bias)
        self.projection = (keras.layers.Dense(output_size, use_bias=output_use_bias, name="output_projection")
                           if output_size is not None else None)
        self.tf1 = dict(tf1 or {})

    # -- pieces ---------------------------------------------------------------------------------------------------

    def _embed(self, ids):
        if self.embedding is None:
            return tf.convert_to_tensor(ids, tf.float32)
        return self.embedding(ids)

    def _setup(self, memory, memory_sequence_length) -> None:
        memory = tf.convert_to_tensor(memory, tf.float32)
        lengths = None if memory_sequence_length is None else tf.convert_to_tensor(memory_sequence_length, tf.int32)
        self.wrapper.setup_memory(memory, lengths)

    def _embedding_fn(self):
        if self.embedding is None:
            raise ValueError("greedy / beam search decoding feeds back token ids: the model needs its embedding.")
        return self.embedding

    def build_weights(self, memory_depth: int, input_depth: int) -> None:
        """Create every weight by one teacher-forced step on zeros (memory of 2 steps)."""
        self._build_dims = {"memory_depth": int(memory_depth), "input_depth": int(input_depth)}
        memory = tf.zeros([1, 2, memory_depth])
        inputs = tf.zeros([1, 1], tf.int32) if self.embedding is not None else tf.zeros([1, 1, input_depth])
        self({"decoder_inputs": inputs, "memory": memory, "memory_sequence_length": tf.constant([2])})

    def get_build_config(self) -> Optional[dict]:
        return getattr(self, "_build_dims", None)

    def build_from_config(self, config: dict) -> None:
        """Loading a ``.keras`` file: create the weights the same way before they are read."""
        self.build_weights(**config)

    # -- decoding -------------------------------------------------------------------------------------------------

    def call(self, inputs, initial_cell_state=None):
        """Teacher forcing: ``inputs`` = ``{"decoder_inputs", "memory", "memory_sequence_length"}`` (and optionally
        ``"initial_cell_state"``: the wrapped Keras cell's state list, e.g. an encoder's final ``[h, c]``); -> logits."""
        self._setup(inputs["memory"], inputs.get("memory_sequence_length"))
        x = self._embed(inputs["decoder_inputs"])
        batch = tf.shape(x)[0]
        if initial_cell_state is None and "initial_cell_state" in inputs:
            initial_cell_state = list(inputs["initial_cell_state"])
        state = self.wrapper.get_initial_state(batch, cell_state=initial_cell_state)
        outs = []
        for t in range(int(x.shape[1])):
            out, state = self.wrapper(x[:, t], state)
            outs.append(self.projection(out) if self.projection is not None else out)
        return tf.stack(outs, 1)

    def greedy(self, memory, memory_sequence_length, start_tokens, end_token: int, maximum_iterations: int,
               initial_cell_state=None):
        """``GreedyEmbeddingHelper`` + ``BasicDecoder`` + ``dynamic_decode``: ``(ids [B, T], lengths [B])``."""
        self._setup(memory, memory_sequence_length)
        start = tf.convert_to_tensor(start_tokens, tf.int32)
        helper = GreedyEmbeddingHelper(self._embedding_fn(), start, end_token)
        initial = self.wrapper.get_initial_state(int(start.shape[0]), cell_state=initial_cell_state)
        decoder = BasicDecoder(self.wrapper, helper, initial, self.projection)
        if not tf.executing_eagerly():  # inside tf.function: a static unroll (dynamic_decode is an eager loop)
            outputs, _, lengths, steps = _static_decode(decoder, maximum_iterations)
            return tf.transpose(outputs.sample_id[:steps], [1, 0]), lengths
        out, _, lengths = dynamic_decode(decoder, maximum_iterations=maximum_iterations)
        return out.sample_id, lengths

    def beam_search(self, memory, memory_sequence_length, start_tokens, end_token: int, beam_width: int,
                    maximum_iterations: int, length_penalty_weight: float = 0.0, initial_cell_state=None):
        """``BeamSearchDecoder`` on ``tile_batch``-ed memory (and initial cell state):
        ``(predicted_ids [B, T, W], lengths [B, W])``."""
        memory = tile_batch(tf.convert_to_tensor(memory, tf.float32), beam_width)
        lengths = (None if memory_sequence_length is None
                   else tile_batch(tf.convert_to_tensor(memory_sequence_length, tf.int32), beam_width))
        self._setup(memory, lengths)
        start = tf.convert_to_tensor(start_tokens, tf.int32)
        decoder = BeamSearchDecoder(self.wrapper, self._embedding_fn(), start, end_token,
                                    self.wrapper.get_initial_state(
                                        int(start.shape[0]) * beam_width,
                                        cell_state=None if initial_cell_state is None
                                        else tile_batch(tf.nest.map_structure(tf.convert_to_tensor,
                                                                              initial_cell_state), beam_width)),
                                    beam_width,
                                    output_layer=self.projection, length_penalty_weight=length_penalty_weight)
        if not tf.executing_eagerly():
            outputs, state, _, steps = _static_decode(decoder, maximum_iterations)
            max_len = tf.reduce_max(state.lengths, axis=1)
            ids = gather_tree_tf(outputs.predicted_ids, outputs.parent_ids, max_len, end_token)[:steps]
            return tf.transpose(ids, [1, 0, 2]), state.lengths
        out, state, _ = dynamic_decode(decoder, maximum_iterations=maximum_iterations)
        return out.predicted_ids, state.lengths

    # -- weights by TF1-relative name -----------------------------------------------------------------------------

    def named_weights(self) -> dict[str, tf.Variable]:
        """The wrapper's :meth:`AttentionWrapper.named_weights` plus ``embedding`` and ``output_projection/{kernel,
        bias}`` (when present)."""
        out = dict(self.wrapper.named_weights())
        if self.embedding is not None:
            out["embedding"] = self.embedding.embeddings
        if self.projection is not None:
            out["output_projection/kernel"] = self.projection.kernel
            if self.output_use_bias:
                out["output_projection/bias"] = self.projection.bias
        return out

    def get_config(self) -> dict:
        return {"wrapper": keras.layers.serialize(self.wrapper), "vocab_size": self.vocab_size,
                "embedding_dim": self.embedding_dim, "output_size": self.output_size,
                "output_use_bias": self.output_use_bias, "tf1": self.tf1, "name": self.name}


def _static_decode(decoder, maximum_iterations: int):
    """:func:`~modern_rnn.seq2seq.dynamic_decode` for graph mode: ``maximum_iterations`` steps unrolled, then cut
    where the eager loop stops (the first step after which every row is finished). Steps past that point do not
    change the earlier ones. Returns time-major ``(outputs [max_iter, ...], final state at the stop, lengths,
    steps)``."""
    finished, inputs, state = decoder.initialize()
    lengths = tf.zeros_like(finished, dtype=tf.int32)
    emitted, states, all_done, lengths_at = [], [], [], []
    for time in range(int(maximum_iterations)):
        outputs, state, inputs, decoder_finished = decoder.step(time, inputs, state)
        next_finished = decoder_finished if decoder.tracks_own_finished else tf.logical_or(decoder_finished, finished)
        lengths = tf.where(tf.logical_not(finished), time + 1, lengths)
        if decoder.tracks_own_finished and getattr(state, "lengths", None) is not None:
            lengths = tf.cast(state.lengths, tf.int32)
        finished = next_finished
        emitted.append(outputs)
        states.append(state)
        lengths_at.append(lengths)
        all_done.append(tf.reduce_all(finished))
    done = tf.stack(all_done)
    steps = tf.where(tf.reduce_any(done), tf.cast(tf.argmax(tf.cast(done, tf.int32)), tf.int32) + 1,
                     int(maximum_iterations))
    stacked = tf.nest.map_structure(lambda *xs: tf.stack(xs), *emitted)
    final = tf.nest.map_structure(lambda *xs: tf.gather(tf.stack(xs), steps - 1),
                                  *[tf.nest.map_structure(lambda x: x, s) for s in states])
    return stacked, final, tf.gather(tf.stack(lengths_at), steps - 1), steps


def gather_tree_tf(step_ids, parent_ids, max_sequence_lengths, end_token: int) -> tf.Tensor:
    """:func:`modern_rnn.seq2seq.gather_tree` in TensorFlow ops (for graph mode): back-track ``[T, B, W]`` beam ids
    over a static ``T``; positions past ``max_len`` and after the first ``end_token`` become ``end_token``."""
    steps, beams = int(step_ids.shape[0]), int(step_ids.shape[2])
    batch = tf.shape(step_ids)[1]
    end = tf.cast(end_token, step_ids.dtype)
    idx = tf.tile(tf.range(beams, dtype=parent_ids.dtype)[None, :], [batch, 1])
    out = [None] * steps
    for t in range(steps - 1, -1, -1):
        valid = (t < tf.cast(max_sequence_lengths, tf.int32))[:, None]
        out[t] = tf.where(valid, tf.gather(step_ids[t], idx, batch_dims=1), end)
        idx = tf.where(valid, tf.gather(parent_ids[t], idx, batch_dims=1), idx)
    ids = tf.stack(out)
    is_end = tf.cast(tf.equal(ids, end), tf.int32)
    seen = (tf.cumsum(is_end, axis=0) - is_end) > 0
    return tf.where(seen, end, ids)


@keras.saving.register_keras_serializable(package="modern_rnn.seq2seq")
class LegacyAttentionSeq2SeqModel(BuildsOnOneStep, keras.Model):
    """TF1 ``legacy_seq2seq.embedding_attention_seq2seq`` (``output_projection=None``) as one Keras model: what
    ``rnn-migrate convert`` writes for such a checkpoint.

    ``model({"encoder_inputs": ids [B, Te], "decoder_inputs": ids [B, Td]})`` -> logits ``[B, Td, V_out]`` (the list
    TF1 returned, stacked on axis 1); ``feed_previous=True`` at construction decodes greedily (argmax fed back from
    the second step on, as TF1's ``feed_previous``). The weights live in a
    :class:`~modern_rnn.seq2seq.legacy_seq2seq.Seq2SeqScope` under their TF1-relative names, the cells under their
    TF1 cell scopes (``.scope.cells``).

    Legacy equivalent: :func:`legacy_rnn.seq2seq.legacy_seq2seq.embedding_attention_seq2seq`.
    """

    def __init__(self, cell: dict, num_encoder_symbols: int, num_decoder_symbols: int, embedding_size: int,
                 num_heads: int = 1, feed_previous: bool = False, initial_state_attention: bool = False,
                 tf1: Optional[dict[str, Any]] = None, **kwargs) -> None:
        super().__init__(**kwargs)

        self.cell_config = cell if isinstance(cell, dict) else keras.layers.serialize(cell)
        self.cell = keras.layers.deserialize(self.cell_config)
        self.encoder_cell = keras.layers.deserialize(self.cell_config)
        self.num_encoder_symbols, self.num_decoder_symbols = int(num_encoder_symbols), int(num_decoder_symbols)
        self.embedding_size, self.num_heads = int(embedding_size), int(num_heads)
        self.feed_previous, self.initial_state_attention = bool(feed_previous), bool(initial_state_attention)
        self.scope = Seq2SeqScope()
        self.tf1 = dict(tf1 or {})

    def call(self, inputs):
        enc = tf.convert_to_tensor(inputs["encoder_inputs"], tf.int32)
        dec = tf.convert_to_tensor(inputs["decoder_inputs"], tf.int32)
        outputs, _ = embedding_attention_seq2seq(
            [enc[:, t] for t in range(int(enc.shape[1]))], [dec[:, t] for t in range(int(dec.shape[1]))], self.cell,
            self.num_encoder_symbols, self.num_decoder_symbols, self.embedding_size, self.num_heads,
            feed_previous=self.feed_previous, initial_state_attention=self.initial_state_attention,
            encoder_cell=self.encoder_cell, scope=self.scope)
        return tf.stack(outputs, 1)

    def get_config(self) -> dict:
        return {"cell": self.cell_config, "num_encoder_symbols": self.num_encoder_symbols,
                "num_decoder_symbols": self.num_decoder_symbols, "embedding_size": self.embedding_size,
                "num_heads": self.num_heads, "feed_previous": self.feed_previous,
                "initial_state_attention": self.initial_state_attention, "tf1": self.tf1, "name": self.name}
