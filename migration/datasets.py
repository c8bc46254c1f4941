"""Sentiment data, offline: the embedded Rotten Tomatoes snippets, a local ``aclImdb/`` tree, a local ``imdb.npz``.

Seed 004 turns each review into word ids the TF1 way: ``cleanSentences`` (lower case, ``<br />`` -> space, strip
everything but ``[A-Za-z0-9 ]``), then ``wordsList.index(word)`` per word, 399999 for an unknown word, 0 for padding,
``maxSeqLength`` = 250. :func:`clean_sentence` and :func:`encode` do exactly that with a dict (O(1) per word).

Two quirks of the seed kept as parameters, not fixed silently:

* padding id 0 is also the id of ``the`` in GloVe (row 0), so a padded row cannot tell ``the`` from padding; the
  true ``lengths`` returned by :func:`encode` can.
* "unknown" id 399999 is the last GloVe word (``sandberger``), not a dedicated vector.

IMDB needs a local copy (nothing downloads here): :func:`load_aclimdb` reads the real ``aclImdb/`` layout
(``train|test/pos|neg/*.txt``), :func:`load_imdb_npz` a local Keras ``imdb.npz``. The path comes from the argument,
else from the environment variable ``RNN_MIGRATE_IMDB``.

``imdb.npz`` choice: the file Keras downloads stores each split as an *object* array of Python lists, which only
pickle can read; this project never unpickles (``np.load(..., allow_pickle=False)`` everywhere: a pickle can run
arbitrary code). :func:`load_imdb_npz` therefore detects such a file from the ``.npy`` headers alone - without
reading its data - and refuses it with the way out: convert it once with :func:`save_imdb_npz`, which writes the
*ragged int32* format read here (``x_train_ids`` int32 flat + ``x_train_offsets`` int64 [N + 1] + ``y_train``, the same
for test), e.g. in a Python where you trust the file::

    import tf_keras as keras
    (xtr, ytr), (xte, yte) = keras.datasets.imdb.load_data(path="/abs/path/imdb.npz")   # Keras unpickles
    from migration.datasets import save_imdb_npz
    save_imdb_npz("imdb_int32.npz", xtr, ytr, xte, yte)
"""
from __future__ import annotations

import bz2
import csv
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from migration.core.errors import MigrationError
from migration.core.npy import MAX_HEADER_BYTES
from migration.core.outdir import atomic_write_bytes
from migration.core.regular_files import read_regular

IMDB_ENV = "RNN_MIGRATE_IMDB"
UNKNOWN_ID = 399999  # seed 004: "Vector for unknown words"
PAD_ID = 0
MAX_SEQ_LENGTH = 250  # seed 004: maxSeqLength
MAX_REVIEW_BYTES = 64 << 20  # one review; aclImdb's longest is 14 KB
ROTTEN_TOMATOES = Path(__file__).resolve().parent / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
RT_LABELS = {"fresh": 1, "rotten": 0}

_STRIP_SPECIAL_CHARS = re.compile("[^A-Za-z0-9 ]+")  # seed 004: strip_special_chars


class DatasetError(MigrationError, ValueError):
    """A dataset file or directory is missing or malformed; the message names it and the remedy."""


@dataclass(eq=False)
class TextDataset:
    """Texts with binary labels (1 = positive / fresh, 0 = negative / rotten)."""

    texts: list[str]
    labels: np.ndarray  # int32 [N]
    source: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, rows: Sequence[int] | np.ndarray) -> "TextDataset":
        rows = np.asarray(rows, dtype=np.int64)
        return TextDataset([self.texts[i] for i in rows], self.labels[rows], self.source)


@dataclass(eq=False)
class IdsDataset:
    """Ragged word-id sequences (Keras' imdb ids, not GloVe ids) with binary labels."""

    sequences: list[np.ndarray]  # each int32 [length]
    labels: np.ndarray  # int32 [N]
    source: str = ""

    def __len__(self) -> int:
        return len(self.sequences)


# ----------------------------------------------------------------------------------------------- seed 004 text

def clean_sentence(text: str) -> str:
    """Seed 004's ``cleanSentences``: lower case, ``<br />`` -> space, drop every character but ``[A-Za-z0-9 ]``."""
    text = text.lower().replace("<br />", " ")
    return re.sub(_STRIP_SPECIAL_CHARS, "", text.lower())


def encode(texts: Iterable[str], index: Mapping[str, int], max_len: int = MAX_SEQ_LENGTH, *,
           unknown_id: int = UNKNOWN_ID, pad_id: int = PAD_ID, clean: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Word ids as seed 004 builds ``ids``: int32 ``[N, max_len]`` padded at the end with ``pad_id``, and lengths.

    Each text is cleaned with :func:`clean_sentence` (unless ``clean=False``), split on whitespace, each word
    mapped through ``index`` (``unknown_id`` when absent) and cut at ``max_len`` words. ``lengths[i]`` is the number
    of ids written for text ``i`` (<= ``max_len``); the seed does not keep it, but it is the only way to tell
    padding from the word of id ``pad_id`` (``the`` in GloVe).
    """
    if max_len <= 0:
        raise ValueError(f"Received an invalid value for `max_len`: expected a positive integer, got {max_len!r}.")
    texts = list(texts)
    ids = np.full((len(texts), max_len), pad_id, dtype=np.int32)
    lengths = np.zeros(len(texts), dtype=np.int32)
    get = index.get
    for row, text in enumerate(texts):
        words = (clean_sentence(text) if clean else text).split()[:max_len]
        ids[row, :len(words)] = [get(word, unknown_id) for word in words]
        lengths[row] = len(words)
    return ids, lengths


# -------------------------------------------------------------------------------------------- Rotten Tomatoes

def load_rotten_tomatoes(path: str | os.PathLike | None = None) -> TextDataset:
    """The embedded Rotten Tomatoes snippets: ``fresh`` -> 1, ``rotten`` -> 0, ``plot`` rows skipped (file order).

    12,808 snippets (7,403 fresh, 5,405 rotten) from ``migration/data/rotten_tomatoes_corpus_full.csv.bz2``.
    """
    path = Path(path) if path is not None else ROTTEN_TOMATOES
    if not path.is_file():
        raise DatasetError(f"Rotten Tomatoes file not found: {path}. It ships with the package "
                           "(migration/data/); reinstall with `pip install -e .`.")
    texts: list[str] = []
    labels: list[int] = []
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"category", "text"} <= set(reader.fieldnames):
            raise DatasetError(f"{path}: expected the columns category,text,... got {reader.fieldnames}.")
        for row in reader:
            category = row["category"]
            if category == "plot":
                continue
            if category not in RT_LABELS:
                raise DatasetError(f"{path}:{reader.line_num}: unknown category {category!r}; expected fresh, "
                                   "rotten or plot.")
            texts.append(row["text"])
            labels.append(RT_LABELS[category])
    return TextDataset(texts, np.asarray(labels, dtype=np.int32), str(path))


def train_test_split(data: TextDataset, test_fraction: float = 0.2, *,
                     seed: int = 0) -> tuple[TextDataset, TextDataset]:
    """A deterministic, stratified split: the same ``seed`` gives the same rows on every machine.

    Each label's rows are shuffled with ``np.random.default_rng(seed)`` and the first ``round(n * test_fraction)``
    go to the test set; both sets keep file order within themselves.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"Received an invalid value for `test_fraction`: expected 0 < x < 1, got {test_fraction!r}.")
    rng = np.random.default_rng(seed)
    test_rows: list[np.ndarray] = []
    for label in np.unique(data.labels):
        rows = np.flatnonzero(data.labels == label)
        test_rows.append(rng.permutation(rows)[: int(round(len(rows) * test_fraction))])
    is_test = np.zeros(len(data), dtype=bool)
    is_test[np.concatenate(test_rows) if test_rows else []] = True
    return data.subset(np.flatnonzero(~is_test)), data.subset(np.flatnonzero(is_test))


# ------------------------------------------------------------------------------------------------------- IMDB

def _imdb_path(path: str | os.PathLike | None, what: str) -> Path:
    if path is None:
        path = os.environ.get(IMDB_ENV)
        if not path:
            raise DatasetError(f"No {what} given: pass its path, or set {IMDB_ENV}=/path/to/{what} "
                               "(IMDB cannot be downloaded here).")
    return Path(path)


def load_aclimdb(path: str | os.PathLike | None = None, split: str = "train") -> TextDataset:
    """Reviews of a local ``aclImdb/`` (Maas et al. 2011): ``split/pos/*.txt`` -> 1, then ``split/neg/*.txt`` -> 0.

    ``path`` is the ``aclImdb`` directory or its parent (default: ``$RNN_MIGRATE_IMDB``). Files are read in
    numeric order of their ``ID_RATING.txt`` names, positives first as in seed 004; ``unsup/`` is ignored.
    """
    root = _imdb_path(path, "aclImdb")
    if (root / "aclImdb").is_dir() and not (root / split).is_dir():
        root = root / "aclImdb"
    if split not in ("train", "test"):
        raise ValueError(f"Received an invalid value for `split`: expected 'train' or 'test', got {split!r}.")
    texts: list[str] = []
    labels: list[int] = []
    for sub, label in (("pos", 1), ("neg", 0)):
        folder = root / split / sub
        if not folder.is_dir():
            raise DatasetError(f"IMDB directory not found: {folder}. Expected the aclImdb layout "
                               "(aclImdb/train/pos, aclImdb/train/neg, aclImdb/test/...) under " f"{root}.")
        files = sorted(folder.glob("*.txt"), key=_review_key)
        if not files:
            raise DatasetError(f"{folder} holds no .txt reviews.")
        for file in files:  # a regular file each (a named pipe among them would block the read for ever)
            try:
                texts.append(read_regular(file, "review file", MAX_REVIEW_BYTES).decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise DatasetError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
            except MigrationError as exc:
                raise DatasetError(str(exc)) from None
            labels.append(label)
    return TextDataset(texts, np.asarray(labels, dtype=np.int32), str(root / split))


def _review_key(path: Path) -> tuple:
    stem = path.stem.split("_")
    return tuple(int(part) if part.isdigit() else 0 for part in stem) + (path.name,)


def _npz_headers(path: Path) -> dict[str, np.dtype]:
    """dtype of every array in an ``.npz``, from the ``.npy`` headers only (no data read, nothing unpickled)."""
    dtypes: dict[str, np.dtype] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            with archive.open(name) as member:
                version = np.lib.format.read_magic(member)
                header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                          else np.lib.format.read_array_header_2_0)(member, max_header_size=MAX_HEADER_BYTES)
                dtypes[name.removesuffix(".npy")] = header[2]
    return dtypes


def load_imdb_npz(path: str | os.PathLike | None = None, split: str = "train") -> IdsDataset:
    """A local ``imdb.npz`` in the ragged int32 format (see the module docstring); never unpickles.

    The Keras download (object arrays, i.e. pickles) is detected from its headers and refused with the conversion
    recipe. ``path`` defaults to ``$RNN_MIGRATE_IMDB``.
    """
    path = _imdb_path(path, "imdb.npz")
    if split not in ("train", "test"):
        raise ValueError(f"Received an invalid value for `split`: expected 'train' or 'test', got {split!r}.")
    if not path.is_file():
        raise DatasetError(f"imdb.npz not found: {path}.")
    try:
        dtypes = _npz_headers(path)
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise DatasetError(f"{path}: not a readable .npz archive ({exc}).") from None
    pickled = sorted(name for name, dtype in dtypes.items() if dtype.hasobject)
    if pickled:
        raise DatasetError(
            f"{path} stores {', '.join(pickled)} as object arrays (Python lists), which only pickle can read; "
            "rnn-migrate never unpickles (a pickle can run arbitrary code). Convert the file once, where you trust "
            "it: (xtr, ytr), (xte, yte) = tf_keras.datasets.imdb.load_data(path=...); "
            "migration.datasets.save_imdb_npz('imdb_int32.npz', xtr, ytr, xte, yte); then use imdb_int32.npz.")
    need = [f"x_{split}_ids", f"x_{split}_offsets", f"y_{split}"]
    missing = [name for name in need if name not in dtypes]
    if missing:
        raise DatasetError(f"{path}: missing arrays {missing} (has {sorted(dtypes)}); expected the ragged int32 "
                           "format written by migration.datasets.save_imdb_npz.")
    with np.load(path, allow_pickle=False, max_header_size=MAX_HEADER_BYTES) as archive:
        ids, offsets, labels = (archive[name] for name in need)
    if offsets.ndim != 1 or len(offsets) != len(labels) + 1 or offsets[0] != 0 or offsets[-1] != len(ids) \
            or np.any(np.diff(offsets) < 0):
        raise DatasetError(f"{path}: x_{split}_offsets ({offsets.shape}) does not describe x_{split}_ids "
                           f"({ids.shape}) for {len(labels)} labels; re-create the file with save_imdb_npz.")
    ids = ids.astype(np.int32, copy=False)
    sequences = [ids[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    return IdsDataset(sequences, labels.astype(np.int32), f"{path}:{split}")


def save_imdb_npz(path: str | os.PathLike, x_train: Sequence[Sequence[int]], y_train: Sequence[int],
                  x_test: Sequence[Sequence[int]], y_test: Sequence[int], *, force: bool = False) -> Path:
    """Write the ragged int32 format read by :func:`load_imdb_npz` (atomically; refuses to overwrite unless force)."""
    path = Path(path)
    if path.exists() and not force:
        raise DatasetError(f"{path} already exists; refusing to overwrite it (force=True replaces it).")
    arrays: dict[str, np.ndarray] = {}
    for split, xs, ys in (("train", x_train, y_train), ("test", x_test, y_test)):
        seqs = [np.asarray(x, dtype=np.int64) for x in xs]
        if len(seqs) != len(ys):
            raise DatasetError(f"x_{split} has {len(seqs)} sequences but y_{split} has {len(ys)} labels.")
        flat = np.concatenate(seqs) if seqs else np.empty(0, np.int64)
        if flat.size and (flat.min() < np.iinfo(np.int32).min or flat.max() > np.iinfo(np.int32).max):
            raise DatasetError(f"x_{split} holds ids beyond int32.")
        arrays[f"x_{split}_ids"] = flat.astype(np.int32)
        arrays[f"x_{split}_offsets"] = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
        arrays[f"y_{split}"] = np.asarray(ys, dtype=np.int32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_imdb(path: str | os.PathLike | None = None, split: str = "train") -> TextDataset | IdsDataset:
    """``aclImdb`` directory or ``imdb.npz`` file, by what ``path`` (default ``$RNN_MIGRATE_IMDB``) is."""
    resolved = _imdb_path(path, "aclImdb directory or imdb.npz")
    if resolved.is_dir():
        return load_aclimdb(resolved, split)
    if resolved.suffix == ".npz" or resolved.is_file():
        return load_imdb_npz(resolved, split)
    raise DatasetError(f"IMDB path not found: {resolved} (from {'the argument' if path else IMDB_ENV}).")
