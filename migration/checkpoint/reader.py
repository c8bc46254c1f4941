"""Checkpoint files: resolve a prefix or directory, validate the files, list variables, stream tensors one at a time.

A TF1 ``Saver`` checkpoint is a prefix ``P`` with ``P.index`` (names, shapes, dtypes, offsets), one or more data
shards ``P.data-0000k-of-0000N`` and, optionally, ``P.meta`` (the MetaGraphDef). A directory may hold a ``checkpoint``
state file naming the latest prefix. Nothing here executes a graph or unpickles anything. The index is read and
validated without TensorFlow (:func:`migration.checkpoint.index_check.validate_index`, on
:mod:`migration.core.tfproto`), so listing the variables (``inspect``) never imports it; tensors are read with
``tf.train.load_checkpoint`` one name at a time (TensorFlow imported on the first :meth:`CheckpointReader.read`), or, for :meth:`CheckpointReader.write_npy`, copied chunk by chunk
from the bundle's own bytes with flat memory and CRC checks (:mod:`migration.core.bundle_stream`).
"""
from __future__ import annotations

import dataclasses
import glob
import os
import re
import threading
from typing import Callable, Iterator, Optional

import numpy as np
from google.protobuf import text_format

from migration.checkpoint.index_check import validate_index
from migration.core.errors import MigrationError
from migration.core.regular_files import check_regular, read_regular
from migration.core.tfproto import CheckpointState
from migration.core.tfproto.ndarray import DTYPE_NAMES, ITEM_BYTES

#: dtype name -> bytes per element in a data file, for the fixed-size dtypes (``bfloat16`` too, without ml_dtypes)
_ITEM_BYTES = {DTYPE_NAMES[number]: size for number, size in ITEM_BYTES.items()}

_DATA_RE = re.compile(r"\.data-(\d{5})-of-(\d{5})$")
_SUFFIXES = (".index", ".meta")


@dataclasses.dataclass(frozen=True)
class VariableInfo:
    """One checkpoint entry: name, shape and dtype name (``float32``, ``int64`` ...)."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def nbytes(self) -> int:
        if self.dtype not in _ITEM_BYTES:  # strings, resources, variants: no fixed size
            return 0
        return int(np.prod(self.shape, dtype=np.int64)) * _ITEM_BYTES[self.dtype]


def resolve_prefix(path: str | os.PathLike) -> str:
    """Return the checkpoint prefix for ``path``: a prefix, one of its files, or a directory with a state file."""
    path = os.fspath(path)
    if os.path.isdir(path):
        state = os.path.join(path, "checkpoint")
        if not os.path.exists(state):
            indexes = sorted(glob.glob(os.path.join(glob.escape(path), "*.index")))
            hint = f" It holds {[os.path.basename(i)[:-6] for i in indexes][:5]}: pass one prefix." if indexes else ""
            raise MigrationError(
                f"Directory {path!r} has no 'checkpoint' state file.{hint} Pass a checkpoint prefix such as "
                f"{os.path.join(path, 'model.ckpt-1000')!r} (the part before .index)."
            )
        prefix = _latest_from_state(state, path)
        if prefix is None:
            raise MigrationError(
                f"The state file {state!r} names no checkpoint whose files exist. Pass the prefix explicitly, or "
                "fix `model_checkpoint_path` in that file."
            )
        return prefix
    for suffix in _SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    match = _DATA_RE.search(path)
    return path[: match.start()] if match else path


#: A ``checkpoint`` state file is a few lines of text; anything larger is refused before it is read.
MAX_STATE_BYTES = 1 << 20


def _latest_from_state(state: str, directory: str) -> Optional[str]:
    """The prefix a text state file names (``tf.train.latest_checkpoint``'s rule, without its unbounded read): the
    file must be a regular file of at most :data:`MAX_STATE_BYTES`, UTF-8, a ``CheckpointState`` text proto;
    ``None`` when the prefix it names has no files."""
    raw = read_regular(state, "checkpoint state file", MAX_STATE_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MigrationError(
            f"Cannot read the checkpoint state file {state!r}: it is not UTF-8 text. It should be a small text file "
            "with a line `model_checkpoint_path: \"model.ckpt-1000\"`; fix or delete it, or pass the checkpoint "
            "prefix itself.") from None
    try:
        ckpt = text_format.Parse(text, CheckpointState())
    except Exception as exc:  # google.protobuf.text_format.ParseError and friends
        raise MigrationError(
            f"Cannot parse the checkpoint state file {state!r}: {_first_line(exc)}. It should hold a line "
            "`model_checkpoint_path: \"model.ckpt-1000\"`; fix or delete it, or pass the checkpoint prefix itself."
        ) from None
    if not ckpt.model_checkpoint_path:
        return None
    prefix = ckpt.model_checkpoint_path
    if not os.path.isabs(prefix):
        prefix = os.path.join(directory, prefix)
    return prefix if os.path.lexists(prefix + ".index") or os.path.lexists(prefix) else None


_ALIASES: dict[str, str] = {}


def _glob_free(prefix: str) -> str:
    """``prefix`` itself, or for a prefix with glob characters (``model[1]*.ckpt``, which TensorFlow's reader and
    Saver would expand as a pattern) a private directory of symlinks to its files under a literal name."""
    if not glob.has_magic(prefix):
        return prefix
    if prefix not in _ALIASES:
        import atexit
        import shutil
        import tempfile

        root = tempfile.mkdtemp(prefix="rnn-migrate-ckpt-")
        atexit.register(shutil.rmtree, root, True)
        alias = os.path.join(root, re.sub(r"[*?\[\]]", "_", os.path.basename(prefix)) or "model.ckpt")
        for path in glob.glob(glob.escape(prefix) + ".*"):
            os.symlink(os.path.abspath(path), alias + path[len(prefix):])
        _ALIASES[prefix] = alias
    return _ALIASES[prefix]


def data_files(prefix: str) -> list[str]:
    """The data shards of ``prefix``; raises if any shard named by the file pattern is missing."""
    found = sorted(glob.glob(glob.escape(prefix) + ".data-*-of-*"))
    if not found:
        raise MigrationError(
            f"Missing data file {prefix + '.data-00000-of-00001'!r} for checkpoint {prefix!r}: the .index lists the "
            "tensors but their values live in the .data file(s). Copy every file of the save, not only the .index."
        )
    total = int(_DATA_RE.search(found[0]).group(2))
    expected = [f"{prefix}.data-{k:05d}-of-{total:05d}" for k in range(total)]
    missing = [p for p in expected if not os.path.exists(p)]
    if missing:
        raise MigrationError(
            f"Missing data shard(s) {missing} of checkpoint {prefix!r}: the save wrote {total} shards. Copy all of them."
        )
    return expected


class CheckpointReader:
    """A validated TF1 checkpoint: its variables (name -> :class:`VariableInfo`) and a tensor stream."""

    def __init__(self, path: str | os.PathLike) -> None:
        #: the prefix as the user named it (messages, manifest); ``prefix`` is what TensorFlow is given (the same, or
        #: a symlinked alias when it holds glob characters, which TensorFlow would expand)
        self.source_prefix = resolve_prefix(path)
        index = self.source_prefix + ".index"
        if not os.path.exists(index):
            raise MigrationError(
                f"Checkpoint index {index!r} not found. Pass a checkpoint prefix (e.g. 'model.ckpt-1000', without "
                "'.index'), one of its files, or a directory holding a 'checkpoint' state file."
            )
        self.data_files = data_files(self.source_prefix)
        meta = self.source_prefix + ".meta"
        self.meta_path: Optional[str] = meta if os.path.exists(meta) else None
        for path in [index, *self.data_files] + ([meta] if self.meta_path else []):
            check_regular(path, "checkpoint file")  # a FIFO or device would block or never end
        # our own reader, before TF's (a bad shape there is a SIGABRT, not an error), and without importing TensorFlow
        bundle = validate_index(index, self.data_files)
        self.prefix = _glob_free(self.source_prefix)
        self._reader = None  # TensorFlow's reader, opened by the first read()
        self.variables: dict[str, VariableInfo] = {
            name: VariableInfo(name, entry.shape, entry.dtype_name) for name, entry in sorted(bundle.variables.items())
        }
        self._check_sizes()
        self._index = None  # stream.BundleIndex once parsed; False when the index cannot be streamed
        self._lock = threading.Lock()  # TF's reader is used from the converter's copy thread too

    def _check_sizes(self) -> None:
        """The data shards must be at least as large as the tensors the index lists (catches truncated copies)."""
        have = sum(os.path.getsize(p) for p in self.data_files)
        need = sum(v.nbytes for v in self.variables.values())
        if have < need:
            raise MigrationError(
                f"Data file {self.data_files[0]!r} is truncated: it holds {have} bytes, but the index "
                f"{self.source_prefix + '.index'!r} lists {need} bytes of tensors. Re-copy the .data file(s) of this save."
            )

    @property
    def input_files(self) -> list[str]:
        """Every file this checkpoint consists of (index, data shards, .meta, the directory's state file)."""
        files = [self.source_prefix + ".index", *self.data_files]
        if self.meta_path:
            files.append(self.meta_path)
        state = os.path.join(os.path.dirname(os.path.abspath(self.source_prefix)), "checkpoint")
        if os.path.exists(state):
            files.append(state)
        return files

    @property
    def total_bytes(self) -> int:
        return sum(v.nbytes for v in self.variables.values())

    def read(self, name: str) -> np.ndarray:
        """One tensor as a NumPy array; a damaged or mismatched data file raises :class:`MigrationError`."""
        if name not in self.variables:
            raise MigrationError(f"Checkpoint {self.source_prefix!r} has no variable {name!r}; `rnn-migrate inspect` lists them.")
        try:
            with self._lock:
                return self._tf_reader().get_tensor(name)
        except MigrationError:
            raise
        except Exception as exc:
            raise MigrationError(
                f"Cannot read variable {name!r} from {self.data_files[0]!r}: {_first_line(exc)}. The .data file is "
                f"damaged or belongs to another save than {self.source_prefix + '.index'!r} (index and data must come from "
                "the same Saver.save call); re-copy both files of one save."
            ) from None

    def _tf_reader(self):
        """``tf.train.load_checkpoint(self.prefix)``, opened on first use (called under ``self._lock``)."""
        if self._reader is None:
            import tensorflow as tf  # lazily: inspecting a checkpoint needs no TensorFlow

            try:
                self._reader = tf.train.load_checkpoint(self.prefix)
            except Exception as exc:  # tf.errors.* (DataLoss, NotFound ...): name the file, say the remedy
                raise MigrationError(
                    f"Cannot read checkpoint index {self.source_prefix + '.index'!r}: {_first_line(exc)}. The file is "
                    "not a TF checkpoint index or is damaged; re-copy it from the machine that saved it."
                ) from None
        return self._reader

    def layout(self, name: str):
        """Where ``name``'s bytes are in the data shards (a :class:`migration.core.bundle_stream.TensorLayout`, for
        ``stream.iter_rows``), or ``None`` when the tensor can only be read whole through TensorFlow."""
        from migration.core import bundle_stream as stream

        if name not in self.variables:
            raise MigrationError(f"Checkpoint {self.prefix!r} has no variable {name!r}; `rnn-migrate inspect` lists "
                                 "them.")
        with self._lock:
            if self._index is None:
                self._index = stream.open_index(self.prefix, self.data_files) or False
        return self._index.layout(name) if self._index else None

    def write_npy(self, name: str, path: str, perm: Optional[np.ndarray] = None, *,
                  progress: Optional[Callable[[int], None]] = None, chunk_bytes: Optional[int] = None) -> str:
        """Write ``np.save(path, self.read(name)[perm])`` (``perm`` None: unpermuted) and return the dtype name.

        The bytes are copied from the data shards in row chunks (partitioned variables assembled from their
        parts, ``perm`` rows gathered per chunk), each stored entry's CRC32C checked: memory stays flat in the
        tensor's size and the file is byte-identical to ``np.save`` of the whole tensor. Tensors the bundle
        reader does not stream (strings, exotic dtypes) go through TensorFlow's reader instead.
        ``progress(nbytes)`` is called as bytes are written; ``chunk_bytes`` overrides the chunk size (tests).
        """
        from migration.core import bundle_stream as stream

        layout = self.layout(name)
        if layout is not None:
            stream.copy_to_npy(layout, path, perm, chunk_bytes=chunk_bytes or stream.CHUNK_BYTES, progress=progress)
            return str(layout.dtype)
        array = self.read(name)
        stream.save_rows(path, array, perm, chunk_bytes=chunk_bytes or stream.CHUNK_BYTES)
        if progress is not None:
            progress(array.nbytes)
        return str(array.dtype)

    def stream(self, names: Optional[list[str]] = None) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(name, array)`` one at a time (the caller drops each array before the next is read)."""
        for name in names if names is not None else list(self.variables):
            yield name, self.read(name)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
