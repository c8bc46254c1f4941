"""Issue 20 point 8: ``upgrade --in-place`` keeps a hard-linked file one file; ``scan``/``upgrade`` print file names
with terminal escapes escaped (``--json`` keeps the real name, JSON-escaped).

Fails on main (verified with ``PYTHONPATH=/work/main``: after ``upgrade a.py --in-place`` the hard link ``b.py`` keeps
the old text and ``a.py`` has a new inode; ``scan`` prints the raw ``ESC [2K CR`` of the file name).
"""
from __future__ import annotations

import errno
import json
import os

import pytest

from migration.core import inplace
from migration.core.errors import MigrationError
from migration.core.inplace import write_into_inode
from migration.core.printable import printable
from tests.ux import run_cli

PROGRAM = "import tensorflow as tf\ncell = tf.contrib.rnn.BasicLSTMCell(8)\n"
HOSTILE = "evil\x1b[2K\r\nOK \u202egp.py"  # erase line, carriage return, newline, right-to-left override


def test_in_place_upgrade_keeps_hard_links(tmp_path):
    (tmp_path / "a.py").write_text(PROGRAM)
    os.link(tmp_path / "a.py", tmp_path / "b.py")
    inode = os.stat(tmp_path / "a.py").st_ino
    proc = run_cli("upgrade", "a.py", "--to", "compat", "--in-place", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    new = (tmp_path / "a.py").read_text()
    assert "tf.compat.v1.nn.rnn_cell.BasicLSTMCell" in new and new != PROGRAM
    assert os.stat(tmp_path / "a.py").st_ino == inode and os.stat(tmp_path / "a.py").st_nlink == 2
    assert (tmp_path / "b.py").read_text() == new  # still one file under two names
    assert (tmp_path / "a.py.bak").read_text() == PROGRAM
    # control: a file without other links is still replaced atomically (rename: a new inode), same text
    (tmp_path / "c.py").write_text(PROGRAM)
    single = os.stat(tmp_path / "c.py").st_ino
    assert run_cli("upgrade", "c.py", "--to", "compat", "--in-place", cwd=tmp_path).returncode == 0
    assert (tmp_path / "c.py").read_text() == new and os.stat(tmp_path / "c.py").st_ino != single


def test_failed_in_place_write_restores_the_original(tmp_path, monkeypatch):
    path = tmp_path / "a.py"
    path.write_bytes(b"old text\n")
    st = os.stat(path)
    real = inplace._write_all
    calls = []

    def failing(fd, data):
        calls.append(data)
        if len(calls) == 1:
            os.pwrite(fd, data[:3], 0)  # part of the new text reached the file
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(inplace, "_write_all", failing)
    with pytest.raises(MigrationError, match="original content was written back"):
        write_into_inode(str(path), b"a much longer new text\n", b"old text\n", st, "a.py.bak")
    assert path.read_bytes() == b"old text\n" and os.stat(path).st_ino == st.st_ino


def test_in_place_write_refuses_a_swapped_file(tmp_path):
    (tmp_path / "a.py").write_bytes(b"old\n")
    st = os.stat(tmp_path / "a.py")
    os.replace(tmp_path / "a.py", tmp_path / "moved.py")
    (tmp_path / "a.py").write_bytes(b"old\n")  # another inode under the same name
    with pytest.raises(MigrationError, match="changed while it was being upgraded"):
        write_into_inode(str(tmp_path / "a.py"), b"new\n", b"old\n", st, "a.py.bak")
    assert (tmp_path / "a.py").read_bytes() == b"old\n"


def _raw_controls(text: str) -> list[str]:
    return [c for c in text if c in "\x1b\r\u202e"]


@pytest.mark.parametrize("fmt", [(), ("--format", "markdown")])
def test_scan_escapes_file_names(tmp_path, fmt):
    (tmp_path / HOSTILE).write_text(PROGRAM)
    proc = run_cli("scan", ".", *fmt, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert not _raw_controls(proc.stdout), repr(proc.stdout[:300])
    assert "evil\\x1b[2K\\r" in proc.stdout and "\\u202e" in proc.stdout
    lines = [line for line in proc.stdout.splitlines() if "BasicLSTMCell" in line and "evil" in line]
    assert lines, proc.stdout  # the finding stays on one line with its (escaped) file name
    if not fmt:  # our own multi-line summary is not escaped
        assert any(line.startswith("needs work") for line in proc.stdout.splitlines()), proc.stdout[-500:]
    proc = run_cli("scan", ".", "--json", cwd=tmp_path)  # --json: JSON escapes; the decoded name is the real one
    paths = {f["path"] for f in json.loads(proc.stdout.splitlines()[-1])["findings"]}
    assert paths == {os.path.join(".", HOSTILE)} and not _raw_controls(proc.stdout)


def test_upgrade_output_escapes_file_names(tmp_path):
    name = "x\x1b[31m.py"
    (tmp_path / name).write_text(PROGRAM)
    proc = run_cli("upgrade", name, "--to", "compat", "--out", "y.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "x\\x1b[31m.py" in proc.stdout


def test_printable_keeps_ordinary_text():
    for text in ("model.py", "café/数据.py", "a b\\c.py"):
        assert printable(text) == text
    assert printable("a\x00b\x7f\x85\u200b\u2028") == "a\\x00b\\x7f\\x85\\u200b\\u2028"
