"""contrib.seq2seq attention decoders: legacy graph vs NumPy reference vs Keras, through a real TF1 checkpoint.

One legacy training graph per configuration writes a ``Saver`` checkpoint; the Keras twin is built from
``tf.train.load_checkpoint`` + :func:`migration.seq2seq_converters.convert_seq2seq`; the NumPy reference reads the same
TF1 arrays. Outputs, alignment history, final states, loss, greedy ids and beam search results are compared.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.seq2seq import harness as h
from tests.seq2seq import reference as ref

TOL = 1e-5
INFER = ("bahdanau_norm-lstm_fb0.5-layer", "luong_scale-gru-layer")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    out = {}
    for cfg in h.CONFIGS:
        legacy = h.legacy_train(cfg, str(tmp_path_factory.mktemp(cfg.name)))
        arrays = h.checkpoint_arrays(legacy["checkpoint"])
        wrapper, embedding, projection, conversion = h.keras_from_checkpoint(cfg, arrays)
        out[cfg.name] = {"cfg": cfg, "legacy": legacy, "arrays": arrays, "conversion": conversion,
                         "keras": h.keras_teacher(cfg, wrapper, embedding, projection),
                         "layers": (embedding, projection)}
    return out


def _numpy_teacher(run: dict, **controls) -> tuple:
    cfg, arrays, d = run["cfg"], run["arrays"], h.data()
    att = h.reference_attention(cfg, arrays, **controls)
    inputs = np.asarray(arrays["embedding"], np.float64)[d["ids"]]
    return ref.teacher_forced(att, d["memory"], h.LENGTHS, inputs, arrays["decoder/output_projection/kernel"],
                              arrays["decoder/output_projection/bias"], cfg.attention_size)


def _max_diff(a, b) -> float:
    return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
               for x, y in zip(np.atleast_1d(a) if np.ndim(a) else [a], np.atleast_1d(b) if np.ndim(b) else [b]))


@pytest.mark.parametrize("name", list(h.BY_NAME))
def test_teacher_forced_outputs_alignments_and_states_three_ways(runs, name: str) -> None:
    run = runs[name]
    legacy, keras = run["legacy"], run["keras"]
    logits, history, state = _numpy_teacher(run)
    d = h.data()
    for side in (legacy, keras):
        np.testing.assert_allclose(side["logits"], logits, atol=TOL)
        np.testing.assert_allclose(side["history"], history, atol=TOL)          # alignment_history [T, B, Tm]
        np.testing.assert_allclose(side["alignments"], history[-1], atol=TOL)
        np.testing.assert_allclose(side["attention"], state["attention"], atol=TOL)
        for got, want in zip(side["cell_state"], state["cell"]):              # TF1 order (c, h) / (h,)
            np.testing.assert_allclose(got, want, atol=TOL)
        np.testing.assert_allclose(side["loss"], ref.sequence_loss(logits, d["targets"], d["weights"]), atol=TOL)
        assert side["time"] == h.T and list(side["lengths"]) == [h.T] * h.B
    np.testing.assert_array_equal(legacy["sample_id"], keras["sample_id"])


@pytest.mark.parametrize("name", list(h.BY_NAME))
def test_ragged_memory_is_masked_on_both_sides(runs, name: str) -> None:
    """Row 1 has memory length 2: its alignments on steps 2, 3 are exactly 0, and the valid ones sum to 1."""
    for side in ("legacy", "keras"):
        history = runs[name][side]["history"]
        assert np.all(history[:, 1, 2:] == 0.0)
        assert np.all(history[:, 0, :] > 0.0)
        np.testing.assert_allclose(history.sum(-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("name", INFER)
def test_greedy_decoding_ids_equal(runs, name: str) -> None:
    run = runs[name]
    cfg, arrays = run["cfg"], run["arrays"]
    legacy = h.legacy_infer(cfg, run["legacy"]["checkpoint"], "greedy")
    wrapper = h.keras_from_checkpoint(cfg, arrays, alignment_history=False)[0]
    keras = h.keras_infer(cfg, wrapper, *run["layers"], "greedy")
    att = h.reference_attention(cfg, arrays)
    numpy_ids = ref.greedy(att, h.data()["memory"], h.LENGTHS, arrays["embedding"].astype(np.float64),
                           arrays["decoder/output_projection/kernel"], arrays["decoder/output_projection/bias"],
                           h.START, h.END, h.MAX_ITER, cfg.attention_size)
    np.testing.assert_array_equal(legacy["ids"], numpy_ids)
    np.testing.assert_array_equal(keras["ids"], numpy_ids)
    np.testing.assert_array_equal(legacy["lengths"], keras["lengths"])
    assert len(np.unique(numpy_ids)) > 1              # the fed-back embedding matters: not one id repeated


def _beam_reference(cfg, arrays, end: int, length_penalty: float) -> dict:
    return ref.beam_search(h.reference_attention(cfg, arrays), h.data()["memory"], h.LENGTHS,
                           arrays["embedding"].astype(np.float64), arrays["decoder/output_projection/kernel"],
                           arrays["decoder/output_projection/bias"], h.START, end, h.WIDTH, h.MAX_ITER, length_penalty,
                           cfg.attention_size)


def _informative_end_token(cfg, arrays) -> int:
    """An end token for which the reference beams re-parent and finish at different lengths (gather_tree works)."""
    for end in range(h.V):
        expected = _beam_reference(cfg, arrays, end, cfg.length_penalty)
        if (np.any(expected["parent_ids"] != np.arange(h.WIDTH)) and len(np.unique(expected["lengths"])) > 1
                and np.any(expected["predicted_ids"] == end)):
            return end
    raise AssertionError("no end token makes the beam search informative; change the seed")


@pytest.mark.parametrize("name", INFER)
def test_beam_search_results_equal(runs, name: str) -> None:
    run = runs[name]
    cfg, arrays = run["cfg"], run["arrays"]
    end = _informative_end_token(cfg, arrays)
    legacy = h.legacy_infer(cfg, run["legacy"]["checkpoint"], "beam", end)
    wrapper = h.keras_from_checkpoint(cfg, arrays, alignment_history=False)[0]
    keras = h.keras_infer(cfg, wrapper, *run["layers"], "beam", end)
    expected = _beam_reference(cfg, arrays, end, cfg.length_penalty)
    for side in (legacy, keras):
        np.testing.assert_array_equal(side["predicted_ids"], expected["predicted_ids"])   # [B, T, W] after gather_tree
        np.testing.assert_array_equal(side["parent_ids"], expected["parent_ids"].transpose(1, 0, 2))
        np.testing.assert_array_equal(side["lengths"], expected["lengths"])
        np.testing.assert_allclose(side["scores"], expected["scores"], atol=TOL, rtol=TOL)


def test_length_penalty_changes_the_search(runs) -> None:
    """Control: the penalised configuration's scores differ from the same search without the penalty."""
    run = runs["bahdanau_norm-lstm_fb0.5-layer"]
    cfg, arrays = run["cfg"], run["arrays"]
    end = _informative_end_token(cfg, arrays)
    with_penalty = _beam_reference(cfg, arrays, end, cfg.length_penalty)["scores"]
    without = _beam_reference(cfg, arrays, end, 0.0)["scores"]
    steps = min(with_penalty.shape[1], without.shape[1])
    assert np.abs(with_penalty[:, :steps] - without[:, :steps]).max() > 1e-2


def test_gather_tree_matches_the_kernel_loops() -> None:
    rng = np.random.default_rng(3)
    steps, batch, beams, end = 6, 4, 3, 1
    step_ids = rng.integers(0, 5, (steps, batch, beams)).astype(np.int32)
    parent_ids = rng.integers(0, beams, (steps, batch, beams)).astype(np.int32)
    max_len = np.array([6, 4, 1, 0], np.int32)
    expected = ref.gather_tree(step_ids, parent_ids, max_len, end)
    with h.tf.Graph().as_default(), h.v1.Session(config=h.FAST) as sess:
        legacy = sess.run(h.legacy_s2s.gather_tree(step_ids, parent_ids, max_len, end))
    modern = h.modern_s2s.gather_tree(step_ids, parent_ids, max_len, end).numpy()
    np.testing.assert_array_equal(legacy, expected)
    np.testing.assert_array_equal(modern, expected)
    assert np.any(expected != np.where(np.arange(steps)[:, None, None] < max_len[None, :, None], step_ids, end))


# --- negative controls: a wrong formula or a wrong set-up is caught -------------------------------------------------

CONTROLS = {
    "dropped-normalization": ("bahdanau_norm-lstm_fb0.5-layer", {"drop_normalization": True}),
    "wrong-score-scaling": ("luong_scale-gru-layer", {"luong_scale_twice": True}),
    "unmasked-memory": ("bahdanau-basic_lstm", {"mask_memory": False}),
    "cell-input-attention-first": ("bahdanau-basic_lstm", {"input_first": False}),
}


@pytest.mark.parametrize("control", list(CONTROLS))
def test_negative_control_is_caught(runs, control: str) -> None:
    name, wrong = CONTROLS[control]
    run = runs[name]
    logits, history, _ = _numpy_teacher(run, **wrong)
    diff = max(np.abs(run["legacy"]["logits"] - logits).max(), np.abs(run["legacy"]["history"] - history).max())
    assert diff > 1e-3, f"{control}: the wrong reference still matches the legacy graph ({diff:.2e})"


def test_keras_with_reversed_cell_input_fn_is_caught(runs) -> None:
    """The converted weights only fit TF1's concat([inputs, attention]); the reverse order visibly differs."""
    run = runs["bahdanau-basic_lstm"]
    cfg, arrays = run["cfg"], run["arrays"]
    wrapper = h.keras_from_checkpoint(cfg, arrays, cell_input_fn=lambda x, a: h.tf.concat([a, x], -1))[0]
    keras = h.keras_teacher(cfg, wrapper, *run["layers"])
    assert np.abs(keras["logits"] - run["legacy"]["logits"]).max() > 1e-3


def _end_token_with_ragged_finish(cfg, arrays) -> int:
    """An end token for which the NumPy greedy decoder finishes one row early and the other later (or never)."""
    att = h.reference_attention(cfg, arrays)
    for end in range(h.V):
        ids = ref.greedy(att, h.data()["memory"], h.LENGTHS, arrays["embedding"].astype(np.float64),
                         arrays["decoder/output_projection/kernel"], arrays["decoder/output_projection/bias"],
                         h.START, end, h.MAX_ITER, cfg.attention_size)
        first = [int(np.argmax(row == end)) if np.any(row == end) else h.MAX_ITER for row in ids]
        if min(first) + 1 < h.MAX_ITER and first[0] != first[1]:
            return end
    raise AssertionError("no end token gives a ragged finish; change the seed")


def test_impute_finished_zeroes_outputs_and_freezes_states_on_both_sides(runs) -> None:
    """dynamic_decode(impute_finished=True), greedy: a row that emitted EOS gets zero logits and a frozen state."""
    run = runs["bahdanau_norm-lstm_fb0.5-layer"]
    cfg, arrays, d = run["cfg"], run["arrays"], h.data()
    end = _end_token_with_ragged_finish(cfg, arrays)
    with h.tf.Graph().as_default():
        embedding = h.v1.get_variable("embedding", [h.V, h.D])
        wrapper = h._legacy_wrapper(cfg, h.tf.constant(d["memory"]), h.tf.constant(h.LENGTHS), False)
        helper = h.legacy_s2s.GreedyEmbeddingHelper(embedding, h.tf.fill([h.B], h.START), end)
        decoder = h.legacy_s2s.BasicDecoder(wrapper, helper, wrapper.zero_state(h.B, h.tf.float32),
                                            h.v1.layers.Dense(h.V, name="output_projection"))
        out, state, lengths = h.legacy_s2s.dynamic_decode(decoder, impute_finished=True, maximum_iterations=h.MAX_ITER)
        with h.v1.Session(config=h.FAST) as sess:
            h.v1.train.Saver().restore(sess, run["legacy"]["checkpoint"])
            legacy = sess.run({"logits": out.rnn_output, "lengths": lengths, "cell": state.cell_state})
    wrapper = h.keras_from_checkpoint(cfg, arrays, alignment_history=False)[0]
    wrapper.setup_memory(d["memory"], h.LENGTHS)
    helper = h.modern_s2s.GreedyEmbeddingHelper(run["layers"][0], np.full(h.B, h.START), end)
    decoder = h.modern_s2s.BasicDecoder(wrapper, helper, wrapper.get_initial_state(h.B), run["layers"][1])
    out, state, lengths = h.modern_s2s.dynamic_decode(decoder, impute_finished=True, maximum_iterations=h.MAX_ITER)
    np.testing.assert_allclose(out.rnn_output.numpy(), legacy["logits"], atol=TOL)
    np.testing.assert_array_equal(lengths.numpy(), legacy["lengths"])
    keras_c_h = h.converters.keras_state_to_tf1(cfg.cell, h.tf.nest.flatten(state.cell_state))
    for got, want in zip(keras_c_h, legacy["cell"]):
        np.testing.assert_allclose(got, want, atol=TOL)
    short = int(np.argmin(legacy["lengths"]))
    assert legacy["lengths"][short] < legacy["logits"].shape[1]                # a row finished early ...
    assert np.all(legacy["logits"][short, legacy["lengths"][short]:] == 0.0)   # ... and its later outputs are 0
    assert np.any(legacy["logits"][1 - short, legacy["lengths"][short]:] != 0.0)
