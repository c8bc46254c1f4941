"""The state a plan is made in, and the helpers every upgrade rule writes through (:mod:`migration.upgrade.rules`).

A :class:`Site` is one place the plan touches: a name rewritten (``tf.placeholder`` -> ``tf.compat.v1.placeholder``),
an import statement rebound, an argument changed, a line inserted (the graph-mode switch, the ``TF_USE_LEGACY_KERAS``
bootstrap), or a construct left as written that needs a manual check (``action == "manual"``), with the reason and a
remedy. Each site names the rule that made it. Pure ``ast``; never imports TensorFlow or libcst.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import ClassVar

from migration.upgrade import homes
from migration.upgrade.resolve import Reference

Span = tuple[int, int, int, int]  # 1-based lines, 0-based character columns, end exclusive
FLAGS_PATHS = ("tensorflow.flags.FLAGS", "tensorflow.app.flags.FLAGS", "tensorflow.compat.v1.flags.FLAGS",
               "tensorflow.compat.v1.app.flags.FLAGS")


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
class Site:
    """One place the plan touches. ``action``: ``rewrite`` (``new`` replaces the span) or ``manual``."""

    span: Span
    symbol: str  # "tf.placeholder", "tf.nn.dropout(keep_prob)", "tf.reduce_sum(keep_dims=)"
    action: str
    old: str = ""
    new: str = ""
    reason: str = ""
    kind: str = "name"  # name | import | argument | call | header | insert
    rule: str = ""  # the rule that made it (migration.upgrade.rules)


def rel_of(path: str) -> str | None:
    if path.startswith("tensorflow.") and not path.startswith("tensorflow.compat."):
        return path[len("tensorflow."):]
    return None


class PlanContext:
    """What the rules fill: ``sites``; ``edits`` (expression spans -> new code), ``arg_keywords`` (argument value span
    -> keyword to put before it), ``comments`` (statement line -> comment lines), ``imports`` (statement start ->
    rebound names), ``header`` (import lines to add before TensorFlow is imported) and ``inserts`` (line -> code to
    add after it) are what :mod:`migration.upgrade.rewrite_compat` applies. ``rule`` is the rule now running."""

    def __init__(self, refs: list[Reference], lines: list[str], tree: ast.Module | None = None):
        self.refs, self.lines, self.tree = refs, lines, tree
        self.sites: list[Site] = []
        self.edits: dict[Span, str] = {}
        self.arg_keywords: dict[Span, str] = {}
        self.comments: dict[int, list[str]] = {}
        self.header: set[str] = set()
        self.inserts: dict[int, str] = {}  # line -> code inserted after the statement that holds it
        self.bootstrap = False  # insert the TF_USE_LEGACY_KERAS bootstrap
        self.imports: dict[tuple[int, int], list[tuple[str, str]]] = {}  # statement start -> (bound name, new code)
        self.pending_originals: dict[tuple[int, int], ast.Import | ast.ImportFrom] = {}
        self.handled: set[Span] = set()  # spans covered by a call-level rewrite
        self.compat_bindings: set[int] = set()  # id(binding) of names that now point under tf.compat.v1
        self.module_aliases: dict[int, list[Reference]] = {}  # id(binding) -> uses through an imported module alias
        self.rule = ""
        self.header_lines: list[str] = []  # the header imports, in order (rule ``header_imports``)
        self.operator_edits: dict[tuple[int, int], str] = {}  # (line, col) of a binary operator -> new operator
        self._stmt_map: dict[int, int] | None = None
        self._uses: dict[Span, Reference] | None = None
        self._nodes: list[ast.AST] | None = None
        self._source: str | None = None

    # -- helpers ---------------------------------------------------------------------------------------------------
    @property
    def stmt_lines(self) -> dict[int, int]:
        if self._stmt_map is None:
            self._stmt_map = statement_lines(self.tree) if self.tree is not None else {}
        return self._stmt_map

    @staticmethod
    def span(ref: Reference) -> Span:
        return (ref.line, ref.col, ref.end_line, ref.end_col)

    def text(self, span: Span) -> str:
        line, col, end_line, end_col = span
        if line == end_line and 0 < line <= len(self.lines):
            return self.lines[line - 1][col:end_col]
        if 0 < line <= end_line <= len(self.lines):
            chunk = [self.lines[line - 1][col:]] + self.lines[line:end_line - 1] + [self.lines[end_line - 1][:end_col]]
            return "\n".join(chunk)
        return ""

    def node_span(self, node: ast.AST) -> Span:
        line, end_line = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
        return (line, char_col(self.lines, line, node.col_offset),  # type: ignore[attr-defined]
                end_line, char_col(self.lines, end_line, node.end_col_offset or 0))  # type: ignore[attr-defined]

    def edit(self, span: Span, new: str, symbol: str, kind: str = "name", reason: str = "") -> None:
        old = self.text(span)
        if old != new:
            self.edits[span] = new
            self.sites.append(Site(span, symbol, "rewrite", old, new, reason, kind, self.rule))

    def flag(self, span: Span, symbol: str, reason: str, kind: str = "name") -> None:
        self.sites.append(Site(span, symbol, "manual", self.text(span), "", reason, kind, self.rule))

    def root_text(self, ref: Reference, rel: str) -> str:
        """How to write the TF2 home of ``rel`` from ``ref``'s TensorFlow binding (adds the import a home here needs)."""
        home = homes.new_home(rel)
        if home is None:
            return f"{ref.base}.{rel}"
        if homes.is_absolute(home):
            self.header.add(f"import {homes.home_import(home)}")
            return home
        return f"{ref.base}.{home}"

    def note(self, span: Span, symbol: str, reason: str, kind: str = "note") -> None:
        """Information: runs as written (``scan`` reports it as ``compat``)."""
        self.sites.append(Site(span, symbol, "note", self.text(span), "", reason, kind, self.rule))

    @property
    def manual(self) -> list[ManualCheck]:
        return sorted((ManualCheck(s.span[0], s.span[1] + 1, s.symbol, s.reason) for s in self.sites
                       if s.action == "manual"), key=lambda m: (m.line, m.col))

    @property
    def changes(self) -> list[str]:
        sites = sorted((s for s in self.sites if s.action == "rewrite" and s.kind != "insert"), key=lambda s: s.span)
        out = [f"{s.span[0]}:{s.span[1] + 1}: {s.old} -> {s.new}" if s.kind != "import"
               else f"{s.span[0]}:{s.span[1] + 1}: {s.reason}" for s in sites]
        return out + [f"{s.span[0]}:{s.span[1] + 1}: + {s.new} ({s.reason})" for s in self.sites
                      if s.action == "rewrite" and s.kind == "insert"]

    @property
    def source(self) -> str:
        """The source text (for the rules' cheap "could this file contain it at all" checks)."""
        if self._source is None:
            self._source = "\n".join(self.lines)
        return self._source

    @property
    def nodes(self) -> list[ast.AST]:
        """Every node of the tree, walked once and shared by the ``tree`` rules."""
        if self._nodes is None:
            self._nodes = list(ast.walk(self.tree)) if self.tree is not None else []
        return self._nodes

    def operator_edit(self, node: ast.BinOp, new_op: str) -> bool:
        """Replace ``node``'s operator token (found in the source between its operands); False if not found."""
        start = (node.left.end_lineno or node.left.lineno, char_col(self.lines, node.left.end_lineno or node.left.lineno,
                                                                    node.left.end_col_offset or 0))
        end = (node.right.lineno, char_col(self.lines, node.right.lineno, node.right.col_offset))
        for line in range(start[0], end[0] + 1):
            text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
            lo = start[1] if line == start[0] else 0
            hi = end[1] if line == end[0] else len(text)
            col = text.find("/", lo, hi)
            if col >= 0 and text[col:col + 2] != "//" and "#" not in text[lo:col]:
                self.operator_edits[(line, col)] = new_op
                self.sites.append(Site((line, col, line, col + 1), "shape /", "rewrite", "/", new_op,
                                       "Python 2 integer division in a shape (a float dimension fails on TF2)",
                                       "operator", self.rule))
                return True
        return False

    def replace_import(self, node: ast.Import, bound: str, code: str, symbol: str, reason: str) -> None:
        """Replace the name ``bound`` of an import statement with the statement ``code``."""
        key = (node.lineno, char_col(self.lines, node.lineno, node.col_offset))
        self.imports.setdefault(key, []).append((bound, code))
        self.pending_originals.setdefault(key, node)
        span = self.node_span(node)
        self.sites.append(Site(span, symbol, "rewrite", self.text(span), code, reason, "import", self.rule))

    def func_ref(self, call: ast.Call) -> Reference | None:
        if self._uses is None:
            self._uses = {self.span(r): r for r in self.refs if r.kind == "use"}
        return self._uses.get(self.node_span(call.func))

    @staticmethod
    def flags_path(path: str) -> bool:
        return path in FLAGS_PATHS

    def rebind(self, ref: Reference, node: ast.Import | ast.ImportFrom, new_path: str) -> None:
        key = (node.lineno, ref.col)
        statements = self.imports.setdefault(key, [])
        bound = ref.base
        if isinstance(node, ast.Import):
            statements.append((bound, f"import {new_path} as {bound}"))
        else:
            module, name = new_path.rsplit(".", 1)
            statements.append((bound, f"from {module} import {name}" + (f" as {bound}" if bound != name else "")))
        self.sites.append(Site(self.span(ref), "tf." + (rel_of(ref.path) or ref.path), "rewrite",
                               ref.path, new_path, f"import of {ref.path} -> {new_path}", "import", self.rule))
        self.pending_originals.setdefault(key, node)

    def finish_imports(self) -> dict[tuple[int, int], list[str]]:
        """Keep the unchanged names of a partly rewritten import statement."""
        out: dict[tuple[int, int], list[str]] = {}
        for key, node in self.pending_originals.items():
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


def char_col(lines: list[str], line: int, byte_col: int) -> int:
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    if text.isascii():
        return byte_col
    return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def statement_lines(tree: ast.Module) -> dict[int, int]:
    """Line -> first line of the innermost simple statement that contains it (for comments above a statement)."""
    out: dict[int, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                                ast.If, ast.For, ast.While, ast.With, ast.Try,
                                                                ast.AsyncFor, ast.AsyncWith)):
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                out[line] = node.lineno
    return out


def tf_prefix(refs: list[Reference]) -> str | None:
    """How the program reaches ``tf.compat.v1``: ``tf.compat.v1`` (``import tensorflow as tf``), ``tf``
    (``import tensorflow.compat.v1 as tf``), or None when it binds neither."""
    for r in refs:
        if r.kind == "import" and r.binding is not None and r.binding.via == "import":
            if r.binding.target == "tensorflow":
                return f"{r.base}.compat.v1"
            if r.binding.target == "tensorflow.compat.v1":
                return r.base
    return None
