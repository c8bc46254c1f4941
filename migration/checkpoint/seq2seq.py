"""seq2seq checkpoints through ``rnn-migrate inspect/convert/verify``: recognition, the Keras model, the checks.

* :func:`take` (called by :func:`migration.checkpoint.recognize.recognize` before the RNN cells are grouped): every
  ``tf.contrib.seq2seq`` ``AttentionWrapper`` (:func:`migration.seq2seq_converters.recognize_seq2seq`) consumes its
  variables (memory_layer, mechanism, attention_layer, the wrapped cell) and becomes a :class:`Seq2SeqInfo`; a
  ``legacy_seq2seq.embedding_attention_seq2seq`` scope consumes its whole scope (:mod:`.seq2seq_legacy`); a bare
  ``attention_decoder`` is reported and refused by ``convert``.
* :func:`migration.checkpoint.seq2seq_graph.locate` finds the decoder in the ``.meta`` graph, by structure.
* :func:`convert_entry` writes ``seq2seq/<name>.keras`` (:class:`modern_rnn.seq2seq.models.AttentionDecoderModel`);
  with ``--with-optimizer`` also the weights' optimizer slots, converted like the weights (:func:`convert_slots`), so
  training resumes in Keras (:func:`migration.checkpoint.optimizer.seq2seq_slots`).
* :func:`verify_entry` runs the ORIGINAL graph in the sandbox, fed random memory / ragged lengths / ids (and the
  encoder state when the decoder starts from one) at those tensors, and compares its logits with the Keras model's
  (reference ``original-graph``); without a usable ``.meta`` it compares with a TF1 graph rebuilt from
  :mod:`legacy_rnn.seq2seq` (reference ``rebuilt``, weaker). Greedy ids are compared with the graph's own greedy
  decoder when it has one (``original-graph``); otherwise greedy, and always beam-search, ids with rebuilt TF1
  inference graphs (``rebuilt``).

Hyper-parameters the checkpoint does not hold are read from the ``.meta`` or listed in ``assumed``
(``cell_input_fn``, ``probability_fn``, ``score_mask_value``; ``output_attention`` when the projection's shape
cannot tell). Decode-time options (beam width, length penalty, maximum iterations) are not part of a training graph:
the manifest says so and :meth:`AttentionDecoderModel.beam_search` takes them as arguments.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Optional

import numpy as np

from migration.checkpoint.checks import Check
from migration import seq2seq_converters as s2c
from migration.checkpoint import seq2seq_legacy
from migration.checkpoint.seq2seq_base import Seq2SeqInfo, write_slots
from migration.checkpoint.seq2seq_graph import DecoderGraph, locate, read_output_attention, run_original
from migration.core.errors import MigrationError
from migration.graph.limits import SandboxLimit
from migration.graph.seq2seq_feeds import decoder_feeds, graph_feeds
from migration.core.specs import CellSpec
from migration.families import keras_cell, legacy_cell


ASSUMED_ALWAYS = {
    "cell_input_fn": "concat([inputs, attention]) (TF1's default; a custom cell_input_fn is a Python lambda, not in "
                     "the graph's names)",
    "probability_fn": "softmax (TF1's default)",
    "score_mask_value": "-inf (TF1's default; matters only for padded memory steps)",
}


# -- recognition ------------------------------------------------------------------------------------------------------

def take(r) -> list[Seq2SeqInfo]:
    """Consume the seq2seq variables of recognizer ``r`` (:class:`migration.checkpoint.recognize.Recognizer`)."""
    import re

    # an AttnW_k that is not a [1, 1, A, A] convolution kernel is not legacy_seq2seq's: leave it to the other rules
    free = {k: r.vs[k].shape for k in r.free()
            if not (re.fullmatch(r"(?:.*/)?AttnW_\d+", k) and len(r.vs[k].shape) != 4)}
    if not any("AttnW_" in k for k in free) and not s2c.wrapper_scopes(free):
        return []
    try:
        blocks = s2c.recognize_seq2seq(free)
    except MigrationError as exc:  # named: the checkpoint too, not only its scope
        raise MigrationError(f"Cannot convert {r.prefix!r}: {exc}") from None
    except (IndexError, KeyError, TypeError) as exc:  # a name of the table with a shape no TF1 program writes
        raise MigrationError(f"Checkpoint {r.prefix!r}: seq2seq variables with inconsistent names or shapes ({exc!r}). "
                             "The checkpoint is not a tf.contrib.seq2seq / "
                             "legacy_seq2seq model as TF 1.15 writes it.") from None
    infos: list[Seq2SeqInfo] = []
    for block in blocks:
        if isinstance(block, s2c.AttentionWrapperBlock):
            where = block.stack_prefix.rsplit("multi_rnn_cell/", 1)[0] if block.stack_units else block.prefix
            name = "decoder" if not where.strip("/") else where.strip("/").replace("/", "_")
            scopes = ([(key.rsplit("/", 1)[0], key.rsplit("/", 1)[1]) for key in block.cell_keys()]
                      if block.stack_units else [(block.scope.rstrip("/"), rel) for rel in block.cell_scopes()])
            specs = [r.spec_for(block.cell_kind, layer.units, False, None, scope, rel, f"{scope}/{rel}")
                     for layer, (scope, rel) in zip(block.layer_specs(), scopes)]
            spec, sources = specs[block.stack_index]  # the wrapped layer (the query); every layer's hyper-parameters
            # must agree (stack_index -1: the top layer of an AttentionWrapper(MultiRNNCell))
            info = Seq2SeqInfo("contrib.seq2seq.AttentionWrapper", name, block, spec, sources)
            differ = sorted({k for s, _ in specs for k, v in s.to_dict().items() if k != "units"
                             and v != spec.to_dict().get(k)})
            if differ:
                info.problem = (f"the layers of the MultiRNNCell of {block.scope!r} have different "
                                f"{differ} in the .meta; convert them with migration.converters.cell_to_keras")
            for key in block.names:
                r.take(key, f"seq2seq {block.scope}: {s2c.table_row(key).meaning if s2c.table_row(key) else key}")
        else:
            try:
                desc, problem, names = seq2seq_legacy.read(r, block)
            except (IndexError, KeyError, TypeError) as exc:
                desc, names = None, list(block.names)
                problem = f"an embedding_attention_seq2seq scope with missing or misshapen variables ({exc!r})"
            name = (desc["user_prefix"] + "embedding_attention_seq2seq" if desc else
                    block.prefix.strip("/") or "attention_decoder").replace("/", "_")
            kind = "legacy_seq2seq.embedding_attention_seq2seq" if desc else "legacy_seq2seq.attention_decoder"
            info = Seq2SeqInfo(kind, name, block, problem=problem, legacy=desc, names=tuple(sorted(names)))
            if desc:
                info.spec, info.hyper_sources = CellSpec.from_dict(desc["spec"]), dict(desc["hyper_sources"])
            for key in names:
                r.take(key, f"seq2seq {block.prefix or '(root)'}: {kind}")
        infos.append(info)
    return infos


def legacy_cells_problem(infos: list[Seq2SeqInfo], blocks) -> list[Seq2SeqInfo]:
    """The cells of a legacy_seq2seq model (under the attention_decoder's prefix) belong to that model: mark them."""
    for info in infos:
        if info.kind.startswith("legacy_seq2seq"):
            prefix = info.block.prefix.split("embedding_attention_decoder/")[0].split("attention_decoder/")[0]
            inside = [b.scope for b in blocks if prefix and b.scope.startswith(prefix.rstrip("/"))]
            if inside:
                info.problem += f"; its RNN cells {inside} are reported as RNN blocks but belong to this model"
    return infos


# -- the Keras model --------------------------------------------------------------------------------------------------

def wrapped_keras_cell(block: s2c.AttentionWrapperBlock, spec: CellSpec):
    """The Keras cell an :class:`AttentionWrapper` wraps: one cell, or ``StackedRNNCells`` of one per TF1
    ``MultiRNNCell`` layer (``spec``: the top layer's, with the hyper-parameters every layer shares); for a mixed
    stack, every layer's cell (the wrapper's at ``block.stack_index``)."""
    from modern_rnn import keras

    cells = [keras_cell(dataclasses.replace(spec, units=layer.units), size)
             for layer, size in zip(block.layer_specs(), block.layer_input_sizes())]
    if block.stack_units:
        return cells
    return keras.layers.StackedRNNCells(cells) if block.layer_units else cells[0]


def build_model(info: Seq2SeqInfo, arrays: dict[str, np.ndarray], output_attention: Optional[bool] = None):
    """An :class:`AttentionDecoderModel` holding the converted weights of ``info`` (``arrays``: checkpoint arrays)."""
    from modern_rnn import seq2seq as ms
    from modern_rnn.seq2seq.attention_stack import AttentionStack
    from modern_rnn.seq2seq.models import AttentionDecoderModel

    block = info.block
    if block.mechanism == "bahdanau":
        mech = ms.BahdanauAttention(block.num_units, normalize=block.normalize)
    else:
        mech = ms.LuongAttention(block.num_units, scale=block.scale)
    cell = wrapped_keras_cell(block, info.spec)
    oa = info.output_attention if output_attention is None else output_attention
    k = block.stack_index
    wrapper = ms.AttentionWrapper(cell[k] if block.stack_units else cell, mech,
                                  attention_layer_size=block.attention_layer_size, alignment_history=False,
                                  output_attention=oa)
    if block.stack_units:
        wrapper = AttentionStack(cell[:k] + cell[k + 1:], wrapper, k)
    vocab = dim = out_size = None
    if info.embedding:
        vocab, dim = arrays[info.embedding].shape
        if dim != block.input_depth:
            raise MigrationError(
                f"the AttentionWrapper {block.prefix!r} reads {block.input_depth}-wide inputs, not the {dim}-wide "
                f"embedding {info.embedding!r} the decoder looks up: the embedding does not feed this decoder's "
                "bottom layer (another structure than AttentionWrapper(cell), AttentionWrapper(MultiRNNCell) or a "
                "MultiRNNCell with attention on one layer)")
    use_bias = True
    if info.projection:
        out_size = arrays[info.projection[0]].shape[1]
        use_bias = info.projection[1] is not None
    tf1 = {"block": dataclasses.asdict(block), "forget_bias": info.spec.forget_bias if info.spec.is_lstm else None,
           "embedding": info.embedding, "projection": list(info.projection) if info.projection else None}
    model = AttentionDecoderModel(wrapper, vocab, dim, out_size, use_bias, tf1=tf1, name=f"seq2seq_{info.name}")
    model.build_weights(block.memory_depth, block.input_depth)
    named = s2c.attention_wrapper_to_keras(arrays, block, info.spec.forget_bias if info.spec.is_lstm else 1.0)
    if info.embedding:
        named["embedding"] = arrays[info.embedding]
    if info.projection:
        named["output_projection/kernel"] = arrays[info.projection[0]]
        if info.projection[1]:
            named["output_projection/bias"] = arrays[info.projection[1]]
    s2c.assign_named(model.named_weights(), named)
    return model


def convert_slots(conv, info: Seq2SeqInfo, keys: set[str]) -> dict[str, dict[str, str]]:
    """``--with-optimizer``: every slot role (Adam ``m``/``v``, ...) of the AttentionWrapper model's weights converted
    exactly like the weights (same layout transforms, ``forget_bias`` 0: a slot is not a bias), saved as
    ``optimizer/<role>/seq2seq/<name>/<weight>.npy``. Returns ``{Keras weight name (named_weights): {role: file}}``
    for :func:`migration.checkpoint.optimizer.seq2seq_slots`; ``{}`` without ``--with-optimizer`` (the slots are
    named as not migrated) or when none of the weights has a slot."""

    def to_keras(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        named = s2c.attention_wrapper_to_keras(arrays, info.block, 0.0)
        if info.embedding in arrays:
            named["embedding"] = arrays[info.embedding]
        if info.projection:
            for part, key in zip(("kernel", "bias"), info.projection):
                if key in arrays:
                    named[f"output_projection/{part}"] = arrays[key]
        return named

    return write_slots(conv, info.name, keys, set(info.block.names), to_keras)


def block_from_dict(d: dict) -> s2c.AttentionWrapperBlock:
    return s2c.AttentionWrapperBlock(**{**d, "names": tuple(d["names"]),
                                        **{k: tuple(d.get(k) or ()) for k in ("layer_units", "stack_units",
                                                                                "stack_inputs")}})


def tf1_arrays(model) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """An :class:`AttentionDecoderModel`'s weights under the TF1 names recorded in its config (for ``export``)."""
    meta = model.tf1
    if meta.get("legacy"):
        return seq2seq_legacy.tf1_arrays(model)
    if not meta.get("block"):
        raise MigrationError(f"Keras model {model.name!r} records no TF1 names (config 'tf1'); it was not written by "
                             "`rnn-migrate convert`.")
    block = block_from_dict(meta["block"])
    named = {k: v.numpy() for k, v in model.named_weights().items()}
    fb = meta.get("forget_bias")
    out = s2c.attention_wrapper_to_tf1(named, block, fb if fb is not None else 1.0)
    sources = {k: f"{model.name}: AttentionWrapper {block.scope}" for k in out}
    if meta.get("embedding"):
        out[meta["embedding"]] = named["embedding"]
        sources[meta["embedding"]] = f"{model.name}: embedding"
    if meta.get("projection"):
        kernel, bias = meta["projection"]
        out[kernel] = named["output_projection/kernel"]
        sources[kernel] = f"{model.name}: output_projection kernel"
        if bias:
            out[bias] = named["output_projection/bias"]
            sources[bias] = f"{model.name}: output_projection bias"
    return out, sources


def manifest_entry(info: Seq2SeqInfo, file: str, graph: Optional[DecoderGraph], why: str) -> dict[str, Any]:
    entry = info.to_dict()
    entry.update({
        "file": file,
        "graph": dataclasses.asdict(graph) if graph else None,
        "graph_note": why,
        "load": ("import modern_rnn.seq2seq.models, tf_keras; "
                 f"m = tf_keras.models.load_model('{file}', safe_mode=True)"),
        "decode": {
            "teacher_forced": "m({'decoder_inputs': ids [B, T], 'memory': [B, S, M], 'memory_sequence_length': [B]})"
                              " -> logits [B, T, V] (TrainingHelper + BasicDecoder + dynamic_decode)",
            "greedy": "m.greedy(memory, lengths, start_tokens, end_token, maximum_iterations) -> (ids, lengths)",
            "beam": "m.beam_search(memory, lengths, start_tokens, end_token, beam_width, maximum_iterations, "
                    "length_penalty_weight) -> (predicted_ids [B, T, W], lengths)",
            "decode_time_options": "beam_width, length_penalty_weight, maximum_iterations, start/end tokens are not "
                                   "in a training checkpoint or graph: pass your TF1 program's values",
        },
        "assumed": {**ASSUMED_ALWAYS, **info.assumed},
    })
    return entry


# -- verification -----------------------------------------------------------------------------------------------------

def keras_cell_state(entry: dict, state: list) -> list:
    """The TF1 initial cell state tensors (``(c, h)`` per layer, flattened) -> the wrapped Keras cell's state
    (``[h, c]``; one such list per layer for a ``StackedRNNCells``)."""
    from migration.converters import tf1_state_to_keras

    spec = CellSpec.from_dict(entry["cell_spec"])
    if not entry["block_shapes"].get("layer_units") and not entry["block_shapes"].get("stack_units"):
        return tf1_state_to_keras(spec, state)
    n = 2 if spec.is_lstm else 1
    return [tf1_state_to_keras(spec, state[k:k + n]) for k in range(0, len(state), n)]


def _tf1_cell_state(entry: dict, state: list, spec: CellSpec):
    """The same state as the TF1 cell takes it (``LSTMStateTuple`` per layer, a tuple of them for a MultiRNNCell)."""
    import legacy_rnn

    n = 2 if spec.is_lstm else 1
    layers = [legacy_rnn.v1.nn.rnn_cell.LSTMStateTuple(*state[k:k + n]) if spec.is_lstm else state[k]
              for k in range(0, len(state), n)]
    return tuple(layers) if entry["block_shapes"].get("layer_units") or entry["block_shapes"].get("stack_units") \
        else layers[0]


def _rebuilt_teacher(checkpoint: str, entry: dict, data: dict) -> np.ndarray:
    """Teacher-forced logits of a TF1 graph rebuilt from :mod:`legacy_rnn.seq2seq` with our reading (weaker)."""
    return _rebuilt(checkpoint, entry, data, "teacher")


def _rebuilt(checkpoint: str, entry: dict, data: dict, mode: str, beam_width: int = 3, max_iter: int = 6,
             end: int = 1) -> Any:
    import legacy_rnn
    from legacy_rnn import seq2seq as ls

    tf, v1 = legacy_rnn.tf, legacy_rnn.v1
    block = block_from_dict(entry["block_shapes"])
    spec = CellSpec.from_dict(entry["cell_spec"])
    reader = tf.train.load_checkpoint(checkpoint)
    batch = data["memory"].shape[0]
    with tf.Graph().as_default():
        memory, lengths = tf.constant(data["memory"]), tf.constant(data["lengths"])
        if mode == "beam":
            memory, lengths = ls.tile_batch(memory, beam_width), ls.tile_batch(lengths, beam_width)
        with v1.variable_scope("mem"):
            cls = ls.BahdanauAttention if block.mechanism == "bahdanau" else ls.LuongAttention
            opt = {"normalize": block.normalize} if block.mechanism == "bahdanau" else {"scale": block.scale}
            mech = cls(block.num_units, memory, memory_sequence_length=lengths, **opt)
        cell = legacy_cell(spec)
        if block.layer_units:
            cell = v1.nn.rnn_cell.MultiRNNCell([legacy_cell(dataclasses.replace(spec, units=u))
                                                for u in block.layer_units])
        wrapper = ls.AttentionWrapper(cell, mech, attention_layer_size=block.attention_layer_size,
                                      output_attention=entry["output_attention"])
        layers = [legacy_cell(dataclasses.replace(spec, units=u)) for u in block.stack_units]
        if layers:  # a MultiRNNCell with the wrapper as one layer
            layers[block.stack_index] = wrapper
            wrapper = v1.nn.rnn_cell.MultiRNNCell(layers)
        emb = v1.get_variable("emb", reader.get_tensor(entry["embedding"]).shape) if entry["embedding"] else None
        proj = None
        if entry["projection"]:
            kernel, bias = entry["projection"]
            proj = v1.layers.Dense(reader.get_tensor(kernel).shape[1], use_bias=bias is not None, name="proj")
        if mode == "teacher":
            x = tf.nn.embedding_lookup(emb, data["ids"]) if emb is not None else tf.constant(data["ids"])
            helper = ls.TrainingHelper(x, tf.fill([batch], data["ids"].shape[1]))
            init = wrapper.zero_state(batch, tf.float32)
            if data.get("state"):
                st = _tf1_cell_state(entry, [tf.constant(a) for a in data["state"]], spec)
                init = (tuple(z.clone(cell_state=c) if k == block.stack_index else c for k, (z, c) in
                              enumerate(zip(init, st))) if block.stack_units else init.clone(cell_state=st))
            dec = ls.BasicDecoder(wrapper, helper, init, proj)
            out, _, _ = ls.dynamic_decode(dec, scope="dec")
            fetch = out.rnn_output
        elif mode == "greedy":
            helper = ls.GreedyEmbeddingHelper(emb, tf.fill([batch], 0), end)
            dec = ls.BasicDecoder(wrapper, helper, wrapper.zero_state(batch, tf.float32), proj)
            out, _, lengths_out = ls.dynamic_decode(dec, maximum_iterations=max_iter, scope="dec")
            fetch = out.sample_id
        else:
            dec = ls.BeamSearchDecoder(wrapper, emb, tf.fill([batch], 0), end,
                                       wrapper.zero_state(batch * beam_width, tf.float32), beam_width,
                                       output_layer=proj)
            out, _, _ = ls.dynamic_decode(dec, maximum_iterations=max_iter, scope="dec")
            fetch = out.predicted_ids
        with v1.Session() as sess:
            for var in v1.global_variables():
                name = var.op.name
                if name.startswith("mem/"):
                    key = block.memory_layer
                elif name == "emb":
                    key = entry["embedding"]
                elif name.startswith("dec/proj/"):
                    key = entry["projection"][0 if name.endswith("kernel") else 1]
                elif block.stack_units:  # .../multi_rnn_cell/cell_<k>/attention_wrapper/...: the user's scopes
                    rel = name.split("multi_rnn_cell/", 1)[1]
                    key = block.stack_prefix + rel.replace("/attention_wrapper/", f"/{block.wrapper_name}/", 1)
                else:
                    key = block.scope + name.split("attention_wrapper/", 1)[1]
                var.load(reader.get_tensor(key), sess)
            return sess.run(fetch)


def verify_entry(entry: dict, out_dir: str, checkpoint: str, original, seed: int = 0) -> tuple[list, list[str]]:
    """Checks (:class:`migration.checkpoint.checks.Check`) and notes for one manifest ``seq2seq`` entry."""
    if entry.get("legacy"):
        return seq2seq_legacy.verify_entry(entry, out_dir, checkpoint, original, seed)
    from migration.safe_io import confined_path, load_keras_model
    import modern_rnn.seq2seq.models  # noqa: F401  (registers AttentionDecoderModel)

    model = load_keras_model(confined_path(out_dir, entry["file"], what="seq2seq model file"))
    data = decoder_feeds(entry, model.vocab_size if model.embedding is not None else None, seed)
    inputs = {"decoder_inputs": data["ids"], "memory": data["memory"], "memory_sequence_length": data["lengths"]}
    if data["state"]:
        inputs["initial_cell_state"] = keras_cell_state(entry, data["state"])
    keras_logits = model(inputs).numpy()
    start = np.zeros(len(data["lengths"]), np.int32)
    decoded = {}
    graph = entry.get("graph")
    in_graph = (graph or {}).get("greedy") if original is not None else None
    if model.embedding is not None:  # every Keras computation before any TF1 graph (v1 layers invalidate Keras ones)
        if in_graph:
            g = in_graph
            keras_greedy = np.asarray(model.greedy(data["memory"], data["lengths"], np.full(len(start), g["start"]),
                                                   g["end"], g["maximum_iterations"])[0])
        else:
            decoded["greedy"] = np.asarray(model.greedy(data["memory"], data["lengths"], start, 1, 6)[0])
        decoded["beam"] = np.asarray(model.beam_search(data["memory"], data["lengths"], start, 1, 3, 6)[0])
    what, notes, checks = f"seq2seq {entry['name']}", [], []
    reference, expected = "rebuilt", None
    if original is not None and graph:
        feeds = graph_feeds(graph, data)
        if in_graph and model.embedding is not None:
            try:
                (graph_ids,) = original.run([in_graph["ids"]], feeds)
                graph_ids = graph_ids.T if in_graph["time_major"] else graph_ids
                same = graph_ids.shape == keras_greedy.shape and bool(np.array_equal(graph_ids, keras_greedy))
                checks.append(Check(f"{what} greedy", "greedy ids (equal)", 0.0 if same else float("inf"),
                                    list(graph_ids.shape), "original-graph"))
                notes.append(f"{what}: greedy ids compared with the graph's own GreedyEmbeddingHelper decoder (start "
                             f"{in_graph['start']}, end {in_graph['end']}, maximum_iterations "
                             f"{in_graph['maximum_iterations']}, read from the .meta)")
            except SandboxLimit:
                raise
            except Exception as exc:  # noqa: BLE001
                notes.append(f"{what}: the graph's greedy decoder could not be run ({exc})")
                decoded["greedy"] = np.asarray(model.greedy(data["memory"], data["lengths"], start, 1, 6)[0])
        expected = run_original(lambda: original.run([graph["logits"]], feeds)[0], what, notes)
        reference = "original-graph" if expected is not None else reference
    else:
        run_original(None, what, notes, entry.get("graph_note"))
    if expected is None:
        if data["state"]:
            notes.append(f"{what}: the rebuilt TF1 graph starts from the encoder state fed to the Keras model")
        expected = _rebuilt_teacher(checkpoint, entry, data)
    got = keras_logits.reshape(expected.shape) if keras_logits.size == expected.size else keras_logits
    diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
    checks.append(Check(what, "teacher-forced logits", diff, list(expected.shape), reference))
    if decoded:
        for mode, ids in decoded.items():
            ref_ids = _rebuilt(checkpoint, entry, data, mode)
            same = ids.shape == ref_ids.shape and bool(np.array_equal(ids, ref_ids))
            # the model's weights and hyper-parameters were checked against the original graph just above: only
            # the decode loop (ours, with the user's decode-time options) is compared with TF1's rebuilt one here
            checks.append(Check(f"{what} {mode}", f"{mode} ids (equal)", 0.0 if same else float("inf"),
                                list(ref_ids.shape),
                                "decoder-rebuilt" if reference == "original-graph" else "rebuilt"))
        notes.append(f"{what}: {' and '.join(sorted(decoded))} ids compared with TF1 inference graphs rebuilt from "
                     "legacy_rnn.seq2seq on the same weights (the .meta has no such decoder"
                     + (f" ({graph['greedy_note']})" if graph and graph.get("greedy_note") and "greedy" in decoded
                        else "") + "; start token 0, end token 1, beam width 3, 6 steps)")
    return checks, notes


def convert_entry(conv, info: Seq2SeqInfo, original_factory, insp) -> dict[str, Any]:
    """Write ``seq2seq/<name>.keras`` for ``info`` into ``conv.tmp`` (``conv``: the convert step's ``_Converter``)."""
    if info.legacy is not None:
        return seq2seq_legacy.convert_entry(conv, info, original_factory)
    graph, why = None, ""
    if conv.meta is None:
        why = "no .meta next to the checkpoint"
    else:
        try:
            graph = locate(original_factory(), info, insp.dense, insp.embeddings)
        except MigrationError as exc:
            why = f"the decoder was not found in the .meta graph ({exc})"
    read_output_attention(info, conv.reader, info.graph_output_attention)
    keys = set(info.block.names) | ({info.embedding} if info.embedding else set())
    if info.projection:
        keys |= {k for k in info.projection if k}
    arrays = {k: conv.read_weight(k) for k in sorted(keys)}
    if conv.forget_bias is not None and info.spec.is_lstm:
        info.spec = dataclasses.replace(info.spec, forget_bias=float(conv.forget_bias))
        info.hyper_sources["forget_bias"] = "--forget-bias"
    model = build_model(info, arrays)
    file = conv.rel("seq2seq", f"{info.name}.keras")
    model.save(os.path.join(conv.tmp, file))
    for key in keys:
        conv.destinations[key] = f"{file} ({info.kind})"
    slots = convert_slots(conv, info, keys)
    conv.notes.append(f"seq2seq {info.name}: written as {file} (AttentionDecoderModel: teacher forced, greedy, beam "
                      "search); the whole model (model.keras) runs its training decoder loop when the .meta holds it "
                      "(migration.graph.decoder_block)")
    entry = manifest_entry(info, file, graph, why)
    entry["block_shapes"] = dataclasses.asdict(info.block)
    entry["cell_spec"] = info.spec.to_dict()
    if slots:
        entry["slots"] = slots
    return entry


def whole_model_decoders(out_dir: str, entries: list[dict]) -> tuple:
    """(manifest entry, AttentionDecoderModel loaded from ``out_dir``) of every ``tf.contrib.seq2seq`` decoder found
    in the .meta: the whole model runs their training loops (:mod:`migration.graph.decoder_block`)."""
    from migration.safe_io import confined_path, load_keras_model
    import modern_rnn.seq2seq.models  # noqa: F401  (registers AttentionDecoderModel)

    return tuple((e, load_keras_model(confined_path(out_dir, e["file"], what="seq2seq model file")))
                 for e in entries if not e.get("legacy") and e.get("graph"))


def format_lines(entries: list[dict]) -> list[str]:
    """``rnn-migrate inspect``'s human-readable seq2seq section."""
    lines = ["seq2seq blocks:"]
    for e in entries:
        if e["kind"].startswith("contrib"):
            option = f"normalize={e['normalize']}" if e["mechanism"] == "bahdanau" else f"scale={e['scale']}"
            spec = e.get("cell_spec") or {}
            fb = f", forget_bias={spec.get('forget_bias')} ({e['hyper_sources'].get('forget_bias')})" \
                if spec.get("kind") in ("lstm", "basic_lstm") else ""
            lines.append(f"  {e['scope']:<24} AttentionWrapper: {e['mechanism']}({e['num_units']}, {option}), "
                         f"memory_layer={e['memory_layer']} (memory depth {e['memory_depth']}), "
                         f"attention_layer_size={e['attention_layer_size']}")
            layers = f" (MultiRNNCell layers {e['layer_units']})" if e.get("layer_units") else ""
            if e.get("stack"):
                layers = (f"; one layer of MultiRNNCell {e['stack']['scope']} (layers {e['stack']['units']}, "
                          f"attention on cell_{e['stack']['attention_layer']})")
            lines.append(f"    cell {e['cell']} units={e['cell_units']}{layers}{fb}, decoder input depth "
                         f"{e['decoder_input_depth']}")
        elif e.get("legacy"):
            d = e["legacy"]
            fb = f", forget_bias={d['spec'].get('forget_bias')} ({d['hyper_sources'].get('forget_bias')})" \
                if d["kind"] == "basic_lstm" else ""
            lines.append(f"  {d['user_prefix'] + 'embedding_attention_seq2seq/':<24} legacy_seq2seq "
                         f"embedding_attention_seq2seq: heads={e['num_heads']}, attn_size={e['attn_size']}")
            lines.append(f"    cell {d['kind']} units={d['units']}{fb}; symbols in {d['num_encoder_symbols']}, out "
                         f"{d['num_decoder_symbols']}; embedding size {d['embedding_size']}")
        else:
            lines.append(f"  {e['scope'] or '(root)':<24} legacy_seq2seq attention_decoder: heads={e['num_heads']}, "
                         f"attn_size={e['attn_size']}")
        lines.append(f"    variables: {len(e['variables'])}; Keras: {e['keras']}")
        if e["problem"]:
            lines.append(f"    cannot convert: {e['problem']}")
    return lines
