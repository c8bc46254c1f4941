"""Error types shared by the converters, the checkpoint tools and the CLI.

Messages follow the Keras style: what was received, what was expected, and the remedy. The CLI maps
:class:`MigrationError` to exit code 2 and prints only the message; anything else is a bug (exit 3).
"""
from __future__ import annotations

import numbers
from typing import Sequence


class MigrationError(Exception):
    """Bad input (a file, a variable, an argument): the message names it and says what to do."""


class ShapeError(MigrationError, ValueError):
    """An array has the wrong shape; the message names the argument, the shape received and the shape needed."""


class UnknownCellError(MigrationError, ValueError):
    """A cell kind (or checkpoint layout) that no converter handles."""


def check_shape(name: str, array_shape: Sequence[int], expected: Sequence[int | None], context: str = "") -> None:
    """Raise :class:`ShapeError` unless ``array_shape`` matches ``expected`` (``None`` matches any size)."""
    got = tuple(int(d) for d in array_shape)
    ok = len(got) == len(expected) and all(e is None or g == e for g, e in zip(got, expected))
    if not ok:
        want = "(" + ", ".join("?" if e is None else str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
        where = f" ({context})" if context else ""
        raise ShapeError(f"Received an invalid shape for `{name}`{where}: expected {want}, got {got}.")


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as int (NumPy integers included, bools refused), or raise ``ValueError`` in the Keras style."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0:
        return int(value)
    raise ValueError(f"Received an invalid value for `{name}`: expected a positive integer, got {value!r}.")
