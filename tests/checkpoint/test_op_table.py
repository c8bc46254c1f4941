"""Issue 19, point 3: one op table (``migration.graph.ops``) read by the sandbox and by the whole-model translator.
Every op the translator renders or handles is allowed by the sandbox; every allowed op is rendered, handled, or
marked reference-only with a reason; ``MaxPool`` (char-CNN front ends) is allowed and rendered exactly."""
from __future__ import annotations

import numpy as np
import pytest

from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST


def test_the_sandbox_allows_exactly_the_rows_of_the_table():
    from migration.graph import ops, sandbox

    assert sandbox.ALLOWED_OPS == ops.ALLOWED == frozenset(ops.OPS)
    for op in ("WriteFile", "ReadFile", "PyFunc", "SaveV2", "RestoreV2", "RandomUniform", "AssignVariableOp"):
        assert op not in ops.OPS


def test_every_row_is_rendered_handled_or_says_why_not():
    from migration.graph import ops

    for name, row in ops.OPS.items():
        assert row.name == name
        assert row.keras in ("render", "special", "reference-only"), name
        if row.keras == "render":
            assert callable(row.render), name
        else:
            assert row.render is None and len(row.why) > 10, name


def test_the_translator_renders_only_allowed_ops_from_the_same_rows():
    from migration.graph import ops, to_keras

    table = ops.render_table()
    assert set(table) == {n for n, r in ops.OPS.items() if r.keras == "render"}
    assert set(table) <= ops.ALLOWED
    # what the translator handles with its own code is allowed too, and listed as special
    handled = set(to_keras._PASS_THROUGH) | set(to_keras._VARS) | {"Placeholder", "Const", "PlaceholderWithDefault",
                                                                   "IdentityN", "ReadVariableOp"}
    assert handled <= {n for n, r in ops.OPS.items() if r.keras == "special"}
    assert "MaxPool" in table and "MaxPoolV2" in table


@pytest.mark.parametrize("padding, strides, data_format",
                         [("VALID", [1, 2, 1, 1], "NHWC"), ("SAME", [1, 1, 3, 1], "NHWC")])
def test_max_pool_renders_as_the_graph_computes_it(padding, strides, data_format):
    """A char-CNN max-pool (non-default window, strides, padding) built by TF1, run in a TF1 session, against the
    table's rendering of the same NodeDef; negative control: another padding gives another result."""
    from migration.graph import ops

    x = np.random.default_rng(1).normal(size=(2, 7, 9, 3)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        xp = v1.placeholder(tf.float32, [None, 7, 9, 3])
        pooled = v1.nn.max_pool(xp, ksize=[1, 3, 2, 1], strides=strides, padding=padding, data_format=data_format)
        with v1.Session(graph=graph, config=FAST) as sess:
            want = sess.run(pooled, {xp: x})
        node = pooled.op.node_def
    assert node.op == "MaxPool"
    got = np.asarray(ops.OPS["MaxPool"].render(tf, node, [x], 0))
    np.testing.assert_array_equal(got, want)
    node.attr["padding"].s = b"SAME" if padding == "VALID" else b"VALID"
    other = np.asarray(ops.OPS["MaxPool"].render(tf, node, [x], 0))
    assert other.shape != want.shape or not np.array_equal(other, want)


def test_a_max_pool_graph_runs_in_the_sandbox(tmp_path):
    """The sandbox runs a MaxPool front end (it was refused before) and gets the TF1 session's own value."""
    import os

    import legacy_rnn
    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.reference import OriginalGraph

    x = np.random.default_rng(2).normal(size=(2, 6, 8, 1)).astype(np.float32)
    with legacy_rnn.new_graph(5) as graph:
        xp = v1.placeholder(tf.float32, [None, 6, 8, 1], name="chars")
        w = v1.get_variable("conv", [2, 3, 1, 4])
        h = v1.nn.max_pool(tf.nn.relu(tf.nn.conv2d(xp, w, [1, 1, 1, 1], "SAME")), [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        out = tf.identity(h, name="features")
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        want = sess.run(out, {xp: x})
        prefix = v1.train.Saver().save(sess, os.path.join(str(tmp_path), "model.ckpt"))
        sess.close()
    (got,) = OriginalGraph(prefix + ".meta", CheckpointReader(prefix)).run(["features:0"], {"chars": x})
    np.testing.assert_allclose(got, want, atol=1e-6)
