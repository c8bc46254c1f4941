"""Jupyter notebooks: the code cells as Python sources, with a map back to (cell, line)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass


class NotebookError(ValueError):
    """The file is not a notebook this tool can read (not JSON, no ``cells`` list)."""


@dataclass
class Cell:
    """One code cell: ``index`` counts all cells (markdown too) from 0, as Jupyter shows them."""

    index: int
    source: str


_HELP = re.compile(r"\s*(\?{1,2}[\w.]+|[\w.]+\?{1,2})\s*")  # ``?obj``, ``obj?``, ``obj??``
_ASSIGNED_MAGIC = re.compile(r"\s*[\w.]+\s*=\s*[%!]")  # ``files = !ls``, ``t = %timeit -o f()``


def is_magic(line: str) -> bool:
    """True for an IPython line that is not Python: ``%magic``, ``!shell``, ``?obj`` / ``obj?``, ``x = !cmd``."""
    return (line.lstrip().startswith(("%", "!")) or _HELP.fullmatch(line) is not None
            or _ASSIGNED_MAGIC.match(line) is not None)


def is_cell_magic(source: str) -> bool:
    """True when the cell starts with a ``%%`` cell magic (``%%bash``, ``%%time``): the whole cell is not Python."""
    return source.lstrip(" \t").startswith("%%")


def _clean(source: str) -> str:
    """Blank out IPython magics and shell escapes (``%matplotlib inline``, ``!pip``) so that ``ast`` can parse the cell.

    Lines are kept (replaced by empty lines) so that line numbers stay right. A ``%%`` cell magic blanks the whole cell.
    """
    lines = source.split("\n")
    if is_cell_magic(source):
        return "\n" * (len(lines) - 1)
    return "\n".join("" if is_magic(line) else line for line in lines)


def load_json(text: str) -> object:
    """The notebook's JSON, or :class:`NotebookError` saying why it cannot be read."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); open and re-save it in Jupyter, "
            "or export its code with `jupyter nbconvert --to script`"
        ) from None
    except RecursionError:
        raise NotebookError("not a notebook: the JSON nests too deeply to be read") from None
    return data


def read_cells(text: str) -> list[Cell]:
    """The code cells of a notebook's JSON text (nbformat 4, or nbformat 3 worksheets)."""
    data = load_json(text)
    if not isinstance(data, dict):
        raise NotebookError("not a notebook: the JSON top level is not an object with a 'cells' list")
    cells = data.get("cells")
    if cells is None and isinstance(data.get("worksheets"), list):  # nbformat 3
        cells = []
        for ws in data["worksheets"]:
            inner = ws.get("cells") if isinstance(ws, dict) else None
            if not isinstance(inner, list):
                raise NotebookError("not a notebook: an nbformat 3 worksheet has no 'cells' list; re-save it in "
                                    "Jupyter (it converts old notebooks)")
            cells.extend(inner)
    if not isinstance(cells, list):
        raise NotebookError(f"not a notebook: 'cells' is {type(cells).__name__ if cells is not None else 'missing or null'}"
                            ", not a list; is this an .ipynb file written by Jupyter?")
    out: list[Cell] = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        if isinstance(source, list):
            if not all(isinstance(s, str) for s in source):
                raise NotebookError(f"cell {index}: 'source' is a list with non-string items; re-save it in Jupyter")
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError(f"cell {index}: 'source' is {type(source).__name__}, not a string or a list of "
                                "strings; re-save it in Jupyter")
        out.append(Cell(index, _clean(source)))
    return out
