"""tf.contrib.legacy_seq2seq: legacy graph vs NumPy reference vs the Keras twins, through a Saver checkpoint."""
from __future__ import annotations

import os

import numpy as np
import pytest

import legacy_rnn
import modern_rnn
from legacy_rnn.seq2seq import legacy_seq2seq as legacy
from migration import seq2seq_converters as s2c
from migration.core.specs import CellSpec
from modern_rnn.seq2seq import legacy_seq2seq as modern
from tests.core.reference import step as cell_step, zero_state
from tests.seq2seq import reference as ref
from tests.seq2seq.harness import FAST, _randomize, checkpoint_arrays

tf, v1, keras = legacy_rnn.tf, legacy_rnn.v1, modern_rnn.keras
B, TE, TD, VIN, VOUT, E, U = 2, 4, 3, 7, 6, 4, 5
LSTM, GRU = CellSpec("basic_lstm", U), CellSpec("gru", U)
RNG = np.random.default_rng(11)
ENC = RNG.integers(0, VIN, (TE, B)).astype(np.int32)
DEC = RNG.integers(0, VOUT, (TD, B)).astype(np.int32)
TARGETS = RNG.integers(0, VOUT, (TD, B)).astype(np.int32)
WEIGHTS = np.array([[1, 1], [1, 0.5], [0, 1]], np.float32)


def _legacy_cell(spec: CellSpec):
    return legacy_rnn.basic_lstm_cell(U) if spec.kind == "basic_lstm" else legacy_rnn.gru_cell(U)


def _keras_cell(spec: CellSpec):
    return modern_rnn.basic_lstm_cell(U) if spec.kind == "basic_lstm" else modern_rnn.gru_cell(U)


def _legacy_run(build, directory: str, seed: int) -> dict:
    with tf.Graph().as_default():
        outputs, state = build()
        loss = legacy.sequence_loss(outputs, list(TARGETS), list(WEIGHTS)) if outputs[0].shape[-1] == VOUT else None
        fetch = {"outputs": outputs, "state": state, **({"loss": loss} if loss is not None else {})}
        with v1.Session(config=FAST) as sess:
            sess.run(v1.global_variables_initializer())
            _randomize(sess, seed)
            result = sess.run(fetch)
            result["checkpoint"] = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    result["state"] = tuple(result["state"]) if isinstance(result["state"], tuple) else (result["state"],)
    return result


def _keras_from(arrays: dict, run_modern, cell_specs: dict) -> tuple:
    """Build the Keras scope by one run, load converted arrays, run again."""
    scope = modern.Seq2SeqScope()
    run_modern(scope)
    named, cell_weights = s2c.legacy_scope_to_keras(arrays, list(scope.named_weights()), cell_specs)
    for name, var in scope.named_weights().items():
        var.assign(named[name])
    assert set(scope.cells) == set(cell_specs), (sorted(scope.cells), sorted(cell_specs))
    for cell_scope, weights in cell_weights.items():
        scope.cells[cell_scope].set_weights(weights)
    outputs, state = run_modern(scope)
    state = tf.nest.flatten(state)
    return [o.numpy() for o in outputs], tuple(s.numpy() for s in (state[::-1] if len(state) == 2 else state)), scope


@pytest.fixture(scope="module")
def attention_run(tmp_path_factory) -> dict:
    def build():
        return legacy.embedding_attention_seq2seq([tf.constant(r) for r in ENC], [tf.constant(r) for r in DEC], _legacy_cell(LSTM),
                                                  VIN, VOUT, E)
    result = _legacy_run(build, str(tmp_path_factory.mktemp("eas")), seed=1)
    result["arrays"] = checkpoint_arrays(result["checkpoint"])
    return result


def test_embedding_attention_seq2seq_names(attention_run) -> None:
    p, d = "embedding_attention_seq2seq/", "embedding_attention_seq2seq/embedding_attention_decoder/attention_decoder/"
    shapes = {k: list(v.shape) for k, v in attention_run["arrays"].items()}
    assert shapes == {
        p + "rnn/embedding_wrapper/embedding": [VIN, E],
        p + "rnn/embedding_wrapper/basic_lstm_cell/kernel": [E + U, 4 * U],
        p + "rnn/embedding_wrapper/basic_lstm_cell/bias": [4 * U],
        p + "embedding_attention_decoder/embedding": [VOUT, E],
        d + "AttnW_0": [1, 1, U, U], d + "AttnV_0": [U], d + "kernel": [E + U, E], d + "bias": [E],
        d + "output_projection_wrapper/basic_lstm_cell/kernel": [E + U, 4 * U],
        d + "output_projection_wrapper/basic_lstm_cell/bias": [4 * U],
        d + "output_projection_wrapper/kernel": [U, VOUT], d + "output_projection_wrapper/bias": [VOUT],
        d + "Attention_0/kernel": [2 * U, U], d + "Attention_0/bias": [U],
        d + "AttnOutputProjection/kernel": [VOUT + U, VOUT], d + "AttnOutputProjection/bias": [VOUT],
    }
    (block,) = s2c.recognize_seq2seq(shapes)
    assert (block.prefix, block.num_heads, block.attn_size) == (d, 1, U)
    assert all(s2c.table_row(n) is not None for n in shapes if "_cell/" not in n), \
        [n for n in shapes if s2c.table_row(n) is None]


def _numpy_embedding_attention(arrays: dict) -> tuple:
    a = {k: np.asarray(v, np.float64) for k, v in arrays.items()}
    p = "embedding_attention_seq2seq/"
    d = p + "embedding_attention_decoder/attention_decoder/"
    enc_w = {"kernel": a[p + "rnn/embedding_wrapper/basic_lstm_cell/kernel"],
             "bias": a[p + "rnn/embedding_wrapper/basic_lstm_cell/bias"]}
    state, tops = zero_state(LSTM, B), []
    for ids in ENC:
        out, state = cell_step(LSTM, enc_w, a[p + "rnn/embedding_wrapper/embedding"][ids], state)
        tops.append(out)
    dec_w = {"kernel": a[d + "output_projection_wrapper/basic_lstm_cell/kernel"],
             "bias": a[d + "output_projection_wrapper/basic_lstm_cell/bias"]}

    def projected(x, st):
        out, st = cell_step(LSTM, dec_w, x, st)
        return out @ a[d + "output_projection_wrapper/kernel"] + a[d + "output_projection_wrapper/bias"], st

    inputs = [a[p + "embedding_attention_decoder/embedding"][ids] for ids in DEC]
    w = {k[len(d):]: v for k, v in a.items() if k.startswith(d)}
    return ref.attention_decoder(inputs, state, np.stack(tops, 1), projected, w)


def test_embedding_attention_seq2seq_three_ways(attention_run) -> None:
    outputs, state = _numpy_embedding_attention(attention_run["arrays"])
    p = "embedding_attention_seq2seq/"
    specs = {p + "rnn/embedding_wrapper/basic_lstm_cell": LSTM,
             p + "embedding_attention_decoder/attention_decoder/output_projection_wrapper/basic_lstm_cell": LSTM}
    encoder, decoder = _keras_cell(LSTM), _keras_cell(LSTM)
    k_out, k_state, _ = _keras_from(attention_run["arrays"], lambda scope: modern.embedding_attention_seq2seq(
        list(ENC), list(DEC), decoder, VIN, VOUT, E, encoder_cell=encoder, scope=scope), specs)
    np.testing.assert_allclose(np.stack(attention_run["outputs"]), np.stack(outputs), atol=1e-5)
    np.testing.assert_allclose(np.stack(k_out), np.stack(outputs), atol=1e-5)
    for got_l, got_k, want in zip(attention_run["state"], k_state, state):
        np.testing.assert_allclose(got_l, want, atol=1e-5)
        np.testing.assert_allclose(got_k, want, atol=1e-5)
    # legacy sequence_loss vs NumPy vs Keras
    want = ref.sequence_loss_by_example(outputs, list(TARGETS), list(WEIGHTS)).sum() / B
    np.testing.assert_allclose(attention_run["loss"], want, atol=1e-5)
    np.testing.assert_allclose(float(modern.sequence_loss(k_out, list(TARGETS), list(WEIGHTS))), want, atol=1e-5)


def test_attn_w_left_as_a_conv_kernel_is_caught(attention_run) -> None:
    """Control: AttnW_0 used transposed (a plausible reshape mistake) changes the outputs."""
    arrays = dict(attention_run["arrays"])
    key = "embedding_attention_seq2seq/embedding_attention_decoder/attention_decoder/AttnW_0"
    arrays[key] = np.ascontiguousarray(arrays[key][0, 0].T)[None, None]
    outputs, _ = _numpy_embedding_attention(arrays)
    assert np.abs(np.stack(outputs) - np.stack(attention_run["outputs"])).max() > 1e-3


@pytest.mark.parametrize("kind", ["basic_rnn_seq2seq", "tied_rnn_seq2seq", "embedding_rnn_seq2seq_feed_previous"])
def test_rnn_seq2seq_family_legacy_equals_keras(tmp_path, kind: str) -> None:
    spec = GRU if kind == "embedding_rnn_seq2seq_feed_previous" else LSTM
    x_enc = RNG.uniform(-1, 1, (TE, B, 3)).astype(np.float32)
    x_dec = RNG.uniform(-1, 1, (TD, B, 3)).astype(np.float32)
    if kind == "basic_rnn_seq2seq":
        build = lambda: legacy.basic_rnn_seq2seq([tf.constant(r) for r in x_enc], [tf.constant(r) for r in x_dec],  # noqa: E731
                                                 _legacy_cell(spec))
        specs = {"basic_rnn_seq2seq/rnn/basic_lstm_cell": spec, "basic_rnn_seq2seq/rnn_decoder/basic_lstm_cell": spec}
        cells = (_keras_cell(spec), _keras_cell(spec))
        run = lambda scope: modern.basic_rnn_seq2seq(list(x_enc), list(x_dec), cells[0], encoder_cell=cells[1],  # noqa: E731
                                                     scope=scope)
    elif kind == "tied_rnn_seq2seq":
        build = lambda: legacy.tied_rnn_seq2seq([tf.constant(r) for r in x_enc], [tf.constant(r) for r in x_dec],  # noqa: E731
                                                _legacy_cell(spec))
        specs = {"combined_tied_rnn_seq2seq/tied_rnn_seq2seq/basic_lstm_cell": spec}
        cell = _keras_cell(spec)
        run = lambda scope: modern.tied_rnn_seq2seq(list(x_enc), list(x_dec), cell, scope=scope)  # noqa: E731
    else:
        build = lambda: legacy.embedding_rnn_seq2seq([tf.constant(r) for r in ENC], [tf.constant(r) for r in DEC],  # noqa: E731
                                                     _legacy_cell(spec), VIN, VOUT, E, feed_previous=True)
        specs = {"embedding_rnn_seq2seq/rnn/embedding_wrapper/gru_cell": spec,
                 "embedding_rnn_seq2seq/embedding_rnn_decoder/rnn_decoder/output_projection_wrapper/gru_cell": spec}
        cells = (_keras_cell(spec), _keras_cell(spec))
        run = lambda scope: modern.embedding_rnn_seq2seq(list(ENC), list(DEC), cells[0], VIN, VOUT, E,  # noqa: E731
                                                         feed_previous=True, encoder_cell=cells[1], scope=scope)
    legacy_result = _legacy_run(build, str(tmp_path), seed=2)
    arrays = checkpoint_arrays(legacy_result["checkpoint"])
    cell_names = {n.rsplit("/", 2 if "gru" in n else 1)[0] for n in arrays if "_cell/" in n}
    assert cell_names == set(specs)                       # tied: one weight set; the others: encoder + decoder
    k_out, k_state, _ = _keras_from(arrays, run, specs)
    np.testing.assert_allclose(np.stack(k_out), np.stack(legacy_result["outputs"]), atol=1e-5)
    for got, want in zip(k_state, legacy_result["state"]):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_keras_scope_exports_back_to_tf1_names(attention_run) -> None:
    p = "embedding_attention_seq2seq/"
    specs = {p + "rnn/embedding_wrapper/basic_lstm_cell": LSTM,
             p + "embedding_attention_decoder/attention_decoder/output_projection_wrapper/basic_lstm_cell": LSTM}
    encoder, decoder = _keras_cell(LSTM), _keras_cell(LSTM)
    _, _, scope = _keras_from(attention_run["arrays"], lambda s: modern.embedding_attention_seq2seq(
        list(ENC), list(DEC), decoder, VIN, VOUT, E, encoder_cell=encoder, scope=s), specs)
    back = s2c.legacy_scope_to_tf1({k: v.numpy() for k, v in scope.named_weights().items()},
                                   {k: (specs[k], c.get_weights()) for k, c in scope.cells.items()})
    assert set(back) == set(attention_run["arrays"])
    for name, value in back.items():
        np.testing.assert_allclose(value, attention_run["arrays"][name], atol=1e-6, err_msg=name)
