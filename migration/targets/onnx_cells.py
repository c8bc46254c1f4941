"""ONNX graphs of the TF1 cells no standard ONNX op computes: one ``Scan`` per layer whose body is the cell's step
in plain ops (``MatMul``, ``Add``, ``Split``, ``Sigmoid``, ``Tanh``/the activation, ``Mul``, ``Sub``, ``ReduceMean``,
``Sqrt``, ``Div``, ``Clip``, ``Concat``, ``Where``; opset 17), the twin of :mod:`migration.targets.keras3_cells`.

The body reads the Keras 2 twin's arrays as they are (forget_bias folded, gate blocks in the Keras 2 order; its own
initializers, so the body is self-contained) and keeps TF1's ``dynamic_rnn`` contract under ``sequence_length``: a
step past a sequence's length keeps the state and outputs zeros (``Where`` on the step's mask, no arithmetic on the
kept values). The backward direction reverses each sequence within its length (``ReverseSequence``, TF1's
``reverse_sequence``), scans forward, and reverses the outputs back.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from migration.targets.onnx_graph import Graph
from migration.families.grid_lstm import grid_config, grid_tf1_names, keras_name
from migration.families.phased_lstm import LEAK as PHASED_LEAK
from migration.targets.weights import ACTIVATIONS, TargetCell

#: contrib ``layers.layer_norm``'s variance epsilon (TF 1.15)
LN_EPSILON = 1e-12


class Step:
    """Builds one step's nodes into a graph (a :class:`migration.targets.onnx_graph.Graph`): small op helpers."""

    def __init__(self, g, cell: TargetCell) -> None:
        self.g, self.cell, self.units = g, cell, cell.units
        self.act_op = ACTIVATIONS[cell.spec.activation]
        self.one = g.const("one", np.float32(1.0))

    def op(self, name: str, *inputs: str, **attrs) -> str:
        return self.g.node(name, list(inputs), **attrs)[0]

    def w(self, stem: str, array) -> str:
        return self.g.const(stem, np.asarray(array, np.float32))

    def affine(self, *terms, bias=None) -> str:
        """``sum(x @ W) (+ bias)`` over ``terms`` of (tensor, array)."""
        out = None
        for x, array in terms:
            product = self.op("MatMul", x, self.w("W", array))
            out = product if out is None else self.op("Add", out, product)
        return out if bias is None else self.op("Add", out, self.w("b", bias))

    def split(self, z: str, sizes) -> list[str]:
        return self.g.node("Split", [z, self.g.const("split", np.asarray(sizes, np.int64))], len(sizes), axis=-1)

    def gates(self, z: str, n: int) -> list[str]:
        return self.split(z, [self.units] * n)

    def sig(self, a: str) -> str:
        return self.op("Sigmoid", a)

    def act(self, a: str) -> str:
        return self.op(self.act_op, a)

    def mix(self, gate: str, keep: str, new: str) -> str:
        """``gate * keep + (1 - gate) * new``."""
        return self.op("Add", self.op("Mul", gate, keep), self.op("Mul", self.op("Sub", self.one, gate), new))

    def layer_norm(self, a: str, gamma, beta) -> str:
        mean = self.op("ReduceMean", a, axes=[-1], keepdims=1)
        centred = self.op("Sub", a, mean)
        var = self.op("ReduceMean", self.op("Mul", centred, centred), axes=[-1], keepdims=1)
        scale = self.op("Sqrt", self.op("Add", var, self.g.const("eps", np.float32(LN_EPSILON))))
        return self.op("Add", self.op("Mul", self.op("Div", centred, scale), self.w("gamma", gamma)),
                       self.w("beta", beta))

    def clip(self, a: str, bound: float) -> str:
        return self.op("Clip", a, self.g.const("lo", np.float32(-bound)), self.g.const("hi", np.float32(bound)))

    def cols(self, a: str, start: int, end: int) -> str:
        """``a[:, start:end]`` (``Slice`` on the last axis)."""
        return self.op("Slice", a, *(self.g.const(n, np.array([v], np.int64)) for n, v in (
            ("starts", start), ("ends", end), ("axes", -1))))


def ugrnn(s: Step, x: str, states: list[str]):
    (h,) = states
    k, r, b = s.cell.weights
    g, c = s.gates(s.affine((x, k), (h, r), bias=b), 2)
    new_h = s.mix(s.sig(g), h, s.act(c))
    return new_h, [new_h]


def cifg_lstm(s: Step, x: str, states: list[str]):
    h, c = states
    k, r, b = s.cell.weights
    j, f, o = s.gates(s.affine((x, k), (h, r), bias=b), 3)
    new_c = s.mix(s.sig(f), c, s.act(j))
    new_h = s.op("Mul", s.sig(o), s.act(new_c))
    return new_h, [new_h, new_c]


def minimal_rnn(s: Step, x: str, states: list[str]):
    (h,) = states
    k, gk, r, b = s.cell.weights
    z = s.act(s.affine((x, k)))
    new_h = s.mix(s.sig(s.affine((z, gk), (h, r), bias=b)), h, z)
    return new_h, [new_h]


def cfn(s: Step, x: str, states: list[str]):
    (h,) = states
    k, r, b = s.cell.weights
    u = s.units
    gates_in, w_in = s.split(s.affine((x, k)), [2 * u, u])
    theta, eta = s.gates(s.sig(s.op("Add", s.op("Add", s.affine((h, r)), gates_in), s.w("b", b))), 2)
    new_h = s.op("Add", s.op("Mul", theta, s.act(h)), s.op("Mul", s.op("Sub", s.one, eta), s.act(w_in)))
    return new_h, [new_h]


def sru(s: Step, x: str, states: list[str]):
    (c,) = states
    k, b = s.cell.weights
    x_bar, f_in, r_in, x_tx = s.gates(s.affine((x, k)), 4)
    f, r = s.gates(s.sig(s.op("Add", s.op("Concat", f_in, r_in, axis=-1), s.w("b", b))), 2)
    new_c = s.mix(f, c, x_bar)
    return s.mix(r, s.act(new_c), x_tx), [new_c]


def intersection_rnn(s: Step, x: str, states: list[str]):
    (h,) = states
    pk, pb, k, r, b = s.cell.weights
    if pk.shape[0] != s.units:  # TF 1.15 projects the input exactly when its depth is not units
        x = s.affine((x, pk), bias=pb)
    gh, h_, gy, y_ = s.gates(s.affine((x, k), (h, r), bias=b), 4)
    new_h = s.mix(s.sig(gh), h, s.op("Tanh", h_))
    return s.mix(s.sig(gy), x, s.op("Relu", y_)), [new_h]


def layer_norm_lstm(s: Step, x: str, states: list[str]):
    h, c = states
    k, r, gamma, beta, state_gamma, state_beta = s.cell.weights[:6]  # LayerNormLSTMCell's unused_bias is not read
    blocks = zip(s.gates(s.affine((x, k), (h, r)), 4), np.split(gamma, 4), np.split(beta, 4))
    i, f, c_hat, o = (s.layer_norm(a, g, b) for a, g, b in blocks)
    new_c = s.op("Add", s.op("Mul", c, s.sig(f)), s.op("Mul", s.sig(i), s.act(c_hat)))
    new_c = s.layer_norm(new_c, state_gamma, state_beta)
    new_h = s.op("Mul", s.act(new_c), s.sig(o))
    return new_h, [new_h, new_c]


def projection_lstm(s: Step, x: str, states: list[str]):
    m, c = states
    spec, weights = s.cell.spec, list(s.cell.weights)
    k, r, b = weights[:3]
    i, f, j, o = s.gates(s.affine((x, k), (m, r), bias=b), 4)
    if spec.use_peepholes:
        w_i, w_f, w_o = weights[3:6]
        i = s.op("Add", i, s.op("Mul", s.w("w_i", w_i), c))
        f = s.op("Add", f, s.op("Mul", s.w("w_f", w_f), c))
    new_c = s.op("Add", s.op("Mul", s.sig(f), c), s.op("Mul", s.sig(i), s.act(j)))
    if spec.cell_clip:
        new_c = s.clip(new_c, spec.cell_clip)
    if spec.use_peepholes:
        o = s.op("Add", o, s.op("Mul", s.w("w_o", w_o), new_c))
    new_m = s.op("Mul", s.sig(o), s.act(new_c))
    if spec.num_proj:
        new_m = s.affine((new_m, weights[-1]))
        if spec.proj_clip:
            new_m = s.clip(new_m, spec.proj_clip)
    return new_m, [new_m, new_c]


def nas(s: Step, x: str, states: list[str]):
    m, c = states
    spec, weights = s.cell.spec, list(s.cell.weights)
    k, r = weights[:2]
    bias = weights[2] if spec.option("use_bias", False) else None
    xs, ms = s.gates(s.affine((x, k)), 8), s.gates(s.affine((m, r), bias=bias), 8)

    def add(a: str, b: str) -> str:
        return s.op("Add", a, b)

    first = [s.sig(add(xs[0], ms[0])), s.op("Relu", add(xs[1], ms[1])), s.sig(add(xs[2], ms[2])),
             s.op("Relu", s.op("Mul", xs[3], ms[3])), s.op("Tanh", add(xs[4], ms[4])), s.sig(add(xs[5], ms[5])),
             s.op("Tanh", add(xs[6], ms[6])), s.sig(add(xs[7], ms[7]))]
    new_c = s.op("Mul", s.op("Tanh", add(s.op("Tanh", s.op("Mul", first[0], first[1])), c)),
                 s.op("Tanh", add(first[2], first[3])))
    inner = add(s.op("Tanh", s.op("Mul", first[4], first[5])), s.sig(add(first[6], first[7])))
    new_m = s.op("Tanh", s.op("Mul", new_c, s.op("Tanh", inner)))
    if spec.num_proj:
        new_m = s.affine((new_m, weights[-1]))
    return new_m, [new_m, new_c]


def glstm(s: Step, x: str, states: list[str]):
    m, c = states
    spec, weights = s.cell.spec, list(s.cell.weights)
    groups = int(spec.option("number_of_groups", 1))  # type: ignore[call-overload]
    k, r, b = weights[:3]
    xs = s.split(x, [k.shape[0] // groups] * groups) if groups > 1 else [x]
    ms = s.split(m, [r.shape[0] // groups] * groups) if groups > 1 else [m]
    blocks = [s.split(s.affine((xg, kg), (mg, rg)), [s.units // groups] * 4)
              for xg, mg, kg, rg in zip(xs, ms, np.split(k, groups), np.split(r, groups))]
    gates = [s.op("Concat", *[blk[gate] for blk in blocks], axis=-1) if groups > 1 else blocks[0][gate]
             for gate in range(4)]
    i, j, f, o = (s.op("Add", gate, s.w("b", bias)) for gate, bias in zip(gates, np.split(b, 4)))
    new_c = s.op("Add", s.op("Mul", s.sig(f), c), s.op("Mul", s.sig(i), s.op("Tanh", j)))
    new_m = s.op("Mul", s.sig(o), s.act(new_c))
    if spec.num_proj:
        new_m = s.affine((new_m, weights[3]))
    return new_m, [new_m, new_c]


def _floormod(s: Step, a: str, b: str) -> str:
    """TF's float ``floormod``: ``fmod``, plus ``b`` when the remainder is non-zero and its sign is not ``b``'s."""
    r = s.op("Mod", a, b, fmod=1)
    zero = s.g.const("zero", np.float32(0.0))
    sign_differs = s.op("Xor", s.op("Less", r, zero), s.op("Less", b, zero))
    adjust = s.op("And", s.op("Not", s.op("Equal", r, zero)), sign_differs)
    return s.op("Where", adjust, s.op("Add", r, b), r)


def phased_lstm(s: Step, x: str, states: list[str]):
    h, c = states
    mk, mb, nk, nb, ok, ob, period, phase, ratio_on = s.cell.weights
    leak = float(dict(s.cell.spec.options).get("leak", PHASED_LEAK))
    time, x_only = s.split(x, [1, mk.shape[0] - s.units])
    xh = s.op("Concat", x_only, h, axis=-1)
    i, f = s.gates(s.sig(s.affine((xh, mk), bias=mb)), 2)
    c1 = s.op("Add", s.op("Mul", c, f), s.op("Mul", i, s.op("Tanh", s.affine((xh, nk), bias=nb))))
    h1 = s.op("Mul", s.op("Tanh", c1), s.sig(s.affine((xh, ok), bias=ob)))
    period_t, ratio_t = s.w("period", period), s.w("ratio_on", ratio_on)
    shifted = s.op("Sub", time, s.w("phase", phase))  # TF1's _mod: (floormod(a, b) - a) + a, rounding included
    ratio = s.op("Div", s.op("Add", s.op("Sub", _floormod(s, shifted, period_t), shifted), shifted), period_t)
    k_up = s.op("Div", s.op("Mul", s.g.const("two", np.float32(2.0)), ratio), ratio_t)
    k = s.op("Where", s.op("Less", ratio, ratio_t), s.op("Sub", s.g.const("two", np.float32(2.0)), k_up),
             s.op("Mul", s.g.const("leak", np.float32(leak)), ratio))
    k = s.op("Where", s.op("Less", ratio, s.op("Mul", s.g.const("half", np.float32(0.5)), ratio_t)), k_up, k)
    new_h = s.mix(k, h1, h)
    return new_h, [new_h, s.mix(k, c1, c)]


def time_freq_lstm(s: Step, x: str, states: list[str]):
    """One window (F = 1, the converted layout: feature_size = the input size): ``[x, m_prev, 0] W + B``, i, j, f, o;
    state ``concat(c, m)``."""
    (state,) = states
    kernel, bias = s.cell.weights
    u = s.units
    c_prev, m_prev = s.split(state, [u, u])
    rows = kernel.shape[0] - 2 * u  # the m_prev_freq rows multiply zeros (the first window's): left out
    i, j, f, o = s.gates(s.affine((x, kernel[:rows]), (m_prev, kernel[rows:rows + u]), bias=bias), 4)
    c = s.op("Add", s.op("Mul", s.sig(f), c_prev), s.op("Mul", s.sig(i), s.op("Tanh", j)))
    m = s.op("Mul", s.sig(o), s.op("Tanh", c))
    return m, [s.op("Concat", c, m, axis=-1)]


def _grid_gate_cell(s: Step, z, peep, c_f, c_t, own, clip):
    """A grid LSTM's new c from its gate blocks ``z`` (i, j, f, o or coupled i, j, o); ``peep(gate, pre, c_f, c_t)``."""
    i = s.sig(peep("i", z[0], c_f, c_t))
    f = s.op("Sub", s.one, i) if len(z) == 3 else s.sig(peep("f", z[2], c_f, c_t))
    c = s.op("Add", s.op("Mul", f, own), s.op("Mul", i, s.op("Tanh", z[1])))
    return c if clip is None else s.clip(c, clip)


def _grid_block(s: Step, slices, pairs, w: dict, d: str, b: int):
    """One block of one direction (keras3_cells.GridLSTMCell._grid's maths): outputs, states (c_t, m_t per slice)."""
    spec = s.cell.spec
    share, clip = bool(spec.option("share_time_frequency_weights")), spec.cell_clip
    gates = 3 if spec.option("couple_input_forget_gates") else 4

    def peeper(lstm: str):
        def peep(gate: str, pre: str, c_f: str, c_t: str) -> str:
            if not spec.use_peepholes:
                return pre
            stem = f"{d}w_{gate}_diag_{'freq' if share else lstm}"
            return s.op("Add", s.op("Add", pre, s.op("Mul", s.w("p", w[f"{stem}f_{b}"]), c_f)),
                        s.op("Mul", s.w("p", w[f"{stem}t_{b}"]), c_t))
        return peep

    c_f = m_f = s.op("Mul", pairs[0][0], s.g.const("zero", np.float32(0.0)))
    outputs, states = [], []
    for x, (c_t_prev, m_t_prev) in zip(slices, pairs):
        v = s.op("Concat", x, m_t_prev, m_f, axis=-1)
        z_f = s.gates(s.affine((v, w[f"{d}w_f_{b}"]), bias=w[f"{d}b_f_{b}"]), gates)
        z_t = z_f if share else s.gates(s.affine((v, w[f"{d}w_t_{b}"]), bias=w[f"{d}b_t_{b}"]), gates)
        new_c_f = _grid_gate_cell(s, z_f, peeper("freq"), c_f, c_t_prev, c_f, clip)
        c_t = _grid_gate_cell(s, z_t, peeper("time"), c_f, c_t_prev, c_t_prev, clip)
        m_f = s.op("Mul", s.sig(peeper("freq")("o", z_f[-1], new_c_f, c_t)), s.op("Tanh", new_c_f))
        m_t = s.op("Mul", s.sig(peeper("time")("o", z_t[-1], new_c_f, c_t)), s.op("Tanh", c_t))
        c_f = new_c_f
        outputs += [m_t, m_f]
        states += [c_t, m_t]
    return outputs, states


def grid_lstm(s: Step, x: str, states: list[str]):
    """GridLSTMCell / BidirectionalGridLSTMCell (``state_is_tuple=True``): the slices are ``Slice`` s of x (the
    backward grid's of x padded by ``|backward_slice_offset|`` zero columns each side, read in reverse order)."""
    spec, u = s.cell.spec, s.units
    bidirectional = s.cell.custom == "BidirectionalGridLSTMCell"
    config = grid_config(spec, None, bidirectional)
    w = dict(zip((keras_name(n) for n in grid_tf1_names(config, bidirectional)), s.cell.weights))
    size, skip = w["fwd_w_f_0" if bidirectional else "w_f_0"].shape[0] - 2 * u, config["frequency_skip"]
    firsts = config.get("start_freqindex_list") or [0]  # the Keras 2 conversion checked the blocks cover the input
    starts = [[first + k * skip for k in range(n)] for first, n in zip(firsts, config["num_frequency_blocks"])]
    outputs, new_states, pos = [], [], 0
    for d in ("fwd_", "bwd_") if bidirectional else ("",):
        xd, shift, backward = x, 0, d == "bwd_"
        offset = int(spec.option("backward_slice_offset") or 0) if backward else 0
        if offset:
            pad = s.g.const("pads", np.array([0, abs(offset), 0, abs(offset)], np.int64))
            xd, shift = s.op("Pad", x, pad, s.g.const("zero", np.float32(0.0))), offset + abs(offset)
        for b, block in enumerate(starts):
            slices = [s.cols(xd, k + shift, k + shift + size) for k in block]
            pairs = [(states[pos + 2 * k], states[pos + 2 * k + 1]) for k in range(len(block))]
            pos += 2 * len(block)
            out, st = _grid_block(s, slices[::-1] if backward else slices, pairs, w, d, b)
            outputs += out
            new_states += st
    return s.op("Concat", *outputs, axis=-1), new_states


#: custom step name (a family row's ``custom_cell``, as :data:`migration.targets.keras3_cells.CELLS`) -> body builder
STEPS: dict[str, Callable] = {
    "UGRNNCell": ugrnn, "CoupledInputForgetGateLSTMCell": cifg_lstm, "MinimalRNNCell": minimal_rnn, "CFNCell": cfn,
    "SRUCell": sru, "IntersectionRNNCell": intersection_rnn, "LayerNormBasicLSTMCell": layer_norm_lstm,
    "LayerNormLSTMCell": layer_norm_lstm, "ProjectionLSTMCell": projection_lstm, "NASCell": nas, "GLSTMCell": glstm,
    "PhasedLSTMCell": phased_lstm, "TimeFreqLSTMCell": time_freq_lstm, "GridLSTMCell": grid_lstm,
    "BidirectionalGridLSTMCell": grid_lstm}


def _state_sizes(cell: TargetCell) -> list[int]:
    """Keras order (``[h, c]`` / ``[m, c]`` for the LSTMs)."""
    sizes = cell.spec.tf1_state_sizes
    return [sizes[1], sizes[0]] if cell.lstm_state else list(sizes)


def _body(g, cell: TargetCell, name: str):
    """The Scan body: inputs the states (Keras order), ``x_t [N, D]``, ``m_t [N, 1]`` bool; outputs the states kept
    past the length (``Where``) and the step's output (zeros past the length)."""
    from onnx import TensorProto, helper

    body = Graph()
    body.count = g.count  # one name sequence: body names never shadow the outer graph's
    states = [body.name("state") for _ in _state_sizes(cell)]
    x_t, m_t = body.name("x_t"), body.name("m_t")
    out, new_states = STEPS[cell.custom](Step(body, cell), x_t, states)
    zero = body.const("zero", np.float32(0.0))
    kept = [body.node("Where", [m_t, new, old])[0] for new, old in zip(new_states, states)]
    y = body.node("Where", [m_t, out, zero])[0]
    g.count = body.count
    float_info = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in states + [x_t]]
    return helper.make_graph(
        body.nodes, name, float_info + [helper.make_tensor_value_info(m_t, TensorProto.BOOL, None)],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in kept + [y]], initializer=body.inits)


def scan_layer(g, x_tm: str, lengths: str, cell: TargetCell, reverse: bool, name: str) -> tuple[str, list[str]]:
    """(time-major outputs ``[T, N, output_size]``, final states in TF1 order) of one custom layer over ``x_tm``
    ``[T, N, D]`` with the int32 ``lengths [N]``."""
    from onnx import TensorProto, helper

    lengths64 = g.node("Cast", [lengths], to=7)[0]  # int64
    steps = g.node("Squeeze", [g.node("Shape", [x_tm], start=0, end=1)[0]])[0]
    times = g.node("Range", [g.const("t0", np.int64(0)), steps, g.const("dt", np.int64(1))])[0]
    mask = g.node("Less", [g.node("Unsqueeze", [times, g.const("axes", np.array([1, 2], np.int64))])[0],
                           g.node("Unsqueeze", [lengths64, g.const("axes", np.array([0, 2], np.int64))])[0]])[0]
    batch = g.node("Shape", [x_tm], start=1, end=2)[0]
    zeros = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
    initial = [g.node("ConstantOfShape", [g.node("Concat", [batch, g.const("size", np.array([size], np.int64))],
                                                 axis=0)[0]], value=zeros)[0] for size in _state_sizes(cell)]

    def reversed_(t: str) -> str:
        return g.node("ReverseSequence", [t, lengths64], batch_axis=1, time_axis=0)[0]

    body = _body(g, cell, name)
    outs = g.node("Scan", initial + [reversed_(x_tm) if reverse else x_tm, mask], len(initial) + 1, body=body,
                  num_scan_inputs=2)
    finals, y = outs[:-1], outs[-1]
    if reverse:
        y = reversed_(y)
    return y, ([finals[1], finals[0]] if cell.lstm_state else finals)
