"""Rewrite a file in place, into the same inode, when other names (hard links) share it.

``upgrade --in-place`` normally writes a temporary file and renames it over SRC (a reader never sees half a file).
A rename gives SRC a new inode, so a file with hard links (``st_nlink > 1``) would be split: SRC gets the new text,
every other name keeps the old one, and the user no longer has one file. For such a file rnn-migrate writes into
the existing inode instead (as an editor saving in place does), only after everything that can fail before
writing has been done:

1. the new content is fully prepared (encoded) in memory;
2. the backup ``SRC.bak`` has been written and fsynced (the caller does this first: it is the recovery copy);
3. the file is opened without truncation, checked to be the same inode that was read (a swap in between is
   refused), written, truncated to the new length and fsynced.

If writing fails part-way (a full disk while the file grows, an I/O error), the original bytes are written back
into the same inode; the backup still holds them in any case. Nothing is lost.
"""
from __future__ import annotations

import os
import stat

from migration.core.errors import MigrationError


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], done)
    os.ftruncate(fd, len(data))
    os.fsync(fd)


def write_into_inode(path: str, data: bytes, original: bytes, expected: os.stat_result, backup: str) -> None:
    """Replace the content of ``path`` by ``data`` keeping its inode (module docstring). ``original``: the bytes
    that were read (written back on failure); ``expected``: ``os.stat`` of ``path`` when it was read."""
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino) or \
                st.st_size != len(original):
            raise MigrationError(f"{path} changed while it was being upgraded (another inode or size); nothing was "
                                 f"written to it. The backup {backup} holds what was read.")
        try:
            _write_all(fd, data)
        except OSError as exc:
            try:
                _write_all(fd, original)
                state = "its original content was written back"
            except OSError:
                state = f"it may be incomplete: restore it from {backup}"
            raise MigrationError(f"cannot write {path} in place: {exc.strerror or exc}; {state}. The backup {backup} "
                                 "holds the original.") from None
    finally:
        os.close(fd)
