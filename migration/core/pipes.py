"""A child process's pipe and log (the sandbox child and the Keras 3 child): one line with a deadline, the log's tail."""
from __future__ import annotations

import os
import select
import time
from typing import Optional

from migration.core.errors import MigrationError

#: the longest line a child may send (its replies are short JSON objects)
MAX_LINE = 1 << 20


def read_line(fd: int, deadline: float, who: str) -> Optional[str]:
    """The next line on ``fd`` (a ``time.monotonic()`` ``deadline``): None at EOF (the child is gone), ``''`` when
    the deadline passed; :class:`MigrationError` naming ``who`` for a line over :data:`MAX_LINE` bytes."""
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            return ""
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return None
        buf += chunk
        if len(buf) > MAX_LINE:
            raise MigrationError(f"{who} sent an oversized reply")
    return buf.decode("utf-8", "replace")


def log_tail(path: str, lines: int = 3, max_bytes: int = 4000) -> str:
    """The last ``lines`` non-blank lines of a child's log (its last ``max_bytes``), joined by `` | ``; ``'no log'``
    when it cannot be read, ``'no output'`` when it is empty."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - max_bytes))
            text = [ln for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return " | ".join(text[-lines:]) or "no output"
