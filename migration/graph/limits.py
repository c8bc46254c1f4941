"""The sandbox's bounds: what a user's graph may cost, checked before it runs and enforced while it runs.

Two kinds of limit (``docs/security.md``, "Sandbox limits"):

* **structure**, checked in this process on the ``GraphDef`` before anything runs (:func:`check_structure`): nodes
  and library functions in the closure, function-call nesting depth, recursion (a function that reaches itself
  through any attribute); the size of every input we generate for a placeholder (:func:`check_feed`). Over one ->
  :class:`GraphTooComplex` (nothing ran; the verification falls back to the weaker check and says so);
* **resources**, enforced on the child process that runs the graph (:mod:`migration.graph.worker`): address space
  (``RLIMIT_AS``), CPU time (``RLIMIT_CPU``) and wall time (the parent kills the child). Over one, or a native crash
  of the child -> :class:`SandboxLimit`, which every caller lets through: the command ends with exit 2 and its
  staged output is removed.

Every limit is configurable through an environment variable (:data:`ENV`), read at each run.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Iterable, Optional, Sequence

from migration.core.errors import MigrationError

#: environment variable -> (Limits field, default, unit)
ENV = {
    "RNN_MIGRATE_SANDBOX_AS": ("address_space", 12 << 30, "bytes (suffix K, M, G allowed)"),
    "RNN_MIGRATE_SANDBOX_CPU": ("cpu_seconds", 300, "seconds of CPU time per run"),
    "RNN_MIGRATE_SANDBOX_WALL": ("wall_seconds", 300, "seconds of wall time per run"),
    "RNN_MIGRATE_SANDBOX_NODES": ("max_nodes", 2_000_000, "nodes (main graph + function bodies) in the closure"),
    "RNN_MIGRATE_SANDBOX_FUNCTIONS": ("max_functions", 20_000, "library functions in the closure"),
    "RNN_MIGRATE_SANDBOX_DEPTH": ("max_call_depth", 64, "nested function calls"),
    "RNN_MIGRATE_SANDBOX_FEED": ("max_feed_bytes", 1 << 30, "bytes of one generated input"),
}
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclasses.dataclass(frozen=True)
class Limits:
    address_space: int
    cpu_seconds: float
    wall_seconds: float
    max_nodes: int
    max_functions: int
    max_call_depth: int
    max_feed_bytes: int


def _parse(name: str, text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise MigrationError(f"Received an invalid value for {name}: expected a positive number, got {text!r}.")
    return float(match.group(1)) * _UNITS[match.group(2).upper()]


def current() -> Limits:
    """The limits in force: the defaults of :data:`ENV`, each overridden by its environment variable."""
    values = {}
    for name, (field, default, _) in ENV.items():
        raw = os.environ.get(name)
        value = default if raw is None or not raw.strip() else _parse(name, raw)
        values[field] = value if field in ("cpu_seconds", "wall_seconds") else int(value)
    return Limits(**values)


class SandboxLimit(MigrationError):
    """The child running the original graph went over a resource limit or crashed; callers never fall back on it."""

    def __init__(self, what: str, detail: str, variable: Optional[str] = None) -> None:
        remedy = (f"raise it with {variable}=... if the graph is yours and trusted, or " if variable else "")
        super().__init__(f"the original graph was stopped: {what} ({detail}). Nothing was written. To go on, "
                         f"{remedy}convert with --no-verify, or choose other tensors with --outputs.")
        self.what = what


class GraphTooComplex(MigrationError):
    """The graph is over a structural limit (or recursive); refused before anything ran."""


class GraphAssertionFailed(MigrationError):
    """An ``Assert`` of the user's own graph failed on the inputs the verification fed."""

    def __init__(self, node: str, message: str) -> None:
        super().__init__(f"the original graph's own assertion failed at node {node!r} ({message}); the graph "
                         "cannot be the reference for these inputs")
        self.node = node


class GraphRunError(MigrationError):
    """TensorFlow refused to run the original graph (a bad shape, a bad index, an op it cannot execute)."""


def _variable_of(field: str) -> str:
    return next(name for name, (f, _, _) in ENV.items() if f == field)


# -- structure ------------------------------------------------------------------------------------------------------

def call_graph(index, functions: Iterable[str]) -> dict[str, list[str]]:
    """function -> the functions its body names through any attribute (nested ones included)."""
    from migration.graph.graphdef import func_attrs

    return {f: sorted({c for n in index.fn_contexts[f].nodes.values() for c in func_attrs(n)})
            for f in functions if f in index.fn_contexts}


def call_depth(calls: dict[str, list[str]], roots: Iterable[str]) -> int:
    """Longest chain of nested calls from ``roots`` (1 for a function that calls nothing); raises
    :class:`GraphTooComplex` on a cycle (a self- or mutually recursive function). Iterative: any depth."""
    depth: dict[str, int] = {}
    on_stack: set[str] = set()
    best = 0
    for root in roots:
        stack = [(root, iter(calls.get(root, ())))] if root not in depth else []
        on_stack.update(s for s, _ in stack)
        while stack:
            fname, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_stack.discard(fname)
                depth[fname] = 1 + max((depth.get(c, 0) for c in calls.get(fname, ())), default=0)
                continue
            if child in on_stack:
                chain = [s for s, _ in stack]
                loop = chain[chain.index(child):] + [child]
                raise GraphTooComplex("the original graph was not executed: function "
                                      f"{child!r} calls itself ({' -> '.join(loop[:8])}"
                                      f"{' -> ...' if len(loop) > 8 else ''}); recursive functions are refused")
            if child not in depth:
                on_stack.add(child)
                stack.append((child, iter(calls.get(child, ()))))
        best = max(best, depth.get(root, 0))
    return best


def check_structure(index, names: Sequence[str], functions: Sequence[str], limits: Optional[Limits] = None) -> None:
    """Refuse (``GraphTooComplex``) a closure over the node, function or call-depth limits, or a recursive one."""
    from migration.graph.graphdef import func_attrs

    limits = limits or current()
    nodes = len(names) + sum(len(index.fn_contexts[f].nodes) for f in functions if f in index.fn_contexts)
    for count, field, what in ((nodes, "max_nodes", "nodes"), (len(functions), "max_functions", "functions")):
        bound = getattr(limits, field)
        if count > bound:
            raise GraphTooComplex(f"the original graph was not executed: its closure holds {count} {what}, over the "
                                  f"limit of {bound} (raise it with {_variable_of(field)}=...)")
    roots = sorted({f for n in names for f in func_attrs(index.nodes[n])})
    depth = call_depth(call_graph(index, functions), roots)
    if depth > limits.max_call_depth:
        raise GraphTooComplex(f"the original graph was not executed: its functions call each other {depth} deep, "
                              f"over the limit of {limits.max_call_depth} (raise it with "
                              f"{_variable_of('max_call_depth')}=...)")


def check_feed(name: str, shape: Sequence[int], itemsize: int, limits: Optional[Limits] = None) -> None:
    """Refuse an input of ``shape`` (known dimensions) before it is allocated when it is over the feed limit."""
    limits = limits or current()
    elements = 1
    for d in shape:
        elements *= max(int(d), 0)
    if elements * itemsize > limits.max_feed_bytes:
        raise GraphTooComplex(f"placeholder {name!r} has shape {list(shape)}: an input of {elements * itemsize} bytes "
                              f"is over the limit of {limits.max_feed_bytes} (raise it with "
                              f"{_variable_of('max_feed_bytes')}=..., or choose other tensors with --outputs)")
