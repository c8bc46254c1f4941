"""Fewer passes of Python's cyclic garbage collector in rnn-migrate's own processes.

Building TensorFlow graphs and Keras models allocates millions of small container objects (ops, tensors, layers,
nests of specs), many of them in reference cycles. With CPython's default thresholds ``(700, 10, 10)`` a generation-0
pass runs every 700 net allocations: a default ``rnn-migrate convert`` of the demo checkpoint made ~3,000 passes, the
equivalence table's TF1/Keras rows ~2,300 passes in 30 s (about 10 % of their CPU time), each pass walking objects that
are almost all alive. :data:`THRESHOLDS` (50,000 allocations before a generation-0 pass) keep the collector (cycles are
still freed, in fewer and larger passes) and cut that to a few dozen passes; the measured effect is in
``docs/benchmarks.md`` ("Garbage-collector thresholds"). Memory: at most the cycles made since the last pass are
pending; peak RSS of the same runs moved by under 1 %.

**No whole-heap passes at exit.** Python's finalization runs full collections over every object still alive; after a
TensorFlow import that is ~0.95 CPU second per process (a fifth of a process that imports what ``convert`` imports and
exits; more after a large conversion), spent proving that objects about to vanish with the process are alive.
:func:`tune` registers :func:`gc.freeze` as an ``atexit`` handler; being registered at the entry point, before
TensorFlow is imported, it runs after the other handlers (they run last-registered first: TensorFlow's, ``logging``'s
flush, ``weakref.finalize``'s, which removes ``tempfile.TemporaryDirectory`` trees). What that skips: the
finalizers of objects that were already unreachable reference cycles at that moment. Nothing in rnn-migrate leaves
its cleanup to the collector (files are closed and temporary paths removed explicitly, on every signal too).

:func:`tune` is called by the entry points of rnn-migrate's own processes only (``rnn-migrate`` / ``python -m
migration``, the sandbox child, the distributed example's children; the Keras 3 child sets the same numbers itself as
it imports nothing of rnn-migrate), never on ``import migration``: a program that uses the project as a library keeps
its own collector settings. ``RNN_MIGRATE_DEFAULT_GC=1`` keeps Python's defaults.
"""
from __future__ import annotations

import atexit
import gc

from migration.core import env_flags

#: (generation 0, generation 1, generation 2) thresholds: see the module docstring
THRESHOLDS: tuple[int, int, int] = (50_000, 20, 20)
DEFAULT_ENV_VAR = "RNN_MIGRATE_DEFAULT_GC"


def tune() -> tuple[int, int, int]:
    """Set :data:`THRESHOLDS` and register the exit-time :func:`gc.freeze` (unless ``RNN_MIGRATE_DEFAULT_GC`` is set
    to a non-empty value other than ``0``); return the thresholds now in force. Idempotent."""
    if env_flags.is_set(DEFAULT_ENV_VAR):
        return gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    _freeze_at_exit()
    return gc.get_threshold()


_FREEZE_REGISTERED: list[bool] = []


def _freeze_at_exit() -> None:
    """Register :func:`gc.freeze` to run at exit, once per process (the module docstring)."""
    if not _FREEZE_REGISTERED:
        atexit.register(gc.freeze)
        _FREEZE_REGISTERED.append(True)


def freezes_at_exit() -> bool:
    """Whether :func:`tune` has registered the exit-time :func:`gc.freeze` in this process."""
    return bool(_FREEZE_REGISTERED)
