"""The whole model (``model.keras``) for the targets: ``model.keras3.keras`` and ``model.onnx``.

Read from the Keras 2 whole model's functional graph (its config: layers and the calls between them, and its
weights): ``InputLayer``, ``Embedding``, ``Dense`` (one layer per name: a layer called at every unrolled step is one
layer, its weights once), the RNN block models (replaced by the block's target twin, built from the same converted
arrays) and the ``TFOpLambda`` / ``SlicingOpLambda`` glue ops: their TensorFlow function by name, as ``keras.ops``
(:mod:`migration.targets.keras3_glue`) or ONNX nodes (:mod:`migration.targets.onnx_glue`); the tables there list
what is taken (shapes, slices, concat / stack, gather / gather_nd, fill / range, one_hot, arithmetic, activations,
reductions, ...). Anything else (another glue op or argument form, a block without a twin) is
:class:`NotExportable`: no whole-model file for the target, the reason in the manifest's ``not_exported`` (the blocks
are still exported and verified).
"""
from __future__ import annotations

import re
from typing import Any, Callable, Optional

import numpy as np

from migration.targets import cnn_front, feedback_export, keras3_glue, onnx_glue
from migration.targets.glue import NotExportable, constant, slice_spec
from migration.targets.refusals import LAYER_REASONS, layer_reason

__all__ = ["GLUE", "Keras3Whole", "NotExportable", "OnnxWhole", "layer_name", "slice_spec", "walk"]

#: the glue ops taken by both targets (recorded names without ``compat.v1.``)
GLUE = tuple(sorted(set(keras3_glue.FUNCTIONS)))
INT64_MAX = onnx_glue.INT64_MAX
CONSTANT = "_CONSTANT_VALUE"
#: layers whose config keeps the structure of their first call argument (a list for concat / stack)
STRUCTURED = ("TFOpLambda", "SlicingOpLambda")


def _offset(layer: dict) -> int:
    """A nested functional model's first node is its own construction: the config's node indices skip it."""
    return 1 if layer["class_name"] in ("Functional", "Model", "Sequential") else 0


def _is_ref(item, names) -> bool:
    return (isinstance(item, list) and len(item) in (3, 4) and isinstance(item[0], str) and isinstance(item[1], int)
            and (item[0] in names or item[0] == CONSTANT))


class _Pending(Exception):
    """A referenced value is not computed yet."""


def _resolve(struct, values: dict, names) -> Any:
    """The values a call's structure names (references -> values, constants -> arrays; nested lists and dicts)."""
    if _is_ref(struct, names):
        if struct[0] == CONSTANT:
            return struct[2] if not isinstance(struct[2], list) else constant(struct[2])
        key = (struct[0], struct[1], struct[2])
        if key not in values:
            raise _Pending
        return values[key]
    if isinstance(struct, list):
        return [_resolve(s, values, names) for s in struct]
    if isinstance(struct, dict):
        return {k: _resolve(v, values, names) for k, v in struct.items()}
    return struct


def _first_kwargs(node, names) -> dict:
    """The call's keyword arguments: the 4th item of its (first) reference."""
    if _is_ref(node, names):
        return node[3] if len(node) > 3 and isinstance(node[3], dict) else {}
    for item in node if isinstance(node, list) else []:
        found = _first_kwargs(item, names)
        if found:
            return found
    return {}


def _call(layer: dict, node, values: dict, names) -> tuple[list, dict]:
    """(inputs, kwargs) of one call: the first argument's structure for glue layers, else the list of inputs."""
    kwargs = _resolve(_first_kwargs(node, names), values, names)
    if layer["class_name"] in STRUCTURED:
        return [_resolve([s[:3] if _is_ref(s, names) else s for s in node] if not _is_ref(node, names)
                         else node[:3], values, names)], kwargs
    refs = [node] if _is_ref(node, names) else node
    return [_resolve(r[:3], values, names) for r in refs], kwargs


def walk(config: dict, translate: Callable[[dict, list, dict], list]) -> tuple[list, list]:
    """Evaluate the functional graph of ``config``: ``translate(layer, inputs, kwargs)`` -> output values of one
    call (``inputs``: the values its references name, for a glue layer ``[its first argument]``, a list for concat;
    ``kwargs`` with references resolved; InputLayers get ``inputs=[]``). Calls are taken one by one as their inputs
    are ready (a Dense layer called at every unrolled step feeds its own later calls). Returns (model inputs, model
    outputs) as values."""
    values: dict[tuple[str, int, int], Any] = {}
    names = {layer["name"] for layer in config["layers"]}
    pending = [(layer, 0, None) if layer["class_name"] == "InputLayer" else (layer, j, node)
               for layer in config["layers"]
               for j, node in enumerate([None] if layer["class_name"] == "InputLayer" else
                                        layer.get("inbound_nodes") or [])]
    while pending:
        progress = False
        for item in list(pending):
            layer, j, node = item
            if layer["class_name"] == "InputLayer":
                values[(layer["name"], 0, 0)] = translate(layer, [], {})[0]
            else:
                try:
                    inputs, kwargs = _call(layer, node, values, names)
                except _Pending:
                    continue
                for t, out in enumerate(translate(layer, inputs, kwargs)):
                    values[(layer["name"], j + _offset(layer), t)] = out
            pending.remove(item)
            progress = True
        if not progress:
            raise NotExportable(f"the whole model's layers {sorted({i[0]['name'] for i in pending})} could not be "
                                "ordered")
    ins = [values[(r[0], r[1], r[2])] for r in config["input_layers"]]
    outs = [values[(r[0], r[1], r[2])] for r in config["output_layers"]]
    return ins, outs


def _refuse(layer: dict, target: str, exc: Exception) -> NotExportable:
    cfg = layer["config"]
    what = f"{layer['class_name']}{' ' + cfg['function'] if 'function' in cfg else ''}"
    return NotExportable(f"layer {layer['name']!r} ({what}) has no {target} translation yet: {exc}")


def layer_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


class Keras3Whole:
    """``translate`` for :func:`walk` building the Keras 3 model; ``blocks``: Keras 2 block layer name -> Keras 3
    block model; ``weights``: Keras 2 layer name -> its weights; ``feedback``: raw_rnn decoder layer name ->
    :class:`~migration.targets.feedback_export.Decoder`."""

    def __init__(self, blocks: dict[str, Any], weights: dict[str, list[np.ndarray]],
                 decoders: Optional[dict] = None, feedback: Optional[dict] = None) -> None:
        self.blocks, self.weights = blocks, weights
        self.decoders = decoders or {}  # TeacherForcedDecoder layer name -> its Keras 3 twin (seq2seq_export)
        self.feedback = feedback or {}  # raw_rnn decoder layer name -> feedback_export.Decoder
        self.layers: dict[str, Any] = {}

    def _shared(self, name: str, make: Callable[[], Any], x):
        """Call the one Keras 3 layer of Keras 2 layer ``name`` (made and given its weights at the first call)."""
        if name in self.layers:
            return self.layers[name](x)
        layer = self.layers[name] = make()
        out = layer(x)
        layer.set_weights(self.weights[name])
        return out

    def _cnn(self, cls: str, cfg: dict, name: str, x):
        """A CNN front end's layer (:mod:`migration.targets.cnn_front`), one per Keras 2 layer, given its weights."""
        if name not in self.layers:
            self.layers[name] = cnn_front.keras3_layer(cls, cfg, layer_name(name))
            out = cnn_front.keras3_call(self.layers[name], cls, x)
            self.layers[name].set_weights(self.weights[name])
            return out
        return cnn_front.keras3_call(self.layers[name], cls, x)

    def __call__(self, layer: dict, inputs: list, kwargs: dict) -> list:
        import keras

        cls, cfg, name = layer["class_name"], layer["config"], layer["name"]
        if cls == "InputLayer":
            shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
            return [keras.Input(shape=tuple(shape[1:]), batch_size=shape[0], dtype=cfg["dtype"],
                                name=layer_name(name))]
        if cls == "Embedding":
            return [self._shared(name, lambda: keras.layers.Embedding(cfg["input_dim"], cfg["output_dim"],
                                                                      name=layer_name(name)), inputs[0])]
        if cls == "Dense":
            return [self._shared(name, lambda: keras.layers.Dense(
                cfg["units"], activation=cfg.get("activation", "linear"), use_bias=cfg.get("use_bias", True),
                name=layer_name(name)), keras3_glue.tensor(inputs[0]))]
        if cls == feedback_export.CLASS:  # a raw_rnn decoder (it holds the block's cell: never the bare block)
            if name not in self.feedback:
                raise _refuse(layer, "Keras 3", feedback_export.missing(name))
            return feedback_export.keras3_call(self.feedback[name], layer_name(name),
                                               [keras3_glue.tensor(v) for v in inputs])
        if name in self.decoders:  # a TeacherForcedDecoder: its Keras 3 twin (keras3_seq2seq)
            return [self.decoders[name]([keras3_glue.tensor(v) for v in inputs])]
        if cls in LAYER_REASONS:  # a decoder holding an exported block's cell under the block's name: not the block
            raise _refuse(layer, "Keras 3", layer_reason(cls))
        if name in self.blocks:
            return list(self.blocks[name]([keras3_glue.tensor(v) for v in inputs]))
        try:
            if cls in cnn_front.LAYERS:
                return [self._cnn(cls, cfg, name, keras3_glue.tensor(inputs[0]))]
            if cls in STRUCTURED and cnn_front.is_pool(cfg.get("function", "")):
                return [cnn_front.keras3_pool(cfg["function"], keras3_glue.tensor(inputs[0]), kwargs)]
        except (NotExportable, KeyError, TypeError, ValueError) as exc:
            raise _refuse(layer, "Keras 3", exc) from exc
        if cls in STRUCTURED:
            try:
                return keras3_glue.apply(cfg.get("function", ""), inputs[0], kwargs)
            except (NotExportable, KeyError, TypeError, ValueError) as exc:
                raise _refuse(layer, "Keras 3", exc) from exc
        raise _refuse(layer, "Keras 3", layer_reason(cls))


_ACTIVATIONS = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "softmax": "Softmax"}


class OnnxWhole:
    """``translate`` for :func:`walk` building the ONNX graph (values :class:`~migration.targets.onnx_glue.Value`:
    tensor name, rank, dtype; or constants); ``blocks``: Keras 2 block layer name -> the block's ONNX ``ModelProto``;
    ``feedback`` as :class:`Keras3Whole`'s; ``decoders``: seq2seq decoder layer name -> translate(glue, inputs)."""

    def __init__(self, blocks: dict[str, Any], weights: dict[str, list[np.ndarray]],
                 decoders: Optional[dict[str, Callable]] = None, feedback: Optional[dict] = None) -> None:
        from migration.targets.onnx_graph import Graph

        self.blocks, self.weights = blocks, weights
        self.decoders = decoders or {}  # layer name -> translate(glue, inputs): seq2seq decoders (onnx_seq2seq)
        self.feedback = feedback or {}  # raw_rnn decoder layer name -> feedback_export.Decoder
        self.g = Graph()
        self.glue = onnx_glue.OnnxGlue(self.g)
        self.inputs: list = []
        self.consts: dict[str, str] = {}

    def _weight(self, name: str, k: int, stem: str) -> str:
        """One initializer per weight, however often its layer is called."""
        key = f"{name}/{k}"
        if key not in self.consts:
            self.consts[key] = self.g.const(f"{layer_name(name)}_{stem}", self.weights[name][k])
        return self.consts[key]

    def _constant(self, name: str, stem: str, array: np.ndarray) -> str:
        """One initializer per (layer, stem), however often the layer is called (a CNN layer's derived arrays)."""
        key = f"{name}/{stem}"
        if key not in self.consts:
            self.consts[key] = self.g.const(f"{layer_name(name)}_{stem}", array)
        return self.consts[key]

    def __call__(self, layer: dict, inputs: list, kwargs: dict) -> list:
        from onnx import helper

        g, Value = self.g, onnx_glue.Value
        cls, cfg, name = layer["class_name"], layer["config"], layer["name"]
        if cls == "InputLayer":
            shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
            dims = [d if d is not None else f"{layer_name(name)}_{i}" for i, d in enumerate(shape)]
            if cfg["dtype"] not in onnx_glue.TYPES:
                raise NotExportable(f"input {name!r} of dtype {cfg['dtype']}")
            self.inputs.append(helper.make_tensor_value_info(name, onnx_glue.TYPES[cfg["dtype"]], dims))
            return [Value(name, len(shape), cfg["dtype"])]
        if cls == "Embedding":
            ids = self.glue.cast(self.glue.tensor(inputs[0]), "int64")
            rank = None if ids.rank is None else ids.rank + 1
            return [Value(g.node("Gather", [self._weight(name, 0, "embeddings"), ids.name])[0], rank, "float32")]
        if cls == "Dense":
            x = self.glue.tensor(inputs[0])
            out = g.node("MatMul", [x.name, self._weight(name, 0, "kernel")])[0]
            if cfg.get("use_bias", True):
                out = g.node("Add", [out, self._weight(name, 1, "bias")])[0]
            act = cfg.get("activation", "linear")
            if act != "linear":
                if act not in _ACTIVATIONS:
                    raise NotExportable(f"Dense {name!r} with activation {act!r}")
                out = g.node(_ACTIVATIONS[act], [out], **({"axis": -1} if act == "softmax" else {}))[0]
            return [Value(out, x.rank, "float32")]
        if name in self.decoders:
            try:
                return self.decoders[name](self.glue, inputs)
            except (NotExportable, KeyError, TypeError, ValueError) as exc:
                raise _refuse(layer, "ONNX", exc) from exc
        if cls == feedback_export.CLASS:
            if name not in self.feedback:
                raise _refuse(layer, "ONNX", feedback_export.missing(name))
            return feedback_export.onnx_loop(self.glue, self.feedback[name], inputs, layer_name(name))
        if cls in LAYER_REASONS:
            raise _refuse(layer, "ONNX", layer_reason(cls))
        if name in self.blocks:
            return self._block(name, [self.glue.tensor(v) for v in inputs])
        try:
            if cls in cnn_front.LAYERS:
                return [cnn_front.onnx_layer(self.glue, cls, cfg, self.weights[name], self.glue.tensor(inputs[0]),
                                             lambda stem, array: self._constant(name, stem, array))]
            if cls in STRUCTURED and cnn_front.is_pool(cfg.get("function", "")):
                return [cnn_front.onnx_pool(self.glue, cfg["function"], self.glue.tensor(inputs[0]), kwargs)]
        except (NotExportable, KeyError, TypeError, ValueError) as exc:
            raise _refuse(layer, "ONNX", exc) from exc
        if cls in STRUCTURED:
            try:
                return onnx_glue.apply(self.glue, cfg.get("function", ""), inputs[0], kwargs)
            except (NotExportable, KeyError, TypeError, ValueError) as exc:
                raise _refuse(layer, "ONNX", exc) from exc
        raise _refuse(layer, "ONNX", layer_reason(cls))

    def _glue(self, fn: str, value, kwargs: dict):
        """The first output of one glue op."""
        return onnx_glue.apply(self.glue, fn, value, kwargs)[0]

    def _block(self, name: str, inputs: list) -> list:
        """Inline the block graph (names prefixed), fed by Identity nodes from the outer tensors (cast to the
        block's input types: float32 ``x``, int32 ``sequence_length``)."""
        import onnx.compose

        prefix = f"{layer_name(name)}/"
        sub = onnx.compose.add_prefix(self.blocks[name], prefix)
        for value, inner, dtype in zip(inputs, sub.graph.input, ("float32", "int32")):
            self.g.node_named("Identity", [self.glue.cast(value, dtype).name], [inner.name])
        self.g.nodes.extend(sub.graph.node)
        self.g.inits.extend(sub.graph.initializer)
        ranks = [len(o.type.tensor_type.shape.dim) for o in sub.graph.output]
        return [onnx_glue.Value(o.name, r, "float32") for o, r in zip(sub.graph.output, ranks)]

    def model(self, outputs: list, labels: list[str]):
        import onnx
        from onnx import helper

        from migration.targets.onnx_export import OPSET

        outs = []
        for value, label in zip(outputs, labels):
            value = onnx_glue.as_value(self.glue.tensor(value))
            self.g.node_named("Identity", [value.name], [label])
            if value.rank is None:
                raise NotExportable(f"the rank of output {label!r} is not known to the ONNX translation")
            shape = [f"{label}_{i}" for i in range(value.rank)]
            outs.append(helper.make_tensor_value_info(label, onnx_glue.TYPES[value.dtype], shape))
        graph = helper.make_graph(self.g.nodes, "migrated_model", self.inputs, outs, initializer=self.g.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnn-migrate")
        onnx.checker.check_model(model, full_check=True)
        return model
