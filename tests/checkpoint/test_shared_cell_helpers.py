"""Shared fw/bw cells built through helpers (issue 21, the hierarchical-attention-network pattern): one program whose
bidirectional encoders get ONE cell object for both directions, built by a factory or a lambda, passed through a
helper that re-enters the ``variable_scope`` object it is given (``with tf.variable_scope(scope)`` inside
``with tf.variable_scope('word') as scope``) inside a re-entered outer scope (``tcm`` -> name scope ``tcm_1``). The
checkpoint holds ``tcm/word/fw/...`` only, the bw loops are
named ``tcm/tcm_1/word/word/word/bw/bw/while``: the recognizer must still see that the bw loop reads the fw cell.

Default ``convert`` (TF 1.x graph form, as the corpus program runs): both levels, LSTM and GRU, are recognized and
verified against the ORIGINAL graph; the default whole model (the logits the loss consumes) equals the original
graph run here with ``import_meta_graph`` + ``Saver.restore``. The detector alone (graphs only, both graph forms):
an encoder called again under ``reuse=True`` with a new cell object (loops named ``enc_1/...``). Negative controls:
the detector ties a bw loop to its own block (another block's scope says no, an ordinary fw/bw pair of the same
graph says no), and the model with its weights moved is caught by the same comparison.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import legacy_rnn
from migration.checkpoint import convert_checkpoint
from migration.checkpoint.export import load_model
from migration.checkpoint.meta import load_meta
from migration.checkpoint.shared_cell import bw_reads_fw
from tests.checkpoint.ground_truth_graphs import tf1_graph_form
from tests.checkpoint.tf1_values import FAST

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
B, S, W, V, E, C = 3, 3, 4, 20, 5, 4


def _birnn(cell_fw, cell_bw, inputs, lengths, scope=None):
    """The helper of the pattern: it re-enters the scope OBJECT it is given (a new name scope each time)."""
    with v1.variable_scope(scope or "birnn") as scope:
        (fw, bw), _ = v1.nn.bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, sequence_length=lengths,
                                                      dtype=tf.float32, scope=scope)
        return tf.concat([fw, bw], 2)


def _attend(h, n, name):
    with v1.variable_scope(name):
        proj = tf.tanh(v1.layers.dense(h, n, name="proj"))
        ctx = v1.get_variable("context", [n])
        alpha = tf.nn.softmax(tf.reduce_sum(proj * ctx, 2, keepdims=True), axis=1)
        return tf.reduce_sum(h * alpha, 1)


def _build(directory: str) -> dict:
    rng = np.random.default_rng(11)
    with tf1_graph_form(True), tf.Graph().as_default():
        ids = v1.placeholder(tf.int32, [None, S, W], "ids")
        wlen = v1.placeholder(tf.int32, [None, S], "word_lengths")
        slen = v1.placeholder(tf.int32, [None], "sentence_lengths")
        y = v1.placeholder(tf.int32, [None], "labels")
        make_gru = lambda: v1.nn.rnn_cell.GRUCell(5)  # noqa: E731  a factory lambda

        def make_lstm():
            return v1.nn.rnn_cell.LSTMCell(4, forget_bias=0.5)

        with v1.variable_scope("tcm") as top:
            emb = v1.get_variable("embedding", [V, E])
        with v1.variable_scope(top):  # re-entered: ops under tcm/tcm_1/, variables under tcm/
            words = tf.reshape(tf.nn.embedding_lookup(emb, ids), [-1, W, E])
            with v1.variable_scope("word") as scope:
                cell = make_lstm()
                word_out = _birnn(cell, cell, words, tf.reshape(wlen, [-1]), scope=scope)
            sentences = tf.reshape(_attend(word_out, 6, "word_attention"), [-1, S, 8])
            with v1.variable_scope("sentence") as scope:
                cell = make_gru()
                sent_out = _birnn(cell, cell, sentences, slen, scope=scope)
            doc = _attend(sent_out, 6, "sentence_attention")
            logits = v1.layers.dense(doc, C, name="classifier")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train = v1.train.AdamOptimizer(0.01).minimize(loss)
        feeds = {ids: rng.integers(0, V, (B, S, W)), wlen: rng.integers(1, W + 1, (B, S)),
                 slen: np.array([S, 1, 2], np.int32), y: np.array([0, 3, 1], np.int32)}
        with v1.Session(config=FAST) as sess:
            sess.run(v1.global_variables_initializer())
            for var in v1.trainable_variables():
                var.load(rng.uniform(-0.8, 0.8, var.shape.as_list()).astype(np.float32), sess)
            sess.run(train, feeds)
            prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    return {"prefix": prefix, "logits": logits.name}


@pytest.fixture(scope="module")
def han(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("han")
    graph = _build(str(root))
    graph["result"] = convert_checkpoint(graph["prefix"], root / "conv")
    graph["manifest"] = json.load(open(root / "conv" / "manifest.json"))
    graph["conv"] = str(root / "conv")
    return graph


def _feeds(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"ids:0": rng.integers(0, V, (4, S, W)).astype(np.int32),
            "word_lengths:0": rng.integers(1, W + 1, (4, S)).astype(np.int32),
            "sentence_lengths:0": np.array([S, 1, 2, S], np.int32)}


def test_both_levels_are_recognized_as_shared_cell_blocks_and_verified_on_the_original_graph(han) -> None:
    keys = [k for k, _ in tf.train.list_variables(han["prefix"])]
    assert not [k for k in keys if "/bw/" in k]                      # the fixture's point: no bw variables
    blocks = {b["scope"]: b for b in han["manifest"]["blocks"]}
    assert set(blocks) == {"tcm/word", "tcm/sentence"}
    for scope, prefix in (("tcm/word", "tcm/word/fw/lstm_cell/"), ("tcm/sentence", "tcm/sentence/fw/gru_cell/")):
        cells = blocks[scope]["cells"]
        assert {c["direction"] for c in cells} == {"fw", "bw"}
        assert all(k.startswith(prefix) for c in cells for k in c["variables"].values())
    verification = han["manifest"]["verification"]
    assert verification["ok"] and verification["references"]["whole model"] == "original-graph"
    for scope in ("tcm/word", "tcm/sentence"):
        name = "block " + scope.replace("/", "_")
        assert verification["references"][name] == "original-graph", name
        checks = [c for c in verification["checks"] if c["what"] == name]
        assert {c["output"] for c in checks} >= {"fw/outputs", "bw/outputs"}
        assert max(c["max_abs_diff"] for c in checks) < 1e-5


def test_default_whole_model_equals_the_original_graph(han) -> None:
    model_entry = han["manifest"]["model"]
    assert model_entry["outputs"] == [han["logits"]]
    assert model_entry["inputs"] == ["ids", "word_lengths", "sentence_lengths"]      # labels are not inputs
    model = load_model(os.path.join(han["conv"], "model.keras"))
    feeds = _feeds(5)
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(han["prefix"] + ".meta")
        with v1.Session(config=FAST) as sess:
            saver.restore(sess, han["prefix"])
            want = sess.run(han["logits"], feeds)
    got = np.asarray(model([feeds[n + ":0"] for n in model_entry["inputs"]], training=False))
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.abs(want).max() > 1e-2
    # negative control: the same comparison catches the model with its weights moved
    model.set_weights([w + 0.05 for w in model.get_weights()])
    off = np.asarray(model([feeds[n + ":0"] for n in model_entry["inputs"]], training=False))
    assert np.abs(off - want).max() > 1e-3


def _reused(form: str) -> tuple[dict, dict]:
    """(main-graph nodes, checkpoint keys by block) of an encoder called twice, the second time under
    ``reuse=True`` with a new cell object (its loops are named ``enc_1/...``), beside an ordinary fw/bw pair from a
    factory and another shared-cell block."""
    with tf1_graph_form(form == "tf1"), tf.Graph().as_default() as g:
        x = v1.placeholder(tf.float32, [None, 4, 3], "x")
        with v1.variable_scope("enc") as scope:
            cell = v1.nn.rnn_cell.GRUCell(2)
            _birnn(cell, cell, x, None, scope=scope)
        with v1.variable_scope(scope, reuse=True) as reused:
            again = v1.nn.rnn_cell.GRUCell(2)
            _birnn(again, again, tf.reverse(x, [1]), None, scope=reused)
        with v1.variable_scope("other") as scope:
            cell = v1.nn.rnn_cell.LSTMCell(2)
            _birnn(cell, cell, x, None, scope=scope)
        with v1.variable_scope("pair"):
            _birnn(v1.nn.rnn_cell.GRUCell(2), v1.nn.rnn_cell.GRUCell(2), x, None)
        keys = {}
        for var in v1.global_variables():
            keys.setdefault(var.op.name.split("/fw/")[0] if "/fw/" in var.op.name else "bw", []).append(var.op.name)
        return {n.name: n for n in g.as_graph_def().node}, keys


@pytest.mark.parametrize("form", ["tf1", "tf2"])
def test_the_detector_follows_reuse_and_ties_a_bw_loop_to_its_own_block(form: str) -> None:
    nodes, keys = _reused(form)
    assert sorted(keys) == ["bw", "enc", "other", "pair/birnn"]
    assert bw_reads_fw(nodes, "enc", keys["enc"]) and bw_reads_fw(nodes, "other", keys["other"])
    assert not bw_reads_fw(nodes, "other", keys["enc"])               # another block's bw loops do not read them
    assert not bw_reads_fw(nodes, "enc", keys["other"])
    assert not bw_reads_fw(nodes, "pair/birnn", keys["pair/birnn"])   # an ordinary fw/bw pair of the same graph
    # the first call's bw loop taken away, the reused call's (``enc_1/...``) is found through the normalized names
    second = {n: v for n, v in nodes.items() if not any(p.startswith("enc/") and "/bw/" in p for p in
                                                        (n, v.attr["frame_name"].s.decode()))}
    assert len(second) < len(nodes) and bw_reads_fw(second, "enc", keys["enc"])
