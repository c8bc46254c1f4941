"""legacy_rnn and modern_rnn read side by side: same public names, same order, docstrings naming the twin."""
from __future__ import annotations

import inspect

import pytest

import legacy_rnn
import modern_rnn


def test_same_twin_names_in_the_same_order() -> None:
    assert legacy_rnn.TWINS == modern_rnn.TWINS


@pytest.mark.parametrize("module", ["cells", "rnn", "embedding", "contrib", "cudnn", "wrappers", "crf", "stack"])
def test_modules_define_the_same_functions_in_the_same_order(module: str) -> None:
    def public(pkg):
        mod = getattr(pkg, module)
        return [n for n, f in inspect.getmembers(mod, inspect.isfunction)
                if not n.startswith("_") and f.__module__ == mod.__name__]

    def in_source_order(pkg):
        mod = getattr(pkg, module)
        names = public(pkg)
        return sorted(names, key=lambda n: inspect.getsourcelines(getattr(mod, n))[1])

    assert in_source_order(legacy_rnn) == in_source_order(modern_rnn)


@pytest.mark.parametrize("name", legacy_rnn.TWINS)
def test_docstrings_name_the_twin(name: str) -> None:
    legacy_doc = inspect.getdoc(getattr(legacy_rnn, name)) or ""
    modern_doc = inspect.getdoc(getattr(modern_rnn, name)) or ""
    assert "Modern equivalent" in legacy_doc and name in legacy_doc.split("Modern equivalent", 1)[1]
    assert "Legacy equivalent" in modern_doc and name in modern_doc.split("Legacy equivalent", 1)[1]


def test_every_name_without_twin_is_explained() -> None:
    for pkg in (legacy_rnn, modern_rnn):
        assert set(pkg.__all__) >= set(pkg.TWINS) | set(pkg.NO_TWIN)
        assert all(len(reason) > 20 for reason in pkg.NO_TWIN.values())
        for name in pkg.NO_TWIN:
            assert hasattr(pkg, name)


@pytest.mark.parametrize("name", legacy_rnn.TWINS)
def test_signatures_share_their_leading_parameters(name: str) -> None:
    legacy_params = list(inspect.signature(getattr(legacy_rnn, name)).parameters)
    modern_params = list(inspect.signature(getattr(modern_rnn, name)).parameters)
    shared = min(len(legacy_params), len(modern_params), 3)
    assert legacy_params[:shared] == modern_params[:shared]
