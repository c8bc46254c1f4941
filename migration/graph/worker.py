"""The parent's side of the sandbox child: one long-lived process per parent that runs the original graph.

TensorFlow costs seconds to import, so one child (:mod:`migration.graph.sandbox_child`) is started lazily on the
first run, reused for every later one, and started again after it was killed. Requests and results are files in a
private directory (``mkdtemp``, mode 0700): the sub-``GraphDef`` as serialized protobuf, arrays as ``.npy`` (read with
``allow_pickle=False``), a JSON description; one JSON line each way on the child's stdin/stdout says "go" and
"done". Nothing from the child is unpickled or trusted beyond JSON and plain arrays of the expected names.

Limits (:mod:`migration.graph.limits`): the child sets its own ``RLIMIT_AS`` and ``RLIMIT_CPU`` for each request (the
CPU budget counts from the request's start); this process waits at most the wall-time limit, then kills it. SIGKILL,
SIGXCPU, SIGSEGV, SIGABRT of the child, a memory error in it, or the wall limit -> :class:`SandboxLimit`. An
exception here (SIGTERM/SIGINT through :func:`migration.core.signals.signals_raise` included) kills the child before it
propagates, except when the child answered (a failed ``Assert``, a TensorFlow error, an allocation over the
address-space limit that it caught): then it serves the next request; a parent killed outright takes the child with it
(``PR_SET_PDEATHSIG`` in the child).
"""
from __future__ import annotations

import atexit
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Optional, Sequence

import numpy as np

from migration.core.errors import MigrationError
from migration.core.pipes import log_tail, read_line
from migration.graph.limits import GraphAssertionFailed, GraphRunError, Limits, SandboxLimit

#: how long the child may take to import TensorFlow and say it is ready (seconds)
STARTUP_SECONDS = 180.0
_SIGNALS = {int(signal.SIGXCPU): ("the CPU-time limit", "RNN_MIGRATE_SANDBOX_CPU"),
            int(signal.SIGKILL): ("the child was killed (SIGKILL: out of memory, or the CPU-time limit)",
                                  "RNN_MIGRATE_SANDBOX_AS")}


@dataclasses.dataclass
class SparseRows:
    """A large 2-D value that is zero but for ``rows`` at ``index``: sent as those rows, rebuilt in the child as a
    ``MAP_NORESERVE`` zero buffer (only the written pages cost memory)."""

    shape: tuple
    dtype: np.dtype
    index: np.ndarray
    rows: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclasses.dataclass
class Request:
    """What to run: ``graph`` (serialized ``GraphDef``), ``fetches``, and the values: ``mapped`` (tensor name ->
    value, bound with ``input_map``), ``fed`` (placeholder node -> value), ``assigned`` (``VarHandleOp`` node ->
    value, assigned before the fetch)."""

    graph: bytes
    fetches: Sequence[str]
    mapped: dict
    fed: dict
    assigned: dict


def _write_value(directory: str, key: str, value) -> dict:
    if isinstance(value, SparseRows):
        np.save(os.path.join(directory, key + ".index.npy"), np.asarray(value.index, np.int64))
        np.save(os.path.join(directory, key + ".rows.npy"), np.asarray(value.rows, value.dtype))
        return {"file": key, "sparse": True, "shape": [int(d) for d in value.shape], "dtype": np.dtype(value.dtype).str}
    np.save(os.path.join(directory, key + ".npy"), np.asarray(value))
    return {"file": key, "sparse": False}


class _MemoryReply(SandboxLimit):
    """An allocation over the address-space limit that the child caught and answered (TensorFlow's
    ``ResourceExhaustedError`` or a ``MemoryError``): the request's graph and session are gone with it, the next
    request sets the limits again, so the child serves it (no second TensorFlow start)."""


class Worker:
    """One sandbox child (see the module docstring)."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.proc: Optional[subprocess.Popen] = None
        self.dir = tempfile.mkdtemp(prefix="rnn-migrate-sandbox-")  # 0700: private
        self.count = 0
        self.log = os.path.join(self.dir, "child.log")

    def _start(self) -> None:
        import migration

        root = os.path.dirname(os.path.dirname(os.path.abspath(migration.__file__)))
        # oneDNN's allocator retries a failed allocation for 10 s each time: with it off an allocation over the
        # address-space limit fails at once (the plain CPU kernels compute the same results within float rounding)
        env = dict(os.environ, MALLOC_ARENA_MAX="2", TF_ENABLE_ONEDNN_OPTS="0",
                   RNN_MIGRATE_SANDBOX_PARENT=str(os.getpid()))
        # -I: no PYTHON* variables, no user site, and neither the current directory nor a script's directory on
        # sys.path; the package root is put there explicitly
        code = f"import sys; sys.path.insert(0, {root!r}); from migration.graph.sandbox_child import main; main()"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-I", "-c", code], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log, env=env, cwd=self.dir,
                                         start_new_session=True)  # a terminal's Ctrl-C reaches us, not it
        line = self._read_line(time.monotonic() + STARTUP_SECONDS)
        if line is None or json.loads(line).get("ready") is not True:
            self.kill()
            raise MigrationError(f"the sandbox process for the original graph did not start ({self._tail()}); "
                                 "convert with --no-verify to skip the verification against it")

    def _read_line(self, deadline: float) -> Optional[str]:
        """One line from the child, or None at EOF; '' when the deadline passed."""
        assert self.proc is not None and self.proc.stdout is not None
        return read_line(self.proc.stdout.fileno(), deadline, "the sandbox process")

    def _tail(self) -> str:
        return log_tail(self.log, max_bytes=2000)

    def kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()

    def close(self) -> None:
        if os.getpid() == self.owner:
            self.kill()
            shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, request: Request, limits: Limits) -> list[np.ndarray]:
        self.count += 1
        req = os.path.join(self.dir, f"req-{self.count}")
        os.mkdir(req, 0o700)
        try:
            if self.proc is None or self.proc.poll() is not None:
                self.kill()
                self._start()
            return self._run(req, request, limits)
        except (GraphAssertionFailed, GraphRunError, _MemoryReply):
            raise  # the child answered: it serves the next request
        except BaseException:
            self.kill()  # mid-request: the child's state is unknown (and a signal must not leave it running)
            raise
        finally:
            shutil.rmtree(req, ignore_errors=True)

    def _run(self, req: str, request: Request, limits: Limits) -> list[np.ndarray]:
        with open(os.path.join(req, "graph.pb"), "wb") as f:
            f.write(request.graph)
        spec: dict = {"fetches": list(request.fetches)}
        extra = 0
        for kind in ("mapped", "fed", "assigned"):
            values = getattr(request, kind)
            spec[kind] = [dict(_write_value(req, f"{kind}-{k}", v), name=name)
                          for k, (name, v) in enumerate(values.items())]
            extra += sum(v.nbytes for v in values.values() if isinstance(v, SparseRows))
        with open(os.path.join(req, "request.json"), "w") as f:
            json.dump(spec, f)
        go = {"dir": req, "address_space": int(limits.address_space) + extra, "cpu_seconds": limits.cpu_seconds}
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(go) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it died: the reply read below says how
        line = self._read_line(time.monotonic() + limits.wall_seconds)
        if line == "":
            raise SandboxLimit("the wall-time limit", f"{limits.wall_seconds:g} s", "RNN_MIGRATE_SANDBOX_WALL")
        if line is None:
            raise self._died(limits)
        return self._reply(req, json.loads(line), len(request.fetches))

    def _died(self, limits: Limits) -> MigrationError:
        assert self.proc is not None
        code = self.proc.wait()
        if -code in _SIGNALS:
            what, variable = _SIGNALS[-code]
            detail = (f"{limits.cpu_seconds:g} s of CPU" if -code == signal.SIGXCPU
                      else f"address space {limits.address_space} bytes")
            return SandboxLimit(what, detail, variable)
        name = signal.Signals(-code).name if code < 0 and -code in signal.Signals._value2member_map_ else f"exit {code}"
        return SandboxLimit(f"TensorFlow crashed while running it ({name})",
                            f"the graph is malformed or over a memory limit; last output: {self._tail()}",
                            "RNN_MIGRATE_SANDBOX_AS")

    def _reply(self, req: str, reply: dict, n: int) -> list[np.ndarray]:
        if not isinstance(reply, dict):
            raise MigrationError("the sandbox process sent a malformed reply")
        if reply.get("ok") is True:
            return [np.load(os.path.join(req, f"out-{k}.npy"), allow_pickle=False) for k in range(n)]
        kind, message = str(reply.get("kind")), str(reply.get("message"))[:2000]
        if kind == "memory":
            raise _MemoryReply("the address-space limit", message, "RNN_MIGRATE_SANDBOX_AS")
        if kind == "assert":
            raise GraphAssertionFailed(str(reply.get("node")), message)
        raise GraphRunError(f"TensorFlow could not run the original graph: {message}")


_WORKER: Optional[Worker] = None


def worker() -> Worker:
    """This process's sandbox child (a process forked after it was started gets its own)."""
    global _WORKER
    if _WORKER is None or _WORKER.owner != os.getpid():
        _WORKER = Worker()
        atexit.register(_WORKER.close)
    return _WORKER


def run(request: Request, limits: Limits) -> list[np.ndarray]:
    """Run ``request`` in the sandbox child under ``limits``; raises SandboxLimit / GraphAssertionFailed /
    GraphRunError (all :class:`MigrationError`)."""
    return worker().run(request, limits)
