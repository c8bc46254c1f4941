"""One real TF1 training-style graph holding several STATIC unrolls (no while loop), saved by tf.compat.v1.train.Saver
with its .meta: the fixture of tests/checkpoint/test_static_unroll_verify.py.

Blocks (T = 5 steps, seeded asymmetric weights, non-zero biases):

* ``a``: ``static_rnn(MultiRNNCell([BasicLSTMCell(5), BasicLSTMCell(4)]) (state tuples), sequence_length=len)``
  (not read by the loss, so not in the default whole model);
* ``b``: ``static_bidirectional_rnn(GRUCell(4), GRUCell(3))`` (no sequence_length);
* ``c``: ``legacy_seq2seq.rnn_decoder`` of ``MultiRNNCell([BasicLSTMCell(4, state_is_tuple=False)] * 2)`` in a
  ``DropoutWrapper(output_keep_prob=0.8)`` CONSTANT, inputs from ``tf.split`` + ``squeeze``;
* ``d``: a Python loop ``for t in range(T): out, state = cell(x[:, t], state)`` with ``variable_scope`` reuse, an
  ``LSTMCell(5)`` (state tuple) in a ``DropoutWrapper(output_keep_prob=keep)`` (a placeholder_with_default 0.7);
* ``e``: ``static_rnn(BasicRNNCell(4))`` on per-step placeholders.
"""
from __future__ import annotations

import os

import numpy as np

import migration  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import legacy_rnn
import tensorflow as tf
from legacy_rnn import contrib_rnn as rnn
from legacy_rnn.seq2seq import legacy_seq2seq
from tests.checkpoint.tf1_values import FAST, load_values

v1 = tf.compat.v1
B, T, D = 3, 5, 3


def build(directory: str, seed: int = 21) -> tuple[str, dict[str, list[str]]]:
    """Build with TF 1.x control flow (``cond`` as ``Switch``/``Merge``, as TF1 programs ran), randomize (asymmetric,
    non-zero biases) and save. Returns the checkpoint prefix and, per block scope, the names of the tensors the
    program holds for it: its stacked outputs (when not dropped at random) and its final state, flattened."""
    was_v2 = v1.control_flow_v2_enabled()
    v1.disable_control_flow_v2()
    try:
        return _build(directory, seed)
    finally:
        if was_v2:
            v1.enable_control_flow_v2()


def _build(directory: str, seed: int) -> tuple[str, dict[str, list[str]]]:
    names: dict[str, list[str]] = {}
    with legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="len")
        keep = v1.placeholder_with_default(0.7, [], name="keep")
        steps = tf.unstack(x, axis=1)
        heads = []
        with v1.variable_scope("a"):
            cells = [rnn.BasicLSTMCell(5), rnn.BasicLSTMCell(4)]
            outs, state = v1.nn.static_rnn(rnn.MultiRNNCell(cells), steps, sequence_length=lengths,
                                           dtype=tf.float32)
            heads.append(tf.stack(outs, 1))
            names["a"] = [heads[-1].name] + [t.name for t in tf.nest.flatten(state)]
        with v1.variable_scope("b"):
            outs, fw, bw = v1.nn.static_bidirectional_rnn(rnn.GRUCell(4), rnn.GRUCell(3), steps, dtype=tf.float32)
            heads.append(outs[-1])
            names["b"] = [tf.stack(outs, 1).name, fw.name, bw.name]  # outputs: concat([fw, bw]) per step
        with v1.variable_scope("c"):
            split = [tf.squeeze(s, [1]) for s in tf.split(x, T, axis=1)]
            cell = rnn.DropoutWrapper(rnn.MultiRNNCell([rnn.BasicLSTMCell(4, state_is_tuple=False)
                                                        for _ in range(2)]), output_keep_prob=0.8)
            outs, state = legacy_seq2seq.rnn_decoder(split, cell.zero_state(tf.shape(x)[0],
                                                                                               tf.float32), cell)
            heads.append(tf.concat(outs, 1))
            heads.append(tf.identity(state, name="state_out"))
            names["c"] = [t.name for t in tf.nest.flatten(state)]  # the outputs are dropped at random (0.8)
        with v1.variable_scope("d") as scope:
            cell = rnn.DropoutWrapper(rnn.LSTMCell(5), output_keep_prob=keep)
            state = cell.zero_state(tf.shape(x)[0], tf.float32)
            outs = []
            for t in range(T):
                if t > 0:
                    scope.reuse_variables()
                out, state = cell(x[:, t], state)
                outs.append(out)
            heads.append(tf.stack(outs, 1))
            names["d"] = [heads[-1].name] + [t.name for t in tf.nest.flatten(state)]
        per_step = [v1.placeholder(tf.float32, [None, D], name=f"e_in_{t}") for t in range(T)]
        with v1.variable_scope("e"):
            outs, state = v1.nn.static_rnn(rnn.BasicRNNCell(4), per_step, dtype=tf.float32)
            heads.append(tf.add_n(outs))
            names["e"] = [tf.stack(outs, 1).name, state.name]
        # the loss reads every block but ``a``: the whole model (the predictions the loss consumes) leaves out the
        # per-step conds of static_rnn(sequence_length), which have no Keras translation; ``a`` is a block of its own
        target = v1.placeholder(tf.float32, [], name="y")
        loss = tf.add_n([tf.reduce_sum(tf.square(h - target)) for h in heads[1:]])
        v1.train.GradientDescentOptimizer(0.1).minimize(loss)
        sess = v1.Session(graph=graph, config=FAST)
        sess.run(v1.global_variables_initializer())
        rng = np.random.default_rng(seed)
        load_values(sess, [(var, rng.uniform(-0.6, 0.6, var.shape.as_list()).astype(np.float32)
                                 + (0.1 if var.shape.rank == 1 else 0.0)) for var in v1.global_variables()])
        os.makedirs(directory, exist_ok=True)
        prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
        sess.close()
        return prefix, names
