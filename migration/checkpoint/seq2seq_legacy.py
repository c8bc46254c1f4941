"""``legacy_seq2seq.embedding_attention_seq2seq`` checkpoints through ``rnn-migrate convert/verify/export``.

The whole ``embedding_attention_seq2seq/`` scope (encoder ``EmbeddingWrapper`` table and cell, decoder table,
``attention_decoder`` with ``AttnW_k``/``AttnV_k``/``Attention_k``/``AttnOutputProjection``, the
``OutputProjectionWrapper`` around the decoder cell) becomes one
:class:`modern_rnn.seq2seq.models.LegacyAttentionSeq2SeqModel` (``seq2seq/<name>.keras``). In the ``.meta``, the
encoder and decoder id tensors are the indices of the ``embedding_lookup`` of each table, in creation (= step) order;
the per-step logits are the ``BiasAdd`` of ``AttnOutputProjection/bias``. Verification feeds random ids there and
compares the logits (reference ``original-graph``).

A ``MultiRNNCell`` stack, cells shared between layers or between encoder and decoder, and ``output_projection=(w, b)``
graphs (no ``output_projection_wrapper``) are read by :mod:`.seq2seq_stack` instead (``desc["stack"]``). Refused (with
the reason): an ``attention_decoder`` outside ``embedding_attention_seq2seq``.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Optional

import numpy as np

from migration.checkpoint.checks import Check
from migration import seq2seq_converters as s2c
from migration.checkpoint.seq2seq_base import run_loaded, write_slots
from migration.checkpoint.seq2seq_graph import run_original
from migration.checkpoint import seq2seq_stack
from migration.core.errors import MigrationError
from migration.graph.graphdef import ref
from migration.core.specs import CellSpec
from migration.families import keras_cell, legacy_cell

TOP = "embedding_attention_seq2seq/"
DEC = TOP + "embedding_attention_decoder/"
ATT = DEC + "attention_decoder/"
_CELLS = {"basic_lstm_cell": "basic_lstm", "gru_cell": "gru", "basic_rnn_cell": "basic_rnn"}


def read(r, block) -> tuple[Optional[dict[str, Any]], str, list[str]]:
    """(legacy description, problem, names to consume) for an ``AttentionDecoderBlock`` of recognizer ``r``."""
    if not block.prefix.endswith(ATT):
        return None, ("a legacy_seq2seq attention_decoder outside embedding_attention_seq2seq is recognized but not "
                      "converted by `convert`; build modern_rnn.seq2seq.legacy_seq2seq.attention_decoder with a "
                      "Seq2SeqScope and load the arrays with migration.seq2seq_converters.legacy_scope_to_keras"), \
            list(block.names)
    user = block.prefix[: -len(ATT)]
    top = user + TOP
    names = [k for k in r.free() if k.startswith(top)]
    rel = {k[len(user):]: k for k in names}
    cells = {m.group(1) for n in rel if (m := re.fullmatch(
        re.escape(ATT) + r"output_projection_wrapper/(\w+)/(?:kernel|bias|gates/kernel)", n))}
    if len(cells) != 1 or next(iter(cells)) not in _CELLS:  # a MultiRNNCell, output_projection=(w, b), shared cells
        return seq2seq_stack.read(r, block, user, TOP, ATT)
    cell_dir = next(iter(cells))
    kind = _CELLS[cell_dir]
    bias = r.vs[user + ATT + f"output_projection_wrapper/{cell_dir}/" + ("gates/bias" if kind == "gru" else "bias")]
    units = bias.shape[0] // {"basic_lstm": 4, "gru": 2, "basic_rnn": 1}[kind]
    enc_table = TOP + "rnn/embedding_wrapper/embedding"
    dec_table = DEC + "embedding"
    if enc_table not in rel or dec_table not in rel:
        return None, f"{top}: expected {enc_table} and {dec_table}", names
    vin, emb = r.vs[rel[enc_table]].shape
    vout = r.vs[rel[dec_table]].shape[0]
    paths = {TOP + f"rnn/embedding_wrapper/{cell_dir}": "encoder",
             ATT + f"output_projection_wrapper/{cell_dir}": "decoder"}
    specs = {}
    for path in paths:
        spec, sources = r.spec_for(kind, units, False, None, (user + path).rsplit("/", 1)[0], cell_dir, user + path)
        specs[path] = (spec, sources)
    (s1, src), (s2, _) = specs.values()
    if s1 != s2:
        return None, f"{top}: encoder and decoder cells differ ({s1} vs {s2}); deepcopy(cell) makes them equal", names
    desc = {"user_prefix": user, "cell": cell_dir, "kind": kind, "units": int(units), "num_encoder_symbols": int(vin),
            "num_decoder_symbols": int(vout), "embedding_size": int(emb), "num_heads": block.num_heads,
            "cell_paths": list(paths), "spec": s1.to_dict(), "hyper_sources": src,
            "encoder_table": rel[enc_table], "decoder_table": rel[dec_table],
            "output_bias": user + ATT + "AttnOutputProjection/bias"}
    return desc, "", names


def _spec(desc: dict, forget_bias: Optional[float]) -> CellSpec:
    spec = CellSpec.from_dict(desc["spec"])
    if forget_bias is not None and spec.is_lstm:
        spec = dataclasses.replace(spec, forget_bias=float(forget_bias))
    return spec


def build_model(desc: dict, arrays: dict[str, np.ndarray], forget_bias: Optional[float] = None):
    from modern_rnn import keras
    from modern_rnn.seq2seq.models import LegacyAttentionSeq2SeqModel

    spec = _spec(desc, forget_bias)
    cell = keras_cell(spec, desc["embedding_size"])
    model = LegacyAttentionSeq2SeqModel(keras.layers.serialize(cell), desc["num_encoder_symbols"],
                                        desc["num_decoder_symbols"], desc["embedding_size"], desc["num_heads"],
                                        tf1={"legacy": desc, "forget_bias": spec.forget_bias if spec.is_lstm else None},
                                        name="legacy_seq2seq")
    model.build_weights()
    cell_specs = {path: spec for path in model.scope.cells}
    named, cells = s2c.legacy_scope_to_keras(arrays, list(model.scope.named_weights()), cell_specs,
                                             prefix=desc["user_prefix"])
    for name, var in model.scope.named_weights().items():
        var.assign(named[name])
    for path, weights in cells.items():
        model.scope.cells[path].set_weights(weights)
    return model


def tf1_arrays(model) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    desc = model.tf1["legacy"]
    if desc.get("stack"):
        out = seq2seq_stack.tf1_arrays(model)
        return out, {k: f"{model.name}: embedding_attention_seq2seq" for k in out}
    spec = _spec(desc, model.tf1.get("forget_bias"))
    named = {k: v.numpy() for k, v in model.scope.named_weights().items()}
    cells = {path: (spec, cell.get_weights()) for path, cell in model.scope.cells.items()}
    out = s2c.legacy_scope_to_tf1(named, cells, prefix=desc["user_prefix"])
    return out, {k: f"{model.name}: embedding_attention_seq2seq" for k in out}


def slot_key(cell_scope: str, index: int) -> str:
    """The manifest ``slots`` key of Keras weight ``index`` of the cell at TF1 scope ``cell_scope``."""
    return f"{cell_scope}#{index}"


def convert_slots(conv, info, desc: dict, model) -> dict[str, dict[str, str]]:
    """``--with-optimizer``: the model's optimizer slots converted exactly like its weights (``AttnW_k`` reshaped, the
    cells' layouts, ``forget_bias`` 0), saved as ``optimizer/<role>/seq2seq/<name>/...npy``. Returns
    ``{Keras weight (Seq2SeqScope name, or slot_key(cell scope, k)): {role: file}}``; ``{}`` without
    ``--with-optimizer`` or without slots (then the slots are named as not migrated)."""

    spec = CellSpec.from_dict(desc["spec"])
    if spec.is_lstm:
        spec = dataclasses.replace(spec, forget_bias=0.0)   # a slot is not a bias

    def to_keras(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        named, cells = s2c.legacy_scope_to_keras(arrays, list(model.scope.named_weights()),
                                                 {path: spec for path in model.scope.cells}, prefix=desc["user_prefix"])
        flat = dict(named)
        flat.update({slot_key(path, k): w for path, weights in cells.items() for k, w in enumerate(weights)})
        return flat

    keys = set(info.names)
    return write_slots(conv, info.name, keys, keys, to_keras)


# -- the .meta graph ------------------------------------------------------------------------------------------------

def _ordered_lookups(index, key: str) -> list[str]:
    from migration.checkpoint.seq2seq_graph import back_to, handle_nodes

    handles = set(handle_nodes(index, key))
    out = []
    for node in index.graph_def.node:  # creation order = step order
        if node.op in ("GatherV2", "ResourceGather", "Gather") and ref(back_to(index, node.input[0]))[0] in handles:
            out.append(back_to(index, node.input[1], ("Reshape", "Identity")))
    return out


def locate(original, desc: dict) -> dict[str, Any]:
    from migration.checkpoint.seq2seq_graph import back_to, handle_nodes

    index = original.index
    enc, dec = _ordered_lookups(index, desc["encoder_table"]), _ordered_lookups(index, desc["decoder_table"])
    handles = set(handle_nodes(index, desc["output_bias"]))
    outputs = [f"{n.name}:0" for n in index.graph_def.node if n.op in ("BiasAdd", "Add", "AddV2")
               and any(ref(back_to(index, i))[0] in handles for i in n.input[1:])]
    if not enc or not dec or len(outputs) != len(dec):
        raise MigrationError(f"found {len(enc)} encoder and {len(dec)} decoder lookups and {len(outputs)} "
                             "AttnOutputProjection outputs (expected one output per decoder step)")
    for t in enc + dec:
        if ref(t)[1] != 0:
            raise MigrationError(f"tensor {t!r} is not a node's first output and cannot be fed")
    return {"encoder_ids": enc, "decoder_ids": dec, "outputs": outputs}


# -- convert / verify ------------------------------------------------------------------------------------------------

def convert_entry(conv, info, original_factory) -> dict[str, Any]:
    desc = info.legacy
    graph, why = None, ""
    if conv.meta is None:
        why = "no .meta next to the checkpoint"
    else:
        try:
            graph = (seq2seq_stack.locate(original_factory().index, desc) if desc.get("stack") else
                     locate(original_factory(), desc))
        except MigrationError as exc:
            why = f"the model was not found in the .meta graph ({exc})"
    arrays = {k: conv.read_weight(k) for k in sorted(info.names)}
    if desc.get("stack"):
        return _convert_stack(conv, info, desc, arrays, graph, why)
    model = build_model(desc, arrays, conv.forget_bias)
    if conv.forget_bias is not None and desc["kind"] == "basic_lstm":
        desc = {**desc, "spec": {**desc["spec"], "forget_bias": float(conv.forget_bias)},
                "hyper_sources": {**desc["hyper_sources"], "forget_bias": "--forget-bias"}}
    file = conv.rel("seq2seq", f"{info.name}.keras")
    model.save(os.path.join(conv.tmp, file))
    for key in info.names:
        conv.destinations[key] = f"{file} ({info.kind})"
    slots = convert_slots(conv, info, desc, model)
    conv.notes.append(f"seq2seq {info.name}: written as {file} (LegacyAttentionSeq2SeqModel)")
    return {"kind": info.kind, "name": info.name, "scope": desc["user_prefix"] + TOP, "file": file, "legacy": desc,
            **({"slots": slots} if slots else {}),
            "variables": sorted(info.names), "graph": graph, "graph_note": why,
            "load": ("import modern_rnn.seq2seq.models, tf_keras; "
                     f"m = tf_keras.models.load_model('{file}', safe_mode=True)"),
            "decode": {"teacher_forced": "m({'encoder_inputs': ids [B, Te], 'decoder_inputs': ids [B, Td]}) -> "
                                         "logits [B, Td, V] (the TF1 output list stacked on axis 1)",
                       "greedy": "LegacyAttentionSeq2SeqModel.from_config({**m.get_config(), 'feed_previous': True}) "
                                 "with m's weights (TF1 feed_previous=True)"},
            "assumed": {"feed_previous": "False in the converted model (the training graph's value is a Python bool "
                                         "that leaves no variable)",
                        "initial_state_attention": "False (TF1's default)"}}


def _convert_stack(conv, info, desc: dict, arrays: dict, graph: Optional[dict], why: str) -> dict[str, Any]:
    feed_previous = bool(graph and graph["feed_previous"])
    if feed_previous and desc["projection"] and not desc["projection_vars"]:
        raise MigrationError(f"seq2seq {info.name}: a feed_previous=True graph with output_projection=(w, b), and w/b "
                             "were not found among the checkpoint's variables ([units, V] or [V, units] and [V]); "
                             "convert the training graph's checkpoint instead")
    model = seq2seq_stack.build_model(desc, arrays, conv.forget_bias, feed_previous)
    file = conv.rel("seq2seq", f"{info.name}.keras")
    model.save(os.path.join(conv.tmp, file))
    for key in info.names:
        conv.destinations[key] = f"{file} ({info.kind})"
    conv.notes.append(f"seq2seq {info.name}: written as {file} (LegacyStackSeq2SeqModel: {len(desc['encoder_layers'])} "
                      f"layer(s), {len(desc['pool'])} cell weight set(s), output_projection "
                      f"{'in the model' if desc['projection_vars'] else 'outside' if desc['projection'] else 'no'})")
    return {"kind": info.kind, "name": info.name, "scope": desc["user_prefix"] + TOP, "file": file, "legacy": desc,
            "variables": sorted(info.names), "graph": graph, "graph_note": why,
            "load": ("import modern_rnn.seq2seq.legacy_models, tf_keras; "
                     f"m = tf_keras.models.load_model('{file}', safe_mode=True)"),
            "decode": {"teacher_forced": "m({'encoder_inputs': ids [B, Te], 'decoder_inputs': ids [B, Td]}) -> "
                                         "the decoder outputs [B, Td, units or V] (the TF1 output list stacked on "
                                         "axis 1; any bucket's lengths)",
                       "logits": "from_config({**m.get_config(), 'project_outputs': True}) with m's weights: "
                                 "outputs @ w + b (when output_projection's w/b are in the model)"},
            "assumed": {"feed_previous": f"{feed_previous} (read from the first bucket's graph copy)",
                        "initial_state_attention": "False (TF1's default)"}}


def _rebuilt(checkpoint: str, desc: dict, enc: np.ndarray, dec: np.ndarray) -> np.ndarray:
    if desc.get("stack"):
        raise MigrationError("a legacy_seq2seq model with a MultiRNNCell, shared cells or output_projection is "
                             "verified against its .meta graph only; keep the .meta next to the checkpoint")
    import legacy_rnn
    from legacy_rnn.seq2seq import legacy_seq2seq as legacy

    tf = legacy_rnn.tf
    spec = CellSpec.from_dict(desc["spec"])
    reader = tf.train.load_checkpoint(checkpoint)
    with tf.Graph().as_default():
        outputs, _ = legacy.embedding_attention_seq2seq(
            [tf.constant(enc[:, t]) for t in range(enc.shape[1])], [tf.constant(dec[:, t]) for t in range(dec.shape[1])],
            legacy_cell(spec), desc["num_encoder_symbols"], desc["num_decoder_symbols"],
            desc["embedding_size"], desc["num_heads"])
        return np.stack(run_loaded(outputs, lambda var: reader.get_tensor(desc["user_prefix"] + var.op.name)), 1)


def verify_entry(entry: dict, out_dir: str, checkpoint: str, original, seed: int = 0) -> tuple[list, list[str]]:
    from migration.safe_io import confined_path, load_keras_model
    import modern_rnn.seq2seq.models  # noqa: F401
    import modern_rnn.seq2seq.legacy_models  # noqa: F401

    desc, graph = entry["legacy"], entry.get("graph")
    model = load_keras_model(confined_path(out_dir, entry["file"], what="seq2seq model file"))
    rng = np.random.default_rng(seed)
    te, td = (len(graph["encoder_ids"]), len(graph["decoder_ids"])) if graph else (4, 3)
    enc = rng.integers(0, desc["num_encoder_symbols"], (3, te)).astype(np.int32)
    dec = rng.integers(0, desc["num_decoder_symbols"], (3, td)).astype(np.int32)
    got = model({"encoder_inputs": enc, "decoder_inputs": dec}).numpy()
    what, notes, expected, reference = f"seq2seq {entry['name']}", [], None, "rebuilt"
    if original is not None and graph:
        feeds = {t: enc[:, k] for k, t in enumerate(graph["encoder_ids"])}
        feeds.update({t: dec[:, k] for k, t in enumerate(graph["decoder_ids"])})
        expected = run_original(lambda: np.stack(original.run(graph["outputs"], feeds), 1), what, notes)
        reference = "original-graph" if expected is not None else reference
    else:
        run_original(None, what, notes, entry.get("graph_note"))
    if expected is None:
        expected = _rebuilt(checkpoint, desc, enc, dec)
    diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
    return [Check(what, "teacher-forced logits", diff, list(expected.shape), reference)], notes
