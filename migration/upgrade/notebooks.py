"""Jupyter notebooks: the code cells as Python sources, with a map back to (cell, line)."""
from __future__ import annotations

import json
from dataclasses import dataclass


class NotebookError(ValueError):
    """The file is not a notebook this tool can read (not JSON, no ``cells`` list)."""


@dataclass
class Cell:
    """One code cell: ``index`` counts all cells (markdown too) from 0, as Jupyter shows them."""

    index: int
    source: str


def _is_magic(line: str) -> bool:
    return line.lstrip().startswith(("%", "!"))


def _clean(source: str) -> str:
    """Blank out IPython magics and shell escapes (``%matplotlib inline``, ``!pip``) so that ``ast`` can parse the cell.

    Lines are kept (replaced by empty lines) so that line numbers stay right. A ``%%`` cell magic blanks the whole cell.
    """
    lines = source.split("\n")
    if lines and lines[0].lstrip().startswith("%%"):
        return "\n" * (len(lines) - 1)
    return "\n".join("" if _is_magic(line) else line for line in lines)


def read_cells(text: str) -> list[Cell]:
    """The code cells of a notebook's JSON text (nbformat 4, or nbformat 3 worksheets)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); open and re-save it in Jupyter, "
            "or export its code with `jupyter nbconvert --to script`"
        ) from None
    if not isinstance(data, dict):
        raise NotebookError("not a notebook: the JSON top level is not an object with a 'cells' list")
    cells = data.get("cells")
    if cells is None and isinstance(data.get("worksheets"), list):  # nbformat 3
        cells = [c for ws in data["worksheets"] if isinstance(ws, dict) for c in ws.get("cells", [])]
    if not isinstance(cells, list):
        raise NotebookError("not a notebook: no 'cells' list; is this an .ipynb file written by Jupyter?")
    out: list[Cell] = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        if isinstance(source, list):
            source = "".join(str(s) for s in source)
        out.append(Cell(index, _clean(str(source))))
    return out
