"""Where a ``tf.contrib.seq2seq`` attention decoder lives in the user's ``.meta`` graph, found by structure.

The training decoder is the ``While`` loop reading the wrapped cell whose outputs a loss consumes; its memory and
``memory_sequence_length`` are the inputs of the masking ``Mul`` before the mechanism's ``memory_layer`` MatMul; its
decoder ids are the indices of the embedding lookup that feeds it; its initial cell state is the first float loop
variables of the ``While`` (``[]`` when they are the wrapper's ``zero_state``); a greedy decoder on the same weights
(``ArgMax`` and an ``Equal`` with the end token in its body, no ``TopKV2``) is located with its tokens. Used by
:mod:`migration.checkpoint.seq2seq`.

Both graph forms are read (:class:`_Loop`): TF 2.x's ``While`` node with a body function (resource variables), and
TF 1.x's ``Enter``/``Exit`` frame in the main graph (reference variables, as TF 1.15 programs wrote their ``.meta``):
the frame's loop variables are its non-constant ``Enter`` inputs (in creation order, which is ``tf.nest`` order, the
``TensorArray`` flows among them), its captured weights the constant ``Enter`` inputs, its outputs the ``Exit``
nodes, and ``maximum_iterations`` the captured scalar a ``Less``/``GreaterEqual`` compares with.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

from migration.checkpoint.seq2seq_base import Seq2SeqInfo
from migration.core.errors import MigrationError
from migration.graph.graphdef import ref
from migration.graph.limits import SandboxLimit
from migration.core.specs import CellSpec

#: what a check against a rebuilt graph cannot catch (the CLI's wording for the weaker reference)
WEAKER = "compared with a TF1 graph rebuilt from our reading instead (weaker: a misread hyper-parameter would pass)"


def run_original(run, what: str, notes: list, graph_note: Optional[str] = None):
    """``run()`` on the user's original graph, or ``None`` with the reason in ``notes`` (a sandbox refusal, a graph we
    fed wrongly, or ``graph_note`` when there is no graph to run: ``run`` is then ``None``); the caller then checks
    against a rebuilt graph."""
    if run is None:
        if graph_note:
            notes.append(f"{what}: {graph_note}; {WEAKER}")
        return None
    try:
        return run()
    except SandboxLimit:  # over a resource limit: the command stops
        raise
    except Exception as exc:  # noqa: BLE001 - say so, check weaker
        notes.append(f"{what}: the original graph could not be run ({exc}); {WEAKER}")
        return None

_PASS = ("Reshape", "Transpose", "Identity", "Cast", "ExpandDims", "ReadVariableOp")


@dataclasses.dataclass
class DecoderGraph:
    """Where an attention decoder's inputs and outputs live in the original graph."""

    memory: str
    lengths: Optional[str]
    ids: Optional[str]
    logits: str
    extra_feeds: dict[str, str]         # placeholder -> how it is fed ("decoder_length")
    shapes: dict[str, list[int]] = dataclasses.field(default_factory=dict)   # fed tensor -> static shape (-1: any)
    initial_state: list[str] = dataclasses.field(default_factory=list)  # TF1 order (c, h); [] = zero_state
    greedy: Optional[dict[str, Any]] = None   # a GreedyEmbeddingHelper decoder in the same graph: ids tensor, tokens
    greedy_note: str = ""


@dataclasses.dataclass
class _Loop:
    """A decoder loop of either graph form: a TF 2.x ``While`` node, or a TF 1.x ``Enter``/``Exit`` frame."""

    name: str                 # the While node, or the frame's name scope (``decoder/while``)
    loop_vars: list[str]      # initial values of the loop variables, in order (While inputs / non-constant Enters)
    captured: list[str]       # tensors read inside (While inputs / constant Enter inputs)
    members: set[str]         # main-graph nodes of the loop ({While} / every node under the frame's scope)
    exits: list[str]          # nodes computing the loop's results ({While} / the Exit nodes)
    dtypes: list[int] = dataclasses.field(default_factory=list)   # DataType enums of loop_vars
    node: Any = None          # the While node (v2 only)


def _suffix(name: str) -> int:
    tail = name.rsplit("_", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else 0


def _frames(index) -> list[_Loop]:
    """Every TF 1.x while frame of the main graph as a :class:`_Loop`."""
    enters: dict[str, list] = {}
    for node in index.nodes.values():
        if node.op in ("Enter", "RefEnter"):
            enters.setdefault(node.attr["frame_name"].s.decode(), []).append(node)
    loops = []
    for frame, nodes in enters.items():
        scope = frame[: -len("/while_context")] if frame.endswith("/while_context") else frame.rsplit("/", 1)[0]
        variables = [n for n in nodes if not n.attr["is_constant"].b]   # creation (= graph_def) order
        members = {n for n in index.nodes if n.startswith(scope + "/")}
        exits = sorted((n for n in members if index.nodes[n].op in ("Exit", "RefExit")), key=_suffix)
        loops.append(_Loop(scope, [n.input[0] for n in variables],
                           [n.input[0] for n in nodes if n.attr["is_constant"].b], members, exits,
                           [n.attr["T"].type for n in variables]))
    return loops


def _v2_loop(node) -> _Loop:
    return _Loop(node.name, list(node.input), list(node.input), {node.name}, [node.name],
                 list(node.attr["T"].list.type), node)


def _var_key(index, tensor: str) -> Optional[str]:
    """The checkpoint key of the variable ``tensor`` reads (through Identity/ReadVariableOp/Enter), or None."""
    for _ in range(8):
        node = index.node(ref(tensor)[0])
        if node is None:
            return None
        if node.op == "VarHandleOp":
            return node.attr["shared_name"].s.decode() or node.name
        if node.op in ("VariableV2", "Variable"):
            return node.name
        if node.op not in ("Identity", "ReadVariableOp", "Enter", "RefEnter", "RefIdentity") or not node.input:
            return None
        tensor = node.input[0]
    return None


def _const_value(index, tensor: str):
    import tensorflow as tf

    node = index.node(ref(back_to(index, tensor, ("Identity",)))[0])
    if node is None or node.op != "Const":
        return None
    return tf.make_ndarray(node.attr["value"].tensor)


def _loop_ops(index, loop: _Loop) -> set[str]:
    if loop.node is not None:
        fns = index.reachable_functions([loop.node])
        return {n.op for f in fns for n in index.fn_contexts[f].nodes.values()} if fns else set()
    return {index.nodes[n].op for n in loop.members}


def _greedy_tokens_v2(index, loop: _Loop) -> tuple[set, Any]:
    """End tokens (``Equal`` with a captured scalar in the body) and ``maximum_iterations`` of a ``While`` node."""
    node = loop.node
    body = index.functions[node.attr["body"].func.name]
    args = [a.name for a in body.signature.input_arg]
    ends = set()
    for n in index.fn_contexts[body.signature.name].nodes.values():
        if n.op == "Equal":
            for i in n.input:
                name = i.split(":")[0]
                if name in args:
                    value = _const_value(index, node.input[args.index(name)])
                    if value is not None and value.ndim == 0:
                        ends.add(int(value))
    return ends, _const_value(index, node.input[1])


def _greedy_tokens_v1(index, loop: _Loop) -> tuple[set, Any]:
    """The same for a TF 1.x frame: scalar constants entering the frame and compared by ``Equal`` (the end token)
    or by ``Less``/``GreaterEqual`` (``maximum_iterations``: the while_loop's counter and dynamic_decode's own
    ``time + 1 >= maximum_iterations``)."""
    ends, limits = set(), set()
    for name in loop.members:
        node = index.nodes[name]
        if node.op not in ("Enter", "RefEnter") or not node.attr["is_constant"].b:
            continue
        value = _const_value(index, node.input[0])
        if value is None or value.ndim != 0 or value.dtype.kind not in "iu":
            continue
        ops = {c.op for c in index.consumers(name)}
        if "Equal" in ops:
            ends.add(int(value))
        if ops & {"Less", "GreaterEqual"}:
            limits.add(int(value))
    return ends, (limits.pop() if len(limits) == 1 else None)


def _sample_id_stacks(index, loop: _Loop) -> list[Any]:
    """The int32 stacked outputs of ``loop`` (the sample ids): ``TensorListStack`` of the While, or the
    ``TensorArrayGatherV3`` reading an ``Exit`` of the frame."""
    if loop.node is not None:
        return [n for n in index.nodes.values() if n.op == "TensorListStack" and n.attr["element_dtype"].type == 3
                and ref(back_to(index, n.input[0], ("Identity",)))[0] == loop.name]
    exits = set(loop.exits)
    return [n for n in index.nodes.values() if n.op in ("TensorArrayGatherV3", "TensorArrayGatherV2")
            and n.attr["dtype"].type == 3 and ref(back_to(index, n.input[2], ("Identity",)))[0] in exits]


def _locate_greedy(index, train_loop: _Loop, cell_key: str, needed: set[str], memory_matmul: str,
                   embedding: Optional[str]) -> tuple[Optional[dict[str, Any]], str]:
    """A greedy decoder (``GreedyEmbeddingHelper``: ``ArgMax`` and an ``Equal`` with the end token in its body, no
    ``TopKV2``) on the same weights and the same mechanism as the training decoder: its sample ids, start and end
    tokens and ``maximum_iterations``, read from the graph. ``(None, why)`` when there is none or it is not readable."""
    others = [n for n in _while_nodes(index, cell_key) if n.name != train_loop.name]
    greedy = [loop for loop in others if "ArgMax" in (ops := _loop_ops(index, loop)) and "TopKV2" not in ops]
    if not greedy:
        return None, "the .meta holds no greedy decoder on these weights"
    if len(greedy) > 1:
        return None, f"the .meta holds {len(greedy)} greedy decoders on these weights"
    loop = greedy[0]
    closure = set(index.closure(loop.exits)[0])
    if memory_matmul not in closure:
        return None, "the greedy decoder attends over another memory than the training decoder"
    ends, max_iter = _greedy_tokens_v2(index, loop) if loop.node is not None else _greedy_tokens_v1(index, loop)
    starts = set()
    for name in closure:
        node = index.nodes[name]
        if node.op in ("GatherV2", "ResourceGather", "Gather") and embedding is not None and \
                ref(back_to(index, node.input[0]))[0] in handle_nodes(index, embedding):
            fill = index.node(ref(back_to(index, node.input[1], ("Identity", "Reshape")))[0])
            if fill is not None and fill.op == "Fill":
                value = _const_value(index, fill.input[1])
                if value is not None:
                    starts.add(int(value))
    stacks = _sample_id_stacks(index, loop)
    if len(ends) != 1 or len(starts) != 1 or max_iter is None or len(stacks) != 1:
        return None, (f"the greedy decoder's end token {sorted(ends)}, start token {sorted(starts)}, maximum_iterations "
                      f"{max_iter} or sample ids ({len(stacks)}) could not be read from the graph")
    ids = f"{stacks[0].name}:0"
    transposes = [c for c in index.consumers(stacks[0].name) if c.op == "Transpose"]
    time_major = len(transposes) != 1
    if not time_major:
        ids = f"{transposes[0].name}:0"
    return {"ids": ids, "start": starts.pop(), "end": ends.pop(), "maximum_iterations": int(max_iter),
            "time_major": time_major}, ""


def _initial_state(index, loop: _Loop, spec: CellSpec, layers: int = 1, attention_at: int = -1) -> list[str]:
    """The wrapped cell's initial state tensors among the decoder loop's variables (the first float loop variables,
    after the counters and the output TensorLists / TensorArray flows); ``[]`` when they are the wrapper's
    ``zero_state``. ``attention_at``: in a mixed stack, the layer whose state is an ``AttentionWrapperState`` (its
    cell state, then attention, alignments and attention_state floats, which are skipped)."""
    import tensorflow as tf

    def flow(tensor: str) -> bool:
        node = index.node(ref(tensor)[0])
        return node is not None and node.op in ("TensorArrayV3", "TensorArrayV2")

    floats = [t for t, ty in zip(loop.loop_vars, loop.dtypes) if tf.as_dtype(ty) == tf.float32 and not flow(t)]
    per = 2 if spec.is_lstm else 1
    count = per * layers
    if attention_at >= 0:  # nest order: layer by layer, the attention layer's cell state then its 3 own floats
        floats = floats[:per * (attention_at + 1)] + floats[per * (attention_at + 1) + 3:]
    state = floats[:count]
    producers = [index.node(ref(back_to(index, t, ("Identity",)))[0]) for t in state]
    if all(p is not None and ("ZeroState/" in p.name or p.op in ("Fill", "Const", "ZerosLike")) for p in producers):
        return []
    return state


def _static_shape(index, tensor: str) -> Optional[list[int]]:
    """The static shape of a fed tensor, from its node (Placeholder ``shape``, Const value, ``_output_shapes``)."""
    node = index.node(ref(tensor)[0])
    if node is None:
        return None
    if node.op == "Placeholder" and "shape" in node.attr and not node.attr["shape"].shape.unknown_rank:
        return [int(d.size) for d in node.attr["shape"].shape.dim]
    if node.op == "Const":
        return [int(d.size) for d in node.attr["value"].tensor.tensor_shape.dim]
    if "_output_shapes" in node.attr and node.attr["_output_shapes"].list.shape:
        shape = node.attr["_output_shapes"].list.shape[ref(tensor)[1]]
        return None if shape.unknown_rank else [int(d.size) for d in shape.dim]
    return None


def handle_nodes(index, key: str) -> list[str]:
    """Graph nodes that hold checkpoint variable ``key`` (resource handle, ref variable, partitions)."""
    out = []
    for n in index.nodes.values():
        if n.op in ("VarHandleOp",) and (n.attr["shared_name"].s.decode() or n.name) == key:
            out.append(n.name)
        elif n.op in ("VariableV2", "Variable") and n.name == key:
            out.append(n.name)
    return out


def back_to(index, tensor: str, ops=_PASS) -> str:
    """Walk back from ``tensor`` through shape/identity ops (first input) to the first other producer."""
    for _ in range(12):
        node = index.node(ref(tensor)[0])
        if node is None or node.op not in ops:
            return tensor
        tensor = node.input[0]
    return tensor


def _consumer_matmuls(index, handles: list[str]) -> list[Any]:
    out, frontier, seen = [], list(handles), set(handles)
    for _ in range(4):
        nxt = []
        for name in frontier:
            for c in index.consumers(name):
                if c.op in ("MatMul", "BatchMatMulV2"):
                    out.append(c)
                elif c.name not in seen:
                    seen.add(c.name)
                    nxt.append(c.name)
        frontier = nxt
    return out


def _memory_and_lengths(index, key: str, needed: set[str]) -> tuple[str, Optional[str]]:
    """The memory (before masking) and ``memory_sequence_length`` of the mechanism whose ``memory_layer`` MatMul
    is among the nodes ``needed`` (the closure of the training logits: an inference decoder's mechanism in the same
    graph is another MatMul on the same kernel)."""
    matmuls = [m for m in _consumer_matmuls(index, handle_nodes(index, key)) if m.name in needed]
    if len(matmuls) != 1:
        raise MigrationError(f"expected one MatMul reading {key!r} (the mechanism's memory_layer) before the "
                             f"training decoder, found {len(matmuls)}")
    matmul = matmuls[0]
    values = back_to(index, matmul.input[0])
    node = index.node(ref(values)[0])
    if node is not None and node.op == "Mul":
        # the mask is sequence_mask's Less, reshaped and cast (only those ops between): a TF 1.x encoder frame's
        # loop condition is also a Less upstream of the memory, but behind Exit/Switch/TensorArray ops
        masks = [(i, less) for i in node.input
                 for less in [index.node(ref(back_to(index, i, ("Reshape", "Cast", "Identity", "ExpandDims")))[0])]
                 if less is not None and less.op == "Less"]
        if len(masks) == 1:
            memory = next(i for i in node.input if i != masks[0][0])
            return memory, back_to(index, masks[0][1].input[1]), matmul.name
    return values, None, matmul.name


def _while_nodes(index, key: str) -> list[_Loop]:
    """Loops of either form that read variable ``key`` (its handle or its read value)."""
    names = set(handle_nodes(index, key))
    names |= {c.name for n in list(names) for c in index.consumers(n) if c.op in ("ReadVariableOp", "Identity")}
    loops = [_v2_loop(n) for n in index.nodes.values() if n.op in ("While", "StatelessWhile")
             and any(ref(i)[0] in names for i in n.input)]
    return loops + [f for f in _frames(index) if any(_var_key(index, t) == key for t in f.captured)]


def _loop_pairs(index, cell_key: str, tensors: list) -> list:
    """(loop, tensor, closure) for each tensor and each decoder loop reading ``cell_key`` it is computed from."""
    pairs = []
    for t in tensors:
        needed = set(index.closure([t])[0])
        pairs += [(loop, t, needed) for loop in _while_nodes(index, cell_key) if loop.members & needed]
    return pairs


def _decoder_pairs(original, cell_key: str) -> list:
    """The training decoder: the While loop reading the cell whose outputs a loss consumes (a graph may also hold
    greedy / beam-search decoders on the same weights); in a graph without such a loss (an inference export, another
    loss), the loop computing the graph's default outputs (the logits under its argmax/softmax), with the first of
    them computed from it."""
    from migration.graph.whole_model import default_io, xent_logits

    pairs = _loop_pairs(original.index, cell_key, xent_logits(original))
    if pairs:
        return pairs
    try:
        outputs = default_io(original).outputs
    except MigrationError:
        outputs = []
    pairs = _loop_pairs(original.index, cell_key, outputs)
    return [p for i, p in enumerate(pairs) if all(p[0].name != q[0].name for q in pairs[:i])]


def locate(original, info: Seq2SeqInfo, dense: list, embeddings: list) -> DecoderGraph:
    """Find the decoder of ``info`` in ``original`` (:class:`migration.graph.reference.OriginalGraph`); sets
    ``info.embedding``/``info.projection`` from the graph. Raises MigrationError with the reason when not found."""
    index = original.index
    block = info.block
    cell_key = next(k for k in block.names if k.startswith(block.scope) and k.endswith("kernel")
                    and "attention" not in k[len(block.scope):] and "query_layer" not in k)
    pairs = _decoder_pairs(original, cell_key)
    if len(pairs) != 1:
        raise MigrationError(f"expected one loss consuming the logits of one decoder loop reading {cell_key!r} (or, "
                             "without such a loss, one such loop computing the graph's default outputs), "
                             f"found {[(p[0].name, p[1]) for p in pairs] or 'none'}")
    loops, logits, needed = [pairs[0][0]], [pairs[0][1]], pairs[0][2]
    memory, lengths, memory_matmul = _memory_and_lengths(index, block.memory_layer, needed)
    read_inside = {k for t in loops[0].captured for k in [_var_key(index, t)] if k}
    heads = [d for d in dense if d.kernel in read_inside]
    if len(heads) > 1:
        raise MigrationError(f"more than one dense head is read inside the decoder loop: {[d.name for d in heads]}")
    after = [] if heads else _heads_after_loop(index, loops[0], logits[0], dense)
    if len(after) > 1:
        raise MigrationError(f"more than one dense head is applied to the decoder loop's outputs: "
                             f"{[d.name for d in after]}")
    heads = heads or after  # a Dense on dynamic_decode's rnn_output: the same per-step projection
    info.projection = (heads[0].kernel, heads[0].bias) if heads else None
    info.graph_output_attention = _output_attention_in_graph(index, loops[0], block, info.projection, bool(after))
    lookups = []
    emb_keys = {e.name for e in embeddings if e.source == "variable"}
    initial = _initial_state(index, loops[0], info.spec, max(1, len(block.stack_units or block.layer_units)),
                             block.stack_index if block.stack_units else -1)
    stop = {ref(memory)[0]} | ({ref(lengths)[0]} if lengths else set()) | {ref(t)[0] for t in initial}
    names, _ = index.closure(logits, stop)
    for name in names:
        node = index.nodes[name]
        if node.op in ("GatherV2", "ResourceGather", "Gather"):
            var = ref(back_to(index, node.input[0]))[0]
            key = next((k for k in emb_keys if var in handle_nodes(index, k)), None)
            if key is not None:
                lookups.append((key, node.input[1]))
    if len(lookups) > 1:
        raise MigrationError(f"more than one embedding lookup feeds the decoder: {[k for k, _ in lookups]}")
    ids = None
    if lookups:
        info.embedding, ids = lookups[0]
        stop.add(ref(ids)[0])
    names, _ = index.closure(logits, stop)
    extra, other = {}, []
    inside = set(names)
    for name in names:
        node = index.nodes[name]
        if node.op == "Placeholder" and name not in stop:
            shape = _static_shape(index, name)
            users = [c for c in index.consumers(name) if c.name in inside]
            if users and all(c.op in ("Shape", "Size", "Rank") for c in users) and shape:
                # e.g. the batch size tf.shape(source)[0]: any values of the right shape
                extra[name] = "shape_only_int" if node.attr["dtype"].type == 3 else "shape_only_float"
            elif node.attr["dtype"].type == 3 and shape is not None and len(shape) == 1:  # int32 [B]: decoder lengths
                extra[name] = "decoder_length"
            else:
                other.append(name)
    if other:
        raise MigrationError(f"the decoder's logits also depend on placeholders {other} (e.g. an encoder state used "
                             "as the initial state), which the check does not feed")
    for tensor in [memory, lengths, ids, *initial]:
        if tensor is not None and ref(tensor)[1] != 0:
            raise MigrationError(f"tensor {tensor!r} is not a node's first output and cannot be fed")
    shapes = {t: _static_shape(index, t) for t in (memory, lengths, ids, *extra) if t is not None}
    greedy, greedy_note = (None, "the decoder starts from a fed initial state") if initial else \
        _locate_greedy(index, loops[0], cell_key, needed, memory_matmul, info.embedding)
    return DecoderGraph(memory, lengths, ids, logits[0], extra, {t: s for t, s in shapes.items() if s is not None},
                        initial, greedy, greedy_note)


def _heads_after_loop(index, loop: _Loop, logits: str, dense: list) -> list:
    """The dense heads applied to the loop's outputs on the way to ``logits`` (``output_layer(rnn_output)`` after
    ``dynamic_decode``): those whose kernel the nodes between the loop and the logits read."""
    stop = {loop.name} if loop.node is not None else set(loop.exits)
    between = set(index.closure([logits], stop)[0]) - stop
    return [d for d in dense if between & set(handle_nodes(index, d.kernel))]


def _output_attention_in_graph(index, loop: _Loop, block, projection: Optional[tuple],
                               after_loop: bool = False) -> Optional[bool]:
    """In the training loop's body: does the output projection's MatMul read the attention layer's output (True)
    or something else, i.e. the cell output (False)? With the projection applied after the loop (``after_loop``):
    is the float output the loop writes each step the attention layer's output? None when the graph cannot tell
    (no projection or no attention layer)."""
    if projection is None or block.attention_layer_size is None or block.output_units is not None:
        return None  # (a plain layer on top of a mixed stack: the projection reads that layer)
    if loop.node is None:  # a TF 1.x frame: the body is in the main graph, weights enter through Enter nodes
        nodes = {n: index.nodes[n] for n in loop.members}

        def key_of(read: str) -> Optional[str]:
            return _var_key(index, read)
    else:
        fn = loop.node.attr["body"].func.name
        if fn not in index.functions:
            return None
        args = [a.name for a in index.functions[fn].signature.input_arg]
        nodes = index.fn_contexts[fn].nodes
        inputs = loop.node.input

        def key_of(read: str) -> Optional[str]:  # a body ReadVariableOp -> the checkpoint key of its handle
            node = nodes.get(read.split(":")[0])
            if node is None or node.op != "ReadVariableOp":
                return None
            arg = node.input[0].split(":")[0]
            if arg not in args or args.index(arg) >= len(inputs):
                return None
            handle = index.node(ref(inputs[args.index(arg)])[0])
            if handle is None or handle.op != "VarHandleOp":
                return None
            return handle.attr["shared_name"].s.decode() or handle.name

    attention_kernel = block.scope + "attention_layer/kernel"
    if after_loop:
        return _emits_attention(nodes, key_of, attention_kernel)
    for node in nodes.values():
        if node.op == "MatMul" and key_of(node.input[1]) == projection[0]:
            source = node.input[0].split(":")[0]
            for _ in range(6):
                producer = nodes.get(source)
                if producer is None or producer.op not in ("Identity", "Reshape", "Transpose"):  # Tensordot's
                    break
                source = producer.input[0].split(":")[0]
            producer = nodes.get(source)
            return bool(producer is not None and producer.op == "MatMul"
                        and key_of(producer.input[1]) == attention_kernel)
    return None


def _emits_attention(nodes: dict, key_of, attention_kernel: str) -> Optional[bool]:
    """Whether a float output the loop body writes each step (``TensorListSetItem`` / ``TensorArrayWriteV3``: the
    ``rnn_output``) is the attention layer's MatMul (through identities, reshapes and ``impute_finished``'s
    select); None when the body writes no float output."""
    writes = [n for n in nodes.values() if (n.op == "TensorListSetItem" and n.attr["element_dtype"].type == 1)
              or (n.op in ("TensorArrayWriteV3", "TensorArrayWriteV2") and n.attr["T"].type == 1)]
    if not writes:
        return None
    for write in writes:
        source = write.input[2].split(":")[0]
        for _ in range(8):
            producer = nodes.get(source)
            if producer is None or producer.op not in ("Identity", "Reshape", "Select", "SelectV2"):
                break
            source = producer.input[2 if producer.op.startswith("Select") else 0].split(":")[0]
        producer = nodes.get(source)
        if producer is not None and producer.op == "MatMul" and key_of(producer.input[1]) == attention_kernel:
            return True
    return False


def read_output_attention(info: Seq2SeqInfo, reader, from_graph: Optional[bool] = None) -> None:
    """``output_attention`` from the projection kernel's rows when attention size != cell units; else assumed."""
    block = info.block
    if block.output_units is not None:  # a mixed stack with a plain layer on top: the layer above the wrapper tells
        if block.stack_output_attention is not None:
            info.output_attention = block.stack_output_attention
            info.hyper_sources["output_attention"] = (f"kernel rows of {block.stack_prefix}cell_"
                                                      f"{block.stack_index + 1}/ (the layer above the attention)")
        else:
            info.output_attention = True
            info.assumed["output_attention"] = ("True (TF1's default; attention and cell output have the same size, "
                                                "so the checkpoint cannot tell; the original-graph check decides)")
        return
    if info.projection is None:
        info.output_attention = True
        info.assumed["output_attention"] = "True (TF1's default; there is no output projection to tell from)"
        return
    rows = reader.variables[info.projection[0]].shape[0]
    if block.attention_size != block.cell_units:
        if rows not in (block.attention_size, block.cell_units):
            raise MigrationError(f"the output projection {info.projection[0]!r} has {rows} rows; the wrapper outputs "
                                 f"{block.attention_size} (attention) or {block.cell_units} (cell output) features")
        info.output_attention = rows == block.attention_size
        info.hyper_sources["output_attention"] = f"projection kernel rows ({rows})"
    elif from_graph is not None:
        info.output_attention = from_graph
        info.hyper_sources["output_attention"] = (".meta graph: the output projection reads the "
                                                  + ("attention layer" if from_graph else "cell output"))
    else:
        info.output_attention = True
        info.assumed["output_attention"] = ("True (TF1's default; attention and cell output have the same size, "
                                            "so the checkpoint cannot tell; the original-graph check decides)")
