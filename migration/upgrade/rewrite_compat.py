"""``upgrade --to compat``: make a TF1 program run on TensorFlow 2.21 with ``tf.compat.v1``, changing nothing else.

The references are found with the ``ast`` resolver (:mod:`migration.upgrade.resolve`); the edits are applied with
libcst at the same positions, so comments and formatting survive. Rules (each has a test in
``tests/upgrade/test_upgrade_compat.py``):

1. ``tf.X`` -> ``tf.compat.v1.X`` for names that left TF2 (``placeholder``, ``Session``, ``train.*Optimizer``...);
   names that still exist (``tf.concat``, ``tf.nn.embedding_lookup``) are left alone.
2. ``tf.contrib.rnn.<Cell>`` -> ``tf.compat.v1.nn.rnn_cell.<Cell>``; ``tf.contrib.rnn.static_rnn`` (and the other
   static helpers) -> ``tf.compat.v1.nn.<fn>``.
3. Imports: ``from tensorflow.contrib.rnn import GRUCell`` -> ``from tensorflow.compat.v1.nn.rnn_cell import GRUCell``;
   ``from tensorflow.contrib import rnn`` -> ``from tensorflow.compat.v1 import nn as rnn`` (and ``rnn.<Cell>`` ->
   ``rnn.rnn_cell.<Cell>``); ``from tensorflow.nn import rnn_cell`` -> ``from tensorflow.compat.v1.nn import rnn_cell``.
4. Alias assignments of a moved module (``rnn_cell = tf.nn.rnn_cell``) point at its compat home.
5. ``tf.compat.v1.disable_eager_execution()`` (or ``tf.disable_v2_behavior()`` for ``import tensorflow.compat.v1 as
   tf``) right after the first TensorFlow import, when the program uses placeholders or sessions.
6. ``os.environ["TF_USE_LEGACY_KERAS"] = "1"`` before TensorFlow is imported.

Anything else TF1 that cannot be rewritten exactly (``tf.contrib.seq2seq``, ``tf.contrib.layers``, dynamic getattr,
star imports, a TF1 module used as a value) is left as written and listed in ``manual_checks``.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import ClassVar

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from migration.upgrade import symbols
from migration.upgrade.resolve import Binding, Reference, collect
from migration.upgrade.scan import parse

BOOTSTRAP = (
    'import os\n'
    'os.environ["TF_USE_LEGACY_KERAS"] = "1"  # rnn-migrate: tf.compat.v1.nn.rnn_cell needs tf_keras; set before TF\n'
)
GRAPH_MODE = {"placeholder", "placeholder_with_default", "Session", "InteractiveSession"}
Span = tuple[int, int, int, int]


@dataclass
class ManualCheck:
    """A construct the upgrade left as written: ``line``/``col`` are 1-based in the *input* file."""

    line: int
    col: int
    symbol: str
    reason: str
    # Which text ``line`` counts in: "input"; "output" for notes on the upgraded code (:class:`OutputCheck`).
    coords: ClassVar[str] = "input"

    def __str__(self) -> str:
        return f"{self.line}:{self.col}: {self.symbol}: {self.reason}"


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


def _rel(path: str) -> str | None:
    if path.startswith("tensorflow.") and not path.startswith("tensorflow.compat."):
        return path[len("tensorflow."):]
    return None


def _contrib_rnn_home(name: str) -> str | None:
    """``compat.v1.nn.rnn_cell.GRUCell`` for ``GRUCell``; ``compat.v1.nn.static_rnn`` for ``static_rnn``."""
    row = symbols.TABLE.get(f"contrib.rnn.{name}")
    return row.compat_home() if row is not None else None


class _Planner:
    """Turns references into span edits, import replacements and manual checks."""

    def __init__(self, refs: list[Reference], lines: list[str]):
        self.refs, self.lines = refs, lines
        self.edits: dict[Span, str] = {}
        self.imports: dict[tuple[int, int], list[tuple[str, str]]] = {}  # statement start -> (bound name, new code)
        self.manual: list[ManualCheck] = []
        self.changes: list[str] = []
        self._pending_originals: dict[tuple[int, int], ast.Import | ast.ImportFrom] = {}

    def _span(self, ref: Reference) -> Span:
        return (ref.line, ref.col, ref.end_line, ref.end_col)

    def _edit(self, ref: Reference, new: str) -> None:
        old = self.lines[ref.line - 1][ref.col:ref.end_col] if ref.line == ref.end_line else ref.path
        if old != new:
            self.edits[self._span(ref)] = new
            self.changes.append(f"{ref.line}:{ref.col + 1}: {old} -> {new}")

    def _manual(self, ref: Reference, symbol: str, reason: str) -> None:
        self.manual.append(ManualCheck(ref.line, ref.col + 1, symbol, reason))

    def plan(self) -> None:
        module_aliases: dict[int, list[Reference]] = {}  # id(binding) -> uses through an imported module alias
        for ref in self.refs:
            if ref.kind == "star":
                self._manual(ref, f"from {ref.path} import *", "star import: import the names explicitly")
            elif ref.kind == "getattr":
                self._manual(ref, f"getattr({ref.path.replace('tensorflow', 'tf', 1)}, ...)",
                             "dynamic attribute of a TF1 module: only known at run time")
            elif ref.kind == "use" and ref.binding is not None:
                if ref.binding.via == "import" and ref.binding.target == "tensorflow":
                    self._plan_root_use(ref)
                elif ref.binding.via in ("import", "from") and ref.binding.target.startswith("tensorflow."):
                    module_aliases.setdefault(id(ref.binding), []).append(ref)
                elif ref.binding.via == "assign" and ref.path == ref.binding.target:
                    pass  # the alias itself; its right-hand side was planned where it was assigned
        for ref in self.refs:
            if ref.kind == "import":
                self._plan_import(ref, module_aliases.get(id(ref.binding), []))

    def _plan_root_use(self, ref: Reference) -> None:
        rel = _rel(ref.path)
        if rel is None:
            return
        symbol = "tf." + rel
        if rel.startswith("contrib"):
            home = _contrib_rnn_home(rel[len("contrib.rnn."):]) if rel.startswith("contrib.rnn.") else None
            if home is None:
                self._manual(ref, symbol, "tf.contrib is gone from TF2 and this name has no compat home; "
                             "rewrite it by hand (see " + (symbols.lookup(rel) or symbols.TABLE["contrib"]).doc + ")")
                return
            self._edit(ref, f"{ref.base}.{home}")
            return
        if rel in ("nn.rnn_cell",) and not ref.alias_assignment:
            self._manual(ref, symbol, "a TF1 module used as a value; point it at tf.compat.v1.nn.rnn_cell by hand "
                         "once you have checked how it is used")
            return
        home = symbols.compat_home(rel)
        if home is not None:
            self._edit(ref, f"{ref.base}.{home}")

    def _plan_import(self, ref: Reference, uses: list[Reference]) -> None:
        """Imports of TensorFlow submodules or names: rebind to the compat home when needed."""
        node = ref.node
        assert isinstance(node, (ast.Import, ast.ImportFrom))
        rel = _rel(ref.path)
        if rel is None:
            return  # tensorflow itself, or tensorflow.compat.*
        if isinstance(node, ast.Import) and ref.binding is not None and ref.binding.target == "tensorflow":
            # ``import tensorflow.contrib.rnn`` binds ``tensorflow``; its uses are rewritten like ``tf.x`` uses.
            if rel.startswith("contrib") or symbols.compat_home(rel) is not None:
                self.imports.setdefault((node.lineno, ref.col), []).append(("tensorflow", "import tensorflow"))
                self._pending_originals.setdefault((node.lineno, ref.col), node)
                self.changes.append(f"{ref.line}:{ref.col + 1}: import {ref.path} -> import tensorflow")
            return
        new_module: str | None = None  # the new dotted path the bound name should refer to
        if rel == "contrib.rnn":
            new_module = "tensorflow.compat.v1.nn"
            for use in uses:
                name = use.path[len("tensorflow.contrib.rnn."):].split(".")[0] if use.path != ref.path else ""
                home = _contrib_rnn_home(name) if name else None
                if home is None:
                    self._manual(use, "tf.contrib.rnn." + (name or ""), "no compat home in TF 2.21 (or the module "
                                 "is used as a value); rewrite it by hand")
                elif home.startswith("compat.v1.nn.rnn_cell."):
                    self._edit(use, f"{use.base}.rnn_cell.{name}" + use.path[len(f"tensorflow.contrib.rnn.{name}"):])
        elif rel.startswith("contrib.rnn."):
            home = _contrib_rnn_home(rel[len("contrib.rnn."):])
            if home is None:
                self._manual(ref, "tf." + rel, "no compat home in TF 2.21; rewrite it by hand")
                return
            new_module = "tensorflow." + home
        elif rel.startswith("contrib"):
            self._manual(ref, "tf." + rel, "tf.contrib is gone from TF2; rewrite it by hand")
            return
        elif symbols.compat_home(rel) is not None or any(
                symbols.compat_home(_rel(u.path) or "") is not None for u in uses):
            new_module = "tensorflow.compat.v1." + rel
        if new_module is None:
            return
        self._rebind(ref, node, new_module)

    def _rebind(self, ref: Reference, node: ast.Import | ast.ImportFrom, new_path: str) -> None:
        key = (node.lineno, ref.col)
        statements = self.imports.setdefault(key, [])
        bound = ref.base
        if isinstance(node, ast.Import):
            statements.append((bound, f"import {new_path} as {bound}"))
        else:
            module, name = new_path.rsplit(".", 1)
            statements.append((bound, f"from {module} import {name}" + (f" as {bound}" if bound != name else "")))
        self.changes.append(f"{ref.line}:{ref.col + 1}: import of {ref.path} -> {new_path}")
        self._pending_originals.setdefault(key, node)

    def finish_imports(self) -> dict[tuple[int, int], list[str]]:
        """Keep the unchanged names of a partly rewritten import statement."""
        out: dict[tuple[int, int], list[str]] = {}
        for key, node in self._pending_originals.items():
            changed = {bound for bound, _ in self.imports[key]}
            rewritten = list(dict.fromkeys(code for _, code in self.imports[key]))
            kept = [a for a in node.names if (a.asname or a.name.split(".")[0]) not in changed]  # type: ignore[attr-defined]
            if kept:
                names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in kept)
                if isinstance(node, ast.Import):
                    rewritten = [f"import {names}"] + rewritten
                else:
                    rewritten = [f"from {'.' * node.level}{node.module or ''} import {names}"] + rewritten
            out[key] = rewritten
        return out


class _Apply(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, edits: dict[Span, str], imports: dict[tuple[int, int], list[str]],
                 after_line: int | None, after_code: str | None, bootstrap: bool):
        super().__init__()
        self.edits, self.imports = edits, imports
        self.after_line, self.after_code, self.bootstrap = after_line, after_code, bootstrap

    def _span(self, node: cst.CSTNode) -> Span:
        r = self.get_metadata(PositionProvider, node)
        return (r.start.line, r.start.column, r.end.line, r.end.column)

    def _expr(self, original: cst.BaseExpression, updated: cst.BaseExpression) -> cst.BaseExpression:
        new = self.edits.get(self._span(original))
        if new is None:
            return updated
        expr = cst.parse_expression(new)
        return expr.with_changes(lpar=updated.lpar, rpar=updated.rpar)  # type: ignore[attr-defined]

    def leave_Attribute(self, original_node, updated_node):  # noqa: D102
        return self._expr(original_node, updated_node)

    def leave_Name(self, original_node, updated_node):  # noqa: D102
        return self._expr(original_node, updated_node)

    def leave_Call(self, original_node, updated_node):  # noqa: D102
        return self._expr(original_node, updated_node)

    def leave_SimpleStatementLine(self, original_node, updated_node):  # noqa: D102
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
        if self.bootstrap:
            i = 0
            while i < len(body) and _is_docstring_or_future(body[i], i):
                i += 1
            body[i:i] = cst.parse_module(BOOTSTRAP).body
        return updated_node.with_changes(body=body)


def _is_docstring_or_future(stmt: cst.CSTNode, index: int) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    if index == 0 and isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)):
        return True
    return isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name) and small.module.value == "__future__"


def has_bootstrap(tree: ast.Module) -> bool:
    """True if the module sets ``os.environ["TF_USE_LEGACY_KERAS"]`` to an accepted value with an assignment."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript):
            sub = node.targets[0]
            key = sub.slice
            if (isinstance(key, ast.Constant) and key.value == "TF_USE_LEGACY_KERAS" and isinstance(node.value, ast.Constant)
                    and node.value.value in ("1", "true", "True") and ast.unparse(sub.value).endswith("environ")):
                return True
    return False


def graph_mode_call(refs: list[Reference]) -> tuple[int, str] | None:
    """(line after which to insert, code) to turn eager execution off, or None when not needed / already there."""
    rels = {(r.path.split("tensorflow.compat.v1.")[-1] if "compat.v1." in r.path else _rel(r.path))
            for r in refs if r.kind == "use"}
    if not rels & GRAPH_MODE or rels & {"disable_eager_execution", "disable_v2_behavior"}:
        return None
    roots = [r for r in refs if r.kind == "import" and r.binding is not None
             and r.binding.target in ("tensorflow", "tensorflow.compat.v1")]
    if roots:
        root = roots[0]
        if root.binding.target == "tensorflow":  # type: ignore[union-attr]
            code = f"{root.base}.compat.v1.disable_eager_execution()"
        else:
            code = f"{root.base}.disable_v2_behavior()"
        return root.line, code + "  # rnn-migrate: the program uses TF1 graph mode\n"
    first = next((r for r in refs if r.kind == "import"), None)
    if first is None:
        return None
    return first.line, "import tensorflow.compat.v1 as _tf_v1\n_tf_v1.disable_eager_execution()\n"


def upgrade_compat(source: str, filename: str = "<string>") -> UpgradeResult:
    """Rewrite a TF1 program so that it runs on TensorFlow 2.21 (see the module docstring for the rules)."""
    tree = parse(source, filename)
    lines = source.splitlines()
    bindings: dict[str, Binding] = {}
    refs = collect(tree, lines, bindings)
    planner = _Planner(refs, lines)
    planner.plan()
    imports = planner.finish_imports()
    uses_tf = any(r.kind == "import" for r in refs)
    after = graph_mode_call(refs)
    bootstrap = uses_tf and not has_bootstrap(tree)
    if after is not None:
        planner.changes.append(f"{after[0]}: + {after[1].strip()}")
    if bootstrap:
        planner.changes.append("1: + os.environ['TF_USE_LEGACY_KERAS'] = '1' (before TensorFlow is imported)")
    wrapper = MetadataWrapper(cst.parse_module(source))
    module = wrapper.visit(_Apply(planner.edits, imports, after[0] if after else None, after[1] if after else None,
                                  bootstrap))
    code = module.code
    ast.parse(code)  # the rewrite must still be Python
    return UpgradeResult(code, sorted(planner.manual, key=lambda m: (m.line, m.col)), planner.changes)
