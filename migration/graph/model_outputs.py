"""The whole model's default outputs: the predictions the training loss consumes, whatever the loss.

1. **The loss** is what the training graph differentiates: the forward node each ``gradients[_N]/grad_ys_K`` seed
   enters (its gradient ops are named ``gradients/<loss node>_grad/...``). A graph with no gradients (an inference
   export) has no loss here.
2. **Labels and inputs.** The loss reads placeholders. A placeholder is a model *input* when a *weighted* op (an op
   reading a variable directly: ``MatMul``/``Conv2D``/``Gather``/``BiasAdd``/a loop ...) depends on it, else a *label*
   (``y``, CRF tags, CTC labels, MSE targets). A placeholder that a known loss op reads as its labels (the ``labels``
   of a cross-entropy, of ``CTCLoss``, the ``true_classes`` of a candidate sampler) is a label in any case, unless
   the labels are a slice of it and it also feeds the model outside that slice (teacher forcing: ``captions[:, :T]``
   in, ``captions[:, 1:]`` the labels): then it is an input, and the label slice is where the labels start.
3. **The frontier**: float tensors of the loss's closure that depend on the inputs and the weights and on no label,
   read by a node that depends on a label. They are the model's predictions as the loss sees them.
4. **Roots**: the loss's own transformations are stripped: element-wise head ops (``Sigmoid``, ``Softmax``, ``Exp``,
   ``Square``, ``Split`` ...) whose non-constant inputs all come from one tensor are followed back to it (an MDN's
   ``split(xw_plus_b)``, a contrastive loss's ``square(distance)``), and so are ``Reshape``/``Identity``/``Cast``
   nodes inside the consuming loss op's own name scope (``sequence_loss/Reshape``). A ``Reshape`` or ``Transpose``
   the program wrote itself (a named ``distance``, a ``transpose_time_major``) is kept: it is what the user named.

Summaries, optimizer and saver ops are never chosen (they are not in the loss's forward closure), nor are state
updates (a batch norm's ``AssignMovingAvg``): the graph's control edges to them are dropped before it is read
(:mod:`migration.graph.update_rewrite`).
"""
from __future__ import annotations

import re
from typing import Any, Optional

from migration.graph.graphdef import SHAPE_OPS, ref, tensor_name

#: ops whose outputs are a queue- or tf.data-fed graph's inputs: the model starts after them
DEQUEUE_OPS = frozenset("""QueueDequeueV2 QueueDequeueManyV2 QueueDequeueUpToV2 QueueDequeue QueueDequeueMany
QueueDequeueUpTo IteratorGetNext IteratorGetNextSync""".split())
_GRAD_SEED = re.compile(r"^(?:(.*)/)?gradients(?:_\d+)?/grad_ys_\d+$")
_VARIABLE = ("VariableV2", "Variable", "VarHandleOp")
_READ = ("Identity", "ReadVariableOp", "Enter", "RefEnter", "Snapshot")
#: ops whose inputs include the labels, and which input index holds them
_LABEL_SLOTS = {"SoftmaxCrossEntropyWithLogits": (1,), "SparseSoftmaxCrossEntropyWithLogits": (1,),
                "CTCLoss": (1, 2), "CTCLossV2": (1, 2), "LogUniformCandidateSampler": (0,),
                "UniformCandidateSampler": (0,), "LearnedUnigramCandidateSampler": (0,),
                "FixedUnigramCandidateSampler": (0,), "AllCandidateSampler": (0,)}
#: element-wise or splitting ops a loss applies to the predictions (followed back to their one varying input)
_HEAD_OPS = frozenset("""Sigmoid Softmax LogSoftmax Exp Log Log1p Tanh Square Sqrt Rsqrt Neg Abs Sign Rint Round Floor
Ceil Relu Softplus Reciprocal OnesLike ZerosLike Add AddV2 Sub Mul RealDiv Div Maximum Minimum Pow SquaredDifference
Max Sum Mean Min Select SelectV2 GreaterEqual Greater Less LessEqual""".split())
#: slicing ops, followed back only when that merges several predictions into one tensor (an MDN's parameters sliced
#: out of one ``xw_plus_b``); a single prediction sliced from a sequence (``outputs[:, -1]``) stays what it is
_SLICE_OPS = frozenset("Split SplitV Unpack StridedSlice Slice".split())
_AUTO_RESHAPE = re.compile(r"^Reshape(_\d+)?$")
_LOSS_RESHAPES = ("Reshape", "Identity", "Cast", "StopGradient", "ExpandDims", "Squeeze")
_FLOATS = (1, 2, 19, 14)  # float32, float64, float16, bfloat16


def loss_nodes(index) -> list[str]:
    """Forward nodes the training graph differentiates (see the module docstring), in graph order."""
    found: dict[str, None] = {}
    for node in index.graph_def.node:
        m = _GRAD_SEED.match(node.name) if node.op == "Fill" else None
        if m is None:
            continue
        prefix = node.name[: node.name.index("grad_ys_")]  # ".../gradients/"
        todo, seen = [node.name], set()
        while todo:
            name = todo.pop()
            for c in index.consumers(name):
                if c.name in seen or not c.name.startswith(prefix):
                    continue
                seen.add(c.name)
                loss = _grad_target(index, c.name[len(prefix):])
                if loss is not None:
                    found[loss] = None
                elif c.op in ("Identity", "AddN", "NoOp") or "tuple" in c.name:
                    todo.append(c.name)
    return list(found)


def _grad_target(index, rest: str) -> Optional[str]:
    parts = rest.split("/")
    for k, part in enumerate(parts):
        if part.endswith("_grad"):
            name = "/".join(parts[:k] + [part[: -len("_grad")]])
            if index.node(name) is not None:
                return name
    return None


def dequeued(index, node, within: set[str]) -> list[str]:
    """The outputs (``name:k``) of dequeue ``node`` that nodes of ``within`` read, in output order."""
    used = {ref(i)[1] for c in index.consumers(node.name) if c.name in within
            for i in c.input if ref(i)[0] == node.name and not ref(i)[2]}
    return [f"{node.name}:{k}" for k in sorted(used)]


def _is_variable_read(index, tensor: str) -> bool:
    node = index.node(ref(tensor)[0])
    for _ in range(6):
        if node is None:
            return False
        if node.op in _VARIABLE:
            return True
        if node.op not in _READ or not node.input:
            return False
        node = index.node(ref(node.input[0])[0])
    return False


_GATHERS = ("Gather", "GatherV2", "GatherNd", "ResourceGather", "ResourceGatherNd")


def _variable_of(index, tensor: str) -> str:
    node = index.node(ref(tensor)[0])
    while node is not None and node.op not in _VARIABLE and node.input:
        node = index.node(ref(node.input[0])[0])
    return node.name if node is not None else ""




def _forward(index, starts: set[str], within: set[str]) -> set[str]:
    """Nodes of ``within`` whose values depend on any of ``starts`` (included); a dependence through a tensor's
    shape alone (``Shape``, ``Size``: a mask sized like the logits) is not a dependence on its values."""
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        name = todo.pop()
        if name in seen or name not in within:
            continue
        seen.add(name)
        todo += [c.name for c in index.consumers(name) if c.op not in SHAPE_OPS]
    return seen


def _data_inputs(node) -> list[str]:
    return [i for i in node.input if not ref(i)[2]]


def _float(node, idx: int) -> bool:
    for key in ("T", "dtype", "DstT"):
        if key in node.attr and node.attr[key].type:
            return node.attr[key].type in _FLOATS
    if "T" in node.attr and node.attr["T"].list.type:
        types = node.attr["T"].list.type
        return idx < len(types) and types[idx] in _FLOATS
    return node.op in ("Softmax", "Sigmoid", "Tanh")


class _Graph:
    """The loss's closure, with what each node depends on."""

    def __init__(self, index, losses: list[str]) -> None:
        self.index = index
        names, _ = index.closure(losses)
        self.within = set(names)
        nodes = index.nodes
        # the sources: placeholders, and the outputs of a queue's / an iterator's dequeue (``name:k``)
        sources = sorted(n for n in self.within if nodes[n].op == "Placeholder")
        sources += [t for n in sorted(self.within) if nodes[n].op in DEQUEUE_OPS
                    for t in dequeued(index, nodes[n], self.within)]
        weighted = {n for n in self.within if nodes[n].op not in _READ + _VARIABLE and
                    any(self._weight_read(i, nodes[n].op) for i in _data_inputs(nodes[n]))}
        self.weighted_dep = _forward(index, weighted, self.within)
        labels, label_paths, sampled = set(), set(), set()
        for n in self.within:
            for slot in _LABEL_SLOTS.get(nodes[n].op, ()):
                if slot < len(nodes[n].input):  # the labels' own closure, not through the predictions
                    sub, _ = index.closure([nodes[n].input[slot]], self.weighted_dep)
                    reached = set(sub) - self.weighted_dep
                    read = {tensor_name(nodes[n].input[slot])} | {tensor_name(i) for r in reached for i in nodes[r].input
                                                              if not ref(i)[2]}
                    found = {src for src in sources if src in reached or src in read}
                    labels |= found
                    if nodes[n].op.endswith("CandidateSampler"):  # a sampled loss gathers weights at its labels
                        sampled |= found
                    label_paths |= reached
        # teacher forcing: the targets are the labels and, shifted, the decoder's inputs (a weighted op reads them
        # outside the labels' own path). Such a placeholder is an input; only its label path depends on the labels.
        model_side = set(index.closure(sorted(weighted))[0]) if weighted else set()
        dual = {src for src in labels - sampled if ":" not in src and src in model_side and any(
            c.name in model_side for c in index.consumers(src) if c.name in self.within)}
        labels -= dual
        self.inputs, self.labels = set(dual), set(labels)
        for src in [s for s in sources if s not in labels and s not in dual]:
            reach = _forward(index, self._starts(src), self.within)
            (self.inputs if reach & weighted else self.labels).add(src)
        # a label source sliced into both the labels and the model's input (h-han-sat's rule; see _teacher_forced)
        starts = self._teacher_forced(label_paths - {ref(s)[0] for s in sources}, weighted)
        starts |= set().union(*map(self._starts, self.labels))
        starts |= {c.name for src in dual for c in index.consumers(src)
                   if c.name in label_paths and c.name not in model_side}
        self.label_dep = _forward(index, starts, self.within)
        self.input_dep = _forward(index, set().union(*map(self._starts, self.inputs)), self.within)

    def _teacher_forced(self, label_nodes: set[str], weighted: set[str]) -> set[str]:
        """A label source that the labels slice and that also feeds the model outside the labels' own closure
        (teacher forcing: ``captions[:, :T]`` the decoder's input, ``captions[:, 1:]`` the labels; a language model's
        one ``data`` placeholder) is a model input; the label closure's nodes that read it start the label dependence instead.
        Moves those sources from ``self.labels`` to ``self.inputs``; returns those starting nodes."""
        starts: set[str] = set()
        for src in sorted(self.labels):
            sliced = {c.name for c in self.index.consumers(ref(src)[0]) if c.name in label_nodes}
            if sliced and all(self.index.nodes[c].op in _SLICE_OPS for c in sliced) and \
                    weighted & _forward(self.index, self._starts(src), self.within - label_nodes):
                self.labels.discard(src)  # (labels read whole, e.g. a sampled softmax's rows of ``y``: still labels)
                self.inputs.add(src)
                starts |= sliced
        return starts

    def _starts(self, source: str) -> set[str]:
        """The nodes a source's value enters: a placeholder itself; the readers of one output of a dequeue."""
        if ":" not in source:
            return {source}
        name, k, _ = ref(source)
        return {c.name for c in self.index.consumers(name) if c.name in self.within and
                any(ref(i)[0] == name and ref(i)[1] == k and not ref(i)[2] for i in c.input)}

    def _weight_read(self, tensor: str, op: str) -> bool:
        """``tensor`` is a variable read that makes its reader a model op: any read, except a lookup (``Gather*``)
        in a variable that is also read otherwise (a CRF's ``transitions`` gathered at the gold tags and added in
        the forward recursion: the tags are labels, not model inputs; an embedding table is read by lookups only)."""
        if not _is_variable_read(self.index, tensor):
            return False
        if op not in _GATHERS:
            return True
        var = _variable_of(self.index, tensor)
        readers = [c for c in self.index.consumers(var) if c.name in self.within]
        todo, ops = list(readers), set()
        while todo:
            c = todo.pop()
            if c.op in _READ:
                todo += [d for d in self.index.consumers(c.name) if d.name in self.within]
            else:
                ops.add(c.op)
        return ops <= set(_GATHERS)

    def frontier(self) -> list[str]:
        out: dict[str, None] = {}
        for name in [n.name for n in self.index.graph_def.node if n.name in self.within]:
            node = self.index.nodes[name]
            if name in self.label_dep or name not in self.input_dep or name not in self.weighted_dep:
                continue
            for c in self.index.consumers(name):
                if c.name not in self.label_dep:
                    continue
                for i in _data_inputs(c):
                    if ref(i)[0] == name and _float(node, ref(i)[1]):
                        out[tensor_name(i)] = None
        return list(out)

    def varying(self, tensor: str) -> bool:
        name = ref(tensor)[0]
        return name in self.input_dep or name in self.weighted_dep

    def root(self, tensor: str, memo: dict, ops=_HEAD_OPS) -> str:
        """Follow ``ops`` back to the one varying tensor they are computed from."""
        if tensor in memo:
            return memo[tensor]
        memo[tensor] = tensor
        node = self.index.node(ref(tensor)[0])
        if node is None or node.op not in ops or node.name not in self.input_dep:
            return tensor
        if any(_is_variable_read(self.index, tensor_name(i)) for i in _data_inputs(node)):
            return tensor  # it applies a trained weight (``matmul(h, w) + b``: the bias): part of the model
        varying = [tensor_name(i) for i in _data_inputs(node) if self.varying(i)]
        if not varying or any(_is_variable_read(self.index, v) for v in varying):
            return tensor
        roots = {self.root(v, memo, ops) for v in varying}
        if len(roots) == 1:
            memo[tensor] = roots.pop()
        return memo[tensor]


def _scope(name: str) -> str:
    return name.rsplit("/", 1)[0] + "/" if "/" in name else ""


def _loss_scope_back(index, tensor: str, loss_scopes: set[str]) -> str:
    """Follow the loss's own reshapes back: a ``Reshape``/``Identity``/``Cast`` in a name scope that holds the loss
    (a node reading the labels) and whose input comes from outside that scope (``sequence_loss/Reshape`` of the
    program's ``xw_plus_b``), and a reshape of a Dense output (``reshape(xw_plus_b(h), [B, T, V])``: the Dense
    output is the logits; only an unnamed ``Reshape[_N]`` that no argmax/softmax of the program reads). A reshape the program named (``pred``,
    ``output/distance``) or of anything else is kept."""
    for _ in range(8):
        node = index.node(ref(tensor)[0])
        if node is None or node.op not in _LOSS_RESHAPES or not node.input:
            return tensor
        scope = _scope(node.name)
        producer = index.node(ref(node.input[0])[0])
        while producer is not None and producer.op == "Identity" and producer.input:
            producer = index.node(ref(producer.input[0])[0])
        dense = producer is not None and node.op == "Reshape" and _AUTO_RESHAPE.match(node.name.rsplit("/", 1)[-1]) and \
            any(_is_variable_read(index, i) for i in _data_inputs(producer)) and \
            not any(c.op in _PREDICTION_OPS for c in index.consumers(node.name))  # the program's argmax reads it
        if not dense and (not scope or scope not in loss_scopes or ref(node.input[0])[0].startswith(scope)):
            return tensor
        tensor = tensor_name(node.input[0])
    return tensor


def loss_predictions(index) -> tuple[list[str], list[str]]:
    """(the predictions the loss consumes, the loss nodes); ``([], losses)`` when none are found."""
    losses = loss_nodes(index)
    if not losses:
        return [], []
    g = _Graph(index, losses)
    frontier = g.frontier()
    # a frontier tensor computed from another one inside the loss (a CRF's log-partition from its unary scores)
    # is not a prediction of its own
    ancestors = {t: set(index.closure([t], {ref(o)[0] for o in frontier if o != t})[0]) - {ref(t)[0]}
                 for t in frontier}
    frontier = [t for t in frontier if not any(ref(o)[0] in ancestors[t] for o in frontier if o != t)]
    memo: dict = {}
    out: dict[str, None] = {}
    loss_scopes = {_scope(n) for n in g.label_dep if _scope(n)}
    for t in frontier:
        back = t
        for _ in range(4):
            step = g.root(_loss_scope_back(index, back, loss_scopes), memo)
            if step == back:
                break
            back = step
        out[back] = None
    roots = list(out)
    if len(roots) > 1:
        wide: dict = {}
        merged = list(dict.fromkeys(g.root(r, wide, _HEAD_OPS | _SLICE_OPS) for r in roots))
        if len(merged) < len(roots):
            roots = merged
    return roots, losses


#: what an inference graph applies to its logits at the end: the logits are the output, not the probabilities or ids
_PREDICTION_OPS = ("Softmax", "Sigmoid", "ArgMax", "TopKV2", "LogSoftmax")
_PREDICTION_PASS = ("Identity", "Cast", "Squeeze", "Reshape", "ExpandDims")


def prediction_logits(index, terminals: list[str]) -> list[str]:
    """The graph's terminal tensors with each ``softmax``/``sigmoid``/``argmax`` prediction replaced by the logits
    it is computed from (an inference export with no loss: ``raw_prediction = argmax(softmax(logits))`` -> ``logits``)."""
    return list(dict.fromkeys(_last_before_prediction(index, t) for t in terminals))


def _last_before_prediction(index, tensor: str) -> str:
    """The input of the earliest prediction op in the chain ending at ``tensor``."""
    found = tensor
    for _ in range(8):
        node = index.node(ref(tensor)[0])
        if node is None or not node.input or node.op not in _PREDICTION_OPS + _PREDICTION_PASS:
            break
        tensor = tensor_name(node.input[0])
        if node.op in _PREDICTION_OPS:
            found = tensor
    return found


def dequeued_signature(index, tensor: str) -> tuple[Optional[list], Any]:
    """(static shape or None, ``tf.DType``) of a dequeued tensor ``name:k``, from the dequeue's attributes."""
    import tensorflow as tf

    name, k, _ = ref(tensor)
    node = index.node(name)
    types = []
    for key in ("component_types", "output_types"):
        if key in node.attr and node.attr[key].list.type:
            types = list(node.attr[key].list.type)
    shapes = []
    for key in ("_output_shapes", "output_shapes"):
        if key in node.attr and node.attr[key].list.shape:
            shapes = list(node.attr[key].list.shape)
            break
    dtype = tf.as_dtype(types[k]) if k < len(types) else None
    if k >= len(shapes) or shapes[k].unknown_rank:
        return None, dtype
    return [int(d.size) if d.size >= 0 else None for d in shapes[k].dim], dtype
