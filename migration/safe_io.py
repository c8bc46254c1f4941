"""Safe file handling for every command that reads untrusted files or writes outputs.

Two guarantees, each with its own function (``docs/security.md`` lists the tests that prove them):

* :func:`confined_path` - a file reference read from a manifest resolves (real path, symlinks followed) inside the
  directory that holds the manifest: absolute paths, ``..`` and symlinks pointing out are refused.
* :func:`load_keras_model` - only a ``.keras`` zip is loaded from an untrusted place, with ``safe_mode=True`` and
  after checking its ``config.json`` against the module/class allowlist (:mod:`migration.keras_config`: no
  ``Lambda``, no module outside tf_keras/keras/modern_rnn) and its weights against the HDF5 rules
  (:mod:`migration.hdf5_check`: no external storage, virtual datasets, links or plugin filters), with neither the
  current directory nor the model's directory on ``sys.path`` (:mod:`migration.import_path`). A legacy ``.h5`` is
  refused unless the caller trusts it (``--trust-model``, with a warning): HDF5 loading runs a ``Lambda``'s bytecode
  and ``safe_mode`` does not cover it. A SavedModel directory (a graph that runs when called) is always refused.

Replacing and writing outputs (``--force`` rules, staging, the OUT lock, signals) lives in
:mod:`migration.core.outdir` and :mod:`migration.core.signals`.
"""
from __future__ import annotations

import os
import sys
import zipfile
from typing import Any

from migration.core.errors import MigrationError
from migration.hdf5_check import check_hdf5
from migration.import_path import without_directories
from migration.keras_config import WEIGHTS_MEMBER, check_config, read_archive_config


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

def check_keras_archive(path: str) -> None:
    """Refuse a ``.keras`` file before Keras opens it: not a zip with a ``config.json``, members other than a
    tf_keras save writes, a config too large or too deep, any module/class/registered name outside the allowlist or
    Python code (:mod:`migration.keras_config`), or weights that HDF5 would read from elsewhere
    (:mod:`migration.hdf5_check`)."""
    check_config(read_archive_config(path), path)
    try:
        with zipfile.ZipFile(path) as archive:
            if WEIGHTS_MEMBER not in archive.namelist():
                return
            info = archive.getinfo(WEIGHTS_MEMBER)
            with archive.open(info) as weights:
                check_hdf5(weights, f"{path!r} ({WEIGHTS_MEMBER})", info.file_size)
    except (zipfile.BadZipFile, OSError) as exc:
        raise MigrationError(f"Cannot read Keras model {path!r}: {getattr(exc, 'strerror', None) or exc}.") from None


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
    with without_directories([os.path.dirname(os.path.abspath(path))]):  # no module from there, nor from cwd
        return _checked_load(path, trust, stderr)


def _checked_load(path: str, trust: bool, stderr) -> Any:
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
        check_hdf5(path, repr(path))  # --trust-model vouches for code, not for reading other files through HDF5
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
