"""``ugrnn``: ``tf.contrib.rnn.UGRNNCell`` (TF 1.15), the Update Gate RNN.

TF1 (:mod:`legacy_rnn.ugrnn`): ``g_act, c_act = split([x, h] K + b, 2)``; ``g = sigmoid(g_act + forget_bias)``;
``h' = g h + (1 - g) act(c_act)``. Checkpoint: ``ugrnn_cell/kernel [D+U, 2U]`` (column blocks g, c; rows x then h),
``ugrnn_cell/bias [2U]``. forget_bias (default 1.0) is a Python constant of the program, not in the checkpoint.

Keras 2 (:mod:`modern_rnn.ugrnn`): ``kernel [D, 2U]`` = K[:D], ``recurrent_kernel [U, 2U]`` = K[D:],
``bias [2U]`` = b with forget_bias added to the g half (blocks stay g, c: no gate reordering).

Not read from the ``.meta`` yet: forget_bias and activation are assumed (1.0, tanh), listed as assumed in the
summary and the manifest, and checked by ``verify`` against the original graph (a program that used another value
fails there; ``--forget-bias`` sets it).
"""
from __future__ import annotations

import importlib
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from migration.core.errors import ShapeError
from migration.core.specs import CellSpec
from migration.families.row import Builder, Converter, Family, Layout, act_or_none, default_dims, custom_export

TF1_NAMES: tuple[str, ...] = ("kernel", "bias")
KERAS_NAMES: tuple[str, ...] = ("kernel", "recurrent_kernel", "bias")
KERAS_CLASS = "modern_rnn.ugrnn:UGRNNCell"


def ugrnn_to_keras(kernel: np.ndarray, bias: np.ndarray, input_size: int, forget_bias: float) -> list[np.ndarray]:
    """TF1 ``kernel [D+U, 2U]``, ``bias [2U]`` -> Keras ``[kernel [D, 2U], recurrent_kernel [U, 2U], bias [2U]]``."""
    units = bias.shape[0] // 2
    if kernel.shape != (input_size + units, 2 * units):
        raise ShapeError(f"Received an invalid shape for `kernel`: expected {(input_size + units, 2 * units)} for a "
                         f"UGRNN cell with units={units}, input_size={input_size}; got {kernel.shape}.")
    keras_bias = bias.copy()
    keras_bias[:units] += np.asarray(forget_bias, bias.dtype)  # TF1 adds forget_bias to the g block at run time
    return [kernel[:input_size].copy(), kernel[input_size:].copy(), keras_bias]


def ugrnn_to_tf1(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray,
                 forget_bias: float) -> dict[str, np.ndarray]:
    """Inverse of :func:`ugrnn_to_keras`."""
    units = recurrent_kernel.shape[0]
    tf1_bias = bias.copy()
    tf1_bias[:units] -= np.asarray(forget_bias, bias.dtype)
    return {"kernel": np.concatenate([kernel, recurrent_kernel], 0), "bias": tf1_bias}


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    return {"kernel": (input_size + spec.units, 2 * spec.units), "bias": (2 * spec.units,)}


def _keras_spec(cell: Any, forget_bias: float, where: str) -> Optional[CellSpec]:
    """Export hook: a :class:`modern_rnn.ugrnn.UGRNNCell` -> its spec (forget_bias: the TF1 cell's, --forget-bias)."""
    module, name = KERAS_CLASS.split(":")
    if not isinstance(cell, getattr(importlib.import_module(module), name)):
        return None
    activation = cell.get_config()["activation"]
    return CellSpec("ugrnn", cell.units, forget_bias=forget_bias,
                    activation=activation if isinstance(activation, str) else activation["config"]["name"])


def _to_keras(spec: CellSpec, w: Mapping[str, np.ndarray], d: int, fb: float) -> list[np.ndarray]:
    return ugrnn_to_keras(np.asarray(w["kernel"]), np.asarray(w["bias"]), d, fb)


def _to_tf1(spec: CellSpec, w: Sequence[np.ndarray], fb: float) -> dict[str, np.ndarray]:
    return ugrnn_to_tf1(w[0], w[1], w[2], fb)


FAMILY = Family(
    kind="ugrnn",
    description="tf.contrib UGRNNCell: one update gate g, h' = g h + (1 - g) act(c); Keras modern_rnn.UGRNNCell",
    tf1_classes=("tf.contrib.rnn.UGRNNCell",),
    scope="ugrnn_cell",
    layouts=(Layout("ugrnn_cell", TF1_NAMES),),
    hyper={"forget_bias": 1.0, "activation": "tanh"},
    not_in_checkpoint={"forget_bias": "meta: not read for this family yet (default assumed and listed; verify checks it)",
                       "activation": "meta: not read for this family yet (tanh assumed and listed)"},
    converter=Converter(lambda s: TF1_NAMES, lambda s: KERAS_NAMES, _to_keras, _to_tf1, _shapes),
    export=custom_export("UGRNNCell", "MatMul, Add, Split, Sigmoid, Mul, Sub, the activation"),
    custom_cell="UGRNNCell",
    legacy=Builder("legacy_rnn.ugrnn:ugrnn_cell", lambda s, d, scope: (
        (s.units,), {"forget_bias": s.forget_bias, "activation": act_or_none(s)})),
    targets={"keras2": Builder("modern_rnn.ugrnn:ugrnn_cell", lambda s, d, scope: (
        (s.units,), {"forget_bias": s.forget_bias, "activation": s.activation}))},
    upgrade_homes={"tf.contrib.rnn.UGRNNCell": "legacy_rnn.ugrnn.UGRNNCell"},
    dims=default_dims(blocks=2),
    keras_spec=_keras_spec,
    keras_classes=(KERAS_CLASS,),
    inspect_keys=("forget_bias", "activation"),
)
