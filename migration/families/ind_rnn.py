"""``ind_rnn``: ``tf.contrib.rnn.IndRNNCell`` (TF 1.15), the independently recurrent network.

TF1 (:mod:`legacy_rnn.indrnn`): ``h' = act(x W + h * u + b)`` (``*`` element-wise). Checkpoint:
``ind_rnn_cell/kernel_w [D, U]``, ``kernel_u [1, U]`` (a vector stored as a row), ``bias [U]``.

Keras 2 (:mod:`modern_rnn.indrnn`): ``kernel [D, U]`` = W, ``recurrent_kernel [U]`` = u[0], ``bias [U]`` = b.

Not read from the ``.meta``: the activation (tanh assumed and listed; ``verify`` against the original graph checks it).
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from migration.core.specs import CellSpec
from migration.families.row import Builder, Converter, Family, Layout, act_or_none, diagonal_recurrence, keras_spec_hook

TF1_NAMES: tuple[str, ...] = ("kernel_w", "kernel_u", "bias")
KERAS_NAMES: tuple[str, ...] = ("kernel", "recurrent_kernel", "bias")
KERAS_CLASS = "modern_rnn.indrnn:IndRNNCell"


def ind_rnn_to_keras(kernel_w: np.ndarray, kernel_u: np.ndarray, bias: np.ndarray) -> list[np.ndarray]:
    """TF1 ``kernel_w [D, U]``, ``kernel_u [1, U]``, ``bias [U]`` -> Keras ``[kernel, recurrent_kernel [U], bias]``."""
    return [kernel_w.copy(), kernel_u[0].copy(), bias.copy()]


def ind_rnn_to_tf1(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray) -> dict[str, np.ndarray]:
    """Inverse of :func:`ind_rnn_to_keras`."""
    return {"kernel_w": kernel.copy(), "kernel_u": recurrent_kernel[None, :].copy(), "bias": bias.copy()}


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    return {"kernel_w": (input_size, spec.units), "kernel_u": (1, spec.units), "bias": (spec.units,)}


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    return shape("bias")[0], shape("kernel_w")[0], None


def _to_keras(spec: CellSpec, w: Mapping[str, np.ndarray], d: int, fb: float) -> list[np.ndarray]:
    return ind_rnn_to_keras(*(np.asarray(w[n]) for n in TF1_NAMES))


def _to_tf1(spec: CellSpec, w: Sequence[np.ndarray], fb: float) -> dict[str, np.ndarray]:
    return ind_rnn_to_tf1(*w)


FAMILY = Family(
    kind="ind_rnn",
    description="tf.contrib IndRNNCell: h' = act(x W + h * u + b), u a vector; Keras modern_rnn.IndRNNCell",
    tf1_classes=("tf.contrib.rnn.IndRNNCell",),
    scope="ind_rnn_cell",
    layouts=(Layout("ind_rnn_cell", TF1_NAMES),),
    hyper={"activation": "tanh"},
    not_in_checkpoint={"activation": "meta: not read for this family yet (tanh assumed and listed)"},
    converter=Converter(lambda s: TF1_NAMES, lambda s: KERAS_NAMES, _to_keras, _to_tf1, _shapes),
    export={"keras3": "exact: keras.layers.SimpleRNN with recurrent_kernel = diag(u) (h * u as h @ diag(u))",
            "onnx": "exact: ONNX RNN with R = diag(u)^T"},
    standard=diagonal_recurrence("RNN"),
    legacy=Builder("legacy_rnn.indrnn:ind_rnn_cell", lambda s, d, scope: ((s.units,), {"activation": act_or_none(s)})),
    targets={"keras2": Builder("modern_rnn.indrnn:ind_rnn_cell",
                               lambda s, d, scope: ((s.units,), {"activation": s.activation}))},
    upgrade_homes={"tf.contrib.rnn.IndRNNCell": "legacy_rnn.indrnn.IndRNNCell"},
    dims=_dims,
    keras_spec=keras_spec_hook("ind_rnn", KERAS_CLASS),
    keras_classes=(KERAS_CLASS,),
    matrices=("kernel_w", "kernel_u"),
)
