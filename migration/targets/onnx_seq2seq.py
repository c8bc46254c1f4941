"""``convert --target onnx`` for the ``tf.contrib.seq2seq`` attention decoders: ``seq2seq/<name>.onnx`` per
:class:`~modern_rnn.seq2seq.models.AttentionDecoderModel` the conversion wrote, and the whole model's
``TeacherForcedDecoder`` layers as ONNX nodes (the step itself: :mod:`migration.targets.onnx_attention`).

* :func:`decoder_spec` reads the Keras 2 twin (an ``AttentionWrapper`` or ``AttentionStack`` and its cells, the
  output layer): the very arrays the Keras 2 file holds, so no second converter can drift.
* :func:`write_decoders` writes ``seq2seq/<name>.onnx``: the teacher-forced logits (TF1's ``TrainingHelper`` +
  ``BasicDecoder`` + ``dynamic_decode``), inputs ``decoder_inputs`` (int32 ids ``[B, T]``, or float32 ``[B, T, D]``
  when the decoder has no embedding), ``memory [B, S, M]``, ``memory_sequence_length`` int32 ``[B]`` and, when the
  graph's decoder starts from a state it is fed (an encoder's), ``initial_state_<k>`` in TF1's flat order (``c, h``
  per LSTM layer); output ``logits [B, T, V]``.
* :func:`verify_decoders` runs each file on the inputs the Keras 2 check feeds
  (:func:`migration.graph.seq2seq_feeds.decoder_feeds`) against the ORIGINAL graph's logits (sandbox), tolerance
  1e-5; without a ``.meta`` (or a decoder the graph does not expose) against the Keras 2 model, saying so.
* :func:`whole_decoders`: the whole model's ``TeacherForcedDecoder`` layers for
  :class:`~migration.targets.whole.OnnxWhole` (the decoder runs ``max(lengths)`` steps: the inputs are sliced to it,
  a ``Scan`` over the slice; ``impute_finished``: ``Where`` on each row's length).

Greedy decoding (:mod:`migration.targets.onnx_greedy`, ``<name>.greedy.onnx``) and beam search
(:mod:`migration.targets.onnx_beam`, ``<name>.beam.onnx``) are written for every decoder with its embedding.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional

import numpy as np

from migration.graph.limits import SandboxLimit
from migration.graph.seq2seq_feeds import decoder_feeds, graph_feeds
from migration.targets.glue import NotExportable
from migration.targets.onnx_attention import (GRU_KIND, LSTM_KIND, RNN_KIND, AttentionLayer, CellLayer, DecoderSpec,
                                              decode)
from migration.targets.onnx_graph import Graph
from migration.targets import onnx_beam, onnx_greedy
from migration.targets.verify_targets import TargetCheck, compare
from migration.targets.weights import ACTIVATIONS

SUFFIX = ".onnx"
KIND = "contrib.seq2seq.AttentionWrapper"
GREEDY = " greedy"  # the key of a decoder's greedy file in write_decoders' result: "<name> greedy"
BEAM = " beam"  # ... and of its beam-search file: "<name> beam"
NOT_EXPORTED = ("greedy and beam-search decoding: the decoder has no embedding (it is fed vectors, not token ids), "
                "so there are no ids to feed back; the Keras 2 model has no greedy / beam_search either")
BEAM_CHECK = (0, 1, 3, 6, 0.0)  # start token, end token, beam width, maximum_iterations, length_penalty_weight
_CELLS = {"LSTMCell": LSTM_KIND, "GRUCell": GRU_KIND, "SimpleRNNCell": RNN_KIND}


def takes(info) -> bool:
    """True for a seq2seq entry (a manifest dict or a :class:`~migration.checkpoint.seq2seq_base.Seq2SeqInfo`) this
    target exports: a ``tf.contrib.seq2seq`` AttentionWrapper decoder the Keras 2 conversion takes."""
    get = info.get if isinstance(info, dict) else lambda k, d=None: getattr(info, k, d)
    return get("kind") == KIND and not get("problem") and not get("legacy")


# -- the Keras 2 twin -> DecoderSpec -----------------------------------------------------------------------------------

def _cell(cell) -> CellLayer:
    cls = type(cell).__name__
    if cls not in _CELLS:
        raise NotExportable(f"a wrapped {cls} (the ONNX decoder takes LSTMCell, GRUCell, SimpleRNNCell)")
    cfg = cell.get_config()
    act, rec = cfg.get("activation", "tanh"), cfg.get("recurrent_activation", "sigmoid")
    if act not in ACTIVATIONS or rec != "sigmoid" or not cfg.get("use_bias", True) or cfg.get("reset_after"):
        raise NotExportable(f"a wrapped {cls} with activation {act!r}, recurrent_activation {rec!r}, use_bias "
                            f"{cfg.get('use_bias', True)}, reset_after {cfg.get('reset_after')} (TF1's cells: "
                            f"activation one of {sorted(ACTIVATIONS)}, sigmoid gates, a bias, reset before)")
    kernel, recurrent, bias = (np.asarray(w, np.float32) for w in cell.get_weights())
    return CellLayer(_CELLS[cls], int(cell.units), act, kernel, recurrent, bias)


def _attention(wrapper) -> AttentionLayer:
    mech = wrapper.attention_mechanism
    if wrapper.cell_input_fn != "concat" or mech.probability_fn != "softmax":
        raise NotExportable(f"cell_input_fn {wrapper.cell_input_fn!r}, probability_fn {mech.probability_fn!r}")
    named = {k: v.numpy() for k, v in wrapper.named_weights().items()}
    cells = wrapper.cell.cells if hasattr(wrapper.cell, "cells") else [wrapper.cell]
    layer = AttentionLayer("bahdanau" if type(mech).__name__ == "BahdanauAttention" else "luong",
                           named["memory_layer/kernel"], [_cell(c) for c in cells], bool(wrapper.output_attention),
                           attention_kernel=named.get("attention_layer/kernel"),
                           score_mask_value=mech.score_mask_value)
    if layer.mechanism == "bahdanau":
        layer.query_kernel = named["bahdanau_attention/query_layer/kernel"]
        layer.v = named["bahdanau_attention/attention_v"]
        if mech.normalize:
            layer.g, layer.b = float(named["bahdanau_attention/attention_g"]), named["bahdanau_attention/attention_b"]
    elif mech.scale:
        layer.g = float(named["luong_attention/attention_g"])
    return layer


def decoder_spec(wrapper, projection=None) -> DecoderSpec:
    """The decoder of an ``AttentionWrapper`` / ``AttentionStack`` (Keras 2) and its output ``Dense`` (or None)."""
    layers = wrapper.layers_in_order if hasattr(wrapper, "layers_in_order") else [wrapper]
    spec = DecoderSpec([_attention(layer) if hasattr(layer, "attention_mechanism") else _cell(layer)
                        for layer in layers])
    if projection is not None:
        weights = projection.get_weights()
        if projection.get_config().get("activation", "linear") != "linear":
            raise NotExportable(f"an output layer with activation {projection.get_config()['activation']!r}")
        spec.projection_kernel = np.asarray(weights[0], np.float32)
        spec.projection_bias = np.asarray(weights[1], np.float32) if len(weights) > 1 else None
    return spec


# -- seq2seq/<name>.onnx -----------------------------------------------------------------------------------------------

def build_decoder_file(model, spec: DecoderSpec, n_initial: int, name: str):
    """The ONNX ``ModelProto`` of an AttentionDecoderModel's teacher-forced call (``n_initial``: initial state inputs,
    0 for the zero state)."""
    import onnx
    from onnx import TensorProto, helper

    from migration.targets.onnx_export import OPSET

    g = Graph()
    memory_depth = int(spec.attention.memory_kernel.shape[0])
    inputs = [helper.make_tensor_value_info("memory", TensorProto.FLOAT, ["batch", "memory_time", memory_depth]),
              helper.make_tensor_value_info("memory_sequence_length", TensorProto.INT32, ["batch"])]
    if model.embedding is not None:
        inputs.insert(0, helper.make_tensor_value_info("decoder_inputs", TensorProto.INT32, ["batch", "time"]))
        table = g.const("embedding", np.asarray(model.embedding.get_weights()[0], np.float32))
        x = g.node("Gather", [table, g.node("Cast", ["decoder_inputs"], to=TensorProto.INT64)[0]])[0]
    else:
        depth = int(spec.cells[0].kernel.shape[0] - spec.attention.attention_size) if isinstance(
            spec.layers[0], AttentionLayer) else int(spec.cells[0].kernel.shape[0])
        inputs.insert(0, helper.make_tensor_value_info("decoder_inputs", TensorProto.FLOAT, ["batch", "time", depth]))
        x = "decoder_inputs"
    sizes = [c.units for c in spec.cells for _ in range(c.state_count)]
    given = [f"initial_state_{k}" for k in range(n_initial)]
    inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", size]) for n, size in zip(given, sizes)]
    logits = decode(g, spec, x, "memory", "memory_sequence_length", given, name=f"{name}_step")
    g.node_named("Identity", [logits], ["logits"])
    graph = helper.make_graph(g.nodes, name, inputs,
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                                             ["batch", "time", spec.output_size])],
                              initializer=g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnn-migrate")
    onnx.checker.check_model(proto, full_check=True)
    return proto


def load_decoder(tmp: str, entry: dict):
    """The Keras 2 ``AttentionDecoderModel`` of a manifest entry (safe mode, confined to ``tmp``)."""
    import modern_rnn.seq2seq.models  # noqa: F401  (registers AttentionDecoderModel)
    from migration.safe_io import confined_path, load_keras_model

    return load_keras_model(confined_path(tmp, entry["file"], what="seq2seq model file"))


def initial_count(entry: dict) -> int:
    return len((entry.get("graph") or {}).get("initial_state") or [])


def write_decoders(tmp: str, entries: list[dict], notes: list[str],
                   spec_of: Callable[[Any], DecoderSpec] = lambda m: decoder_spec(m.wrapper, m.projection)
                   ) -> dict[str, str]:
    """Write ``seq2seq/<name>.onnx`` (and ``<name>.greedy.onnx`` when the decoder has its embedding) for every entry
    :func:`takes`; return name (``"<name> greedy"``) -> file (relative to ``tmp``). A decoder the translation cannot
    take gets a note naming why (its Keras 2 file stays)."""
    import onnx

    files = {}
    for entry in entries:
        if not takes(entry):
            continue
        stem, name = os.path.splitext(entry["file"])[0], entry["name"]
        try:
            model = load_decoder(tmp, entry)
            spec = spec_of(model)
            protos = {name: (stem + SUFFIX, build_decoder_file(model, spec, initial_count(entry), f"seq2seq_{name}"))}
            if model.embedding is not None:
                protos[name + GREEDY] = (stem + onnx_greedy.SUFFIX, onnx_greedy.build_greedy_file(
                    model.embedding.get_weights()[0], spec, initial_count(entry), f"seq2seq_{name}_greedy"))
                protos[name + BEAM] = (stem + onnx_beam.SUFFIX, onnx_beam.build_beam_file(
                    model.embedding.get_weights()[0], spec, initial_count(entry), f"seq2seq_{name}_beam"))
        except (NotExportable, ValueError) as exc:
            notes.append(f"onnx: seq2seq {name} not exported ({stem + SUFFIX}): {exc}")
            continue
        for key, (rel, proto) in protos.items():
            onnx.save_model(proto, os.path.join(tmp, rel))
            files[key] = rel
    return files


def not_exported(files: dict[str, str]) -> list[str]:
    """The manifest's ``not_exported`` lines for the decoders written (``files``: :func:`write_decoders`' result)."""
    names = [k for k in files if not k.endswith((GREEDY, BEAM)) and k + BEAM not in files]
    return [f"seq2seq {', '.join(names)}: {NOT_EXPORTED}"] if names else []


def _expected(entry: dict, model, data: dict, original, notes: list[str]) -> tuple[Optional[np.ndarray], str]:
    """(the original graph's logits, "original-graph"), else the Keras 2 model's (weaker, noted)."""
    what, graph = f"seq2seq {entry['name']}", entry.get("graph")
    if original is not None and graph:
        try:
            return np.asarray(original().run([graph["logits"]], graph_feeds(graph, data))[0]), "original-graph"
        except SandboxLimit:
            raise
        except Exception as exc:  # noqa: BLE001 - say so, check against the Keras 2 model
            notes.append(f"onnx: {what}: the original graph could not be run ({exc})")
    if data["state"]:
        return None, "keras2"
    why = "no .meta" if original is None else entry.get("graph_note") or "the decoder is not in the .meta graph"
    notes.append(f"onnx: {what}: {why}, so its ONNX file was compared with the Keras 2 model (weaker: itself "
                 "verified against a TF1 graph rebuilt from the checkpoint)")
    inputs = {"decoder_inputs": data["ids"], "memory": data["memory"], "memory_sequence_length": data["lengths"]}
    return np.asarray(model(inputs)), "keras2"


def run_decoder(path: str, data: dict) -> np.ndarray:
    """``logits`` of a ``seq2seq/<name>.onnx`` on ``data`` (:func:`~migration.graph.seq2seq_feeds.decoder_feeds`)."""
    from migration.targets.onnx_export import session

    feeds = {"decoder_inputs": data["ids"], "memory": data["memory"], "memory_sequence_length": data["lengths"]}
    feeds.update({f"initial_state_{k}": s for k, s in enumerate(data["state"])})
    return session(path).run(["logits"], feeds)[0]


def verify_decoders(entries: list[dict], files: dict[str, str], tmp: str, original: Optional[Callable[[], Any]],
                    seed: int = 0) -> tuple[list[TargetCheck], list[str]]:
    """Every ``seq2seq/<name>.onnx`` against the original graph (``original()``: the sandboxed
    :class:`~migration.graph.reference.OriginalGraph`, None without a ``.meta``) within the tolerance."""
    checks: list[TargetCheck] = []
    notes: list[str] = []
    for entry in entries:
        if entry.get("name") not in files:
            continue
        model = load_decoder(tmp, entry)
        data = decoder_feeds(entry, model.vocab_size if model.embedding is not None else None, seed)
        expected, reference = _expected(entry, model, data, original, notes)
        what = {"name": entry["name"], "what": f"seq2seq {entry['name']}", "outputs": ["logits"]}
        if expected is None:  # a failed check (nothing installed), never an unchecked file
            notes.append(f"onnx: seq2seq {entry['name']}: no reference for its ONNX file (its decoder starts from a "
                         "fed encoder state and the original graph could not be run)")
            checks.append(TargetCheck("onnx", "onnxruntime", what["what"], "logits", float("inf"), [], "none"))
            continue
        got = run_decoder(os.path.join(tmp, files[entry["name"]]), data)
        got = got.reshape(expected.shape) if got.size == expected.size else got
        checks += compare("onnx", "onnxruntime", what, reference, [expected], [got])
        if entry["name"] + GREEDY in files:
            checks += _verify_greedy(entry, model, data, os.path.join(tmp, files[entry["name"] + GREEDY]), original,
                                     notes)
        if entry["name"] + BEAM in files:
            checks += _verify_beam(entry, model, data, os.path.join(tmp, files[entry["name"] + BEAM]), notes)
    return checks, notes


def _verify_greedy(entry: dict, model, data: dict, path: str, original, notes: list[str]) -> list[TargetCheck]:
    """Greedy ids (and lengths) of the ``.greedy.onnx`` file: against the graph's own greedy decoder when the
    ``.meta`` holds one (start / end / maximum_iterations read from it), else against the Keras 2 model's greedy
    decode (start 0, end 1, 6 steps: what convert's Keras 2 check compares with a rebuilt TF1 inference graph)."""
    what = {"name": entry["name"], "what": f"seq2seq {entry['name']} greedy", "outputs": ["sample_id", "lengths"]}
    in_graph = (entry.get("graph") or {}).get("greedy")
    batch = len(data["lengths"])
    if in_graph and original is not None:
        try:
            (ids,) = original().run([in_graph["ids"]], graph_feeds(entry["graph"], data))
        except SandboxLimit:
            raise
        except Exception as exc:  # noqa: BLE001 - say so, check against the Keras 2 model
            notes.append(f"onnx: {what['what']}: the graph's greedy decoder could not be run ({exc})")
        else:
            ids = ids.T if in_graph["time_major"] else ids
            got = onnx_greedy.run_greedy(path, data["memory"], data["lengths"], np.full(batch, in_graph["start"]),
                                         in_graph["end"], in_graph["maximum_iterations"], data["state"])[0]
            return compare("onnx", "onnxruntime", {**what, "outputs": ["sample_id"]}, "original-graph", [ids], [got])
    start, end, steps = np.zeros(batch, np.int32), 1, 6
    ids, lengths = (np.asarray(a) for a in model.greedy(data["memory"], data["lengths"], start, end, steps))
    zeros = [np.zeros_like(s) for s in data["state"]]  # the Keras 2 greedy decode starts from the zero state
    got = onnx_greedy.run_greedy(path, data["memory"], data["lengths"], start, end, steps, zeros)
    notes.append(f"onnx: {what['what']}: the .meta holds no greedy decoder, so the greedy ids were compared with the "
                 "Keras 2 model's greedy decode (start 0, end 1, 6 steps; itself checked against a TF1 inference "
                 "graph rebuilt from legacy_rnn.seq2seq)")
    return compare("onnx", "onnxruntime", what, "keras2", [ids, lengths], list(got))


def _verify_beam(entry: dict, model, data: dict, path: str, notes: list[str]) -> list[TargetCheck]:
    """Beam-search ids and lengths of the ``.beam.onnx`` file against the Keras 2 model's beam search from the zero
    state (:data:`BEAM_CHECK`: what convert's Keras 2 check compares with a TF1 ``BeamSearchDecoder`` rebuilt from
    legacy_rnn.seq2seq; a training ``.meta`` holds no beam decoder, its options are decode-time arguments)."""
    what = {"name": entry["name"], "what": f"seq2seq {entry['name']} beam", "outputs": ["predicted_ids", "lengths"]}
    start_token, end, width, steps, penalty = BEAM_CHECK
    start = np.full(len(data["lengths"]), start_token, np.int32)
    ids, lengths = (np.asarray(a) for a in model.beam_search(data["memory"], data["lengths"], start, end, width, steps,
                                                             length_penalty_weight=penalty))
    zeros = [np.zeros_like(s) for s in data["state"]]  # the Keras 2 beam search starts from the zero state
    got = onnx_beam.run_beam(path, data["memory"], data["lengths"], start, end, width, steps, penalty, zeros)
    notes.append(f"onnx: {what['what']}: the beam-search ids and lengths were compared with the Keras 2 model's beam "
                 f"search (start {start_token}, end {end}, beam width {width}, {steps} steps, length_penalty_weight "
                 f"{penalty}; itself checked against a TF1 BeamSearchDecoder rebuilt from legacy_rnn.seq2seq)")
    return compare("onnx", "onnxruntime", what, "keras2", [ids, lengths], list(got))


# -- the whole model's TeacherForcedDecoder ----------------------------------------------------------------------------

def whole_decoders(k2_model) -> dict[str, Callable]:
    """Keras 2 layer name -> ``translate(glue, inputs)`` for every ``TeacherForcedDecoder`` of the whole model (the
    :class:`~migration.targets.whole.OnnxWhole` hook); a decoder the translation cannot take raises
    :class:`NotExportable` when it is called, naming why."""
    out = {}
    for layer in k2_model.layers:
        if type(layer).__name__ == "TeacherForcedDecoder":
            out[layer.name] = _teacher_forced(layer)
    return out


def _teacher_forced(layer) -> Callable:
    def translate(glue, inputs: list) -> list:
        from migration.targets.onnx_glue import Value

        spec = decoder_spec(layer.wrapper, layer.output_layer)
        g = glue.g
        values = [glue.tensor(v) for v in inputs]
        x, lengths, memory = glue.cast(values[0], "float32"), glue.cast(values[1], "int32"), values[2]
        rest = values[3:]
        memory_lengths = glue.cast(rest[0], "int32").name if layer.memory_lengths else None
        given = [glue.cast(v, "float32").name for v in (rest[1:] if layer.memory_lengths else rest)]
        steps = g.node("Max", [g.node("ReduceMax", [lengths.name], keepdims=1)[0],
                               g.const("zero", np.array([0], np.int32))])[0]
        x_cut = g.node("Slice", [x.name, g.const("starts", np.array([0], np.int64)),
                                 g.node("Cast", [steps], to=7)[0], g.const("axes", np.array([1], np.int64))])[0]
        out = decode(g, spec, x_cut, glue.cast(memory, "float32").name, memory_lengths, given,
                     lengths.name if layer.impute_finished else None, name=f"{layer.name}_step")
        return [Value(out, 3, "float32")]

    return translate
