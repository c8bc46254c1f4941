"""Issue 21, verify: a block is checked on the original graph also when the graph has a fixed batch (a CNN front end's
static placeholder) or sizes its zero state from another placeholder (``zero_state(tf.shape(ids)[0])``).

Real TF1 graphs saved by ``Saver``; the loop found by structure (:func:`migration.graph.blocks.find_loops`) is run by
:class:`OriginalGraph` with the fitted inputs and compared with a plain TF1 session of the same checkpoint.
Negative controls: without the fit the original graph refuses the batch; without the shape feeds it refuses to run
(a placeholder is unfed).
"""
from __future__ import annotations

import numpy as np
import pytest

from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST

T, D, U = 5, 3, 4


def _save(path, fixed_batch):
    import legacy_rnn

    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(2)
        cell = legacy_rnn.basic_rnn_cell(U)
        if fixed_batch:
            x = v1.placeholder(tf.float32, [2, T, D], name="x")
            out, _ = v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        else:
            ids = v1.placeholder(tf.int32, [None, T], name="ids")
            x = tf.nn.embedding_lookup(v1.get_variable("emb", [7, D]), ids)
            state = cell.zero_state(tf.shape(ids)[0], tf.float32)  # sized from the ids placeholder
            out, _ = v1.nn.dynamic_rnn(cell, x, initial_state=state)
        tf.identity(out, name="out")
        with v1.Session(graph=graph, config=FAST) as sess:
            sess.run(v1.global_variables_initializer())
            v1.train.Saver().save(sess, path)
    return path


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.blocks import find_loops
    from migration.graph.reference import OriginalGraph

    root = tmp_path_factory.mktemp("block_feeds")
    out = {}
    for name, fixed in (("fixed", True), ("sized", False)):
        prefix = _save(str(root / name / "model"), fixed)
        og = OriginalGraph(prefix + ".meta", CheckpointReader(prefix))
        loops = [loop for loop in find_loops(og) if not loop.problems]
        assert len(loops) == 1
        out[name] = (prefix, og, loops[0])
    return out


def _session(prefix, fetch, feeds):
    graph = tf.Graph()
    with graph.as_default():
        saver = v1.train.import_meta_graph(prefix + ".meta")
        with v1.Session(graph=graph, config=FAST) as sess:
            saver.restore(sess, prefix)
            return sess.run(fetch, feeds)


def test_a_fixed_batch_graph_gets_inputs_of_its_batch(graphs):
    from migration.core.errors import MigrationError
    from migration.graph.block_feeds import fit_static_sizes

    prefix, og, loop = graphs["fixed"]
    x = np.random.default_rng(0).normal(size=(4, T, D)).astype(np.float32)
    lengths = np.array([T, 1, 3, 2], np.int32)
    with pytest.raises(MigrationError):  # negative control: the graph's TensorList refuses a batch of 4
        og.run([loop.outputs], {loop.x: x})
    fx, fl = fit_static_sizes(og, loop.x, loop.time_major, x, lengths)
    assert fx.shape == (2, T, D) and list(fl) == [T, 1]
    got = og.run([loop.outputs], {loop.x: fx})[0]
    np.testing.assert_allclose(got, _session(prefix, "out:0", {"x:0": fx}), atol=1e-6)


def test_a_zero_state_sized_from_another_placeholder_gets_its_shape_fed(graphs):
    from migration.core.errors import MigrationError
    from migration.graph.block_feeds import shape_feeds

    prefix, og, loop = graphs["sized"]
    ids = np.random.default_rng(1).integers(0, 7, (3, T)).astype(np.int32)
    x = _session(prefix, loop.x if ":" in loop.x else loop.x + ":0", {"ids:0": ids})
    feeds = {loop.x: x}
    with pytest.raises(MigrationError, match="ids"):  # negative control: the placeholder is needed
        og.check([loop.outputs], list(feeds))
    extra = shape_feeds(og, [loop.outputs], feeds, x.shape[0], x.shape[1])
    assert extra and all(np.array_equal(v, [3, T]) for v in extra.values())
    got = og.run([loop.outputs], {**feeds, **extra})[0]
    np.testing.assert_allclose(got, _session(prefix, "out:0", {"ids:0": ids}), atol=1e-6)
    # a placeholder whose values are needed is never invented
    assert shape_feeds(og, ["out:0"], {}, 3, T) == {}
