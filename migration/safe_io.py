"""Safe file handling for every command that reads untrusted files or writes outputs.

Four guarantees, each with its own function (``docs/security.md`` lists the tests that prove them):

* :func:`confined_path` - a file reference read from a manifest resolves (real path, symlinks followed) inside the
  directory that holds the manifest: absolute paths, ``..`` and symlinks pointing out are refused.
* :func:`load_keras_model` - only a ``.keras`` zip is loaded from an untrusted place, with ``safe_mode=True`` and
  after checking its ``config.json`` against the module/class allowlist (:mod:`migration.keras_config`: no
  ``Lambda``, no module outside tf_keras/keras/modern_rnn) and its weights against the HDF5 rules
  (:mod:`migration.hdf5_check`: no external storage, virtual datasets, links or plugin filters), with neither the
  current directory nor the model's directory on ``sys.path`` (:mod:`migration.import_path`). A legacy ``.h5`` is
  refused unless the caller trusts it (``--trust-model``, with a warning): HDF5 loading runs a ``Lambda``'s bytecode
  and ``safe_mode`` does not cover it. A SavedModel directory (a graph that runs when called) is always refused.
* :func:`check_replaceable` - ``--force`` only replaces a directory that rnn-migrate wrote (a valid marker file such
  as ``manifest.json``), never one that is or contains an input, never ``/``, the home directory or a parent of the
  current directory.
* :func:`staged_output` - outputs are written into a temporary sibling directory with normal permissions (umask
  respected) and renamed into place; SIGTERM, SIGHUP, SIGINT and every exception go through one cleanup path (the
  temporary directory is removed), and ``OSError`` while writing becomes a :class:`MigrationError` with the remedy.
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
from migration.hdf5_check import check_hdf5
from migration.import_path import without_directories
from migration.keras_config import WEIGHTS_MEMBER, check_config, read_archive_config

#: Signals that abort a run through the same cleanup path as an exception (SIGINT included).
CLEANUP_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """Raised by the handlers :func:`signals_raise` installs; the CLI exits with ``128 + signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


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


# -- replacing outputs ---------------------------------------------------------------------------------------------

def _real(path: str | os.PathLike) -> str:
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def _inside(child: str, parent: str) -> bool:
    """``child`` equals ``parent`` or lies below it (both real paths)."""
    return child == parent or os.path.commonpath([child, parent]) == parent


def _manifest_is_ours(out: str) -> bool:
    from migration.checkpoint.manifest import MANIFEST, validate_manifest_file

    try:
        validate_manifest_file(os.path.join(out, MANIFEST))
    except MigrationError:
        return False
    return True


_CKPT_FILE = re.compile(r"^(checkpoint|.+\.(index|meta|data-\d{5}-of-\d{5})|events\.out\.tfevents\..+|.+\.npz)$")


def is_checkpoint_dir(path: str) -> bool:
    """True for a directory holding only what ``Saver.save`` writes (plus ``.npz`` references): a ``checkpoint``
    state file, ``*.index``, ``*.data-*``, ``*.meta`` (and event files); no subdirectories."""
    try:
        entries = list(os.scandir(path))
    except OSError:
        return False
    names = {e.name for e in entries}
    return "checkpoint" in names and all(e.is_file(follow_symlinks=False) and _CKPT_FILE.match(e.name)
                                         for e in entries)


def check_replaceable(out: str | os.PathLike, inputs: Sequence[str | os.PathLike] = (), *,
                      is_ours: Callable[[str], bool] = _manifest_is_ours, what: str = "a conversion") -> None:
    """Raise :class:`MigrationError` unless ``--force`` may delete the existing directory ``out``.

    Allowed only when ``out`` is a real directory (not a symlink) that rnn-migrate wrote (``is_ours(out)``: by default
    a valid ``manifest.json``), that is not ``/``, the home directory or the current directory or one of its parents,
    and that neither equals nor contains any of ``inputs`` (files or directories the command reads).
    """
    path = os.path.abspath(os.fspath(out))
    if os.path.islink(path):
        raise MigrationError(f"Refused to replace {path!r}: it is a symbolic link. Remove it yourself or choose "
                             "another output directory.")
    if not os.path.exists(path):
        return
    if not os.path.isdir(path):
        raise MigrationError(f"{path!r} exists and is not a directory; remove it or choose another output directory.")
    real = _real(path)
    protected = {"/": "the root directory", _real(os.path.expanduser("~")): "your home directory"}
    for p, label in protected.items():
        if real == p:
            raise MigrationError(f"Refused to replace {path!r}: it is {label}. Choose a new output directory.")
    if _inside(_real(os.getcwd()), real):
        raise MigrationError(f"Refused to replace {path!r}: it is the current directory or one of its parents. "
                             "Choose a new output directory.")
    for item in inputs:
        if _inside(_real(item), real):
            raise MigrationError(f"Refused to replace {path!r}: it holds the input {os.fspath(item)!r}, which --force "
                                 "would delete. Write the output to another directory.")
    if not is_ours(real):
        why = " (no valid manifest.json inside)" if is_ours is _manifest_is_ours else ""
        raise MigrationError(f"Refused to replace {path!r} with --force: it is not {what} written by rnn-migrate{why}, "
                             "so it may hold your files. Remove it yourself or choose a new output directory.")


# -- writing outputs -----------------------------------------------------------------------------------------------

_REMEDIES = {
    errno.ENOSPC: "the disk is full: free space on that file system or choose an output directory on another one",
    errno.EDQUOT: "your disk quota is exhausted: free space or choose an output directory elsewhere",
    errno.EACCES: "permission denied: choose a directory you can write to, or fix its permissions",
    errno.EPERM: "operation not permitted: choose a directory you can write to",
    errno.EROFS: "the file system is read-only: choose an output directory on a writable one",
    errno.ENOTDIR: "a component of the path is a regular file, not a directory: choose another output path",
    errno.EEXIST: "a file of that name already exists: choose another output path",
    errno.ENAMETOOLONG: "the path is too long: choose a shorter output path",
}


def describe_os_error(exc: OSError, target: str) -> str:
    """A one-line message naming ``target`` (and the file involved) with the remedy for ``exc.errno``."""
    remedy = _REMEDIES.get(exc.errno or -1, "check the path, its permissions and the free disk space")
    where = f" ({exc.filename})" if exc.filename and os.fspath(exc.filename) != target else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"Cannot write {target!r}{where}: {reason}. Remedy: {remedy}. Nothing was written."


def check_parent(out: str) -> None:
    """Refuse an output path below a regular file (``makedirs`` would fail with a confusing 'File exists')."""
    head = os.path.dirname(os.path.abspath(out))
    while head and not os.path.lexists(head):
        head = os.path.dirname(head)
    if head and not os.path.isdir(head):
        raise MigrationError(f"Cannot write {out!r}: {head!r} is a regular file, not a directory. Remedy: choose an "
                             "output path whose parent is a directory (or remove that file). Nothing was written.")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM/SIGHUP/SIGINT raise :class:`Interrupted`; the previous handlers come back after.

    Outside the main thread (where handlers cannot be installed) this is a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        raise Interrupted(signum)

    previous = {}
    try:
        for sig in CLEANUP_SIGNALS:
            previous[sig] = signal.signal(sig, handler)
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


def _ignore_signals() -> None:
    if threading.current_thread() is threading.main_thread():
        for sig in CLEANUP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


class Staging:
    """The temporary directory a command writes into; :meth:`install` renames it to the final path."""

    def __init__(self, path: str, out: str) -> None:
        self.path, self.out, self.installed = path, out, False

    def install(self) -> None:
        """Rename the staging directory to ``out``; an existing ``out`` is swapped aside first and deleted after."""
        old = None
        parent = os.path.dirname(self.out)
        if os.path.lexists(self.out):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(self.out)}.old-", dir=parent)
            os.rmdir(old)
            os.rename(self.out, old)
        try:
            os.rename(self.path, self.out)
        except BaseException:
            if old is not None:
                os.rename(old, self.out)
            raise
        self.installed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_output(out: str | os.PathLike, *, force: bool = False, inputs: Sequence[str | os.PathLike] = (),
                  is_ours: Callable[[str], bool] = _manifest_is_ours) -> Iterator[Staging]:
    """Write a directory output atomically: ``with staged_output(out, ...) as st: write into st.path; st.install()``.

    Before anything is created: an existing ``out`` is refused without ``force`` and checked by
    :func:`check_replaceable` with it. The staging directory ``.<name>.tmp-*`` lives next to ``out`` (same file system,
    so the final rename is atomic) with mode ``0o777 & ~umask``. Whatever ends the block without ``install()`` (an
    exception, SIGTERM, SIGHUP, SIGINT) removes it; ``OSError`` becomes :class:`MigrationError` with the remedy.
    """
    out = os.path.abspath(os.fspath(out))
    if os.path.lexists(out):
        if not force:
            raise MigrationError(f"Output directory {out!r} already exists. Pass --force to replace it (only a directory "
                                 "rnn-migrate wrote is replaced), or choose a new directory.")
        check_replaceable(out, inputs, is_ours=is_ours)
    check_parent(out)
    parent = os.path.dirname(out)
    tmp: Optional[str] = None
    with signals_raise():
        try:
            try:
                os.makedirs(parent, exist_ok=True)
                tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.tmp-", dir=parent)
                os.chmod(tmp, 0o777 & ~_umask())
            except OSError as exc:
                raise MigrationError(describe_os_error(exc, out)) from None
            stage = Staging(tmp, out)
            try:
                yield stage
            except OSError as exc:
                raise MigrationError(describe_os_error(exc, out)) from None
        finally:
            if tmp is not None and os.path.lexists(tmp):
                _ignore_signals()  # a second Ctrl-C / SIGTERM must not interrupt the cleanup itself
                shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
