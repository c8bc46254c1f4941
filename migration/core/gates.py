"""Gate orders as data.

A fused RNN kernel stores one column block per gate. TF1 and Keras 2 store the same gates in different orders:

============  ==========================================  ==========================================
cell          TF1 (``tf.compat.v1.nn.rnn_cell``)           Keras 2 (``tf_keras.layers``)
============  ==========================================  ==========================================
LSTM          ``i, j, f, o`` (``j`` = new input)           ``i, f, c, o`` (``c`` = candidate = TF1 j)
GRU gates     ``r, u`` in ``gates/kernel``; candidate      ``z, r, h`` (``z`` = update = TF1 u,
              in its own ``candidate/kernel``              ``h`` = candidate)
============  ==========================================  ==========================================

TF1 gate comment (from ``legacy_cells.py``): ``i = input_gate, j = new_input, f = forget_gate, o = output_gate``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from migration.core.errors import ShapeError

TF1_LSTM_GATES: tuple[str, ...] = ("i", "j", "f", "o")
KERAS_LSTM_GATES: tuple[str, ...] = ("i", "f", "c", "o")
TF1_GRU_GATES: tuple[str, ...] = ("r", "u")  # gates/kernel; the candidate has its own kernel
KERAS_GRU_GATES: tuple[str, ...] = ("z", "r", "h")

# The same gate under its TF1 and Keras names.
GATE_ALIASES: Mapping[str, str] = {"j": "c", "c": "j", "u": "z", "z": "u"}


def _canonical(gate: str, names: Sequence[str]) -> str:
    if gate in names:
        return gate
    alias = GATE_ALIASES.get(gate)
    if alias in names:
        return alias
    raise ValueError(f"Gate {gate!r} has no counterpart among {tuple(names)}.")


def split_gates(array: np.ndarray, order: Sequence[str], axis: int = -1) -> dict[str, np.ndarray]:
    """Split ``array`` into equal blocks along ``axis``, one per gate name of ``order``."""
    size = array.shape[axis]
    if size % len(order):
        raise ValueError(
            f"Received an invalid gate dimension: axis {axis} has size {size}, which is not a multiple of "
            f"{len(order)} gates {tuple(order)}."
        )
    return dict(zip(order, np.split(array, len(order), axis=axis)))


def reorder_gates(array: np.ndarray, source: Sequence[str], target: Sequence[str], axis: int = -1) -> np.ndarray:
    """Permute the gate blocks of ``array`` from ``source`` order to ``target`` order (aliases j=c, u=z allowed)."""
    blocks = split_gates(array, source, axis)
    return np.concatenate([blocks[_canonical(g, source)] for g in target], axis=axis)


def split_fused_rows(kernel: np.ndarray, input_size: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A TF1 fused kernel ``[D + R, G*U]`` (it multiplies ``concat([x, h], 1)``) -> its ``D`` input rows and its ``R``
    recurrent rows: Keras' ``kernel`` and ``recurrent_kernel``. ``name`` names the variable in the error."""
    if kernel.ndim != 2 or not 0 < input_size < kernel.shape[0]:
        raise ShapeError(
            f"Received an invalid shape for `{name}`: expected (input_size + recurrent_size, ?) with "
            f"input_size={input_size}, got {tuple(kernel.shape)}."
        )
    return kernel[:input_size], kernel[input_size:]


# cuDNN's canonical gate order (tensorflow/contrib/cudnn_rnn/python/ops/cudnn_rnn_ops.py; Keras CuDNNLSTM/CuDNNGRU):
# LSTM i, f, c, o (the same as Keras); GRU r, u, h (u = Keras z). Each gate has an input matrix W [U, D_in] and a
# recurrent matrix R [U, U], and two bias vectors b_W, b_R.
CUDNN_LSTM_GATES: tuple[str, ...] = ("i", "f", "c", "o")
CUDNN_GRU_GATES: tuple[str, ...] = ("r", "u", "h")
