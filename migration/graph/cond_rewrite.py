"""Inference rewrite of a user's graph, after dropout is bypassed (:mod:`migration.graph.rewrite`): a ``tf.cond``
whose every branch now passes the same input through becomes that input.

Programs switch dropout on and off with a condition: ``tf.layers.dropout(x, training=is_training)``,
``tf.cond(tf.equal(phase, 'train'), lambda: tf.nn.dropout(x, kp), lambda: x)``. Once the dropout is bypassed, both
branches return ``x``, so the condition no longer matters and its predicate (an ``is_training`` placeholder, a
``phase`` constant) is no model input. Both forms TensorFlow writes are recognized:

* control flow v2: an ``If``/``StatelessIf`` whose ``then_branch`` and ``else_branch`` functions return, for an
  output, the same function argument (through ``Identity`` nodes): that output is the ``If``'s matching input;
* control flow v1: a ``Merge`` (not a loop's: those read an ``Enter`` and a ``NextIteration``) whose inputs are all,
  through ``Identity`` nodes, outputs of ``Switch`` nodes of one data tensor and one predicate: it is that tensor.

A condition whose branches compute different values (a real ``if``) is left alone: the sandbox runs it, and the
whole-model translator names it as a blocker.
"""
from __future__ import annotations

from typing import Optional

from migration.graph.graphdef import ref, through_identity

_IFS = ("If", "StatelessIf")


def _fn_arg(fn, output: str) -> Optional[int]:
    """The index of the function argument that output ``output`` of ``fn`` returns unchanged, else None."""
    args = [a.name for a in fn.signature.input_arg]
    nodes = {n.name: n for n in fn.node_def}
    value = fn.ret.get(output)
    for _ in range(8):
        if value is None:
            return None
        name = value.split(":")[0]
        if name in args and ":" not in value:
            return args.index(name)
        node = nodes.get(name)
        if node is None or node.op != "Identity" or not node.input:
            return None
        value = node.input[0]
    return None


def _if_passes(graph_def, fns) -> dict[str, str]:
    """``If:k`` -> the input tensor it equals, for every output both branches pass through."""
    out = {}
    for node in graph_def.node:
        if node.op not in _IFS:
            continue
        branches = [fns.get(node.attr[key].func.name) for key in ("then_branch", "else_branch")]
        if None in branches:
            continue
        data = [i for i in node.input[1:] if not ref(i)[2]]
        outputs = [a.name for a in branches[0].signature.output_arg]
        for k, name in enumerate(outputs):
            args = {_fn_arg(b, b.signature.output_arg[k].name if k < len(b.signature.output_arg) else name)
                    for b in branches}
            if len(args) == 1 and None not in args:
                arg = args.pop()
                if arg < len(data):
                    out[f"{node.name}:{k}"] = _norm(data[arg])
    return out


def _norm(tensor: str) -> str:
    name, idx, _ = ref(tensor)
    return f"{name}:{idx}"


def _merge_passes(graph_def) -> dict[str, str]:
    """``Merge:0`` -> the tensor every branch switched through, for v1 conds whose branches pass it through."""
    nodes = {n.name: n for n in graph_def.node}
    out = {}
    for node in graph_def.node:
        if node.op not in ("Merge", "RefMerge"):
            continue
        sources = set()
        for inp in node.input:
            if ref(inp)[2]:
                continue
            switch = nodes.get(ref(through_identity(nodes, inp))[0])
            if switch is None or switch.op not in ("Switch", "RefSwitch") or len(switch.input) < 2:
                sources = {None}
                break
            sources.add((switch.input[0], switch.input[1]))
        if len(sources) == 1 and None not in sources:
            data, _pred = sources.pop()
            out[f"{node.name}:0"] = _norm(data)
    return out


def _replace(graph_def, mapping: dict[str, str]) -> None:
    for node in graph_def.node:
        new, changed = [], False
        for inp in node.input:
            name, idx, control = ref(inp)
            target = None if control else mapping.get(f"{name}:{idx}")
            if target is not None:
                new.append(target)
                changed = True
            else:
                new.append(inp)
        if changed:
            del node.input[:]
            node.input.extend(new)


def remove_pass_through_conds(graph_def) -> list[str]:
    """Rewire every reader of a pass-through condition (see the module docstring) to the tensor it passes;
    ``graph_def`` is modified in place. Returns the condition nodes rewired (``cond <node>``)."""
    fns = {f.signature.name: f for f in graph_def.library.function}
    mapping = {**_if_passes(graph_def, fns), **_merge_passes(graph_def)}
    # a pass-through of a pass-through (nested conds): resolve to the end
    for key in list(mapping):
        seen = {key}
        while mapping[key] in mapping and mapping[key] not in seen:
            seen.add(mapping[key])
            mapping[key] = mapping[mapping[key]]
    _replace(graph_def, mapping)
    return sorted({f"cond {ref(k)[0]}" for k in mapping})
