"""What ``upgrade --to compat`` changes, as data: one plan shared by ``scan`` (which reports it) and ``upgrade``
(which applies it with libcst). Pure ``ast``; never imports TensorFlow or libcst.

A :class:`Site` is one place the plan touches: a name rewritten (``tf.placeholder`` -> ``tf.compat.v1.placeholder``),
an import statement rebound, an argument changed (``tf.nn.dropout(x, keep_prob)`` -> ``rate=1 - keep_prob``,
``keep_dims=`` -> ``keepdims=``), or a construct left as written that needs a manual check, with the reason and a
concrete remedy. The rules come from TensorFlow's own ``tf_upgrade_v2`` tables (:mod:`migration.upgrade.tfspec`),
with the RNN table (:mod:`migration.upgrade.symbols`) and the rnn-migrate homes (``legacy_rnn.seq2seq``) on top:

* names that left TF2 -> ``tf.compat.v1.X`` (exact TF1 semantics), including v1 summaries and ``tf.flags``;
* names that stayed in TF2 with changed arguments: keyword renames and positional-to-keyword reorders from the spec,
  when every resulting keyword is a TF2 parameter; otherwise the call goes to ``tf.compat.v1.X`` (exact TF1 meaning);
  ``tf.nn.dropout``'s keep probability becomes ``rate = 1 - keep_prob`` (TF2 reads the second argument as a rate:
  fed 1.0 at evaluation it would zero every feature);
* ``tf.contrib.rnn`` cells/functions -> their ``tf.compat.v1.nn`` homes; ``tf.contrib.legacy_seq2seq.X`` ->
  ``legacy_rnn.seq2seq.legacy_seq2seq.X`` and ``tf.contrib.seq2seq.X`` -> ``legacy_rnn.seq2seq.X`` (Keras twins in
  ``modern_rnn.seq2seq``); ``FLAGS._parse_flags()`` -> ``FLAGS(sys.argv, known_only=True)``, ``FLAGS.__flags`` ->
  ``FLAGS.flag_values_dict()``;
* removed modules (``tensorflow.examples.tutorials.mnist``, ``tf.contrib.learn``...) are manual checks with a remedy.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import ClassVar

from migration.upgrade import symbols
from migration.upgrade.resolve import Binding, Reference
from migration.upgrade.tfspec import spec

Span = tuple[int, int, int, int]  # 1-based lines, 0-based character columns, end exclusive

LEGACY_SEQ2SEQ = "legacy_rnn.seq2seq.legacy_seq2seq"
SEQ2SEQ = "legacy_rnn.seq2seq"
HEADER_ORDER = ("import sys", f"import {SEQ2SEQ}", f"import {LEGACY_SEQ2SEQ}")
GRAPH_MODE = {"placeholder", "placeholder_with_default", "Session", "InteractiveSession"}
CELL_CLASSES = ("BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell", "DropoutWrapper")
DROPOUT_NOTE = "# rnn-migrate: tf.nn.dropout takes rate = 1 - keep_prob in TF2 (it took keep_prob in TF1)"

#: Removed modules and names with no TF 2.21 home: (relative prefix, remedy). Longest prefix wins.
REMEDIES: dict[str, str] = {
    "examples.tutorials.mnist": "tensorflow.examples.tutorials is not in TensorFlow 2.x: load MNIST with "
    "`(x_train, y_train), (x_test, y_test) = tf_keras.datasets.mnist.load_data()` (uint8 28x28 images, integer "
    "labels: scale by 1/255, reshape to 784 and one-hot them to match read_data_sets(one_hot=True)) and batch the "
    "arrays yourself",
    "examples.tutorials": "tensorflow.examples.tutorials is not in TensorFlow 2.x: load the data with "
    "tf_keras.datasets or tensorflow_datasets",
    "contrib.learn.preprocessing.VocabularyProcessor": "use tf_keras.layers.TextVectorization(max_tokens=..., "
    "output_sequence_length=max_document_length) adapted on the training texts (note: its ids start at 2, 0 = "
    "padding, 1 = out-of-vocabulary; VocabularyProcessor used 0 for both) or tf_keras.preprocessing.text.Tokenizer; "
    "embedding rows trained against the old ids must be re-indexed",
    "contrib.learn.datasets": "use tf_keras.datasets or tensorflow_datasets",
    "contrib.learn": "tf.contrib.learn is gone: Estimator-style code -> tf_keras models (model.fit); datasets -> "
    "tf_keras.datasets; preprocessing -> tf_keras.layers.TextVectorization",
    "contrib.layers": "tf.contrib.layers is gone: layers -> tf_keras.layers or tf.compat.v1.layers; "
    "xavier_initializer(uniform=False) -> tf.compat.v1.glorot_normal_initializer is close but not identical "
    "(truncated normal scale); l2_regularizer(s) -> tf_keras.regularizers.L2(s / 2)",
    "contrib.slim": "tf.contrib.slim -> the tf_slim package (`import tf_slim as slim`)",
    "contrib.framework": "tf.contrib.framework is gone: see the TF 2 migration guide for each function",
    "contrib.cudnn_rnn": "CudnnLSTM/CudnnGRU -> tf_keras.layers.LSTM/GRU (their weights are stored in a different "
    "layout: convert them)",
    "contrib": "tf.contrib is gone from TensorFlow 2.x; use tf_keras, tf_slim or rewrite by hand "
    f"(see {symbols.TABLE['contrib'].doc})",
}

#: Transformer names that stay in TF2 and mean the same for simple calls: (max positional args, TF2-safe keywords).
SAFE_TRANSFORMER_CALLS: dict[str, tuple[int, frozenset[str]]] = {
    "name_scope": (1, frozenset({"name"})),
    "zeros_like": (3, frozenset({"dtype", "name"})),
    "ones_like": (3, frozenset({"dtype", "name"})),
    "while_loop": (7, frozenset({"cond", "body", "loop_vars", "shape_invariants", "parallel_iterations",
                                 "back_prop", "swap_memory", "maximum_iterations", "name"})),
    "device": (1, frozenset()),
}


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
    kind: str = "name"  # name | import | argument | call | header


def _rel(path: str) -> str | None:
    if path.startswith("tensorflow.") and not path.startswith("tensorflow.compat."):
        return path[len("tensorflow."):]
    return None


def remedy(rel: str) -> str | None:
    """The remedy for a removed module or name (longest matching prefix of :data:`REMEDIES`), or None."""
    parts = rel.split(".")
    for n in range(len(parts), 0, -1):
        text = REMEDIES.get(".".join(parts[:n]))
        if text is not None:
            return text
    return None


def new_home(rel: str) -> str | None:
    """Where a relative TF1 name goes on TF 2.21, as an expression suffix or absolute module path.

    ``compat.v1.X`` (relative to the TensorFlow binding), ``legacy_rnn.seq2seq...`` (absolute, starts with
    ``legacy_rnn``), or None when the name needs no change (it exists in TF2 with the same meaning) or has no home.
    """
    if rel.startswith("contrib.legacy_seq2seq"):
        return LEGACY_SEQ2SEQ + rel[len("contrib.legacy_seq2seq"):]
    if rel.startswith("contrib.seq2seq"):
        return SEQ2SEQ + rel[len("contrib.seq2seq"):]
    if rel.startswith("contrib.rnn."):
        row = symbols.TABLE.get("contrib.rnn." + rel.split(".")[2])
        home = row.compat_home() if row is not None else None
        return home + rel[len("contrib.rnn." + rel.split(".")[2]):] if home else None
    if rel.startswith("contrib"):
        return None
    if rel in ("flags", "app.flags") or rel.startswith(("flags.", "app.flags.")):
        return "compat.v1." + rel
    s = spec()
    if rel.startswith("summary.") and rel in s.in_v1 and "compat.v1.summary" in s.warnings.get(rel, ("", ""))[1]:
        return "compat.v1." + rel
    return symbols.compat_home(rel)


def keras_twin(rel: str) -> str:
    """The Keras 2 twin of a seq2seq name (``modern_rnn.seq2seq.X``)."""
    name = rel.split(".", 2)[2] if rel.count(".") >= 2 else ""
    return f"modern_rnn.seq2seq.{name}" if name else "modern_rnn.seq2seq"


class Planner:
    """Turns the resolver's references into :class:`Site` objects, span edits, import replacements and manual checks.

    ``plan()`` fills ``sites``; ``edits`` (expression spans -> new code), ``arg_keywords`` (argument value span ->
    keyword to put before it), ``comments`` (statement line -> comment lines), ``imports`` and ``header`` (import lines
    to add before TensorFlow is imported) are what :mod:`migration.upgrade.rewrite_compat` applies.
    """

    def __init__(self, refs: list[Reference], lines: list[str], tree: ast.Module | None = None):
        self.refs, self.lines, self.tree = refs, lines, tree
        self.sites: list[Site] = []
        self.edits: dict[Span, str] = {}
        self.arg_keywords: dict[Span, str] = {}
        self.comments: dict[int, list[str]] = {}
        self.header: set[str] = set()
        self.imports: dict[tuple[int, int], list[tuple[str, str]]] = {}  # statement start -> (bound name, new code)
        self._pending_originals: dict[tuple[int, int], ast.Import | ast.ImportFrom] = {}
        self._handled: set[Span] = set()  # spans covered by a call-level rewrite
        self._compat_bindings: set[int] = set()  # id(binding) of names that now point under tf.compat.v1
        self._stmt_map: dict[int, int] | None = None
        self._uses: dict[Span, Reference] | None = None

    # -- helpers ---------------------------------------------------------------------------------------------------
    @property
    def _stmt_lines(self) -> dict[int, int]:
        if self._stmt_map is None:
            self._stmt_map = _statement_lines(self.tree) if self.tree is not None else {}
        return self._stmt_map

    @staticmethod
    def _span(ref: Reference) -> Span:
        return (ref.line, ref.col, ref.end_line, ref.end_col)

    def _text(self, span: Span) -> str:
        line, col, end_line, end_col = span
        if line == end_line and 0 < line <= len(self.lines):
            return self.lines[line - 1][col:end_col]
        if 0 < line <= end_line <= len(self.lines):
            chunk = [self.lines[line - 1][col:]] + self.lines[line:end_line - 1] + [self.lines[end_line - 1][:end_col]]
            return "\n".join(chunk)
        return ""

    def _node_span(self, node: ast.AST) -> Span:
        line, end_line = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
        return (line, _char_col(self.lines, line, node.col_offset),  # type: ignore[attr-defined]
                end_line, _char_col(self.lines, end_line, node.end_col_offset or 0))  # type: ignore[attr-defined]

    def _edit(self, span: Span, new: str, symbol: str, kind: str = "name", reason: str = "") -> None:
        old = self._text(span)
        if old != new:
            self.edits[span] = new
            self.sites.append(Site(span, symbol, "rewrite", old, new, reason, kind))

    def _manual(self, span: Span, symbol: str, reason: str, kind: str = "name") -> None:
        self.sites.append(Site(span, symbol, "manual", self._text(span), "", reason, kind))

    def _root_text(self, ref: Reference, rel: str) -> str:
        """How to write the TF2 home of ``rel`` from ``ref``'s TensorFlow binding."""
        home = new_home(rel)
        if home is None:
            return f"{ref.base}.{rel}"
        if home.startswith("legacy_rnn"):
            self.header.add(f"import {LEGACY_SEQ2SEQ if home.startswith(LEGACY_SEQ2SEQ) else SEQ2SEQ}")
            return home
        return f"{ref.base}.{home}"

    @property
    def manual(self) -> list[ManualCheck]:
        return sorted((ManualCheck(s.span[0], s.span[1] + 1, s.symbol, s.reason) for s in self.sites
                       if s.action == "manual"), key=lambda m: (m.line, m.col))

    @property
    def changes(self) -> list[str]:
        sites = sorted((s for s in self.sites if s.action == "rewrite"), key=lambda s: s.span)
        return [f"{s.span[0]}:{s.span[1] + 1}: {s.old} -> {s.new}" if s.kind != "import"
                else f"{s.span[0]}:{s.span[1] + 1}: {s.reason}" for s in sites]

    # -- the plan --------------------------------------------------------------------------------------------------
    def plan(self) -> None:
        calls = [r for r in self.refs if r.kind == "call"]
        for ref in calls:  # call-level rewrites that replace the function name too
            self._plan_call_first(ref)
        module_aliases: dict[int, list[Reference]] = {}  # id(binding) -> uses through an imported module alias
        for ref in self.refs:
            if ref.kind == "star":
                self._manual(self._span(ref), f"from {ref.path} import *", "star import: import the names explicitly")
            elif ref.kind == "choice":
                names = [p.rsplit(".", 1)[-1] for p in ref.path.split(" | ")]
                if all(n in CELL_CLASSES for n in names):
                    self.sites.append(Site(self._span(ref), "run-time cell choice", "note", self._text(self._span(ref)),
                                           "", "the cell class is chosen at run time: one of " + ", ".join(names)
                                           + "; `--to keras` converts each candidate by hand (their checkpoints "
                                           "differ)", "choice"))
            elif ref.kind == "getattr":
                self._manual(self._span(ref), f"getattr({ref.path.replace('tensorflow', 'tf', 1)}, ...)",
                             "dynamic attribute of a TF1 module: only known at run time")
            elif ref.kind == "use" and ref.binding is not None and self._span(ref) not in self._handled:
                if ".FLAGS.__flags" in ref.path and self._flags_path(ref.path.split(".__flags")[0]):
                    node = ref.node
                    while isinstance(node, ast.Attribute) and node.attr != "__flags":
                        node = node.value
                    if not isinstance(node, ast.Attribute):
                        continue
                    value = self._text(self._node_span(node.value))
                    if ref.binding.via == "import" and ref.binding.target == "tensorflow":
                        value = self._root_text(ref, _rel(ref.path.split(".__flags")[0]) or "")
                    self._edit(self._node_span(node), f"{value}.flag_values_dict()", "tf.flags.FLAGS.__flags",
                               reason="private TF 1.4 API: FLAGS.flag_values_dict() is the public {name: value}")
                elif ref.binding.via == "import" and ref.binding.target == "tensorflow":
                    self._plan_root_use(ref)
                elif ref.binding.via in ("import", "from") and ref.binding.target.startswith("tensorflow."):
                    module_aliases.setdefault(id(ref.binding), []).append(ref)
                elif ref.binding.via == "assign" and ref.binding.target == "tensorflow.contrib.rnn" \
                        and ref.path != ref.binding.target:
                    self._contrib_rnn_alias_use(ref)
        for ref in self.refs:
            if ref.kind == "import":
                self._plan_import(ref, module_aliases.get(id(ref.binding), []))
        for ref in calls:
            self._plan_call_args(ref)

    def _plan_root_use(self, ref: Reference) -> None:
        rel = _rel(ref.path)
        if rel is None:
            return
        symbol = "tf." + rel
        if ref.store_target:  # ``tf.nn.rnn_cell.GRUCell = ...``: write into the module's TF 2.21 home if it moved
            home = new_home(rel)
            if home is not None and not home.startswith("legacy_rnn"):
                self._edit(self._span(ref), self._root_text(ref, rel), symbol)
            return
        if rel == "contrib.rnn" and ref.alias_assignment:  # ``rnn = tf.contrib.rnn``: the alias -> tf.compat.v1.nn
            self._edit(self._span(ref), f"{ref.base}.compat.v1.nn", symbol,
                       reason="tf.contrib.rnn's cells live in tf.compat.v1.nn.rnn_cell, its functions in tf.compat.v1.nn")
            return
        if rel.startswith("contrib") or rel.startswith("examples"):
            home = new_home(rel)
            if home is None:
                self._manual(self._span(ref), symbol, self._no_home_reason(rel))
                return
            self._edit(self._span(ref), self._root_text(ref, rel), symbol)
            return
        if rel in ("nn.rnn_cell",) and not ref.alias_assignment:
            self._manual(self._span(ref), symbol, "a TF1 module used as a value; point it at tf.compat.v1.nn.rnn_cell "
                         "by hand once you have checked how it is used")
            return
        home = new_home(rel)
        if home is not None:
            self._edit(self._span(ref), self._root_text(ref, rel), symbol)

    def _contrib_rnn_alias_use(self, use: Reference) -> None:
        """``rnn.GRUCell`` through ``rnn = tf.contrib.rnn`` (rebound to tf.compat.v1.nn) -> ``rnn.rnn_cell.GRUCell``."""
        name = use.path[len("tensorflow.contrib.rnn."):].split(".")[0]
        home = new_home("contrib.rnn." + name)
        if home is None:
            self._manual(self._span(use), "tf.contrib.rnn." + name,
                         f"reached through `{use.base}` (an alias of tf.contrib.rnn): no compat home in TF 2.21; "
                         "rewrite it by hand")
        elif home.startswith("compat.v1.nn.rnn_cell."):
            self._edit(self._span(use), f"{use.base}.rnn_cell.{name}" + use.path[len(f"tensorflow.contrib.rnn.{name}"):],
                       "tf.contrib.rnn." + name)

    def _no_home_reason(self, rel: str) -> str:
        text = remedy(rel) or "no TF 2.21 home"
        if rel.startswith("contrib.rnn"):
            text = ("no compat home in TF 2.21 (tf.contrib.rnn kept only the core cells); "
                    "rewrite it by hand (see " + symbols.TABLE["contrib.rnn"].doc + ")")
        elif rel == "contrib.seq2seq" or rel == "contrib.legacy_seq2seq":
            text = "the module used as a value"
        return text

    @staticmethod
    def _flags_path(path: str) -> bool:
        for prefix in ("tensorflow.flags.FLAGS", "tensorflow.app.flags.FLAGS", "tensorflow.compat.v1.flags.FLAGS",
                       "tensorflow.compat.v1.app.flags.FLAGS"):
            if path == prefix:
                return True
        return False

    # -- imports ---------------------------------------------------------------------------------------------------
    def _plan_import(self, ref: Reference, uses: list[Reference]) -> None:
        """Imports of TensorFlow submodules or names: rebind to the TF 2.21 home when needed."""
        node = ref.node
        assert isinstance(node, (ast.Import, ast.ImportFrom))
        rel = _rel(ref.path)
        if rel is None:
            return  # tensorflow itself, or tensorflow.compat.*
        span = self._span(ref)
        if isinstance(node, ast.Import) and ref.binding is not None and ref.binding.target == "tensorflow":
            # ``import tensorflow.contrib.rnn`` binds ``tensorflow``; its uses are rewritten like ``tf.x`` uses.
            if rel.startswith(("contrib", "examples")) or new_home(rel) is not None:
                key = (node.lineno, ref.col)
                self.imports.setdefault(key, []).append(("tensorflow", "import tensorflow"))
                self._pending_originals.setdefault(key, node)
                self.sites.append(Site(span, "tf." + rel, "rewrite", f"import {ref.path}", "import tensorflow",
                                       f"import {ref.path} -> import tensorflow", "import"))
            return
        new_module: str | None = None  # the new dotted path the bound name should refer to
        if rel.startswith(("contrib.legacy_seq2seq", "contrib.seq2seq")):
            new_module = new_home(rel)
        elif rel == "contrib.rnn":
            new_module = "tensorflow.compat.v1.nn"
            for use in uses:
                name = use.path[len("tensorflow.contrib.rnn."):].split(".")[0] if use.path != ref.path else ""
                home = new_home("contrib.rnn." + name) if name else None
                if home is None:
                    self._manual(self._span(use), "tf.contrib.rnn." + (name or ""), "no compat home in TF 2.21 (or "
                                 "the module is used as a value); rewrite it by hand")
                elif home.startswith("compat.v1.nn.rnn_cell."):
                    self._edit(self._span(use), f"{use.base}.rnn_cell.{name}"
                               + use.path[len(f"tensorflow.contrib.rnn.{name}"):], "tf.contrib.rnn." + name)
        elif rel.startswith(("contrib.", "examples")) or rel == "contrib":
            home = new_home(rel)
            if home is None:
                self._manual(span, "tf." + rel, remedy(rel) or "no TF 2.21 home; rewrite it by hand", "import")
                for use in uses:
                    if use.path != ref.path:
                        use_rel = _rel(use.path) or use.path
                        self._manual(self._span(use), "tf." + use_rel,
                                     f"reached through `{use.base}`, imported from a module with no TF 2.21 home; "
                                     + (remedy(use_rel) or "rewrite it by hand"))
                return
            new_module = "tensorflow." + home
        elif new_home(rel) is not None or any(new_home(_rel(u.path) or "") is not None for u in uses):
            new_module = "tensorflow.compat.v1." + rel
        if new_module is None:
            return
        if new_module.startswith("tensorflow.compat.v1"):
            self._compat_bindings.add(id(ref.binding))
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
        self.sites.append(Site(self._span(ref), "tf." + (_rel(ref.path) or ref.path), "rewrite",
                               ref.path, new_path, f"import of {ref.path} -> {new_path}", "import"))
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

    # -- calls -----------------------------------------------------------------------------------------------------
    def _func_ref(self, call: ast.Call) -> Reference | None:
        if self._uses is None:
            self._uses = {self._span(r): r for r in self.refs if r.kind == "use"}
        return self._uses.get(self._node_span(call.func))

    def _plan_call_first(self, ref: Reference) -> None:
        """``FLAGS._parse_flags()`` and ``tf.contrib.layers.xavier_initializer()``: the whole call changes."""
        call = ref.node
        assert isinstance(call, ast.Call)
        if ref.path.endswith(".FLAGS._parse_flags") and self._flags_path(ref.path[:-len("._parse_flags")]) \
                and not call.args and not call.keywords and isinstance(call.func, ast.Attribute):
            func = self._func_ref(call)
            value = self._text(self._node_span(call.func.value))
            if func is not None and func.binding is not None and func.binding.via == "import" \
                    and func.binding.target == "tensorflow":
                value = self._root_text(func, _rel(ref.path[:-len("._parse_flags")]) or "")
            if func is not None:
                self._handled.add(self._span(func))
            self.header.add("import sys")
            self._edit(self._node_span(call), f"{value}(sys.argv, known_only=True)", "tf.flags.FLAGS._parse_flags",
                       "call", "private TF 1.4 API: absl's FLAGS(argv) parses the command line")
        elif _rel(ref.path) == "contrib.layers.xavier_initializer":
            func = self._func_ref(call)
            kws = {k.arg for k in call.keywords}
            if func is None or func.binding is None or func.binding.target != "tensorflow" or call.args \
                    or not kws <= {"seed", "dtype"}:
                return  # left to the name rule (a manual check with the remedy)
            self._handled.add(self._span(func))
            self._edit(self._span(func), f"{func.base}.compat.v1.glorot_uniform_initializer",
                       "tf.contrib.layers.xavier_initializer",
                       reason="xavier_initializer(uniform=True) is glorot_uniform_initializer")

    def _stays_tf2(self, ref: Reference, call: ast.Call) -> str | None:
        """The relative name of a call's function if the call still goes to the TF2 version of it."""
        rel = _rel(ref.path)
        if rel is None or rel.startswith(("contrib", "examples")):
            return None  # no TF 2.21 home: the name itself is a manual check already
        func = self._func_ref(call)
        if func is None or func.binding is None or self._span(func) in self.edits or self._span(func) in self._handled:
            return None
        binding: Binding = func.binding
        if id(binding) in self._compat_bindings:
            return None
        if binding.via == "assign" and binding.source is not None and self._span(binding.source) in self.edits:
            return None
        if new_home(rel) is not None:
            return None
        return rel

    def _plan_call_args(self, ref: Reference) -> None:
        call = ref.node
        assert isinstance(call, ast.Call)
        rel = self._stays_tf2(ref, call)
        if rel is None:
            return
        s = spec()
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            if rel in s.keyword_renames or rel in s.reorders or rel in s.transformers:
                self._manual(self._node_span(call), f"tf.{rel}(*args/**kwargs)", "its TF1 arguments changed names or "
                             "meaning in TF2 and *args/**kwargs hide which ones are passed; check them by hand",
                             "argument")
            return
        if rel == "nn.dropout":
            self._dropout(call)
            return
        if rel in s.transformers:
            limit = SAFE_TRANSFORMER_CALLS.get(rel)
            if limit is not None and len(call.args) <= limit[0] and {k.arg for k in call.keywords} <= limit[1]:
                return
            self._to_v1(ref, call, rel, "its arguments changed meaning in TF2")
            return
        if rel not in s.keyword_renames and rel not in s.reorders:
            return
        renames = s.keyword_renames.get(rel, {})
        order = s.reorders.get(rel, [])
        to_keyword: list[tuple[ast.expr, str]] = []
        for i, arg in enumerate(call.args):
            if i < len(order) and order[i] is not None:
                to_keyword.append((arg, order[i]))  # type: ignore[arg-type]
            elif i >= len(order) and order:
                self._manual(self._node_span(call), f"tf.{rel}(...)", "more positional arguments than TF1 took")
                return
        final = {renames.get(k.arg, k.arg) for k in call.keywords} | {renames.get(n, n) for _, n in to_keyword}
        renamed = [k for k in call.keywords if k.arg in renames]
        params = s.tf2_params.get(rel, [])
        n_kw = len(call.keywords) + len(to_keyword)
        if (params is not None and not final <= set(params)) or len(final) != n_kw:
            self._to_v1(ref, call, rel, "its TF1 arguments have no exact TF2 spelling")
            return
        if not to_keyword and not renamed:
            return
        for arg, name in to_keyword:
            span = self._node_span(arg)
            new = renames.get(name, name)
            self.arg_keywords[span] = new
            self.sites.append(Site(span, f"tf.{rel}({name}=)", "rewrite", self._text(span),
                                   f"{new}={self._text(span)}", "positional argument -> keyword (TF2 reordered it)",
                                   "argument"))
        for k in renamed:
            span = self._node_span(k.value)
            self.arg_keywords[span] = renames[k.arg]  # type: ignore[index]
            self.sites.append(Site(span, f"tf.{rel}({k.arg}=)", "rewrite", f"{k.arg}=", f"{renames[k.arg]}=",
                                   "keyword renamed in TF2", "argument"))

    def _to_v1(self, ref: Reference, call: ast.Call, rel: str, why: str) -> None:
        func = self._func_ref(call)
        if rel not in spec().in_v1 or func is None or func.binding is None:
            self._manual(self._node_span(call), f"tf.{rel}(...)", why + "; no tf.compat.v1 twin: check it by hand",
                         "argument")
            return
        if func.binding.via == "import" and func.binding.target == "tensorflow":
            self._edit(self._span(func), f"{func.base}.compat.v1.{rel}", f"tf.{rel}", "name",
                       why + ": tf.compat.v1 keeps the TF1 meaning")
        else:
            self._manual(self._node_span(call), f"tf.{rel}(...)", why + f"; call tf.compat.v1.{rel} instead",
                         "argument")

    def _dropout(self, call: ast.Call) -> None:
        """``tf.nn.dropout(x, keep_prob)`` -> ``tf.nn.dropout(x, 1 - keep_prob)``; ``keep_prob=`` -> ``rate=``."""
        kw = {k.arg: k for k in call.keywords}
        if "rate" in kw:
            return
        value: ast.expr | None = None
        if len(call.args) >= 2:
            value = call.args[1]
        elif "keep_prob" in kw:
            value = kw["keep_prob"].value
            self.arg_keywords[self._node_span(value)] = "rate"
        if value is None:
            return
        stmt = self._stmt_lines.get(call.lineno, call.lineno)
        if stmt >= 2 and self.lines[stmt - 2].strip() == DROPOUT_NOTE:
            return  # upgraded already: the argument is a rate now (keeps the upgrade idempotent)
        span = self._node_span(value)
        text = self._text(span)
        if isinstance(value, ast.Constant) and isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
            new = repr(round(1 - value.value, 12))
        elif isinstance(value, (ast.Name, ast.Attribute, ast.Constant, ast.Call, ast.Subscript)) and "\n" not in text:
            new = f"1 - {text}"
        else:
            new = f"1 - ({text})"
        self.edits[span] = new
        self.sites.append(Site(span, "tf.nn.dropout(keep_prob)", "rewrite", text, new,
                               "TF2's second argument is rate = 1 - keep_prob", "argument"))
        self.comments.setdefault(stmt, [])
        if DROPOUT_NOTE not in self.comments[stmt]:
            self.comments[stmt].append(DROPOUT_NOTE)


def _char_col(lines: list[str], line: int, byte_col: int) -> int:
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    if text.isascii():
        return byte_col
    return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def _statement_lines(tree: ast.Module) -> dict[int, int]:
    """Line -> first line of the innermost simple statement that contains it (for comments above a statement)."""
    out: dict[int, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                                ast.If, ast.For, ast.While, ast.With, ast.Try,
                                                                ast.AsyncFor, ast.AsyncWith)):
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                out[line] = node.lineno
    return out


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


def imported_modules(tree: ast.Module) -> set[str]:
    """Top-level ``import X`` module names bound at module level (to avoid adding ``import sys`` twice)."""
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.asname is None}
    return out


def header_lines(planner: Planner, tree: ast.Module) -> list[str]:
    have = imported_modules(tree)
    return [line for line in HEADER_ORDER if line in planner.header and line.split()[1] not in have]


__all__ = ["Planner", "Site", "ManualCheck", "graph_mode_call", "has_bootstrap", "header_lines", "new_home", "remedy",
           "keras_twin"]
