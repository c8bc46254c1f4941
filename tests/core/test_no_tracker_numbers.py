"""User-facing pages say what a thing is, not which internal tracker item asked for it (a reader outside the team
cannot follow "issue 12")."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRACKER = re.compile(r"\bissues? \d+\b", re.IGNORECASE)


def test_readme_and_docs_cite_no_tracker_numbers():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = {p.name: TRACKER.findall(p.read_text(encoding="utf-8")) for p in pages}
    assert not {name: hits for name, hits in found.items() if hits}, found
