"""A parameter-server-era TF1 program, run in its own process (``python tests/scale/ps_graphs.py OUT_DIR``).

The session sees 2 CPU devices (``ConfigProto(device_count={'CPU': 2})``, the graph-mode form of 2 logical CPUs; a
process of its own keeps the test process's TensorFlow untouched) and the graph is placed the way a PS job did:

* ``/cpu:0``: two partitioned embeddings over the same ids, ``words`` (``fixed_size_partitioner(3)``, looked up with
  ``partition_strategy='div'``) and ``tags`` (``min_max_variable_partitioner(3, 64 bytes)``, 3 parts, ``'mod'``),
  concatenated;
* ``/cpu:1``: ``dynamic_rnn(LSTMCell(4, forget_bias=0.5))`` under ``variable_scope('encoder',
  partitioner=fixed_size_partitioner(2))``: kernel and bias are partitioned variables;
* unplaced: the dense head, ``global_step`` and the leftovers of ``SyncReplicasOptimizer(Adam)`` +
  ``MonitoredTrainingSession``-style input pipelines (``sync_rep_local_step``, ``input_producer/limit_epochs/epochs``,
  whose Saver here keeps the local variables too).

``Saver(sharded=True)`` writes one ``.data`` file per device: 3 shards. Every variable is randomized (non-zero
biases, slots), then the ORIGINAL graph's outputs on ragged inputs are saved next to the checkpoint
(``ref.npz``: ids, lengths, logits, encoder outputs) as the tests' independent reference.

The sizes are the tests' tiny ones by default; ``benchmarks/bench_convert.py`` writes the same program scaled up
(``python tests/scale/ps_graphs.py OUT_DIR --vocab 200000 --dim-words 100 --dim-tags 25 --units 256``).
"""
from __future__ import annotations

import argparse
import json
import os

VOCAB, DIM_W, DIM_T, UNITS, CLASSES, B, T = 12, 5, 3, 4, 3, 4, 6


def main(out_dir: str, seed: int = 14, vocab: int = VOCAB, dim_w: int = DIM_W, dim_t: int = DIM_T,
         units: int = UNITS) -> None:
    import numpy as np

    import legacy_rnn  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
    from legacy_rnn import tf, v1

    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(seed)
        ids = v1.placeholder(tf.int32, [None, T], name="ids")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        with tf.device("/cpu:0"):
            words = v1.get_variable("words", [vocab, dim_w], partitioner=v1.fixed_size_partitioner(3))
            tags = v1.get_variable("tags", [vocab, dim_t], partitioner=v1.min_max_variable_partitioner(3, min_slice_size=48))
            x = tf.concat([v1.nn.embedding_lookup(words, ids, partition_strategy="div"),
                           v1.nn.embedding_lookup(tags, ids, partition_strategy="mod")], axis=2)
        with tf.device("/cpu:1"):
            with v1.variable_scope("encoder", partitioner=v1.fixed_size_partitioner(2)):
                cell = v1.nn.rnn_cell.LSTMCell(units, forget_bias=0.5)
                outputs, state = v1.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
        logits = v1.layers.dense(state.h, CLASSES, name="logits")
        loss = tf.reduce_mean(v1.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        step = v1.train.get_or_create_global_step()
        opt = v1.train.SyncReplicasOptimizer(v1.train.AdamOptimizer(0.01), replicas_to_aggregate=2,
                                             total_num_replicas=2)
        opt.minimize(loss, global_step=step)
        v1.train.limit_epochs(tf.constant([1, 2]), num_epochs=3, name="input_producer/limit_epochs")
        sess = v1.Session(graph=graph, config=v1.ConfigProto(device_count={"CPU": 2}, intra_op_parallelism_threads=1,
                                                             inter_op_parallelism_threads=1))
        sess.run([v1.global_variables_initializer(), v1.local_variables_initializer()])
        for var in v1.global_variables() + v1.local_variables():
            if var.dtype.base_dtype.is_floating:
                value = rng.normal(0.0, 0.5, var.shape.as_list()).astype(np.float32)
                if var.op.name.endswith(("beta1_power", "beta2_power", "Adam_1")):
                    value = np.abs(value) + 0.01
                var.load(value, sess)
            elif var.op.name.endswith(("global_step", "sync_rep_local_step")):
                var.load(7, sess)
        feed_ids = (np.arange(B * T).reshape(B, T) * 5 % vocab).astype(np.int32)  # every id in [0, 12)
        feed_len = np.array([T, 1, 3, 5], np.int32)
        got_logits, got_outputs = sess.run([logits, outputs], {ids: feed_ids, lengths: feed_len})
        saver = v1.train.Saver(v1.global_variables() + v1.local_variables(), sharded=True)
        os.makedirs(out_dir, exist_ok=True)
        prefix = saver.save(sess, os.path.join(out_dir, "model.ckpt"), global_step=7)
        np.savez(os.path.join(out_dir, "ref.npz"), ids=feed_ids, lengths=feed_len, logits=got_logits,
                 outputs=got_outputs)
        devices = sorted({v.device for v in v1.global_variables() + v1.local_variables()})
        print(json.dumps({"prefix": prefix, "devices": devices, "logits": logits.name,
                          "variables": sorted(v.op.name for v in v1.global_variables() + v1.local_variables())}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="write the parameter-server-era checkpoint into OUT_DIR")
    ap.add_argument("out_dir")
    ap.add_argument("--vocab", type=int, default=VOCAB)
    ap.add_argument("--dim-words", type=int, default=DIM_W)
    ap.add_argument("--dim-tags", type=int, default=DIM_T)
    ap.add_argument("--units", type=int, default=UNITS)
    a = ap.parse_args()
    main(a.out_dir, vocab=a.vocab, dim_w=a.dim_words, dim_t=a.dim_tags, units=a.units)
