"""``upgrade --to keras``: replace the recognisable TF1 RNN patterns with tf_keras layers, the rest in compat form.

Pattern-based and honest. Recognised (each a statement ``NAME = ...`` / ``TARGET = ...``):

* a cell ``BasicRNNCell(U)`` / ``BasicLSTMCell(U[, forget_bias])`` / ``LSTMCell(U[, forget_bias])`` / ``GRUCell(U)``,
  optionally wrapped by ``DropoutWrapper(cell, input_keep_prob=, output_keep_prob=)``, fed to
  ``dynamic_rnn(cell, x[, initial_state, sequence_length, dtype])`` or ``static_rnn(cell, xs[, ...])``;
* ``embedding_lookup(M, ids)`` where ``M`` was assigned from a non-TensorFlow expression (a numpy matrix).

The emitted layers carry the settings that keep the numbers equal (``zero_output_for_mask=True`` with a
``tf.sequence_mask`` for ``sequence_length``, ``GRU(reset_after=False)``, ``Dropout(1 - keep_prob)``, the LSTM state
re-ordered from Keras [h, c] to TF1 (c, h)). Everything else stays in compat form and is listed. The upgrade runs
:func:`migration.upgrade.rewrite_compat.upgrade_compat` first, so manual checks refer to the input's lines and the
Keras notes to the output's lines.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from migration.upgrade.resolve import Reference, collect
from migration.upgrade.rewrite_compat import CompatOutputCheck, ManualCheck, OutputCheck, UpgradeResult, upgrade_compat
from migration.upgrade.scan import parse

CELLS = {"BasicRNNCell": "SimpleRNN", "BasicLSTMCell": "LSTM", "LSTMCell": "LSTM", "GRUCell": "GRU"}
CELL_KWARGS = {"num_units", "forget_bias", "name"}
RNN_KWARGS = {"cell", "inputs", "initial_state", "sequence_length", "dtype", "scope"}
CONVERT_NOTE = "# Weights: convert the TF1 checkpoint with `rnn-migrate convert CKPT OUT_DIR` ({})."
_CONSEQUENCE = {
    "SimpleRNN": "kernel split into kernel/recurrent_kernel",
    "LSTM": "gate order i,j,f,o -> i,f,c,o; forget_bias folded into the forget-gate bias; state (c,h) vs [h,c]",
    "GRU": "[r|u] -> z,r,h; reset_after=False",
}


@dataclass
class _Cell:
    kind: str  # Keras layer name
    tf1: str
    units: str
    forget_bias: str | None = None
    input_keep: str | None = None
    output_keep: str | None = None
    statements: list[int] = field(default_factory=list)  # lines of the statements that built it


def _rel(path: str) -> str:
    for prefix in ("tensorflow.compat.v1.", "tensorflow."):
        if path.startswith(prefix):
            return path[len(prefix):]
    return ""


def _short(rel: str) -> str:
    for prefix in ("nn.rnn_cell.", "contrib.rnn.", "nn."):
        if rel.startswith(prefix):
            return rel[len(prefix):]
    return rel


class _Matcher:
    def __init__(self, source: str, refs: list[Reference], tree: ast.Module):
        self.src, self.tree = source, tree
        self.func_rel = {id(r.node): _rel(r.path) for r in refs if r.kind == "use"}
        roots = [r for r in refs if r.kind == "import" and r.binding and r.binding.target.startswith("tensorflow")]
        root = next((r for r in roots if r.binding.target in ("tensorflow", "tensorflow.compat.v1")), None)  # type: ignore[union-attr]
        self.tf = root.base if root else "tf"
        self.v1 = (f"{self.tf}.compat.v1" if root is None or root.binding.target == "tensorflow"  # type: ignore[union-attr]
                   else self.tf)
        self.import_line = root.line if root else 0
        self.cells: dict[str, _Cell] = {}
        self.replace: dict[int, list[str]] = {}  # statement line -> new code lines
        self.notes: list[ManualCheck] = []
        self.counter = 0
        self.assigned_from_tf: dict[str, bool] = {}

    def text(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.src, node) or ast.unparse(node)

    def call_rel(self, node: ast.AST) -> str:
        return _short(self.func_rel.get(id(node.func), "")) if isinstance(node, ast.Call) else ""

    def run(self) -> None:
        assigns = [n for n in ast.walk(self.tree) if isinstance(n, ast.Assign) and len(n.targets) == 1]
        for stmt in sorted(assigns, key=lambda n: (n.lineno, n.col_offset)):
            self.assign(stmt)

    def assign(self, stmt: ast.Assign) -> None:
        target, value = stmt.targets[0], stmt.value
        name = target.id if isinstance(target, ast.Name) else None
        rel = self.call_rel(value)
        if name is not None:
            self.assigned_from_tf[name] = bool(rel) or any(
                isinstance(n, ast.Call) and self.call_rel(n) for n in ast.walk(value))
        if not isinstance(value, ast.Call) or not rel:
            return
        kwargs = {k.arg: k.value for k in value.keywords if k.arg}
        if name and rel in CELLS and set(kwargs) <= CELL_KWARGS and len(value.args) <= 1:
            units = value.args[0] if value.args else kwargs.get("num_units")
            if units is not None:
                fb = kwargs.get("forget_bias")
                self.cells[name] = _Cell(CELLS[rel], rel, self.text(units), self.text(fb) if fb else None,
                                         statements=[stmt.lineno])
        elif name and rel == "DropoutWrapper":
            inner = value.args[0] if value.args else kwargs.get("cell")
            other = set(kwargs) - {"cell", "input_keep_prob", "output_keep_prob"}
            if isinstance(inner, ast.Name) and inner.id in self.cells and not other:
                base = self.cells[inner.id]
                ik, ok = kwargs.get("input_keep_prob"), kwargs.get("output_keep_prob")
                self.cells[name] = _Cell(base.kind, base.tf1, base.units, base.forget_bias,
                                         self.text(ik) if ik else None, self.text(ok) if ok else None,
                                         base.statements + [stmt.lineno])
        elif rel in ("dynamic_rnn", "static_rnn"):
            self.rnn(stmt, value, rel, kwargs)
        elif rel == "embedding_lookup" and name and len(value.args) == 2 and not kwargs:
            self.embedding(stmt, name, value)

    def rnn(self, stmt: ast.Assign, call: ast.Call, fn: str, kwargs: dict[str, ast.expr]) -> None:
        cell = call.args[0] if call.args else kwargs.get("cell")
        inputs = call.args[1] if len(call.args) > 1 else kwargs.get("inputs")
        if not (isinstance(cell, ast.Name) and cell.id in self.cells and inputs is not None
                and set(kwargs) <= RNN_KWARGS and len(call.args) <= 2):
            return
        c = self.cells[cell.id]
        self.counter += 1
        n, k = self.counter, "tf_keras.layers"
        x = self.text(inputs) if fn == "dynamic_rnn" else f"{self.tf}.stack({self.text(inputs)}, axis=1)"
        opts = [c.units, "return_sequences=True", "return_state=True"]
        if c.kind == "GRU":
            opts.append("reset_after=False")
        if c.input_keep:
            opts.append(f"dropout=1 - ({c.input_keep})")
        if "sequence_length" in kwargs:
            opts.append("zero_output_for_mask=True")
        call_args = [f"_x{n}"]
        if "sequence_length" in kwargs:
            call_args.append(f"mask={self.tf}.sequence_mask({self.text(kwargs['sequence_length'])}, "
                             f"maxlen={self.tf}.shape(_x{n})[1])")
        if "initial_state" in kwargs:
            s = self.text(kwargs["initial_state"])
            call_args.append(f"initial_state=[({s})[1], ({s})[0]]" if c.kind == "LSTM" else f"initial_state=[{s}]")
        if c.input_keep:
            call_args.append("training=True")
        out = [f"# rnn-migrate: tf.nn.{fn}({c.tf1}) -> tf_keras.layers.{c.kind}; TF1 variable scope "
               f"'{self.text(kwargs['scope']) if 'scope' in kwargs else 'rnn'}'.",
               CONVERT_NOTE.format(_CONSEQUENCE[c.kind])]
        if c.forget_bias is not None or c.kind == "LSTM":
            out.append(f"# forget_bias={c.forget_bias or '1.0'} is not a Keras setting: the converter folds it into "
                       "b_f (unit_forget_bias only sets the initial b_f to 1).")
        out += [f"_x{n} = {x}",
                f"_rnn{n} = {k}.{c.kind}({', '.join(opts)})({', '.join(call_args)})"]
        seq = f"_rnn{n}[0]"
        if c.output_keep:
            out.append(f"_seq{n} = {k}.Dropout(rate=1 - ({c.output_keep}))({seq}, training=True)"
                       "  # DropoutWrapper has no inference switch")
            seq = f"_seq{n}"
        if fn == "static_rnn":
            seq = f"{self.tf}.unstack({seq}, axis=1)"
        state = (f"{self.v1}.nn.rnn_cell.LSTMStateTuple(c=_rnn{n}[2], h=_rnn{n}[1])" if c.kind == "LSTM"
                 else f"_rnn{n}[1]")
        out.append(f"{self.text(stmt.targets[0])} = {seq}, {state}")
        self.replace[stmt.lineno] = out
        consumed = set(c.statements) | {stmt.lineno}
        names = {t.id for line in c.statements for t in ast.walk(self.tree)
                 if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store) and t.lineno == line}
        if any(isinstance(u, ast.Name) and isinstance(u.ctx, ast.Load) and u.id in names and u.lineno not in consumed
               for u in ast.walk(self.tree)):
            return  # the cell is used elsewhere too: keep building it
        lines = self.src.splitlines()
        out[1:1] = [f"# rnn-migrate: replaces `{lines[line - 1].strip()}`" for line in c.statements]
        for line in c.statements:
            self.replace.setdefault(line, [])

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


class _Replace(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, replace: dict[int, list[str]], import_line: int):
        super().__init__()
        self.replace, self.import_line = replace, import_line

    def leave_SimpleStatementLine(self, original_node, updated_node):  # noqa: D102
        line = self.get_metadata(PositionProvider, original_node).start.line
        new = self.replace.get(line)
        out: list[cst.SimpleStatementLine] = [updated_node]
        if new is not None:
            comments = [cst.EmptyLine(comment=cst.Comment(c)) for c in new if c.startswith("#")]
            stmts = [cst.parse_statement(c) for c in new if not c.startswith("#")]
            if not new:
                return cst.RemovalSentinel.REMOVE  # a cell folded into the layer below
            stmts[0] = stmts[0].with_changes(leading_lines=list(updated_node.leading_lines) + comments)
            out = stmts  # type: ignore[assignment]
        if line == self.import_line:
            out = out + [cst.parse_statement("import tf_keras  # rnn-migrate: Keras 2")]  # type: ignore[list-item]
        return cst.FlattenSentinel(out) if len(out) > 1 else out[0]


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
        wrapper = MetadataWrapper(cst.parse_module(compat.code))
        code = wrapper.visit(_Replace(matcher.replace, matcher.import_line)).code
        ast.parse(code)
    # What the patterns did not take stays in compat form: list it (lines of the output).
    out_tree = ast.parse(code)
    leftover = [r for r in collect(out_tree, code.splitlines()) if r.kind == "use"]
    for r in leftover:
        short = _short(_rel(r.path))
        if short in (*CELLS, "MultiRNNCell", "DropoutWrapper", "ResidualWrapper", "dynamic_rnn", "static_rnn",
                     "bidirectional_dynamic_rnn", "static_bidirectional_rnn", "embedding_lookup"):
            manual.append(OutputCheck(r.line, r.col + 1, "tf." + _rel(r.path),
                                      "not recognised by the Keras patterns: left in compat form (output line)"))
    manual += matcher.notes
    changes = compat.changes + [f"{line}: Keras pattern ({len(v)} lines)" for line, v in sorted(matcher.replace.items())]
    return UpgradeResult(code, manual, changes, compat_code=compat.code)
