"""Which bypassed dropouts of the original graph were LIVE in the graph as saved: a constant ``keep_prob``/``rate``.

A program that feeds ``keep_prob`` (a ``placeholder``, a ``placeholder_with_default``) switches its dropout off at
evaluation; one that hard-codes it (``DropoutWrapper(cell, output_keep_prob=0.8)`` in the training graph, handwriting
MDN) saved a graph whose outputs are random: two runs on the same input differ. The verification always compares with
dropout bypassed (:mod:`migration.graph.rewrite`), which is the only deterministic reading; for these scopes the
report says so plainly, because the saved graph itself cannot be matched within any tolerance.

A main-graph dropout scope is live when only one tensor entering it carries a placeholder's values (``x``, the
dropped tensor): its keep probability comes from constants. Scopes inside loop-body functions are not classified.
"""
from __future__ import annotations

from migration.graph.graphdef import ref

_SOURCES = ("Placeholder", "PlaceholderWithDefault", "IteratorGetNext")
_SHAPES = ("Shape", "ShapeN", "Size", "Rank")


def _fed(index, name: str, memo: dict[str, bool]) -> bool:
    """True when node ``name``'s value comes from a placeholder (not only through its shape)."""
    if name in memo:
        return memo[name]
    memo[name] = False
    node = index.node(name)
    if node is None or node.op in _SHAPES:
        return False
    if node.op in _SOURCES or "Dequeue" in node.op:
        memo[name] = True
        return True
    memo[name] = any(_fed(index, ref(i)[0], memo) for i in node.input if not ref(i)[2])
    return memo[name]


def constant_dropouts(og) -> list[str]:
    """The bypassed main-graph dropout scopes of ``og`` (an :class:`OriginalGraph`) whose keep probability is a
    constant (see the module docstring)."""
    index = og.index
    memo: dict[str, bool] = {}
    out = []
    for scope in og.dropout_bypassed:
        if ":" in scope:  # inside a function body: not classified
            continue
        members = [n for n in index.nodes.values() if n.name.startswith(scope + "/")]
        entering = {ref(i)[0] for n in members for i in n.input
                    if not ref(i)[2] and not ref(i)[0].startswith(scope + "/")}
        if sum(_fed(index, name, memo) for name in entering) <= 1:
            out.append(scope)
    return sorted(out)


def live_dropout_note(scopes: list[str]) -> str:
    """The report's sentence for :func:`constant_dropouts` (empty when there are none)."""
    if not scopes:
        return ""
    shown = ", ".join(scopes[:4]) + (f" and {len(scopes) - 4} more" if len(scopes) > 4 else "")
    return (f"the original graph has live random dropout with a constant keep_prob ({len(scopes)} scope(s): "
            f"{shown}): the saved graph's own outputs differ from run to run, so it was compared with dropout "
            "bypassed (the inference graph); a comparison with the graph as saved cannot reach any tolerance")
