"""Inference rewrite of a user's graph: a forward value no longer waits for a state update.

Batch normalization in training mode updates its moving averages as a side effect of the forward pass:
``tf.contrib.layers.batch_norm(..., updates_collections=None)`` (show-attend-tell) returns
``identity(mean)`` under ``control_dependencies([AssignMovingAvg, AssignMovingAvg_1])``, and programs write
``with tf.control_dependencies(tf.get_collection(UPDATE_OPS))`` around their logits or loss. Running the model's
outputs then runs the updates: an ``AssignSub`` the sandbox refuses (it writes a variable), and a model that is not
a function of its inputs. The values do not depend on a control edge, so the edge to an update is dropped: every
``^X`` control input whose node ``X`` writes a variable (``Assign*``, ``Scatter*``, ``Apply*``), or only groups such
writes (a ``NoOp``/``Identity`` of ``tf.group`` / ``control_dependencies`` with nothing but updates behind it), or
is listed in the graph's ``UPDATE_OPS`` collection, in
the main graph and inside functions (a ``tf.cond``'s branches). The update ops themselves stay in the graph and are
never model outputs (:mod:`migration.graph.model_outputs`); a data edge from an update (``update_mean =
cond(is_training, assign_moving_average, ...)`` read as a value) is kept, and the sandbox names it if a model
output needs it.

What remains is the forward computation: in training mode, the batch statistics (``moments``) the original graph
computes; in inference mode, the moving averages.
"""
from __future__ import annotations

import re

from migration.graph.graphdef import ref

_WRITES = ("Assign", "AssignAdd", "AssignSub", "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
           "ScatterUpdate", "ScatterAdd", "ScatterSub", "ResourceScatterUpdate", "ResourceScatterAdd",
           "ResourceScatterSub")
_GROUPS = ("NoOp", "Identity")


def _updates(nodes: dict, listed: frozenset = frozenset()) -> set[str]:
    """Names of the nodes of ``nodes`` that write a variable, are listed in ``UPDATE_OPS``, or only group such."""
    found = {name for name, n in nodes.items() if n.op in _WRITES or n.op.startswith("Apply") or
             n.op.startswith("ResourceApply") or name in listed}
    changed = True
    while changed:
        changed = False
        for name, n in nodes.items():
            if name in found or n.op not in _GROUPS or not n.input:
                continue
            if all(ref(i)[0] in found for i in n.input):
                found.add(name)
                changed = True
    return found


def _detach(node_defs, listed: frozenset = frozenset()) -> list[str]:
    nodes = {n.name: n for n in node_defs}
    updates = _updates(nodes, listed)
    done = []
    for node in node_defs:
        if node.name in updates:
            continue
        kept = [i for i in node.input if not (ref(i)[2] and ref(i)[0] in updates)]
        if len(kept) < len(node.input):
            del node.input[:]
            node.input.extend(kept)
            done.append(node.name)
    return done


def detach_updates(graph_def, update_ops=()) -> list[str]:
    """Drop the control edges from state updates (see the module docstring); ``graph_def`` is modified in place.
    ``update_ops``: the node names of the graph's ``UPDATE_OPS`` collection (a ``tf.cond`` of a training flag around
    the update is no write op itself: ``bn/cond_2/Identity``). Returns the nodes that lost such an edge
    (``function:node`` inside functions)."""
    done = _detach(graph_def.node, frozenset(ref(n)[0] for n in update_ops))
    for f in graph_def.library.function:
        done += [f"{f.signature.name}:{n}" for n in _detach(f.node_def)]
    return done


_MOMENTS = re.compile(r"^(.*)/moments(?:_\d+)?/mean$")
_FUSED = ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")


def batch_statistics_notes(index, outputs) -> list[str]:
    """Manifest notes naming every batch norm in training mode (batch moments, ``is_training=True``) on the path of
    ``outputs`` in the (rewritten) graph ``index``: the model computes the batch statistics as the original graph
    does, so an example's output depends on the rest of its batch."""
    names, _ = index.closure(outputs)
    scopes = []
    for name in names:
        node = index.nodes[name]
        m = _MOMENTS.match(name) if node.op == "Mean" else None
        if m is not None or (node.op in _FUSED and node.attr["is_training"].b):
            scope = m.group(1) if m is not None else name.rsplit("/", 1)[0]
            if scope not in scopes:
                scopes.append(scope)
    return [f"batch norm {s!r} is in training mode in the original graph (batch statistics): the model computes "
            "them too, so each example's outputs depend on the rest of its batch; for the moving averages, convert "
            "the outputs of the program's inference graph (is_training=False) with --outputs NAME[,NAME]"
            for s in sorted(scopes)]
