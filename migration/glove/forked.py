"""Parse a GloVe file's pieces in forked worker processes, one per available core.

pandas' C parser holds the GIL while it tokenizes and converts (measured: two threads take as long as one), so the
second core is used by processes: the parent cuts the mapped bytes into line-aligned pieces, forks one child per
other core, parses the first piece itself and hands every piece to the caller in file order as soon as it is
there: its own at once (the caller checks and hashes it while the children still parse, :mod:`parts`), then the
children's. A child's range is cut in :data:`CHILD_SPLIT` sub-pieces that it parses one after the other and hands
over one at a time (a byte on a pipe when a sub-piece is written), so the parent checks and hashes a child's first
sub-piece while the child still parses its last: after the last child ends only its (small) last sub-piece is left
to do. The parent's piece is a little smaller than an equal share (:data:`PARENT_SHARE`) because of its extra work.
A child writes each sub-piece into two anonymous ``MAP_SHARED`` maps made before the fork (nothing is pickled,
nothing goes through a file): its float32 rows, and its words as UTF-8 joined by ``\\n`` (a fast-path word holds no
whitespace), each behind an 8-byte count. A map is sized to the piece's upper bound (a line holds at least
``2 * E + 1`` bytes; an untouched page costs no memory). The parent reads the rows in place (the caller copies them
straight into its joined array, :class:`migration.glove.parts.Joiner`).

A piece the parser finds irregular, a child that dies or a count that disagrees gives ``False``: the caller then
takes the line-by-line path, which names the line. Used only where ``os.fork`` exists, more than one core is
available and the body is at least :data:`MIN_BYTES`; the children leave with ``os._exit`` (no ``atexit``
handler, no buffered output of the parent is flushed twice) and are always waited for.
"""
from __future__ import annotations

import contextlib
import mmap
import os
import signal
import struct
from typing import Callable, Optional, Sequence

import numpy as np

#: bodies below this size are parsed in one process (a fork and the maps cost more than they save)
MIN_BYTES = 32 << 20
#: the parent's piece as a fraction of an equal share (it also checks and hashes every row: its own while the children parse)
PARENT_SHARE = 0.94
#: a child's range cut in sub-pieces of these fractions, handed over one at a time (the last small: it is what the
#: parent still has to check and hash after the child ends)
CHILD_SPLIT = (0.75, 0.25)
_READY = b"\x01"

Piece = tuple[int, int]
Parsed = tuple[list[str], np.ndarray]
ParsePiece = Callable[[object, int, int, int], Optional[Parsed]]
Take = Callable[[list, np.ndarray], None]
Maps = tuple[mmap.mmap, mmap.mmap]


def cores() -> int:
    """The cores this process may run on (``sched_getaffinity`` where it exists, else ``os.cpu_count()``)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def usable(size: int) -> bool:
    """True when a body of ``size`` bytes is worth forking for on this machine."""
    return hasattr(os, "fork") and cores() > 1 and size >= MIN_BYTES


def _write(parsed: Parsed, floats: mmap.mmap, words: mmap.mmap, dim: int) -> bool:
    """One sub-piece into its maps: the rows converted straight into the map (C order), the words behind them."""
    names, block = parsed
    rows = len(names)
    data = "\n".join(names).encode("utf-8")
    if block.shape != (rows, dim) or 8 + 4 * rows * dim > len(floats) or 8 + len(data) > len(words):
        return False
    np.copyto(np.frombuffer(floats, dtype=np.float32, count=rows * dim, offset=8).reshape(rows, dim), block,
              casting="same_kind")
    floats[:8] = struct.pack("<Q", rows)
    words[:8] = struct.pack("<Q", len(data))
    words[8:8 + len(data)] = data
    return True


def _child(buf, group: Sequence[Piece], dim: int, parse: ParsePiece, maps: Sequence[Maps], ready: int) -> int:
    for (a, b), (floats, words) in zip(group, maps):
        parsed = parse(buf, a, b, dim)
        if parsed is None or not _write(parsed, floats, words, dim):
            return 1
        os.write(ready, _READY)
    return 0


def _collect(floats: mmap.mmap, words: mmap.mmap, dim: int) -> Optional[Parsed]:
    """A sub-piece from its maps: the words, and the rows as a read-only view of the map (not copied)."""
    (rows,) = struct.unpack("<Q", floats[:8])
    (length,) = struct.unpack("<Q", words[:8])
    names = words[8:8 + length].decode("utf-8").split("\n") if rows else []
    if len(names) != rows:
        return None
    block = np.frombuffer(floats, dtype=np.float32, count=rows * dim, offset=8).reshape(rows, dim)
    block.setflags(write=False)
    return names, block


def piece_sizes(size: int, n: int) -> list[int]:
    """``n`` byte counts summing to ``size``: the first (the parent's) :data:`PARENT_SHARE` of an equal share."""
    first = int(size / n * PARENT_SHARE) if n > 1 else size
    rest = size - first
    return [first] + [rest // (n - 1) + (1 if k < rest % (n - 1) else 0) for k in range(n - 1)]


def plan(size: int, n: int) -> list[int]:
    """Byte counts summing to ``size`` for ``n`` processes: the parent's piece (:func:`piece_sizes`), then each
    child's range cut in :data:`CHILD_SPLIT` sub-pieces (:func:`parse_forked` gives each child
    ``len(CHILD_SPLIT)`` consecutive pieces)."""
    sizes = piece_sizes(size, n)
    out = sizes[:1]
    for share in sizes[1:]:
        parts = [int(share * f) for f in CHILD_SPLIT[:-1]]
        out += parts + [share - sum(parts)]
    return out


def parse_forked(buf, pieces: Sequence[Piece], dim: int, parse: ParsePiece, take: Take) -> bool:
    """``parse`` every piece: the first here, the others in children (``len(CHILD_SPLIT)`` consecutive pieces a
    child), each handed to ``take(words, rows)`` in file order; ``False`` if any is irregular (``take`` may have
    had the first pieces: the caller discards them)."""
    split = len(CHILD_SPLIT)
    groups = [list(pieces[k:k + split]) for k in range(1, len(pieces), split)]
    maps = [[(mmap.mmap(-1, 8 + 4 * dim * ((b - a) // (2 * dim + 1) + 1)), mmap.mmap(-1, 8 + (b - a)))
             for a, b in group] for group in groups]
    children: list[tuple[int, int]] = []  # (pid, the read end of its pipe), not reaped yet
    done = False
    try:
        for group, group_maps in zip(groups, maps):
            ready, tell = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: parse, write, leave without running the parent's exit code
                status = 1
                try:
                    status = _child(buf, group, dim, parse, group_maps, tell)
                finally:
                    os._exit(status)
            os.close(tell)  # only the child writes: its end gives EOF when it exits
            children.append((pid, ready))
        first = parse(buf, pieces[0][0], pieces[0][1], dim)
        if first is None:
            return False
        take(*first)
        while children:
            pid, ready = children[0]
            for floats, words in maps[len(maps) - len(children)]:
                if os.read(ready, 1) != _READY:  # EOF: the child failed or died before writing this sub-piece
                    return False
                part = _collect(floats, words, dim)
                if part is None:
                    return False
                take(*part)
            status = os.waitpid(pid, 0)[1]
            os.close(ready)
            children.pop(0)  # reaped
            if os.waitstatus_to_exitcode(status) != 0:
                return False
        done = True
        return True
    finally:
        for pid, ready in children:  # the children not waited for yet (an early return or an exception)
            if not done:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(ready)
        for floats, words in (pair for group_maps in maps for pair in group_maps):
            words.close()
            with contextlib.suppress(BufferError):  # rows the caller still holds: unmapped when it drops them
                floats.close()
