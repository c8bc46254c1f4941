"""The whole model's blocks whose cell is in ``tf.contrib.rnn`` ``EmbeddingWrapper`` / ``InputProjectionWrapper`` /
``OutputProjectionWrapper``, for the targets (``model.keras3.keras``, ``model.onnx``).

The Keras 2 whole model nests such a block as ``<block>_wrapped`` (:func:`migration.graph.wrapper_check.
keras_wrapped_block`): the wrapper's ``Embedding`` (+ ``Reshape`` of ``[B, T, 1, E]`` ids to ``[B, T, E]``) or
``Dense`` before the block model, the output projection's ``Dense`` after it, zeroed past each length. TF 1.15 applies
those weights inside every step of the loop; per step they are the same maths as around the RNN: the embedding or
input projection of step t's input only feeds step t; the output projection maps step t's output only, and
``dynamic_rnn`` writes zeros past a sequence's length *after* the cell (so the projected bias is not there: hence the
mask). The state is the wrapped cell's, never projected (``OutputProjectionWrapper.call`` returns the cell's
``new_state``): the wrapped block's outputs are ``[projected outputs] + the block's states``.

Here each such layer becomes the target block twin (:mod:`migration.targets.keras3` / :mod:`migration.targets.
onnx_export`, the bare cell, as the manifest's block) between the same wrapper layers, with the Keras 2 layers'
weights (the checkpoint's arrays unchanged): a Keras 3 functional model (``Embedding`` after a ``cast`` to int32 /
``Dense``, the block, ``Dense`` times the sequence mask) or an ONNX graph (``Cast`` + ``Gather`` / ``MatMul`` +
``Add``, the block inlined, ``MatMul`` + ``Add`` + ``Where`` on the mask), with the Keras 2 layer's inputs ``[x or ids,
sequence_length]`` and outputs. A nested model of any other form (another layer, an activation the Keras 2 side never
writes) is :class:`NotExportable` with the layer named.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

import numpy as np

from migration.targets.glue import NotExportable

#: the nested model's layer name -> the TF1 wrapper (names given by migration.graph.wrapper_check)
ROLES = {"embedding_wrapper": "EmbeddingWrapper", "input_projection_wrapper": "InputProjectionWrapper",
         "output_projection_wrapper": "OutputProjectionWrapper"}
#: the layers a nested wrapped block may hold besides the wrappers' (the mask is glue on sequence_length)
_OTHERS = {"InputLayer", "Reshape", "Functional", "TFOpLambda", "SlicingOpLambda"}
_MASK_GLUE = {"compat.v1.shape", "shape", "__operators__.getitem", "sequence_mask", "cast", "expand_dims",
              "math.multiply"}


@dataclasses.dataclass
class WrappedBlock:
    """One ``<block>_wrapped`` layer: its inner block layer, the wrappers' arrays and the input's shape."""

    layer: str
    inner: str
    input_shape: tuple  # the Keras 2 nested model's first input, batch axis included
    embedding: Optional[np.ndarray] = None
    pre: Optional[tuple[np.ndarray, np.ndarray]] = None  # InputProjectionWrapper (kernel [D, P], bias [P])
    post: Optional[tuple[np.ndarray, np.ndarray]] = None  # OutputProjectionWrapper (kernel [U, P], bias [P])

    @property
    def wrappers(self) -> str:
        names = [ROLES[n] for n, v in (("embedding_wrapper", self.embedding), ("input_projection_wrapper", self.pre),
                                       ("output_projection_wrapper", self.post)) if v is not None]
        return ", ".join(f"tf.contrib.rnn.{n}" for n in names)


def _refuse(layer: str, why: str) -> NotExportable:
    return NotExportable(f"layer {layer!r} is a block whose cell is in a tf.contrib.rnn cell wrapper with weights, "
                         f"but {why}: the targets translate only the form rnn-migrate's Keras 2 conversion writes "
                         "(migration.graph.wrapper_check.keras_wrapped_block)")


def is_wrapped(layer: dict) -> bool:
    """A nested model holding a ``Dense`` / ``Embedding`` beside a block model (not a plain block model)."""
    inner = layer.get("config", {}).get("layers") or []
    return (layer.get("class_name") in ("Functional", "Model")
            and any(i.get("class_name") in ("Dense", "Embedding") for i in inner)
            and any(i.get("class_name") in ("Functional", "Model") for i in inner))


def parse(layer: dict, k2_layer: Any) -> WrappedBlock:
    """The wrappers of the Keras 2 nested layer ``layer`` (its config; ``k2_layer`` the loaded layer, for weights)."""
    name, cfg = layer["name"], layer["config"]
    inner = cfg["layers"]
    blocks = [i["name"] for i in inner if i["class_name"] in ("Functional", "Model")]
    if len(blocks) != 1:
        raise _refuse(name, f"it nests {len(blocks)} models")
    for i in inner:
        cls, fn = i["class_name"], i["config"].get("function")
        if cls in ("Dense", "Embedding"):
            if i["name"] not in ROLES or (cls == "Embedding") != (i["name"] == "embedding_wrapper"):
                raise _refuse(name, f"it holds {cls} {i['name']!r}, not a wrapper's layer")
            if cls == "Dense" and i["config"].get("activation", "linear") != "linear":
                raise _refuse(name, f"its Dense {i['name']!r} has activation {i['config']['activation']!r}")
            if cls == "Dense" and not i["config"].get("use_bias", True):
                raise _refuse(name, f"its Dense {i['name']!r} has no bias")
        elif cls not in _OTHERS or (fn is not None and fn not in _MASK_GLUE):
            raise _refuse(name, f"it holds {cls} {fn or i['name']!r}")
    names = {i["name"] for i in inner}
    if "embedding_wrapper" in names and "input_projection_wrapper" in names:
        raise _refuse(name, "it holds both an embedding and an input projection")
    first = cfg["input_layers"][0][0]
    (shape,) = [i["config"].get("batch_input_shape") or i["config"].get("batch_shape") for i in inner
                if i["name"] == first]
    found = WrappedBlock(name, blocks[0], tuple(shape))
    weights = {n: k2_layer.get_layer(n).get_weights() for n in names & set(ROLES)}
    if "embedding_wrapper" in weights:
        found.embedding = np.asarray(weights["embedding_wrapper"][0], np.float32)
    if "input_projection_wrapper" in weights:
        found.pre = tuple(np.asarray(w, np.float32) for w in weights["input_projection_wrapper"])
    if "output_projection_wrapper" in weights:
        found.post = tuple(np.asarray(w, np.float32) for w in weights["output_projection_wrapper"])
    outs = cfg["output_layers"]
    if any(o[0] != blocks[0] for o in outs[1:]) or (found.post is None) != (outs[0][0] == blocks[0]):
        raise _refuse(name, "its outputs are not the (projected) block outputs and the block's states")
    return found


def wrapped_blocks(config: dict, k2_model: Any, block_layers) -> dict[str, WrappedBlock]:
    """Layer name -> :class:`WrappedBlock` for every block layer of the whole model (``block_layers``) that nests a
    wrapper; :class:`NotExportable` for a nested form the targets do not translate."""
    return {layer["name"]: parse(layer, k2_model.get_layer(layer["name"])) for layer in config["layers"]
            if layer["name"] in block_layers and is_wrapped(layer)}


def keras3_wrapped(part: WrappedBlock, block_model: Any):
    """The Keras 3 model of ``part`` around the block twin ``block_model`` (inputs ``[x or ids, sequence_length]``)."""
    import keras
    from keras import ops

    x = keras.Input(tuple(part.input_shape[1:]), dtype="float32", name="x")
    length = keras.Input((), dtype="int32", name="sequence_length")
    h, layers = x, []
    if part.embedding is not None:
        layers.append((keras.layers.Embedding(*part.embedding.shape, name="embedding_wrapper"), [part.embedding]))
        h = keras.layers.Reshape((-1, part.embedding.shape[1]))(layers[-1][0](ops.cast(x, "int32")))
    elif part.pre is not None:
        layers.append((keras.layers.Dense(part.pre[0].shape[1], name="input_projection_wrapper"), list(part.pre)))
        h = layers[-1][0](x)
    outs = list(block_model([h, length]))
    if part.post is not None:
        layers.append((keras.layers.Dense(part.post[0].shape[1], name="output_projection_wrapper"), list(part.post)))
        y = layers[-1][0](outs[0])
        position = ops.cumsum(ops.sum(ops.zeros_like(y), axis=-1) + 1.0, axis=1)
        live = ops.less_equal(position, ops.expand_dims(ops.cast(length, "float32"), 1))
        outs[0] = y * ops.expand_dims(ops.cast(live, "float32"), -1)  # dynamic_rnn's zeros past each length
    for layer, arrays in layers:
        layer.set_weights(arrays)
    return keras.Model([x, length], outs, name=part.layer)


def onnx_wrapped(part: WrappedBlock, block_proto: Any):
    """The ONNX ``ModelProto`` of ``part`` around the block graph ``block_proto`` (inlined; inputs ``x``,
    ``sequence_length``; outputs named as the block's)."""
    import onnx
    import onnx.compose
    from onnx import TensorProto, helper

    from migration.targets.onnx_export import OPSET
    from migration.targets.onnx_graph import Graph

    g = Graph()
    h = "x"
    if part.embedding is not None:
        ids = g.node("Cast", ["x"], to=TensorProto.INT64)[0]  # TF1: tf.cast(ids, int32), truncation
        rows = g.node("Gather", [g.const("embedding_wrapper", part.embedding), ids], axis=0)[0]
        shape = g.const("shape", np.array([0, -1, part.embedding.shape[1]], np.int64))  # [B, T, 1, E] -> [B, T, E]
        h = g.node("Reshape", [rows, shape])[0]
    elif part.pre is not None:
        h = g.node("Add", [g.node("MatMul", ["x", g.const("input_projection_wrapper_kernel", part.pre[0])])[0],
                           g.const("input_projection_wrapper_bias", part.pre[1])])[0]
    sub = onnx.compose.add_prefix(block_proto, "cell/")
    for value, inner in zip((h, "sequence_length"), sub.graph.input):
        g.node_named("Identity", [value], [inner.name])
    g.nodes.extend(sub.graph.node)
    g.inits.extend(sub.graph.initializer)
    outs = [o.name for o in sub.graph.output]
    if part.post is not None:
        y = g.node("Add", [g.node("MatMul", [outs[0], g.const("output_projection_wrapper_kernel", part.post[0])])[0],
                           g.const("output_projection_wrapper_bias", part.post[1])])[0]
        steps = g.node("Squeeze", [g.node("Shape", [y], start=1, end=2)[0]])[0]
        times = g.node("Range", [g.const("t0", np.int64(0)), steps, g.const("dt", np.int64(1))])[0]
        lengths = g.node("Cast", ["sequence_length"], to=TensorProto.INT64)[0]
        live = g.node("Less", [g.node("Unsqueeze", [times, g.const("axes", np.array([0], np.int64))])[0],
                               g.node("Unsqueeze", [lengths, g.const("axes", np.array([1], np.int64))])[0]])[0]
        live = g.node("Unsqueeze", [live, g.const("axes", np.array([2], np.int64))])[0]
        outs[0] = g.node("Where", [live, y, g.const("zero", np.float32(0.0))])[0]
    outputs = []
    for tensor, declared in zip(outs, block_proto.graph.output):
        g.node_named("Identity", [tensor], [declared.name])
        dims = [d.dim_param or d.dim_value for d in declared.type.tensor_type.shape.dim]
        if part.post is not None and declared is block_proto.graph.output[0]:
            dims[-1] = int(part.post[0].shape[1])
        outputs.append(helper.make_tensor_value_info(declared.name, TensorProto.FLOAT, dims))
    x_dims = ["batch", "time", "depth"][:len(part.input_shape)]
    graph = helper.make_graph(g.nodes, part.layer, [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, x_dims),
        helper.make_tensor_value_info("sequence_length", TensorProto.INT32, ["batch"])], outputs,
        initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnn-migrate")
    onnx.checker.check_model(model, full_check=True)
    return model


def wrap(target: str, blocks: dict[str, Any], wrapped: dict[str, WrappedBlock]) -> dict[str, Any]:
    """``blocks`` (whole-model layer -> target block twin) with each wrapped layer's twin put between its wrappers."""
    out = dict(blocks)
    for name, part in wrapped.items():
        if name in out:
            out[name] = (keras3_wrapped if target == "keras3" else onnx_wrapped)(part, out[name])
    return out
