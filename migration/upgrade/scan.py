"""``scan``: find every TF1 graph-mode / RNN construct in Python files and notebooks, without executing them.

Public API: :func:`scan_source` (one source text), :func:`scan_paths` (files and directories) -> :class:`ScanReport`.
Never imports TensorFlow.
"""
from __future__ import annotations

import ast
import os
import stat
import tokenize
from collections import Counter
from dataclasses import asdict, dataclass, field
from io import BytesIO
from typing import Iterable, Iterator, Sequence

from migration.upgrade import symbols
from migration.upgrade.notebooks import NotebookError, read_cells
from migration.upgrade.plan import Site, keras_twin, make_plan
from migration.upgrade.resolve import Binding, Reference, collect
from migration.upgrade.rules.py2_leftovers import HINT as PY2_HINT

#: Rules whose sites are file set-up (lines added before TensorFlow is imported), listed apart from the findings.
SETUP_RULES = frozenset({"graph_mode", "legacy_keras", "header_imports"})
MAX_BYTES = 16 * 1024 * 1024  # a source file larger than 16 MiB is skipped with a note
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "build", "dist"})
SUFFIXES = (".py", ".ipynb")


@dataclass
class Finding:
    """One TF1 construct at ``path:line:col`` (1-based line and character column; ``cell`` for notebooks)."""

    path: str
    line: int
    col: int
    symbol: str  # the TF1 name, e.g. "tf.contrib.rnn.BasicRNNCell"
    written: str  # how the code spelled it, e.g. "rnn.BasicRNNCell"
    replacement: str
    consequence: str
    severity: str  # compat | rewrite | manual
    doc: str
    reason: str = ""
    cell: int | None = None
    upgrade: str = ""  # what `upgrade --to compat` writes instead ("" = left as written)

    def location(self) -> str:
        cell = f"[cell {self.cell}]" if self.cell is not None else ""
        return f"{self.path}{cell}:{self.line}:{self.col}"


@dataclass
class FileError:
    """A file that could not be scanned; ``message`` says why and what to do."""

    path: str
    message: str
    line: int | None = None
    cell: int | None = None

    def __str__(self) -> str:
        cell = f"[cell {self.cell}]" if self.cell is not None else ""
        line = f":{self.line}" if self.line else ""
        return f"{self.path}{cell}{line}: {self.message}"


@dataclass
class ScanReport:
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files_scanned: int = 0
    setup: list[Finding] = field(default_factory=list)  # lines upgrade adds before TensorFlow is imported

    @property
    def needs_work(self) -> bool:
        return bool(self.errors) or any(f.severity != "compat" for f in self.findings)

    def exit_code(self) -> int:
        return 1 if self.needs_work else 0

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            "by_severity": dict(Counter(f.severity for f in self.findings)),
            "by_symbol": dict(sorted(Counter(f.symbol for f in self.findings).items())),
        }

    def to_dict(self) -> dict:
        return {
            "findings": [asdict(f) for f in self.findings],
            "errors": [asdict(e) for e in self.errors],
            "files_scanned": self.files_scanned,
            "setup": [asdict(f) for f in self.setup],
            "summary": self.counts(),
            "exit_code": self.exit_code(),
        }


# -- references -> findings -------------------------------------------------------------------------------------

UPGRADE_DOC = "docs/upgrading.md#what-scan-reports"


def _split(path: str) -> tuple[str, bool] | None:
    """``("nn.rnn_cell.GRUCell", via_compat)`` for a TensorFlow path, or None when it is not TF1 API."""
    if path.startswith("tensorflow.compat.v1."):
        return path[len("tensorflow.compat.v1."):], True
    if path.startswith("tensorflow.") and not path.startswith(("tensorflow.compat.", "tensorflow.keras")):
        return path[len("tensorflow."):], False
    return None


def _site_finding(site: Site, path: str) -> Finding:
    rel = site.symbol[3:] if site.symbol.startswith("tf.") else site.symbol
    base = rel.split("(")[0]
    row = symbols.lookup(base)
    if base.startswith(("contrib.seq2seq", "contrib.legacy_seq2seq")):
        replacement = keras_twin(base)
        consequence = ("runs on TF 2.21 as " + (site.new or "legacy_rnn.seq2seq") + " (graph mode, the TF 1.15 "
                       "variable names); its Keras 2 twin is " + replacement)
        doc = UPGRADE_DOC
    elif row is not None and row.name not in ("contrib", "contrib.rnn"):
        replacement, consequence, doc = row.replacement, row.consequence, row.doc
    else:
        replacement, consequence, doc = site.new or "see `why`", "", row.doc if row is not None else UPGRADE_DOC
    return Finding(path=path, line=site.span[0], col=site.span[1] + 1, symbol=site.symbol,
                   written=site.old.split("\n")[0], replacement=replacement, consequence=consequence,
                   severity=site.action, doc=doc, reason=site.reason, upgrade=site.new)


def _compat_finding(ref: Reference, path: str, lines: Sequence[str]) -> Finding | None:
    """Information: a TF1 construct from the RNN table that already runs as written (through tf.compat.v1)."""
    if ref.kind == "feed_dict":
        row, symbol = symbols.FEED_DICT, "tf.Session.run(feed_dict)"
    elif ref.kind == "use":
        split = _split(ref.path)
        if split is None:
            return None
        rel = split[0]
        if rel.startswith(("contrib.seq2seq.", "contrib.legacy_seq2seq.")):  # through a rebound import
            return Finding(path=path, line=ref.line, col=ref.col + 1, symbol="tf." + rel, written=_written(ref, lines),
                           replacement=keras_twin(rel), consequence="runs as legacy_rnn.seq2seq (TF 1.15 names)",
                           severity="compat", doc=UPGRADE_DOC)
        row = symbols.lookup(rel)
        if row is None or row.name in ("contrib", "contrib.rnn", "nn.rnn_cell") and rel == row.name:
            return None
        symbol = "tf." + rel
    else:
        return None
    return Finding(path=path, line=ref.line, col=ref.col + 1, symbol=symbol, written=_written(ref, lines),
                   replacement=row.replacement, consequence=row.consequence, severity="compat", doc=row.doc)


def _written(ref: Reference, lines: Sequence[str]) -> str:
    if ref.line == ref.end_line and 0 < ref.line <= len(lines):
        return lines[ref.line - 1][ref.col:ref.end_col]
    return ref.path


def findings_of(refs: list[Reference], lines: list[str], tree: ast.Module, path: str,
                setup: list[Finding] | None = None) -> list[Finding]:
    """Every site ``upgrade --to compat`` changes or cannot change (from its own plan, rule by rule), plus the
    RNN-table constructs that run as written (severity ``compat``), in source order. The lines the plan adds before
    TensorFlow is imported (the ``TF_USE_LEGACY_KERAS`` bootstrap, header imports) go to ``setup`` when given."""
    planner = make_plan(refs, lines, tree)
    sites = [s for s in planner.sites if s.rule not in SETUP_RULES]
    if setup is not None:
        setup.extend(_site_finding(s, path) for s in planner.sites if s.rule in SETUP_RULES)
    out = [_site_finding(site, path) for site in sites]
    for f in out:
        if f.severity == "note":  # information (a run-time cell choice): runs as written, no rewrite
            f.severity, f.replacement = "compat", "one Keras layer per candidate"
    covered = {(f.line, f.col) for f in out}
    for ref in refs:
        if (ref.line, ref.col + 1) in covered:
            continue
        finding = _compat_finding(ref, path, lines)
        if finding is not None:
            out.append(finding)
    out.sort(key=lambda f: (f.line, f.col))
    return out


# -- sources -----------------------------------------------------------------------------------------------------

def parse(source: str, filename: str) -> ast.Module:
    """``ast.parse`` with a message that names the file, the line and the remedy."""
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as exc:
        hint = ""
        text = (exc.text or "").strip()
        if text.startswith(("print ", "exec ")) or "Missing parentheses" in str(exc.msg):
            hint = " This looks like Python 2: convert it first (e.g. `2to3 -w FILE`)."
        raise SyntaxError(f"{exc.msg}{': ' + text if text else ''}. Fix the syntax, then run the command again.{hint}",
                          (filename, exc.lineno, exc.offset, exc.text)) from None


def scan_source(source: str, path: str = "<string>", *, bindings: dict[str, Binding] | None = None,
                cell: int | None = None, setup: list[Finding] | None = None) -> list[Finding]:
    """Findings of one Python source text (raises :class:`SyntaxError` if it does not parse); ``setup`` receives
    the lines ``upgrade`` adds before TensorFlow is imported (see :func:`findings_of`)."""
    tree = parse(source, path)
    if not bindings and "tensorflow" not in source and not PY2_HINT.search(source):
        return []  # nothing can be bound to TensorFlow here (parsed anyway: syntax errors are still reported)
    lines = source.splitlines()
    refs = collect(tree, lines, bindings)
    out = findings_of(refs, lines, tree, path, setup)
    for finding in [*out, *(setup or [])]:
        finding.cell = cell
    return out


def scan_cells(cells: list, path: str, report: ScanReport) -> list[Finding]:
    """A notebook's code cells scanned as one program (as ``upgrade`` rewrites them: an import in cell 1 applies to
    cell 5); cells that do not parse are reported under ``errors`` and left out. Findings carry (cell, line)."""
    good, starts, line = [], [], 1
    for c in cells:
        try:
            parse(c.source, path)
        except SyntaxError as exc:
            report.errors.append(FileError(path, str(exc.msg), exc.lineno, c.index))
            continue
        except (RecursionError, MemoryError, ValueError):
            report.errors.append(FileError(path, "skipped: the code nests too deeply for Python's parser", None,
                                           c.index))
            continue
        source = c.source if c.source.endswith("\n") or not c.source else c.source + "\n"
        good.append(source)
        starts.append((line, c.index))
        line += source.count("\n")
    try:
        findings = scan_source("".join(good), path)
    except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:  # cells parse alone but not together
        report.errors.append(FileError(path, f"the code cells do not parse as one program ({exc}); scan an "
                                       "nbconvert export instead"))
        return []
    out = []
    for f in findings:
        start, index = next((s, i) for s, i in reversed(starts) if s <= f.line)
        f.line, f.cell = f.line - start + 1, index
        out.append(f)
    return out


def read_text(path: str) -> str:
    """Read a source file as text; raise :class:`ValueError` with the reason and the remedy.

    Only regular files are read (a FIFO would block, ``/dev/zero`` never ends: both are skipped with a note, also
    through a symlink), and never more than :data:`MAX_BYTES` + 1 bytes, whatever ``stat`` said.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) or
                stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise ValueError(f"skipped: {kind}{' (through a symlink)' if os.path.islink(path) else ''}; only regular "
                         "files are scanned")
    if st.st_size > MAX_BYTES:
        raise ValueError(f"skipped: {st.st_size:,} bytes is larger than the {MAX_BYTES:,}-byte limit for a source file")
    with open(path, "rb") as fh:
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"skipped: larger than the {MAX_BYTES:,}-byte limit for a source file (it grew while read)")
    if b"\0" in data[:8192]:
        raise ValueError("skipped: binary file (it contains NUL bytes); scan only Python sources and notebooks")
    try:
        encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot decode the file ({exc}); save it as UTF-8 or add a `# -*- coding: ... -*-` line")


def scan_file(path: str, report: ScanReport) -> None:
    """Scan one file into ``report`` (findings, or one error per problem); never raises for a bad file."""
    try:
        text = read_text(path)
    except (OSError, ValueError) as exc:
        report.errors.append(FileError(path, str(exc)))
        return
    report.files_scanned += 1
    if path.endswith(".ipynb"):
        try:
            cells = read_cells(text)
        except NotebookError as exc:
            report.errors.append(FileError(path, str(exc)))
            return
        report.findings.extend(scan_cells(cells, path, report))
        return
    try:
        report.findings.extend(scan_source(text, path, setup=report.setup))
    except SyntaxError as exc:
        report.errors.append(FileError(path, str(exc.msg), exc.lineno))
    except (RecursionError, MemoryError, ValueError) as exc:
        report.errors.append(FileError(path, f"skipped: the parser failed ({type(exc).__name__}: {exc})"))


def iter_files(paths: Iterable[str]) -> Iterator[str]:
    """Files to scan: explicit files as given, directories walked (sorted) for ``.py`` and ``.ipynb``."""
    for root in paths:
        if not os.path.isdir(root):
            yield root
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS)
            for name in sorted(filenames):
                if name.endswith(SUFFIXES):
                    yield os.path.join(dirpath, name)


def scan_paths(paths: Sequence[str]) -> ScanReport:
    """Scan files and directories. Missing paths raise :class:`migration.core.errors.MigrationError` (exit 2)."""
    from migration.core.errors import MigrationError

    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise MigrationError(f"No such file or directory: {', '.join(map(repr, missing))}. "
                             "Pass .py files, .ipynb notebooks or directories.")
    report = ScanReport()
    for path in iter_files(paths):
        scan_file(path, report)
    return report
