"""docs/api-map.md: every row has an anchor and names tests that exist (the suite proves they pass)."""
from __future__ import annotations

import ast
import fnmatch
import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api-map.md"
ROW = re.compile(r"^\| <a id=\"([a-z_]+)\"></a>")
PROOF = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)(?:\[([^\]]+)\])?`")


def _rows() -> list[tuple[str, str]]:
    return [(m.group(1), line) for line in DOC.read_text().splitlines() if (m := ROW.match(line))]


@functools.lru_cache(maxsize=None)  # a test file named by many rows is parsed once
def _functions(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text())
    return frozenset(n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))


def test_map_has_every_construct() -> None:
    anchors = [a for a, _ in _rows()]
    assert len(anchors) == len(set(anchors)) >= 25


@pytest.mark.parametrize("anchor,line", _rows(), ids=[a for a, _ in _rows()])
def test_row_names_existing_tests(anchor: str, line: str) -> None:
    from .test_equivalence_table import CASES

    proofs = PROOF.findall(line.rsplit("|", 2)[-2])
    assert proofs, f"row {anchor} names no test"
    for path, name, param in proofs:
        assert (ROOT / path).exists(), f"{anchor}: {path} does not exist"
        assert name in _functions(ROOT / path), f"{anchor}: {path} has no {name}"
        if param and path.endswith("test_equivalence_table.py"):
            assert any(fnmatch.fnmatch(c.name, param) for c in CASES), f"{anchor}: no table row matches [{param}]"


def test_scan_anchors_are_all_defined() -> None:
    from migration.upgrade.symbols import ANCHORS

    defined = {a for a, _ in _rows()}
    assert set(ANCHORS) <= defined, sorted(set(ANCHORS) - defined)
