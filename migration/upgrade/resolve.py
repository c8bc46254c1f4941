"""Resolve names to TensorFlow paths the way the code wrote them, with the ``ast`` module (no execution).

Handles ``import tensorflow as tf``, ``import tensorflow.compat.v1 as tf``, ``from tensorflow.contrib import rnn``,
``from tensorflow.contrib.rnn import GRUCell as GRU``, ``from tensorflow.nn import rnn_cell``, simple alias
assignments (``rnn_cell = tf.nn.rnn_cell``; ``Cell = tf.contrib.rnn.GRUCell``) and attribute stores on TensorFlow
modules (the TF 0.12 -> 1.0 idiom ``tf.nn.seq2seq = tf.contrib.legacy_seq2seq``: ``tf`` stays bound, and later
``tf.nn.seq2seq.X`` resolves to ``tensorflow.contrib.legacy_seq2seq.X``).

Scopes: a binding holds from the statement that creates it until the name is rebound to something else (ordered,
flow-insensitive). Function and class bodies are scopes of their own: parameters shadow module-level bindings, and
imports or assignments inside a body do not leak out of it (``global`` names excepted).
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
    source: "Reference | None" = field(default=None, repr=False, compare=False)  # assign: the right-hand side


@dataclass
class Reference:
    """One place where the code touches TensorFlow.

    ``kind``: ``use`` (an attribute chain or a name), ``import`` (one name of an import statement), ``star``
    (``from tensorflow... import *``), ``getattr`` (dynamic attribute access), ``feed_dict`` (``sess.run(x, feed)``),
    ``call`` (a call whose function resolves to ``path``; ``node`` is the :class:`ast.Call`, for argument changes).
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
    store_target: bool = False  # the module an attribute store writes into (``tf.nn`` in ``tf.nn.rnn = ...``)
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
        self.attr_aliases: dict[str, str] = {}  # "tensorflow.nn.seq2seq" -> "tensorflow.contrib.legacy_seq2seq"

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
        return self.dealias(".".join([target, *attrs]))

    def dealias(self, path: str) -> str:
        """Apply the attribute stores seen so far (``tf.nn.seq2seq = tf.contrib.legacy_seq2seq``)."""
        if not self.attr_aliases:
            return path
        parts = path.split(".")
        for n in range(len(parts), 1, -1):
            new = self.attr_aliases.get(".".join(parts[:n]))
            if new is not None:
                return ".".join([new, *parts[n:]])
        return path

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
        rhs: Reference | None = None
        if path is not None and isinstance(node.value, (ast.Attribute, ast.Name)):
            found = self.chain(node.value)
            assert found is not None
            rhs = self._ref("use", path, node.value, base=found[0], binding=self.bindings[found[0]],
                            alias_assignment=simple)
        else:
            self.visit(node.value)
        for target in node.targets:
            if isinstance(target, ast.Attribute):
                stored = self.resolve(target)
                if stored is not None:  # ``tf.nn.seq2seq = ...``: a store into a TensorFlow module, ``tf`` stays bound
                    found = self.chain(target.value)
                    if found is not None:  # the module stored into (``tf.nn``) may itself have moved
                        self._ref("use", self.resolve(target.value) or "", target.value, base=found[0],
                                  binding=self.bindings[found[0]], store_target=True)
                    if path is not None:
                        self.attr_aliases[stored] = path
                    else:
                        self.attr_aliases.pop(stored, None)
                    continue
            self.visit(target)
            for name in _stored_names(target):
                self.bindings.pop(name, None)
        if path is not None and simple:
            self.bindings[node.targets[0].id] = Binding(path, "assign", node.lineno, rhs)  # type: ignore[attr-defined]

    def _scope(self, node: ast.AST, params: list[str]) -> None:
        """Visit a function or class body as a scope of its own (see the module docstring)."""
        saved = dict(self.bindings)
        saved_aliases = dict(self.attr_aliases)
        for p in params:
            self.bindings.pop(p, None)
        declared_global = {n for stmt in ast.walk(node) if isinstance(stmt, ast.Global) for n in stmt.names}
        for child in node.body:  # type: ignore[attr-defined]
            self.visit(child)
        inner = self.bindings
        restored = dict(saved)
        for name in declared_global:
            if name in inner:
                restored[name] = inner[name]
            else:
                restored.pop(name, None)
        self.bindings.clear()
        self.bindings.update(restored)
        self.attr_aliases.update({k: v for k, v in saved_aliases.items() if k not in self.attr_aliases})

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        args = node.args
        for default in [*args.defaults, *[d for d in args.kw_defaults if d is not None]]:
            self.visit(default)
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if a is not None and a.annotation is not None:
                self.visit(a.annotation)
        if node.returns is not None:
            self.visit(node.returns)
        params = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
                  if a is not None]
        self.bindings.pop(node.name, None)
        self._scope(node, params)
        self.bindings.pop(node.name, None)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *[k.value for k in node.keywords]]:
            self.visit(expr)
        self.bindings.pop(node.name, None)
        self._scope(node, [])
        self.bindings.pop(node.name, None)

    # -- expressions -----------------------------------------------------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> None:
        found = self.chain(node)
        if found is None:
            self.generic_visit(node)
            return
        base, target, attrs = found
        self._ref("use", self.dealias(".".join([target, *attrs])), node, base=base, binding=self.bindings[base])

    def visit_Name(self, node: ast.Name) -> None:
        binding = self.bindings.get(node.id)
        if binding is not None and isinstance(node.ctx, ast.Load):
            self._ref("use", binding.target, node, base=node.id, binding=binding)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        """``A if cond else B`` with TensorFlow names on both sides: a run-time choice (``kind == "choice"``)."""
        if self.bindings:
            paths = [self.resolve(n) for n in (node.body, node.orelse)]
            if all(paths):
                self._ref("choice", " | ".join(paths), node)  # type: ignore[arg-type]
        self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        """A name bound in ``try:`` keeps that binding after the handlers (``try: from tensorflow.contrib.rnn import
        X / except ImportError: X = tf.nn.old_name``: the try branch is what runs on TF 1.x)."""
        for stmt in node.body:
            self.visit(stmt)
        bound = dict(self.bindings)
        for handler in node.handlers:
            self.visit(handler)
        for name, binding in bound.items():
            if name in self.bindings and self.bindings[name] is not binding:
                self.bindings[name] = binding
        for stmt in [*node.orelse, *node.finalbody]:
            self.visit(stmt)

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
        if self.bindings and isinstance(func, (ast.Attribute, ast.Name)):
            path = self.resolve(func)
            if path is not None:
                self._ref("call", path, node)
        self.generic_visit(node)


def _stored_names(target: ast.AST) -> list[str]:
    """The names an assignment target rebinds (``a``, ``a, (b, *c)``), not the names inside ``x.y`` or ``x[i]``."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _stored_names(elt)]
    if isinstance(target, ast.Starred):
        return _stored_names(target.value)
    return []


def collect(tree: ast.Module, lines: list[str], bindings: dict[str, Binding] | None = None,
            line_offset: int = 0) -> list[Reference]:
    """All TensorFlow references of a parsed module, in source order."""
    collector = Collector(lines, bindings, line_offset)
    collector.visit(tree)
    return collector.refs
