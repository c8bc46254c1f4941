"""One xdist worker per test module of tests/seq2seq (``--dist loadgroup``): a module's module-scoped fixtures (a TF
graph, a checkpoint, a conversion) are built once, not once on each worker. A module's own xdist_group mark wins."""
from __future__ import annotations

import os

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which turns the mark into the node id's @group suffix
def pytest_collection_modifyitems(items) -> None:
    for item in items:
        path = str(item.path)
        if path.startswith(_HERE + os.sep) and not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group("seq2seq/" + os.path.basename(path)))
