"""Keras 2 twins of TF 1.15 ``tf.contrib.legacy_seq2seq``, function for function, run eagerly on Keras cells.

TF1 put every weight these functions create into the caller's variable scope. Keras has no variable scopes, so the
twins take ``scope``: a :class:`Seq2SeqScope` layer that owns those weights under **the same relative names**
(``embedding_attention_decoder/attention_decoder/AttnV_0`` ...) and the Keras cells under their TF1 cell scopes
(:attr:`Seq2SeqScope.cells`). The only layout changes are the cells' (:mod:`migration.converters`) and
``AttnW_k``: a ``[1, 1, A, A]`` 1x1 convolution in TF1, an ``[A, A]`` matrix here.
``feed_previous`` must be a Python bool; ``encoder_cell`` is the Keras stand-in for TF1's ``copy.deepcopy(cell)``
(a fresh cell of the same config by default).

Legacy equivalent: :mod:`legacy_rnn.seq2seq.legacy_seq2seq`.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import tensorflow as tf
import tf_keras as keras


class BuildsOnOneStep:
    """For a legacy-seq2seq Keras model called on ``{"encoder_inputs", "decoder_inputs"}``: its weights are created by
    one call on a single step, also when a saved file is loaded (``build_from_config``)."""

    def build_weights(self) -> None:
        """Create every weight by one call on a single step."""
        self({"encoder_inputs": tf.zeros([1, 1], tf.int32), "decoder_inputs": tf.zeros([1, 1], tf.int32)})

    def get_build_config(self) -> dict:
        return {"built": True}

    def build_from_config(self, config: dict) -> None:
        self.build_weights()


nest = tf.nest


@keras.saving.register_keras_serializable(package="modern_rnn.seq2seq")
class Seq2SeqScope(keras.layers.Layer):
    """Owns weights by TF1-relative name (created on first use, like ``get_variable``) and the cells by scope."""

    def __init__(self, name: str = "seq2seq_scope", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.variables_by_name: dict[str, tf.Variable] = {}
        self.cells: dict[str, keras.layers.Layer] = {}
        self._prefix: list[str] = []

    def get_variable(self, name: str, shape, initializer="glorot_uniform") -> tf.Variable:
        full = "/".join(self._prefix + [name])
        if full not in self.variables_by_name:
            self.variables_by_name[full] = self.add_weight(name=full.replace("/", "__"), shape=list(shape),
                                                           initializer=initializer)
        variable = self.variables_by_name[full]
        if tuple(variable.shape) != tuple(shape):
            raise ValueError(f"Variable {full} has shape {tuple(variable.shape)}, requested {tuple(shape)}.")
        return variable

    def cell(self, rel_scope: str, cell) -> "keras.layers.Layer":
        """Register ``cell`` under ``<current prefix>/<rel_scope>`` (its TF1 cell scope) and return it."""
        full = "/".join(self._prefix + [rel_scope])
        registered = self.cells.setdefault(full, cell)
        if registered is not cell:
            raise ValueError(f"Scope {full} already holds another cell.")
        return cell

    def enter(self, name: str) -> "_Enter":
        return _Enter(self, name)

    def named_weights(self) -> dict[str, tf.Variable]:
        return dict(self.variables_by_name)


class _Enter:
    def __init__(self, scope: Seq2SeqScope, name: str) -> None:
        self.scope, self.name = scope, name

    def __enter__(self) -> Seq2SeqScope:
        self.scope._prefix.append(self.name)
        return self.scope

    def __exit__(self, *exc) -> None:
        self.scope._prefix.pop()


def _cell_scope(cell) -> str:
    """The TF1 scope of the twin of a Keras cell: LSTMCell -> basic_lstm_cell, GRUCell -> gru_cell, ..."""
    return {"LSTMCell": "basic_lstm_cell", "GRUCell": "gru_cell", "SimpleRNNCell": "basic_rnn_cell"}.get(
        type(cell).__name__, type(cell).__name__.lower())


def _state_list(state):
    return state if isinstance(state, (list, tuple)) else [state]


def _run_cell(scope: Seq2SeqScope, cell, inputs, state):
    scope.cell(_cell_scope(cell), cell)
    return cell(inputs, _state_list(state))


def _linear(scope: Seq2SeqScope, args, output_size: int):
    args = list(args) if isinstance(args, (list, tuple)) else [args]
    total = sum(int(a.shape[1]) for a in args)
    kernel = scope.get_variable("kernel", [total, output_size])
    bias = scope.get_variable("bias", [output_size], initializer="zeros")
    return tf.concat(args, 1) @ kernel + bias


def _clone(cell):
    return type(cell).from_config(cell.get_config())


def rnn_decoder(decoder_inputs: Sequence, initial_state, cell, loop_function: Optional[Callable] = None,
                scope: Optional[Seq2SeqScope] = None):
    """Run the Keras ``cell`` over ``decoder_inputs``; ``loop_function(prev, i)`` feeds outputs back.

    Legacy equivalent: :func:`legacy_rnn.seq2seq.legacy_seq2seq.rnn_decoder`.
    """
    scope = scope or Seq2SeqScope()
    with scope.enter("rnn_decoder"):
        state, outputs, prev = initial_state, [], None
        for inp in decoder_inputs:
            if loop_function is not None and prev is not None:
                inp = loop_function(prev, len(outputs))
            output, state = _run_cell(scope, cell, inp, state)
            outputs.append(output)
            prev = output
    return outputs, state


def _encode(scope: Seq2SeqScope, cell, inputs, embed: Optional[tf.Variable] = None):
    batch = int(inputs[0].shape[0])
    state = cell.get_initial_state(batch_size=batch, dtype=tf.float32)
    outputs = []
    for x in inputs:
        if embed is not None:
            x = tf.nn.embedding_lookup(embed, tf.reshape(x, [-1]))
        out, state = _run_cell(scope, cell, x, state)
        outputs.append(out)
    return outputs, state


def basic_rnn_seq2seq(encoder_inputs, decoder_inputs, cell, encoder_cell=None, scope: Optional[Seq2SeqScope] = None):
    """Encoder (``encoder_cell``, TF1's deep copy) then :func:`rnn_decoder` from its final state.

    Legacy equivalent: :func:`legacy_rnn.seq2seq.legacy_seq2seq.basic_rnn_seq2seq`.
    """
    scope = scope or Seq2SeqScope()
    with scope.enter("basic_rnn_seq2seq"):
        with scope.enter("rnn"):
            _, state = _encode(scope, encoder_cell or _clone(cell), encoder_inputs)
        return rnn_decoder(decoder_inputs, state, cell, scope=scope)


def tied_rnn_seq2seq(encoder_inputs, decoder_inputs, cell, loop_function=None, scope: Optional[Seq2SeqScope] = None):
    """Encoder and decoder share ``cell`` (one weight set).

    Legacy equivalent: :func:`legacy_rnn.seq2seq.legacy_seq2seq.tied_rnn_seq2seq`.
    """
    scope = scope or Seq2SeqScope()
    with scope.enter("combined_tied_rnn_seq2seq"), scope.enter("tied_rnn_seq2seq"):
        _, state = _encode(scope, cell, encoder_inputs)
        outputs, prev = [], None
        for inp in decoder_inputs:
            if loop_function is not None and prev is not None:
                inp = loop_function(prev, len(outputs))
            prev, state = _run_cell(scope, cell, inp, state)
            outputs.append(prev)
    return outputs, state


def _argmax_and_embed(embedding, output_projection=None) -> Callable:
    def loop_function(prev, _):
        if output_projection is not None:
            prev = prev @ output_projection[0] + output_projection[1]
        return tf.nn.embedding_lookup(embedding, tf.argmax(prev, 1))
    return loop_function


class _Projected:
    """Keras stand-in for TF1 ``OutputProjectionWrapper``: its kernel/bias live in the scope."""

    def __init__(self, scope: Seq2SeqScope, cell, output_size: int) -> None:
        self.scope, self.cell, self.output_size = scope, cell, output_size

    def get_initial_state(self, batch_size, dtype):
        return self.cell.get_initial_state(batch_size=batch_size, dtype=dtype)

    def __call__(self, inputs, state):
        with self.scope.enter("output_projection_wrapper"):
            out, state = _run_cell(self.scope, self.cell, inputs, state)
            return _linear(self.scope, out, self.output_size), state


def _run_any(scope, cell, inputs, state):
    return cell(inputs, state) if isinstance(cell, _Projected) else _run_cell(scope, cell, inputs, state)


def embedding_rnn_decoder(decoder_inputs, initial_state, cell, num_symbols: int, embedding_size: int,
                          output_projection=None, feed_previous: bool = False,
                          scope: Optional[Seq2SeqScope] = None):
    """ids -> ``embedding [V, E]`` -> decoder loop (``feed_previous``: argmax fed back).

    Legacy equivalent: :func:`legacy_rnn.seq2seq.legacy_seq2seq.embedding_rnn_decoder`.
    """
    scope = scope or Seq2SeqScope()
    with scope.enter("embedding_rnn_decoder"):
        embedding = scope.get_variable("embedding", [num_symbols, embedding_size])
        loop = _argmax_and_embed(embedding, output_projection) if feed_previous else None
        with scope.enter("rnn_decoder"):
            state, outputs, prev = initial_state, [], None
            for ids in decoder_inputs:
                inp = loop(prev, len(outputs)) if (loop and prev is not None) else tf.nn.embedding_lookup(embedding, ids)
                prev, state = _run_any(scope, cell, inp, state)
                outputs.append(prev)
    return outputs, state


def embedding_rnn_seq2seq(encoder_inputs, decoder_inputs, cell, num_encoder_symbols: int, num_decoder_symbols: int,
                          embedding_size: int, output_projection=None, feed_previous: bool = False,
                          encoder_cell=None, scope: Optional[Seq2SeqScope] = None):
    """Embedded encoder (``rnn/embedding_wrapper/...``), projected embedding decoder.

    Legacy equivalent: :func:`legacy_rnn.seq2seq.legacy_seq2seq.embedding_rnn_seq2seq`.
    """
    scope = scope or Seq2SeqScope()
    with scope.enter("embedding_rnn_seq2seq"):
        with scope.enter("rnn"), scope.enter("embedding_wrapper"):
            table = scope.get_variable("embedding", [num_encoder_symbols, embedding_size],
                                       keras.initializers.RandomUniform(-math.sqrt(3), math.sqrt(3)))
            _, state = _encode(scope, encoder_cell or _clone(cell), encoder_inputs, table)
        decoder_cell = _Projected(scope, cell, num_decoder_symbols) if output_projection is None else cell
        return embedding_rnn_decoder(decoder_inputs, state, decoder_cell, num_decoder_symbols, embedding_size,
                                     output_projection, feed_previous, scope=scope)


def attention_decoder(decoder_inputs, initial_state, attention_states, cell, output_size: Optional[int] = None,
                      num_heads: int = 1, loop_function=None, initial_state_attention: bool = False,
                      scope: Optional[Seq2SeqScope] = None):
    """Bahdanau-style attention decoder of TF1 (see the legacy docstring for the equations); ``AttnW_k [A, A]``.

    The query is the flattened TF1-order cell state (``c`` then ``h`` for LSTMs; Keras keeps ``[h, c]``).

    Legacy equivalent: :func:`legacy_rnn.seq2seq.legacy_seq2seq.attention_decoder`.
    """
    inner = cell.cell if isinstance(cell, _Projected) else cell
    output_size = output_size or (cell.output_size if isinstance(cell, _Projected) else int(inner.output_size))
    scope = scope or Seq2SeqScope()
    hidden = tf.convert_to_tensor(attention_states)
    attn_size = int(hidden.shape[2])
    with scope.enter("attention_decoder"):
        features = [hidden @ scope.get_variable(f"AttnW_{a}", [attn_size, attn_size]) for a in range(num_heads)]
        v = [scope.get_variable(f"AttnV_{a}", [attn_size]) for a in range(num_heads)]

        def attention(state):
            flat = _state_list(state)
            tf1_order = getattr(inner, "tf1_state_order", False)  # legacy_models.TF1Stack: already TF1's order
            query = tf.concat(flat[::-1] if len(flat) == 2 and not tf1_order else flat, 1)  # Keras [h, c] -> (c, h)
            out = []
            for a in range(num_heads):
                with scope.enter(f"Attention_{a}"):
                    y = _linear(scope, query, attn_size)[:, None, :]
                weights = tf.nn.softmax(tf.reduce_sum(v[a] * tf.tanh(features[a] + y), 2))
                out.append(tf.einsum("bt,bta->ba", weights, hidden))
            return out

        state, outputs, prev = initial_state, [], None
        attns = attention(state) if initial_state_attention else [tf.zeros([hidden.shape[0], attn_size])] * num_heads
        for inp in decoder_inputs:
            if loop_function is not None and prev is not None:
                inp = loop_function(prev, len(outputs))
            x = _linear(scope, [inp] + attns, int(inp.shape[1]))
            cell_output, state = _run_any(scope, cell, x, state)
            attns = attention(state)
            with scope.enter("AttnOutputProjection"):
                prev = _linear(scope, [cell_output] + attns, output_size)
            outputs.append(prev)
    return outputs, state


def embedding_attention_decoder(decoder_inputs, initial_state, attention_states, cell, num_symbols: int,
                                embedding_size: int, num_heads: int = 1, output_size: Optional[int] = None,
                                output_projection=None, feed_previous: bool = False,
                                initial_state_attention: bool = False, scope: Optional[Seq2SeqScope] = None):
    """``embedding [V, E]`` lookup, then :func:`attention_decoder`.

    Legacy equivalent: :func:`legacy_rnn.seq2seq.legacy_seq2seq.embedding_attention_decoder`.
    """
    scope = scope or Seq2SeqScope()
    with scope.enter("embedding_attention_decoder"):
        embedding = scope.get_variable("embedding", [num_symbols, embedding_size])
        loop = _argmax_and_embed(embedding, output_projection) if feed_previous else None
        emb = [tf.nn.embedding_lookup(embedding, ids) for ids in decoder_inputs]
        return attention_decoder(emb, initial_state, attention_states, cell, output_size, num_heads, loop,
                                 initial_state_attention, scope=scope)


def embedding_attention_seq2seq(encoder_inputs, decoder_inputs, cell, num_encoder_symbols: int,
                                num_decoder_symbols: int, embedding_size: int, num_heads: int = 1,
                                output_projection=None, feed_previous: bool = False,
                                initial_state_attention: bool = False, encoder_cell=None,
                                scope: Optional[Seq2SeqScope] = None):
    """Embedded encoder whose outputs are the attention states; projected :func:`embedding_attention_decoder`.

    Legacy equivalent: :func:`legacy_rnn.seq2seq.legacy_seq2seq.embedding_attention_seq2seq`.
    """
    scope = scope or Seq2SeqScope()
    with scope.enter("embedding_attention_seq2seq"):
        with scope.enter("rnn"), scope.enter("embedding_wrapper"):
            table = scope.get_variable("embedding", [num_encoder_symbols, embedding_size],
                                       keras.initializers.RandomUniform(-math.sqrt(3), math.sqrt(3)))
            enc_outputs, state = _encode(scope, encoder_cell or _clone(cell), encoder_inputs, table)
        attention_states = tf.stack(enc_outputs, 1)
        output_size = None
        if output_projection is None:
            cell, output_size = _Projected(scope, cell, num_decoder_symbols), num_decoder_symbols
        return embedding_attention_decoder(decoder_inputs, state, attention_states, cell, num_decoder_symbols,
                                           embedding_size, num_heads, output_size, output_projection, feed_previous,
                                           initial_state_attention, scope=scope)


def sequence_loss_by_example(logits, targets, weights, average_across_timesteps: bool = True):
    """``sum_t w_t * xent_t`` per example (``/ (sum_t w_t + 1e-12)`` when averaging), Keras cross-entropy.

    Legacy equivalent: :func:`legacy_rnn.seq2seq.legacy_seq2seq.sequence_loss_by_example`.
    """
    if not len(logits) == len(targets) == len(weights):
        raise ValueError(f"Lengths of logits, weights, and targets must be the same {len(logits)}, {len(weights)}, "
                         f"{len(targets)}.")
    terms = [keras.losses.sparse_categorical_crossentropy(t, lg, from_logits=True) * w
             for lg, t, w in zip(logits, targets, weights)]
    total = tf.add_n(terms)
    return total / (tf.add_n([tf.cast(w, total.dtype) for w in weights]) + 1e-12) if average_across_timesteps else total


def sequence_loss(logits, targets, weights, average_across_timesteps: bool = True, average_across_batch: bool = True):
    """``sum(sequence_loss_by_example)``, divided by the batch size when ``average_across_batch``.

    Legacy equivalent: :func:`legacy_rnn.seq2seq.legacy_seq2seq.sequence_loss`.
    """
    cost = tf.reduce_sum(sequence_loss_by_example(logits, targets, weights, average_across_timesteps))
    return cost / tf.cast(tf.shape(targets[0])[0], cost.dtype) if average_across_batch else cost
