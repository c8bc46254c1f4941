"""Issue 21 cause 2: a compat upgrade gives the program TF1 semantics, not only graph mode. Run for real: the
upgraded program (``disable_v2_behavior()``) works where the same upgrade with ``disable_eager_execution()`` alone
fails (a ``Dimension.value`` through a variable, a ``tf.Variable`` through a collection and a meta graph)."""
from __future__ import annotations

import pytest

from migration.upgrade import upgrade_source
from tests.upgrade.program_runner import GROUP, program_env

pytestmark = pytest.mark.xdist_group(GROUP)  # with the other program runs (one zygote)

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


@pytest.fixture
def run(program_runner, tmp_path):
    """``run(code)``: the program as ``python prog.py`` in a fresh process (TF_USE_LEGACY_KERAS unset), sharing the
    TensorFlow import of the programs with the same bootstrap (tests/upgrade/program_runner.py)."""
    return lambda code: program_runner.run(code, tmp_path, program_env())


def test_upgraded_program_keeps_tf1_semantics(run):
    code = upgrade_source(PROGRAM, "compat").code
    assert "tf.compat.v1.disable_v2_behavior()" in code
    assert "width = tf.compat.v1.dimension_value(x.shape[1])" in code
    proc = run(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "RESULT 3 9.0" in proc.stdout


def test_graph_mode_alone_is_not_tf1(run):
    """Negative control: with only disable_eager_execution() (the upgrade before issue 21), the same program fails."""
    code = upgrade_source(PROGRAM, "compat").code.replace("disable_v2_behavior()", "disable_eager_execution()")
    proc = run(code)
    assert proc.returncode != 0 and "RESULT" not in proc.stdout
