"""One cleanup path for SIGTERM, SIGHUP and SIGINT: within :func:`signals_raise` they raise :class:`Interrupted`
(a ``KeyboardInterrupt``), so ``finally`` blocks and context managers clean up as for any exception; the CLI exits
with ``128 + signum``. :func:`signals_blocked` defers them around a few renames that must not be cut in half."""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

#: Signals that abort a run through the same cleanup path as an exception (SIGINT included).
CLEANUP_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """Raised by the handlers :func:`signals_raise` installs; the CLI exits with ``128 + signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM/SIGHUP/SIGINT raise :class:`Interrupted`; the previous handlers come back after.

    Outside the main thread (where handlers cannot be installed) this is a no-op.
    """
    if not _main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        raise Interrupted(signum)

    previous = {}
    try:
        for sig in CLEANUP_SIGNALS:
            previous[sig] = signal.signal(sig, handler)
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


def ignore_signals() -> None:
    """From now on SIGTERM/SIGHUP/SIGINT are ignored (a second Ctrl-C must not interrupt a cleanup)."""
    if _main_thread():
        for sig in CLEANUP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """SIGTERM/SIGHUP/SIGINT arriving inside the block are delivered when it ends (a few renames stay whole)."""
    if not _main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, CLEANUP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


__all__ = ["CLEANUP_SIGNALS", "Interrupted", "ignore_signals", "signals_blocked", "signals_raise"]
