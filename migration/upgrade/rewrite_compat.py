"""``upgrade --to compat``: make a TF1 program run on TensorFlow 2.21 with ``tf.compat.v1``, changing nothing else.

The plan (what to change where: :mod:`migration.upgrade.plan`, driven by TensorFlow's own ``tf_upgrade_v2`` tables
with rnn-migrate's RNN table on top) is made from the ``ast`` resolver's references; this module applies it with
libcst at the same positions, so comments and formatting survive: expression edits, argument keywords, comments
above statements (``tf.nn.dropout``'s keep_prob -> rate note), rebound import statements, the
``TF_USE_LEGACY_KERAS`` bootstrap and header imports (``import sys``, ``import legacy_rnn.seq2seq``) before TensorFlow
is imported, ``disable_v2_behavior()`` after the TensorFlow import when the program uses graph mode, and operator
edits (``/`` -> ``//`` in a shape). The rules themselves: :mod:`migration.upgrade.rules`.

The rules and their tests: ``docs/upgrading.md``, ``tests/upgrade/test_upgrade_compat.py``,
``tests/upgrade/test_upgrade_causes.py``. Anything that cannot be rewritten exactly is left as written and listed in
``manual_checks`` with a remedy.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import ClassVar

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from migration.upgrade.plan import ManualCheck, Planner, Span, make_plan
from migration.upgrade.resolve import Binding, collect
from migration.upgrade.rules.legacy_keras import BOOTSTRAP
from migration.upgrade.scan import parse


@dataclass
class OutputCheck(ManualCheck):
    """A manual check whose ``line`` counts in the upgraded code (the Keras pattern notes)."""

    coords: ClassVar[str] = "output"


@dataclass
class CompatOutputCheck(ManualCheck):
    """A manual check whose ``line`` counts in the compat stage's output (``UpgradeResult.compat_code``)."""

    coords: ClassVar[str] = "compat"


@dataclass
class UpgradeResult:
    code: str
    manual_checks: list[ManualCheck] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # "line:col: old -> new", for people
    compat_code: str | None = None  # --to keras: the compat stage's output (the lines of its Keras notes)


class _Apply(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, planner: Planner, imports: dict[tuple[int, int], list[str]],
                 after_line: int | None, after_code: str | None, header: str):
        super().__init__()
        self.edits, self.imports, self.operators = planner.edits, imports, planner.operator_edits
        self.arg_keywords, self.comments = planner.arg_keywords, planner.comments
        self.after_line, self.after_code, self.header = after_line, after_code, header
        self.applied: set[Span] = set()

    def _span(self, node: cst.CSTNode) -> Span:
        r = self.get_metadata(PositionProvider, node)
        return (r.start.line, r.start.column, r.end.line, r.end.column)

    def on_leave(self, original_node, updated_node):  # noqa: D102
        updated = super().on_leave(original_node, updated_node)
        if isinstance(original_node, cst.Divide) and self.operators:
            r = self.get_metadata(PositionProvider, original_node)
            if self.operators.get((r.start.line, r.start.column)) == "//":
                self.applied.add(("op", r.start.line, r.start.column))  # type: ignore[arg-type]
                return cst.FloorDivide(whitespace_before=updated.whitespace_before,
                                       whitespace_after=updated.whitespace_after)
        if isinstance(original_node, cst.BaseExpression) and isinstance(updated, cst.BaseExpression) and self.edits:
            span = self._span(original_node)
            new = self.edits.get(span)
            if new is not None and span not in self.applied:
                self.applied.add(span)
                expr = cst.parse_expression(new)
                lpar, rpar = updated.lpar, updated.rpar  # type: ignore[attr-defined]
                if not lpar and isinstance(expr, (cst.BinaryOperation, cst.BooleanOperation, cst.IfExp)):
                    lpar, rpar = [cst.LeftParen()], [cst.RightParen()]  # never change what an operator binds
                    if isinstance(original_node, cst.BaseExpression) and self._is_arg_value(original_node):
                        lpar, rpar = [], []
                return expr.with_changes(lpar=lpar, rpar=rpar)  # type: ignore[attr-defined]
        return updated

    def _is_arg_value(self, node: cst.CSTNode) -> bool:
        return self._span(node) in self._arg_values

    def visit_Module(self, node):  # noqa: D102
        self._arg_values: set[Span] = set()
        return True

    def visit_Arg(self, node):  # noqa: D102
        self._arg_values.add(self._span(node.value))
        return True

    def leave_Arg(self, original_node, updated_node):  # noqa: D102
        span = self._span(original_node.value)
        keyword = self.arg_keywords.get(span)
        if keyword is None:
            return updated_node
        self.applied.add(("kw",) + span)  # type: ignore[arg-type]
        return updated_node.with_changes(
            keyword=cst.Name(keyword),
            equal=updated_node.equal if updated_node.keyword is not None else cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))

    def leave_SimpleStatementLine(self, original_node, updated_node):  # noqa: D102
        start = self.get_metadata(PositionProvider, original_node).start.line
        notes = self.comments.get(start)
        if notes:
            self.applied.add(("comment", start))  # type: ignore[arg-type]
            updated_node = updated_node.with_changes(leading_lines=[
                *updated_node.leading_lines, *(cst.EmptyLine(comment=cst.Comment(n)) for n in notes)])
        body: list[cst.BaseSmallStatement] = []
        changed = False
        for orig, upd in zip(original_node.body, updated_node.body):
            r = self.get_metadata(PositionProvider, orig)
            new = self.imports.get((r.start.line, r.start.column))
            if new is None:
                body.append(upd)
                continue
            changed = True
            body.extend(cst.parse_statement(s).body[0] for s in new)  # type: ignore[attr-defined]
        if not changed:
            return updated_node
        if len(updated_node.body) == 1 and len(body) > 1:
            lines = [cst.SimpleStatementLine(body=[s]) for s in body]
            lines[0] = lines[0].with_changes(leading_lines=updated_node.leading_lines)
            lines[-1] = lines[-1].with_changes(trailing_whitespace=updated_node.trailing_whitespace)
            return cst.FlattenSentinel(lines)
        return updated_node.with_changes(body=body)

    def leave_Module(self, original_node, updated_node):  # noqa: D102
        body = list(updated_node.body)
        if self.after_code is not None:
            for i, stmt in enumerate(original_node.body):
                r = self.get_metadata(PositionProvider, stmt)
                if r.start.line <= self.after_line <= r.end.line:  # type: ignore[operator]
                    body[i + 1:i + 1] = cst.parse_module(self.after_code).body
                    break
        if self.header:
            i = 0
            while i < len(body) and _is_docstring_or_future(body[i], i):
                i += 1
            body[i:i] = cst.parse_module(self.header).body
        return updated_node.with_changes(body=body)


def _is_docstring_or_future(stmt: cst.CSTNode, index: int) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    if index == 0 and isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)):
        return True
    return isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name) and small.module.value == "__future__"


def upgrade_compat(source: str, filename: str = "<string>") -> UpgradeResult:
    """Rewrite a TF1 program so that it runs on TensorFlow 2.21 (see the module docstring for the rules)."""
    tree = parse(source, filename)
    lines = source.splitlines()
    bindings: dict[str, Binding] = {}
    refs = collect(tree, lines, bindings)
    planner = make_plan(refs, lines, tree)
    imports = planner.finish_imports()
    after = next(iter(planner.inserts.items()), None)
    header = (BOOTSTRAP if planner.bootstrap else "") + "".join(line + "\n" for line in planner.header_lines)
    wrapper = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)  # a fresh tree: no copy needed
    apply = _Apply(planner, imports, after[0] if after else None, after[1] if after else None, header)
    module = wrapper.visit(apply)
    code = module.code
    ast.parse(code)  # the rewrite must still be Python
    missed = [s for s in planner.edits if s not in apply.applied]
    missed += [s for s in planner.arg_keywords if ("kw",) + s not in apply.applied]
    missed += [s for s in planner.operator_edits if ("op",) + s not in apply.applied]
    if missed:  # an edit whose position libcst did not give back: never write a half-applied rewrite
        raise RuntimeError(f"internal error: {len(missed)} planned edit(s) were not applied at {missed[:3]}")
    return UpgradeResult(code, planner.manual, planner.changes)
