"""Join a GloVe file's parsed pieces in file order, doing the per-row work as each piece arrives.

A large file is parsed in pieces (:mod:`migration.glove.forked`: this process parses the first, forked children the
rest). Everything the reader does after parsing is per row, so it is done piece by piece: the uniqueness of the words
(a set: 2.5x cheaper than the ``{word: row}`` dict, which :class:`migration.glove.core.Glove` builds on first use),
the finiteness of the rows and the SHA-256 of the float32 rows (the digest the cache's ``meta.json`` stores,
:func:`migration.glove.store.save_glove_cache`). The first piece is therefore checked and hashed while the children
still parse theirs, and each piece's hash runs on a thread beside its set (``hashlib`` releases the GIL on large
buffers; filling a set holds it), so the second core is not idle either.

Hashing the C-order rows piece by piece gives the digest of the joined matrix (SHA-256 is a stream).
"""
from __future__ import annotations

import hashlib
import threading

import numpy as np


class Joiner:
    """Pieces ``(words, float32 rows)`` added in file order; :meth:`vectors` joins the rows once at the end."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self._seen: set[str] = set()
        self._blocks: list[np.ndarray] = []
        self._finite = True
        self._sha = hashlib.sha256()

    @property
    def rows(self) -> int:
        return len(self.words)

    def add(self, words: list[str], block: np.ndarray) -> None:
        """Index, check and hash one piece; ``block`` is ``[len(words), E]`` float32 (made C-order here if it is
        not; a read-only view, e.g. of a child's map, is kept as it is until :meth:`vectors` joins the pieces)."""
        block = np.ascontiguousarray(block, dtype=np.float32)
        hasher = threading.Thread(target=self._sha.update, args=(memoryview(block).cast("B"),))
        hasher.start()
        try:
            self._seen.update(words)  # a set: uniqueness only (the {word: row} dict is built when first used)
            self._finite = self._finite and bool(np.isfinite(block).all())
        finally:
            hasher.join()
        if self.words:
            self.words.extend(words)
        else:
            self.words = words  # the first piece's list is kept, not copied
        self._blocks.append(block)

    def all_finite(self) -> bool:
        return self._finite

    def unique(self) -> bool:
        """True when no word repeats (a repeated word leaves the set smaller than the word list)."""
        return len(self._seen) == len(self.words)

    def vectors(self) -> np.ndarray:
        """The joined ``[V, E]`` rows, read-only (their digest is :meth:`sha256`)."""
        joined = np.concatenate(self._blocks) if len(self._blocks) > 1 or not self._blocks[0].flags.owndata \
            else self._blocks[0]  # (a single view, e.g. of a child's map, is copied out too)
        self._blocks = [joined]
        joined.setflags(write=False)
        return joined

    def sha256(self) -> str:
        return self._sha.hexdigest()
