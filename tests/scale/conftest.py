"""Shared, built-once fixtures of the scale tests: the parameter-server-era checkpoint (``ps_graphs.py``, written in
a subprocess over 2 CPU devices) and its conversion."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def run_python(args: list[str], timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    """A child Python with this worktree on PYTHONPATH, killed after ``timeout`` seconds."""
    full = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=full)


@pytest.fixture(scope="session")
def ps_checkpoint(tmp_path_factory) -> dict:
    """{"prefix", "devices", "variables", "logits", "dir"}: the checkpoint ``ps_graphs.py`` writes and the original
    graph's outputs (``ref.npz``)."""
    out = tmp_path_factory.mktemp("ps_ckpt")
    proc = run_python([os.path.join(HERE, "ps_graphs.py"), str(out)], timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info["dir"] = str(out)
    return info


@pytest.fixture(scope="session")
def ps_converted(ps_checkpoint, tmp_path_factory) -> tuple[int, str]:
    """(exit code, OUT_DIR) of ``rnn-migrate convert --with-optimizer`` on the PS checkpoint."""
    from migration.cli import main

    out = tmp_path_factory.mktemp("ps_conv") / "out"
    return main(["convert", ps_checkpoint["prefix"], str(out), "--quiet", "--with-optimizer"]), str(out)
