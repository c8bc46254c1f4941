"""``tf.contrib.rnn.ConvLSTMCell`` (``Conv1D/2D/3DLSTMCell``) blocks as Keras 3 and ONNX files.

The block contract is the Keras 2 conv block's (:mod:`migration.checkpoint.conv_blocks`): inputs ``[x [B, T,
*spatial, C_in], sequence_length [B]]``, outputs ``[outputs [B, T, *spatial, C], c, h]`` (TF1's
``tf.nest.flatten((outputs, LSTMStateTuple(c, h)))``; outputs past each length zero, the state kept).

Both take the arrays of :func:`migration.contrib_converters.conv_lstm_to_keras` as they are (the Keras 2 block's:
``kernel [*k, C_in, 4C]``, ``recurrent_kernel [*k, C, 4C]``, ``bias [4C]``, gates i, f, c, o, forget_bias folded
into ``b_f``). TF 1.15's cell convolves ``concat([x, h], -1)`` with the whole kernel, stride 1, ``padding='SAME'``;
that is the sum of the input part's convolution and the recurrent part's, each ``SAME``, so:

* Keras 3: ``keras.layers.ConvLSTM{n}D(C, k, padding="same", recurrent_activation="sigmoid")`` (its recurrent
  convolution is always ``same``; activation tanh, the cell's fixed one), under the sequence mask (a masked step
  keeps the state), the outputs multiplied by the mask.
* ONNX (opset 17): one ``Scan`` over the time-major, channels-first input whose body is two ``Conv``
  (``auto_pad="SAME_UPPER"``: TF's ``SAME``, the odd pixel of an even kernel padded at the end), ``Add``, ``Split``,
  ``Sigmoid``, ``Tanh``, ``Mul`` and ``Where`` on the step's mask; ``Transpose`` back to channels-last.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from migration.targets.onnx_graph import Graph

OPSET = 17


def keras3_conv_block(ndims: int, input_channels: int, spatial: Sequence[int], weights: Sequence[np.ndarray],
                      name: str):
    """The Keras 3 functional model of one conv block (see the module docstring); ``weights``: the Keras 2 arrays."""
    import keras
    from keras import ops

    kernel = np.asarray(weights[0])
    channels = kernel.shape[-1] // 4
    x = keras.Input((None,) + tuple(spatial) + (input_channels,), dtype="float32", name="x")
    length = keras.Input((), dtype="int32", name="sequence_length")
    first = x
    for _ in range(ndims + 1):
        first = first[..., 0]
    position = ops.cumsum(ops.ones_like(first), axis=1)  # 1..T from x itself (the time axis is dynamic)
    mask = ops.less_equal(position, ops.expand_dims(ops.cast(length, "float32"), 1))
    layer_class = {1: keras.layers.ConvLSTM1D, 2: keras.layers.ConvLSTM2D, 3: keras.layers.ConvLSTM3D}[ndims]
    layer = layer_class(channels, tuple(kernel.shape[:ndims]), padding="same", activation="tanh",
                        recurrent_activation="sigmoid", return_sequences=True, return_state=True, name="conv_lstm")
    for _ in range(ndims + 1):  # [B, T, 1, ...]: Keras 3's JAX rnn loop broadcasts a [B, T] mask only over [B, U]
        mask = ops.expand_dims(mask, -1)
    seq, h, c = layer(x, mask=mask)
    model = keras.Model([x, length], [seq * ops.cast(mask, "float32"), c, h], name=name)
    layer.set_weights([np.asarray(w, np.float32) for w in weights])
    return model


def _body(g: Graph, weights: Sequence[np.ndarray], ndims: int, name: str):
    """Scan body: states ``c, h [B, C, *spatial]``, ``x_t [B, C_in, *spatial]``, ``m_t [B, 1, ...]`` bool."""
    from onnx import TensorProto, helper

    kernel, recurrent, bias = (np.asarray(w, np.float32) for w in weights)
    channels = kernel.shape[-1] // 4
    to_onnx = list(range(ndims + 1, -1, -1))[:2] + list(range(ndims))  # [*k, I, O] -> [O, I, *k]
    body = Graph()
    body.count = g.count
    c, h, x_t, m_t = (body.name(n) for n in ("c", "h", "x_t", "m_t"))

    def conv(inp: str, w: np.ndarray, b: Optional[np.ndarray]) -> str:
        args = [inp, body.const("W", np.transpose(w, to_onnx))] + ([body.const("B", b)] if b is not None else [])
        return body.node("Conv", args, auto_pad="SAME_UPPER")[0]

    z = body.node("Add", [conv(x_t, kernel, bias), conv(h, recurrent, None)])[0]
    i, f, j, o = body.node("Split", [z, body.const("split", np.array([channels] * 4, np.int64))], 4, axis=1)
    sig = [body.node("Sigmoid", [a])[0] for a in (i, f, o)]
    new_c = body.node("Add", [body.node("Mul", [sig[1], c])[0],
                              body.node("Mul", [sig[0], body.node("Tanh", [j])[0]])[0]])[0]
    new_h = body.node("Mul", [sig[2], body.node("Tanh", [new_c])[0]])[0]
    kept = [body.node("Where", [m_t, new, old])[0] for new, old in ((new_c, c), (new_h, h))]
    y = body.node("Where", [m_t, new_h, body.const("zero", np.float32(0.0))])[0]
    g.count = body.count
    info = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in (c, h, x_t)]
    return helper.make_graph(body.nodes, name, info + [helper.make_tensor_value_info(m_t, TensorProto.BOOL, None)],
                             [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in kept + [y]],
                             initializer=body.inits)


def onnx_conv_block(ndims: int, input_channels: int, weights: Sequence[np.ndarray], name: str,
                    labels: Sequence[str] = ("outputs", "state/c", "state/h")):
    """The ONNX ``ModelProto`` of one conv block (see the module docstring); feeds ``x``, ``sequence_length``."""
    import onnx
    from onnx import TensorProto, helper

    channels = np.asarray(weights[0]).shape[-1] // 4
    g = Graph()
    rank = ndims + 3  # [B, T, *spatial, C]
    x_tm = g.node("Transpose", ["x"], perm=[1, 0, rank - 1] + list(range(2, rank - 1)))[0]  # [T, B, C_in, *spatial]
    lengths = g.node("Cast", ["sequence_length"], to=TensorProto.INT64)[0]
    steps = g.node("Squeeze", [g.node("Shape", [x_tm], start=0, end=1)[0]])[0]
    times = g.node("Range", [g.const("t0", np.int64(0)), steps, g.const("dt", np.int64(1))])[0]
    spread = np.arange(2, ndims + 3, dtype=np.int64)  # the mask [T, B, 1, *1] broadcasts over [B, C, *spatial]
    mask = g.node("Less", [g.node("Unsqueeze", [times, g.const("axes", np.concatenate([[1], spread]))])[0],
                           g.node("Unsqueeze", [lengths, g.const("axes", np.concatenate([[0], spread]))])[0]])[0]
    state_shape = g.node("Concat", [g.node("Shape", [x_tm], start=1, end=2)[0],
                                    g.const("channels", np.array([channels], np.int64)),
                                    g.node("Shape", [x_tm], start=3)[0]], axis=0)[0]
    zeros = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
    initial = [g.node("ConstantOfShape", [state_shape], value=zeros)[0] for _ in range(2)]
    c, h, y = g.node("Scan", initial + [x_tm, mask], 3, body=_body(g, weights, ndims, name + "_step"),
                     num_scan_inputs=2)
    last = [0] + list(range(2, ndims + 2)) + [1]  # [B, C, *spatial] -> [B, *spatial, C]
    flat = [g.node("Transpose", [y], perm=[1, 0] + list(range(3, ndims + 3)) + [2])[0]] + [
        g.node("Transpose", [s], perm=last)[0] for s in (c, h)]
    spatial = [f"d{k}" for k in range(ndims)]
    shapes = [["batch", "time"] + spatial + [channels]] + [["batch"] + spatial + [channels]] * 2
    outputs = []
    for tensor, label, shape in zip(flat, labels, shapes):
        g.nodes.append(helper.make_node("Identity", [tensor], [label], name=g.name("output")))
        outputs.append(helper.make_tensor_value_info(label, TensorProto.FLOAT, shape))
    x_shape = ["batch", "time"] + spatial + [input_channels]
    graph = helper.make_graph(g.nodes, name, [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape),
        helper.make_tensor_value_info("sequence_length", TensorProto.INT32, ["batch"])], outputs, initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnn-migrate")
    onnx.checker.check_model(model, full_check=True)
    return model
