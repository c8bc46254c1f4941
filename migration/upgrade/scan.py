"""``scan``: find every TF1 graph-mode / RNN construct in Python files and notebooks, without executing them.

Public API: :func:`scan_source` (one source text), :func:`scan_paths` (files and directories) -> :class:`ScanReport`.
Never imports TensorFlow.
"""
from __future__ import annotations

import ast
import os
import tokenize
from collections import Counter
from dataclasses import asdict, dataclass, field
from io import BytesIO
from typing import Iterable, Iterator, Sequence

from migration.upgrade import symbols
from migration.upgrade.notebooks import NotebookError, read_cells
from migration.upgrade.resolve import Binding, Reference, collect

MAX_BYTES = 5_000_000
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
            "summary": self.counts(),
            "exit_code": self.exit_code(),
        }


# -- references -> findings -------------------------------------------------------------------------------------

def _split(path: str) -> tuple[str, bool] | None:
    """``("nn.rnn_cell.GRUCell", via_compat)`` for a TensorFlow path, or None when it is not TF1 API."""
    if path.startswith("tensorflow.compat.v1."):
        return path[len("tensorflow.compat.v1."):], True
    if path.startswith("tensorflow.") and not path.startswith(("tensorflow.compat.", "tensorflow.keras")):
        return path[len("tensorflow."):], False
    return None


def _written(ref: Reference, lines: Sequence[str]) -> str:
    if ref.line == ref.end_line and 0 < ref.line <= len(lines):
        return lines[ref.line - 1][ref.col:ref.end_col]
    return ref.path


def finding_for(ref: Reference, path: str, lines: Sequence[str], line_offset: int = 0) -> Finding | None:
    """The finding for one reference, or None when it is not a TF1 construct (``tf.concat``, ``tf_keras``)."""
    if ref.kind == "feed_dict":
        row, rel, severity, reason = symbols.FEED_DICT, "", "compat", ""
        symbol = "tf.Session.run(feed_dict)"
    else:
        split = _split(ref.path)
        if split is None:
            return None
        rel, via_compat = split
        row = symbols.lookup(rel)
        if row is None:
            return None
        symbol, reason = "tf." + rel, ""
        if ref.kind == "star":
            severity, reason = "manual", "star import: the names it binds cannot be resolved; import them explicitly"
        elif ref.kind == "getattr":
            severity, symbol = "manual", symbol + ".<getattr>"
            reason = "dynamic getattr on a TF1 module: the attribute is only known at run time; check it by hand"
        elif ref.kind == "import":
            if row.home is not None or rel in ("contrib.rnn",):
                return None  # the uses of the imported name are reported where they occur
            severity, reason = "manual", "imports a tf.contrib module that has no TF2 home"
        elif row.name in ("nn.rnn_cell", "contrib.rnn", "contrib") and rel == row.name and not ref.alias_assignment:
            severity, reason = "manual", "a TF1 module used as a value: its attributes cannot be checked"
        elif ref.alias_assignment and rel == row.name and row.name in ("nn.rnn_cell", "contrib.rnn"):
            return None  # ``rnn_cell = tf.nn.rnn_cell``: the uses through the alias are reported
        elif row.home is None:
            severity = "manual"
            reason = "no home in TensorFlow 2.21 (tf.contrib is gone)"
        elif ref.binding is not None and ref.binding.via == "assign" and symbols.has_no_home(
                _split(ref.binding.target)[0] if _split(ref.binding.target) else ""):
            severity, reason = "manual", f"reached through `{ref.base}`, an alias of a module with no single TF2 home"
        elif via_compat or row.in_tf2:
            severity = "compat"
        else:
            severity = "rewrite"
    return Finding(
        path=path, line=ref.line - line_offset, col=ref.col + 1, symbol=symbol, written=_written(ref, lines),
        replacement=row.replacement, consequence=row.consequence, severity=severity, doc=row.doc, reason=reason,
    )


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
        raise SyntaxError(f"{exc.msg}{': ' + text if text else ''}. Fix the syntax, then scan again.{hint}",
                          (filename, exc.lineno, exc.offset, exc.text)) from None


def scan_source(source: str, path: str = "<string>", *, bindings: dict[str, Binding] | None = None,
                cell: int | None = None) -> list[Finding]:
    """Findings of one Python source text (raises :class:`SyntaxError` if it does not parse)."""
    tree = parse(source, path)
    if not bindings and "tensorflow" not in source:
        return []  # nothing can be bound to TensorFlow here (parsed anyway: syntax errors are still reported)
    lines = source.splitlines()
    refs = collect(tree, lines, bindings)
    out = []
    for ref in refs:
        finding = finding_for(ref, path, lines)
        if finding is not None:
            finding.cell = cell
            out.append(finding)
    return out


def read_text(path: str) -> str:
    """Read a source file as text; raise :class:`ValueError` with the reason and the remedy."""
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        raise ValueError(f"skipped: {size:,} bytes is larger than the {MAX_BYTES:,}-byte limit for a source file")
    with open(path, "rb") as fh:
        data = fh.read()
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
        bindings: dict[str, Binding] = {}  # cells share one namespace
        for c in cells:
            try:
                report.findings.extend(scan_source(c.source, path, bindings=bindings, cell=c.index))
            except SyntaxError as exc:
                report.errors.append(FileError(path, str(exc.msg), exc.lineno, c.index))
            except RecursionError:
                report.errors.append(FileError(path, "skipped: the code nests too deeply for Python's parser", None, c.index))
        return
    try:
        report.findings.extend(scan_source(text, path))
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
    """Scan files and directories. Missing paths raise :class:`migration.errors.MigrationError` (exit 2)."""
    from migration.errors import MigrationError

    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise MigrationError(f"No such file or directory: {', '.join(map(repr, missing))}. "
                             "Pass .py files, .ipynb notebooks or directories.")
    report = ScanReport()
    for path in iter_files(paths):
        scan_file(path, report)
    return report
