"""`rnn-migrate run SCRIPT.py ARGS`: a user's own TF1 program runs on TF 2.x unchanged.

The program below is plain tf.compat.v1 graph code with a `tf.nn.rnn_cell.LSTMCell` (the cell Keras 3 does not
have) and placeholders (refused eagerly). It reports what it saw: its argv, `__name__`, `__file__`, `sys.path[0]`,
the TF_USE_LEGACY_KERAS value, eager mode, the LSTM output shape, whether its ops carry their Python stack (TF's
default, kept for a user's program), and exits with a code of its own.
The control: the same file under plain `python` (the variable unset) fails, as the issue's user saw.
Fails on main: there is no `run` command (usage error, exit 2).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.ux import run_cli

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("run_command")

PROGRAM = '''\
import json, os, sys
import numpy as np
import tensorflow.compat.v1 as tf

x = tf.placeholder(tf.float32, [None, 5, 3])
cell = tf.nn.rnn_cell.LSTMCell(int(sys.argv[1]))
outputs, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    shape = sess.run(outputs, {x: np.ones((2, 5, 3), np.float32)}).shape
print(json.dumps({"argv": sys.argv, "name": __name__, "file": __file__, "path0": sys.path[0], "shape": shape,
                  "legacy": os.environ.get("TF_USE_LEGACY_KERAS"), "eager": tf.executing_eagerly(),
                  "traced": len(outputs.op.traceback)}))
print("progress on stderr", file=sys.stderr)
sys.exit(int(sys.argv[-1]))
'''


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    (root / "mine").mkdir()
    script = root / "mine" / "my_tf1.py"
    script.write_text(PROGRAM)
    return root, script


def test_runs_a_tf1_program_unchanged_with_its_arguments(program):
    root, script = program
    proc = run_cli("run", "mine/my_tf1.py", "7", "--flag", "-x", "5", cwd=root)  # options after SCRIPT are its own
    assert proc.returncode == 5, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["argv"] == ["mine/my_tf1.py", "7", "--flag", "-x", "5"]
    assert seen["name"] == "__main__" and seen["file"] == str(script)  # absolute, as python SCRIPT gives it
    assert seen["path0"] == str(script.parent)  # as `python mine/my_tf1.py` would, not the current directory
    assert seen["shape"] == [2, 5, 7] and seen["legacy"] == "1" and seen["eager"] is False
    # the program's ops say where they were defined (the command's own process skips that: migration/core/op_traces)
    assert seen["traced"] > 0
    assert "progress on stderr" in proc.stderr and "progress" not in proc.stdout


def test_the_same_program_fails_under_plain_python(program):
    """The control: without `run` the program stops where the issue's user was stopped."""
    root, script = program
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    proc = subprocess.run([sys.executable, str(script), "7", "0"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert "eager execution" in proc.stderr or "Keras 3" in proc.stderr, proc.stderr[-2000:]


def test_missing_script_is_a_usage_error_and_help_explains(tmp_path):
    proc = run_cli("run", "no_such.py", cwd=tmp_path)
    assert proc.returncode == 2 and "'no_such.py'" in proc.stderr and "does not exist" in proc.stderr
    proc = run_cli("run", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    for needle in ("TF_USE_LEGACY_KERAS=1", "disable_v2_behavior", "upgrade", "--tf2-behavior"):
        assert needle in proc.stdout
    assert "run your own TF1 program" in run_cli("--help", cwd=tmp_path).stdout


# A 20-line TF1 program as users wrote them: top-level TF1 names (tf.placeholder, tf.nn.rnn_cell, tf.Session,
# tf.get_variable) and a helper module of its own beside it. Constant weights, so the expected output is NumPy's.
TF1_SCRIPT = '''\
import sys
import numpy as np
import tensorflow as tf
from helpers import head

x = tf.placeholder(tf.float32, [None, 4, 3], name="x")
cell = tf.nn.rnn_cell.LSTMCell(2, initializer=tf.constant_initializer(0.1))
outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
logits = head(outputs[:, -1])
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    h, out = sess.run([outputs, logits], {x: np.ones((1, 4, 3), np.float32)})
print("h1", repr(float(h[0, 0, 0])), "logit", repr(float(out[0, 0])))
'''
TF1_HELPERS = '''\
import tensorflow as tf


def head(features):
    w = tf.get_variable("w", [2, 1], initializer=tf.constant_initializer(0.5))
    return tf.matmul(features, w)
'''


def _expected() -> tuple[float, float]:
    """LSTMCell(2), every kernel entry 0.1, zero bias, forget_bias 1, input ones [4 steps, 3]; head w = 0.5."""
    import numpy as np

    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    c = h = np.zeros(2)
    hs = []
    for _ in range(4):
        z = 0.1 * (3 + h.sum())  # every gate sees the same pre-activation
        c = sig(z + 1.0) * c + sig(z) * np.tanh(z)
        h = np.tanh(c) * sig(z)
        hs.append(h.copy())
    return float(hs[0][0]), float(hs[-1].sum() * 0.5)


def test_a_tf1_program_with_top_level_names_and_its_own_module_runs_unedited(tmp_path):
    """`run` upgrades SCRIPT.py and the modules it imports from its directory in memory; nothing is written.
    Controls: the same files under `run --as-written` fail at `tf.placeholder`; the files and directory are
    unchanged afterwards (no upgraded copy, no .pyc of upgraded code)."""
    (tmp_path / "train.py").write_text(TF1_SCRIPT)
    (tmp_path / "helpers.py").write_text(TF1_HELPERS)
    proc = run_cli("run", "train.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    words = proc.stdout.split()
    h1, logit = float(words[words.index("h1") + 1]), float(words[words.index("logit") + 1])
    expected_h1, expected_logit = _expected()
    assert abs(h1 - expected_h1) < 1e-6 and abs(logit - expected_logit) < 1e-6, (h1, logit, _expected())
    assert (tmp_path / "train.py").read_text() == TF1_SCRIPT and (tmp_path / "helpers.py").read_text() == TF1_HELPERS
    assert not list(tmp_path.rglob("*.pyc"))
    as_written = run_cli("run", "--as-written", "train.py", cwd=tmp_path)
    assert as_written.returncode != 0 and "placeholder" in as_written.stderr
