"""Issue 21 cause 2: a compat upgrade gives the program TF1 semantics, not only graph mode. Run for real: the
upgraded program (``disable_v2_behavior()``) works where the same upgrade with ``disable_eager_execution()`` alone
fails (a ``Dimension.value`` through a variable, a ``tf.Variable`` through a collection and a meta graph)."""
from __future__ import annotations

import os
import subprocess
import sys

from migration.upgrade import upgrade_source
from tests.ux import ROOT

PROGRAM = '''import tensorflow as tf

x = tf.placeholder(tf.float32, [None, 3])
dims = x.get_shape()
n = dims[1].value  # a Dimension in TF1: .value
width = x.shape[1].value
w = tf.Variable(tf.ones([n, 2]) * 1.5, name="w")
tf.add_to_collection("my_vars", w)
y = tf.matmul(x, w)
meta = tf.train.export_meta_graph()
tf.reset_default_graph()
tf.train.import_meta_graph(meta)
w2 = tf.get_collection("my_vars")[0]
with tf.Session() as s:
    s.run(tf.global_variables_initializer())
    print("RESULT", width, float(s.run(w2).sum()))
'''


def _run(code: str, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / "prog.py"
    path.write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["PYTHONPATH"] = str(ROOT)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)


def test_upgraded_program_keeps_tf1_semantics(tmp_path):
    code = upgrade_source(PROGRAM, "compat").code
    assert "tf.compat.v1.disable_v2_behavior()" in code
    assert "width = tf.compat.v1.dimension_value(x.shape[1])" in code
    proc = _run(code, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "RESULT 3 9.0" in proc.stdout


def test_graph_mode_alone_is_not_tf1(tmp_path):
    """Negative control: with only disable_eager_execution() (the upgrade before issue 21), the same program fails."""
    code = upgrade_source(PROGRAM, "compat").code.replace("disable_v2_behavior()", "disable_eager_execution()")
    proc = _run(code, tmp_path)
    assert proc.returncode != 0 and "RESULT" not in proc.stdout
