"""GloVe text format reader: as fast as the pandas C parser or faster, and strict.

Format: ``word v1 ... vE`` per line, UTF-8, an optional word2vec header line ``V E``. Words may be punctuation
(``,``, ``"``, ``'s``) or look like numbers or NA markers (``nan``, ``null``): the first field is always a word. A
word containing spaces (GloVe 840B has a few) is everything before the last E fields.

Design (figures in ``docs/benchmarks.md``, ``benchmarks/bench_glove.py``):

1. The file is memory-mapped (no copy into Python ``bytes``). A UTF-8 BOM and trailing blank lines / spaces are
   cut off by offsets. The first lines (up to 101, however long they are: a first line over 64 KiB is read whole)
   give E and the optional header.
2. *Fast path*: the numeric block and the words are parsed by a C parser straight from the mapped bytes, in
   slices cut at line breaks: single-space delimiter, no quoting (``"`` is a word), no NA conversion, one row per
   line (blank lines are not skipped), so row ``i`` is line ``i + first_line``. ``engine="pyarrow"`` (the default):
   pyarrow's CSV reader on one thread a core, slices of ~10 MiB taken in file order while the next ones are parsed,
   numbers read from the Arrow buffers and words split from them without a Python loop and without importing
   pandas (:mod:`threaded`); ``engine="pandas"``: the pandas C parser (strict UTF-8); it holds the GIL, so a large
   body is cut into one range a core and each range parsed by a forked process (:mod:`forked`). Both parse the
   numbers as float64 (correctly rounded) and round them to float32 once, so every engine gives the float32 of
   Python's ``float()`` of the decimal.
3. Checks kept on the fast path: every line has exactly E + 1 fields (else the parser fails), every number parses
   with the strict grammar below (pyarrow rejects ``1_0``, ``0x10``, ``1,5``: Python's ``float()`` would accept
   ``1_0``), every word is valid UTF-8 and has no whitespace and is not empty, every number is finite, every word
   is unique, the header agrees with the file.
4. Anything irregular sends the file to the *line-by-line path*, which either reads it (words with spaces,
   trailing spaces, tabs) or raises :class:`GloveFormatError` naming the file, the line and the remedy. Errors
   therefore always carry line numbers while regular files never pay for the line loop.

Number grammar (both paths): ``[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`` or ``nan``/``inf``/
``infinity`` in any case (those then fail the finiteness check with their line number).

Twins: :mod:`migration.glove.core` (the container), :mod:`migration.glove.store` (``.npy`` pair, package, cache).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, TypeVar

import numpy as np

from migration.glove import forked, threaded
from migration.glove.core import Glove, GloveFormatError, build_index
from migration.glove.parts import Joiner, Sink

T = TypeVar("T")
ENGINES = ("auto", "pyarrow", "pandas", "python")
_SLICE = 1 << 26  # bytes per read_csv call: 64 MiB, cut at a line break (bounds the parser's working memory)
_SNIFF_LINES = 101
_SNIFF_MAX = 1 << 28  # a first line longer than 256 MiB is not a GloVe line
_WHITESPACE = b" \t\r\n\f\v"
NUMBER = re.compile(rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?i:nan|inf|infinity))")


def _fail(path: Path, line: int, problem: str, remedy: str) -> GloveFormatError:
    return GloveFormatError(f"{path}:{line}: {problem}. {remedy}")


def _is_number(token: bytes) -> bool:
    """The strict number grammar above (ASCII digits only; no ``_``, hex, commas or spaces)."""
    return NUMBER.fullmatch(token) is not None


# ------------------------------------------------------------------------------------------------ file framing

def _content_bounds(buf, size: int) -> tuple[int, int]:
    """``(start, end)`` of the content: after a UTF-8 BOM, before trailing whitespace (blank lines, spaces)."""
    start = 3 if size >= 3 and buf.slice(0, 3).to_pybytes() == b"\xef\xbb\xbf" else 0
    end = size
    while end > start:
        window = buf.slice(max(start, end - (1 << 16)), end - max(start, end - (1 << 16))).to_pybytes()
        kept = len(window.rstrip(_WHITESPACE))
        end -= len(window) - kept
        if kept:
            break
    return start, end


def _head(path: Path, buf, start: int, end: int) -> tuple[list[bytes], bool]:
    """The first (up to 101) complete lines after ``start`` and whether they reach ``end`` (the whole content).

    The window grows until it holds 102 line breaks or the content, so a first line of any length (up to 256 MiB)
    is read whole: E comes from complete lines only.
    """
    window = 1 << 16
    while True:
        n = min(window, end - start)
        head = buf.slice(start, n).to_pybytes()
        complete = start + n >= end
        lines = head.splitlines()
        if not complete and lines and not head.endswith((b"\n", b"\r")):
            lines.pop()  # the last piece is a cut line
        if complete or len(lines) > _SNIFF_LINES:
            return lines[:_SNIFF_LINES + 1], complete
        if window >= _SNIFF_MAX:
            if not lines:
                raise _fail(path, 1, f"the line is longer than {_SNIFF_MAX >> 20} MiB",
                            "This is not a GloVe text file ('word v1 ... vE' per line)")
            return lines, False
        window *= 4


def _sniff(path: Path, lines: list[bytes]) -> tuple[int | None, int, int]:
    """``(V from a word2vec header or None, E, header length in bytes incl. its line break or 0)``.

    E is the most common field count - 1 over the first 100 lines (a word with spaces only adds fields; on a tie
    the count seen first). A first line ``V E`` of two integers is a header when line 2 has E + 1 fields or there
    is no line 2.
    """
    fields = [line.split() for line in lines[:_SNIFF_LINES]]
    if fields and len(fields[0]) == 2 and all(tok.isdigit() for tok in fields[0]):
        v, e = int(fields[0][0]), int(fields[0][1])
        if len(fields) < 2 or len(fields[1]) == e + 1:
            if e < 1:
                raise _fail(path, 1, f"the word2vec header says the vectors have {e} dimensions",
                            "The header must be 'V E' with E >= 1; fix or delete line 1")
            return v, e, 1
    counts = [len(tokens) for tokens in fields if tokens]
    if not counts:
        raise _fail(path, 1, "the line is blank", "GloVe text needs 'word v1 ... vE' on every line")
    tally = Counter(counts)
    dim = max(tally, key=lambda n: (tally[n], -counts.index(n))) - 1
    if dim < 1:
        raise _fail(path, 1 + next(i for i, tokens in enumerate(fields) if len(tokens) == dim + 1),
                    "the line has a word but no numbers", "GloVe text needs 'word v1 ... vE' on every line")
    return None, dim, 0


def _after_first_line(buf, start: int, end: int) -> int:
    """Offset just after the first line break at or after ``start`` (``\\n``, ``\\r\\n`` or ``\\r``), or ``end``."""
    pos = start
    while pos < end:
        piece = buf.slice(pos, min(1 << 16, end - pos)).to_pybytes()
        match = re.search(rb"\r\n?|\n", piece)
        if match:
            stop = pos + match.end()
            if match.group() == b"\r" and match.end() == len(piece) and stop < end \
                    and buf.slice(stop, 1).to_pybytes() == b"\n":
                stop += 1  # a \r\n pair split by the window
            return stop
        pos += len(piece)
    return end


# --------------------------------------------------------------------------------------------------- the reader

def load_glove_text(path: str | os.PathLike, *, progress: bool = False, engine: str = "auto",
                    sink: Optional[Sink] = None) -> Glove:
    """Read a GloVe text file (``word v1 ... vE`` per line, UTF-8) into a :class:`Glove`.

    An optional word2vec header line ``V E`` is checked against the file. ``\\r\\n`` line ends, a UTF-8 BOM,
    trailing spaces and trailing blank lines are accepted.

    Args:
        path: the ``.txt`` file.
        progress: show a tqdm bar on stderr while parsing.
        engine: the fast path's parser: ``"auto"`` (= ``"pyarrow"``), ``"pyarrow"`` (pyarrow's CSV reader on one
            thread a core, no pandas import), ``"pandas"`` (C parser, one forked process a core) or ``"python"``
            (line by line only). All give identical results (tested); errors always come from the line-by-line
            path, with line numbers.
        sink: gets the float32 rows in file order while they are parsed (``glove import`` writes the cache's
            ``vectors.npy`` so); ``sink.restart()`` when the reader starts over on the line-by-line path.

    Raises:
        GloveFormatError: missing or empty file, ragged or blank line, unparsable or non-finite number, invalid
            UTF-8, duplicate word, header that disagrees with the file - with the file name, line and remedy.
    """
    import pyarrow as pa

    if engine not in ENGINES:
        raise ValueError(f"Received an invalid value for `engine`: expected one of {ENGINES}, got {engine!r}.")
    path = Path(path)
    if not path.is_file():
        raise GloveFormatError(f"GloVe text file not found: {path}. Give the path of e.g. glove.6B.50d.txt.")
    try:
        size = path.stat().st_size
        source = pa.memory_map(str(path), "r") if size else None
    except (OSError, pa.ArrowException) as exc:
        raise GloveFormatError(f"{path}: cannot read the file ({exc}).") from None
    try:
        buf = source.read_buffer() if source is not None else pa.py_buffer(b"")
        return _load(path, buf, size, progress, engine, sink)
    finally:
        if source is not None:
            source.close()


def _load(path: Path, buf, size: int, progress: bool, engine: str, sink: Optional[Sink] = None) -> Glove:
    start, end = _content_bounds(buf, size)
    if end <= start:
        raise GloveFormatError(f"{path}: the file is empty. Expected 'word v1 ... vE' lines (GloVe text format).")
    lines, complete = _head(path, buf, start, end)
    header_v, dim, header_lines = _sniff(path, lines)
    first_line = 1 + header_lines
    body = _after_first_line(buf, start, end) if header_lines else start
    if body >= end:
        raise GloveFormatError(f"{path}: a word2vec header but no vectors. Expected 'word v1 ... vE' lines after it.")
    if engine == "auto":
        engine = _auto_engine()
    joined = Joiner(sink)
    if engine == "pyarrow":
        ok = _fast_parse_arrow(buf, body, end, dim, progress, joined, max(map(len, lines)))
    else:
        ok = engine == "pandas" and _fast_parse_pandas(buf, body, end, dim, progress, joined)
    if not ok or not joined.all_finite():
        # Irregular file (or a non-finite number): the line-by-line path reads what is readable (words with
        # spaces, trailing spaces, tabs) and names the line of anything else.
        parsed = _slow_parse(path, buf.slice(body, end - body).to_pybytes(), dim, first_line)
        if sink is not None:
            sink.restart()
        joined = Joiner(sink)
        joined.add(*parsed)
    words = joined.words
    if header_v is not None and header_v != len(words):
        raise _fail(path, 1, f"the word2vec header says {header_v} words but the file has {len(words)}",
                    "Fix the header's first number (or delete the header line)")
    vectors = joined.vectors()
    if not joined.all_finite():
        row = int(np.argmin(np.isfinite(vectors).all(axis=1)))
        raise _fail(path, row + first_line, f"a number is not finite (nan, inf or beyond float32) in the vector "
                    f"of {words[row]!r}", "Fix or delete that line")
    if not joined.unique():
        build_index(words, str(path), lambda row: f"line {row + first_line}")  # raises, naming both lines
    return Glove(words, vectors, None, str(path), vectors_sha256=joined.sha256(), words_unique=True)


def _auto_engine() -> str:
    """``"pyarrow"``: pyarrow's reader on one thread a core (:mod:`migration.glove.threaded`) needs no pandas import
    (~0.4 s of a whole process) and no fork; ``"pandas"`` (forked C parsers) stays selectable."""
    return "pyarrow"


def _slices(buf, start: int, end: int, step: int = _SLICE) -> Iterator[tuple[int, int]]:
    """``[start, end)`` cut into pieces of about ``step`` bytes, each ending just after a ``\\n``."""
    while start < end:
        cut = start + step
        if cut >= end:
            yield start, end
            return
        piece = buf.slice(cut, min(1 << 20, end - cut)).to_pybytes()
        found = piece.find(b"\n")
        while found < 0 and cut + len(piece) < end:  # a very long line: look further
            cut += len(piece)
            piece = buf.slice(cut, min(1 << 20, end - cut)).to_pybytes()
            found = piece.find(b"\n")
        stop = end if found < 0 else cut + found + 1
        yield start, stop
        start = stop


_SPACE_IN_WORDS = re.compile("[\t\v\f\r ]")


def _plain_word_list(words: list[str]) -> bool:
    """True when no word is empty or holds ASCII whitespace (those lines go to the line-by-line path); one regex
    over the joined words (``\\n`` cannot occur in one)."""
    return "" not in words and _SPACE_IN_WORDS.search("\n".join(words)) is None


def _fast_parse_arrow(buf, start: int, end: int, dim: int, progress: bool, joined: Joiner, line_bytes: int) -> bool:
    """pyarrow's CSV reader over the mapped bytes, slice by slice on one thread a core (:mod:`threaded`), each slice
    added to ``joined`` in file order; ``False`` when the file is irregular. ``line_bytes``: the longest first line."""
    with _bar(end - start if progress else 0) as advance:
        return threaded.parse_threaded(buf, start, end, dim, joined, advance, line_bytes)


def _fast_parse_pandas(buf, start: int, end: int, dim: int, progress: bool, joined: Joiner) -> bool:
    """The pandas C parser over the mapped bytes, each piece added to ``joined`` in file order; ``False`` when the
    file is irregular. A large body on a machine with a second core is cut into one range a core, all but the first
    parsed by forked processes (:mod:`migration.glove.forked`); every range is read in slices of ~64 MiB (bounded
    working memory); the progress bar follows the parent's range, scaled to the whole body. Once the parent's piece
    is parsed, ``joined`` reserves its rows plus an upper bound of the children's (a line holds at least
    ``2 * E + 1`` bytes), so every piece is copied into place as it arrives."""
    import pandas as pd  # noqa: F401  (imported before any fork: the children inherit it)

    total = end - start if progress else 0
    if not forked.usable(end - start):
        parsed = _parse_range(buf, start, end, dim, total, 1)
        if parsed is not None:
            joined.add(*parsed)
        return parsed is not None
    ranges = _cut(buf, start, end, forked.plan(end - start, min(forked.cores(), 4)))
    bound = sum((b - a) // (2 * dim + 1) + 1 for a, b in ranges[1:])

    def parse(buf, a: int, b: int, dim: int):
        if (a, b) != ranges[0]:  # a child's piece
            return _parse_range(buf, a, b, dim, 0, 1)
        parsed = _parse_range(buf, a, b, dim, total, (end - start) / max(1, b - a))
        if parsed is not None:
            joined.reserve(len(parsed[0]) + bound, dim)
        return parsed

    return forked.parse_forked(buf, ranges, dim, parse, joined.add)


def _cut(buf, start: int, end: int, sizes: list[int]) -> list[tuple[int, int]]:
    """``[start, end)`` cut into line-aligned ranges of about ``sizes`` bytes (empty ones left out)."""
    ranges = []
    for size in sizes[:-1]:
        if start >= end:
            break
        stop = next(_slices(buf, start, end, max(1, size)))[1]
        ranges.append((start, stop))
        start = stop
    if start < end:
        ranges.append((start, end))
    return ranges


def _parse_range(buf, start: int, end: int, dim: int, total: int,
                 scale: float) -> tuple[list[str], np.ndarray] | None:
    """``[start, end)`` in slices of ~64 MiB; a bar of ``total`` bytes advanced by ``scale`` x each slice."""
    words: list[str] = []
    blocks: list[np.ndarray] = []
    for a, b in _progress(_slices(buf, start, end), total, lambda ab: min(total, scale * (ab[1] - ab[0]))):
        parsed = _parse_pandas_piece(buf, a, b, dim)
        if parsed is None:
            return None
        words.extend(parsed[0])
        blocks.append(parsed[1])
    return words, blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def _parse_pandas_piece(buf, a: int, b: int, dim: int) -> tuple[list[str], np.ndarray] | None:
    """The whole lines ``[a, b)``: (words, float32 rows), or ``None`` when they are irregular."""
    import csv

    import pandas as pd
    import pyarrow as pa

    try:
        chunk = pd.read_csv(
            pa.BufferReader(buf.slice(a, b - a)), sep=" ", header=None, names=list(range(dim + 1)),
            dtype={0: object}, quoting=csv.QUOTE_NONE, doublequote=False, escapechar=None, comment=None,
            engine="c", na_filter=False, keep_default_na=False, skip_blank_lines=False, encoding="utf-8",
            encoding_errors="strict")
        if not isinstance(chunk.index, pd.RangeIndex) or chunk.shape[1] != dim + 1:
            return None  # pandas took a column as the index: more fields than names on every line
        if not all(chunk[j].dtype.kind in "fiu" for j in range(1, dim + 1)):
            return None  # a column that is not all numbers (e.g. "x" or an empty field)
        words = chunk[0].tolist()  # str objects: the word column is typed object, never converted
        if not _plain_word_list(words):
            return None
        # Parsed as float64, then rounded to float32 in one conversion of the frame's float columns (pandas' own
        # float32 parsing is 2x slower; a column-by-column copy 10x slower than this). The result is in Fortran
        # order: its consumer makes it C-order in the copy it makes anyway (a child into its map, the Joiner).
        with np.errstate(over="ignore"):  # beyond float32 -> inf -> reported as not finite
            block = chunk.iloc[:, 1:].to_numpy(np.float32)
    except (ValueError, TypeError, pd.errors.ParserError, UnicodeDecodeError, pa.ArrowException):
        return None  # ragged line, unparsable number, invalid UTF-8 (pandas' messages lack our line numbers)
    return words, block


@contextlib.contextmanager
def _bar(total: int) -> Iterator[Callable[[int], None]]:
    """``advance(bytes)`` of a tqdm bar on stderr of ``total`` bytes (a no-op when ``total`` is 0)."""
    if not total:
        yield lambda n: None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, desc="parsing GloVe", file=sys.stderr, leave=False) as bar:
        yield bar.update


def _progress(chunks: Iterable[T], total: int, size: Callable[[T], int]) -> Iterator[T]:
    """Yield ``chunks``; with ``total`` > 0, advance a tqdm bar on stderr by ``size(chunk)`` bytes."""
    if not total:
        yield from chunks
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, desc="parsing GloVe", file=sys.stderr, leave=False) as bar:
        for chunk in chunks:
            yield chunk
            bar.update(size(chunk))


# ---------------------------------------------------------------------------------------- line-by-line path

def _slow_parse(path: Path, data: bytes, dim: int, first_line: int) -> tuple[list[str], np.ndarray]:
    """Line by line: words with spaces, trailing spaces, tabs; or the precise error with the line number.

    ``data`` starts at line ``first_line`` and has no trailing blank lines.
    """
    words: list[str] = []
    numbers: list[bytes] = []
    for lineno, raw in enumerate(data.splitlines(), start=first_line):
        tokens = raw.split()
        if len(tokens) < dim + 1:
            what = "is blank" if not tokens else f"has {len(tokens)} fields"
            raise _fail(path, lineno, f"the line {what}: expected a word and {dim} numbers "
                        f"({dim + 1} space-separated fields, as on line {first_line})",
                        "Fix or delete that line; every vector must have the same length")
        if len(tokens) > dim + 1 and all(_is_number(tok) for tok in tokens[1:-dim]):
            raise _fail(path, lineno, f"the line has {len(tokens)} fields: expected a word and {dim} numbers "
                        f"({dim + 1} fields, as on line {first_line})",
                        "Fix or delete that line (a word containing spaces must not end in a number)")
        try:
            words.append(b" ".join(tokens[:-dim]).decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise _fail(path, lineno, f"the word is not valid UTF-8 ({exc.reason} at byte {exc.start})",
                        "Re-encode the file as UTF-8") from None
        numbers.append(b" ".join(tokens[-dim:]))
    return words, _parse_numbers(path, numbers, dim, first_line)


def _parse_numbers(path: Path, numbers: list[bytes], dim: int, first_line: int) -> np.ndarray:
    """Parse ``dim`` numbers per line (space separated, already split right); an error names the line and field."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    read, parse, convert = threaded.arrow_options(dim, with_word=False, threads=True)
    try:  # the tokens hold no whitespace (split above), where pyarrow's grammar is the strict one (tested)
        table = pcsv.read_csv(pa.py_buffer(b"\n".join(numbers) + b"\n"), read_options=read,
                              parse_options=parse, convert_options=convert)
    except (pa.ArrowException, ValueError) as exc:
        for offset, line in enumerate(numbers):
            for j, tok in enumerate(line.split(b" ")):
                if not _is_number(tok):
                    raise _fail(path, first_line + offset, f"number {j + 1} of the vector, "
                                f"{tok.decode(errors='replace')!r}, is not a number", "Fix or delete that line") \
                        from None
        raise GloveFormatError(f"{path}: a number could not be parsed ({exc}). Fix the file's numbers.") from None
    vectors = np.empty((table.num_rows, dim), dtype=np.float32)
    if not threaded.float_rows(table.columns, vectors):
        raise GloveFormatError(f"{path}: a number could not be parsed. Fix the file's numbers.")
    return vectors
