"""``legacy_rnn.new_graph(seed)`` gives the same initial weights whatever ran before in the process.

tf.compat.v1's RNN cells are tf_keras' legacy cells: their unseeded initializers draw op seeds from Python's
``random``, or, once anything called ``tf_keras.utils.set_random_seed``, from tf_keras' own per-thread generator. The
demo's TF1 loss changed with the tests that ran before it in the same process (0.772 vs 0.809) until ``new_graph``
reseeded that generator too.
"""
from __future__ import annotations

import random

import numpy as np
import tf_keras
from tf_keras.src import backend

import legacy_rnn
from legacy_rnn import tf, v1


def _initial_weights(graph_factory) -> list[np.ndarray]:
    with graph_factory() as graph:
        x = v1.placeholder(tf.float32, [2, 3, 4])
        cell = v1.nn.rnn_cell.BasicLSTMCell(5)
        v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        dense = v1.layers.Dense(2)
        dense(x)
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            return sess.run(v1.global_variables())


def _without_keras_generator():
    had = getattr(backend._SEED_GENERATOR, "generator", None)
    backend._SEED_GENERATOR.generator = None
    return had


def test_the_same_seed_gives_the_same_weights_after_tf_keras_set_random_seed():
    had = _without_keras_generator()
    try:
        fresh = _initial_weights(lambda: legacy_rnn.new_graph(3))
        tf_keras.utils.set_random_seed(1234)  # what an earlier test, notebook cell or library may have done
        random.random()  # and some draws since
        backend._SEED_GENERATOR.generator.random()
        after = _initial_weights(lambda: legacy_rnn.new_graph(3))
        assert len(fresh) == len(after) == 4
        for a, b in zip(fresh, after):
            np.testing.assert_array_equal(a, b)

        # negative control: the same graph seed and Python seed WITHOUT reseeding tf_keras' generator differ
        def plain():
            graph = tf.Graph()
            ctx = graph.as_default()

            class _Ctx:
                def __enter__(self):
                    ctx.__enter__()
                    random.seed(3)
                    v1.set_random_seed(3)
                    return graph

                def __exit__(self, *exc):
                    return ctx.__exit__(*exc)
            return _Ctx()

        backend._SEED_GENERATOR.generator.random()
        other = _initial_weights(plain)
        assert max(float(np.max(np.abs(a - b))) for a, b in zip(fresh, other)) > 1e-3
    finally:
        backend._SEED_GENERATOR.generator = had
