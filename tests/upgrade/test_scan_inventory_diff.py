"""``scan`` reports every site ``upgrade`` changes or leaves, checked from the outside (issue 21).

For a battery of TF1 sources of our own (``fixtures/inventory``, ``fixtures/programs`` and the seed fixtures) and,
read-only, the corpus programs' ``src/`` files when ``../shared/corpus`` is present, each file is upgraded with
``--to compat`` and ``--to keras`` and the input is diffed against the output (``difflib``, not the upgrade's own
change list). Then, against ``scan --json`` run once over every file:

* every input line the upgrade changed or removed is reported: a finding on that line or inside the same statement
  (a multi-line call), for ``--to keras`` also inside the same replaced block (a Keras pattern replaces whole
  statements: the cell lines, the ``MultiRNNCell`` and the ``dynamic_rnn`` call are reported, the loop that fills
  the cell list is not a TF1 construct of its own);
* every line the upgrade added is a ``setup`` line of the report (bootstrap, graph-mode switch, header imports), or
  an ``# rnn-migrate:`` note above a reported statement (for ``--to keras`` also its ``import tf_keras`` header);
* every line the upgrade left as written that still holds a TF1-only construct is reported. The constructs are
  found here by a detector of this module (tokens and ``ast``, not the project's resolver): ``tf.contrib`` /
  ``legacy_seq2seq`` names and imports, placeholders, sessions, ``Dimension`` and ``.value`` on a shape, TF2's
  ``tf.Variable`` in TF1 graph code (the resource-variable trap) and Python 2 leftovers (``iteritems``,
  ``itervalues``, ``iterkeys``, ``has_key``, ``xrange``, ``import cPickle``).

Negative controls: a finding dropped from the report, an extra rewrite nobody reports, a left construct whose
finding is gone and an unexplained inserted line are each caught.
"""
from __future__ import annotations

import ast
import contextlib
import difflib
import functools
import io
import json
import os
import tokenize
from pathlib import Path

import pytest

from migration.cli import main
from migration.upgrade import upgrade_source

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
BATTERY = sorted((FIXTURES / "inventory").glob("*.py")) + sorted((FIXTURES / "programs").glob("*.py")) + [
    FIXTURES / name for name in ("aliases.py", "compat_v1_style.py", "seed002_dynamic_rnn.py",
                                 "seed002_handwritten.py", "seed002_static_rnn.py", "seed004_sentiment.py")]


def _corpus_root() -> Path | None:
    """``../shared/corpus`` of the checkout (or of a worktree one level deeper); $RNN_MIGRATE_CORPUS overrides."""
    env = os.environ.get("RNN_MIGRATE_CORPUS")
    for root in ([Path(env)] if env else [REPO.parent / "shared" / "corpus", REPO.parents[1] / "shared" / "corpus"]):
        if root.is_dir():
            return root
    return None


CORPUS = _corpus_root()
CORPUS_FILES = sorted(CORPUS.glob("*/src/**/*.py")) if CORPUS else []
PROGRAMS = sorted({p.relative_to(CORPUS).parts[0] for p in CORPUS_FILES}) if CORPUS else []

# -- the independent detector of TF1-only constructs ---------------------------------------------------------------

TF1_NAMES = {"placeholder", "placeholder_with_default", "sparse_placeholder", "Session", "InteractiveSession",
             "Dimension", "contrib", "legacy_seq2seq"}
PY2_METHODS = {"iteritems", "itervalues", "iterkeys", "has_key"}


def _tf_aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the TensorFlow path it is bound to by an import statement."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "tensorflow" or a.name.startswith("tensorflow."):
                    out[a.asname or "tensorflow"] = a.name if a.asname else "tensorflow"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tensorflow" and not node.level:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _chains(code: str):
    """(line, names, token before) of every dotted chain of names outside strings and comments."""
    skip = (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
    toks = [t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type not in skip]
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.type == tokenize.NAME and not (i and toks[i - 1].string == "."):
            names, j = [t.string], i
            while j + 2 < len(toks) and toks[j + 1].string == "." and toks[j + 2].type == tokenize.NAME:
                names.append(toks[j + 2].string)
                j += 2
            yield t.start[0], names, toks[i - 1].string if i else ""
            i = j + 1
        else:
            i += 1


def _is_shape(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "shape" or isinstance(node, ast.Call) \
        and isinstance(node.func, ast.Attribute) and node.func.attr == "get_shape"


def tf1_constructs(code: str) -> dict[int, set[str]]:
    """Line -> the TF1-only constructs on it (see the module docstring)."""
    tree = ast.parse(code)
    alias = _tf_aliases(tree)
    shapes = {n.targets[0].id for n in ast.walk(tree) if isinstance(n, ast.Assign) and len(n.targets) == 1
              and isinstance(n.targets[0], ast.Name) and _is_shape(n.value)}
    imports = {line for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
               for line in range(n.lineno, n.end_lineno + 1)}
    graph_code = "compat.v1" in code or "legacy_rnn" in code  # TF1 graph code once upgraded
    hits: dict[int, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "value" and isinstance(node.value, ast.Subscript):
            base = node.value.value
            if _is_shape(base) or isinstance(base, ast.Name) and base.id in shapes:
                hits.setdefault(node.lineno, set()).add("Dimension.value")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] + ([node.module] if getattr(node, "module", None) else [])
            for m in modules:
                if {"contrib", "legacy_seq2seq", "cPickle"} & set(m.split(".")):
                    hits.setdefault(node.lineno, set()).add(m)
    for line, names, before in _chains(code):
        if line in imports:
            continue
        methods = PY2_METHODS.intersection(names[1:] if before != "." else names)
        if names[0] == "xrange" or methods:
            hits.setdefault(line, set()).update(methods or {"xrange"})
        if names[0] in alias:
            path = alias[names[0]].split(".") + names[1:]
            v1 = path[:3] == ["tensorflow", "compat", "v1"]
            rest = path[3:] if v1 else path[1:]
            found = TF1_NAMES.intersection(rest)
            if not v1 and graph_code and rest[:1] == ["Variable"]:
                found.add("tf.Variable")
            if found:
                hits.setdefault(line, set()).update(found)
    return hits


# -- the diff against the report -------------------------------------------------------------------------------------

def _statements(tree: ast.Module) -> list[tuple[int, int]]:
    """Line spans of the statements (a compound statement: its header only)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            body = getattr(node, "body", None)
            end = body[0].lineno - 1 if isinstance(body, list) and body else node.end_lineno
            out.append((node.lineno, max(end, node.lineno)))
    return out


def _normal(code: str) -> str:
    code = code.split("  #")[0].strip()
    try:
        return ast.unparse(ast.parse(code))
    except SyntaxError:
        return code


def unreported(src: str, out: str, report: dict, to: str) -> list[tuple]:
    """Every change or left TF1 construct of ``src`` -> ``out`` that the scan ``report`` of ``src`` does not list."""
    before, after = src.splitlines(), out.splitlines()
    spans = _statements(ast.parse(src))
    lines = report["lines"]

    def covered(line: int) -> bool:
        inner = [s for s in spans if s[0] <= line <= s[1]]
        span = min(inner, key=lambda s: s[1] - s[0]) if inner else (line, line)
        return any(span[0] <= x <= span[1] for x in lines)

    setup = {_normal(part) for f in report["setup"] for part in f["upgrade"].split(";")}
    problems, kept = [], {}
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag == "equal":
            kept.update({j1 + k + 1: i1 + k + 1 for k in range(i2 - i1)})
            continue
        block = [n for n in range(i1 + 1, i2 + 1) if before[n - 1].strip()]
        block_ok = to == "keras" and any(covered(n) for n in block)
        problems += [("changed", n, before[n - 1]) for n in block if not (covered(n) or block_ok)]
        if tag != "insert":
            continue
        added = after[j1:j2]
        for k, text in enumerate(added):
            code = text.strip()
            if not code or _normal(code) in setup:
                continue
            if code == "import os" and k + 1 < len(added) and _normal(added[k + 1]) in setup:
                continue  # the first of the bootstrap's two lines
            if code.startswith("# rnn-migrate:") and i1 < len(before) and covered(i1 + 1):
                continue  # a note above the statement it explains
            if to == "keras" and code == "import tf_keras  # rnn-migrate: Keras 2":
                continue
            problems.append(("added", i1, code))
    for line, what in sorted(tf1_constructs(out).items()):
        if line in kept and not covered(kept[line]):
            problems.append(("left", kept[line], sorted(what), after[line - 1].strip()))
    return problems


def _scan_json(paths: list[Path]) -> dict[str, dict]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(["scan", *map(str, paths), "--json"])
    data = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert data["errors"] == [], data["errors"]
    out = {str(p): {"lines": set(), "setup": [], "findings": []} for p in paths}
    for f in data["findings"]:
        out[f["path"]]["lines"].add(f["line"])
        out[f["path"]]["findings"].append(f)
    for f in data["setup"]:
        out[f["path"]]["setup"].append(f)
    return out


@pytest.fixture(scope="module")
def report():
    return _scan_json(BATTERY + CORPUS_FILES)


@functools.lru_cache(maxsize=None)
def upgraded(path: Path) -> tuple[str, dict[str, str]]:
    """The source and its two upgrades (``--to keras`` runs the compat rewrite first and keeps its output)."""
    src = path.read_text(encoding="utf-8")
    keras = upgrade_source(src, "keras")
    return src, {"compat": keras.compat_code, "keras": keras.code}


def _check(path: Path, report: dict, to: str) -> list[tuple]:
    src, out = upgraded(path)
    return unreported(src, out[to], report[str(path)], to)


@pytest.mark.parametrize("to", ["compat", "keras"])
@pytest.mark.parametrize("path", BATTERY, ids=[p.name for p in BATTERY])
def test_scan_reports_every_change_and_every_left_construct(path, to, report):
    assert _check(path, report, to) == []


@pytest.mark.parametrize("program", PROGRAMS or [pytest.param(None, marks=pytest.mark.skip(
    reason="../shared/corpus is not present (set RNN_MIGRATE_CORPUS to check the corpus programs too)"))])
def test_scan_reports_every_change_on_the_corpus_sources(program, report):
    files = [p for p in CORPUS_FILES if p.relative_to(CORPUS).parts[0] == program]
    problems = {f"{p.relative_to(CORPUS)} --to {to}": got for p in files for to in ("compat", "keras")
                if (got := _check(p, report, to))}
    assert problems == {}


def test_the_battery_is_not_vacuous(report):
    """The fixtures hold what the check is about: changed lines, set-up lines and constructs left as written."""
    src, out = upgraded(FIXTURES / "inventory" / "compat_alias_program.py")
    assert out["compat"] == upgrade_source(src, "compat").code  # the compat stage of --to keras is --to compat
    left = tf1_constructs(out["compat"])
    kinds = set().union(*left.values())
    assert {"placeholder", "Session", "InteractiveSession", "Dimension", "placeholder_with_default"} <= kinds
    findings = report[str(FIXTURES / "inventory" / "compat_alias_program.py")]["findings"]
    # fixed for issue 21: tf.Dimension through tensorflow.compat.v1 and dims[i].value through a shape name
    assert {(f["line"], f["symbol"], f["severity"]) for f in findings} >= {
        (12, "tf.Dimension", "compat"), (13, "tf.Dimension", "compat"), (10, "Dimension.value", "rewrite")}
    library = report[str(FIXTURES / "inventory" / "graph_library.py")]["findings"]
    assert {(f["line"], f["upgrade"]) for f in library if f["symbol"] == "tf.Variable"} == {
        (8, "tf.compat.v1.Variable"), (9, "tf.compat.v1.Variable")}  # a module of a graph-mode program
    py2 = (FIXTURES / "inventory" / "py2_only.py").read_text(encoding="utf-8")
    assert set().union(*tf1_constructs(py2).values()) == {"cPickle", "xrange", "iteritems", "iterkeys",
                                                          "itervalues", "has_key"}


# -- negative controls -------------------------------------------------------------------------------------------------

def _inputs(name: str, report: dict) -> tuple[str, str, dict]:
    path = FIXTURES / "inventory" / name
    src, out = upgraded(path)
    entry = report[str(path)]
    return src, out["compat"], {"lines": set(entry["lines"]), "setup": list(entry["setup"])}


def test_negative_control_a_finding_dropped_from_the_report(report):
    src, out, entry = _inputs("graph_library.py", report)
    assert unreported(src, out, entry, "compat") == []
    entry["lines"].discard(12)  # tf.nn.moments(..., keep_dims=False): rewritten, now unreported
    assert unreported(src, out, entry, "compat") == [("changed", 12, src.splitlines()[11])]


def test_negative_control_an_unreported_rewrite(report):
    src, out, entry = _inputs("py2_only.py", report)
    sneaky = out.replace('SIZES = {"hidden": 8, "proj": 4}', 'SIZES = {"hidden": 8, "proj": 2}')
    assert sneaky != out
    assert unreported(src, sneaky, entry, "compat") == [("changed", 4, 'SIZES = {"hidden": 8, "proj": 4}')]
    assert unreported(src, sneaky, entry, "keras") != []


def test_negative_control_a_left_construct_without_its_finding(report):
    src, out, entry = _inputs("compat_alias_program.py", report)
    line = next(i for i, text in enumerate(src.splitlines(), 1) if text.startswith("fixed = tf.Dimension"))
    entry["lines"].discard(line)
    assert unreported(src, out, entry, "compat") == [("left", line, ["Dimension"], "fixed = tf.Dimension(4)")]


def test_negative_control_an_unexplained_added_line(report):
    src, out, entry = _inputs("graph_library.py", report)
    extra = out.replace("\ndef head(", "\ntf.compat.v1.enable_resource_variables()\n\ndef head(", 1)
    assert [p[0] for p in unreported(src, extra, entry, "compat")] == ["added"]
    entry["setup"] = []
    assert {p[2] for p in unreported(src, out, entry, "compat")} >= {"import os"}
