"""Terminal text for every command and example: messages and progress bars, on stderr, never on top of each other.

* :func:`say` prints one human message on stderr. While a bar is on screen it goes through ``tqdm.write``, which
  clears the bar, prints the message on its own line and redraws the bar below it.
* :func:`task` is one progress bar for one task (``with task("convert", total=n, unit="B") as bar: bar.update(k)``);
  :func:`progress` wraps an iterable in one. A bar that finishes its task is shown complete (``n == total``) and stays
  on screen; a task that fails or is abandoned leaves its bar where it stopped.
* While a bar is open, Python ``logging`` records (TensorFlow's logger included) and ``warnings`` are printed through
  ``tqdm.write`` as well (``logging_redirect_tqdm``), so nothing lands on the bar's row.
* No bar at all with ``quiet=True`` or when stderr is not a terminal (pipes, CI, ``--json`` consumers); messages are
  still printed (callers skip them under ``--quiet`` themselves when they are chatter).

stdout stays for results (``--json``: the last stdout line is one JSON object). This module imports neither
TensorFlow nor NumPy.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_open_bars = 0


def bars_enabled(quiet: bool = False) -> bool:
    """Progress bars are drawn only for a person: not ``quiet`` and stderr is a terminal."""
    stream = sys.stderr
    return not quiet and stream is not None and hasattr(stream, "isatty") and stream.isatty()


def say(message: str) -> None:
    """One human message on stderr, above any open progress bar."""
    if _open_bars:
        from tqdm import tqdm

        tqdm.write(message, file=sys.stderr)
        sys.stderr.flush()
    else:
        print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _warnings_through_tqdm() -> Iterator[None]:
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001 - warnings' API
        say(warnings.formatwarning(message, category, filename, lineno, line).rstrip("\n"))

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original


@contextlib.contextmanager
def task(desc: str, total: int | None = None, *, unit: str = "it", quiet: bool = False,
         unit_scale: bool = False) -> Iterator["object"]:
    """One progress bar for one task; the yielded object has ``update(n)``.

    The bar is completed (``n`` set to ``total``) when the block ends without an exception, so a finished task never
    shows 97 % because the last update was skipped or rounded. Without a terminal (or with ``quiet``) the bar is a
    disabled tqdm: ``update`` costs nothing and nothing is printed.
    """
    global _open_bars
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    enabled = bars_enabled(quiet)
    bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, disable=not enabled, file=sys.stderr,
               leave=True, dynamic_ncols=True)
    if not enabled:
        try:
            yield bar
        finally:
            bar.close()
        return
    loggers = [logging.getLogger(), logging.getLogger("tensorflow")]
    _open_bars += 1
    try:
        with logging_redirect_tqdm(loggers=loggers), _warnings_through_tqdm():
            yield bar
            if total is not None and bar.n < total:
                bar.update(total - bar.n)
    finally:
        _open_bars -= 1
        bar.close()


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "step",
             quiet: bool = False) -> Iterator[T]:
    """Iterate ``iterable`` under one :func:`task` bar (``total`` defaults to ``len(iterable)`` when it has one)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with task(desc, total, unit=unit, quiet=quiet) as bar:
        for item in iterable:
            yield item
            bar.update(1)
