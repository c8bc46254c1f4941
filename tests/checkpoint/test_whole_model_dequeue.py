"""Issue 21, "Inputs cut at dequeue": a graph fed by a ``FIFOQueue`` (``dequeue_many``), ``tf.train.batch`` over a
``slice_input_producer`` (``dequeue_up_to``, run by QueueRunners) or a ``tf.data`` iterator
(``IteratorGetNext``) gives a whole model whose inputs are the dequeued feature tensors (the dequeued labels are
not inputs); the queue itself never runs in the sandbox (it is not on the allowlist: the dequeue is replaced by
placeholders) and the model is verified against the original graph.

Negative control: the same graph with the dequeue not cut is refused by the sandbox, naming the dequeue op.
"""
from __future__ import annotations

import numpy as np
import pytest

from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST

T, V, C, N = 5, 9, 3, 8


def _model(ids, y):
    import legacy_rnn

    emb = v1.get_variable("emb", [V, 4])
    out, _ = v1.nn.dynamic_rnn(legacy_rnn.basic_rnn_cell(6), tf.nn.embedding_lookup(emb, ids), dtype=tf.float32)
    logits = tf.identity(v1.layers.dense(out[:, -1], C, name="head"), name="logits")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    return v1.train.GradientDescentOptimizer(0.5).minimize(loss)


def _save(path, kind):
    rng = np.random.default_rng(4)
    data = rng.integers(0, V, (N, T)).astype(np.int32), rng.integers(0, C, N).astype(np.int32)
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(3)
        if kind == "queue":
            queue = v1.FIFOQueue(2 * N, [tf.int32, tf.int32], shapes=[[T], []])
            enqueue = queue.enqueue_many([tf.constant(data[0]), tf.constant(data[1])])
            ids, y = queue.dequeue_many(4)
        elif kind == "batch":  # tf.train.batch over a slice_input_producer: QueueRunners, a smaller last batch
            row = v1.train.slice_input_producer([tf.constant(data[0]), tf.constant(data[1])], shuffle=False)
            ids, y = v1.train.batch(row, 4, allow_smaller_final_batch=True)
            enqueue = None
        else:
            dataset = tf.data.Dataset.from_tensor_slices(data).batch(4).repeat()
            ids, y = v1.data.make_one_shot_iterator(dataset).get_next()
            enqueue = None
        train = _model(ids, y)
        with v1.Session(graph=graph, config=FAST) as sess:
            sess.run(v1.global_variables_initializer())
            if enqueue is not None:
                sess.run(enqueue)
            coord = v1.train.Coordinator()
            threads = v1.train.start_queue_runners(sess, coord)
            sess.run(train)
            coord.request_stop()
            coord.join(threads)
            v1.train.Saver().save(sess, path)
    return path


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from migration.checkpoint.convert import convert_checkpoint

    root = tmp_path_factory.mktemp("dequeue")
    out = {}
    for kind in ("queue", "batch", "dataset"):
        prefix = _save(str(root / kind / "model"), kind)
        out[kind] = (prefix, convert_checkpoint(prefix, str(root / f"out_{kind}")))
    return out


@pytest.mark.parametrize("kind, op", [("queue", "QueueDequeueManyV2"), ("batch", "QueueDequeueUpToV2"),
                                      ("dataset", "IteratorGetNext")])
def test_a_dequeue_fed_graph_gives_the_whole_model_from_the_dequeued_features(converted, kind, op):
    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.reference import OriginalGraph

    prefix, result = converted[kind]
    assert result.ok and result.manifest["model"], result.manifest["notes"]
    model = result.manifest["model"]
    og = OriginalGraph(prefix + ".meta", CheckpointReader(prefix))
    assert len(model["inputs"]) == 1 and model["inputs"][0].endswith(":0")
    assert og.index.node(model["inputs"][0].split(":")[0]).op == op  # the features; the labels (:1) are no input
    assert model["outputs"] == ["logits:0"]
    checks = [c for c in result.verification["checks"] if c["what"] == "whole model"]
    assert checks and all(c["reference"] == "original-graph" and c["max_abs_diff"] <= 1e-5 for c in checks)
    # negative control: without cutting at the dequeue the original graph is refused, naming the dequeue
    from migration.graph.sandbox import SandboxRefusal

    with pytest.raises(SandboxRefusal, match=op):
        og.check(["logits:0"], [])
