"""tests/core collection order: the equivalence table's two tests of one case run one after the other, on one xdist
worker, so that the second reuses the TF1 graph the first built (tests/core/test_equivalence_table.py ``_KEPT``)."""
from __future__ import annotations

import os

import pytest

_TABLE = "test_equivalence_table.py"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which turns the mark into the node id's @group suffix
def pytest_collection_modifyitems(items) -> None:
    """Interleave the table's tests by case (in place, in the slots they held) and give each case an xdist group."""
    slots = [k for k, item in enumerate(items)
             if os.path.basename(str(item.path)) == _TABLE and "case" in getattr(getattr(item, "callspec", None),
                                                                                 "params", {})]
    if not slots:
        return
    table = [items[k] for k in slots]
    first: dict[str, int] = {}
    for item in table:
        first.setdefault(str(item.callspec.params["case"]), len(first))
    table.sort(key=lambda item: first[str(item.callspec.params["case"])])  # stable: function order kept per case
    for k, item in zip(slots, table):
        items[k] = item
        if not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(f"equivalence/{item.callspec.params['case']}"))
