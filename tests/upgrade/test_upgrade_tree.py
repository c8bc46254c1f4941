"""``upgrade DIR --out DIR2`` (tree mode, tf_upgrade_v2's --intree/--outtree): sources upgraded, other files copied,
a report written, nothing partial left behind, and nothing rnn-migrate did not write replaced."""
from __future__ import annotations

import json
import os

import pytest

from migration.cli import main
from migration.upgrade import tree as tree_mod
from migration.upgrade.tree import REPORT

TF1 = "import tensorflow as tf\nx = tf.placeholder(tf.float32)\nfor k, v in d.iteritems():\n    pass\n"


def _project(root):
    (root / "pkg").mkdir(parents=True)
    (root / "train.py").write_text(TF1)
    (root / "pkg" / "model.py").write_text("import tensorflow as tf\nc = tf.contrib.rnn.LSTMBlockCell(8)\n")
    (root / "pkg" / "old.py").write_text("print 'python 2'\n")
    (root / "data.csv").write_bytes(b"a,b\n1,2\n\x00binary-ish\n")
    (root / "README.md").write_text("# the project\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    os.symlink("data.csv", root / "link.csv")
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                     "source": ["import tensorflow as tf\n", "s = tf.Session()"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    (root / "pkg" / "nb.ipynb").write_text(json.dumps(nb))
    return root


def test_tree_upgrades_sources_copies_the_rest_and_writes_a_report(tmp_path, capsys):
    src, dst = _project(tmp_path / "proj"), tmp_path / "proj_tf2"
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(dst)]) == 1  # old.py does not parse
    out = (dst / "train.py").read_text()
    assert "tf.compat.v1.placeholder" in out and "d.items()" in out and "disable_v2_behavior" in out
    assert "legacy_rnn.contrib_rnn.LSTMBlockCell(8)" in (dst / "pkg" / "model.py").read_text()
    assert "tf.compat.v1.Session()" in "".join(json.loads((dst / "pkg" / "nb.ipynb").read_text())["cells"][0]["source"])
    assert (dst / "pkg" / "old.py").read_text() == "print 'python 2'\n"  # copied unchanged, listed as an error
    assert (dst / "data.csv").read_bytes() == (src / "data.csv").read_bytes()
    assert (dst / "README.md").read_text() == "# the project\n"
    assert os.readlink(dst / "link.csv") == "data.csv"  # recreated, not followed
    assert not (dst / ".git").exists()
    report = (dst / REPORT).read_text()
    assert "train.py:2:5: tf.placeholder -> tf.compat.v1.placeholder" in report
    assert "pkg/old.py: 0 change(s), 0 manual check(s); ERROR: line 1" in report
    assert "wrote " in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging dir left


def test_tf_upgrade_v2_spellings_and_reportfile(tmp_path):
    src = _project(tmp_path / "proj")
    (src / "pkg" / "old.py").unlink()
    report = tmp_path / "report.txt"
    rc = main(["upgrade", "--intree", str(src), "--outtree", str(tmp_path / "out"), "--to", "compat",
               "--reportfile", str(report)])
    assert rc == 0  # nothing manual: LSTMBlockCell has its home, iteritems is rewritten
    assert report.read_text() == (tmp_path / "out" / REPORT).read_text()


def test_existing_dst_is_refused_and_only_ours_is_replaced(tmp_path):
    src = _project(tmp_path / "proj")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "keep.txt").write_text("mine")
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(theirs)]) == 2
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(theirs), "--force"]) == 2  # not ours
    assert (theirs / "keep.txt").read_text() == "mine" and sorted(os.listdir(theirs)) == ["keep.txt"]
    ours = tmp_path / "ours"
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(ours)]) == 1
    before = sorted(p.relative_to(ours).as_posix() for p in ours.rglob("*"))
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(ours), "--force"]) == 1  # all ours: replaced
    assert sorted(p.relative_to(ours).as_posix() for p in ours.rglob("*")) == before
    (ours / "pkg" / "notes.txt").write_text("a user's file, added inside our output")
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(ours), "--force"]) == 2  # never deleted
    assert (ours / "pkg" / "notes.txt").read_text() == "a user's file, added inside our output"
    assert (ours / REPORT).exists()


@pytest.mark.parametrize("bad", ["inside", "in-place"])
def test_bad_usage_writes_nothing(tmp_path, bad):
    src = _project(tmp_path / "proj")
    args = ["upgrade", str(src), "--to", "compat"]
    args += ["--out", str(src / "sub_out")] if bad == "inside" else ["--in-place"]
    assert main(args) == 2
    assert not (src / "sub_out").exists()


def test_no_partial_output_when_a_file_fails(tmp_path, monkeypatch):
    src, dst = _project(tmp_path / "proj"), tmp_path / "out"
    calls = []

    def broken(source, to, filename="<string>"):
        calls.append(filename)
        if len(calls) == 2:
            raise RuntimeError("boom")  # an internal error half-way through the tree
        return real(source, to, filename)

    real = tree_mod.upgrade_source
    monkeypatch.setattr(tree_mod, "upgrade_source", broken)
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(dst)]) == 3
    assert len(calls) == 2 and not dst.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]  # no staging directory either
