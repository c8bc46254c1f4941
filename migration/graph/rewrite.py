"""Inference rewrites of a user's graph: dropout becomes the identity.

TF1 programs switch dropout off by feeding ``keep_prob`` 1.0, but many hard-code it (``DropoutWrapper(cell,
output_keep_prob=0.75)``, seed 004), so the graph as saved computes a random result. Every dropout subgraph is
recognized by structure, in the main graph and inside loop-body functions, whatever the TF version wrote:

* a random op (``RandomUniform`` ...) under a name scope ``.../dropout[_N]``;
* the scope's input ``x`` is what its ``Shape`` node reads (TF 1.x ``x / keep_prob * floor(keep_prob + U)`` and TF 2.x
  ``select(U >= rate, x * scale, 0)`` both take ``noise_shape = shape(x)``);
* the scope is read by the program through exactly one tensor: its readers read ``x`` instead; the random op becomes
  ``Fill(shape, 0.5)``, so nothing random remains to execute (TF 2.x gradient accumulators that push the scope's
  intermediates keep a deterministic input).

A scope that does not fit (explicit ``noise_shape``, several outputs) is left alone; the sandbox then refuses its
random op by name, and verification falls back to the weaker check.
"""
from __future__ import annotations

import re
from typing import Optional

from migration.graph.graphdef import ref

_RANDOM = {"RandomUniform", "RandomUniformInt", "RandomStandardNormal", "StatelessRandomUniform",
           "StatelessRandomUniformV2", "RandomUniformV2"}
_DROPOUT = re.compile(r"^dropout(_\d+)?$")
_GRADIENTS = re.compile(r"(^|/)gradients(_\d+)?/")
_ACCUMULATORS = ("TensorListPushBack", "StackPushV2", "StackPush")


def _scope_of(name: str) -> Optional[str]:
    comps = name.split("/")
    idx = [i for i, c in enumerate(comps[:-1]) if _DROPOUT.match(c)]
    return "/".join(comps[: idx[-1] + 1]) if idx else None


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


def _bypass(nodes, ret: Optional[dict], in_function: bool) -> list[str]:
    """Rewrite one context in place (``nodes``: a repeated NodeDef field; ``ret``: a FunctionDef.ret map or None).
    Returns the scopes that were bypassed."""
    scopes = sorted({s for n in nodes if n.op in _RANDOM for s in [_scope_of(n.name)] if s}, key=len, reverse=True)
    done = []
    for scope in scopes:
        inside = lambda name: name == scope or name.startswith(scope + "/")  # noqa: E731
        members = [n for n in nodes if inside(n.name)]
        shapes = [n for n in members if n.op == "Shape" and n.input and not inside(ref(n.input[0])[0])]
        if len(shapes) != 1:
            continue
        x = shapes[0].input[0]
        # the scope's value as the program reads it; TF 2.x gradient accumulators (TensorListPushBack) also read
        # intermediates of the scope, which stay (made deterministic below)
        readers = [n for n in nodes if not inside(n.name) and n.op not in _ACCUMULATORS
                   and not _GRADIENTS.search(n.name)]
        outside_refs = {(ref(i)[0], ref(i)[1]) for n in readers for i in n.input if not ref(i)[2] and inside(ref(i)[0])}
        ret_refs = {(ref(v)[0], ref(v)[1]) for v in (ret or {}).values() if inside(ref(v)[0])}
        if len(outside_refs | ret_refs) != 1:
            continue
        for n in readers:
            new = []
            for i in n.input:
                name, _, control = ref(i)
                if inside(name):
                    if control:
                        continue
                    new.append(x)
                else:
                    new.append(i)
            del n.input[:]
            n.input.extend(new)
        if ret is not None:
            for key, value in list(ret.items()):
                if inside(ref(value)[0]):
                    ret[key] = x
        for n in members:
            if n.op in _RANDOM:
                _neutralize(nodes, n, in_function)
        done.append(scope)
    return done


def remove_dropout(graph_def) -> list[str]:
    """Bypass every recognized dropout subgraph of ``graph_def`` (modified in place; main graph and functions).
    Returns the bypassed scopes (``function:scope`` inside functions)."""
    done = _bypass(graph_def.node, None, False)
    for f in graph_def.library.function:
        done += [f"{f.signature.name}:{s}" for s in _bypass(f.node_def, f.ret, True)]
    return done
