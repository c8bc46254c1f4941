"""``cifg_lstm``: ``tf.contrib.rnn.CoupledInputForgetGateLSTMCell`` (TF 1.15), the LSTM with ``i = 1 - f``.

TF1 (:mod:`legacy_rnn.cifg_lstm`): ``j, f, o = split([x, h] W_0 + B, 3)``; ``f = sigmoid(f + forget_bias)``;
``c' = f c + (1 - f) act(j)``; ``h' = sigmoid(o) act(c')``. Checkpoint: ``coupled_input_forget_gate_lstm_cell/W_0
[D+U, 3U]`` (column blocks j, f, o; rows x then h), ``.../B [3U]``. forget_bias (default 1.0) and activation are
Python constants of the program, not in the checkpoint.

Keras 2 (:mod:`modern_rnn.cifg_lstm`): ``kernel [D, 3U]`` = W_0[:D], ``recurrent_kernel [U, 3U]`` = W_0[D:],
``bias [3U]`` = B with forget_bias added to the f block (blocks stay j=c, f, o: no reordering).

Only TF 1.15's default options convert: a checkpoint with ``W_F_diag``/``W_O_diag`` (peepholes), ``W_P_0``
(projection), ``W_1`` (sharded) or ``transform/gamma`` ... (layer_norm) is refused by the recognizer, naming the
unexpected variables (the legacy cell runs all of them). forget_bias and activation are not read from the ``.meta``:
they are assumed (1.0, tanh), listed as assumed, and checked by ``verify`` against the original graph.
"""
from __future__ import annotations

import importlib
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from migration.core.errors import ShapeError
from migration.core.specs import CellSpec
from migration.families.row import Builder, Converter, Family, Layout, act_or_none, default_dims, custom_export

TF1_NAMES: tuple[str, ...] = ("W_0", "B")
KERAS_NAMES: tuple[str, ...] = ("kernel", "recurrent_kernel", "bias")
KERAS_CLASS = "modern_rnn.cifg_lstm:CoupledInputForgetGateLSTMCell"


def cifg_to_keras(kernel: np.ndarray, bias: np.ndarray, input_size: int, forget_bias: float) -> list[np.ndarray]:
    """TF1 ``W_0 [D+U, 3U]``, ``B [3U]`` -> Keras ``[kernel [D, 3U], recurrent_kernel [U, 3U], bias [3U]]``."""
    units = bias.shape[0] // 3
    if kernel.shape != (input_size + units, 3 * units):
        raise ShapeError(f"Received an invalid shape for `W_0`: expected {(input_size + units, 3 * units)} for a "
                         f"CoupledInputForgetGateLSTMCell with units={units}, input_size={input_size}; got "
                         f"{kernel.shape}.")
    keras_bias = bias.copy()
    keras_bias[units:2 * units] += np.asarray(forget_bias, bias.dtype)  # TF1 adds it to the f block at run time
    return [kernel[:input_size].copy(), kernel[input_size:].copy(), keras_bias]


def cifg_to_tf1(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray,
                forget_bias: float) -> dict[str, np.ndarray]:
    """Inverse of :func:`cifg_to_keras`."""
    units = recurrent_kernel.shape[0]
    tf1_bias = bias.copy()
    tf1_bias[units:2 * units] -= np.asarray(forget_bias, bias.dtype)
    return {"W_0": np.concatenate([kernel, recurrent_kernel], 0), "B": tf1_bias}


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    return {"W_0": (input_size + spec.units, 3 * spec.units), "B": (3 * spec.units,)}


def _keras_spec(cell: Any, forget_bias: float, where: str) -> Optional[CellSpec]:
    """Export hook: a :class:`modern_rnn.cifg_lstm.CoupledInputForgetGateLSTMCell` -> its spec."""
    module, name = KERAS_CLASS.split(":")
    if not isinstance(cell, getattr(importlib.import_module(module), name)):
        return None
    activation = cell.get_config()["activation"]
    return CellSpec("cifg_lstm", cell.units, forget_bias=forget_bias,
                    activation=activation if isinstance(activation, str) else activation["config"]["name"])


def _to_keras(spec: CellSpec, w: Mapping[str, np.ndarray], d: int, fb: float) -> list[np.ndarray]:
    return cifg_to_keras(np.asarray(w["W_0"]), np.asarray(w["B"]), d, fb)


def _to_tf1(spec: CellSpec, w: Sequence[np.ndarray], fb: float) -> dict[str, np.ndarray]:
    return cifg_to_tf1(w[0], w[1], w[2], fb)


FAMILY = Family(
    kind="cifg_lstm",
    description="tf.contrib CoupledInputForgetGateLSTMCell: i = 1 - f, blocks j, f, o; Keras "
                "modern_rnn.CoupledInputForgetGateLSTMCell",
    tf1_classes=("tf.contrib.rnn.CoupledInputForgetGateLSTMCell",),
    scope="coupled_input_forget_gate_lstm_cell",
    layouts=(Layout("coupled_input_forget_gate_lstm_cell", TF1_NAMES),),
    hyper={"forget_bias": 1.0, "activation": "tanh"},
    not_in_checkpoint={"forget_bias": "meta: not read for this family yet (1.0 assumed and listed; verify checks it)",
                       "activation": "meta: not read for this family yet (tanh assumed and listed)"},
    converter=Converter(lambda s: TF1_NAMES, lambda s: KERAS_NAMES, _to_keras, _to_tf1, _shapes),
    export=custom_export("CoupledInputForgetGateLSTMCell", "MatMul, Add, Split, Sigmoid, Mul, Sub, the activation"),
    custom_cell="CoupledInputForgetGateLSTMCell",
    legacy=Builder("legacy_rnn.cifg_lstm:cifg_lstm_cell", lambda s, d, scope: (
        (s.units,), {"forget_bias": s.forget_bias, "activation": act_or_none(s)})),
    targets={"keras2": Builder("modern_rnn.cifg_lstm:cifg_lstm_cell", lambda s, d, scope: (
        (s.units,), {"forget_bias": s.forget_bias, "activation": s.activation}))},
    upgrade_homes={"tf.contrib.rnn.CoupledInputForgetGateLSTMCell":
                   "legacy_rnn.cifg_lstm.CoupledInputForgetGateLSTMCell"},
    lstm=True,
    dims=default_dims(kernel="W_0", bias="B", blocks=3),
    matrices=("W_0",),
    keras_spec=_keras_spec,
    keras_classes=(KERAS_CLASS,),
    inspect_keys=("forget_bias", "activation"),
)
