"""Issue 24: each CNN front-end translation of the targets (migration/targets/cnn_front.py) against TensorFlow.

The Keras 2 whole model holds a CNN front end as ``Conv2D`` / ``BatchNormalization`` layers and ``tf.nn.max_pool2d``
/ ``avg_pool2d`` glue ops (migration/graph/cnn_layers.py). Each case below takes the real ``tf_keras`` layer config
(or the glue op's recorded arguments), translates it as the whole model does (``Keras3Whole`` / ``OnnxWhole``) and
compares with TensorFlow's own op on asymmetric inputs (odd sizes, channels 3, strides 2, SAME with odd padding,
dilations, even windows, channels-first): the Keras 3 model on the TensorFlow backend here and, saved, on the JAX
backend in one child process; the ONNX graph in onnxruntime. Negative controls: a kernel transposed H<->W, the batch
norm's mean and variance swapped, and an ONNX average pool counting the padding must each be caught.
"""
from __future__ import annotations

import os
import re

import numpy as np
import pytest

TOL = 1e-5
RNG = np.random.default_rng(24)
X = RNG.normal(0.0, 1.0, (2, 7, 9, 3)).astype(np.float32)  # NHWC: odd height and width, 3 channels
XC = np.ascontiguousarray(np.transpose(X, (0, 3, 1, 2)))  # the same as NCHW
KERNEL = RNG.uniform(-0.8, 0.8, (3, 2, 3, 4)).astype(np.float32)  # [kh, kw, in, out]: not square
EVEN = RNG.uniform(-0.8, 0.8, (2, 4, 3, 2)).astype(np.float32)
BIAS = np.array([0.3, -0.2, 0.1, 0.45], np.float32)
GAMMA, BETA = np.array([1.3, 0.6, -0.9], np.float32), np.array([0.2, -0.4, 0.05], np.float32)
MEAN, VARIANCE = np.array([0.4, -0.3, 0.9], np.float32), np.array([0.5, 1.7, 0.08], np.float32)


def _conv(kernel, strides, padding, data_format="channels_last", dilation=(1, 1), use_bias=False):
    """(Keras 2 Conv2D config as the whole model holds it, weights)."""
    import tf_keras

    layer = tf_keras.layers.Conv2D(kernel.shape[3], kernel.shape[:2], strides=strides, padding=padding,
                                   data_format=data_format, dilation_rate=dilation, use_bias=use_bias)
    layer.build((None, None, None, 3) if data_format == "channels_last" else (None, 3, None, None))
    weights = [kernel] + ([BIAS[:kernel.shape[3]]] if use_bias else [])
    return layer.get_config(), weights


def _bn(axis, epsilon):
    import tf_keras

    layer = tf_keras.layers.BatchNormalization(axis=axis, epsilon=epsilon)
    layer.build((None, 7, 9, 3) if axis == -1 else (None, 3, 7, 9))
    return layer.get_config(), [GAMMA, BETA, MEAN, VARIANCE]


def _tf_conv(tf, x, kernel, strides, padding, fmt="NHWC", dilation=(1, 1), bias=None):
    s = [1, 1] + list(strides) if fmt == "NCHW" else [1] + list(strides) + [1]
    d = [1, 1] + list(dilation) if fmt == "NCHW" else [1] + list(dilation) + [1]
    y = tf.nn.conv2d(x, kernel, s, padding, data_format=fmt, dilations=d)
    return y if bias is None else tf.nn.bias_add(y, bias, data_format=fmt)


def _tf_bn(tf, x, fmt, epsilon, mean=MEAN, variance=VARIANCE):
    return tf.compat.v1.nn.fused_batch_norm(x, GAMMA, BETA, mean, variance, epsilon=epsilon, is_training=False,
                                            data_format=fmt)[0]


#: id -> (Keras 2 class or glue function, input, (config, weights) or glue kwargs, TensorFlow reference)
CASES = {
    "conv_same_stride2_odd": ("Conv2D", X, lambda: _conv(KERNEL, (2, 2), "same"),
                              lambda tf: _tf_conv(tf, X, KERNEL, (2, 2), "SAME")),
    "conv_valid_stride21": ("Conv2D", X, lambda: _conv(KERNEL, (2, 1), "valid"),
                            lambda tf: _tf_conv(tf, X, KERNEL, (2, 1), "VALID")),
    "conv_same_even_kernel_stride2": ("Conv2D", X, lambda: _conv(EVEN, (2, 2), "same"),
                                      lambda tf: _tf_conv(tf, X, EVEN, (2, 2), "SAME")),
    "conv_same_dilated": ("Conv2D", X, lambda: _conv(KERNEL, (1, 1), "same", dilation=(2, 2)),
                          lambda tf: _tf_conv(tf, X, KERNEL, (1, 1), "SAME", dilation=(2, 2))),
    "conv_bias_nchw": ("Conv2D", XC, lambda: _conv(KERNEL, (2, 2), "same", "channels_first", use_bias=True),
                       lambda tf: _tf_conv(tf, XC, KERNEL, (2, 2), "SAME", "NCHW", bias=BIAS)),
    "bn_nhwc": ("BatchNormalization", X, lambda: _bn(-1, 1e-3), lambda tf: _tf_bn(tf, X, "NHWC", 1e-3)),
    "bn_nchw_small_eps": ("BatchNormalization", XC, lambda: _bn(1, 1e-5), lambda tf: _tf_bn(tf, XC, "NCHW", 1e-5)),
    "max_same_3x3_stride2": ("nn.max_pool2d", X, {"ksize": [1, 3, 3, 1], "strides": [1, 2, 2, 1], "padding": "SAME",
                                                  "data_format": "NHWC"},
                             lambda tf: tf.nn.max_pool2d(-X, [1, 3, 3, 1], [1, 2, 2, 1], "SAME")),
    "avg_same_3x3_stride2": ("nn.avg_pool2d", X, {"ksize": [1, 3, 3, 1], "strides": [1, 2, 2, 1], "padding": "SAME",
                                                  "data_format": "NHWC"},
                             lambda tf: tf.nn.avg_pool2d(X, [1, 3, 3, 1], [1, 2, 2, 1], "SAME")),
    "avg_valid_2x3": ("nn.avg_pool2d", X, {"ksize": [2, 3], "strides": [1, 2], "padding": "VALID"},
                      lambda tf: tf.nn.avg_pool2d(X, [2, 3], [1, 2], "VALID")),
    "max_valid_nchw": ("nn.max_pool2d", XC, {"ksize": [1, 1, 2, 2], "strides": [1, 1, 2, 2], "padding": "VALID",
                                             "data_format": "NCHW"},
                       lambda tf: tf.nn.max_pool2d(XC, [1, 1, 2, 2], [1, 1, 2, 2], "VALID", data_format="NCHW")),
    "avg_same_even_nchw": ("compat.v1.nn.avg_pool", XC, {"ksize": [1, 1, 2, 4], "strides": [1, 1, 3, 2],
                                                         "padding": "SAME", "data_format": "NCHW"},
                           lambda tf: tf.nn.avg_pool2d(XC, [1, 1, 2, 4], [1, 1, 3, 2], "SAME", data_format="NCHW")),
}
#: the max-pool cases feed -X (their SAME padding must never win: all-negative windows at the border)
NEGATED = ("max_same_3x3_stride2",)


def _layer_and_args(key):
    what, x, spec, _ = CASES[key]
    data = -x if key in NEGATED else x
    if what in ("Conv2D", "BatchNormalization"):
        cfg, weights = spec()
        return {"class_name": what, "name": key, "config": cfg}, {key: weights}, {}, data
    return {"class_name": "TFOpLambda", "name": key, "config": {"function": what}}, {}, dict(spec), data


def _off(got, want) -> float:
    """max |got - want|, a NaN counting as infinitely far (a wrong variance can be negative)."""
    return float(np.nan_to_num(np.abs(np.asarray(got) - want), nan=np.inf).max())


def keras3_model(layer, weights, kwargs, data):
    import keras

    from migration.targets.whole import Keras3Whole

    x = keras.Input(data.shape[1:], dtype="float32", name="x")
    (out,) = Keras3Whole({}, weights)(layer, [x], kwargs)
    return keras.Model(x, out)


def onnx_run(layer, weights, kwargs, data) -> np.ndarray:
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from migration.targets.onnx_glue import Value
    from migration.targets.whole import OnnxWhole

    whole = OnnxWhole({}, weights)
    whole.inputs.append(helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"] + list(data.shape[1:])))
    (out,) = whole(layer, [Value("x", data.ndim, "float32")], kwargs)
    model = whole.model([out], ["y"])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": data})[0]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """id -> {tensorflow, keras3 (TF backend), jax, onnx}: every case's outputs. The Keras 3 translations are the
    outputs of ONE functional model (inputs: X, X channels-first, -X), run here and, saved, on the JAX backend in one
    child process."""
    import keras
    import tensorflow as tf

    from migration.targets.whole import Keras3Whole
    from migration.targets.verify_targets import run_keras3_elsewhere

    feeds = {"x": X, "xc": XC, "xn": -X}
    inputs = {name: keras.Input(a.shape[1:], dtype="float32", name=name) for name, a in feeds.items()}
    out, outputs = {}, []
    for key in CASES:
        layer, weights, kwargs, data = _layer_and_args(key)
        source = "xn" if key in NEGATED else ("xc" if data is XC else "x")
        outputs += Keras3Whole({}, weights)(layer, [inputs[source]], kwargs)
        out[key] = {"tensorflow": np.asarray(CASES[key][3](tf)), "onnx": onnx_run(layer, weights, kwargs, data)}
    model = keras.Model(list(inputs.values()), outputs)
    path = str(tmp_path_factory.mktemp("cnn_front_translations") / "cases.keras")
    model.save(path)
    got, note = run_keras3_elsewhere([(path, list(feeds.values()))], "jax")
    assert got is not None, note
    for key, here, there in zip(CASES, model(list(feeds.values())), got[0]):
        out[key]["keras3"], out[key]["jax"] = np.asarray(here), np.asarray(there)
    return out


@pytest.mark.parametrize("key", list(CASES))
def test_each_cnn_translation_equals_tensorflow_on_every_target(results, key):
    got = results[key]
    want = got["tensorflow"]
    for target in ("keras3", "jax", "onnx"):
        assert got[target].shape == want.shape, (target, got[target].shape, want.shape)
        assert np.max(np.abs(got[target] - want)) <= TOL, (key, target, np.max(np.abs(got[target] - want)))


def test_the_cases_are_not_trivial(results):
    """Padding matters in the SAME cases (the output is not the VALID one's size) and no output is constant."""
    assert results["conv_same_stride2_odd"]["tensorflow"].shape == (2, 4, 5, 4)
    assert results["conv_valid_stride21"]["tensorflow"].shape == (2, 3, 8, 4)
    assert results["avg_same_3x3_stride2"]["tensorflow"].shape == (2, 4, 5, 3)
    for got in results.values():
        assert np.std(got["tensorflow"]) > 0.05


def test_wrong_translations_are_caught():
    """Negative controls of this file's comparison, on both targets: the kernel transposed H<->W (a 3x3 kernel, so
    the shapes agree), the batch norm's mean and variance swapped, and ONNX's AveragePool counting the padding."""
    import tensorflow as tf

    square = RNG.uniform(-0.8, 0.8, (3, 3, 3, 4)).astype(np.float32)
    want = np.asarray(_tf_conv(tf, X, square, (2, 2), "SAME"))
    cfg, _ = _conv(square, (2, 2), "same")
    layer = {"class_name": "Conv2D", "name": "c", "config": cfg}
    wrong = {"c": [np.ascontiguousarray(np.transpose(square, (1, 0, 2, 3)))]}
    assert _off(keras3_model(layer, wrong, {}, X)(X), want) > 1e-2
    assert _off(onnx_run(layer, wrong, {}, X), want) > 1e-2
    want = np.asarray(_tf_bn(tf, X, "NHWC", 1e-3))
    cfg, _ = _bn(-1, 1e-3)
    layer = {"class_name": "BatchNormalization", "name": "b", "config": cfg}
    swapped = {"b": [GAMMA, BETA, VARIANCE, np.abs(MEAN)]}  # mean and variance swapped (a variance must be >= 0)
    assert _off(keras3_model(layer, swapped, {}, X)(X), want) > 1e-2
    assert _off(onnx_run(layer, swapped, {}, X), want) > 1e-2


def test_onnx_average_pool_excludes_the_padding_as_tensorflow(monkeypatch):
    """TF's SAME average pool divides by the window's count inside the input; an AveragePool with
    ``count_include_pad=1`` (what the translation must not write) differs at the border."""
    import tensorflow as tf

    from migration.targets import cnn_front

    layer, weights, kwargs, data = _layer_and_args("avg_same_3x3_stride2")
    want = np.asarray(tf.nn.avg_pool2d(X, [1, 3, 3, 1], [1, 2, 2, 1], "SAME"))
    real = cnn_front.onnx_pool

    def counting(glue, function, x, kw):
        node = glue.g.node

        def padded(op, inputs, n_out=1, **attrs):
            if op == "AveragePool":
                attrs["count_include_pad"] = 1
            return node(op, inputs, n_out, **attrs)

        glue.g.node = padded
        try:
            return real(glue, function, x, kw)
        finally:
            glue.g.node = node

    monkeypatch.setattr(cnn_front, "onnx_pool", counting)
    assert np.max(np.abs(onnx_run(layer, weights, kwargs, data) - want)) > 1e-2


@pytest.mark.parametrize("layer, kwargs, match", [
    ({"class_name": "TFOpLambda", "name": "p", "config": {"function": "nn.max_pool2d"}},
     {"ksize": [2, 2, 2, 1], "strides": [1, 1, 1, 1], "padding": "VALID", "data_format": "NHWC"}, "batch or channel"),
    ({"class_name": "TFOpLambda", "name": "p", "config": {"function": "nn.avg_pool2d"}},
     {"ksize": [1, 2, 2, 1], "strides": [1, 1, 1, 1], "padding": "EXPLICIT"}, "padding 'EXPLICIT'"),
], ids=["window_over_batch", "explicit_padding"])
def test_a_form_the_targets_do_not_take_is_refused_naming_the_layer(layer, kwargs, match):
    from migration.targets.glue import NotExportable

    for run in (keras3_model, onnx_run):
        with pytest.raises(NotExportable, match=rf"layer 'p' \(TFOpLambda nn\.\w+\) has no .* translation yet: .*"
                                                rf"{match}"):
            run(layer, {}, kwargs, X)


@pytest.mark.parametrize("blocker, match", [
    ("LayerNormalization",
     r"layer 'ln' \(LayerNormalization\) has no {} translation yet: not a layer the targets take"),
    ("grouped", r"layer 'grouped' \(Conv2D\) has no {} translation yet: Conv2D with groups=3"),
], ids=["LayerNormalization", "grouped"])
def test_a_whole_model_with_a_layer_the_targets_do_not_take_gets_a_note_naming_it(tmp_path, blocker, match):
    """``write_whole_targets`` on a Keras 2 whole model (a real ``tf_keras`` file) holding a layer no target
    translation takes, after a Conv2D that is taken: no whole-model file on either target, one note per target naming
    the layer, its class and why (the blocks are still exported: issue 24's "refusal naming the reason")."""
    import tf_keras

    from migration.targets.export import write_whole_targets

    x = tf_keras.Input((6, 5, 3), name="x")
    h = tf_keras.layers.Conv2D(3, (3, 2), padding="same", use_bias=False, name="conv")(x)
    if blocker == "grouped":
        h = tf_keras.layers.Conv2D(3, (1, 1), groups=3, use_bias=False, name="grouped")(h)
    else:
        h = tf_keras.layers.LayerNormalization(name="ln")(h)
    tf_keras.Model(x, tf_keras.layers.Dense(2, name="head")(h)).save(tmp_path / "model.keras")
    entry = {"file": "model.keras", "inputs": ["x"], "outputs": ["head/BiasAdd:0"], "layers": {}}
    notes: list = []
    assert write_whole_targets(["keras3", "onnx"], str(tmp_path), entry, {"keras3": {}, "onnx": {}}, notes) == {}
    for target, label in (("keras3", "Keras 3"), ("onnx", "ONNX")):
        assert any(n.startswith(f"{target}: no whole model") and re.search(match.format(label), n) for n in notes), \
            notes
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]
