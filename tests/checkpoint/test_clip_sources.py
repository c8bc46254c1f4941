"""`convert` listed cell_clip=None, proj_clip=None as "assumed (TF1 default, not in the .meta)" for an LSTMCell that
the .meta shows without clip ops (fails on the main branch before the fix); without a .meta they are assumed and said."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

from migration.checkpoint.recognize import inspect_checkpoint
from migration.commands.convert import print_assumptions


def _cells(report: dict) -> list[dict]:
    return [c for b in report["blocks"] for cells in b["directions"].values() for c in cells]


def test_clips_absent_from_a_cell_found_in_the_meta_are_read_not_assumed(ckpts, tmp_path):
    prefix = ckpts["forget_bias"]  # LSTMCell(s) without clipping, forget_bias 0 and 0.5 read from the .meta
    cells = [c for c in _cells(inspect_checkpoint(prefix).to_dict()) if "cell_clip" in c["hyper_sources"]]
    assert cells
    for cell in cells:
        assert cell["spec"]["cell_clip"] is None and cell["hyper_sources"]["cell_clip"].startswith("meta")
        assert cell["hyper_sources"]["forget_bias"] == "meta"
    printed = io.StringIO()
    print_assumptions({"blocks": [{"cells": cells}]}, printed)
    assert printed.getvalue() == ""
    # the control: the same checkpoint without its .meta assumes them, and says so
    for path in Path(prefix).parent.glob(Path(prefix).name + ".*"):
        if not path.name.endswith(".meta"):
            shutil.copy(path, tmp_path / path.name)
    bare = [c for c in _cells(inspect_checkpoint(str(tmp_path / Path(prefix).name)).to_dict())
            if "cell_clip" in c["hyper_sources"]]
    assert bare and all(c["hyper_sources"]["cell_clip"] == "default (no .meta)" for c in bare)
    print_assumptions({"blocks": [{"cells": bare}]}, printed)
    assert "cell_clip=None" in printed.getvalue()
