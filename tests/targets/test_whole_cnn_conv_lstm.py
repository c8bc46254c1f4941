"""Issue 24: a whole model holding a ConvLSTM block, a CNN head on its state and a 1-D convolution front end, on the
Keras 3 and ONNX targets, checked against the ORIGINAL TF1 session.

ONE real TF1 program (tf.compat.v1.train.Saver with its .meta; every variable seeded uniform in [-0.8, 0.8], the
moving variance in [0.4, 1.6]): ``video [4, B, 7, 5, 3]`` (time-major) -> ``dynamic_rnn(Conv2DLSTMCell(4 channels,
kernel [3, 2], forget_bias 0.7), time_major=True)`` with ragged ``lengths`` -> its outputs' mean over time and space,
and its final ``h`` -> ``conv2d`` (kernel [3, 2], strides 2, ``SAME`` with odd padding) + bias -> inference batch
norm -> relu -> ``max_pool2d`` (2 x 2, stride 1, ``SAME``) -> spatial mean;
``signal [B, 9, 2]`` -> ``expand_dims`` -> ``conv2d`` on ``[B, T, 1, C]`` (a 1-D convolution, stride 2, ``SAME``) ->
relu -> ``avg_pool2d`` (2 x 1, ``SAME``: the last window counts one row) -> ``squeeze`` -> ``dynamic_rnn(LSTMCell(4,
forget_bias 0.6))`` -> last step; both into a dense head and a loss. (``tf.nn.conv1d`` itself is not converted to a
Keras 2 model: its filter is an ``ExpandDims`` of the variable, see docs/targets.md.) The time-major ConvLSTM found a
bug in the Keras 2 whole-model translator (``migration/graph/to_keras.py`` swapped batch and time with the rank-3
permutation ``[1, 0, 2]``: no ``model.keras`` at all for a time-major ConvLSTM block); the Keras 2 model is checked
here too.

Converted ONCE with ``--target keras3 --target onnx`` (``verify=False``: this module checks, with one JAX child).
``model.keras3.keras`` (TensorFlow and JAX backends) and ``model.onnx`` must equal the logits the original session
computed, within 1e-5, on ragged and on full-length inputs. Negative controls, on each target: the batch norm's moving
variance times 1.5 (what the Keras 2 test of this front end changes), the front conv's kernel taps flipped along
H, each fail the same check.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from tests.checkpoint.tf1_values import load_values

TOL = 1e-5
B, T, H, W, C = 3, 4, 7, 5, 3
S, SC = 9, 2
RAGGED, FULL = np.array([T, 1, 3], np.int32), np.full(B, T, np.int32)


def _build(directory: str) -> str:
    """The program (module docstring); saves the checkpoint and the session's logits on both input sets."""
    import legacy_rnn
    from legacy_rnn import tf, v1

    with legacy_rnn.new_graph(41) as graph:
        x = v1.placeholder(tf.float32, [T, None, H, W, C], name="video")  # time-major
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        s = v1.placeholder(tf.float32, [None, S, SC], name="signal")
        cell = legacy_rnn.conv_lstm_cell(2, [H, W, C], 4, [3, 2], forget_bias=0.7, name="conv_2d_lstm_cell")
        seq, state = v1.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32, time_major=True,
                                       scope="video_rnn")
        h = tf.nn.bias_add(tf.nn.conv2d(state.h, v1.get_variable("front/conv/w", [3, 2, 4, 5]), [1, 2, 2, 1], "SAME"),
                           v1.get_variable("front/conv/b", [5]))
        h = v1.layers.batch_normalization(h, training=False, name="front/bn")
        a = tf.reduce_mean(tf.nn.max_pool2d(tf.nn.relu(h), [1, 2, 2, 1], [1, 1, 1, 1], "SAME"), [1, 2])
        g = tf.nn.conv2d(tf.expand_dims(s, 2), v1.get_variable("signal/conv/w", [3, 1, SC, 5]), [1, 2, 1, 1], "SAME")
        g = tf.nn.relu(tf.nn.bias_add(g, v1.get_variable("signal/conv/b", [5])))
        g = tf.squeeze(tf.nn.avg_pool2d(g, [1, 2, 1, 1], [1, 1, 1, 1], "SAME"), [2])
        out, _ = v1.nn.dynamic_rnn(legacy_rnn.lstm_cell(4, forget_bias=0.6), g, dtype=tf.float32, scope="signal_rnn")
        logits = v1.layers.dense(tf.concat([a, tf.reduce_mean(seq, [0, 2, 3]), out[:, -1]], 1), 3, name="head")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits), name="loss")
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        rng = np.random.default_rng(42)
        values = []
        for var in v1.global_variables():
            low, high = (0.4, 1.6) if "moving_variance" in var.name else (-0.8, 0.8)
            values.append((var, rng.uniform(low, high, var.shape.as_list()).astype(np.float32)))
        load_values(sess, values)
        os.makedirs(directory, exist_ok=True)
        feeds = {"video": rng.normal(0, 1, (T, B, H, W, C)).astype(np.float32),
                 "signal": rng.normal(0, 1, (B, S, SC)).astype(np.float32)}
        for tag, length in (("ragged", RAGGED), ("full", FULL)):
            got = sess.run(logits, {x: feeds["video"], s: feeds["signal"], lengths: length})
            np.savez(os.path.join(directory, f"ref_{tag}.npz"), logits=got, lengths=length, **feeds)
        return v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))


def _diff(expected, got) -> float:
    """max |got - expected|, a NaN counting as infinitely far."""
    if np.shape(expected) != np.shape(got):
        return float("inf")
    return float(np.nan_to_num(np.abs(np.asarray(got) - expected), nan=np.inf).max())


def _corrupt_keras3(src: str, dst: str, what: str) -> None:
    from migration.targets import keras3

    model = keras3.load_block(src)
    if what == "bn":
        layer = next(lay for lay in model.layers if type(lay).__name__ == "BatchNormalization")
        gamma, beta, mean, variance = layer.get_weights()
        layer.set_weights([gamma, beta, mean, variance * 1.5])
    else:
        layer = next(lay for lay in model.layers if type(lay).__name__ == "Conv2D" and "front" in lay.name)
        layer.set_weights([layer.get_weights()[0][::-1]])
    model.save(dst)


def _corrupt_onnx(src: str, dst: str, what: str) -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(src)
    inits = {i.name: i for i in model.graph.initializer}
    if what == "bn":
        node = next(n for n in model.graph.node if n.op_type == "BatchNormalization")
        init = inits[node.input[4]]
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * np.float32(1.5), init.name))
    else:
        node = next(n for n in model.graph.node if n.op_type == "Conv" and
                    numpy_helper.to_array(inits[n.input[1]]).shape == (5, 4, 3, 2))
        init = inits[node.input[1]]
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init)[:, :, ::-1].copy(), init.name))
    onnx.save(model, dst)


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """manifest, out, diffs {(file, inputs, backend): max |diff|} for the written and the corrupted files."""
    import modern_rnn  # noqa: F401  (tf_keras set up)

    from migration.checkpoint.convert import convert_checkpoint
    from migration.safe_io import load_block_model
    from migration.targets import keras3, onnx_export
    from migration.targets.verify_targets import run_keras3_elsewhere

    root = tmp_path_factory.mktemp("whole_cnn_conv_lstm")
    prefix = _build(str(root / "ckpt"))
    out = str(root / "out")
    manifest = convert_checkpoint(prefix, out, targets=["keras3", "onnx"], verify=False).manifest
    entry = manifest["targets"]["onnx"].get("model")
    assert entry is not None and manifest["targets"]["keras3"].get("model"), manifest["targets"]
    refs = {}
    for tag in ("ragged", "full"):
        with np.load(str(root / "ckpt" / f"ref_{tag}.npz"), allow_pickle=False) as data:
            refs[tag] = ([data[n] for n in entry["inputs"]], data["logits"])  # model inputs in the manifest's order
    files = {"keras3": os.path.join(out, "model.keras3.keras"), "onnx": os.path.join(out, "model.onnx")}
    for what in ("bn", "kernel"):
        files[f"keras3 {what}"] = str(root / f"{what}.keras3.keras")
        _corrupt_keras3(files["keras3"], files[f"keras3 {what}"], what)
        files[f"onnx {what}"] = str(root / f"{what}.onnx")
        _corrupt_onnx(files["onnx"], files[f"onnx {what}"], what)
    diffs, jobs, keys = {}, [], []
    keras2 = load_block_model(out, manifest["model"]["file"])
    for tag, (args, expected) in refs.items():
        diffs[("keras2", tag, "tensorflow")] = _diff(expected, np.asarray(keras2(args, training=False)))
    for name, path in files.items():
        for tag, (args, expected) in refs.items():
            if name.startswith("onnx"):
                got = onnx_export.session(path).run(None, dict(zip(entry["model_inputs"], args)))[0]
                diffs[(name, tag, "onnxruntime")] = _diff(expected, got)
            else:
                model = keras3.load_block(path)
                diffs[(name, tag, "tensorflow")] = _diff(expected, np.asarray(model(args)))
                if name == "keras3":  # Keras 3 in training mode (fit) must keep TF1's inference batch norm
                    diffs[(name, tag, "tensorflow training=True")] = _diff(expected, np.asarray(model(args,
                                                                                                    training=True)))
                jobs.append((path, args))
                keys.append((name, tag, "jax", expected))
    got, note = run_keras3_elsewhere(jobs, "jax")
    assert got is not None, note
    for (name, tag, backend, expected), outs in zip(keys, got):
        diffs[(name, tag, backend)] = _diff(expected, outs[0])
    return manifest, out, diffs


def test_the_whole_model_with_a_conv_lstm_and_cnn_layers_exports_to_both_targets(whole):
    import onnx

    from migration.targets import keras3

    manifest, out, _ = whole
    assert manifest["model"]["inputs"] == ["video", "lengths", "signal"]
    pieces = " ".join(manifest["model"]["pieces"])
    assert "RNN block video_rnn" in pieces and pieces.count("Conv2D(5") == 2 and "BatchNormalization(5)" in pieces
    for target, suffix in (("keras3", ".keras3.keras"), ("onnx", ".onnx")):
        entry = manifest["targets"][target]
        assert entry["model"]["file"] == "model" + suffix and entry["model"]["file"] in manifest["files"]
        assert entry["not_exported"] == [], entry["not_exported"]
        assert {b["name"] for b in entry["blocks"] if b.get("conv")} == {"video_rnn"}
    model = keras3.load_block(os.path.join(out, "model.keras3.keras"))
    kinds = {type(layer).__name__ for block in [model] + [m for m in model.layers if hasattr(m, "layers")]
             for layer in block.layers}
    assert {"ConvLSTM2D", "LSTM", "Conv2D", "BatchNormalization", "MaxPooling2D", "AveragePooling2D"} <= kinds, kinds
    bn = next(layer for layer in model.layers if type(layer).__name__ == "BatchNormalization")
    assert not bn.trainable  # the moving statistics also when Keras 3 trains the model (TF1's is_training=False)
    ops = {n.op_type for n in onnx.load(os.path.join(out, "model.onnx")).graph.node}
    assert {"Scan", "LSTM", "Conv", "BatchNormalization", "MaxPool", "AveragePool", "Transpose"} <= ops, ops


@pytest.mark.parametrize("tag", ["ragged", "full"])
def test_each_target_equals_the_original_session(whole, tag):
    diffs = whole[2]
    for key in (("keras2", tag, "tensorflow"), ("keras3", tag, "tensorflow"), ("keras3", tag, "jax"),
                ("onnx", tag, "onnxruntime"), ("keras3", tag, "tensorflow training=True")):
        assert diffs[key] <= TOL, (key, diffs[key])


@pytest.mark.parametrize("what", ["bn", "kernel"])
def test_a_corrupted_cnn_layer_fails_the_same_check_on_every_target(whole, what):
    """The batch norm's moving variance times 1.5, or the front conv's kernel flipped along H: > 1e-3 off on the
    TensorFlow and JAX backends and in onnxruntime, on both input sets."""
    diffs = whole[2]
    for tag in ("ragged", "full"):
        for key in ((f"keras3 {what}", tag, "tensorflow"), (f"keras3 {what}", tag, "jax"),
                    (f"onnx {what}", tag, "onnxruntime")):
            assert diffs[key] > 1e-3, (key, diffs[key])
