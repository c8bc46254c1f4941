"""The import-order trap, solved once.

TensorFlow 2.16+ routes ``tf.keras``, ``tf.compat.v1.layers`` and ``tf.compat.v1.nn.rnn_cell`` through
``KerasLazyLoader`` objects. Each of them reads ``TF_USE_LEGACY_KERAS`` **once**, on its first attribute access, and
then caches the decision. Without the variable (or with a value other than ``1``, ``true``, ``True``) they route to
Keras 3, where ``tf.compat.v1.nn.rnn_cell.BasicLSTMCell`` raises ``AttributeError: BasicLSTMCell is not available with
Keras 3``.

:func:`ensure_legacy_keras` is called by ``legacy_rnn``, ``modern_rnn`` and ``migration`` on import:

* TensorFlow not imported yet: set ``TF_USE_LEGACY_KERAS=1`` (and quieten TF's C++ log) - nothing else to do.
* TensorFlow imported already: set the variable, then reset every legacy-Keras lazy loader that already decided for
  Keras 3 so that it decides again. If a loader cannot be repaired, raise :class:`LegacyKerasError` naming the variable
  and the fix.

This module never imports TensorFlow itself (``rnn-migrate scan`` and ``--help`` must start fast).
"""
from __future__ import annotations

import os
import sys
import warnings

ENV_VAR = "TF_USE_LEGACY_KERAS"
ACCEPTED_VALUES = ("1", "true", "True")

# (module path under ``tensorflow``, attribute) of the lazy loaders the legacy RNN API goes through.
LEGACY_LOADERS: tuple[tuple[str, str], ...] = (
    ("compat.v1.nn", "rnn_cell"),
    ("compat.v1", "layers"),
)

FIX = (
    "Set TF_USE_LEGACY_KERAS=1 before TensorFlow is imported: `export TF_USE_LEGACY_KERAS=1` in the shell, or import "
    "legacy_rnn / modern_rnn / migration before `import tensorflow`."
)


class LegacyKerasError(ImportError):
    """TensorFlow was imported in a state where the TF1 RNN cells (which live in tf_keras) cannot be reached."""


def _set_env() -> None:
    value = os.environ.get(ENV_VAR)
    if value is not None and value not in ACCEPTED_VALUES:
        warnings.warn(
            f"{ENV_VAR}={value!r} is not one of {ACCEPTED_VALUES} (TensorFlow ignores other spellings); "
            f"setting it to '1' so that tf.compat.v1.nn.rnn_cell routes to tf_keras.",
            stacklevel=3,
        )
    if value not in ACCEPTED_VALUES:
        os.environ[ENV_VAR] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _resolve(root: object, dotted: str) -> object | None:
    obj = root
    for part in dotted.split("."):
        obj = getattr(obj, "__dict__", {}).get(part)
        if obj is None:
            return None
    return obj


def _repair_loaders(tf_module: object) -> list[str]:
    """Reset lazy loaders that chose Keras 3; return the names of those that could not be reset."""
    broken: list[str] = []
    for parent_path, attr in LEGACY_LOADERS:
        parent = _resolve(tf_module, parent_path)
        loader = getattr(parent, "__dict__", {}).get(attr) if parent is not None else None
        if loader is None or type(loader).__name__ != "KerasLazyLoader":
            continue  # already loaded (a real module) or absent: nothing cached to undo
        try:
            initialized = object.__getattribute__(loader, "_tfll_initialized")
            version = object.__getattribute__(loader, "_tfll_keras_version") if initialized else None
        except AttributeError:
            broken.append(f"tf.{parent_path}.{attr}")
            continue
        if initialized and version != "tf_keras":
            try:
                object.__setattr__(loader, "_tfll_initialized", False)
            except (AttributeError, TypeError):
                broken.append(f"tf.{parent_path}.{attr}")
    return broken


def ensure_legacy_keras() -> None:
    """Make ``tf.compat.v1.nn.rnn_cell.*`` and ``tf.compat.v1.layers`` route to ``tf_keras``.

    Raises:
        LegacyKerasError: TensorFlow is already imported and a lazy loader cannot be made to decide again.
    """
    _set_env()
    tf_module = sys.modules.get("tensorflow")
    if tf_module is None:
        return
    broken = _repair_loaders(tf_module)
    if broken:
        raise LegacyKerasError(
            f"TensorFlow was imported and {', '.join(broken)} already resolved to Keras 3, where the TF1 RNN cells do "
            f"not exist. {FIX}"
        )


def check_rnn_cell_available() -> None:
    """Access ``tf.compat.v1.nn.rnn_cell.BasicLSTMCell`` once; raise :class:`LegacyKerasError` with the fix if absent."""
    import tensorflow as tf  # noqa: PLC0415 - callers import TensorFlow anyway

    try:
        tf.compat.v1.nn.rnn_cell.BasicLSTMCell  # noqa: B018 - the access is the check
    except (AttributeError, ImportError) as exc:
        raise LegacyKerasError(f"tf.compat.v1.nn.rnn_cell is unusable ({exc}). {FIX}") from exc
