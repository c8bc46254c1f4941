"""The per-family support table of docs/targets.md, generated from the family rows' ``export`` column.

``python -m migration.targets.table`` prints the lines that go between the ``targets-table`` markers;
tests/targets/test_target_families.py checks that the docs hold exactly these lines.
"""
from __future__ import annotations

from migration.families import families
from migration.targets import EXPORT_TARGETS


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def support_table() -> list[str]:
    """One Markdown table row per family: kind, TF1 classes, then each target's answer."""
    lines = []
    for row in families():
        classes = ", ".join(dict.fromkeys(c.rsplit(".", 1)[-1] for c in row.tf1_classes)) or "hand-written W/b step"
        lines.append("| " + " | ".join([f"`{row.kind}`", classes] + [_cell(row.support(t)) for t in EXPORT_TARGETS])
                     + " |")
    return lines


def wrapper_table() -> list[str]:
    """One row per tf.contrib.rnn cell wrapper with weights (:mod:`migration.targets.wrapper_support`)."""
    from migration.targets.wrapper_support import WRAPPERS

    return ["| " + " | ".join([classes, twin] + [_cell(answers[t]) for t in EXPORT_TARGETS]) + " |"
            for classes, twin, answers in WRAPPERS]


if __name__ == "__main__":
    print("\n".join(support_table()))
    print("\n".join(["", "<!-- wrappers-table -->"] + wrapper_table()))
