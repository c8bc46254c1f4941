"""A ``dynamic_decode`` loop found in the ``.meta`` without a loss (issue 21, cause 9: before, the decoder was
located only through a cross-entropy consuming its logits, so an inference export got the weaker rebuilt check and no
whole model).

One TF 1.x-form graph (RefVariables, Enter/Exit frames) with a normed-Bahdanau ``AttentionWrapper`` decoder, its
``Dense`` projection applied after ``dynamic_decode`` and ``argmax(softmax(logits))`` as the only output: no loss, no
optimizer; a Saver checkpoint with its ``.meta``; ONE default ``convert``. The decoder block is checked against the
original graph, the default whole model outputs the logits under the argmax, and an independent run of the original
graph (``import_meta_graph`` + ``Saver.restore``) equals the model. Negative control: a changed projection row in the
converted model is caught by the same comparison.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from migration.checkpoint import convert_checkpoint
from tests.checkpoint.ground_truth_graphs import tf1_graph_form
from tests.seq2seq import harness as h

tf, v1 = h.tf, h.v1
legacy_s2s = h.legacy_s2s
B, S, T, M, V, E = 3, 5, 4, 6, 11, 3
rnn = v1.nn.rnn_cell


def _build(directory: str) -> dict:
    with tf1_graph_form(True), tf.Graph().as_default():
        ph, embedding, batch = h.decoder_graph_inputs(M, V, E)
        with v1.variable_scope("decoder"):
            mechanism = legacy_s2s.BahdanauAttention(6, ph["memory"], memory_sequence_length=ph["memory_length"],
                                                     normalize=True)
            cell = legacy_s2s.AttentionWrapper(rnn.LSTMCell(4), mechanism, attention_layer_size=4)
            inputs = tf.nn.embedding_lookup(embedding, tf.concat([tf.fill([batch, 1], 1), ph["targets"][:, :-1]], 1))
            helper = legacy_s2s.TrainingHelper(inputs, ph["target_length"])
            out, _, _ = legacy_s2s.dynamic_decode(legacy_s2s.BasicDecoder(cell, helper, cell.zero_state(batch,
                                                                                                          tf.float32)))
            logits = v1.layers.Dense(V, name="output_projection")(out.rnn_output)
        ids = tf.argmax(tf.nn.softmax(logits), -1, name="ids")
        with v1.Session(config=h.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            h._randomize(sess, seed=4)
            prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    return {"prefix": prefix, "logits": logits.name, "ids": ids.name, "placeholders": {k: p.name for k, p in ph.items()}}


@pytest.fixture(scope="module")
def noloss(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("decoder_without_loss")
    graph = _build(str(root))
    result = convert_checkpoint(graph["prefix"], root / "conv")
    graph.update(result=result, conv=str(root / "conv"), manifest=json.load(open(root / "conv" / "manifest.json")))
    return graph


def _feeds(rng, lengths=(T, 2, 3)) -> dict:
    return {"memory:0": rng.uniform(-1, 1, (B, S, M)).astype(np.float32),
            "memory_length:0": np.array([S, 3, 1], np.int32),
            "targets:0": rng.integers(2, V, (B, max(lengths))).astype(np.int32),
            "target_length:0": np.array(lengths, np.int32)}


def _original(graph: dict, feeds: dict) -> np.ndarray:
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(graph["prefix"] + ".meta")
        with v1.Session(config=h.FAST) as sess:
            saver.restore(sess, graph["prefix"])
            return sess.run(graph["logits"], feeds)


def test_the_decoder_is_found_in_the_meta_without_a_loss(noloss) -> None:
    manifest = noloss["manifest"]
    assert noloss["result"].ok
    (entry,) = manifest["seq2seq"]
    assert entry["graph"] and entry["projection"] == ["decoder/output_projection/kernel",
                                                      "decoder/output_projection/bias"]
    (check,) = [c for c in manifest["verification"]["checks"] if c["what"] == f"seq2seq {entry['name']}"]
    assert check["reference"] == "original-graph" and check["max_abs_diff"] < 1e-5 and check["shape"][-1] == V
    assert manifest["model"]["outputs"] == [noloss["logits"]]  # the logits under argmax(softmax(...))


def test_the_default_whole_model_equals_the_original_graph(noloss) -> None:
    from modern_rnn import keras
    import modern_rnn.seq2seq.models  # noqa: F401

    entry = noloss["manifest"]["model"]
    assert set(entry["inputs"]) == {"memory", "memory_length", "targets", "target_length"}
    model = keras.models.load_model(os.path.join(noloss["conv"], "model.keras"), compile=False, safe_mode=True)
    rng = np.random.default_rng(8)
    feeds = _feeds(rng)
    want = _original(noloss, feeds)
    got = np.asarray(model([feeds[n + ":0"] for n in entry["inputs"]]))
    assert got.shape == want.shape == (B, T, V) and np.abs(want).max() > 0.1
    np.testing.assert_allclose(got, want, atol=1e-5)
    # negative control: one row of the projection kernel changed in the converted model is caught
    kernel = next(w for w in model.weights if w.shape == (4, V))
    kernel.assign(kernel.numpy() + np.eye(4, V, dtype=np.float32) * 0.5)
    assert np.abs(np.asarray(model([feeds[n + ":0"] for n in entry["inputs"]])) - want).max() > 1e-3
