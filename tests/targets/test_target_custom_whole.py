"""Issue 24: a whole model (``model.keras3.keras``, ``model.onnx``) whose blocks are custom steps.

One real TF1 checkpoint (Saver + .meta): embedding -> LayerNormBasicLSTMCell(5, forget_bias 0.7) -> SRUCell(4) ->
dense head on the last step, seeded asymmetric weights in [-0.8, 0.8]; the original session records the logits on
full-length inputs (the head reads ``outputs[:, -1]``: ragged rows would show it zeros). Converted ONCE with both
targets: convert's own checks pass, the whole-model files exist and rerun within 1e-5 of the recorded logits, and a
forget_bias left unfolded in the layer-norm cell (Keras 3 weights, ONNX Scan-body initializer) moves them > 1e-3.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from tests.checkpoint.tf1_values import load_values

TOL = 1e-5
T, VOCAB, EMB, FORGET_BIAS, LN_UNITS = 6, 20, 5, 0.7, 5


def _build(directory: str) -> str:
    import legacy_rnn
    from legacy_rnn import contrib, sru, tf, v1

    with legacy_rnn.new_graph(7) as graph:
        ids = v1.placeholder(tf.int32, [None, T], name="ids")
        length = v1.placeholder(tf.int32, [None], name="length")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        data = v1.nn.embedding_lookup(v1.get_variable("embedding", [VOCAB, EMB]), ids)
        out, _ = legacy_rnn.dynamic_rnn(contrib.layer_norm_basic_lstm_cell(LN_UNITS, forget_bias=FORGET_BIAS), data,
                                        sequence_length=length, scope="ln")
        out, _ = legacy_rnn.dynamic_rnn(sru.sru_cell(4), out, sequence_length=length, scope="sru")
        logits = v1.layers.dense(out[:, -1], 3, name="head")
        v1.losses.sparse_softmax_cross_entropy(labels, logits)
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        rng = np.random.default_rng(7)
        load_values(sess, [(var, rng.uniform(-0.8, 0.8, var.shape.as_list()).astype(np.float32))
                           for var in v1.global_variables()])
        feeds = {"ids": np.random.default_rng(9).integers(0, VOCAB, (5, T)).astype(np.int32),
                 "length": np.full(5, T, np.int32)}
        np.savez(os.path.join(directory, "ref_whole.npz"), logits=sess.run(logits, {ids: feeds["ids"], length:
                                                                                  feeds["length"]}), **feeds)
        return v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    from migration.checkpoint.convert import convert_checkpoint

    root = tmp_path_factory.mktemp("custom_whole")
    os.makedirs(root / "ckpt")
    prefix = _build(str(root / "ckpt"))
    result = convert_checkpoint(prefix, root / "out", targets=["keras3", "onnx"])
    assert result.ok, result.verification
    with np.load(root / "ckpt" / "ref_whole.npz", allow_pickle=False) as ref:
        recorded = {k: ref[k] for k in ref.files}
    return str(root / "out"), result.manifest, recorded


def _args(entry: dict, recorded: dict) -> list[np.ndarray]:
    return [recorded[name.split(":")[0]] for name in entry["inputs"]]


def _keras3_logits(out: str, manifest: dict, recorded: dict, mutate=None) -> np.ndarray:
    from migration.targets import keras3

    model = keras3.load_block(os.path.join(out, manifest["targets"]["keras3"]["model"]["file"]))
    if mutate is not None:
        mutate(model)
    args = _args(manifest["targets"]["keras3"]["model"], recorded)
    return np.asarray(model(args[0] if len(args) == 1 else args, training=False))


def _onnx_logits(out: str, manifest: dict, recorded: dict, mutate=None) -> np.ndarray:
    import onnx
    import onnxruntime as ort

    entry = manifest["targets"]["onnx"]["model"]
    model = onnx.load(os.path.join(out, entry["file"]))
    if mutate is not None:
        mutate(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, dict(zip(entry["model_inputs"], _args(entry, recorded))))[0]


def test_whole_model_files_of_custom_blocks_equal_the_original_session(whole):
    out, manifest, recorded = whole
    for target in ("keras3", "onnx"):
        entry = manifest["targets"][target]
        assert entry["model"]["file"] and not entry["not_exported"], entry
        checks = [c for c in entry["verification"]["checks"] if c["what"] == "whole model"]
        assert checks and all(c["reference"] == "original-graph" and c["max_abs_diff"] <= TOL for c in checks)
        assert {c["backend"] for c in entry["verification"]["checks"]} == (
            {"tensorflow", "jax"} if target == "keras3" else {"onnxruntime"})
    assert np.max(np.abs(_keras3_logits(out, manifest, recorded) - recorded["logits"])) <= TOL
    assert np.max(np.abs(_onnx_logits(out, manifest, recorded) - recorded["logits"])) <= TOL


def test_a_forget_bias_left_unfolded_in_a_custom_block_is_caught(whole):
    """The layer-norm cell's beta_f without the folded forget_bias, in each target's whole-model file."""
    out, manifest, recorded = whole

    def keras3_unfold(model):
        layers = [l for m in model.layers for l in getattr(m, "layers", [m]) if hasattr(l, "cell")]
        cell = next(l for l in layers if type(l.cell).__name__ == "LayerNormBasicLSTMCell")
        weights = cell.get_weights()
        weights[3][LN_UNITS:2 * LN_UNITS] -= FORGET_BIAS  # beta, Keras gate order i, f, c, o
        cell.set_weights(weights)

    def onnx_unfold(model):
        from onnx import numpy_helper

        body = next(n for n in model.graph.node if n.op_type == "Scan").attribute[0].g  # the first: the LN layer
        betas = [t for t in body.initializer if "beta" in t.name]  # per gate i, f, c, o, then the state's
        assert len(betas) == 5
        beta_f = numpy_helper.to_array(betas[1]) - np.float32(FORGET_BIAS)
        betas[1].CopyFrom(numpy_helper.from_array(beta_f, betas[1].name))

    assert np.max(np.abs(_keras3_logits(out, manifest, recorded, keras3_unfold) - recorded["logits"])) > 1e-3
    assert np.max(np.abs(_onnx_logits(out, manifest, recorded, onnx_unfold) - recorded["logits"])) > 1e-3


def test_the_custom_cells_module_imports_only_keras():
    """The JAX check's isolated child process (``python -I``) loads keras3_cells.py by its file path: it must not
    import rnn-migrate (nor TensorFlow) to register the cells."""
    import ast
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "migration" / "targets" / "keras3_cells.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"__future__", "keras"}, imported
