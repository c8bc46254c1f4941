"""Flat-memory tensor copies: a TF checkpoint entry -> a ``.npy`` file, in row chunks, CRC-checked.

Why not TensorFlow's reader: ``CheckpointReader.get_tensor`` and ``RestoreV2`` with ``shape_and_slices`` both
materialise the whole stored entry (measured on TF 2.21: 49 row-slice ``RestoreV2`` calls on a 480 MB embedding
take 4x the time of one full read, and each peaks at the full size). The bundle format itself is simple, so for
large tensors this module reads it directly:

* ``PREFIX.index`` is a TF table (LevelDB SSTable layout, uncompressed blocks): key ``""`` holds a
  ``BundleHeaderProto`` (shard count, endianness), key ``NAME`` a ``BundleEntryProto`` (dtype, shape, shard, offset,
  size, masked CRC32C). A partitioned variable's entry lists its ``slices`` instead; each slice is its own entry
  under the key ``EncodeTensorNameSlice(NAME, slice)`` (TF's ``OrderedCode``: ``\\x00``, the escaped name,
  ``\\x00\\x01``, the rank, then start and length of every dimension).
* ``PREFIX.data-0000k-of-0000N`` holds each entry's bytes raw, C order, little-endian, at ``offset``.

:func:`copy_to_npy` writes ``np.save(path, full[perm])`` byte for byte (same header, same data) while holding
only a few chunks: rows are read with ``preadv`` into reusable buffers (the next chunk is read while the current
one is written: two cores), permuted rows (``partition_strategy='mod'``) are gathered per chunk, and every stored
entry's CRC32C is checked over exactly the bytes TensorFlow would check. Outputs are written with ``write``, not a
memory map, so the process's resident memory stays flat (written pages belong to the page cache).

Anything this module does not handle (string tensors, dtypes outside :data:`DTYPES`, big-endian bundles,
slices over more than the first dimension, an index it cannot parse) makes :func:`tensor_layout` return ``None``:
the caller then falls back to TensorFlow's reader (correct, not flat).

Twin: :mod:`migration.checkpoint.reader` (the validated reader that uses this for ``write_npy``).
"""
from __future__ import annotations

import dataclasses
import os
import struct
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Optional

import numpy as np
from google.protobuf.message import DecodeError

from migration.core.errors import MigrationError
from migration.core.npy import read_npy_header
from migration.core.regular_files import open_regular

#: TF ``DataType`` enum -> NumPy dtype (little-endian), for the dtypes streamed here.
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4"), 4: np.dtype("u1"), 5: np.dtype("<i2"),
    6: np.dtype("i1"), 9: np.dtype("<i8"), 10: np.dtype("?"), 17: np.dtype("<u2"), 19: np.dtype("<f2"),
    22: np.dtype("<u4"), 23: np.dtype("<u8"),
}
CHUNK_BYTES = 1 << 24  # 16 MiB per read: large enough for full disk speed, small beside the 96 MB budget
#: Allocations of at least this size get their own memory mapping, returned to the OS when freed
#: (:func:`return_freed_memory`).
MMAP_THRESHOLD_BYTES = 1 << 20
_TABLE_MAGIC = 0xDB4775248B80FB57
_MASK_DELTA = 0xA282EAD8


class _Unsupported(ValueError):
    """The index holds something this module does not stream: fall back to TensorFlow's reader."""


@dataclasses.dataclass(frozen=True)
class Piece:
    """One stored entry: rows ``[row, row + rows)`` of the full tensor, ``size`` bytes at ``offset`` of ``file``."""

    row: int
    rows: int
    file: str
    offset: int
    size: int
    crc32c: int  # masked, as stored


@dataclasses.dataclass(frozen=True)
class TensorLayout:
    """Where a tensor's bytes are: its dtype, full shape and row pieces (one, or one per partition)."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    pieces: tuple[Piece, ...]

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize if self.shape else \
            self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


# ------------------------------------------------------------------------------------------ the .index table

def return_freed_memory() -> bool:
    """Make glibc ``malloc`` serve every allocation of :data:`MMAP_THRESHOLD_BYTES` or more with its own mapping,
    unmapped on ``free``, for the rest of the process (``mallopt(M_MMAP_THRESHOLD)``; a no-op returning False
    elsewhere).

    Why: glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB), so after the first
    chunk buffer is freed the next ones come from the heap (or a thread's arena) and stay resident once
    freed: a run that streams several tensors one after another, in two threads, then grows by a chunk buffer or
    more per tensor instead of staying flat (measured on the parameter-server-era benchmark: +60 MB of peak RSS).
    A fixed threshold turns the dynamic adjustment off."""
    import ctypes
    import ctypes.util

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    m_mmap_threshold = -3  # <malloc.h>
    return bool(mallopt(ctypes.c_int(m_mmap_threshold), ctypes.c_int(MMAP_THRESHOLD_BYTES)))


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Unsupported("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def _block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of one uncompressed table block (prefix-compressed keys, restart array)."""
    if offset + size + 5 > len(data) or size < 4:
        raise _Unsupported("block outside the file")
    if data[offset + size] != 0:
        raise _Unsupported("compressed block")
    block = data[offset:offset + size]
    restarts = struct.unpack_from("<I", block, size - 4)[0]
    end = size - 4 - 4 * restarts
    if end < 0:
        raise _Unsupported("bad restart array")
    entries, key, pos = [], b"", 0
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + length > end:
            raise _Unsupported("bad block entry")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        entries.append((key, block[pos:pos + length]))
        pos += length
    return entries


def read_table(path: str) -> dict[bytes, bytes]:
    """Every (key, value) of a TF table file (``.index``); :class:`_Unsupported` if it is not one we can read."""
    with open(path, "rb") as handle:
        return parse_table(handle.read())


def parse_table(data: bytes) -> dict[bytes, bytes]:
    """Every (key, value) of a TF table held in ``data``; :class:`_Unsupported` (a ``ValueError``) if it is not one
    we can read."""
    if len(data) < 48 or struct.unpack_from("<Q", data, len(data) - 8)[0] != _TABLE_MAGIC:
        raise _Unsupported("no table footer")
    footer = data[-48:]
    _, pos = _varint(footer, 0)  # metaindex handle (unused)
    _, pos = _varint(footer, pos)
    index_offset, pos = _varint(footer, pos)
    index_size, pos = _varint(footer, pos)
    table: dict[bytes, bytes] = {}
    for _, handle_bytes in _block(data, index_offset, index_size):
        offset, pos = _varint(handle_bytes, 0)
        size, _ = _varint(handle_bytes, pos)
        table.update(_block(data, offset, size))
    return table


def _escape(name: bytes) -> bytes:
    out = bytearray()
    for byte in name:
        out += b"\x00\xff" if byte == 0 else b"\xff\x00" if byte == 0xFF else bytes([byte])
    return bytes(out)


def _ordered_num(value: int) -> bytes:
    """``OrderedCode::WriteNumIncreasing``: a length byte, then the big-endian bytes."""
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return bytes([len(raw)]) + raw


def _ordered_signed(value: int) -> bytes:
    """``OrderedCode::WriteSignedNumIncreasing`` for 0 <= value < 2**55: n leading 1 bits, a 0, 7n - 1 value bits."""
    if value < 0:
        raise _Unsupported("negative slice bound")
    n = 1
    while value >= 1 << (7 * n - 1):
        n += 1
        if n > 8:
            raise _Unsupported("slice bound too large")
    return ((((1 << n) - 1) << (7 * n)) | value).to_bytes(n, "big")


def slice_key(name: str, extents: list[tuple[int, int]]) -> bytes:
    """``EncodeTensorNameSlice``: the table key under which one slice of a partitioned variable is stored."""
    key = b"\x00" + _escape(name.encode("utf-8")) + b"\x00\x01" + _ordered_num(len(extents))
    for start, length in extents:
        key += _ordered_signed(start) + _ordered_signed(length)
    return key


class BundleIndex:
    """The parsed ``.index`` of a checkpoint: :meth:`layout` says where each tensor's bytes are."""

    def __init__(self, prefix: str, data_files: list[str]) -> None:
        from tensorflow.core.protobuf import tensor_bundle_pb2

        self.prefix, self.data_files = prefix, data_files
        self._pb = tensor_bundle_pb2
        self.table = read_table(prefix + ".index")
        header = tensor_bundle_pb2.BundleHeaderProto.FromString(self.table.get(b"", b""))
        if header.endianness != tensor_bundle_pb2.BundleHeaderProto.LITTLE or header.num_shards != len(data_files):
            raise _Unsupported("big-endian bundle or shard count mismatch")

    def _entry(self, key: bytes):
        value = self.table.get(key)
        if value is None:
            raise _Unsupported(f"no entry {key!r}")
        return self._pb.BundleEntryProto.FromString(value)

    def _piece(self, entry, row: int, rows: int, nbytes: int) -> Piece:
        if entry.shard_id >= len(self.data_files) or entry.size != nbytes:
            raise _Unsupported("entry size or shard does not match")
        return Piece(row, rows, self.data_files[entry.shard_id], entry.offset, entry.size, entry.crc32c)

    def layout(self, name: str) -> Optional[TensorLayout]:
        """Where ``name``'s bytes are, or ``None`` when it must be read through TensorFlow."""
        try:
            entry = self._entry(name.encode("utf-8"))
            dtype = DTYPES.get(entry.dtype)
            if dtype is None or entry.shape.unknown_rank:
                return None
            shape = tuple(int(d.size) for d in entry.shape.dim)
            if any(d < 0 for d in shape):
                return None
            row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
            if not entry.slices:
                rows = shape[0] if shape else 1
                return TensorLayout(name, dtype, shape, (self._piece(entry, 0, rows, rows * row_bytes),))
            if not shape:
                return None
            pieces = []
            for piece in entry.slices:
                extents = [(int(e.start), int(e.length) if e.HasField("length") else -1) for e in piece.extent]
                if len(extents) != len(shape) or any(length < 0 for _, length in extents) or any(
                        (start, length) != (0, size) for (start, length), size in zip(extents[1:], shape[1:])):
                    return None  # a slice over more than the first dimension
                start, rows = extents[0]
                pieces.append(self._piece(self._entry(slice_key(name, extents)), start, rows, rows * row_bytes))
            pieces.sort(key=lambda p: p.row)
            expected = 0
            for piece in pieces:
                if piece.row != expected:
                    return None  # gaps or overlaps: not a plain row partition
                expected += piece.rows
            return TensorLayout(name, dtype, shape, tuple(pieces)) if expected == shape[0] else None
        except (_Unsupported, ValueError, DecodeError):
            return None


def open_index(prefix: str, data_files: list[str]) -> Optional[BundleIndex]:
    """A :class:`BundleIndex`, or ``None`` when the index is not a table this module reads (fallback to TF)."""
    try:
        return BundleIndex(prefix, data_files)
    except (_Unsupported, OSError, ValueError, DecodeError, struct.error):
        return None


# ----------------------------------------------------------------------------------------------- the copy

def _mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """The header ``np.save`` writes for a C-order array of ``dtype`` and ``shape`` (version 1.0, else 2.0)."""
    import io

    fields = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
    out = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(out, fields)
    except ValueError:
        out = io.BytesIO()
        np.lib.format.write_array_header_2_0(out, fields)
    return out.getvalue()


class _PieceReader:
    """Reads row ranges of the stored pieces; checks each piece's CRC32C over its bytes in order."""

    def __init__(self, layout: TensorLayout) -> None:
        import google_crc32c

        self.layout = layout
        self.starts = np.array([p.row for p in layout.pieces], dtype=np.int64)
        self.files: dict[str, int] = {}
        self.crc = [google_crc32c.Checksum() for _ in layout.pieces]
        self.done = [0] * len(layout.pieces)  # bytes of each piece fed to its CRC, in order

    def __enter__(self) -> "_PieceReader":
        return self

    def __exit__(self, *exc) -> None:
        for fd in self.files.values():
            os.close(fd)

    def _fd(self, path: str) -> int:
        if path not in self.files:
            self.files[path] = os.open(path, os.O_RDONLY)
        return self.files[path]

    def read_rows(self, k: int, first: int, out: np.ndarray) -> None:
        """Rows ``first ..`` of piece ``k`` (piece-relative) into ``out`` (C-contiguous, whole rows)."""
        piece = self.layout.pieces[k]
        start = piece.offset + first * self.layout.row_bytes
        flat = out.reshape(-1).view(np.uint8)
        view = memoryview(flat)
        got = 0
        while got < len(view):
            n = os.preadv(self._fd(piece.file), [view[got:]], start + got)
            if n <= 0:
                raise MigrationError(
                    f"Data file {piece.file!r} ends early while reading {self.layout.name!r} (offset {start + got}): "
                    "the file is truncated; re-copy the checkpoint's .data file(s).")
            got += n
        if first * self.layout.row_bytes == self.done[k]:
            self.crc[k].update(flat)  # google_crc32c takes NumPy buffers, not memoryviews
            self.done[k] += len(view)

    def check(self, rows: int) -> None:
        """Finish every piece's CRC (re-reading pieces not read in order, ``rows`` at a time); compare with the
        index's."""
        for k, piece in enumerate(self.layout.pieces):
            if self.done[k] != piece.size:
                import google_crc32c

                self.crc[k], self.done[k] = google_crc32c.Checksum(), 0
                buf = np.empty((rows,) + self.layout.shape[1:], self.layout.dtype)
                for first in range(0, piece.rows, rows):
                    n = min(rows, piece.rows - first)
                    self.read_rows(k, first, buf[:n])
            self._compare(k)

    def check_complete(self) -> None:
        """Compare the CRC32C of every piece read whole, in order, with the index's (pieces read in part are not
        checked): a partition read as its own row range is checked when it is one stored piece, as TF1 saves it."""
        for k, piece in enumerate(self.layout.pieces):
            if self.done[k] == piece.size:
                self._compare(k)

    def _compare(self, k: int) -> None:
        piece = self.layout.pieces[k]
        actual = _mask(int.from_bytes(self.crc[k].digest(), "big"))
        if actual != piece.crc32c:
            raise MigrationError(
                f"Checksum mismatch for {self.layout.name!r} in {piece.file!r} (rows {piece.row}.."
                f"{piece.row + piece.rows - 1}): the .data file is damaged or belongs to another save; re-copy "
                "the checkpoint's files (index and data from one Saver.save call).")


def iter_rows(layout: TensorLayout, perm: Optional[np.ndarray] = None, *,
              chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(a, full[perm][a:a + len(chunk)])`` chunk by chunk (``perm`` None: ``full``), CRC-checked at the end.

    The next chunk is read in a thread while the caller uses the current one; a yielded chunk is valid until the
    next one is requested (two buffers alternate). A scalar comes as one chunk of shape ``(1,)``. Raises
    :class:`MigrationError` on a truncated data file or a CRC mismatch (after the last chunk).
    """
    rows_total = layout.shape[0] if layout.shape else 1
    rows = max(1, chunk_bytes // max(1, layout.row_bytes))
    row_shape = layout.shape[1:] if layout.shape else ()
    with _PieceReader(layout) as reader, ThreadPoolExecutor(1) as pool:
        buffers = [np.empty((min(rows, rows_total),) + row_shape, layout.dtype) for _ in range(2)]

        def fill(a: int, b: int, buf: np.ndarray) -> np.ndarray:
            chunk = buf[:b - a]
            if perm is None:
                _read_range(reader, a, b, chunk)
            else:
                _gather(reader, perm[a:b], chunk)
            return chunk

        pending = pool.submit(fill, 0, min(rows, rows_total), buffers[0])
        for i, a in enumerate(range(0, rows_total, rows)):
            chunk = pending.result()
            b = a + len(chunk)
            if b < rows_total:  # read the next chunk while this one is used
                pending = pool.submit(fill, b, min(b + rows, rows_total), buffers[(i + 1) % 2])
            yield a, chunk
        reader.check(rows)


def copy_to_npy(layout: TensorLayout, path: str, perm: Optional[np.ndarray] = None, *,
                chunk_bytes: int = CHUNK_BYTES, progress: Optional[Callable[[int], None]] = None) -> None:
    """Write ``np.save(path, full[perm])`` (``perm`` None: ``full``) for the tensor at ``layout``, chunk by chunk.

    ``perm`` must be a permutation of the rows (e.g. :func:`migration.converters.mod_partition_permutation`);
    rows are gathered per chunk from runs of consecutive stored rows. Raises :class:`MigrationError` on a
    truncated data file or a CRC mismatch (the caller deletes the partial output with its temporary directory).
    """
    with open(path, "wb") as out:
        out.write(npy_header(layout.dtype, layout.shape))
        for _, chunk in iter_rows(layout, perm, chunk_bytes=chunk_bytes):
            out.write(memoryview(chunk.reshape(-1).view(np.uint8)))
            if progress is not None:
                progress(chunk.nbytes)


def iter_npy_rows(path: str, *, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(a, rows)`` of a C-order ``.npy`` file chunk by chunk with plain reads (no memory map, so resident
    memory stays flat; never unpickles): the reading side of a flat comparison, e.g. ``verify``."""
    with open_regular(path, ".npy file") as handle:
        shape, fortran, dtype = read_npy_header(handle, path)  # bounded header; object dtypes refused
        if fortran or dtype.hasobject:
            raise MigrationError(f"{path}: expected a C-order numeric .npy file (got fortran_order={fortran}, "
                                 f"{dtype}).")
        row_shape = shape[1:] if shape else ()
        rows_total = shape[0] if shape else 1
        row_bytes = int(np.prod(row_shape, dtype=np.int64)) * dtype.itemsize
        rows = max(1, chunk_bytes // max(1, row_bytes))
        for a in range(0, rows_total, rows):
            chunk = np.empty((min(rows, rows_total - a),) + row_shape, dtype)
            if handle.readinto(memoryview(chunk.reshape(-1).view(np.uint8))) != chunk.nbytes:
                raise MigrationError(f"{path} is truncated; re-run `rnn-migrate convert --force`.")
            yield a, chunk


def save_rows(path: str, array: np.ndarray, perm: Optional[np.ndarray] = None, *,
              chunk_bytes: int = CHUNK_BYTES) -> None:
    """``np.save(path, array[perm])`` for an array already in memory, without a second full copy (the fallback)."""
    array = np.asarray(array)
    if perm is None or array.ndim == 0:
        np.save(path, array, allow_pickle=False)
        return
    rows = max(1, chunk_bytes // max(1, array[:1].nbytes))
    with open(path, "wb") as out:
        out.write(npy_header(array.dtype, array.shape))
        for a in range(0, array.shape[0], rows):
            out.write(np.ascontiguousarray(array[perm[a:a + rows]]).tobytes())


def gather_rows(layout: TensorLayout, rows: np.ndarray) -> np.ndarray:
    """``full[rows]`` for a few rows of a large tensor, read from the data files (runs of consecutive rows read
    once). No CRC check (it needs every byte): for sampling only; the full copies and ``verify`` check CRCs."""
    rows = np.asarray(rows, np.int64).reshape(-1)
    out = np.empty((len(rows),) + tuple(layout.shape[1:]), layout.dtype)
    with _PieceReader(layout) as reader:
        _gather(reader, rows, out)
    return out


def read_rows(layout: TensorLayout, a: int, b: int) -> np.ndarray:
    """``full[a:b]`` read from the data files (e.g. one part of a partitioned variable, not the whole tensor); the
    CRC32C of each stored piece it covers whole is checked (:class:`MigrationError` on a mismatch)."""
    out = np.empty((b - a,) + tuple(layout.shape[1:]), layout.dtype)
    with _PieceReader(layout) as reader:
        _read_range(reader, a, b, out)
        reader.check_complete()
    return out


def _read_range(reader: _PieceReader, a: int, b: int, out: np.ndarray) -> None:
    """Full-tensor rows ``[a, b)`` into ``out``, across piece boundaries."""
    k = int(np.searchsorted(reader.starts, a, side="right")) - 1
    pos = a
    while pos < b:
        piece = reader.layout.pieces[k]
        stop = min(b, piece.row + piece.rows)
        reader.read_rows(k, pos - piece.row, out[pos - a:stop - a])
        pos, k = stop, k + 1


def _gather(reader: _PieceReader, rows: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = full[rows[i]]``: the requested rows sorted into runs of consecutive rows, each run read once.

    With the ``mod`` permutation a chunk is one run per partition (P reads, each piece read in order, so the CRC
    runs along); memory is one chunk whatever the permutation.
    """
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    breaks = np.flatnonzero(np.diff(ordered) != 1) + 1
    bounds = np.concatenate([[0], breaks, [len(rows)]]).tolist()
    for s, e in zip(bounds[:-1], bounds[1:]):
        first = int(ordered[s])
        run = np.empty((e - s,) + out.shape[1:], out.dtype)
        _read_range(reader, first, first + e - s, run)
        out[order[s:e]] = run
