"""Writing an output directory OUT crash-consistently (``convert``, the demo's ``--workdir``; ``docs/security.md``).

* **Reserved at start**: :class:`Reservation` takes an exclusive ``flock`` on ``.OUT.lock`` beside OUT for the whole
  run, so a second rnn-migrate writing the same OUT fails at once (exit 2, naming the holder's pid) instead of both
  "succeeding" and the second deleting the first's output. The kernel drops the lock when its process dies (also on
  SIGKILL), so a stale lock needs no clean-up: its file is reused, and what it recorded (below) is read back.
* **Staged, then swapped in atomically**: everything is written into ``.OUT.tmp-*`` (same file system). A new OUT is
  renamed in with ``renameat2(RENAME_NOREPLACE)`` (a directory created meanwhile is never replaced); ``--force``
  exchanges the two with ``renameat2(RENAME_EXCHANGE)`` (Linux >= 3.15: OUT is at every instant the old or the new
  directory, never missing), moves the old one to ``.OUT.old-*`` and only then deletes it. Where the exchange is not
  available (other systems or file systems) the two-rename dance is used; a crash between its renames leaves OUT
  missing until the next run restores it.
* **Recovered on the next run**: the lock file is also a journal (``tmp NAME`` / ``old NAME`` lines, written before
  each step). A later run on the same OUT reads it and, for every leftover ``.OUT.old-*`` / ``.OUT.tmp-*`` that the
  journal names (or that the caller's ``is_ours`` accepts), moves the old OUT back when OUT is missing, else removes
  the leftover; each action is reported. Anything else is left alone, with a note.
* **Never deletes what rnn-migrate did not write**: :func:`check_replaceable` (with the caller's ``is_ours``, e.g. a
  valid manifest whose file list covers every file in OUT) runs before anything is written and again, under the lock,
  right before the exchange.

:data:`step_hook` is the one fault-injection point: it is called with ``(step, path)`` at every step above and does
nothing; tests replace it (in-process, or in a child process before ``main()``) to crash or pause at a chosen step.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

from migration.core.errors import MigrationError
from migration.core.signals import ignore_signals, signals_blocked, signals_raise

#: Steps at which :data:`step_hook` is called, in order.
STEPS = ("reserved", "staging", "staged", "exchanged", "moved-aside", "installed", "removed-old")


def _no_hook(step: str, path: str) -> None:  # noqa: ARG001
    return None


#: Fault-injection point for tests: ``step_hook(step, path)`` at each of :data:`STEPS`. Product code never sets it.
step_hook: Callable[[str, str], None] = _no_hook


# -- errors and parents ---------------------------------------------------------------------------------------------

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


# -- what --force may replace ---------------------------------------------------------------------------------------

def _real(path: str | os.PathLike) -> str:
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def _inside(child: str, parent: str) -> bool:
    """``child`` equals ``parent`` or lies below it (both real paths)."""
    return child == parent or os.path.commonpath([child, parent]) == parent


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
                      is_ours: Callable[[str], bool], what: str = "a conversion") -> None:
    """Raise :class:`MigrationError` unless ``--force`` may delete the existing directory ``out``.

    Allowed only when ``out`` is a real directory (not a symlink) that rnn-migrate wrote (``is_ours(out)``; it may
    raise :class:`MigrationError` itself to name the file that is not ours), that is not ``/``, the home directory or
    the current directory or one of its parents, and that neither equals nor contains any of ``inputs``.
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
        raise MigrationError(f"Refused to replace {path!r} with --force: it is not {what} written by rnn-migrate, "
                             "so it may hold your files. Remove it yourself or choose a new output directory.")


# -- renames --------------------------------------------------------------------------------------------------------

_AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}


def _load_renameat2():
    # dlopen(NULL) sees the C library Python itself is linked with; libc.so.6 by name otherwise (no
    # ctypes.util.find_library: it runs `ldconfig -p` in a subprocess, ~10 ms of every command's start-up)
    for name in (None, "libc.so.6"):
        try:
            func = ctypes.CDLL(name, use_errno=True).renameat2
            break
        except (OSError, AttributeError):
            continue
    else:
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


_renameat2 = _load_renameat2() if sys.platform.startswith("linux") else None


def renameat2(src: str, dst: str, flags: int) -> bool:
    """``renameat2(AT_FDCWD, src, AT_FDCWD, dst, flags)``: True when done, False when the system or the file system
    does not support it (the caller falls back); any other failure raises ``OSError``."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), src, None, dst)


def rename_noreplace(src: str, dst: str) -> None:
    """Rename ``src`` to ``dst``; ``FileExistsError`` if ``dst`` exists (``rename(2)`` would replace an empty dir)."""
    if renameat2(src, dst, RENAME_NOREPLACE):
        return
    if os.path.lexists(dst):  # fallback: checked under the OUT lock, so no rnn-migrate can race us
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
    os.rename(src, dst)


# -- the lock and its journal ---------------------------------------------------------------------------------------

def _sibling(out: str, kind: str) -> str:
    return os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.{kind}")


class Reservation:
    """An exclusive ``flock`` on ``.OUT.lock`` (beside OUT), held until :meth:`release`; the file is a journal."""

    def __init__(self, out: str) -> None:
        self.out, self.path = out, _sibling(out, "lock")
        self.fd: Optional[int] = None
        self.previous = ""  # the journal a crashed run left in the lock file

    def acquire(self) -> "Reservation":
        import fcntl

        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666 & ~_umask())
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).split(b"\n", 1)[0].decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise MigrationError(
                    f"{self.out!r} is being written by another rnn-migrate process ({holder}; lock {self.path!r}). "
                    "Wait for it to finish, or choose another output directory.") from None
            mine = os.fstat(fd)
            try:
                now = os.stat(self.path, follow_symlinks=False)
            except FileNotFoundError:
                now = None
            if now is None or (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino):
                os.close(fd)  # the previous holder removed the file while we opened it: take a fresh one
                continue
            if not stat.S_ISREG(mine.st_mode):
                os.close(fd)
                raise MigrationError(f"{self.path!r} is not a regular file; remove it (it is rnn-migrate's lock).")
            self.previous = os.pread(fd, 64 * 1024, 0).decode("utf-8", "replace")
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
            os.lseek(fd, 0, os.SEEK_END)  # journal lines go after it
            self.fd = fd
            step_hook("reserved", self.path)
            return self
        raise MigrationError(f"Cannot lock {self.path!r}: it keeps being replaced. Try again.")

    def note(self, kind: str, path: str) -> None:
        """Record, before it happens, that ``path`` (a sibling of OUT) is ours (``kind`` 'tmp' or 'old')."""
        if self.fd is not None:
            os.write(self.fd, f"{kind} {os.path.basename(path)}\n".encode())
            os.fsync(self.fd)

    def journal(self) -> set[str]:
        """Names of the leftovers the previous (crashed) run recorded as its own."""
        return {line.split(" ", 1)[1] for line in self.previous.splitlines()
                if line.startswith(("tmp ", "old ")) and "/" not in line}

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            mine, now = os.fstat(self.fd), os.stat(self.path, follow_symlinks=False)
            if (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino):
                os.unlink(self.path)
        os.close(self.fd)
        self.fd = None


def _accepts(is_ours: Callable[[str], bool], path: str) -> bool:
    try:
        return bool(is_ours(path))
    except MigrationError:
        return False


def recover(out: str, reservation: Reservation, is_ours: Callable[[str], bool],
            log: Callable[[str], None]) -> None:
    """Put back or remove what an interrupted run left beside ``out`` (see the module docstring); under the lock."""
    parent, name = os.path.dirname(out), os.path.basename(out)
    pattern = re.compile(rf"^\.{re.escape(name)}\.(old|tmp)-")
    journal = reservation.journal()
    leftovers = sorted((m.group(1) != "old", e not in journal, e) for e in os.listdir(parent)
                       if (m := pattern.match(e)))
    for _, _, entry in leftovers:
        path = os.path.join(parent, entry)
        if os.path.islink(path) or not os.path.isdir(path) or not (entry in journal or _accepts(is_ours, path)):
            log(f"rnn-migrate: note: left {path!r} alone: a leftover of an interrupted run that rnn-migrate cannot "
                "put back by itself (it may hold a previous output, or your files): look inside, then move or remove "
                "it.")
            continue
        if ".old-" in entry and not os.path.lexists(out):
            rename_noreplace(path, out)
            log(f"rnn-migrate: restored {out!r} from {path!r}, where an interrupted --force had moved it.")
        else:
            shutil.rmtree(path)
            log(f"rnn-migrate: removed {path!r}, left behind by an interrupted run.")


@contextlib.contextmanager
def reserve(out: str | os.PathLike, *, is_ours: Callable[[str], bool] = lambda p: False,
            log: Optional[Callable[[str], None]] = None) -> Iterator[Reservation]:
    """Hold the lock of ``out`` for the block, after recovering what an interrupted run left (see :func:`recover`)."""
    out = os.path.abspath(os.fspath(out))
    reservation = Reservation(out)
    try:
        reservation.acquire()
        recover(out, reservation, is_ours, log or _stderr)
    except OSError as exc:
        reservation.release()
        raise MigrationError(describe_os_error(exc, out)) from None
    try:
        yield reservation
    finally:
        reservation.release()


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- staging --------------------------------------------------------------------------------------------------------

class Staging:
    """The temporary directory a command writes into; :meth:`install` puts it in place of ``out``."""

    def __init__(self, path: str, out: str, *, force: bool = False, inputs: Sequence[str | os.PathLike] = (),
                 is_ours: Callable[[str], bool] = lambda p: False, what: str = "a conversion",
                 reservation: Optional[Reservation] = None) -> None:
        self.path, self.out, self.installed = path, out, False
        self.force, self.inputs, self.is_ours, self.what = force, inputs, is_ours, what
        self.reservation = reservation

    def install(self) -> None:
        """Rename the staging directory to ``out``: exchanged with an existing ``out`` (``force``; checked again
        first), whose old content goes to ``.OUT.old-*`` and is deleted after. Signals wait until it is done."""
        step_hook("staged", self.path)
        with signals_blocked():
            if not os.path.lexists(self.out):
                try:
                    rename_noreplace(self.path, self.out)
                except FileExistsError:
                    raise MigrationError(f"{self.out!r} was created by someone else while rnn-migrate was writing "
                                         "it; it was left untouched and nothing was installed. Choose another "
                                         "output directory.") from None
                self.installed = True
                step_hook("installed", self.out)
                return
            if not self.force:
                raise MigrationError(f"{self.out!r} was created while rnn-migrate was writing it; it was left "
                                     "untouched and nothing was installed. Pass --force to replace it.")
            check_replaceable(self.out, self.inputs, is_ours=self.is_ours, what=self.what)
            old = tempfile.mktemp(prefix=f".{os.path.basename(self.out)}.old-", dir=os.path.dirname(self.out))
            if self.reservation is not None:
                self.reservation.note("old", old)
            if renameat2(self.path, self.out, RENAME_EXCHANGE):
                step_hook("exchanged", self.path)
                rename_noreplace(self.path, old)
                self.installed = True
            else:
                rename_noreplace(self.out, old)
                step_hook("moved-aside", old)
                try:
                    rename_noreplace(self.path, self.out)
                except BaseException:
                    os.rename(old, self.out)
                    raise
                self.installed = True
            step_hook("installed", old)
            shutil.rmtree(old, ignore_errors=True)
            step_hook("removed-old", old)


@contextlib.contextmanager
def staged_output(out: str | os.PathLike, *, is_ours: Callable[[str], bool], force: bool = False,
                  inputs: Sequence[str | os.PathLike] = (), what: str = "a conversion",
                  log: Optional[Callable[[str], None]] = None) -> Iterator[Staging]:
    """Write a directory output atomically: ``with staged_output(out, ...) as st: write into st.path; st.install()``.

    OUT is reserved first (:func:`reserve`, which also recovers an interrupted run's leftovers); an existing ``out``
    is refused without ``force`` and checked by :func:`check_replaceable` with it. The staging directory
    ``.<name>.tmp-*`` lives next to ``out`` (same file system) with mode ``0o777 & ~umask``. Whatever ends the block
    without ``install()`` (an exception, SIGTERM, SIGHUP, SIGINT) removes it; ``OSError`` becomes
    :class:`MigrationError` with the remedy.
    """
    out = os.path.abspath(os.fspath(out))
    check_parent(out)
    parent = os.path.dirname(out)
    tmp: Optional[str] = None
    with signals_raise():
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise MigrationError(describe_os_error(exc, out)) from None
        with reserve(out, is_ours=is_ours, log=log) as reservation:
            if os.path.lexists(out):
                if not force:
                    raise MigrationError(f"Output directory {out!r} already exists. Pass --force to replace it (only "
                                         "a directory rnn-migrate wrote is replaced), or choose a new directory.")
                check_replaceable(out, inputs, is_ours=is_ours, what=what)
            try:
                try:
                    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.tmp-", dir=parent)
                    reservation.note("tmp", tmp)
                    os.chmod(tmp, 0o777 & ~_umask())
                except OSError as exc:
                    raise MigrationError(describe_os_error(exc, out)) from None
                step_hook("staging", tmp)
                stage = Staging(tmp, out, force=force, inputs=inputs, is_ours=is_ours, what=what,
                                reservation=reservation)
                try:
                    yield stage
                except OSError as exc:
                    raise MigrationError(describe_os_error(exc, out)) from None
            finally:
                if tmp is not None and os.path.lexists(tmp):
                    ignore_signals()  # a second Ctrl-C / SIGTERM must not interrupt the cleanup itself
                    shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["STEPS", "Reservation", "Staging", "atomic_write_bytes", "check_parent", "check_replaceable",
           "describe_os_error", "is_checkpoint_dir", "recover", "rename_noreplace", "renameat2", "reserve",
           "staged_output", "step_hook"]
