"""``MultiRNNCell([LSTMCell, AttentionWrapper(LSTMCell)])`` (attention on the top decoder layer only, as GNMT-style
code writes it; issue 21 cause 6) is not converted yet: ``convert`` refuses it with exit 2 and a message that names
the wrapper, the width it reads and why (before: a Keras shape error about ``cell/kernel``), never a wrong model.
A real TF 1.x-form graph and a Saver checkpoint with its ``.meta``."""
from __future__ import annotations

import os

import numpy as np

from migration.cli import main
from tests.checkpoint.ground_truth_graphs import tf1_graph_form
from tests.seq2seq import harness as h

tf, v1, legacy_s2s = h.tf, h.v1, h.legacy_s2s
rnn = v1.nn.rnn_cell
M, V, E = 6, 11, 3


def _save(directory: str) -> str:
    with tf1_graph_form(True), tf.Graph().as_default():
        memory = v1.placeholder(tf.float32, [None, None, M], "memory")
        lengths = v1.placeholder(tf.int32, [None], "memory_length")
        targets = v1.placeholder(tf.int32, [None, None], "targets")
        target_length = v1.placeholder(tf.int32, [None], "target_length")
        embedding = v1.get_variable("embedding", [V, E])
        batch = tf.shape(targets)[0]
        with v1.variable_scope("decoder"):
            mechanism = legacy_s2s.BahdanauAttention(6, memory, memory_sequence_length=lengths)
            top = legacy_s2s.AttentionWrapper(rnn.LSTMCell(4), mechanism, attention_layer_size=4)
            cell = rnn.MultiRNNCell([rnn.LSTMCell(5), top])
            inputs = tf.nn.embedding_lookup(embedding, tf.concat([tf.fill([batch, 1], 1), targets[:, :-1]], 1))
            decoder = legacy_s2s.BasicDecoder(cell, legacy_s2s.TrainingHelper(inputs, target_length),
                                              cell.zero_state(batch, tf.float32), v1.layers.Dense(V, name="proj"))
            logits = legacy_s2s.dynamic_decode(decoder)[0].rnn_output
        mask = tf.sequence_mask(target_length, tf.shape(targets)[1], dtype=tf.float32)
        train = v1.train.AdamOptimizer(0.01).minimize(legacy_s2s.sequence_loss(logits, targets, mask))
        with v1.Session(config=h.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(train, {memory: np.ones((2, 3, M), np.float32), lengths: [3, 2], targets: [[2, 3], [4, 5]],
                             target_length: [2, 1]})
            return v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))


def test_a_mixed_plain_and_attention_stack_is_refused_naming_the_cause(tmp_path, capsys):
    prefix = _save(str(tmp_path))
    out = tmp_path / "conv"
    assert main(["convert", prefix, str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "'decoder/decoder/multi_rnn_cell/cell_1/' reads 5-wide inputs, not the 3-wide embedding 'embedding'" in err
    assert "mixes plain and attention-wrapped layers" in err and "Traceback" not in err
    assert not out.exists()  # nothing partial written
