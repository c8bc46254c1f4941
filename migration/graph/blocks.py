"""Find each ``dynamic_rnn`` loop of the original graph and its boundary tensors, by structure.

Variable scopes and op name scopes differ (``tf.name_scope('Train')`` around ``variable_scope('Model')`` gives ops
``Train/Model/rnn/...`` for variables ``Model/rnn/...``; a re-entered ``variable_scope('rnnlm')`` gives ops
``rnnlm_1/...``), so loops are matched to recognized blocks by the checkpoint keys of the variables they read, never
by name. For a loop whose op scope is ``P`` (TF 1.x ``Enter``/``Exit`` frames and TF 2.x ``While`` functions alike):

* input: the tensor ``TensorListFromTensor`` / ``TensorArrayScatterV3`` unstacks; when it is a ``Transpose`` of
  ``x`` the block is batch-major and ``x`` is the input (``time_major=False``);
* ``sequence_length``: ``P/sequence_length`` (``dynamic_rnn`` names its Identity so, "just to find it in the graph"),
  and the user's tensor is its input;
* outputs: the ``TensorListStack`` / ``TensorArrayGatherV3`` of the loop, transposed back when batch-major;
* final state: the loop's last outputs (``While`` outputs 4..; ``Exit`` nodes in creation order), in
  ``tf.nest.flatten`` order, which is the block contract's order.

``bidirectional_dynamic_rnn`` is two such loops (``.../fw/fw``, ``.../bw/bw``); the backward outputs the program
sees are the ``ReverseSequence`` (or ``ReverseV2``) of the bw loop's outputs.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Optional

from migration.core.errors import MigrationError
from migration.graph.graphdef import GraphIndex, ref, tensor_name

_V2_LOOPS = ("While", "StatelessWhile", "_While")
_VARS = ("VariableV2", "Variable", "VarHandleOp")
_PASS = ("Identity", "ReadVariableOp", "Enter", "RefEnter", "Snapshot")


@dataclasses.dataclass
class Loop:
    """One ``dynamic_rnn`` while loop of the original graph."""

    scope: str
    node: str  # the While node (v2) or the frame name (v1)
    variables: set[str]
    x: Optional[str] = None
    time_major: bool = False
    sequence_length: Optional[str] = None
    outputs: Optional[str] = None
    state_candidates: list[str] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)
    v2: bool = True
    #: every input tensor when ``dynamic_rnn`` was given a nested input (PhasedLSTMCell's ``(times, x)``), in
    #: ``nest.flatten`` order; ``x`` is then the last one. Empty for one input.
    parts: list[str] = dataclasses.field(default_factory=list)

    def states(self, count: int) -> list[str]:
        """The final-state tensors: ``While`` outputs 4.. (loop counter, max iterations, time, output list come first;
        captured inputs follow the state), or the last ``Exit`` nodes of a TF 1.x frame."""
        if not count:
            return []
        return self.state_candidates[:count] if self.v2 else self.state_candidates[-count:]


def _var_key(og, index: GraphIndex, tensor: str, depth: int = 6) -> Optional[str]:
    node = index.node(ref(tensor)[0])
    while node is not None and depth > 0 and node.op in _PASS and node.input:
        node, depth = index.node(ref(node.input[0])[0]), depth - 1
    if node is not None and node.op in _VARS:
        return og.variable_source(node).key
    return None


def _suffix(name: str) -> int:
    m = re.search(r"_(\d+)$", name)
    return int(m.group(1)) if m else 0


def find_loops(og) -> list[Loop]:
    """Every ``dynamic_rnn``-shaped loop in the main graph of ``og`` (an :class:`OriginalGraph`)."""
    index: GraphIndex = og.index
    loops: list[Loop] = []
    frames: dict[str, list] = {}
    for node in index.nodes.values():
        if _gradient(node.name):  # the backward pass's loops (TF 1.x training graphs) read the variables too
            continue
        if node.op in _V2_LOOPS:
            scope = node.name[: -len("/while")] if node.name.endswith("/while") else node.name.rsplit("/", 1)[0]
            loop = Loop(scope, node.name, {k for i in node.input if not ref(i)[2] for k in [_var_key(og, index, i)] if k})
            n_out = len(node.attr["T"].list.type) if "T" in node.attr else 0
            loop.state_candidates = [f"{node.name}:{k}" for k in range(4, n_out)]
            loops.append(loop)
        elif node.op in ("Enter", "RefEnter"):
            frames.setdefault(node.attr["frame_name"].s.decode(), []).append(node)
    for frame, enters in frames.items():
        first = enters[0].name
        scope = first.split("/while/")[0] if "/while/" in first else first.rsplit("/", 1)[0]
        loop = Loop(scope, frame, {k for e in enters for k in [_var_key(og, index, e.input[0])] if k}, v2=False)
        exits = sorted((n.name for n in index.nodes.values() if n.op in ("Exit", "RefExit")
                        and n.name.startswith(scope + "/while/") and "/" not in n.name[len(scope) + 7:]), key=_suffix)
        loop.state_candidates = [e + ":0" for e in exits]
        loops.append(loop)
    for loop in loops:
        _boundary(index, loop)
    loops += _fused_loops(og, index)
    return loops


_FUSED = ("BlockLSTM", "BlockLSTMV2")
_TO_LAST = ("Mul", "ConcatV2", "Identity")  # the mask, the prepended initial state
_LAST = ("GatherNd", "StridedSlice", "GatherV2", "Gather")


def _gradient(name: str) -> bool:
    return any(p == "gradients" or p.startswith("gradients_") for p in name.split("/"))


def _last_step(index: GraphIndex, tensor: str) -> Optional[str]:
    """The tensor that selects the last relevant step of ``tensor`` (``[T, B, units]``): the nearest gather or
    slice downstream of it, through the mask, the prepended initial state and identities."""
    frontier, seen = [tensor], set()
    for _ in range(4):
        nxt = []
        for t in frontier:
            for c in index.consumers(ref(t)[0]):
                inputs = [tensor_name(i) for i in c.input if not ref(i)[2]]
                if c.name in seen or t not in inputs or _gradient(c.name):
                    continue
                seen.add(c.name)
                if c.op in _LAST and inputs[0] == t:
                    return f"{c.name}:0"
                if c.op in _TO_LAST:
                    nxt.append(f"{c.name}:0")
        frontier = nxt
    return None


def _fused_loops(og, index: GraphIndex) -> list[Loop]:
    """``LSTMBlockFusedCell``: one ``BlockLSTM`` op runs the whole (time-major) sequence, no while loop.

    Inputs ``seq_len_max, x, cs_prev, h_prev, w, wci, wcf, wco, b``; outputs ``i, cs, f, o, ci, co, h``. The
    wrapper masks ``h`` past each length (a ``Mul``) and selects the final ``(c, h)`` at ``length - 1`` (a gather
    after prepending the initial state), or the last step (a slice) without lengths; ``seq_len_max`` is
    ``max(sequence_length)`` (read back through ``Cast``/``Max`` to the user's tensor)."""
    loops = []
    for node in index.nodes.values():
        if node.op not in _FUSED or len(node.input) < 9:
            continue
        scope = node.name.rsplit("/", 1)[0] if "/" in node.name else ""
        loop = Loop(scope, node.name, {k for i in node.input[4:9] for k in [_var_key(og, index, i)] if k},
                    x=node.input[1], time_major=True)
        length, through_max = node.input[0], False
        for _ in range(6):
            producer = index.node(ref(length)[0])
            if producer is None or producer.op not in ("Cast", "Max", "Identity"):
                break
            through_max |= producer.op == "Max"
            length = producer.input[0]
        loop.sequence_length = length if through_max else None
        h = f"{node.name}:6"
        masked = [c for c in index.consumers(node.name) if c.op == "Mul" and h in map(tensor_name, c.input)
                  and not _gradient(c.name)]
        loop.outputs = f"{masked[0].name}:0" if loop.sequence_length and len(masked) == 1 else h
        states = [_last_step(index, f"{node.name}:1"), _last_step(index, loop.outputs)]
        if None in states:
            loop.problems.append(f"fused LSTM {node.name!r}: its final state (c, h) was not found")
        loop.state_candidates = [s for s in states if s]
        loops.append(loop)
    return loops


def _in_scope(name: str, scope: str) -> bool:
    return name.startswith(scope + "/") and "/while/" not in name[len(scope):]


def _boundary(index: GraphIndex, loop: Loop) -> None:
    nodes = [n for n in index.nodes.values() if _in_scope(n.name, loop.scope)]
    unstack = [n for n in nodes if n.op in ("TensorListFromTensor", "TensorArrayScatterV3", "TensorArrayScatterV2")]
    stack = [n for n in nodes if n.op in ("TensorListStack", "TensorArrayGatherV3", "TensorArrayGatherV2")]
    if not unstack or len(stack) != 1:
        loop.problems.append(f"loop {loop.node!r}: expected one input unstack and one output stack under "
                             f"{loop.scope!r}, found {len(unstack)} and {len(stack)}")
        return
    inputs = [_loop_input(index, loop, node) for node in unstack]  # a nested input: one unstack per tensor
    if len({major for _, major in inputs}) != 1:
        loop.problems.append(f"loop {loop.node!r}: its {len(inputs)} inputs are not all batch- or time-major")
        return
    loop.x, loop.time_major = inputs[-1]
    loop.parts = [name for name, _ in inputs] if len(inputs) > 1 else []
    out = f"{stack[0].name}:0"
    if not loop.time_major:
        back = [c for c in index.consumers(stack[0].name) if c.op == "Transpose" and _in_scope(c.name, loop.scope)]
        if len(back) != 1:
            loop.problems.append(f"loop {loop.node!r}: the outputs are not transposed back to batch-major")
            return
        out = f"{back[0].name}:0"
    loop.outputs = out
    length = index.node(f"{loop.scope}/sequence_length")
    if length is not None and length.input:
        src = index.node(ref(length.input[0])[0])
        # dynamic_rnn casts first: read through the Cast to the user's tensor
        loop.sequence_length = src.input[0] if src is not None and src.op == "Cast" and _in_scope(src.name, loop.scope) \
            else length.input[0]


def _loop_input(index: GraphIndex, loop: Loop, unstack) -> tuple[str, bool]:
    """(the user's tensor an input unstack reads, time-major?): batch-major inputs are transposed in the scope."""
    value = unstack.input[0] if unstack.op == "TensorListFromTensor" else unstack.input[2]
    producer = index.node(ref(value)[0])
    if producer is not None and producer.op == "Transpose" and _in_scope(producer.name, loop.scope):
        return producer.input[0], False
    return value, True


def reversed_output(index: GraphIndex, tensor: str) -> Optional[str]:
    """The ``ReverseSequence``/``ReverseV2`` that re-aligns a backward loop's outputs (bidirectional_dynamic_rnn)."""
    name = ref(tensor)[0]
    for c in index.consumers(name):
        if c.op in ("ReverseSequence", "ReverseV2") and ref(c.input[0])[0] == name:
            return f"{c.name}:0"
    return None


def match(loops: list[Loop], keys: set[str]) -> list[Loop]:
    """Loops that read every checkpoint key of ``keys`` (one cell stack's variables)."""
    return [loop for loop in loops if keys and keys <= loop.variables]


@dataclasses.dataclass
class BlockTensors:
    """Where one converted block sits in the original graph (tensor names), in the block contract's output order."""

    x: str
    sequence_length: Optional[str]
    time_major: bool
    outputs: list[str]
    sequences: int  # how many of ``outputs`` are [batch, time, ...] sequences (1, or 2 when bidirectional)
    #: a nested input's tensors (:attr:`Loop.parts`): the Keras block reads them concatenated on the last axis
    parts: tuple[str, ...] = ()


class NotThisKind(MigrationError):
    """The block is not of the kind a locator finds (no while loop reads it; no static unroll does): the next locator
    of the table may find it, and this reason is then not worth reporting."""


def locate_block(og, loops: list[Loop], keys: dict[str, set[str]], n_states: dict[str, int]) -> BlockTensors:
    """The original-graph tensors of a block whose cells read checkpoint ``keys`` per direction (``""`` or
    ``fw``/``bw``), with ``n_states`` final-state tensors per direction. Raises :class:`MigrationError` naming what
    was not found."""
    found: dict[str, Loop] = {}
    shared = set(keys) == {"fw", "bw"} and keys["fw"] == keys["bw"]  # one cell object for both directions
    for direction, ks in keys.items():
        hits = match(loops, ks)
        if shared and len(hits) == 2:  # both loops read the cell: each direction's loop by its scope
            hits = [h for h in hits if f"/{direction}/" in "/" + h.node]
        if len(hits) != 1:
            what = "no while loop" if not hits else f"{len(hits)} while loops ({[h.node for h in hits]})"
            error = NotThisKind if not hits else MigrationError
            raise error(f"{what} of the original graph read the variables {sorted(ks)[:2]}...: the block is not a "
                        "dynamic_rnn")
        if hits[0].problems:
            raise MigrationError("; ".join(hits[0].problems))
        extra = sorted(hits[0].variables - ks)
        if extra:  # e.g. Output/InputProjectionWrapper, EmbeddingWrapper: weights applied inside every step
            raise MigrationError(f"the while loop {hits[0].node!r} also reads {extra[:3]} (a cell wrapper's weights "
                                 "applied inside every step), so its inputs and outputs are not the block's")
        found[direction] = hits[0]
    if set(found) == {""}:
        loop = found[""]
        return BlockTensors(loop.x, loop.sequence_length, loop.time_major,
                            [loop.outputs] + loop.states(n_states[""]), 1, tuple(loop.parts))
    fw, bw = found["fw"], found["bw"]
    bw_out = reversed_output(og.index, bw.outputs)
    if bw_out is None:
        raise MigrationError(f"the backward loop {bw.node!r} has no ReverseSequence/ReverseV2 of its outputs")
    return BlockTensors(fw.x, fw.sequence_length, fw.time_major,
                        [fw.outputs, bw_out] + fw.states(n_states["fw"]) + bw.states(n_states["bw"]), 2,
                        tuple(fw.parts))
