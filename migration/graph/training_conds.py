"""Inference rewrite of a user's graph: batch normalization switched by a training flag takes its moving averages.

``tf.layers.batch_normalization(x, training=is_training)`` and ``tf.contrib.layers.batch_norm(x,
is_training=is_training)`` (slim's too) with a boolean placeholder (or ``tf.placeholder_with_default(False, [])``)
choose between the batch moments and the moving averages with a ``tf.cond`` on the flag. The model is the inference
model: the flag is no model input, and each such condition becomes its inference branch, the moving average. A
condition is rewritten only when all of this holds, else it is left alone (the sandbox runs it, and the whole-model
translator names it as a blocker):

* its predicate is a boolean ``Placeholder`` or ``PlaceholderWithDefault`` (through ``Identity``/``Cast``); with a
  default, the default must select the inference branch (``placeholder_with_default(True)`` is a training graph);
* for every output, exactly one branch returns a variable's value (``identity(moving_mean)``), always the same
  branch; the other computes something else (the batch moments, an ``assign_moving_average`` update).

Both forms TensorFlow writes are recognized: control flow v2 (an ``If`` whose branch returns ``ReadVariableOp`` of a
captured resource: its readers read a new ``ReadVariableOp`` of that variable in the main graph) and v1 (a ``Merge``
of two ``Switch`` outputs, one switching the variable's ``read`` tensor: its readers read that tensor).
A fused batch norm (``FusedBatchNormV3`` in both branches, 4-D inputs) is not rewritten here.
"""
from __future__ import annotations

from typing import Optional

from migration.graph.graphdef import const_value, ref

_PASS = ("Identity", "Cast", "Snapshot")
_VARIABLES = ("VariableV2", "Variable", "VarHandleOp")


def _trace(nodes: dict, tensor: str):
    node = nodes.get(ref(tensor)[0])
    for _ in range(8):
        if node is None or node.op not in _PASS or not node.input:
            return node
        node = nodes.get(ref(node.input[0])[0])
    return node


def _flag_value(nodes: dict, pred: str) -> Optional[tuple[Optional[bool]]]:
    """``(None,)`` for a boolean placeholder flag, ``(default,)`` for a ``placeholder_with_default``, else None."""
    node = _trace(nodes, pred)
    if node is None:
        return None
    if node.op == "Placeholder" and node.attr["dtype"].type == 10:  # DT_BOOL
        return (None,)
    if node.op == "PlaceholderWithDefault" and node.input:
        default = nodes.get(ref(node.input[0])[0])
        if default is not None and default.op == "Const":
            return (bool(const_value(default)),)
    return None


def _reads_variable(nodes: dict, tensor: str) -> bool:
    node = nodes.get(ref(tensor)[0])
    for _ in range(8):
        if node is not None and node.op in _VARIABLES:
            return True
        if node is None or not node.input:
            return False
        if node.op in ("ReadVariableOp",) or (node.op == "Identity" and nodes.get(ref(node.input[0])[0]) is not None
                                             and nodes[ref(node.input[0])[0]].op in _VARIABLES):
            return True
        if node.op not in _PASS:
            return False
        node = nodes.get(ref(node.input[0])[0])
    return False


def _branch_read(fn, k: int) -> Optional[tuple[int, int]]:
    """(argument index of the resource, dtype) when output ``k`` of branch ``fn`` is that captured variable's value."""
    nodes = {n.name: n for n in fn.node_def}
    args = [a.name for a in fn.signature.input_arg]
    value = fn.ret.get(fn.signature.output_arg[k].name) if k < len(fn.signature.output_arg) else None
    for _ in range(8):
        if value is None:
            return None
        node = nodes.get(value.split(":")[0])
        if node is None:
            return None
        if node.op == "ReadVariableOp" and node.input and node.input[0].split(":")[0] in args:
            return args.index(node.input[0].split(":")[0]), node.attr["dtype"].type
        if node.op not in _PASS or not node.input:
            return None
        value = node.input[0]
    return None


def _if_mapping(graph_def, nodes: dict) -> tuple[dict[str, str], list]:
    fns = {f.signature.name: f for f in graph_def.library.function}
    mapping, added = {}, []
    for node in list(graph_def.node):
        if node.op not in ("If", "StatelessIf") or not node.input:
            continue
        flag = _flag_value(nodes, node.input[0])
        branches = [fns.get(node.attr[key].func.name) for key in ("then_branch", "else_branch")]
        if flag is None or None in branches:
            continue
        data = [i for i in node.input[1:] if not ref(i)[2]]
        picks = []
        for k in range(len(branches[0].signature.output_arg)):
            reads = [_branch_read(b, k) for b in branches]
            if (reads[0] is None) == (reads[1] is None):
                picks = []
                break
            side = 0 if reads[0] is not None else 1
            picks.append((k, side, reads[side]))
        sides = {side for _, side, _ in picks}
        if len(sides) != 1 or (flag[0] is not None and flag[0] != (sides.pop() == 0)):
            continue
        for k, _, (arg, dtype) in picks:
            if arg >= len(data):
                break
            read = graph_def.node.add()
            read.name, read.op = f"{node.name}/inference_read_{k}", "ReadVariableOp"
            read.input.append(data[arg])
            read.attr["dtype"].type = dtype
            mapping[f"{node.name}:{k}"] = f"{read.name}:0"
            added.append(read.name)
    return mapping, added


def _switched(nodes: dict, tensor: str):
    """(the ``Switch`` node, the output index read) that ``tensor`` comes from through ``Identity`` nodes, else None."""
    for _ in range(8):
        node = nodes.get(ref(tensor)[0])
        if node is not None and node.op in ("Switch", "RefSwitch") and len(node.input) >= 2:
            return node, ref(tensor)[1]
        if node is None or node.op not in _PASS or not node.input:
            return None
        tensor = node.input[0]
    return None


def _merge_mapping(nodes: dict) -> dict[str, str]:
    out = {}
    for node in nodes.values():
        if node.op not in ("Merge", "RefMerge"):
            continue
        switched = [_switched(nodes, i) for i in node.input if not ref(i)[2]]
        if len(switched) != 2 or None in switched:
            continue
        flag = _flag_value(nodes, switched[0][0].input[1])
        reads = [_reads_variable(nodes, s.input[0]) for s, _ in switched]
        if flag is None or reads[0] == reads[1]:
            continue
        switch, branch = switched[0 if reads[0] else 1]  # Switch:0 is the false branch, Switch:1 the true one
        if flag[0] is not None and flag[0] != (branch == 1):
            continue
        out[f"{node.name}:0"] = f"{ref(switch.input[0])[0]}:{ref(switch.input[0])[1]}"
    return out


def take_inference_branches(graph_def) -> list[str]:
    """Rewire the readers of every training-flag condition (see the module docstring) to its inference branch;
    ``graph_def`` is modified in place. Returns the conditions rewired (``cond <node>``)."""
    nodes = {n.name: n for n in graph_def.node}
    mapping, _added = _if_mapping(graph_def, nodes)
    mapping.update(_merge_mapping(nodes))
    for node in graph_def.node:
        new = [mapping.get(f"{ref(i)[0]}:{ref(i)[1]}", i) if not ref(i)[2] else i for i in node.input]
        if new != list(node.input):
            del node.input[:]
            node.input.extend(new)
    return sorted({f"cond {ref(k)[0]}" for k in mapping})
