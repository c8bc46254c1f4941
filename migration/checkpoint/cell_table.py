"""The cell table of the recognizer: every checkpoint layout of every cell family (:mod:`migration.families`),
and how a variable path is read as (block scope, direction, layer, cell directory).

Above the cell directory: ``multi_rnn_cell/cell_k`` (layer k of a ``MultiRNNCell``; pre-TF-1.0 ``MultiRNNCell/Cell0``),
then ``fw``/``bw`` (a bidirectional pair; ``BiRNN/FW``), then the block scope (``rnn``, ``encoder``, ``model/rnn`` ...).
"""
from __future__ import annotations

import re
from typing import Optional

from migration.checkpoint.reader import VariableInfo
from migration.core.errors import MigrationError, ShapeError
from migration.families import cell_layouts, family, recognized_family

#: (cell directory name, kind, required variables, optional variables): every layout of every row of
#: :mod:`migration.families`, in table order; renames to the names the kind's converter reads (by (cell directory,
#: first required name)) and per-directory hyper-parameter defaults (used when the ``.meta`` does not give them).
CELL_TABLE: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = tuple(
    (layout.dirname, recognized_family((row, layout)).kind, layout.required, layout.optional)
    for row, layout in cell_layouts())
CELL_RENAMES: dict[tuple[str, str], dict[str, str]] = {
    (layout.dirname, layout.required[0]): dict(layout.renames) for _row, layout in cell_layouts() if layout.renames}
CELL_DEFAULTS: dict[str, dict[str, object]] = {}
#: (cell directory, first required name) -> which further names the layout holds (block-numbered names)
CELL_ACCEPTS = {(layout.dirname, layout.required[0]): layout.accepts for _row, layout in cell_layouts()
                if layout.accepts is not None}
for _row, _layout in cell_layouts():
    if _layout.defaults:
        CELL_DEFAULTS.setdefault(_layout.dirname, {}).update(_layout.defaults)


#: directory names that only RNN cells use (``rnnlm/softmax_w`` is not RNN-like: a variable scope named ``rnnlm``)
RNN_WORDS = re.compile(r"^(rnn|bidirectional_rnn|fw|bw|multi_rnn_cell|cell_\d+)$|_cell(_\d+)?$|"
                        r"^(basic_)?(lstm|gru)(_cell)?(_\d+)?$", re.I)

def cell_path(key: str) -> Optional[tuple[str, int]]:
    """If ``key`` is the first required variable of a table row, return (cell path, row index)."""
    for i, (dirname, _kind, required, _opt) in enumerate(CELL_TABLE):
        suffix = "/" + required[0]
        if not key.endswith(suffix):
            continue
        path = key[: -len(suffix)]
        if re.fullmatch(re.escape(dirname) + r"(_\d+)?", path.rsplit("/", 1)[-1]):
            return path, i
    return None


def cell_candidates(key: str) -> list[tuple[str, int]]:
    """Every (cell path, row index) whose row has ``key`` as its first required variable (a directory can have
    several layouts: current names, pre-TF-1.2 names, layer_norm on/off)."""
    out = []
    for i, (dirname, _kind, required, _opt) in enumerate(CELL_TABLE):
        suffix = "/" + required[0]
        path = key[: -len(suffix)]
        if key.endswith(suffix) and re.fullmatch(re.escape(dirname) + r"(_\d+)?", path.rsplit("/", 1)[-1]):
            out.append((path, i))
    return out


def parse_path(path: str) -> tuple[str, str, int, str]:
    """cell path -> (block scope, direction, layer, rel path). Pre-TF-1.0 spellings ``MultiRNNCell/Cell0`` and
    ``BiRNN/FW``, ``BW`` are read like ``multi_rnn_cell/cell_0`` and ``fw``, ``bw``."""
    comps = path.split("/")
    rest = comps[:-1]
    layer = 0
    if len(rest) >= 2 and rest[-2] == "multi_rnn_cell" and re.fullmatch(r"cell_\d+", rest[-1]):
        layer = int(rest[-1][5:])
        rest = rest[:-2]
    elif len(rest) >= 2 and rest[-2] == "MultiRNNCell" and re.fullmatch(r"Cell\d+", rest[-1]):
        layer = int(rest[-1][4:])
        rest = rest[:-2]
    direction = ""
    if rest and rest[-1] in ("fw", "bw", "FW", "BW"):
        direction = rest[-1].lower()
        rest = rest[:-1]
    scope = "/".join(rest)
    rel = path[len(scope) + 1:] if scope else path
    return scope, direction, layer, rel


def listed(row: int, name: str) -> bool:
    """True when table row ``row`` holds a variable ``name`` (listed, or accepted by the layout's rule)."""
    dirname, _kind, required, optional = CELL_TABLE[row]
    accepts = CELL_ACCEPTS.get((dirname, required[0]))
    return name in required + optional or bool(accepts and accepts(name))


def units_and_input(kind: str, names: dict[str, str], vs: dict[str, VariableInfo]) -> tuple[int, int, Optional[int]]:
    """(units, input size, num_proj) from the shapes (the family's ``dims`` hook); raises ShapeError naming the
    variable."""
    return family(kind).dims(names, lambda n: vs[names[n]].shape)  # type: ignore[misc]


#: dtypes an RNN weight may be stored in: converted exactly to float32 (float64 only when no value rounds)
FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")


def check_cell_variables(kind: str, names: dict[str, str], vs: dict[str, VariableInfo]) -> None:
    """Every variable of a recognized cell is a floating-point kernel (2-D) or vector (1-D) with no zero-size axis."""
    for name, key in names.items():
        info = vs[key]
        if info.dtype not in FLOAT_DTYPES:
            raise MigrationError(
                f"Variable {key!r} of the {kind} cell has dtype {info.dtype}; RNN weights are floating point "
                f"({', '.join(FLOAT_DTYPES)}). The checkpoint was not written by a TF1 RNN cell or is damaged; "
                "`rnn-migrate inspect` lists its variables."
            )
        rank = 2 if name.endswith("kernel") or name == "W" or name in family(kind).matrices else 1
        if len(info.shape) != rank:
            raise ShapeError(f"Received an invalid shape for {key!r}: expected a {rank}-D "
                             f"{'kernel' if rank == 2 else 'vector'} for a {kind} cell, got {list(info.shape)}.")
        if 0 in info.shape:
            raise ShapeError(f"Received an invalid shape for {key!r}: {list(info.shape)} has a zero-size axis (a cell "
                             "with zero units or zero inputs); there is nothing to convert.")


def is_rnn_like(key: str) -> bool:
    """True when a directory of ``key`` looks like an RNN scope (``rnn``, ``fw``, ``cell_0``, ``*_cell``, ``lstm``...)."""
    return any(RNN_WORDS.search(c) for c in key.split("/")[:-1])
