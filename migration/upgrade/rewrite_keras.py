"""``upgrade --to keras``: replace the recognisable TF1 RNN patterns with tf_keras layers, the rest in compat form.

Pattern-based and honest. Recognised (each a statement ``NAME = ...`` / ``TARGET = ...``):

* a cell ``BasicRNNCell(U)`` / ``BasicLSTMCell(U[, forget_bias])`` / ``LSTMCell(U[, forget_bias])`` / ``GRUCell(U)``,
  optionally wrapped by ``DropoutWrapper(cell, input_keep_prob=, output_keep_prob=)`` (also a chain of two, one per
  side), stacked by ``MultiRNNCell([...])`` (a list literal, a list held in a variable, or ``[f() for _ in
  range(n)]``), or returned by a module-level helper function (its statements followed with the call's arguments);
* fed to ``dynamic_rnn(cell, x[, initial_state, sequence_length, dtype])``, ``static_rnn(cell, xs[, ...])``,
  ``bidirectional_dynamic_rnn(fw, bw, x[, sequence_length, dtype])`` or ``static_bidirectional_rnn(fw, bw, xs)``
  (TF 0.12's ``bidirectional_rnn`` too);
* ``embedding_lookup(M, ids)`` where ``M`` was assigned from a non-TensorFlow expression (a numpy matrix).

The emitted layers carry the settings that keep the numbers equal (``zero_output_for_mask=True`` with a
``tf.sequence_mask`` for ``sequence_length``, ``GRU(reset_after=False)``, ``Dropout(1 - keep_prob)``, the LSTM state
re-ordered from Keras [h, c] to TF1 (c, h), ``Bidirectional(..., go_backwards=True)`` backward layers called with the
mask). A cell class chosen at run time (``A if flag else B``) is never guessed: the RNN call is listed with every
candidate. Everything else stays in compat form and is listed. The upgrade runs
:func:`migration.upgrade.rewrite_compat.upgrade_compat` first, so manual checks refer to the input's lines and the
Keras notes to the output's lines.
"""
from __future__ import annotations

import ast
import copy

import libcst as cst
from libcst.metadata import MetadataWrapper

from migration.upgrade.keras_cells import (CONSEQUENCE, CONVERT_NOTE, LAYER_ARG, CellSpec, ChoiceSpec, StackSpec,
                                            rel_path, short_name, tuple_state, unknown_cell)
from migration.upgrade.keras_replace import Replace
from migration.upgrade.keras_unroll import UnrollMixin
from migration.upgrade.resolve import Reference, collect
from migration.upgrade.rewrite_compat import CompatOutputCheck, ManualCheck, OutputCheck, UpgradeResult, upgrade_compat
from migration.upgrade.scan import parse

CELLS = {"BasicRNNCell": "SimpleRNN", "BasicLSTMCell": "LSTM", "LSTMCell": "LSTM", "GRUCell": "GRU",
         "LSTMBlockCell": "LSTM"}  # LSTMBlockCell without clip/peepholes: LSTMCell's kernel layout and numbers
BLOCK_HOME = "legacy_rnn.contrib_rnn"  # where the compat upgrade puts tf.contrib.rnn.LSTMBlockCell
CELL_KWARGS = {"num_units", "forget_bias", "name", "state_is_tuple"}
LOOP_KWARGS = {"swap_memory", "parallel_iterations"}  # dynamic_rnn's while-loop memory/speed options: same numbers
RNN_KWARGS = {"cell", "inputs", "initial_state", "sequence_length", "dtype", "scope", *LOOP_KWARGS}
BIDI_KWARGS = {*LOOP_KWARGS, "cell_fw", "cell_bw", "inputs", "sequence_length", "dtype", "scope", "initial_state_fw",
               "initial_state_bw"}
RNN_FUNCS = {"dynamic_rnn": "dynamic_rnn", "static_rnn": "static_rnn", "bidirectional_dynamic_rnn":
             "bidirectional_dynamic_rnn", "static_bidirectional_rnn": "static_bidirectional_rnn",
             "bidirectional_rnn": "static_bidirectional_rnn"}


class _Matcher(UnrollMixin):
    def __init__(self, source: str, refs: list[Reference], tree: ast.Module):
        self.src, self.tree = source, tree
        self.func_rel = {id(r.node): rel_path(r.path) for r in refs if r.kind == "use"}
        roots = [r for r in refs if r.kind == "import" and r.binding and r.binding.target.startswith("tensorflow")]
        root = next((r for r in roots if r.binding.target in ("tensorflow", "tensorflow.compat.v1")), None)  # type: ignore[union-attr]
        self.tf = root.base if root else "tf"
        self.v1 = (f"{self.tf}.compat.v1" if root is None or root.binding.target == "tensorflow"  # type: ignore[union-attr]
                   else self.tf)
        self.import_line = root.line if root else 0
        self.cells: dict[str, CellSpec] = {}
        self.replace: dict[int, list[str]] = {}  # statement line -> new code lines
        self.notes: list[ManualCheck] = []
        self.counter = 0
        self.assigned_from_tf: dict[str, bool] = {}
        self.choices: dict[str, ChoiceSpec] = {}
        self.lists: dict[str, tuple[ast.expr, int]] = {}
        self.reasons: dict[tuple[str, int], str] = {}  # (line text, column) of an RNN call left -> why
        self.why_line = ""
        self.loops: dict[str, StackSpec] = {}  # lists filled by a ``for _ in range(n)`` loop of fresh cells
        self.followed: list[tuple[int, int]] = []  # line ranges of helper functions whose return was followed
        self.followed_names: list[str] = []
        self.env: dict[str, str] = {}  # helper parameters -> argument text, while following a helper's return
        self.block_home = any(isinstance(n, ast.Import) and any(a.name == BLOCK_HOME and not a.asname
                                                                for a in n.names) for n in tree.body)
        self.helper_defs = [(f, (0, 1 << 30)) for f in tree.body if isinstance(f, ast.FunctionDef)] + [
            (f, (o.lineno, o.end_lineno or o.lineno)) for o in ast.walk(tree) if isinstance(o, ast.FunctionDef)
            for s in o.body for f in ast.walk(s) if isinstance(f, ast.FunctionDef)]  # nested defs: enclosing scope

    def text(self, node: ast.AST) -> str:
        if self.env and any(isinstance(n, ast.Name) and n.id in self.env for n in ast.walk(node)):
            env = self.env

            class _Sub(ast.NodeTransformer):
                def visit_Name(self, name: ast.Name) -> ast.AST:
                    return ast.parse(f"({env[name.id]})", mode="eval").body if name.id in env else name

            return ast.unparse(_Sub().visit(copy.deepcopy(node)))
        return ast.get_source_segment(self.src, node) or ast.unparse(node)

    def call_rel(self, node: ast.AST) -> str:
        if not isinstance(node, ast.Call):
            return ""
        if self.block_home and id(node.func) not in self.func_rel and ast.unparse(node.func) == (
                BLOCK_HOME + ".LSTMBlockCell"):
            return "LSTMBlockCell"
        return short_name(self.func_rel.get(id(node.func), ""))

    def run(self) -> None:
        nodes = [n for n in ast.walk(self.tree) if isinstance(n, ast.For)
                 or (isinstance(n, ast.Assign) and len(n.targets) == 1)]
        for stmt in sorted(nodes, key=lambda n: (n.lineno, n.col_offset)):
            if isinstance(stmt, ast.For):
                self.loop(stmt)
            else:
                self.assign(stmt)

    def loop(self, node: ast.For) -> None:
        """``cells = []`` then ``for _ in range(n): <cell statements>; cells.append(cell)``: n fresh cells."""
        if self.unroll(node):  # a cell stepped by hand (migration.upgrade.keras_unroll)
            return
        it, last = node.iter, node.body[-1]
        app = last.value if isinstance(last, ast.Expr) else None
        if not (isinstance(node.target, ast.Name) and not node.orelse and isinstance(it, ast.Call)
                and isinstance(it.func, ast.Name) and it.func.id == "range" and len(it.args) == 1
                and not it.keywords and isinstance(app, ast.Call) and isinstance(app.func, ast.Attribute)
                and app.func.attr == "append" and isinstance(app.func.value, ast.Name) and len(app.args) == 1
                and not app.keywords):
            return
        seed = self.lists.get(app.func.value.id)
        if seed is None or not isinstance(seed[0], ast.List) or seed[0].elts or any(
                isinstance(n, ast.Name) and n.id == node.target.id for s in node.body for n in ast.walk(s)):
            return  # a list that did not start empty, or layers that depend on the loop index
        saved = dict(self.cells), dict(self.choices)
        try:
            for stmt in node.body[:-1]:
                if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                        and isinstance(stmt.targets[0], ast.Name)):
                    return
                cell = self.cell_of(stmt.value, stmt.lineno)
                if not isinstance(cell, CellSpec):
                    return
                self.cells[stmt.targets[0].id] = cell
            template = self.cell_of(app.args[0], node.lineno)
        finally:
            self.cells, self.choices = saved
        if isinstance(template, CellSpec):
            lines = [seed[1], node.lineno, *(s.lineno for s in node.body)]
            self.loops[app.func.value.id] = StackSpec(template=template, count=self.text(it.args[0]), statements=lines)

    def assign(self, stmt: ast.Assign) -> None:
        target, value = stmt.targets[0], stmt.value
        name = target.id if isinstance(target, ast.Name) else None
        rel = self.call_rel(value)
        if name is not None:
            self.assigned_from_tf[name] = bool(rel) or any(
                isinstance(n, ast.Call) and self.call_rel(n) for n in ast.walk(value))
        cell = self.cell_of(value, stmt.lineno) if name is not None and isinstance(value, ast.Call) else None
        if name is not None:
            self.cells.pop(name, None)
            self.choices.pop(name, None)
        if name is not None:
            self.lists.pop(name, None)
            self.loops.pop(name, None)
            if isinstance(value, (ast.List, ast.ListComp)):
                self.lists[name] = (value, stmt.lineno)  # ``cells = [...]`` fed to MultiRNNCell(cells) later
                return
        if name is not None and isinstance(value, ast.IfExp):
            names = [self.class_rel(n) for n in (value.body, value.orelse)]
            if all(n in CELLS for n in names):
                self.choices[name] = ChoiceSpec(names, stmt.lineno, value.col_offset + 1)  # type: ignore[arg-type]
                return
        if not isinstance(value, ast.Call):
            return
        if rel in RNN_FUNCS:
            kwargs = {k.arg: k.value for k in value.keywords if k.arg}
            self.rnn(stmt, value, RNN_FUNCS[rel], kwargs)
            return
        if rel == "embedding_lookup" and name and len(value.args) == 2 and not value.keywords:
            self.embedding(stmt, name, value)
            return
        if name is None:
            return
        if isinstance(cell, (CellSpec, StackSpec)):
            self.cells[name] = cell
        elif isinstance(cell, ChoiceSpec):
            self.choices[name] = cell

    def in_followed(self, line: int) -> bool:
        return any(a <= line <= b for a, b in self.followed)

    def class_rel(self, node: ast.AST) -> str:
        return short_name(self.func_rel.get(id(node), ""))

    def cell_of(self, node: ast.AST | None, line: int):
        """What a cell expression builds: :class:`CellSpec`, :class:`StackSpec`, :class:`ChoiceSpec` or None (unknown)."""
        if isinstance(node, ast.Name):
            return self.cells.get(node.id) or self.choices.get(node.id)
        if not isinstance(node, ast.Call):
            return None
        rel = self.call_rel(node)
        kwargs = {k.arg: k.value for k in node.keywords if k.arg}
        if any(k.arg is None for k in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
            return None
        if rel in CELLS:
            if not set(kwargs) <= CELL_KWARGS or len(node.args) > 1 or not tuple_state(kwargs):
                return None
            units = node.args[0] if node.args else kwargs.get("num_units")
            if units is None:
                return None
            fb = kwargs.get("forget_bias")
            return CellSpec(CELLS[rel], rel, self.text(units), self.text(fb) if fb else None, statements=[line])
        if rel == "DropoutWrapper":
            inner = self.cell_of(node.args[0] if node.args else kwargs.get("cell"), line)
            other = set(kwargs) - {"cell", "input_keep_prob", "output_keep_prob"}
            if not isinstance(inner, CellSpec) or other or len(node.args) > 1:
                return inner if isinstance(inner, ChoiceSpec) else None
            ik, ok = kwargs.get("input_keep_prob"), kwargs.get("output_keep_prob")
            if (ik is not None and inner.input_keep) or (ok is not None and inner.output_keep):
                return None  # two dropouts on the same side: no single Keras setting
            return CellSpec(inner.kind, inner.tf1, inner.units, inner.forget_bias,
                         self.text(ik) if ik is not None else inner.input_keep,
                         self.text(ok) if ok is not None else inner.output_keep,
                         sorted(set(inner.statements) | {line}))
        if rel == "MultiRNNCell":
            cells = node.args[0] if node.args else kwargs.get("cells")
            if set(kwargs) - {"cells", "state_is_tuple"} or len(node.args) > 1 or not tuple_state(kwargs):
                return None
            if isinstance(cells, ast.Name) and cells.id in self.loops:
                st = self.loops[cells.id]
                start, inside = min(st.statements), set(st.statements)
                if any(isinstance(u, ast.Name) and u.id == cells.id and start < u.lineno < line
                       and u.lineno not in inside for u in ast.walk(self.tree)):
                    return None  # the list is changed outside its loop too
                return StackSpec(template=st.template, count=st.count, statements=sorted(inside | {line}))
            if isinstance(cells, ast.Name) and cells.id in self.lists:
                cells, list_line = self.lists[cells.id]
                found = self.cell_of(ast.Call(func=node.func, args=[cells], keywords=[]), line)
                if isinstance(found, StackSpec):
                    found.statements = sorted(set(found.statements) | {list_line})
                return found
            if isinstance(cells, (ast.List, ast.Tuple)):
                layers = [self.cell_of(e, line) for e in cells.elts]
                if layers and all(isinstance(c, CellSpec) for c in layers):
                    named = [e.id for e in cells.elts if isinstance(e, ast.Name)]
                    if len(set(named)) < len(named):
                        return None  # the same cell object twice: one shared weight set, no Keras equivalent
                    return StackSpec(cells=layers, statements=sorted({ln for c in layers for ln in c.statements} | {line}))
                found = next((c for c in layers if isinstance(c, ChoiceSpec)), None)
                return found
            if isinstance(cells, ast.ListComp) and len(cells.generators) == 1:
                gen = cells.generators[0]
                it = gen.iter
                if (isinstance(gen.target, ast.Name) and not gen.ifs and isinstance(it, ast.Call)
                        and isinstance(it.func, ast.Name) and it.func.id == "range" and len(it.args) == 1):
                    used = {n.id for n in ast.walk(cells.elt) if isinstance(n, ast.Name)}
                    template = self.cell_of(cells.elt, line)
                    if isinstance(template, CellSpec) and gen.target.id not in used:
                        return StackSpec(template=template, count=self.text(it.args[0]), statements=[line])
                    return template if isinstance(template, ChoiceSpec) else None
                if isinstance(gen.target, ast.Name) and not gen.ifs and not gen.is_async:
                    return self.sized(cells.elt, gen.target.id, it, line)
            return None
        if isinstance(node.func, ast.Name) and node.func.id in self.choices:
            return self.choices[node.func.id]
        fn = self.helper(node.func.id, line) if isinstance(node.func, ast.Name) else None
        if fn is not None:
            return self.inline(fn, node, line)
        return None

    def sized(self, elt: ast.expr, var: str, it: ast.expr, line: int):
        """``[Cell(n) for n in SIZES]``: one layer per item, the item named LAYER_ARG in the emitted loop."""
        saved = self.env
        self.env = {**self.env, var: LAYER_ARG}
        try:
            template = self.cell_of(elt, line)
        finally:
            self.env = saved
        if isinstance(template, CellSpec):
            return StackSpec(template=template, count=self.text(it), statements=[line], over=True)
        return None

    def inline(self, fn: ast.FunctionDef, call: ast.Call, line: int):
        """Follow the return of a helper function that builds a cell (``def make_cell(size): ... return cell``).

        The helper's statements are evaluated with its parameters replaced by the call's arguments (text only).
        """
        params = [a.arg for a in fn.args.args]
        if call.keywords or len(call.args) != len(params) or fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs:
            return None
        env = {p: self.text(a) for p, a in zip(params, call.args)}
        saved_cells, saved_choices, saved_env = dict(self.cells), dict(self.choices), self.env
        self.env = env
        result = None
        try:
            body = fn.body[1:] if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(
                getattr(fn.body[0], "value", None), ast.Constant) else fn.body
            for stmt in body:
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                    name = stmt.targets[0].id
                    value = stmt.value
                    if isinstance(value, ast.IfExp):
                        names = [self.class_rel(n) for n in (value.body, value.orelse)]
                        if all(n in CELLS for n in names):
                            self.choices[name] = ChoiceSpec(names, stmt.lineno, value.col_offset + 1)  # type: ignore[arg-type]
                            continue
                    cell = self.cell_of(value, line)
                    self.cells.pop(name, None)
                    if isinstance(cell, (CellSpec, StackSpec)):
                        self.cells[name] = cell
                    elif isinstance(cell, ChoiceSpec):
                        self.choices[name] = cell
                    else:
                        return None
                elif isinstance(stmt, ast.Return):
                    result = self.cell_of(stmt.value, line)
                    break
                elif isinstance(stmt, ast.If):  # ``if keep_prob < 1: cell = DropoutWrapper(cell, ...)``
                    if not self.guarded_dropout(stmt, line):
                        return None
                else:
                    return None
        finally:
            self.cells, self.choices, self.env = saved_cells, saved_choices, saved_env
        if isinstance(result, (CellSpec, StackSpec)):
            result.statements = [line]
            self.followed.append((fn.lineno, fn.end_lineno or fn.lineno))
            self.followed_names.append(fn.name)
        return result

    def guarded_dropout(self, stmt: ast.If, line: int) -> bool:
        """``if COND: cell = DropoutWrapper(cell, ...)`` on a Python condition: each keep probability the wrapper
        sets becomes ``(keep) if (COND) else 1.0`` (keep 1.0 = a rate-0 Dropout, the identity: exact either way)."""
        body = stmt.body[0] if len(stmt.body) == 1 and not stmt.orelse else None
        if not (isinstance(body, ast.Assign) and len(body.targets) == 1 and isinstance(body.targets[0], ast.Name)
                and isinstance(body.value, ast.Call) and self.call_rel(body.value) == "DropoutWrapper"
                and body.targets[0].id in self.cells) or any(
                    isinstance(n, ast.Call) and self.call_rel(n) for n in ast.walk(stmt.test)):
            return False  # anything else, or a condition on a TensorFlow value
        base, wrapped = self.cells[body.targets[0].id], self.cell_of(body.value, line)
        if not isinstance(base, CellSpec) or not isinstance(wrapped, CellSpec):
            return False
        cond = self.text(stmt.test)

        def keep(new: str | None, old: str | None) -> str | None:
            return old if new == old else f"({new}) if ({cond}) else {old or '1.0'}"

        wrapped.input_keep = keep(wrapped.input_keep, base.input_keep)
        wrapped.output_keep = keep(wrapped.output_keep, base.output_keep)
        self.cells[body.targets[0].id] = wrapped
        return True

    def helper(self, name: str, line: int) -> ast.FunctionDef | None:
        """The function ``name`` called at ``line``: a module-level one, or the innermost nested def in scope."""
        found = [(b - a, fn) for fn, (a, b) in self.helper_defs
                 if fn.name == name and a <= line <= b and (a == 0 or fn.lineno < line)]
        return min(found, key=lambda t: t[0])[1] if found else None

    # -- emitted code -------------------------------------------------------------------------------------------
    def _layer(self, c: CellSpec, masked: bool, extra: tuple[str, ...] = ()) -> str:
        opts = [c.units, "return_sequences=True", "return_state=True", *extra]
        if c.kind == "GRU":
            opts.append("reset_after=False")
        if c.input_keep:
            opts.append(f"dropout=1 - ({c.input_keep})")
        if masked:
            opts.append("zero_output_for_mask=True")
        return f"tf_keras.layers.{c.kind}({', '.join(opts)})"

    def _state(self, c: CellSpec, r: str, h: int = 1) -> str:
        if c.kind == "LSTM":
            return f"{self.v1}.nn.rnn_cell.LSTMStateTuple(c={r}[{h + 1}], h={r}[{h}])"
        return f"{r}[{h}]"

    def _init(self, c: CellSpec, s: str) -> str:
        return f"initial_state=[({s})[1], ({s})[0]]" if c.kind == "LSTM" else f"initial_state=[{s}]"

    def _header(self, fn: str, what: str, kinds: list[CellSpec], kwargs: dict[str, ast.expr]) -> list[str]:
        scope = self.text(kwargs["scope"]) if "scope" in kwargs else ("bidirectional_rnn" if "bidi" in fn else "rnn")
        out = [f"# rnn-migrate: tf.nn.{fn}({what}) -> tf_keras.layers; TF1 variable scope '{scope}'.",
               CONVERT_NOTE.format("; ".join(dict.fromkeys(CONSEQUENCE[c.kind] for c in kinds)))]
        if LOOP_KWARGS & set(kwargs):
            out.append(f"# {', '.join(sorted(LOOP_KWARGS & set(kwargs)))}: TF1 while-loop memory/speed options, "
                       "no effect on the numbers; not needed by Keras.")
        for c in kinds:
            if c.kind == "LSTM":
                out.append(f"# forget_bias={c.forget_bias or '1.0'} is not a Keras setting: the converter folds it "
                           "into b_f (unit_forget_bias only sets the initial b_f to 1).")
                break
        return out

    def _call(self, c: CellSpec, x: str, mask: str | None, init: str | None) -> str:
        args = [x] + ([f"mask={mask}"] if mask else []) + ([self._init(c, init)] if init else [])
        if c.input_keep:
            args.append("training=True")
        return ", ".join(args)

    def why(self, call: ast.Call, reason: str) -> None:
        """Why the RNN call at ``call`` stays in compat form (listed with its manual check)."""
        self.reasons[(self.src.splitlines()[call.lineno - 1].strip(), call.col_offset)] = reason

    def _dropout(self, c: CellSpec, seq: str) -> str:
        return f"tf_keras.layers.Dropout(rate=1 - ({c.output_keep}))({seq}, training=True)"

    def rnn(self, stmt: ast.Assign, call: ast.Call, fn: str, kwargs: dict[str, ast.expr]) -> None:
        bidi = fn in ("bidirectional_dynamic_rnn", "static_bidirectional_rnn")
        names = (["cell_fw", "cell_bw", "inputs"] if bidi else ["cell", "inputs"])
        extra = set(kwargs) - (BIDI_KWARGS if bidi else RNN_KWARGS) | (
            LOOP_KWARGS & set(kwargs) if fn.startswith("static") else set())
        if len(call.args) > len(names) or extra:
            self.why(call, f"argument(s) {', '.join(sorted(extra)) or 'beyond ' + ', '.join(names)} have no exact "
                     "Keras setting in this rewrite")
            return
        args = {n: (call.args[i] if i < len(call.args) else kwargs.get(n)) for i, n in enumerate(names)}
        if any(v is None for v in args.values()):
            return
        cells = [self.cell_of(args[n], stmt.lineno) for n in names[:-1]]
        unknown = next((args[n] for n, c in zip(names, cells) if c is None), None)
        if unknown is not None:
            self.why(call, unknown_cell(unknown, self.text(unknown)))
        choice = next((c for c in cells if isinstance(c, ChoiceSpec)), None)
        if choice is not None:
            self.notes.append(CompatOutputCheck(
                stmt.lineno, call.col_offset + 1, f"tf.nn.{fn}",
                f"the cell class is chosen at run time (line {choice.line}): one of {', '.join(choice.candidates)}; "
                "a Keras layer per candidate has different weights: convert the case you use by hand"))
            return
        if any(c is None for c in cells):
            return
        self.counter += 1
        n = self.counter
        static = fn.startswith("static")
        x = self.text(args["inputs"]) if not static else f"{self.tf}.stack({self.text(args['inputs'])}, axis=1)"
        masked = "sequence_length" in kwargs
        mask = (f"{self.tf}.sequence_mask({self.text(kwargs['sequence_length'])}, maxlen={self.tf}.shape(_x{n})[1])"
                if masked else None)
        init = self.text(kwargs["initial_state"]) if "initial_state" in kwargs else None
        target = self.text(stmt.targets[0])
        if bidi:
            out = self._bidirectional(n, fn, cells, x, mask, kwargs, target)
        elif isinstance(cells[0], StackSpec):
            out = self._stack(n, fn, cells[0], x, mask, init, kwargs, target)
        else:
            out = self._single(n, fn, cells[0], x, mask, init, kwargs, target)
        if out is None:
            self.counter -= 1
            if self.why_line:
                self.why(call, self.why_line)
            return
        self.replace[stmt.lineno] = out
        statements = sorted({ln for c in cells for ln in c.statements})  # type: ignore[union-attr]
        self._consume(statements, stmt.lineno, out)

    def _single(self, n, fn, c: CellSpec, x, mask, init, kwargs, target) -> list[str]:
        out = self._header(fn, c.tf1, [c], kwargs)
        out += [f"_x{n} = {x}",
                f"_rnn{n} = {self._layer(c, bool(mask))}({self._call(c, f'_x{n}', mask, init)})"]
        seq = f"_rnn{n}[0]"
        if c.output_keep:
            out.append(f"_seq{n} = {self._dropout(c, seq)}  # DropoutWrapper has no inference switch")
            seq = f"_seq{n}"
        if fn.startswith("static"):
            seq = f"{self.tf}.unstack({seq}, axis=1)"
        out.append(f"{target} = {seq}, {self._state(c, f'_rnn{n}')}")
        return out

    def _stack(self, n, fn, st: StackSpec, x, mask, init, kwargs, target) -> list[str]:
        layers = st.cells or ([st.template] if st.template else [])
        out = self._header(fn, "MultiRNNCell", layers, kwargs)
        out.append("# MultiRNNCell: one Keras layer per cell, each called with the mask; the state is the tuple of "
                   "the layers' states (TF1 names rnn/multi_rnn_cell/cell_k/...).")
        out.append(f"_x{n} = {x}")
        body, seq, states = self._stack_lines(str(n), st, f"_x{n}", mask, init)
        final = f"{self.tf}.unstack({seq}, axis=1)" if fn.startswith("static") else seq
        return out + body + [f"{target} = {final}, {states}"]

    def _stack_lines(self, t: str, st: StackSpec, x: str, mask, init) -> tuple[list[str], str, str]:
        """The layers of a stack (tag ``t``) on ``x``: (statements, output sequence, state tuple expression)."""
        if st.template is not None:
            c, k = st.template, f"_k{t}"
            layer_init = f"({init})[{k}]" if init else None
            body = [f"_r{t} = {self._layer(c, bool(mask))}({self._call(c, f'_h{t}', mask, layer_init)})",
                    f"_h{t} = " + (self._dropout(c, f"_r{t}[0]") if c.output_keep else f"_r{t}[0]"),
                    f"_states{t}.append({self._state(c, f'_r{t}')})"]
            return ([f"_h{t}, _states{t} = {x}, []",
                     (f"for {k}, {LAYER_ARG} in enumerate({st.count}):\n" if st.over
                      else f"for {k} in range({st.count}):\n") + "".join(f"    {b}\n" for b in body).rstrip("\n")],
                    f"_h{t}", f"tuple(_states{t})")
        states, out = [], [f"_h{t} = {x}"]
        for i, c in enumerate(st.cells):
            layer_init = f"({init})[{i}]" if init else None
            r = f"_rnn{t}_{i}"
            out.append(f"{r} = {self._layer(c, bool(mask))}({self._call(c, f'_h{t}', mask, layer_init)})")
            out.append(f"_h{t} = " + (self._dropout(c, f"{r}[0]") if c.output_keep else f"{r}[0]"))
            states.append(self._state(c, r))
        return out, f"_h{t}", f"({', '.join(states)}{',' if len(states) == 1 else ''})"

    def _bidi_stacks(self, n, fn, cells, x, mask, kwargs, target) -> list[str]:
        """fw and bw stacks (or cells with output dropout) as two forward stacks, the bw one on the input reversed
        by length (``reverse_sequence``, as TF1 does), its output reversed back."""
        fw, bw = (c if isinstance(c, StackSpec) else StackSpec(cells=[c]) for c in cells)
        out = self._header(fn, "cell_fw, cell_bw", [*(fw.cells or [fw.template]), *(bw.cells or [bw.template])],
                           kwargs)
        out.append("# Each direction is a stack of Keras layers; the backward stack runs on the input reversed by "
                   "length (tf.reverse_sequence, as TF1 does) and its output is reversed back.")
        lens = self.text(kwargs["sequence_length"]) if "sequence_length" in kwargs else None

        def rev(v: str) -> str:
            return (f"{self.tf}.reverse_sequence({v}, {lens}, seq_axis=1, batch_axis=0)" if lens
                    else f"{self.tf}.reverse({v}, axis=[1])")

        f_body, f_seq, f_states = self._stack_lines(f"{n}f", fw, f"_x{n}", mask, None)
        b_body, b_seq, b_states = self._stack_lines(f"{n}b", bw, rev(f"_x{n}"), mask, None)
        out += [f"_x{n} = {x}", *f_body, *b_body, f"_ob{n} = {rev(b_seq)}"]
        if fn.startswith("static"):
            out.append(f"{target} = {self.tf}.unstack({self.tf}.concat([{f_seq}, _ob{n}], axis=-1), axis=1), "
                       f"{f_states}, {b_states}")
        else:
            out.append(f"{target} = ({f_seq}, _ob{n}), ({f_states}, {b_states})")
        return out

    def _bidirectional(self, n, fn, cells, x, mask, kwargs, target) -> list[str] | None:
        fw, bw = cells
        if {"initial_state_fw", "initial_state_bw"} & set(kwargs):
            self.why_line = "initial_state_fw / initial_state_bw are not rewritten"
            return None
        if not (isinstance(fw, CellSpec) and isinstance(bw, CellSpec)) or fw.kind != bw.kind or fw.output_keep \
                or bw.output_keep:
            return self._bidi_stacks(n, fn, cells, x, mask, kwargs, target)
        static = fn.startswith("static")
        merge = "'concat'" if static else "None"
        out = self._header(fn, f"{fw.tf1}, {bw.tf1}", [fw], kwargs)
        out.append("# The backward layer sees each sequence reversed by its length only through the mask "
                   "(pass sequence_length); TF1 names bidirectional_rnn/fw/..., bidirectional_rnn/bw/....")
        out += [f"_x{n} = {x}",
                f"_rnn{n} = tf_keras.layers.Bidirectional({self._layer(fw, bool(mask))}, backward_layer="
                f"{self._layer(bw, bool(mask), ('go_backwards=True',))}, merge_mode={merge})"
                f"({self._call(fw, f'_x{n}', mask, None)})"]
        width = 2 if fw.kind == "LSTM" else 1
        first = 1 if static else 2
        s_fw = self._state(fw, f"_rnn{n}", first)
        s_bw = self._state(bw, f"_rnn{n}", first + width)
        if static:
            out.append(f"{target} = {self.tf}.unstack(_rnn{n}[0], axis=1), {s_fw}, {s_bw}")
        else:
            out.append(f"{target} = (_rnn{n}[0], _rnn{n}[1]), ({s_fw}, {s_bw})")
        return out

    def _consume(self, statements: list[int], line: int, out: list[str]) -> None:
        """Remove the statements that only built the cells now folded into the layer (unless used elsewhere)."""
        consumed = set(statements) | {line}
        names = {t.id for ln in statements for t in ast.walk(self.tree)
                 if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store) and t.lineno == ln}
        if any(isinstance(u, ast.Name) and isinstance(u.ctx, ast.Load) and u.id in names and u.lineno not in consumed
               and not self.in_followed(u.lineno) for u in ast.walk(self.tree)):
            return  # a cell is used elsewhere too: keep building it
        lines = self.src.splitlines()
        keep = [ln for ln in statements if ln != line]
        out[1:1] = [f"# rnn-migrate: replaces `{lines[ln - 1].strip()}`" for ln in keep]
        for ln in keep:
            self.replace.setdefault(ln, [])

    def embedding(self, stmt: ast.Assign, name: str, call: ast.Call) -> None:
        matrix, ids = call.args
        if not isinstance(matrix, ast.Name) or self.assigned_from_tf.get(matrix.id, True):
            self.notes.append(CompatOutputCheck(stmt.lineno, call.col_offset + 1, "tf.nn.embedding_lookup",
                                          "the matrix is not a plain (numpy) value: use tf_keras.layers.Embedding and "
                                          "convert its weights; left in compat form"))
            return
        m = matrix.id
        self.replace[stmt.lineno] = [
            "# rnn-migrate: embedding_lookup on a fixed matrix -> a frozen Embedding initialised with it (float32).",
            f"{name} = tf_keras.layers.Embedding({m}.shape[0], {m}.shape[1], "
            f"embeddings_initializer=tf_keras.initializers.Constant({m}), trainable=False)({self.text(ids)})",
        ]


def upgrade_keras(source: str, filename: str = "<string>") -> UpgradeResult:
    """Compat upgrade, then the Keras patterns on its output (see the module docstring)."""
    compat = upgrade_compat(source, filename)
    tree = parse(compat.code, filename)
    refs = collect(tree, compat.code.splitlines())
    matcher = _Matcher(compat.code, refs, tree)
    matcher.run()
    manual = list(compat.manual_checks)
    if not matcher.replace:
        code = compat.code
    else:
        wrapper = MetadataWrapper(cst.parse_module(compat.code), unsafe_skip_copy=True)  # a fresh tree: no copy
        code = wrapper.visit(Replace(matcher.replace, matcher.import_line)).code
        ast.parse(code)
    # What the patterns did not take stays in compat form: list it (lines of the output).
    out_tree = ast.parse(code)
    leftover = [r for r in collect(out_tree, code.splitlines()) if r.kind == "use"]
    names = set(matcher.followed_names)
    followed = [(f.lineno, f.end_lineno or f.lineno) for f in ast.walk(out_tree)
                if isinstance(f, ast.FunctionDef) and f.name in names]
    out_lines = code.splitlines()
    for r in leftover:
        if any(a <= r.line <= b for a, b in followed):
            continue  # inside a helper whose returned cell became a Keras layer
        short = short_name(rel_path(r.path))
        if short in (*CELLS, "MultiRNNCell", "DropoutWrapper", "ResidualWrapper", "dynamic_rnn", "static_rnn",
                     "bidirectional_dynamic_rnn", "static_bidirectional_rnn", "embedding_lookup"):
            why = matcher.reasons.get((out_lines[r.line - 1].strip(), r.col), "not recognised by the Keras patterns")
            manual.append(OutputCheck(r.line, r.col + 1, "tf." + rel_path(r.path),
                                      f"{why}: left in compat form (output line)"))
    manual += matcher.notes
    changes = compat.changes + [f"{line}: Keras pattern ({len(v)} lines)" for line, v in sorted(matcher.replace.items())]
    return UpgradeResult(code, manual, changes, compat_code=compat.code)
