"""What every subcommand shares with :mod:`migration.cli`: the exit codes, the argparse number types and the
``--json`` printer. It sits below both (the subcommands import it, and so does ``cli``, which re-exports these
names), so no subcommand imports ``migration.cli``: the arrows point down."""
from __future__ import annotations

import argparse
import json
import math
import sys

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def finite_float(text: str) -> float:
    """argparse type: a finite float (``nan``/``inf`` refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def tolerance(text: str) -> float:
    """argparse type: a finite, non-negative tolerance."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a tolerance >= 0, got {text!r}")
    return value


class OutputError(OSError):
    """Standard output cannot be written (``> /dev/full``, a full disk, a closed descriptor): exit 2, no traceback."""


def print_json(obj: object) -> None:
    """Print one JSON object as the last line of stdout (the ``--json`` contract)."""
    try:
        sys.stdout.write(json.dumps(obj, sort_keys=True, default=str) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(exc.errno, exc.strerror) from None
