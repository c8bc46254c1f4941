"""Build one attention decoder on both sides, TF1 checkpoint in between.

The legacy side is written nmt-style: a training graph (``TrainingHelper``) whose random, seeded variables are saved
with a real ``tf.compat.v1.train.Saver``; separate inference graphs (greedy, beam search) restore that checkpoint.
The Keras side reads the checkpoint with ``tf.train.load_checkpoint`` and converts it with
:mod:`migration.seq2seq_converters`.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Optional

import numpy as np

import legacy_rnn
import modern_rnn
from legacy_rnn import seq2seq as legacy_s2s
from migration import converters, seq2seq_converters as s2c
from migration.core.specs import CellSpec
from modern_rnn import seq2seq as modern_s2s
from tests.core.harness import FAST_SESSION
from tests.checkpoint.tf1_values import load_values
from tests.seq2seq import reference as ref

tf, v1, keras = legacy_rnn.tf, legacy_rnn.v1, modern_rnn.keras

B, TM, M, D, N, V, T = 2, 4, 3, 3, 4, 6, 3      # batch, memory steps/depth, decoder input depth, attention units, vocab
LENGTHS = np.array([4, 2], np.int32)            # ragged memory: row 1 has 2 padded steps
START, END, MAX_ITER, WIDTH = 0, 1, 6, 3
FAST = FAST_SESSION  # one thread, no Grappler: tests/core/harness.py's session config, not a second copy


@dataclasses.dataclass(frozen=True)
class Config:
    name: str
    mechanism: str                 # bahdanau | luong
    cell: CellSpec
    normalize: bool = False
    scale: bool = False
    attention_layer_size: Optional[int] = None
    output_attention: bool = True
    length_penalty: float = 0.0

    @property
    def units(self) -> int:
        return self.cell.units

    @property
    def num_units(self) -> int:
        return self.units if self.mechanism == "luong" else N

    @property
    def attention_size(self) -> int:
        return self.attention_layer_size or M

    def __str__(self) -> str:
        return self.name


CONFIGS = (
    Config("bahdanau-basic_lstm", "bahdanau", CellSpec("basic_lstm", 5)),
    Config("bahdanau_norm-lstm_fb0.5-layer", "bahdanau", CellSpec("lstm", 5, forget_bias=0.5), normalize=True,
           attention_layer_size=4, length_penalty=0.6),
    Config("luong_scale-gru-layer", "luong", CellSpec("gru", 5), scale=True, attention_layer_size=4),
    Config("luong-basic_lstm-cell_output", "luong", CellSpec("basic_lstm", 5), output_attention=False),
)
BY_NAME = {c.name: c for c in CONFIGS}


def decoder_graph_inputs(memory_depth: int, vocab: int, embed: int) -> tuple[dict, object, object]:
    """The placeholders of a training graph around a tf.contrib.seq2seq decoder (``memory`` [B, S, memory_depth],
    ``memory_length``, ``targets`` [B, T] ids, ``target_length``), the decoder's ``embedding`` [vocab, embed] and the
    run-time batch size, made in the current graph in this order (so seeded initial values stay as they were)."""
    ph = {"memory": v1.placeholder(tf.float32, [None, None, memory_depth], "memory"),
          "memory_length": v1.placeholder(tf.int32, [None], "memory_length"),
          "targets": v1.placeholder(tf.int32, [None, None], "targets"),
          "target_length": v1.placeholder(tf.int32, [None], "target_length")}
    return ph, v1.get_variable("embedding", [vocab, embed]), tf.shape(ph["targets"])[0]


def data(seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    return {"memory": rng.uniform(-1, 1, (B, TM, M)).astype(np.float32),
            "ids": rng.integers(2, V, (B, T)).astype(np.int32),
            "targets": rng.integers(0, V, (B, T)).astype(np.int32),
            "weights": np.array([[1, 1, 1], [1, 1, 0]], np.float32)}


def _legacy_cell(spec: CellSpec):
    if spec.kind == "basic_lstm":
        return legacy_rnn.basic_lstm_cell(spec.units, forget_bias=spec.forget_bias)
    if spec.kind == "lstm":
        return legacy_rnn.lstm_cell(spec.units, forget_bias=spec.forget_bias)
    return legacy_rnn.gru_cell(spec.units)


def _legacy_wrapper(cfg: Config, memory, lengths, alignment_history: bool):
    cls = legacy_s2s.BahdanauAttention if cfg.mechanism == "bahdanau" else legacy_s2s.LuongAttention
    option = {"normalize": cfg.normalize} if cfg.mechanism == "bahdanau" else {"scale": cfg.scale}
    mech = cls(cfg.num_units, memory, memory_sequence_length=lengths, **option)
    return legacy_s2s.AttentionWrapper(_legacy_cell(cfg.cell), mech, attention_layer_size=cfg.attention_layer_size,
                                       alignment_history=alignment_history, output_attention=cfg.output_attention)


def _randomize(sess, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = []
    for var in sorted(v1.global_variables(), key=lambda v: v.name):
        shape = var.shape.as_list()
        if not shape:
            value = rng.uniform(0.5, 1.5)
        elif len(shape) == 1:
            value = rng.uniform(-0.5, 0.5, shape)
        else:
            value = rng.uniform(-1.5, 1.5, shape) / np.sqrt(shape[0])
        if "AttnV_" in var.op.name:  # peaky attention: the alignments must matter for the outputs
            value = value * 6.0
        if var.op.name.endswith("output_projection/kernel") or var.op.name == "embedding":
            value = value * 4.0  # logits driven by the state, and the state by the fed-back token, not by biases
        values.append((var, np.asarray(value, np.float32)))
    load_values(sess, values)


def legacy_train(cfg: Config, directory: str, seed: int = 0, values: Optional[dict] = None,
                 restore: Optional[str] = None) -> dict:
    """Training graph: teacher-forced decoding + sequence_loss. Its variables get seeded random values (or
    ``values`` by checkpoint name, or a ``Saver.restore`` of ``restore``), and are saved with a Saver."""
    d = data()
    with tf.Graph().as_default():
        embedding = v1.get_variable("embedding", [V, D])
        wrapper = _legacy_wrapper(cfg, tf.constant(d["memory"]), tf.constant(LENGTHS), alignment_history=True)
        helper = legacy_s2s.TrainingHelper(tf.nn.embedding_lookup(embedding, d["ids"]), tf.fill([B], T))
        decoder = legacy_s2s.BasicDecoder(wrapper, helper, wrapper.zero_state(B, tf.float32),
                                          output_layer=v1.layers.Dense(V, name="output_projection"))
        out, state, lengths = legacy_s2s.dynamic_decode(decoder)
        loss = legacy_s2s.sequence_loss(out.rnn_output, d["targets"], d["weights"])
        fetch = {"logits": out.rnn_output, "sample_id": out.sample_id, "history": state.alignment_history.stack(),
                 "cell_state": state.cell_state, "attention": state.attention, "alignments": state.alignments,
                 "time": state.time, "loss": loss, "lengths": lengths}
        with v1.Session(config=FAST) as sess:
            saver = v1.train.Saver()
            if restore is not None:
                saver.restore(sess, restore)
            else:
                sess.run(v1.global_variables_initializer())
                if values is None:
                    _randomize(sess, seed)
                else:
                    variables = {v.op.name: v for v in v1.global_variables()}
                    assert set(variables) == set(values), sorted(set(variables) ^ set(values))
                    load_values(sess, [(var, values[name]) for name, var in variables.items()])
            result = sess.run(fetch)
            cell_state = result["cell_state"]
            result["cell_state"] = tuple(cell_state) if isinstance(cell_state, tuple) else (cell_state,)
            result["variables"] = {v.op.name: tuple(v.shape.as_list()) for v in v1.global_variables()}
            result["checkpoint"] = saver.save(sess, os.path.join(directory, "model.ckpt"))
    return result


def legacy_infer(cfg: Config, checkpoint: str, mode: str, end: int = END) -> dict:
    """Inference graph (``greedy`` or ``beam``) restoring ``checkpoint`` with a Saver."""
    d = data()
    with tf.Graph().as_default():
        embedding = v1.get_variable("embedding", [V, D])
        projection = v1.layers.Dense(V, name="output_projection")
        if mode == "greedy":
            wrapper = _legacy_wrapper(cfg, tf.constant(d["memory"]), tf.constant(LENGTHS), alignment_history=False)
            helper = legacy_s2s.GreedyEmbeddingHelper(embedding, tf.fill([B], START), end)
            decoder = legacy_s2s.BasicDecoder(wrapper, helper, wrapper.zero_state(B, tf.float32), projection)
            out, _, lengths = legacy_s2s.dynamic_decode(decoder, maximum_iterations=MAX_ITER)
            fetch = {"ids": out.sample_id, "lengths": lengths}
        else:
            memory = legacy_s2s.tile_batch(tf.constant(d["memory"]), WIDTH)
            wrapper = _legacy_wrapper(cfg, memory, legacy_s2s.tile_batch(tf.constant(LENGTHS), WIDTH), False)
            decoder = legacy_s2s.BeamSearchDecoder(
                wrapper, embedding, tf.fill([B], START), end, wrapper.zero_state(B * WIDTH, tf.float32), WIDTH,
                output_layer=projection, length_penalty_weight=cfg.length_penalty)
            out, state, lengths = legacy_s2s.dynamic_decode(decoder, maximum_iterations=MAX_ITER)
            fetch = {"predicted_ids": out.predicted_ids, "scores": out.beam_search_decoder_output.scores,
                     "parent_ids": out.beam_search_decoder_output.parent_ids, "lengths": state.lengths}
        with v1.Session(config=FAST) as sess:
            v1.train.Saver().restore(sess, checkpoint)
            return sess.run(fetch)


def checkpoint_arrays(checkpoint: str) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(checkpoint)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def reference_attention(cfg: Config, arrays: dict, **controls) -> ref.Attention:
    """The NumPy reference on the TF1 arrays of the checkpoint (nothing from the converters)."""
    scope = f"decoder/attention_wrapper/"
    cell_scope = scope + cfg.cell.tf1_scope + "/"
    w = {"memory_layer/kernel": arrays["memory_layer/kernel"]}
    w.update({k[len(scope):]: a for k, a in arrays.items() if k.startswith(scope) and not k.startswith(cell_scope)})
    cell_w = {k[len(cell_scope):]: a for k, a in arrays.items() if k.startswith(cell_scope)}
    return ref.Attention(cfg.mechanism, {k: np.asarray(a, np.float64) for k, a in w.items()}, cfg.cell,
                         {k: np.asarray(a, np.float64) for k, a in cell_w.items()}, normalize=cfg.normalize,
                         scale=cfg.scale, output_attention=cfg.output_attention, **controls)


# --- Keras side -------------------------------------------------------------------------------------------------------

def keras_cell(spec: CellSpec):
    if spec.kind == "gru":
        return modern_rnn.gru_cell(spec.units)
    return modern_rnn.basic_lstm_cell(spec.units, forget_bias=spec.forget_bias)


def keras_wrapper(cfg: Config, alignment_history: bool = True, cell_input_fn="concat"):
    if cfg.mechanism == "bahdanau":
        mech = modern_s2s.BahdanauAttention(cfg.num_units, normalize=cfg.normalize)
    else:
        mech = modern_s2s.LuongAttention(cfg.num_units, scale=cfg.scale)
    return modern_s2s.AttentionWrapper(keras_cell(cfg.cell), mech, attention_layer_size=cfg.attention_layer_size,
                                       alignment_history=alignment_history, output_attention=cfg.output_attention,
                                       cell_input_fn=cell_input_fn)


def build_keras(cfg: Config, wrapper, memory, lengths, batch: int) -> None:
    """Create every Keras variable by running one step on zeros."""
    wrapper.setup_memory(memory, lengths)
    _, state = wrapper(tf.zeros([batch, D]), wrapper.get_initial_state(batch))
    if wrapper.alignment_history:
        state.alignment_history.mark_used()


def keras_from_checkpoint(cfg: Config, arrays: dict, **wrapper_kwargs):
    """(wrapper, embedding layer, projection layer) with the converted checkpoint weights."""
    conversion = s2c.convert_seq2seq(arrays, forget_bias=cfg.cell.forget_bias)
    (named,) = conversion.keras
    wrapper = keras_wrapper(cfg, **wrapper_kwargs)
    build_keras(cfg, wrapper, data()["memory"], LENGTHS, B)
    s2c.assign_named(wrapper.named_weights(), named)
    embedding = keras.layers.Embedding(V, D)
    embedding.build(None)
    embedding.set_weights([arrays["embedding"]])
    projection = keras.layers.Dense(V)
    projection.build([None, wrapper.attention_size if cfg.output_attention else cfg.units])
    projection.set_weights([arrays["decoder/output_projection/kernel"], arrays["decoder/output_projection/bias"]])
    return wrapper, embedding, projection, conversion


def keras_teacher(cfg: Config, wrapper, embedding, projection, as_tensor: bool = False) -> dict:
    d = data()
    wrapper.setup_memory(d["memory"], LENGTHS)
    helper = modern_s2s.TrainingHelper(embedding(d["ids"]), np.full(B, T, np.int32))
    decoder = modern_s2s.BasicDecoder(wrapper, helper, wrapper.get_initial_state(B), output_layer=projection)
    out, state, lengths = modern_s2s.dynamic_decode(decoder)
    loss = modern_s2s.sequence_loss(out.rnn_output, d["targets"], d["weights"])
    if as_tensor:
        return {"loss": loss}
    return {"logits": out.rnn_output.numpy(), "sample_id": out.sample_id.numpy(),
            "history": state.alignment_history.stack().numpy(),
            "cell_state": converters.keras_state_to_tf1(cfg.cell, tf.nest.flatten(state.cell_state)),
            "attention": state.attention.numpy(), "alignments": state.alignments.numpy(),
            "time": int(state.time), "loss": float(loss), "lengths": lengths.numpy()}


def keras_infer(cfg: Config, wrapper, embedding, projection, mode: str, end: int = END) -> dict:
    d = data()
    if mode == "greedy":
        wrapper.setup_memory(d["memory"], LENGTHS)
        helper = modern_s2s.GreedyEmbeddingHelper(embedding, np.full(B, START), end)
        decoder = modern_s2s.BasicDecoder(wrapper, helper, wrapper.get_initial_state(B), projection)
        out, _, lengths = modern_s2s.dynamic_decode(decoder, maximum_iterations=MAX_ITER)
        return {"ids": out.sample_id.numpy(), "lengths": lengths.numpy()}
    wrapper.setup_memory(modern_s2s.tile_batch(d["memory"], WIDTH), modern_s2s.tile_batch(LENGTHS, WIDTH))
    decoder = modern_s2s.BeamSearchDecoder(wrapper, embedding, np.full(B, START), end,
                                           wrapper.get_initial_state(B * WIDTH), WIDTH, output_layer=projection,
                                           length_penalty_weight=cfg.length_penalty)
    out, state, _ = modern_s2s.dynamic_decode(decoder, maximum_iterations=MAX_ITER)
    return {"predicted_ids": out.predicted_ids.numpy(), "scores": out.beam_search_decoder_output.scores.numpy(),
            "parent_ids": out.beam_search_decoder_output.parent_ids.numpy(), "lengths": state.lengths.numpy()}
