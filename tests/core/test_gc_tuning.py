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
