"""A checkpoint's ``.index`` (TensorFlow's tensor bundle) read without TensorFlow: every entry's dtype, shape, data
shard, offset, size, CRC32C and slices.

The index is a table (:mod:`migration.core.tfproto.table`) whose key ``""`` holds a ``BundleHeaderProto`` (shard
count, endianness, version) and whose other keys hold a ``BundleEntryProto`` each. A partitioned variable has one
entry under its full name that lists its ``slices`` (no bytes of its own) and one entry per slice under the key
``EncodeTensorNameSlice(name, slice)``: TensorFlow's ``OrderedCode`` of ``0``, the name (``\\x00`` escaped as
``\\x00\\xff``, ``\\xff`` as ``\\xff\\x00``, ended by ``\\x00\\x01``), the rank, then start and length of every
dimension as signed numbers (length ``-1``: the whole dimension).

:attr:`BundleIndex.variables` holds what ``tf.train.load_checkpoint(prefix).get_variable_to_shape_map()`` lists
(every key but the header and the slice keys); :attr:`BundleIndex.pieces` the stored slices. Checked: the header
(at least one shard, a known endianness), every entry's shard, offset and size (a fixed-size dtype's size is
``elements * itemsize``), every slice inside its variable's shape and present under its own key with the
variable's dtype and the slice's shape, no slice key without its variable. Any violation is a
:class:`MigrationError` naming the file and the entry.
"""
from __future__ import annotations

import dataclasses
from google.protobuf.message import DecodeError

from migration.core.errors import MigrationError
from migration.core.tfproto.messages import BundleEntryProto, BundleHeaderProto
from migration.core.tfproto.ndarray import ITEM_BYTES, checked_shape, dtype_name
from migration.core.tfproto.table import MAX_INDEX_BYTES, read_table

#: An index may describe tensors far larger than memory: shapes are only bounded against overflow here.
MAX_INDEX_ELEMENTS = 1 << 56

Extent = tuple[int, int]  # (start, length); length -1: the whole dimension


@dataclasses.dataclass(frozen=True)
class IndexEntry:
    """One ``BundleEntryProto``: ``slices`` is empty for a whole tensor, else one tuple of extents per slice."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int  # masked, as stored
    slices: tuple[tuple[Extent, ...], ...] = ()

    @property
    def dtype_name(self) -> str:
        """TensorFlow's name of the dtype (``'float32'``)."""
        return dtype_name(self.dtype)


@dataclasses.dataclass(frozen=True)
class BundleIndex:
    """A parsed ``.index``: the header fields, the variables and the stored slices of partitioned variables."""

    path: str
    num_shards: int
    endianness: str  # "little" or "big"
    version: tuple[int, int]  # (producer, min_consumer)
    variables: dict[str, IndexEntry]
    pieces: dict[tuple[str, tuple[Extent, ...]], IndexEntry]

    def shape_map(self) -> dict[str, tuple[int, ...]]:
        """``get_variable_to_shape_map()`` of TensorFlow's reader."""
        return {name: entry.shape for name, entry in self.variables.items()}

    def dtype_map(self) -> dict[str, str]:
        """``get_variable_to_dtype_map()`` of TensorFlow's reader, with dtype names."""
        return {name: entry.dtype_name for name, entry in self.variables.items()}


class _KeyError(Exception):
    pass


def _ordered_signed(key: bytes, pos: int) -> tuple[int, int]:
    """``OrderedCode::ReadSignedNumIncreasing`` for encodings of up to 7 bytes (|value| < 2**48)."""
    if pos >= len(key):
        raise _KeyError("truncated number")
    negative = key[pos] < 0x80
    first = key[pos] ^ 0xFF if negative else key[pos]
    n = 0
    while n < 8 and first & (0x80 >> n):
        n += 1
    if n == 0 or n > 7 or pos + n > len(key):  # n == 8 continues into the next byte: not written for slices
        raise _KeyError("bad or oversized number")
    raw = key[pos:pos + n]
    if negative:
        raw = bytes(b ^ 0xFF for b in raw)
    value = int.from_bytes(raw, "big") & ((1 << (7 * n - 1)) - 1)
    return (~value if negative else value), pos + n


def decode_slice_key(key: bytes) -> tuple[str, tuple[Extent, ...]]:
    """``(name, extents)`` of an ``EncodeTensorNameSlice`` key; ``_KeyError`` if it is not one."""
    if not key.startswith(b"\x00"):
        raise _KeyError("not a slice key")
    name, pos = bytearray(), 1
    while True:
        if pos + 1 >= len(key):
            raise _KeyError("unterminated name")
        pair = key[pos:pos + 2]
        if pair == b"\x00\x01":
            pos += 2
            break
        if pair in (b"\x00\xff", b"\xff\x00"):
            name.append(pair[0])
            pos += 2
        elif key[pos] in (0, 0xFF):
            raise _KeyError("bad escape in the name")
        else:
            name.append(key[pos])
            pos += 1
    if pos >= len(key) or key[pos] > 8:
        raise _KeyError("bad rank")
    rank_bytes = key[pos]
    rank, pos = int.from_bytes(key[pos + 1:pos + 1 + rank_bytes], "big"), pos + 1 + rank_bytes
    if rank > 64:
        raise _KeyError("bad rank")
    extents = []
    for _ in range(rank):
        start, pos = _ordered_signed(key, pos)
        length, pos = _ordered_signed(key, pos)
        extents.append((start, length))
    if pos != len(key):
        raise _KeyError("trailing bytes")
    return name.decode("utf-8"), tuple(extents)


def _extents(proto) -> tuple[Extent, ...]:
    return tuple((int(e.start), int(e.length) if e.HasField("length") else -1) for e in proto.extent)


def _entry(name: str, raw: bytes, num_shards: int, what: str) -> IndexEntry:
    proto = BundleEntryProto()
    try:
        proto.ParseFromString(raw)
    except DecodeError as exc:
        raise MigrationError(f"Cannot read {what}: the entry of {name!r} is not a BundleEntryProto ({exc}).") from None
    shape = checked_shape(proto.shape.dim, f"{what}, entry {name!r}", MAX_INDEX_ELEMENTS)
    entry = IndexEntry(name, int(proto.dtype), shape, int(proto.shard_id), int(proto.offset), int(proto.size),
                       int(proto.crc32c), tuple(_extents(s) for s in proto.slices))
    if proto.shape.unknown_rank or not 0 <= entry.shard < num_shards or entry.offset < 0 or entry.size < 0:
        raise MigrationError(f"Cannot read {what}: the entry of {name!r} has shard {entry.shard} of {num_shards}, "
                             f"offset {entry.offset}, size {entry.size}. The index is damaged; re-copy it.")
    itemsize = ITEM_BYTES.get(entry.dtype)
    count = 1
    for d in shape:
        count *= d
    if not entry.slices and itemsize is not None and entry.size != count * itemsize:
        raise MigrationError(f"Cannot read {what}: the entry of {name!r} ({entry.dtype_name} {list(shape)}) says "
                             f"{entry.size} bytes, its shape needs {count * itemsize}. The index is damaged.")
    for extents in entry.slices:
        inside = len(extents) == len(shape) and all(
            s >= 0 and (n == -1 or (n >= 0 and s + n <= d)) and (n != -1 or s == 0)
            for (s, n), d in zip(extents, shape))
        if not inside:
            raise MigrationError(f"Cannot read {what}: slice {list(extents)} of {name!r} lies outside its shape "
                                 f"{list(shape)}.")
    return entry


def _header(table: list[tuple[bytes, bytes]], what: str) -> tuple[int, str, tuple[int, int]]:
    if not table or table[0][0] != b"":
        raise MigrationError(f"Cannot read {what}: it has no bundle header (key \"\"). It is a table file but not "
                             "a checkpoint index.")
    header = BundleHeaderProto()
    try:
        header.ParseFromString(table[0][1])
    except DecodeError as exc:
        raise MigrationError(f"Cannot read {what}: its header is not a BundleHeaderProto ({exc}).") from None
    if header.num_shards < 1 or header.endianness not in (0, 1):
        raise MigrationError(f"Cannot read {what}: its header says {header.num_shards} shards, endianness "
                             f"{header.endianness}. The index is damaged; re-copy it.")
    version = (int(header.version.producer), int(header.version.min_consumer))
    return int(header.num_shards), "little" if header.endianness == 0 else "big", version


def read_index(path: str, max_bytes: int = MAX_INDEX_BYTES) -> BundleIndex:
    """Parse the bundle index ``path`` (``PREFIX.index``); :class:`MigrationError` naming the file on any defect."""
    return index_from_table(read_table(path, max_bytes), path)


def index_from_table(table: list[tuple[bytes, bytes]], path: str) -> BundleIndex:
    """The :class:`BundleIndex` of the (key, value) entries of the table file ``path`` (in key order, as
    :func:`~migration.core.tfproto.table.parse_table` returns them); :class:`MigrationError` on any defect."""
    what = f"checkpoint index {path!r}"
    num_shards, endianness, version = _header(table, what)
    variables: dict[str, IndexEntry] = {}
    pieces: dict[tuple[str, tuple[Extent, ...]], IndexEntry] = {}
    for key, raw in table[1:]:
        try:
            if key.startswith(b"\x00"):
                name, extents = decode_slice_key(key)
            else:
                name, extents = key.decode("utf-8"), None
        except (_KeyError, UnicodeDecodeError) as exc:
            raise MigrationError(f"Cannot read {what}: key {key[:80]!r} is not a tensor name or slice key "
                                 f"({exc}).") from None
        entry = _entry(name, raw, num_shards, what)
        if extents is None:
            variables[name] = entry
        else:
            pieces[(name, extents)] = entry
    _check_slices(variables, pieces, what)
    return BundleIndex(path, num_shards, endianness, version, variables, pieces)


def _check_slices(variables: dict, pieces: dict, what: str) -> None:
    listed = {(name, extents) for name, entry in variables.items() for extents in entry.slices}
    for name, extents in pieces:
        if (name, extents) not in listed:
            raise MigrationError(f"Cannot read {what}: it stores slice {list(extents)} of {name!r}, which no "
                                 "variable entry lists. The index is damaged; re-copy it.")
    for name, extents in sorted(listed - set(pieces)):
        raise MigrationError(f"Cannot read {what}: variable {name!r} lists slice {list(extents)}, which is not "
                             "stored. The index is damaged; re-copy it.")
    for (name, extents), piece in pieces.items():
        full = variables[name]
        shape = tuple(d if n == -1 else n for (_, n), d in zip(extents, full.shape))
        if piece.dtype != full.dtype or piece.shape != shape:
            raise MigrationError(f"Cannot read {what}: slice {list(extents)} of {name!r} is stored as "
                                 f"{piece.dtype_name} {list(piece.shape)}, the variable is {full.dtype_name} and the "
                                 f"slice {list(shape)}. The index is damaged; re-copy it.")

