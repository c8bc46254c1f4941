"""One real TF1 program holding every tf.contrib cell family that ``rnn-migrate convert`` handles, for the CLI tests.

``build_families(directory)`` writes a ``tf.compat.v1.train.Saver`` checkpoint (with its ``.meta``) of a graph with
seven blocks on one input ``x [B, T, D]`` with ragged ``lengths`` (a placeholder), each block's last relevant output
concatenated into a dense softmax head whose logits a cross-entropy loss consumes (so the whole model has a
definite output):

* ``lstmblock``: ``LSTMBlockCell(5, forget_bias=0.5, cell_clip=0.4, use_peephole=True)`` (op attributes);
* ``fused``: ``LSTMBlockFusedCell(4, forget_bias=0.0)``, time-major, one ``BlockLSTM`` op (no while loop);
* ``grublock``: ``MultiRNNCell([GRUBlockCell(4), GRUBlockCell(3)])`` (v1 names ``w_ru``/``b_ru``/``w_c``/``b_c``);
* ``grublockv2``: ``bidirectional_dynamic_rnn`` of two ``GRUBlockCellV2(4)``;
* ``layernorm``: ``LayerNormBasicLSTMCell(4, forget_bias=0.5)`` (forget_bias a Python-level add in the graph);
* ``cudnnlstm`` / ``cudnngru``: ``CudnnCompatibleLSTMCell(4)`` / ``CudnnCompatibleGRUCell(3)``.

Every variable is randomised (biases and slots included). The recorded reference is the ORIGINAL graph's
logits and per-block outputs, fed ``x`` and ``lengths``.
"""
from __future__ import annotations

import numpy as np

import legacy_rnn
from legacy_rnn import tf, v1
from ground_truth_graphs import (  # noqa: F401 - the tests import them from here
    record, reference, run_original_program, run_original_program_on,
)
from tests.checkpoint.tf1_values import FAST

B, T, D, CLASSES = 4, 6, 3, 3
LENGTHS = np.array([6, 1, 4, 3], np.int32)
#: What the program used (the checkpoint does not store it): the .meta is where convert must find it.
HYPER = {"lstmblock": {"forget_bias": 0.5, "cell_clip": 0.4}, "fused": {"forget_bias": 0.0},
         "layernorm": {"forget_bias": 0.5}, "cudnnlstm": {"forget_bias": 0.0}}


def _last(outputs, lengths):
    """The output at ``length - 1`` of every sequence (batch-major ``outputs``)."""
    index = tf.stack([tf.range(tf.shape(outputs)[0]), lengths - 1], 1)
    return tf.gather_nd(outputs, index)


def build_families(directory, seed: int = 7) -> str:
    rng = np.random.default_rng(seed)
    x_np = rng.normal(0, 1, (B, T, D)).astype(np.float32)
    with legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        outs = {}
        with v1.variable_scope("lstmblock"):
            cell = legacy_rnn.lstm_block_cell(5, forget_bias=0.5, cell_clip=0.4, use_peephole=True)
            outs["lstmblock"] = legacy_rnn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)[0]
        with v1.variable_scope("fused"):
            cell = legacy_rnn.lstm_block_fused_cell(4, forget_bias=0.0)
            h, _ = cell(tf.transpose(x, [1, 0, 2]), dtype=tf.float32, sequence_length=lengths)
            outs["fused"] = tf.transpose(h, [1, 0, 2])
        with v1.variable_scope("grublock"):
            cell = legacy_rnn.multi_rnn_cell([legacy_rnn.gru_block_cell(4), legacy_rnn.gru_block_cell(3)])
            outs["grublock"] = legacy_rnn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)[0]
        with v1.variable_scope("grublockv2"):
            (fw, bw), _ = legacy_rnn.bidirectional_dynamic_rnn(
                legacy_rnn.gru_block_cell_v2(4), legacy_rnn.gru_block_cell_v2(4), x, sequence_length=lengths,
                dtype=tf.float32)
            outs["grublockv2"] = tf.concat([fw, bw], -1)
        with v1.variable_scope("layernorm"):
            cell = legacy_rnn.layer_norm_basic_lstm_cell(4, forget_bias=0.5)
            outs["layernorm"] = legacy_rnn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)[0]
        with v1.variable_scope("cudnnlstm"):
            cell = legacy_rnn.cudnn_compatible_lstm_cell(4)
            outs["cudnnlstm"] = legacy_rnn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)[0]
        with v1.variable_scope("cudnngru"):
            cell = legacy_rnn.cudnn_compatible_gru_cell(3)
            outs["cudnngru"] = legacy_rnn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)[0]
        features = tf.concat([_last(outs[k], lengths) for k in sorted(outs)], -1)
        logits = v1.layers.dense(features, CLASSES, name="head")
        tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits), name="loss")
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            from conftest import randomize

            randomize(sess, seed)
            return record(sess, directory, {"logits": logits, **outs}, {x: x_np, lengths: LENGTHS},
                          {"x": x_np, "lengths": LENGTHS})
