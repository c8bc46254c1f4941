"""``intersection_rnn``: ``tf.contrib.rnn.IntersectionRNNCell`` (TF 1.15), the Intersection RNN (+RNN).

TF1 (:mod:`legacy_rnn.intersection_rnn`): with D != U the input is first projected (``in_projection/kernel [D, U]``,
``in_projection/bias [U]``); ``gh, h_, gy, y_ = split([x, h] K + b, 4)`` (``kernel [2U, 4U]``, ``bias [4U]``);
state ``h' = g_h h + (1 - g_h) tanh(h_)``, output ``y = g_y x + (1 - g_y) y_activation(y_)``, both gates
``sigmoid(. + forget_bias)``.

Keras 2 (:mod:`modern_rnn.intersection_rnn`): ``in_projection_kernel``/``in_projection_bias`` (the identity and zeros,
unused, when D == U), ``kernel [U, 4U]`` = K[:U], ``recurrent_kernel [U, 4U]`` = K[U:], ``bias`` = b with forget_bias
added to the gh and gy blocks (blocks kept: no reordering).

Not read from the ``.meta``: forget_bias (1.0 assumed and listed; ``--forget-bias`` sets it) and y_activation (TF
1.15's relu; not a CellSpec field). ``verify`` against the original graph checks both.
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from migration.core.errors import ShapeError, UnknownCellError
from migration.core.specs import CellSpec
from migration.families.row import Builder, Converter, Family, Layout, keras_spec_hook, custom_export

TF1_NAMES: tuple[str, ...] = ("kernel", "bias")
PROJECTION: tuple[str, ...] = ("in_projection/kernel", "in_projection/bias")
KERAS_NAMES: tuple[str, ...] = ("in_projection_kernel", "in_projection_bias", "kernel", "recurrent_kernel", "bias")
KERAS_CLASS = "modern_rnn.intersection_rnn:IntersectionRNNCell"


def _gates(units: int) -> np.ndarray:
    """The bias positions of the gh and gy blocks (where TF1 adds forget_bias at run time)."""
    return np.r_[0:units, 2 * units:3 * units]


def intersection_rnn_to_keras(w: Mapping[str, np.ndarray], units: int, input_size: int,
                              forget_bias: float) -> list[np.ndarray]:
    """TF1 arrays by name (``in_projection/*`` exactly when ``input_size != units``) -> the Keras weights."""
    has_projection = all(n in w for n in PROJECTION)
    if has_projection != (input_size != units) or any(n in w for n in PROJECTION) != has_projection:
        raise UnknownCellError(
            f"An IntersectionRNNCell with units={units} reading inputs of depth {input_size} stores "
            f"{'in_projection/kernel and in_projection/bias' if input_size != units else 'no in_projection'} "
            f"(TF 1.15 projects the input exactly when its depth is not units); got {sorted(w)}.")
    if has_projection:
        projection = [np.array(w["in_projection/kernel"]), np.array(w["in_projection/bias"])]
    else:
        projection = [np.eye(units, dtype=w["kernel"].dtype), np.zeros(units, w["bias"].dtype)]
    kernel, bias = np.asarray(w["kernel"]), np.array(w["bias"])
    bias[_gates(units)] += np.asarray(forget_bias, bias.dtype)
    return projection + [kernel[:units].copy(), kernel[units:].copy(), bias]


def intersection_rnn_to_tf1(weights: Sequence[np.ndarray], forget_bias: float) -> dict[str, np.ndarray]:
    """Inverse of :func:`intersection_rnn_to_keras`; a Keras cell with D == U must still hold the identity projection
    (TF1 has none there)."""
    p_kernel, p_bias, kernel, recurrent_kernel, bias = weights
    units = kernel.shape[0]
    tf1_bias = bias.copy()
    tf1_bias[_gates(units)] -= np.asarray(forget_bias, bias.dtype)
    out = {"kernel": np.concatenate([kernel, recurrent_kernel], 0), "bias": tf1_bias}
    if p_kernel.shape[0] != units:
        out.update({"in_projection/kernel": p_kernel.copy(), "in_projection/bias": p_bias.copy()})
    elif not (np.array_equal(p_kernel, np.eye(units)) and not np.any(p_bias)):
        raise ShapeError(f"IntersectionRNNCell with input depth == units={units}: TF 1.15 has no input projection "
                         "there, but this Keras cell's in_projection is not the identity and zeros; it cannot be "
                         "written as a TF1 checkpoint.")
    return out


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    u = spec.units  # the kernel reads the projected input: U rows whatever D is
    return {"kernel": (2 * u, 4 * u), "bias": (4 * u,)}


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    units = shape("bias")[0] // 4
    return units, shape("in_projection/kernel")[0] if "in_projection/kernel" in names else units, None


def _to_keras(spec: CellSpec, w: Mapping[str, np.ndarray], d: int, fb: float) -> list[np.ndarray]:
    return intersection_rnn_to_keras(w, spec.units, d, fb)


def _to_tf1(spec: CellSpec, w: Sequence[np.ndarray], fb: float) -> dict[str, np.ndarray]:
    return intersection_rnn_to_tf1(w, fb)


FAMILY = Family(
    kind="intersection_rnn",
    description="tf.contrib IntersectionRNNCell (+RNN): state gated through time, output through depth; Keras "
                "modern_rnn.IntersectionRNNCell",
    tf1_classes=("tf.contrib.rnn.IntersectionRNNCell",),
    scope="intersection_rnn_cell",
    layouts=(Layout("intersection_rnn_cell", TF1_NAMES, optional=PROJECTION),),
    hyper={"forget_bias": 1.0, "y_activation": "relu"},
    not_in_checkpoint={"forget_bias": "meta: not read for this family yet (default assumed and listed; verify checks it)",
                       "y_activation": "constant: TF 1.15's relu (not a CellSpec field; verify checks it)"},
    converter=Converter(lambda s: TF1_NAMES, lambda s: KERAS_NAMES, _to_keras, _to_tf1, _shapes),
    export=custom_export("IntersectionRNNCell", "MatMul, Add, Split, Sigmoid, Tanh, Relu, Mul, Sub"),
    custom_cell="IntersectionRNNCell",
    legacy=Builder("legacy_rnn.intersection_rnn:intersection_rnn_cell",
                   lambda s, d, scope: ((s.units,), {"forget_bias": s.forget_bias})),
    targets={"keras2": Builder("modern_rnn.intersection_rnn:intersection_rnn_cell",
                               lambda s, d, scope: ((s.units,), {"forget_bias": s.forget_bias}))},
    upgrade_homes={"tf.contrib.rnn.IntersectionRNNCell": "legacy_rnn.intersection_rnn.IntersectionRNNCell"},
    dims=_dims,
    keras_spec=keras_spec_hook("intersection_rnn", KERAS_CLASS, with_forget_bias=True),
    keras_classes=(KERAS_CLASS,),
    inspect_keys=("forget_bias",),
)
