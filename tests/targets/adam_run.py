"""The TF1 side of the Keras 3 resume tests: a real graph trained with ``tf.compat.v1.train.AdamOptimizer``
(beta1 0.8, beta2 0.99, a global step) for 3 steps on ragged sequences, saved (Saver, .meta), then one more step whose
weights the Keras 3 step must reach. Shared by ``test_keras3_resume.py`` (standard layers) and
``test_keras3_resume_custom.py`` (custom-step families); each passes its own model body and seeds."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

import legacy_rnn
from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import load_values

B, T, D, CLASSES, LR = 4, 5, 3, 3, 0.05
LENGTHS = np.array([5, 2, 4, 1], np.int32)


def batches(seed: int, n: int = 4) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.normal(0, 1, (B, T, D)).astype(np.float32), rng.integers(0, CLASSES, B).astype(np.int32))
            for _ in range(n)]


def adam_checkpoint(root: Path, logits_of: Callable, *, graph_seed: int, batch_seed: int,
                    weight_seed: int) -> tuple[str, dict, tuple]:
    """(checkpoint prefix after 3 steps, TF1 weights after the 4th step by name, the 4th batch).

    ``logits_of(x, length)`` builds the model body in the graph and returns its logits; every trainable variable is
    then set to asymmetric, non-zero values (``weight_seed``)."""
    data = batches(batch_seed)
    with legacy_rnn.new_graph(graph_seed) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        length = v1.placeholder(tf.int32, [None], name="length")
        y = v1.placeholder(tf.int32, [None], name="y")
        logits = logits_of(x, length)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        step = v1.train.get_or_create_global_step()
        train = v1.train.AdamOptimizer(LR, beta1=0.8, beta2=0.99).minimize(loss, global_step=step)
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        rng = np.random.default_rng(weight_seed)
        # asymmetric, non-zero everywhere (layer-norm gains and shifts too)
        load_values(sess, [(var, rng.uniform(-0.8, 0.8, var.shape.as_list()).astype(np.float32))
                           for var in v1.trainable_variables()])
        for xb, yb in data[:3]:
            sess.run(train, {x: xb, length: LENGTHS, y: yb})
        prefix = v1.train.Saver().save(sess, str(Path(root) / "ckpt" / "model.ckpt"))
        sess.run(train, {x: data[3][0], length: LENGTHS, y: data[3][1]})
        final = {v.op.name: sess.run(v) for v in v1.trainable_variables()}
        sess.close()
    return prefix, final, data[3]
