"""migration.core.outdir: the OUT lock, the atomic --force swap, recovery after a crash at every step, and --force
never deleting a file rnn-migrate did not write (issue 20, point 5). The CLI-level tests are in test_outdir_cli.py.

Crashes are real: a child process replaces ``migration.core.outdir.step_hook`` and kills itself (SIGKILL, so no
``finally`` runs) at the chosen step (tests/security/hooks.py)."""
from __future__ import annotations

import errno
import json
import os
import signal
import stat

import pytest

from migration.checkpoint.manifest import is_conversion_dir, write_manifest
from migration.core import outdir
from migration.core.errors import MigrationError
from migration.core.outdir import check_replaceable, reserve, staged_output
from migration.core.signals import Interrupted
from tests.security import hooks

MANIFEST = {"format": "rnn-migrate/checkpoint-conversion", "version": 1, "blocks": [], "embeddings": [], "dense": []}


# -- check_replaceable -----------------------------------------------------------------------------------------------

def _conversion_dir(path) -> None:
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps(MANIFEST))


def test_check_replaceable_allows_only_our_directories(tmp_path):
    ours = tmp_path / "ours"
    _conversion_dir(ours)
    check_replaceable(ours, is_ours=is_conversion_dir, inputs=[tmp_path / "ckpt" / "model.ckpt.index"])  # ours, holds no input: allowed
    check_replaceable(tmp_path / "missing", is_ours=is_conversion_dir)  # nothing to replace
    user = tmp_path / "user"
    user.mkdir()
    (user / "thesis.tex").write_text("years of work")
    with pytest.raises(MigrationError, match="not a conversion written by rnn-migrate"):
        check_replaceable(user, is_ours=is_conversion_dir)
    (user / "manifest.json").write_text('{"format": "something else"}')
    with pytest.raises(MigrationError, match="not a conversion written by rnn-migrate"):
        check_replaceable(user, is_ours=is_conversion_dir)
    (tmp_path / "file").write_text("x")
    with pytest.raises(MigrationError, match="not a directory"):
        check_replaceable(tmp_path / "file", is_ours=is_conversion_dir)
    os.symlink(ours, tmp_path / "link")
    with pytest.raises(MigrationError, match="symbolic link"):
        check_replaceable(tmp_path / "link", is_ours=is_conversion_dir)


def test_check_replaceable_never_an_input_or_a_parent(tmp_path, monkeypatch):
    ours = tmp_path / "ours"
    _conversion_dir(ours)
    (ours / "model.ckpt.index").write_bytes(b"")
    with pytest.raises(MigrationError, match="holds the input"):
        check_replaceable(ours, is_ours=is_conversion_dir, inputs=[ours / "model.ckpt.index"])
    with pytest.raises(MigrationError, match="holds the input"):
        check_replaceable(ours, is_ours=is_conversion_dir, inputs=[ours])  # equals an input
    monkeypatch.chdir(ours)
    with pytest.raises(MigrationError, match="current directory or one of its parents"):
        check_replaceable(ours, is_ours=is_conversion_dir)
    (ours / "sub").mkdir()
    monkeypatch.chdir(ours / "sub")
    with pytest.raises(MigrationError, match="current directory or one of its parents"):
        check_replaceable(ours, is_ours=is_conversion_dir)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(ours))
    with pytest.raises(MigrationError, match="home directory"):
        check_replaceable(ours, is_ours=is_conversion_dir)
    with pytest.raises(MigrationError, match="root directory"):
        check_replaceable("/", is_ours=is_conversion_dir)


# -- staged_output ---------------------------------------------------------------------------------------------------

def _leftovers(parent) -> list[str]:
    return [p for p in os.listdir(parent) if ".tmp-" in p or ".old-" in p]


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_staged_output_permissions_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        with staged_output(tmp_path / "out", is_ours=is_conversion_dir) as stage:
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
        with staged_output(tmp_path / "a", is_ours=is_conversion_dir) as stage:
            open(os.path.join(stage.path, "half"), "w").close()
            raise ValueError("bug")
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        with pytest.raises(Interrupted) as info:
            with staged_output(tmp_path / "b", is_ours=is_conversion_dir) as stage:
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
        with staged_output(tmp_path / "out", is_ours=is_conversion_dir) as stage:
            raise OSError(code, os.strerror(code), os.path.join(stage.path, "blocks", "rnn.keras"))
    assert "Nothing was written" in str(info.value) and os.listdir(tmp_path) == []


def test_staged_output_under_a_regular_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(MigrationError, match="not a directory"):
        with staged_output(tmp_path / "file" / "out", is_ours=is_conversion_dir):
            pass
    assert (tmp_path / "file").read_text() == "x"


def test_staged_output_refuses_existing_without_force(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(MigrationError, match="already exists"):
        with staged_output(tmp_path / "out", is_ours=is_conversion_dir):
            pass




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


# -- the lock --------------------------------------------------------------------------------------------------------

def _payload(out) -> str:
    return (out / "blocks" / "rnn.keras").read_text()


def _write(stage, payload: str) -> None:
    os.makedirs(os.path.join(stage.path, "blocks"))
    with open(os.path.join(stage.path, "blocks", "rnn.keras"), "w") as f:
        f.write(payload)
    write_manifest(stage.path, {"blocks": [], "embeddings": [], "dense": [], "written": ["blocks/rnn.keras"]})


def test_a_second_writer_of_the_same_out_is_refused_while_the_first_runs(tmp_path):
    out = tmp_path / "out"
    with staged_output(out, is_ours=is_conversion_dir) as first:
        _write(first, "first")
        for force in (False, True):
            with pytest.raises(MigrationError, match=f"being written by another rnn-migrate process \\(pid {os.getpid()}"):
                with staged_output(out, is_ours=is_conversion_dir, force=force):
                    pytest.fail("the second writer must not start")
        assert os.path.exists(tmp_path / ".out.lock")
        first.install()
    assert _payload(out) == "first" and sorted(os.listdir(tmp_path)) == ["out"]  # lock released, no leftovers


def test_a_directory_created_meanwhile_is_never_replaced(tmp_path):
    """OUT did not exist at the start; someone creates it (empty: rename(2) would silently replace it) before the
    install: refused, untouched, nothing installed, no leftovers. (The rename itself is RENAME_NOREPLACE too, for a
    directory created between that check and the rename: test_the_exchange_is_used_where_the_system_has_it.)"""
    out = tmp_path / "out"
    with pytest.raises(MigrationError, match="was created while rnn-migrate was writing it; it was left untouched"):
        with staged_output(out, is_ours=is_conversion_dir) as stage:
            _write(stage, "mine")
            os.mkdir(out)
            stage.install()
    assert os.listdir(out) == [] and sorted(os.listdir(tmp_path)) == ["out"]
    with pytest.raises(MigrationError, match="was created while"):  # the same with something in it, no --force
        with staged_output(tmp_path / "b", is_ours=is_conversion_dir) as stage:
            _write(stage, "mine")
            os.mkdir(tmp_path / "b")
            (tmp_path / "b" / "theirs").write_text("x")
            stage.install()
    assert os.listdir(tmp_path / "b") == ["theirs"]


def test_the_lock_of_a_killed_writer_is_taken_over_and_its_leftovers_removed(tmp_path):
    out = tmp_path / "out"
    proc = hooks.stage_once(out, "killed", step="staged", action="kill")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = sorted(os.listdir(tmp_path))
    assert left[0] == ".out.lock" and left[1].startswith(".out.tmp-") and len(left) == 2, left
    messages = []
    with staged_output(out, is_ours=is_conversion_dir, log=messages.append) as stage:
        _write(stage, "second")
        stage.install()
    assert _payload(out) == "second" and sorted(os.listdir(tmp_path)) == ["out"]
    assert len(messages) == 1 and "removed" in messages[0] and left[1] in messages[0], messages


def test_leftovers_not_recognized_as_ours_are_left_alone(tmp_path):
    foreign = tmp_path / ".out.tmp-mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    messages = []
    with reserve(tmp_path / "out", is_ours=is_conversion_dir, log=messages.append):
        pass
    assert (foreign / "thesis.tex").read_text() == "years of work"
    assert len(messages) == 1 and "left" in messages[0] and "alone" in messages[0]


# -- a crash at every step of --force ----------------------------------------------------------------------------------

#: (step, fallback without renameat2, what OUT holds right after the crash: "old", "new" or None = missing)
CRASHES = [("staging", False, "old"), ("staged", False, "old"), ("exchanged", False, "new"),
           ("installed", False, "new"), ("removed-old", False, "new"),
           ("staged", True, "old"), ("moved-aside", True, None), ("installed", True, "new")]


@pytest.mark.parametrize("step, fallback, right_after", CRASHES)
def test_force_survives_a_crash_at_every_step(tmp_path, step, fallback, right_after):
    """SIGKILL at each step of `--force`: with renameat2(RENAME_EXCHANGE) OUT is always the old or the new directory,
    never missing; the two-rename fallback can leave it missing for an instant, and the next run moves the old one
    back. Then the next run recovers (with a message) and no .tmp-/.old- leftover remains."""
    out = tmp_path / "out"
    hooks.stage_here(out, "old")
    assert _payload(out) == "old"
    proc = hooks.stage_once(out, "new", step=step, action="kill", fallback=fallback)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if right_after is None:
        assert not os.path.lexists(out)
        olds = [e for e in os.listdir(tmp_path) if e.startswith(".out.old-")]
        assert len(olds) == 1 and (tmp_path / olds[0] / "blocks" / "rnn.keras").read_text() == "old"
    else:
        assert _payload(out) == right_after
    messages = []
    with reserve(out, is_ours=is_conversion_dir, log=messages.append):
        pass
    assert _payload(out) == (right_after or "old")
    assert sorted(os.listdir(tmp_path)) == ["out"], os.listdir(tmp_path)
    if right_after is None:
        assert any("restored" in m for m in messages), messages
    assert is_conversion_dir(str(out))
    hooks.stage_here(out, "newer")
    assert _payload(out) == "newer"


def test_the_exchange_is_used_where_the_system_has_it(tmp_path):
    """renameat2(RENAME_EXCHANGE) on this machine (Linux, ext4/tmpfs): two directories trade places."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "A").write_text("a")
    (tmp_path / "b").mkdir()
    if not outdir.renameat2(str(tmp_path / "a"), str(tmp_path / "b"), outdir.RENAME_EXCHANGE):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here: the fallback is tested above")
    assert os.listdir(tmp_path / "b") == ["A"] and os.listdir(tmp_path / "a") == []
    with pytest.raises(FileExistsError):
        outdir.rename_noreplace(str(tmp_path / "a"), str(tmp_path / "b"))


def test_renameat2_is_found_without_ctypes_util_on_glibc():
    """The C library's renameat2 comes from dlopen(NULL) (no `ldconfig -p` subprocess at start-up): on glibc
    (which has had it since 2.28) it must be found, or the exchange test above would only skip."""
    import platform
    import sys

    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    if tuple(int(x) for x in platform.libc_ver()[1].split(".")[:2]) < (2, 28):
        pytest.skip("glibc before 2.28 has no renameat2 wrapper")
    assert outdir._load_renameat2() is not None and outdir._renameat2 is not None


# -- --force deletes nothing rnn-migrate did not write ---------------------------------------------------------------

def _tree(root) -> dict[str, bytes]:
    return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(root) for f in files}


@pytest.mark.parametrize("intruder", ["notes.txt", "blocks/notes.txt", "blocks/rnn.keras", "link"])
def test_force_refuses_a_directory_with_anything_rnn_migrate_did_not_write(tmp_path, intruder):
    """A user's file added inside an earlier output (top level or in a subdirectory), a file of ours whose size
    changed, a symbolic link: --force refuses, names it, and changes nothing."""
    out = tmp_path / "out"
    hooks.stage_here(out, "old")
    if intruder == "link":
        os.symlink("/etc", out / "link")
    elif intruder == "blocks/rnn.keras":
        (out / intruder).write_text("edited by the user, longer than before")
    else:
        (out / intruder).write_text("mine")
    before = _tree(out)
    with pytest.raises(MigrationError, match=f"holds '{intruder}'.*rnn-migrate did not write"):
        with staged_output(out, is_ours=is_conversion_dir, force=True):
            pytest.fail("must refuse before staging")
    assert _tree(out) == before and sorted(os.listdir(tmp_path)) == ["out"]


def test_force_refuses_a_file_added_while_it_ran(tmp_path):
    out = tmp_path / "out"
    hooks.stage_here(out, "old")
    with pytest.raises(MigrationError, match="holds 'mine.txt'"):
        with staged_output(out, is_ours=is_conversion_dir, force=True) as stage:
            _write(stage, "new")
            (out / "mine.txt").write_text("mine")  # after the start-up check, before the swap
            stage.install()
    assert _payload(out) == "old" and (out / "mine.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_force_with_an_older_manifest_accepts_only_files_it_refers_to(tmp_path):
    """A manifest without the file list (older rnn-migrate): the files its entries name are ours, nothing else."""
    out = tmp_path / "out"
    hooks.stage_here(out, "old")
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["files"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert is_conversion_dir(str(out))  # positive control: replaceable as it is
    (out / "blocks" / "extra.keras").write_text("mine")
    with pytest.raises(MigrationError, match="holds 'blocks/extra.keras'"):
        is_conversion_dir(str(out))


# -- the other writers -----------------------------------------------------------------------------------------------

def test_the_glove_cache_goes_through_the_same_staging(tmp_path):
    """`glove import --out DIR --force`: the same lock, swap and --force rule (a cache holds only its three files)."""
    import numpy as np

    from migration.glove import Glove, save_glove_cache

    glove = Glove(["a", "b"], np.float32([[1, 2], [3, 4]]))
    out = save_glove_cache(glove, tmp_path / "cache")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(MigrationError, match="holds 'notes.txt', which rnn-migrate did not write"):
        save_glove_cache(glove, out, force=True)
    assert (out / "notes.txt").read_text() == "mine" and (out / "words.txt").read_text() == "a\nb\n"
    (out / "notes.txt").unlink()
    with staged_output(out, is_ours=lambda path: True, force=True):  # another writer holds the cache
        with pytest.raises(MigrationError, match="being written by another rnn-migrate process"):
            save_glove_cache(glove, out, force=True)
    save_glove_cache(Glove(["x"], np.ones((1, 2), np.float32)), out, force=True)
    assert (out / "words.txt").read_text() == "x\n" and sorted(os.listdir(tmp_path)) == ["cache"]


def test_export_takes_the_lock_of_its_prefix(tmp_path):
    """Two exports to one OUT_PREFIX: the second fails while the first holds `.model.ckpt.lock`."""
    import numpy as np

    from migration.checkpoint.export import write_tf1_checkpoint

    prefix = str(tmp_path / "model.ckpt")
    with reserve(prefix):
        with pytest.raises(MigrationError, match="being written by another rnn-migrate process"):
            write_tf1_checkpoint({"w": np.ones((2, 3), np.float32)}, prefix)
    write_tf1_checkpoint({"w": np.ones((2, 3), np.float32)}, prefix)
    assert sorted(os.listdir(tmp_path)) == ["model.ckpt.data-00000-of-00001", "model.ckpt.index"]


def test_upgrade_out_never_replaces_a_file_that_appeared_meanwhile(tmp_path):
    """`upgrade SRC --out DST` without --force: DST was absent at the start; if another run wrote it meanwhile, the
    final rename refuses (RENAME_NOREPLACE) instead of replacing it, and no temporary file is left."""
    from migration.commands.upgrade import write_atomic

    dst = tmp_path / "new.py"
    dst.write_text("the other run's output\n")
    with pytest.raises(FileExistsError):
        write_atomic(str(dst), "mine\n", replace=False)
    assert dst.read_text() == "the other run's output\n" and os.listdir(tmp_path) == ["new.py"]
    write_atomic(str(tmp_path / "fresh.py"), "mine\n", replace=False)  # control: a new file is written
    assert (tmp_path / "fresh.py").read_text() == "mine\n"
