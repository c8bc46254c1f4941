"""Shared fixtures of the upgrade tests."""
from __future__ import annotations

import pytest

from tests.upgrade.program_runner import ProgramRunner


@pytest.fixture(scope="session")
def program_runner():
    """Runs upgraded programs as fresh processes would, one TensorFlow import per prelude and environment
    (tests/upgrade/program_runner.py)."""
    runner = ProgramRunner()
    yield runner
    runner.close()
