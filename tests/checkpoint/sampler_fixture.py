"""One real TF1 captioning-style graph: a training loss AND greedy samplers on the same variables, cells stepped by
hand with a per-step soft attention, saved by tf.compat.v1.train.Saver with its .meta. The fixture of
tests/checkpoint/test_sampler_outputs.py (issue 21, show-attend-tell's pattern, written anew).

Training path (teacher forcing: ``captions[:, :T]`` in, ``captions[:, 1:]`` the labels, one xent per step), four
decoders each stepped by hand in a Python loop, the cell input ``concat([embed(word_t), context_t])`` with
``context_t`` = soft attention over ``features`` from the previous ``h``:

* ``lstm``: ``BasicLSTMCell(H)``, initial state learned from the features (``tanh(dense(mean(features)))``);
* ``gru``: ``GRUCell(5)`` from a zero state;
* ``stack``: ``MultiRNNCell([LSTMCell(6), LSTMCell(4)])`` from a zero state;
* ``mixed`` (a negative control for the stepped-cell locator): ``BasicLSTMCell(4)`` whose ``h`` is mixed with the
  context through another variable between steps (``h + matmul(context, w_mix)``): not one cell per step.

The loss reads ``lstm`` and ``gru``; ``stack`` and ``mixed`` are blocks of the checkpoint outside the loss (their
terminal logits are not predictions: never default outputs).

Inference paths on the ``lstm`` decoder's variables (no loss reads them), several spellings:

* ``s1``: greedy ``argmax`` fed back through the embedding, built BEFORE the optimizer (solver.py's order); ids
  ``transpose(stack(ids), [1, 0])`` -> ``s1_ids``, attention weights ``transpose(stack(alphas), (1, 0, 2))`` ->
  ``s1_alphas`` (a histogram summary reads it), the final ``c`` kept (``s1_final_c``: not a prediction);
* ``s2``: ids ``concat([expand_dims(id, 1) ...], 1)`` -> ``s2_ids``, ``stack(alphas, axis=1)`` -> ``s2_alphas``,
  its own start token;
* ``s3``: ``softmax`` probabilities, the next word their argmax: ``stack(probs, 1)`` -> ``s3_probs``;
* ``s4``: ids from ``tf.nn.top_k`` (an op the whole-model translator does not render): ``s4_topk``;
* negative controls: ``train_pred`` (argmax of the training logits), ``accuracy`` (against the labels, summarised),
  ``s5_draws`` (``tf.random.categorical``: not a prediction op), ``prime_probs`` (a one-step model with its own
  ``prime`` placeholder).
"""
from __future__ import annotations

import os

import numpy as np

import migration  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import legacy_rnn
import tensorflow as tf
from tests.checkpoint.tf1_values import FAST, load_values

v1 = tf.compat.v1
rnn = v1.nn.rnn_cell
B, L, D, T, V, E, H = 3, 4, 5, 4, 11, 6, 7
START = 1
#: the sampler outputs the default whole model must return, and the terminal tensors it must leave out
PICKED = ["s1_ids", "s1_alphas", "s2_ids", "s2_alphas", "s3_probs"]
LEFT_OUT = ["s4_topk", "train_pred", "accuracy", "s1_final_c", "s5_draws", "prime_probs"]


class _Decoder:
    """One hand-stepped attention decoder (all calls share its variables through AUTO_REUSE scopes)."""

    def __init__(self, name: str, cell, features, emb, init=None) -> None:
        self.name, self.cell, self.features, self.emb, self.init = name, cell, features, emb, init

    def attend(self, h):
        with v1.variable_scope(f"{self.name}_att", reuse=v1.AUTO_REUSE):
            w = v1.get_variable("w", [h.shape[-1], D])
            b = v1.get_variable("b", [D])
            score = tf.reduce_sum(self.features * tf.expand_dims(tf.matmul(h, w) + b, 1), 2)
            alpha = tf.nn.softmax(score)
            return tf.reduce_sum(self.features * tf.expand_dims(alpha, 2), 1), alpha

    def start(self):
        if self.init is not None:
            return self.init()
        return self.cell.zero_state(tf.shape(self.features)[0], tf.float32)

    def step(self, word, state, mix=None):
        h = tf.nest.flatten(state)[-1]
        ctx, alpha = self.attend(h)
        with v1.variable_scope(self.name, reuse=v1.AUTO_REUSE):
            out, state = self.cell(tf.concat([tf.nn.embedding_lookup(self.emb, word), ctx], 1), state)
            if mix is not None:  # the negative control: h mixed with the context through another variable
                state = rnn.LSTMStateTuple(state.c, state.h + tf.matmul(ctx, mix))
        with v1.variable_scope(f"{self.name}_head", reuse=v1.AUTO_REUSE):
            logits = v1.layers.dense(tf.concat([out, ctx], 1), V, name="out")
        return logits, state, alpha


def _greedy(dec: _Decoder, first, pick=lambda logits: tf.argmax(logits, 1, output_type=tf.int32)):
    state, word, ids, alphas, probs = dec.start(), first, [], [], []
    for _ in range(T):
        logits, state, alpha = dec.step(word, state)
        word = pick(logits)
        ids.append(word)
        alphas.append(alpha)
        probs.append(logits)
    return ids, alphas, probs, state


def build(directory: str, seed: int = 31) -> tuple[str, list[str]]:
    """Build, randomize (asymmetric, non-zero biases) and save. Returns the checkpoint prefix and the names of the
    training logits the loss consumes (per decoder, per step)."""
    with legacy_rnn.new_graph(seed) as graph:
        features = v1.placeholder(tf.float32, [None, L, D], "features")
        captions = v1.placeholder(tf.int32, [None, T + 1], "captions")
        emb = v1.get_variable("emb", [V, E])
        mean = tf.reduce_mean(features, 1)

        def learned():
            with v1.variable_scope("init", reuse=v1.AUTO_REUSE):
                return rnn.LSTMStateTuple(tf.tanh(v1.layers.dense(mean, H, name="c")),
                                          tf.tanh(v1.layers.dense(mean, H, name="h")))

        lstm = _Decoder("lstm", rnn.BasicLSTMCell(H), features, emb, learned)
        decoders = [lstm, _Decoder("gru", rnn.GRUCell(5), features, emb),
                    _Decoder("stack", rnn.MultiRNNCell([rnn.LSTMCell(6), rnn.LSTMCell(4)]), features, emb),
                    _Decoder("mixed", rnn.BasicLSTMCell(4), features, emb)]
        w_mix = v1.get_variable("w_mix", [D, 4])
        loss, logits_names, train_logits = 0.0, [], []
        for dec in decoders:
            state = dec.start()
            for t in range(T):
                logits, state, _ = dec.step(captions[:, t], state, w_mix if dec.name == "mixed" else None)
                if dec.name in ("stack", "mixed"):  # blocks of their own, outside the loss (and the whole model)
                    continue
                logits_names.append(logits.name)
                train_logits.append(logits)
                loss += tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=captions[:, t + 1],
                                                                                    logits=logits))
        first = tf.fill([tf.shape(features)[0]], START)
        ids, alphas, _, final = _greedy(lstm, first)  # s1, before the optimizer
        tf.transpose(tf.stack(ids), [1, 0], name="s1_ids")
        v1.summary.histogram("s1_alphas_hist", tf.transpose(tf.stack(alphas), (1, 0, 2), name="s1_alphas"))
        tf.identity(final.c, name="s1_final_c")
        v1.train.AdamOptimizer(0.01).minimize(loss)
        pred = tf.stack([tf.argmax(x, 1, output_type=tf.int32) for x in train_logits[:T]], 1, name="train_pred")
        v1.summary.scalar("acc", tf.reduce_mean(tf.cast(tf.equal(pred, captions[:, 1:]), tf.float32),
                                                name="accuracy"))
        ids, alphas, _, _ = _greedy(lstm, tf.fill([tf.shape(features)[0]], START + 1))  # s2
        tf.concat([tf.expand_dims(i, 1) for i in ids], 1, name="s2_ids")
        tf.stack(alphas, axis=1, name="s2_alphas")
        probs = []

        def softmax_pick(logits):
            probs.append(tf.nn.softmax(logits))
            return tf.argmax(probs[-1], 1, output_type=tf.int32)

        _greedy(lstm, first, softmax_pick)  # s3
        tf.stack(probs, 1, name="s3_probs")
        ids, _, _, _ = _greedy(lstm, first, lambda x: tf.reshape(tf.nn.top_k(x, 1)[1], [-1]))  # s4
        tf.stack(ids, 1, name="s4_topk")
        ids, _, _, _ = _greedy(lstm, first, lambda x: tf.reshape(tf.random.categorical(x, 1, tf.int32), [-1]))
        tf.stack(ids, 1, name="s5_draws")
        prime = v1.placeholder(tf.int32, [None], "prime")
        logits, _, _ = lstm.step(prime, lstm.start())
        tf.nn.softmax(logits, name="prime_probs")
        sess = v1.Session(graph=graph, config=FAST)
        sess.run(v1.global_variables_initializer())
        rng = np.random.default_rng(seed)
        load_values(sess, [(var, rng.uniform(-0.7, 0.7, var.shape.as_list()).astype(np.float32)
                                 + (0.1 if var.shape.rank == 1 else 0.0))
                                for var in v1.trainable_variables()])  # the Adam slots keep their initial values
        os.makedirs(directory, exist_ok=True)
        prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
        sess.close()
        return prefix, logits_names
