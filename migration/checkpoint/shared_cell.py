"""A ``bidirectional_dynamic_rnn`` (or ``static_bidirectional_rnn``) given ONE cell object for both directions:
``bidirectional_dynamic_rnn(cell, cell, x)``. The cell builds its variables once, under ``<scope>/fw/``, and the
backward loop reads those same variables, so the checkpoint holds only ``fw`` (a bidirectional block with one
direction to the name table). The ``.meta`` tells the two cases apart: here ops under ``<scope>/bw/`` read the ``fw``
variables (as captured inputs of the ``bw`` ``While``, or through ``Enter`` nodes of the ``bw`` frame: a TF 1.x cell
keeps the name scope of its first call, so its bw ops are named ``<scope>/fw/fw/while/...`` in the bw frame).
Then the block is bidirectional with the same cells for ``bw`` (the Keras block gets two copies of the weights).
Without a ``.meta`` the block stays refused, with the reason.

The ops' name scope need not be the variable scope: a helper that re-enters a ``variable_scope`` object
(``with tf.variable_scope(scope)`` inside ``with tf.variable_scope('word') as scope``, hierarchical attention
networks) or a second call under ``reuse=True`` names the bw loop ``tcm/tcm_1/word/word/word/bw/bw/while`` for the
variables ``tcm/word/fw/...``. Names are compared with TF's uniquifying ``_N`` suffixes dropped and repeated scope
components collapsed (``tcm/word/bw/while``); the variables read tie the loop to the block in any case.
"""
from __future__ import annotations

import re
from typing import Iterable

_THROUGH = ("Identity", "ReadVariableOp", "Enter", "RefEnter", "Switch", "RefSwitch")
_VARIABLES = ("VariableV2", "VarHandleOp", "Variable")


def _base(name: str) -> str:
    return name.lstrip("^").split(":")[0]


_UNIQUE = re.compile(r"_\d+$")


def _normal(path: str) -> str:
    """``tcm/tcm_1/word/word/word/bw/bw/while`` -> ``tcm/word/bw/while`` (see the module docstring)."""
    out: list[str] = []
    for part in path.split("/"):
        part = _UNIQUE.sub("", part)
        if not out or out[-1] != part:
            out.append(part)
    return "/".join(out)


def bw_reads_fw(nodes: dict, scope: str, var_keys: Iterable[str]) -> bool:
    """True when an op under ``<scope>/bw/`` of the graph ``nodes`` (name -> NodeDef, the main graph) reads one of
    the variables ``var_keys`` (checkpoint keys of the fw cells), at most a few pass-through ops away."""
    keys = set(var_keys)
    targets = {name for name, n in nodes.items() if n.op in _VARIABLES and
               (name in keys or (n.op == "VarHandleOp" and n.attr["shared_name"].s.decode() in keys))}
    if not targets:
        return False
    prefix = (scope + "/" if scope else "") + "bw/"
    loose = _normal(prefix.rstrip("/")) + "/"
    for name, node in nodes.items():
        frame = node.attr["frame_name"].s.decode() if node.op in ("Enter", "RefEnter") else ""
        # a TF 1.x layer keeps its first name scope: the bw loop's cell ops are named under fw/fw/while, in the bw frame
        if not any(p.startswith(prefix) or _normal(p).startswith(loose) for p in (name, frame) if p):
            continue
        frontier = [_base(i) for i in node.input]
        for _ in range(4):
            if any(f in targets for f in frontier):
                return True
            frontier = [_base(i) for f in frontier if f in nodes and nodes[f].op in _THROUGH
                        for i in nodes[f].input[:1]]
            if not frontier:
                break
    return False
