"""``rnn-migrate scan``: exact findings on the seed programs, alias resolution, notebooks, errors, CLI contract."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from migration.cli import main
from migration.upgrade import scan_paths
from migration.upgrade.scan import scan_source
from migration.upgrade.symbols import ANCHORS, TABLE

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


def _found(path: Path) -> list[tuple[int, str]]:
    report = scan_paths([str(path)])
    assert report.errors == []
    return [(f.line, f.symbol) for f in report.findings]


def test_seed002_static_rnn_every_construct_at_its_line():
    # Lines read off tests/upgrade/fixtures/seed002_static_rnn.py (the seed's section 5.1 variant).
    expected = [
        (55, "tf.placeholder"), (56, "tf.placeholder"),
        (63, "tf.contrib.rnn.BasicRNNCell"), (64, "tf.contrib.rnn.static_rnn"),
        (67, "tf.variable_scope"), (68, "tf.get_variable"), (69, "tf.get_variable"), (69, "tf.constant_initializer"),
        (75, "tf.train.AdagradOptimizer"), (79, "tf.Session"), (80, "tf.global_variables_initializer"),
        (90, "tf.Session.run(feed_dict)"),
    ]
    assert _found(FIXTURES / "seed002_static_rnn.py") == expected


def test_seed004_sentiment_every_construct_at_its_line():
    expected = [
        (33, "tf.Session"), (34, "tf.nn.embedding_lookup"), (132, "tf.reset_default_graph"),
        (134, "tf.placeholder"), (135, "tf.placeholder"),
        (137, "tf.Variable"),  # -> tf.compat.v1.Variable: TF1's variable in a graph-mode program (issue 21)
        (138, "tf.nn.embedding_lookup"),
        (140, "tf.contrib.rnn.BasicLSTMCell"), (141, "tf.contrib.rnn.DropoutWrapper"), (142, "tf.nn.dynamic_rnn"),
        (144, "tf.Variable"), (144, "tf.truncated_normal"), (145, "tf.Variable"),
        (154, "tf.nn.softmax_cross_entropy_with_logits"),  # a tf_upgrade_v2 transformer: TF1 meaning under compat.v1
        (155, "tf.train.AdamOptimizer"),
        (157, "tf.InteractiveSession"), (158, "tf.train.Saver"), (159, "tf.global_variables_initializer"),
        (164, "tf.Session.run(feed_dict)"), (167, "tf.Session.run(feed_dict)"), (168, "tf.Session.run(feed_dict)"),
        (178, "tf.InteractiveSession"), (179, "tf.train.Saver"), (180, "tf.train.latest_checkpoint"),
        (185, "tf.Session.run(feed_dict)"),
    ]
    assert _found(FIXTURES / "seed004_sentiment.py") == expected


def test_seed004_notebook_maps_findings_to_cell_and_line():
    report = scan_paths([str(FIXTURES / "seed004_sentiment.ipynb")])
    assert report.errors == []  # `%matplotlib inline` is a magic, not a syntax error
    cells = json.loads((FIXTURES / "seed004_sentiment.ipynb").read_text())["cells"]
    for f in report.findings:
        source = "".join(cells[f.cell]["source"]).split("\n")
        assert f.written in source[f.line - 1], (f, source[f.line - 1])
    rnn = [(f.line, f.symbol) for f in report.findings if f.cell == 21]
    assert rnn == [(1, "tf.contrib.rnn.BasicLSTMCell"), (2, "tf.contrib.rnn.DropoutWrapper"), (3, "tf.nn.dynamic_rnn")]
    # same constructs as the .py transcription
    py = scan_paths([str(FIXTURES / "seed004_sentiment.py")])
    assert sorted(f.symbol for f in report.findings) == sorted(f.symbol for f in py.findings)


def test_aliases_are_resolved_the_way_the_code_wrote_them():
    report = scan_paths([str(FIXTURES / "aliases.py")])
    got = [(f.line, f.symbol, f.severity) for f in report.findings]
    # rewrite = what `upgrade --to compat` changes there (imports are rebound where they are written, so the uses
    # through them run as written: compat); manual = what it cannot change.
    assert got == [
        (3, "tf.contrib.rnn", "rewrite"),  # from tensorflow.contrib import rnn -> from tensorflow.compat.v1 import nn
        (4, "tf.contrib.rnn.GRUCell", "rewrite"),  # from tensorflow.contrib.rnn import GRUCell as GRU
        (5, "tf.nn.rnn_cell", "rewrite"),  # from tensorflow.nn import rnn_cell
        (6, "tf.contrib.layers", "rewrite"),  # -> import legacy_rnn.contrib_layers as layers (issue 21)
        (8, "tf.nn.rnn_cell", "rewrite"),  # cells = tf.nn.rnn_cell
        (9, "tf.nn.rnn_cell.LSTMCell", "compat"),  # cells.LSTMCell, through the rewritten alias
        (10, "tf.contrib.rnn.GRUCell", "compat"),
        (11, "tf.contrib.rnn.MultiRNNCell", "rewrite"),  # rnn.MultiRNNCell -> rnn.rnn_cell.MultiRNNCell
        (11, "tf.contrib.rnn.BasicLSTMCell", "rewrite"),
        (11, "tf.nn.rnn_cell.GRUCell", "compat"),
        (12, "tf.contrib.rnn.static_bidirectional_rnn", "compat"),
        (13, "tf.contrib.layers.fully_connected", "compat"),  # through the rebound import
        (14, "getattr(tf.contrib.rnn, ...)", "manual"),
        (15, "tf.contrib.seq2seq.BasicDecoder", "rewrite"),  # -> legacy_rnn.seq2seq.BasicDecoder
    ]
    s2s = report.findings[-1]
    assert s2s.upgrade == "legacy_rnn.seq2seq.BasicDecoder" and s2s.replacement == "modern_rnn.seq2seq.BasicDecoder"


def test_compat_v1_import_is_compat_and_exit_code_0(capsys):
    path = str(FIXTURES / "compat_v1_style.py")
    report = scan_paths([path])
    assert {f.severity for f in report.findings} == {"compat"}
    assert [f.symbol for f in report.findings][:3] == ["tf.placeholder", "tf.nn.rnn_cell.BasicLSTMCell",
                                                       "tf.nn.dynamic_rnn"]
    assert main(["scan", path]) == 0
    assert main(["scan", str(FIXTURES / "seed002_static_rnn.py")]) == 1


@pytest.mark.parametrize("source, expected", [
    ("import tensorflow as tf\ntf.contrib.rnn.LSTMStateTuple(c, h)\n", [(2, "tf.contrib.rnn.LSTMStateTuple", "rewrite")]),
    ("import tensorflow as tf\ntf.nn.rnn_cell.ResidualWrapper(c)\n", [(2, "tf.nn.rnn_cell.ResidualWrapper", "rewrite")]),
    ("import tensorflow as tf\ntf.nn.bidirectional_dynamic_rnn(a, b, x)\n",
     [(2, "tf.nn.bidirectional_dynamic_rnn", "rewrite")]),
    ("import tensorflow as T\nT.train.MomentumOptimizer(0.1, 0.9)\n", [(2, "tf.train.MomentumOptimizer", "rewrite")]),
    # the import is rebound where it is written (the rewrite is there); the use then runs as written
    ("from tensorflow import nn as n\nn.dynamic_rnn(c, x)\n", [(1, "tf.nn", "rewrite"), (2, "tf.nn.dynamic_rnn", "compat")]),
    ("import tensorflow.compat.v1 as tf\ntf.variable_scope('a')\n", [(2, "tf.variable_scope", "compat")]),
    ("from tensorflow.compat.v1.nn import rnn_cell as rc\nrc.GRUCell(3)\n", [(2, "tf.nn.rnn_cell.GRUCell", "compat")]),
    ("from tensorflow.contrib.rnn import *\n", [(1, "from tensorflow.contrib.rnn import *", "manual")]),
])
def test_symbol_resolution(source, expected):
    assert [(f.line, f.symbol, f.severity) for f in scan_source(source)] == expected


def test_tf2_names_and_other_libraries_are_not_reported():
    src = ("import tensorflow as tf\nimport numpy as np\nx = tf.concat([a, b], 1)\ny = tf.matmul(x, w)\n"
           "z = np.random.random_normal\ntf = None\ntf.placeholder\n")
    assert scan_source(src) == []


def test_unreadable_files_are_errors_not_crashes(tmp_path):
    (tmp_path / "bad.py").write_text("import tensorflow as tf\nprint 'hello'\n")
    (tmp_path / "bin.py").write_bytes(b"\x00\x01\x02import tensorflow")
    (tmp_path / "broken.ipynb").write_text("{not json")
    (tmp_path / "half.ipynb").write_text(json.dumps({"cells": [
        {"cell_type": "code", "source": "import tensorflow as tf\n"},
        {"cell_type": "code", "source": "def f(:\n"},
        {"cell_type": "code", "source": "x = tf.placeholder(tf.float32)\n"}]}))
    (tmp_path / "good.py").write_text("import tensorflow as tf\nx = tf.placeholder(tf.float32)\n")
    report = scan_paths([str(tmp_path)])
    errors = {Path(e.path).name: e for e in report.errors}
    assert set(errors) == {"bad.py", "bin.py", "broken.ipynb", "half.ipynb"}
    assert errors["bad.py"].line == 2 and "2to3" in errors["bad.py"].message
    assert "binary" in errors["bin.py"].message
    assert "not valid JSON" in errors["broken.ipynb"].message and "nbconvert" in errors["broken.ipynb"].message
    assert errors["half.ipynb"].cell == 1 and errors["half.ipynb"].line == 1
    # the good file and the good cells were still scanned (cell 2 sees cell 0's import)
    assert sorted((Path(f.path).name, f.cell, f.line) for f in report.findings) == [
        ("good.py", None, 2), ("half.ipynb", 2, 1)]
    assert "bad.py:2:" in str(errors["bad.py"]) and "Fix the syntax" in str(errors["bad.py"])


def test_many_files_directory(tmp_path):
    for i in range(2000):
        (tmp_path / f"m{i}.py").write_text("import tensorflow as tf\nx = tf.placeholder(tf.float32)\n" if i % 2
                                           else "x = 1\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "hook.py").write_text("import tensorflow as tf\ntf.Session()\n")
    report = scan_paths([str(tmp_path)])
    assert report.files_scanned == 2000 and len(report.findings) == 1000 and report.errors == []


def test_cli_json_markdown_and_bad_path(capsys, tmp_path):
    path = str(FIXTURES / "seed002_static_rnn.py")
    assert main(["scan", path, "--json"]) == 1
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(data) >= {"findings", "errors", "summary"}
    first = data["findings"][0]
    assert {k: first[k] for k in ("line", "col", "symbol", "severity", "doc")} == {
        "line": 55, "col": 5, "symbol": "tf.placeholder", "severity": "rewrite", "doc": "docs/api-map.md#placeholder"}
    assert first["replacement"] and first["path"] == path
    assert data["summary"]["by_symbol"]["tf.placeholder"] == 2
    assert main(["scan", path, "--format", "markdown"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("| location | symbol |") and "| `tf.contrib.rnn.static_rnn` |" in out
    assert main(["scan", str(tmp_path / "missing.py")]) == 2
    assert "No such file or directory" in capsys.readouterr().err


def test_scan_and_help_never_import_tensorflow():
    code = (f"import sys; from migration.cli import main; rc = main(['scan', {str(FIXTURES)!r}, '--json']); "
            "assert 'tensorflow' not in sys.modules, 'scan imported tensorflow'; "
            "assert 'libcst' not in sys.modules\n"
            "try:\n    main(['upgrade', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules, '--help imported tensorflow'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_every_anchor_is_in_api_map():
    used = {row.anchor for row in TABLE.values()} | {"feed_dict"}
    assert used <= set(ANCHORS)
    text = (REPO / "docs" / "api-map.md").read_text(encoding="utf-8")
    missing = [a for a in ANCHORS if f'<a id="{a}"></a>' not in text]
    assert missing == [], f"docs/api-map.md lacks anchors {missing}"


def test_attention_cell_wrapper_points_at_its_row_and_converters():
    (finding,) = scan_source("import tensorflow as tf\ntf.contrib.rnn.AttentionCellWrapper(c, 3)\n")
    assert finding.severity == "rewrite" and finding.doc == "docs/api-map.md#attentioncellwrapper"
    assert finding.upgrade == "legacy_rnn.contrib_rnn.AttentionCellWrapper"  # its home in legacy_rnn (issue 19)
    assert "modern_rnn.AttentionCell" in finding.replacement and "wrapper_converters" in finding.consequence
