"""``layer_norm_lstm_contrib``: ``tf.contrib.rnn.LayerNormLSTMCell`` (TF 1.15) with ``layer_norm=True``; not
``LayerNormBasicLSTMCell`` (family ``layer_norm_lstm``).

TF1 (:mod:`legacy_rnn.layer_norm_lstm_contrib`): ``i, j, f, o = split([x, h] kernel, 4)`` (no bias), each
layer-normalised with its own ``gamma``/``beta`` (contrib ``layers.layer_norm``, epsilon 1e-12); ``c' =
sigmoid(f + forget_bias) c + sigmoid(i) act(j)``, ``c' = LN_state(c')``, ``h' = sigmoid(o) act(c')``. Checkpoint
under ``layer_norm_lstm_cell/``: ``kernel [D+U, 4U]``, ``bias [4U]`` (created, **never read** with layer_norm),
``{input, transform, forget, output, state}/{gamma, beta} [U]``.

Keras 2 (:mod:`modern_rnn.layer_norm_lstm_contrib`): ``kernel`` = rows x, ``recurrent_kernel`` = rows h,
``gamma``/``beta`` = the four gate vectors
concatenated, all in Keras order **i, f, c, o** (TF1 i, j, f, o), forget_bias added to ``beta_f``;
``state_gamma``, ``state_beta``, and ``unused_bias`` (non-trainable, kept so that export gives the
program's array back).

With ``layer_norm=False`` (TF 1.15's class default) the cell is ``LSTMCell``'s maths under ``layer_norm_lstm_cell/
{kernel, bias}``: that layout is read as kind ``lstm`` (a Keras ``LSTMCell``).

Not converted (the recognizer names the unexpected variables): peepholes (``w_*_diag``), ``projection/kernel``;
``cell_clip`` lives only in the graph and is not read (verify against the original graph catches a clipped cell).
forget_bias is read from the ``.meta`` (the Const added to the layer-normed forget block, as for
LayerNormBasicLSTMCell); activation is assumed (tanh), listed as assumed, and checked by ``verify``.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from migration.core.gates import KERAS_LSTM_GATES, TF1_LSTM_GATES, reorder_gates, split_fused_rows
from migration.core.specs import CellSpec
from migration.families.row import META_LAYER_NORM_FORGET, Builder, Converter, Family, Layout, act_or_none, custom_export

GATE_SCOPES: tuple[str, ...] = ("input", "transform", "forget", "output")  # TF1 i, j, f, o
TF1_NAMES: tuple[str, ...] = ("kernel", "bias") + tuple(f"{s}/{p}" for s in GATE_SCOPES + ("state",)
                                                        for p in ("gamma", "beta"))
#: ``get_weights()`` order: the trainable weights, then the non-trainable ``unused_bias``
KERAS_NAMES: tuple[str, ...] = ("kernel", "recurrent_kernel", "gamma", "beta", "state_gamma", "state_beta",
                                "unused_bias")
KERAS_CLASS = "modern_rnn.layer_norm_lstm_contrib:LayerNormLSTMCell"


def _keras_order(array: np.ndarray) -> np.ndarray:
    return reorder_gates(array, TF1_LSTM_GATES, KERAS_LSTM_GATES)


def _tf1_order(array: np.ndarray) -> np.ndarray:
    return reorder_gates(array, KERAS_LSTM_GATES, TF1_LSTM_GATES)


def ln_contrib_to_keras(w: Mapping[str, np.ndarray], input_size: int, forget_bias: float) -> list[np.ndarray]:
    """TF1 arrays by name -> the Keras weight list (see the module docstring)."""
    units = w["bias"].shape[0] // 4
    rows_x, rows_h = split_fused_rows(np.asarray(w["kernel"]), input_size, "kernel")
    gamma = np.concatenate([w[f"{s}/gamma"] for s in GATE_SCOPES])
    beta = np.concatenate([w[f"{s}/beta"] for s in GATE_SCOPES]).copy()
    beta[2 * units:3 * units] += np.asarray(forget_bias, beta.dtype)  # TF1 adds it to LN_forget(f) at run time
    return [_keras_order(rows_x), _keras_order(rows_h), _keras_order(gamma), _keras_order(beta),
            np.asarray(w["state/gamma"]).copy(), np.asarray(w["state/beta"]).copy(), _keras_order(np.asarray(w["bias"]))]


def ln_contrib_to_tf1(w: Sequence[np.ndarray], forget_bias: float) -> dict[str, np.ndarray]:
    """Inverse of :func:`ln_contrib_to_keras`."""
    kernel, recurrent, gamma, beta, state_gamma, state_beta, bias = w
    units = recurrent.shape[0]
    beta = _tf1_order(beta).copy()
    beta[2 * units:3 * units] -= np.asarray(forget_bias, beta.dtype)
    gammas, betas = np.split(_tf1_order(gamma), 4), np.split(beta, 4)
    out = {"kernel": np.concatenate([_tf1_order(kernel), _tf1_order(recurrent)], 0), "bias": _tf1_order(bias)}
    for k, s in enumerate(GATE_SCOPES):
        out[f"{s}/gamma"], out[f"{s}/beta"] = gammas[k], betas[k]
    out["state/gamma"], out["state/beta"] = state_gamma, state_beta
    return out


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    u = spec.units
    shapes = {"kernel": (input_size + u, 4 * u), "bias": (4 * u,)}
    shapes.update({name: (u,) for name in TF1_NAMES[2:]})
    return shapes


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    units = shape("bias")[0] // 4
    return units, shape("kernel")[0] - units, None


def _keras_spec(cell: Any, forget_bias: float, where: str) -> Optional[CellSpec]:
    """Export hook: a :class:`modern_rnn.layer_norm_lstm_contrib.LayerNormLSTMCell` -> its spec."""
    module, name = KERAS_CLASS.split(":")
    if not isinstance(cell, getattr(importlib.import_module(module), name)):
        return None
    activation = cell.get_config()["activation"]
    return CellSpec("layer_norm_lstm_contrib", cell.units, forget_bias=forget_bias,
                    activation=activation if isinstance(activation, str) else activation["config"]["name"])


FAMILY = Family(
    kind="layer_norm_lstm_contrib",
    description="tf.contrib LayerNormLSTMCell(layer_norm=True): kernel, an unread bias, per-gate and state "
                "gamma/beta; Keras modern_rnn.layer_norm_lstm_contrib.LayerNormLSTMCell",
    tf1_classes=("tf.contrib.rnn.LayerNormLSTMCell",),
    scope="layer_norm_lstm_cell",
    # layer_norm=False (TF 1.15's class default) writes LSTMCell's kernel/bias and computes LSTMCell's maths
    layouts=(Layout("layer_norm_lstm_cell", TF1_NAMES),
             Layout("layer_norm_lstm_cell", ("kernel", "bias"), recognized_as="lstm", order=101)),
    hyper={"forget_bias": 1.0, "activation": "tanh"},
    not_in_checkpoint={"forget_bias": "meta: the Const added to the layer-normed forget block before its Sigmoid",
                       "activation": "meta: not read for this family yet (tanh assumed and listed)"},
    meta_reader=META_LAYER_NORM_FORGET,
    converter=Converter(lambda s: TF1_NAMES, lambda s: KERAS_NAMES,
                        lambda s, w, d, fb: ln_contrib_to_keras(w, d, fb),
                        lambda s, w, fb: ln_contrib_to_tf1(w, fb), _shapes),
    export=custom_export("LayerNormLSTMCell", "MatMul, Add, Split, ReduceMean, Sub, Mul, Sqrt, Div, Sigmoid, the activation"),
    custom_cell="LayerNormLSTMCell",
    legacy=Builder("legacy_rnn.layer_norm_lstm_contrib:layer_norm_lstm_contrib_cell", lambda s, d, scope: (
        (s.units,), {"forget_bias": s.forget_bias, "activation": act_or_none(s)})),
    targets={"keras2": Builder("modern_rnn.layer_norm_lstm_contrib:layer_norm_lstm_contrib_cell", lambda s, d, scope: (
        (s.units,), {"forget_bias": s.forget_bias, "activation": s.activation}))},
    upgrade_homes={"tf.contrib.rnn.LayerNormLSTMCell": "legacy_rnn.layer_norm_lstm_contrib.LayerNormLSTMCell"},
    lstm=True,
    dims=_dims,
    unread=("bias",),
    keras_spec=_keras_spec,
    keras_classes=(KERAS_CLASS,),
    inspect_keys=("forget_bias", "activation"),
)
