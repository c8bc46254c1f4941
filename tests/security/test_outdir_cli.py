"""Issue 20, points 5 and 6 at the CLI, on a real Saver checkpoint (seed 004: embedding + LSTM + dense + Adam, with
its .meta, so convert writes model.keras): two converts to one OUT, --force and a user's file, a crash in the middle
of --force, and `verify` checking the directory against the manifest's file record."""
from __future__ import annotations

import json
import os
import shutil
import signal

import numpy as np
import pytest

from migration.checkpoint.files import entries
from migration.checkpoint.manifest import is_conversion_dir
from tests.security import hooks

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("outdir_cli")


def run_cli(*args) -> int:
    from migration.cli import main

    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from tests.checkpoint.conftest import build_seed004

    return build_seed004(tmp_path_factory.mktemp("seed004"))


@pytest.fixture(scope="module")
def conversion(ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("conv") / "out"
    assert run_cli("convert", ckpt, out, "--quiet") == 0
    return out


def _copy(conversion, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(conversion, out)
    return out


def _tree(root) -> dict[str, bytes]:
    return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(root) for f in files}


def _manifest(out) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _leftovers(parent) -> list[str]:
    return [p for p in os.listdir(parent) if p.startswith(".")]


# -- verify: the directory against the manifest ----------------------------------------------------------------------

def test_convert_records_every_file_it_writes(conversion):
    """Positive control: the record lists exactly the files in OUT (manifest.json aside), each referred to by an
    entry, with its sha256 and size; verify passes and shows the directory row."""
    record = _manifest(conversion)["files"]
    on_disk = dict(entries(str(conversion)))
    assert sorted(record) == sorted(on_disk) and "model.keras" in record and len(record) >= 5
    import hashlib

    for rel, want in record.items():
        data = open(on_disk[rel], "rb").read()
        assert want == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert is_conversion_dir(str(conversion))


def test_verify_passes_an_untouched_conversion(ckpt, conversion, capsys):
    assert run_cli("verify", ckpt, conversion) == 0
    out = capsys.readouterr().out
    assert f"{len(_manifest(conversion)['files'])} files, sha256 as recorded, nothing else" in out
    assert "verified against the original graph" in out


def test_verify_fails_when_model_keras_is_replaced_and_its_entry_removed(ckpt, conversion, tmp_path, capsys):
    """The finding of issue 20: verify checked only what the manifest lists, so a replaced model.keras whose entry
    was removed passed (exit 0). Now it is an extra file: exit 1, named."""
    out = _copy(conversion, tmp_path)
    block = _manifest(out)["blocks"][0]["file"]
    shutil.copy(out / block, out / "model.keras")  # another valid Keras model in its place
    manifest = _manifest(out)
    manifest["model"] = None
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert run_cli("verify", ckpt, out) == 1
    text = capsys.readouterr().out
    assert "verification FAILED" in text
    assert [line for line in text.splitlines() if "FAIL" in line and "file model.keras" in line]
    manifest["files"]["model.keras"] = {"sha256": "0" * 64, "bytes": os.path.getsize(out / "model.keras")}
    (out / "manifest.json").write_text(json.dumps(manifest))  # its record kept, its entry gone: still extra
    assert run_cli("verify", ckpt, out) == 1
    assert "file model.keras" in capsys.readouterr().out


def test_verify_fails_on_a_changed_file_whose_numbers_still_match(ckpt, conversion, tmp_path, capsys):
    """Bytes appended to an embedding's .npy: np.load and the row comparison ignore them, the sha256 does not."""
    out = _copy(conversion, tmp_path)
    emb = _manifest(out)["embeddings"][0]["file"]
    before = np.load(out / emb, allow_pickle=False)
    with open(out / emb, "ab") as f:
        f.write(b"\0hidden")
    np.testing.assert_array_equal(np.load(out / emb, allow_pickle=False), before)
    assert run_cli("verify", ckpt, out, "--json") == 1
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    failing = [c for c in report["checks"] if c["max_abs_diff"] > report["tolerance"]]
    assert [c["what"] for c in failing] == [f"file {emb}"] and "changed" in failing[0]["output"]


def test_verify_fails_on_an_extra_or_a_missing_file(ckpt, conversion, tmp_path, capsys):
    out = _copy(conversion, tmp_path)
    (out / "blocks" / "notes.txt").write_text("mine")
    assert run_cli("verify", ckpt, out) == 1
    assert "file blocks/notes.txt" in capsys.readouterr().out
    (out / "blocks" / "notes.txt").unlink()
    dense = _manifest(out)["dense"][0]["bias_file"]
    (out / dense).unlink()
    assert run_cli("verify", ckpt, out) == 1  # named, not a traceback nor exit 2; nothing is loaded
    text = capsys.readouterr().out
    assert f"file {dense}" in text and "missing" in text and "no number was compared" in text


def test_verify_of_an_older_manifest_says_the_check_was_weaker(ckpt, conversion, tmp_path, capsys):
    out = _copy(conversion, tmp_path)
    manifest = _manifest(out)
    del manifest["files"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert run_cli("verify", ckpt, out) == 0
    assert "no file list with hashes" in capsys.readouterr().out
    (out / "model.keras").rename(out / "model2.keras")  # still: an extra file, a missing one
    assert run_cli("verify", ckpt, out) == 1
    text = capsys.readouterr().out
    assert "file model2.keras" in text and "file model.keras" in text



def test_verify_without_meta_of_an_older_manifest_says_both_checks_were_weaker(ckpt, conversion, tmp_path, capsys):
    """Regression (issue 19): the directory check's note used to replace the "no .meta" note (and a lone cuDNN
    buffer's note replaced the directory's): every reason a check was weaker is reported."""
    from tests.checkpoint.conftest import copy_checkpoint

    out = _copy(conversion, tmp_path)
    manifest = _manifest(out)
    del manifest["files"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    bare = copy_checkpoint(ckpt, tmp_path / "bare", with_meta=False)
    assert run_cli("verify", bare, out, "--json") == 0
    notes = json.loads(capsys.readouterr().out.splitlines()[-1])["notes"]
    assert any("no file list with hashes" in n for n in notes), notes
    assert any(n.startswith("no .meta: the original graph is not available") for n in notes), notes

# -- two writers, --force, a crash -----------------------------------------------------------------------------------

def test_two_converts_to_the_same_new_out(ckpt, tmp_path, capsys):
    """The first convert is paused with its staging complete; a second one to the same OUT fails at once (exit 2,
    naming the first's pid) instead of succeeding and then being deleted by the first; the first finishes intact."""
    out, flag = tmp_path / "out", str(tmp_path.parent / f"{tmp_path.name}.paused")
    # --no-verify: the writers' lock is the point (the verify at the end checks what the first one installed)
    first = hooks.child("staged", "pause", "cli", "convert", ckpt, out, "--quiet", "--no-verify", flag=flag)
    hooks.wait_for(flag, first)
    assert run_cli("convert", ckpt, out, "--quiet") == 2
    assert f"being written by another rnn-migrate process (pid {first.pid}" in capsys.readouterr().err
    os.remove(flag)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert sorted(os.listdir(tmp_path)) == ["out"]
    assert run_cli("verify", ckpt, out) == 0


def test_force_refuses_a_users_file_inside_an_earlier_conversion(ckpt, conversion, tmp_path, capsys):
    out = _copy(conversion, tmp_path)
    (out / "blocks" / "my_notes.txt").write_text("mine")
    before = _tree(out)
    assert run_cli("convert", ckpt, out, "--force", "--quiet") == 2
    assert "holds 'blocks/my_notes.txt', which rnn-migrate did not write" in capsys.readouterr().err
    assert _tree(out) == before and sorted(os.listdir(tmp_path)) == ["out"]


def test_a_convert_killed_in_the_middle_of_force_is_recovered(ckpt, conversion, tmp_path, capsys):
    """SIGKILL right after the exchange: OUT is the new conversion (never missing), the old one is left at
    .out.tmp-*; the next convert --force removes it with a message and succeeds."""
    out = _copy(conversion, tmp_path)
    old_manifest = (out / "manifest.json").read_bytes()
    proc = hooks.child("exchanged", "kill", "cli", "convert", ckpt, out, "--force", "--quiet", "--no-verify")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    assert is_conversion_dir(str(out)) and (out / "manifest.json").read_bytes() != old_manifest
    left = sorted(_leftovers(tmp_path))
    assert left[0] == ".out.lock" and left[1].startswith(".out.tmp-") and len(left) == 2
    assert (tmp_path / left[1] / "manifest.json").read_bytes() == old_manifest
    assert run_cli("convert", ckpt, out, "--force", "--quiet", "--no-verify") == 0
    assert f"removed {str(tmp_path / left[1])!r}, left behind by an interrupted run" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["out"] and is_conversion_dir(str(out))


def test_an_export_killed_in_the_middle_of_force_keeps_the_old_checkpoint(conversion, tmp_path, capsys):
    """`export --force` moves the old .index/.data-* aside before moving the new ones in: SIGKILL between the two
    leaves the old files intact in .model.ckpt.old-* (never deleted), and the next run names them."""
    block = conversion / _manifest(conversion)["blocks"][0]["file"]
    prefix = tmp_path / "model.ckpt"
    assert run_cli("export", block, prefix) == 0
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    assert sorted(before) == ["model.ckpt.data-00000-of-00001", "model.ckpt.index"]
    proc = hooks.child("moved-aside", "kill", "cli", "export", block, prefix, "--force")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    (old,) = [e for e in os.listdir(tmp_path) if e.startswith(".model.ckpt.old-")]
    assert {name: (tmp_path / old / name).read_bytes() for name in os.listdir(tmp_path / old)} == before
    assert run_cli("export", block, prefix, "--force") == 0
    assert f"left {str(tmp_path / old)!r} alone" in capsys.readouterr().err
    assert {name: (tmp_path / old / name).read_bytes() for name in os.listdir(tmp_path / old)} == before
