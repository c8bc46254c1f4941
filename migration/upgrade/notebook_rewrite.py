"""``upgrade`` for Jupyter notebooks: rewrite the code cells as one program, keep everything else.

The code cells are joined into one Python program so that an import or an alias in an early cell applies to the
later cells (``import tensorflow as tf`` in cell 1, ``tf.placeholder`` in cell 5):

1. Each code cell is preceded by a marker statement ``__rnn_migrate_cell_<token>__ = <k>`` on a line of its own
   (``<token>`` is random and absent from the notebook). A statement rather than a comment, because the Keras
   rewrite may remove a statement together with the comments above it.
2. IPython lines that are not Python (``%matplotlib inline``, ``!pip install``, ``?obj``, ``x = !ls``, every line
   of a ``%%`` cell; see :func:`migration.upgrade.notebooks.is_magic`) and ``from __future__`` imports (legal at the
   top of each cell, not in the middle of one program) are replaced line for line by
   ``pass  # __rnn_migrate_mask_<token>_<n>__`` at the same indentation; line numbers do not move.
3. :func:`migration.upgrade.upgrade_source` rewrites the joined program once.
4. The result is split on the markers, which must come back exactly once each and in order (otherwise
   :class:`NotebookRewriteError`, never a guess); the masked lines are put back, each exactly once.
5. The ``TF_USE_LEGACY_KERAS`` bootstrap, which the rewrite puts at the top of the program (before the first
   marker), is moved to the top of the cell that first imports TensorFlow. ``disable_v2_behavior()`` and
   ``import tf_keras`` are inserted after the import statement, so they are in that cell already.

Only the ``source`` of changed code cells is replaced; markdown cells, outputs, metadata, ids and the nbformat
version are kept, and the JSON is written back with the notebook's own indentation, key order and escaping.
"""
from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field

from migration.upgrade import upgrade_source
from migration.upgrade.notebooks import NotebookError, is_cell_magic, is_magic, load_json
from migration.upgrade.plan import is_header_line
from migration.upgrade.resolve import collect
from migration.upgrade.rules.legacy_keras import BOOTSTRAP
from migration.upgrade.scan import parse

_FUTURE = re.compile(r"\s*from\s+__future__\s+import\b[^(\\]*$")


class NotebookRewriteError(NotebookError):
    """The notebook cannot be rewritten safely (not nbformat 4, a syntax error, cell boundaries lost)."""


@dataclass
class NotebookCheck:
    """A manual check in a notebook: ``cell`` counts all cells from 0 (as ``scan`` reports), ``line`` is in the cell."""

    cell: int | None
    line: int
    col: int
    symbol: str
    reason: str

    def __str__(self) -> str:
        where = f"[cell {self.cell}]" if self.cell is not None else ""
        return f"{where}:{self.line}:{self.col}: {self.symbol}: {self.reason}"


@dataclass
class NotebookUpgrade:
    text: str  # the notebook JSON to write
    manual_checks: list[NotebookCheck] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # "[cell N]:line:col: old -> new"
    cells_changed: int = 0


def _cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _json_style(text: str) -> dict:
    """``json.dumps`` options that reproduce the file's own style (Jupyter: indent 1, raw UTF-8)."""
    m = re.match(r"\s*\{\r?\n([ \t]+)\S", text)
    indent: int | str | None = None
    if m:
        ws = m.group(1)
        indent = len(ws) if set(ws) == {" "} else ws
    return {"indent": indent, "ensure_ascii": not any(ord(ch) > 127 for ch in text)}


class _Program:
    """The joined program and the maps back to cells."""

    def __init__(self, sources: list[str], cell_numbers: list[int], existing: str):
        token = secrets.token_hex(6)
        while token in existing:
            token = secrets.token_hex(6)
        self.token = token
        self.marker = re.compile(rf"__rnn_migrate_cell_{token}__ = (\d+)\n?")
        self.mask = re.compile(rf"([ \t]*)pass  # __rnn_migrate_mask_{token}_(\d+)__")
        self.cell_numbers = cell_numbers
        self.masked: list[str] = []  # n -> original line (without its newline)
        self.ends_with_newline = [s.endswith("\n") or s == "" for s in sources]
        parts: list[str] = []
        for k, source in enumerate(sources):
            parts.append(f"__rnn_migrate_cell_{token}__ = {k}\n")
            whole = is_cell_magic(source)
            lines = source.split("\n")
            for i, line in enumerate(lines):
                if whole or is_magic(line) or _FUTURE.match(line):
                    indent = "" if whole else line[:len(line) - len(line.lstrip(" \t"))]
                    lines[i] = f"{indent}pass  # __rnn_migrate_mask_{token}_{len(self.masked)}__"
                    self.masked.append(line)
            body = "\n".join(lines)
            parts.append(body if not body or body.endswith("\n") else body + "\n")
        self.code = "".join(parts)

    def locate(self, code: str, line: int) -> tuple[int | None, int]:
        """(cell number, line in the cell) of a 1-based ``line`` of ``code`` (this program, rewritten or not)."""
        cell, start = None, 0
        for i, text in enumerate(code.splitlines()[:line], start=1):
            m = self.marker.fullmatch(text)
            if m:
                cell, start = self.cell_numbers[int(m.group(1))], i
        if cell is None or line <= start:
            return None, line
        return cell, line - start

    def split(self, code: str) -> tuple[str, list[str]]:
        """(text before the first cell, the rewritten cells with their masked lines restored)."""
        pieces = re.split(rf"^__rnn_migrate_cell_{self.token}__ = (\d+)\n", code, flags=re.M)
        preamble, numbers, bodies = pieces[0], pieces[1::2], pieces[2::2]
        if numbers != [str(k) for k in range(len(self.cell_numbers))]:
            raise NotebookRewriteError(
                f"the rewrite did not keep the {len(self.cell_numbers)} code cells apart (cell markers found: "
                f"{len(numbers)}); nothing was written. Export the code with `jupyter nbconvert --to script`, "
                "upgrade the .py file and copy the cells back by hand")
        used: list[int] = []

        def restore(m: re.Match) -> str:
            used.append(int(m.group(2)))
            return self.masked[int(m.group(2))]

        cells = [self.mask.sub(restore, body) for body in bodies]
        if sorted(used) != list(range(len(self.masked))):
            raise NotebookRewriteError("the rewrite lost or duplicated an IPython magic / shell line; nothing was "
                                       "written. Upgrade an nbconvert export of the code instead")
        for k, keep_newline in enumerate(self.ends_with_newline):
            if not keep_newline and cells[k].endswith("\n"):
                cells[k] = cells[k][:-1]
        return preamble, cells


def _is_header(preamble: str) -> bool:
    """True if ``preamble`` is what the rewrite puts before the first cell: the bootstrap and header imports."""
    rest = preamble[len(BOOTSTRAP):] if preamble.startswith(BOOTSTRAP) else preamble
    return all(is_header_line(line) for line in rest.splitlines())


def _first_tf_import_line(code: str) -> int | None:
    refs = collect(parse(code, "<notebook>"), code.splitlines(), {})
    lines = [r.line for r in refs if r.kind == "import"]
    return min(lines) if lines else None


def _code_cells(data: object) -> tuple[list[tuple[int, dict]], list[str]]:
    """The (index, cell) of every code cell of an nbformat 4 notebook and their sources; raises for anything else."""
    if isinstance(data, dict) and "worksheets" in data and data.get("nbformat") != 4:
        raise NotebookRewriteError(
            f"nbformat {data.get('nbformat')!r} (worksheets): only nbformat 4 notebooks are rewritten; open and "
            "re-save it in Jupyter (it converts old notebooks), or export its code with `jupyter nbconvert --to script`")
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        what = ("'cells' is null" if isinstance(data, dict) and "cells" in data and data["cells"] is None
                else "the JSON top level is not an object with a 'cells' list")
        raise NotebookRewriteError(f"not a notebook: {what}; is this an .ipynb file written by Jupyter?")
    if data.get("nbformat") != 4:
        raise NotebookRewriteError(
            f"nbformat {data.get('nbformat')!r}: only nbformat 4 notebooks are rewritten; open and re-save it "
            "in Jupyter (it converts old notebooks), or export its code with `jupyter nbconvert --to script`")
    code_cells = [(i, c) for i, c in enumerate(data["cells"]) if isinstance(c, dict) and c.get("cell_type") == "code"]
    sources = []
    for i, cell in code_cells:
        source = cell.get("source", "")
        if not isinstance(source, (str, list)) or (isinstance(source, list) and
                                                    not all(isinstance(s, str) for s in source)):
            raise NotebookRewriteError(f"cell {i}: 'source' is neither a string nor a list of strings")
        sources.append(_cell_text(cell))
    return code_cells, sources


def upgrade_notebook(text: str, to: str, filename: str = "<notebook>") -> NotebookUpgrade:
    """Rewrite the code cells of a notebook's JSON ``text``; raises :class:`NotebookError` for what cannot be read."""
    data = load_json(text)
    code_cells, sources = _code_cells(data)
    program = _Program(sources, [i for i, _ in code_cells], text)
    try:
        result = upgrade_source(program.code, to, filename)
    except (RecursionError, MemoryError):
        raise NotebookRewriteError("the code nests too deeply for Python's parser; nothing was written") from None
    except ValueError as exc:  # e.g. NUL characters in a cell
        raise NotebookRewriteError(f"the code cells cannot be parsed ({exc}); nothing was written") from None
    except SyntaxError as exc:
        cell, line = program.locate(program.code, exc.lineno or 0)
        msg = str(exc.msg).replace("__rnn_migrate", "")
        raise NotebookRewriteError(f"[cell {cell}]:{line}: {msg}") from None
    preamble, new_sources = program.split(result.code)

    bootstrap_cell: int | None = None  # position in code_cells
    shift_at = shift = 0
    if preamble:
        first = _first_tf_import_line(program.code)
        cell_number = program.locate(program.code, first)[0] if first else None
        if not _is_header(preamble) or cell_number is None:
            raise NotebookRewriteError("the rewrite put code before the first cell that is not the TF_USE_LEGACY_KERAS "
                                       f"bootstrap ({preamble!r}); nothing was written")
        bootstrap_cell = [i for i, _ in code_cells].index(cell_number)
        lines = new_sources[bootstrap_cell].splitlines(keepends=True)
        at = 0
        while at < len(lines) and _FUTURE.match(lines[at].rstrip("\r\n")):
            at += 1
        if at and not lines[at - 1].endswith("\n"):
            lines[at - 1] += "\n"
        lines[at:at] = [preamble if at < len(lines) else preamble.rstrip("\n")]
        new_sources[bootstrap_cell] = "".join(lines)
        shift_at, shift = at, preamble.count("\n")
    out = NotebookUpgrade(text)

    def where(coords: str, line: int) -> tuple[int | None, int]:
        code = {"input": program.code, "output": result.code, "compat": result.compat_code or result.code}[coords]
        cell, in_cell = program.locate(code, line)
        if coords != "input" and bootstrap_cell is not None and cell == code_cells[bootstrap_cell][0] \
                and in_cell > shift_at:
            in_cell += shift
        return cell, in_cell

    for m in result.manual_checks:
        cell, line = where(getattr(m, "coords", "input"), m.line)
        out.manual_checks.append(NotebookCheck(cell, line, m.col, m.symbol, m.reason))
    for change in result.changes:
        m = re.match(r"(\d+)(:.*)", change)
        if m is None:
            out.changes.append(change)
            continue
        if "(before TensorFlow is imported)" in change and bootstrap_cell is not None:
            cell, line = code_cells[bootstrap_cell][0], shift_at + 1
        else:
            cell, line = where("compat" if "Keras pattern" in change else "input", int(m.group(1)))
        out.changes.append(f"[cell {cell}]:{line}{m.group(2)}")

    for (i, cell), old, new in zip(code_cells, sources, new_sources):
        if new == old:
            continue
        out.cells_changed += 1
        cell["source"] = new.splitlines(keepends=True) if isinstance(cell.get("source"), list) else new
    style = _json_style(text)
    new_text = json.dumps(data, **style)
    if text.endswith("\n"):
        new_text += "\n"
    out.text = new_text
    return out
