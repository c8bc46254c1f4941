"""Issue 9, classes 1-3 at the CLI: no code execution from files, no data loss with --force, one cleanup path for
signals and I/O faults. Source files are hashed before and after; directory listings must hold no leftovers."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import copy_checkpoint, run_cli


def _hashes(directory) -> dict[str, str]:
    out = {}
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _leftovers(parent) -> list[str]:
    return [p for p in os.listdir(parent) if ".tmp-" in p or ".old-" in p]


# -- 2. data loss ----------------------------------------------------------------------------------------------------

def test_force_onto_the_source_directory_keeps_the_checkpoint(ckpts, tmp_path, capsys):
    src = copy_checkpoint(ckpts["seed002_static"], tmp_path / "src")
    before = _hashes(tmp_path / "src")
    assert run_cli("convert", src, tmp_path / "src", "--force", "--quiet") == 2
    assert "holds the input" in capsys.readouterr().err
    # even when the directory also looks like a conversion (a manifest.json was planted in it)
    shutil.copy(os.path.join(_converted(ckpts, tmp_path), "manifest.json"), tmp_path / "src" / "manifest.json")
    before = _hashes(tmp_path / "src")
    assert run_cli("convert", src, tmp_path / "src", "--force", "--quiet") == 2
    assert "holds the input" in capsys.readouterr().err
    assert _hashes(tmp_path / "src") == before and _leftovers(tmp_path) == []


def _converted(ckpts, tmp_path) -> str:
    out = tmp_path / "conv"
    if not out.exists():
        assert run_cli("convert", ckpts["seed002_static"], out, "--quiet", "--no-verify") == 0
    return str(out)


def test_force_onto_a_parent_or_user_directory_deletes_nothing(ckpts, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    src = copy_checkpoint(ckpts["seed002_static"], work / "models" / "run1")
    (work / "notes.txt").write_text("unrelated user file")
    before = _hashes(work)
    assert run_cli("convert", src, work, "--force", "--quiet") == 2  # a parent of the input, and not ours
    assert "holds the input" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "data.csv").write_text("1,2,3")
    assert run_cli("convert", src, other, "--force", "--quiet") == 2  # unrelated, no manifest
    assert "not a conversion written by rnn-migrate" in capsys.readouterr().err
    monkeypatch.chdir(other)
    (other / "manifest.json").write_text(open(os.path.join(_converted(ckpts, tmp_path), "manifest.json")).read())
    assert run_cli("convert", src, other, "--force", "--quiet") == 2  # ours, but the current directory
    assert "current directory" in capsys.readouterr().err
    assert _hashes(work) == before and (other / "data.csv").read_text() == "1,2,3"
    assert _leftovers(tmp_path) == [] and _leftovers(work) == []


def test_export_force_never_overwrites_what_is_not_a_checkpoint(ckpts, converted, tmp_path, capsys):
    code, out = converted("seed002_static")
    assert code == 0
    model = os.path.join(out, "blocks", "rnn.keras")
    (tmp_path / "x.index").write_text("my notes, not a checkpoint")
    assert run_cli("export", model, tmp_path / "x", "--force") == 2
    assert "not a readable TF checkpoint" in capsys.readouterr().err
    assert (tmp_path / "x.index").read_text() == "my notes, not a checkpoint"
    assert run_cli("export", model, tmp_path / "ok" / "model.ckpt") == 0
    assert run_cli("export", model, tmp_path / "ok" / "model.ckpt", "--force") == 0  # a checkpoint: replaced
    assert [p for p in os.listdir(tmp_path / "ok") if p.startswith(".export-")] == []


# -- 1. code execution -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """An .h5, a .keras and a SavedModel whose Lambda layer creates MARKER when its code runs."""
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    root = tmp_path_factory.mktemp("hostile")
    marker = str(root / "MARKER")
    fn = eval(f"lambda x: (open({marker!r}, 'a').close(), x)[1]")
    inputs = keras.Input((3, 2))
    model = keras.Model(inputs, keras.layers.SimpleRNN(3)(keras.layers.Lambda(fn)(inputs)))
    model.save(str(root / "evil.h5"))
    model.save(str(root / "evil.keras"))
    model.save(str(root / "saved_model"), save_format="tf")
    os.remove(marker)
    return root, marker


def test_export_refuses_code_carrying_models(hostile, tmp_path, capsys):
    root, marker = hostile
    for name, pattern in (("evil.h5", "--trust-model"), ("evil.keras", "Lambda"), ("saved_model", "SavedModel")):
        assert run_cli("export", root / name, tmp_path / name / "model.ckpt") == 2
        assert pattern in capsys.readouterr().err
        assert not os.path.exists(marker), name
        assert not (tmp_path / name).exists()
    # control: with --trust-model the .h5 loads, its code runs, and the user was warned
    assert run_cli("export", root / "evil.h5", tmp_path / "trusted" / "model.ckpt", "--trust-model") == 0
    assert "warning" in capsys.readouterr().err and os.path.exists(marker)
    os.remove(marker)


def _tampered(converted, tmp_path, name: str, file_value: str) -> str:
    code, out = converted("seed002_static")
    assert code == 0
    copy = tmp_path / name
    shutil.copytree(out, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["blocks"][0]["file"] = file_value
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return str(copy)


def test_verify_reads_block_files_only_inside_out_dir(ckpts, converted, hostile, tmp_path, capsys):
    root, marker = hostile
    ckpt = ckpts["seed002_static"]
    cases = {"abs": (str(root / "evil.keras"), "absolute path"), "dotdot": ("../x.keras", "outside"),
             "deep": ("blocks/../../../evil.keras", "outside")}
    for name, (ref, pattern) in cases.items():
        out = _tampered(converted, tmp_path, name, ref)
        assert run_cli("verify", ckpt, out, "--json") == 2, name
        captured = capsys.readouterr()
        assert pattern in captured.err and json.loads(captured.out.splitlines()[-1])["exit_code"] == 2
    # a symlink inside OUT_DIR pointing out, an .h5 and a SavedModel directory inside OUT_DIR
    out = _tampered(converted, tmp_path, "link", "blocks/link.keras")
    os.symlink(root / "evil.keras", os.path.join(out, "blocks", "link.keras"))
    assert run_cli("verify", ckpt, out) == 2 and "outside" in capsys.readouterr().err
    out = _tampered(converted, tmp_path, "h5", "blocks/evil.h5")
    shutil.copy(root / "evil.h5", os.path.join(out, "blocks", "evil.h5"))
    assert run_cli("verify", ckpt, out) == 2 and ".keras block models only" in capsys.readouterr().err
    out = _tampered(converted, tmp_path, "savedmodel", "blocks/sm.keras")
    shutil.copytree(root / "saved_model", os.path.join(out, "blocks", "sm.keras"))
    assert run_cli("verify", ckpt, out) == 2 and "SavedModel" in capsys.readouterr().err
    out = _tampered(converted, tmp_path, "lambda", "blocks/evil.keras")
    shutil.copy(root / "evil.keras", os.path.join(out, "blocks", "evil.keras"))
    assert run_cli("verify", ckpt, out) == 2 and "Lambda" in capsys.readouterr().err
    assert not os.path.exists(marker)


# -- 3. signals and I/O faults ---------------------------------------------------------------------------------------

def test_signals_mid_convert_leave_nothing(ckpts, tmp_path):
    """A real `rnn-migrate convert` subprocess, paused by the fault-injection hook (tests/security/hooks.py) once its
    staging directory is complete, gets SIGTERM, SIGHUP or SIGINT: the exit code is 128 + N and neither OUT_DIR nor a
    .tmp-* directory nor the lock remains. SIGTERM lands after the verification (its sandbox child still alive);
    SIGHUP and SIGINT convert with --no-verify (the same staging and clean-up, without a second TensorFlow start)."""
    from tests.security import hooks

    runs = {}
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        parent = tmp_path / sig.name
        parent.mkdir()
        flag = str(tmp_path / f"{sig.name}.paused")
        no_verify = () if sig == signal.SIGTERM else ("--no-verify",)
        runs[sig] = (parent, flag, hooks.child("staged", "pause", "cli", "convert", ckpts["seed002_static"],
                                               parent / "out", "--quiet", *no_verify, flag=flag))
    for sig, (parent, flag, proc) in runs.items():
        staging = hooks.wait_for(flag, proc)
        assert os.path.dirname(staging) == str(parent) and os.path.exists(os.path.join(staging, "blocks", "rnn.keras"))
        proc.send_signal(sig)
    for sig, (parent, flag, proc) in runs.items():
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + sig, err[-2000:]
        assert f"interrupted by {sig.name}" in err
        assert os.listdir(parent) == [], os.listdir(parent)


def test_io_faults_are_exit_2_with_the_remedy(ckpts, tmp_path, monkeypatch, capsys):
    ckpt = ckpts["seed002_static"]
    (tmp_path / "file").write_text("x")
    assert run_cli("convert", ckpt, tmp_path / "file" / "out", "--quiet") == 2
    assert "is a regular file, not a directory" in capsys.readouterr().err
    import tempfile

    def no_permission(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir"))

    with monkeypatch.context() as m:  # an unwritable parent (root ignores chmod, so the refusal is simulated)
        m.setattr(tempfile, "mkdtemp", no_permission)
        assert run_cli("convert", ckpt, tmp_path / "ro" / "out", "--quiet") == 2
    assert "permission denied: choose a directory you can write to" in capsys.readouterr().err
    from migration.checkpoint.reader import CheckpointReader

    def full_disk(self, name, path, *args, **kwargs):  # the streamed .npy copies are convert's big writes
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    with monkeypatch.context() as m:
        m.setattr(CheckpointReader, "write_npy", full_disk)
        assert run_cli("convert", ckpt, tmp_path / "full" / "out", "--quiet", "--json") == 2
    captured = capsys.readouterr()
    assert "disk is full" in captured.err and json.loads(captured.out.splitlines()[-1])["exit_code"] == 2
    assert os.listdir(tmp_path / "full") == []
    assert _leftovers(tmp_path) == []


def test_output_directories_get_normal_permissions(ckpts, tmp_path):
    old = os.umask(0o022)
    try:
        assert run_cli("convert", ckpts["seed002_static"], tmp_path / "out", "--quiet", "--no-verify") == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "out").st_mode) == 0o755  # mkdtemp alone would give 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "out" / "blocks").st_mode) == 0o755
