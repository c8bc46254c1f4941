"""Real TF1 programs for the checkpoint layouts, each saved WITH its ``.meta`` (TF 1.x graph form: RefVariables,
``Enter``/``Exit`` frames), for the CLI tests of ``test_layouts_meta``.

* ``build_old_names``: pre-TF-1.2 programs. :class:`OldBasicLSTMCell` is TF 1.0's ``BasicLSTMCell`` written out:
  ``concat([x, h]) @ weights + biases`` in the cell's scope (TF 1.0-1.1: ``rnn/basic_lstm_cell/weights``,
  ``biases``; TF <= 0.12: ``RNN/BasicLSTMCell/Linear/Matrix``, ``Linear/Bias``), gates split in the order
  **i, j, f, o**, ``c' = c * sigmoid(f + forget_bias) + sigmoid(i) * tanh(j)``, ``h' = tanh(c') * sigmoid(o)``; so the
  ``.meta`` holds the old names and the ``Add`` of forget_bias (0.5 here) where 1.0 put it.
* ``build_heads``: the dense heads tutorials wrote (``weights``/``biases`` dicts of ``tf.Variable`` saved as
  ``Variable``..``Variable_3``, kernels first; ``W`` + ``output/b``; ``softmax_w``/``softmax_b``) chained after an
  LSTM (forget_bias 0.5), trained by RMSProp created under ``variable_scope('Optimizer')`` (slots
  ``Optimizer/<var>/RMSProp``), Ftrl, Adadelta and two Adams (``Adam``, ``MyAdam``) on disjoint variables.

Every variable (slots included) gets random values; the recorded reference is the original graph's logits.
"""
from __future__ import annotations

import os
import re

import numpy as np

import legacy_rnn
from conftest import randomize
from ground_truth_graphs import tf1_graph_form
from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST, load_values

B, T, D, CLASSES = 4, 6, 3, 3
LENGTHS = np.array([6, 2, 5, 1], np.int32)
FORGET_BIAS = 0.5


class OldBasicLSTMCell(v1.nn.rnn_cell.RNNCell):
    """TF 1.0's ``BasicLSTMCell`` (``rnn_cell_impl.py`` of 1.0 and its ``_linear``): variables created in
    ``variable_scope(scope)`` (``basic_lstm_cell``, or ``BasicLSTMCell`` in 0.12) then ``linear_scope`` (``""`` in
    1.0, ``"Linear"`` in 0.12) with the names ``weights``/``biases`` (1.0) or ``Matrix``/``Bias`` (0.12)."""

    def __init__(self, num_units: int, forget_bias: float, scope: str, linear_scope: str, names: tuple[str, str]):
        super().__init__()
        self._units, self._forget_bias = num_units, forget_bias
        self._scope, self._linear_scope, self._names = scope, linear_scope, names

    @property
    def state_size(self):
        return v1.nn.rnn_cell.LSTMStateTuple(self._units, self._units)

    @property
    def output_size(self) -> int:
        return self._units

    def __call__(self, inputs, state, scope=None):
        c, h = state
        with v1.variable_scope(self._scope):
            with v1.variable_scope(self._linear_scope or v1.get_variable_scope()):
                args = tf.concat([inputs, h], 1)
                weights = v1.get_variable(self._names[0], [int(args.shape[1]), 4 * self._units])
                biases = v1.get_variable(self._names[1], [4 * self._units])
                concat = tf.matmul(args, weights) + biases
            i, j, f, o = tf.split(value=concat, num_or_size_splits=4, axis=1)
            new_c = c * tf.sigmoid(f + self._forget_bias) + tf.sigmoid(i) * tf.tanh(j)
            new_h = tf.tanh(new_c) * tf.sigmoid(o)
        return new_h, v1.nn.rnn_cell.LSTMStateTuple(new_c, new_h)


def _finish(sess, directory, logits, feed: dict, inputs: dict) -> str:
    os.makedirs(directory, exist_ok=True)
    np.savez(os.path.join(str(directory), "reference.npz"), logits=sess.run(logits, feed), **inputs)
    with open(os.path.join(str(directory), "names.txt"), "w") as f:
        f.write(logits.name)
    return v1.train.Saver().save(sess, os.path.join(str(directory), "model.ckpt"))


def _last(outputs, lengths):
    return tf.gather_nd(outputs, tf.stack([tf.range(tf.shape(outputs)[0]), lengths - 1], 1))


def build_old_names(directory, seed: int = 21) -> str:
    """``old10``: dynamic_rnn (scope ``rnn``) of the 1.0 cell (``basic_lstm_cell/weights``, ``biases``);
    ``old09``: dynamic_rnn (scope ``RNN``, as 0.12 named it) of the 0.12 cell (``BasicLSTMCell/Linear/Matrix``,
    ``Linear/Bias``); both forget_bias 0.5, their last outputs into a ``weights``/``biases`` dense head and a loss."""
    rng = np.random.default_rng(seed)
    with tf1_graph_form(True), legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        with v1.variable_scope("old10"):
            a = v1.nn.dynamic_rnn(OldBasicLSTMCell(4, FORGET_BIAS, "basic_lstm_cell", "", ("weights", "biases")), x,
                                  sequence_length=lengths, dtype=tf.float32, scope="rnn")[0]
        with v1.variable_scope("old09"):
            b = v1.nn.dynamic_rnn(OldBasicLSTMCell(3, FORGET_BIAS, "BasicLSTMCell", "Linear", ("Matrix", "Bias")), x,
                                  sequence_length=lengths, dtype=tf.float32, scope="RNN")[0]
        with v1.variable_scope("softmax"):
            w = v1.get_variable("weights", [7, CLASSES])
            bias = v1.get_variable("biases", [CLASSES])
        logits = tf.matmul(tf.concat([_last(a, lengths), _last(b, lengths)], 1), w) + bias
        labels = v1.placeholder(tf.int32, [None], name="labels")
        v1.losses.sparse_softmax_cross_entropy(labels, logits)
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, seed)
            xs = rng.normal(0, 1, (B, T, D)).astype(np.float32)
            return _finish(sess, directory, logits, {x: xs, lengths: LENGTHS}, {"x": xs, "lengths": LENGTHS})


def build_heads(directory, seed: int = 22) -> str:
    rng = np.random.default_rng(seed)
    with tf1_graph_form(True), legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        outputs, _ = v1.nn.dynamic_rnn(legacy_rnn.basic_lstm_cell(4, forget_bias=FORGET_BIAS), x,
                                       sequence_length=lengths, dtype=tf.float32)
        h = _last(outputs, lengths)
        weights = {"h": tf.Variable(tf.zeros([4, 5])), "out": tf.Variable(tf.zeros([5, 4]))}  # Variable, Variable_1
        biases = {"h": tf.Variable(tf.zeros([5])), "out": tf.Variable(tf.zeros([4]))}  # Variable_2, Variable_3
        mlp = tf.matmul(tf.tanh(tf.matmul(h, weights["h"]) + biases["h"]), weights["out"]) + biases["out"]
        with tf.name_scope("output"):
            w = v1.get_variable("W", [4, 5])
            b = tf.Variable(tf.zeros([5]), name="b")
            hidden = tf.nn.relu(tf.matmul(mlp, w) + b)
        softmax_w, softmax_b = v1.get_variable("softmax_w", [5, CLASSES]), v1.get_variable("softmax_b", [CLASSES])
        logits = tf.matmul(hidden, softmax_w) + softmax_b
        labels = v1.placeholder(tf.int32, [None], name="labels")
        loss = v1.losses.sparse_softmax_cross_entropy(labels, logits)
        rnn_vars = [v for v in v1.trainable_variables() if v.op.name.startswith("rnn/")]
        with v1.variable_scope("Optimizer"):
            v1.train.RMSPropOptimizer(0.01).minimize(loss, var_list=rnn_vars)
        v1.train.FtrlOptimizer(0.01).minimize(loss, var_list=[softmax_w, softmax_b])
        v1.train.AdadeltaOptimizer(0.01).minimize(loss, var_list=list(weights.values()) + list(biases.values()))
        v1.train.AdamOptimizer(0.01).minimize(loss, var_list=[w])
        v1.train.AdamOptimizer(0.02, name="MyAdam").minimize(loss, var_list=[b])
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, seed)
            _plausible_optimizer_state(sess, seed)
            xs = rng.normal(0, 1, (B, T, D)).astype(np.float32)
            return _finish(sess, directory, logits, {x: xs, lengths: LENGTHS}, {"x": xs, "lengths": LENGTHS})


def _plausible_optimizer_state(sess, seed: int) -> None:
    """What training leaves: every Adam's beta powers at step 3 (``beta1_power_1`` of the second Adam too),
    accumulators (Ftrl, Adadelta, Adam v of ``MyAdam``) positive."""
    rng = np.random.default_rng(seed + 1)
    pairs = []
    for var in v1.global_variables():
        name = var.op.name
        if re.fullmatch(r"beta([12])_power(_\d+)?", name):
            pairs.append((var, np.float32((0.9 if name[4] == "1" else 0.999) ** 4)))
        elif re.search(r"/(Ftrl|Adadelta|Adadelta_1|MyAdam_1)$", name):
            pairs.append((var, np.abs(rng.normal(0, 0.5, var.shape.as_list())).astype(np.float32) + 0.01))
    load_values(sess, pairs)


def reference(prefix: str) -> tuple[dict, np.ndarray, str]:
    """(inputs, the original graph's logits, the logits tensor name) recorded next to ``prefix``."""
    d = os.path.dirname(prefix)
    data = np.load(os.path.join(d, "reference.npz"))
    with open(os.path.join(d, "names.txt")) as f:
        name = f.read().strip()
    return {k: data[k] for k in data.files if k != "logits"}, data["logits"], name
