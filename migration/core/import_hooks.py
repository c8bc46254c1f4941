"""One-module import hooks: a meta-path finder that hands exactly one module's real loader to a wrapper.

Used where rnn-migrate must act around TensorFlow's own import without importing it first:
:mod:`migration.core.tf_env` (``import tensorflow`` with its start-up noise captured) and
:mod:`migration.core.op_traces` (TensorFlow's ``framework/ops.py`` changed as it loads). Standard library only.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Optional


class LoaderWrapper(importlib.abc.Loader):
    """The real loader's behaviour, every method delegated; a subclass overrides :meth:`exec_module`."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)

    def __getattr__(self, name: str) -> object:  # get_code, is_package, get_resource_reader ... of the real loader
        return getattr(self._loader, name)


class OneModuleFinder(importlib.abc.MetaPathFinder):
    """Finds :attr:`fullname` as the path finder does and wraps its loader in :attr:`wrapper`; ``None`` for every
    other name. A mere ``importlib.util.find_spec`` leaves the finder in place; the wrapper removes it on import
    (:func:`remove`) when the hook is one-shot."""

    fullname: str = ""
    wrapper: type[LoaderWrapper] = LoaderWrapper

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != self.fullname:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = self.wrapper(spec.loader)
        return spec


def installed(finder: type[OneModuleFinder]) -> bool:
    return any(isinstance(f, finder) for f in sys.meta_path)


def install(finder: type[OneModuleFinder]) -> None:
    """Put one ``finder()`` first on ``sys.meta_path`` (none added when one is there)."""
    if not installed(finder):
        sys.meta_path.insert(0, finder())


def remove(finder: type[OneModuleFinder]) -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, finder)]
