"""``upgrade`` on Jupyter notebooks: code cells rewritten as one program, everything else kept."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from migration.cli import main
from migration.upgrade.notebook_rewrite import NotebookRewriteError, _Program, upgrade_notebook
from migration.upgrade.notebooks import is_cell_magic, is_magic
from migration.upgrade.rewrite_compat import BOOTSTRAP

FIXTURES = Path(__file__).parent / "fixtures"
SEED004 = FIXTURES / "seed004_sentiment.ipynb"
CROSS = FIXTURES / "cross_cell_aliases.ipynb"
GRAPH = "tf.compat.v1.disable_v2_behavior()  # rnn-migrate: the program uses TF1 graph mode\n"


def _src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _upgrade_file(path: Path, to: str, tmp_path: Path) -> tuple[dict, dict, str]:
    """(original JSON, upgraded JSON, upgraded text), through the CLI."""
    dst = tmp_path / ("out_" + path.name)
    assert main(["upgrade", str(path), "--to", to, "--out", str(dst)]) in (0, 1)
    text = dst.read_text(encoding="utf-8")
    return json.loads(path.read_text(encoding="utf-8")), json.loads(text), text


def _assert_only_code_sources_changed(before: dict, after: dict) -> None:
    assert {k: v for k, v in before.items() if k != "cells"} == {k: v for k, v in after.items() if k != "cells"}
    assert len(before["cells"]) == len(after["cells"])
    for old, new in zip(before["cells"], after["cells"]):
        assert old["cell_type"] == new["cell_type"]
        if old["cell_type"] != "code":
            assert old == new
        else:
            assert {k: v for k, v in old.items() if k != "source"} == {k: v for k, v in new.items() if k != "source"}
            assert type(old["source"]) is type(new["source"])


def _code_without_magics(cell: dict) -> str:
    source = _src(cell)
    if is_cell_magic(source):
        return ""
    return "\n".join("" if is_magic(line) else line for line in source.split("\n"))


def test_seed004_compat(tmp_path, capsys):
    before, after, text = _upgrade_file(SEED004, "compat", tmp_path)
    _assert_only_code_sources_changed(before, after)
    # the notebook's own JSON style (indent 1, raw UTF-8, no trailing newline) is kept: unchanged cells are
    # byte-for-byte the same text
    assert text == json.dumps(after, indent=1, ensure_ascii=False) and "Tensorflow应用之LSTM" in text
    cells = [_src(c) for c in after["cells"]]
    old = [_src(c) for c in before["cells"]]
    assert cells[0] == old[0] and before["cells"][0]["cell_type"] == "markdown"
    # the magic line is preserved in its cell, unchanged
    assert "%matplotlib inline\n" in old[8] and cells[8] == old[8]
    # tf.contrib in its own cell (21)
    assert "tf.contrib.rnn.BasicLSTMCell(lstmUnits)" in old[21]
    assert cells[21].startswith("lstmCell = tf.compat.v1.nn.rnn_cell.BasicLSTMCell(lstmUnits)\n")
    assert "tf.compat.v1.nn.rnn_cell.DropoutWrapper(" in cells[21] and "contrib" not in cells[21]
    # bootstrap + graph mode in cell 3 (the first that imports TensorFlow), nowhere else
    assert cells[3] == BOOTSTRAP + "import tensorflow as tf\n" + GRAPH + old[3].split("\n", 1)[1]
    assert [i for i, c in enumerate(cells) if "TF_USE_LEGACY_KERAS" in c] == [3]
    assert [i for i, c in enumerate(cells) if "disable_v2_behavior" in c] == [3]
    # cross-cell: tf imported in cell 3 (and again in 18), used in cells 4, 19, 25 ...
    assert cells[4].startswith("with tf.compat.v1.Session() as sess:")
    assert cells[19] == old[19].replace("tf.placeholder", "tf.compat.v1.placeholder")
    assert cells[1] == old[1] and cells[10] == old[10]  # no TensorFlow there: untouched
    out = capsys.readouterr().out
    assert "seed004_sentiment.ipynb[cell 21]:1:12: tf.contrib.rnn.BasicLSTMCell -> " in out
    for i, c in enumerate(after["cells"]):
        if c["cell_type"] == "code":
            compile(_code_without_magics(c), f"<cell {i}>", "exec")


def test_seed004_keras_notes_point_into_cells(tmp_path, capsys):
    dst = tmp_path / "k.ipynb"
    assert main(["upgrade", str(SEED004), "--to", "keras", "--out", str(dst), "--json"]) == 1
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # the embedding_lookup(...).eval() in cell 4, line 2 is not a recognised statement (an output-line note)
    assert [(m["cell"], m["line"], m["symbol"]) for m in data["manual_checks"]] == [(4, 2, "tf.nn.embedding_lookup")]
    after = json.loads(dst.read_text(encoding="utf-8"))
    _assert_only_code_sources_changed(json.loads(SEED004.read_text(encoding="utf-8")), after)
    cells = [_src(c) for c in after["cells"]]
    assert "tf_keras.layers.LSTM(lstmUnits, return_sequences=True, return_state=True)" in cells[21]
    assert "import tf_keras" in cells[3] and cells[3].startswith(BOOTSTRAP)
    assert "%matplotlib inline\n" in cells[8]
    for i, c in enumerate(after["cells"]):
        if c["cell_type"] == "code":
            compile(_code_without_magics(c), f"<cell {i}>", "exec")


def test_cross_cell_aliases_and_magics():
    result = upgrade_notebook(CROSS.read_text(encoding="utf-8"), "compat")
    before, after = json.loads(CROSS.read_text(encoding="utf-8")), json.loads(result.text)
    _assert_only_code_sources_changed(before, after)
    cells = [_src(c) for c in after["cells"]]
    # cell 1: bootstrap at the top, graph mode after `import tensorflow as tf`, the contrib module rebound
    # because cell 3 uses rnn.BasicLSTMCell
    assert cells[1] == (BOOTSTRAP + "!pip install numpy\nimport numpy as np\nimport tensorflow as tf\n" + GRAPH
                        + "from tensorflow.compat.v1 import nn as rnn")
    assert cells[2] == "%matplotlib inline\nbatch, steps, dims = 2, 3, 4\ntf.placeholder?"  # magics not rewritten
    assert cells[3] == ("x = tf.compat.v1.placeholder(tf.float32, [batch, steps, dims])\n"
                        "cell = rnn.rnn_cell.BasicLSTMCell(5)\n"
                        "out, state = tf.compat.v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)\n")
    assert cells[5] == "%%bash\necho hello"
    assert cells[6].startswith("with tf.compat.v1.Session() as sess:\n"
                               "    sess.run(tf.compat.v1.global_variables_initializer())\n")
    assert [c["id"] for c in after["cells"]] == ["m0", "c1", "c2", "c3", "m4", "c5", "c6"]
    assert "[cell 3]:1:5: tf.placeholder -> tf.compat.v1.placeholder" in result.changes
    assert result.manual_checks == []
    # Jupyter's own style (sorted keys as written, indent 1, trailing newline) comes back
    assert result.text == json.dumps(after, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def test_manual_checks_name_cell_and_line():
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["x"]},
                    {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                     "source": ["import tensorflow as tf\n"]},
                    {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                     "source": ["%time 1\n", "\n", "d = tf.contrib.layers.embed_sequence(c, h, s)"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    result = upgrade_notebook(json.dumps(nb), "compat")
    assert [(m.cell, m.line, m.col, m.symbol) for m in result.manual_checks] == [
        (2, 3, 5, "tf.contrib.layers.embed_sequence")]  # not in legacy_rnn.contrib_layers: manual
    assert str(result.manual_checks[0]).startswith("[cell 2]:3:5: tf.contrib.layers.embed_sequence: ")
    assert json.loads(result.text)["cells"][1]["source"] == BOOTSTRAP.splitlines(keepends=True) + [
        "import tensorflow as tf\n"]


def test_syntax_error_names_the_cell():
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": "x = 1"},
                    {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                     "source": "import tensorflow as tf\nprint 'x'"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    with pytest.raises(NotebookRewriteError, match=r"\[cell 1\]:2: "):
        upgrade_notebook(json.dumps(nb), "compat")


def test_split_refuses_lost_cell_boundaries():
    program = _Program(["import tensorflow as tf\n", "%matplotlib inline\nx = 1"], [0, 2], "")
    preamble, cells = program.split(program.code)
    assert (preamble, cells) == ("", ["import tensorflow as tf\n", "%matplotlib inline\nx = 1"])
    first_marker = program.code.splitlines(keepends=True)[0]
    with pytest.raises(NotebookRewriteError, match="did not keep the 2 code cells apart"):
        program.split(program.code.replace(first_marker, ""))
    masked = next(ln for ln in program.code.splitlines(keepends=True) if ln.startswith("pass  # "))
    with pytest.raises(NotebookRewriteError, match="magic"):
        program.split(program.code.replace(masked, ""))


@pytest.mark.parametrize("content, expect", [
    ("{not json", "not valid JSON"),
    ('{"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}, "cells": []}', "nbformat 3"),
    ("[1, 2]", "not a notebook"),
])
def test_cli_bad_notebook_exit_2_names_the_file(tmp_path, capsys, content, expect):
    bad = tmp_path / "broken.ipynb"
    bad.write_text(content)
    dst = tmp_path / "out.ipynb"
    assert main(["upgrade", str(bad), "--to", "compat", "--out", str(dst)]) == 2
    err = capsys.readouterr().err
    assert "broken.ipynb" in err and expect in err
    assert not dst.exists()


def test_cli_refuses_existing_dst_and_in_place_backup(tmp_path, capsys):
    nb = tmp_path / "nb.ipynb"
    nb.write_bytes(CROSS.read_bytes())
    dst = tmp_path / "out.ipynb"
    dst.write_text("keep me")
    assert main(["upgrade", str(nb), "--to", "compat", "--out", str(dst)]) == 2
    assert "already exists" in capsys.readouterr().err and dst.read_text() == "keep me"
    assert main(["upgrade", str(nb), "--to", "compat", "--out", str(dst), "--force"]) == 0
    assert json.loads(dst.read_text(encoding="utf-8"))["nbformat"] == 4
    assert main(["upgrade", str(nb), "--to", "compat", "--in-place"]) == 0
    assert (tmp_path / "nb.ipynb.bak").read_bytes() == CROSS.read_bytes()
    assert "tf.compat.v1.placeholder" in nb.read_text(encoding="utf-8")
    assert main(["upgrade", str(nb), "--to", "compat", "--in-place"]) == 2  # the backup would be overwritten
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".rnn-migrate-")] == []


RUNNER = r"""
import json, sys
from migration.upgrade.notebooks import is_cell_magic, is_magic
for path in sys.argv[1:]:
    ns = {"__name__": "__main__"}
    for i, cell in enumerate(json.load(open(path, encoding="utf-8"))["cells"]):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        if is_cell_magic(src):
            continue
        src = "\n".join("" if is_magic(line) else line for line in src.split("\n"))
        exec(compile(src, f"{path}[cell {i}]", "exec"), ns)
    ns["tf"].compat.v1.reset_default_graph()
"""


def test_upgraded_notebooks_run_on_tf221(tmp_path):
    """Both upgrades of the cross-cell notebook run, cell by cell, in a process without TF_USE_LEGACY_KERAS."""
    paths = []
    for to in ("compat", "keras"):
        dst = tmp_path / f"{to}.ipynb"
        assert main(["upgrade", str(CROSS), "--to", to, "--out", str(dst)]) == 0
        paths.append(str(dst))
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env.update(MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", RUNNER, *paths], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("shape (2, 3, 5)") == 2
