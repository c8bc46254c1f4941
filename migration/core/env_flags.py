"""rnn-migrate's on/off environment variables (``RNN_MIGRATE_TF_LOGS``, ``RNN_MIGRATE_DEFAULT_GC``,
``RNN_MIGRATE_OP_TRACEBACKS``, ``RNN_MIGRATE_AUTOGRAPH``), read one way: unset, empty or ``0`` is off, any other
value on. (The isolated Keras 3 child, which imports nothing of rnn-migrate, reads ``RNN_MIGRATE_DEFAULT_GC`` the same
way in its own copy.)"""
from __future__ import annotations

import os


def is_set(name: str) -> bool:
    """Whether the variable ``name`` is on: set to a non-empty value other than ``0``."""
    return os.environ.get(name, "") not in ("", "0")
