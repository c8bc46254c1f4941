"""The ``tf.contrib.seq2seq`` attention decoder in plain ONNX ops (opset 17): one ``Scan`` over the decoder's time
whose body is the :class:`~modern_rnn.seq2seq.AttentionWrapper` step (or an
:class:`~modern_rnn.seq2seq.attention_stack.AttentionStack`'s: plain layers around one attention layer), the memory,
its mask and its keys computed once outside and read by the body as outer-scope values.

The step, as TF 1.15's ``AttentionWrapper.call`` and its Keras 2 twin compute it (the arrays are the Keras 2 twin's:
forget_bias folded into ``b_f``, gate blocks in the Keras order)::

    cell_output, cell_state' = cell(concat([x, attention]), cell_state)         (a stack: one layer after the other)
    score = sum(v * tanh(keys + cell_output @ W_q (+ b)))    Bahdanau; normalize: v -> g * v / ||v||
          = keys . cell_output (* g)                         Luong; scale: * g
    alignments = softmax(where(memory mask, score, score_mask_value))  (TF1's -inf by default)
    context = alignments @ values;  attention = concat([cell_output, context]) @ W_a  (or context)
    output = attention if output_attention else cell_output     (then the BasicDecoder's output layer)

``values`` are the memory zeroed past ``memory_sequence_length`` and ``keys = values @ memory_layer``. The cells'
steps are :mod:`migration.targets.onnx_cells`' (``projection_lstm`` for an LSTM, which without peepholes, projection
or clips is Keras' ``LSTMCell``); the GRU (TF1's reset before the recurrent MatMul) and simple RNN steps are here.
With ``lengths`` (a whole model's ``TeacherForcedDecoder`` with ``impute_finished``), a row past its length keeps its
state and outputs zeros (``Where``), as TF1's ``dynamic_decode(impute_finished=True)``.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Union

import numpy as np

from migration.core.specs import CellSpec
from migration.targets.onnx_cells import Step, projection_lstm
from migration.targets.onnx_graph import Graph
from migration.targets.weights import CUSTOM, PROJECTION_LSTM, TargetCell

LSTM_KIND, GRU_KIND, RNN_KIND = "lstm", "gru", "rnn"


@dataclasses.dataclass
class CellLayer:
    """One Keras 2 cell (``LSTMCell``, ``GRUCell(reset_after=False)``, ``SimpleRNNCell``) and its arrays."""

    kind: str
    units: int
    activation: str
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray

    @property
    def state_count(self) -> int:
        return 2 if self.kind == LSTM_KIND else 1

    def target_cell(self) -> TargetCell:
        spec_kind = {LSTM_KIND: "lstm", GRU_KIND: "gru", RNN_KIND: "basic_rnn"}[self.kind]
        spec = CellSpec(spec_kind, self.units, activation=self.activation)
        weights = tuple(np.asarray(w, np.float32) for w in (self.kernel, self.recurrent_kernel, self.bias))
        return TargetCell(spec, CUSTOM, weights[0], weights[1], weights[2], PROJECTION_LSTM, weights)


@dataclasses.dataclass
class AttentionLayer:
    """An ``AttentionWrapper``: its mechanism's arrays, the attention layer and the wrapped cell(s)."""

    mechanism: str  # bahdanau | luong
    memory_kernel: np.ndarray  # [M, N]
    cells: list[CellLayer]  # one, or a StackedRNNCells' layers bottom to top
    output_attention: bool = True
    query_kernel: Optional[np.ndarray] = None  # Bahdanau [Q, N]
    v: Optional[np.ndarray] = None  # Bahdanau [N]
    g: Optional[float] = None  # Bahdanau normalize / Luong scale
    b: Optional[np.ndarray] = None  # Bahdanau normalize [N]
    attention_kernel: Optional[np.ndarray] = None  # [Q + M, A]
    score_mask_value: Optional[float] = None  # None: -inf

    @property
    def attention_size(self) -> int:
        return int(self.attention_kernel.shape[1] if self.attention_kernel is not None else self.memory_kernel.shape[0])


Layer = Union[CellLayer, AttentionLayer]


@dataclasses.dataclass
class DecoderSpec:
    """The decoder's layers bottom to top (exactly one :class:`AttentionLayer`) and the output layer, if any."""

    layers: list[Layer]
    projection_kernel: Optional[np.ndarray] = None
    projection_bias: Optional[np.ndarray] = None

    @property
    def attention(self) -> AttentionLayer:
        return next(layer for layer in self.layers if isinstance(layer, AttentionLayer))

    @property
    def cells(self) -> list[CellLayer]:
        """Every cell in TF1's flat state order (a stack's layers, the attention layer's wrapped cells in place)."""
        return [c for layer in self.layers for c in (layer.cells if isinstance(layer, AttentionLayer) else [layer])]

    @property
    def output_size(self) -> int:
        if self.projection_kernel is not None:
            return int(self.projection_kernel.shape[1])
        top = self.layers[-1]
        if isinstance(top, CellLayer):
            return top.units
        return top.attention_size if top.output_attention else top.cells[-1].units


# -- cell steps (Keras layout) -----------------------------------------------------------------------------------------

def gru_step(s: Step, x: str, states: list[str]):
    """Keras ``GRUCell(reset_after=False)`` = TF1's ``GRUCell``: ``r`` multiplies ``h`` before the recurrent MatMul."""
    (h,) = states
    k, r, b = s.cell.weights
    u = s.units
    x_z, x_r, x_h = s.gates(s.affine((x, k), bias=b), 3)
    z = s.sig(s.op("Add", x_z, s.affine((h, r[:, :u]))))
    reset = s.sig(s.op("Add", x_r, s.affine((h, r[:, u:2 * u]))))
    hh = s.act(s.op("Add", x_h, s.affine((s.op("Mul", reset, h), r[:, 2 * u:]))))
    new_h = s.mix(z, h, hh)
    return new_h, [new_h]


def rnn_step(s: Step, x: str, states: list[str]):
    (h,) = states
    k, r, b = s.cell.weights
    new_h = s.act(s.affine((x, k), (h, r), bias=b))
    return new_h, [new_h]


STEPS = {LSTM_KIND: projection_lstm, GRU_KIND: gru_step, RNN_KIND: rnn_step}


def cell_step(g: Graph, cell: CellLayer, x: str, states: list[str]):
    """(output, new states in Keras order) of one cell on ``x``."""
    return STEPS[cell.kind](Step(g, cell.target_cell()), x, states)


# -- the attention step ------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Memory:
    """Outer-scope names the body reads: ``values [B, S, M]``, ``keys [B, S, N]``, ``mask [B, S]`` (bool) or None."""

    values: str
    keys: str
    mask: Optional[str]


def _score(g: Graph, layer: AttentionLayer, memory: Memory, query: str) -> str:
    def const(stem: str, array) -> str:
        return g.const(stem, np.asarray(array, np.float32))

    if layer.mechanism == "bahdanau":
        processed = g.node("Unsqueeze", [g.node("MatMul", [query, const("W_q", layer.query_kernel)])[0],
                                         g.const("axes", np.array([1], np.int64))])[0]
        inner = g.node("Add", [memory.keys, processed])[0]
        v = np.asarray(layer.v, np.float32)
        if layer.b is not None:  # normalize: g * v / ||v||, + b inside tanh
            inner = g.node("Add", [inner, const("b", layer.b)])[0]
            v = np.float32(layer.g) * v * (np.float32(1.0) / np.sqrt(np.sum(v * v, dtype=np.float32)))
        weighted = g.node("Mul", [const("v", v), g.node("Tanh", [inner])[0]])[0]
        return g.node("ReduceSum", [weighted, g.const("axes", np.array([2], np.int64))], keepdims=0)[0]
    column = g.node("Unsqueeze", [query, g.const("axes", np.array([2], np.int64))])[0]
    score = g.node("Squeeze", [g.node("MatMul", [memory.keys, column])[0],
                               g.const("axes", np.array([2], np.int64))])[0]
    return score if layer.g is None else g.node("Mul", [score, const("g", np.float32(layer.g))])[0]


def attention_step(g: Graph, layer: AttentionLayer, memory: Memory, x: str, states: list[str], attention: str):
    """(output, new cell states, new attention) of one ``AttentionWrapper`` step."""
    out = g.node("Concat", [x, attention], axis=-1)[0]
    new_states, k = [], 0
    for cell in layer.cells:
        out, cell_states = cell_step(g, cell, out, states[k:k + cell.state_count])
        new_states += cell_states
        k += cell.state_count
    score = _score(g, layer, memory, out)
    if memory.mask is not None:
        fill = float("-inf") if layer.score_mask_value is None else float(layer.score_mask_value)
        score = g.node("Where", [memory.mask, score, g.const("score_mask_value", np.float32(fill))])[0]
    alignments = g.node("Softmax", [score], axis=-1)[0]
    row = g.node("Unsqueeze", [alignments, g.const("axes", np.array([1], np.int64))])[0]
    context = g.node("Squeeze", [g.node("MatMul", [row, memory.values])[0],
                                 g.const("axes", np.array([1], np.int64))])[0]
    new_attention = context
    if layer.attention_kernel is not None:
        new_attention = g.node("MatMul", [g.node("Concat", [out, context], axis=-1)[0],
                                          g.const("W_a", np.asarray(layer.attention_kernel, np.float32))])[0]
    return (new_attention if layer.output_attention else out), new_states, new_attention


def decoder_step(g: Graph, spec: DecoderSpec, memory: Memory, x: str, states: list[str]):
    """(output, new states): ``states`` = every cell's states (Keras order, :attr:`DecoderSpec.cells`' order), then
    the attention."""
    cell_states, attention = states[:-1], states[-1]
    new, k, new_attention = [], 0, attention
    for layer in spec.layers:
        if isinstance(layer, AttentionLayer):
            n = sum(c.state_count for c in layer.cells)
            x, part, new_attention = attention_step(g, layer, memory, x, cell_states[k:k + n], attention)
        else:
            n = layer.state_count
            x, part = cell_step(g, layer, x, cell_states[k:k + n])
        new += part
        k += n
    if spec.projection_kernel is not None:
        x = g.node("MatMul", [x, g.const("W_out", np.asarray(spec.projection_kernel, np.float32))])[0]
        if spec.projection_bias is not None:
            x = g.node("Add", [x, g.const("b_out", np.asarray(spec.projection_bias, np.float32))])[0]
    return x, new + [new_attention]


# -- the Scan ----------------------------------------------------------------------------------------------------------

def memory_tensors(g: Graph, spec: DecoderSpec, memory: str, lengths: Optional[str]) -> Memory:
    """``values`` (the memory zeroed past each length), ``keys``, the mask (``lengths`` int32 ``[B]`` or None)."""
    mask = None
    if lengths is not None:
        steps = g.node("Squeeze", [g.node("Shape", [memory], start=1, end=2)[0]])[0]
        positions = g.node("Range", [g.const("t0", np.int64(0)), steps, g.const("dt", np.int64(1))])[0]
        lengths64 = g.node("Unsqueeze", [g.node("Cast", [lengths], to=7)[0],
                                         g.const("axes", np.array([1], np.int64))])[0]
        mask = g.node("Less", [positions, lengths64])[0]  # [B, S]
        scale = g.node("Unsqueeze", [g.node("Cast", [mask], to=1)[0], g.const("axes", np.array([2], np.int64))])[0]
        memory = g.node("Mul", [memory, scale])[0]
    keys = g.node("MatMul", [memory, g.const("memory_layer", np.asarray(spec.attention.memory_kernel, np.float32))])[0]
    return Memory(memory, keys, mask)


def state_sizes(spec: DecoderSpec) -> list[int]:
    """Sizes of the Scan's state variables: every cell's states (Keras order), then the attention."""
    return [c.units for c in spec.cells for _ in range(c.state_count)] + [spec.attention.attention_size]


def initial_states(g: Graph, spec: DecoderSpec, batch: str, given: Sequence[str] = ()) -> list[str]:
    """Zeros ``[B, size]`` (``batch``: a 1-D int64 shape tensor), or the cells' states ``given`` in TF1's flat order
    (``(c, h)`` per LSTM) put in Keras order; the attention starts at zeros."""
    from onnx import TensorProto, helper

    zero = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])

    def zeros(size: int) -> str:
        shape = g.node("Concat", [batch, g.const("size", np.array([size], np.int64))], axis=0)[0]
        return g.node("ConstantOfShape", [shape], value=zero)[0]

    if not given:
        return [zeros(size) for size in state_sizes(spec)]
    if len(given) != sum(c.state_count for c in spec.cells):
        raise ValueError(f"{len(given)} initial state tensors for cells with "
                         f"{sum(c.state_count for c in spec.cells)} states")
    out, k = [], 0
    for cell in spec.cells:
        part = list(given[k:k + cell.state_count])
        out += [part[1], part[0]] if cell.state_count == 2 else part
        k += cell.state_count
    return out + [zeros(spec.attention.attention_size)]


def used_inits(body: Graph) -> list:
    """The body's initializers its nodes read (a cell step's helper constants it did not use are left out: no
    "unused initializer" warnings from onnxruntime)."""
    read = {n for node in body.nodes for n in node.input}
    return [init for init in body.inits if init.name in read]


def _body(g: Graph, spec: DecoderSpec, memory: Memory, n_states: int, impute: bool, name: str):
    from onnx import TensorProto, helper

    body = Graph()
    body.count = g.count  # one name sequence: body names never shadow the outer graph's
    states = [body.name("state") for _ in range(n_states)]
    x_t, m_t = body.name("x_t"), body.name("m_t")
    out, new_states = decoder_step(body, spec, memory, x_t, states)
    if impute:  # TF1's impute_finished: a finished row keeps its state and outputs zeros
        new_states = [body.node("Where", [m_t, new, old])[0] for new, old in zip(new_states, states)]
        out = body.node("Where", [m_t, out, body.const("zero", np.float32(0.0))])[0]
    else:
        new_states = [body.node("Identity", [s])[0] for s in new_states]
    g.count = body.count
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in states + [x_t]]
    if impute:
        inputs.append(helper.make_tensor_value_info(m_t, TensorProto.BOOL, None))
    return helper.make_graph(body.nodes, name, inputs,
                             [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in new_states + [out]],
                             initializer=used_inits(body))


def decode(g: Graph, spec: DecoderSpec, x: str, memory: str, memory_lengths: Optional[str],
           given: Sequence[str] = (), lengths: Optional[str] = None, name: str = "decoder") -> str:
    """The teacher-forced outputs ``[B, T, O]`` of ``spec`` over batch-major inputs ``x [B, T, D]`` (every step of
    ``x``); ``lengths`` (int32 ``[B]``): rows past their length keep their state and output zeros."""
    mem = memory_tensors(g, spec, memory, memory_lengths)
    batch = g.node("Shape", [x], start=0, end=1)[0]
    initial = initial_states(g, spec, batch, given)
    x_tm = g.node("Transpose", [x], perm=[1, 0, 2])[0]
    scans = [x_tm]
    if lengths is not None:
        steps = g.node("Squeeze", [g.node("Shape", [x_tm], start=0, end=1)[0]])[0]
        times = g.node("Range", [g.const("t0", np.int64(0)), steps, g.const("dt", np.int64(1))])[0]
        scans.append(g.node("Less", [g.node("Unsqueeze", [times, g.const("axes", np.array([1, 2], np.int64))])[0],
                                     g.node("Unsqueeze", [g.node("Cast", [lengths], to=7)[0],
                                                          g.const("axes", np.array([0, 2], np.int64))])[0]])[0])
    body = _body(g, spec, mem, len(initial), lengths is not None, name)
    outs = g.node("Scan", initial + scans, len(initial) + 1, body=body, num_scan_inputs=len(scans))
    return g.node("Transpose", [outs[-1]], perm=[1, 0, 2])[0]
