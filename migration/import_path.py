"""Keep the current directory (and an input's directory) off ``sys.path`` while rnn-migrate imports anything.

``python -m migration`` puts the current directory first on ``sys.path``, so an ``evil.py`` (or a ``typing.py``, a
``h5py.py`` ...) in the directory the user runs it from would be imported instead of the real module. Two guards:

* :func:`strip_startup_directory` - run by ``migration/__init__.py`` (when the interpreter is still locating the
  ``-m`` module: ``sys.argv[0] == '-m'``) and by ``migration/__main__.py``, before anything else of ours is
  imported: removes ``''``, ``'.'`` and the current directory from ``sys.path``, except the directory that holds
  this package itself (a source checkout run from its root) and directories named in ``PYTHONPATH``.
* :func:`without_directories` - a context manager used while a model file is loaded (also when rnn-migrate is used
  as a library): ``''``, ``'.'``, the current directory and the given input directories are off ``sys.path``.

This module imports only ``os``, ``sys`` and ``contextlib`` (loaded by the interpreter at start-up; annotations are
not evaluated, so ``typing`` is not imported).
"""
from __future__ import annotations

import contextlib
import os
import sys


_OWN_ROOT = os.path.realpath(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _real(entry: str) -> str:
    return os.path.realpath(entry or ".")


def _explicit() -> set[str]:
    return {_real(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}


def strip_startup_directory() -> list[str]:
    """Remove ``''``/``'.'``/the current directory from ``sys.path`` (see the module docstring); return what went."""
    cwd = _real(os.getcwd()) if os.path.isdir(".") else None
    keep = _explicit() | {_OWN_ROOT}
    removed = [p for p in sys.path if (p in ("", ".") or _real(p) == cwd) and _real(p) not in keep]
    sys.path[:] = [p for p in sys.path if p not in removed]
    return removed


@contextlib.contextmanager
def without_directories(dirs: Iterable[str] = ()) -> Iterator[None]:
    """Within the block ``sys.path`` holds neither ``''``, ``'.'``, the current directory nor any of ``dirs``
    (this package's own root excepted); the previous ``sys.path`` comes back after."""
    try:
        cwd = _real(os.getcwd())
    except OSError:
        cwd = None
    banned = {_real(d) for d in dirs} | ({cwd} if cwd else set())
    banned.discard(_OWN_ROOT)
    saved = list(sys.path)
    sys.path[:] = [p for p in saved if p not in ("", ".") and _real(p) not in banned]
    try:
        yield
    finally:
        sys.path[:] = saved
