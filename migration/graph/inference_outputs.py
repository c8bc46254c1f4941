"""The predictions of an inference path built beside the training loss: default outputs of the whole model too.

Captioning, seq2seq and char-RNN programs often build two paths on the same variables in one graph: the training
path the loss consumes (teacher forcing), and a sampler (``build_sampler``, ``generate``, ``decode``) that no loss
reads: a greedy loop unrolled in Python (``argmax`` fed back through the embedding, the cell stepped by hand), its
per-step ids, attention weights or probabilities stacked and transposed. The loss's logits
(:mod:`migration.graph.model_outputs`) miss what a user of such a graph means by its predictions, so the whole model
also returns each **terminal prediction** of such a path. A tensor is one when:

1. **terminal**: no forward op reads it (summaries, ``Assert``/``Print``, saver, optimizer and gradient ops do not
   count as readers), and it is not in the loss's closure;
2. **a prediction**: walked back through stacking and layout ops (``Pack``, ``ConcatV2``, ``Transpose``, ``Squeeze``,
   ``Reshape``, ``ExpandDims``, ``Identity``, ``Cast``, slices) every value it is made of comes from a ``Softmax``,
   ``Sigmoid``, ``LogSoftmax``, ``ArgMax``/``ArgMin`` or ``TopKV2`` (ids, attention weights, gates, probabilities);
3. **a separate path of the same model**: its closure holds ops of its own (outside the loss's closure) that read
   variables the loss's closure reads (an ``argmax`` of the loss's own logits, an accuracy, a CTC decode of the
   training logits have none: they add nothing to the logits); it reads only placeholders that are inputs of the
   loss's predictions (a second model with placeholders of its own, e.g. a batch-1 sampling graph, is left to
   ``--outputs``) and no label placeholder;
4. **not derived from another one**: a terminal ``argmax`` of probabilities another chosen output holds (a sampler's
   last word, computed and left unused) adds nothing.

Nothing else is added: a path that feeds nothing but is not a prediction (an unused final state, ``rnn/zeros``) stays
out. The caller checks the chosen tensors with the sandbox and the translator and drops the ones they refuse, saying
so (:func:`migration.graph.whole_model.default_io`). Looked up in public TF1 code: captioning samplers
(``build_sampler``: ``transpose(stack(sampled_word_list))``, stacked attention weights), char-RNN ``probs =
softmax(logits)`` of a sampling model (usually a second model with placeholders of its own: left out by rule 3).
"""
from __future__ import annotations

import re

from migration.graph.graphdef import ref

#: ops whose outputs are predictions (not logits): ids, probabilities, attention weights, gates
PREDICTION_OPS = frozenset("Softmax Sigmoid LogSoftmax ArgMax ArgMin TopKV2".split())
#: layout ops a program stacks per-step predictions with: op -> the indices of its value inputs (None: every data
#: input but the last, the axis of a ``ConcatV2``; "all": every data input)
_LAYOUT = {"Pack": "all", "ConcatV2": None, "Transpose": (0,), "Squeeze": (0,), "Reshape": (0,), "ExpandDims": (0,),
           "Identity": (0,), "Cast": (0,), "StridedSlice": (0,), "Slice": (0,), "Snapshot": (0,)}
_NOT_READERS = ("Assert", "Print", "PrintV2", "NoOp", "SaveV2", "Save", "SaveSlices", "Assign", "AssignVariableOp")
#: gradient and saver name scopes (TF names them; a program's own scope names such as ``init`` or ``train`` are not
#: read: they can hold model ops)
_TRAINING = re.compile(r"^(gradients(_\d+)?|save(_\d+)?)(/|$)")
_VARIABLES = ("VariableV2", "Variable", "VarHandleOp")
_READS = ("Identity", "ReadVariableOp", "Snapshot")


def _training(node) -> bool:
    """A gradient, saver or optimizer op (``Apply*``, ``ResourceApply*``)."""
    return bool(_TRAINING.match(node.name)) or "Apply" in node.op


def _reader(node) -> bool:
    """``node`` is a forward op whose reading makes a tensor non-terminal."""
    return not _training(node) and node.op not in _NOT_READERS and "Summary" not in node.op


def _variable(index, tensor: str):
    """The variable node ``tensor`` reads (through identities), or None."""
    node = index.node(ref(tensor)[0])
    for _ in range(6):
        if node is None or node.op in _VARIABLES:
            return node
        if node.op not in _READS or not node.input:
            return None
        node = index.node(ref(node.input[0])[0])
    return None


def _prediction_sources(index, name: str) -> list:
    """The prediction ops every value ``name`` is made of comes from, through layout ops only (rule 2); empty when
    some value comes from anything else."""
    todo, seen, found = [name], set(), []
    while todo:
        node = index.node(todo.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op in PREDICTION_OPS:
            found.append(node)
            continue
        slots = _LAYOUT.get(node.op)
        if node.op not in _LAYOUT:
            return []
        data = [i for i in node.input if not ref(i)[2]]
        picked = data if slots == "all" else data[:-1] if slots is None else [data[k] for k in slots if k < len(data)]
        if not picked:
            return []
        todo += [ref(i)[0] for i in picked]
    return found


def _derived(index, sources: list, other: set[str]) -> bool:
    """Every prediction op of ``sources`` reads a prediction op among the nodes ``other`` (another output's closure):
    a sampler's last ``argmax`` of the probabilities it already returns, computed and left unused."""
    for node in sources:
        data = [index.node(ref(i)[0]) for i in node.input if not ref(i)[2]]
        if not data or data[0] is None or data[0].op not in PREDICTION_OPS or data[0].name not in other:
            return False
    return True


def _weighted(index, names, variables: set[str]) -> bool:
    """Some node of ``names`` reads (through identities) one of ``variables`` (rule 3)."""
    for n in names:
        node = index.nodes[n]
        if node.op in _VARIABLES + _READS:
            continue
        for i in node.input:
            var = None if ref(i)[2] else _variable(index, i)
            if var is not None and var.name in variables:
                return True
    return False


def inference_predictions(index, losses: list[str], predictions: list[str]) -> list[str]:
    """The terminal predictions (``name:0``, graph order) of inference paths beside the loss (module docstring).
    ``losses``: the loss nodes; ``predictions``: the tensors the loss consumes (the whole model's other outputs)."""
    if not losses or not predictions:
        return []
    loss_side = set(index.closure(losses)[0])
    inputs = {n for n in index.closure(predictions)[0] if index.nodes[n].op == "Placeholder"}
    labels = {n for n in loss_side if index.nodes[n].op == "Placeholder"} - inputs
    variables = {n for n in loss_side if index.nodes[n].op in _VARIABLES}
    found: dict[str, tuple[list, set[str]]] = {}
    for node in index.graph_def.node:
        if node.name in loss_side or _training(node) or node.op not in PREDICTION_OPS and node.op not in _LAYOUT \
                or any(_reader(c) for c in index.consumers(node.name)):
            continue
        predictions = _prediction_sources(index, node.name)
        names = index.closure([node.name])[0] if predictions else []
        if not names or any(_training(index.nodes[n]) for n in names):
            continue
        sources = {n for n in names if index.nodes[n].op == "Placeholder"}
        if not sources or not sources <= inputs or sources & labels:
            continue
        if _weighted(index, [n for n in names if n not in loss_side], variables):
            found[node.name] = (predictions, set(names))
    return [f"{name}:0" for name, (predictions, _) in found.items()
            if not any(_derived(index, predictions, names) for other, (_, names) in found.items() if other != name)]
