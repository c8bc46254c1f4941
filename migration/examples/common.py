"""What every example shares: the common flags, progress bars, the ``--json`` line, loss plots, TensorBoard logs.

Contract of the common flags (added by :func:`add_common_args`):

* results (the report's lines, :func:`result_line`) go to stdout, progress and messages (:func:`say`) to stderr:
  ``rnn-migrate example NAME > out.txt`` keeps the report; ``--json``: stdout holds only one JSON object with the
  run's figures and the report's lines go to stderr too.
* ``--plot PATH.png``: loss curves, legacy vs modern, written atomically (parent directories created); curves of
  one model share a colour, sides differ by line style, the legend sits outside the data, and a curve that lies
  exactly on another one says so in its legend entry.
* ``--logdir DIR``: TensorBoard scalar summaries, one run directory per side (``DIR/legacy``, ``DIR/modern``) with
  the **same tags** on both sides and one step axis (a continuation starts at the step where the other side
  stopped), so TensorBoard overlays the curves. Viewing them needs ``pip install "rnn-migrate[tensorboard]"``
  (writing does not).
  (``text_prep`` trains nothing and has neither flag.)
* ``--seed N``: seeds NumPy, Python and TensorFlow.
* ``--quiet``: no progress bar (it is also off when stderr is not a terminal).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

import numpy as np

from migration.core import output
from migration.core.errors import MigrationError
from migration.core.outdir import atomic_write_bytes  # noqa: F401  (one atomic writer; examples and benchmarks use it)

T = TypeVar("T")


def add_common_args(parser: argparse.ArgumentParser, *, seed: int = 0, curves: bool = True) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object with the results as the last stdout line")
    if curves:
        parser.add_argument("--plot", metavar="PATH.png", help="write the loss curves (legacy vs modern) to this PNG file")
        parser.add_argument("--logdir", metavar="DIR", help="write TensorBoard summaries to DIR/legacy and DIR/modern "
                                                            "(view them with the [tensorboard] extra)")
    parser.add_argument("--seed", type=int, default=seed, help=f"random seed for NumPy, Python and TensorFlow (default {seed})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_guarded(name: str, args: argparse.Namespace, body: Callable[[argparse.Namespace], int]) -> int:
    """Run ``body(args)``; a :class:`migration.core.errors.MigrationError` (bad input) becomes the message on stderr, the
    ``--json`` error object and exit code 2, the same contract as ``rnn-migrate``'s own commands."""

    with scoped_op_determinism():
        try:
            return int(body(args) or 0)
        except MigrationError as exc:
            say(f"{name}: error: {exc}")
            if getattr(args, "json", False):
                emit_json({"error": str(exc), "exit_code": 2})
            return 2


@contextlib.contextmanager
def scoped_op_determinism() -> Iterator[None]:
    """Leave TensorFlow's op determinism as it was before an example ran.

    :func:`seed_everything` turns it on for the run; with it on, TensorFlow refuses every random op without a seed
    (``RuntimeError: Random ops require a seed``), which would break unseeded graphs that the caller builds after
    calling an example in-process (tests, notebooks). A separate ``rnn-migrate`` process is unaffected either way.
    """
    def config():  # tensorflow.python.framework.config: TF 2.21 has no public query or switch-off
        return sys.modules.get("tensorflow.python.framework.config") if "tensorflow" in sys.modules else None

    before = bool(config() and config().is_op_determinism_enabled())
    try:
        yield
    finally:
        cfg = config()
        if not before and cfg is not None and cfg.is_op_determinism_enabled():
            cfg.disable_op_determinism()


def quiet_tensorflow(seed: int) -> None:
    """Import the legacy side first (TF_USE_LEGACY_KERAS before TensorFlow; TensorFlow's logging is configured in one
    place, :mod:`migration.core.tf_env`) and seed everything (:func:`seed_everything`)."""
    import legacy_rnn  # noqa: F401

    seed_everything(seed)


def seed_everything(seed: int) -> None:
    """Same seed, same numbers on CPU: seed Python, NumPy and TensorFlow, turn on TensorFlow's op determinism and
    run one inter-op thread (eager and ``tf.function``; TF1 sessions get theirs from :func:`legacy_rnn.new_session`)
    so that stateful random ops (dropout) draw in a fixed order. Data order comes from ``seed`` in each example."""

    random.seed(seed)
    np.random.seed(seed)
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return
    tf.random.set_seed(seed)
    tf.config.experimental.enable_op_determinism()
    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # the eager context is initialized already: its threads are fixed for this process
        pass


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "", quiet: bool = False) -> Iterator[T]:
    """One progress bar per task on stderr (:func:`migration.core.output.progress`): off with ``quiet`` or when stderr is
    not a terminal, complete when the loop ends, messages printed through it."""
    yield from output.progress(iterable, total=total, desc=desc, quiet=quiet)


def say(message: str) -> None:
    """Human output: stderr (stdout stays machine-readable under ``--json``), above any open progress bar."""
    output.say(message)


def result_line(message: str, args: argparse.Namespace) -> None:
    """A line of the run's report: stdout (results there, progress and messages on stderr, as every ``rnn-migrate``
    command); with ``--json`` on stderr, so that stdout holds the JSON object alone."""
    if getattr(args, "json", False):
        output.say(message)
    else:
        sys.stdout.write(message + "\n")
        sys.stdout.flush()


def emit_json(result: Mapping[str, object]) -> None:
    sys.stdout.write(json.dumps(result, sort_keys=True, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


LINESTYLES = ("-", "--", ":", "-.")


def coincident_pairs(curves: Mapping[str, Sequence[float]], offsets: Mapping[str, int] | None = None,
                     rtol: float = 1e-6) -> dict[str, tuple[str, float]]:
    """``{label: (earlier_label, max_abs_diff)}`` for each curve that lies on an earlier one (same x range, values
    equal within ``rtol`` of the curves' scale): drawn later, it hides the earlier one completely."""

    found: dict[str, tuple[str, float]] = {}
    labels = list(curves)
    for j, label in enumerate(labels):
        b = np.asarray(curves[label], np.float64)
        for other in labels[:j]:
            a = np.asarray(curves[other], np.float64)
            if a.shape != b.shape or (offsets or {}).get(other, 0) != (offsets or {}).get(label, 0) or not len(a):
                continue
            diff = float(np.max(np.abs(a - b)))
            if diff <= rtol * max(1.0, float(np.max(np.abs(a)))):
                found[label] = (other, diff)
                break
    return found


def plot_curves(path: str | os.PathLike, curves: Mapping[str, Sequence[float]], *, title: str,
                xlabel: str = "step", ylabel: str = "loss", offsets: Mapping[str, int] | None = None,
                marker: tuple[float, str] | None = None,
                families: Mapping[str, str] | None = None, x_step: int = 1) -> dict[str, tuple[str, float]]:
    """Plot named curves (e.g. ``{"legacy (TF1 graph)": [...], "modern (Keras 2)": [...]}``) to a PNG, atomically.

    ``offsets`` shifts a curve along x (a continuation starts where another one ended); value ``k`` (0-based) of a
    curve is drawn at ``x_step * (offset + k + 1)`` (``x_step=25`` for 25-step means: x in steps); the x ticks are
    integers; ``marker`` draws a labelled vertical line at ``(x, label)`` (a label may hold several lines); ``families`` (``{label: model}``) gives the curves of one model one colour and
    tells their sides apart by line style (default: every curve its own colour). The legend sits outside the axes.
    A curve that lies exactly on an earlier one is drawn dashed on top and its legend entry says so; the return
    value lists those pairs (:func:`coincident_pairs`) so the caller can say it in text too.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = dict(families or {label: label for label in curves})
    family_names = list(dict.fromkeys(families.get(label, label) for label in curves))
    palette = plt.get_cmap("tab10" if len(family_names) <= 10 else "tab20")
    colour = {name: palette(i % palette.N) for i, name in enumerate(family_names)}
    seen: dict[str, int] = {}
    same = coincident_pairs(curves, offsets)
    fig, ax = plt.subplots(figsize=(9 if len(curves) > 2 else 8, 4.2), dpi=100)
    for label, values in curves.items():
        family = families.get(label, label)
        style = LINESTYLES[seen.get(family, 0) % len(LINESTYLES)]
        seen[family] = seen.get(family, 0) + 1
        start = (offsets or {}).get(label, 0)
        shown = label
        if label in same:
            other, diff = same[label]
            style = "--"
            shown = f"{label}\n(lies exactly on {other}: max |diff| {diff:.1e})"
        ax.plot([x_step * k for k in range(start + 1, start + len(values) + 1)], list(values), label=shown,
                color=colour[family],
                linestyle=style, linewidth=1.4)
    if marker is not None:
        ax.axvline(marker[0], color="grey", linestyle="--", linewidth=1)
        ax.annotate(marker[1], (marker[0], 0.98), xycoords=("data", "axes fraction"), ha="right", va="top",
                    fontsize=8, color="grey")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # time steps, windows, steps: never 2.5
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8, frameon=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return same


def write_scalars(logdir: str | os.PathLike | None, side: str, tag: str, values: Sequence[float],
                  start_step: int = 0) -> None:
    """TensorBoard scalars ``tag`` for ``side`` (a run directory: 'legacy', 'modern', 'legacy/static' ...) under
    ``logdir/side``, value ``k`` at step ``start_step + k`` (eager summary writer).

    Both sides use the same ``tag`` so that TensorBoard overlays them; a side that continues another one passes the
    step where the other stopped as ``start_step``.
    """
    if not logdir:
        return
    import tensorflow as tf

    from tensorflow.core.framework import summary_pb2

    # tf.summary.scalar needs the tensorboard package (the [tensorboard] extra, only needed to view the logs);
    # tf.summary.write with the "scalars" plugin metadata writes the same event records.
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    writer = tf.summary.create_file_writer(str(Path(logdir) / side))
    with writer.as_default():
        for step, value in enumerate(values, start=start_step):
            tf.summary.write(tag, tf.constant(float(value), tf.float32), step=step,
                             metadata=metadata.SerializeToString())
    writer.flush()
    writer.close()
