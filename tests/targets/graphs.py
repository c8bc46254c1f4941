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
from tests.checkpoint.tf1_values import load_values

T, VOCAB, EMB = 6, 20, 5


def build(directory, seed: int = 24) -> str:
    with legacy_rnn.new_graph(seed) as graph:
        ids = v1.placeholder(tf.int32, [None, T], name="ids")
        length = v1.placeholder(tf.int32, [None], name="length")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        emb = v1.get_variable("embedding", [VOCAB, EMB])
        data = v1.nn.embedding_lookup(emb, ids)
        stack = legacy_rnn.multi_rnn_cell([legacy_rnn.basic_lstm_cell(6), legacy_rnn.lstm_cell(5, forget_bias=0.7)])
        out, stack_state = legacy_rnn.dynamic_rnn(stack, data, sequence_length=length, scope="lstm_stack")
        logits = v1.layers.dense(out[:, -1], 3, name="head")
        v1.losses.sparse_softmax_cross_entropy(labels, logits)

        x = v1.placeholder(tf.float32, [None, T, 3], name="x")
        x_len = v1.placeholder(tf.int32, [None], name="x_length")
        gru = legacy_rnn.dynamic_rnn(legacy_rnn.gru_cell(5), x, sequence_length=x_len, scope="gru")
        relu = legacy_rnn.dynamic_rnn(legacy_rnn.basic_rnn_cell(4, activation="relu"), gru[0], sequence_length=x_len,
                                      scope="relu_rnn")
        fw = legacy_rnn.multi_rnn_cell([legacy_rnn.basic_lstm_cell(4, forget_bias=0.5), legacy_rnn.basic_lstm_cell(3)])
        bw = legacy_rnn.multi_rnn_cell([legacy_rnn.gru_cell(4), legacy_rnn.basic_rnn_cell(3)])
        bi = legacy_rnn.bidirectional_dynamic_rnn(fw, bw, x, sequence_length=x_len, scope="bi")

        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        rng = np.random.default_rng(seed)
        load_values(sess, [(var, rng.uniform(-0.8, 0.8, var.shape.as_list()).astype(np.float32))
                           for var in v1.global_variables()])
        os.makedirs(directory, exist_ok=True)
        _record(sess, directory, seed, ids, length, x, x_len, data, (out, stack_state), gru, relu, bi)
        whole_ids = np.random.default_rng(seed + 2).integers(0, VOCAB, (5, T)).astype(np.int32)
        full = np.full(5, T, np.int32)  # the head reads out[:, -1]: full lengths, so it sees the LSTM's outputs
        np.savez(os.path.join(str(directory), "ref_whole.npz"), ids=whole_ids, length=full,
                 logits=sess.run(logits, {ids: whole_ids, length: full}))
        return v1.train.Saver().save(sess, os.path.join(str(directory), "model.ckpt"))


def _record(sess, directory, seed, ids, length, x, x_len, data, stack, gru, relu, bi) -> None:
    """The original session's block inputs and flat outputs (dropout-free, ragged lengths) on fresh inputs, kept
    as ``ref_<block>.npz`` (x, lengths, out0, out1, ...): the tests' reference, independent of rnn-migrate's own
    graph runner."""
    rng = np.random.default_rng(seed + 1)
    batch = 5
    lengths = np.array([T, 1, 3, 5, 2], np.int32)
    feed = {ids: rng.integers(0, VOCAB, (batch, T)).astype(np.int32), length: lengths,
            x: rng.normal(0, 1, (batch, T, 3)).astype(np.float32), x_len: lengths}
    fetches = {"lstm_stack": (data, tf.nest.flatten(stack)), "gru": (x, tf.nest.flatten(gru)),
               "relu_rnn": (gru[0], tf.nest.flatten(relu)), "bi": (x, tf.nest.flatten(bi))}
    values = sess.run(fetches, feed)
    for name, (inp, outs) in values.items():
        np.savez(os.path.join(str(directory), f"ref_{name}.npz"), x=inp, lengths=lengths,
                 **{f"out{k}": o for k, o in enumerate(outs)})


def load_ref(directory, name: str) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    with np.load(os.path.join(str(directory), f"ref_{name}.npz"), allow_pickle=False) as data:
        outs = [data[f"out{k}"] for k in range(len(data.files) - 2)]
        return data["x"], data["lengths"], outs
