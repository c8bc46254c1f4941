"""Issue 24: a whole model with a ``tf.nn.raw_rnn`` decoder (Keras 2 ``modern_rnn.FeedbackDecoder``) exported to
Keras 3 (``rnn_migrate>FeedbackDecoder``, a ``keras.ops.while_loop``) and ONNX (one ``Loop``), each compared with the
ORIGINAL TF1 graph (``import_meta_graph`` + ``Saver.restore``, run here by TensorFlow, not by rnn-migrate).

Programs: the three of ``tests/seq2seq/test_raw_rnn_decoder.py`` (its ``BUILDERS``: an LSTM decoder with a
hand-written ``loop_fn`` feeding back ``embedding_lookup(E, argmax(output @ W + b))``; a two-layer GRU decoder
stopping on EOS; an LSTM decoder with teacher forcing) and one more here: a ``LayerNormBasicLSTMCell`` decoder (a
custom step on both targets) whose argmax reads a projection without bias. One conversion with both targets per
program, without ``convert``'s own check (it would cost a JAX child per program: ~6.5 CPU s each; the survey of
the test suite, benchmarks/survey_targets.py, runs it on these programs): every file is checked here instead, against
the original graph on other inputs (Keras 3 on JAX in one child process for all of them).
Files loaded as a user does: Keras 3 in safe mode (TensorFlow backend here, JAX in one child process), ONNX in
onnxruntime. Negative controls (:data:`TAMPERED`): the decoder cell's first two gate blocks swapped (an LSTM op, a
GRU op, the custom step), the feedback embedding's rows reversed, in the target files: the product's check
(``verify_targets.compare`` / ``summary``) fails by > 1e-3 on TensorFlow and onnxruntime (and on JAX for one of them:
the JAX runs cost ~1.5 CPU s per model).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import contrib
from legacy_rnn.feedback_decoder import greedy_raw_rnn
from migration.checkpoint import convert_checkpoint
from migration.targets import onnx_export
from migration.targets.keras3 import load_block
from migration.targets.verify_targets import TOLERANCE, compare, run_keras3_elsewhere, summary
from tests.checkpoint.ground_truth_graphs import tf1_graph_form
from tests.seq2seq import test_raw_rnn_decoder as raw

pytest.importorskip("keras")
pytest.importorskip("onnxruntime")

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
H, V, E, T, B = raw.H, raw.V, raw.E, raw.T, raw.B
KINDS = ("lstm", "gru_eos", "teacher", "layer_norm")
NAMES = ["ids:0", "lengths:0", "dec_ids:0", "dec_lengths:0"]
#: the files run on JAX here: every good one and one negative control
JAX_RUNS = {(kind, "good") for kind in KINDS} | {("gru_eos", "embeddings")}
#: the negative controls: a standard LSTM op / GRU op / custom step's gate blocks, the feedback embedding's rows
TAMPERED = {"lstm": ("gates",), "gru_eos": ("embeddings",), "teacher": ("gates",),
            "layer_norm": ("gates", "embeddings")}


def _layer_norm_decoder():
    """An LSTMCell encoder; a LayerNormBasicLSTMCell(forget_bias 0.6) raw_rnn decoder from its state, feeding back
    embedding_lookup(emb, argmax(output @ W)) (no bias), rows finishing at their encoder length + 2."""
    ids = v1.placeholder(tf.int32, [None, None], "ids")
    lengths = v1.placeholder(tf.int32, [None], "lengths")
    emb = v1.get_variable("emb", [V, E])
    _, state = v1.nn.dynamic_rnn(v1.nn.rnn_cell.LSTMCell(H), tf.nn.embedding_lookup(emb, ids), sequence_length=lengths,
                                 time_major=True, dtype=tf.float32, scope="encoder")
    w = v1.get_variable("W", [H, V])
    go = tf.nn.embedding_lookup(emb, tf.fill(tf.shape(ids)[1:2], 1))
    outputs, _ = greedy_raw_rnn(contrib.layer_norm_basic_lstm_cell(H, forget_bias=0.6), go, state, lengths + 2,
                                embeddings=emb, kernel=w, scope="decoder")
    steps, batch = tf.unstack(tf.shape(outputs))[:2]
    return ids, lengths, tf.reshape(tf.matmul(tf.reshape(outputs, [-1, H]), w), tf.stack([steps, batch, V]))


def _save(directory: str, kind: str) -> dict:
    builder = _layer_norm_decoder if kind == "layer_norm" else raw.BUILDERS[kind]
    rng = np.random.default_rng(11)  # raw_rnn_decoder.py's weights: some GRU rows predict EOS early
    with tf1_graph_form(True), tf.Graph().as_default():  # the TF 1.x frames a TF1 program's .meta holds
        _, _, logits = builder()
        with v1.Session(config=raw.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            for var in v1.trainable_variables():  # asymmetric weights, non-zero biases
                var.load(rng.normal(0, 0.8, var.shape.as_list()).astype(np.float32), sess)
            prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    return {"prefix": prefix, "logits": logits.name}


def _feeds(kind: str) -> list[np.ndarray]:
    """Time-major ids [T, B], ragged lengths (one full, one of 1); teacher forcing: batch-major decoder ids, ragged."""
    rng = np.random.default_rng(7)
    out = [rng.integers(0, V, (T, B)).astype(np.int32), np.array([T, 1, 3], np.int32)]
    if kind == "teacher":
        out += [rng.integers(0, V, (B, T + 1)).astype(np.int32), np.array([3, T + 1, 1], np.int32)]
    return out


def _original(case: dict, feeds: list[np.ndarray]) -> np.ndarray:
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(case["prefix"] + ".meta")
        with v1.Session(config=raw.FAST) as sess:
            saver.restore(sess, case["prefix"])
            return sess.run(case["logits"], dict(zip(NAMES, feeds)))


def _swap_gates(array: np.ndarray, axis: int) -> np.ndarray:
    """The first two gate blocks (``H`` wide) along ``axis`` swapped."""
    out = np.array(array)
    first = [slice(None)] * out.ndim
    second = list(first)
    first[axis], second[axis] = slice(0, H), slice(H, 2 * H)
    out[tuple(first)], out[tuple(second)] = array[tuple(second)], array[tuple(first)]
    return out


def _keras3_tampered(path: str, what: str, out: str) -> str:
    model = load_block(path)
    layer = next(l for l in model.layers if type(l).__name__ == "FeedbackDecoder")
    if what == "gates":
        weights = layer.cells[0].get_weights()
        layer.cells[0].set_weights([_swap_gates(weights[0], -1)] + weights[1:])
    else:
        layer.embeddings.assign(np.asarray(layer.embeddings)[::-1])
    model.save(out)
    return out


def _onnx_tampered(path: str, what: str, out: str) -> str:
    """The Loop body's first weight (a standard op's ``W [1, G*U, D]``, a custom step's ``[D, G*U]``) with its first
    two gate blocks swapped, or its ``embeddings`` initializer's rows reversed."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    loop = next(n for n in model.graph.node if n.op_type == "Loop")
    body = next(a.g for a in loop.attribute if a.name == "body")
    stem = "W_" if what == "gates" else "embeddings_"
    init = next(i for i in body.initializer if i.name.startswith(stem))
    array = numpy_helper.to_array(init)
    array = (_swap_gates(array, 1 if array.ndim == 3 else -1) if what == "gates" else array[::-1])
    init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array), init.name))
    onnx.save(model, out)
    return out


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> dict:
    out = {}
    for kind in KINDS:
        root = tmp_path_factory.mktemp(f"feedback_{kind}")
        case = _save(str(root), kind)
        case["result"] = convert_checkpoint(case["prefix"], root / "conv", check_integrity=False,
                                            targets=["keras3", "onnx"], verify=False)
        case["conv"], case["feeds"] = str(root / "conv"), _feeds(kind)
        case["expected"] = _original(case, case["feeds"])
        out[kind] = case
    return out


@pytest.fixture(scope="module")
def runs(programs, tmp_path_factory) -> dict:
    """Every file and every tampered copy run once: Keras 3 on TensorFlow here, on JAX in one child, ONNX."""
    work = tmp_path_factory.mktemp("tampered")
    out, jobs = {}, []
    for kind, case in programs.items():
        files = {"keras3": os.path.join(case["conv"], "model.keras3.keras"),
                 "onnx": os.path.join(case["conv"], "model.onnx")}
        variants = {"good": files}
        for what in TAMPERED[kind]:
            variants[what] = {"keras3": _keras3_tampered(files["keras3"], what, str(work / f"{kind}_{what}.keras")),
                              "onnx": _onnx_tampered(files["onnx"], what, str(work / f"{kind}_{what}.onnx"))}
        for variant, paths in variants.items():
            out[(kind, variant, "tensorflow")] = np.asarray(load_block(paths["keras3"])(case["feeds"]))
            sess = onnx_export.session(paths["onnx"])
            out[(kind, variant, "onnxruntime")] = sess.run(None, dict(zip(["input_" + n[:-2] for n in NAMES],
                                                                          case["feeds"])))[0]
            if (kind, variant) in JAX_RUNS:
                jobs.append(((kind, variant, "jax"), (paths["keras3"], case["feeds"])))
    results, note = run_keras3_elsewhere([job for _, job in jobs], "jax")
    assert results is not None, note
    for (key, _), got in zip(jobs, results):
        out[key] = got[0]
    return out


def _check(programs, runs, kind: str, variant: str) -> dict:
    case = programs[kind]
    block = {"name": "whole model", "outputs": [case["logits"]]}
    checks = []
    for backend, target in (("tensorflow", "keras3"), ("jax", "keras3"), ("onnxruntime", "onnx")):
        if (kind, variant, backend) not in runs:
            continue
        checks += compare(target, backend, block, "original-graph", [case["expected"]],
                          [runs[(kind, variant, backend)]])
    return summary(checks, [], TOLERANCE)


@pytest.mark.parametrize("kind", KINDS)
def test_both_whole_model_files_equal_the_original_graph(programs, runs, kind: str) -> None:
    case = programs[kind]
    manifest = case["result"].manifest
    layer = next(name for name, src in manifest["model"]["layers"].items() if name.startswith("raw_rnn_"))
    for target, rel in (("keras3", "model.keras3.keras"), ("onnx", "model.onnx")):
        assert manifest["targets"][target]["model"]["file"] == rel, manifest["targets"][target]
        assert "the whole model (model.keras)" not in manifest["targets"][target]["not_exported"]
        assert not [n for n in manifest["targets"].get("notes", []) if "no whole model" in n]
    result = _check(programs, runs, kind, "good")
    for target in ("keras3", "onnx"):
        assert result[target]["ok"] and result[target]["max_abs_diff"] < 1e-5, result[target]
    assert result["keras3"]["backends"] == ["jax", "tensorflow"]
    steps = case["expected"].shape[0]  # the loop's own stop: lengths + 2 / + 3 or EOS / the decoder's lengths
    assert {"lstm": T + 2, "layer_norm": T + 2, "teacher": T + 1}.get(kind, steps) == steps
    if kind == "gru_eos":
        assert 1 < steps < T + 3  # EOS ended the loop before the longest length
    loaded = load_block(os.path.join(case["conv"], "model.keras3.keras"))
    decoder = loaded.get_layer(layer)
    import keras

    assert keras.saving.get_registered_name(type(decoder)) == "rnn_migrate>FeedbackDecoder"
    import onnx

    graph = onnx.load(os.path.join(case["conv"], "model.onnx")).graph
    assert [n.op_type for n in graph.node].count("Loop") == 1 and {n.domain for n in graph.node} == {""}


@pytest.mark.parametrize("kind, variant", [(k, v) for k in KINDS for v in TAMPERED[k]])
def test_a_wrong_decoder_weight_fails_the_check_on_every_target(programs, runs, kind: str, variant: str) -> None:
    result = _check(programs, runs, kind, variant)
    for target in ("keras3", "onnx"):
        assert not result[target]["ok"], result[target]
        assert {c["backend"] for c in result[target]["checks"]} >= ({"onnxruntime"} if target == "onnx" else
                                                                      {"tensorflow"})
        for check in result[target]["checks"]:  # each backend: a wrong shape (an EOS moved) counts as inf
            assert check["max_abs_diff"] > 1e-3, (target, check)


@pytest.mark.parametrize("steps, batch", [(4, 4), (3, 5)])
def test_a_reshape_to_two_run_time_dims_is_exact_when_they_are_equal(steps: int, batch: int) -> None:
    """The decoders' logits: ``tf.reshape(flat, tf.stack([steps, batch, V]))`` of the outputs' run-time dims (Keras 3
    glue: a gather of the row-major index grid). Regression: with ``steps == batch`` Keras 3's TensorFlow ``add``
    took a ``[n, 1, 1]`` term for a bias (``tf.nn.bias_add`` on axis 1), and the result was ``[1, batch, V]``."""
    import keras

    from migration.targets.keras3_glue import Dim, Dims, apply

    x = keras.Input((None, H))
    flat = keras.ops.reshape(x, (-1, H))
    (out,) = apply("reshape", flat, {"shape": Dims((Dim(x, 0), Dim(x, 1), H))})
    model = keras.Model(x, out)
    data = np.random.default_rng(3).normal(size=(steps, batch, H)).astype(np.float32)
    got = np.asarray(model(data))
    assert got.shape == data.shape and np.array_equal(got, data)


def test_the_keras3_layer_refuses_a_wrong_configuration() -> None:
    """A hand-edited config (safe-mode loading runs ``from_config``): an unknown feedback rule, a state order that is
    not a permutation of the cells' states, and a call with the wrong number of states are refused, naming them."""
    import keras

    from migration.targets.keras3_feedback import FeedbackDecoder

    def cells():
        return [keras.layers.LSTMCell(H)]

    with pytest.raises(ValueError, match=r"`feedback`: expected one of \('argmax', 'inputs'\), got 'beam'"):
        FeedbackDecoder(cells(), V, E, [1, 0], feedback="beam")
    with pytest.raises(ValueError, match=r"`order`: a permutation of the 2 states of the cells expected, got \[0, 0\]"):
        FeedbackDecoder(cells(), V, E, [0, 0])
    layer = FeedbackDecoder(cells(), V, E, [1, 0])
    zeros = np.zeros((B, H), np.float32)
    with pytest.raises(ValueError, match="the cells carry 2 state tensors, got 1"):
        layer([np.zeros((B, E), np.float32), np.zeros(B, bool), np.ones(B, np.int32), zeros])
    restored = FeedbackDecoder.from_config(FeedbackDecoder(cells(), V, E, [1, 0], eos_id=3).get_config())
    assert (restored.order, restored.eos_id, type(restored.cells[0]).__name__) == ([1, 0], 3, "LSTMCell")
