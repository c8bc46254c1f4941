"""CNN front ends of the whole model (:mod:`migration.graph.to_keras`): ``Conv2D`` with a variable filter becomes a
``keras.layers.Conv2D``, an inference ``FusedBatchNorm*`` a ``keras.layers.BatchNormalization`` holding the moving
statistics. Each returns None when the node does not fit (the translator then names it as a blocker):

* ``Conv2D``: ``EXPLICIT`` padding, a filter that is not a variable, an input that is constant;
* ``FusedBatchNorm*``: ``is_training=True`` (the graph normalizes with the batch's own statistics, which an
  inference layer does not), a scale/offset/mean/variance that is neither a variable nor a constant.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from migration.graph.ops import attr_value


def _param(translator, tensor: str) -> Optional[np.ndarray]:
    """A variable's checkpoint value or a constant's value, else None."""
    var = translator.var_node(tensor)
    if var is not None:
        return np.asarray(translator.og.variable_value(var))
    value = translator.value(tensor)
    return np.asarray(value) if isinstance(value, (np.ndarray, np.generic, int, float)) else None


def _source(translator, tensor: str) -> str:
    var = translator.var_node(tensor)
    return translator.og.variable_source(var).key if var is not None else "a graph constant"


def _param_sources(translator, tensors, params) -> dict:
    """``{gamma|beta|moving_mean|moving_variance: checkpoint key}`` of a batch norm (``export`` writes them back); a
    parameter that is one scalar constant as ``"constant <value>"``; none at all when one is anything else."""
    out = {}
    for what, tensor, value in zip(("gamma", "beta", "moving_mean", "moving_variance"), tensors, params):
        var = translator.var_node(tensor)
        if var is not None:
            out[what] = translator.og.variable_source(var).key
        elif np.unique(value).size == 1:
            out[what] = f"constant {float(value.reshape(-1)[0])!r}"
        else:
            return {}
    return out


def conv2d_layer(translator, node) -> Any:
    from modern_rnn import keras

    padding = attr_value(node, "padding", "VALID")
    if padding not in ("VALID", "SAME") or translator.var_node(node.input[1]) is None:
        return None
    key = _source(translator, node.input[1])
    kernel = _param(translator, node.input[1])
    x = translator.value(node.input[0])
    if kernel is None or kernel.ndim != 4 or x is None or isinstance(x, (np.ndarray, np.generic)):
        return None
    data_format = attr_value(node, "data_format", "NHWC")
    spatial = (1, 2) if data_format == "NHWC" else (2, 3)
    strides = attr_value(node, "strides", [1, 1, 1, 1])
    dilations = attr_value(node, "dilations", [1, 1, 1, 1])
    layer_key = ("conv2d", key, node.attr["strides"].SerializeToString(), padding, data_format,
                 node.attr["dilations"].SerializeToString() if "dilations" in node.attr else b"")
    layer = translator.layers.get(layer_key)
    if layer is None:
        layer = keras.layers.Conv2D(
            kernel.shape[3], kernel.shape[:2], strides=tuple(strides[k] for k in spatial), padding=padding.lower(),
            data_format="channels_last" if data_format == "NHWC" else "channels_first",
            dilation_rate=tuple(dilations[k] for k in spatial), use_bias=False, name=translator.unique_name("conv2d", key))
        layer.build((None, None, None, kernel.shape[2]) if data_format == "NHWC" else (None, kernel.shape[2], None, None))
        layer.set_weights([kernel.astype(np.float32)])
        translator.layers[layer_key] = layer
        translator.layer_sources[layer.name] = {"conv": key}
        translator.pieces.append(f"Conv2D({kernel.shape[3]}, {tuple(kernel.shape[:2])}) from {key}")
    return layer(x)


def batch_norm_layer(translator, node) -> Any:
    from modern_rnn import keras

    if attr_value(node, "is_training", True):
        return None
    params = [_param(translator, t) for t in node.input[1:5]]
    x = translator.value(node.input[0])
    if any(p is None for p in params) or x is None or isinstance(x, (np.ndarray, np.generic)):
        return None
    key = _source(translator, node.input[3])  # the moving mean names the layer
    data_format = attr_value(node, "data_format", "NHWC")
    layer_key = ("batch_norm", node.name)
    layer = translator.layers.get(layer_key)
    if layer is None:
        depth = int(params[0].reshape(-1).shape[0])
        layer = keras.layers.BatchNormalization(axis=1 if data_format.startswith("NC") else -1,
                                                epsilon=float(attr_value(node, "epsilon", 1e-4)),
                                                name=translator.unique_name("batch_norm", key))
        shape = [None] * (len(data_format)) if data_format else [None, None]
        shape[1 if data_format.startswith("NC") else -1] = depth
        layer.build(tuple(shape))
        gamma, beta, mean, variance = (np.broadcast_to(p.reshape(-1), (depth,)).astype(np.float32) for p in params)
        layer.set_weights([gamma, beta, mean, variance])
        translator.layers[layer_key] = layer
        translator.layer_sources[layer.name] = {"batch_norm": key,
                                                **_param_sources(translator, node.input[1:5], params)}
        translator.pieces.append(f"BatchNormalization({depth}) from {key}")
    return layer(x, training=False)
