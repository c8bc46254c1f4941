"""The import-order trap, solved once.

TensorFlow 2.16+ routes ``tf.keras``, ``tf.compat.v1.layers`` and ``tf.compat.v1.nn.rnn_cell`` through
``KerasLazyLoader`` objects. Each of them reads ``TF_USE_LEGACY_KERAS`` **once**, on its first attribute access, and
then caches the decision. Without the variable (or with a value other than ``1``, ``true``, ``True``) they route to
Keras 3, where ``tf.compat.v1.nn.rnn_cell.BasicLSTMCell`` raises ``AttributeError: BasicLSTMCell is not available with
Keras 3``.

:func:`ensure_legacy_keras` is called by ``legacy_rnn``, ``modern_rnn`` and ``migration`` on import:

* TensorFlow not imported yet: set ``TF_USE_LEGACY_KERAS=1`` and configure TensorFlow's logging (below).
* TensorFlow imported already: set the variable, then reset every legacy-Keras lazy loader that already decided for
  Keras 3 so that it decides again. If a loader cannot be repaired, raise :class:`LegacyKerasError` naming the variable
  and the fix.

This module never imports TensorFlow itself (``rnn-migrate scan`` and ``--help`` must start fast).

**TensorFlow's logging, configured in this one place** (:func:`configure_tensorflow_logging`, called by
:func:`ensure_legacy_keras`, hence by every entry point: ``rnn-migrate``, ``python -m migration``, the examples, and
any program that imports ``legacy_rnn`` / ``modern_rnn`` / ``migration`` first):

* ``TF_CPP_MIN_LOG_LEVEL`` defaults to ``3`` (a value set by the user is kept). TensorFlow applies it to the C++ log
  once absl's logging is initialized.
* Lines that TensorFlow's shared libraries print *while they load*, before absl is initialized (``WARNING: All log
  messages before absl::InitializeLog() ...``, the oneDNN banner, ``cudart_stub.cc`` "Could not find cuda drivers"),
  ignore every environment variable. A one-shot import hook captures file descriptor 2 during ``import tensorflow``
  and writes back every line except absl-formatted ones below ``TF_CPP_MIN_LOG_LEVEL`` (and the pre-init notice),
  so a real error during the import still reaches the terminal.
* Python: TensorFlow's deprecation notices (``dynamic_rnn is deprecated``, ``Calling Zeros.__init__ ... with dtype is
  deprecated``, ``Variable.load ... is deprecated``) are dropped by a filter on the ``tensorflow`` logger, and the
  TF1 cells' ``is deprecated and will be removed`` ``UserWarning`` is ignored: calling TF1 APIs on purpose is what
  this project does. Other TensorFlow warnings still show.

``RNN_MIGRATE_TF_LOGS=1`` turns all of this off (TensorFlow prints what it prints by default).

**A faster start** of rnn-migrate's own processes (the CLI, the sandbox child, the distributed example's children):
:func:`skip_optional_imports` makes the same hook skip TensorFlow's optional imports of jax, pandas and scipy (features
never used here; ~1.1 of ~4.6 CPU seconds). A program importing ``migration`` as a library is not affected.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import warnings
from types import ModuleType
from typing import Iterator

from migration.core import env_flags, import_hooks

ENV_VAR = "TF_USE_LEGACY_KERAS"
LOG_ENV_VAR = "TF_CPP_MIN_LOG_LEVEL"
SHOW_LOGS_ENV_VAR = "RNN_MIGRATE_TF_LOGS"
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


# -- TensorFlow's logging -----------------------------------------------------------------------------------------

#: absl / glog line prefix: severity letter, date or 0000, time, thread id, file:line] (``I0000 00:00:17.5 5922 port.cc:153] ...``)
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:[\d.]+\s+\d+ [^\s:\]]+:\d+\] ")
_ABSL_PREINIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_DEPRECATION = re.compile(r"is deprecated|deprecated and will be removed|will be removed in a future version")


def _min_log_level() -> int:
    try:
        return int(os.environ.get(LOG_ENV_VAR, "3"))
    except ValueError:
        return 3


def filter_preinit_lines(text: str, min_level: int) -> str:
    """Drop what TensorFlow's C++ side printed before absl was initialized and below ``min_level``; keep the rest."""
    kept = []
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\n")
        if stripped == _ABSL_PREINIT:
            continue
        match = _ABSL_LINE.match(stripped)
        if match and _SEVERITY[match.group(1)] < min_level:
            continue
        kept.append(line)
    return "".join(kept)


#: Packages ``import tensorflow`` (with tf_keras, which it loads under TF_USE_LEGACY_KERAS=1) imports only when
#: installed (each in a ``try: ... except ImportError``), for features rnn-migrate's own processes never use:
#: ``tensorflow.lite.python.util`` imports jax for TFLite's jax converter, tf_keras' data adapter pandas for
#: ``fit(DataFrame)``, the Keras v1 training loops scipy for ``fit(scipy.sparse matrix)`` (and tf_keras' image
#: augmentation for its affine transforms); measured: ~0.6, ~0.25 and ~0.3 of the ~4.6 CPU seconds of
#: ``import migration, tensorflow``. See :func:`skip_optional_imports`.
OPTIONAL_IMPORTS: tuple[str, ...] = ("jax", "pandas", "scipy")
_SKIPPING: set[str] = set()  # filled by skip_optional_imports


def skip_optional_imports() -> None:
    """Let the quiet ``import tensorflow`` (below) skip :data:`OPTIONAL_IMPORTS`: for rnn-migrate's own processes
    only (``rnn-migrate`` / ``python -m migration``, the sandbox child, the distributed example's children), which
    use none of those features; a program that imports ``migration`` as a library, or calls ``migration.cli.main(ARGS)``,
    keeps TensorFlow's import as it is. Only TensorFlow's own
    optional import is skipped (the package is hidden while TensorFlow loads, then visible again): ``import jax``
    afterwards works as usual. Idempotent; no effect once TensorFlow is imported, or with ``RNN_MIGRATE_TF_LOGS=1``
    (no hook)."""
    _SKIPPING.update(OPTIONAL_IMPORTS)


def skipped_imports() -> tuple[str, ...]:
    """The packages the quiet ``import tensorflow`` skips in this process (empty unless :func:`skip_optional_imports`)."""
    return tuple(sorted(_SKIPPING))


@contextlib.contextmanager
def _hidden(names: set[str]) -> Iterator[None]:
    """``import NAME`` raises ImportError inside (a ``None`` in ``sys.modules``) for every name not imported yet."""
    hidden = [name for name in sorted(names) if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


class _QuietLoader(import_hooks.LoaderWrapper):
    """Runs the real loader of ``tensorflow`` with fd 2 captured, then writes back what is not pre-init noise."""

    def exec_module(self, module: ModuleType) -> None:
        _remove_hook()  # one import of tensorflow per process
        with _hidden(_SKIPPING):
            self._exec_quietly(module)

    def _exec_quietly(self, module: ModuleType) -> None:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no usable fd 2: nothing to capture
            self._loader.exec_module(module)
            return
        with tempfile.TemporaryFile(mode="w+b") as capture:
            os.dup2(capture.fileno(), 2)
            try:
                self._loader.exec_module(module)
            finally:
                try:
                    sys.stderr.flush()
                except (OSError, ValueError):
                    pass
                os.dup2(saved, 2)
                os.close(saved)
                capture.seek(0)
                rest = filter_preinit_lines(capture.read().decode("utf-8", "replace"), _min_log_level())
                if rest:
                    sys.stderr.write(rest)
                    sys.stderr.flush()


class _QuietTensorFlowImport(import_hooks.OneModuleFinder):
    """A meta-path finder for ``tensorflow`` alone: its import goes through :class:`_QuietLoader`, which removes the
    finder (a mere ``importlib.util.find_spec("tensorflow")`` keeps it in place)."""

    fullname = "tensorflow"
    wrapper = _QuietLoader


def _remove_hook() -> None:
    import_hooks.remove(_QuietTensorFlowImport)


class _DropDeprecations(logging.Filter):
    """Drops TensorFlow's deprecation notices (``tensorflow.python.util.deprecation``) from the ``tensorflow`` logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        if os.path.basename(record.pathname) == "deprecation.py":
            return False
        try:
            return not _DEPRECATION.search(record.getMessage())
        except Exception:  # noqa: BLE001 - a malformed record is TensorFlow's business, not ours
            return True


def configure_tensorflow_logging() -> None:
    """Quieten TensorFlow (see the module docstring); idempotent, never imports TensorFlow."""
    if env_flags.is_set(SHOW_LOGS_ENV_VAR):
        return
    os.environ.setdefault(LOG_ENV_VAR, "3")
    if "tensorflow" not in sys.modules:
        import_hooks.install(_QuietTensorFlowImport)
    tf_logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _DropDeprecations) for f in tf_logger.filters):
        tf_logger.addFilter(_DropDeprecations())
    warnings.filterwarnings("ignore", message=r".*is deprecated and will be removed", category=UserWarning)


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
    configure_tensorflow_logging()
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
