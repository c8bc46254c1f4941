"""Open only regular files: a named pipe blocks a reader forever, a device never ends, a directory is no file.

:func:`open_regular` opens with ``O_NONBLOCK`` (so opening a FIFO does not wait for a writer), then checks with
``fstat`` on the opened descriptor (no race between the check and the read) that it is a regular file and, when a
bound is given, not larger than it (a 40 GB sparse "state file" is refused before a byte is read). Every refusal is
a :class:`~migration.core.errors.MigrationError` naming the file and what it is.

:func:`check_regular` is the stat-only form for paths handed to a library that opens them itself (TensorFlow's
checkpoint reader, h5py): ``stat`` follows symlinks, so a symlink to a regular file is accepted.
"""
from __future__ import annotations

import os
import stat
from typing import BinaryIO, Optional

from migration.core.errors import MigrationError


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a regular file"


def _check(st: os.stat_result, path: str, what: str, max_bytes: Optional[int]) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise MigrationError(f"Refused {what} {path!r}: it is {_kind(st.st_mode)}, not a regular file (reading it could "
                             "block or never end). Pass the file itself (or a copy of it).")
    if max_bytes is not None and st.st_size > max_bytes:
        raise MigrationError(f"Refused {what} {path!r}: it is {st.st_size} bytes, over the {max_bytes}-byte limit for "
                             "such a file. The file is damaged or not what its name says; fix or replace it.")


def open_regular(path: str | os.PathLike, what: str = "file", max_bytes: Optional[int] = None) -> BinaryIO:
    """``open(path, 'rb')`` for a regular file of at most ``max_bytes`` bytes; :class:`MigrationError` otherwise."""
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise MigrationError(f"Cannot read {what} {path!r}: {exc.strerror or exc}.") from None
    try:
        _check(os.fstat(fd), path, what, max_bytes)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike, what: str = "file", max_bytes: Optional[int] = None) -> bytes:
    """The whole content of a regular file of at most ``max_bytes`` bytes (see :func:`open_regular`)."""
    with open_regular(path, what, max_bytes) as handle:
        data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:  # grew after the fstat
        raise MigrationError(f"Refused {what} {os.fspath(path)!r}: over the {max_bytes}-byte limit for such a file.")
    return data


def check_regular(path: str | os.PathLike, what: str = "file", max_bytes: Optional[int] = None) -> None:
    """:class:`MigrationError` unless ``path`` is (or links to) a regular file of at most ``max_bytes`` bytes."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise MigrationError(f"Cannot read {what} {path!r}: {exc.strerror or exc}.") from None
    _check(st, path, what, max_bytes)
