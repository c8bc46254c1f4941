"""The whole model (``model.keras``) for the targets: ``model.keras3.keras`` and ``model.onnx``.

Read from the Keras 2 whole model's functional graph (its config: layers and the calls between them, and its
weights): ``InputLayer``, ``Embedding``, ``Dense``, the RNN block models (replaced by the block's target twin, built
from the same converted arrays) and the ``TFOpLambda`` glue ops of :data:`GLUE` (``cast``, ``strided_slice``,
``reshape``). Anything else (another glue op, a block without a twin) is :class:`NotExportable`: no whole-model file
for the target, the reason in the manifest's ``not_exported`` (the blocks are still exported and verified).
"""
from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np

from migration.core.errors import MigrationError

GLUE = ("cast", "strided_slice", "reshape")
INT64_MAX = np.iinfo(np.int64).max


class NotExportable(MigrationError):
    """The whole model holds a piece a target has no translation for."""


def _offset(layer: dict) -> int:
    """A nested functional model's first node is its own construction: the config's node indices skip it."""
    return 1 if layer["class_name"] in ("Functional", "Model", "Sequential") else 0


def _calls(layer: dict) -> list[list]:
    """The layer's calls: each a list of ``[layer, node, tensor, kwargs]`` references."""
    calls = []
    for node in layer.get("inbound_nodes") or []:
        if isinstance(node, list) and node and isinstance(node[0], str):  # TFOpLambda: the one reference itself
            node = [node]
        calls.append(node)
    return calls


def walk(config: dict, translate: Callable[[dict, list, dict], list]) -> tuple[list, list]:
    """Evaluate the functional graph of ``config``: ``translate(layer, inputs, kwargs)`` -> output values of one
    call (``inputs``: the values its references name; InputLayers get ``inputs=[]``). Returns (model inputs, model
    outputs) as values."""
    values: dict[tuple[str, int, int], Any] = {}
    layers = list(config["layers"])
    pending = list(layers)
    while pending:
        progress = False
        for layer in list(pending):
            calls = _calls(layer)
            if layer["class_name"] == "InputLayer":
                values[(layer["name"], 0, 0)] = translate(layer, [], {})[0]
                pending.remove(layer)
                progress = True
                continue
            if not all((r[0], r[1], r[2]) in values for call in calls for r in call):
                continue
            for j, call in enumerate(calls):
                inputs = [values[(r[0], r[1], r[2])] for r in call]
                kwargs = call[0][3] if call and len(call[0]) > 3 and isinstance(call[0][3], dict) else {}
                for t, out in enumerate(translate(layer, inputs, kwargs)):
                    values[(layer["name"], j + _offset(layer), t)] = out
            pending.remove(layer)
            progress = True
        if not progress:
            raise NotExportable(f"the whole model's layers {[l['name'] for l in pending]} could not be ordered")
    ins = [values[(r[0], r[1], r[2])] for r in config["input_layers"]]
    outs = [values[(r[0], r[1], r[2])] for r in config["output_layers"]]
    return ins, outs


def slice_spec(kwargs: dict, rank: int) -> list:
    """``tf.strided_slice`` keyword arguments -> per-axis ``int`` (shrunk) / ``slice``; NotExportable for masks the
    targets do not take (ellipsis, new axis)."""
    if kwargs.get("ellipsis_mask") or kwargs.get("new_axis_mask"):
        raise NotExportable("strided_slice with an ellipsis or new-axis mask")
    begin, end, strides = kwargs["begin"], kwargs["end"], kwargs.get("strides") or [1] * len(kwargs["begin"])
    spec: list = []
    for i in range(len(begin)):
        if (kwargs.get("shrink_axis_mask", 0) >> i) & 1:
            spec.append(int(begin[i]))
        else:
            start = None if (kwargs.get("begin_mask", 0) >> i) & 1 else int(begin[i])
            stop = None if (kwargs.get("end_mask", 0) >> i) & 1 else int(end[i])
            spec.append(slice(start, stop, int(strides[i])))
    return spec


def layer_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


class Keras3Whole:
    """``translate`` for :func:`walk` building the Keras 3 model; ``blocks``: Keras 2 block layer name -> Keras 3
    block model; ``weights``: Keras 2 layer name -> its weights."""

    def __init__(self, blocks: dict[str, Any], weights: dict[str, list[np.ndarray]]) -> None:
        self.blocks, self.weights = blocks, weights

    def __call__(self, layer: dict, inputs: list, kwargs: dict) -> list:
        import keras
        from keras import ops

        cls, cfg, name = layer["class_name"], layer["config"], layer["name"]
        if cls == "InputLayer":
            shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
            return [keras.Input(shape=tuple(shape[1:]), batch_size=shape[0], dtype=cfg["dtype"],
                                name=layer_name(name))]
        if cls == "Embedding":
            emb = keras.layers.Embedding(cfg["input_dim"], cfg["output_dim"], name=layer_name(name))
            out = emb(inputs[0])
            emb.set_weights(self.weights[name])
            return [out]
        if cls == "Dense":
            dense = keras.layers.Dense(cfg["units"], activation=cfg.get("activation", "linear"),
                                       use_bias=cfg.get("use_bias", True), name=layer_name(name))
            out = dense(inputs[0])
            dense.set_weights(self.weights[name])
            return [out]
        if name in self.blocks:
            return list(self.blocks[name](inputs))
        if cls == "TFOpLambda" and cfg.get("function") in GLUE:
            fn, x = cfg["function"], inputs[0]
            if fn == "cast":
                return [ops.cast(x, kwargs["dtype"])]
            if fn == "reshape":
                return [ops.reshape(x, kwargs["shape"])]
            return [x[tuple(slice_spec(kwargs, len(x.shape)))]]
        raise NotExportable(f"layer {name!r} ({cls}{' ' + cfg['function'] if cls == 'TFOpLambda' else ''}) has no "
                            "Keras 3 translation yet")


_ONNX_TYPES = {"float32": 1, "int32": 6, "int64": 7, "float64": 11, "bool": 9}  # onnx.TensorProto values
_ACTIVATIONS = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "softmax": "Softmax"}


class OnnxWhole:
    """``translate`` for :func:`walk` building the ONNX graph (values are tensor names plus their rank);
    ``blocks``: Keras 2 block layer name -> the block's ONNX ``ModelProto``."""

    def __init__(self, blocks: dict[str, Any], weights: dict[str, list[np.ndarray]]) -> None:
        from migration.targets.onnx_graph import Graph

        self.blocks, self.weights = blocks, weights
        self.g = Graph()
        self.inputs: list = []
        self.sub_graphs: list = []

    def __call__(self, layer: dict, inputs: list, kwargs: dict) -> list:
        from onnx import helper

        g = self.g
        cls, cfg, name = layer["class_name"], layer["config"], layer["name"]
        if cls == "InputLayer":
            shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
            dims = [d if d is not None else f"{layer_name(name)}_{i}" for i, d in enumerate(shape)]
            if cfg["dtype"] not in _ONNX_TYPES:
                raise NotExportable(f"input {name!r} of dtype {cfg['dtype']}")
            self.inputs.append(helper.make_tensor_value_info(name, _ONNX_TYPES[cfg["dtype"]], dims))
            return [(name, len(shape))]
        if cls == "Embedding":
            (table,) = self.weights[name]
            ids = g.node("Cast", [inputs[0][0]], to=_ONNX_TYPES["int64"])[0]
            return [(g.node("Gather", [g.const(f"{layer_name(name)}_embeddings", table), ids])[0], inputs[0][1] + 1)]
        if cls == "Dense":
            weights = self.weights[name]
            out = g.node("MatMul", [inputs[0][0], g.const(f"{layer_name(name)}_kernel", weights[0])])[0]
            if cfg.get("use_bias", True):
                out = g.node("Add", [out, g.const(f"{layer_name(name)}_bias", weights[1])])[0]
            act = cfg.get("activation", "linear")
            if act != "linear":
                if act not in _ACTIVATIONS:
                    raise NotExportable(f"Dense {name!r} with activation {act!r}")
                out = g.node(_ACTIVATIONS[act], [out], **({"axis": -1} if act == "softmax" else {}))[0]
            return [(out, inputs[0][1])]
        if name in self.blocks:
            return self._block(name, inputs)
        if cls == "TFOpLambda" and cfg.get("function") in GLUE:
            return [self._glue(cfg["function"], inputs[0], kwargs)]
        raise NotExportable(f"layer {name!r} ({cls}{' ' + cfg['function'] if cls == 'TFOpLambda' else ''}) has no "
                            "ONNX translation yet")

    def _block(self, name: str, inputs: list) -> list:
        """Inline the block graph (names prefixed), fed by Identity nodes from the outer tensors."""
        import onnx.compose

        prefix = f"{layer_name(name)}/"
        sub = onnx.compose.add_prefix(self.blocks[name], prefix)
        for (outer, _), inner in zip(inputs, sub.graph.input):
            self.g.node_named("Identity", [outer], [inner.name])
        self.g.nodes.extend(sub.graph.node)
        self.g.inits.extend(sub.graph.initializer)
        ranks = [len(o.type.tensor_type.shape.dim) for o in sub.graph.output]
        return [(o.name, r) for o, r in zip(sub.graph.output, ranks)]

    def _glue(self, fn: str, value: tuple[str, int], kwargs: dict) -> tuple[str, int]:
        g = self.g
        x, rank = value
        if fn == "cast":
            return g.node("Cast", [x], to=_ONNX_TYPES[kwargs["dtype"]])[0], rank
        if fn == "reshape":
            shape = np.asarray(kwargs["shape"], np.int64)
            return g.node("Reshape", [x, g.const("shape", shape)])[0], int(shape.size)
        spec = slice_spec(kwargs, rank)
        starts, ends, axes, steps, squeeze = [], [], [], [], []
        for axis, s in enumerate(spec):
            if isinstance(s, int):
                starts.append(s)
                ends.append(s + 1 if s != -1 else INT64_MAX)
                steps.append(1)
                squeeze.append(axis)
            else:
                step = s.step or 1
                starts.append(s.start if s.start is not None else (0 if step > 0 else -1))
                ends.append(s.stop if s.stop is not None else (INT64_MAX if step > 0 else -INT64_MAX))
                steps.append(step)
            axes.append(axis)
        arrays = [np.asarray(a, np.int64) for a in (starts, ends, axes, steps)]
        out = g.node("Slice", [x] + [g.const(n, a) for n, a in zip(("starts", "ends", "axes", "steps"), arrays)])[0]
        if squeeze:
            out = g.node("Squeeze", [out, g.const("axes", np.asarray(squeeze, np.int64))])[0]
        return out, rank - len(squeeze)

    def model(self, outputs: list[tuple[str, int]], labels: list[str]):
        import onnx
        from onnx import TensorProto, helper

        from migration.targets.onnx_export import OPSET

        outs = []
        for (tensor, rank), label in zip(outputs, labels):
            self.g.node_named("Identity", [tensor], [label])
            outs.append(helper.make_tensor_value_info(label, TensorProto.FLOAT, [f"{label}_{i}" for i in range(rank)]))
        graph = helper.make_graph(self.g.nodes, "migrated_model", self.inputs, outs, initializer=self.g.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnn-migrate")
        onnx.checker.check_model(model, full_check=True)
        return model
