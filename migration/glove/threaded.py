"""Parse a GloVe file's body with pyarrow's CSV reader on one thread a core, without importing pandas.

The body is cut into line-aligned slices of about :data:`SLICE_BYTES`; a pool of one thread a core parses them
(``pyarrow.csv.read_csv`` with ``use_threads=False`` and blocks of :data:`BLOCK_BYTES`: it releases the GIL while it
tokenizes and converts, so two threads use two cores, with no fork and nothing copied between processes). This
thread takes the parsed slices in file order, at most ``workers + 1`` of them ahead, and for each one:

* copies the 50 float64 columns straight into the caller's reserved C-order float32 rows
  (:meth:`migration.glove.parts.Joiner.slot`): the numbers are read as numpy views of the Arrow buffers, so neither
  ``Array.to_numpy`` nor ``to_pylist`` runs (both import pandas, ~0.4 s of a whole ``glove import`` process);
* turns the word column into Python strings without a loop in Python: the UTF-8 bytes of the words (Arrow checked
  them) are spread out with a ``\\n`` after each word (one NumPy scatter), decoded once and split once;
* hands both to the :class:`~migration.glove.parts.Joiner` (uniqueness, finiteness, SHA-256), while the pool parses
  the next slices.

Numbers are parsed as float64 (correctly rounded, like Python's ``float()``) and then rounded to float32: a decimal
becomes ``np.float32(float(text))``, the value pandas' parser gave before (a direct float32 parse would differ from
it on decimals close to a float32 halfway point: ``tests/glove/test_glove_threaded.py`` pins hand-picked ones).

A slice the parser refuses (a ragged or blank line, a field that is not a number, invalid UTF-8) or a word that is
empty or holds whitespace gives ``False``: the caller then takes the line-by-line path, which names the line.
"""
from __future__ import annotations

import collections
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Optional

import numpy as np

from migration.glove import forked
from migration.glove.parts import Joiner

#: bytes a slice (one ``read_csv`` call on a worker thread); the last ``2 * SLICE_BYTES`` bytes in quarter slices,
#: so that the serial tail after the last slice is short
SLICE_BYTES = 10 << 20
#: pyarrow's block size inside a slice (1 MiB: its float64 columns stay in cache while they are copied)
BLOCK_BYTES = 1 << 20
#: parsing threads at most: this thread takes ~1/4 of a slice's parse time to check and store it, so more workers
#: would wait for it (and each holds up to two parsed slices in memory)
MAX_WORKERS = 4
_NOT_IN_A_WORD = np.zeros(256, dtype=bool)
_NOT_IN_A_WORD[list(b" \t\n\v\f\r")] = True


def arrow_options(dim: int, *, with_word: bool = True, block_bytes: int = BLOCK_BYTES, threads: bool = False):
    """pyarrow CSV options: single-space delimiter, no quoting (``"`` is a GloVe word), no nulls, float64 numbers
    (rounded to float32 afterwards: :func:`float_rows`), the word column UTF-8-checked."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    names = (["word"] if with_word else []) + [f"v{i}" for i in range(dim)]
    types = {name: pa.float64() for name in names}
    if with_word:
        types["word"] = pa.string()
    read = pcsv.ReadOptions(column_names=names, use_threads=threads, block_size=block_bytes)
    parse = pcsv.ParseOptions(delimiter=" ", quote_char=False, double_quote=False, escape_char=False,
                              newlines_in_values=False, ignore_empty_lines=False)
    convert = pcsv.ConvertOptions(column_types=types, strings_can_be_null=False, null_values=[],
                                  quoted_strings_can_be_null=False, check_utf8=True)
    return read, parse, convert


def float_rows(columns, out: np.ndarray) -> bool:
    """Copy float64 Arrow columns (``ChunkedArray`` each) into ``out`` (``[rows, len(columns)]`` float32), column
    ``j`` into ``out[:, j]``, rounding each value to float32 (beyond float32 -> inf, reported later as not finite).
    ``False`` when the shapes disagree, a column holds a null or a chunk is not float64 (never for a table parsed
    with :func:`arrow_options`). (Copying a block of all columns at a time instead was not faster: measured.)"""
    if len(columns) != out.shape[1] or any(len(column) != out.shape[0] for column in columns):
        return False
    with np.errstate(over="ignore"):
        for j, column in enumerate(columns):
            row = 0
            for chunk in column.chunks:
                validity, data = chunk.buffers()[:2]
                n = len(chunk)
                if validity is not None and chunk.null_count or str(chunk.type) != "double" or data is None:
                    return False
                out[row:row + n, j] = np.frombuffer(data, dtype=np.float64, count=n, offset=8 * chunk.offset)
                row += n
    return True


def word_text(column) -> Optional[bytes]:
    """The words of an Arrow string column as UTF-8 bytes, each followed by ``\\n``; ``None`` when a word is empty
    or holds whitespace (the line-by-line path reads or names those lines)."""
    parts = []
    for chunk in column.chunks:
        validity, offsets, data = chunk.buffers()
        n = len(chunk)
        if validity is not None and chunk.null_count:
            return None
        if n == 0:
            continue
        ends = np.frombuffer(offsets, dtype=np.int32, count=n + 1, offset=4 * chunk.offset)
        first, stop = int(ends[0]), int(ends[-1])
        raw = np.frombuffer(data, dtype=np.uint8, count=stop - first, offset=first) if stop > first else \
            np.empty(0, np.uint8)
        lengths = np.diff(ends)
        if not lengths.all() or _NOT_IN_A_WORD[raw].any():
            return None
        spread = np.full(raw.size + n, 10, dtype=np.uint8)  # 10 = "\n": the byte after each word
        spread[np.arange(raw.size) + np.repeat(np.arange(n), lengths)] = raw
        parts.append(spread.tobytes())
    return b"".join(parts)


def slices(buf, start: int, end: int, step: int, tail: int = 0) -> list[tuple[int, int]]:
    """``[start, end)`` cut into pieces of about ``step`` bytes, each ending just after a ``\\n`` (or at ``end``);
    within the last ``tail`` bytes, pieces of about ``step // 4`` (the last pieces are parsed while fewer are left to
    parse beside them: small ones leave a core idle for less time)."""
    out = []
    while start < end:
        cut = start + (step if end - start > tail else max(1, step // 4))
        if cut >= end:
            out.append((start, end))
            break
        found = -1
        while found < 0 and cut < end:
            window = buf.slice(cut, min(1 << 16, end - cut)).to_pybytes()
            found = window.find(b"\n")
            cut += len(window) if found < 0 else found + 1
        out.append((start, cut if found >= 0 else end))
        start = out[-1][1]
    return out


def parse_threaded(buf, start: int, end: int, dim: int, joined: Joiner,
                   advance: Callable[[int], None] = lambda n: None, line_bytes: int = 0) -> bool:
    """Parse the lines ``[start, end)`` of ``buf`` (a ``pyarrow.Buffer``) into ``joined`` in file order (slices
    parsed on a pool of one thread a core); ``advance(bytes)`` after each slice; ``False`` when the body is
    irregular (``joined`` may then hold its first slices: the caller discards it). ``line_bytes``: the longest
    line seen so far (pyarrow refuses a line longer than its block, so the block is at least 4x that)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    read, parse, convert = arrow_options(dim, block_bytes=max(BLOCK_BYTES, 4 * line_bytes))
    pieces = slices(buf, start, end, SLICE_BYTES, tail=2 * SLICE_BYTES)
    joined.reserve((end - start) // (2 * dim + 1) + 1, dim)  # a line holds at least 2 * E + 1 bytes

    def job(piece: tuple[int, int]):
        a, b = piece
        try:
            return pcsv.read_csv(pa.BufferReader(buf.slice(a, b - a)), read_options=read, parse_options=parse,
                                 convert_options=convert)
        except (pa.ArrowException, ValueError):
            return None  # ragged or blank line, a field that is not a number, invalid UTF-8

    workers = max(1, min(forked.cores(), MAX_WORKERS, len(pieces)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="glove-parse") as pool:
        try:
            for (a, b), table in zip(pieces, _in_order(pool, job, pieces, workers + 1)):
                if not _take(table, dim, joined):
                    return False
                advance(b - a)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return True


def _in_order(pool: ThreadPoolExecutor, job, items: list, ahead: int) -> Iterator:
    """``job(item)`` for every item, in order, with at most ``ahead`` submitted and not yet taken."""
    pending: collections.deque = collections.deque()
    todo = iter(items)
    for item in todo:
        pending.append(pool.submit(job, item))
        if len(pending) >= ahead:
            break
    while pending:
        result = pending.popleft().result()
        for item in todo:
            pending.append(pool.submit(job, item))
            break
        yield result


def _take(table, dim: int, joined: Joiner) -> bool:
    """One parsed slice into ``joined``: its rows into the reserved slot, its words as strings."""
    if table is None or table.num_columns != dim + 1:
        return False
    text = word_text(table.column(0))
    if text is None:
        return False
    rows = joined.slot(table.num_rows, dim)
    if not float_rows(table.columns[1:], rows):
        return False
    words = text.decode("utf-8").split("\n")
    words.pop()  # the empty string after the last "\n"
    joined.add(words, rows)
    return True
