"""``AttentionWrapper(cell, mechanism, name="...")`` (issue 21): real programs name the wrapper (its variables are then
``<scope>/<name>/...``, not ``attention_wrapper/``). A normed-Bahdanau decoder under a custom name converts and
matches its ORIGINAL graph (re-imported with ``import_meta_graph`` + ``Saver.restore`` here, not by rnn-migrate).
Negative controls: a ``Dense`` named ``attention_layer`` beside a plain cell is not taken for a wrapper; a named
wrapper around a ``MultiRNNCell`` of mixed cell kinds is refused with the reason, never half converted.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from migration import seq2seq_converters as s2c
from migration.checkpoint import convert_checkpoint
from migration.checkpoint.export import load_model
from migration.core.errors import MigrationError
from tests.seq2seq import harness as h

tf, v1 = h.tf, h.v1
legacy_s2s = h.legacy_s2s
B, S, T, M, V, E = 3, 5, 4, 6, 9, 3


def _build(directory: str, stacked: bool = False) -> dict:
    rng = np.random.default_rng(4)
    with tf.Graph().as_default():
        memory = v1.placeholder(tf.float32, [None, None, M], "memory")
        lengths = v1.placeholder(tf.int32, [None], "memory_length")
        ids = v1.placeholder(tf.int32, [None, None], "decoder_ids")
        embedding = v1.get_variable("embedding", [V, E])
        with v1.variable_scope("decoder"):
            mech = legacy_s2s.BahdanauAttention(5, memory, memory_sequence_length=lengths, normalize=True)
            cell = v1.nn.rnn_cell.MultiRNNCell([v1.nn.rnn_cell.BasicLSTMCell(4) for _ in range(2)]) if stacked \
                else v1.nn.rnn_cell.BasicLSTMCell(4, forget_bias=0.5)
            wrapper = legacy_s2s.AttentionWrapper(cell, mech, attention_layer_size=4, name="attention_decoder_cell")
            batch = tf.shape(ids)[0]
            helper = legacy_s2s.TrainingHelper(tf.nn.embedding_lookup(embedding, ids), tf.fill([batch], tf.shape(ids)[1]))
            decoder = legacy_s2s.BasicDecoder(wrapper, helper, wrapper.zero_state(batch, tf.float32),
                                              output_layer=v1.layers.Dense(V, name="output_dense"))
            out, _, _ = legacy_s2s.dynamic_decode(decoder)
        loss = legacy_s2s.sequence_loss(out.rnn_output, ids, tf.ones_like(ids, tf.float32))
        train = v1.train.AdamOptimizer(0.01).minimize(loss)
        feeds = {memory: rng.uniform(-1, 1, (B, S, M)), lengths: [S, 2, 4], ids: rng.integers(0, V, (B, T))}
        with v1.Session(config=h.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            h._randomize(sess, seed=6)
            sess.run(v1.variables_initializer([v for v in v1.global_variables() if "Adam" in v.op.name
                                               or "power" in v.op.name]))
            sess.run(train, feeds)
            prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    return {"prefix": prefix, "logits": out.rnn_output.name}


@pytest.fixture(scope="module")
def named(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("named_wrapper")
    graph = _build(str(root))
    convert_checkpoint(graph["prefix"], root / "conv")
    graph["conv"] = str(root / "conv")
    return graph


def test_named_normed_bahdanau_decoder_converts_and_matches_the_original_graph(named) -> None:
    import modern_rnn.seq2seq.models  # noqa: F401

    assert any("/attention_decoder_cell/bahdanau_attention/attention_g" in n
               for n, _ in tf.train.list_variables(named["prefix"]))        # the fixture's point: the custom name
    manifest = json.load(open(os.path.join(named["conv"], "manifest.json")))
    (entry,) = manifest["seq2seq"]
    assert entry["scope"] == "decoder/decoder/attention_decoder_cell/" and entry["normalize"]
    checks = [c for c in manifest["verification"]["checks"] if c["what"] == f"seq2seq {entry['name']}"]
    assert checks and checks[0]["reference"] == "original-graph" and checks[0]["max_abs_diff"] < 1e-5
    model = load_model(os.path.join(named["conv"], entry["file"]))
    rng = np.random.default_rng(12)
    data = {"memory:0": rng.uniform(-1, 1, (B, S, M)).astype(np.float32),
            "memory_length:0": np.array([S, 3, 1], np.int32), "decoder_ids:0": rng.integers(0, V, (B, T))}
    got = model({"decoder_inputs": data["decoder_ids:0"], "memory": data["memory:0"],
                 "memory_sequence_length": data["memory_length:0"]}).numpy()
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(named["prefix"] + ".meta")
        with v1.Session(config=h.FAST) as sess:
            saver.restore(sess, named["prefix"])
            expected = sess.run(named["logits"], data)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.abs(expected).max() > 0.1


def test_a_dense_named_attention_layer_beside_a_plain_cell_is_not_a_wrapper() -> None:
    shapes = {"enc/lstm_cell/kernel": (7, 16), "enc/lstm_cell/bias": (16,), "enc/attention_layer/kernel": (4, 4)}
    assert s2c.wrapper_scopes(shapes) == ["enc/"]                        # structure alone would say yes ...
    assert s2c.recognize_seq2seq(shapes) == []                           # ... no mechanism memory: not a wrapper
    normed = {"d/w/bahdanau_attention/attention_v": (5,), "d/w/bahdanau_attention/query_layer/kernel": (4, 5),
              "d/w/basic_lstm_cell/kernel": (15, 16), "d/w/basic_lstm_cell/bias": (16,),
              "d/w/attention_layer/kernel": (10, 6), "d/memory_layer/kernel": (6, 5)}
    (block,) = s2c.recognize_seq2seq(normed)
    assert block.scope == "d/w/" and block.input_depth == 15 - 4 - 6
    assert s2c.recognize_seq2seq({**normed, "d/memory_layer/kernel": (6, 3)}) == []   # widths disagree


def test_a_named_wrapper_around_a_multirnncell_is_one_block(tmp_path) -> None:
    """Was refused before (issue 21, chatbot-beam): now one block (converted and checked against the original graph
    in test_stacked_attention_wrapper.py); mixed layer kinds are still refused with the reason."""
    graph = _build(str(tmp_path), stacked=True)
    (block,) = s2c.recognize_seq2seq(dict(tf.train.list_variables(graph["prefix"])))
    assert block.scope == "decoder/decoder/attention_decoder_cell/" and block.layer_units == (4, 4)
    assert block.input_depth == E and block.attention_size == 4
    mixed = {"d/w/bahdanau_attention/attention_v": (5,), "d/w/bahdanau_attention/query_layer/kernel": (4, 5),
             "d/w/multi_rnn_cell/cell_0/basic_lstm_cell/kernel": (15, 16),
             "d/w/multi_rnn_cell/cell_0/basic_lstm_cell/bias": (16,),
             "d/w/multi_rnn_cell/cell_1/gru_cell/gates/kernel": (8, 8), "d/w/multi_rnn_cell/cell_1/gru_cell/gates/bias": (8,),
             "d/w/multi_rnn_cell/cell_1/gru_cell/candidate/kernel": (8, 4),
             "d/w/multi_rnn_cell/cell_1/gru_cell/candidate/bias": (4,), "d/memory_layer/kernel": (6, 5)}
    with pytest.raises(MigrationError, match="different cell kinds"):
        s2c.recognize_seq2seq(mixed)
