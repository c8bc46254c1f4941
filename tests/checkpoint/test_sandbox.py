"""The sandbox: a ``.meta`` is a program, and nothing of it runs unless every op the fetches need is allowlisted.

Each hostile graph puts one I/O or code op on the path to its logits (as data or as a control dependency). The
``WriteFile``/``Save`` ones would create a marker file if they ran: the marker must never appear.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import tf, v1

from conftest import run_cli

T = 5


def _build(directory, hostile: str) -> tuple[str, str, str]:
    """(prefix, logits tensor name, marker path) of a BasicRNNCell graph with ``hostile`` on the logits path."""
    os.makedirs(directory, exist_ok=True)
    marker = os.path.join(str(directory), "MARKER")
    with legacy_rnn.new_graph(3) as graph:
        x = v1.placeholder(tf.float32, [None, T, 3], name="x")
        outputs, _ = v1.nn.dynamic_rnn(legacy_rnn.basic_rnn_cell(4), x, dtype=tf.float32)
        logits = v1.layers.dense(outputs[:, -1], 2, name="head")
        if hostile == "WriteFile":
            with tf.control_dependencies([tf.io.write_file(marker, "ran")]):
                logits = tf.identity(logits)
        elif hostile == "Save":
            with tf.control_dependencies([tf.raw_ops.Save(filename=marker, tensor_names=["a"], data=[logits])]):
                logits = tf.identity(logits)
        elif hostile == "ReadFile":
            logits = logits + tf.cast(tf.strings.length(tf.io.read_file(marker + ".in")), tf.float32)
        elif hostile == "Restore":
            logits = logits + tf.reduce_sum(tf.raw_ops.Restore(file_pattern=marker + ".in", tensor_name="a",
                                                               dt=tf.float32))
        elif hostile == "PyFunc":
            logits = v1.py_func(lambda a: a, [logits], tf.float32)
        logits = tf.identity(logits, name="logits")
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        prefix = v1.train.Saver().save(sess, os.path.join(str(directory), "model.ckpt"))
    return prefix, logits.name, marker


HOSTILE = ["WriteFile", "Save", "ReadFile", "Restore", "PyFunc"]


@pytest.mark.parametrize("op", HOSTILE)
def test_refused_before_anything_runs(tmp_path, op):
    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.reference import OriginalGraph
    from migration.graph.sandbox import SandboxRefusal

    prefix, logits, marker = _build(tmp_path / op, op)
    original = OriginalGraph(prefix + ".meta", CheckpointReader(prefix))
    x = np.zeros((2, T, 3), np.float32)
    with pytest.raises(SandboxRefusal) as info:
        original.run([logits], {"x": x})
    assert info.value.op == op and op in str(info.value) and info.value.node in str(info.value)
    assert op in {r[0] for r in info.value.refused}
    assert not os.path.exists(marker)
    # a clean fetch of the same graph (the RNN block alone) runs: the refusal is about the path, not the file
    assert original.run(["head/BiasAdd:0"], {"x": x})[0].shape == (2, 2)


def test_convert_with_a_hostile_graph_runs_nothing_of_it(tmp_path):
    prefix, _, marker = _build(tmp_path / "src", "WriteFile")
    out = tmp_path / "out"
    assert run_cli("convert", prefix, out, "--quiet") == 2  # no model.keras; the block still converted and verified
    with open(out / "manifest.json") as f:
        manifest = json.load(f)
    assert manifest["model"] is None and not (out / "model.keras").exists()
    assert any("WriteFile" in n and "not executed" in n for n in manifest["notes"]), manifest["notes"]
    assert manifest["verification"]["references"] == {"block rnn": "original-graph"}
    assert not os.path.exists(marker)


def test_allowlist_has_no_io_ops():
    from migration.graph.sandbox import ALLOWED_OPS

    for op in ("WriteFile", "ReadFile", "PyFunc", "EagerPyFunc", "SaveV2", "RestoreV2", "Save", "Restore",
               "MatchingFiles", "WriteSummary", "FIFOQueueV2", "TFRecordReaderV2", "Assign", "AssignVariableOp",
               "RandomUniform"):
        assert op not in ALLOWED_OPS


def test_the_unoptimized_sandbox_run_gives_the_programs_own_numbers(tmp_path):
    """The child runs the graph as written (no Grappler, no constant folding: tens of times cheaper for a graph run
    once); its outputs equal what the program's own optimizing session computed, on a graph with a while loop,
    ragged lengths, seeded non-zero biases and constant subexpressions those passes would fold."""
    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.reference import OriginalGraph
    from conftest import randomize

    rng = np.random.default_rng(12)
    x = rng.normal(0, 1, (3, T, 3)).astype(np.float32)
    lengths = np.array([T, 1, 3], np.int32)
    with legacy_rnn.new_graph(12) as graph:
        xp = v1.placeholder(tf.float32, [None, T, 3], name="x")
        lp = v1.placeholder(tf.int32, [None], name="lengths")
        outputs, state = v1.nn.dynamic_rnn(legacy_rnn.lstm_cell(4, forget_bias=0.5), xp, sequence_length=lp,
                                           dtype=tf.float32)
        scale = tf.constant(np.linspace(0.5, 1.5, 4, dtype=np.float32)) * tf.constant(2.0)  # foldable
        logits = tf.identity(v1.layers.dense(state.h * scale, 2, name="head"), name="logits")
        with v1.Session(graph=graph) as sess:  # TensorFlow's default config: every optimization on
            legacy_rnn.initialize(sess)
            randomize(sess, 12)
            expected, expected_out = sess.run([logits, outputs], {xp: x, lp: lengths})
            prefix = v1.train.Saver().save(sess, os.path.join(str(tmp_path), "model.ckpt"))
    original = OriginalGraph(prefix + ".meta", CheckpointReader(prefix))
    got, got_out = original.run(["logits:0", outputs.name], {"x": x, "lengths": lengths})
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(got_out, expected_out, atol=1e-6)
    assert np.max(np.abs(expected)) > 1e-2
    (other,) = original.run(["logits:0"], {"x": x[::-1].copy(), "lengths": lengths})  # control: depends on its feed
    assert np.max(np.abs(other - expected)) > 1e-3
