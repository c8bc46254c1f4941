"""Write one benchmark's section of docs/benchmarks.md: the text between its start and end markers replaced (the
section appended when the markers are not there yet). Shared by the target benchmarks."""
from __future__ import annotations


def write_section(path: str, start: str, end: str, text: str) -> None:
    """Replace ``path``'s section from ``start`` to ``end`` (both markers included in ``text``) by ``text``."""
    with open(path, encoding="utf-8") as f:
        doc = f.read()
    if start in doc:
        doc = doc[:doc.index(start)] + text + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(doc)
