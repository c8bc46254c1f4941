"""Graph ops of rnn-migrate's own processes carry no recorded Python stack (migration/core/op_traces.py).

The test workers skip the recording as the command does (tests/conftest.py); the library case (``import migration``
keeps TensorFlow's recording) and the hook that applies the change when TensorFlow is imported later run in a fresh
interpreter. `rnn-migrate run` keeps the traces for the user's program: tests/core/test_run_command.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from legacy_rnn import tf, v1
from migration.core import op_traces

ROOT = __file__.rsplit("/tests/", 1)[0]

FRESH = r"""
import json, os, sys
import migration
from migration.core import op_traces
report = {"hooked_before_import": None}
if sys.argv[1] == "skip-first":
    report["hooked_before_import"] = op_traces.skip()  # TensorFlow not imported yet: the import hook
import tensorflow as tf
v1 = tf.compat.v1

def traced():
    with tf.Graph().as_default():
        trace = tf.identity(v1.placeholder(tf.float32), name="probe").op.traceback
        return None if trace is None else len(trace)

report["first"] = traced()
report["skip"] = op_traces.skip()
report["after_skip"] = traced()
op_traces.restore()
report["after_restore"] = traced()
print(json.dumps(report))
"""


def _fresh(mode: str, **env) -> dict:
    full = {k: v for k, v in os.environ.items() if k != op_traces.ENV_VAR}
    full.update(env)
    proc = subprocess.run([sys.executable, "-c", FRESH, mode], cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_library_keeps_tensorflows_traces_and_skip_restore_switch_them():
    """``import migration`` alone changes nothing; skip() after TensorFlow's import stops the recording for the ops
    built next, restore() brings it back."""
    seen = _fresh("import-first")
    assert seen["first"] > 0 and seen["skip"] is True and seen["after_skip"] is None and seen["after_restore"] > 0


def test_skip_before_tensorflow_is_imported_applies_as_it_loads_and_the_variable_keeps_the_traces():
    seen = _fresh("skip-first")
    assert seen["hooked_before_import"] is True and seen["first"] is None and seen["after_restore"] > 0
    kept = _fresh("skip-first", **{op_traces.ENV_VAR: "1"})
    assert kept["hooked_before_import"] is False and kept["first"] > 0 and kept["after_skip"] > 0


def _probe_traced() -> bool:
    with tf.Graph().as_default():
        return tf.identity(v1.placeholder(tf.float32)).op.traceback is not None


def test_the_command_skips_only_as_its_process_entry_point(monkeypatch, capsys):
    from migration.cli import main

    monkeypatch.delenv(op_traces.ENV_VAR, raising=False)
    op_traces.restore()  # this worker skipped them (tests/conftest.py): start from TensorFlow's default
    try:
        assert _probe_traced() and not op_traces.skipped()
        with pytest.raises(SystemExit):
            main(["--help"])  # a call from a program: TensorFlow as the program has it
        assert _probe_traced() and not op_traces.skipped()
        monkeypatch.setattr(sys, "argv", ["rnn-migrate", "--help"])
        with pytest.raises(SystemExit):
            main()  # rnn-migrate / python -m migration
        assert op_traces.skipped() and not _probe_traced()
        assert "usage" in capsys.readouterr().out
    finally:
        op_traces.skip()


def test_errors_still_name_the_failing_op_and_what_failed():
    """Without the traces, a runtime error keeps TensorFlow's message (the node, the failed condition or shapes), and
    nothing crashes while it is formatted (a shared empty trace did crash: migration/core/op_traces.py)."""
    assert op_traces.skipped()
    with tf.Graph().as_default() as graph:
        a = v1.placeholder(tf.float32, None, name="a")
        b = v1.placeholder(tf.float32, None, name="b")
        logits = tf.matmul(a, b, name="logits")
        x = v1.placeholder(tf.float32, [2], name="x")
        check = tf.debugging.assert_positive(x, message="lengths must be positive", name="check_x")
        with tf.control_dependencies([check]):
            y = tf.identity(x, name="y")
    assert logits.op.traceback is None and y.op.traceback is None
    with v1.Session(graph=graph) as sess:
        np.testing.assert_allclose(sess.run(logits, {a: np.ones((2, 3)), b: np.full((3, 4), 0.5)}), np.full((2, 4), 1.5))
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"(?s)'logits'.*Matrix size-incompatible.*\[2,3\]"):
            sess.run(logits, {a: np.ones((2, 3)), b: np.ones((4, 5))})
        np.testing.assert_array_equal(sess.run(y, {x: [1.0, 2.0]}), [1.0, 2.0])
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"(?s)lengths must be positive.*x > 0"):
            sess.run(y, {x: [-1.0, 2.0]})
