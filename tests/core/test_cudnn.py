"""cuDNN checkpoints on CPU: the opaque buffer split exactly, and the split weights computing cuDNN's equations.

No GPU here. What is proven: (1) :func:`migration.cudnn_converters.split_opaque` is the exact inverse of a buffer
built in this file, independently, from known canonical matrices by the documented layout (all weights, then all
biases; layer by layer, fw before bw; W of every gate then R; gate order i,f,c,o / r,u,h; matrices [U, D_in]
row-major); (2) the TF1 CudnnCompatible cells (``legacy_rnn.cudnn``) holding the converted arrays, and their Keras
twins, compute the cuDNN equations evaluated directly on those canonical matrices. What is not: that a particular
cuDNN version's opaque layout is this one (TF's own saveable wrote canonical variables beside it for that reason).
"""
from __future__ import annotations

import numpy as np
import pytest

import legacy_rnn
import modern_rnn
from migration import converters, cudnn_converters as cc
from migration.core.errors import ShapeError
from migration.core.specs import CellSpec

from .harness import FAST_SESSION
from .reference import sigmoid

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
B, T, D, U = 3, 4, 3, 4
GATES = {"lstm": ("i", "f", "c", "o"), "gru": ("r", "u", "h")}


def _canonical(mode: str, layers: int, bidirectional: bool, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    dirs = ("fw", "bw") if bidirectional else ("",)
    out = {}
    for k in range(layers):
        d_in = D if k == 0 else U * len(dirs)
        for d in dirs:
            out[(k, d)] = {g: {"W": rng.uniform(-.6, .6, (U, d_in)).astype(np.float32),
                               "R": rng.uniform(-.6, .6, (U, U)).astype(np.float32),
                               "b_W": rng.uniform(-.5, .5, U).astype(np.float32),
                               "b_R": rng.uniform(-.5, .5, U).astype(np.float32)} for g in GATES[mode]}
    return out


def _buffer(canonical: dict, mode: str) -> np.ndarray:
    """The documented layout, written out longhand."""
    parts = []
    for key in canonical:
        for g in GATES[mode]:
            parts.append(canonical[key][g]["W"].ravel())
        for g in GATES[mode]:
            parts.append(canonical[key][g]["R"].ravel())
    for key in canonical:
        for bias in ("b_W", "b_R"):
            for g in GATES[mode]:
                parts.append(canonical[key][g][bias])
    return np.concatenate(parts)


def _cudnn_reference(mode: str, canonical: dict, layers: int, x: np.ndarray) -> np.ndarray:
    """cuDNN's equations (NVIDIA's user guide) on the canonical matrices, unidirectional stack."""
    h_in = x.astype(np.float64)
    for k in range(layers):
        p = canonical[(k, "")]
        lin = lambda g, xt, h: xt @ p[g]["W"].T + p[g]["b_W"] + h @ p[g]["R"].T + p[g]["b_R"]  # noqa: E731
        h, c, outs = np.zeros((B, U)), np.zeros((B, U)), []
        for t in range(T):
            xt = h_in[:, t]
            if mode == "lstm":
                i, f, o = (sigmoid(lin(g, xt, h)) for g in "ifo")
                c = f * c + i * np.tanh(lin("c", xt, h))
                h = o * np.tanh(c)
            else:
                r, u = sigmoid(lin("r", xt, h)), sigmoid(lin("u", xt, h))
                hh = np.tanh(xt @ p["h"]["W"].T + p["h"]["b_W"] + r * (h @ p["h"]["R"].T + p["h"]["b_R"]))
                h = (1 - u) * hh + u * h
            outs.append(h)
        h_in = np.stack(outs, 1)
    return h_in


@pytest.mark.parametrize("mode", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_opaque_buffer_split_is_exact(mode: str, bidirectional: bool) -> None:
    canonical = _canonical(mode, 2, bidirectional)
    buffer = _buffer(canonical, mode)
    assert buffer.size == cc.opaque_size(mode, 2, U, D, bidirectional)
    split = cc.split_opaque(buffer, mode, 2, U, D, bidirectional)
    assert list(split) == list(canonical)
    for key, gates in canonical.items():
        for g, mats in gates.items():
            for name, value in mats.items():
                assert np.array_equal(split[key][g][name], value), (key, g, name)
    assert np.array_equal(cc.join_opaque(split, mode), buffer)
    with pytest.raises(ShapeError, match="num_units=4"):
        cc.split_opaque(buffer[:-1], mode, 2, U, D, bidirectional)
    paths = sorted(cc.opaque_to_tf1(buffer, mode, 2, U, D, bidirectional))
    cell = f"cudnn_compatible_{mode}_cell"
    assert paths[0] == (f"stack_bidirectional_rnn/cell_0/bidirectional_rnn/bw/{cell}" if bidirectional
                        else f"rnn/multi_rnn_cell/cell_0/{cell}")


def _tf1_run(mode: str, arrays_by_path: dict, x: np.ndarray) -> np.ndarray:
    with legacy_rnn.new_graph(0) as graph:
        xp = legacy_rnn.placeholder(tf.float32, x.shape, name="x")
        make = legacy_rnn.cudnn_compatible_lstm_cell if mode == "lstm" else legacy_rnn.cudnn_compatible_gru_cell
        out, _ = legacy_rnn.dynamic_rnn(legacy_rnn.multi_rnn_cell([make(U), make(U)]), xp)
        variables = {v.op.name: v for v in v1.trainable_variables()}
        assigns = [variables[f"{path}/{name}"].assign(value)
                   for path, arrays in arrays_by_path.items() for name, value in arrays.items()]
        assert len(assigns) == len(variables)
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run(assigns)
            return sess.run(out, {xp: x})


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_opaque_weights_compute_the_cudnn_equations(mode: str) -> None:
    canonical = _canonical(mode, 2, False, seed=3)
    x = np.random.default_rng(1).normal(0, 1, (B, T, D)).astype(np.float32)
    want = _cudnn_reference(mode, canonical, 2, x)
    arrays = cc.opaque_to_tf1(_buffer(canonical, mode), mode, 2, U, D)
    assert float(np.max(np.abs(_tf1_run(mode, arrays, x) - want))) < 1e-5
    spec = CellSpec(f"cudnn_compatible_{mode}", U, forget_bias=0.0) if mode == "lstm" else \
        CellSpec("cudnn_compatible_gru", U)
    cells = [modern_rnn.cell_from_spec(spec) for _ in range(2)]
    layer = modern_rnn.keras.layers.RNN(modern_rnn.multi_rnn_cell(cells), return_sequences=True)
    layer(x)
    for k, cell in enumerate(cells):
        cell.set_weights(converters.cell_to_keras(spec, arrays[f"rnn/multi_rnn_cell/cell_{k}/cudnn_compatible_{mode}_cell"],
                                                  D if k == 0 else U))
    assert float(np.max(np.abs(layer(x).numpy() - want))) < 1e-5


def test_opaque_read_in_tf_gate_order_is_caught() -> None:
    """Negative control: reading cuDNN's i, f, c, o blocks as TF's i, c, f, o (no reorder) is far off."""
    canonical = _canonical("lstm", 2, False, seed=3)
    x = np.random.default_rng(1).normal(0, 1, (B, T, D)).astype(np.float32)
    wrong = {key: {"i": g["i"], "f": g["c"], "c": g["f"], "o": g["o"]} for key, g in canonical.items()}
    arrays = cc.opaque_to_tf1(_buffer(wrong, "lstm"), "lstm", 2, U, D)
    assert float(np.max(np.abs(_tf1_run("lstm", arrays, x) - _cudnn_reference("lstm", canonical, 2, x)))) > 1e-2


def test_cudnn_gru_needs_reset_after_true() -> None:
    """The cuDNN GRU applies r after the recurrent matmul: Keras reset_after=False (the TF1 GRUCell twin) cannot hold
    its separate candidate biases, and the converter refuses a [3U] bias on the way back."""
    with pytest.raises(ShapeError, match="reset_after=True"):
        cc.keras_to_cudnn_gru(np.zeros((D, 3 * U)), np.zeros((U, 3 * U)), np.zeros(3 * U))
    with pytest.raises(ValueError, match="forget_bias"):
        CellSpec("cudnn_compatible_lstm", U)
