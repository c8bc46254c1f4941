"""Issue 24: ``tf.contrib.rnn.ConvLSTMCell`` blocks (1-D, 2-D, 3-D) as Keras 3 ``ConvLSTM{n}D`` and ONNX Scans of
``Conv`` (migration/targets/conv.py, conv_export.py), each checked against the ORIGINAL TF1 graph.

ONE real TF1 checkpoint (tf.compat.v1.train.Saver, with its .meta): a ConvLSTMCell per rank on its own input
placeholder (static spatial shape, which the Keras 2 conv block needs), ragged ``sequence_length``, seeded weights in
[-0.8, 0.8], forget_bias off its default (0.6, 0.8 with ``use_bias=False``, 0.3), even kernel sizes (TF's ``SAME``
pads their odd pixel at the end). Converted ONCE with ``--target keras3 --target onnx``: convert's checks (Keras 3
TensorFlow and JAX, onnxruntime) against the original graph must pass, the files are rerun here against outputs the
original session recorded on other inputs, and the negative controls (forget_bias not folded, gate blocks i/f
swapped, the recurrent kernel's taps flipped, ONNX ``SAME_LOWER`` padding) fail on each target.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.checkpoint.tf1_values import load_values

TOL = 1e-5
T = 4
LENGTHS = np.array([T, 1, 3], np.int32)
#: scope -> (rank, spatial shape, input channels, output channels, kernel shape, use_bias, forget_bias)
BLOCKS = {"c1": (1, (6,), 2, 3, (2,), True, 0.6), "c2": (2, (5, 4), 1, 2, (3, 2), False, 0.8),
          "c3": (3, (3, 4, 2), 2, 2, (2, 3, 1), True, 0.3)}


def _build(directory) -> str:
    import legacy_rnn
    from legacy_rnn import tf, v1

    with legacy_rnn.new_graph(11) as graph:
        flat, feeds = {}, {}
        rng = np.random.default_rng(12)
        length = v1.placeholder(tf.int32, [None], name="length")
        for scope, (n, spatial, c_in, c_out, kernel, use_bias, fb) in BLOCKS.items():
            x = v1.placeholder(tf.float32, [None, T, *spatial, c_in], name=f"x_{scope}")
            cell = legacy_rnn.conv_lstm_cell(n, [*spatial, c_in], c_out, list(kernel), use_bias=use_bias,
                                             forget_bias=fb)
            with v1.variable_scope(scope):
                out, state = v1.nn.dynamic_rnn(cell, x, sequence_length=length, dtype=tf.float32)
            flat[scope] = [out, state.c, state.h]
            feeds[x] = rng.normal(0, 1, (len(LENGTHS), T, *spatial, c_in)).astype(np.float32)
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        load_values(sess, [(var, rng.uniform(-0.8, 0.8, var.shape.as_list()).astype(np.float32))
                           for var in v1.global_variables()])
        os.makedirs(directory, exist_ok=True)
        values = sess.run(flat, {**feeds, length: LENGTHS})
        for (scope, outs), x in zip(values.items(), feeds.values()):
            np.savez(os.path.join(str(directory), f"ref_{scope}.npz"), x=x, lengths=LENGTHS,
                     **{f"out{k}": v for k, v in enumerate(outs)})
        return v1.train.Saver().save(sess, os.path.join(str(directory), "model.ckpt"))


@pytest.fixture(scope="module")
def conv_conversion(tmp_path_factory):
    from migration.checkpoint.convert import convert_checkpoint

    root = tmp_path_factory.mktemp("target_conv")
    prefix = _build(root / "ckpt")
    result = convert_checkpoint(prefix, root / "out", targets=["keras3", "onnx"], whole_model=False)
    assert result.ok, result.verification
    by_scope = {entry["scope"].split("/")[0]: entry for entry in result.manifest["conv_blocks"]}
    assert set(by_scope) == set(BLOCKS)
    return str(root), str(root / "out"), result.manifest, by_scope


def _ref(root: str, scope: str):
    with np.load(os.path.join(root, "ckpt", f"ref_{scope}.npz"), allow_pickle=False) as data:
        return data["x"], data["lengths"], [data[f"out{k}"] for k in range(3)]


def _diff(expected, got) -> float:
    assert len(expected) == len(got)
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(expected, got))


def test_convert_checks_every_conv_block_against_the_original_graph(conv_conversion):
    _, out, manifest, by_scope = conv_conversion
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        record = json.dumps(json.load(f)["files"])
    for target, backends in (("keras3", {"tensorflow", "jax"}), ("onnx", {"onnxruntime"})):
        entry = manifest["targets"][target]
        assert not any("conv" in item for item in entry["not_exported"]), entry["not_exported"]
        listed = {b["name"]: b["file"] for b in entry["blocks"] if b.get("conv")}
        assert set(listed) == {e["name"] for e in by_scope.values()}
        for conv_entry in by_scope.values():
            assert os.path.isfile(os.path.join(out, listed[conv_entry["name"]]))
            assert f'"{listed[conv_entry["name"]]}"' in record  # in the file record (verify, --force see it)
            mine = [c for c in entry["verification"]["checks"] if c["what"] == f"conv block {conv_entry['name']}"]
            assert {c["backend"] for c in mine} == backends
            assert len(mine) == 3 * len(backends)
            assert {c["reference"] for c in mine} == {"original-graph"}
            assert all(c["max_abs_diff"] <= TOL for c in mine), mine


@pytest.mark.parametrize("scope", sorted(BLOCKS))
def test_the_files_equal_the_original_session(conv_conversion, scope):
    """Keras 3 (safe mode, TensorFlow backend) and onnxruntime on the inputs the original session ran."""
    import keras

    from migration.targets import keras3, onnx_export

    root, out, _, by_scope = conv_conversion
    stem = os.path.splitext(by_scope[scope]["file"])[0]
    x, lengths, expected = _ref(root, scope)
    model = keras3.load_block(os.path.join(out, stem + ".keras3.keras"))
    assert any(isinstance(layer, (keras.layers.ConvLSTM1D, keras.layers.ConvLSTM2D, keras.layers.ConvLSTM3D))
               for layer in model.layers)
    assert _diff(expected, model([x, lengths], training=False)) <= TOL
    sess = onnx_export.session(os.path.join(out, stem + ".onnx"))
    assert _diff(expected, onnx_export.run_block(sess, x, lengths)) <= TOL
    # past each length: outputs zero, the state the last step's
    assert not np.any(expected[0][1, 1:]) and np.any(expected[0][0, -1])


def _unfolded(weights, entry):
    bias = weights[2].copy()
    c = bias.shape[0] // 4
    bias[c:2 * c] -= np.float32(entry["forget_bias"])
    return [weights[0], weights[1], bias]


def _swapped(weights, entry):
    def swap(a):
        c = a.shape[-1] // 4
        return np.concatenate([a[..., c:2 * c], a[..., :c], a[..., 2 * c:]], axis=-1)
    return [swap(w) for w in weights]


def _flipped(weights, entry):
    """Convolution instead of TF's cross-correlation for the recurrent taps (the kernel flipped on every spatial
    axis): what a framework with true convolution would compute from the same arrays."""
    n = entry["conv_ndims"]
    return [weights[0], np.flip(weights[1], axis=tuple(range(n))).copy(), weights[2]]


@pytest.mark.parametrize("scope", sorted(BLOCKS))
def test_negative_controls_fail_for_each_target(conv_conversion, scope, monkeypatch):
    import onnxruntime as ort

    from migration.checkpoint.reader import CheckpointReader
    from migration.targets import conv, onnx_export
    from migration.targets.conv_export import conv_weights

    root, _, _, by_scope = conv_conversion
    entry = by_scope[scope]
    x, lengths, expected = _ref(root, scope)
    weights = conv_weights(entry, CheckpointReader(os.path.join(root, "ckpt", "model.ckpt")).read)

    def both(ws):
        model = conv.onnx_conv_block(entry["conv_ndims"], entry["input_channels"], ws, "probe")
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        k3 = conv.keras3_conv_block(entry["conv_ndims"], entry["input_channels"], entry["spatial_shape"], ws, "probe")
        return (_diff(expected, onnx_export.run_block(sess, x, lengths)),
                _diff(expected, k3([x, lengths], training=False)))

    assert max(both(weights)) <= TOL
    for mutation in (_unfolded, _swapped, _flipped):
        assert min(both(mutation(weights, entry))) > 1e-3, mutation.__name__
    if any(k % 2 == 0 for k in BLOCKS[scope][4]):  # an even kernel: TF's SAME pads its odd pixel at the end
        real = conv.onnx_conv_block
        monkeypatch.setattr(conv.Graph, "node", _lower_padding(conv.Graph.node))
        model = real(entry["conv_ndims"], entry["input_channels"], weights, "probe")
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        assert _diff(expected, onnx_export.run_block(sess, x, lengths)) > 1e-3


def _lower_padding(node):
    def patched(self, op, inputs, n_out=1, **attrs):
        if op == "Conv":
            attrs["auto_pad"] = "SAME_LOWER"
        return node(self, op, inputs, n_out, **attrs)
    return patched
