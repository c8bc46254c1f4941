"""Fewer passes of Python's cyclic garbage collector in rnn-migrate's own processes.

Building TensorFlow graphs and Keras models allocates millions of small container objects (ops, tensors, layers,
nests of specs), many of them in reference cycles. With CPython's default thresholds ``(700, 10, 10)`` a generation-0
pass runs every 700 net allocations: a default ``rnn-migrate convert`` of the demo checkpoint made ~3,000 passes, the
equivalence table's TF1/Keras rows ~2,300 passes in 30 s (about 10 % of their CPU time), each pass walking objects that
are almost all alive. :data:`THRESHOLDS` (50,000 allocations before a generation-0 pass) keep the collector (cycles are
still freed, in fewer and larger passes) and cut that to a few dozen passes; the measured effect is in
``docs/benchmarks.md`` ("Garbage-collector thresholds"). Memory: at most the cycles made since the last pass are
pending; peak RSS of the same runs moved by under 1 %.

:func:`tune` is called by the entry points of rnn-migrate's own processes only (``rnn-migrate`` / ``python -m
migration``, the sandbox child, the distributed example's children; the Keras 3 child sets the same numbers itself as
it imports nothing of rnn-migrate), never on ``import migration``: a program that uses the project as a library keeps
its own collector settings. ``RNN_MIGRATE_DEFAULT_GC=1`` keeps Python's defaults.
"""
from __future__ import annotations

import gc
import os

#: (generation 0, generation 1, generation 2) thresholds: see the module docstring
THRESHOLDS: tuple[int, int, int] = (50_000, 20, 20)
DEFAULT_ENV_VAR = "RNN_MIGRATE_DEFAULT_GC"


def tune() -> tuple[int, int, int]:
    """Set :data:`THRESHOLDS` (unless ``RNN_MIGRATE_DEFAULT_GC`` is set to a non-empty value other than ``0``) and
    return the thresholds now in force. Idempotent."""
    if os.environ.get(DEFAULT_ENV_VAR, "") not in ("", "0"):
        return gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    return gc.get_threshold()
