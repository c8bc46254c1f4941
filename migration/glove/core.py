"""The :class:`Glove` container (words + float32 vectors + index) and :class:`GloveFormatError`.

Twin modules: :mod:`migration.glove.text` (GloVe text reader) and :mod:`migration.glove.store` (``.npy`` pair,
installed package, cache, dispatch); :mod:`migration.glove` re-exports the public names of all three.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from migration.core.errors import MigrationError


class GloveFormatError(MigrationError, ValueError):
    """A GloVe file, ``.npy`` pair or cache is malformed; the message names the file, the line and the remedy."""


class Glove:
    """A vocabulary and its vectors: row ``index[word]`` of ``vectors`` is the vector of ``word``.

    Attributes:
        words: the vocabulary in file order (row order); ``words[i]`` is the word of row ``i``.
        vectors: float32 array of shape ``[V, E]``.
        index: ``{word: row}``; when not given it is built from ``words`` at once (which checks that the words are
            unique) or, with ``words_unique=True`` (the text reader checked that already, with a set), on first use
            (``rnn-migrate glove import`` never needs it). Words must be unique.
        source: where the vectors came from (a path or a package name), for messages.
        vectors_sha256: the SHA-256 of ``vectors``' C-order float32 bytes when the reader computed it on the way
            (then ``vectors`` is read-only, so the digest stays true); ``""`` otherwise. The cache reuses it.
    """

    def __init__(self, words: list[str], vectors: np.ndarray, index: Optional[dict[str, int]] = None,
                 source: str = "", vectors_sha256: str = "", *, words_unique: bool = False) -> None:
        self.words, self.vectors, self.source, self.vectors_sha256 = words, vectors, source, vectors_sha256
        if self.vectors.ndim != 2 or self.vectors.dtype != np.float32:
            raise GloveFormatError(
                f"Received invalid vectors for {self.source or 'a Glove'}: expected a 2-D float32 array, "
                f"got shape {self.vectors.shape} dtype {self.vectors.dtype}.")
        if len(self.words) != self.vectors.shape[0]:
            raise GloveFormatError(
                f"{self.source or 'Glove'}: {len(self.words)} words but {self.vectors.shape[0]} vector rows; "
                "each word needs exactly one row.")
        if self.vectors_sha256 and self.vectors.flags.writeable:
            raise GloveFormatError(f"{self.source or 'Glove'}: a precomputed vectors_sha256 needs read-only vectors "
                                   "(it would go stale if they changed).")
        self._index = index or None
        if self._index is None and not words_unique:
            self._index = self.index  # built now: a repeated word is an error here, not on first use

    @property
    def index(self) -> dict[str, int]:
        """``{word: row}`` (built on first use when the reader already checked that the words are unique)."""
        if self._index is None:
            self._index = build_index(self.words, self.source, lambda row: f"row {row}")
        return self._index

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"Glove(V={len(self)}, E={self.dim}, source={self.source!r})"

    @property
    def dim(self) -> int:
        """E, the length of each vector."""
        return int(self.vectors.shape[1])

    def lookup(self, word: str) -> np.ndarray:
        """The vector of ``word`` (a row view); ``KeyError`` naming the source if the word is not in the vocabulary."""
        row = self.index.get(word)
        if row is None:
            raise KeyError(f"{word!r} is not in the vocabulary of {self.source or 'this Glove'} ({len(self)} words)")
        return self.vectors[row]

    def get_id(self, word: str, default: int | None = None) -> int | None:
        """The row of ``word``, or ``default`` (seed 004 uses 399999 for unknown words)."""
        return self.index.get(word, default)


def build_index(words: list[str], source: str, where: Callable[[int], str]) -> dict[str, int]:
    """``{word: row}``; raise :class:`GloveFormatError` naming both places of the first repeated words."""
    index = dict(zip(words, range(len(words))))
    if len(index) == len(words):
        return index
    first: dict[str, int] = {}
    repeats: list[str] = []
    for row, word in enumerate(words):
        if word in first:
            repeats.append(f"{word!r} on {where(first[word])} and {where(row)}")
        else:
            first[word] = row
    more = f" (and {len(repeats) - 3} more)" if len(repeats) > 3 else ""
    raise GloveFormatError(
        f"{source}: duplicate word{'s' if len(repeats) > 1 else ''}: {'; '.join(repeats[:3])}{more}. "
        "Each word must appear once; remove the repeated lines (keep the one you want).")
