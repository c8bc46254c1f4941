"""Regression tests for the four bugs of issue 22 (TF 1.15 behaviour the rebuilt tf.contrib modules missed):
crf_decode with one time step, BasicDecoder's output dtype, gather_tree's bad-parent message, and
AttentionCellWrapper(None, 0) raising TypeError. Expected values come from NumPy references, never from the code."""
from __future__ import annotations

import re

import numpy as np
import pytest

import legacy_rnn
import modern_rnn
from legacy_rnn import seq2seq as legacy_s2s
from legacy_rnn.wrappers import AttentionCellWrapper, OutputProjectionWrapper
from migration.core import crf_maths
from modern_rnn import seq2seq as modern_s2s
from tests.core.harness import FAST_SESSION

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
RNG = np.random.default_rng(22)
POT = RNG.normal(0, 1, (3, 1, 4)).astype(np.float32)          # [B, T=1, N]
TRANS = RNG.normal(0, 1, (4, 4)).astype(np.float32)
POT3 = RNG.normal(0, 1, (3, 3, 4)).astype(np.float32)          # [B, T=3, N], to check the dynamic-T path
LEN3 = np.array([3, 2, 1], np.int32)


def _run(build, feed=None):
    with tf.Graph().as_default() as graph:
        fetch = build()
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run(v1.global_variables_initializer())
            return sess.run(fetch, feed(graph) if feed else None)


@pytest.mark.parametrize("static_time", [True, False])
def test_crf_decode_one_time_step_is_argmax_and_max(static_time: bool) -> None:
    """TF 1.15 took a length-1 branch: the argmax tag and the max potential (lengths, even 0, not consulted)."""
    lengths = np.array([1, 0, 1], np.int32)

    def build():
        pot = tf.constant(POT) if static_time else v1.placeholder_with_default(POT, [None, None, 4])
        return legacy_rnn.crf_decode(pot, tf.constant(TRANS), tf.constant(lengths))

    tags, best = _run(build)
    np.testing.assert_array_equal(tags, np.argmax(POT[:, 0], 1)[:, None])
    np.testing.assert_allclose(best, POT[:, 0].max(1), rtol=1e-6)
    eager_tags, eager_best = modern_rnn.crf_decode(POT, TRANS, lengths)
    np.testing.assert_array_equal(eager_tags.numpy(), tags)
    np.testing.assert_allclose(eager_best.numpy(), best, rtol=1e-6)


def test_crf_decode_time_known_only_at_run_time_still_runs_viterbi() -> None:
    """Negative control for the branch: a placeholder T of 3 must take the Viterbi path, not the argmax one."""
    tags, best = _run(lambda: legacy_rnn.crf_decode(v1.placeholder_with_default(POT3, [None, None, 4]),
                                                    tf.constant(TRANS), tf.constant(LEN3)))
    for b, n in enumerate(LEN3):
        path, score = crf_maths.viterbi_decode(POT3[b, :n], TRANS)
        np.testing.assert_array_equal(tags[b], path + [0] * (3 - n))
        assert best[b] == pytest.approx(score, rel=1e-5)
    assert any(list(tags[b, :n]) != list(np.argmax(POT3[b, :n], 1)) for b, n in enumerate(LEN3))


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.float32])
def test_basic_decoder_output_dtype_follows_the_cell_state(dtype) -> None:
    """TF 1.15: ``output_dtype.rnn_output`` is the dtype of the initial state (was always float32)."""
    x = RNG.normal(0, 1, (2, 3, 2)).astype(dtype)

    def build():
        cell = v1.nn.rnn_cell.BasicRNNCell(3, dtype=tf.as_dtype(dtype), name="rnn")
        helper = legacy_s2s.TrainingHelper(tf.constant(x), tf.constant([3, 2]))
        decoder = legacy_s2s.BasicDecoder(cell, helper, cell.zero_state(2, tf.as_dtype(dtype)))
        assert decoder.output_dtype == legacy_s2s.BasicDecoderOutput(tf.as_dtype(dtype), tf.int32)
        assert decoder.output_size == legacy_s2s.BasicDecoderOutput(3, tf.TensorShape([]))
        outputs, _, lengths = legacy_s2s.dynamic_decode(decoder)
        kernel, bias = cell.weights
        return outputs.rnn_output, lengths, kernel, bias

    out, lengths, kernel, bias = _run(build)
    assert out.dtype == dtype and list(lengths) == [3, 2]
    h = np.zeros((2, 3), np.float64)
    for t in range(3):
        h = np.tanh(np.concatenate([x[:, t], h], 1) @ kernel + bias)
        tol = 1e-2 if dtype == np.float16 else 1e-6
        np.testing.assert_allclose(out[0, t], h[0], atol=tol)


def test_basic_decoder_output_size_with_an_output_layer() -> None:
    with tf.Graph().as_default():
        cell = v1.nn.rnn_cell.GRUCell(4)
        helper = legacy_s2s.TrainingHelper(tf.zeros([2, 3, 5]), tf.constant([3, 3]))
        decoder = legacy_s2s.BasicDecoder(cell, helper, cell.zero_state(2, tf.float32),
                                          output_layer=v1.layers.Dense(7, use_bias=False))
        assert decoder.output_size.rnn_output.as_list() == [7] and decoder.output_size.sample_id == tf.TensorShape([])
        assert decoder.output_dtype == legacy_s2s.BasicDecoderOutput(tf.float32, tf.int32)
        with pytest.raises(TypeError, match="helper must be a Helper"):
            legacy_s2s.BasicDecoder(cell, object(), cell.zero_state(2, tf.float32))
        with pytest.raises(TypeError, match="is not an RNNCell"):
            legacy_s2s.BasicDecoder(None, helper, None)


STEP_IDS = np.array([[[2, 5, 3]], [[4, 6, 7]], [[1, 8, 9]]], np.int32)     # [T=3, B=1, W=3]


@pytest.mark.parametrize("bad,where", [(-1, "(0, 1, 1)"), (4, "(0, 1, 2)"), (7, "(0, 0, 0)")])
def test_gather_tree_bad_parent_names_batch_time_beam(bad: int, where: str) -> None:
    """TF 1.15's kernel: ``Saw invalid parent id P at (batch, time, beam) == (b, t, w)`` (was a bare gather error)."""
    parents = np.array([[[0, 0, 0]], [[0, 0, 0]], [[0, 1, 2]]], np.int32)
    if where == "(0, 1, 1)":
        parents[2, 0, 1] = bad
    elif where == "(0, 1, 2)":
        parents[2, 0, 2] = bad
    else:
        parents[1, 0, 0] = bad
    message = re.escape(f"Saw invalid parent id {bad} at (batch, time, beam) == {where}")
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _run(lambda: legacy_s2s.gather_tree(STEP_IDS, parents, [3], 10))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        modern_s2s.gather_tree(STEP_IDS, parents, [3], 10)


def test_gather_tree_valid_parents_back_track() -> None:
    """Negative control: valid parents give the back-tracked ids (NumPy back-tracking below), no error."""
    parents = np.array([[[0, 0, 0]], [[2, 0, 1]], [[1, 2, 0]]], np.int32)
    expected = np.zeros_like(STEP_IDS)
    for w in range(3):
        beam = w
        for t in (2, 1, 0):
            expected[t, 0, w] = STEP_IDS[t, 0, beam]
            beam = parents[t, 0, beam]
    assert expected[:, 0, 0].tolist() == [2, 6, 1]      # hand-traced: 1 <- parent 1: 6 <- parent 0: 2
    np.testing.assert_array_equal(_run(lambda: legacy_s2s.gather_tree(STEP_IDS, parents, [3], 10)), expected)
    np.testing.assert_array_equal(modern_s2s.gather_tree(STEP_IDS, parents, [3], 10).numpy(), expected)


@pytest.mark.parametrize("make,valid", [(lambda c: AttentionCellWrapper(c, 0), False),
                                        (lambda c: AttentionCellWrapper(c, 2), True),
                                        (lambda c: OutputProjectionWrapper(c, 3), True)])
def test_wrappers_refuse_a_non_cell_with_type_error(make, valid: bool) -> None:
    """TF 1.15 ``assert_like_rnncell``: TypeError naming the argument (was an AttributeError on ``state_size``)."""
    for not_a_cell in (None, object(), 3):
        with pytest.raises(TypeError, match=r"The argument 'cell' .* is not an RNNCell: 'output_size' property is "
                                            r"missing"):
            make(not_a_cell)
    if valid:   # negative control: a real cell is accepted
        assert make(v1.nn.rnn_cell.BasicRNNCell(2)).output_size in (2, 3)
    else:       # a real cell with attn_length 0 is refused for the length, not the cell
        with pytest.raises(ValueError, match="attn_length"):
            make(v1.nn.rnn_cell.BasicRNNCell(2))
