"""Helpers for the user-experience tests: fresh ``python -m migration`` processes with ``TF_CPP_MIN_LOG_LEVEL``
unset, a detector for TensorFlow's log lines and deprecation warnings, and TensorBoard event files read back."""
from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: What TensorFlow prints when it is not configured: absl/glog-formatted C++ lines, absl's pre-init notice, the oneDNN
#: banner, the CUDA stub, Python-side ``WARNING:tensorflow:`` / ``WARNING:absl:`` records, deprecation notices and
#: Python warnings.
TF_NOISE = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ \S+:\d+\]|absl::InitializeLog|oneDNN|cuda|cudart|WARNING:(tensorflow|absl)"
    r"|deprecat|Warning:|will be removed in a future version", re.IGNORECASE | re.MULTILINE)


def tf_noise(stderr: str) -> list[str]:
    """The stderr lines that are TensorFlow log lines or warnings (empty when the run was quiet)."""
    return [line for line in stderr.splitlines() if TF_NOISE.search(line)]


def run_cli(*args: str, cwd: str | os.PathLike, timeout: int = 300, **env: str) -> subprocess.CompletedProcess:
    """``python -m migration ARGS`` in a fresh process, ``TF_CPP_MIN_LOG_LEVEL`` and ``TF_USE_LEGACY_KERAS`` unset,
    the repository on ``PYTHONPATH`` (so the run works from any directory)."""
    environ = {k: v for k, v in os.environ.items()
               if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_USE_LEGACY_KERAS", "RNN_MIGRATE_TF_LOGS")}
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    environ.update(MPLBACKEND="Agg", **env)
    return subprocess.run([sys.executable, "-m", "migration", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=timeout)


def run_cli_in_process(*args: str, cwd: str | os.PathLike) -> subprocess.CompletedProcess:
    """``migration.cli.main(ARGS)`` in THIS process, in ``cwd``, with ``sys.stdout``/``sys.stderr`` captured: what
    :func:`run_cli` returns, without a fresh interpreter importing TensorFlow (and the sandbox child is this process's
    shared one). For tests about a command's result and messages, not about process start-up (``sys.path``, the
    C++ logger's stderr noise, signals, exit at a crash: those keep :func:`run_cli`)."""
    from migration.cli import main

    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile() as fd_err:  # file descriptor 2 too: TensorFlow's C++ and logging handler lines
        sys.stderr.flush()
        os.dup2(fd_err.fileno(), 2)
        os.chdir(cwd)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as exc:  # usage errors
                    code = exc.code if isinstance(exc.code, int) else 2
        finally:
            os.chdir(previous)
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
        fd_err.seek(0)
        written = fd_err.read().decode("utf-8", "replace")
    return subprocess.CompletedProcess(["rnn-migrate", *args], code, out.getvalue(), written + err.getvalue())


def read_events(directory: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` from every event file directly in ``directory`` (TensorFlow's own reader)."""
    import tensorflow as tf

    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(Path(directory).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                assert value.metadata.plugin_data.plugin_name in ("scalars", ""), value.metadata
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                out.setdefault(value.tag, []).append((int(event.step), number))
    return {tag: sorted(points) for tag, points in out.items()}


def png_pixels(path: str | os.PathLike):
    """The PNG decoded by matplotlib (``H x W x channels`` floats)."""
    import matplotlib.image

    return matplotlib.image.imread(str(path))
