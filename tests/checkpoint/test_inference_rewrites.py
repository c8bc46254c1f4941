"""Issue 21: the dropout bypass finds dropouts under any scope name and with a ``Shape`` TF folded into a ``Const``
(static batch), and inside a v1 ``tf.cond``; a ``tf.cond`` whose branches then pass the same tensor through is
folded (control flow v1 and v2), so ``is_training`` is no model input.

Each rewritten GraphDef is imported and run: the rewritten output equals ``x`` exactly (the inference value), the
original output does not. Negative controls: additive uniform noise, a scheduled-sampling ``select`` and a real
``tf.cond`` (different branches) are left alone.
"""
from __future__ import annotations

import numpy as np
import pytest

from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST

X = np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32) + 2.0


def _dropouts(graph):
    x = v1.placeholder(tf.float32, [4, 3], name="x")  # static shape: dropout's Shape is folded into a Const
    kp = v1.placeholder_with_default(0.5, [], name="kp")
    tf.identity(v1.nn.dropout(x, keep_prob=kp, name="h_drop") * 1.0, name="named")
    tf.identity(v1.nn.dropout(x, rate=0.5), name="static")
    xd = v1.placeholder(tf.float32, [None, 3], name="xd")
    tf.identity(v1.nn.dropout(xd, rate=0.3, name="drop_dyn"), name="dynamic")
    with tf.name_scope("noise"):  # negative control: not a dropout
        tf.identity(x + tf.random.uniform([4, 3]), name="noisy")
    with tf.name_scope("sampler"):  # negative control: scheduled sampling picks between two tensors
        tf.identity(tf.where(tf.random.uniform([4, 3]) < 0.5, x, -x), name="sampled")


def _conds_v2(graph):
    x = v1.placeholder(tf.float32, [4, 3], name="x")
    training = v1.placeholder_with_default(True, [], name="is_training")
    tf.identity(tf.cond(training, lambda: v1.nn.dropout(x, rate=0.5), lambda: x), name="cond_dropout")
    phase = tf.equal(tf.constant("train"), tf.constant("train"))
    tf.identity(tf.cond(phase, lambda: v1.nn.dropout(x, rate=0.5), lambda: tf.identity(x)), name="phase_dropout")
    tf.identity(tf.cond(training, lambda: x * 2.0, lambda: x), name="real_cond")  # negative control


def _build(make, v2_control_flow=True):
    graph = tf.Graph()
    if not v2_control_flow:
        v1.disable_control_flow_v2()
    try:
        with graph.as_default():
            make(graph)
            if not v2_control_flow:  # tf.layers.dropout(training=is_training): a v1 cond (Switch/Merge)
                x = graph.get_tensor_by_name("x:0")
                training = v1.placeholder_with_default(True, [], name="is_training")
                tf.identity(v1.layers.dropout(x, rate=0.5, training=training), name="layers_dropout")
                tf.identity(tf.cond(training, lambda: x * 2.0, lambda: x), name="real_cond")
    finally:
        v1.enable_control_flow_v2()
    return graph.as_graph_def()


def _run(graph_def, names, feeds):
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
        with v1.Session(graph=graph, config=FAST) as sess:
            return sess.run([f"{n}:0" for n in names], {f"{k}:0": v for k, v in feeds.items()})


@pytest.fixture(scope="module")
def rewritten():
    import copy

    from migration.graph.cond_rewrite import remove_pass_through_conds
    from migration.graph.rewrite import remove_dropout

    out = {}
    for name, make, v2 in (("dropouts", _dropouts, True), ("conds_v2", _conds_v2, True),
                           ("conds_v1", lambda g: v1.placeholder(tf.float32, [4, 3], name="x"), False)):
        original = _build(make, v2)
        graph_def = copy.deepcopy(original)
        done = remove_dropout(graph_def)
        done += remove_pass_through_conds(graph_def)
        out[name] = (original, graph_def, done)
    return out


def test_dropouts_under_any_name_and_with_a_folded_shape_are_bypassed(rewritten):
    original, graph_def, done = rewritten["dropouts"]
    assert {"h_drop", "dropout", "drop_dyn"} <= set(done)
    assert not any(s.startswith(("noise", "sampler")) for s in done)
    feeds = {"x": X, "xd": X}
    got = _run(graph_def, ["named", "static", "dynamic"], feeds)
    for value in got:
        np.testing.assert_array_equal(value, X)
    before = _run(original, ["named", "static", "dynamic"], feeds)
    assert all(np.any(b != X) for b in before)  # the saved graph drops units: the bypass changed something
    noisy, sampled = _run(graph_def, ["noise/noisy", "sampler/sampled"], feeds)
    assert np.any(noisy != X) and np.any(sampled != X)  # negative controls still random


def test_a_cond_around_dropout_folds_and_a_real_cond_stays_v2(rewritten):
    original, graph_def, done = rewritten["conds_v2"]
    assert any("cond" in d for d in done)
    got = _run(graph_def, ["cond_dropout", "phase_dropout", "real_cond"], {"x": X})
    np.testing.assert_array_equal(got[0], X)
    np.testing.assert_array_equal(got[1], X)
    np.testing.assert_array_equal(got[2], 2 * X)  # is_training still decides the real cond
    nodes = {n.name: n for n in graph_def.node}
    name = "cond_dropout"
    while nodes[name].op == "Identity":  # cond_v2 wraps the If's outputs in Identity nodes
        name = nodes[name].input[0].split(":")[0]
    assert name == "x"  # the predicate is no longer on the output's path


def test_a_cond_around_dropout_folds_and_a_real_cond_stays_v1(rewritten):
    original, graph_def, done = rewritten["conds_v1"]
    assert any(d.startswith("cond ") for d in done)
    assert {n.op for n in original.node} >= {"Switch", "Merge"}
    layers, real = _run(graph_def, ["layers_dropout", "real_cond"], {"x": X})
    np.testing.assert_array_equal(layers, X)
    np.testing.assert_array_equal(real, 2 * X)
    before = _run(original, ["layers_dropout"], {"x": X})[0]
    assert np.any(before != X)
