"""Weight converters for the ``tf.contrib`` cell families: small pure NumPy functions.

Read beside :mod:`legacy_rnn.contrib` and :mod:`modern_rnn.contrib`. The block cells were written to be
checkpoint-compatible with the core cells, so most rows reuse :mod:`migration.converters`:

==================  ====================================  ========================================================
kind                TF1 variables under the cell scope    conversion
==================  ====================================  ========================================================
``lstm_block``      ``lstm_cell/kernel [D+U, 4U]``,       the ``LSTMCell`` one: the block kernel's gate order is
                    ``bias [4U]``, ``w_{i,f,o}_diag``     ``i, c(i.e. j), f, o`` ("icfo" in ``lstm_ops.cc``) = TF1
                                                          ``i, j, f, o``; forget_bias and cell_clip are op
                                                          attributes, folded / kept like ``LSTMCell``'s
``lstm_block_fused`` ``lstm_fused_cell/{kernel,bias}``    same (``BlockLSTM`` is ``LSTMBlockCell`` in a loop)
``gru_block``       ``gru_cell/{w_ru, b_ru, w_c, b_c}``   renamed to ``gates/kernel, gates/bias, candidate/kernel,
                                                          candidate/bias``, then the ``GRUCell`` one
``gru_block_v2``    the ``GRUCell`` names                 the ``GRUCell`` one
==================  ====================================  ========================================================

This module must not import :mod:`migration.converters` at import time (that module imports this one to register
the rows); the helpers it needs are passed in or imported inside the functions.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

Arrays = dict[str, np.ndarray]

#: ``GRUBlockCell`` (v1) variable name -> the ``GRUCell`` / ``GRUBlockCellV2`` name holding the same array.
GRU_BLOCK_V1_NAMES: dict[str, str] = {
    "w_ru": "gates/kernel", "b_ru": "gates/bias", "w_c": "candidate/kernel", "b_c": "candidate/bias",
}
_GRU_TF1 = ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")
_SIMPLE_KERAS = ("kernel", "recurrent_kernel", "bias")


def gru_block_v1_to_gru_names(weights: Mapping[str, np.ndarray]) -> Arrays:
    """``{w_ru, b_ru, w_c, b_c}`` -> ``{gates/kernel, gates/bias, candidate/kernel, candidate/bias}`` (same arrays:
    ``w_ru`` holds the ``[r | u]`` blocks exactly like ``gates/kernel``)."""
    return {GRU_BLOCK_V1_NAMES.get(name, name): np.asarray(value) for name, value in weights.items()}


def gru_names_to_gru_block_v1(weights: Mapping[str, np.ndarray]) -> Arrays:
    """Inverse of :func:`gru_block_v1_to_gru_names`."""
    back = {v: k for k, v in GRU_BLOCK_V1_NAMES.items()}
    return {back.get(name, name): np.asarray(value) for name, value in weights.items()}


#: LayerNormBasicLSTMCell's norm scopes in TF1 gate order i, j, f, o, then the new c.
LAYER_NORM_SCOPES: tuple[str, ...] = ("input", "transform", "forget", "output")
LAYER_NORM_TF1_NAMES: tuple[str, ...] = ("kernel",) + tuple(
    f"{s}/{p}" for s in LAYER_NORM_SCOPES + ("state",) for p in ("gamma", "beta"))
LAYER_NORM_KERAS_NAMES: tuple[str, ...] = ("kernel", "recurrent_kernel", "gamma", "beta", "state_gamma", "state_beta")


def layer_norm_lstm_to_keras(weights: Mapping[str, np.ndarray], input_size: int, forget_bias: float) -> list[np.ndarray]:
    """``LayerNormBasicLSTMCell`` -> :class:`modern_rnn.layer_norm_lstm.LayerNormLSTMCell` weights.

    ``kernel [D+U, 4U]`` i, j, f, o -> ``kernel [D, 4U]``, ``recurrent_kernel [U, 4U]`` in i, f, c, o; the per-gate
    ``gamma``/``beta [U]`` are concatenated in the same Keras order into ``[4U]``; forget_bias (added after the norm in
    TF1) is folded into ``beta_f``; ``state/gamma``, ``state/beta`` stay ``[U]``.
    """
    from migration.converters import split_rows
    from migration.core.gates import KERAS_LSTM_GATES, TF1_LSTM_GATES, reorder_gates

    kernel = np.asarray(weights["kernel"])
    k_x, k_h = split_rows(kernel, input_size, "kernel")
    by_gate = dict(zip(TF1_LSTM_GATES, LAYER_NORM_SCOPES))
    keras_order = [by_gate["j" if g == "c" else g] for g in KERAS_LSTM_GATES]
    gamma = np.concatenate([weights[f"{s}/gamma"] for s in keras_order])
    beta = np.concatenate([weights[f"{s}/beta"] + (forget_bias if s == "forget" else 0.0) for s in keras_order])
    reorder = lambda a: reorder_gates(a, TF1_LSTM_GATES, KERAS_LSTM_GATES)  # noqa: E731
    return [reorder(k_x), reorder(k_h), gamma, beta.astype(gamma.dtype), np.asarray(weights["state/gamma"]),
            np.asarray(weights["state/beta"])]


def layer_norm_lstm_to_tf1(keras_weights, forget_bias: float) -> Arrays:
    """Inverse of :func:`layer_norm_lstm_to_keras`."""
    from migration.core.gates import KERAS_LSTM_GATES, TF1_LSTM_GATES, reorder_gates

    k, rk, gamma, beta, s_gamma, s_beta = (np.asarray(w) for w in keras_weights)
    out: Arrays = {"kernel": reorder_gates(np.concatenate([k, rk]), KERAS_LSTM_GATES, TF1_LSTM_GATES)}
    by_gate = dict(zip(TF1_LSTM_GATES, LAYER_NORM_SCOPES))
    for g, gm, bt in zip(KERAS_LSTM_GATES, np.split(gamma, 4), np.split(beta, 4)):
        scope = by_gate["j" if g == "c" else g]
        out[f"{scope}/gamma"] = gm
        out[f"{scope}/beta"] = bt - (forget_bias if scope == "forget" else 0.0)
    out["state/gamma"], out["state/beta"] = s_gamma, s_beta
    return out


def conv_lstm_to_keras(kernel: np.ndarray, biases: np.ndarray, input_channels: int, forget_bias: float) -> list:
    """``ConvLSTMCell`` ``kernel [*k, C_in + C, 4C]`` / ``biases [4C]`` (i, j, f, o) -> Keras ``ConvLSTM*D``
    ``[kernel [*k, C_in, 4C], recurrent_kernel [*k, C, 4C], bias [4C]]`` (i, f, c, o; ``b_f + forget_bias``)."""
    from migration.core.errors import ShapeError
    from migration.core.gates import KERAS_LSTM_GATES, TF1_LSTM_GATES, reorder_gates

    kernel, biases = np.asarray(kernel), np.asarray(biases)
    if kernel.ndim < 3 or not 0 < input_channels < kernel.shape[-2] or kernel.shape[-1] % 4 \
            or biases.shape != (kernel.shape[-1],):
        raise ShapeError(f"Received ConvLSTMCell shapes kernel {kernel.shape}, biases {biases.shape} with "
                         f"input_channels={input_channels}: expected kernel [*k, C_in + C, 4C] and biases [4C].")
    reorder = lambda a: reorder_gates(a, TF1_LSTM_GATES, KERAS_LSTM_GATES)  # noqa: E731
    channels = kernel.shape[-1] // 4
    bias = reorder(biases).copy()
    bias[channels:2 * channels] += forget_bias
    return [reorder(kernel[..., :input_channels, :]), reorder(kernel[..., input_channels:, :]), bias]


def conv_lstm_to_tf1(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray, forget_bias: float) -> Arrays:
    """Inverse of :func:`conv_lstm_to_keras`: ``{"kernel": ..., "biases": ...}``."""
    from migration.core.gates import KERAS_LSTM_GATES, TF1_LSTM_GATES, reorder_gates

    bias = np.asarray(bias).copy()
    channels = bias.shape[0] // 4
    bias[channels:2 * channels] -= forget_bias
    reorder = lambda a: reorder_gates(a, KERAS_LSTM_GATES, TF1_LSTM_GATES)  # noqa: E731
    return {"kernel": reorder(np.concatenate([kernel, recurrent_kernel], -2)), "biases": reorder(bias)}


def converters(CellConverter, lstm_tf1_names: Callable, lstm_keras_names: Callable, lstm_to_keras: Callable,
               lstm_to_tf1: Callable, get: Callable) -> dict:
    """The family's rows of :data:`migration.converters.CONVERTERS` (called once by that module)."""
    from migration.converters import gru_to_keras, gru_to_tf1

    def gru_v2_to_keras(spec, w, d, fb):
        return gru_to_keras(*(get(w, n, spec.kind) for n in _GRU_TF1), d)

    def gru_v1_to_keras(spec, w, d, fb):
        return gru_to_keras(*(get(w, n, spec.kind) for n in GRU_BLOCK_V1_NAMES), d)

    return {
        "lstm_block": CellConverter("lstm_block", lstm_tf1_names, lstm_keras_names, lstm_to_keras, lstm_to_tf1),
        "lstm_block_fused": CellConverter("lstm_block_fused", lstm_tf1_names, lstm_keras_names, lstm_to_keras,
                                          lstm_to_tf1),
        "gru_block": CellConverter(
            "gru_block", lambda s: tuple(GRU_BLOCK_V1_NAMES), lambda s: _SIMPLE_KERAS, gru_v1_to_keras,
            lambda s, w, fb: dict(zip(GRU_BLOCK_V1_NAMES, gru_to_tf1(*w)))),
        "layer_norm_lstm": CellConverter(
            "layer_norm_lstm", lambda s: LAYER_NORM_TF1_NAMES, lambda s: LAYER_NORM_KERAS_NAMES,
            lambda s, w, d, fb: layer_norm_lstm_to_keras(w, d, fb), lambda s, w, fb: layer_norm_lstm_to_tf1(w, fb)),
        "gru_block_v2": CellConverter(
            "gru_block_v2", lambda s: _GRU_TF1, lambda s: _SIMPLE_KERAS, gru_v2_to_keras,
            lambda s, w, fb: dict(zip(_GRU_TF1, gru_to_tf1(*w)))),
    }


__all__ = ["conv_lstm_to_keras", "conv_lstm_to_tf1", "LAYER_NORM_TF1_NAMES", "layer_norm_lstm_to_keras", "layer_norm_lstm_to_tf1", "GRU_BLOCK_V1_NAMES", "gru_block_v1_to_gru_names", "gru_names_to_gru_block_v1", "converters"]
