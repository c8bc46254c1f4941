"""What every example shares: the common flags, progress bars, the ``--json`` line, loss plots, TensorBoard logs.

Contract of the common flags (added by :func:`add_common_args`):

* ``--json``: the **last line of stdout** is one JSON object with the run's figures; human output goes to stderr.
* ``--plot PATH.png``: loss curves, legacy vs modern, written atomically.
* ``--logdir DIR``: TensorBoard scalar summaries, one sub-directory per side (``DIR/legacy``, ``DIR/modern``).
* ``--seed N``: seeds NumPy, Python and TensorFlow.
* ``--quiet``: no progress bar (it is also off when stderr is not a terminal).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

T = TypeVar("T")


def add_common_args(parser: argparse.ArgumentParser, *, seed: int = 0) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object with the results as the last stdout line")
    parser.add_argument("--plot", metavar="PATH.png", help="write the loss curves (legacy vs modern) to this PNG file")
    parser.add_argument("--logdir", metavar="DIR", help="write TensorBoard summaries to DIR/legacy and DIR/modern")
    parser.add_argument("--seed", type=int, default=seed, help=f"random seed for NumPy, Python and TensorFlow (default {seed})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_guarded(name: str, args: argparse.Namespace, body: Callable[[argparse.Namespace], int]) -> int:
    """Run ``body(args)``; a :class:`migration.errors.MigrationError` (bad input) becomes the message on stderr, the
    ``--json`` error object and exit code 2, the same contract as ``rnn-migrate``'s own commands."""
    from migration.errors import MigrationError

    try:
        return int(body(args) or 0)
    except MigrationError as exc:
        say(f"{name}: error: {exc}")
        if getattr(args, "json", False):
            emit_json({"error": str(exc), "exit_code": 2})
        return 2


def quiet_tensorflow(seed: int) -> None:
    """Import the legacy side first (TF_USE_LEGACY_KERAS before TensorFlow), silence the TF1 deprecation notices the
    examples exist to replace, and seed NumPy, Python and TensorFlow."""
    import warnings

    import legacy_rnn

    legacy_rnn.tf.get_logger().setLevel("ERROR")
    warnings.filterwarnings("ignore", message=r".*is deprecated", category=UserWarning)
    seed_everything(seed)


def seed_everything(seed: int) -> None:
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "", quiet: bool = False) -> Iterator[T]:
    """One progress bar per task on stderr (:func:`migration.output.progress`): off with ``quiet`` or when stderr is
    not a terminal, complete when the loop ends, messages printed through it."""
    from migration.output import progress as _progress

    yield from _progress(iterable, total=total, desc=desc, quiet=quiet)


def say(message: str) -> None:
    """Human output: stderr (stdout stays machine-readable under ``--json``), above any open progress bar."""
    from migration.output import say as _say

    _say(message)


def emit_json(result: Mapping[str, object]) -> None:
    sys.stdout.write(json.dumps(result, sort_keys=True, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(obj: object) -> object:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def plot_curves(path: str | os.PathLike, curves: Mapping[str, Sequence[float]], *, title: str,
                xlabel: str = "step", ylabel: str = "loss", offsets: Mapping[str, int] | None = None,
                marker: tuple[float, str] | None = None) -> None:
    """Plot named curves (e.g. ``{"legacy (TF1 graph)": [...], "modern (Keras 2)": [...]}``) to a PNG, atomically.

    ``offsets`` shifts a curve along x (a continuation starts where another one ended); ``marker`` draws a labelled
    vertical line at ``(x, label)``.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for label, values in curves.items():
        start = (offsets or {}).get(label, 0)
        ax.plot(range(start + 1, start + len(values) + 1), list(values), label=label)
    if marker is not None:
        ax.axvline(marker[0], color="grey", linestyle="--", linewidth=1)
        ax.annotate(marker[1], (marker[0], 0.98), xycoords=("data", "axes fraction"), ha="right", va="top",
                    fontsize=8, color="grey")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def write_scalars(logdir: str | os.PathLike | None, side: str, tag: str, values: Sequence[float]) -> None:
    """TensorBoard scalars ``tag`` for ``side`` ('legacy' or 'modern') under ``logdir/side`` (eager summary writer)."""
    if not logdir:
        return
    import tensorflow as tf

    from tensorflow.core.framework import summary_pb2

    # tf.summary.scalar lives in the tensorboard package, which is not installed here; tf.summary.write with the
    # "scalars" plugin metadata writes the same event records (TensorBoard shows them as scalars).
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    writer = tf.summary.create_file_writer(str(Path(logdir) / side))
    with writer.as_default():
        for step, value in enumerate(values):
            tf.summary.write(tag, tf.constant(float(value), tf.float32), step=step,
                             metadata=metadata.SerializeToString())
    writer.flush()
    writer.close()
