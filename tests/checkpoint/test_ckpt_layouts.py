"""Checkpoint layouts real TF1 programs left behind: EMA shadows, pre-TF-1.2 names, tutorial dense heads, slots under
a custom scope, several Adams, Ftrl and Adadelta. Every checkpoint is written by ``tf.compat.v1.train.Saver`` from a
real graph with random values; outputs are compared with the original graph's.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import legacy_rnn
import modern_rnn
from conftest import B, T, randomize, save
from legacy_rnn import tf, v1
from migration import converters
from migration.checkpoint import inspect_checkpoint
from migration.checkpoint.recognize import KERAS_OPTIMIZERS
from tests.checkpoint.tf1_values import FAST

D = 3


def _keras_block_output(block, prefix: str, x: np.ndarray) -> np.ndarray:
    """Rebuild a unidirectional recognized block with modern_rnn and its converted weights (read by the keys the
    recognizer chose); returns the sequence output."""
    reader = tf.train.load_checkpoint(prefix)
    cells, weights = [], []
    for info in block.directions[""]:
        cells.append(modern_rnn.cell_from_spec(info.spec))
        weights.append(converters.cell_to_keras(info.spec, {n: reader.get_tensor(k) for n, k in info.variables.items()},
                                                info.input_size))
    top = cells[0] if len(cells) == 1 else modern_rnn.multi_rnn_cell(cells)
    modern_rnn.dynamic_rnn(top, x)
    for cell, w in zip(cells, weights):
        cell.set_weights(w)
    return modern_rnn.dynamic_rnn(top, x)[0].numpy()


@pytest.fixture(scope="module")
def ema_ckpt(tmp_path_factory):
    """BasicLSTMCell + dense head + Adam + ExponentialMovingAverage over the trainable variables."""
    x_np = np.random.default_rng(3).normal(0, 1, (B, T, D)).astype(np.float32)
    with legacy_rnn.new_graph(3) as graph:
        x = v1.placeholder(tf.float32, [B, T, D])
        out, _ = legacy_rnn.dynamic_rnn(legacy_rnn.basic_lstm_cell(4), x)
        logits = v1.layers.dense(out[:, -1], 2, name="logits")
        v1.train.AdamOptimizer(0.01).minimize(tf.reduce_sum(logits ** 2))
        ema = v1.train.ExponentialMovingAverage(0.99)
        ema.apply(v1.trainable_variables())
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 3)
            raw = sess.run(out, {x: x_np})
            for var in v1.trainable_variables():  # run the original graph on the averaged weights
                var.load(sess.run(ema.average(var)), sess)
            averaged = sess.run(out, {x: x_np})
            for var in v1.trainable_variables():
                var.load(np.zeros(var.shape, np.float32) + 0.123, sess)  # the raw values saved below differ again
            randomize(sess, 4, skip=[r"ExponentialMovingAverage$"])
            raw = sess.run(out, {x: x_np})
            prefix = save(sess, tmp_path_factory.mktemp("ema"))
    return prefix, x_np, raw, averaged


def test_ema_shadows_listed_by_default_and_converted_with_use_ema(ema_ckpt):
    prefix, x_np, raw, averaged = ema_ckpt
    plain = inspect_checkpoint(prefix)
    shadows = [u for u in plain.unrecognized if u.name.endswith("/ExponentialMovingAverage")]
    assert len(shadows) == 4 and all("--use-ema" in u.reason and not u.rnn_like for u in shadows)
    assert plain.convertible and not [u for u in plain.unrecognized if u not in shadows]
    assert abs(_keras_block_output(plain.blocks[0], prefix, x_np) - raw).max() < 1e-5

    ema = inspect_checkpoint(prefix, use_ema=True)
    assert not ema.unrecognized and ema.convertible
    cell = ema.blocks[0].directions[""][0]
    assert cell.variables["kernel"] == "rnn/basic_lstm_cell/kernel/ExponentialMovingAverage"
    assert ema.dense[0].kernel == "logits/kernel/ExponentialMovingAverage"
    (opt,) = ema.optimizers  # the Adam slots follow their variable to the shadow
    assert opt.slots["rnn/basic_lstm_cell/kernel/ExponentialMovingAverage"]["m"] == "rnn/basic_lstm_cell/kernel/Adam"
    out = _keras_block_output(ema.blocks[0], prefix, x_np)
    assert abs(out - averaged).max() < 1e-5 and abs(out - raw).max() > 1e-3


# --- names from before TF 1.2 --------------------------------------------------------------------------------------

OLD_NAMES = {  # TF 2.21 name (what the graph below creates) -> the name older TF versions wrote
    "old10/rnn/basic_lstm_cell/kernel": "old10/rnn/basic_lstm_cell/weights",
    "old10/rnn/basic_lstm_cell/bias": "old10/rnn/basic_lstm_cell/biases",
    "old09/rnn/multi_rnn_cell/cell_0/gru_cell/gates/kernel": "old09/RNN/MultiRNNCell/Cell0/GRUCell/Gates/Linear/Matrix",
    "old09/rnn/multi_rnn_cell/cell_0/gru_cell/gates/bias": "old09/RNN/MultiRNNCell/Cell0/GRUCell/Gates/Linear/Bias",
    "old09/rnn/multi_rnn_cell/cell_0/gru_cell/candidate/kernel":
        "old09/RNN/MultiRNNCell/Cell0/GRUCell/Candidate/Linear/Matrix",
    "old09/rnn/multi_rnn_cell/cell_0/gru_cell/candidate/bias": "old09/RNN/MultiRNNCell/Cell0/GRUCell/Candidate/Linear/Bias",
    "old09/rnn/multi_rnn_cell/cell_1/lstm_cell/kernel": "old09/RNN/MultiRNNCell/Cell1/LSTMCell/W_0",
    "old09/rnn/multi_rnn_cell/cell_1/lstm_cell/bias": "old09/RNN/MultiRNNCell/Cell1/LSTMCell/B",
    "old09/rnn/multi_rnn_cell/cell_1/lstm_cell/w_f_diag": "old09/RNN/MultiRNNCell/Cell1/LSTMCell/W_F_diag",
    "old09/rnn/multi_rnn_cell/cell_1/lstm_cell/w_i_diag": "old09/RNN/MultiRNNCell/Cell1/LSTMCell/W_I_diag",
    "old09/rnn/multi_rnn_cell/cell_1/lstm_cell/w_o_diag": "old09/RNN/MultiRNNCell/Cell1/LSTMCell/W_O_diag",
}


@pytest.fixture(scope="module")
def old_names_ckpt(tmp_path_factory):
    """A real TF 2.21 graph (BasicLSTMCell; MultiRNNCell[GRUCell, LSTMCell(peepholes)]) run with random weights, then
    saved by a Saver under the names TF 1.0-1.1 (``weights``/``biases``) and TF <= 0.12 (``RNN/MultiRNNCell/Cell0/
    GRUCell/Gates/Linear/Matrix``, ``LSTMCell/W_0``, ``B``, ``W_F_diag``) gave them."""
    x_np = np.random.default_rng(5).normal(0, 1, (B, T, D)).astype(np.float32)
    with legacy_rnn.new_graph(5) as graph:
        x = v1.placeholder(tf.float32, [B, T, D])
        with v1.variable_scope("old10"):
            a = legacy_rnn.dynamic_rnn(legacy_rnn.basic_lstm_cell(4), x)[0]
        with v1.variable_scope("old09"):
            cell = legacy_rnn.multi_rnn_cell([legacy_rnn.gru_cell(4), legacy_rnn.lstm_cell(3, use_peepholes=True)])
            b = legacy_rnn.dynamic_rnn(cell, x)[0]
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 5)
            ref = sess.run({"old10": a, "old09": b}, {x: x_np})
            by_name = {OLD_NAMES[v.op.name]: v for v in v1.global_variables()}
            directory = tmp_path_factory.mktemp("old")
            # no .meta: this graph names its variables the new way, a pre-1.2 one would match the old names
            prefix = v1.train.Saver(by_name).save(sess, os.path.join(str(directory), "model.ckpt"),
                                                  write_meta_graph=False)
    return prefix, x_np, ref


def test_pre_tf12_names_recognized_and_converted(old_names_ckpt):
    prefix, x_np, ref = old_names_ckpt
    insp = inspect_checkpoint(prefix)
    assert not insp.unrecognized and insp.convertible
    blocks = {b.scope.split("/")[0]: b for b in insp.blocks}
    lstm = blocks["old10"].directions[""][0]
    assert (lstm.spec.kind, lstm.variables["kernel"]) == ("basic_lstm", "old10/rnn/basic_lstm_cell/weights")
    gru, peep = blocks["old09"].directions[""]
    assert (gru.spec.kind, peep.spec.kind, peep.spec.use_peepholes) == ("gru", "lstm", True)
    assert gru.variables["gates/kernel"] == "old09/RNN/MultiRNNCell/Cell0/GRUCell/Gates/Linear/Matrix"
    for scope in ("old10", "old09"):
        assert abs(_keras_block_output(blocks[scope], prefix, x_np) - ref[scope]).max() < 1e-5


# --- tutorial dense heads, optimizer slots -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def heads_ckpt(tmp_path_factory):
    """softmax_w/softmax_b (PTB), W + output/b, a weights/biases dict of tf.Variables (kernels created first, hidden
    size == classes so that consecutive pairing would be wrong), RMSProp under variable_scope('Optimizer'), and the
    dense heads trained by Ftrl and Adadelta."""
    with legacy_rnn.new_graph(6) as graph:
        x = v1.placeholder(tf.float32, [B, T, D])
        out, _ = legacy_rnn.dynamic_rnn(legacy_rnn.gru_cell(4), x)
        h = out[:, -1]
        softmax_w, softmax_b = v1.get_variable("softmax_w", [4, 5]), v1.get_variable("softmax_b", [5])
        with tf.name_scope("output"):
            w = v1.get_variable("W", [4, 3])
            b = tf.Variable(tf.zeros([3]), name="b")
        weights = {"h": tf.Variable(tf.zeros([4, 4])), "out": tf.Variable(tf.zeros([4, 4]))}
        biases = {"h": tf.Variable(tf.zeros([4])), "out": tf.Variable(tf.zeros([4]))}
        mlp = tf.matmul(tf.matmul(h, weights["h"]) + biases["h"], weights["out"]) + biases["out"]
        loss = tf.reduce_sum((tf.matmul(h, softmax_w) + softmax_b) ** 2) + tf.reduce_sum(mlp ** 2)
        rnn_vars = [v for v in v1.trainable_variables() if v.op.name.startswith("rnn/")]
        with v1.variable_scope("Optimizer"):
            v1.train.RMSPropOptimizer(0.01).minimize(loss, var_list=rnn_vars)
        v1.train.FtrlOptimizer(0.01).minimize(loss, var_list=[softmax_w, softmax_b])
        v1.train.AdadeltaOptimizer(0.01).minimize(loss, var_list=[w, b] + list(weights.values()) +
                                                  list(biases.values()))
        v1.train.AdamOptimizer(0.01, name="MyAdam").minimize(tf.reduce_sum(tf.matmul(h, w) + b))
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 6)
            return save(sess, tmp_path_factory.mktemp("heads"))


def test_tutorial_dense_heads(heads_ckpt):
    insp = inspect_checkpoint(heads_ckpt)
    heads = {d.name: (d.kernel, d.bias) for d in insp.dense}
    assert heads["softmax"] == ("softmax_w", "softmax_b")
    assert heads["output"] == ("W", "output/b")
    assert heads["Variable"] == ("Variable", "Variable_2") and heads["Variable_1"] == ("Variable_1", "Variable_3")


def test_slots_under_custom_scope_ftrl_adadelta_and_custom_adam(heads_ckpt):
    insp = inspect_checkpoint(heads_ckpt)
    opts = {o.name: o for o in insp.optimizers}
    rms = opts["RMSProp"].slots["rnn/gru_cell/gates/kernel"]
    assert rms == {"rms": "Optimizer/rnn/gru_cell/gates/kernel/RMSProp",
                   "momentum": "Optimizer/rnn/gru_cell/gates/kernel/RMSProp_1"}
    assert opts["Ftrl"].kind == "ftrl" and set(opts["Ftrl"].slots["softmax_w"]) == {"accumulator", "linear"}
    assert opts["Adadelta"].kind == "adadelta" and opts["Adadelta"].slots["Variable"] == {
        "accum": "Variable/Adadelta", "accum_update": "Variable/Adadelta_1"}
    assert opts["MyAdam"].kind == "adam" and opts["MyAdam"].slots["W"] == {"m": "W/MyAdam", "v": "W/MyAdam_1"}
    assert set(opts["MyAdam"].counters) == {"beta1_power", "beta2_power"}
    assert KERAS_OPTIMIZERS["ftrl"][0] == "Ftrl" and KERAS_OPTIMIZERS["adadelta"][1]["accum"] == "accum_grad"
    assert not [u for u in insp.unrecognized if "slot" in u.reason], insp.unrecognized


def test_second_adam_on_the_same_variables_is_its_own_optimizer(tmp_path):
    with legacy_rnn.new_graph(7) as graph:
        x = v1.placeholder(tf.float32, [B, T, D])
        out, _ = legacy_rnn.dynamic_rnn(legacy_rnn.basic_rnn_cell(3), x)
        loss = tf.reduce_sum(out ** 2)
        v1.train.AdamOptimizer(0.01).minimize(loss)
        v1.train.AdamOptimizer(0.02).minimize(loss)
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 7)
            prefix = save(sess, tmp_path)
    insp = inspect_checkpoint(prefix)
    first, second = sorted(insp.optimizers, key=lambda o: o.name)
    assert (first.name, second.name) == ("Adam", "Adam_2")
    assert first.counters == {"beta1_power": "beta1_power", "beta2_power": "beta2_power"}
    assert second.counters == {"beta1_power": "beta1_power_1", "beta2_power": "beta2_power_1"}
    assert not second.slots  # the same variables: only one optimizer state per variable is migrated ...
    listed = [u for u in insp.unrecognized if "/Adam_2" in u.name or "/Adam_3" in u.name]
    assert len(listed) == 4 and all("second adam optimizer on the same variable" in u.reason for u in listed)
