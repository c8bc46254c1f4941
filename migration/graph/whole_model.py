"""The whole model: which tensors are its inputs and outputs, test inputs for it, and its translation.

Contract (README, "Checkpoint migration"):

* inputs: the ``Placeholder`` ops the outputs depend on, in graph order (``placeholder_with_default`` ops such as a
  ``keep_prob`` are not inputs: their default is used; dropout is bypassed);
* default outputs: the predictions the training loss consumes, whatever the loss
  (:mod:`migration.graph.model_outputs`), else the logits of every softmax cross-entropy op (read back through the
  loss's own reshapes: ``sequence_loss``'s ``[-1, V]`` view is not the output, its ``[B, T, V]`` input is), else the graph's
  terminal tensors computed from the placeholders with the logits in place of a softmax/argmax of them; a graph
  with a loss and an inference path beside it (a sampler on the same variables) also gets that path's terminal
  predictions (:mod:`migration.graph.inference_outputs`), left out with a note when the sandbox or the translator
  refuses them; ``--outputs NAME[,NAME]`` chooses others;
* the model takes the inputs in that order (one tensor when there is one input) and returns the outputs in order.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Optional, Sequence

import numpy as np

from migration.core.errors import MigrationError, UnknownCellError
from migration.families import family
from migration.graph import raw_rnn
from migration.graph.blocks import BlockTensors, find_loops, locate_block
from migration.graph.decoder_block import decoder_call
from migration.graph.graphdef import SHAPE_OPS, const_value, node_dtype, ref
from migration.graph.inference_outputs import inference_predictions
from migration.graph.legacy_outputs import bucket_outputs
from migration.graph.limits import check_feed, current as current_limits
from migration.graph.model_outputs import (DEQUEUE_OPS, dequeued, dequeued_signature, loss_predictions,
                                           prediction_logits)
from migration.graph.sandbox import SandboxRefusal
from migration.graph.to_keras import BlockCall, ModelTranslator, Untranslatable
from migration.graph.wrapper_check import id_inputs, keras_wrapped_block, manifest_block_keys, wrapped_loop

_XENT = ("SoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits")
_TRAINING_SCOPES = re.compile(r"^(gradients(_\d+)?|save(_\d+)?|init|report_uninitialized|Adam\w*|GradientDescent\w*|"
                              r"Adagrad\w*|RMSProp\w*|Momentum\w*|Ftrl\w*|Adadelta\w*|train\w*|global_step\w*|"
                              r"beta[12]_power\w*|summaries|Merge)(/|$)")


_EXTRA_HOW = "; and the predictions of an inference path beside the loss, which no loss consumes: "


@dataclasses.dataclass
class WholeModelIO:
    inputs: list[str]  # placeholder node names
    outputs: list[str]  # tensor names
    how: str
    #: outputs added beside the loss's predictions (an inference path's: :mod:`migration.graph.inference_outputs`);
    #: dropped again, with a note, when the translation refuses them
    extra: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


#: what a loss function's own ``reshape(logits, [-1, V])`` is named (unnamed: TF's default op names)
_UNNAMED_RESHAPE = re.compile(r"^(Reshape|Identity|Cast|StopGradient)(_\d+)?$")


def xent_logits(og, enclosing: bool = False) -> list[str]:
    """The logits of every softmax cross-entropy op, read back through the reshapes of the op's own name scope.
    ``enclosing``: also through an unnamed ``Reshape``/``Identity``/``Cast`` in a name scope that encloses the op
    (``sequence_loss/Reshape``: ``tf.contrib.seq2seq.sequence_loss`` flattens ``[B, T, V]`` logits to ``[-1, V]``
    before its cross-entropy), so the logits are the ones the program computed, not the loss's flattened view."""
    out = []
    for node in og.index.nodes.values():
        if _TRAINING_SCOPES.match(node.name):
            continue
        parent = node.name.rsplit("/", 1)[0] if "/" in node.name else ""
        # the fused ops, or (with tf.config.experimental.enable_op_determinism) TF's composite form inside the same
        # name scope: -sum(labels * log_softmax(logits))
        composite = node.op == "LogSoftmax" and "cross_entropy" in parent.rsplit("/", 1)[-1].lower()
        if node.op not in _XENT and not composite:
            continue
        scopes = [node.name + "/"] + ([parent + "/"] if parent else [])
        tensor = node.input[0]
        # softmax_cross_entropy_with_logits reshapes its logits inside its own scope: read back through that
        while True:
            producer = og.index.node(ref(tensor)[0])
            if producer is None or producer.op not in ("Reshape", "Identity", "Cast", "StopGradient"):
                break
            outer = enclosing and "/" in producer.name and \
                _UNNAMED_RESHAPE.match(producer.name.rsplit("/", 1)[1]) is not None and \
                node.name.startswith(producer.name.rsplit("/", 1)[0] + "/")
            if not outer and not any(producer.name.startswith(s) for s in scopes):
                break
            tensor = producer.input[0]
        name = f"{ref(tensor)[0]}:{ref(tensor)[1]}"
        if name not in out:
            out.append(name)
    return out


def _placeholders(og, outputs: Sequence[str]) -> list[str]:
    """The model inputs: placeholder node names, and the dequeued tensors (``name:k``) of queue- and tf.data-fed
    graphs (the model starts after the dequeue: :func:`migration.graph.model_outputs.dequeued`)."""
    names, _ = og.index.closure(outputs)
    needed = {n for n in names if og.index.nodes[n].op == "Placeholder"}
    within = set(names)
    out = []
    for node in og.index.graph_def.node:
        if node.name in needed:
            out.append(node.name)
        elif node.name in within and node.op in DEQUEUE_OPS:
            out += dequeued(og.index, node, within)
    return out


#: ops whose result depends on their input's shape only, never on its values: what is computed from a placeholder
#: only through them (``dynamic_rnn``'s unused ``rnn/zeros`` of the batch size) is no model output
_SHAPE_ONLY = SHAPE_OPS | {"ZerosLike", "OnesLike"}


def _reached(index, *, through_shapes: bool) -> set[str]:
    """The forward ops reached from the placeholders (training scopes left out); ``through_shapes=False`` does not
    follow the shape-only ops, so it gives the ops whose values depend on the placeholders' values."""
    seen: set[str] = set()
    todo = [n.name for n in index.graph_def.node if n.op == "Placeholder" and not _TRAINING_SCOPES.match(n.name)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [c.name for c in index.consumers(name) if not _TRAINING_SCOPES.match(c.name)
                 and (through_shapes or c.op not in _SHAPE_ONLY)]
    return seen


def _terminals(og) -> list[str]:
    """Float tensors computed from the placeholders' values that nothing else in the forward graph consumes."""
    index = og.index
    forward = _reached(index, through_shapes=True)
    valued = _reached(index, through_shapes=False)
    out = []
    for node in index.graph_def.node:
        if node.name not in valued or node.op in ("Placeholder", "NoOp", "Assert") or \
                node.op.startswith("Tensor") or "/while/" in node.name:
            continue  # unused loop outputs (final states nobody reads) are not model outputs
        if any(c.name in forward for c in index.consumers(node.name)):
            continue
        dtype = node.attr["T"].type if "T" in node.attr else None
        if dtype in (1, 2, 19):  # float32, float64, float16
            out.append(f"{node.name}:0")
    return out


def default_io(og, outputs: Optional[Sequence[str]] = None) -> WholeModelIO:
    if outputs:
        outs = [o if ":" in o else o + ":0" for o in outputs]
        for o in outs:
            if og.index.node(ref(o)[0]) is None:
                raise MigrationError(f"--outputs: the graph {og.path!r} has no tensor {o!r}")
        how = "chosen with --outputs"
    else:
        outs, _losses = loss_predictions(og.index)
        how = "the logits the loss consumes"
        if _losses and (steps := bucket_outputs(og.index, outs)):
            outs, how = steps, "the first bucket's per-step decoder outputs (legacy_seq2seq attention decoder)"
        if not outs:
            outs, how = xent_logits(og, enclosing=True), "the logits the loss consumes"
        if outs and _losses:
            extra, notes = _sampler_outputs(og, _losses, outs)
            if extra:
                how += _EXTRA_HOW + ", ".join(extra)
            return WholeModelIO(_placeholders(og, outs + extra), outs + extra, how, extra, notes)
        if not outs:
            outs = prediction_logits(og.index, _terminals(og))
            how = "the graph's terminal tensors computed from its placeholders (logits, not softmax/argmax)"
    if not outs:
        raise MigrationError(f"the graph {og.path!r} has no cross-entropy loss and no terminal float tensor computed "
                             "from a placeholder; choose the model outputs with --outputs NAME[,NAME]")
    return WholeModelIO(_placeholders(og, outs), outs, how)


def _sampler_outputs(og, losses: list[str], outs: list[str]) -> tuple[list[str], list[str]]:
    """(the terminal predictions of inference paths beside the loss that the sandbox accepts, notes on the ones it
    refuses): :func:`migration.graph.inference_outputs.inference_predictions`."""
    extra, notes = [], []
    for tensor in inference_predictions(og.index, losses, outs):
        try:
            og.check([tensor], _placeholders(og, [tensor]))
        except SandboxRefusal as exc:
            notes.append(f"the inference path's prediction {tensor!r} is not among the whole model's outputs: {exc}")
            continue
        extra.append(tensor)
    return extra, notes


# -- test inputs ----------------------------------------------------------------------------------------------------

def _int_range(og, name: str, steps: int) -> tuple[int, int, bool]:
    """(low, high, is_length) for an integer placeholder, from what consumes it."""
    index = og.index
    base, k, _ = ref(name)
    seen, frontier = {base}, [base]
    for depth in range(6):
        nxt = []
        for n in frontier:
            for c in index.consumers(n):
                if depth == 0 and ":" in name and not any(ref(i)[:2] == (base, k) for i in c.input):
                    continue  # another output of the dequeue
                if c.name in seen:
                    continue
                seen.add(c.name)
                if c.op in ("GatherV2", "ResourceGather", "Gather") and ref(c.input[1])[0] == n:
                    rows = _rows(og, c.input[0])
                    if rows:
                        return 0, rows, False
                if c.op == "OneHot":
                    depth = index.node(ref(c.input[1])[0])
                    values = np.asarray(const_value(depth)).reshape(-1) if depth is not None and \
                        depth.op == "Const" else np.zeros(0)
                    if values.size == 1 and 0 < values[0] <= 1 << 31:
                        return 0, int(values[0]), False
                if c.name.endswith("/sequence_length") or c.op in ("ReverseSequence", "GreaterEqual", "LessEqual") or \
                        (c.op == "Size" and re.search(r"(^|/)TrainingHelper(_\d+)?/Size$", c.name)) or \
                        re.search(r"(^|/)SequenceMask(_\d+)?/ExpandDims$", c.name):  # a memory_sequence_length
                    # compared with a step counter (raw_rnn's `time >= lengths`), or a seq2seq TrainingHelper's
                    # sequence_length (its Size is the batch): >= 1
                    return 1, steps + 1, True
                if c.op in ("Identity", "Cast", "Reshape", "StridedSlice", "ExpandDims", "Squeeze", "DynamicPartition",
                            "FloorMod", "FloorDiv", "Sub", "Maximum", "Minimum", "ConcatV2"):
                    nxt.append(c.name)
        frontier = nxt
    return 0, 2, False


def _rows(og, tensor: str) -> Optional[int]:
    import tensorflow as tf

    node = og.index.node(ref(tensor)[0])
    for _ in range(6):
        if node is None:
            return None
        if node.op in ("VariableV2", "Variable", "VarHandleOp"):
            src = og.variable_source(node)
            info = og.reader.variables.get(src.key)
            return int(info.shape[0]) if info is not None and len(info.shape) == 2 else None
        if node.op == "Const":
            shape = [d.size for d in node.attr["value"].tensor.tensor_shape.dim]
            return int(shape[0]) if len(shape) == 2 else None
        if not node.input:
            return None
        node = og.index.node(ref(node.input[0])[0])
    del tf
    return None


def _input_signature(og, name: str):
    """(dims with -1 for unknown, dtype) of a model input: a placeholder, or a dequeued tensor ``name:k``."""
    if ":" in name:
        shape, dtype = dequeued_signature(og.index, name)
        if shape is None or dtype is None:
            raise MigrationError(f"the dequeued input {name!r} has an unknown rank: the whole model cannot be checked")
        return [-1 if d is None else d for d in shape], dtype
    shape_attr = og.index.node(name).attr["shape"].shape
    if shape_attr.unknown_rank:
        raise MigrationError(f"placeholder {name!r} has an unknown rank: the whole model cannot be checked")
    return [int(d.size) for d in shape_attr.dim], node_dtype(og.index.node(name))


def sample_feeds(og, inputs: Sequence[str], batch: int = 4, steps: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """Random test inputs for the placeholders: ids within their embedding's rows (an ``EmbeddingWrapper``'s float
    ids too), lengths ragged in [1, T] with one full and one of 1, floats from N(0, 1)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    shapes = {}
    dtypes = {}
    for name in inputs:
        shapes[name], dtypes[name] = _input_signature(og, name)
    # one size for every unknown dimension, so batch dims agree whatever the layout (time-major inputs included):
    # a fixed leading dimension of a rank>=2 input when there is one (seed 002's [4, T]), else ``batch``
    leading = [d[0] for d in shapes.values() if len(d) >= 2 and d[0] > 0]
    unknown = leading[0] if leading else batch
    limits = current_limits()
    for name, dims in shapes.items():  # a shape edited to [?, 10**9]: refused before anything is allocated
        itemsize = dtypes[name].size
        check_feed(name, [unknown if d < 0 else d for d in dims], itemsize, limits)
    fixed = [v for d in shapes.values() if len(d) >= 2 for v in d[:2] if v > 0]
    max_length = min([unknown] + fixed)
    ids = id_inputs(og) if any(dtypes[n].is_floating for n in inputs) else {}
    for name in inputs:
        dtype = dtypes[name]
        if name in ids:  # an EmbeddingWrapper's ids, fed as floats: valid rows only
            feeds[name] = rng.integers(0, ids[name], [unknown if d < 0 else d for d in shapes[name]]).astype(
                dtype.as_numpy_dtype)
            continue
        shape = [unknown if d < 0 else d for d in shapes[name]]
        time_steps = max_length
        if dtype.is_integer:
            low, high, is_length = _int_range(og, name, time_steps)
            value = rng.integers(low, high, shape)
            if is_length and value.size:
                value.flat[0] = high - 1
                if value.size > 1:
                    value.flat[1] = 1
            feeds[name] = value.astype(dtype.as_numpy_dtype)
        elif dtype.is_floating:
            feeds[name] = rng.normal(0.0, 1.0, shape).astype(dtype.as_numpy_dtype)
        elif dtype.is_bool:
            feeds[name] = np.zeros(shape, bool)
        else:
            raise MigrationError(f"placeholder {name!r} has dtype {dtype.name}: no test input can be made for it")
    return feeds


# -- translation ------------------------------------------------------------------------------------------------

def locate(og, loops, block: dict) -> BlockTensors:
    keys, n_states = manifest_block_keys(block)
    raw = {shadow: key for key, shadow in og.substitute.items()}  # the graph reads the raw variables, not shadows
    keys = {d: {raw.get(k, k) for k in ks} for d, ks in keys.items()}
    where = locate_block(og, loops, keys, n_states)
    wanted = _input_parts(block)
    if wanted != {len(where.parts) or 1}:
        raise MigrationError(f"block {block.get('name')!r}: its dynamic_rnn reads {len(where.parts) or 1} input "
                             f"tensor(s) {list(where.parts) or [where.x]}, its cells take {sorted(wanted)}")
    return where


def _input_parts(block: dict) -> set[int]:
    """How many input tensors the block's cells take (``Family.input_parts``; 1 for a kind without a row)."""
    parts = set()
    for cell in block.get("cells", ()):
        try:
            parts.add(family(cell["spec"]["kind"]).input_parts)
        except (KeyError, UnknownCellError):
            parts.add(1)
    return parts or {1}


def build_whole_model(og, blocks: Sequence[tuple[dict, Any]], io: WholeModelIO,
                      conv_blocks: Sequence[tuple[dict, Any]] = (), decoders: Sequence[tuple[dict, Any]] = ()):
    """Translate (see :mod:`migration.graph.to_keras`). ``blocks``: (manifest block entry, Keras block model);
    ``conv_blocks``: the same for ConvLSTM blocks (:mod:`migration.checkpoint.conv_blocks`); ``decoders``: (manifest
    seq2seq entry, its AttentionDecoderModel) for ``tf.contrib.seq2seq`` training decoders
    (:mod:`migration.graph.decoder_block`). Returns ``(model, translator, block_notes)``; raises
    :class:`Untranslatable`."""
    loops = find_loops(og)
    calls, notes = [], []
    for entry, model in decoders:
        try:
            calls.append(decoder_call(og, loops, entry, model))
        except MigrationError as exc:
            notes.append(f"seq2seq {entry['name']}: {exc}")
    for entry, model in conv_blocks:
        keys = {k for k in (entry["kernel"], entry["biases"]) if k}
        hits = [loop for loop in loops if keys <= loop.variables and not loop.problems]
        if len(hits) == 1:
            loop = hits[0]
            calls.append(BlockCall(model, loop.x, loop.sequence_length, loop.time_major,
                                   [loop.outputs] + loop.states(2), 1, entry["name"]))
        else:
            notes.append(f"conv block {entry['name']}: {len(hits)} while loops of the graph read its kernel")
    for entry, model in blocks:
        try:
            t = locate(og, loops, entry)
        except MigrationError as exc:
            decoder = _raw_rnn_call(og, loops, entry, model, notes)
            if decoder is not None:
                calls.append(decoder)
                continue
            wrapped = wrapped_loop(loops, entry)  # Output/InputProjectionWrapper, EmbeddingWrapper around the cell
            if wrapped is None:
                notes.append(f"block {entry['name']}: {exc}")
                continue
            loop, roles, n_states = wrapped
            calls.append(BlockCall(keras_wrapped_block(og, loop, roles, model), loop.x, loop.sequence_length,
                                   loop.time_major, [loop.outputs] + loop.states(n_states), 1, entry["name"]))
            continue
        calls.append(BlockCall(model, t.x, t.sequence_length, t.time_major, t.outputs, t.sequences, entry["name"],
                               parts=list(t.parts)))
    return _translate(og, calls, io, notes + io.notes)


def _translate(og, calls: list, io: WholeModelIO, notes: list[str]):
    """``(model, translator, notes)``. When the translation refuses an output added beside the loss's predictions
    (``io.extra``: one whose closure holds a blocker, else all of them), the model without it, with a note; ``io``
    is updated in place (the manifest reads it)."""
    translator = ModelTranslator(og, calls)
    try:
        model = translator.translate(io.inputs, io.outputs)
    except Untranslatable as exc:
        if io.extra:  # an inference path's predictions (not what the loss consumes): the model without them
            blockers = {name for name, _op in exc.blockers}
            drop = [o for o in io.extra if blockers & set(og.index.closure([o])[0])] or list(io.extra)
            outs = [o for o in io.outputs if o not in drop]
            io.inputs, io.outputs, io.extra = _placeholders(og, outs), outs, [o for o in io.extra if o not in drop]
            io.how = io.how.split(_EXTRA_HOW)[0] + (_EXTRA_HOW + ", ".join(io.extra) if io.extra else "")
            shown = ", ".join(f"{n!r} ({op})" for n, op in exc.blockers[:4])
            notes.append(f"the inference path's predictions {', '.join(drop)} are not among the whole model's "
                         f"outputs: ops on their path have no Keras translation ({shown}); the model was written "
                         "without them")
            return _translate(og, calls, io, notes)
        # why a loop stayed a blocker: a raw_rnn or seq2seq decoder the translation could not claim
        exc.args = ("; ".join([str(exc)] + [n for n in notes if "raw_rnn" in n or n.startswith("seq2seq ")]),)
        raise
    except MigrationError as exc:
        if not io.extra:
            raise
        outs = [o for o in io.outputs if o not in io.extra]  # the model the loss's predictions alone give
        notes.append(f"the inference path's predictions {', '.join(io.extra)} are not among the whole model's "
                     f"outputs: {exc}; the model was written without them")
        io.inputs, io.outputs, io.extra, io.how = _placeholders(og, outs), outs, [], io.how.split(_EXTRA_HOW)[0]
        return _translate(og, calls, io, notes)
    if io.extra:
        notes.append(f"whole model: besides the {len(io.outputs) - len(io.extra)} tensor(s) the loss consumes, its "
                     "outputs are the terminal predictions of an inference path on the same variables that no loss "
                     f"reads (a sampler): {', '.join(io.extra)}")
    return model, translator, notes


def _raw_rnn_call(og, loops, entry: dict, model, notes: list[str]) -> Optional[BlockCall]:
    """A ``tf.nn.raw_rnn`` decoder loop reading the block's cell, as a :class:`modern_rnn.FeedbackDecoder` call."""
    keys, _ = manifest_block_keys(entry)
    if set(keys) != {""}:
        return None
    try:
        rr = raw_rnn.find(og, loops, keys[""])
        if rr is None:
            return None
        layer = raw_rnn.decoder_layer(og, rr, model, entry["input_size"], f"raw_rnn_{entry['name']}")
    except MigrationError as exc:
        notes.append(f"block {entry['name']}: {exc}")
        return None
    keys = {f"feedback_{attr}": og.variable_source(v).key
            for attr, v in (("kernel", rr.kernel), ("bias", rr.bias), ("embeddings", rr.embeddings)) if v is not None}
    return BlockCall(layer, rr.first_input, None, True, rr.outputs, 1, entry["name"], raw_rnn.layer_inputs(rr),
                     weight_keys=keys)
