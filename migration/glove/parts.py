"""Join a GloVe file's parsed pieces in file order, doing the per-row work as each piece arrives.

A large file is parsed in pieces (:mod:`migration.glove.forked`: this process parses the first, forked children the
rest). Everything the reader does after parsing is per row, so it is done piece by piece: the uniqueness of the words
(a set: 2.5x cheaper than the ``{word: row}`` dict, which :class:`migration.glove.core.Glove` builds on first use),
the finiteness of the rows and the SHA-256 of the float32 rows (the digest the cache's ``meta.json`` stores,
:func:`migration.glove.store.save_glove_cache`). The first piece is therefore checked and hashed while the children
still parse theirs, and each piece's hash runs on a thread beside its set (``hashlib`` releases the GIL on large
buffers; filling a set holds it), so the second core is not idle either. The rows are copied into one reserved
array as they arrive (:meth:`Joiner.reserve`), so nothing is left to join after the last piece.

Hashing the C-order rows piece by piece gives the digest of the joined matrix (SHA-256 is a stream); a
:class:`Sink` (``glove import``'s ``vectors.npy``) gets the same rows in the same order, written on the hashing
thread, so the cache's vectors are on disk when the last piece is checked.
"""
from __future__ import annotations

import hashlib
import threading
from typing import Optional, Protocol

import numpy as np


class Sink(Protocol):
    """Where :class:`Joiner` streams the rows (e.g. the cache's ``vectors.npy`` while the file is still parsed)."""

    def write(self, block: np.ndarray) -> None:
        """Append ``block``'s C-order float32 rows."""

    def restart(self) -> None:
        """Forget every row written so far (the reader starts over)."""


class Joiner:
    """Pieces ``(words, float32 rows)`` added in file order; :meth:`vectors` joins the rows.

    With :meth:`reserve` (an upper bound of the rows, known once the first piece is parsed) every piece is copied
    into one array as it arrives and :meth:`vectors` only trims it (``ndarray.resize``: a ``realloc`` that shrinks
    the mapping in place), so no 80 MB join is left for the end; without it (or when the bound cannot be allocated)
    the pieces are joined once at the end.
    """

    def __init__(self, sink: Optional[Sink] = None) -> None:
        self._sink = sink  # gets every piece's C-order rows in file order, on the hashing thread
        self._failed: Optional[BaseException] = None  # what the hashing thread raised (re-raised by add)
        self.words: list[str] = []
        self._seen: set[str] = set()
        self._blocks: list[np.ndarray] = []
        self._out: np.ndarray | None = None
        self._finite = True
        self._sha = hashlib.sha256()
        self._slot: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return len(self.words)

    def reserve(self, rows: int, dim: int) -> None:
        """Room for ``rows`` rows in all (an upper bound; untouched pages cost no memory); before the first piece."""
        if not self._blocks and self._out is None:
            try:
                self._out = np.empty((rows, dim), dtype=np.float32)
            except MemoryError:  # the bound is too large to map here: join at the end instead
                self._out = None

    def slot(self, rows: int, dim: int) -> np.ndarray:
        """A writable ``[rows, dim]`` float32 array for the next piece: its place in the reserved array when there
        is room (:meth:`add` of it then copies nothing), else a new array."""
        out, start = self._out, self.rows
        if out is not None and start + rows <= out.shape[0] and out.shape[1] == dim:
            self._slot = out[start:start + rows]
        else:
            self._slot = np.empty((rows, dim), dtype=np.float32)
        return self._slot

    def add(self, words: list[str], block: np.ndarray) -> None:
        """Check and hash one piece; ``block`` is ``[len(words), E]`` float32 in any order (copied in C order into
        the reserved array, or made C order and kept until :meth:`vectors`)."""
        start, stop = self.rows, self.rows + len(words)
        out = self._out
        filled, self._slot = block is self._slot and block.base is out, None  # written in place by the caller
        if out is not None and stop <= out.shape[0] and block.shape[1:] == out.shape[1:]:
            if not filled:
                np.copyto(out[start:stop], block, casting="same_kind")
            block = out[start:stop]
        else:
            if out is not None:  # more rows than the bound (cannot happen) or another width: join at the end
                self._blocks, self._out = [out[:start]], None
            block = np.ascontiguousarray(block, dtype=np.float32)
            self._blocks.append(block)
        hasher = threading.Thread(target=self._digest, args=(block,))
        hasher.start()
        try:
            self._seen.update(words)  # a set: uniqueness only (the {word: row} dict is built when first used)
            self._finite = self._finite and bool(np.isfinite(block).all())
        finally:
            hasher.join()
        if self._failed is not None:
            raise self._failed
        if self.words:
            self.words.extend(words)
        else:
            self.words = words  # the first piece's list is kept, not copied

    def _digest(self, block: np.ndarray) -> None:
        """Hash one piece's rows (``hashlib`` releases the GIL) and hand them to the sink (a file write: too)."""
        try:
            self._sha.update(memoryview(block).cast("B"))
            if self._sink is not None:
                self._sink.write(block)
        except BaseException as exc:  # e.g. a full disk under the sink: raised in the caller's thread by add()
            self._failed = exc

    def all_finite(self) -> bool:
        return self._finite

    def unique(self) -> bool:
        """True when no word repeats (a repeated word leaves the set smaller than the word list)."""
        return len(self._seen) == len(self.words)

    def vectors(self) -> np.ndarray:
        """The joined ``[V, E]`` rows, read-only (their digest is :meth:`sha256`)."""
        if self._out is not None:
            joined, self._out = self._out, None
            try:
                joined.resize((self.rows, joined.shape[1]))  # refcheck: refused while a view of it is alive
            except ValueError:
                joined = joined[:self.rows].copy()
        else:
            joined = np.concatenate(self._blocks) if len(self._blocks) > 1 or not self._blocks[0].flags.owndata \
                else self._blocks[0]  # (a single view, e.g. of a child's map, is copied out too)
        self._blocks = [joined]
        joined.setflags(write=False)
        return joined

    def sha256(self) -> str:
        return self._sha.hexdigest()
