"""Issue 24: the Keras 3 twins of rnn-migrate's CRF and DropoutCell, and the CRF's Viterbi decode as target files.

* One real TF1 program (``x -> dynamic_rnn(GRUCell) -> dense -> potentials``, ``crf_log_likelihood`` creating
  ``crf/transitions``, ``crf_decode``; every variable random; ``tf.compat.v1.train.Saver`` with its ``.meta``), its
  session's log-likelihood and Viterbi path recorded on ragged lengths (one of them 1). ``convert --target keras3
  --target onnx`` writes ``crf/crf_transitions.keras3.keras`` and ``.onnx``, checks them (Keras 3 on TensorFlow and
  JAX, onnxruntime) against TF 1.15's crf_decode equations, and lists them; here both files reproduce the recorded
  session's decode on its own potentials, and the Keras 3 ``rnn_migrate>CRF``'s log-likelihood equals the session's
  (1e-5) and the Keras 2 ``modern_rnn.CRF``'s on the same weights (1e-6). Negative control: the transitions
  transposed (next tag as row) change the decode on both targets and the likelihood.
* ``rnn_migrate>DropoutCell`` (TF1's DropoutWrapper keep probabilities, training only): inference is the bare cell;
  in training a fresh input mask per step with survivors scaled by 1/keep, the new first state dropped and the
  second kept, the output dropped; a model holding it round-trips in safe mode.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.checkpoint.tf1_values import load_values

B, T, D, N = 4, 5, 3, 4
LENGTHS = np.array([5, 1, 3, 4], np.int32)


@pytest.fixture(scope="module")
def crf_program(tmp_path_factory):
    import legacy_rnn
    from legacy_rnn import tf, v1
    from migration.checkpoint.convert import convert_checkpoint

    root = tmp_path_factory.mktemp("crf_targets")
    rng = np.random.default_rng(21)
    x_np = rng.normal(0, 1, (B, T, D)).astype(np.float32)
    tags_np = rng.integers(0, N, (B, T)).astype(np.int32)
    with legacy_rnn.new_graph(21) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        tags = v1.placeholder(tf.int32, [None, T], name="tags")
        outputs, _ = legacy_rnn.dynamic_rnn(legacy_rnn.gru_cell(4), x, sequence_length=lengths, dtype=tf.float32)
        potentials = v1.layers.dense(outputs, N, name="potentials")
        with v1.variable_scope("crf"):
            log_likelihood, transitions = legacy_rnn.crf_log_likelihood(potentials, tags, lengths)
        decoded, best = legacy_rnn.crf_decode(potentials, transitions, lengths)
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        # asymmetric, biases included; transitions strong enough to matter
        load_values(sess, [(var, rng.uniform(-1.5, 1.5, var.shape.as_list()).astype(np.float32))
                           for var in v1.global_variables()])
        ref = sess.run({"potentials": potentials, "ll": log_likelihood, "decoded": decoded, "best": best},
                       {x: x_np, lengths: LENGTHS, tags: tags_np})
        prefix = v1.train.Saver().save(sess, str(root / "ckpt" / "model.ckpt"))
    result = convert_checkpoint(prefix, root / "out", targets=["keras3", "onnx"], whole_model=False)
    assert result.ok, result.verification
    with open(root / "out" / "manifest.json") as f:
        manifest = json.load(f)
    return str(root / "out"), manifest, ref, tags_np


def _files(manifest) -> dict:
    return {t: [b for b in manifest["targets"][t]["blocks"] if b.get("crf")] for t in ("keras3", "onnx")}


def test_convert_writes_lists_and_checks_the_crf_decoders(crf_program):
    out, manifest, _, _ = crf_program
    files = _files(manifest)
    assert [b["file"] for b in files["keras3"]] == ["crf/crf_transitions.keras3.keras"]
    assert [b["file"] for b in files["onnx"]] == ["crf/crf_transitions.onnx"]
    record = set(manifest["files"])  # the file record: verify and --force see them
    for target, backends in (("keras3", {"tensorflow", "jax"}), ("onnx", {"onnxruntime"})):
        assert os.path.exists(os.path.join(out, files[target][0]["file"]))
        assert files[target][0]["file"] in record
        mine = [c for c in manifest["targets"][target]["verification"]["checks"] if c["what"].startswith("crf ")]
        assert {c["what"] for c in mine} == {"crf crf/transitions (T=6)", "crf crf/transitions (T=1)"}
        assert {c["backend"] for c in mine} == backends and {c["reference"] for c in mine} == {"crf-ops"}
        assert len(mine) == 2 * 2 * len(backends) and all(c["max_abs_diff"] <= 1e-5 for c in mine)


def _decode(out, manifest, potentials, lengths, transitions=None):
    """[(tags, best score)] of the Keras 3 file (TensorFlow backend) and the ONNX file; ``transitions``: replace
    the files' matrix (ONNX: its initializer) for a negative control."""
    import onnx
    import onnxruntime as ort

    from migration.targets import keras3

    files = _files(manifest)
    model = keras3.load_block(os.path.join(out, files["keras3"][0]["file"]))
    if transitions is not None:
        model.get_layer("crf").set_weights([transitions])
    proto = onnx.load(os.path.join(out, files["onnx"][0]["file"]))
    if transitions is not None:
        scan = [n for n in proto.graph.node if n.op_type == "Scan"][0]
        body = [a.g for a in scan.attribute if a.name == "body"][0]
        init = [i for i in body.initializer if i.name.startswith("transitions")][0]
        init.CopyFrom(onnx.numpy_helper.from_array(transitions[None].astype(np.float32), init.name))
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"x": potentials, "sequence_length": lengths}
    return [[np.asarray(a) for a in model([potentials, lengths])], sess.run(None, feeds)]


def test_the_files_reproduce_the_tf1_sessions_decode_and_transposed_transitions_fail(crf_program):
    out, manifest, ref, _ = crf_program
    for tags, best in _decode(out, manifest, ref["potentials"], LENGTHS):
        np.testing.assert_array_equal(tags, ref["decoded"])
        np.testing.assert_allclose(best, ref["best"], atol=1e-5)
    transitions = np.load(os.path.join(out, manifest["crf"][0]["file"]), allow_pickle=False)
    assert np.max(np.abs(transitions - transitions.T)) > 0.1
    for tags, best in _decode(out, manifest, ref["potentials"], LENGTHS, transitions.T.copy()):
        assert np.max(np.abs(best - ref["best"])) > 1e-3


def test_keras3_crf_log_likelihood_equals_the_session_and_the_keras2_layer(crf_program):
    import modern_rnn
    from migration.targets import keras3_layers

    out, manifest, ref, tags = crf_program
    transitions = np.load(os.path.join(out, manifest["crf"][0]["file"]), allow_pickle=False)
    crf3 = keras3_layers.CRF(N)
    crf3.build()
    crf3.set_weights([transitions])
    ll3 = np.asarray(crf3.log_likelihood(ref["potentials"], tags, LENGTHS))
    np.testing.assert_allclose(ll3, ref["ll"], atol=1e-5)
    crf2 = modern_rnn.CRF(num_tags=N)
    crf2.build()
    crf2.transitions.assign(transitions)
    np.testing.assert_allclose(ll3, np.asarray(crf2.log_likelihood(ref["potentials"], tags, LENGTHS)), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(crf3(ref["potentials"], LENGTHS)[0]),
                                  np.asarray(crf2(ref["potentials"], LENGTHS)[0]))
    crf3.set_weights([transitions.T])
    assert np.max(np.abs(np.asarray(crf3.log_likelihood(ref["potentials"], tags, LENGTHS)) - ref["ll"])) > 1e-3


# -- DropoutCell ---------------------------------------------------------------------------------------------------------
def _probe_cell():
    """A Keras 3 cell that passes its input through: output x, states [x, x] (so every mask shows)."""
    import keras

    class Probe(keras.layers.Layer):
        state_size = [D, D]
        output_size = D

        def call(self, inputs, states, training=None):
            return inputs, [inputs, inputs]
    return Probe()


def _run(cell, x, training):
    import keras

    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    return [np.asarray(a) for a in layer(x, training=training)]


def test_dropout_cell_keeps_tf1s_semantics():
    import keras

    from migration.targets.keras3_layers import DropoutCell

    x = np.random.default_rng(5).uniform(0.5, 1.5, (64, T, D)).astype(np.float32)  # no zeros of its own
    bare = _run(_probe_cell(), x, False)
    assert all(np.array_equal(a, b) for a, b in zip(bare, _run(DropoutCell(_probe_cell(), 0.5, 0.5, 0.5, seed=1), x,
                                                               False)))
    out, h, c = _run(DropoutCell(_probe_cell(), input_keep_prob=0.5, seed=2), x, True)
    kept = out != 0
    np.testing.assert_allclose(out[kept], 2.0 * x[kept], rtol=1e-6)  # survivors scaled by 1/keep
    assert 0.4 < kept.mean() < 0.6 and np.any(kept[:, 0] != kept[:, 1])  # a fresh mask every step
    np.testing.assert_array_equal(h, out[:, -1])
    out, h, c = _run(DropoutCell(_probe_cell(), state_keep_prob=0.5, seed=3), x, True)
    np.testing.assert_array_equal(out, x)  # the output is not the dropped state
    np.testing.assert_array_equal(c, x[:, -1])  # the second state (an LSTM's c) is never dropped
    assert 0.4 < (h != 0).mean() < 0.6 and np.allclose(h[h != 0], 2.0 * x[:, -1][h != 0])
    out, h, c = _run(DropoutCell(_probe_cell(), output_keep_prob=0.25, seed=4), x, True)
    assert 0.15 < (out != 0).mean() < 0.35 and np.allclose(out[out != 0], 4.0 * x[out != 0])
    np.testing.assert_array_equal(h, x[:, -1])
    with pytest.raises(ValueError, match="input_keep_prob"):
        DropoutCell(_probe_cell(), input_keep_prob=0.0)


def test_dropout_cell_model_round_trips_in_safe_mode(tmp_path):
    import keras

    from migration.targets.keras3_layers import DropoutCell

    inputs = keras.Input((None, D))
    cell = DropoutCell(keras.layers.LSTMCell(4), input_keep_prob=0.8, state_keep_prob=0.7, seed=9)
    model = keras.Model(inputs, keras.layers.RNN(cell)(inputs))
    x = np.random.default_rng(6).normal(0, 1, (2, T, D)).astype(np.float32)
    model.save(str(tmp_path / "dropout.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "dropout.keras"), safe_mode=True)
    wrapper = loaded.layers[-1].cell
    assert keras.saving.get_registered_name(type(wrapper)) == "rnn_migrate>DropoutCell"
    assert (wrapper.input_keep_prob, wrapper.state_keep_prob, wrapper.output_keep_prob) == (0.8, 0.7, 1.0)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    bare = keras.Model(inputs, keras.layers.RNN(keras.layers.LSTMCell(4))(inputs))
    bare.set_weights(model.get_weights())
    np.testing.assert_allclose(np.asarray(bare(x)), np.asarray(model(x)), atol=1e-7)  # inference: the bare cell
