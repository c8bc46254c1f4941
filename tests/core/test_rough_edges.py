"""Rough edges a new user met (each test fails on the main branch before the fix):

* the TensorBoard install line replaced the quick start's editable install (`pip install ".[tensorboard]"`);
* `rnn-migrate example` / `rnn-migrate run` without a name said "the following arguments are required: NAME, args";
* a syntax error met by `upgrade` said "then scan again"; `upgrade` had no default `--to`.
(`convert` listing clips as assumed: tests/checkpoint/test_clip_sources.py.)
"""
from __future__ import annotations

import re
from pathlib import Path

from tests.ux import ROOT, run_cli_in_process as run_cli  # messages and exit codes: no process start-up needed


def test_no_doc_installs_an_extra_without_the_editable_flag():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"pip install [\"']?\.\[", text), path  # `pip install ".[x]"` replaces `pip install -e .`
    assert 'pip install -e ".[tensorboard]"' in (ROOT / "README.md").read_text(encoding="utf-8")


def test_commands_without_their_name_say_what_to_pass(tmp_path):
    proc = run_cli("example", cwd=tmp_path)
    assert proc.returncode == 2 and "required" not in proc.stderr
    assert all(name in proc.stderr for name in ("echo", "sentiment", "keras_api", "seq2seq")), proc.stderr
    proc = run_cli("run", cwd=tmp_path)
    assert proc.returncode == 2 and "required" not in proc.stderr and "rnn-migrate run SCRIPT.py" in proc.stderr


def test_upgrade_defaults_to_compat_and_a_syntax_error_says_upgrade_not_scan(tmp_path):
    (tmp_path / "good.py").write_text("import tensorflow as tf\nx = tf.placeholder(tf.float32, [None, 3])\n")
    proc = run_cli("upgrade", "good.py", "--out", "good_v2.py", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert "compat.v1" in (tmp_path / "good_v2.py").read_text()  # --to compat, the default
    (tmp_path / "bad.py").write_text("import tensorflow as tf\nx = tf.placeholder(tf.float32,, [None])\n")
    proc = run_cli("upgrade", "bad.py", "--out", "bad_v2.py", cwd=tmp_path)
    assert proc.returncode == 2 and "bad.py" in proc.stderr and "Fix the syntax" in proc.stderr, proc.stderr
    assert "scan again" not in proc.stderr and not (tmp_path / "bad_v2.py").exists()


def test_scan_links_open_outside_a_checkout(tmp_path, monkeypatch):
    """`scan` linked its generic rows to docs/upgrading.md#..., which exists only in a checkout (fails on main)."""
    from migration.commands.scan import doc_link
    from migration.upgrade.scan import UPGRADE_DOC

    monkeypatch.chdir(tmp_path)  # no docs/ here, as for a user of the installed package
    for doc in (UPGRADE_DOC, "docs/api-map.md#placeholder"):
        path, _, anchor = doc_link(doc).partition("#")
        assert Path(path).is_file() and anchor == doc.partition("#")[2], doc_link(doc)
        assert f'id="{anchor}"' in Path(path).read_text(encoding="utf-8")


def test_readme_blocks_that_write_files_do_it_in_a_scratch_directory():
    """Run at the repository root, the checkpoint block left models/, converted/ and tf1/ there (fails on main); now
    everything goes into one new directory (mkdir fails rather than mix with an earlier run's files)."""
    from tests.core.test_docs import collect

    writers = [b for b in collect(ROOT / "README.md") if b.lang == "bash" and not b.illustrative
               and re.search(r"\b(models|converted|tf1)/", b.code)]
    assert writers
    for block in writers:
        first = next(line for line in block.code.splitlines() if line.strip() and not line.startswith("#"))
        assert first.startswith("mkdir rnn-migrate-try && cd rnn-migrate-try"), (block.line, first)  # one new dir
