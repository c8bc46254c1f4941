"""cuDNN checkpoints: the canonical GRU converter and the opaque parameter buffer, as pure NumPy functions.

Read beside :mod:`legacy_rnn.cudnn` and :mod:`modern_rnn.cudnn`.

**Canonical cells.** ``CudnnCompatibleLSTMCell`` stores ``kernel``/``bias`` exactly like ``LSTMCell`` with
forget_bias 0 (converted by :func:`migration.converters.lstm_to_keras`). ``CudnnCompatibleGRUCell`` keeps the two
candidate projections apart; :func:`cudnn_gru_to_keras` maps it onto ``GRUCell(reset_after=True)``::

    kernel           = [G[:D, U:] | G[:D, :U] | W_x]            # [D, 3U]   blocks z(=u), r, h
    recurrent_kernel = [G[D:, U:] | G[D:, :U] | W_h]            # [U, 3U]
    bias             = [[g[U:] | g[:U] | b_x],                  # [2, 3U]   row 0: input biases
                        [  0   |   0   | b_h]]                  #           row 1: recurrent biases

**Opaque buffer** (a ``CudnnLSTM``/``CudnnGRU`` layer's ``opaque_kernel``), in the canonical order of
``tensorflow/contrib/cudnn_rnn/python/ops/cudnn_rnn_ops.py`` (the order ``CudnnRNNCanonicalToParams`` takes, and the
one Keras' ``canonical_to_params`` concatenates): first every weight matrix, then every bias vector; within each,
layer by layer, forward before backward, and per (layer, direction) the input matrices ``W_g [U, D_in]`` of every
gate then the recurrent matrices ``R_g [U, U]`` (gate order :data:`migration.core.gates.CUDNN_LSTM_GATES` i, f, c, o, or
:data:`~migration.core.gates.CUDNN_GRU_GATES` r, u, h), each flattened row-major; biases ``b_W`` of every gate then ``b_R``.
``D_in`` is the input depth for layer 0 and ``U`` (``2U`` bidirectional) above. LSTM ``b_W + b_R`` are summed into
the TF/Keras bias; GRU candidate biases stay apart (Keras ``reset_after=True``).

What is proven on CPU (no GPU here): splitting is the exact inverse of that documented layout, and the split weights
computed through TF's CPU cells equal the cuDNN equations evaluated on the canonical matrices. Whether a given
cuDNN version lays its opaque buffer out this way cannot be checked without a GPU; the canonical variables that TF's
``CudnnOpaqueParamsSaveable`` wrote beside it (``.../cudnn_compatible_*_cell/...``) are the reliable source.
"""
from __future__ import annotations

import numpy as np

from migration.core.errors import ShapeError, check_shape
from migration.core.gates import CUDNN_GRU_GATES, CUDNN_LSTM_GATES, TF1_LSTM_GATES

Arrays = dict[str, np.ndarray]
CUDNN_GRU_TF1_NAMES: tuple[str, ...] = (
    "gates/kernel", "gates/bias", "candidate/input_projection/kernel", "candidate/hidden_projection/kernel",
    "candidate/input_projection/bias", "candidate/hidden_projection/bias",
)
RNN_MODES: dict[str, tuple[str, ...]] = {"lstm": CUDNN_LSTM_GATES, "gru": CUDNN_GRU_GATES}


# --- CudnnCompatibleGRUCell <-> GRUCell(reset_after=True) --------------------------------------------------------

def cudnn_gru_to_keras(weights: dict, input_size: int) -> list[np.ndarray]:
    """``CudnnCompatibleGRUCell`` arrays (by :data:`CUDNN_GRU_TF1_NAMES`) -> ``GRUCell(reset_after=True)`` weights."""
    g, gb, wx, wh, bx, bh = (np.asarray(weights[n]) for n in CUDNN_GRU_TF1_NAMES)
    units = wh.shape[-1]
    check_shape("gates/kernel", g.shape, (input_size + units, 2 * units), "CudnnCompatibleGRUCell: [D+U, 2U]")
    check_shape("gates/bias", gb.shape, (2 * units,))
    check_shape("candidate/input_projection/kernel", wx.shape, (input_size, units))
    check_shape("candidate/hidden_projection/kernel", wh.shape, (units, units))
    check_shape("candidate/input_projection/bias", bx.shape, (units,))
    check_shape("candidate/hidden_projection/bias", bh.shape, (units,))
    r, u = slice(0, units), slice(units, 2 * units)
    kernel = np.concatenate([g[:input_size, u], g[:input_size, r], wx], 1)
    recurrent = np.concatenate([g[input_size:, u], g[input_size:, r], wh], 1)
    zeros = np.zeros(2 * units, gb.dtype)
    bias = np.stack([np.concatenate([gb[u], gb[r], bx]), np.concatenate([zeros, bh])])
    return [kernel, recurrent, bias]


def cudnn_gru_gradient_to_keras(grads: dict, input_size: int) -> list[np.ndarray]:
    """TF1 gradients (or optimizer slots) of a ``CudnnCompatibleGRUCell`` in Keras layout.

    ``gates/bias`` is one parameter in TF1 but two in Keras (``bias[0, z|r]`` + ``bias[1, z|r]``, whose sum acts):
    each Keras half receives the full TF1 gradient. So a resumed Keras optimizer trains the sum with twice the step
    of TF1 (inference is exact; training resumes are not step-for-step for this cell).
    """
    kernel, recurrent, bias = cudnn_gru_to_keras(grads, input_size)
    bias = bias.copy()
    units = recurrent.shape[0]
    bias[1, :2 * units] = bias[0, :2 * units]
    return [kernel, recurrent, bias]


def keras_to_cudnn_gru(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray) -> Arrays:
    """Inverse of :func:`cudnn_gru_to_keras` (the z, r recurrent biases are added to the input ones: TF stores the
    sum)."""
    kernel, recurrent_kernel, bias = (np.asarray(a) for a in (kernel, recurrent_kernel, bias))
    units = recurrent_kernel.shape[0]
    check_shape("recurrent_kernel", recurrent_kernel.shape, (units, 3 * units), "GRU: [U, 3U]")
    if bias.shape != (2, 3 * units):
        raise ShapeError(f"Received an invalid shape for `bias`: expected (2, {3 * units}) from GRU(reset_after=True), "
                         f"got {bias.shape}. A CudnnCompatibleGRUCell keeps the candidate biases apart.")
    z, r, h = (slice(k * units, (k + 1) * units) for k in range(3))
    full = np.concatenate([kernel, recurrent_kernel], 0)
    summed = bias[0] + bias[1]
    return {"gates/kernel": np.concatenate([full[:, r], full[:, z]], 1),
            "gates/bias": np.concatenate([summed[r], summed[z]]),
            "candidate/input_projection/kernel": kernel[:, h], "candidate/hidden_projection/kernel": recurrent_kernel[:, h],
            "candidate/input_projection/bias": bias[0, h], "candidate/hidden_projection/bias": bias[1, h]}


# --- the opaque buffer ------------------------------------------------------------------------------------------

def _pseudo_layers(num_layers: int, num_units: int, input_size: int, bidirectional: bool) -> list[tuple[int, str, int]]:
    dirs = ("fw", "bw") if bidirectional else ("",)
    width = num_units * len(dirs)
    return [(k, d, input_size if k == 0 else width) for k in range(num_layers) for d in dirs]


def opaque_size(rnn_mode: str, num_layers: int, num_units: int, input_size: int, bidirectional: bool = False) -> int:
    """Number of floats in the buffer of that configuration."""
    gates = len(_gates(rnn_mode))
    return sum(gates * (num_units * d_in + num_units * num_units + 2 * num_units)
               for _, _, d_in in _pseudo_layers(num_layers, num_units, input_size, bidirectional))


def _gates(rnn_mode: str) -> tuple[str, ...]:
    try:
        return RNN_MODES[rnn_mode]
    except KeyError:
        raise ValueError(f"Received an invalid value for `rnn_mode`: expected one of {sorted(RNN_MODES)}, "
                         f"got {rnn_mode!r}.") from None


def split_opaque(buffer: np.ndarray, rnn_mode: str, num_layers: int, num_units: int, input_size: int,
                 bidirectional: bool = False) -> dict[tuple[int, str], dict[str, dict[str, np.ndarray]]]:
    """Opaque buffer -> ``{(layer, direction): {gate: {"W": [U, D_in], "R": [U, U], "b_W": [U], "b_R": [U]}}}``."""
    buffer = np.asarray(buffer).reshape(-1)
    gates = _gates(rnn_mode)
    want = opaque_size(rnn_mode, num_layers, num_units, input_size, bidirectional)
    if buffer.size != want:
        raise ShapeError(
            f"Received an opaque cuDNN buffer of {buffer.size} values; a {rnn_mode} with num_layers={num_layers}, "
            f"num_units={num_units}, input_size={input_size}, bidirectional={bidirectional} has {want}. Check the "
            "layer's configuration (the .meta's CudnnRNN op and its input shape give it)."
        )
    u, pos, out = num_units, 0, {}

    def take(n: int, shape) -> np.ndarray:
        nonlocal pos
        pos += n
        return buffer[pos - n:pos].reshape(shape)

    layers = _pseudo_layers(num_layers, num_units, input_size, bidirectional)
    for k, d, d_in in layers:
        out[(k, d)] = {g: {"W": take(u * d_in, (u, d_in))} for g in gates}
        for g in gates:
            out[(k, d)][g]["R"] = take(u * u, (u, u))
    for k, d, _ in layers:
        for key in ("b_W", "b_R"):
            for g in gates:
                out[(k, d)][g][key] = take(u, (u,))
    return out


def join_opaque(canonical: dict, rnn_mode: str) -> np.ndarray:
    """Inverse of :func:`split_opaque`."""
    gates = _gates(rnn_mode)
    keys = list(canonical)
    weights = [canonical[key][g][m].reshape(-1) for key in keys for m in ("W", "R") for g in gates]
    biases = [canonical[key][g][b] for key in keys for b in ("b_W", "b_R") for g in gates]
    return np.concatenate(weights + biases)


def canonical_to_tf1(gates: dict, rnn_mode: str) -> Arrays:
    """One (layer, direction) of :func:`split_opaque` -> the ``CudnnCompatible*Cell`` arrays TF's saveable wrote."""
    if rnn_mode == "lstm":  # TF kernels are [D_in + U, 4U] in i, j(=c), f, o; biases summed
        order = [g if g != "j" else "c" for g in TF1_LSTM_GATES]
        kernel = np.concatenate([np.concatenate([gates[g]["W"].T, gates[g]["R"].T], 0) for g in order], 1)
        return {"kernel": kernel, "bias": np.concatenate([gates[g]["b_W"] + gates[g]["b_R"] for g in order])}
    _gates(rnn_mode)
    return {"gates/kernel": np.concatenate([np.concatenate([gates[g]["W"].T, gates[g]["R"].T], 0) for g in "ru"], 1),
            "gates/bias": np.concatenate([gates[g]["b_W"] + gates[g]["b_R"] for g in "ru"]),
            "candidate/input_projection/kernel": gates["h"]["W"].T, "candidate/hidden_projection/kernel": gates["h"]["R"].T,
            "candidate/input_projection/bias": gates["h"]["b_W"], "candidate/hidden_projection/bias": gates["h"]["b_R"]}


def opaque_to_tf1(buffer: np.ndarray, rnn_mode: str, num_layers: int, num_units: int, input_size: int,
                  bidirectional: bool = False) -> dict[str, Arrays]:
    """Opaque buffer -> ``{cell path: arrays}`` under the names ``CudnnOpaqueParamsSaveable`` gave them:
    ``rnn/multi_rnn_cell/cell_k/cudnn_compatible_{lstm,gru}_cell`` (unidirectional) or
    ``stack_bidirectional_rnn/cell_k/bidirectional_rnn/{fw,bw}/...`` (bidirectional)."""
    cell = f"cudnn_compatible_{rnn_mode}_cell"
    out = {}
    for (k, d), gates in split_opaque(buffer, rnn_mode, num_layers, num_units, input_size, bidirectional).items():
        path = (f"stack_bidirectional_rnn/cell_{k}/bidirectional_rnn/{d}/{cell}" if d
                else f"rnn/multi_rnn_cell/cell_{k}/{cell}")
        out[path] = canonical_to_tf1(gates, rnn_mode)
    return out


def converters(CellConverter, lstm_tf1_names, lstm_keras_names, lstm_to_keras, lstm_to_tf1) -> dict:
    """The family's rows of :data:`migration.converters.CONVERTERS` (called once by that module)."""
    keras_names = lambda s: ("kernel", "recurrent_kernel", "bias")  # noqa: E731
    return {
        "cudnn_compatible_lstm": CellConverter("cudnn_compatible_lstm", lstm_tf1_names, lstm_keras_names, lstm_to_keras,
                                               lstm_to_tf1),
        "cudnn_compatible_gru": CellConverter(
            "cudnn_compatible_gru", lambda s: CUDNN_GRU_TF1_NAMES, keras_names,
            lambda s, w, d, fb: cudnn_gru_to_keras(w, d), lambda s, w, fb: keras_to_cudnn_gru(*w)),
    }


__all__ = ["CUDNN_GRU_TF1_NAMES", "cudnn_gru_to_keras", "cudnn_gru_gradient_to_keras", "keras_to_cudnn_gru", "opaque_size", "split_opaque",
           "join_opaque", "canonical_to_tf1", "opaque_to_tf1"]
