"""rnn-migrate's migration package: weight converters, checkpoint migration and code upgrade.

Importing it sets ``TF_USE_LEGACY_KERAS=1`` (see :mod:`migration.core.tf_env`) but does **not** import TensorFlow: the pure
NumPy converters and ``rnn-migrate scan`` stay fast. Heavier entry points are loaded on first use.
"""
from __future__ import annotations

import sys

if sys.argv[:1] == ["-m"]:  # `python -m migration`: the current directory must not shadow modules (security.md)
    from migration.import_path import strip_startup_directory

    strip_startup_directory()

import importlib
from typing import Any

from migration.core.tf_env import ensure_legacy_keras

ensure_legacy_keras()

# public name -> module that defines it (loaded lazily, PEP 562)
_LAZY: dict[str, str] = {
    "CellSpec": "migration.core.specs",
    "CELL_KINDS": "migration.core.specs",
    "cell_to_keras": "migration.converters",
    "cell_to_tf1": "migration.converters",
    "tf1_state_to_keras": "migration.converters",
    "keras_state_to_tf1": "migration.converters",
    "mod_partition_permutation": "migration.converters",
    "MigrationError": "migration.core.errors",
    "inspect_checkpoint": "migration.checkpoint",
    "convert_checkpoint": "migration.checkpoint",
    "verify_conversion": "migration.checkpoint",
    "export_keras_model": "migration.checkpoint",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'migration' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
