"""``upgrade --to keras`` for a cell stepped by hand in a Python loop (issue 21, cause 7).

TF1 programs (the PTB tutorial and many after it) unroll a cell themselves::

    state = cell.zero_state(batch, tf.float32)            # or any initial state
    for t in range(T):                                    # or: for x_t in tf.unstack(x, axis=1)
        if t > 0: tf.get_variable_scope().reuse_variables()   # optional; also inside `with variable_scope(...)`
        out, state = cell(x[:, t, :], state)
        outputs.append(out)                               # optional

When the loop body is only that (the step call, an optional ``append`` of its output, optional variable-scope reuse),
the loop is one RNN layer over the stacked per-step inputs: the same statements :mod:`rewrite_keras` emits for
``dynamic_rnn`` (the cell, a ``DropoutWrapper``, a ``MultiRNNCell`` stack), on
``tf.stack([<step input> for <loop target> in <loop iterable>], axis=1)`` (the per-step inputs exactly as the loop
computed them), then ``outputs.extend(tf.unstack(seq, axis=1))``, ``out`` = the last step and ``state`` = the final
state. A ``zero_state`` initial state is the layer's default; any other is passed as ``initial_state``. Any other
statement in the body (a per-step Dense, a loss, a condition on the output), a step input that reads the step's own
output or state (feedback), or keyword arguments to the cell call keep the loop in compat form, and the cell is listed
with the reason.
"""
from __future__ import annotations

import ast

from migration.upgrade.keras_cells import CellSpec, StackSpec

_EXTRA = ("stepped by hand in the loop at line {loop}, whose body does more than `out, state = cell(x_t, state)` and "
          "an append (line {line}: `{text}`); one Keras layer would drop that per-step logic")


class UnrollMixin:
    """The manual-unroll pattern of :class:`migration.upgrade.rewrite_keras._Matcher` (whose helpers it uses)."""

    def unroll(self, node: ast.For) -> bool:
        """Rewrite ``node`` when it steps a known cell by hand; True when it was rewritten."""
        found = self._unroll_parts(node)
        if found is None:
            return False
        step, append, cell_name = found
        cell = self.cells[cell_name]
        out_name, state_name = (e.id for e in step.targets[0].elts)
        x_text = self.text(step.value.args[0])
        init_stmt = self._initial_assignment(node, state_name)
        zero = init_stmt is not None and _is_zero_state(init_stmt.value, cell_name)
        init = None if zero else state_name
        self.counter += 1
        n = self.counter
        kinds = (cell.cells or [cell.template]) if isinstance(cell, StackSpec) else [cell]
        out = [f"# rnn-migrate: `{cell_name}` stepped by hand in a Python loop -> one tf_keras RNN layer over the "
               f"stacked per-step inputs{' (zero initial state: the default)' if zero else ''}.",
               *self._header("unroll", "", kinds, {})[1:],
               f"_x{n} = {self.tf}.stack([{x_text} for {self.text(node.target)} in {self.text(node.iter)}], axis=1)"]
        if isinstance(cell, StackSpec):
            body, seq, states = self._stack_lines(str(n), cell, f"_x{n}", None, init)
            out += body
        else:
            out.append(f"_rnn{n} = {self._layer(cell, False)}({self._call(cell, f'_x{n}', None, init)})")
            seq, states = f"_rnn{n}[0]", self._state(cell, f"_rnn{n}")
            if cell.output_keep:
                out.append(f"_seq{n} = {self._dropout(cell, seq)}  # DropoutWrapper has no inference switch")
                seq = f"_seq{n}"
        if append is not None:
            out.append(f"{self.text(append.func.value)}.extend({self.tf}.unstack({seq}, axis=1))")
        out.append(f"{out_name}, {state_name} = {seq}[:, -1], {states}")
        self.replace[node.lineno] = out
        if zero:  # the layer starts from zeros: the zero_state line goes (nothing between it and the loop reads it)
            out.insert(1, f"# rnn-migrate: replaces `{self.src.splitlines()[init_stmt.lineno - 1].strip()}`")
            self.replace.setdefault(init_stmt.lineno, [])
        self._fold_unrolled(cell.statements, set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
                            | ({init_stmt.lineno} if zero else set()), out)
        return True

    def _unroll_parts(self, node: ast.For):
        """(step assignment, append call or None, cell name) of a loop that only steps a cell; None otherwise (with
        the reason recorded on the cell when the loop does step a known cell)."""
        stmts = _flatten(node.body)
        steps = [s for s in stmts if isinstance(s, ast.Assign) and isinstance(s.value, ast.Call)
                 and isinstance(s.value.func, ast.Name) and s.value.func.id in self.cells]
        if len(steps) != 1 or node.orelse:
            return None
        step = steps[0]
        cell_name = step.value.func.id
        target = step.targets[0]
        names = [e.id for e in target.elts if isinstance(e, ast.Name)] if isinstance(target, ast.Tuple) else []
        if not isinstance(self.cells[cell_name], (CellSpec, StackSpec)):
            return None
        if len(step.targets) != 1 or len(names) != 2 or len(target.elts) != 2:
            return self._refuse(cell_name, "the step's result is not unpacked as `out, state`", node)
        out_name, state_name = names
        call = step.value
        if call.keywords or len(call.args) != 2 or not (isinstance(call.args[1], ast.Name)
                                                         and call.args[1].id == state_name):
            return self._refuse(cell_name, "the cell is not called as `cell(x_t, state)` on the state it returns "
                                "(keyword arguments, or another state)", node)
        if {n.id for n in ast.walk(call.args[0]) if isinstance(n, ast.Name)} & {out_name, state_name, cell_name}:
            return self._refuse(cell_name, "the step input reads the step's own output or state (feedback): no "
                                "RNN layer over inputs known in advance", node)
        append = None
        for s in stmts:
            if s is step or _is_reuse(s):
                continue
            call_ = s.value if isinstance(s, ast.Expr) else None
            if (append is None and isinstance(call_, ast.Call) and isinstance(call_.func, ast.Attribute)
                    and call_.func.attr == "append" and isinstance(call_.func.value, ast.Name)
                    and len(call_.args) == 1 and not call_.keywords and isinstance(call_.args[0], ast.Name)
                    and call_.args[0].id == out_name and s.lineno > step.lineno):
                append = call_
                continue
            return self._refuse(cell_name, None, node, s)
        loop_vars = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        if loop_vars & ({out_name, state_name, cell_name} | {n.id for n in ast.walk(node.iter)
                                                             if isinstance(n, ast.Name)}):
            return self._refuse(cell_name, "the loop variable shadows a name the step uses", node)
        inside = range(node.lineno, (node.end_lineno or node.lineno) + 1)
        if any(isinstance(n, ast.Name) and n.id in loop_vars and isinstance(n.ctx, ast.Load) and n.lineno not in inside
               for n in ast.walk(self.tree)):
            return self._refuse(cell_name, "the loop variable is read after the loop (a comprehension would not set "
                                "it)", node)
        return step, append, cell_name

    def _refuse(self, cell_name: str, reason, loop: ast.For, stmt: ast.stmt | None = None) -> None:
        if reason is None:
            text = ast.get_source_segment(self.src, stmt) or ast.unparse(stmt)
            reason = _EXTRA.format(loop=loop.lineno, line=stmt.lineno, text=text.splitlines()[0][:60])
        else:
            reason = f"stepped by hand in the loop at line {loop.lineno}: {reason}"
        built = self.cells[cell_name]
        for a in ast.walk(self.tree):
            if isinstance(a, ast.Assign) and a.lineno in built.statements and isinstance(a.value, ast.Call):
                self.why(a.value, reason)
        return None

    def _initial_assignment(self, node: ast.stmt, name: str) -> ast.Assign | None:
        """The last ``name = ...`` before ``node``, in its block or the blocks around it (``with`` ...), when no
        statement between reads or rebinds ``name``; None otherwise."""
        child = node
        while True:
            body = next((b for p in ast.walk(self.tree) for f in ("body", "orelse", "finalbody")
                         for b in [getattr(p, f, None)] if isinstance(b, list) and any(s is child for s in b)), None)
            if body is None:
                return None
            before = body[:next(i for i, s in enumerate(body) if s is child)]
            for s in reversed(before):
                if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name) \
                        and s.targets[0].id == name:
                    return s
                if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(s)):
                    return None
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                return None
            child = next((p for p in ast.walk(self.tree) if any(b is body for f in ("body", "orelse", "finalbody")
                                                                for b in [getattr(p, f, None)])), None)
            if child is None or isinstance(child, ast.Module):
                return None

    def _fold_unrolled(self, statements: list[int], used_by: set[int], out: list[str]) -> None:
        """Remove the statements that only built the cell, now folded into the layer (``used_by``: the lines that
        go with them: the loop and the zero state)."""
        names = {t.id for ln in statements for t in ast.walk(self.tree)
                 if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store) and t.lineno == ln}
        if any(isinstance(u, ast.Name) and isinstance(u.ctx, ast.Load) and u.id in names
               and u.lineno not in used_by | set(statements) and not self.in_followed(u.lineno)
               for u in ast.walk(self.tree)):
            return  # the cell is used elsewhere too: keep building it
        lines = self.src.splitlines()
        out[1:1] = [f"# rnn-migrate: replaces `{lines[ln - 1].strip()}`" for ln in statements]
        for ln in statements:
            self.replace.setdefault(ln, [])


def _flatten(body: list[ast.stmt]) -> list[ast.stmt]:
    """The loop's statements, through ``with variable_scope(...)`` blocks (which only name the variables)."""
    out = []
    for s in body:
        if isinstance(s, ast.With) and all(isinstance(i.context_expr, ast.Call) and ast.unparse(
                i.context_expr.func).endswith("variable_scope") for i in s.items):
            out += _flatten(s.body)
        else:
            out.append(s)
    return out


def _is_reuse(s: ast.stmt) -> bool:
    """``[if COND:] <scope>.reuse_variables()``: variable sharing between steps, which a Keras layer has anyway."""
    if isinstance(s, ast.If) and not s.orelse and len(s.body) == 1:
        s = s.body[0]
    return isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) and isinstance(s.value.func, ast.Attribute) \
        and s.value.func.attr == "reuse_variables" and not s.value.args


def _is_zero_state(value: ast.expr, cell_name: str) -> bool:
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "zero_state" \
        and isinstance(value.func.value, ast.Name) and value.func.value.id == cell_name
