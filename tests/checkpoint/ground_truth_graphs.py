"""Real TF1 programs whose hyper-parameters hide where a reader of the ``.meta`` used to miss them.

* ``ptb``: the TF 1.x PTB tutorial layout: ``tf.name_scope("Train")`` around ``variable_scope("Model")``, two
  ``BasicLSTMCell(forget_bias=0.0)`` in ``DropoutWrapper`` and ``MultiRNNCell``, embedding variable, reshape,
  ``softmax_w``/``softmax_b``, sequence loss; written in TF 1.x's own graph form (reference variables, Enter/Exit
  while frames) or TF 2.x's (resource variables, ``While`` functions).
* ``reentered``: char-rnn style: ``variable_scope('rnnlm')`` entered once for ``softmax_w/b`` and again for the RNN,
  so the ops live under ``rnnlm_1/...`` and the variables under ``rnnlm/...``; ``BasicLSTMCell(forget_bias=0.5)``,
  ``sequence_length``, the last relevant output by ``transpose`` + ``gather`` of ``length - 1``.
* ``block_lstm``: ``tf.contrib.rnn.LSTMBlockCell(forget_bias=0.0, cell_clip=...)`` as contrib built it: variables
  ``lstm_cell/kernel`` and ``lstm_cell/bias`` (the names of ``LSTMCell``) and the ``LSTMBlockCell`` kernel op,
  whose attributes hold forget_bias and cell_clip; a ``tf.layers.dense`` head on the final ``state.h``.
* ``unknown_op``: seed-004-like with a ``cumsum`` on the logits (an op with no Keras translation).
* ``bidirectional``: ``bidirectional_dynamic_rnn`` of two ``GRUCell`` with lengths, time-major input.

Every builder gives every variable random values, records the ORIGINAL graph's outputs with dropout off (fed
keep_prob 1.0) as the reference, and saves with ``tf.compat.v1.train.Saver``.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

import legacy_rnn
from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST, load_values

B, T, V, E = 4, 6, 23, 5


@contextlib.contextmanager
def tf1_graph_form(enabled: bool):
    """Build with TF 1.x's graph form (RefVariables, Enter/Exit frames) instead of TF 2.x's, then restore."""
    if not enabled:
        yield
        return
    v1.disable_resource_variables()
    v1.disable_control_flow_v2()
    try:
        yield
    finally:
        v1.enable_control_flow_v2()
        v1.enable_resource_variables()


def _randomize(sess, seed: int) -> None:
    rng = np.random.default_rng(seed)
    load_values(sess, [(var, rng.normal(0.0, 0.6, var.shape.as_list()).astype(np.float32))
                       for var in v1.global_variables() if var.dtype.base_dtype.is_floating])


def record(sess, directory, fetches: dict, feed: dict, inputs: dict) -> str:
    """Run ``fetches``, keep inputs, outputs and tensor names beside the ``Saver`` checkpoint written into
    ``directory`` (read back by :func:`reference`)."""
    os.makedirs(directory, exist_ok=True)
    values = sess.run(fetches, feed)
    np.savez(os.path.join(str(directory), "reference.npz"), **{f"out_{k}": v for k, v in values.items()},
             **{f"in_{k}": v for k, v in inputs.items()})
    names = {k: t.name for k, t in fetches.items()}
    with open(os.path.join(str(directory), "names.txt"), "w") as f:
        f.write("\n".join(f"{k}={v}" for k, v in names.items()))
    return v1.train.Saver().save(sess, os.path.join(str(directory), "model.ckpt"))


def reference(prefix: str) -> tuple[dict, dict, dict]:
    """(inputs, outputs, tensor names) recorded by the builder next to ``prefix``."""
    d = os.path.dirname(prefix)
    data = np.load(os.path.join(d, "reference.npz"))
    ins = {k[3:]: data[k] for k in data.files if k.startswith("in_")}
    outs = {k[4:]: data[k] for k in data.files if k.startswith("out_")}
    with open(os.path.join(d, "names.txt")) as f:
        names = dict(line.split("=", 1) for line in f.read().splitlines())
    return ins, outs, names


def build_ptb(directory, tf1_form: bool = True, seed: int = 11) -> str:
    units = 6
    with tf1_graph_form(tf1_form), legacy_rnn.new_graph(seed) as graph:
        ids = v1.placeholder(tf.int32, [None, T], name="input_data")
        targets = v1.placeholder(tf.int32, [None, T], name="targets")
        keep = v1.placeholder_with_default(0.5, [], name="keep_prob")  # a training default: dropout must be bypassed
        with tf.name_scope("Train"):
            with v1.variable_scope("Model"):
                embedding = v1.get_variable("embedding", [V, E])
                inputs = v1.nn.embedding_lookup(embedding, ids)
                cells = [v1.nn.rnn_cell.DropoutWrapper(legacy_rnn.basic_lstm_cell(units, forget_bias=0.0),
                                                       output_keep_prob=keep) for _ in range(2)]
                cell = v1.nn.rnn_cell.MultiRNNCell(cells)
                outputs, state = v1.nn.dynamic_rnn(cell, inputs, dtype=tf.float32)
                output = tf.reshape(outputs, [-1, units])
                softmax_w = v1.get_variable("softmax_w", [units, V])
                softmax_b = v1.get_variable("softmax_b", [V])
                logits = v1.nn.xw_plus_b(output, softmax_w, softmax_b)
                loss = v1.losses.sparse_softmax_cross_entropy(tf.reshape(targets, [-1]), logits)
                v1.train.GradientDescentOptimizer(0.1).minimize(loss)
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        _randomize(sess, seed)
        x = np.random.default_rng(seed).integers(0, V, (B, T)).astype(np.int32)
        return record(sess, directory, {"logits": logits, "rnn_outputs": outputs}, {ids: x, keep: 1.0},
                       {"input_data": x, "rnn_input": sess.run(inputs, {ids: x})})


def build_reentered(directory, seed: int = 12) -> str:
    units = 5
    with legacy_rnn.new_graph(seed) as graph:
        ids = v1.placeholder(tf.int32, [None, T], name="ids")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        with v1.variable_scope("rnnlm"):
            softmax_w = v1.get_variable("softmax_w", [units, V])
            softmax_b = v1.get_variable("softmax_b", [V])
            embedding = v1.get_variable("embedding", [V, E])
            v1.get_variable("temperature", [])  # under an RNN-looking scope, matches nothing: listed, never fatal
        with v1.variable_scope("rnnlm"):  # entered again: ops go to rnnlm_1/...
            inputs = v1.nn.embedding_lookup(embedding, ids)
            outputs, _ = v1.nn.dynamic_rnn(legacy_rnn.basic_lstm_cell(units, forget_bias=0.5), inputs,
                                           sequence_length=lengths, dtype=tf.float32)
        flat = tf.reshape(tf.transpose(outputs, [1, 0, 2]), [-1, units])  # time-major flat rows
        last = tf.gather(flat, (lengths - 1) * tf.shape(ids)[0] + tf.range(tf.shape(ids)[0]))
        logits = tf.matmul(last, softmax_w) + softmax_b
        probs = tf.nn.softmax(logits, name="probs")
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        _randomize(sess, seed)
        rng = np.random.default_rng(seed)
        x, ls = rng.integers(0, V, (B, T)).astype(np.int32), np.array([T, 1, 3, 5], np.int32)
        return record(sess, directory, {"probs": probs, "rnn_outputs": outputs}, {ids: x, lengths: ls},
                       {"ids": x, "lengths": ls, "rnn_input": sess.run(inputs, {ids: x})})


class LSTMBlockCell(v1.nn.rnn_cell.BasicLSTMCell):
    """``tf.contrib.rnn.LSTMBlockCell`` as TF 1.15 built it: variables ``lstm_cell/{kernel,bias}`` (i, j, f, o
    column blocks, like ``LSTMCell``), the step is TensorFlow's own ``LSTMBlockCell`` kernel op with
    ``forget_bias`` and ``cell_clip`` as op attributes (so they are in no variable and in no ``Add`` node)."""

    def __init__(self, num_units: int, forget_bias: float = 1.0, cell_clip=None) -> None:
        super().__init__(num_units, forget_bias=forget_bias, name="lstm_cell")
        self._clip = -1.0 if cell_clip is None else float(cell_clip)

    def call(self, inputs, state):
        c, h = state
        zeros = tf.zeros([self._num_units])
        _i, cs, _f, _o, _ci, _co, new_h = tf.raw_ops.LSTMBlockCell(
            x=inputs, cs_prev=c, h_prev=h, w=self._kernel, wci=zeros, wcf=zeros, wco=zeros, b=self._bias,
            forget_bias=self._forget_bias, cell_clip=self._clip, use_peephole=False)
        return new_h, v1.nn.rnn_cell.LSTMStateTuple(cs, new_h)


def build_block_lstm(directory, seed: int = 13) -> str:
    units = 6
    with legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.float32, [None, T, 3], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        cell = LSTMBlockCell(units, forget_bias=0.0, cell_clip=0.9)
        _, state = v1.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
        logits = v1.layers.dense(state.h, 3, name="logits")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        v1.losses.sparse_softmax_cross_entropy(labels, logits)  # (TF 2.21 has no gradient for the LSTMBlockCell op)
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        _randomize(sess, seed)
        rng = np.random.default_rng(seed)
        xs, ls = rng.normal(0, 1.5, (B, T, 3)).astype(np.float32), np.array([T, 2, 1, 4], np.int32)
        return record(sess, directory, {"logits": logits, "c": state.c}, {x: xs, lengths: ls},
                       {"x": xs, "lengths": ls})


def build_unknown_op(directory, seed: int = 14) -> str:
    with legacy_rnn.new_graph(seed) as graph:
        ids = v1.placeholder(tf.int32, [None, T], name="ids")
        embedding = v1.get_variable("embedding", [V, E])
        outputs, state = v1.nn.dynamic_rnn(legacy_rnn.gru_cell(4), v1.nn.embedding_lookup(embedding, ids),
                                           dtype=tf.float32)
        logits = v1.layers.dense(tf.math.cumsum(outputs[:, -1], axis=1), 2)
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        _randomize(sess, seed)
        xs = np.random.default_rng(seed).integers(0, V, (B, T)).astype(np.int32)
        return record(sess, directory, {"logits": logits}, {ids: xs}, {"ids": xs})


def build_bidirectional(directory, seed: int = 15) -> str:
    with legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.float32, [T, None, 3], name="x_time_major")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        (fw, bw), _ = v1.nn.bidirectional_dynamic_rnn(legacy_rnn.gru_cell(4), legacy_rnn.gru_cell(5), x,
                                                      sequence_length=lengths, time_major=True, dtype=tf.float32)
        both = tf.concat([fw, bw], 2)
        scores = v1.layers.dense(both, 2, name="tagger")
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        _randomize(sess, seed)
        rng = np.random.default_rng(seed)
        xs, ls = rng.normal(0, 1, (T, B, 3)).astype(np.float32), np.array([T, 1, 4, 2], np.int32)
        return record(sess, directory, {"scores": scores}, {x: xs, lengths: ls}, {"x_time_major": xs, "lengths": ls})


def build_ema(directory, seed: int = 16) -> str:
    """dynamic_rnn(GRUCell) + dense head trained with ``tf.train.ExponentialMovingAverage``: the shadows
    (``<var>/ExponentialMovingAverage``) hold other values than the raw weights, as after real training."""
    with legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.float32, [None, T, 3], name="x")
        outputs, _ = v1.nn.dynamic_rnn(legacy_rnn.gru_cell(4), x, dtype=tf.float32)
        logits = v1.layers.dense(outputs[:, -1], 2, name="head")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        loss = v1.losses.sparse_softmax_cross_entropy(labels, logits)
        train = v1.train.GradientDescentOptimizer(0.1).minimize(loss)
        ema = v1.train.ExponentialMovingAverage(0.9)
        with tf.control_dependencies([train]):
            ema.apply(v1.trainable_variables())
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        _randomize(sess, seed)  # raw weights and shadows get different random values
        xs = np.random.default_rng(seed).normal(0, 1, (B, T, 3)).astype(np.float32)
        # the TF1 way to evaluate with the averages: restore every shadow into its variable
        os.makedirs(directory, exist_ok=True)
        prefix = v1.train.Saver().save(sess, os.path.join(str(directory), "model.ckpt"))
        v1.train.Saver(ema.variables_to_restore()).restore(sess, prefix)
        averaged = sess.run(logits, {x: xs})
        np.savez(os.path.join(str(directory), "reference.npz"), out_averaged=averaged, in_x=xs)
        with open(os.path.join(str(directory), "names.txt"), "w") as f:
            f.write(f"logits={logits.name}")
        return prefix


def run_original_program(prefix: str, fetches: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The user's own program: import_meta_graph + Saver.restore, every placeholder_with_default keep_prob fed 1.0."""
    (out,) = run_original_program_on(prefix, fetches, [feeds])
    return out


def run_original_program_on(prefix: str, fetches: list[str], feed_sets: list[dict]) -> list[list[np.ndarray]]:
    """:func:`run_original_program` on each of ``feed_sets`` (the program imported and restored once)."""
    with legacy_rnn.new_graph() as graph:
        saver = v1.train.import_meta_graph(prefix + ".meta")
        sess = v1.Session(graph=graph, config=FAST)
        saver.restore(sess, prefix)
        keep = {}
        for op in graph.get_operations():
            if op.type in ("PlaceholderWithDefault", "Placeholder") and "keep" in op.name:
                keep[op.outputs[0]] = 1.0
        tensors = [graph.get_tensor_by_name(f) for f in fetches]
        outs = [sess.run(tensors, {**{graph.get_tensor_by_name(k if ":" in k else k + ":0"): v
                                      for k, v in feeds.items()}, **keep}) for feeds in feed_sets]
        sess.close()
    return outs
