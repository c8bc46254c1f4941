"""The op allowlist: what the ground-truth verification may execute of a user's graph.

A ``.meta`` file is a program. Before any part of it runs, the transitive closure of the nodes a fetch needs
(control inputs included) and every node of every library function they call (``While``/``If`` bodies,
``PartitionedCall``, and a function named inside another func attribute) is checked against :data:`ALLOWED_OPS` (the
rows of :mod:`migration.graph.ops`), and the closure against the structural limits of
:mod:`migration.graph.limits` (size, call depth, recursion): pure math, shape manipulation, control flow, tensor
lists/arrays and variable handles. Anything else (file, queue, reader, summary, ``Save``/``Restore``, ``PyFunc``,
``EagerPyFunc``, random ops left after dropout removal, custom ops) is refused with the op and the node named, and
the verification falls back to the weaker rebuilt check, labelled as such.

Variables never run as the user's graph wrote them: reference variables are replaced by constants at import
(``input_map``), resource variables get our own ``AssignVariableOp`` with the checkpoint value; the user's
initializers, ``Assign`` ops, ``Saver`` and optimizer ops are not in the closure of a forward fetch and are never
imported.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Optional

from migration.core.errors import MigrationError
from migration.graph.graphdef import GraphIndex
from migration.graph.limits import check_structure
from migration.graph.ops import ALLOWED

#: Op types the ground-truth verification may execute: the rows of the op table (:mod:`migration.graph.ops`).
ALLOWED_OPS: frozenset[str] = ALLOWED

#: Why well-known refused ops are refused (others: "not on the allowlist").
_REASONS = {
    "WriteFile": "writes a file", "ReadFile": "reads a file", "MatchingFiles": "lists files",
    "PyFunc": "runs Python code", "EagerPyFunc": "runs Python code", "PyFuncStateless": "runs Python code",
    "Save": "writes a checkpoint", "SaveV2": "writes a checkpoint", "SaveSlices": "writes a checkpoint",
    "Restore": "reads a checkpoint", "RestoreV2": "reads a checkpoint", "RestoreSlice": "reads a checkpoint",
    "Assign": "changes a variable", "AssignVariableOp": "changes a variable", "AssignAdd": "changes a variable",
    "RandomUniform": "is random (not a dropout the verification recognizes)",
    "RandomStandardNormal": "is random", "TruncatedNormal": "is random",
}


class SandboxRefusal(MigrationError):
    """The graph needs an op outside the allowlist; nothing was executed."""

    def __init__(self, op: str, node: str, function: Optional[str],
                 refused: Optional[list[tuple[str, str, Optional[str]]]] = None) -> None:
        where = f"node {node!r}" + (f" in function {function!r}" if function else "")
        reason = _REASONS.get(op, "is not on the allowlist of pure math / control-flow ops")
        refused = refused or [(op, node, function)]
        more = ""
        if len(refused) > 1:
            shown = ", ".join(f"{o} ({n})" for o, n, _ in refused[1:9])
            more = f"; also refused: {shown}" + (f" and {len(refused) - 9} more" if len(refused) > 9 else "")
        super().__init__(f"the original graph was not executed: op {op!r} at {where} {reason}{more}")
        self.op, self.node, self.function, self.refused = op, node, function, refused


@dataclasses.dataclass
class SandboxReport:
    nodes: int
    functions: int
    op_types: list[str]


def check(index: GraphIndex, fetches: Iterable[str], stop: Iterable[str] = ()) -> SandboxReport:
    """Raise :class:`SandboxRefusal` for the first disallowed op needed by ``fetches``; else describe the closure.

    ``stop``: nodes whose outputs are replaced before execution (their own inputs are not needed)."""
    stop = set(stop)
    names, functions = index.closure(fetches, stop)
    ops: set[str] = set()
    for fname in functions:
        if fname not in index.fn_contexts:  # TF would run a registered op of that name: refused
            raise SandboxRefusal("<missing function>", fname, None)
    check_structure(index, names, functions)  # sizes, call depth, recursion (GraphTooComplex)
    refused: list[tuple[str, str, Optional[str]]] = []
    for function, node in index.iter_nodes(names, functions):
        if function is None and node.name in stop:
            continue  # replaced by a placeholder before anything runs (a fed dequeue): never executed
        if node.op not in ALLOWED_OPS:
            refused.append((node.op, node.name, function))
        ops.add(node.op)
    if refused:  # name the worst first: a known I/O or code op before a merely unknown one
        refused.sort(key=lambda r: (r[0] not in _REASONS, r[1]))
        raise SandboxRefusal(*refused[0], refused=refused)
    return SandboxReport(len(names), len(functions), sorted(ops))
