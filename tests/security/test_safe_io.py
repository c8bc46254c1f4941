"""migration.safe_io: every guarantee in isolation (the CLI-level tests are in tests/checkpoint/test_ckpt_safety.py)."""
from __future__ import annotations

import errno
import json
import os
import signal
import stat

import numpy as np
import pytest

from migration.core.errors import MigrationError
from migration.safe_io import confined_path, load_keras_model

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("safe_io")

MANIFEST = {"format": "rnn-migrate/checkpoint-conversion", "version": 1, "blocks": [], "embeddings": [], "dense": []}


# -- confined_path ---------------------------------------------------------------------------------------------------

def test_confined_path_accepts_files_inside(tmp_path):
    (tmp_path / "blocks").mkdir()
    assert confined_path(tmp_path, "blocks/rnn.keras") == os.path.join(os.path.realpath(tmp_path), "blocks", "rnn.keras")
    assert confined_path(tmp_path, "blocks/../blocks/x.npy").endswith("/blocks/x.npy")  # '..' that stays inside


@pytest.mark.parametrize("rel, pattern", [
    ("/etc/passwd", "absolute path"), ("../x.keras", "outside"), ("blocks/../../x.keras", "outside"),
    ("", "Invalid"), (".", "outside"), ("a\x00b", "Invalid"), (None, "Invalid"), (["blocks"], "Invalid"),
])
def test_confined_path_refuses_escapes(tmp_path, rel, pattern):
    with pytest.raises(MigrationError, match=pattern):
        confined_path(tmp_path / "out", rel)


def test_confined_path_refuses_symlink_out(tmp_path):
    out = tmp_path / "out"
    (out / "blocks").mkdir(parents=True)
    (tmp_path / "evil.keras").write_bytes(b"x")
    os.symlink(tmp_path / "evil.keras", out / "blocks" / "rnn.keras")
    os.symlink(tmp_path, out / "up")
    for rel in ("blocks/rnn.keras", "up/evil.keras"):
        with pytest.raises(MigrationError, match="outside"):
            confined_path(out, rel)


# -- load_keras_model ------------------------------------------------------------------------------------------------

def _lambda_model(marker: str):
    """A model whose Lambda creates ``marker`` whenever it runs (building, or loading from .h5)."""
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    fn = eval(f"lambda x: (open({marker!r}, 'a').close(), x)[1]")  # the path is a constant of the marshalled code
    inputs = keras.Input((3, 2))
    outputs = keras.layers.SimpleRNN(3)(keras.layers.Lambda(fn, name="evil")(inputs))
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def evil_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("evil")
    marker = str(root / "MARKER")
    model = _lambda_model(marker)
    model.save(str(root / "evil.h5"))
    model.save(str(root / "evil.keras"))
    model.save(str(root / "saved_model_dir"), save_format="tf")
    os.remove(marker)  # building the model ran the lambda once
    return root, marker


def test_h5_with_lambda_is_refused_without_running_it(evil_models, capsys):
    root, marker = evil_models
    with pytest.raises(MigrationError, match="--trust-model"):
        load_keras_model(root / "evil.h5")
    assert not os.path.exists(marker)
    # control: the file really is hostile: trusting it runs the code (and warns)
    load_keras_model(root / "evil.h5", trust=True)
    assert os.path.exists(marker) and "--trust-model" in capsys.readouterr().err
    os.remove(marker)


def test_keras_with_lambda_and_savedmodel_are_refused(evil_models):
    root, marker = evil_models
    with pytest.raises(MigrationError, match="Lambda"):
        load_keras_model(root / "evil.keras")
    with pytest.raises(MigrationError, match="SavedModel"):
        load_keras_model(root / "saved_model_dir", trust=True)
    (root / "model.pb").write_bytes(b"\x08\x01")
    with pytest.raises(MigrationError, match="extension"):
        load_keras_model(root / "model.pb")
    (root / "fake.keras").write_bytes(b"PK not really")
    with pytest.raises(MigrationError, match="not a .keras archive"):
        load_keras_model(root / "fake.keras")
    assert not os.path.exists(marker)


def test_a_clean_keras_model_loads(tmp_path):
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    model = keras.Sequential([keras.Input((3, 2)), keras.layers.LSTM(4)])
    model.set_weights([np.random.default_rng(0).normal(size=w.shape) for w in model.get_weights()])
    model.save(str(tmp_path / "ok.keras"))
    loaded = load_keras_model(tmp_path / "ok.keras")
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
