"""TF 1.15 ``tf.contrib.legacy_seq2seq`` (``contrib/legacy_seq2seq/python/ops/seq2seq.py``) on ``tf.compat.v1``.

Static (Python-list) unrolling, as in 1.15. Variable names (``S`` = the function's scope, cell scope ``C``)::

    rnn_decoder                 S=rnn_decoder/C/...
    basic_rnn_seq2seq           basic_rnn_seq2seq/rnn/C/... (encoder, a copy of the cell), basic_rnn_seq2seq/rnn_decoder/C/...
    tied_rnn_seq2seq            combined_tied_rnn_seq2seq/tied_rnn_seq2seq/C/...   (one shared weight set)
    embedding_rnn_decoder       embedding_rnn_decoder/embedding [V, E], embedding_rnn_decoder/rnn_decoder/C/...
    embedding_rnn_seq2seq       embedding_rnn_seq2seq/rnn/embedding_wrapper/{embedding [Vin, E], C/...},
                                embedding_rnn_seq2seq/embedding_rnn_decoder/{embedding [Vout, E],
                                rnn_decoder/output_projection_wrapper/{C/..., kernel [U, Vout], bias [Vout]}}
    attention_decoder           attention_decoder/{AttnW_0 [1, 1, A, A], AttnV_0 [A], kernel [D + A, D], bias [D],
                                C/..., Attention_0/{kernel [S_q, A], bias [A]},
                                AttnOutputProjection/{kernel [U + A, O], bias [O]}}
    embedding_attention_seq2seq embedding_attention_seq2seq/rnn/embedding_wrapper/...,
                                embedding_attention_seq2seq/embedding_attention_decoder/{embedding,
                                attention_decoder/...} (the decoder cell is wrapped in output_projection_wrapper)

``attention_decoder`` (one head, A = attention depth, query = concat of the flattened cell state, c then h for LSTMs)::

    x_t   = [inp_t, attn_{t-1}] @ kernel + bias
    out, state = cell(x_t, state)
    s_i   = sum_k AttnV_k tanh(h_i @ AttnW + [state] @ Attention_0/kernel + Attention_0/bias)
    a     = softmax(s);  attn_t = sum_i a_i h_i
    y_t   = [out, attn_t] @ AttnOutputProjection/kernel + bias

Modern equivalent: :mod:`modern_rnn.seq2seq.legacy_seq2seq`.
"""
from __future__ import annotations

import copy
from typing import Callable, Optional, Sequence

import tensorflow as tf

# One home for the two 1.15 contrib.rnn wrappers the seq2seq functions use (±sqrt(3) embedding init, the state's
# dtype, ``output_projection_wrapper/{kernel, bias}``): re-exported here under their 1.15 names.
from legacy_rnn.wrappers import EmbeddingWrapper, OutputProjectionWrapper

v1 = tf.compat.v1
nest = tf.nest
static_rnn = v1.nn.static_rnn


def _linear(args, output_size: int, bias: bool) -> tf.Tensor:
    """1.15 ``core_rnn_cell._Linear``: ``concat(args, 1) @ kernel + bias`` with ``kernel``/``bias`` in the current scope
    (bias initialised to 0)."""
    args = list(args) if isinstance(args, (list, tuple)) else [args]
    total = sum(int(a.shape[1]) for a in args)
    dtype = args[0].dtype
    kernel = v1.get_variable("kernel", [total, output_size], dtype=dtype)
    res = tf.matmul(args[0] if len(args) == 1 else tf.concat(args, 1), kernel)
    if not bias:
        return res
    b = v1.get_variable("bias", [output_size], dtype=dtype, initializer=v1.constant_initializer(0.0, dtype=dtype))
    return tf.nn.bias_add(res, b)


def _copy_cell(cell):
    """The 1.15 code deep-copies the cell for the encoder; the copy must not share the built weights."""
    return copy.deepcopy(cell)


def rnn_decoder(decoder_inputs: Sequence[tf.Tensor], initial_state, cell, loop_function: Optional[Callable] = None,
                scope=None):
    """``legacy_seq2seq.rnn_decoder``: run ``cell`` over the list ``decoder_inputs`` from ``initial_state``; with
    ``loop_function(prev_output, i)`` the previous output replaces the input from step 1 on.

    Modern equivalent: :func:`modern_rnn.seq2seq.legacy_seq2seq.rnn_decoder`.
    """
    with v1.variable_scope(scope or "rnn_decoder"):
        state, outputs, prev = initial_state, [], None
        for i, inp in enumerate(decoder_inputs):
            if loop_function is not None and prev is not None:
                with v1.variable_scope("loop_function", reuse=True):
                    inp = loop_function(prev, i)
            if i > 0:
                v1.get_variable_scope().reuse_variables()
            output, state = cell(inp, state)
            outputs.append(output)
            if loop_function is not None:
                prev = output
    return outputs, state


def basic_rnn_seq2seq(encoder_inputs, decoder_inputs, cell, dtype=tf.float32, scope=None):
    """``legacy_seq2seq.basic_rnn_seq2seq``: ``static_rnn`` encoder (a deep copy of ``cell``), then
    :func:`rnn_decoder` from its final state.

    Modern equivalent: :func:`modern_rnn.seq2seq.legacy_seq2seq.basic_rnn_seq2seq`.
    """
    with v1.variable_scope(scope or "basic_rnn_seq2seq"):
        _, enc_state = static_rnn(_copy_cell(cell), encoder_inputs, dtype=dtype)
        return rnn_decoder(decoder_inputs, enc_state, cell)


def tied_rnn_seq2seq(encoder_inputs, decoder_inputs, cell, loop_function=None, dtype=tf.float32, scope=None):
    """``legacy_seq2seq.tied_rnn_seq2seq``: encoder and decoder share one weight set.

    Modern equivalent: :func:`modern_rnn.seq2seq.legacy_seq2seq.tied_rnn_seq2seq`.
    """
    with v1.variable_scope("combined_tied_rnn_seq2seq"):
        scope = scope or "tied_rnn_seq2seq"
        _, enc_state = static_rnn(cell, encoder_inputs, dtype=dtype, scope=scope)
        v1.get_variable_scope().reuse_variables()
        return rnn_decoder(decoder_inputs, enc_state, cell, loop_function=loop_function, scope=scope)


def _extract_argmax_and_embed(embedding, output_projection=None, update_embedding: bool = True):
    def loop_function(prev, _):
        if output_projection is not None:
            prev = tf.compat.v1.nn.xw_plus_b(prev, output_projection[0], output_projection[1])
        emb_prev = tf.nn.embedding_lookup(embedding, tf.argmax(prev, 1))
        return emb_prev if update_embedding else tf.stop_gradient(emb_prev)
    return loop_function


def _check_feed_previous(feed_previous) -> None:
    if not isinstance(feed_previous, bool):
        raise TypeError("feed_previous of a decoder must be a Python bool (TF 1.15 tested it with `if`); the seq2seq "
                        "functions (embedding_rnn_seq2seq ...) accept a boolean tensor.")


def _by_feed_previous(feed_previous, build, state_structure=None):
    """TF 1.15's two decoders for a boolean-tensor ``feed_previous``: ``build(True)`` creates the variables,
    ``build(False)`` reuses them (both with ``update_embedding_for_previous=False``, as 1.15), and a ``cond`` picks
    the outputs and state. Here both are built outside the ``cond`` and the ``cond`` selects: same variables, same
    values, gradients only through the chosen branch. ``build(bool) -> (outputs, state)``."""
    if isinstance(feed_previous, bool):
        return build(feed_previous, True)
    with v1.variable_scope(v1.get_variable_scope(), reuse=None):
        outs_true, state_true = build(True, False)
    with v1.variable_scope(v1.get_variable_scope(), reuse=True):
        outs_false, state_false = build(False, False)
    flat_true, flat_false = list(outs_true) + nest.flatten(state_true), list(outs_false) + nest.flatten(state_false)
    chosen = tf.cond(tf.convert_to_tensor(feed_previous, tf.bool), lambda: [tf.identity(t) for t in flat_true],
                     lambda: [tf.identity(t) for t in flat_false])
    n = len(outs_true)
    return chosen[:n], nest.pack_sequence_as(state_structure if state_structure is not None else state_true,
                                             chosen[n:])


def embedding_rnn_decoder(decoder_inputs, initial_state, cell, num_symbols: int, embedding_size: int,
                          output_projection=None, feed_previous: bool = False,
                          update_embedding_for_previous: bool = True, scope=None):
    """``legacy_seq2seq.embedding_rnn_decoder``: ids -> ``embedding [V, E]`` -> :func:`rnn_decoder`; with
    ``feed_previous`` the argmax of the previous output is embedded and fed back.

    Modern equivalent: :func:`modern_rnn.seq2seq.legacy_seq2seq.embedding_rnn_decoder`.
    """
    _check_feed_previous(feed_previous)
    with v1.variable_scope(scope or "embedding_rnn_decoder"):
        embedding = v1.get_variable("embedding", [num_symbols, embedding_size])
        loop_function = (_extract_argmax_and_embed(embedding, output_projection, update_embedding_for_previous)
                         if feed_previous else None)
        emb_inp = [tf.nn.embedding_lookup(embedding, i) for i in decoder_inputs]
        return rnn_decoder(emb_inp, initial_state, cell, loop_function=loop_function)


def embedding_rnn_seq2seq(encoder_inputs, decoder_inputs, cell, num_encoder_symbols: int, num_decoder_symbols: int,
                          embedding_size: int, output_projection=None, feed_previous: bool = False, dtype=None,
                          scope=None):
    """``legacy_seq2seq.embedding_rnn_seq2seq``: ``EmbeddingWrapper`` encoder, ``OutputProjectionWrapper`` decoder
    (unless ``output_projection`` is given).

    Modern equivalent: :func:`modern_rnn.seq2seq.legacy_seq2seq.embedding_rnn_seq2seq`.
    """
    with v1.variable_scope(scope or "embedding_rnn_seq2seq") as vs:
        dtype = dtype or vs.dtype
        encoder_cell = EmbeddingWrapper(_copy_cell(cell), embedding_classes=num_encoder_symbols,
                                        embedding_size=embedding_size)
        _, encoder_state = static_rnn(encoder_cell, encoder_inputs, dtype=dtype)
        if output_projection is None:
            cell = OutputProjectionWrapper(cell, num_decoder_symbols)
        return _by_feed_previous(feed_previous, lambda feed, update: embedding_rnn_decoder(
            decoder_inputs, encoder_state, cell, num_decoder_symbols, embedding_size,
            output_projection=output_projection, feed_previous=feed, update_embedding_for_previous=update),
            encoder_state)


def attention_decoder(decoder_inputs, initial_state, attention_states, cell, output_size: Optional[int] = None,
                      num_heads: int = 1, loop_function=None, dtype=None, scope=None,
                      initial_state_attention: bool = False):
    """``legacy_seq2seq.attention_decoder`` (Bahdanau-style, ``num_heads`` heads; see the module docstring).

    Modern equivalent: :func:`modern_rnn.seq2seq.legacy_seq2seq.attention_decoder`.
    """
    if not decoder_inputs:
        raise ValueError("Must provide at least 1 input to attention decoder.")
    if num_heads < 1:
        raise ValueError("With less than 1 heads, use a non-attention decoder.")
    if attention_states.shape[2] is None:
        raise ValueError(f"Shape[2] of attention_states must be known: {attention_states.shape}")
    output_size = output_size or cell.output_size
    with v1.variable_scope(scope or "attention_decoder", dtype=dtype) as vs:
        dtype = vs.dtype
        batch_size = tf.shape(decoder_inputs[0])[0]
        attn_length = tf.compat.dimension_value(attention_states.shape[1]) or tf.shape(attention_states)[1]
        attn_size = int(attention_states.shape[2])
        hidden = tf.reshape(attention_states, [-1, attn_length, 1, attn_size])
        hidden_features, v = [], []
        for a in range(num_heads):
            k = v1.get_variable(f"AttnW_{a}", [1, 1, attn_size, attn_size], dtype=dtype)
            hidden_features.append(tf.nn.conv2d(hidden, k, [1, 1, 1, 1], "SAME"))
            v.append(v1.get_variable(f"AttnV_{a}", [attn_size], dtype=dtype))

        def attention(query):
            query = tf.concat(nest.flatten(query), 1)
            ds = []
            for a in range(num_heads):
                with v1.variable_scope(f"Attention_{a}"):
                    y = tf.reshape(_linear(query, attn_size, True), [-1, 1, 1, attn_size])
                    s = tf.reduce_sum(v[a] * tf.tanh(hidden_features[a] + y), [2, 3])
                    weights = tf.nn.softmax(s)
                    d = tf.reduce_sum(tf.reshape(weights, [-1, attn_length, 1, 1]) * hidden, [1, 2])
                    ds.append(tf.reshape(d, [-1, attn_size]))
            return ds

        state, outputs, prev = initial_state, [], None
        attns = [tf.zeros(tf.stack([batch_size, attn_size]), dtype=dtype) for _ in range(num_heads)]
        for a in attns:
            a.set_shape([None, attn_size])
        if initial_state_attention:
            attns = attention(initial_state)
        for i, inp in enumerate(decoder_inputs):
            if i > 0:
                v1.get_variable_scope().reuse_variables()
            if loop_function is not None and prev is not None:
                with v1.variable_scope("loop_function", reuse=True):
                    inp = loop_function(prev, i)
            input_size = inp.shape.with_rank(2)[1]
            if input_size is None:
                raise ValueError(f"Could not infer input size from input: {inp.name}")
            x = _linear([inp] + attns, int(input_size), True)
            cell_output, state = cell(x, state)
            if i == 0 and initial_state_attention:
                with v1.variable_scope(v1.get_variable_scope(), reuse=True):
                    attns = attention(state)
            else:
                attns = attention(state)
            with v1.variable_scope("AttnOutputProjection"):
                output = _linear([cell_output] + attns, output_size, True)
            if loop_function is not None:
                prev = output
            outputs.append(output)
    return outputs, state


def embedding_attention_decoder(decoder_inputs, initial_state, attention_states, cell, num_symbols: int,
                                embedding_size: int, num_heads: int = 1, output_size: Optional[int] = None,
                                output_projection=None, feed_previous: bool = False,
                                update_embedding_for_previous: bool = True, dtype=None, scope=None,
                                initial_state_attention: bool = False):
    """``legacy_seq2seq.embedding_attention_decoder``: ``embedding [V, E]`` lookup, then :func:`attention_decoder`.

    Modern equivalent: :func:`modern_rnn.seq2seq.legacy_seq2seq.embedding_attention_decoder`.
    """
    _check_feed_previous(feed_previous)
    output_size = output_size or cell.output_size
    with v1.variable_scope(scope or "embedding_attention_decoder", dtype=dtype):
        embedding = v1.get_variable("embedding", [num_symbols, embedding_size])
        loop_function = (_extract_argmax_and_embed(embedding, output_projection, update_embedding_for_previous)
                         if feed_previous else None)
        emb_inp = [tf.nn.embedding_lookup(embedding, i) for i in decoder_inputs]
        return attention_decoder(emb_inp, initial_state, attention_states, cell, output_size=output_size,
                                 num_heads=num_heads, loop_function=loop_function,
                                 initial_state_attention=initial_state_attention)


def embedding_attention_seq2seq(encoder_inputs, decoder_inputs, cell, num_encoder_symbols: int,
                                num_decoder_symbols: int, embedding_size: int, num_heads: int = 1,
                                output_projection=None, feed_previous: bool = False, dtype=None, scope=None,
                                initial_state_attention: bool = False):
    """``legacy_seq2seq.embedding_attention_seq2seq``: ``EmbeddingWrapper`` + ``static_rnn`` encoder whose outputs are
    the attention states, ``OutputProjectionWrapper`` + :func:`embedding_attention_decoder`.

    Modern equivalent: :func:`modern_rnn.seq2seq.legacy_seq2seq.embedding_attention_seq2seq`.
    """
    with v1.variable_scope(scope or "embedding_attention_seq2seq", dtype=dtype) as vs:
        dtype = vs.dtype
        encoder_cell = EmbeddingWrapper(_copy_cell(cell), embedding_classes=num_encoder_symbols,
                                        embedding_size=embedding_size)
        encoder_outputs, encoder_state = static_rnn(encoder_cell, encoder_inputs, dtype=dtype)
        top_states = [tf.reshape(e, [-1, 1, cell.output_size]) for e in encoder_outputs]
        attention_states = tf.concat(top_states, 1)
        output_size = None
        if output_projection is None:
            cell = OutputProjectionWrapper(cell, num_decoder_symbols)
            output_size = num_decoder_symbols
        return _by_feed_previous(feed_previous, lambda feed, update: embedding_attention_decoder(
            decoder_inputs, encoder_state, attention_states, cell, num_decoder_symbols, embedding_size,
            num_heads=num_heads, output_size=output_size, output_projection=output_projection,
            feed_previous=feed, update_embedding_for_previous=update,
            initial_state_attention=initial_state_attention), encoder_state)


def sequence_loss_by_example(logits, targets, weights, average_across_timesteps: bool = True,
                             softmax_loss_function=None, name=None):
    """``legacy_seq2seq.sequence_loss_by_example``: lists of ``[B, V]`` logits; ``sum_t w_t * xent_t``, divided by
    ``sum_t w_t + 1e-12`` when ``average_across_timesteps``. Returns ``[B]``.

    Modern equivalent: :func:`modern_rnn.seq2seq.legacy_seq2seq.sequence_loss_by_example`.
    """
    if len(targets) != len(logits) or len(weights) != len(logits):
        raise ValueError(f"Lengths of logits, weights, and targets must be the same {len(logits)}, {len(weights)}, "
                         f"{len(targets)}.")
    with tf.name_scope(name or "sequence_loss_by_example"):
        log_perp_list = []
        for logit, target, weight in zip(logits, targets, weights):
            if softmax_loss_function is None:
                crossent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.reshape(target, [-1]), logits=logit)
            else:
                crossent = softmax_loss_function(labels=target, logits=logit)
            log_perp_list.append(crossent * weight)
        log_perps = tf.add_n(log_perp_list)
        if average_across_timesteps:
            log_perps /= tf.add_n(weights) + 1e-12
    return log_perps


def sequence_loss(logits, targets, weights, average_across_timesteps: bool = True, average_across_batch: bool = True,
                  softmax_loss_function=None, name=None):
    """``legacy_seq2seq.sequence_loss``: ``sum(sequence_loss_by_example)``, divided by the batch size when
    ``average_across_batch``.

    Modern equivalent: :func:`modern_rnn.seq2seq.legacy_seq2seq.sequence_loss`.
    """
    with tf.name_scope(name or "sequence_loss"):
        cost = tf.reduce_sum(sequence_loss_by_example(logits, targets, weights,
                                                      average_across_timesteps=average_across_timesteps,
                                                      softmax_loss_function=softmax_loss_function))
        if average_across_batch:
            return cost / tf.cast(tf.shape(targets[0])[0], cost.dtype)
        return cost


def embedding_tied_rnn_seq2seq(encoder_inputs, decoder_inputs, cell, num_symbols: int, embedding_size: int,
                               num_decoder_symbols=None, output_projection=None, feed_previous=False, dtype=None,
                               scope=None):
    """``legacy_seq2seq.embedding_tied_rnn_seq2seq``: one ``embedding [V, E]`` for encoder and decoder ids, then
    :func:`tied_rnn_seq2seq` (encoder and decoder share the cell, wrapped in ``OutputProjectionWrapper`` to
    ``num_decoder_symbols or num_symbols`` unless ``output_projection``). Variables:
    ``embedding_tied_rnn_seq2seq/embedding``,
    ``.../combined_tied_rnn_seq2seq/tied_rnn_seq2seq/output_projection_wrapper/{C/..., kernel, bias}``. ``feed_previous`` may be a boolean tensor."""
    with v1.variable_scope(scope or "embedding_tied_rnn_seq2seq", dtype=dtype) as vs:
        dtype = vs.dtype
        embedding = v1.get_variable("embedding", [num_symbols, embedding_size], dtype=dtype)
        emb_encoder_inputs = [tf.nn.embedding_lookup(embedding, x) for x in encoder_inputs]
        emb_decoder_inputs = [tf.nn.embedding_lookup(embedding, x) for x in decoder_inputs]
        if output_projection is None:
            cell = OutputProjectionWrapper(cell, num_decoder_symbols or num_symbols)

        def build(feed: bool, update: bool):
            loop = _extract_argmax_and_embed(embedding, output_projection, update) if feed else None
            return tied_rnn_seq2seq(emb_encoder_inputs, emb_decoder_inputs, cell, loop_function=loop, dtype=dtype)

        return _by_feed_previous(feed_previous, build)


def one2many_rnn_seq2seq(encoder_inputs, decoder_inputs_dict, enc_cell, dec_cells_dict, num_encoder_symbols: int,
                         num_decoder_symbols_dict, embedding_size: int, feed_previous=False, dtype=None, scope=None):
    """``legacy_seq2seq.one2many_rnn_seq2seq``: one ``EmbeddingWrapper`` encoder
    (``one2many_rnn_seq2seq/rnn/embedding_wrapper/...``), one :func:`embedding_rnn_decoder` per task name under
    ``one2many_rnn_seq2seq/one2many_decoder_<name>/`` with its own ``OutputProjectionWrapper``. Returns
    ``(outputs_dict, state_dict)``; ``feed_previous`` may be a boolean tensor."""
    for what, cell in [("enc_cell", enc_cell)] + [("dec_cell", c) for c in dec_cells_dict.values()]:
        if not isinstance(cell, v1.nn.rnn_cell.RNNCell):
            raise TypeError(f"{what} is not an RNNCell: {type(cell)}")
    if set(dec_cells_dict) != set(decoder_inputs_dict):
        raise ValueError("keys of dec_cells_dict != keys of decodre_inputs_dict")
    outputs_dict, state_dict = {}, {}
    with v1.variable_scope(scope or "one2many_rnn_seq2seq", dtype=dtype) as vs:
        dtype = vs.dtype
        enc_cell = EmbeddingWrapper(enc_cell, embedding_classes=num_encoder_symbols, embedding_size=embedding_size)
        _, encoder_state = static_rnn(enc_cell, encoder_inputs, dtype=dtype)
        for name, decoder_inputs in decoder_inputs_dict.items():
            symbols = num_decoder_symbols_dict[name]
            with v1.variable_scope("one2many_decoder_" + str(name)):
                dec_cell = OutputProjectionWrapper(dec_cells_dict[name], symbols)
                outputs_dict[name], state_dict[name] = _by_feed_previous(
                    feed_previous, lambda feed, _, inputs=decoder_inputs, cell=dec_cell, n=symbols: (
                        embedding_rnn_decoder(inputs, encoder_state, cell, n, embedding_size, feed_previous=feed)),
                    encoder_state)
    return outputs_dict, state_dict


def model_with_buckets(encoder_inputs, decoder_inputs, targets, weights, buckets, seq2seq,
                       softmax_loss_function=None, per_example_loss=False, name=None):
    """``legacy_seq2seq.model_with_buckets``: one ``seq2seq(enc[:len], dec[:len])`` graph per bucket
    ``(enc_len, dec_len)``, the variables created by the first bucket and reused by the others; returns
    ``(outputs, losses)`` with each bucket's :func:`sequence_loss` (or :func:`sequence_loss_by_example`)."""
    if len(encoder_inputs) < buckets[-1][0]:
        raise ValueError(f"Length of the encoder inputs ({len(encoder_inputs)}) must be at least that of the last "
                         f"bucket ({buckets[-1][0]}).")
    for what, seq in (("targets", targets), ("weights", weights)):
        if len(seq) < buckets[-1][1]:
            raise ValueError(f"Length of the {what} ({len(seq)}) must be at least that of the last bucket "
                             f"({buckets[-1][1]}).")
    outputs, losses = [], []
    with tf.name_scope(name or "model_with_buckets"):
        for j, (enc_len, dec_len) in enumerate(buckets):
            with v1.variable_scope(v1.get_variable_scope(), reuse=True if j > 0 else None):
                bucket_outputs, _ = seq2seq(encoder_inputs[:enc_len], decoder_inputs[:dec_len])
                outputs.append(bucket_outputs)
                loss = sequence_loss_by_example if per_example_loss else sequence_loss
                losses.append(loss(outputs[-1], targets[:dec_len], weights[:dec_len],
                                   softmax_loss_function=softmax_loss_function))
    return outputs, losses


#: TF 1.15 names rebuilt here without a twin in :mod:`modern_rnn.seq2seq.legacy_seq2seq` yet.
LEGACY_ONLY: tuple[str, ...] = ("embedding_tied_rnn_seq2seq", "one2many_rnn_seq2seq", "model_with_buckets")
