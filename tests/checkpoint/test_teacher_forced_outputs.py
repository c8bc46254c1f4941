"""Default outputs when one placeholder is both the model's input and its labels (issue 21, show-attend-tell):
teacher forcing feeds ``captions[:, :T]`` to the decoder and scores against ``captions[:, 1:]``; a language model
slices one ``data`` placeholder into inputs and targets. The placeholder is a model input, the labels' slice is not:
the default outputs are the logits the loss consumes (before: the one placeholder counted as a label, everything the
decoder computed from it was "label-dependent", and the default outputs fell back to the batch-norm features).

Graphs only (real TF1 graph code with an optimizer; :func:`migration.graph.model_outputs.loss_predictions` reads
them). Negative controls: a label placeholder read whole by the model's ops (a sampled softmax gathers the rows of
``y``; a ``y`` used as a mask) stays a label, and a separate labels placeholder is never an input.
"""
from __future__ import annotations

import pytest

import legacy_rnn
from migration.graph.graphdef import GraphIndex
from migration.graph.model_outputs import loss_predictions

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
B, T, V, E, H = 3, 4, 12, 5, 6


def _train(loss):
    v1.train.AdamOptimizer(0.01).minimize(loss)


def _captions(g) -> tuple[list[str], set[str]]:
    """show-attend-tell's shape: features + captions, a cell stepped by hand, one loss term per step."""
    features = v1.placeholder(tf.float32, [None, 3, 4], "features")
    captions = v1.placeholder(tf.int32, [None, T + 1], "captions")
    captions_in, captions_out = captions[:, :T], captions[:, 1:]
    mask = tf.cast(tf.not_equal(captions_out, 0), tf.float32)
    emb = v1.get_variable("emb", [V, E])
    x = tf.nn.embedding_lookup(emb, captions_in)
    cell = v1.nn.rnn_cell.BasicLSTMCell(H)
    state = cell.zero_state(tf.shape(features)[0], tf.float32)
    ctx = tf.reduce_mean(features, 1)
    loss, logits = 0.0, []
    for t in range(T):
        with v1.variable_scope("lstm", reuse=t > 0):
            h, state = cell(tf.concat([x[:, t], ctx], 1), state)
        with v1.variable_scope("decode", reuse=t > 0):
            out = v1.layers.dense(h, V, name="logits")
        logits.append(out.name)
        loss += tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=captions_out[:, t],
                                                                            logits=out) * mask[:, t])
    _train(loss)
    return logits, {"features", "captions"}


def _language_model(g) -> tuple[list[str], set[str]]:
    data = v1.placeholder(tf.int32, [None, T + 1], "data")
    x, y = data[:, :-1], data[:, 1:]
    emb = v1.get_variable("emb", [V, E])
    outputs, _ = v1.nn.dynamic_rnn(v1.nn.rnn_cell.GRUCell(H), tf.nn.embedding_lookup(emb, x), dtype=tf.float32)
    logits = v1.layers.dense(tf.reshape(outputs, [-1, H]), V, name="softmax")
    _train(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.reshape(y, [-1]), logits=logits)))
    return [logits.name], {"data"}


def _separate_labels(g) -> tuple[list[str], set[str]]:
    """Negative control: a labels placeholder of its own, also used whole as a mask, stays a label."""
    ids = v1.placeholder(tf.int32, [None, T], "ids")
    y = v1.placeholder(tf.int32, [None, T], "targets")
    emb = v1.get_variable("emb", [V, E])
    outputs, _ = v1.nn.dynamic_rnn(v1.nn.rnn_cell.GRUCell(H), tf.nn.embedding_lookup(emb, ids), dtype=tf.float32)
    logits = v1.layers.dense(outputs, V, name="softmax")
    weights = tf.cast(tf.not_equal(y, 0), tf.float32)
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    _train(tf.reduce_sum(xent * weights) / tf.reduce_sum(weights))
    return [logits.name], {"ids"}


def _sampled(g) -> tuple[list[str], set[str]]:
    """Negative control: the sampled softmax gathers the weight rows of ``y`` (read whole): ``y`` stays a label."""
    x = v1.placeholder(tf.float32, [None, E], "x")
    y = v1.placeholder(tf.int64, [None, 1], "y")
    h = v1.layers.dense(x, H, name="h")
    w, b = v1.get_variable("softmax_w", [V, H]), v1.get_variable("softmax_b", [V])
    _train(tf.reduce_mean(tf.nn.sampled_softmax_loss(w, b, y, tf.tanh(h), 4, V)))
    return [h.name], {"x"}  # the loss's own tanh is followed back


@pytest.mark.parametrize("build", [_captions, _language_model, _separate_labels, _sampled],
                         ids=["captions", "language_model", "separate_labels", "sampled_softmax"])
def test_teacher_forced_source_is_an_input_and_the_logits_are_the_outputs(build) -> None:
    with tf.Graph().as_default() as g:
        want, inputs = build(g)
        index = GraphIndex(g.as_graph_def())
    outputs, losses = loss_predictions(index)
    assert losses and outputs == want
    closure, _ = index.closure(outputs)
    placeholders = {n for n in closure if index.nodes[n].op == "Placeholder"}
    assert placeholders == inputs
