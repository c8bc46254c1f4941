"""The import-order trap (facts §0), each scenario in a fresh interpreter."""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap

import pytest

# one xdist worker runs the module (setup.cfg: --dist loadgroup), so MODERN_FIRST's and TF_FIRST's interpreters run once
pytestmark = pytest.mark.xdist_group("tf_env")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    environ.update(env, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=environ, cwd=ROOT, timeout=240)


CELL_OK = "import tensorflow as tf; print(tf.compat.v1.nn.rnn_cell.BasicLSTMCell.__module__)"
#: the fresh interpreter that imports modern_rnn first serves two tests (one TensorFlow import instead of two): the
#: cell check, then which Keras ``modern_rnn.keras`` is (fixed when modern_rnn was imported, before the cell check)
MODERN_FIRST = f"import modern_rnn\n{CELL_OK}\nimport tf_keras\nprint('same Keras:', modern_rnn.keras is tf_keras)"


@functools.lru_cache(maxsize=None)
def _run_once(code: str) -> subprocess.CompletedProcess:
    return _run(code)


#: a library import of ``migration`` leaves TensorFlow's optional imports alone (only rnn-migrate's own processes
#: skip jax: tf_env.skip_optional_imports, tests/core/test_quiet_commands.py)
JAX_AS_INSTALLED = ("import importlib.util, sys\n"
                    "print('jax as installed:', all((name in sys.modules) == (importlib.util.find_spec(name) is not None)"
                    " for name in ('jax', 'pandas', 'scipy')))")


@pytest.mark.parametrize("first", ["legacy_rnn", "modern_rnn", "migration"])
def test_importing_a_project_package_first_makes_rnn_cells_work(first: str) -> None:
    extra = f"\n{JAX_AS_INSTALLED}" if first == "migration" else ""
    result = _run_once(MODERN_FIRST) if first == "modern_rnn" else _run(f"import {first}\n{CELL_OK}{extra}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tf_keras" in result.stdout
    if first == "migration":
        assert "jax as installed: True" in result.stdout


#: the fresh interpreter that imports TensorFlow first serves three tests (one TensorFlow import instead of three),
#: in this order: the trap (plain TensorFlow without TF_USE_LEGACY_KERAS: the first access fails), its repair by
#: importing legacy_rnn, then a stand-in loader whose state cannot be read or reset (it replaces the loader, so what
#: ran before does not matter). Each test reads its own line.
TF_FIRST = """
import tensorflow as tf
try:
    tf.compat.v1.nn.rnn_cell.BasicLSTMCell
except AttributeError as exc:
    print("failed first:", str(exc).replace(chr(10), " "))
else:
    print("no failure first")
import legacy_rnn
print("cell module:", legacy_rnn.basic_lstm_cell(2).__class__.__module__)
import types
from migration.core import tf_env
KerasLazyLoader = type("KerasLazyLoader", (types.ModuleType,), {})
tf.compat.v1.nn.__dict__["rnn_cell"] = KerasLazyLoader("rnn_cell")
try:
    tf_env.ensure_legacy_keras()
except tf_env.LegacyKerasError as exc:
    print("ERROR:", str(exc).replace(chr(10), " "))
"""


def _line(result: subprocess.CompletedProcess, start: str) -> str:
    lines = [line for line in result.stdout.splitlines() if line.startswith(start)]
    assert len(lines) == 1, (start, result.stdout, result.stderr[-2000:])
    return lines[0]


def test_without_the_project_the_trap_is_real() -> None:
    """The control: plain TensorFlow 2.21 without TF_USE_LEGACY_KERAS has no BasicLSTMCell (AttributeError)."""
    result = _run_once(TF_FIRST)
    assert "not available with Keras 3" in _line(result, "failed first:")


def test_tensorflow_imported_first_is_repaired() -> None:
    """TF imported and the rnn_cell loader already resolved to Keras 3: importing legacy_rnn resets it."""
    result = _run_once(TF_FIRST)
    assert result.returncode == 0, result.stderr[-2000:]
    assert _line(result, "failed first:") and _line(result, "cell module:").split(": ")[1].startswith("tf_keras")


def test_wrong_spelling_is_corrected_with_a_warning() -> None:
    result = _run("import warnings; warnings.simplefilter('always')\nimport legacy_rnn\n" + CELL_OK,
                  TF_USE_LEGACY_KERAS="TRUE")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "TF_USE_LEGACY_KERAS='TRUE'" in result.stderr


def test_unrepairable_state_names_the_variable_and_the_fix() -> None:
    """A lazy loader whose cached decision cannot be read or reset (here: a stand-in without the loader's state)."""
    error = _line(_run_once(TF_FIRST), "ERROR:")
    assert "tf.compat.v1.nn.rnn_cell" in error
    assert "TF_USE_LEGACY_KERAS=1" in error and "before TensorFlow is imported" in error


def test_migration_import_does_not_load_tensorflow() -> None:
    result = _run("import sys, migration, migration.converters, migration.cli\n"
                  "migration.cli.build_parser()\nprint('tensorflow' in sys.modules)")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


def test_modern_rnn_uses_tf_keras_not_keras3() -> None:
    result = _run_once(MODERN_FIRST)
    assert result.stdout.strip().splitlines()[-1] == "same Keras: True", result.stderr[-2000:]
