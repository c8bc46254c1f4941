"""A strict reader of TensorFlow's table files (the checkpoint ``.index``), CRC-checked, without TensorFlow.

Format (``tensorflow/core/lib/io/table*``, LevelDB's SSTable): the file ends with a 48-byte footer: the
``BlockHandle`` (varint64 offset, varint64 size) of the metaindex block and of the index block, zero padding to
40 bytes, then the magic number ``0xdb4775248b80fb57`` (little-endian fixed64). Every block is followed by a 5-byte
trailer: its compression type (0: none; TensorFlow writes checkpoint indexes uncompressed) and the masked CRC32C of
the block and that type byte. A block holds prefix-compressed entries (varint32 shared key bytes, varint32 unshared
key bytes, varint32 value length, the unshared key bytes, the value), then an array of uint32 restart offsets and
their count. The index block maps a separator key (>= every key of a data block) to that block's handle.

Checked here: the magic, every block's CRC (the metaindex's too) and bounds, entries inside their block, restart
offsets inside the entry area, keys strictly increasing across the whole file, data blocks in file order and inside
the file, the file size (``max_bytes``). Any violation raises :class:`MigrationError` naming the file; nothing else
escapes.
"""
from __future__ import annotations

import os
import struct

from migration.core.errors import MigrationError

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_BYTES = 48
_MASK_DELTA = 0xA282EAD8
#: Default bound on an index file's size (a checkpoint of 100k variables has an index of a few MB).
MAX_INDEX_BYTES = 256 << 20


class TableError(Exception):
    """A violation of the format inside :func:`parse_table`; :func:`read_table` names the file."""


def masked_crc32c(data: bytes) -> int:
    """LevelDB's masked CRC32C (``crc32c::Mask``): rotate right by 15 bits, add a constant."""
    import google_crc32c

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def varint(buf: bytes, pos: int, end: int, bits: int = 64) -> tuple[int, int]:
    """The varint at ``buf[pos:end]`` and the position after it; :class:`TableError` if truncated or too long."""
    result = shift = 0
    while True:
        if pos >= end:
            raise TableError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            if result >> bits:
                raise TableError(f"varint larger than {bits} bits")
            return result, pos
        shift += 7
        if shift >= bits + 7:
            raise TableError("varint too long")


def _block_handle(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    offset, pos = varint(buf, pos, end)
    size, pos = varint(buf, pos, end)
    return offset, size, pos


def read_block(data: bytes, offset: int, size: int, limit: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of the block at ``data[offset:offset + size]`` (plus its trailer, which must end at
    or before ``limit``), its CRC checked."""
    if size < 4 or offset + size + 5 > limit:
        raise TableError(f"block handle (offset {offset}, size {size}) points outside the file")
    block = data[offset:offset + size]
    kind, stored = data[offset + size], struct.unpack_from("<I", data, offset + size + 1)[0]
    if masked_crc32c(data[offset:offset + size + 1]) != stored:
        raise TableError(f"CRC32C mismatch in the block at offset {offset}")
    if kind != 0:
        raise TableError(f"block at offset {offset} is compressed (type {kind}); TensorFlow writes checkpoint "
                         "indexes uncompressed")
    restarts = struct.unpack_from("<I", block, size - 4)[0]
    end = size - 4 - 4 * restarts
    if restarts < 1 or end < 0:
        raise TableError(f"bad restart array in the block at offset {offset}")
    for (point,) in struct.iter_unpack("<I", block[end:size - 4]):
        if point >= max(end, 1):
            raise TableError(f"restart offset {point} outside the block at offset {offset}")
    entries: list[tuple[bytes, bytes]] = []
    key, pos = b"", 0
    while pos < end:
        shared, pos = varint(block, pos, end, 32)
        unshared, pos = varint(block, pos, end, 32)
        length, pos = varint(block, pos, end, 32)
        if shared > len(key) or pos + unshared + length > end:
            raise TableError(f"bad entry at byte {pos} of the block at offset {offset}")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        entries.append((key, block[pos:pos + length]))
        pos += length
    return entries


def parse_table(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a table file's bytes, in key order; :class:`TableError` on any violation."""
    if len(data) < FOOTER_BYTES:
        raise TableError(f"{len(data)} bytes is too short for a table (the footer alone is {FOOTER_BYTES})")
    if struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
        raise TableError("no table magic number at the end")
    footer_at = len(data) - FOOTER_BYTES
    meta_offset, meta_size, pos = _block_handle(data, footer_at, len(data) - 8)
    index_offset, index_size, _ = _block_handle(data, pos, len(data) - 8)
    read_block(data, meta_offset, meta_size, footer_at)  # the metaindex (empty in TF's tables): CRC-checked only
    entries: list[tuple[bytes, bytes]] = []
    previous_end = 0
    for separator, handle in read_block(data, index_offset, index_size, footer_at):
        offset, size, used = _block_handle(handle, 0, len(handle))
        if used != len(handle) or offset < previous_end:
            raise TableError(f"bad or overlapping data block handle for index key {separator!r}")
        previous_end = offset + size + 5
        block = read_block(data, offset, size, index_offset)
        if block and block[-1][0] > separator:
            raise TableError(f"index key {separator!r} is below the last key of its block")
        entries += block
    for (before, _), (after, _) in zip(entries, entries[1:]):
        if after <= before:
            raise TableError(f"keys out of order: {after!r} after {before!r}")
    return entries


def read_table(path: str, max_bytes: int = MAX_INDEX_BYTES) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of the table file ``path`` in key order; :class:`MigrationError` naming the file for a
    file that is not regular, too large, unreadable or not a valid table."""
    what = f"checkpoint index {path!r}"
    try:
        if not os.path.isfile(path):
            raise MigrationError(f"Cannot read {what}: it is not a regular file. Pass the files a Saver wrote.")
        size = os.path.getsize(path)
        if size > max_bytes:
            raise MigrationError(f"Refusing to read {what}: {size} bytes is more than the limit of {max_bytes}.")
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise MigrationError(f"Cannot read {what}: {exc.strerror or exc}.") from None
    try:
        return parse_table(data)
    except TableError as exc:
        raise MigrationError(f"Cannot read {what}: {exc}. The file is not a TF checkpoint index or is damaged; "
                             "re-copy it from the machine that saved it.") from None
