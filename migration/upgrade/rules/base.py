"""What a rule is: a name, the phase it runs in, one function, and its before/after examples (its tests).

Phases, in the order :func:`migration.upgrade.plan.make_plan` runs them:

* ``call_first``: a call (:class:`~migration.upgrade.resolve.Reference` of kind ``call``) whose whole text changes;
* ``ref``: one reference (``use``, ``star``, ``choice``, ``getattr``); the first rule that returns True owns it;
* ``import``: one name of a TensorFlow import statement, with the uses made through it;
* ``call``: a call's arguments;
* ``tree``: the whole ``ast`` (constructs that are not TensorFlow references: Python 2 leftovers, ``.value``);
* ``module``: lines added once per file (the graph-mode switch, the ``TF_USE_LEGACY_KERAS`` bootstrap).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

PHASES = ("call_first", "ref", "import", "call", "tree", "module")


@dataclass(frozen=True)
class Example:
    """``before`` is upgraded with ``--to compat``; ``after`` is the expected code (the ``TF_USE_LEGACY_KERAS``
    bootstrap lines left out), or None when the code must be left as written; ``manual`` lists the symbols the rule
    must report as manual checks."""

    before: str
    after: str | None
    manual: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    name: str
    phase: str
    summary: str
    apply: Callable[..., Any]
    examples: tuple[Example, ...] = ()

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"rule {self.name}: unknown phase {self.phase!r}; expected one of {PHASES}")
