"""Fault injection for the OUT tests, without a hook in product code paths: a child process replaces
``migration.core.outdir.step_hook`` (the module's one injection point) and then runs either the real CLI or a small
staged write, so a crash (``os._exit``, SIGKILL) or a pause lands exactly at the chosen step."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from migration.checkpoint.manifest import is_conversion_dir, write_manifest
from migration.core import outdir

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import os, signal, sys, time
import migration.core.outdir as outdir

step, action, flag, mode = sys.argv[1:5]
args = sys.argv[5:]
if os.environ.get("NO_RENAMEAT2"):
    outdir.renameat2 = lambda src, dst, flags: False  # the fallback path of systems without renameat2


def hook(name, path):
    if name != step:
        return
    if action == "exit":
        os._exit(99)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    with open(flag + ".tmp", "w") as f:  # pause: say where, wait until the test removes the flag
        f.write(path)
    os.rename(flag + ".tmp", flag)
    deadline = time.time() + 120
    while os.path.exists(flag) and time.time() < deadline:
        time.sleep(0.05)


outdir.step_hook = hook
if mode == "cli":
    from migration.cli import main

    sys.exit(main(args))
from tests.security.hooks import stage_here  # the same staged write, run in this (hooked) process

stage_here(*args)
"""


def child(step: str, action: str, mode: str, *args, flag: str = "", fallback: bool = False) -> subprocess.Popen:
    """Start the child: ``mode`` 'cli' (args = rnn-migrate arguments) or 'stage' (args = OUT, payload)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("NO_RENAMEAT2", None)
    if fallback:
        env["NO_RENAMEAT2"] = "1"
    cmd = [sys.executable, "-c", CHILD, step, action, flag or "-", mode, *map(str, args)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(flag: str, proc: subprocess.Popen, timeout: float = 180) -> str:
    """Wait until the paused child wrote ``flag``; return the path it paused at."""
    deadline = time.time() + timeout
    while not os.path.exists(flag):
        if proc.poll() is not None or time.time() > deadline:
            raise AssertionError(f"child did not pause (rc {proc.poll()}): {proc.communicate()[1][-3000:]}")
        time.sleep(0.05)
    with open(flag) as f:
        return f.read()


def stage_once(out, payload: str, *, step: str = "-", action: str = "none", fallback: bool = False):
    """Run the small staged write to completion (or to its crash); return the finished process."""
    proc = child(step, action, "stage", out, payload, fallback=fallback)
    proc.communicate(timeout=120)
    return proc


def stage_here(out, payload: str) -> None:
    """The child's staged write (mode 'stage') run to completion in THIS process: for the writes that only set up or
    follow a crash (nothing about them needs a process of their own)."""
    with outdir.staged_output(str(out), force=True, is_ours=is_conversion_dir) as stage:
        os.makedirs(os.path.join(stage.path, "blocks"))
        with open(os.path.join(stage.path, "blocks", "rnn.keras"), "w") as f:
            f.write(payload)
        write_manifest(stage.path, {"blocks": [], "embeddings": [], "dense": [], "payload": payload,
                                    "written": ["blocks/rnn.keras"]})
        stage.install()
