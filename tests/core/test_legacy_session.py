"""legacy_rnn.session (graphs, placeholders, feed_dict, Saver, tf-slim restores) and TF1 scope naming (facts §2)."""
from __future__ import annotations

import numpy as np
import pytest

import legacy_rnn
from migration.core.errors import MigrationError

tf, v1 = legacy_rnn.tf, legacy_rnn.v1


def test_placeholder_needs_graph_mode() -> None:
    with pytest.raises(RuntimeError, match="graph mode"):
        legacy_rnn.placeholder(tf.float32, [None, 3])


def test_feed_dict_and_keep_prob_default() -> None:
    with legacy_rnn.new_graph(0) as graph:
        x = legacy_rnn.placeholder(tf.float32, [None, 3], name="x")
        keep = legacy_rnn.keep_prob_placeholder()
        y = tf.nn.dropout(x, rate=1.0 - keep)
        with legacy_rnn.new_session(graph) as sess:
            ones = np.ones((50, 3), np.float32)
            np.testing.assert_array_equal(sess.run(y, {x: ones}), ones)  # default 1.0: no dropout
            dropped = sess.run(y, {x: ones, keep: 0.5})
            assert set(np.unique(dropped)) == {0.0, 2.0}


def _train_graph(scope: str | None = None):
    cell = legacy_rnn.basic_lstm_cell(3)
    x = tf.constant(np.random.default_rng(0).standard_normal((2, 4, 2)).astype(np.float32))
    if scope:
        with v1.variable_scope(scope):
            out, _ = legacy_rnn.dynamic_rnn(cell, x)
    else:
        out, _ = legacy_rnn.dynamic_rnn(cell, x)
    return out


def test_save_and_restore_latest(tmp_path) -> None:
    with legacy_rnn.new_graph(0) as graph:
        out = _train_graph()
        with legacy_rnn.new_session(graph) as sess:
            legacy_rnn.initialize(sess)
            expected = sess.run(out)
            prefix = legacy_rnn.save(sess, tmp_path / "model.ckpt", global_step=7)
    assert prefix.endswith("model.ckpt-7") and (tmp_path / "checkpoint").exists()
    with legacy_rnn.new_graph(1) as graph:
        out = _train_graph()
        with legacy_rnn.new_session(graph) as sess:
            assert legacy_rnn.restore_latest(sess, tmp_path) == prefix
            np.testing.assert_allclose(sess.run(out), expected)


def test_restore_latest_without_checkpoint_says_what_to_do(tmp_path) -> None:
    with legacy_rnn.new_graph(0) as graph:
        _train_graph()
        with legacy_rnn.new_session(graph) as sess:
            with pytest.raises(MigrationError, match=r"No checkpoint in .*'checkpoint' state file"):
                legacy_rnn.restore_latest(sess, tmp_path)


def test_restore_renamed_with_tf_slim(tmp_path) -> None:
    """A checkpoint written under `rnn/...` restored into a graph that nests it under `model/` (slim name map)."""
    import tf_slim as slim

    with legacy_rnn.new_graph(0) as graph:
        out = _train_graph()
        with legacy_rnn.new_session(graph) as sess:
            legacy_rnn.initialize(sess)
            expected = sess.run(out)
            prefix = legacy_rnn.save(sess, tmp_path / "model.ckpt")
    with legacy_rnn.new_graph(1) as graph:
        out = _train_graph(scope="model")
        variables = slim.get_variables_to_restore(include=["model"])
        name_map = {v.op.name.replace("model/", "", 1): v for v in variables}
        assert sorted(name_map) == ["rnn/basic_lstm_cell/bias", "rnn/basic_lstm_cell/kernel"]
        with legacy_rnn.new_session(graph) as sess:
            legacy_rnn.initialize(sess)
            assert np.abs(sess.run(out) - expected).max() > 1e-3  # fresh weights differ before the restore
            legacy_rnn.restore_renamed(sess, prefix, name_map)
            np.testing.assert_allclose(sess.run(out), expected, atol=1e-7)
            with pytest.raises(MigrationError, match=r"has no tensors \['enc/kernel'\]"):
                legacy_rnn.restore_renamed(sess, prefix, {"enc/kernel": variables[0]})


@pytest.mark.parametrize("how,expected", [
    ("default", "rnn/basic_lstm_cell/kernel"),
    ("scope_arg", "encoder/basic_lstm_cell/kernel"),
    ("variable_scope", "encoder/rnn/basic_lstm_cell/kernel"),
    ("name_scope", "rnn/basic_lstm_cell/kernel"),
    ("named_cell", "rnn/my_lstm/kernel"),
])
def test_variable_scope_naming(how: str, expected: str) -> None:
    """dynamic_rnn(scope=X) replaces `rnn`, an enclosing variable_scope prefixes it, name_scope does nothing."""
    with legacy_rnn.new_graph(0):
        x = tf.zeros([2, 3, 4])
        cell = legacy_rnn.basic_lstm_cell(3, name="my_lstm" if how == "named_cell" else None)
        if how == "scope_arg":
            legacy_rnn.dynamic_rnn(cell, x, scope="encoder")
        elif how == "variable_scope":
            with v1.variable_scope("encoder"):
                legacy_rnn.dynamic_rnn(cell, x)
        elif how == "name_scope":
            with tf.name_scope("encoder"):
                legacy_rnn.dynamic_rnn(cell, x)
        else:
            legacy_rnn.dynamic_rnn(cell, x)
        assert expected in [v.op.name for v in v1.global_variables()]


def test_handwritten_cell_reuses_one_weight_set() -> None:
    """get_variable with reuse=True per step (seed 002): one W/b pair however many steps."""
    with legacy_rnn.new_graph(0):
        step = legacy_rnn.handwritten_rnn_cell(4, 2)
        legacy_rnn.manual_rnn(step, tf.zeros([3, 6, 2]))
        assert sorted(v.op.name for v in v1.global_variables()) == ["rnn_cell/W", "rnn_cell/b"]


def test_multi_rnn_cell_refuses_shared_cell_object() -> None:
    cell = legacy_rnn.basic_lstm_cell(3)
    with pytest.raises(ValueError, match="same cell object"):
        legacy_rnn.multi_rnn_cell([cell, cell])
    with pytest.raises(ValueError, match="non-empty list"):
        legacy_rnn.multi_rnn_cell([])


@pytest.mark.parametrize("call,pattern", [
    (lambda: legacy_rnn.basic_lstm_cell(0), r"`units`: expected a positive integer, got 0"),
    (lambda: legacy_rnn.gru_cell(-3), r"`units`: expected a positive integer, got -3"),
    (lambda: legacy_rnn.handwritten_rnn_cell(4, 0), r"`input_size`: expected a positive integer, got 0"),
    (lambda: legacy_rnn.lstm_cell(4, proj_clip=1.0), r"`proj_clip`.*needs `num_proj`"),
    (lambda: legacy_rnn.embedding_lookup(np.zeros((3, 2)), [0], partition_strategy="hash"), r"'mod' or 'div'"),
    (lambda: legacy_rnn.embedding_variable("e"), r"exactly one"),
])
def test_bad_arguments_name_the_argument(call, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        call()


def test_bad_input_rank_names_shape() -> None:
    with legacy_rnn.new_graph(0):
        with pytest.raises(ValueError, match=r"`inputs`: expected rank 3 \[batch, time, depth\], got \[2, 3\]"):
            legacy_rnn.dynamic_rnn(legacy_rnn.basic_rnn_cell(2), tf.zeros([2, 3]))
