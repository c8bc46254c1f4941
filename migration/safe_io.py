"""Safe file handling for every command that reads untrusted files or writes outputs.

Two guarantees, each with its own function (``docs/security.md`` lists the tests that prove them):

* :func:`confined_path` - a file reference read from a manifest resolves (real path, symlinks followed) inside the
  directory that holds the manifest: absolute paths, ``..`` and symlinks pointing out are refused.
* :func:`load_keras_model` - only a ``.keras`` zip is loaded from an untrusted place, with ``safe_mode=True`` and
  after checking its ``config.json`` for ``Lambda`` layers (marshalled Python bytecode). A legacy ``.h5`` is
  refused unless the caller trusts it (``--trust-model``, with a warning): HDF5 loading runs a ``Lambda``'s bytecode
  and ``safe_mode`` does not cover it. A SavedModel directory (a graph that runs when called) is always refused.

Replacing and writing outputs (``--force`` rules, staging, the OUT lock, signals) lives in
:mod:`migration.core.outdir` and :mod:`migration.core.signals`.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path
import threading
import zipfile
from typing import Any, Callable, Iterator, Optional, Sequence

from migration.core.errors import MigrationError


# -- reading references from a manifest ---------------------------------------------------------------------------

def confined_path(root: str | os.PathLike, rel: object, *, what: str = "file reference") -> str:
    """The real path of ``rel`` under ``root``; :class:`MigrationError` if it is not a relative path that stays inside.

    ``rel`` comes from an untrusted file (a manifest): it must be a non-empty string, relative, free of NUL bytes, and
    its real path (symlinks resolved) must lie strictly inside the real path of ``root``.
    """
    root_real = os.path.realpath(os.fspath(root))
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise MigrationError(f"Invalid {what} {rel!r} in {root_real!r}: expected a relative path inside that "
                             "directory. Re-run `rnn-migrate convert --force` to rewrite the manifest.")
    if os.path.isabs(rel):
        raise MigrationError(f"Refused {what} {rel!r}: an absolute path; references in {root_real!r} must be relative "
                             "paths inside that directory. The manifest was edited or is hostile; re-run convert.")
    full = os.path.realpath(os.path.join(root_real, rel))
    if full == root_real or os.path.commonpath([root_real, full]) != root_real:
        raise MigrationError(f"Refused {what} {rel!r}: it resolves to {full!r}, outside {root_real!r} (through '..' or "
                             "a symbolic link). Only files inside the conversion directory are read; re-run convert.")
    return full


# -- loading Keras models -----------------------------------------------------------------------------------------

_CODE_CLASSES = {"Lambda", "__lambda__"}


def _code_carrying(node: Any, where: str = "") -> Optional[str]:
    """The config path of the first ``Lambda`` layer or serialized Python function in a Keras config, else None."""
    if isinstance(node, dict):
        cls = node.get("class_name")
        if isinstance(cls, str) and cls in _CODE_CLASSES:
            name = node.get("config", {}).get("name") if isinstance(node.get("config"), dict) else None
            return f"{where or 'config'}: {cls} {name!r}" if name else f"{where or 'config'}: {cls}"
        if node.get("function_type") == "lambda" or ("code" in node and "defaults" in node):
            return f"{where or 'config'}: serialized Python function"
        for key, value in node.items():
            found = _code_carrying(value, f"{where}/{key}" if where else str(key))
            if found:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = _code_carrying(value, f"{where}[{i}]")
            if found:
                return found
    return None


def check_keras_archive(path: str) -> None:
    """Refuse a ``.keras`` file that is not a zip with a ``config.json`` or whose config carries Python code."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "config.json" not in names:
                raise MigrationError(f"{path!r} is not a Keras v3 archive (no config.json inside); save the model with "
                                     "model.save('model.keras').")
            with archive.open("config.json") as f:
                raw = f.read(64 * 1024 * 1024 + 1)
    except zipfile.BadZipFile:
        raise MigrationError(f"{path!r} is not a .keras archive (not a zip file); save the model with "
                             "model.save('model.keras').") from None
    except OSError as exc:
        raise MigrationError(f"Cannot read Keras model {path!r}: {exc.strerror or exc}.") from None
    if len(raw) > 64 * 1024 * 1024:
        raise MigrationError(f"{path!r}: config.json is over 64 MiB; refusing to parse it.")
    try:
        config = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MigrationError(f"{path!r}: config.json is not valid JSON ({exc}).") from None
    found = _code_carrying(config)
    if found:
        raise MigrationError(
            f"Refused {path!r}: it holds Python code ({found}); loading it could run that code. rnn-migrate loads "
            "no Lambda layers. Rebuild the model without Lambda layers (or replace them by real layers) and save again."
        )


def load_keras_model(path: str | os.PathLike, *, trust: bool = False, stderr=None):
    """Load a Keras 2 model file without running code from it (see the module docstring).

    Args:
        path: a ``.keras`` archive (always allowed, ``safe_mode=True`` after a config check), or a legacy
            ``.h5``/``.hdf5`` file (only with ``trust=True``: a warning goes to ``stderr``).
        trust: the user vouches for an ``.h5`` file (``--trust-model``).

    Raises:
        MigrationError: missing file, a directory (SavedModel), another extension, an ``.h5`` without ``trust``, a
            ``.keras`` archive with Lambda layers, or a file Keras cannot load.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise MigrationError(
            f"Refused {path!r}: a directory (a SavedModel?). A SavedModel holds a TensorFlow graph that runs when "
            "loaded and called, so rnn-migrate never loads one. Save the model as .keras: model.save('model.keras')."
        )
    if not os.path.exists(path):
        raise MigrationError(f"Keras model {path!r} not found.")
    if not os.path.isfile(path):
        raise MigrationError(f"Refused {path!r}: not a regular file.")
    ext = os.path.splitext(path)[1].lower()
    import modern_rnn  # noqa: F401  (registers the custom cells; sets up tf_keras before TensorFlow)
    from modern_rnn import keras

    if ext in (".h5", ".hdf5"):
        if not trust:
            raise MigrationError(
                f"Refused {path!r}: a legacy HDF5 model can carry Lambda layers whose Python bytecode runs while it "
                "loads (safe_mode does not cover .h5). Re-save it as .keras from the code that built it, or pass "
                "--trust-model if you wrote this file yourself."
            )
        print(f"rnn-migrate: warning: loading {path!r} with --trust-model: any Lambda layer in it runs its Python "
              "code now.", file=stderr or sys.stderr)
        loader = lambda: keras.models.load_model(path, compile=False)  # noqa: E731
    elif ext == ".keras":
        check_keras_archive(path)
        loader = lambda: keras.models.load_model(path, compile=False, safe_mode=True)  # noqa: E731
    else:
        raise MigrationError(f"Refused {path!r}: rnn-migrate loads .keras archives (and .h5 with --trust-model) only; "
                             f"got extension {ext or '(none)'!r}.")
    try:
        return loader()
    except MigrationError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything Keras raises on a bad file: name it, say the remedy
        text = str(exc).strip().splitlines()
        raise MigrationError(f"Cannot load Keras model {path!r}: {text[0] if text else type(exc).__name__}. "
                             "Re-save the model with model.save('model.keras').") from None


def load_block_model(out_dir: str | os.PathLike, rel: object):
    """A block model named by a manifest: confined to ``out_dir`` (:func:`confined_path`), ``.keras`` only, safe mode."""
    path = confined_path(out_dir, rel, what="block file")
    if not path.endswith(".keras"):
        raise MigrationError(f"Refused block file {rel!r} in {os.fspath(out_dir)!r}: conversions hold .keras block "
                             "models only. Re-run `rnn-migrate convert --force`.")
    try:
        return load_keras_model(path)
    except MigrationError as exc:
        raise MigrationError(f"{exc} (block file of {os.fspath(out_dir)!r}; re-run `rnn-migrate convert --force`)") from None
