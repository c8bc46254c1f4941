"""The ONNX block graph: ``blocks/<name>.onnx`` (opset :data:`OPSET`), standard ``LSTM`` / ``GRU`` / ``RNN`` ops; a cell
no standard op computes is a ``Scan`` of its step in plain ops (:mod:`migration.targets.onnx_cells`).

Same contract as the Keras 2 block model (:mod:`migration.checkpoint.blocks`): inputs ``x`` float32 ``[batch, time,
input_size]`` and ``sequence_length`` int32 ``[batch]``; outputs in TF1 order (``outputs`` or ``fw/outputs``,
``bw/outputs``, then the final states, LSTM ``c, h``, layer by layer, fw before bw), outputs past a sequence's length
zero. Each layer is one op over time-major input with ``sequence_lens`` (ONNX keeps the state past a length, and the
``reverse`` direction reads each sequence backwards within its length, as TF1's ``reverse_sequence`` does).

Weights from the Keras layout (:mod:`migration.targets.weights`): ``W = kernel^T``, ``R = recurrent_kernel^T`` with
the gate blocks in ONNX order (LSTM ``i, o, f, c`` from Keras ``i, f, c, o``: :data:`LSTM_ORDER`; GRU ``z, r, h`` as
Keras; TF1's GRUCell resets before the recurrent MatMul: ``linear_before_reset=0``), ``B = [Wb, Rb]`` with the Keras
bias (forget_bias already folded into b_f) as ``Wb`` and ``Rb = 0`` (cuDNN's GRU: ``linear_before_reset=1``, its two
Keras bias rows as ``Wb`` and ``Rb``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from migration.targets import onnx_cells
from migration.targets.onnx_graph import Graph
from migration.targets.weights import ACTIVATIONS, CUSTOM, GRU, LSTM, TargetCell, gate_blocks

OPSET = 17
SUFFIX = ".onnx"
#: ONNX LSTM gate k is Keras gate LSTM_ORDER[k] (ONNX i, o, f, c; Keras i, f, c, o)
LSTM_ORDER: tuple[int, ...] = (0, 3, 1, 2)
#: TF1's GRUCell multiplies r into h before the recurrent MatMul: ONNX ``linear_before_reset=0``
GRU_LINEAR_BEFORE_RESET = 0
#: CudnnCompatibleGRUCell multiplies r into the recurrent MatMul's result (plus its own bias): ``linear_before_reset=1``
CUDNN_GRU_LINEAR_BEFORE_RESET = 1


def onnx_weights(cell: TargetCell) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W [1, G*U, D], R [1, G*U, U], B [1, 2*G*U]) of one layer, one direction."""
    order = LSTM_ORDER if cell.op == LSTM else tuple(range(cell.kernel.shape[1] // cell.units))

    def reorder(array: np.ndarray) -> np.ndarray:
        blocks = gate_blocks(array, cell.units)
        return np.concatenate([blocks[k] for k in order], axis=-1)

    w = reorder(cell.kernel).T[None]
    r = reorder(cell.recurrent_kernel).T[None]
    if cell.reset_after:  # Keras bias rows: input, recurrent -> ONNX Wb, Rb
        b = np.concatenate([reorder(cell.bias[0]), reorder(cell.bias[1])])[None]
    else:
        b = np.concatenate([reorder(cell.bias), np.zeros_like(cell.bias)])[None]
    return (np.ascontiguousarray(w, np.float32), np.ascontiguousarray(r, np.float32),
            np.ascontiguousarray(b, np.float32))


def _direction(g: Graph, x_tm: str, lengths: str, cells: Sequence[TargetCell], direction: str, prefix: str):
    """(time-major outputs [T, N, U], flat final states in TF1 order) of one stack in one direction."""
    states = []
    out = x_tm
    for k, cell in enumerate(cells):
        if cell.op == CUSTOM:  # no standard op: a Scan of the step in plain ops
            out, final = onnx_cells.scan_layer(g, out, lengths, cell, direction == "reverse", f"{prefix}layer{k}")
            states += final
            continue
        axes1, axes0 = g.const("axes1", np.array([1], np.int64)), g.const("axes0", np.array([0], np.int64))
        w, r, b = onnx_weights(cell)
        act = ACTIVATIONS[cell.spec.activation]
        inputs = [out, g.const(f"{prefix}W{k}", w), g.const(f"{prefix}R{k}", r), g.const(f"{prefix}B{k}", b), lengths]
        if cell.op == LSTM:
            y, y_h, y_c = g.node("LSTM", inputs, 3, hidden_size=cell.units, direction=direction,
                                 activations=["Sigmoid", act, act])
            states += [g.node("Squeeze", [y_c, axes0])[0], g.node("Squeeze", [y_h, axes0])[0]]
        else:
            reset = CUDNN_GRU_LINEAR_BEFORE_RESET if cell.reset_after else GRU_LINEAR_BEFORE_RESET
            attrs = dict(linear_before_reset=reset, activations=["Sigmoid", act]) if cell.op == GRU else \
                dict(activations=[act])
            y, y_h = g.node(cell.op, inputs, 2, hidden_size=cell.units, direction=direction, **attrs)
            states.append(g.node("Squeeze", [y_h, axes0])[0])
        out = g.node("Squeeze", [y, axes1])[0]  # [T, 1, N, U] -> [T, N, U]
    return out, states


def build_block(directions: dict[str, list[TargetCell]], input_size: int, name: str, labels: Sequence[str]):
    """The ONNX ``ModelProto`` of one block; ``labels``: the manifest's output names (the graph's output names)."""
    import onnx
    from onnx import TensorProto, helper

    g = Graph()
    x_tm = g.node("Transpose", ["x"], perm=[1, 0, 2])[0]
    if set(directions) == {"fw", "bw"}:
        out_fw, st_fw = _direction(g, x_tm, "sequence_length", directions["fw"], "forward", "fw_")
        out_bw, st_bw = _direction(g, x_tm, "sequence_length", directions["bw"], "reverse", "bw_")
        sequences, states = [out_fw, out_bw], st_fw + st_bw
    else:
        out, states = _direction(g, x_tm, "sequence_length", directions[""], "forward", "")
        sequences = [out]
    flat = [g.node("Transpose", [s], perm=[1, 0, 2])[0] for s in sequences] + states
    tops = [cells[-1].output_size for cells in (directions.values())]
    units = [size for cells in directions.values() for c in cells for size in (
        c.spec.tf1_state_sizes if c.op == CUSTOM else [c.units] * (2 if c.op == LSTM else 1))]
    shapes = [["batch", "time", u] for u in tops] + [["batch", u] for u in units]
    if len(flat) != len(labels):
        raise ValueError(f"block {name!r}: {len(flat)} ONNX outputs for {len(labels)} labels {list(labels)}")
    outputs = []
    for tensor, label, shape in zip(flat, labels, shapes):
        g.nodes.append(helper.make_node("Identity", [tensor], [label], name=g.name("output")))
        outputs.append(helper.make_tensor_value_info(label, TensorProto.FLOAT, shape))
    graph = helper.make_graph(
        g.nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "time", input_size]),
         helper.make_tensor_value_info("sequence_length", TensorProto.INT32, ["batch"])],
        outputs, initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnn-migrate")
    onnx.checker.check_model(model, full_check=True)
    return model


def save_block(model, path: str) -> None:
    import onnx

    onnx.save_model(model, path)


def session(path: str):
    """An onnxruntime CPU session of ``path``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def run_block(sess, x: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return sess.run(None, {"x": np.asarray(x, np.float32), "sequence_length": np.asarray(lengths, np.int32)})
