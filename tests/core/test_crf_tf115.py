"""TF 1.15 conformance of the tf.contrib.crf pieces issue 22 added (crf_unary_score, crf_binary_score,
crf_multitag_sequence_score, the three CRF RNN cells) and of the 1.15 constructor arguments of the contrib block cells
(LSTMBlockFusedCell(reuse=, dtype=) and its call's scope=, LSTMBlockCell(dtype=, reuse=), GRUBlockCell(cell_size=)).

crf_test's own numbers are used where it states them (unary score 10, binary score 3); the rest is checked against
brute-force enumeration of every tag path, written here in NumPy."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import legacy_rnn
import modern_rnn
from legacy_rnn import crf, contrib_rnn
from tests.core.harness import FAST_SESSION

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
RNG = np.random.default_rng(1501)
N = 3


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("twin", [crf, modern_rnn.crf])
def test_crf_unary_and_binary_scores_crf_test_numbers(dtype, twin) -> None:
    """crf_test: inputs [[4, 5, -3], [3, -1, 3], [-1, 2, 1], [0, 0, 0]], tags [1, 2, 1, 0], length 3 -> unary 10;
    transitions [[-3, 5, -2], [3, 4, 1], [1, 2, 1]] -> binary 3."""
    inputs = np.array([[4, 5, -3], [3, -1, 3], [-1, 2, 1], [0, 0, 0]], np.float32)[None]
    tags = np.array([[1, 2, 1, 0]], dtype)
    trans = np.array([[-3, 5, -2], [3, 4, 1], [1, 2, 1]], np.float32)
    assert float(twin.crf_unary_score(tags, np.array([3]), inputs)[0]) == 10.0
    assert float(twin.crf_binary_score(tags, np.array([3]), trans)[0]) == 3.0
    assert float(twin.crf_unary_score(tags, np.array([4]), inputs)[0]) == 10.0    # + inputs[3, 0] = 0
    assert float(twin.crf_binary_score(tags, np.array([4]), trans)[0]) == 6.0     # + trans[1, 0] = 3


def _score(x, trans, path) -> float:
    return sum(x[t, y] for t, y in enumerate(path)) + sum(trans[a, b] for a, b in zip(path, path[1:]))


@pytest.mark.parametrize("steps", [1, 3])
def test_crf_multitag_sequence_score_is_logsumexp_over_allowed_paths(steps: int) -> None:
    x = RNG.normal(0, 1, (3, steps, N)).astype(np.float32)
    trans = RNG.normal(0, 1, (N, N)).astype(np.float32)
    bitmap = RNG.random((3, steps, N)) < 0.6
    bitmap[:, :, 0] = True                                   # at least one allowed tag per step
    lengths = np.array([steps, max(1, steps - 1), 1], np.int32)
    got = legacy_rnn.crf.crf_multitag_sequence_score(x, bitmap, lengths, trans).numpy()
    for b, n in enumerate(lengths):
        n = steps if steps == 1 else n                       # T == 1: 1.15's branch ignores the length
        paths = [p for p in itertools.product(range(N), repeat=int(n)) if all(bitmap[b, t, y] for t, y in enumerate(p))]
        scores = np.array([_score(x[b].astype(np.float64), trans, p) for p in paths])
        assert got[b] == pytest.approx(np.log(np.exp(scores).sum()), rel=1e-5)
    everything = legacy_rnn.crf.crf_multitag_sequence_score(x, np.ones_like(bitmap), lengths, trans).numpy()
    np.testing.assert_allclose(everything, legacy_rnn.crf_log_norm(x, lengths, trans).numpy(), rtol=1e-5)


def test_crf_rnn_cells_rebuild_log_norm_and_viterbi() -> None:
    """The 1.15 cells driven by dynamic_rnn as 1.15's crf_log_norm / crf_decode drove them."""
    x = RNG.normal(0, 1, (2, 4, N)).astype(np.float32)
    trans = RNG.normal(0, 1, (N, N)).astype(np.float32)
    lengths = np.array([4, 4], np.int32)
    with tf.Graph().as_default() as graph:
        inputs, t = tf.constant(x), tf.constant(trans)
        fwd = crf.CrfForwardRnnCell(t)
        assert (fwd.state_size, fwd.output_size) == (N, N)
        _, alphas = v1.nn.dynamic_rnn(fwd, inputs[:, 1:], lengths - 1, initial_state=inputs[:, 0])
        log_norm = tf.reduce_logsumexp(alphas, 1)
        backs, last = v1.nn.dynamic_rnn(crf.CrfDecodeForwardRnnCell(t), inputs[:, 1:], lengths - 1,
                                        initial_state=inputs[:, 0], dtype=tf.int32)
        best = tf.cast(tf.argmax(last, 1), tf.int32)[:, None]
        back_cell = crf.CrfDecodeBackwardRnnCell(N)
        assert (back_cell.state_size, back_cell.output_size) == (1, 1)
        earlier, _ = v1.nn.dynamic_rnn(back_cell, tf.reverse(backs, [1]), lengths - 1, initial_state=best)
        path = tf.concat([tf.reverse(earlier[:, :, 0], [1]), best], 1)
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            got_norm, got_path, got_last = sess.run([log_norm, path, tf.reduce_max(last, 1)])
    for b in range(2):
        paths = list(itertools.product(range(N), repeat=4))
        scores = np.array([_score(x[b].astype(np.float64), trans, p) for p in paths])
        assert got_norm[b] == pytest.approx(np.log(np.exp(scores).sum()), rel=1e-5)
        assert list(got_path[b]) == list(paths[int(np.argmax(scores))])
        assert got_last[b] == pytest.approx(scores.max(), rel=1e-5)


def test_block_cells_take_tf_1_15_arguments() -> None:
    """LSTMBlockFusedCell(reuse=True) shares the first cell's variables; scope= names them; LSTMBlockCell(dtype=,
    reuse=); GRUBlockCell(cell_size=) is num_units (1.15's deprecated spelling) and one of the two is required."""
    x = RNG.normal(0, 1, (5, 2, 3)).astype(np.float32)
    with tf.Graph().as_default() as graph:
        first = contrib_rnn.LSTMBlockFusedCell(4)
        out1, _ = first(tf.constant(x), dtype=tf.float32)
        out2, _ = contrib_rnn.LSTMBlockFusedCell(4, reuse=True)(tf.constant(x), dtype=tf.float32)
        out3, _ = contrib_rnn.LSTMBlockFusedCell(4)(tf.constant(x), dtype=tf.float32, scope="encoder")
        out4, _ = contrib_rnn.LSTMBlockFusedCell(4, dtype=tf.float32)(tf.constant(x))
        names = sorted(v.op.name for v in v1.global_variables())
        assert names == ["encoder/bias", "encoder/kernel", "lstm_fused_cell/bias", "lstm_fused_cell/kernel",
                         "lstm_fused_cell_1/bias", "lstm_fused_cell_1/kernel"]
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run(v1.global_variables_initializer())
            a, b, c = sess.run([out1, out2, out3])
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c)                                      # negative control: other weights
    with tf.Graph().as_default():
        with pytest.raises(ValueError):                                   # reuse=True with nothing to reuse
            contrib_rnn.LSTMBlockFusedCell(4, reuse=True)(tf.constant(x), dtype=tf.float32)
        cell = contrib_rnn.LSTMBlockCell(4, dtype=tf.float16, reuse=None, name="blk")   # the kernel: f16/f32 only
        out, _ = v1.nn.dynamic_rnn(cell, tf.constant(x.astype(np.float16)), dtype=tf.float16)
        assert out.dtype == tf.float16 and cell.weights[0].dtype.base_dtype == tf.float16
        assert contrib_rnn.GRUBlockCell(cell_size=6).output_size == 6
        with pytest.raises(ValueError, match="num_units must be specified"):
            contrib_rnn.GRUBlockCell()
