"""Find a cell STEPPED BY HAND whose per-step input comes from the previous step, and run its own ops.

Captioning decoders with soft attention (``context = attend(features, h)``, then ``cell(concat([x_t, context]),
state)``), greedy samplers (``x_t = embed(argmax(logits_{t-1}))``) and other loops ``for t in range(T): out, state =
cell(inputs_t, state)`` compute each step's cell input from the previous step's output: no placeholder slice is the
step's input, so :mod:`migration.graph.static_blocks` does not claim them. The cell's own ops are still in the
graph once per step, and each step's cell input is a tensor of the graph: the check feeds it.

Found from the block's variables (checkpoint keys, never names):

* **steps**: the forward readers of the variable read first (the kernel's ``MatMul``, a fused cell op), one per
  step; readers computed from one another form a **chain** (one Python loop: a training path and a sampler on the
  same cell are two chains). The longest chain of 3 or more steps is used (the first one built on a tie).
* **cell input** ``x_t`` of a step: the reader's first data input that is not a variable; when it is a ``concat``
  (TF1 cells compute ``matmul(concat([inputs, h]), kernel)``), that concat's first input (the cell's ``inputs``
  argument: ``concat([x_t, context])`` for an attention decoder). A fused op's first input is its ``inputs``.
* **step of a node**: the largest ``t`` whose reader or cell input it depends on. The **cell's ops** are the nodes
  the steps' readers of every block variable need (every layer of a stack), stopping at the cell inputs (so the
  attention, the embedding and the feedback that make ``x_t`` are left out), that depend on a step, plus the last
  step's new state; they must read no variable but the block's, and every step's reads of the block's variables
  must pass to the next step (a wrapper's output projection does not).
* **state**: the tensors of step ``t - 1`` that the cell's ops of step ``t`` read, the same in every step (by index
  among each step's cell ops in creation order: one Python call per step; the variables a stack's upper layer
  creates inside step 1 are not cell ops); the block's state in creation order (``c`` before ``h``, layer 0 first).
  **Initial state**: what step 1's ops read in the same places (a zero state, or a learned one such as
  ``tanh(W mean(features))``): fed zeros, as the block contract starts from a zero state.
  **Final state**: the tensors at the same offsets in the last step. **Outputs**: per step, the state tensor created
  last (a TF1 cell's output is its last state tensor: ``h`` of an LSTM, the top layer's ``h`` of a stack).

The check then feeds random ``x_t`` at every step's cell input and zeros at the initial state, and fetches the
outputs and the final state (:func:`migration.graph.static_blocks.run_static`): the original graph's own cell ops,
not a rebuilt graph. Anything that does not fit raises :class:`MigrationError` naming it (``verify`` then compares
with a rebuilt graph and says so).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from migration.core.errors import MigrationError
from migration.graph.block_feeds import shape_feeds
from migration.graph.blocks import NotThisKind
from migration.graph.graphdef import is_training_op, ref, tensor_name
from migration.graph.static_blocks import StaticBlock, fit_steps, run_static
from migration.graph.wrapper_check import manifest_block_keys

_VARS = ("VariableV2", "Variable", "VarHandleOp")
_PASS = ("Identity", "ReadVariableOp", "Snapshot")
_NOT_STEP = ("Assign", "AssignVariableOp", "VarIsInitializedOp", "IsVariableInitialized", "SaveV2", "Save",
             "SaveSlices")
_CONCATS = {"ConcatV2": slice(0, -1), "Concat": slice(1, None)}


@dataclasses.dataclass
class SteppedBlock:
    """Where a hand-stepped cell sits in the original graph (tensor names), in :class:`StaticBlock` terms, plus the
    initial state tensors (fed zeros) and their widths."""

    block: StaticBlock
    initial: list[str]
    widths: list[int]


class _Walk:
    def __init__(self, og, keys: set[str]) -> None:
        self.og, self.index = og, og.index
        self.pos = {n.name: k for k, n in enumerate(self.index.graph_def.node)}
        self.order = [n.name for n in self.index.graph_def.node]
        self.own = {n.name for n in self.index.nodes.values() if n.op in _VARS and og.variable_source(n).key in keys}

    def readers(self, var: str) -> list[str]:
        """Forward nodes reading variable ``var`` (through identities), in creation order."""
        out, todo, seen = [], [var], set()
        while todo:
            for c in self.index.consumers(todo.pop()):
                if c.name in seen or is_training_op(c.name) or c.op in _NOT_STEP or "Apply" in c.op or \
                        c.name.startswith(var + "/") and c.op not in _PASS:
                    continue
                seen.add(c.name)
                (todo if c.op in _PASS else out).append(c.name)
        return sorted(out, key=self.pos.get)

    def variable(self, tensor: str):
        """The variable node ``tensor`` reads through identities, or None."""
        node = self.index.node(ref(tensor)[0])
        for _ in range(6):
            if node is None or node.op in _VARS:
                return node
            if node.op not in _PASS or not node.input:
                return None
            node = self.index.node(ref(node.input[0])[0])
        return None

    def data(self, name: str) -> list[str]:
        return [tensor_name(i) for i in self.index.nodes[name].input if not ref(i)[2]]


def _chains(w: _Walk, readers: list[str]) -> list[list[str]]:
    """Readers grouped into chains: each one computed from the one before (see the module docstring)."""
    prev: dict[str, str] = {}
    for r in readers:
        above = set(w.index.closure([r])[0]) - {r}
        earlier = [q for q in readers if q in above]
        if earlier:
            prev[r] = max(earlier, key=w.pos.get)
    nexts: dict[str, list[str]] = {}
    for r, p in prev.items():
        nexts.setdefault(p, []).append(r)
    chains = []
    for r in readers:
        if r in prev:
            continue
        chain = [r]
        while len(nexts.get(chain[-1], [])) == 1:
            chain.append(nexts[chain[-1]][0])
        if len(nexts.get(chain[-1], [])) <= 1:  # a reader two later steps both read: not one loop
            chains.append(chain)
    return chains


def _cell_input(w: _Walk, reader: str, what: str) -> str:
    data = [t for t in w.data(reader) if w.variable(t) is None]
    if not data:
        raise MigrationError(f"{what}: {reader!r} reads no input besides the variables")
    x = data[0]
    node = w.index.nodes[ref(x)[0]]
    if node.op in _CONCATS:
        values = w.data(node.name)[_CONCATS[node.op]]
        x = values[0] if len(values) >= 2 else x
    return x


def _steps_of(w: _Walk, seeds: dict[str, int]) -> dict[str, int]:
    """node -> the largest step whose reader or cell input (``seeds``: node -> step) it depends on."""
    step: dict[str, int] = dict(seeds)
    for _ in range(16):  # graph order is creation order; a few passes cover nodes created before their inputs
        changed = False
        for name in w.order:
            best = max([seeds.get(name, 0)] + [step.get(ref(t)[0], 0) for t in w.data(name)])
            if best > step.get(name, 0):
                step[name], changed = best, True
        if not changed:
            return step
    return step


def _crossings(w: _Walk, lists: dict[int, list[str]], step: dict[str, int], t: int) -> dict:
    """{(consumer index, data slot): (producer index, output)} of the reads of step ``t - 1``'s cell ops by step
    ``t``'s (indices in each step's cell ops, in creation order)."""
    at = {n: k for k, n in enumerate(lists[t - 1])}
    out = {}
    for k, name in enumerate(lists[t]):
        for slot, inp in enumerate(w.data(name)):
            producer = ref(inp)[0]
            if producer in at:
                out[(k, slot)] = (at[producer], ref(inp)[1])
            elif 1 <= step.get(producer, 0) < t - 1 and producer in lists.get(step[producer], ()):
                raise MigrationError(f"{name!r} (step {t}) reads {inp!r} of step {step[producer]}: not a state "
                                     "passed from one step to the next")
    return out


def _last_step(w: _Walk, readers: list[str], step: dict[str, int], T: int) -> set[str]:
    """The last step's ops computed from its readers without another variable (its new state, which no later step
    reads; the program's head, which reads its own weights, is left out)."""
    out, todo = set(), list(readers)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out.add(name)
        for c in w.index.consumers(name):
            if step.get(c.name) == T and not is_training_op(c.name) and \
                    all((v := w.variable(i)) is None or v.name in w.own for i in w.data(c.name)):
                todo.append(c.name)
    return out


def _width(w: _Walk, tensor: str) -> int:
    node = w.index.nodes[ref(tensor)[0]]
    shapes = node.attr["_output_shapes"].list.shape if "_output_shapes" in node.attr else []
    k = ref(tensor)[1]
    if k < len(shapes) and not shapes[k].unknown_rank and len(shapes[k].dim) == 2 and shapes[k].dim[1].size > 0:
        return int(shapes[k].dim[1].size)
    raise MigrationError(f"the state tensor {tensor!r} has no static width in the .meta: its zero state cannot be fed")


def locate_stepped(og, keys: set[str], n_states: int) -> SteppedBlock:
    """The hand-stepped unroll of the cell reading checkpoint ``keys`` with ``n_states`` state tensors (see the
    module docstring)."""
    what = f"the hand-stepped cell reading {sorted(keys)[:1]}"
    w = _Walk(og, keys)
    firsts = {v: w.readers(v) for v in w.own}
    firsts = {v: rs for v, rs in firsts.items() if rs}
    if not firsts:
        raise NotThisKind(f"{what}: nothing in the forward graph reads its variables")
    v0 = min(firsts, key=lambda v: w.pos[firsts[v][0]])
    chains = [c for c in _chains(w, firsts[v0]) if len(c) >= 3]
    if not chains:
        raise NotThisKind(f"{what}: no chain of 3 or more steps reads {v0!r}")
    chain = max(chains, key=len)
    T = len(chain)
    xs = [_cell_input(w, r, what) for r in chain]
    if len({ref(x)[0] for x in xs}) != T:
        raise MigrationError(f"{what}: its steps' cell inputs {xs[:3]}... are not one tensor per step")
    step = _steps_of(w, {**{ref(x)[0]: t for t, x in enumerate(xs, 1)}, **{r: t for t, r in enumerate(chain, 1)}})
    stepped = sorted({r for rs in firsts.values() for r in rs if 1 <= step.get(r, 0) <= T})  # every layer's readers
    cell = {n for n in w.index.closure(stepped, {ref(x)[0] for x in xs})[0] if step.get(n, 0) >= 1} - \
        {ref(x)[0] for x in xs}
    foreign = sorted({v.name for n in cell for i in w.data(n) if (v := w.variable(i)) is not None} - w.own)
    if foreign:
        raise MigrationError(f"{what}: its steps also read {foreign[:2]} (not the block's variables): not one cell")
    later = set(w.index.closure([r for r in stepped if step[r] > 1], {ref(x)[0] for x in xs})[0])
    if any(r not in later for r in stepped if step[r] < T):  # an output projection applied after the cell
        raise MigrationError(f"{what}: some of its variables are read by ops whose results do not pass to the next "
                             "step (a wrapper's projection of the output?): not one cell per step")
    cell |= _last_step(w, [r for r in stepped if step[r] == T], step, T)
    lists = {t: sorted((n for n in cell if step[n] == t), key=w.pos.get) for t in range(1, T + 1)}
    layouts = [_crossings(w, lists, step, t) for t in range(2, T)]
    if any(lay != layouts[0] for lay in layouts) or not layouts[0]:
        raise MigrationError(f"{what}: the state passed between its steps differs from step to step")
    produced = sorted(set(layouts[0].values()))  # creation order: c before h, layer 0 first
    if len(produced) != n_states:
        raise MigrationError(f"{what}: {len(produced)} state tensors pass from one step to the next, the block has "
                             f"{n_states}")
    like = {p: lists[T - 1][p[0]] for p in produced}

    def at(t: int, p: tuple[int, int]) -> str:
        if p[0] >= len(lists[t]) or w.index.nodes[lists[t][p[0]]].op != w.index.nodes[like[p]].op:
            raise MigrationError(f"{what}: step {t} has no op like {like[p]!r} where the other steps have it")
        return f"{lists[t][p[0]]}:{p[1]}"

    final = [at(T, p) for p in produced]
    outs = [at(t, produced[-1]) for t in range(1, T + 1)]  # a TF1 cell's output: its last state tensor
    initial: dict[tuple[int, int], str] = {}
    for (k, slot), p in sorted(layouts[0].items()):
        if k >= len(lists[1]) or w.index.nodes[lists[1][k]].op != w.index.nodes[lists[2][k]].op:
            raise MigrationError(f"{what}: the first step's ops differ from the second step's")
        initial.setdefault(p, w.data(lists[1][k])[slot])
    init = [initial[p] for p in produced]
    return SteppedBlock(StaticBlock(xs, None, [outs], final, [None] * n_states), init,
                        [_width(w, t) for t in final])


def run_stepped_block(og, block: dict, x: np.ndarray, lengths: np.ndarray):
    """(outputs, x, lengths) of a manifest block's hand-stepped cell in the original graph: every step's cell input
    fed ``x[:, t]``, zeros at its initial state (``x`` fitted to the step count, full lengths)."""
    keys, n_states = manifest_block_keys(block)
    if set(keys) != {""}:
        raise NotThisKind(f"block {block['name']}: a hand-stepped cell is located for one direction only")
    raw = {shadow: key for key, shadow in og.substitute.items()}
    found = locate_stepped(og, {raw.get(k, k) for k in keys[""]}, n_states[""])
    where = found.block
    x, lengths = fit_steps(og, where, x, lengths)
    lengths = np.full_like(lengths, x.shape[1])
    zeros = {t: np.zeros((x.shape[0], width), np.float32) for t, width in zip(found.initial, found.widths)}
    fetches = [t for seq in where.sequences for t in seq] + where.states
    fed = {**{t: x[:, 0] for t in where.steps}, **zeros}
    extra = {**zeros, **shape_feeds(og, fetches, fed, x.shape[0], x.shape[1])}
    return run_static(og, where, x, lengths, extra), x, lengths
