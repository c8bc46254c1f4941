"""Issue 21, "Whole model by default": the default outputs are the predictions the training loss consumes, whatever
the loss; inference graphs give the logits under softmax/argmax; summaries, optimizer and saver ops never.

Each graph is real TF1 graph code with an optimizer (its ``gradients`` scope is how the loss is found) and a name
``pred`` on the tensor a user calls the prediction; the selection is read from the graph alone
(:func:`migration.graph.model_outputs.loss_predictions`). Negative controls: label placeholders never become model
inputs, an L2 regularizer and summaries are never outputs, a graph without a loss falls back to its terminals.
"""
from __future__ import annotations

import numpy as np
import pytest

from legacy_rnn import tf, v1

B, T, D, C = 3, 5, 4, 6


def _dense(x, n, name):
    w = v1.get_variable(name + "/w", [x.shape[-1], n])
    b = v1.get_variable(name + "/b", [n], initializer=v1.random_normal_initializer(0.0, 0.1))
    return v1.nn.xw_plus_b(x, w, b)


def _train(loss):
    with tf.name_scope("train"):
        return v1.train.GradientDescentOptimizer(0.1).minimize(loss)


def _softmax(g):
    x = v1.placeholder(tf.float32, [None, D], name="x")
    y = v1.placeholder(tf.int32, [None], name="y")
    pred = tf.identity(_dense(x, C, "out"), name="pred")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=pred))
    v1.summary.scalar("loss", loss)
    reg = 1e-3 * tf.nn.l2_loss(v1.trainable_variables()[0])  # negative control: depends on weights only
    _train(loss + reg)


def _dense_xent(g):
    x = v1.placeholder(tf.float32, [None, D], name="x")
    y = v1.placeholder(tf.float32, [None, C], name="y")
    pred = tf.identity(_dense(tf.tanh(_dense(x, 5, "h")), C, "out"), name="pred")
    _train(tf.reduce_mean(v1.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=pred)))


def _sigmoid(g):
    x = v1.placeholder(tf.float32, [None, D], name="x")
    y = v1.placeholder(tf.float32, [None, 2], name="y")
    pred = tf.identity(_dense(x, 2, "out"), name="pred")
    _train(v1.losses.sigmoid_cross_entropy(y, pred))


def _mse(g):
    x = v1.placeholder(tf.float32, [None, D], name="x")
    y = v1.placeholder(tf.float32, [None, 1], name="target")
    pred = tf.identity(_dense(x, 1, "out"), name="pred")
    _train(v1.losses.mean_squared_error(y, pred) + v1.losses.absolute_difference(y, pred))


def _cosine(g):
    x = v1.placeholder(tf.float32, [None, D], name="x")
    y = v1.placeholder(tf.float32, [None, 3], name="y")
    pred = tf.identity(_dense(x, 3, "out"), name="pred")
    _train(v1.losses.cosine_distance(tf.nn.l2_normalize(y, 1), tf.nn.l2_normalize(pred, 1), axis=1))


def _sequence(g):
    import legacy_rnn
    from legacy_rnn.seq2seq import sequence_loss

    ids = v1.placeholder(tf.int32, [None, T], name="ids")
    lengths = v1.placeholder(tf.int32, [None], name="lengths")
    targets = v1.placeholder(tf.int32, [None, T], name="targets")
    emb = v1.get_variable("emb", [11, D])
    out, _ = v1.nn.dynamic_rnn(legacy_rnn.basic_rnn_cell(4), tf.nn.embedding_lookup(emb, ids),
                               sequence_length=lengths, dtype=tf.float32)
    flat = _dense(tf.reshape(out, [-1, 4]), C, "softmax")  # xw_plus_b, then reshaped for the loss
    pred = tf.identity(flat, name="pred")
    mask = tf.sequence_mask(lengths, T, dtype=tf.float32)
    _train(sequence_loss(tf.reshape(pred, [-1, T, C]), targets, mask))


def _ctc(g):
    x = v1.placeholder(tf.float32, [None, T, D], name="x")
    labels = v1.sparse_placeholder(tf.int32, name="labels")
    logits = _dense(tf.reshape(x, [-1, D]), C, "out")
    pred = tf.transpose(tf.reshape(logits, [-1, T, C]), [1, 0, 2], name="pred")  # time-major, as ctc_loss wants
    _train(tf.reduce_mean(v1.nn.ctc_loss(labels, pred, tf.fill([tf.shape(x)[0]], T))))


def _crf(g):
    from legacy_rnn.crf import crf_log_likelihood

    x = v1.placeholder(tf.float32, [None, T, D], name="x")
    tags = v1.placeholder(tf.int32, [None, T], name="tags")
    lengths = v1.placeholder(tf.int32, [None], name="lengths")
    pred = tf.reshape(_dense(tf.reshape(x, [-1, D]), C, "proj"), [-1, T, C], name="pred")
    ll, _ = crf_log_likelihood(pred, tags, lengths)
    _train(-tf.reduce_mean(ll))


def _contrastive(g):
    a = v1.placeholder(tf.float32, [None, D], name="a")
    b = v1.placeholder(tf.float32, [None, D], name="b")
    y = v1.placeholder(tf.float32, [None], name="y")
    with v1.variable_scope("tower"):
        ha = _dense(a, 3, "t")
    with v1.variable_scope("tower", reuse=True):
        hb = _dense(b, 3, "t")
    d = tf.sqrt(tf.reduce_sum(tf.square(ha - hb), 1, keepdims=True)) / (tf.norm(ha, axis=1, keepdims=True) + 1.0)
    pred = tf.reshape(d, [-1], name="pred")
    loss = tf.reduce_sum(y * tf.square(pred) + (1 - y) * tf.square(tf.maximum(1 - pred, 0))) / 2
    _ = tf.reduce_mean(tf.cast(tf.equal(1 - tf.round(pred), y), tf.float32), name="accuracy")
    _train(loss)


def _mixture(g):
    """A mixture-density head: one Dense output split into the parameters the likelihood reads."""
    x = v1.placeholder(tf.float32, [None, D], name="x")
    target = v1.placeholder(tf.float32, [None, 3], name="target")
    pred = tf.identity(_dense(x, 1 + 6 * 2, "out"), name="pred")
    eos, rest = pred[:, :1], pred[:, 1:]
    pi, mu1, mu2, s1, s2, corr = tf.split(rest, 6, 1)
    pi = tf.nn.softmax(pi)
    s1, s2, corr, eos = tf.exp(s1), tf.exp(s2), tf.tanh(corr), tf.sigmoid(eos)
    t1, t2, te = tf.split(target, 3, 1)
    z = tf.square((t1 - mu1) / s1) + tf.square((t2 - mu2) / s2) - 2 * corr * (t1 - mu1) * (t2 - mu2) / (s1 * s2)
    dens = tf.exp(-z / (2 * (1 - tf.square(corr)))) / (s1 * s2 * tf.sqrt(1 - tf.square(corr)))
    nll = -tf.math.log(tf.reduce_sum(pi * dens, 1, keepdims=True) + 1e-6)
    nll += -tf.math.log(te * eos + (1 - te) * (1 - eos) + 1e-6)
    _train(tf.reduce_mean(nll))


def _sampled(g):
    x = v1.placeholder(tf.float32, [None, D], name="x")
    y = v1.placeholder(tf.int64, [None, 1], name="y")
    pred = tf.identity(tf.tanh(_dense(x, 5, "h")), name="pred")
    w = v1.get_variable("softmax_w", [20, 5])
    b = v1.get_variable("softmax_b", [20])
    _train(tf.reduce_mean(tf.nn.sampled_softmax_loss(w, b, y, pred, 4, 20)))


CASES = {"softmax": (_softmax, {"x"}), "dense_xent": (_dense_xent, {"x"}), "sigmoid": (_sigmoid, {"x"}),
         "mse_mae": (_mse, {"x"}), "cosine": (_cosine, {"x"}), "sequence_loss": (_sequence, {"ids", "lengths"}),
         "ctc": (_ctc, {"x"}), "crf": (_crf, {"x", "lengths"}), "contrastive": (_contrastive, {"a", "b"}),
         "mixture": (_mixture, {"x"}), "sampled_softmax": (_sampled, {"x"})}



def _head_loss(loss, labels_dim=C, labels_dtype=tf.float32):
    """A Dense head ``pred`` on ``x`` trained by ``loss(labels, pred)``: more spellings of the same loss kinds."""
    def build(g):
        x = v1.placeholder(tf.float32, [None, D], name="x")
        y = v1.placeholder(labels_dtype, [None] if labels_dim is None else [None, labels_dim], name="y")
        pred = tf.identity(_dense(x, C, "out"), name="pred")
        _train(loss(y, pred))
    return build


CASES.update({name: (_head_loss(*spec), {"x"}) for name, spec in {
    "nn_sigmoid_xent": (lambda y, p: tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=p)),),
    "nn_weighted_xent": (lambda y, p: tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(y, p, 2.0)),),
    "losses_softmax_xent": (lambda y, p: v1.losses.softmax_cross_entropy(y, p),),
    "losses_sparse_xent": (lambda y, p: v1.losses.sparse_softmax_cross_entropy(y, p), None, tf.int32),
    "handwritten_xent": (lambda y, p: -tf.reduce_mean(tf.reduce_sum(y * tf.math.log(tf.nn.softmax(p) + 1e-9), 1)),),
    "log_loss_of_sigmoid": (lambda y, p: v1.losses.log_loss(y, tf.sigmoid(p)),),
    "huber": (lambda y, p: v1.losses.huber_loss(y, p),),
    "handwritten_mse": (lambda y, p: tf.reduce_mean(tf.square(p - y)),),
    "handwritten_mae": (lambda y, p: tf.reduce_mean(tf.abs(y - p)),),
    "l2_loss_of_difference": (lambda y, p: tf.nn.l2_loss(p - y),),
    "hinge": (lambda y, p: v1.losses.hinge_loss(y, p),),
    "pairwise_squared": (lambda y, p: v1.losses.mean_pairwise_squared_error(y, p),),
}.items()})


@pytest.fixture(scope="module")
def graphs():
    """Every case's GraphDef, built once (graph building only: nothing runs)."""
    out = {}
    for name, (build, _) in CASES.items():
        graph = tf.Graph()
        with graph.as_default():
            v1.set_random_seed(1)
            build(graph)
        out[name] = graph.as_graph_def()
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_default_outputs_are_the_predictions_the_loss_consumes(graphs, case):
    from migration.graph.graphdef import GraphIndex
    from migration.graph.model_outputs import _Graph, loss_predictions

    index = GraphIndex(graphs[case])
    outputs, losses = loss_predictions(index)
    assert losses, case
    assert outputs == ["pred:0"], (case, outputs)
    g = _Graph(index, losses)
    assert g.inputs == CASES[case][1], (case, g.inputs, g.labels)  # labels, targets, tags are never model inputs
    assert g.labels and not g.labels & g.inputs


def test_summaries_regularizers_and_training_ops_are_never_outputs(graphs):
    from migration.graph.graphdef import GraphIndex
    from migration.graph.model_outputs import loss_predictions

    index = GraphIndex(graphs["softmax"])
    outputs, losses = loss_predictions(index)
    chosen = {o.split(":")[0] for o in outputs}
    assert not any(n.startswith(("train/", "loss")) or "summary" in n.lower() or "L2Loss" in n for n in chosen)
    assert {index.node(n).op for n in losses} <= {"AddV2", "Add", "Mean"}


def test_an_inference_graph_gives_the_logits_under_softmax_and_argmax():
    """No loss (an export for serving): the terminal argmax/softmax predictions are replaced by their logits;
    another terminal (a transposed copy the program returns) stays. Negative control: without the rule the argmax
    would be chosen."""
    from migration.graph.graphdef import GraphIndex
    from migration.graph.model_outputs import loss_predictions, prediction_logits

    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        logits = tf.reshape(_dense(tf.reshape(x, [-1, D]), C, "out"), [-1, T, C], name="logits")
        tf.argmax(tf.nn.softmax(logits), axis=2, name="ids")
        tf.transpose(logits, [1, 0, 2], name="time_major")
    index = GraphIndex(graph.as_graph_def())
    assert loss_predictions(index) == ([], [])
    assert prediction_logits(index, ["ids:0", "time_major:0"]) == ["logits:0", "time_major:0"]
    assert prediction_logits(index, ["time_major:0"]) == ["time_major:0"]


def test_a_graph_without_a_loss_never_takes_a_tensor_computed_from_shapes_only(monkeypatch):
    """No loss, TF1-form ``dynamic_rnn`` without ``sequence_length``: its ``rnn/zeros`` (a zero output of the batch
    size nobody reads) and other tensors computed from a placeholder's shape only (``ones_like``, ``zeros`` of
    ``tf.shape``) are never default outputs; a terminal that reads the values next to the shape stays. Negative
    control: without the shape-only rule ``rnn/zeros`` and the others come back (the old behaviour)."""
    from types import SimpleNamespace

    from migration.graph import whole_model
    from migration.graph.graphdef import GraphIndex

    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        out, _ = v1.nn.dynamic_rnn(v1.nn.rnn_cell.LSTMCell(3), x, dtype=tf.float32)
        logits = tf.identity(_dense(out[:, -1], C, "head"), name="logits")
        tf.nn.softmax(logits, name="probs")
        tf.multiply(tf.ones_like(x), 3.0, name="ones_of_x")
        tf.zeros(tf.stack([tf.shape(x)[0], 2]), name="zeros_of_batch")
        batch = tf.cast(tf.size(x), tf.float32)
        tf.reduce_sum(x * batch, axis=2, name="scaled")  # values and shape: a real output
    og = SimpleNamespace(index=GraphIndex(graph.as_graph_def()), path="graph")
    names = [n.name for n in og.index.graph_def.node]
    assert "rnn/zeros" in names  # the trap is really in the graph
    io = whole_model.default_io(og)
    assert io.outputs == ["logits:0", "scaled:0"], io.outputs
    assert io.inputs == ["x"]
    monkeypatch.setattr(whole_model, "_SHAPE_ONLY", frozenset())
    old = whole_model.default_io(og).outputs
    assert {"rnn/zeros:0", "ones_of_x:0", "zeros_of_batch:0"} <= set(old), old
