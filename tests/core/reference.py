"""NumPy reference steps, written from the TF1 equations on TF1-layout weights.

Both sides are checked against these, independently of the converters: a failure then says which side is wrong.
Weights are the TF1 arrays by their name under the cell scope (see migration.core.specs).
"""
from __future__ import annotations

import numpy as np

from migration.core.specs import CellSpec

ACT = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0.0)}


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def zero_state(spec: CellSpec, batch: int) -> tuple:
    """TF1 order: (c, h) for LSTMs, (h,) otherwise."""
    return tuple(np.zeros((batch, n), np.float64) for n in spec.tf1_state_sizes)


def step(spec: CellSpec, w: dict, x: np.ndarray, state: tuple) -> tuple[np.ndarray, tuple]:
    """One TF1 step: returns (output, new_state) with the state in TF1 order."""
    act = ACT[spec.activation]
    if spec.kind in ("basic_rnn", "handwritten"):
        k, b = (w["W"], w["b"]) if spec.kind == "handwritten" else (w["kernel"], w["bias"])
        h = act(np.concatenate([x, state[0]], 1) @ k + b)
        return h, (h,)
    if spec.kind == "cudnn_compatible_gru":  # cuDNN's GRU: r multiplies the recurrent projection after the matmul
        (h_prev,) = state
        r, u = np.split(sigmoid(np.concatenate([x, h_prev], 1) @ w["gates/kernel"] + w["gates/bias"]), 2, axis=1)
        c = np.tanh(x @ w["candidate/input_projection/kernel"] + w["candidate/input_projection/bias"]
                    + r * (h_prev @ w["candidate/hidden_projection/kernel"] + w["candidate/hidden_projection/bias"]))
        h = u * h_prev + (1 - u) * c
        return h, (h,)
    if spec.is_gru:
        if spec.kind == "gru_block":  # GRUBlockCell v1 names hold the GRUCell arrays
            w = {"gates/kernel": w["w_ru"], "gates/bias": w["b_ru"], "candidate/kernel": w["w_c"], "candidate/bias": w["b_c"]}
        (h_prev,) = state
        u_ = spec.units
        gates = sigmoid(np.concatenate([x, h_prev], 1) @ w["gates/kernel"] + w["gates/bias"])
        r, u = gates[:, :u_], gates[:, u_:]
        c = np.tanh(np.concatenate([x, r * h_prev], 1) @ w["candidate/kernel"] + w["candidate/bias"])
        h = u * h_prev + (1 - u) * c
        return h, (h,)
    if spec.kind == "layer_norm_lstm":  # contrib LayerNormBasicLSTMCell: no bias, LN(eps 1e-12) per gate and on c
        c_prev, h_prev = state

        def norm(a, scope):
            return (a - a.mean(1, keepdims=True)) / np.sqrt(a.var(1, keepdims=True) + 1e-12) * w[f"{scope}/gamma"] \
                + w[f"{scope}/beta"]

        i, j, f, o = (norm(a, s) for a, s in zip(np.split(np.concatenate([x, h_prev], 1) @ w["kernel"], 4, axis=1),
                                                 ("input", "transform", "forget", "output")))
        c = norm(c_prev * sigmoid(f + spec.forget_bias) + sigmoid(i) * np.tanh(j), "state")
        h = np.tanh(c) * sigmoid(o)
        return h, (c, h)
    c_prev, m_prev = state  # LSTM: i = input_gate, j = new_input, f = forget_gate, o = output_gate
    i, j, f, o = np.split(np.concatenate([x, m_prev], 1) @ w["kernel"] + w["bias"], 4, axis=1)
    if spec.use_peepholes:
        c = sigmoid(f + spec.forget_bias + w["w_f_diag"] * c_prev) * c_prev + sigmoid(i + w["w_i_diag"] * c_prev) * act(j)
    else:
        c = sigmoid(f + spec.forget_bias) * c_prev + sigmoid(i) * act(j)
    if spec.cell_clip is not None:
        c = np.clip(c, -spec.cell_clip, spec.cell_clip)
    m = sigmoid(o + w["w_o_diag"] * c) * act(c) if spec.use_peepholes else sigmoid(o) * act(c)
    if spec.num_proj is not None:
        m = m @ w["projection/kernel"]
        if spec.proj_clip is not None:
            m = np.clip(m, -spec.proj_clip, spec.proj_clip)
    return m, (c, m)


def unroll(specs: list[CellSpec], weights: list[dict], x: np.ndarray, lengths=None) -> tuple[np.ndarray, list]:
    """dynamic_rnn over stacked cells, batch-major x [B, T, D]: outputs zero for t >= len, state frozen at len - 1.

    Returns (outputs [B, T, H], flat final state in TF1 order, layer by layer).
    """
    x = np.asarray(x, np.float64)
    batch, steps = x.shape[:2]
    lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
    states = [zero_state(s, batch) for s in specs]
    outputs = np.zeros((batch, steps, specs[-1].output_size))
    for t in range(steps):
        live = (t < lengths)[:, None]
        inp = x[:, t]
        new_states = []
        for spec, w, st in zip(specs, weights, states):
            inp, new = step(spec, w, inp, st)
            new_states.append(tuple(np.where(live, n, o) for n, o in zip(new, st)))
        states = new_states
        outputs[:, t] = np.where(live, inp, 0.0)
    return outputs, [a for st in states for a in st]


def reverse_by_length(x: np.ndarray, lengths) -> np.ndarray:
    """tf.reverse_sequence: reverse the first len steps of each row, keep the padding in place."""
    out = x.copy()
    for b, n in enumerate(lengths):
        out[b, :n] = x[b, :n][::-1]
    return out


def bidirectional(specs_fw, w_fw, specs_bw, w_bw, x, lengths=None):
    """bidirectional_dynamic_rnn: (concat of fw and time-aligned bw outputs, flat fw state + flat bw state)."""
    steps = x.shape[1]
    lengths = np.full(x.shape[0], steps) if lengths is None else np.asarray(lengths)
    out_fw, st_fw = unroll(specs_fw, w_fw, x, lengths)
    out_bw, st_bw = unroll(specs_bw, w_bw, reverse_by_length(np.asarray(x, np.float64), lengths), lengths)
    return np.concatenate([out_fw, reverse_by_length(out_bw, lengths)], -1), st_fw + st_bw
