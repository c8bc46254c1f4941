"""``upgrade`` and ``scan`` never damage or hang on the user's files (issue 9): mode bits kept, symlinks refused (or
followed with --follow-symlinks), read-only files never rewritten, FIFOs and /dev/zero skipped, junk notebooks -> exit 2.
Each test hashes the files it must not touch."""
from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from migration.cli import main

REPO = Path(__file__).resolve().parents[2]
PROG = "import tensorflow as tf\nx = tf.placeholder(tf.float32)\n"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_in_place_keeps_mode_bits_of_file_and_backup(tmp_path):
    src = tmp_path / "prog.py"
    src.write_text(PROG)
    os.chmod(src, 0o754)
    assert main(["upgrade", str(src), "--to", "compat", "--in-place"]) == 0
    assert "tf.compat.v1.placeholder" in src.read_text()
    assert stat.S_IMODE(src.stat().st_mode) == 0o754
    assert stat.S_IMODE((tmp_path / "prog.py.bak").stat().st_mode) == 0o754


def test_out_gets_normal_permissions_and_force_keeps_existing_mode(tmp_path):
    src = tmp_path / "prog.py"
    src.write_text(PROG)
    umask = os.umask(0o022)
    try:
        assert main(["upgrade", str(src), "--to", "compat", "--out", str(tmp_path / "new.py")]) == 0
        assert stat.S_IMODE((tmp_path / "new.py").stat().st_mode) == 0o644  # not mkstemp's 0o600
        old = tmp_path / "old.py"
        old.write_text("x = 1\n")
        os.chmod(old, 0o640)
        assert main(["upgrade", str(src), "--to", "compat", "--out", str(old), "--force"]) == 0
        assert stat.S_IMODE(old.stat().st_mode) == 0o640 and "compat.v1" in old.read_text()
    finally:
        os.umask(umask)


def test_in_place_refuses_a_symlink_and_follows_it_only_when_asked(tmp_path, capsys):
    real = tmp_path / "real"
    real.mkdir()
    target = real / "prog.py"
    target.write_text(PROG)
    link = tmp_path / "link.py"
    link.symlink_to(target)
    before = _sha(target)
    assert main(["upgrade", str(link), "--to", "compat", "--in-place"]) == 2
    assert "is a symlink" in capsys.readouterr().err
    assert link.is_symlink() and _sha(target) == before
    assert _listing(tmp_path) == ["link.py", "real"] and _listing(real) == ["prog.py"]
    assert main(["upgrade", str(link), "--to", "compat", "--in-place", "--follow-symlinks"]) == 0
    assert link.is_symlink() and os.readlink(link) == str(target)  # still the same link
    assert "tf.compat.v1.placeholder" in target.read_text()
    assert _listing(real) == ["prog.py", "prog.py.bak"] and (real / "prog.py.bak").read_text() == PROG


def test_out_onto_a_symlink_is_refused_even_with_force(tmp_path, capsys):
    src = tmp_path / "prog.py"
    src.write_text(PROG)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "out.py"
    link.symlink_to(victim)
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(link), "--force"]) == 2
    assert "symlink" in capsys.readouterr().err
    assert link.is_symlink() and victim.read_text() == "precious\n"


def test_read_only_file_is_never_rewritten(tmp_path, capsys):
    src = tmp_path / "prog.py"
    src.write_text(PROG)
    os.chmod(src, 0o444)
    before = _sha(src)
    assert main(["upgrade", str(src), "--to", "compat", "--in-place"]) == 2
    err = capsys.readouterr().err
    assert "read-only" in err and "chmod u+w" in err
    assert _sha(src) == before and stat.S_IMODE(src.stat().st_mode) == 0o444
    assert _listing(tmp_path) == ["prog.py"]  # no backup, no temporary file
    dst = tmp_path / "dst.py"
    dst.write_text("keep\n")
    os.chmod(dst, 0o444)
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(dst)]) == 2  # exists, no --force
    assert dst.read_text() == "keep\n"


def test_read_only_dst_is_replaced_only_with_force_like_cp_f(tmp_path, capsys):
    """An explicit ``--out DST --force`` replaces a read-only DST (a copied read-only tree, as the corpus harness
    makes), its mode kept and the replacement said on stderr; without --force it is kept."""
    src = tmp_path / "prog.py"
    src.write_text(PROG)
    dst = tmp_path / "dst.py"
    dst.write_text(PROG)
    os.chmod(dst, 0o444)
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(dst)]) == 2
    assert dst.read_text() == PROG
    capsys.readouterr()
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(dst), "--force"]) in (0, 1)
    err = capsys.readouterr().err
    assert "read-only" in err and "--force" in err
    assert dst.read_text() != PROG and "compat.v1" in dst.read_text()
    assert stat.S_IMODE(dst.stat().st_mode) == 0o444
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst.py", "prog.py"]  # no temporary left


def test_out_equal_to_src_is_refused(tmp_path):
    src = tmp_path / "prog.py"
    src.write_text(PROG)
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(src), "--force"]) == 2
    assert src.read_text() == PROG


def _cli(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "migration.cli", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout)


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"), reason="needs FIFOs and /dev/zero")
def test_scan_skips_fifo_and_dev_zero_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    (tmp_path / "good.py").write_text(PROG)
    proc = _cli(["scan", str(tmp_path), "--json"], timeout=60)  # a hang fails here (TimeoutExpired)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    errors = {Path(e["path"]).name: e["message"] for e in data["errors"]}
    assert errors == {"pipe.py": "skipped: a FIFO; only regular files are scanned",
                      "zero.py": "skipped: a device (through a symlink); only regular files are scanned"}
    assert [Path(f["path"]).name for f in data["findings"]] == ["good.py"]
    proc = _cli(["upgrade", str(tmp_path / "pipe.py"), "--to", "compat", "--out", str(tmp_path / "o.py")])
    assert proc.returncode == 2 and "not a regular file" in proc.stderr
    proc = _cli(["upgrade", str(tmp_path / "zero.py"), "--to", "compat", "--out", str(tmp_path / "o.py")])
    assert proc.returncode == 2 and "not a regular file" in proc.stderr
    assert not (tmp_path / "o.py").exists()


JUNK_NOTEBOOKS = {
    "cells_null": ({"cells": None, "nbformat": 4, "metadata": {}}, "'cells' is null"),
    "nbformat3": ({"nbformat": 3, "worksheets": [{"cells": [{"cell_type": "code", "input": "import tensorflow"}]}]},
                  "nbformat 3"),
    "nbformat3_junk_worksheet": ({"nbformat": 3, "worksheets": [{"cells": None}]}, "nbformat 3"),
    "top_level_list": ([], "not a notebook"),
    "source_is_number": ({"cells": [{"cell_type": "code", "source": 5}], "nbformat": 4}, "'source'"),
    "source_list_of_numbers": ({"cells": [{"cell_type": "code", "source": [1, 2]}], "nbformat": 4}, "'source'"),
}


@pytest.mark.parametrize("name", sorted(JUNK_NOTEBOOKS))
def test_junk_notebooks_exit_2_with_a_message(tmp_path, capsys, name):
    data, needle = JUNK_NOTEBOOKS[name]
    nb = tmp_path / f"{name}.ipynb"
    nb.write_text(json.dumps(data))
    assert main(["upgrade", str(nb), "--to", "compat", "--out", str(tmp_path / "o.ipynb")]) == 2
    err = capsys.readouterr().err
    assert str(nb) in err and needle in err, err
    assert not (tmp_path / "o.ipynb").exists()
    assert main(["scan", str(nb), "--json"]) in (0, 1)  # scan reports it under errors or reads the old format
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["errors"] or name == "nbformat3"


def test_deeply_nested_notebook_and_source_are_exit_2(tmp_path, capsys):
    nb = tmp_path / "deep.ipynb"
    nb.write_text("[" * 200_000)
    assert main(["upgrade", str(nb), "--to", "compat", "--out", str(tmp_path / "o.ipynb")]) == 2
    assert "not a notebook" in capsys.readouterr().err
    deep = tmp_path / "deep.py"
    deep.write_text("import tensorflow as tf\nx = " + "(" * 5000 + "1" + ")" * 5000 + "\n")
    assert main(["upgrade", str(deep), "--to", "compat", "--out", str(tmp_path / "o.py")]) == 2
    assert main(["scan", str(nb), str(deep)]) == 1
    assert not (tmp_path / "o.py").exists() and not (tmp_path / "o.ipynb").exists()


def test_unwritable_destination_is_exit_2_without_leftovers(tmp_path, capsys):
    src = tmp_path / "prog.py"
    src.write_text(PROG)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(blocker / "out.py")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert _listing(tmp_path) == ["file", "prog.py"]
