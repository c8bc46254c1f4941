"""Issue 20 point 7: ``--json > /dev/full`` (any unwritable stdout) is exit 2 with a message, never a traceback.

Fails on main (verified: ``PYTHONPATH=/work/main python -m migration scan FILE --json > /dev/full`` prints two
chained tracebacks and exits 1; the text form exits 2 with "I/O error on 'scan'", naming no stdout).
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.security.index_files import save_checkpoint
from tests.ux import ROOT

pytestmark = [pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)"), pytest.mark.xdist_group("output_errors")]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("full"))


def _run_to_dev_full(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_USE_LEGACY_KERAS")}
    env["PYTHONPATH"] = str(ROOT)
    with open("/dev/full", "w") as full:
        return subprocess.run([sys.executable, "-m", "migration", *args], stdout=full, stderr=subprocess.PIPE,
                              text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize("args", [
    ("scan", "{source}", "--json"),
    ("scan", "{source}"),
    ("inspect", "{ckpt}", "--json"),
    ("inspect", "{ckpt}"),
])
def test_unwritable_stdout_is_a_clear_error(ckpt, tmp_path, args):
    source = tmp_path / "prog.py"
    source.write_text("import tensorflow as tf\ncell = tf.contrib.rnn.BasicLSTMCell(8)\n")
    proc = _run_to_dev_full(*(a.format(source=source, ckpt=ckpt) for a in args), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert "cannot write the output to standard output: No space left on device" in proc.stderr


def test_error_paths_with_json_to_dev_full(tmp_path):
    """The error's own JSON line cannot be written either: the message on stderr still says what went wrong."""
    proc = _run_to_dev_full("inspect", str(tmp_path / "missing"), "--json", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "not found" in proc.stderr, proc.stderr
    proc = _run_to_dev_full("inspect", "--json", cwd=tmp_path)  # a usage error
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "required" in proc.stderr, proc.stderr
