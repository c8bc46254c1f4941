"""The in-memory upgrade of ``rnn-migrate run``: a TF1 program and the modules it imports from its own directory
tree are rewritten as ``rnn-migrate upgrade --to compat`` would write them, before Python compiles them.

Nothing is written: the upgraded code is compiled from memory (no ``.pyc`` in the user's ``__pycache__``, so a
later plain ``python`` run never picks up rewritten bytecode). A file that does not parse is handed to Python
unchanged, so its own ``SyntaxError`` (file, line) is what the user sees.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys


def upgraded_source(path: str) -> str | bytes:
    """The compat rewrite of ``path``'s code, or its bytes unchanged when it does not parse or is not UTF-8."""
    from migration.upgrade import upgrade_source

    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return upgrade_source(data.decode("utf-8"), "compat", path).code
    except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError):
        return data


class _UpgradingLoader(importlib.machinery.SourceFileLoader):
    """A source loader whose code is the upgraded source (compiled fresh, never cached)."""

    def get_code(self, fullname: str):
        path = self.get_filename(fullname)
        return compile(upgraded_source(path), path, "exec", dont_inherit=True)


class _UpgradingFinder(importlib.abc.MetaPathFinder):
    """Finds modules as the path finder does; those whose file lies under ``root`` get :class:`_UpgradingLoader`."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root) + os.sep

    def find_spec(self, fullname, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        origin = getattr(spec, "origin", None) if spec is not None else None
        if (origin and origin.endswith(".py") and os.path.realpath(origin).startswith(self.root)
                and isinstance(spec.loader, importlib.machinery.SourceFileLoader)):
            spec.loader = _UpgradingLoader(spec.loader.name, spec.loader.path)
        return spec


def install_upgrade_hook(root: str) -> None:
    """Upgrade every module imported from ``root`` (the script's directory) and below, from now on."""
    sys.meta_path.insert(0, _UpgradingFinder(root))
