"""``minimal_rnn``: ``tf.contrib.rnn.MinimalRNNCell`` (TF 1.15).

TF1 (:mod:`legacy_rnn.minimal_rnn`): ``z = act(x W_x)``; ``u = sigmoid([z, h] [W; V] + b)``;
``h' = u h + (1 - u) z``. Checkpoint: ``minimal_rnn_cell/kernel [D+2U, U]`` (row blocks W_x for x, W for z, V for h)
and ``bias [U]``.

Keras 2 (:mod:`modern_rnn.minimal_rnn`): ``kernel [D, U]`` = rows ``[:D]``, ``gate_kernel [U, U]`` = rows
``[D:D+U]``, ``recurrent_kernel [U, U]`` = rows ``[D+U:]``, ``bias [U]``.

Not read from the ``.meta``: the activation (tanh assumed and listed; ``verify`` checks it).
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from migration.core.errors import ShapeError
from migration.core.specs import CellSpec
from migration.families.row import Builder, Converter, Family, Layout, act_or_none, keras_spec_hook, custom_export

TF1_NAMES: tuple[str, ...] = ("kernel", "bias")
KERAS_NAMES: tuple[str, ...] = ("kernel", "gate_kernel", "recurrent_kernel", "bias")
KERAS_CLASS = "modern_rnn.minimal_rnn:MinimalRNNCell"


def minimal_rnn_to_keras(kernel: np.ndarray, bias: np.ndarray, input_size: int) -> list[np.ndarray]:
    """TF1 ``kernel [D+2U, U]``, ``bias [U]`` -> Keras ``[kernel [D, U], gate_kernel [U, U], recurrent_kernel [U, U],
    bias [U]]``."""
    units = bias.shape[0]
    if kernel.shape != (input_size + 2 * units, units):
        raise ShapeError(f"Received an invalid shape for `kernel`: expected {(input_size + 2 * units, units)} for a "
                         f"MinimalRNN cell with units={units}, input_size={input_size}; got {kernel.shape}.")
    d = input_size
    return [kernel[:d].copy(), kernel[d:d + units].copy(), kernel[d + units:].copy(), bias.copy()]


def minimal_rnn_to_tf1(kernel: np.ndarray, gate_kernel: np.ndarray, recurrent_kernel: np.ndarray,
                       bias: np.ndarray) -> dict[str, np.ndarray]:
    """Inverse of :func:`minimal_rnn_to_keras`."""
    return {"kernel": np.concatenate([kernel, gate_kernel, recurrent_kernel], 0), "bias": bias.copy()}


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    return {"kernel": (input_size + 2 * spec.units, spec.units), "bias": (spec.units,)}


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    units = shape("bias")[0]
    return units, shape("kernel")[0] - 2 * units, None


def _to_keras(spec: CellSpec, w: Mapping[str, np.ndarray], d: int, fb: float) -> list[np.ndarray]:
    return minimal_rnn_to_keras(np.asarray(w["kernel"]), np.asarray(w["bias"]), d)


def _to_tf1(spec: CellSpec, w: Sequence[np.ndarray], fb: float) -> dict[str, np.ndarray]:
    return minimal_rnn_to_tf1(*w)


FAMILY = Family(
    kind="minimal_rnn",
    description="tf.contrib MinimalRNNCell: z = act(x W_x), one update gate u, h' = u h + (1 - u) z; Keras "
                "modern_rnn.MinimalRNNCell",
    tf1_classes=("tf.contrib.rnn.MinimalRNNCell",),
    scope="minimal_rnn_cell",
    layouts=(Layout("minimal_rnn_cell", TF1_NAMES),),
    hyper={"activation": "tanh"},
    not_in_checkpoint={"activation": "meta: not read for this family yet (tanh assumed and listed)"},
    converter=Converter(lambda s: TF1_NAMES, lambda s: KERAS_NAMES, _to_keras, _to_tf1, _shapes),
    export=custom_export("MinimalRNNCell", "MatMul, Add, Sigmoid, Mul, Sub, the activation"),
    custom_cell="MinimalRNNCell",
    legacy=Builder("legacy_rnn.minimal_rnn:minimal_rnn_cell",
                   lambda s, d, scope: ((s.units,), {"activation": act_or_none(s)})),
    targets={"keras2": Builder("modern_rnn.minimal_rnn:minimal_rnn_cell",
                               lambda s, d, scope: ((s.units,), {"activation": s.activation}))},
    upgrade_homes={"tf.contrib.rnn.MinimalRNNCell": "legacy_rnn.minimal_rnn.MinimalRNNCell"},
    dims=_dims,
    keras_spec=keras_spec_hook("minimal_rnn", KERAS_CLASS),
    keras_classes=(KERAS_CLASS,),
)
