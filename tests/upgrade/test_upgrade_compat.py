"""``upgrade --to compat``: before/after pairs through one helper (tf_upgrade_v2_test.py style), manual checks,
the CLI's file handling, and the upgraded seed 002 program trained to its documented loss on TF 2.21."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from migration.cli import main
from migration.upgrade import upgrade_source
from migration.upgrade.rewrite_compat import BOOTSTRAP
from tests.upgrade.program_runner import GROUP, program_env

FIXTURES = Path(__file__).parent / "fixtures"
BOOT = BOOTSTRAP
GRAPH = "  # rnn-migrate: the program uses TF1 graph mode\n"


def _upgrade(before: str) -> tuple[str, list[str]]:
    """The one helper: (code, ["line:col: symbol", ...] of the manual checks)."""
    result = upgrade_source(before, "compat")
    return result.code, [f"{m.line}:{m.col}: {m.symbol}" for m in result.manual_checks]


# (rule, before, after) - after = BOOT + ... where the bootstrap applies. Each rule has its own row.
CASES = [
    ("moved name -> tf.compat.v1",
     "import tensorflow as tf\nv = tf.get_variable('w', [3])\n",
     BOOT + "import tensorflow as tf\nv = tf.compat.v1.get_variable('w', [3])\n"),
    ("TF2 names untouched",
     "import tensorflow as tf\nx = tf.concat([tf.zeros([2]), tf.one_hot(i, 2)], 0)\ny = tf.unstack(tf.matmul(a, b))\n",
     BOOT + "import tensorflow as tf\nx = tf.concat([tf.zeros([2]), tf.one_hot(i, 2)], 0)\ny = tf.unstack(tf.matmul(a, b))\n"),
    ("optimizer + initializer + reset_default_graph",
     "import tensorflow as tf\ntf.reset_default_graph()\nw = tf.Variable(tf.truncated_normal([2]))\nop = tf.train.AdamOptimizer().minimize(l)\ninit = tf.global_variables_initializer()\n",
     BOOT + "import tensorflow as tf\ntf.compat.v1.reset_default_graph()\nw = tf.compat.v1.Variable(tf.compat.v1.truncated_normal([2]))\nop = tf.compat.v1.train.AdamOptimizer().minimize(l)\ninit = tf.compat.v1.global_variables_initializer()\n"),
    ("contrib cell -> rnn_cell home; static_rnn -> nn home",
     "import tensorflow as tf\nc = tf.contrib.rnn.GRUCell(4)\no, s = tf.contrib.rnn.static_rnn(c, xs, dtype=tf.float32)\n",
     BOOT + "import tensorflow as tf\nc = tf.compat.v1.nn.rnn_cell.GRUCell(4)\no, s = tf.compat.v1.nn.static_rnn(c, xs, dtype=tf.float32)\n"),
    ("tf.nn.rnn_cell + dynamic_rnn + LSTMStateTuple",
     "import tensorflow as tf\nc = tf.nn.rnn_cell.BasicLSTMCell(4)  # keep me\ns = tf.nn.rnn_cell.LSTMStateTuple(a, b)\no, s = tf.nn.dynamic_rnn(c, x, initial_state=s)\n",
     BOOT + "import tensorflow as tf\nc = tf.compat.v1.nn.rnn_cell.BasicLSTMCell(4)  # keep me\ns = tf.compat.v1.nn.rnn_cell.LSTMStateTuple(a, b)\no, s = tf.compat.v1.nn.dynamic_rnn(c, x, initial_state=s)\n"),
    ("graph mode after the import when placeholders are used",
     "import numpy as np\nimport tensorflow as tf\n\nx = tf.placeholder(tf.float32)\n",
     BOOT + "import numpy as np\nimport tensorflow as tf\ntf.compat.v1.disable_v2_behavior()" + GRAPH + "\nx = tf.compat.v1.placeholder(tf.float32)\n"),
    ("graph mode for Session alone",
     "import tensorflow as tf\nwith tf.Session() as s:\n    pass\n",
     BOOT + "import tensorflow as tf\ntf.compat.v1.disable_v2_behavior()" + GRAPH + "with tf.compat.v1.Session() as s:\n    pass\n"),
    ("compat.v1 program: bootstrap + disable_v2_behavior only",
     "import tensorflow.compat.v1 as tf\nx = tf.placeholder(tf.float32)\nc = tf.nn.rnn_cell.LSTMCell(3)\n",
     BOOT + "import tensorflow.compat.v1 as tf\ntf.disable_v2_behavior()" + GRAPH + "x = tf.placeholder(tf.float32)\nc = tf.nn.rnn_cell.LSTMCell(3)\n"),
    ("bootstrap goes after the docstring and __future__",
     '"""Doc."""\nfrom __future__ import print_function\nimport tensorflow as tf\n',
     '"""Doc."""\nfrom __future__ import print_function\n' + BOOT + "import tensorflow as tf\n"),
    ("an existing assignment bootstrap is kept, not doubled",
     'import os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\nimport tensorflow as tf\n',
     'import os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\nimport tensorflow as tf\n'),
    ("from tensorflow.contrib.rnn import X as Y",
     "from tensorflow.contrib.rnn import GRUCell as GRU, static_rnn\ng = GRU(3)\n",
     BOOT + "from tensorflow.compat.v1.nn.rnn_cell import GRUCell as GRU\nfrom tensorflow.compat.v1.nn import static_rnn\ng = GRU(3)\n"),
    ("from tensorflow.contrib import rnn: module rebound, cells under rnn_cell",
     "from tensorflow.contrib import rnn\nc = rnn.BasicRNNCell(3)\no, s = rnn.static_rnn(c, xs)\n",
     BOOT + "from tensorflow.compat.v1 import nn as rnn\nc = rnn.rnn_cell.BasicRNNCell(3)\no, s = rnn.static_rnn(c, xs)\n"),
    ("from tensorflow.nn import rnn_cell",
     "from tensorflow.nn import rnn_cell\nc = rnn_cell.LSTMCell(3)\n",
     BOOT + "from tensorflow.compat.v1.nn import rnn_cell\nc = rnn_cell.LSTMCell(3)\n"),
    ("from tensorflow import nn (used for a moved name)",
     "from tensorflow import nn\no = nn.dynamic_rnn(c, x)\n",
     BOOT + "from tensorflow.compat.v1 import nn\no = nn.dynamic_rnn(c, x)\n"),
    ("import tensorflow.contrib.rnn (binds tensorflow)",
     "import tensorflow.contrib.rnn\nc = tensorflow.contrib.rnn.LSTMCell(3)\n",
     BOOT + "import tensorflow\nc = tensorflow.compat.v1.nn.rnn_cell.LSTMCell(3)\n"),
    ("alias assignment of a moved module",
     "import tensorflow as tf\nrnn_cell = tf.nn.rnn_cell\nc = rnn_cell.GRUCell(2)\n",
     BOOT + "import tensorflow as tf\nrnn_cell = tf.compat.v1.nn.rnn_cell\nc = rnn_cell.GRUCell(2)\n"),
    ("getattr with a constant name",
     "import tensorflow as tf\nC = getattr(tf.nn.rnn_cell, 'LSTMCell')\n",
     BOOT + "import tensorflow as tf\nC = tf.compat.v1.nn.rnn_cell.LSTMCell\n"),
    ("a name tf_upgrade_v2 renames (tf.log) also moves",
     "import tensorflow as tf\ny = tf.log(x)\n",
     BOOT + "import tensorflow as tf\ny = tf.compat.v1.log(x)\n"),
    ("formatting and comments inside the expression survive",
     "import tensorflow as tf\nx = tf.placeholder(  # the input\n    tf.float32, name='x')\n",
     BOOT + "import tensorflow as tf\ntf.compat.v1.disable_v2_behavior()" + GRAPH + "x = tf.compat.v1.placeholder(  # the input\n    tf.float32, name='x')\n"),
]


@pytest.mark.parametrize("rule, before, after", CASES, ids=[c[0] for c in CASES])
def test_rewrite_rule(rule, before, after):
    code, manual = _upgrade(before)
    assert code == after
    assert manual == []
    assert _upgrade(code)[0] == code  # idempotent


def test_manual_check_list_is_explicit():
    code, manual = _upgrade((FIXTURES / "aliases.py").read_text())
    assert manual == ["14:14: getattr(tf.contrib.rnn, ...)"]
    assert "import legacy_rnn.contrib_layers as layers" in code  # tf.contrib.layers' home (issue 21)
    assert "logits = layers.fully_connected(" in code
    assert "decoder = legacy_rnn.seq2seq.BasicDecoder" in code  # the seq2seq home (issue 12)


@pytest.mark.parametrize("before, expected", [
    ("import tensorflow as tf\nf(tf.nn.rnn_cell)\n", ["2:3: tf.nn.rnn_cell"]),
    ("import tensorflow as tf\nfrom tensorflow.contrib.rnn import *\n", ["2:1: from tensorflow.contrib.rnn import *"]),
    ("from tensorflow.contrib.rnn import NTMCell\n", ["1:1: tf.contrib.rnn.NTMCell"]),
    ("import tensorflow as tf\nc = getattr(tf.nn.rnn_cell, name)(3)\n", ["2:5: getattr(tf.nn.rnn_cell, ...)"]),
    ("from tensorflow.contrib import rnn\nc = rnn.NTMCell(3)\n", ["2:5: tf.contrib.rnn.NTMCell"]),  # NASCell: rebuilt
])
def test_cannot_rewrite_safely_is_listed_and_left(before, expected):
    code, manual = _upgrade(before)
    assert manual == expected
    for check in manual:  # the construct is still there, as written
        line = int(check.split(":")[0])
        assert before.splitlines()[line - 1].split("(")[0].split(".")[-1] in code


def test_seed_fixtures_upgrade_without_manual_checks():
    for name in ("seed002_handwritten.py", "seed002_static_rnn.py", "seed002_dynamic_rnn.py", "seed004_sentiment.py"):
        code, manual = _upgrade((FIXTURES / name).read_text())
        assert manual == [], name
        code_lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith("#")]
        assert not [ln for ln in code_lines if "tf.contrib" in ln or re.search(r"\btf\.placeholder\(", ln)], name


def test_cli_out_force_and_in_place(tmp_path, capsys):
    src = tmp_path / "prog.py"
    src.write_text("import tensorflow as tf\nx = tf.placeholder(tf.float32)\n")
    dst = tmp_path / "out.py"
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(dst)]) == 0
    assert "tf.compat.v1.placeholder" in dst.read_text()
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(dst)]) == 2
    assert "already exists" in capsys.readouterr().err
    dst.write_text("old")
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(dst), "--force"]) == 0
    assert dst.read_text() != "old"
    original = src.read_text()
    assert main(["upgrade", str(src), "--to", "compat", "--in-place"]) == 0
    assert (tmp_path / "prog.py.bak").read_text() == original and "compat.v1" in src.read_text()
    assert main(["upgrade", str(src), "--to", "compat", "--in-place"]) == 2  # the backup would be overwritten
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".rnn-migrate-")] == []
    bad = tmp_path / "bad.py"
    bad.write_text("print 'x'\n")
    assert main(["upgrade", str(bad), "--to", "compat", "--out", str(tmp_path / "b2.py")]) == 2
    assert "bad.py:1:" in capsys.readouterr().err
    assert main(["upgrade", str(tmp_path / "nope.py"), "--to", "compat", "--out", str(dst), "--force"]) == 2


def test_cli_lists_manual_checks_with_exit_1(tmp_path, capsys):
    out = tmp_path / "a.py"
    assert main(["upgrade", str(FIXTURES / "aliases.py"), "--to", "compat", "--out", str(out), "--json"]) == 1
    import json

    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [m["symbol"] for m in data["manual_checks"]] == ["getattr(tf.contrib.rnn, ...)"]


def _losses(stdout: str) -> list[float]:
    return [float(v) for v in re.findall(r"步的平均损失 ([0-9.]+)", stdout)]


SEED = 0
GRAPH_LINE = "tf.compat.v1.disable_v2_behavior()" + GRAPH.rstrip("\n")


def run_upgraded(path: Path, tmp_path: Path, runner) -> list[float]:
    """Run an upgraded program in a fresh process without TF_USE_LEGACY_KERAS (the bootstrap must set it).

    The seed program sets no seed. The run is made deterministic from outside: Python's ``random`` (tf_keras'
    unseeded initialisers draw their seeds from it), numpy (the data) and the graph-level TF seed, inserted right
    after the graph-mode line the upgrade added. Seed 0 is used (the first one tried). ``runner``: the
    ``program_runner`` fixture (tests/upgrade/program_runner.py; the seeding runs before TensorFlow's import there
    too, as in ``python -c "SEEDING; runpy.run_path(PROGRAM)"``: the same losses to the last digit).
    """
    code = path.read_text(encoding="utf-8")
    assert code.count(GRAPH_LINE) == 1
    code = code.replace(GRAPH_LINE, GRAPH_LINE + f"\ntf.compat.v1.set_random_seed({SEED})")
    proc = runner.run(code, tmp_path, program_env(), path.name, timeout=120,
                      before=f"import random, numpy as np; random.seed({SEED}); np.random.seed({SEED})")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _losses(proc.stdout)


@pytest.mark.slow
@pytest.mark.xdist_group(GROUP)  # with the other program runs (one zygote)
def test_upgraded_seed002_static_rnn_trains_to_documented_loss(tmp_path, program_runner):
    code, manual = _upgrade((FIXTURES / "seed002_static_rnn.py").read_text())
    assert manual == []
    prog = tmp_path / "echo_tf2.py"
    prog.write_text(code)
    losses = run_upgraded(prog, tmp_path, program_runner)
    # One epoch of 1,000,000 samples, batch 200, num_steps=5: 999 steps, an average every 100. Seed 002: the loss
    # starts near 0.66 (no dependency learnt) and ends near 0.52 (the t-3 dependency learnt).
    # Measured on TF 2.21 (deterministic seeds 0-7): last average 0.518-0.522 for every seed; the FIRST printed
    # average (steps 0-100) is 0.566-0.667 because the net often learns the t-3 dependency within those 100 steps,
    # so "first > 0.6" held for 5 seeds of 8 (not for seed 0: 0.575). Asserted instead: the documented end point,
    # and that the first average is well above it (the net started in the ~0.66 regime and learnt).
    assert len(losses) == 9
    assert losses[-1] < 0.55
    assert losses[0] > 0.55 and losses[0] - losses[-1] > 0.04
