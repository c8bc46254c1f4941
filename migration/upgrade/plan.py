"""What ``upgrade --to compat`` changes, as data: one plan shared by ``scan`` (which reports it) and ``upgrade``
(which applies it with libcst). Pure ``ast``; never imports TensorFlow or libcst.

:func:`make_plan` runs the rules of :data:`migration.upgrade.rules.RULES` (one table, one module per rule) over the
resolver's references and the ``ast``, phase by phase; each rule writes :class:`~migration.upgrade.context.Site`
objects and edits into one :class:`Planner`. The homes come from :mod:`migration.upgrade.homes` (TensorFlow's own
``tf_upgrade_v2`` tables, the RNN table of :mod:`migration.upgrade.symbols`, and the family rows of
:mod:`migration.families` for what ``legacy_rnn`` rebuilds).
"""
from __future__ import annotations

import ast

from migration.upgrade.context import ManualCheck, PlanContext, Site, Span
from migration.upgrade.homes import keras_twin, new_home, remedy
from migration.upgrade.resolve import Reference
from migration.upgrade.rules import PHASES, RULES, Rule
from migration.upgrade.rules.dropout import DROPOUT_NOTE

#: Which references each phase offers its rules (``tree`` and ``module`` rules get the tree / nothing).
_KINDS = {"call_first": ("call",), "ref": ("use", "star", "choice", "getattr"), "import": ("import",),
          "call": ("call",)}


class Planner(PlanContext):
    """The plan of one module: ``plan()`` runs every rule of the table (see :func:`make_plan`)."""

    def plan(self, rules: tuple[Rule, ...] = RULES) -> None:
        for phase in PHASES:
            active = [r for r in rules if r.phase == phase]
            if phase in ("tree", "module"):
                for rule in active:
                    self.rule = rule.name
                    if phase == "tree" and self.tree is not None:
                        rule.apply(self, self.tree)
                    elif phase == "module":
                        rule.apply(self)
                continue
            for ref in self.refs:
                if ref.kind not in _KINDS[phase]:
                    continue
                for rule in active:
                    self.rule = rule.name
                    if rule.apply(self, ref):
                        break
        self.rule = ""


def make_plan(refs: list[Reference], lines: list[str], tree: ast.Module | None) -> Planner:
    planner = Planner(refs, lines, tree)
    planner.plan()
    return planner


def is_header_line(line: str) -> bool:
    """True for an import line the plan adds before TensorFlow is imported (``import sys``, ``import legacy_rnn...``)."""
    return line == "import sys" or line.startswith("import legacy_rnn")


__all__ = ["Planner", "Site", "Span", "ManualCheck", "make_plan", "is_header_line", "new_home", "remedy", "keras_twin",
           "DROPOUT_NOTE"]
