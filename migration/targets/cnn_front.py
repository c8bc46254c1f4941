"""The CNN front end of a whole model (:mod:`migration.graph.cnn_layers`) on the targets: the Keras 2 model's
``Conv2D`` and ``BatchNormalization`` layers and its ``tf.nn.max_pool2d`` / ``tf.nn.avg_pool2d`` glue ops.

What the Keras 2 whole model holds (``migration.graph.to_keras``): a ``Conv2D`` per variable filter (``use_bias=False``:
the graph's ``BiasAdd`` is a glue op after it; strides, ``same`` / ``valid`` padding, dilations, channels-last or
channels-first; a ``tf.nn.conv1d`` is the graph's ``ExpandDims``, ``Conv2D``, ``Squeeze``), a
``BatchNormalization`` per inference ``FusedBatchNorm*`` (TF1's epsilon, the moving statistics; called with
``training=False``) and the pooling ops as ``TFOpLambda`` layers with TF1's ``ksize`` / ``strides`` / ``padding`` /
``data_format``.

* Keras 3: ``keras.layers.Conv2D`` / ``BatchNormalization`` with the same configuration and weights (the batch norm
  called with ``training=False`` and not trainable: the moving statistics, also under ``fit``), ``keras.layers.MaxPooling2D`` / ``AveragePooling2D``.
  TF's ``SAME`` pads the odd pixel at the end and its average pool divides by the window's count inside the input;
  Keras 3 does both on the TensorFlow and the JAX backend.
* ONNX (opset 17): channels-last tensors are moved to channels-first around each op (``Transpose``); ``Conv`` (kernel
  ``[kh, kw, I, O]`` -> ``[O, I, kh, kw]``), ``BatchNormalization`` (inference: ``training_mode`` 0), ``MaxPool``,
  ``AveragePool`` (``count_include_pad`` 0, TF's). ``SAME`` is ``auto_pad="SAME_UPPER"`` (the odd pixel at the end,
  as TF; at stride 1 explicit ``pads``, the same numbers, which onnxruntime also takes with dilations), ``VALID``
  is ``auto_pad="VALID"``.

Anything else (grouped convolutions, a pooling window over the batch or channel axis, an activation not listed) is
:class:`~migration.targets.glue.NotExportable`, naming it.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from migration.targets.glue import NotExportable, canonical

#: the Keras 2 whole model's CNN layers these translations take
LAYERS = ("Conv2D", "BatchNormalization")
#: the pooling glue ops (recorded function names, ``compat.v1.`` dropped) -> pooling kind
POOLS = {"nn.max_pool2d": "max", "nn.avg_pool2d": "avg", "nn.max_pool": "max", "nn.avg_pool": "avg"}
_ONNX_ACTIVATIONS = {"linear": None, "relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def is_pool(function: str) -> bool:
    return canonical(function) in POOLS


def _pair(value, what: str, channels_first: bool) -> tuple[int, int]:
    """TF1's ``ksize`` / ``strides`` (an int, or 1, 2 or 4 numbers) -> (height, width); NotExportable when the window
    covers the batch or channel axis."""
    items = [int(v) for v in np.asarray(value).reshape(-1)]
    if len(items) == 1:
        return items[0], items[0]
    if len(items) == 2:
        return items[0], items[1]
    if len(items) == 4:
        outer = (items[0], items[1]) if channels_first else (items[0], items[3])
        if outer != (1, 1):
            raise NotExportable(f"a pooling {what} {items} over the batch or channel axis")
        return (items[2], items[3]) if channels_first else (items[1], items[2])
    raise NotExportable(f"a pooling {what} of {len(items)} numbers")


def _pool_args(kw: dict) -> tuple[str, tuple[int, int], tuple[int, int], str, bool]:
    """(kind-independent) (padding 'SAME'/'VALID', window, strides, data_format, channels_first) of a pooling op."""
    padding = str(kw.get("padding", "VALID")).upper()
    if padding not in ("SAME", "VALID"):
        raise NotExportable(f"pooling with padding {padding!r}")
    data_format = kw.get("data_format") or "NHWC"
    if data_format not in ("NHWC", "NCHW"):
        raise NotExportable(f"pooling with data_format {data_format!r}")
    first = data_format == "NCHW"
    return padding, _pair(kw["ksize"], "window", first), _pair(kw.get("strides", 1), "stride", first), data_format, \
        first


def _check_conv(cfg: dict) -> None:
    if int(cfg.get("groups", 1) or 1) != 1:
        raise NotExportable(f"Conv2D with groups={cfg['groups']}")
    if cfg.get("padding") not in ("same", "valid"):
        raise NotExportable(f"Conv2D with padding {cfg.get('padding')!r}")
    if cfg.get("activation", "linear") not in _ONNX_ACTIVATIONS:
        raise NotExportable(f"Conv2D with activation {cfg.get('activation')!r}")


def _conv_padding(cfg: dict, kernel_shape) -> dict[str, Any]:
    """``Conv``'s strides, dilations and padding. TF's ``SAME`` pads ``(k - 1) * d + 1 - s`` pixels in all at stride
    ``s = 1`` (the odd one at the end), whatever the input size: explicit ``pads`` then (onnxruntime refuses
    ``auto_pad`` with dilations); at a larger stride (TF allows no dilation there) ``auto_pad="SAME_UPPER"``."""
    strides = [int(s) for s in cfg["strides"]]
    dilations = [int(d) for d in cfg.get("dilation_rate", (1, 1))]
    attrs: dict[str, Any] = {"strides": strides, "dilations": dilations}
    if cfg["padding"] == "valid":
        return {**attrs, "auto_pad": "VALID"}
    if strides == [1, 1]:
        total = [(int(k) - 1) * d for k, d in zip(kernel_shape, dilations)]
        return {**attrs, "pads": [t // 2 for t in total] + [t - t // 2 for t in total]}
    if dilations != [1, 1]:
        raise NotExportable(f"Conv2D with strides {strides} and dilations {dilations} (TensorFlow allows no such "
                            "convolution)")
    return {**attrs, "auto_pad": "SAME_UPPER"}


def _bn_axis(cfg: dict) -> int:
    """The batch norm's one axis (the Keras 2 config holds a list)."""
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if not isinstance(axis, int):
        raise NotExportable(f"BatchNormalization over axes {axis}")
    return axis


# -- Keras 3 ---------------------------------------------------------------------------------------------------------
def keras3_layer(class_name: str, cfg: dict, name: str):
    """The Keras 3 twin (not built) of a Keras 2 ``Conv2D`` / ``BatchNormalization`` layer config."""
    import keras

    if class_name == "Conv2D":
        _check_conv(cfg)
        return keras.layers.Conv2D(int(cfg["filters"]), tuple(cfg["kernel_size"]), strides=tuple(cfg["strides"]),
                                   padding=cfg["padding"], data_format=cfg.get("data_format", "channels_last"),
                                   dilation_rate=tuple(cfg.get("dilation_rate", (1, 1))),
                                   activation=cfg.get("activation", "linear"), use_bias=bool(cfg.get("use_bias")),
                                   name=name)
    # trainable=False: Keras 3's functional model passes a model-level ``training=True`` (fit) over the layer's own
    # ``training=False``, and a trainable batch norm then normalizes with the batch's statistics; frozen, it keeps the
    # moving statistics like the TF1 graph (``is_training=False``) and the Keras 2 model (tf_keras keeps the layer's
    # own ``training=False``), gamma and beta frozen with them
    return keras.layers.BatchNormalization(axis=_bn_axis(cfg), epsilon=float(cfg["epsilon"]),
                                           center=bool(cfg.get("center", True)), scale=bool(cfg.get("scale", True)),
                                           trainable=False, name=name)


def keras3_call(layer, class_name: str, x):
    """Call the Keras 3 twin: a batch norm in inference (the moving statistics, as the Keras 2 model)."""
    return layer(x, training=False) if class_name == "BatchNormalization" else layer(x)


def keras3_pool(function: str, x, kw: dict):
    """A ``MaxPooling2D`` / ``AveragePooling2D`` layer (not ``keras.ops.max_pool``: its saved window comes back as a
    list, which the JAX backend rejects)."""
    import keras

    padding, window, strides, _, first = _pool_args(kw)
    pool = keras.layers.MaxPooling2D if POOLS[canonical(function)] == "max" else keras.layers.AveragePooling2D
    return pool(window, strides, padding.lower(), data_format="channels_first" if first else "channels_last")(x)


# -- ONNX ------------------------------------------------------------------------------------------------------------
def _channels_first(glue, x, channel_axis: int):
    """``x`` with its channel axis at 1 (a Transpose when it is last), and the permutation back (or None)."""
    if x.rank is None:
        raise NotExportable("a CNN layer on a tensor of unknown rank")
    if channel_axis == 1:
        return x, None
    if channel_axis != x.rank - 1:
        raise NotExportable(f"a CNN layer over axis {channel_axis} of a rank-{x.rank} tensor")
    to = [0, x.rank - 1] + list(range(1, x.rank - 1))
    back = [0] + list(range(2, x.rank)) + [1]
    return glue.node("Transpose", [x.name], x.rank, x.dtype, perm=to), back


def _back(glue, y, back):
    return y if back is None else glue.node("Transpose", [y.name], y.rank, y.dtype, perm=back)


def onnx_layer(glue, class_name: str, cfg: dict, weights: list, x, const: Callable[[str, np.ndarray], str]):
    """The ONNX nodes of a Keras 2 ``Conv2D`` / ``BatchNormalization`` on value ``x``; ``const(stem, array)`` -> the
    name of an initializer (made once per layer weight by the caller)."""
    if class_name == "Conv2D":
        _check_conv(cfg)
        first = cfg.get("data_format", "channels_last") == "channels_first"
        xc, back = _channels_first(glue, x, 1 if first else (x.rank or 4) - 1)
        kernel = np.asarray(weights[0], np.float32)
        args = [xc.name, const("W", np.ascontiguousarray(np.transpose(kernel, (3, 2, 0, 1))))]
        if cfg.get("use_bias"):
            args.append(const("B", np.asarray(weights[1], np.float32)))
        y = glue.node("Conv", args, xc.rank, "float32", kernel_shape=list(kernel.shape[:2]),
                      **_conv_padding(cfg, kernel.shape[:2]))
        act = _ONNX_ACTIVATIONS[cfg.get("activation", "linear")]
        if act is not None:
            y = glue.node(act, [y.name], y.rank, "float32")
        return _back(glue, y, back)
    if class_name != "BatchNormalization":
        raise NotExportable(f"{class_name} is not a CNN layer of this translation")
    if x.rank is None:
        raise NotExportable("a batch norm on a tensor of unknown rank")
    xc, back = _channels_first(glue, x, _bn_axis(cfg) % x.rank)
    depth = int(np.asarray(weights[-1]).shape[0])
    ones, zeros = np.ones(depth, np.float32), np.zeros(depth, np.float32)
    k = 0
    gamma = np.asarray(weights[k], np.float32) if cfg.get("scale", True) else ones
    k += 1 if cfg.get("scale", True) else 0
    beta = np.asarray(weights[k], np.float32) if cfg.get("center", True) else zeros
    k += 1 if cfg.get("center", True) else 0
    names = [const(stem, a) for stem, a in (("gamma", gamma), ("beta", beta), ("mean", weights[k]),
                                             ("variance", weights[k + 1]))]
    y = glue.node("BatchNormalization", [xc.name] + names, xc.rank, "float32", epsilon=float(cfg["epsilon"]))
    return _back(glue, y, back)


def onnx_pool(glue, function: str, x, kw: dict):
    padding, window, strides, _, first = _pool_args(kw)
    if x.rank != 4:
        raise NotExportable(f"a 2-D pooling of a rank-{x.rank} tensor")
    xc, back = _channels_first(glue, x, 1 if first else 3)
    attrs: dict[str, Any] = {"kernel_shape": list(window), "strides": list(strides),
                             "auto_pad": "SAME_UPPER" if padding == "SAME" else "VALID"}
    if POOLS[canonical(function)] == "avg":
        y = glue.node("AveragePool", [xc.name], 4, x.dtype, count_include_pad=0, **attrs)
    else:
        y = glue.node("MaxPool", [xc.name], 4, x.dtype, **attrs)
    return _back(glue, y, back)
