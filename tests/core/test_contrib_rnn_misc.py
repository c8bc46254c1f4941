"""The rest of TF 1.15's tf.contrib.rnn (legacy_rnn.contrib_rnn_misc): each name against TensorFlow's own ops or a
NumPy reference of TF 1.15's maths, with seeded asymmetric weights and non-zero biases; negative controls where a
wrong wiring would pass a weaker check."""
from __future__ import annotations

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import contrib_rnn as rnn
from legacy_rnn import tf, v1

RNG = np.random.default_rng(2024)


def _run(fetches, feed=None, init=True):
    sess = legacy_rnn.new_session(v1.get_default_graph())
    if init:
        sess.run(v1.global_variables_initializer())
    return sess, sess.run(fetches, feed)


def _set(sess, values: dict):
    for var in v1.global_variables():
        key = var.op.name.split("/")[-1]
        if key in values:
            var.load(values[key], sess)


def test_transpose_batch_time_and_batch_size_equal_tensorflows_own():
    from tensorflow.python.ops import rnn as tf_rnn  # TF's private originals, the ground truth

    with legacy_rnn.new_graph():
        x3 = v1.placeholder(tf.float32, [None, 5, 2])
        x4 = tf.constant(RNG.normal(size=(3, 4, 2, 2)).astype(np.float32))
        x1 = tf.constant([1.0, 2.0])
        ours = [rnn.transpose_batch_time(t) for t in (x3, x4)]
        theirs = [tf_rnn._transpose_batch_time(t) for t in (x3, x4)]
        assert [o.shape.as_list() for o in ours] == [t.shape.as_list() for t in theirs] == [[5, None, 2], [4, 3, 2, 2]]
        assert rnn.transpose_batch_time(x1) is x1
        feed = {x3: RNG.normal(size=(6, 5, 2))}
        _, (a, b) = _run([ours, theirs], feed, init=False)
        for o, t in zip(a, b):
            np.testing.assert_array_equal(o, t)
        assert rnn.best_effort_input_batch_size([x3, x4]) == 5 == tf_rnn._best_effort_input_batch_size([x3, x4])
        assert rnn.best_effort_input_batch_size([x4]) == 4 == tf_rnn._best_effort_input_batch_size([x4])
        unknown = v1.placeholder(tf.float32, [5, None, 2])
        assert rnn.best_effort_input_batch_size([unknown, x3]) == 5  # the first static size found
        dynamic = rnn.best_effort_input_batch_size([unknown, v1.placeholder(tf.float32)])
        assert isinstance(dynamic, tf.Tensor)
        assert _run(dynamic, {unknown: np.zeros((5, 7, 2))}, init=False)[1] == 7
        with pytest.raises(ValueError, match="rank at least 2"):
            rnn.best_effort_input_batch_size([x1])


def _np_rnn(x, w, b, h):
    """BasicRNNCell steps: h = tanh([x, h] @ w + b); x is [T, B, D] time-major."""
    out = []
    for t in range(x.shape[0]):
        h = np.tanh(np.concatenate([x[t], h], 1) @ w + b)
        out.append(h)
    return np.stack(out), h


@pytest.mark.parametrize("dynamic", [True, False])
def test_fused_adaptor_and_time_reversed_equal_numpy(dynamic):
    T, B, D, U = 5, 3, 2, 4
    xs = RNG.normal(size=(T, B, D)).astype(np.float32)
    w = RNG.normal(0, 0.6, (D + U, U)).astype(np.float32)
    bias = RNG.normal(0, 0.3, U).astype(np.float32)
    lengths = np.array([5, 2, 4], np.int32)
    with legacy_rnn.new_graph():
        x = v1.placeholder(tf.float32, [T, B, D])
        seq = v1.placeholder(tf.int32, [B])
        fw = rnn.FusedRNNCellAdaptor(rnn.BasicRNNCell(U), use_dynamic_rnn=dynamic)
        out_t, st_t = fw(x, dtype=tf.float32, scope="fw")
        out_l, st_l = fw(tf.unstack(x), dtype=tf.float32, scope="fw_list")
        bw = rnn.TimeReversedFusedRNN(rnn.FusedRNNCellAdaptor(rnn.BasicRNNCell(U), use_dynamic_rnn=dynamic))
        out_r, st_r = bw(x, dtype=tf.float32, sequence_length=seq, scope="bw")
        assert isinstance(out_l, list) and len(out_l) == T and not isinstance(out_t, list)
        sess = legacy_rnn.new_session(v1.get_default_graph())
        sess.run(v1.global_variables_initializer())
        for var in v1.global_variables():
            var.load(w if var.op.name.endswith("kernel") else bias, sess)
        got = sess.run([out_t, st_t, out_l, st_l, out_r, st_r], {x: xs, seq: lengths})
    ref_out, ref_h = _np_rnn(xs, w, bias, np.zeros((B, U), np.float32))
    for o, s in ((got[0], got[1]), (np.stack(got[2]), got[3])):
        np.testing.assert_allclose(o, ref_out, atol=1e-5)
        np.testing.assert_allclose(s, ref_h, atol=1e-5)
    for k, n in enumerate(lengths):  # each sequence reversed within its own length, zeros past it
        o, h = _np_rnn(xs[:n, k:k + 1][::-1], w, bias, np.zeros((1, U), np.float32))
        np.testing.assert_allclose(got[4][:n, k], o[::-1, 0], atol=1e-5)
        np.testing.assert_allclose(got[4][n:, k], 0.0)
        np.testing.assert_allclose(got[5][k], h[0], atol=1e-5)
    assert np.abs(got[4][:2, 1] - ref_out[:2, 1]).max() > 1e-3  # control: reversed is not the forward run


def test_lstm_block_wrapper_runs_a_subclass_and_picks_each_final_state():
    class Cumulative(rnn.LSTMBlockWrapper):  # a made-up fused "LSTM": c = running sum, h = tanh(c)
        num_units = 2

        def _call_cell(self, inputs, initial_cell_state, initial_output, dtype, sequence_length):
            cs = tf.cumsum(inputs, axis=0) + initial_cell_state
            return cs, tf.tanh(cs)

    with pytest.raises(TypeError):
        rnn.LSTMBlockWrapper()
    xs = RNG.normal(size=(4, 3, 2)).astype(np.float32)
    with legacy_rnn.new_graph():
        out, (c, h) = Cumulative()(tf.constant(xs), sequence_length=tf.constant([4, 1, 0]))
        _, (o, cv, hv) = _run([out, c, h], init=False)
    cs = np.cumsum(xs, 0)
    np.testing.assert_allclose(o, np.tanh(cs), atol=1e-6)
    np.testing.assert_allclose(cv, [cs[3, 0], cs[0, 1], [0, 0]], atol=1e-6)  # length 0: the initial state
    np.testing.assert_allclose(hv, [np.tanh(cs[3, 0]), np.tanh(cs[0, 1]), [0, 0]], atol=1e-6)


@pytest.mark.parametrize("couple", [True, False])
def test_highway_wrapper_equals_tf115_maths(couple):
    T, B, D = 4, 3, 3
    xs = RNG.normal(size=(B, T, D)).astype(np.float32)
    values = {"kernel": RNG.normal(0, 0.5, (2 * D, D)), "bias": RNG.normal(0, 0.2, D),
              "carry_w": RNG.normal(0, 0.5, (D, D)), "carry_b": RNG.normal(0.5, 0.2, D),
              "transform_w": RNG.normal(0, 0.5, (D, D)), "transform_b": RNG.normal(-0.5, 0.2, D)}
    with legacy_rnn.new_graph():
        x = v1.placeholder(tf.float32, [None, T, D])
        cell = rnn.HighwayWrapper(rnn.BasicRNNCell(D), couple_carry_transform_gates=couple, carry_bias_init=0.7)
        out, state = v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        names = sorted(v.op.name for v in v1.global_variables())
        sess = legacy_rnn.new_session(v1.get_default_graph())
        sess.run(v1.global_variables_initializer())
        start = {v.op.name: sess.run(v) for v in v1.global_variables()}
        _set(sess, values)
        got, st = sess.run([out, state], {x: xs})
    extra = [] if couple else ["rnn/transform_b", "rnn/transform_w"]
    assert names == sorted(["rnn/basic_rnn_cell/bias", "rnn/basic_rnn_cell/kernel", "rnn/carry_b", "rnn/carry_w"]
                           + extra)  # TF 1.15: in the calling scope, not the cell's
    np.testing.assert_allclose(start["rnn/carry_b"], 0.7)
    if not couple:
        np.testing.assert_allclose(start["rnn/transform_b"], -0.7)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    h = np.zeros((B, D))
    for t in range(T):
        inner = np.tanh(np.concatenate([xs[:, t], h], 1) @ values["kernel"] + values["bias"])
        carry = sig(xs[:, t] @ values["carry_w"] + values["carry_b"])
        transform = 1 - carry if couple else sig(xs[:, t] @ values["transform_w"] + values["transform_b"])
        np.testing.assert_allclose(got[:, t], xs[:, t] * carry + inner * transform, atol=1e-5)
        h = inner  # the state is the wrapped cell's, not the highway output
    np.testing.assert_allclose(st, h, atol=1e-5)
    assert np.abs(got[:, -1] - h).max() > 1e-3  # control: the output is not the bare cell's


def test_highway_wrapper_needs_matching_sizes():
    with legacy_rnn.new_graph():
        with pytest.raises(ValueError):
            v1.nn.dynamic_rnn(rnn.HighwayWrapper(rnn.BasicRNNCell(4)), v1.placeholder(tf.float32, [None, 3, 2]),
                              dtype=tf.float32)


def test_compiled_wrapper_marks_the_step_for_xla_and_keeps_its_values():
    xs = RNG.normal(size=(2, 4, 3)).astype(np.float32)
    results, marked = [], []
    for wrap in (True, False):
        with legacy_rnn.new_graph() as graph:
            v1.set_random_seed(5)
            cell = rnn.GRUCell(3, kernel_initializer=v1.glorot_uniform_initializer(seed=1),
                               bias_initializer=v1.constant_initializer(0.3))
            cell = rnn.CompiledWrapper(cell) if wrap else cell
            out, _ = v1.nn.dynamic_rnn(cell, tf.constant(xs), dtype=tf.float32)
            names = sorted(v.op.name for v in v1.global_variables())
            _, value = _run(out)
            functions = graph.as_graph_def().library.function
            marked.append(sum("_XlaCompile" in n.attr for f in functions for n in f.node_def))
            results.append((names, value))
    assert results[0][0] == results[1][0]  # no variable of its own
    np.testing.assert_allclose(results[0][1], results[1][1], atol=1e-6)
    assert marked[0] > 0 and marked[1] == 0


def test_conv_nd_lstm_cells_are_convlstm_under_their_own_names():
    xs = RNG.normal(size=(2, 3, 5, 4, 2)).astype(np.float32)
    outs = []
    for make in (lambda: rnn.Conv2DLSTMCell(input_shape=[5, 4, 2], output_channels=3, kernel_shape=[3, 2],
                                            forget_bias=0.5),
                 lambda: rnn.ConvLSTMCell(2, [5, 4, 2], 3, [3, 2], forget_bias=0.5, name="conv_2d_lstm_cell")):
        with legacy_rnn.new_graph():
            out, _ = v1.nn.dynamic_rnn(make(), tf.constant(xs), dtype=tf.float32)
            sess = legacy_rnn.new_session(v1.get_default_graph())
            sess.run(v1.global_variables_initializer())
            names = sorted(v.op.name for v in v1.global_variables())
            for k, var in enumerate(sorted(v1.global_variables(), key=lambda v: v.op.name)):
                var.load(np.random.default_rng(k).normal(0, 0.3, var.shape.as_list()), sess)
            outs.append((names, sess.run(out)))
    assert outs[0][0] == outs[1][0] == ["rnn/conv_2d_lstm_cell/biases", "rnn/conv_2d_lstm_cell/kernel"]  # TF 1.15: biases
    np.testing.assert_allclose(outs[0][1], outs[1][1], atol=1e-6)
    for cls, shape, kernel, name in ((rnn.Conv1DLSTMCell, [6, 2], [3], "conv_1d_lstm_cell"),
                                     (rnn.Conv3DLSTMCell, [3, 3, 3, 2], [2, 2, 2], "conv_3d_lstm_cell")):
        with legacy_rnn.new_graph():
            v1.nn.dynamic_rnn(cls(input_shape=shape, output_channels=2, kernel_shape=kernel),
                              v1.placeholder(tf.float32, [None, 2] + shape), dtype=tf.float32)
            kernels = [v for v in v1.global_variables() if v.op.name.endswith("kernel")]
            assert [v.op.name for v in kernels] == [f"rnn/{name}/kernel"]
            assert kernels[0].shape.as_list() == kernel + [2 + 2, 4 * 2]


def test_layer_rnn_cell_is_tf1s_base_and_builds_in_build():
    assert issubclass(rnn.BasicRNNCell, rnn.LayerRNNCell) and issubclass(rnn.GRUCell, rnn.LayerRNNCell)

    class Scaled(rnn.LayerRNNCell):  # a user's own TF1 cell: h = tanh(x @ w) * 0.5 + h * 0.5
        state_size = output_size = 2

        def build(self, shape):
            self.w = self.add_weight("w", [shape[-1], 2], initializer=v1.constant_initializer(0.25))
            self.built = True

        def call(self, x, h):
            new = tf.tanh(tf.matmul(x, self.w)) * 0.5 + h * 0.5
            return new, new

    xs = np.arange(12, dtype=np.float32).reshape(1, 4, 3) / 10
    with legacy_rnn.new_graph():
        out, _ = v1.nn.dynamic_rnn(Scaled(name="scaled"), tf.constant(xs), dtype=tf.float32)
        assert [v.op.name for v in v1.global_variables()] == ["rnn/scaled/w"]
        _, value = _run(out)
    h = np.zeros(2)
    for t in range(4):
        h = np.tanh(xs[0, t] @ np.full((3, 2), 0.25)) * 0.5 + h * 0.5
        np.testing.assert_allclose(value[0, t], h, atol=1e-6)
