"""The JAX child of the Keras 3 check is started once per process and reused (migration/targets/keras3_process.py):
requests give the same numbers as Keras on the TensorFlow backend here, a failed job is an answer (the child serves
the next request), a dead child is replaced, and a missing backend is a note, not an error."""
from __future__ import annotations

import os

import numpy as np
import pytest

from migration.core.errors import MigrationError
from migration.targets import keras3_process
from migration.targets.verify_targets import child_env, run_keras3_elsewhere


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A small Keras 3 model (Dense + GRU, seeded non-zero weights) saved as a user saves it, and its input."""
    import keras

    rng = np.random.default_rng(5)
    inp = keras.Input((4, 3))
    out = keras.layers.Dense(2)(keras.layers.GRU(5, return_sequences=True)(inp))
    model = keras.Model(inp, out)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    path = str(tmp_path_factory.mktemp("k3process") / "m.keras")
    model.save(path)
    x = rng.normal(0, 1, (2, 4, 3)).astype("float32")
    return path, x, np.asarray(model(x))


def _pid() -> int:
    (child,) = [c for k, c in keras3_process._CHILDREN.items() if k[0] == "jax"]
    return child.proc.pid


def test_requests_reuse_one_child_and_give_the_tensorflow_numbers(model_file, monkeypatch):
    path, x, expected = model_file
    got, note = run_keras3_elsewhere([(path, [x])], "jax")
    assert "jax backend" in note
    first = _pid()
    monkeypatch.setenv("A_TEST_RUNNERS_VARIABLE", "test 2")  # not one the child reads: the child is kept
    again, _ = run_keras3_elsewhere([(path, [x * 2.0]), (path, [x])], "jax")
    assert _pid() == first  # no second start
    np.testing.assert_allclose(got[0][0], expected, atol=1e-5)
    np.testing.assert_allclose(again[1][0], expected, atol=1e-5)
    assert np.abs(again[0][0] - expected).max() > 1e-2  # the first job of the request really ran on its own input


def test_a_changed_backend_setting_starts_a_new_child(model_file, monkeypatch):
    path, x, expected = model_file
    run_keras3_elsewhere([(path, [x])], "jax")
    before = _pid()
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    got, _ = run_keras3_elsewhere([(path, [x])], "jax")
    assert _pid() != before  # and the old child is gone: one child per backend
    np.testing.assert_allclose(got[0][0], expected, atol=1e-5)


def test_a_failed_job_is_named_and_the_child_serves_the_next_request(model_file, tmp_path):
    path, x, expected = model_file
    run_keras3_elsewhere([(path, [x])], "jax")
    before = _pid()
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip archive")
    with pytest.raises(MigrationError, match="check failed in its child process"):
        run_keras3_elsewhere([(str(bad), [x])], "jax")
    got, _ = run_keras3_elsewhere([(path, [x])], "jax")
    assert _pid() == before
    np.testing.assert_allclose(got[0][0], expected, atol=1e-5)


def test_a_dead_child_is_replaced(model_file):
    path, x, expected = model_file
    run_keras3_elsewhere([(path, [x])], "jax")
    dead = _pid()
    os.kill(dead, 9)
    got, _ = run_keras3_elsewhere([(path, [x])], "jax")
    assert _pid() != dead
    np.testing.assert_allclose(got[0][0], expected, atol=1e-5)


def test_a_child_that_cannot_start_is_named_and_a_missing_backend_is_a_note(model_file, monkeypatch):
    path, x, _ = model_file
    keras3_process.discard("jax")
    broken = dict(child_env("jax"), KERAS_BACKEND="no_such_backend")
    with pytest.raises(keras3_process.ChildFailed, match="did not start.*no_such_backend"):
        keras3_process.child("jax", broken, timeout=120)
    monkeypatch.setattr(keras3_process, "CHILD", _hiding_child(model_file))  # no child runs: this one starts
    got, note = run_keras3_elsewhere([(path, [x])], "jax")
    assert got is None and "jax is not installed" in note and "pip install" in note
    keras3_process.discard("jax")


def _hiding_child(model_file) -> str:
    """keras3_child.py run with ``import jax`` failing as it does where JAX is not installed."""
    directory = os.path.dirname(model_file[0])
    path = os.path.join(directory, "hiding_child.py")
    with open(path, "w") as f:
        f.write("import sys\n"
                "class _NoJax:\n"
                "    def find_spec(self, name, path=None, target=None):\n"
                "        if name.split('.')[0] in ('jax', 'jaxlib'):\n"
                "            raise ModuleNotFoundError(f\"No module named '{name}'\")\n"
                "sys.meta_path.insert(0, _NoJax())\n"
                f"sys.path.insert(0, {os.path.dirname(keras3_process.CHILD)!r})\n"
                "import keras3_child\n"
                "sys.exit(keras3_child.serve())\n")
    return path
