"""Issue 24: whole models whose blocks' cells are in ``tf.contrib.rnn`` InputProjectionWrapper /
OutputProjectionWrapper / EmbeddingWrapper (migration/targets/wrapped_whole.py), on Keras 3 and ONNX.

One real TF1 program (Saver + .meta), the wrappers nested both ways round and alone:
``OutputProjectionWrapper(InputProjectionWrapper(BasicLSTMCell(4, forget_bias 0.6), 5), 3)`` on ``x``,
``EmbeddingWrapper(OutputProjectionWrapper(GRUCell(4), 2), V, 3)`` on int32 ids ``[B, T, 1]``, and
``OutputProjectionWrapper(BasicRNNCell(4), 4)`` (a projection to the cell's own width: dropping it would keep every
shape). The head reads each block's projected outputs summed over time (the zeros past each length matter: the
projection's bias must not be there) and its final state (the cell's, never projected). The original session records
the logits on full-length and on ragged lengths. Converted ONCE with both targets: convert's own whole-model checks
(original graph, Keras 3 on TensorFlow and JAX, onnxruntime) pass; both files loaded as a user loads them give the
recorded logits; a wrapper's kernel with two rows swapped (each wrapper, each target) moves them > 1e-3 and the
verifier says so.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

TOL = 1e-5
B, T, D, V = 4, 6, 3, 7
RAGGED = np.array([6, 1, 4, 3], np.int32)


def _build(directory: str) -> tuple[str, dict]:
    import legacy_rnn
    from legacy_rnn import tf, v1

    with legacy_rnn.new_graph(11) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        ids = v1.placeholder(tf.int32, [None, T, 1], name="ids")
        length = v1.placeholder(tf.int32, [None], name="length")

        def run(cell, inputs, scope):
            return legacy_rnn.dynamic_rnn(cell, inputs, sequence_length=length, scope=scope, dtype=tf.float32)

        a_out, a_state = run(legacy_rnn.output_projection_wrapper(legacy_rnn.input_projection_wrapper(
            legacy_rnn.basic_lstm_cell(4, forget_bias=0.6), 5), 3), x, "a")
        b_out, b_state = run(legacy_rnn.embedding_wrapper(legacy_rnn.output_projection_wrapper(
            legacy_rnn.gru_cell(4), 2), V, 3), ids, "b")
        c_out, c_state = run(legacy_rnn.output_projection_wrapper(legacy_rnn.basic_rnn_cell(4), 4), x, "c")
        feats = tf.concat([tf.reduce_sum(a_out, 1), a_state.c, tf.reduce_sum(b_out, 1), b_state,
                           tf.reduce_sum(c_out, 1), c_state], -1)
        logits = v1.layers.dense(feats, 3, name="head")
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        rng = np.random.default_rng(11)
        for var in v1.global_variables():  # seeded, asymmetric, biases non-zero
            var.load(rng.uniform(-0.8, 0.8, var.shape.as_list()).astype(np.float32), sess)
        feeds = {"x": rng.normal(0, 1, (B, T, D)).astype(np.float32), "ids": rng.integers(0, V, (B, T, 1)).astype(
            np.int32)}
        recorded = {"feeds": feeds, "logits": {}}
        for name, lengths in (("full", np.full(B, T, np.int32)), ("ragged", RAGGED)):
            recorded["logits"][name] = sess.run(logits, {x: feeds["x"], ids: feeds["ids"], length: lengths})
        prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    return prefix, recorded


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from migration.checkpoint.convert import convert_checkpoint

    root = tmp_path_factory.mktemp("cell_wrappers")
    os.makedirs(root / "ckpt")
    prefix, recorded = _build(str(root / "ckpt"))
    result = convert_checkpoint(prefix, root / "out", targets=["keras3", "onnx"])
    assert result.ok, result.verification
    return str(root / "out"), result.manifest, recorded


def _args(entry: dict, recorded: dict, lengths: np.ndarray) -> list[np.ndarray]:
    values = dict(recorded["feeds"], length=lengths)
    return [values[name.split(":")[0]] for name in entry["inputs"]]


def _keras3(path: str, entry: dict, recorded: dict, lengths: np.ndarray, mutate=None) -> np.ndarray:
    from migration.targets import keras3

    model = keras3.load_block(path)
    if mutate is not None:
        mutate(model)
    return np.asarray(model(_args(entry, recorded, lengths), training=False))


def _onnx(path: str, entry: dict, recorded: dict, lengths: np.ndarray, mutate=None) -> np.ndarray:
    import onnx
    import onnxruntime as ort

    model = onnx.load(path)
    if mutate is not None:
        mutate(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, dict(zip(entry["model_inputs"], _args(entry, recorded, lengths))))[0]


def test_whole_models_are_written_and_verified_against_the_original_graph(converted):
    out, manifest, _ = converted
    layers = {v["block"] for v in manifest["model"]["layers"].values() if "block" in v}
    assert len(layers) == 3 and all(os.path.isfile(os.path.join(out, f)) for f in ("model.keras3.keras",
                                                                                   "model.onnx"))
    for target, backends in (("keras3", {"tensorflow", "jax"}), ("onnx", {"onnxruntime"})):
        entry = manifest["targets"][target]
        assert entry["model"]["file"] and not entry["not_exported"], entry
        checks = [c for c in entry["verification"]["checks"] if c["what"] == "whole model"]
        assert {c["backend"] for c in checks} == backends
        assert all(c["reference"] == "original-graph" and c["max_abs_diff"] <= TOL for c in checks), checks
    assert not [n for n in manifest["targets"].get("notes", []) if "no whole model" in n]


def test_both_files_give_the_recorded_logits_on_full_and_ragged_lengths(converted):
    out, manifest, recorded = converted
    full, ragged = recorded["logits"]["full"], recorded["logits"]["ragged"]
    assert np.abs(full - ragged).max() > 0.1 and np.abs(full).max() > 0.1  # the lengths and the blocks matter
    for name, lengths in (("full", np.full(B, T, np.int32)), ("ragged", RAGGED)):
        expected = recorded["logits"][name]
        entry = manifest["targets"]["keras3"]["model"]
        got = _keras3(os.path.join(out, entry["file"]), entry, recorded, lengths)
        assert np.abs(got - expected).max() <= TOL, name
        entry = manifest["targets"]["onnx"]["model"]
        got = _onnx(os.path.join(out, entry["file"]), entry, recorded, lengths)
        assert np.abs(got - expected).max() <= TOL, name


#: a wrapper's array in the targets' whole-model files, two rows swapped: (Keras 3 layer path, ONNX initializer stem)
TAMPERED = {"a input projection": ("block_a_output_projection_wrapper_input_projection_wrapper_wrapped",
                                   "input_projection_wrapper", "input_projection_wrapper_kernel"),
            "b embedding": ("block_b_embedding_wrapper_output_projection_wrapper_wrapped", "embedding_wrapper",
                            "embedding_wrapper"),
            "c output projection": ("block_c_output_projection_wrapper_wrapped", "output_projection_wrapper",
                                    "output_projection_wrapper_kernel")}


def _swap(array: np.ndarray) -> np.ndarray:
    out = np.array(array)
    out[[0, 1]] = out[[1, 0]]
    return out


def test_a_wrapper_kernel_with_rows_swapped_is_caught(converted, tmp_path):
    """Each target's whole-model file with one wrapper's array tampered (each wrapper in turn): the logits move
    > 1e-3 on Keras 3 (TensorFlow here, JAX in one child process) and onnxruntime, and the verifier's comparison
    (migration.targets.verify_targets: compare, summary) fails every target."""
    import onnx
    from onnx import numpy_helper

    from migration.targets import keras3
    from migration.targets.verify_targets import compare, run_keras3_elsewhere, summary

    out, manifest, recorded = converted
    expected = [recorded["logits"]["ragged"]]
    fake = {"name": "whole model", "outputs": manifest["targets"]["onnx"]["model"]["outputs"]}
    checks, jobs = [], []
    for which, (outer, inner, stem) in sorted(TAMPERED.items()):
        k3 = keras3.load_block(os.path.join(out, "model.keras3.keras"))
        layer = k3.get_layer(outer).get_layer(inner)
        layer.set_weights([_swap(layer.get_weights()[0])] + layer.get_weights()[1:])
        path = str(tmp_path / f"{inner}.keras3.keras")
        k3.save(path)
        entry = manifest["targets"]["keras3"]["model"]
        args = _args(entry, recorded, RAGGED)
        checks += compare("keras3", "tensorflow", dict(fake, what=which), "original-graph", expected,
                          [_keras3(path, entry, recorded, RAGGED)])
        jobs.append((path, args))
        model = onnx.load(os.path.join(out, "model.onnx"))
        (init,) = [i for i in model.graph.initializer if i.name.startswith(f"{outer}/{stem}_")]
        init.CopyFrom(numpy_helper.from_array(_swap(numpy_helper.to_array(init)), init.name))
        path = str(tmp_path / f"{inner}.onnx")
        onnx.save(model, path)
        entry = manifest["targets"]["onnx"]["model"]
        checks += compare("onnx", "onnxruntime", dict(fake, what=which), "original-graph", expected,
                          [_onnx(path, entry, recorded, RAGGED)])
    results, _ = run_keras3_elsewhere(jobs, "jax")
    for which, got in zip(sorted(TAMPERED), results):
        checks += compare("keras3", "jax", dict(fake, what=which), "original-graph", expected, got)
    assert len(checks) == 9 and all(c.max_abs_diff > 1e-3 for c in checks), [(c.what, c.backend, c.max_abs_diff)
                                                                             for c in checks]
    result = summary(checks, [])
    assert not result["keras3"]["ok"] and not result["onnx"]["ok"]


def test_a_nested_form_the_targets_do_not_translate_is_named():
    """The narrowed refusal (migration/targets/wrapped_whole.py): a ``<block>_wrapped`` layer holding something
    rnn-migrate's Keras 2 conversion never writes (an activation on the projection, a foreign Dense) is not
    translated: NotExportable naming the layer and what is in the way. A plain block model is not 'wrapped'."""
    from migration.targets.glue import NotExportable
    from migration.targets.wrapped_whole import is_wrapped, parse

    def nested(*inner):
        return {"class_name": "Functional", "name": "block_b_wrapped", "config": {
            "name": "block_b_wrapped", "input_layers": [["x", 0, 0]], "output_layers": [["block_b", 1, 0]],
            "layers": [{"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [None, None, 3]}},
                       {"class_name": "Functional", "name": "block_b", "config": {}},
                       *({"class_name": c, "name": n, "config": dict(cfg, name=n)} for c, n, cfg in inner)]}}

    cases = {"activation 'tanh'": nested(("Dense", "output_projection_wrapper", {"activation": "tanh"})),
             "Dense 'dense'": nested(("Dense", "dense", {})),
             "an embedding and an input projection": nested(("Embedding", "embedding_wrapper", {}),
                                                            ("Dense", "input_projection_wrapper", {})),
             "Lambda": nested(("Dense", "input_projection_wrapper", {}), ("Lambda", "lambda", {}))}
    for why, layer in cases.items():
        assert is_wrapped(layer)
        with pytest.raises(NotExportable, match=r"layer 'block_b_wrapped' is a block whose cell is in a tf\.contrib"
                                                r"\.rnn cell wrapper with weights, but .*" + why):
            parse(layer, None)
    plain = nested()
    plain["config"]["layers"].append({"class_name": "RNN", "name": "rnn", "config": {}})
    assert not is_wrapped(plain)
