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
from migration.safe_io import (Interrupted, check_replaceable, confined_path, load_keras_model, staged_output)

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


# -- check_replaceable -----------------------------------------------------------------------------------------------

def _conversion_dir(path) -> None:
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps(MANIFEST))


def test_check_replaceable_allows_only_our_directories(tmp_path):
    ours = tmp_path / "ours"
    _conversion_dir(ours)
    check_replaceable(ours, [tmp_path / "ckpt" / "model.ckpt.index"])  # ours, holds no input: allowed
    check_replaceable(tmp_path / "missing")  # nothing to replace
    user = tmp_path / "user"
    user.mkdir()
    (user / "thesis.tex").write_text("years of work")
    with pytest.raises(MigrationError, match="not a conversion written by rnn-migrate"):
        check_replaceable(user)
    (user / "manifest.json").write_text('{"format": "something else"}')
    with pytest.raises(MigrationError, match="not a conversion written by rnn-migrate"):
        check_replaceable(user)
    (tmp_path / "file").write_text("x")
    with pytest.raises(MigrationError, match="not a directory"):
        check_replaceable(tmp_path / "file")
    os.symlink(ours, tmp_path / "link")
    with pytest.raises(MigrationError, match="symbolic link"):
        check_replaceable(tmp_path / "link")


def test_check_replaceable_never_an_input_or_a_parent(tmp_path, monkeypatch):
    ours = tmp_path / "ours"
    _conversion_dir(ours)
    (ours / "model.ckpt.index").write_bytes(b"")
    with pytest.raises(MigrationError, match="holds the input"):
        check_replaceable(ours, [ours / "model.ckpt.index"])
    with pytest.raises(MigrationError, match="holds the input"):
        check_replaceable(ours, [ours])  # equals an input
    monkeypatch.chdir(ours)
    with pytest.raises(MigrationError, match="current directory or one of its parents"):
        check_replaceable(ours)
    (ours / "sub").mkdir()
    monkeypatch.chdir(ours / "sub")
    with pytest.raises(MigrationError, match="current directory or one of its parents"):
        check_replaceable(ours)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(ours))
    with pytest.raises(MigrationError, match="home directory"):
        check_replaceable(ours)
    with pytest.raises(MigrationError, match="root directory"):
        check_replaceable("/")


# -- staged_output ---------------------------------------------------------------------------------------------------

def _leftovers(parent) -> list[str]:
    return [p for p in os.listdir(parent) if ".tmp-" in p or ".old-" in p]


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_staged_output_permissions_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        with staged_output(tmp_path / "out") as stage:
            assert stat.S_IMODE(os.stat(stage.path).st_mode) == 0o777 & ~mask
            (open(os.path.join(stage.path, "manifest.json"), "w")).write(json.dumps(MANIFEST))
            stage.install()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "out").st_mode) == 0o777 & ~mask  # not mkdtemp's 0700
    assert _leftovers(tmp_path) == []


def test_staged_output_cleans_up_on_error_and_signal(tmp_path):
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(ValueError):
        with staged_output(tmp_path / "a") as stage:
            open(os.path.join(stage.path, "half"), "w").close()
            raise ValueError("bug")
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        with pytest.raises(Interrupted) as info:
            with staged_output(tmp_path / "b") as stage:
                open(os.path.join(stage.path, "half"), "w").close()
                os.kill(os.getpid(), sig)
                for _ in range(1000):  # the handler raises at the next bytecode boundary
                    pass
        assert info.value.signum == sig
    assert signal.getsignal(signal.SIGTERM) is previous  # handlers restored
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("code, remedy", [(errno.ENOSPC, "disk is full"), (errno.EACCES, "permission denied"),
                                          (errno.EROFS, "read-only")])
def test_staged_output_os_errors_become_bad_input(tmp_path, code, remedy):
    with pytest.raises(MigrationError, match=remedy) as info:
        with staged_output(tmp_path / "out") as stage:
            raise OSError(code, os.strerror(code), os.path.join(stage.path, "blocks", "rnn.keras"))
    assert "Nothing was written" in str(info.value) and os.listdir(tmp_path) == []


def test_staged_output_under_a_regular_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(MigrationError, match="not a directory"):
        with staged_output(tmp_path / "file" / "out"):
            pass
    assert (tmp_path / "file").read_text() == "x"


def test_staged_output_refuses_existing_without_force(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(MigrationError, match="already exists"):
        with staged_output(tmp_path / "out"):
            pass


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


def test_demo_force_replaces_only_its_own_subdirectories(tmp_path):
    import argparse

    from migration.demo import _workdir

    work = tmp_path / "work"
    (work / "tf1").mkdir(parents=True)
    (work / "tf1" / "my_thesis.tex").write_text("not a checkpoint")
    (work / "tf1" / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-1"')
    args = argparse.Namespace(workdir=str(work), force=True)
    with pytest.raises(MigrationError, match="not a checkpoint directory written by rnn-migrate"):
        _workdir(args)
    assert (work / "tf1" / "my_thesis.tex").exists()
    (work / "tf1" / "my_thesis.tex").unlink()
    for name in ("model.ckpt-1.index", "model.ckpt-1.data-00000-of-00001", "model.ckpt-1.meta"):
        (work / "tf1" / name).write_bytes(b"")
    _conversion_dir(work / "keras")
    (work / "keep.txt").write_text("mine")
    assert _workdir(args) == work
    assert sorted(os.listdir(work)) == ["keep.txt"]  # tf1/ and keras/ replaced, nothing else touched
