"""A ``bidirectional_dynamic_rnn`` (or ``static_bidirectional_rnn``) given ONE cell object for both directions:
``bidirectional_dynamic_rnn(cell, cell, x)``. The cell builds its variables once, under ``<scope>/fw/``, and the
backward loop reads those same variables, so the checkpoint holds only ``fw`` (a bidirectional block with one
direction to the name table). The ``.meta`` tells the two cases apart: here ops under ``<scope>/bw/`` read the ``fw``
variables (as captured inputs of the ``bw`` ``While``, or through ``Enter`` nodes of the ``bw`` frame: a TF 1.x cell
keeps the name scope of its first call, so its bw ops are named ``<scope>/fw/fw/while/...`` in the bw frame).
Then the block is bidirectional with the same cells for ``bw`` (the Keras block gets two copies of the weights).
Without a ``.meta`` the block stays refused, with the reason.
"""
from __future__ import annotations

from typing import Iterable

_THROUGH = ("Identity", "ReadVariableOp", "Enter", "RefEnter", "Switch", "RefSwitch")
_VARIABLES = ("VariableV2", "VarHandleOp", "Variable")


def _base(name: str) -> str:
    return name.lstrip("^").split(":")[0]


def bw_reads_fw(nodes: dict, scope: str, var_keys: Iterable[str]) -> bool:
    """True when an op under ``<scope>/bw/`` of the graph ``nodes`` (name -> NodeDef, the main graph) reads one of
    the variables ``var_keys`` (checkpoint keys of the fw cells), at most a few pass-through ops away."""
    keys = set(var_keys)
    targets = {name for name, n in nodes.items() if n.op in _VARIABLES and
               (name in keys or (n.op == "VarHandleOp" and n.attr["shared_name"].s.decode() in keys))}
    if not targets:
        return False
    prefix = (scope + "/" if scope else "") + "bw/"
    for name, node in nodes.items():
        frame = node.attr["frame_name"].s.decode() if node.op in ("Enter", "RefEnter") else ""
        if not (name.startswith(prefix) or frame.startswith(prefix)):  # a TF 1.x layer keeps its first name scope:
            continue  # the bw loop's cell ops are named under fw/fw/while, in the bw frame
        frontier = [_base(i) for i in node.input]
        for _ in range(4):
            if any(f in targets for f in frontier):
                return True
            frontier = [_base(i) for f in frontier if f in nodes and nodes[f].op in _THROUGH
                        for i in nodes[f].input[:1]]
            if not frontier:
                break
    return False
