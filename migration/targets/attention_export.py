"""``tf.contrib.rnn.AttentionCellWrapper`` blocks (:mod:`migration.checkpoint.wrapped`) for the targets.

The arrays are the Keras 2 twin's (``modern_rnn.wrappers.AttentionCell``): the wrapper's own from
:func:`migration.wrapper_converters.attention_cell_wrapper_to_keras` (shapes checked; the query kernel's rows in Keras
state order ``[h, c]``), the wrapped cell's from its family converter (:func:`migration.targets.weights.block_cells`:
the cell any target takes alone, a standard layer/op or a custom step, reading the projected ``I``-wide input).

* Keras 3: ``keras.layers.RNN`` of ``rnn_migrate>AttentionCell`` (:mod:`migration.targets.keras3_wrappers`) around
  the wrapped cell's Keras 3 cell (``LSTMCell`` / ``GRUCell`` / ``SimpleRNNCell`` / a ``keras3_cells`` step), under
  the sequence mask (a masked step keeps every state, the window included, and outputs zeros).
* ONNX: one ``Scan`` whose body is the wrapper's step in plain ops (``Concat``, ``MatMul``, ``Add``, ``Reshape``,
  ``Tanh``, ``Mul``, ``ReduceSum``, ``Softmax``, ``Slice``) around the wrapped cell's step (:mod:`migration.targets.
  onnx_cells`' steps, or the standard LSTM / GRU / RNN step written out here in the Keras layout); its state is the
  cell's states, ``attns [B, A]`` and the window flattened ``[B, L*A]`` slot after slot, as TF1 keeps it.

Both follow the block contract of :mod:`migration.checkpoint.wrapped`: inputs ``[x, sequence_length]``, outputs
``outputs [B, T, A]``, the cell's state in TF1 order (``c, h``), ``attns``, ``window``.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from migration import families
from migration.core.specs import CellSpec
from migration.targets import keras3, onnx_cells
from migration.targets.onnx_graph import Graph
from migration.targets.weights import CUSTOM, GRU, LSTM, TargetCell, block_cells
from migration.wrapper_converters import attention_cell_wrapper_to_keras

KIND = "attention_cell_wrapper"


def is_attention(block: Mapping) -> bool:
    return (block.get("wrapper") or {}).get("kind") == KIND


def attention_parts(block: Mapping, read_weight: Callable[[str], np.ndarray]) -> tuple[TargetCell, dict]:
    """(the wrapped cell for the targets, the wrapper's Keras 2 arrays per sublayer)."""
    (cell_entry,) = block["cells"]
    spec = CellSpec.from_dict(cell_entry["spec"])
    wrapper = block["wrapper"]
    arrays = {f"{spec.tf1_scope}/{n}": read_weight(k) for n, k in cell_entry["variables"].items()}
    arrays.update({n: read_weight(k) for n, k in wrapper["variables"].items()})
    parts = attention_cell_wrapper_to_keras(spec, arrays, wrapper["input_depth"], families.cell_to_keras)
    (cell,) = block_cells(block, read_weight)[""]
    return cell, {k: [np.asarray(a, np.float32) for a in v] for k, v in parts.items() if k != "cell"}


# -- Keras 3 -------------------------------------------------------------------------------------------------------

keras3_cell = keras3.step_cell  # the Keras 3 cell of a TargetCell (one definition: migration.targets.keras3)


def build_keras3(cell: TargetCell, parts: dict, wrapper: Mapping, name: str):
    """The Keras 3 block model (see the module docstring)."""
    import keras
    from keras import ops

    from migration.targets.keras3_wrappers import AttentionCell

    x = keras.Input((None, wrapper["input_depth"]), dtype="float32", name="x")
    length = keras.Input((), dtype="int32", name="sequence_length")
    position = ops.cumsum(ops.sum(ops.zeros_like(x), axis=-1) + 1.0, axis=1)
    mask = ops.less_equal(position, ops.expand_dims(ops.cast(length, "float32"), 1))
    step = AttentionCell(keras3_cell(cell), wrapper["attn_length"], wrapper["attn_size"], wrapper["attn_vec_size"],
                         wrapper["input_size"], name="attention_cell")
    layer = keras.layers.RNN(step, return_sequences=True, return_state=True, zero_output_for_mask=True,
                             name="attention_cell_wrapper")
    seq, *final = layer(x, mask=mask)
    for sub in ("input_projection", "query", "output_projection"):
        getattr(step, sub).set_weights(parts[sub])
    step.cell.set_weights(cell.arrays())
    step.attn_w.assign(parts["attn_w"][0])
    step.attn_v.assign(parts["attn_v"][0])
    n = len(step.cell_sizes)
    states = final[:n][::-1] if cell.lstm_state else final[:n]  # Keras [h, c] -> TF1 (c, h)
    out = seq * ops.expand_dims(ops.cast(mask, "float32"), -1)
    return keras.Model([x, length], [out] + list(states) + list(final[n:]), name=name)


# -- ONNX ----------------------------------------------------------------------------------------------------------

def standard_step(s: onnx_cells.Step, x: str, states: list[str]):
    """One LSTM / GRU / simple RNN step in the Keras layout (LSTM gates i, f, c, o, forget_bias folded; GRU z, r, h,
    the reset before the recurrent MatMul, or after it with two bias rows for cuDNN's); states in Keras order."""
    cell, u = s.cell, s.units
    k, r, b = cell.kernel, cell.recurrent_kernel, cell.bias
    if cell.op == LSTM:
        h, c = states
        i, f, g, o = s.gates(s.affine((x, k), (h, r), bias=b), 4)
        new_c = s.op("Add", s.op("Mul", s.sig(f), c), s.op("Mul", s.sig(i), s.act(g)))
        new_h = s.op("Mul", s.sig(o), s.act(new_c))
        return new_h, [new_h, new_c]
    (h,) = states
    if cell.op != GRU:
        new_h = s.act(s.affine((x, k), (h, r), bias=b))
        return new_h, [new_h]
    if cell.reset_after:
        xz, xr, xh = s.gates(s.affine((x, k), bias=b[0]), 3)
        hz, hr, hh = s.gates(s.affine((h, r), bias=b[1]), 3)
        z, rr = s.sig(s.op("Add", xz, hz)), s.sig(s.op("Add", xr, hr))
        cand = s.act(s.op("Add", xh, s.op("Mul", rr, hh)))
    else:
        xz, xr, xh = s.gates(s.affine((x, k), bias=b), 3)
        hz, hr = s.gates(s.affine((h, r[:, :2 * u])), 2)
        z, rr = s.sig(s.op("Add", xz, hz)), s.sig(s.op("Add", xr, hr))
        cand = s.act(s.op("Add", xh, s.affine((s.op("Mul", rr, h), r[:, 2 * u:]))))
    new_h = s.mix(z, h, cand)
    return new_h, [new_h]


def _attention_step(s: onnx_cells.Step, x: str, states: list[str], parts: dict, wrapper: Mapping):
    """The wrapper's step around the cell's: (output, new states) with states ``[cell..., attns, window]``."""
    length, size = wrapper["attn_length"], wrapper["attn_size"]
    g = s.g
    attns, flat = states[-2:]
    window = s.op("Reshape", flat, g.const("shape", np.array([-1, length, size], np.int64)))
    kernel, bias = parts["input_projection"]
    x_in = s.affine((s.op("Concat", x, attns, axis=-1), kernel), bias=bias)
    cell_step = onnx_cells.STEPS[s.cell.custom] if s.cell.op == CUSTOM else standard_step
    cell_out, new_cell = cell_step(s, x_in, states[:-2])
    features = s.op("MatMul", window, s.w("attn_w", parts["attn_w"][0][0, 0]))  # [B, L, V]
    query = s.affine((s.op("Concat", *new_cell, axis=-1) if len(new_cell) > 1 else new_cell[0],
                      parts["query"][0]), bias=parts["query"][1])
    query = s.op("Unsqueeze", query, g.const("axes", np.array([1], np.int64)))
    energy = s.op("Mul", s.w("attn_v", parts["attn_v"][0]), s.op("Tanh", s.op("Add", features, query)))
    scores = s.op("ReduceSum", energy, g.const("axes", np.array([-1], np.int64)), keepdims=0)  # [B, L]
    weights = s.op("Unsqueeze", s.op("Softmax", scores, axis=-1), g.const("axes", np.array([2], np.int64)))
    new_attns = s.op("ReduceSum", s.op("Mul", weights, window), g.const("axes", np.array([1], np.int64)), keepdims=0)
    y = s.affine((s.op("Concat", cell_out, new_attns, axis=-1), parts["output_projection"][0]),
                 bias=parts["output_projection"][1])
    kept = s.op("Slice", window, *(g.const(n, np.array([v], np.int64)) for n, v in (
        ("starts", 1), ("ends", length), ("axes", 1))))
    new_window = s.op("Concat", kept, s.op("Unsqueeze", y, g.const("axes", np.array([1], np.int64))), axis=1)
    new_flat = s.op("Reshape", new_window, g.const("shape", np.array([-1, length * size], np.int64)))
    return y, new_cell + [new_attns, new_flat]


def _body(g: Graph, cell: TargetCell, parts: dict, wrapper: Mapping, sizes: Sequence[int]):
    from onnx import TensorProto, helper

    body = Graph()
    body.count = g.count
    states = [body.name("state") for _ in sizes]
    x_t, m_t = body.name("x_t"), body.name("m_t")
    out, new_states = _attention_step(onnx_cells.Step(body, cell), x_t, states, parts, wrapper)
    kept = [body.node("Where", [m_t, new, old])[0] for new, old in zip(new_states, states)]
    y = body.node("Where", [m_t, out, body.const("zero", np.float32(0.0))])[0]
    g.count = body.count
    floats = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in states + [x_t]]
    return helper.make_graph(body.nodes, "attention_cell_wrapper",
                             floats + [helper.make_tensor_value_info(m_t, TensorProto.BOOL, None)],
                             [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in kept + [y]],
                             initializer=body.inits)


def build_onnx(cell: TargetCell, parts: dict, wrapper: Mapping, name: str, labels: Sequence[str]):
    """The ONNX ``ModelProto`` of the block (see the module docstring); outputs named ``labels``."""
    import onnx
    from onnx import TensorProto, helper

    from migration.targets.onnx_export import OPSET

    g = Graph()
    x_tm = g.node("Transpose", ["x"], perm=[1, 0, 2])[0]
    lengths64 = g.node("Cast", ["sequence_length"], to=TensorProto.INT64)[0]
    steps = g.node("Squeeze", [g.node("Shape", [x_tm], start=0, end=1)[0]])[0]
    times = g.node("Range", [g.const("t0", np.int64(0)), steps, g.const("dt", np.int64(1))])[0]
    mask = g.node("Less", [g.node("Unsqueeze", [times, g.const("axes", np.array([1, 2], np.int64))])[0],
                           g.node("Unsqueeze", [lengths64, g.const("axes", np.array([0, 2], np.int64))])[0]])[0]
    keras_sizes = list(cell.spec.tf1_state_sizes)
    keras_sizes = keras_sizes[::-1] if cell.lstm_state else keras_sizes
    sizes = keras_sizes + [wrapper["attn_size"], wrapper["attn_size"] * wrapper["attn_length"]]
    batch = g.node("Shape", [x_tm], start=1, end=2)[0]
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
    initial = [g.node("ConstantOfShape", [g.node("Concat", [batch, g.const("size", np.array([n], np.int64))],
                                                 axis=0)[0]], value=zero)[0] for n in sizes]
    outs = g.node("Scan", initial + [x_tm, mask], len(initial) + 1, body=_body(g, cell, parts, wrapper, sizes),
                  num_scan_inputs=2)
    finals, y = outs[:-1], g.node("Transpose", [outs[-1]], perm=[1, 0, 2])[0]
    n = len(keras_sizes)
    cell_states = finals[:n][::-1] if cell.lstm_state else finals[:n]
    flat = [y] + list(cell_states) + list(finals[n:])
    shapes = [["batch", "time", wrapper["attn_size"]]] + [["batch", k] for k in cell.spec.tf1_state_sizes] + [
        ["batch", k] for k in sizes[n:]]
    if len(flat) != len(labels):
        raise ValueError(f"block {name!r}: {len(flat)} ONNX outputs for {len(labels)} labels {list(labels)}")
    outputs = []
    for tensor, label, shape in zip(flat, labels, shapes):
        g.node_named("Identity", [tensor], [label])
        outputs.append(helper.make_tensor_value_info(label, TensorProto.FLOAT, shape))
    graph = helper.make_graph(g.nodes, name, [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "time", wrapper["input_depth"]]),
        helper.make_tensor_value_info("sequence_length", TensorProto.INT32, ["batch"])], outputs, initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnn-migrate")
    onnx.checker.check_model(model, full_check=True)
    return model


def build(target: str, cell: TargetCell, parts: dict, block: Mapping, name: str):
    """The ``target`` model of the attention block ``block`` (a manifest entry)."""
    if target == "keras3":
        return build_keras3(cell, parts, block["wrapper"], name)
    return build_onnx(cell, parts, block["wrapper"], name, block["outputs"])
