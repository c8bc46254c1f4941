"""Inference rewrites of a user's graph: dropout becomes the identity.

TF1 programs switch dropout off by feeding ``keep_prob`` 1.0, but many hard-code it (``DropoutWrapper(cell,
output_keep_prob=0.75)``, seed 004), so the graph as saved computes a random result. Every dropout subgraph is
recognized by structure, in the main graph and inside loop-body functions, whatever the TF version wrote:

* a random op (``RandomUniform`` ...) under a name scope ``.../dropout[_N]``, or a ``RandomUniform`` under
  ``<scope>/random_uniform`` (``tf.nn.dropout(x, kp, name="h_drop")``: the scope is ``h_drop``);
* the scope's input ``x`` is what its ``Shape`` node reads (TF 1.x ``x / keep_prob * floor(keep_prob + U)`` and TF 2.x
  ``select(U >= rate, x * scale, 0)`` both take ``noise_shape = shape(x)``); when TF folded that ``Shape`` into a
  ``Const`` (a static shape), ``x`` is the one outside input that meets the random mask only at the scope's output
  (``keep_prob`` meets it earlier, at the ``GreaterEqual``/``Floor`` that makes the mask); a v1 ``tf.cond``'s
  ``Switch`` inside the scope counts as outside (it is where ``x`` enters);
* the scope is read by the program through exactly one tensor: its readers read ``x`` instead; the random op becomes
  ``Fill(shape, 0.5)``, so nothing random remains to execute (TF 2.x gradient accumulators that push the scope's
  intermediates keep a deterministic input).

A scope that does not fit (explicit ``noise_shape``, several outputs) is left alone; the sandbox then refuses its
random op by name, and verification falls back to the weaker check.
"""
from __future__ import annotations

import bisect
import re
from typing import Optional

from migration.graph.graphdef import ref

_RANDOM = {"RandomUniform", "RandomUniformInt", "RandomStandardNormal", "StatelessRandomUniform",
           "StatelessRandomUniformV2", "RandomUniformV2"}
_DROPOUT = re.compile(r"^dropout(_\d+)?$")
_GRADIENTS = re.compile(r"(^|/)gradients(_\d+)?/")
_ACCUMULATORS = ("TensorListPushBack", "StackPushV2", "StackPush")


_UNIFORM_SCOPE = re.compile(r"^random_uniform(_\d+)?$")
_MASK_OPS = ("GreaterEqual", "Greater", "Less", "LessEqual", "Floor")


def _scope_of(name: str, op: str = "") -> Optional[str]:
    """The dropout scope of a random op: the deepest ``dropout[_N]`` scope, else (a dropout named by the program,
    ``tf.nn.dropout(x, kp, name="h_drop")``) the scope around the op's ``random_uniform`` scope."""
    comps = name.split("/")
    idx = [i for i, c in enumerate(comps[:-1]) if _DROPOUT.match(c)]
    if idx:
        return "/".join(comps[: idx[-1] + 1])
    if op in ("RandomUniform", "RandomUniformV2") and len(comps) >= 3 and _UNIFORM_SCOPE.match(comps[-2]):
        return "/".join(comps[:-2])
    return None


def _depends(nodes_by_name, start: set[str], inside) -> set[str]:
    """Nodes of the scope that depend on any of ``start`` (names), walking forward inside it."""
    consumers: dict[str, list[str]] = {}
    for n in nodes_by_name.values():
        if inside(n.name):
            for i in n.input:
                if not ref(i)[2]:
                    consumers.setdefault(ref(i)[0], []).append(n.name)
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        for c in consumers.get(name, []):
            if c not in seen:
                seen.add(c)
                todo.append(c)
    return seen


def _dropout_input(members, inside, out_name: str) -> Optional[str]:
    """The dropped tensor ``x`` of a scope whose ``Shape`` TF folded into a ``Const`` (a static shape): the one
    outside input that meets the random mask only at the scope's output (``keep_prob``/``rate`` meets it earlier, at
    the ``GreaterEqual``/``Floor`` that makes the mask), when the mask goes through such a comparison."""
    by_name = {n.name: n for n in members}
    random = {n.name for n in members if n.op in _RANDOM}
    masked = _depends(by_name, random, inside)
    if not any(by_name[m].op in _MASK_OPS for m in masked):
        return None
    outside = {i for n in members for i in n.input if not ref(i)[2] and not inside(ref(i)[0])}
    candidates = []
    for inp in sorted(outside):
        readers = {n.name for n in members if inp in n.input}
        meet = (_depends(by_name, readers, inside) | readers) & (masked | random)
        if meet == {out_name}:
            candidates.append(inp)
    return candidates[0] if len(candidates) == 1 else None


def _neutralize(nodes, random_node, in_function: bool) -> None:
    """Turn a random op into ``Fill(shape, 0.5)``: what still reads it (TF 2.x gradient accumulators pushing the
    loop's intermediates) gets a deterministic value, and no random op is left to execute."""
    from tensorflow.core.framework import attr_value_pb2, node_def_pb2, tensor_pb2, types_pb2

    dtype = random_node.attr["dtype"].type if "dtype" in random_node.attr else types_pb2.DT_FLOAT
    const = node_def_pb2.NodeDef(name=random_node.name + "/rnn_migrate_neutral", op="Const")
    const.attr["dtype"].CopyFrom(attr_value_pb2.AttrValue(type=dtype))
    value = tensor_pb2.TensorProto(dtype=dtype)
    if dtype == types_pb2.DT_DOUBLE:
        value.double_val.append(0.5)
    else:
        value.float_val.append(0.5)
    const.attr["value"].CopyFrom(attr_value_pb2.AttrValue(tensor=value))
    shape = random_node.input[0]
    random_node.op = "Fill"
    for key in list(random_node.attr):
        del random_node.attr[key]
    random_node.attr["T"].CopyFrom(attr_value_pb2.AttrValue(type=dtype))
    random_node.attr["index_type"].CopyFrom(attr_value_pb2.AttrValue(type=types_pb2.DT_INT32))
    del random_node.input[:]
    random_node.input.extend([shape, const.name + (":output:0" if in_function else ":0")])
    nodes.append(const)


def _under(keys: list[str], scope: str) -> list[str]:
    """The names of the sorted list ``keys`` that are ``scope`` or ``scope/...`` ("0" is the character after "/")."""
    out = keys[bisect.bisect_left(keys, scope + "/"):bisect.bisect_left(keys, scope + "0")]
    at = bisect.bisect_left(keys, scope)
    return out + [scope] if at < len(keys) and keys[at] == scope else out


class _Context:
    """One context's nodes indexed once (names sorted, to find a scope's by prefix; who reads each node), kept in
    step with the rewrites: each scope is looked at through its own members and readers. (A graph's variable
    initializers are ``random_uniform`` scopes too: scanning every node for each of them was quadratic.)"""

    def __init__(self, nodes) -> None:
        self.nodes = nodes
        self.index = {n.name: i for i, n in enumerate(nodes)}
        self.names = sorted(self.index)
        self.readers: dict[str, set[int]] = {}  # producer name -> the nodes with an input (control too) from it
        self.inputs: list[list[tuple[str, int, bool]]] = [[ref(s) for s in n.input] for n in nodes]
        for i, parsed in enumerate(self.inputs):
            for name, _, _ in parsed:
                self.readers.setdefault(name, set()).add(i)
        self.producers: list[str] = sorted(self.readers)

    def reread(self, i: int) -> None:
        """Index node ``i``'s inputs again after a rewrite (or for the first time: a node appended since)."""
        if i == len(self.inputs):
            self.index[self.nodes[i].name] = i
            bisect.insort(self.names, self.nodes[i].name)
            self.inputs.append([])
        for name, _, _ in self.inputs[i]:
            self.readers[name].discard(i)
        self.inputs[i] = [ref(s) for s in self.nodes[i].input]
        for name, _, _ in self.inputs[i]:
            if name not in self.readers:
                self.readers[name] = set()
                bisect.insort(self.producers, name)
            self.readers[name].add(i)

    def members(self, scope: str, inside) -> list[int]:
        return sorted(self.index[name] for name in _under(self.names, scope) if inside(name))

    def reading(self, scope: str, inside) -> set[int]:
        """The nodes with an input (control too) from inside the scope."""
        return {i for name in _under(self.producers, scope) if inside(name) for i in self.readers[name]}


def _bypass(nodes, ret: Optional[dict], in_function: bool) -> list[str]:
    """Rewrite one context in place (``nodes``: a repeated NodeDef field; ``ret``: a FunctionDef.ret map or None).
    Returns the scopes that were bypassed."""
    scopes = sorted({s for n in nodes if n.op in _RANDOM for s in [_scope_of(n.name, n.op)] if s}, key=len,
                    reverse=True)
    if not scopes:
        return []
    done = []
    switches = {n.name for n in nodes if n.op in ("Switch", "RefSwitch")}
    ctx = _Context(nodes)
    for scope in scopes:
        # a v1 ``tf.cond`` puts the Switch of ``x`` inside the dropout's scope (``cond/dropout/Mul/Switch``): it is
        # where ``x`` enters, not part of the dropout
        inside = lambda name: (name == scope or name.startswith(scope + "/")) and name not in switches  # noqa: E731
        member_ids = ctx.members(scope, inside)
        members = [nodes[i] for i in member_ids]
        shapes = [n for n in members if n.op == "Shape" and n.input and not inside(ref(n.input[0])[0])]
        # the scope's value as the program reads it; TF 2.x gradient accumulators (TensorListPushBack) also read
        # intermediates of the scope, which stay (made deterministic below)
        readers = sorted(i for i in ctx.reading(scope, inside) if not inside(nodes[i].name)
                         and nodes[i].op not in _ACCUMULATORS and not _GRADIENTS.search(nodes[i].name))
        outside_refs = {(name, idx) for i in readers for name, idx, control in ctx.inputs[i]
                        if not control and inside(name)}
        ret_refs = {(ref(v)[0], ref(v)[1]) for v in (ret or {}).values() if inside(ref(v)[0])}
        if len(outside_refs | ret_refs) != 1:
            continue
        if len(shapes) == 1:
            x = shapes[0].input[0]
        else:
            x = _dropout_input(members, inside, next(iter(outside_refs | ret_refs))[0])
            if x is None:
                continue
        for i in readers:
            n = nodes[i]
            new = []
            for inp, (name, _, control) in zip(n.input, ctx.inputs[i]):
                if inside(name):
                    if control:
                        continue
                    new.append(x)
                else:
                    new.append(inp)
            del n.input[:]
            n.input.extend(new)
            ctx.reread(i)
        if ret is not None:
            for key, value in list(ret.items()):
                if inside(ref(value)[0]):
                    ret[key] = x
        for i, n in zip(member_ids, members):
            if n.op in _RANDOM:
                _neutralize(nodes, n, in_function)
                ctx.reread(i)
        for i in range(len(ctx.inputs), len(nodes)):  # the neutral constants
            ctx.reread(i)
        done.append(scope)
    return done


def remove_dropout(graph_def) -> list[str]:
    """Bypass every recognized dropout subgraph of ``graph_def`` (modified in place; main graph and functions).
    Returns the bypassed scopes (``function:scope`` inside functions)."""
    done = _bypass(graph_def.node, None, False)
    for f in graph_def.library.function:
        done += [f"{f.signature.name}:{s}" for s in _bypass(f.node_def, f.ret, True)]
    return done
