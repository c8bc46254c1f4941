"""Same checkpoint, same output: `inspect` must not depend on Python's string-hash seed (it did: the variables under
a cell directory were collected by iterating a set, so the order of `unrecognized` entries, and of each cell's
variable map in the manifest, changed with PYTHONHASHSEED)."""
from __future__ import annotations

import json

from tests.ux import run_cli


def test_inspect_json_is_the_same_under_every_hash_seed(ckpts, tmp_path):
    prefix = ckpts["unknown_cell"]  # a cell layout and unrecognized variables: both lists were in set order
    outs = []
    for seed in ("1", "2", "3"):
        proc = run_cli("inspect", prefix, "--json", cwd=tmp_path, PYTHONHASHSEED=seed)
        assert proc.returncode in (0, 1), proc.stderr
        outs.append(proc.stdout)
    report = json.loads(outs[0].strip().splitlines()[-1])
    assert report  # a real report, not an empty line
    assert outs[1] == outs[0] and outs[2] == outs[0]
