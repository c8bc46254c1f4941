"""``rnn-migrate glove import`` is a whole process a user waits for: it imports neither TensorFlow, nor pandas (its
default reader is pyarrow's, ~0.4 s of imports saved), nor another command's modules (the CLI builds only the
named command's parser), and the full parser still lists every command when the name is misspelt."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from tests.ux import ROOT

PROBE = """
import json, sys
from migration.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": sorted(m for m in sys.modules if m.split(".")[0] in
                  ("tensorflow", "tf_keras", "keras", "pandas") or m.startswith(("migration.demo", "migration.examples",
                  "migration.families", "migration.checkpoint", "migration.upgrade")))}))
"""


def _probe(*argv: str, cwd) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_glove_import_loads_no_other_command_and_no_tensorflow(tmp_path):
    rng = np.random.default_rng(3)
    words = ["the", ",", "'s", "nan", "1_0x"]
    vectors = rng.standard_normal((len(words), 4)).astype(np.float32)
    src = tmp_path / "g.txt"
    src.write_text("".join(w + " " + " ".join("%.9g" % v for v in row) + "\n" for w, row in zip(words, vectors)))
    report = _probe("glove", "import", str(src), "--out", str(tmp_path / "cache"), "--quiet", cwd=tmp_path)
    assert report == {"code": 0, "loaded": []}
    assert (tmp_path / "cache" / "words.txt").read_text(encoding="utf-8").split("\n")[:5] == words


def test_a_misspelt_command_gets_the_whole_parser(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "migration", "glov", "import"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    for name in ("demo", "convert", "verify", "export", "glove", "upgrade", "scan", "inspect", "run"):
        assert repr(name) in proc.stderr
