"""Parse a GloVe file's pieces in forked worker processes, one per available core.

pandas' C parser holds the GIL while it tokenizes and converts (measured: two threads take as long as one), so the
second core is used by processes: the parent cuts the mapped bytes into line-aligned pieces, forks one child per
piece but the first, parses the first itself and hands each piece to the caller in file order as soon as it is
there: its own at once (the caller indexes and hashes it while the children still parse, :mod:`parts`), then each
child's. The parent's piece is the smaller one (:data:`PARENT_SHARE`) because of that extra work. A child writes into
two anonymous ``MAP_SHARED`` maps made before the fork (nothing is pickled, nothing goes through a file): its float32
rows, and its words as UTF-8 joined by ``\\n`` (a fast-path word holds no whitespace), each behind an 8-byte count.
A map is sized to the piece's upper bound (a line holds at least ``2 * E + 1`` bytes; an untouched page costs no
memory).

A piece the parser finds irregular, a child that dies or a count that disagrees gives ``False``: the caller then
takes the line-by-line path, which names the line. Used only where ``os.fork`` exists, more than one core is
available and the body is at least :data:`MIN_BYTES`; the children leave with ``os._exit`` (no ``atexit``
handler, no buffered output of the parent is flushed twice) and are always waited for.
"""
from __future__ import annotations

import mmap
import os
import signal
import struct
from typing import Callable, Optional, Sequence

import numpy as np

#: bodies below this size are parsed in one process (a fork and the maps cost more than they save)
MIN_BYTES = 32 << 20
#: the parent's piece as a fraction of an equal share (it also indexes and hashes its rows while the children parse)
PARENT_SHARE = 0.9

Piece = tuple[int, int]
Parsed = tuple[list[str], np.ndarray]
ParsePiece = Callable[[object, int, int, int], Optional[Parsed]]
Take = Callable[[list, np.ndarray], None]


def cores() -> int:
    """The cores this process may run on (``sched_getaffinity`` where it exists, else ``os.cpu_count()``)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def usable(size: int) -> bool:
    """True when a body of ``size`` bytes is worth forking for on this machine."""
    return hasattr(os, "fork") and cores() > 1 and size >= MIN_BYTES


def _child(buf, piece: Piece, dim: int, parse: ParsePiece, floats: mmap.mmap, words: mmap.mmap) -> int:
    parsed = parse(buf, piece[0], piece[1], dim)
    if parsed is None:
        return 1
    data = "\n".join(parsed[0]).encode("utf-8")
    block = np.ascontiguousarray(parsed[1], dtype=np.float32)
    if 8 + block.nbytes > len(floats) or 8 + len(data) > len(words):
        return 1
    floats[:8] = struct.pack("<Q", block.shape[0])
    floats[8:8 + block.nbytes] = block.tobytes()
    words[:8] = struct.pack("<Q", len(data))
    words[8:8 + len(data)] = data
    return 0


def _collect(floats: mmap.mmap, words: mmap.mmap, dim: int) -> Optional[Parsed]:
    (rows,) = struct.unpack("<Q", floats[:8])
    (length,) = struct.unpack("<Q", words[:8])
    names = words[8:8 + length].decode("utf-8").split("\n") if rows else []
    if len(names) != rows:
        return None
    block = np.frombuffer(floats, dtype=np.float32, count=rows * dim, offset=8).reshape(rows, dim).copy()
    return names, block


def piece_sizes(size: int, n: int) -> list[int]:
    """``n`` byte counts summing to ``size``: the first (the parent's) :data:`PARENT_SHARE` of an equal share."""
    first = int(size / n * PARENT_SHARE) if n > 1 else size
    rest = size - first
    return [first] + [rest // (n - 1) + (1 if k < rest % (n - 1) else 0) for k in range(n - 1)]


def parse_forked(buf, pieces: Sequence[Piece], dim: int, parse: ParsePiece, take: Take) -> bool:
    """``parse`` every piece (children for all but the first), each handed to ``take(words, rows)`` in file order;
    ``False`` if any is irregular (``take`` may have had the first pieces: the caller discards them)."""
    maps = [(mmap.mmap(-1, 8 + 4 * dim * ((b - a) // (2 * dim + 1) + 1)), mmap.mmap(-1, 8 + (b - a)))
            for a, b in pieces[1:]]
    pids: list[int] = []
    done = False
    try:
        for piece, (floats, words) in zip(pieces[1:], maps):
            pid = os.fork()
            if pid == 0:  # the child: parse, write, leave without running the parent's exit code
                status = 1
                try:
                    status = _child(buf, piece, dim, parse, floats, words)
                finally:
                    os._exit(status)
            pids.append(pid)
        first = parse(buf, pieces[0][0], pieces[0][1], dim)
        if first is None:
            return False
        take(*first)
        for pid, (floats, words) in zip(pids, maps):
            status = os.waitpid(pid, 0)[1]
            pids = pids[1:]  # reaped
            if os.waitstatus_to_exitcode(status) != 0:
                return False
            part = _collect(floats, words, dim)
            if part is None:
                return False
            take(*part)
        done = True
        return True
    finally:
        for pid in pids:  # the children not waited for yet (an early return or an exception): not needed any more
            if not done:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        for floats, words in maps:
            floats.close()
            words.close()
