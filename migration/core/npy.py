"""Reading ``.npy`` files as data only: regular files, bounded headers, no object arrays, never unpickled.

A ``.npy`` header is a Python literal that NumPy parses with ``ast.literal_eval``; a huge one (megabytes of nested
brackets) is slow to parse or ends in a ``RecursionError``/``ValueError`` traceback. :func:`read_npy_header` reads
the magic and the header with ``max_header_size`` = :data:`MAX_HEADER_BYTES` and refuses object dtypes (pickles);
:func:`load_npy` then loads the array (``allow_pickle=False``, optionally memory-mapped) from the same open file.
Every failure is a :class:`~migration.core.errors.MigrationError` naming the file.
"""
from __future__ import annotations

import os
from typing import BinaryIO, Optional

import numpy as np

from migration.core.errors import MigrationError
from migration.core.regular_files import open_regular

#: NumPy's own default bound (``np.load(max_header_size=10000)``); np.save writes headers of at most a few hundred bytes.
MAX_HEADER_BYTES = 10_000


def read_npy_header(handle: BinaryIO, path: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` of the ``.npy`` stream at its start; the stream is left after the header."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            header = np.lib.format.read_array_header_1_0(handle, max_header_size=MAX_HEADER_BYTES)
        elif version in ((2, 0), (3, 0)):
            header = np.lib.format.read_array_header_2_0(handle, max_header_size=MAX_HEADER_BYTES)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, EOFError, SyntaxError, TypeError, RecursionError, MemoryError, OSError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise MigrationError(f"{path}: not a valid .npy file ({reason}).") from None
    shape, fortran, dtype = header
    if dtype.hasobject:
        raise MigrationError(f"{path} holds a Python object array ({dtype}), which only pickle can read; rnn-migrate "
                             "never unpickles (a pickle can run arbitrary code).")
    return shape, fortran, dtype


def load_npy(path: str | os.PathLike, what: str = ".npy file", mmap_mode: Optional[str] = None) -> np.ndarray:
    """The array in the regular file ``path`` (header checked first; never unpickled)."""
    path = os.fspath(path)
    with open_regular(path, what) as handle:
        read_npy_header(handle, path)
        handle.seek(0)
        try:  # a memory map needs the path (NumPy cannot map an open handle); the file was just checked
            return np.load(handle if mmap_mode is None else path, mmap_mode=mmap_mode, allow_pickle=False,
                           max_header_size=MAX_HEADER_BYTES)
        except (ValueError, EOFError, OSError) as exc:  # truncated data
            raise MigrationError(f"{path}: not a valid .npy file ({str(exc)[:200]}).") from None
