"""A checkpoint's ``.index`` validated in our own code before TensorFlow's reader sees it.

TensorFlow's ``BundleReader`` trusts the index: a tensor shape ``[2**32, 2**32]`` (its element count overflows
int64) or ``[-7, 4]`` ends the process with ``SIGABRT`` inside ``TensorShape`` (no message, no cleanup), a huge
string tensor allocates before it reads. :func:`validate_index` parses the table with
:func:`migration.core.bundle_stream.parse_table` and checks, for the header and every entry:

* header (key ``""``): a ``BundleHeaderProto`` with ``1 <= num_shards <= MAX_SHARDS`` equal to the number of data
  files on disk, a known endianness;
* entry: a ``BundleEntryProto`` with a known dtype, a known rank of at most :data:`MAX_RANK`, no negative dimension,
  an element count that fits int64, a shard id below the shard count, ``offset >= 0``, ``size >= 0`` and
  ``offset + size`` within that data file; for fixed-size dtypes ``size == elements * itemsize``; a string tensor no
  more elements than bytes; slices (partitioned variables) inside the full shape.

Then :func:`migration.core.tfproto.bundle.index_from_table` (the one reader of the index, TensorFlow-free) checks the
table itself (every block's CRC32C, key order) and the slices of partitioned variables (each stored under its own key
with its variable's dtype, none orphaned) and returns the :class:`~migration.core.tfproto.BundleIndex` that
:class:`migration.checkpoint.reader.CheckpointReader` lists the variables from, so TensorFlow is not imported to
inspect a checkpoint. Any failure is a :class:`MigrationError` naming the variable and the file. Nothing else is
read: the data files are only ``stat``-ed here (each tensor's CRC32C is checked when it is read).
"""
from __future__ import annotations

import os
import struct
from typing import Any, Sequence

from google.protobuf.message import DecodeError

from migration.core.errors import MigrationError
from migration.core.regular_files import read_regular
from migration.core.tfproto.bundle import BundleIndex, index_from_table
from migration.core.tfproto.messages import BundleEntryProto, BundleHeaderProto
from migration.core.tfproto.table import TableError, parse_table

MAX_RANK = 32
MAX_SHARDS = 100_000
MAX_INDEX_BYTES = 1 << 31
INT64_MAX = (1 << 63) - 1
TRUNCATED = "truncated: "  # marks the one problem that is the data file's, not the index's
#: TF ``DataType`` -> bytes per element, for the fixed-size dtypes (ref types and DT_INVALID are not entries).
ITEMSIZE = {1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 8: 8, 9: 8, 10: 1, 11: 1, 12: 1, 13: 4, 14: 2, 15: 2, 16: 2, 17: 2,
            18: 16, 19: 2, 22: 4, 23: 8, 24: 1, 25: 1, 26: 1, 27: 1, 28: 1}
#: dtypes whose stored size is not elements * itemsize (strings, resources, variants, sub-byte types)
VARIABLE_SIZE = {7, 20, 21, 29, 30, 31, 32, 33}


def _remedy(index: str) -> str:
    return (f"The index {index!r} is damaged or was edited; re-copy the checkpoint's files (index and data from one "
            "Saver.save call).")


def _entry_problem(entry: Any, data_sizes: Sequence[int]) -> str | None:
    if entry.dtype not in ITEMSIZE and entry.dtype not in VARIABLE_SIZE:
        return f"unknown dtype {entry.dtype}"
    if entry.shape.unknown_rank:
        return "unknown rank"
    dims = [int(d.size) for d in entry.shape.dim]
    if len(dims) > MAX_RANK:
        return f"rank {len(dims)} (the limit is {MAX_RANK})"
    if any(d < 0 for d in dims):
        return f"negative dimension in shape {dims}"
    elements = 1
    for d in dims:
        elements *= d
    if elements > INT64_MAX:
        return f"shape {dims} has {elements} elements, more than int64 can count"
    for piece in entry.slices:
        extents = list(piece.extent)
        if len(extents) != len(dims):
            return f"a slice of rank {len(extents)} for shape {dims}"
        for (start, length), dim in zip(((int(e.start), int(e.length) if e.HasField("length") else -1)
                                         for e in extents), dims):
            if start < 0 or length < -1 or (length >= 0 and start + length > dim) or start > dim:
                return f"slice start {start} length {length} outside dimension {dim}"
    if entry.slices:
        return None  # the full entry of a partitioned variable holds no bytes; each slice is its own entry
    if not 0 <= entry.shard_id < len(data_sizes):
        return f"shard {entry.shard_id} of {len(data_sizes)}"
    if entry.offset < 0 or entry.size < 0:
        return f"negative offset {entry.offset} or size {entry.size}"
    limit = data_sizes[entry.shard_id]
    if entry.offset + entry.size > limit:
        return (f"{TRUNCATED}bytes {entry.offset}..{entry.offset + entry.size} lie past the end of data shard "
                f"{entry.shard_id} ({limit} bytes)")
    if entry.dtype in ITEMSIZE and entry.size != elements * ITEMSIZE[entry.dtype]:
        return f"size {entry.size} bytes, but shape {dims} of dtype {entry.dtype} needs {elements * ITEMSIZE[entry.dtype]}"
    if entry.dtype == 7 and elements > entry.size:
        return f"{elements} strings in {entry.size} bytes"
    return None


def _display(key: bytes) -> str:
    if key.startswith(b"\x00"):  # a slice of a partitioned variable: \x00 escaped-name \x00\x01 ...
        name = key[1:].split(b"\x00\x01", 1)[0].replace(b"\x00\xff", b"\x00").replace(b"\xff\x00", b"\xff")
        return f"{name.decode('utf-8', 'replace')} (a slice)"
    return key.decode("utf-8", "replace")


def validate_index(index: str, data_files: Sequence[str]) -> BundleIndex:
    """Check the ``.index`` file ``index`` against its ``data_files`` (module docstring); return it parsed."""
    data = read_regular(index, "checkpoint index", MAX_INDEX_BYTES)
    try:
        entries = parse_table(data)
    except (TableError, struct.error, IndexError, ValueError) as exc:  # TableError alone, as fuzzed; belt and braces
        raise MigrationError(f"Cannot read checkpoint index {index!r}: not a TF checkpoint index table ({exc}). "
                             f"{_remedy(index)}") from None
    table = dict(entries)
    try:
        header = BundleHeaderProto.FromString(table[b""]) if b"" in table else None
    except DecodeError:
        header = None
    if header is None:
        raise MigrationError(f"Checkpoint index {index!r} has no readable header entry. {_remedy(index)}")
    if not 1 <= header.num_shards <= MAX_SHARDS or header.num_shards != len(data_files) or \
            header.endianness not in (0, 1):  # LITTLE, BIG
        raise MigrationError(f"Checkpoint index {index!r}: its header names {header.num_shards} data shard(s) "
                             f"(endianness {header.endianness}), but {len(data_files)} data file(s) exist. "
                             f"{_remedy(index)}")
    sizes = [os.stat(p).st_size for p in data_files]
    for key, value in table.items():
        if key == b"":
            continue
        try:
            entry = BundleEntryProto.FromString(value)
        except DecodeError:
            problem = "its entry is not a BundleEntryProto"
        else:
            problem = _entry_problem(entry, sizes)
        if problem and problem.startswith(TRUNCATED):
            shard = data_files[entry.shard_id]
            raise MigrationError(
                f"Data file {shard!r} is truncated (or belongs to another save): variable {_display(key)!r} in "
                f"{index!r}: {problem[len(TRUNCATED):]}. Re-copy the .data file(s) of this save.")
        if problem:
            raise MigrationError(f"Checkpoint index {index!r}: variable {_display(key)!r}: {problem}. {_remedy(index)}")
    return index_from_table(entries, index)
