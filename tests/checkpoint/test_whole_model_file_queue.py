"""Issue 21, "Inputs cut at dequeue", the file-reading form: ``tf.train.string_input_producer`` over real files, a
reader (``TextLineReader`` + ``decode_csv`` over two CSV shards; ``TFRecordReader`` + ``parse_single_example`` over a
TFRecord file of ``tf.train.Example``), then ``tf.train.batch`` / ``tf.train.shuffle_batch`` feeding an embedding,
a ``dynamic_rnn`` and a dense head; trained two steps by QueueRunners and saved by a ``Saver`` with its ``.meta``.

One default ``rnn-migrate convert`` each (exit 0): the whole model's only input is the batch queue's dequeued
features (the labels and the reader/producer ops before it are no input); the model, run on the ids the session
dequeued, equals the logits the session computed from that same batch through the queue (1e-5). Negative controls:
the graph not cut at the dequeue is refused by the sandbox naming the dequeue op, and the model on another batch
of the same files does not reproduce those logits.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST

T, V, C, N = 5, 9, 3, 12


def _write_files(root: str, kind: str, ids: np.ndarray, labels: np.ndarray) -> list[str]:
    if kind == "text":
        paths = [os.path.join(root, f"part-{k}.csv") for k in range(2)]
        for k, path in enumerate(paths):
            with open(path, "w", encoding="utf-8") as f:
                for i in range(k * N // 2, (k + 1) * N // 2):
                    f.write(",".join(str(v) for v in ids[i]) + f",{labels[i]}\n")
        return paths
    path = os.path.join(root, "train.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for i in range(N):
            feature = {"ids": tf.train.Feature(int64_list=tf.train.Int64List(value=ids[i])),
                       "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[labels[i]]))}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return [path]


def _example(files: list[str], kind: str):
    queue = v1.train.string_input_producer(files, shuffle=False)
    if kind == "text":
        _, line = v1.TextLineReader().read(queue)
        columns = v1.decode_csv(line, [[0]] * (T + 1))
        return tf.stack(columns[:T]), columns[T]
    _, record = v1.TFRecordReader().read(queue)
    parsed = v1.parse_single_example(record, {"ids": v1.FixedLenFeature([T], tf.int64),
                                              "label": v1.FixedLenFeature([], tf.int64)})
    return tf.cast(parsed["ids"], tf.int32), tf.cast(parsed["label"], tf.int32)


def _train_and_save(root: str, kind: str) -> dict:
    import legacy_rnn

    rng = np.random.default_rng(4)
    files = _write_files(root, kind, rng.integers(0, V, (N, T)), rng.integers(0, C, N))
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(3)
        ids, label = _example(files, kind)
        if kind == "text":
            batch_ids, batch_y = v1.train.batch([ids, label], 4)
        else:
            batch_ids, batch_y = v1.train.shuffle_batch([ids, label], 4, capacity=20, min_after_dequeue=5, seed=1)
        emb = v1.get_variable("emb", [V, 4])
        out, _ = v1.nn.dynamic_rnn(legacy_rnn.basic_lstm_cell(6, forget_bias=0.5),
                                   tf.nn.embedding_lookup(emb, batch_ids), dtype=tf.float32)
        logits = tf.identity(v1.layers.dense(out[:, -1], C, name="head"), name="logits")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=batch_y, logits=logits))
        train = v1.train.GradientDescentOptimizer(0.5).minimize(loss)
        with v1.Session(graph=graph, config=FAST) as sess:
            sess.run([v1.global_variables_initializer(), v1.local_variables_initializer()])
            coord = v1.train.Coordinator()
            threads = v1.train.start_queue_runners(sess, coord)
            sess.run([train, train])
            batches = [sess.run([batch_ids, logits]) for _ in range(2)]  # one dequeue each: ids and their logits
            coord.request_stop()
            coord.join(threads)
            prefix = v1.train.Saver().save(sess, os.path.join(root, "model"))
    return {"prefix": prefix, "batches": batches, "dequeue": batch_ids.op.name}


@pytest.fixture(scope="module", params=["text", "tfrecord"])
def converted(request, tmp_path_factory):
    from migration.cli import main

    root = tmp_path_factory.mktemp(f"file_queue_{request.param}")
    graph = _train_and_save(str(root), request.param)
    # --target onnx: the target blocks are checked at the graph's fixed batch steps too (T, not verify's default 6)
    code = main(["convert", graph["prefix"], str(root / "out"), "--quiet", "--target", "onnx"])
    graph.update(kind=request.param, code=code, out=str(root / "out"))
    return graph


def test_a_file_queue_graph_gives_the_whole_model_from_the_dequeued_ids(converted):
    from migration.checkpoint.manifest import read_manifest
    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.reference import OriginalGraph
    from migration.graph.sandbox import SandboxRefusal
    from modern_rnn import keras

    assert converted["code"] == 0
    manifest = read_manifest(converted["out"])
    model_entry = manifest["model"]
    og = OriginalGraph(converted["prefix"] + ".meta", CheckpointReader(converted["prefix"]))
    (name,) = model_entry["inputs"]
    op = og.index.node(name.split(":")[0]).op
    assert name == converted["dequeue"] + ":0" and op in ("QueueDequeueUpToV2", "QueueDequeueManyV2")
    assert model_entry["outputs"] == ["logits:0"]
    checks = [c for c in manifest["verification"]["checks"] if c["what"] == "whole model"]
    assert checks and all(c["reference"] == "original-graph" and c["max_abs_diff"] <= 1e-5 for c in checks)
    model = keras.models.load_model(os.path.join(converted["out"], "model.keras"), compile=False, safe_mode=True)
    (ids, want), (other_ids, _) = converted["batches"]
    assert not np.array_equal(ids, other_ids) and np.abs(want).max() > 0.1
    np.testing.assert_allclose(np.asarray(model(ids)), want, atol=1e-5)
    # negative controls: another batch of the same files does not give these logits; the uncut graph is refused
    assert np.abs(np.asarray(model(other_ids)) - want).max() > 1e-3
    with pytest.raises(SandboxRefusal, match=op):
        og.check(["logits:0"], [])


def test_the_target_block_is_checked_at_the_queues_fixed_steps(converted):
    """The batch queue fixes the block's time steps (T = 5): the ONNX block file is checked against the original
    graph on inputs of T steps, as the Keras 2 block is (fed 6 steps, the graph still ran 5: the check compared
    [4, 5, U] with [4, 6, U] and failed the conversion, exit 1, nothing written)."""
    from migration.checkpoint.manifest import read_manifest

    assert converted["code"] == 0
    verification = read_manifest(converted["out"])["targets"]["onnx"]["verification"]
    block = [c for c in verification["checks"] if c["what"].startswith("block ")]
    assert verification["ok"] and block, verification
    outputs = [c for c in block if c["output"] == "outputs"]
    assert outputs and all(c["shape"][1] == T and c["reference"] == "original-graph" for c in outputs), outputs
