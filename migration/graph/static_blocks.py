"""Find a STATICALLY unrolled block in the original graph, by structure, and run its own unrolled ops.

``static_rnn``, ``static_bidirectional_rnn``, ``legacy_seq2seq.rnn_decoder`` / ``basic_rnn_seq2seq`` and Python loops
``for t in range(T): out, state = cell(x[:, t], state)`` put one copy of the cell's ops per step in the graph (no
while loop). The copies are found from the block's variables (checkpoint keys, never names), for each direction:

* **steps**: the forward readers of one of the direction's variables (the kernel's ``MatMul`` of each step, or the
  ``If``/``Switch`` of each step with ``sequence_length``), in graph order (the order the Python code created
  them): ``T`` steps. ``D``: every node computed from the direction's variables (forward, no gradients).
* **step inputs**: the float tensors outside ``D`` whose values come from a placeholder (not through a ``Shape``)
  and that ``D`` reads: the ones step ``t`` reads and step ``t-1`` does not are ``x_t`` (an ``Unpack``/``Split``
  output, a per-step placeholder, ``x[:, t]``; the dropped input when a ``DropoutWrapper`` drops it, which the
  sandbox bypasses). Only the first direction's are fed: a backward direction reads them reversed.
* **step of a node**: the largest ``t`` whose ``x_t`` it depends on.
* **state**: tensors of step ``t`` read by step ``t + 1`` (``t <= T - 2``); **outputs**: tensors of step ``t`` read
  by a node of step ``t + 2`` or later (what the program does with the list). Each is kept by its offset from the
  step's first reader in ``D``'s creation order, the same in every step (one Python call per step); the final state
  and the last outputs are the tensors at those offsets in the last steps, the state in creation order, which is
  ``tf.nest.flatten`` order (``c`` before ``h``, layer 0 first).
* a backward direction's outputs are re-aligned in time: the ``Unpack`` of the ``ReverseSequence`` of their
  ``Pack`` (with ``sequence_length``), else the list reversed.
* ``sequence_length``: the tensor ``static_rnn`` reads with both ``Min`` and ``Max``.

Fewer than 3 steps, unused per-step outputs or an inconsistent layout raise :class:`MigrationError` naming what was
not found (``verify`` then compares with a rebuilt graph and says so).
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from migration.core.errors import MigrationError
from migration.graph.block_feeds import shape_feeds
from migration.graph.blocks import NotThisKind
from migration.graph.graphdef import SHAPE_OPS, is_training_op, ref, tensor_name
from migration.graph.limits import check_feed
from migration.graph.wrapper_check import manifest_block_keys

_VARS = ("VariableV2", "Variable", "VarHandleOp")
_PASS = ("Identity", "ReadVariableOp", "Snapshot")
_SOURCES = ("Placeholder", "PlaceholderWithDefault", "IteratorGetNext")
_SWITCH = ("Switch", "RefSwitch")
_FLOATS = (1, 2, 19)  # float32, float64, float16
_NOT_STEP = ("Assign", "AssignVariableOp", "VarIsInitializedOp", "IsVariableInitialized", "SaveV2", "Save",
             "SaveSlices")


@dataclasses.dataclass
class StaticBlock:
    """Where a statically unrolled block sits in the original graph (tensor names)."""

    steps: list[str]  # x_1..x_T: the first direction's step inputs
    sequence_length: Optional[str]
    sequences: list[list[str]]  # per sequence output (one, or fw and bw): T tensors, time-aligned
    states: list[str]  # final state, in the block contract's order (fw then bw)
    #: per state tensor: None, or the width of ``c`` when the graph concatenates ``[c, h]`` (state_is_tuple=False)
    #: where the block returns ``c`` and ``h``
    splits: list[Optional[int]] = dataclasses.field(default_factory=list)


class _Graph:
    """Positions (creation order) and forward edges of the main graph, for the unroll analysis."""

    def __init__(self, og) -> None:
        self.og = og
        self.index = og.index
        self.pos = {n.name: k for k, n in enumerate(self.index.graph_def.node)}

    def data_inputs(self, node) -> list[str]:
        return [tensor_name(i) for i in node.input if not ref(i)[2]]

    def readers(self, var_node) -> list:
        """The forward nodes that read variable ``var_node``'s value (through identities)."""
        out, todo, seen = [], [var_node.name], set()
        while todo:
            name = todo.pop()
            for c in self.index.consumers(name):
                if c.name in seen or is_training_op(c.name) or c.op in _NOT_STEP or "Apply" in c.op or \
                        c.name.startswith(var_node.name + "/") and c.op not in _PASS:
                    continue
                seen.add(c.name)
                if c.op in _PASS or c.op in _SWITCH:  # into a TF 1.x cond's branch
                    todo.append(c.name)
                else:
                    out.append(c)
        return sorted(out, key=lambda n: self.pos[n.name])

    def descendants(self, starts: list[str]) -> set[str]:
        seen, todo = set(), list(starts)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo += [c.name for c in self.index.consumers(name) if not is_training_op(c.name)]
        return seen

    def valued(self, name: str, memo: dict[str, bool]) -> bool:
        """True when the node's value comes from a placeholder (not only through its shape)."""
        if name in memo:
            return memo[name]
        memo[name] = False
        node = self.index.node(name)
        if node is None:
            return False
        if node.op in _SOURCES or "Dequeue" in node.op:
            memo[name] = True
            return True
        if node.op in SHAPE_OPS or node.op in _VARS:
            return False
        inputs = [i for i in node.input if not ref(i)[2]]
        if node.op in _SWITCH:
            inputs = inputs[:1]  # the value, not the predicate
        memo[name] = any(self.valued(ref(i)[0], memo) for i in inputs)
        return memo[name]

    def is_float(self, tensor: str) -> bool:
        node = self.index.node(ref(tensor)[0])
        for key in ("T", "dtype", "out_type"):
            if node is not None and key in node.attr and node.attr[key].type:
                return node.attr[key].type in _FLOATS
        return node is not None and node.op in ("Unpack", "Split", "SplitV", "Squeeze")  # T read above when set


def _frontier(g: _Graph, start: str, inside: set[str], memo: dict, seen: set[str]) -> set[str]:
    """Float tensors from outside ``inside`` with placeholder values that the nodes of ``inside`` upstream of
    ``start`` read, not walking through ``seen`` (the earlier steps' walks: their inputs are known)."""
    todo, out = [start], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for t in g.data_inputs(g.index.nodes[name]):
            producer = ref(t)[0]
            if producer in inside:
                todo.append(producer)
            elif g.valued(producer, memo) and g.is_float(t):
                while g.index.nodes[ref(t)[0]].op in _SWITCH:  # fed upstream of a TF 1.x cond's routing
                    t = tensor_name(g.index.nodes[ref(t)[0]].input[0])
                out.add(t)
    return out


@dataclasses.dataclass
class _Direction:
    first: list[str]  # the step's first reader of a variable, per step
    inside: set[str]  # D
    steps: list[str]  # x_t
    tainted: set[str] = dataclasses.field(default_factory=set)  # D nodes computed through another variable


def _direction(g: _Graph, keys: set[str], what: str) -> _Direction:
    variables = [n for n in g.index.nodes.values() if n.op in _VARS and g.og.variable_source(n).key in keys]
    if not variables:
        raise MigrationError(f"{what}: no variable of the graph is {sorted(keys)[:2]}...")
    readers = {v.name: g.readers(v) for v in variables}
    v0 = min((v for v in variables if readers[v.name]), key=lambda v: g.pos[readers[v.name][0].name], default=None)
    if v0 is None:
        raise MigrationError(f"{what}: nothing in the forward graph reads its variables")
    first = [n.name for n in readers[v0.name]]
    if len(first) < 2:  # one reader: a while loop's body, or a single call
        raise NotThisKind(f"{what}: its variables are read once, not once per step")
    if len(first) < 3:
        raise MigrationError(f"{what}: its variables are read by {len(first)} step(s); locating a static unroll's "
                             "state and outputs needs at least 3 steps")
    inside = g.descendants([n.name for rs in readers.values() for n in rs])
    memo: dict[str, bool] = {}
    seen: set[str] = set()
    news = []
    every = sorted({n.name for rs in readers.values() for n in rs}, key=g.pos.get)
    walked: set[str] = set()
    for t, p in enumerate(first):
        end = g.pos[first[t + 1]] if t + 1 < len(first) else len(g.pos)
        found = set()
        for r in every:  # every variable reader of step t (a GRU's candidate reads x_t, its gates concat(x_t, 0))
            if g.pos[p] <= g.pos[r] < end or (t == 0 and g.pos[r] < g.pos[p]):
                found |= _frontier(g, r, inside, memo, walked)
        news.append(sorted(found - seen))
        seen |= found
    for t, new in enumerate(news[1:], start=2):
        if len(new) != 1:
            raise MigrationError(f"{what}: step {t} of the static unroll reads {len(new)} new input tensors "
                                 f"({new[:3]}), expected one")
    steps = [_first_input(g, news[0], news[1][0], memo, what)] + [new[0] for new in news[1:]]
    return _Direction(first, inside, steps, _tainted(g, inside, {v.name for v in variables}))


def _tainted(g: _Graph, inside: set[str], own: set[str]) -> set[str]:
    """Nodes of ``inside`` computed through a variable that is not the block's (the program's per-step head,
    ``matmul(output, w)``): never the block's outputs or state."""
    foreign = [v.name for v in g.index.nodes.values() if v.op in _VARS and v.name not in own]
    starts = [r.name for v in foreign for r in g.readers(g.index.nodes[v]) if r.name in inside]
    return {n for n in g.descendants(starts) if n in inside}


def _first_input(g: _Graph, candidates: list[str], x2: str, memo: dict, what: str) -> str:
    """``x_1``: step 1 reads it with the zero state outside ``D`` (``concat([x_1, zeros])``), so walk up from what
    step 1 reads to the nearest tensor made like ``x_2`` (the same producer, or the same op)."""
    kin = g.index.nodes[ref(x2)[0]]
    seen, todo = set(), list(candidates)
    while todo:
        layer = []
        for t in todo:
            name = ref(t)[0]
            node = g.index.nodes[name]
            if t != x2 and (name == kin.name or node.op == kin.op):
                layer.append(t)
        if layer:
            if len(layer) == 1:
                return layer[0]
            break
        nxt = []
        for t in todo:
            if t in seen:
                continue
            seen.add(t)
            nxt += [i for i in g.data_inputs(g.index.nodes[ref(t)[0]]) if g.valued(ref(i)[0], memo) and g.is_float(i)]
        todo = nxt
    raise MigrationError(f"{what}: the first step's input (made like {x2!r}) was not found")


def _steps_of(g: _Graph, steps: list[str], inside: set[str]) -> dict[str, int]:
    """node -> its step: the largest step whose input it depends on. A node that
    only passes the previous step's state into this step (a TF 1.x ``cond``'s ``Switch``, the ``split`` of a
    concatenated LSTM state), created after the rest of the previous step and read only by this step, is this step's."""
    seeds = {x: t for t, x in enumerate(steps, start=1)}
    out: dict[str, int] = {}
    for _ in range(64):  # TF 1.x cond adds its Switch nodes after the op that reads them: passes to a fixed point
        changed = False
        for node in g.index.graph_def.node:
            best = max((max(seeds.get(t, 0), out.get(ref(t)[0], 0)) for t in g.data_inputs(node)), default=0)
            if best > out.get(node.name, 0):
                out[node.name], changed = best, True
        if not changed:
            break
    heads = set()
    for name in inside:
        readers = [out.get(c.name) for c in g.index.consumers(name) if c.name in inside]
        if name in out and readers and all(r == out[name] + 1 for r in readers):
            heads.add(name)
    last: dict[int, int] = {}
    for name in inside:
        if name in out and name not in heads:
            last[out[name]] = max(last.get(out[name], -1), g.pos[name])
    for name in heads:
        if g.pos[name] > last.get(out[name], -1):
            out[name] += 1
    return out


def _edges(g: _Graph, d: _Direction, step: dict[str, int], order: dict[str, int], t: int) -> tuple[set, set]:
    """(state, outputs) of step ``t <= T - 2``: {(offset from the step's first reader, output index)} of its tensors
    read by step ``t + 1``, and by a node of step ``t + 2`` or later."""
    base = order[d.first[t - 1]]
    st, ou = set(), set()
    for name in d.inside:
        if step.get(name) != t or g.index.nodes[name].op in _SWITCH or name in d.tainted:
            continue
        for c in g.index.consumers(name):
            if c.name not in d.inside:
                continue
            for inp in g.data_inputs(c):
                if ref(inp)[0] != name:
                    continue
                key = (order[name] - base, ref(inp)[1])
                for later in _reader_steps(g, d, step, c):
                    if later == t + 1:
                        st.add(key)
                    elif later >= t + 2:
                        ou.add(key)
    return st, ou


def _reader_steps(g: _Graph, d: _Direction, step: dict[str, int], node) -> set[int]:
    """The step of ``node``, or for a TF 1.x ``Switch`` (which only routes a value into a cond's branches) the steps
    of what reads it."""
    if node.op not in _SWITCH:
        return {step.get(node.name, 0)}
    return {s for c in g.index.consumers(node.name) if c.name in d.inside for s in _reader_steps(g, d, step, c)}


def _offsets(g: _Graph, d: _Direction, step: dict[str, int], order: dict[str, int]):
    """(state offsets, output offsets, the first step's output offsets): the same in every step ``2 <= t <= T - 2``
    (the first step may differ: it reads the zero state outside ``D``, so its copies of what only reads the state
    are missing)."""
    T = len(d.first)
    states: Optional[set] = None
    outputs: Optional[set] = None
    for t in range(2 if T >= 4 else 1, min(T - 1, 6)):  # a few steps suffice: every step is the same code
        st, ou = _edges(g, d, step, order, t)
        states = st if states is None else states & st
        outputs = ou if outputs is None else outputs & ou
    first = _edges(g, d, step, order, 1)[1] if T >= 4 else outputs
    if not outputs:  # the program reads each output in its own step (``[matmul(o, w) for o in outputs]``)
        outputs = _sink_reads(g, d, step, order, 2 if T >= 4 else 1)
        first = _sink_reads(g, d, step, order, 1) if T >= 4 else outputs
    return sorted(states or ()), sorted(outputs or ()), sorted(first or ())


def _sink_reads(g: _Graph, d: _Direction, step: dict[str, int], order: dict[str, int], t: int) -> set:
    """{(offset, output index)} of step ``t``'s tensors read by a node of the same step that nothing of step
    ``t + 1`` depends on (the program's per-step head, not the cell)."""
    base = order[d.first[t - 1]]
    feeding: set[str] = set()
    todo = [n for n in d.inside if step.get(n) == t + 1]
    while todo:
        name = todo.pop()
        for i in g.data_inputs(g.index.nodes[name]):
            producer = ref(i)[0]
            if producer in d.inside and producer not in feeding and step.get(producer, 0) <= t:
                feeding.add(producer)
                todo.append(producer)
    out = set()
    for name in feeding:
        if step.get(name) != t or g.index.nodes[name].op in _SWITCH or name in d.tainted:
            continue
        for c in g.index.consumers(name):
            if c.name in d.inside and step.get(c.name) == t and c.name not in feeding:
                out |= {(order[name] - base, ref(i)[1]) for i in g.data_inputs(c) if ref(i)[0] == name}
    return out


def _at(g: _Graph, d: _Direction, by_order: list[str], order: dict[str, int], t: int, key) -> str:
    k = order[d.first[t]] + key[0]
    if not 0 <= k < len(by_order):
        raise MigrationError(f"step {t + 1} of the static unroll has no node at offset {key[0]}")
    return f"{by_order[k]}:{key[1]}"


def _aligned_backward(g: _Graph, outs: list[str]) -> list[str]:
    """The backward outputs in time order: the Unpack of ReverseSequence(Pack(outs)), else ``outs`` reversed."""
    for c in g.index.consumers(ref(outs[0])[0]):
        if c.op != "Pack" or g.data_inputs(c) != outs:
            continue
        for r in g.index.consumers(c.name):
            if r.op in ("ReverseSequence", "ReverseV2"):
                unpacks = [u for u in g.index.consumers(r.name) if u.op == "Unpack"]
                if len(unpacks) == 1:
                    return [f"{unpacks[0].name}:{k}" for k in range(len(outs))]
    return outs[::-1]


def _sequence_length(g: _Graph, d: _Direction) -> Optional[str]:
    """The tensor static_rnn reads with both Min and Max (its min/max sequence length), upstream of the steps."""
    seen, todo = set(), list(d.first)
    mins, maxs = set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        node = g.index.nodes.get(name)
        if node is None or node.op in _VARS:
            continue
        if node.op in ("Min", "Max") and node.input:
            (mins if node.op == "Min" else maxs).add(tensor_name(node.input[0]))
        if name in d.inside or node.op in ("Min", "Max", "LessEqual", "GreaterEqual", "Less", "Greater", "Switch",
                                           "Identity", "Cast", "Merge", "Select", "SelectV2"):
            todo += [ref(i)[0] for i in node.input]
    both = sorted(mins & maxs)
    return both[0] if len(both) == 1 else None


def locate_static(og, keys: dict[str, set[str]], n_states: dict[str, int],
                  units: Optional[dict[str, list[int]]] = None) -> StaticBlock:
    """The static unroll whose cells read checkpoint ``keys`` per direction (``""`` or ``fw``/``bw``), with
    ``n_states`` final-state tensors per direction (see the module docstring). ``units``: per direction, each
    layer's ``c`` width, for a graph that passes ``concat([c, h])`` (``state_is_tuple=False``) where the block
    returns ``c`` and ``h`` (twice as many states)."""
    g = _Graph(og)
    directions = [d for d in ("", "fw", "bw") if d in keys]
    sequences, states, splits, first_steps, length = [], [], [], None, None
    for direction in directions:
        what = f"the static unroll{' ' + direction if direction else ''} reading {sorted(keys[direction])[:1]}"
        d = _direction(g, keys[direction], what)
        if first_steps is None:
            first_steps, length = d.steps, _sequence_length(g, d)
        elif len(d.steps) != len(first_steps):
            raise MigrationError(f"{what}: {len(d.steps)} steps, the forward direction {len(first_steps)}")
        step = _steps_of(g, d.steps, d.inside)
        by_order = [n.name for n in g.index.graph_def.node if n.name in d.inside]
        order = {n: k for k, n in enumerate(by_order)}
        state_keys, output_keys, first_keys = _offsets(g, d, step, order)
        widths = (units or {}).get(direction, [])
        concatenated = len(state_keys) * 2 == n_states[direction] and len(widths) == len(state_keys)
        if len(state_keys) != n_states[direction] and not concatenated:
            raise MigrationError(f"{what}: {len(state_keys)} state tensors pass from one step to the next, the block "
                                 f"has {n_states[direction]}")
        if len(output_keys) != 1 or len(first_keys) != 1:
            raise MigrationError(f"{what}: {len(output_keys)} tensors of each step are read after the step (the "
                                 "per-step outputs are unused or ambiguous)")
        T = len(d.first)
        outs = [_at(g, d, by_order, order, t, first_keys[0] if t == 0 else output_keys[0]) for t in range(T)]
        if any(g.index.nodes[ref(o)[0]].op != g.index.nodes[ref(outs[1])[0]].op for o in outs):
            raise MigrationError(f"{what}: the per-step outputs {outs[:3]}... are not made alike")
        final = [_at(g, d, by_order, order, T - 1, k) for k in state_keys]
        before = [_at(g, d, by_order, order, T - 2, k) for k in state_keys] + [outs[-2]]
        for a, b in zip(final + [outs[-1]], before):  # the last step made like the others
            if step.get(ref(a)[0]) != T or g.index.nodes[ref(a)[0]].op != g.index.nodes[ref(b)[0]].op:
                raise MigrationError(f"{what}: the last step's {a!r} is not made like {b!r} of the step before")
        states += final
        splits += list(widths) if concatenated else [None] * len(final)
        sequences.append(_aligned_backward(g, outs) if direction == "bw" else outs)
    return StaticBlock(first_steps, length, sequences, states, splits)


def fit_steps(og, where: StaticBlock, x: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x, lengths)`` cut or repeated to the unroll's step count and to the fixed batch of its step inputs."""
    node = og.index.node(ref(where.steps[0])[0])
    shapes = node.attr["_output_shapes"].list.shape if node is not None and "_output_shapes" in node.attr else []
    k = ref(where.steps[0])[1]
    batch = int(shapes[k].dim[0].size) if k < len(shapes) and not shapes[k].unknown_rank and shapes[k].dim else -1
    if node is not None and node.op == "Placeholder" and node.attr["shape"].shape.dim:
        batch = int(node.attr["shape"].shape.dim[0].size)
    steps = len(where.steps)
    check_feed(where.steps[0], [batch if batch > 0 else x.shape[0], steps, x.shape[2]], x.dtype.itemsize)
    if batch > 0 and batch != x.shape[0]:
        rows = np.arange(batch) % x.shape[0]
        x, lengths = x[rows], lengths[rows]
    if steps != x.shape[1]:
        x = x[:, np.arange(steps) % x.shape[1]]
        lengths = np.minimum(lengths, steps).astype(lengths.dtype)
        lengths[0] = steps
    return np.ascontiguousarray(x), lengths


def run_static(og, where: StaticBlock, x: np.ndarray, lengths: np.ndarray, extra: dict) -> list[np.ndarray]:
    """The original unroll's outputs for batch-major ``x`` (already fitted): the step inputs fed ``x[:, t]``, the
    sequences stacked to ``[batch, time, ...]``, then the final state. ``extra``: more feeds (shape-only
    placeholders)."""
    feeds = {t: np.ascontiguousarray(x[:, k]) for k, t in enumerate(where.steps)}
    if where.sequence_length is not None:
        feeds[where.sequence_length] = lengths
    feeds.update(extra)
    fetches = [t for seq in where.sequences for t in seq] + where.states
    values = og.run(fetches, feeds)
    T = len(where.steps)
    seqs = [np.stack(values[k * T:(k + 1) * T], axis=1) for k in range(len(where.sequences))]
    states = []
    for value, split in zip(values[len(where.sequences) * T:], where.splits or [None] * len(where.states)):
        states += [value] if split is None else [value[..., :split], value[..., split:]]
    return seqs + states


def locate_static_block(og, block: dict) -> StaticBlock:
    """:func:`locate_static` for a manifest block (the graph reads the raw variables, not EMA shadows)."""
    keys, n_states = manifest_block_keys(block)
    raw = {shadow: key for key, shadow in og.substitute.items()}
    units: dict[str, list[int]] = {}
    for cell in sorted(block["cells"], key=lambda c: c.get("layer", 0)):
        units.setdefault(cell["direction"], []).append(int(cell.get("spec", {}).get("units") or 0))
    return locate_static(og, {d: {raw.get(k, k) for k in ks} for d, ks in keys.items()}, n_states, units)


def run_static_block(og, block: dict, x: np.ndarray, lengths: np.ndarray):
    """(outputs, x, lengths) of a manifest block's static unroll in the original graph, ``x`` and ``lengths`` fitted
    to its step count (full lengths when it has no ``sequence_length``). Raises :class:`MigrationError` when the
    block is not a static unroll this module can locate."""
    where = locate_static_block(og, block)
    x, lengths = fit_steps(og, where, x, lengths)
    if where.sequence_length is None:
        lengths = np.full_like(lengths, x.shape[1])
    fetches = [t for seq in where.sequences for t in seq] + where.states
    fed = {t: x[:, 0] for t in where.steps}
    extra = shape_feeds(og, fetches, fed, x.shape[0], x.shape[1])
    return run_static(og, where, x, lengths, extra), x, lengths
