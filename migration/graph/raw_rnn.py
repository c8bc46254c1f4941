"""Recognize a ``tf.nn.raw_rnn`` decoder loop in the original graph (TF 1.x ``Enter``/``Exit`` frames), by structure.

``raw_rnn`` carries ``(time, elements_finished, next_input, emit_ta, state..., loop_state...)`` through its
``while_loop``; the ``loop_fn`` the program wrote runs once before the loop (its time-0 call: the first input, the
first flags, the initial state) and once per step inside it. What is read from the frame:

* ``time``: the loop variable whose next value is ``time + 1``;
* the flags: the one whose next value is ``LogicalOr(flags, new)``; ``new`` must be ``time + 1 >= lengths`` (or
  ``lengths <= time + 1``), optionally ``| equal(argmax(...), EOS)``, with ``lengths`` computed outside the loop;
* the output ``TensorArray``: the one a ``TensorArrayWriteV3`` writes ``Select(flags, zeros, cell_output)`` into,
  stacked outside the loop by a ``TensorArrayGatherV3`` (``outputs_ta.stack()``);
* the state: the ones whose next value is ``Select(flags, state, new_state)`` (TF1 flat order);
* the input: the one left; its next value is found back through ``cond``/``where`` merges to either
  ``Gather(E, ArgMax(MatMul(cell_output, W) [+ b]))`` (greedy feedback) or ``TensorArrayReadV3`` of a
  ``TensorArray`` scattered from a tensor outside the loop (teacher forcing, time-major).

Anything else is refused by :class:`~migration.core.errors.MigrationError` naming the op, with the remedy
(``--outputs`` at the encoder). The Keras twin is :class:`modern_rnn.FeedbackDecoder`.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from migration.core.errors import MigrationError
from migration.graph.graphdef import const_value, ref, tensor_name

_SKIP = ("Identity", "Switch", "Enter", "RefEnter", "Snapshot", "Cast")
_VARS = ("VariableV2", "Variable", "VarHandleOp")
REMEDY = ("convert with --outputs at the encoder's tensors (the decoder's cell is still converted as a block), or "
          "write the decoder as tf.nn.raw_rnn with a loop_fn that feeds back embedding_lookup(E, argmax(output @ W "
          "+ b)) or reads a TensorArray of inputs, finishing at time >= lengths (docs/api-map.md, raw_rnn)")


@dataclasses.dataclass
class RawRnn:
    """One recognized ``raw_rnn`` decoder: original tensor names outside the loop, and the weights it reads."""

    frame: str
    first_input: str
    first_finished: str
    lengths: str
    states: list[str]  # the initial state, TF1 flat order
    outputs: list[str]  # the stacked outputs (time-major), then the final state
    feedback: str  # "argmax" | "inputs"
    kernel: Optional[object] = None  # variable nodes
    bias: Optional[object] = None
    embeddings: Optional[object] = None
    eos_id: Optional[int] = None
    sequence: Optional[str] = None  # teacher forcing: the time-major tensor the inputs TensorArray unstacks


@dataclasses.dataclass
class _Var:
    init: str
    identity: str
    next: str
    exit: str


class _Frame:
    def __init__(self, og, frame: str) -> None:
        self.og, self.index, self.frame = og, og.index, frame

    def node(self, tensor: str):
        return self.index.node(ref(tensor)[0])

    def back(self, tensor: str, skip=_SKIP) -> str:
        """Through identities, switches, enters and casts to the producing tensor."""
        for _ in range(12):
            node = self.node(tensor)
            if node is None or node.op not in skip or not node.input:
                break
            tensor = tensor_name(node.input[0])
        return tensor

    def var(self, tensor: str):
        node = self.node(self.back(tensor, _SKIP + ("ReadVariableOp",)))
        return node if node is not None and node.op in _VARS else None

    def loop_vars(self) -> list[_Var]:
        out = []
        for enter in self.index.graph_def.node:
            if enter.op not in ("Enter", "RefEnter") or enter.attr["frame_name"].s.decode() != self.frame or \
                    enter.attr["is_constant"].b:
                continue
            merge = [c for c in self.index.consumers(enter.name) if c.op == "Merge"]
            if len(merge) != 1:
                continue
            nxt = self.node(merge[0].input[1])
            switch = [c for c in self.index.consumers(merge[0].name) if c.op == "Switch"]
            if nxt is None or nxt.op != "NextIteration" or len(switch) != 1:
                continue
            ident = [c for c in self.index.consumers(switch[0].name) if c.op == "Identity"
                     and tensor_name(c.input[0]) == f"{switch[0].name}:1"]
            exit_ = [c for c in self.index.consumers(switch[0].name) if c.op in ("Exit", "RefExit")]
            if len(ident) == 1 and len(exit_) == 1:
                out.append(_Var(tensor_name(enter.input[0]), f"{ident[0].name}:0", tensor_name(nxt.input[0]), f"{exit_[0].name}:0"))
        return out


def _is_time_plus_one(fr: _Frame, tensor: str, time: str) -> bool:
    node = fr.node(tensor)
    if node is None or node.op not in ("Add", "AddV2") or len(node.input) != 2:
        return False
    a, b = tensor_name(node.input[0]), tensor_name(node.input[1])
    one = fr.node(b)
    return a == time and one is not None and one.op == "Const" and np.asarray(const_value(one)).tolist() == 1


def _finished_rule(fr: _Frame, tensor: str, time_next: str) -> tuple[str, list[str]]:
    """(lengths tensor outside the loop, ArgMax tensors compared with EOS ``[argmax, eos const]``)."""
    node = fr.node(tensor)
    if node is not None and node.op == "LogicalOr":
        parts = [_finished_rule(fr, tensor_name(i), time_next) for i in node.input[:2]]
        lengths = [p[0] for p in parts if p[0]]
        eos = [e for p in parts for e in p[1]]
        if len(lengths) == 1 and eos:
            return lengths[0], eos
    if node is not None and node.op in ("GreaterEqual", "LessEqual"):
        t, lengths = (node.input[0], node.input[1]) if node.op == "GreaterEqual" else (node.input[1], node.input[0])
        if tensor_name(t) == time_next and fr.node(lengths).op in ("Enter", "RefEnter"):
            return tensor_name(fr.node(lengths).input[0]), []
    if node is not None and node.op == "Equal":
        for a, b in ((0, 1), (1, 0)):
            arg, eos = fr.node(fr.back(tensor_name(node.input[a]))), fr.node(fr.back(tensor_name(node.input[b])))
            if arg is not None and arg.op == "ArgMax" and eos is not None and eos.op == "Const":
                return "", [f"{arg.name}:0", eos.name]
    what = f"{node.name!r} ({node.op})" if node is not None else repr(tensor)
    raise MigrationError(f"raw_rnn loop {fr.frame!r}: its finished flags come from {what}, not `time >= lengths` "
                         f"[| argmax == EOS]; {REMEDY}")


def _back_through_selects(fr: _Frame, tensor: str):
    """The nodes behind ``tensor``, breadth first, through ``cond`` merges/switches, identities and ``where`` selects
    (at most 8 levels, each node once): where a loop_fn's input rule is looked for."""
    frontier, seen = [tensor], set()
    for _ in range(8):
        nxt = []
        for t in frontier:
            node = fr.node(t)
            if node is None or node.name in seen:
                continue
            seen.add(node.name)
            yield node
            if node.op in ("Merge", "Identity", "Switch", "Select", "SelectV2"):
                nxt += [tensor_name(i) for i in node.input if not ref(i)[2]]
        frontier = nxt


def _feedback(fr: _Frame, tensor: str, cell_output: str, rr: RawRnn) -> None:
    """Fill ``rr``'s input rule from the loop's next-input tensor (through ``cond`` merges and ``where`` selects)."""
    for node in _back_through_selects(fr, tensor):
        if node.op in ("GatherV2", "Gather", "ResourceGather"):
            arg = fr.node(fr.back(tensor_name(node.input[1])))
            emb = fr.var(tensor_name(node.input[0]))
            if arg is not None and arg.op == "ArgMax" and emb is not None:
                rr.feedback, rr.embeddings = "argmax", emb
                _projection(fr, arg, cell_output, rr)
                return
        if node.op in ("TensorArrayReadV3", "TensorArrayReadV2"):
            handle = fr.node(fr.back(tensor_name(node.input[0])))
            scatter = list({c.name: c for c in fr.index.consumers(handle.name)  # it reads handle and flow
                            if c.op in ("TensorArrayScatterV3", "TensorArrayScatterV2")}.values())
            if handle.op in ("TensorArrayV3", "TensorArrayV2") and len(scatter) == 1:
                rr.feedback, rr.sequence = "inputs", tensor_name(scatter[0].input[2])
                _first_read(fr, rr, handle.name)
                return
    raise MigrationError(f"raw_rnn loop {fr.frame!r}: its loop_fn's next input ({tensor!r}) is neither "
                         f"embedding_lookup(E, argmax(output @ W + b)) nor a TensorArray read of the inputs; {REMEDY}")


def _first_read(fr: _Frame, rr: RawRnn, handle: str) -> None:
    """Teacher forcing: the time-0 ``loop_fn`` call (outside the loop) must read row 0 of the same inputs
    ``TensorArray`` (through a ``cond`` to zeros once every row is done); the layer then reads ``inputs[0]``."""
    for node in _back_through_selects(fr, rr.first_input):
        if node.op in ("TensorArrayReadV3", "TensorArrayReadV2") and ref(fr.back(tensor_name(node.input[0])))[0] == handle:
            index = fr.node(fr.back(tensor_name(node.input[1])))
            if index is not None and index.op == "Const" and int(np.asarray(const_value(index))) == 0:
                rr.first_input = rr.sequence
                return
    raise MigrationError(f"raw_rnn loop {fr.frame!r}: teacher forcing, but the loop_fn's first input {rr.first_input!r} "
                         f"is not row 0 of the inputs TensorArray; {REMEDY}")


def _projection(fr: _Frame, argmax, cell_output: str, rr: RawRnn) -> None:
    axis = fr.node(argmax.input[1])
    if axis is None or axis.op != "Const" or int(np.asarray(const_value(axis))) not in (1, -1):
        raise MigrationError(f"raw_rnn loop {fr.frame!r}: {argmax.name!r} (ArgMax) is not over the vocabulary axis; "
                             f"{REMEDY}")
    node = fr.node(fr.back(tensor_name(argmax.input[0])))
    if node is not None and node.op in ("Add", "AddV2", "BiasAdd"):
        for a, b in ((0, 1), (1, 0)):
            mm, bias = fr.node(fr.back(tensor_name(node.input[a]))), fr.var(tensor_name(node.input[b]))
            if mm is not None and mm.op == "MatMul" and bias is not None:
                node, rr.bias = mm, bias
                break
    if node is None or node.op != "MatMul" or node.attr["transpose_a"].b or node.attr["transpose_b"].b:
        raise MigrationError(f"raw_rnn loop {fr.frame!r}: the argmax {argmax.name!r} does not read a projection "
                             f"MatMul(output, W) [+ b]; {REMEDY}")
    rr.kernel = fr.var(tensor_name(node.input[1]))
    if rr.kernel is None or fr.back(tensor_name(node.input[0])) != cell_output:
        raise MigrationError(f"raw_rnn loop {fr.frame!r}: {node.name!r} (MatMul) is not the cell output times a "
                             f"variable; {REMEDY}")


def recognize(og, frame: str) -> RawRnn:
    """The ``raw_rnn`` decoder of TF 1.x while frame ``frame``; raises :class:`MigrationError` naming what is not."""
    fr = _Frame(og, frame)
    loop_vars = fr.loop_vars()
    time = [v for v in loop_vars if _is_time_plus_one(fr, v.next, v.identity)]
    flags = [v for v in loop_vars if _flags(fr, v)]
    writes = [n for n in fr.index.nodes.values() if n.op in ("TensorArrayWriteV3", "TensorArrayWriteV2")
              and tensor_name(n.input[3]) in {v.identity for v in loop_vars}]
    if len(time) != 1 or len(flags) != 1 or len(writes) != 1:
        raise MigrationError(f"while loop {frame!r} is not a raw_rnn loop with one output TensorArray (time "
                             f"counters {len(time)}, finished flags {len(flags)}, output writes {len(writes)}); {REMEDY}")
    time, flags, write = time[0], flags[0], writes[0]
    emit = [v for v in loop_vars if v.identity == tensor_name(write.input[3])][0]
    select = fr.node(write.input[2])
    if select is None or select.op not in ("Select", "SelectV2") or tensor_name(select.input[0]) != flags.identity:
        raise MigrationError(f"raw_rnn loop {frame!r}: its output write {write.name!r} is not where(finished, zeros, "
                             f"output); {REMEDY}")
    cell_output = fr.back(tensor_name(select.input[2]))
    states = [v for v in loop_vars if fr.node(v.next) is not None and fr.node(v.next).op in ("Select", "SelectV2")
              and tensor_name(fr.node(v.next).input[0]) == flags.identity and tensor_name(fr.node(v.next).input[1]) == v.identity]
    known = {id(v) for v in [time, flags, emit] + states}
    rest = [v for v in loop_vars if id(v) not in known and v.next != v.identity]  # loop_state None: passed through
    if len(rest) != 1 or not states:
        raise MigrationError(f"raw_rnn loop {frame!r}: expected one next-input loop variable and a carried state, "
                             f"found {len(rest)} and {len(states)}; {REMEDY}")
    if cell_output not in {fr.back(tensor_name(fr.node(v.next).input[2])) for v in states}:  # LSTM h / m, GRU h, top layer
        raise MigrationError(f"raw_rnn loop {frame!r}: its loop_fn emits {cell_output!r}, not the cell output (a "
                             f"tensor of the new state); {REMEDY}")
    lengths, eos = _finished_rule(fr, fr.node(flags.next).input[1] if tensor_name(fr.node(flags.next).input[0]) ==
                                  flags.identity else fr.node(flags.next).input[0], time.next)
    handle = fr.node(fr.back(emit.init))
    gathers = [c for c in fr.index.consumers(handle.name) if c.op in ("TensorArrayGatherV3", "TensorArrayGatherV2")
               and tensor_name(c.input[2]) == emit.exit] if handle is not None else []
    if len(gathers) != 1:
        raise MigrationError(f"raw_rnn loop {frame!r}: its outputs TensorArray is stacked {len(gathers)} times after "
                             f"the loop (expected outputs_ta.stack() once); {REMEDY}")
    rr = RawRnn(frame, rest[0].init, flags.init, lengths, [v.init for v in states],
                [f"{gathers[0].name}:0"] + [v.exit for v in states], "")
    _feedback(fr, tensor_name(rest[0].next), cell_output, rr)
    if eos:
        arg = fr.node(eos[0])
        if rr.feedback != "argmax" or _projection_keys(fr, arg, cell_output) != _keys(og, rr):
            raise MigrationError(f"raw_rnn loop {frame!r}: the EOS test {eos[0]!r} is not on the fed-back argmax; "
                                 f"{REMEDY}")
        rr.eos_id = int(np.asarray(const_value(fr.index.node(eos[1]))))
    return rr


def _keys(og, rr: RawRnn) -> tuple:
    return tuple(og.variable_source(v).key if v is not None else None for v in (rr.kernel, rr.bias))


def _projection_keys(fr: _Frame, argmax, cell_output: str) -> tuple:
    probe = RawRnn("", "", "", "", [], [], "")
    _projection(fr, argmax, cell_output, probe)
    return _keys(fr.og, probe)


def frame_reads(og, frame: str) -> set[str]:
    """Checkpoint keys of the variables entering TF 1.x frame ``frame``."""
    fr = _Frame(og, frame)
    out = set()
    for node in og.index.nodes.values():
        if node.op in ("Enter", "RefEnter") and node.attr["frame_name"].s.decode() == frame:
            var = fr.var(tensor_name(node.input[0]))
            if var is not None:
                out.add(og.variable_source(var).key)
    return out


def find(og, loops, keys: set[str]) -> Optional[RawRnn]:
    """The ``raw_rnn`` decoder among ``loops`` (:func:`migration.graph.blocks.find_loops`) whose frame reads the cell
    variables ``keys``: None when no TF 1.x frame reads them all; :class:`MigrationError` when one does but is not a
    recognizable ``raw_rnn`` (the message names the op and the remedy)."""
    hits = [loop for loop in loops if keys and keys <= loop.variables]
    if len(hits) != 1:
        return None
    if hits[0].v2:
        if _v2_raw_rnn(og, hits[0].node):
            raise MigrationError(f"while loop {hits[0].node!r} is a tf.nn.raw_rnn in TF 2.x form (a While op, control "
                                 "flow v2), which is not translated yet: save the .meta from a graph built after "
                                 f"tf.compat.v1.disable_control_flow_v2() (the TF 1.x form), or {REMEDY}")
        return None
    fr = _Frame(og, hits[0].node)
    if not any(_flags(fr, v) for v in fr.loop_vars()):  # no carried finished flags: dynamic_rnn, a hand loop
        return None
    return recognize(og, hits[0].node)


def _v2_raw_rnn(og, while_node: str) -> bool:
    """A TF 2.x ``While`` whose body carries ``raw_rnn``'s finished flags (a ``LogicalOr``) and writes a list."""
    node = og.index.node(while_node)
    body = node.attr["body"].func.name if node is not None and "body" in node.attr else ""
    for fn in og.index.graph_def.library.function:
        if fn.signature.name == body:
            ops = {n.op for n in fn.node_def}
            return "LogicalOr" in ops and bool(ops & {"TensorListSetItem", "TensorArrayWriteV3"})
    return False


def _flags(fr: _Frame, v: _Var) -> bool:
    node = fr.node(v.next)
    return node is not None and node.op == "LogicalOr" and v.identity in map(tensor_name, node.input)


def keras_cell_of(block_model):
    """A fresh copy of the (single-direction) block model's Keras cell, with its converted weights."""
    from modern_rnn import keras

    rnns = [layer for layer in block_model.layers if hasattr(layer, "cell")]
    if len(rnns) != 1:
        raise MigrationError(f"block {block_model.name!r}: expected one RNN layer, found {len(rnns)}")
    cell = keras.layers.deserialize(keras.layers.serialize(rnns[0].cell))
    return cell, rnns[0].cell.get_weights()


def decoder_layer(og, rr: RawRnn, block_model, input_depth: int, name: str):
    """The :class:`modern_rnn.FeedbackDecoder` of ``rr`` with the block's cell and the checkpoint's W, b, E."""
    import modern_rnn

    cell, weights = keras_cell_of(block_model)
    values = {k: (np.asarray(og.variable_value(v), np.float32) if v is not None else None)
              for k, v in (("kernel", rr.kernel), ("bias", rr.bias), ("embeddings", rr.embeddings))}
    vocab = values["kernel"].shape[1] if values["kernel"] is not None else 1
    if values["embeddings"] is not None and values["embeddings"].shape != (vocab, input_depth):
        raise MigrationError(f"raw_rnn loop {rr.frame!r}: the embedding {og.variable_source(rr.embeddings).key!r} is "
                             f"{list(values['embeddings'].shape)}, not [vocab {vocab}, cell input {input_depth}]")
    layer = modern_rnn.FeedbackDecoder(cell, vocab, input_depth, feedback=rr.feedback, use_bias=rr.bias is not None,
                                       eos_id=rr.eos_id, name=name)
    layer.build(None)
    cell.set_weights(weights)
    for attr, value in values.items():
        if value is not None:
            getattr(layer, attr).assign(value)
    return layer


def layer_inputs(rr: RawRnn) -> list[str]:
    """The original tensors the layer is called on, in :class:`modern_rnn.FeedbackDecoder`'s order."""
    return [rr.first_input, rr.first_finished, rr.lengths] + rr.states  # teacher forcing: first_input = sequence
