"""The Keras 3 child process of another backend (JAX), started once per process and reused.

:func:`migration.targets.verify_targets.run_keras3_elsewhere` checks Keras 3 files on the JAX backend in an isolated
child (``python -I keras3_child.py --serve``: it imports only Keras, JAX, NumPy and the custom layers beside it, never
the rest of rnn-migrate, and loads every file in safe mode). Importing Keras and JAX costs that child ~3.3 CPU s; a
conversion with seq2seq decoders asks twice (blocks, then decoders), and a program or test session that converts
many checkpoints asks many times. So the child is kept: one per backend and :data:`RELEVANT` environment in this
process, each request a work directory on its stdin line and one JSON line back (:func:`keras3_child.serve`).

Bounds and clean-up: a request that gives no answer within ``timeout`` seconds, or a child that dies, is killed and
raises :class:`MigrationError` with the last lines the child wrote to its log; the next request starts a fresh child.
A failed job (a file Keras refuses) is an answer: the child serves the next request. The child exits when its stdin
closes: at this process's exit (``atexit`` closes it; if this process is killed, the kernel closes the pipe), and a
forked copy of this process never uses its parent's child.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Optional

from migration.core.errors import MigrationError
from migration.core.pipes import log_tail, read_line

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras3_child.py")


class ChildFailed(MigrationError):
    """The child did not start, died, or did not answer in time (its log's last lines in the message)."""

    def __init__(self, message: str, died: bool = False) -> None:
        super().__init__(message)
        self.died = died


class Keras3Child:
    """One serving child of ``backend`` with environment ``env``."""

    def __init__(self, backend: str, env: dict[str, str]) -> None:
        self.backend, self.env, self.owner = backend, env, os.getpid()
        self.dir = tempfile.mkdtemp(prefix="rnn-migrate-keras3-child-")
        self.log = os.path.join(self.dir, "child.log")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-I", CHILD, "--serve"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log, env=env, cwd=self.dir)

    def tail(self) -> str:
        return log_tail(self.log)

    def _line(self, deadline: float) -> Optional[str]:
        """One line from the child; None at EOF (it died), '' past the deadline."""
        assert self.proc.stdout is not None
        return read_line(self.proc.stdout.fileno(), deadline, "the Keras 3 child")

    def ready(self, timeout: float) -> None:
        line = self._line(time.monotonic() + timeout)
        if not line or json.loads(line).get("ready") is not True:
            tail = self.tail()
            self.close()
            raise ChildFailed(f"the Keras 3 {self.backend} child did not start: {tail}")

    def request(self, work: str, timeout: float) -> dict:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((work + "\n").encode())
            self.proc.stdin.flush()
        except OSError:  # the pipe is closed: it died
            line = None
        else:
            line = self._line(time.monotonic() + timeout)
        if not line:
            tail = self.tail()
            self.close()
            what = "died" if line is None else f"gave no answer within {timeout:.0f} s"
            raise ChildFailed(f"the Keras 3 {self.backend} child {what}: {tail}", died=line is None)
        return json.loads(line)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if os.getpid() != self.owner:  # a forked copy: the child is the original process's
            return
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # EOF: the child leaves its loop
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        shutil.rmtree(self.dir, ignore_errors=True)


_CHILDREN: dict[tuple, Keras3Child] = {}
#: the environment variables a running child is kept for: a change of any of them starts a new child (others, e.g. a
#: test runner's per-test variable, do not change what the child computes)
RELEVANT = ("KERAS_", "JAX_", "XLA_", "TF_", "RNN_MIGRATE_", "PYTHON", "OMP_", "MKL_", "MALLOC_", "LD_", "PATH")


def _key(backend: str, env: dict[str, str]) -> tuple:
    return backend, tuple(sorted((k, v) for k, v in env.items() if k.startswith(RELEVANT)))


def child(backend: str, env: dict[str, str], timeout: float) -> Keras3Child:
    """The serving child of ``backend`` under ``env`` (started, or the running one); :class:`ChildFailed` when it
    cannot start (its log's last lines: e.g. ``No module named 'jax'``)."""
    key = _key(backend, env)
    running = _CHILDREN.get(key)
    if running is not None and running.owner == os.getpid() and running.alive():
        return running
    if running is not None:
        running.close()
    for other in [k for k, c in _CHILDREN.items() if k[0] == backend and k != key]:
        _CHILDREN.pop(other).close()  # another environment (a changed XLA_FLAGS): one child per backend at a time
    started = Keras3Child(backend, env)
    started.ready(timeout)
    _CHILDREN[key] = started
    return started


def request(backend: str, env: dict[str, str], work: str, timeout: float) -> dict:
    """The answer of the child of ``backend`` to ``work``. A child that was already running and turns out dead
    (killed between two requests) is replaced once; a fresh child that dies, or any child past ``timeout``, raises
    :class:`ChildFailed`."""
    key = _key(backend, env)
    reused = key in _CHILDREN and _CHILDREN[key].owner == os.getpid() and _CHILDREN[key].alive()
    try:
        return child(backend, env, timeout).request(work, timeout)
    except ChildFailed as exc:
        if not (reused and exc.died):
            raise
    return child(backend, env, timeout).request(work, timeout)


def discard(backend: str) -> None:
    """Close the running child of ``backend`` (after a failed request its state is unknown)."""
    for key in [k for k in _CHILDREN if k[0] == backend]:
        _CHILDREN.pop(key).close()


@atexit.register
def _close_all() -> None:
    while _CHILDREN:
        _CHILDREN.popitem()[1].close()
