"""TF 1.15's beam-search internals that its own ``beam_search_decoder_test`` calls (issue 22): ``_beam_search_step``,
``gather_tree_from_array``, ``_check_batch_beam``, and ``BeamSearchDecoder`` over an ``AttentionWrapper`` with
``alignment_history=True`` (the history TensorArray re-sorted by beam in ``finalize``; it was refused before).

Expected values come from NumPy references written here (the logits and the expected ids of TF's test_step are facts
from TF's test file, checked by the reference too).
"""
from __future__ import annotations

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import seq2seq as s2s
from legacy_rnn.seq2seq import beam_step
from tests.core.harness import FAST_SESSION

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
F32_MIN = np.finfo(np.float32).min


def _log_softmax(a):
    a = a - a.max(-1, keepdims=True)
    return a - np.log(np.exp(a).sum(-1, keepdims=True))


def np_beam_step(log_probs, lengths, finished, logits, end, penalty):
    """The GNMT beam step, written from 1.15's docstring: finished beams extend only with ``end`` at no cost."""
    b_, w_, v_ = logits.shape
    step = _log_softmax(logits.astype(np.float64))
    eos_row = np.where(np.arange(v_) == end, 0.0, F32_MIN)
    step = np.where(finished[:, :, None], eos_row, step)
    total = log_probs[:, :, None] + step
    new_len = lengths[:, :, None] + (np.arange(v_) != end)[None, None, :] * (~finished)[:, :, None]
    scores = total / (((5.0 + new_len) / 6.0) ** penalty)
    idx = np.argsort(-scores.reshape(b_, -1), axis=1, kind="stable")[:, :w_]
    rows = np.arange(b_)[:, None]
    word, parent = idx % v_, idx // v_
    prev_fin = finished[rows, parent]
    return dict(predicted_ids=word, parent_ids=parent, log_probs=total.reshape(b_, -1)[rows, idx],
                finished=prev_fin | (word == end), lengths=lengths[rows, parent] + ~prev_fin)


def np_gather_tree_from_array(t, parent, seq_len):
    """Re-sort ``t [T, B, W, ...]`` by back-tracking ``parent [T, B, W]`` from each batch row's longest beam; steps
    at or past a beam's own length keep that beam."""
    steps, batch, width = parent.shape
    out = np.empty_like(t)
    for b in range(batch):
        last = int(seq_len[b].max())
        for w in range(width):
            src, idx = [w] * steps, w
            for time in reversed(range(last)):
                src[time], idx = idx, parent[time, b, idx]
            for time in range(steps):
                out[time, b, w] = t[time, b, src[time] if time < seq_len[b, w] else w]
    return out


def _run(fetch):
    with v1.Session(graph=tf.compat.v1.get_default_graph(), config=FAST_SESSION) as sess:
        sess.run(v1.global_variables_initializer())
        return sess.run(fetch)


TF_LOGITS = np.full([2, 3, 5], 0.0001)
for (i, j, k), v in {(0, 0, 2): 1.9, (0, 0, 3): 2.1, (0, 1, 3): 3.1, (0, 1, 4): 0.9, (1, 0, 1): 0.5, (1, 1, 2): 2.7,
                     (1, 2, 2): 10.0, (1, 2, 3): 0.2}.items():
    TF_LOGITS[i, j, k] = v


def _random_case():
    rng = np.random.default_rng(2215)  # fixed: on this case the length penalty changes the choice
    logits = rng.normal(0, 2.0, (3, 4, 6))
    log_probs = np.log(rng.dirichlet(np.ones(4), 3))
    finished = rng.random((3, 4)) < 0.4
    lengths = rng.integers(1, 4, (3, 4)).astype(np.int64)
    return logits, log_probs, finished, lengths


@pytest.mark.parametrize("case", ["tf_test_step", "random_with_finished_beams"])
def test_beam_search_step_matches_the_numpy_reference(case) -> None:
    if case == "tf_test_step":
        logits, log_probs = TF_LOGITS, _log_softmax(np.ones([2, 3]))
        finished, lengths = np.zeros([2, 3], bool), np.full([2, 3], 2, np.int64)
    else:
        logits, log_probs, finished, lengths = _random_case()
    batch, width = log_probs.shape
    with tf.Graph().as_default():
        state = s2s.BeamSearchDecoderState(
            cell_state=tf.zeros([batch, width]), log_probs=tf.constant(log_probs, tf.float32),
            finished=tf.constant(finished), lengths=tf.constant(lengths), accumulated_attention_probs=())
        out, nxt = beam_step._beam_search_step(
            time=2, logits=tf.constant(logits, tf.float32), next_cell_state=state.cell_state, beam_state=state,
            batch_size=tf.constant(batch), beam_width=width, end_token=0, length_penalty_weight=0.6,
            coverage_penalty_weight=0.0)
        got = _run(dict(predicted_ids=out.predicted_ids, parent_ids=out.parent_ids, log_probs=nxt.log_probs,
                        finished=nxt.finished, lengths=nxt.lengths))
    want = np_beam_step(log_probs, lengths, finished, logits, end=0, penalty=0.6)
    for key in ("predicted_ids", "parent_ids", "finished", "lengths"):
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    np.testing.assert_allclose(got["log_probs"], want["log_probs"], rtol=1e-5)
    if case == "tf_test_step":  # the ids TF 1.15's test_step asserts
        np.testing.assert_array_equal(got["predicted_ids"], [[3, 3, 2], [2, 2, 1]])
        np.testing.assert_array_equal(got["parent_ids"], [[1, 0, 0], [2, 1, 0]])
    else:  # negative control: the length penalty changes the choice on this case
        unpenalised = np_beam_step(log_probs, lengths, finished, logits, end=0, penalty=0.0)
        assert not np.array_equal(unpenalised["parent_ids"] * 10 + unpenalised["predicted_ids"],
                                  want["parent_ids"] * 10 + want["predicted_ids"])


def test_gather_tree_from_array_matches_the_numpy_reference() -> None:
    tf_parent = np.array([[[0, 0, 0], [0, 1, 1], [2, 1, 2], [-1, -1, -1]],
                          [[0, 0, 0], [1, 1, 0], [2, 0, 1], [0, 1, 0]]]).transpose([1, 0, 2])
    tf_array = np.array([[[1, 2, 3], [4, 5, 6], [7, 8, 9], [0, 0, 0]],
                         [[2, 3, 4], [5, 6, 7], [8, 9, 10], [11, 12, 0]]]).transpose([1, 0, 2]).astype(np.float32)
    tf_len = np.array([[3, 3, 3], [4, 4, 3]])
    rng = np.random.default_rng(17)
    rand_parent = rng.integers(0, 4, (6, 3, 4))
    rand_array = rng.normal(0, 1, (6, 3, 4, 2)).astype(np.float32)
    rand_len = rng.integers(0, 7, (3, 4))
    with tf.Graph().as_default():
        got = _run([beam_step.gather_tree_from_array(tf.constant(tf_array), tf.constant(tf_parent, tf.int32), tf_len),
                    beam_step.gather_tree_from_array(tf.constant(rand_array.reshape(6, 12, 2)),
                                                     tf.constant(rand_parent, tf.int32), rand_len)])
    expected_tf = np.array([[[2, 2, 2], [6, 5, 6], [7, 8, 9], [0, 0, 0]],
                            [[2, 3, 2], [7, 5, 7], [8, 9, 8], [11, 12, 0]]]).transpose([1, 0, 2])
    np.testing.assert_array_equal(got[0], expected_tf)  # the array TF 1.15's test expects
    np.testing.assert_array_equal(got[0], np_gather_tree_from_array(tf_array, tf_parent, tf_len))
    want = np_gather_tree_from_array(rand_array, rand_parent, rand_len).reshape(6, 12, 2)
    np.testing.assert_allclose(got[1], want)
    assert not np.allclose(got[1], rand_array.reshape(6, 12, 2))  # negative control: something was re-sorted


@pytest.mark.parametrize("shape, ok", [((8, 4, 5, 10), True), ((8, 20, 10), True), ((8, 21, 10), False),
                                       ((8, 4, 6, 10), False), ((8, 4), False)])
def test_check_batch_beam(shape, ok) -> None:
    with tf.Graph().as_default():
        t = v1.placeholder_with_default(np.zeros(shape, np.float32), shape=[None] * (len(shape) - 1) + [shape[-1]])
        check = beam_step._check_batch_beam(t, tf.constant(4), 5)
        with v1.Session(config=FAST_SESSION) as sess:
            if ok:
                sess.run(check)
            else:
                with pytest.raises(tf.errors.InvalidArgumentError, match="reorder_tensor_arrays"):
                    sess.run(check)


def test_beam_search_over_alignment_history_resorts_it_by_beam() -> None:
    """One cell, one output layer, two decoders: ``reorder_tensor_arrays`` True gives the history re-sorted by beam,
    False the raw TensorArray; the sorted one must equal the NumPy re-sort of the raw one."""
    batch, width, mem_t, depth, vocab = 2, 3, 5, 4, 7
    rng = np.random.default_rng(31)  # fixed data and graph seed: the search below does re-order its beams
    with legacy_rnn.new_graph(7):  # also Python's and tf_keras' seed generators: the cells' unseeded initializers
        memory = s2s.tile_batch(tf.constant(rng.normal(0, 1, (batch, mem_t, depth)), tf.float32), width)
        mem_len = s2s.tile_batch(tf.constant([5, 3]), width)
        mechanism = s2s.BahdanauAttention(4, memory, mem_len)
        cell = s2s.AttentionWrapper(v1.nn.rnn_cell.LSTMCell(6), mechanism, attention_layer_size=5,
                                    alignment_history=True)
        dense = v1.layers.Dense(vocab, bias_initializer=v1.random_normal_initializer(0, 1.0))
        embedding = tf.constant(rng.normal(0, 1, (vocab, 3)), tf.float32)
        results = {}
        for reorder in (True, False):
            decoder = s2s.BeamSearchDecoder(cell, embedding, tf.fill([batch], 1), 0,
                                            cell.zero_state(batch * width, tf.float32), width, output_layer=dense,
                                            reorder_tensor_arrays=reorder)
            results[reorder] = s2s.dynamic_decode(decoder, output_time_major=True, maximum_iterations=4)
        history = results[False][1].cell_state.alignment_history
        assert isinstance(history, tf.TensorArray)
        got = _run(dict(sorted=results[True][1].cell_state.alignment_history, raw=history.stack(),
                        parents=results[True][0].beam_search_decoder_output.parent_ids,
                        parents_raw=results[False][0].beam_search_decoder_output.parent_ids,
                        lengths=results[True][1].lengths))
    np.testing.assert_array_equal(got["parents"], got["parents_raw"])  # both decoders made the same search
    steps = got["raw"].shape[0]
    raw = got["raw"].reshape(steps, batch, width, mem_t)
    want = np_gather_tree_from_array(raw, got["parents"], got["lengths"]).reshape(steps, batch * width, mem_t)
    np.testing.assert_allclose(got["sorted"], want, rtol=1e-6)
    assert not np.allclose(got["sorted"], got["raw"])  # negative control: the beams were really re-ordered


@pytest.mark.parametrize("SEED", [5])
def test_keras_beam_search_resorts_the_alignment_history_too(SEED) -> None:
    """The Keras twin (eager) in step: the same contract as the legacy decoder above."""
    import tf_keras as keras

    from modern_rnn import seq2seq as modern_s2s

    batch, width, mem_t, depth, vocab = 2, 3, 5, 4, 7
    keras.utils.set_random_seed(SEED)  # every unseeded Keras initializer, in order: the search re-orders its beams
    rng = np.random.default_rng(SEED)
    memory = rng.normal(0, 1, (batch, mem_t, depth)).astype(np.float32)
    wrapper = modern_s2s.AttentionWrapper(keras.layers.LSTMCell(6), modern_s2s.BahdanauAttention(4),
                                          attention_layer_size=5, alignment_history=True)
    wrapper.setup_memory(modern_s2s.tile_batch(memory, width), modern_s2s.tile_batch(np.array([5, 3]), width))
    dense = keras.layers.Dense(vocab, bias_initializer=keras.initializers.RandomNormal(0, 1.0, seed=3))
    embedding = rng.normal(0, 1, (vocab, 3)).astype(np.float32)
    results = {}
    for reorder in (True, False):
        decoder = modern_s2s.BeamSearchDecoder(wrapper, embedding, np.full(batch, 1), 0,
                                               wrapper.get_initial_state(batch * width), width, output_layer=dense,
                                               reorder_tensor_arrays=reorder)
        results[reorder] = modern_s2s.dynamic_decode(decoder, output_time_major=True, maximum_iterations=4)
    history = results[False][1].cell_state.alignment_history
    assert isinstance(history, tf.TensorArray)
    parents = results[True][0].beam_search_decoder_output.parent_ids.numpy()
    np.testing.assert_array_equal(parents, results[False][0].beam_search_decoder_output.parent_ids.numpy())
    raw = history.stack().numpy()
    steps = raw.shape[0]
    want = np_gather_tree_from_array(raw.reshape(steps, batch, width, mem_t), parents,
                                     results[True][1].lengths.numpy()).reshape(steps, batch * width, mem_t)
    got = results[True][1].cell_state.alignment_history.numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert not np.allclose(got, raw)  # negative control: the beams were really re-ordered
