"""The garbage-collector thresholds of rnn-migrate's own processes (migration/core/gc_tuning.py)."""
from __future__ import annotations

import gc
import sys

import pytest

from migration.core import gc_tuning
from migration.targets import keras3_child

PYTHON_DEFAULT = (700, 10, 10)


@pytest.fixture()
def python_defaults():
    kept = gc.get_threshold()
    gc.set_threshold(*PYTHON_DEFAULT)
    yield
    gc.set_threshold(*kept)


def test_tune_sets_the_thresholds_and_the_variable_keeps_pythons(python_defaults, monkeypatch) -> None:
    monkeypatch.setenv(gc_tuning.DEFAULT_ENV_VAR, "1")
    assert gc_tuning.tune() == PYTHON_DEFAULT and gc.get_threshold() == PYTHON_DEFAULT
    monkeypatch.setenv(gc_tuning.DEFAULT_ENV_VAR, "0")
    assert gc_tuning.tune() == gc_tuning.THRESHOLDS == gc.get_threshold()
    assert gc_tuning.THRESHOLDS[0] > 10 * PYTHON_DEFAULT[0]


def test_the_command_tunes_only_as_its_process_entry_point(python_defaults, monkeypatch, capsys) -> None:
    from migration.cli import main

    monkeypatch.delenv(gc_tuning.DEFAULT_ENV_VAR, raising=False)
    with pytest.raises(SystemExit):
        main(["--help"])  # a call from a program: its collector settings are its own
    assert gc.get_threshold() == PYTHON_DEFAULT
    monkeypatch.setattr(sys, "argv", ["rnn-migrate", "--help"])
    with pytest.raises(SystemExit):
        main()  # rnn-migrate / python -m migration
    assert gc.get_threshold() == gc_tuning.THRESHOLDS
    assert "usage" in capsys.readouterr().out


def test_the_keras3_child_uses_the_same_numbers() -> None:
    """The isolated Keras 3 child cannot import gc_tuning: its copy of the numbers must not drift."""
    assert keras3_child.GC_THRESHOLDS == gc_tuning.THRESHOLDS


_EXIT_PROBE = """
import gc, os, sys
from migration.core import gc_tuning
gc_tuning.tune()
KEPT = [[i] for i in range(200_000)]  # alive until the end, as TensorFlow's modules are
for item in KEPT:
    item.append(item)  # cycles: what finalization's collections have to walk


def report(phase, info, write=os.write, frozen=gc.get_freeze_count):
    if phase == "start" and info["generation"] == 2:
        write(1, b"full collection, frozen objects: %d\\n" % frozen())


gc.callbacks.append(report)
"""


@pytest.mark.parametrize("default_gc", ["", "1"])
def test_exit_collections_skip_the_objects_alive_at_exit(default_gc) -> None:
    """Python's finalization runs full collections; after tune() they must find the live heap frozen (not walk it).
    RNN_MIGRATE_DEFAULT_GC=1 is the control: nothing is frozen there, so the probe can see the difference."""
    import os
    import subprocess

    env = {**os.environ, gc_tuning.DEFAULT_ENV_VAR: default_gc}
    out = subprocess.run([sys.executable, "-c", _EXIT_PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    frozen = [int(line.rsplit(" ", 1)[1]) for line in out.stdout.splitlines() if line.startswith("full collection")]
    assert frozen, out.stdout  # finalization did run full collections
    if default_gc:
        assert max(frozen) == 0
    else:
        assert min(frozen) >= 200_000  # every one of them: the kept objects were frozen before the first


def test_tune_registers_the_exit_freeze_once(monkeypatch) -> None:
    import atexit

    registered = []
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(gc_tuning, "_FREEZE_REGISTERED", [])
    monkeypatch.delenv(gc_tuning.DEFAULT_ENV_VAR, raising=False)
    kept = gc.get_threshold()
    try:
        gc_tuning.tune()
        gc_tuning.tune()
    finally:
        gc.set_threshold(*kept)
    assert registered == [gc.freeze] and gc_tuning.freezes_at_exit()
