"""Resolve names to TensorFlow paths the way the code wrote them, with the ``ast`` module (no execution).

Handles ``import tensorflow as tf``, ``import tensorflow.compat.v1 as tf``, ``from tensorflow.contrib import rnn``,
``from tensorflow.contrib.rnn import GRUCell as GRU``, ``from tensorflow.nn import rnn_cell`` and simple alias
assignments (``rnn_cell = tf.nn.rnn_cell``; ``Cell = tf.contrib.rnn.GRUCell``). Scoping is flow-insensitive but
ordered: a binding holds from the statement that creates it until the name is rebound to something else.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

ROOT = "tensorflow"


@dataclass
class Binding:
    """A local name bound to a TensorFlow path."""

    target: str  # e.g. "tensorflow", "tensorflow.compat.v1", "tensorflow.contrib.rnn.GRUCell"
    via: str  # "import" | "from" | "assign"
    line: int


@dataclass
class Reference:
    """One place where the code touches TensorFlow.

    ``kind``: ``use`` (an attribute chain or a name), ``import`` (one name of an import statement), ``star``
    (``from tensorflow... import *``), ``getattr`` (dynamic attribute access), ``feed_dict`` (``sess.run(x, feed)``).
    The span is 1-based lines and 0-based *character* columns (not bytes), end exclusive.
    """

    kind: str
    path: str
    line: int
    col: int
    end_line: int
    end_col: int
    base: str = ""  # the local name the chain starts from ("tf")
    binding: Binding | None = None
    alias_assignment: bool = False  # the right-hand side of ``name = tf.x.y``
    stmt_line: int = 0  # first line of the enclosing statement (imports)
    node: ast.AST | None = field(default=None, repr=False)


class Collector(ast.NodeVisitor):
    """Walks a module in source order and records every :class:`Reference`.

    ``bindings`` may be shared between several modules (notebook cells run in one namespace).
    """

    def __init__(self, lines: list[str], bindings: dict[str, Binding] | None = None, line_offset: int = 0):
        self.lines = lines
        self.bindings: dict[str, Binding] = bindings if bindings is not None else {}
        self.refs: list[Reference] = []
        self.line_offset = line_offset
        self._dispatch: dict[type, object] = {}

    # -- positions ---------------------------------------------------------------------------------------------
    def _char_col(self, line: int, byte_col: int) -> int:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def _ref(self, kind: str, path: str, node: ast.AST, **kw) -> Reference:
        line, end_line = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
        ref = Reference(
            kind, path, line + self.line_offset, self._char_col(line, node.col_offset),  # type: ignore[attr-defined]
            end_line + self.line_offset, self._char_col(end_line, node.end_col_offset or 0),  # type: ignore[attr-defined]
            stmt_line=getattr(node, "lineno", 0) + self.line_offset, node=node, **kw,
        )
        self.refs.append(ref)
        return ref

    # -- resolution --------------------------------------------------------------------------------------------
    def chain(self, node: ast.AST) -> tuple[str, str, list[str]] | None:
        """``(base name, bound path, [attr, ...])`` for ``base.a.b`` if ``base`` is bound to TensorFlow."""
        attrs: list[str] = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in self.bindings:
            return node.id, self.bindings[node.id].target, attrs[::-1]
        return None

    def resolve(self, node: ast.AST) -> str | None:
        found = self.chain(node)
        if found is None:
            return None
        _, target, attrs = found
        return ".".join([target, *attrs])

    # -- statements ----------------------------------------------------------------------------------------------
    # -- traversal: ast.NodeVisitor, made cheaper (cached dispatch, expression contexts and constants skipped) ------
    def visit(self, node: ast.AST) -> None:
        method = self._dispatch.get(node.__class__)
        if method is None:
            method = getattr(self, "visit_" + node.__class__.__name__, None) or self.generic_visit
            self._dispatch[node.__class__] = method
        method(node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:
            if name == "ctx":
                continue
            value = getattr(node, name, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def visit_Constant(self, node: ast.Constant) -> None:
        pass

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            name = alias.name
            bound = alias.asname or name.split(".")[0]
            if name == ROOT or name.startswith(ROOT + "."):
                target = name if alias.asname else ROOT
                self.bindings[bound] = Binding(target, "import", node.lineno)
                self._ref("import", name, node, base=bound, binding=self.bindings[bound])
            else:
                self.bindings.pop(bound, None)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        is_tf = node.level == 0 and (module == ROOT or module.startswith(ROOT + "."))
        for alias in node.names:
            if alias.name == "*":
                if is_tf:
                    self._ref("star", module, node)
                continue
            bound = alias.asname or alias.name
            if is_tf:
                self.bindings[bound] = Binding(f"{module}.{alias.name}", "from", node.lineno)
                self._ref("import", f"{module}.{alias.name}", node, base=bound, binding=self.bindings[bound])
            else:
                self.bindings.pop(bound, None)

    def visit_Assign(self, node: ast.Assign) -> None:
        path = self.resolve(node.value)
        simple = len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        if path is not None and simple and isinstance(node.value, (ast.Attribute, ast.Name)):
            found = self.chain(node.value)
            assert found is not None
            self._ref("use", path, node.value, base=found[0], binding=self.bindings[found[0]], alias_assignment=True)
        else:
            self.visit(node.value)
        for target in node.targets:
            self.visit(target)
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    self.bindings.pop(name.id, None)
        if path is not None and simple:
            self.bindings[node.targets[0].id] = Binding(path, "assign", node.lineno)  # type: ignore[attr-defined]

    def _unbind_def(self, node: ast.AST) -> None:
        self.bindings.pop(getattr(node, "name", ""), None)
        self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _unbind_def

    # -- expressions -----------------------------------------------------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> None:
        found = self.chain(node)
        if found is None:
            self.generic_visit(node)
            return
        base, target, attrs = found
        self._ref("use", ".".join([target, *attrs]), node, base=base, binding=self.bindings[base])

    def visit_Name(self, node: ast.Name) -> None:
        binding = self.bindings.get(node.id)
        if binding is not None and isinstance(node.ctx, ast.Load):
            self._ref("use", binding.target, node, base=node.id, binding=binding)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "getattr" and node.args:
            path = self.resolve(node.args[0])
            if path is not None:
                name = node.args[1] if len(node.args) > 1 else None
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    found = self.chain(node.args[0])
                    assert found is not None
                    self._ref("use", f"{path}.{name.value}", node, base=found[0], binding=self.bindings[found[0]])
                else:
                    self._ref("getattr", path, node)
                for arg in node.args[1:]:
                    self.visit(arg)
                return
        if isinstance(func, ast.Attribute) and func.attr in ("run", "eval"):
            feed = next((kw.value for kw in node.keywords if kw.arg == "feed_dict"), None)
            index = 1 if func.attr == "run" else 0
            if feed is None and len(node.args) > index and isinstance(node.args[index], ast.Dict):
                feed = node.args[index]
            if feed is not None and self.bindings:
                self._ref("feed_dict", "feed_dict", feed)
        self.generic_visit(node)


def collect(tree: ast.Module, lines: list[str], bindings: dict[str, Binding] | None = None,
            line_offset: int = 0) -> list[Reference]:
    """All TensorFlow references of a parsed module, in source order."""
    collector = Collector(lines, bindings, line_offset)
    collector.visit(tree)
    return collector.refs
