"""Keras 3 twins of the ``tf.contrib.seq2seq`` attention decoders rnn-migrate converts (``convert --target keras3``).

The Keras 2 twins (:mod:`modern_rnn.seq2seq`: ``AttentionWrapper``, ``AttentionStack``, ``TeacherForcedDecoder``,
``AttentionDecoderModel``) are the maths and weight reference; these are written with ``keras.ops`` only (no
TensorFlow, nothing of rnn-migrate), so they run on every Keras 3 backend, and registered as ``rnn_migrate>...`` for
safe-mode loading::

    import migration.targets.keras3_seq2seq  # noqa: F401  (registers rnn_migrate>AttentionDecoderModel, ...)
    model = keras.saving.load_model("out/seq2seq/decoder.keras3.keras", safe_mode=True)

The JAX check's child process loads this module by its file path (:mod:`migration.targets.keras3_child`).

* :class:`BahdanauAttention` (``normalize``), :class:`LuongAttention` (``scale``): ``prepare(memory, lengths)`` ->
  ``(values, keys, mask)`` (memory zeroed past each length, ``keys = memory_layer(values)``); ``alignments(query,
  keys, mask)`` = ``softmax`` of the score, masked steps at ``score_mask_value`` (``-inf`` by default), TF 1.15's
  default ``probability_fn`` (the only one the Keras 2 twin takes).
* :class:`AttentionWrapper`: one cell or a ``MultiRNNCell`` of cells (``cells``, bottom to top; the query is the top
  cell's output) and one mechanism; ``cell_input_fn`` is TF1's default ``concat([inputs, attention])``; the attention
  is ``attention_layer(concat([cell_output, context]))`` or the context; the step output the attention or the cell
  output (``output_attention``). :class:`AttentionStack`: plain cells with the wrapper as layer ``index``.
* The state of a step is one flat list of tensors (each cell's Keras states ``[h, c]`` / ``[h]`` bottom to top, the
  wrapper's attention after its cells); ``initial_state(batch, memory_depth, tf1_state)`` takes a TF1 cell state in
  TF1's order, flattened (``(c, h)`` per LSTM layer, ``h`` otherwise), as ``TeacherForcedDecoder`` does.
* :class:`TeacherForcedDecoder` (a whole model's layer) and :class:`AttentionDecoderModel` (``seq2seq/<name>``):
  see their docstrings. Their loops are Python loops over concrete lengths: they run eagerly on every backend (not
  under ``jax.jit`` / ``tf.function``, where the Keras 2 model has a static unroll).

Weights (:meth:`named_weights`): the Keras 2 twin's names (``memory_layer/kernel``, ``bahdanau_attention/...``,
``attention_layer/kernel``, ``cell/...`` or ``cell/cell_<k>/...``, ``stack/cell_<j>/...``, ``embedding``,
``output_projection/...``), so the converted arrays are assigned by name.
"""
from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

PACKAGE = "rnn_migrate"
register = keras.saving.register_keras_serializable(package=PACKAGE)
CELLS = ("LSTMCell", "GRUCell", "SimpleRNNCell")


def _deserialize(obj):
    return keras.saving.deserialize_keras_object(obj) if isinstance(obj, dict) else obj


def _serialize(obj):
    return keras.saving.serialize_keras_object(obj)


def length_mask(memory, lengths):
    """``[B, S]`` bool: memory step ``s < lengths[b]`` (positions built from the tensor: ``S`` may be dynamic)."""
    position = ops.cumsum(ops.ones_like(memory[:, :, 0]), axis=1)
    return ops.less_equal(position, ops.expand_dims(ops.cast(lengths, memory.dtype), 1))


def state_count(cell) -> int:
    """Keras states of a cell: 2 for an LSTM (``[h, c]``), else 1."""
    return 2 if type(cell).__name__ == "LSTMCell" else 1


class _Mechanism(keras.layers.Layer):
    scope_name = ""

    def __init__(self, units: int, probability_fn: str = "softmax", score_mask_value=None, **kwargs) -> None:
        super().__init__(**kwargs)
        if probability_fn != "softmax":
            raise ValueError(f"Received an invalid value for `probability_fn`: expected 'softmax' (the only one the "
                             f"Keras 2 twin takes), got {probability_fn!r}.")
        self.units, self.probability_fn, self.score_mask_value = int(units), probability_fn, score_mask_value
        self.memory_layer = keras.layers.Dense(self.units, use_bias=False, name="memory_layer")

    def build_for(self, query_depth: int, memory_depth: int) -> None:
        self.memory_layer.build((None, None, memory_depth))
        self.built = True

    def prepare(self, memory, lengths=None):
        """``(values, keys, mask)``: the memory zeroed past each length, its keys, the ``[B, S]`` mask (or None)."""
        mask = None if lengths is None else length_mask(memory, lengths)
        values = memory if mask is None else memory * ops.expand_dims(ops.cast(mask, memory.dtype), -1)
        return values, self.memory_layer(values), mask

    def alignments(self, query, keys, mask):
        score = self.score(query, keys)
        if mask is not None:
            fill = float("-inf") if self.score_mask_value is None else float(self.score_mask_value)
            score = ops.where(mask, score, ops.full_like(score, fill))
        return ops.softmax(score, axis=-1)

    def named_weights(self) -> dict:
        return {"memory_layer/kernel": self.memory_layer.kernel}

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "probability_fn": self.probability_fn,
                "score_mask_value": self.score_mask_value}


@register
class BahdanauAttention(_Mechanism):
    """``score = sum_n v_n tanh(keys + query @ W_q)``; ``normalize``: ``v -> g v / ||v||`` and ``+ b`` in tanh."""

    def __init__(self, units: int, normalize: bool = False, **kwargs) -> None:
        super().__init__(units, **kwargs)
        self.normalize = bool(normalize)
        self.query_layer = keras.layers.Dense(self.units, use_bias=False, name="query_layer")

    def build_for(self, query_depth: int, memory_depth: int) -> None:
        if self.built:  # once: a second call would add the weights again
            return
        self.query_layer.build((None, query_depth))
        self.attention_v = self.add_weight(name="attention_v", shape=(self.units,))
        if self.normalize:
            self.attention_g = self.add_weight(name="attention_g", shape=(),
                                               initializer=keras.initializers.Constant(math.sqrt(1.0 / self.units)))
            self.attention_b = self.add_weight(name="attention_b", shape=(self.units,), initializer="zeros")
        super().build_for(query_depth, memory_depth)

    def score(self, query, keys):
        processed = ops.expand_dims(self.query_layer(query), 1)
        if self.normalize:
            v = self.attention_g * self.attention_v * ops.rsqrt(ops.sum(ops.square(self.attention_v)))
            return ops.sum(v * ops.tanh(keys + processed + self.attention_b), axis=2)
        return ops.sum(self.attention_v * ops.tanh(keys + processed), axis=2)

    def named_weights(self) -> dict:
        out = {**super().named_weights(), "bahdanau_attention/query_layer/kernel": self.query_layer.kernel,
               "bahdanau_attention/attention_v": self.attention_v}
        if self.normalize:
            out.update({"bahdanau_attention/attention_g": self.attention_g,
                        "bahdanau_attention/attention_b": self.attention_b})
        return out

    def get_config(self) -> dict:
        return {**super().get_config(), "normalize": self.normalize}


@register
class LuongAttention(_Mechanism):
    """``score_t = query . keys_t`` (the query has ``units`` features); ``scale``: ``g * score``."""

    def __init__(self, units: int, scale: bool = False, **kwargs) -> None:
        super().__init__(units, **kwargs)
        self.scale = bool(scale)

    def build_for(self, query_depth: int, memory_depth: int) -> None:
        if self.built:
            return
        if query_depth != self.units:
            raise ValueError(f"Received a query of depth {query_depth} for LuongAttention(units={self.units}).")
        if self.scale:
            self.attention_g = self.add_weight(name="attention_g", shape=(), initializer="ones")
        super().build_for(query_depth, memory_depth)

    def score(self, query, keys):
        score = ops.squeeze(ops.matmul(keys, ops.expand_dims(query, -1)), -1)
        return self.attention_g * score if self.scale else score

    def named_weights(self) -> dict:
        out = super().named_weights()
        if self.scale:
            out["luong_attention/attention_g"] = self.attention_g
        return out

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale}


def _cell_step(cell, x, flat: list, k: int):
    """One cell's step on its states ``flat[k:k + n]``: (output, its new states, n)."""
    n = state_count(cell)
    out, new = cell(x, list(flat[k:k + n]))
    return out, list(new) if isinstance(new, (list, tuple)) else [new], n


def _tf1_to_keras(cells, tf1_flat: list) -> list:
    """A TF1 state ``(c, h)`` per LSTM layer (``h`` otherwise), flattened -> the cells' Keras states."""
    out, k = [], 0
    for cell in cells:
        n = state_count(cell)
        part = list(tf1_flat[k:k + n])
        out += [part[1], part[0]] if n == 2 else part
        k += n
    return out


@register
class AttentionWrapper(keras.layers.Layer):
    """One attention step over ``cells`` (one cell, or a ``MultiRNNCell``'s layers bottom to top) and one mechanism
    (see the module docstring)."""

    def __init__(self, cells, attention_mechanism, attention_layer_size=None, output_attention: bool = True,
                 cell_input_fn: str = "concat", **kwargs) -> None:
        super().__init__(**kwargs)
        if cell_input_fn != "concat":
            raise ValueError(f"Received an invalid value for `cell_input_fn`: expected 'concat', got {cell_input_fn!r}.")
        self.cells = [_deserialize(c) for c in cells]
        self.attention_mechanism = _deserialize(attention_mechanism)
        self.attention_layer_size = None if attention_layer_size is None else int(attention_layer_size)
        self.attention_layer = (None if attention_layer_size is None else
                                keras.layers.Dense(self.attention_layer_size, use_bias=False, name="attention_layer"))
        self.output_attention, self.cell_input_fn = bool(output_attention), cell_input_fn
        self.memory_depth = None

    def build_for(self, input_depth: int, memory_depth: int) -> None:
        if self.built:
            return
        self.memory_depth = int(memory_depth)
        depth = input_depth + self.attention_size
        for cell in self.cells:
            if not cell.built:
                cell.build((None, depth))
            depth = cell.units
        self.attention_mechanism.build_for(self.cells[-1].units, memory_depth)
        if self.attention_layer is not None:
            self.attention_layer.build((None, self.cells[-1].units + memory_depth))
        self.built = True

    @property
    def attention_size(self) -> int:
        return self.attention_layer_size or self.memory_depth

    @property
    def output_width(self) -> int:
        return self.attention_size if self.output_attention else self.cells[-1].units

    def zero_state(self, batch, dtype="float32") -> list:
        widths = [c.units for c in self.cells for _ in range(state_count(c))] + [self.attention_size]
        return [ops.zeros((batch, w), dtype=dtype) for w in widths]

    def initial_state(self, batch, tf1_state=None) -> list:
        """The zero state, the cells' part from ``tf1_state`` (TF1 order, flattened) when given."""
        zero = self.zero_state(batch)
        return zero if not tf1_state else _tf1_to_keras(self.cells, tf1_state) + zero[-1:]

    def tf1_state_count(self) -> int:
        return sum(state_count(c) for c in self.cells)

    def step(self, x, flat: list, memory):
        values, keys, mask = memory
        h, new, k = ops.concatenate([x, flat[-1]], axis=-1), [], 0
        for cell in self.cells:
            h, states, n = _cell_step(cell, h, flat, k)
            new += states
            k += n
        alignments = self.attention_mechanism.alignments(h, keys, mask)
        context = ops.squeeze(ops.matmul(ops.expand_dims(alignments, 1), values), 1)
        attention = (self.attention_layer(ops.concatenate([h, context], axis=-1)) if self.attention_layer is not None
                     else context)
        return (attention if self.output_attention else h), new + [attention]

    def prepare(self, memory, lengths=None):
        return self.attention_mechanism.prepare(memory, lengths)

    def named_weights(self) -> dict:
        out = dict(self.attention_mechanism.named_weights())
        if self.attention_layer is not None:
            out["attention_layer/kernel"] = self.attention_layer.kernel
        prefixes = [f"cell/cell_{k}/" for k in range(len(self.cells))] if len(self.cells) > 1 else ["cell/"]
        for prefix, cell in zip(prefixes, self.cells):
            out.update({prefix + n: w for n, w in zip(("kernel", "recurrent_kernel", "bias"), cell.weights)})
        return out

    def get_config(self) -> dict:
        return {**super().get_config(), "cells": [_serialize(c) for c in self.cells],
                "attention_mechanism": _serialize(self.attention_mechanism),
                "attention_layer_size": self.attention_layer_size, "output_attention": self.output_attention,
                "cell_input_fn": self.cell_input_fn}


@register
class AttentionStack(keras.layers.Layer):
    """``MultiRNNCell([cell_0, ..., AttentionWrapper(cell_k), ..., cell_n])``: ``cells`` the plain cells bottom to
    top, ``wrapper`` the attention layer at ``index``; layer ``j`` reads layer ``j - 1``'s output."""

    def __init__(self, cells, wrapper, index: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cells = [_deserialize(c) for c in cells]
        self.wrapper = _deserialize(wrapper)
        self.index = int(index)

    @property
    def layers_in_order(self) -> list:
        return self.cells[:self.index] + [self.wrapper] + self.cells[self.index:]

    def build_for(self, input_depth: int, memory_depth: int) -> None:
        if self.built:
            return
        depth = input_depth
        for layer in self.layers_in_order:
            if layer is self.wrapper:
                layer.build_for(depth, memory_depth)
                depth = layer.output_width
            else:
                if not layer.built:
                    layer.build((None, depth))
                depth = layer.units
        self.built = True

    @property
    def output_width(self) -> int:
        top = self.layers_in_order[-1]
        return top.output_width if top is self.wrapper else top.units

    def _widths(self) -> list[int]:
        return [len(self.wrapper.zero_state(1)) if layer is self.wrapper else state_count(layer)
                for layer in self.layers_in_order]

    def initial_state(self, batch, tf1_state=None) -> list:
        out, k = [], 0
        for layer in self.layers_in_order:
            n = layer.tf1_state_count() if layer is self.wrapper else state_count(layer)
            part = list(tf1_state[k:k + n]) if tf1_state else None
            if layer is self.wrapper:
                out += layer.initial_state(batch, part)
            else:
                out += (_tf1_to_keras([layer], part) if part else
                        [ops.zeros((batch, layer.units)) for _ in range(n)])
            k += n
        return out

    def tf1_state_count(self) -> int:
        return sum(layer.tf1_state_count() if layer is self.wrapper else state_count(layer)
                   for layer in self.layers_in_order)

    def step(self, x, flat: list, memory):
        new, k = [], 0
        for layer, n in zip(self.layers_in_order, self._widths()):
            if layer is self.wrapper:
                x, states = layer.step(x, list(flat[k:k + n]), memory)
            else:
                x, states, _ = _cell_step(layer, x, flat, k)
            new += states
            k += n
        return x, new

    def prepare(self, memory, lengths=None):
        return self.wrapper.prepare(memory, lengths)

    def named_weights(self) -> dict:
        out = dict(self.wrapper.named_weights())
        for j, layer in enumerate(self.layers_in_order):
            if layer is not self.wrapper:
                out.update({f"stack/cell_{j}/{n}": w
                            for n, w in zip(("kernel", "recurrent_kernel", "bias"), layer.weights)})
        return out

    def get_config(self) -> dict:
        return {**super().get_config(), "cells": [_serialize(c) for c in self.cells],
                "wrapper": _serialize(self.wrapper), "index": self.index}


def _concrete(x) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(x))


@register
class TeacherForcedDecoder(keras.layers.Layer):
    """``dynamic_decode(BasicDecoder(core, TrainingHelper(inputs, lengths), initial_state[, output_layer]))``:
    ``[inputs [B, T, D], lengths [B], memory [B, S, M], memory_lengths [B] (unless memory_lengths=False),
    *initial_state (TF1 order, flattened)]`` -> ``[B, max(lengths), O]``; ``impute_finished``: zeros past a row's
    length, its state frozen (TF1's option). The Keras 2 ``modern_rnn.seq2seq.TeacherForcedDecoder``'s twin."""

    def __init__(self, core, output_layer=None, impute_finished: bool = False, memory_lengths: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.core, self.output_layer = _deserialize(core), _deserialize(output_layer)
        self.impute_finished, self.memory_lengths = bool(impute_finished), bool(memory_lengths)

    def build(self, input_shape) -> None:
        self.core.build_for(int(input_shape[0][-1]), int(input_shape[2][-1]))
        if self.output_layer is not None and not self.output_layer.built:
            self.output_layer.build((None, self.core.output_width))
        self.built = True

    def compute_output_spec(self, inputs):
        width = self.output_layer.units if self.output_layer is not None else self.core.output_width
        return keras.KerasTensor((inputs[0].shape[0], None, width), dtype="float32")

    def call(self, inputs):
        x, lengths, memory, *rest = inputs
        memory_lengths, flat = (rest[0], rest[1:]) if self.memory_lengths else (None, rest)
        mem = self.core.prepare(memory, memory_lengths)
        state = self.core.initial_state(ops.shape(x)[0], list(flat))
        lengths = ops.cast(lengths, "int32")
        outs = []
        for t in range(max(int(_concrete(ops.max(lengths))), 0)):
            out, new = self.core.step(x[:, t], state, mem)
            if self.output_layer is not None:
                out = self.output_layer(out)
            if self.impute_finished:
                done = ops.expand_dims(ops.greater_equal(t, lengths), 1)
                out = ops.where(done, ops.zeros_like(out), out)
                new = [ops.where(done, old, s) for s, old in zip(new, state)]
            outs.append(out)
            state = new
        if not outs:
            width = self.compute_output_spec([x]).shape[-1]
            return ops.zeros((ops.shape(x)[0], 0, width))
        return ops.stack(outs, axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "core": _serialize(self.core),
                "output_layer": None if self.output_layer is None else _serialize(self.output_layer),
                "impute_finished": self.impute_finished, "memory_lengths": self.memory_lengths}


@register
class AttentionDecoderModel(keras.Model):
    """``Embedding`` (optional) -> ``core`` (:class:`AttentionWrapper` / :class:`AttentionStack`) -> ``Dense``
    (optional): the Keras 2 ``modern_rnn.seq2seq.models.AttentionDecoderModel``'s twin, the same three decodes:

    * teacher forced: ``model({"decoder_inputs": ids [B, T] (or inputs [B, T, D] without an embedding), "memory":
      [B, S, M], "memory_sequence_length": [B], "initial_state": [TF1 cell state tensors] (optional)})`` (or the
      list ``[decoder_inputs, memory, memory_sequence_length, *initial_state]``) -> logits ``[B, T, V]``;
    * :meth:`greedy` (``GreedyEmbeddingHelper``) -> ``(ids [B, T'], lengths [B])``;
    * :meth:`beam_search` (``BeamSearchDecoder``, ``length_penalty_weight``; no coverage penalty, as the Keras 2 twin)
      -> ``(predicted_ids [B, T', W], lengths [B, W])``.
    """

    def __init__(self, core, vocab_size=None, embedding_dim=None, output_size=None, output_use_bias: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.core = _deserialize(core)
        self.vocab_size, self.embedding_dim = vocab_size, embedding_dim
        self.embedding = (keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
                          if vocab_size is not None else None)
        self.output_size, self.output_use_bias = output_size, bool(output_use_bias)
        self.projection = (keras.layers.Dense(output_size, use_bias=output_use_bias, name="output_projection")
                           if output_size is not None else None)
        self._dims = None

    def build_weights(self, memory_depth: int, input_depth: int) -> None:
        self._dims = {"memory_depth": int(memory_depth), "input_depth": int(input_depth)}
        if self.embedding is not None and not self.embedding.built:
            self.embedding.build((None, None))
        self.core.build_for(int(input_depth), int(memory_depth))
        if self.projection is not None and not self.projection.built:
            self.projection.build((None, self.core.output_width))
        self.built = True

    def get_build_config(self):
        return self._dims

    def build_from_config(self, config: dict) -> None:
        self.build_weights(**config)

    def _embed(self, ids):
        return self.embedding(ids) if self.embedding is not None else ops.cast(ids, "float32")

    def _logits(self, out):
        return self.projection(out) if self.projection is not None else out

    def call(self, inputs):
        if isinstance(inputs, dict):
            ids, memory = inputs["decoder_inputs"], inputs["memory"]
            lengths, state = inputs.get("memory_sequence_length"), list(inputs.get("initial_state") or [])
        else:
            ids, memory, lengths, *state = inputs
        x = self._embed(ids)
        mem = self.core.prepare(ops.cast(memory, "float32"), lengths)
        flat = self.core.initial_state(ops.shape(x)[0], state)
        outs = []
        for t in range(int(x.shape[1])):
            out, flat = self.core.step(x[:, t], flat, mem)
            outs.append(self._logits(out))
        return ops.stack(outs, axis=1)

    def _needs_embedding(self) -> None:
        if self.embedding is None:
            raise ValueError("greedy / beam search decoding feeds back token ids: the model needs its embedding.")

    def greedy(self, memory, memory_sequence_length, start_tokens, end_token: int, maximum_iterations: int,
               initial_state=None):
        """``GreedyEmbeddingHelper`` + ``BasicDecoder`` + ``dynamic_decode`` (stop when every row emitted
        ``end_token`` or after ``maximum_iterations``): ``(ids [B, T'], lengths [B])`` as NumPy arrays."""
        self._needs_embedding()
        start = ops.cast(ops.convert_to_tensor(np.asarray(start_tokens)), "int32")
        batch = int(start.shape[0])
        mem = self.core.prepare(ops.cast(memory, "float32"), memory_sequence_length)
        flat = self.core.initial_state(batch, list(initial_state or []))
        inputs, finished = self._embed(start), np.zeros(batch, bool) | (maximum_iterations <= 0)
        lengths, ids, time = np.zeros(batch, np.int32), [], 0
        while not finished.all():
            out, flat = self.core.step(inputs, flat, mem)
            sample = ops.cast(ops.argmax(self._logits(out), axis=-1), "int32")
            sample_np = _concrete(sample)
            lengths = np.where(~finished, time + 1, lengths).astype(np.int32)
            finished = finished | (sample_np == end_token)
            if time + 1 >= maximum_iterations:
                finished = np.ones_like(finished)
            ids.append(sample_np)
            inputs, time = self._embed(sample), time + 1
        return np.stack(ids, axis=1) if ids else np.zeros((batch, 0), np.int32), lengths

    def beam_search(self, memory, memory_sequence_length, start_tokens, end_token: int, beam_width: int,
                    maximum_iterations: int, length_penalty_weight: float = 0.0, initial_state=None):
        """``BeamSearchDecoder`` on the memory (and initial state) repeated ``beam_width`` times per row, TF 1.15's
        step (finished beams extend only by ``end_token`` at no cost, ``top_k`` over beams x vocabulary, the length
        penalty ``((5 + len) / 6) ** w``) and ``gather_tree``: ``(predicted_ids [B, T', W], lengths [B, W])``."""
        self._needs_embedding()
        start = np.asarray(start_tokens, np.int32)
        batch, width = int(start.shape[0]), int(beam_width)
        tile = lambda t: ops.repeat(t, width, axis=0)  # noqa: E731  (tile_batch: b0, b0, b1, b1)
        lengths_in = None if memory_sequence_length is None else tile(ops.convert_to_tensor(memory_sequence_length))
        mem = self.core.prepare(tile(ops.cast(memory, "float32")), lengths_in)
        flat = self.core.initial_state(batch * width, [tile(s) for s in initial_state] if initial_state else None)
        beams = _Beams(batch, width, int(end_token), float(length_penalty_weight))
        inputs = self._embed(ops.convert_to_tensor(np.repeat(start, width)))
        for time in range(int(maximum_iterations)):
            out, flat = self.core.step(inputs, flat, mem)
            logits = ops.reshape(self._logits(out), (batch, width, -1))
            rows = beams.step(logits)
            flat = [ops.take(s, rows, axis=0) for s in flat]
            inputs = self._embed(ops.convert_to_tensor(beams.word_ids[-1].reshape(-1)))
            if beams.finished.all():
                break
        return beams.final()

    def named_weights(self) -> dict:
        out = dict(self.core.named_weights())
        if self.embedding is not None:
            out["embedding"] = self.embedding.embeddings
        if self.projection is not None:
            out["output_projection/kernel"] = self.projection.kernel
            if self.output_use_bias:
                out["output_projection/bias"] = self.projection.bias
        return out

    def get_config(self) -> dict:
        return {"core": _serialize(self.core), "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim,
                "output_size": self.output_size, "output_use_bias": self.output_use_bias, "name": self.name}


class _Beams:
    """The beam bookkeeping of TF 1.15's ``BeamSearchDecoder`` (NumPy: log probabilities, finished, lengths,
    per-step word and parent ids); the scores come from the backend's ``log_softmax`` and ``top_k``."""

    def __init__(self, batch: int, width: int, end: int, penalty: float) -> None:
        self.batch, self.width, self.end, self.penalty = batch, width, end, penalty
        self.log_probs = np.where(np.arange(width) == 0, 0.0, -np.inf).astype(np.float32)[None].repeat(batch, 0)
        self.finished = np.arange(width)[None].repeat(batch, 0) != 0  # only beam 0 is alive at the start
        self.lengths = np.zeros((batch, width), np.int64)
        self.word_ids, self.parent_ids = [], []

    def step(self, logits) -> np.ndarray:
        """One step on ``logits [B, W, V]``; returns the flat rows ``[B * W]`` the next cell states are taken from."""
        vocab = int(logits.shape[-1])
        step_lp = ops.log_softmax(logits, axis=-1)
        eos_row = np.where(np.arange(vocab) == self.end, 0.0, np.finfo(np.float32).min).astype(np.float32)
        step_lp = ops.where(ops.convert_to_tensor(self.finished[:, :, None]), ops.convert_to_tensor(eos_row), step_lp)
        total = ops.convert_to_tensor(self.log_probs[:, :, None]) + step_lp
        scores = total
        if self.penalty != 0:
            grows = (~self.finished)[:, :, None] & (np.arange(vocab) != self.end)
            new_lengths = (self.lengths[:, :, None] + grows).astype(np.float32)
            scores = total / ops.convert_to_tensor(((5.0 + new_lengths) / 6.0) ** self.penalty)
        _, indices = ops.top_k(ops.reshape(scores, (self.batch, -1)), k=self.width)
        indices = _concrete(indices).astype(np.int64)
        words, parents = indices % vocab, indices // vocab
        self.log_probs = np.take_along_axis(_concrete(ops.reshape(total, (self.batch, -1))), indices, axis=1)
        parent_finished = np.take_along_axis(self.finished, parents, axis=1)
        self.finished = parent_finished | (words == self.end)
        self.lengths = np.take_along_axis(self.lengths, parents, axis=1) + (~parent_finished)
        self.word_ids.append(words.astype(np.int32))
        self.parent_ids.append(parents.astype(np.int32))
        return (parents + np.arange(self.batch)[:, None] * self.width).reshape(-1)

    def final(self):
        """``gather_tree``: back-track from each row's longest beam; past it and after the first end token, the
        end token."""
        step_ids, parent_ids = np.stack(self.word_ids), np.stack(self.parent_ids)  # [T, B, W]
        steps = step_ids.shape[0]
        max_len = self.lengths.max(axis=1)
        out = np.full_like(step_ids, self.end)
        idx = np.tile(np.arange(self.width), (self.batch, 1))
        rows = np.arange(self.batch)[:, None]
        for t in range(steps - 1, -1, -1):
            valid = (t < max_len)[:, None]
            out[t] = np.where(valid, step_ids[t][rows, idx], self.end)
            idx = np.where(valid, parent_ids[t][rows, idx], idx)
        is_end = out == self.end
        out = np.where(np.cumsum(is_end, axis=0) - is_end > 0, self.end, out)
        return np.transpose(out, (1, 0, 2)), self.lengths
