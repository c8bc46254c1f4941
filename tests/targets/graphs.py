"""One real TF1 checkpoint (tf.compat.v1.train.Saver, with its .meta) holding the block patterns the output
targets take: an embedding + stacked BasicLSTMCell/LSTMCell (forget_bias 1.0 and 0.7) + dense head; a GRUCell block
feeding a BasicRNNCell(relu) block; a bidirectional block with different stacks per direction (BasicLSTMCell
forget_bias 0.5 over BasicLSTMCell fw, GRUCell over BasicRNNCell bw). Every variable gets seeded asymmetric values
(biases included); every block has a ragged sequence_length."""
from __future__ import annotations

import os

import numpy as np

import legacy_rnn
from legacy_rnn import tf, v1

T, VOCAB, EMB = 6, 20, 5


def build(directory, seed: int = 24) -> str:
    with legacy_rnn.new_graph(seed) as graph:
        ids = v1.placeholder(tf.int32, [None, T], name="ids")
        length = v1.placeholder(tf.int32, [None], name="length")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        emb = v1.get_variable("embedding", [VOCAB, EMB])
        data = v1.nn.embedding_lookup(emb, ids)
        stack = legacy_rnn.multi_rnn_cell([legacy_rnn.basic_lstm_cell(6), legacy_rnn.lstm_cell(5, forget_bias=0.7)])
        out, _ = legacy_rnn.dynamic_rnn(stack, data, sequence_length=length, scope="lstm_stack")
        logits = v1.layers.dense(out[:, -1], 3, name="head")
        v1.losses.sparse_softmax_cross_entropy(labels, logits)

        x = v1.placeholder(tf.float32, [None, T, 3], name="x")
        x_len = v1.placeholder(tf.int32, [None], name="x_length")
        gru_out, _ = legacy_rnn.dynamic_rnn(legacy_rnn.gru_cell(5), x, sequence_length=x_len, scope="gru")
        legacy_rnn.dynamic_rnn(legacy_rnn.basic_rnn_cell(4, activation="relu"), gru_out, sequence_length=x_len,
                               scope="relu_rnn")
        fw = legacy_rnn.multi_rnn_cell([legacy_rnn.basic_lstm_cell(4, forget_bias=0.5), legacy_rnn.basic_lstm_cell(3)])
        bw = legacy_rnn.multi_rnn_cell([legacy_rnn.gru_cell(4), legacy_rnn.basic_rnn_cell(3)])
        legacy_rnn.bidirectional_dynamic_rnn(fw, bw, x, sequence_length=x_len, scope="bi")

        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        rng = np.random.default_rng(seed)
        for var in v1.global_variables():
            var.load(rng.uniform(-0.8, 0.8, var.shape.as_list()).astype(np.float32), sess)
        os.makedirs(directory, exist_ok=True)
        return v1.train.Saver().save(sess, os.path.join(str(directory), "model.ckpt"))
