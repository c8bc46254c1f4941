"""TF 1.15 conformance of the rebuilt tf.contrib.seq2seq pieces issue 22 added: the helpers (BasicDecoder with
Sample/ScheduledEmbedding/ScheduledOutput/Inference/Custom helpers), hardmax, safe_cumprod, monotonic_attention,
SequenceLoss and the beam search coverage penalty.

The behaviours are those TF 1.15's basic_decoder_test / attention_wrapper_test / loss_test / beam_search_decoder_test
assert. Where 1.15 compared numbers drawn from its random stream, the weights are fixed here and the expected values
come from NumPy re-simulations written in this file (the decoders run once, in one graph)."""
from __future__ import annotations

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import seq2seq as s2s
from legacy_rnn.seq2seq import coverage
from tests.core.harness import FAST_SESSION

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
B, T, V, IN = 3, 4, 5, 5            # batch, steps, vocab = cell units, input depth
RNG = np.random.default_rng(1115)
X = RNG.normal(0, 1, (B, T, IN)).astype(np.float32)
AUX = RNG.normal(0, 1, (B, T, 2)).astype(np.float32)
EMB = RNG.normal(0, 1, (V, IN)).astype(np.float32)
LENGTHS = np.array([4, 3, 2], np.int32)
END = 2
START = np.array([0, 1, 3], np.int32)


def _rnn(x, h, kernel, bias):
    return np.tanh(np.concatenate([x, h], 1) @ kernel + bias)


@pytest.fixture(scope="module")
def decoded():
    """Every helper decoded once with ONE BasicRNNCell (shared weights), plus the helpers' static properties."""
    with tf.Graph().as_default() as graph:
        v1.set_random_seed(7)
        cell = v1.nn.rnn_cell.BasicRNNCell(V, name="rnn")
        zero = cell.zero_state(B, tf.float32)
        x, emb = tf.constant(X), tf.constant(EMB)
        helpers = {
            "training": s2s.TrainingHelper(x, LENGTHS),
            "sched_emb_0": s2s.ScheduledEmbeddingTrainingHelper(x, LENGTHS, emb, 0.0, seed=1),
            "sched_emb_1": s2s.ScheduledEmbeddingTrainingHelper(x, LENGTHS, emb, 1.0, seed=1),
            "sched_emb_half": s2s.ScheduledEmbeddingTrainingHelper(x, LENGTHS, emb, 0.5, seed=1, scheduling_seed=2),
            "sched_out_1": s2s.ScheduledOutputTrainingHelper(x, LENGTHS, 1.0),
            "sched_out_aux": s2s.ScheduledOutputTrainingHelper(x[:, :, :3], LENGTHS, 0.5, seed=3,
                                                               next_inputs_fn=lambda o: o[:, :3],
                                                               auxiliary_inputs=tf.constant(AUX)),
            "sample_cold": s2s.SampleEmbeddingHelper(emb, START, END, softmax_temperature=1e-3, seed=4),
            "sample": s2s.SampleEmbeddingHelper(emb, START, END, seed=5),
            "inference": s2s.InferenceHelper(lambda o: tf.cast(o > 0, tf.float32), [V], tf.float32,
                                             tf.zeros([B, V]), lambda s: s[:, 0] > 0.5),
        }
        custom = s2s.CustomHelper(lambda: (tf.equal(0, LENGTHS), x[:, 0]),
                                  lambda time, outputs, state: tf.cast(tf.argmax(outputs, -1), tf.int32),
                                  lambda time, outputs, state, sample_ids: (
                                      time + 1 >= LENGTHS, x[:, tf.minimum(time + 1, T - 1)], state))
        with pytest.raises(ValueError, match="batch_size accessed before initialize"):
            custom.batch_size
        helpers["custom"] = custom
        props, fetch = {}, {}
        for name, helper in helpers.items():
            decoder = s2s.BasicDecoder(cell, helper, zero)
            out, _, lengths = s2s.dynamic_decode(decoder, maximum_iterations=T, scope=f"decode_{name}")
            props[name] = (decoder.output_size, decoder.output_dtype)
            fetch[name] = (out.rnn_output, out.sample_id, lengths)
        kernel, bias = cell.weights
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(bias.assign(RNG.normal(0, 0.5, V).astype(np.float32)))
            values = sess.run(fetch)
            return values, props, sess.run(kernel), sess.run(bias), len(v1.trainable_variables())


def _replay(first_input, kernel, bias, steps, next_input):
    """Re-run the cell in NumPy: ``next_input(t, output) -> x_{t+1}``."""
    h, x, outs = np.zeros((B, V)), first_input, []
    for t in range(steps):
        h = _rnn(x, h, kernel, bias)
        outs.append(h)
        x = next_input(t, h)
    return np.stack(outs, 1)


def test_all_helpers_share_one_weight_set(decoded) -> None:
    assert decoded[4] == 2       # rnn/kernel and rnn/bias only


def test_training_and_custom_helpers_teacher_force(decoded) -> None:
    values, _, kernel, bias, _ = decoded
    expected = _replay(X[:, 0], kernel, bias, T, lambda t, h: X[:, min(t + 1, T - 1)])
    for name in ("training", "custom", "sched_emb_0"):
        out, ids, lengths = values[name]
        np.testing.assert_array_equal(lengths, LENGTHS)
        for b, n in enumerate(LENGTHS):
            np.testing.assert_allclose(out[b, :n], expected[b, :n], atol=1e-5)
    assert (values["sched_emb_0"][1] == -1).all()              # 1.15: -1 where no sampling took place
    np.testing.assert_array_equal(values["custom"][1][0], np.argmax(values["custom"][0][0], -1))


@pytest.mark.parametrize("name", ["sched_emb_1", "sched_emb_half"])
def test_scheduled_embedding_feeds_the_embedding_of_sampled_ids(decoded, name: str) -> None:
    values, _, kernel, bias, _ = decoded
    out, ids, _ = values[name]
    if name == "sched_emb_1":
        assert (ids[:, :3] >= 0).all()                          # probability 1: every row samples
    else:
        assert {-1} < set(ids[:, :3].ravel().tolist())          # both kinds of row at 0.5
    expected = _replay(X[:, 0], kernel, bias, T, lambda t, h: np.where(
        (ids[:, t] > -1)[:, None], EMB[np.maximum(ids[:, t], 0)], X[:, min(t + 1, T - 1)]))
    for b, n in enumerate(LENGTHS):
        np.testing.assert_allclose(out[b, :n], expected[b, :n], atol=1e-5)


def test_scheduled_output_feeds_the_output_back(decoded) -> None:
    values, props, kernel, bias, _ = decoded
    out, ids, _ = values["sched_out_1"]
    assert ids.dtype == np.bool_ and ids[:, :3].all()
    expected = _replay(X[:, 0], kernel, bias, T, lambda t, h: h)
    np.testing.assert_allclose(out[0], expected[0], atol=1e-5)
    assert props["sched_out_1"][1].sample_id == tf.bool


def test_scheduled_output_with_next_inputs_fn_and_auxiliary_inputs(decoded) -> None:
    values, _, kernel, bias, _ = decoded
    out, ids, _ = values["sched_out_aux"]
    assert ids[:, :3].any() and not ids[:, :3].all()
    base = np.concatenate([X[:, :, :3], AUX], -1)

    def next_input(t, h):
        t1 = min(t + 1, T - 1)
        return np.where(ids[:, t][:, None], np.concatenate([h[:, :3], AUX[:, t1]], -1), base[:, t1])

    expected = _replay(base[:, 0], kernel, bias, T, next_input)
    for b, n in enumerate(LENGTHS):
        np.testing.assert_allclose(out[b, :n], expected[b, :n], atol=1e-5)


def test_sample_embedding_helper(decoded) -> None:
    values, props, kernel, bias, _ = decoded
    for name in ("sample_cold", "sample"):
        out, ids, lengths = values[name]
        assert ((0 <= ids) & (ids < V)).all()
        expected = _replay(EMB[START], kernel, bias, ids.shape[1], lambda t, h: EMB[ids[:, t]])
        for b, n in enumerate(lengths):
            np.testing.assert_allclose(out[b, :n], expected[b, :n], atol=1e-5)
            ended = np.flatnonzero(ids[b, :n] == END)
            assert n == (ended[0] + 1 if len(ended) else T)    # a row finishes when it samples end_token
    assert max(values["sample"][2]) > 1 or max(values["sample_cold"][2]) > 1
    cold_out, cold_ids, cold_len = values["sample_cold"]
    for b, n in enumerate(cold_len):   # temperature 1e-3: the categorical sample is the argmax
        np.testing.assert_array_equal(cold_ids[b, :n], np.argmax(cold_out[b, :n], -1))
    assert props["sample"][0] == s2s.BasicDecoderOutput(V, tf.TensorShape([]))


def test_inference_helper(decoded) -> None:
    values, props, kernel, bias, _ = decoded
    out, ids, lengths = values["inference"]
    expected = _replay(np.zeros((B, V)), kernel, bias, T, lambda t, h: (h > 0).astype(np.float32))
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(out[b, :n], expected[b, :n], atol=1e-5)
        np.testing.assert_array_equal(ids[b, :n], (expected[b, :n] > 0).astype(np.float32))
        done = np.flatnonzero(expected[b, :, 0] > 0)
        assert n == (done[0] + 1 if len(done) else T)
    assert props["inference"] == (s2s.BasicDecoderOutput(V, tf.TensorShape([V])),
                                  s2s.BasicDecoderOutput(tf.float32, tf.float32))


def test_helpers_refuse_bad_arguments() -> None:
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="sampling_probability must be either a scalar or a vector"):
            s2s.ScheduledEmbeddingTrainingHelper(tf.zeros([2, 3, 4]), [3, 3], tf.zeros([5, 4]), [[0.5]])
        with pytest.raises(ValueError, match="start_tokens must be a vector"):
            s2s.SampleEmbeddingHelper(tf.zeros([5, 4]), [[0]], 1)
        with pytest.raises(ValueError, match="end_token must be a scalar"):
            s2s.SampleEmbeddingHelper(tf.zeros([5, 4]), [0], [1])
        with pytest.raises(TypeError, match="Expected decoder to be type Decoder"):
            s2s.dynamic_decode(object())


# --- attention maths ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hardmax(dtype) -> None:
    logits = RNG.normal(0, 1, (4, 6)).astype(dtype)
    out = s2s.hardmax(logits).numpy()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.eye(6, dtype=dtype)[np.argmax(logits, -1)])


@pytest.mark.parametrize("kwargs", [{}, {"exclusive": True}, {"reverse": True}])
def test_safe_cumprod_is_cumprod_in_log_space(kwargs) -> None:
    x = RNG.uniform(0.05, 1.0, (3, 7)).astype(np.float32)
    got = s2s.safe_cumprod(x, axis=1, **kwargs).numpy()
    y = x[:, ::-1] if kwargs.get("reverse") else x
    ref = np.cumprod(y, 1)
    if kwargs.get("exclusive"):
        ref = np.concatenate([np.ones((3, 1)), ref[:, :-1]], 1)
    ref = ref[:, ::-1] if kwargs.get("reverse") else ref
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    zero = s2s.safe_cumprod(np.array([[0.5, 0.0, 0.5]], np.float32), axis=1).numpy()
    assert zero[0, 0] == pytest.approx(0.5) and 0 <= zero[0, 2] < 1e-30 and np.isfinite(zero).all()  # no log(0)


def _monotonic_reference(p, prev):
    """q_i = (1 - p_{i-1}) q_{i-1} + prev_i, a_i = p_i q_i (Raffel et al. 2017, eq. 5)."""
    q = np.zeros_like(p)
    for i in range(p.shape[1]):
        q[:, i] = prev[:, i] + ((1 - p[:, i - 1]) * q[:, i - 1] if i else 0)
    return p * q


@pytest.mark.parametrize("mode,tol", [("recursive", 1e-6), ("parallel", 1e-5)])
def test_monotonic_attention_soft_modes(mode: str, tol: float) -> None:
    p = RNG.uniform(0.05, 0.95, (3, 6)).astype(np.float32)
    prev = RNG.dirichlet(np.ones(6), 3).astype(np.float32)
    got = s2s.monotonic_attention(p, prev, mode).numpy()
    np.testing.assert_allclose(got, _monotonic_reference(p, prev), atol=tol)
    assert (got.sum(1) <= 1 + 1e-6).all()
    dirac = np.eye(6, dtype=np.float32)[[2, 0, 5]]          # attention never goes back before the previous index
    back = s2s.monotonic_attention(p, dirac, mode).numpy()
    assert all(np.allclose(back[b, :j], 0) for b, j in enumerate([2, 0, 5]))
    if mode == "recursive":   # p = 1 keeps the attention where it was; 'parallel' is not exact there (1.15 says so)
        np.testing.assert_allclose(s2s.monotonic_attention(np.ones_like(p), prev, mode).numpy(), prev, atol=1e-6)


def test_monotonic_attention_hard_mode() -> None:
    p = np.array([[0, 1, 0, 1, 1], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], np.float32)
    prev = np.eye(5, dtype=np.float32)[[2, 0, 1]]
    expected = np.array([[0, 0, 0, 1, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], np.float32)
    np.testing.assert_array_equal(s2s.monotonic_attention(p, prev, "hard").numpy(), expected)
    with pytest.raises(ValueError, match="mode must be 'recursive', 'parallel', or 'hard'"):
        s2s.monotonic_attention(p, prev, "soft")


# --- SequenceLoss (loss_test) ---------------------------------------------------------------------------------------

LOGITS = RNG.normal(0, 1, (2, 3, 5)).astype(np.float32)
TARGETS = RNG.integers(0, 5, (2, 3)).astype(np.int32)
WEIGHTS = np.array([[1, 1, 0], [1, 0.5, 0]], np.float32)


def _dnn(a, b):
    """div_no_nan: 0 where the divisor is 0 (a time step every row masks out)."""
    b = np.asarray(b, np.float64)
    return np.where(b == 0, 0.0, np.asarray(a) / np.where(b == 0, 1.0, b))


def _xent(logits):
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return -np.take_along_axis(logp, TARGETS[..., None], -1)[..., 0]


@pytest.mark.parametrize("kwargs,reduce", [
    ({}, lambda c, w: _dnn((c * w).sum(), np.count_nonzero(w))),                  # 1.15 defaults: sum over both
    ({"sum_over_batch": False}, lambda c, w: _dnn((c * w).sum(1), np.count_nonzero(w, 1))),
    ({"sum_over_timesteps": False}, lambda c, w: _dnn((c * w).sum(0), np.count_nonzero(w, 0))),
    ({"sum_over_timesteps": False, "sum_over_batch": False}, lambda c, w: c * w),
    ({"sum_over_timesteps": False, "sum_over_batch": False, "average_across_timesteps": True,
      "average_across_batch": True}, lambda c, w: (c * w).sum() / w.sum()),
])
def test_sequence_loss_class(kwargs, reduce) -> None:
    got = s2s.SequenceLoss(**kwargs)(TARGETS, LOGITS, WEIGHTS).numpy()
    np.testing.assert_allclose(got, reduce(_xent(LOGITS), WEIGHTS), rtol=1e-5)


def test_sequence_loss_of_uniform_logits_is_log_of_the_vocabulary() -> None:
    """loss_test's fact: constant logits over 5 classes cost log(5) = 1.609438 per weighted step."""
    uniform = np.ones((2, 3, 5), np.float32) * np.arange(3, dtype=np.float32)[None, :, None]
    assert s2s.SequenceLoss()(TARGETS, uniform, np.ones((2, 3), np.float32)).numpy() == pytest.approx(1.609438,
                                                                                                      rel=1e-6)
    with pytest.raises(ValueError, match="cannot be set to True at same time"):
        s2s.SequenceLoss(average_across_timesteps=True)(TARGETS, LOGITS, WEIGHTS)


# --- coverage penalty -----------------------------------------------------------------------------------------------

def test_coverage_penalty_formula() -> None:
    scores = RNG.normal(0, 1, (2, 3, 4)).astype(np.float32)
    acc = RNG.uniform(0, 1.6, (2, 3, 5)).astype(np.float32)
    acc[0, 1, 2] = 0.0                                     # padded memory: counts as 1 (log 0 avoided)
    finished = np.array([[True, False, True], [False, True, True]])
    got = coverage.coverage_penalty(tf.constant(scores), tf.constant(acc), tf.constant(finished), 0.4).numpy()
    pen = np.log(np.minimum(np.where(acc == 0, 1, acc), 1)).sum(2) * finished
    np.testing.assert_allclose(got, scores + 0.4 * pen[:, :, None], rtol=1e-5)
    assert coverage.coverage_penalty(tf.constant(scores), None, finished, 0.0) is not None
    with pytest.raises(ValueError, match="accumulated_attention_probs can be None only"):
        coverage.coverage_penalty(tf.constant(scores), None, finished, 0.4)


def test_coverage_attention_probs_average_mechanisms_and_cells() -> None:
    a, b, c = (RNG.uniform(0, 1, (2, 3, 4)).astype(np.float32) for _ in range(3))
    state = lambda al: s2s.AttentionWrapperState(0, 0, 0, al, (), ())  # noqa: E731
    np.testing.assert_allclose(coverage.attention_probs(state((a, b)), 1.0).numpy(), (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(coverage.attention_probs((state(a), "h", state((b, c))), 1.0).numpy(),
                               (a + (b + c) / 2) / 2, rtol=1e-6)
    assert coverage.attention_probs(state(a), 0.0) is None
    with pytest.raises(ValueError, match="no cell is attentional"):
        coverage.attention_probs(("c", "h"), 0.5)


def test_beam_search_with_coverage_penalty_accumulates_the_alignments() -> None:
    """1.15's beam decode with coverage_penalty_weight > 0 (every v1 dynamic-decode test uses it): runs, and a beam
    that never finished has accumulated exactly one alignment (summing to 1) per step."""
    width, mem_t, steps = 2, 5, 3
    memory = RNG.normal(0, 1, (B, mem_t, 4)).astype(np.float32)
    with tf.Graph().as_default() as graph:
        mech = s2s.LuongAttention(4, s2s.tile_batch(tf.constant(memory), width))
        cell = s2s.AttentionWrapper(v1.nn.rnn_cell.GRUCell(4), mech, attention_layer_size=3)
        decoder = s2s.BeamSearchDecoder(cell, tf.constant(EMB[:, :3]), tf.fill([B], 0), END,
                                        cell.zero_state(B * width, tf.float32), width,
                                        output_layer=v1.layers.Dense(V), coverage_penalty_weight=0.6)
        out, state, _ = s2s.dynamic_decode(decoder, maximum_iterations=steps)
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run(v1.global_variables_initializer())
            acc, finished, lengths, ids = sess.run([state.accumulated_attention_probs, state.finished,
                                                    state.lengths, out.predicted_ids])
    assert acc.shape == (B, width, mem_t) and ids.shape[0] == B
    sums = acc.sum(-1)
    np.testing.assert_allclose(sums, np.minimum(lengths, steps), atol=1e-5)
    assert (acc >= 0).all() and finished.dtype == np.bool_
