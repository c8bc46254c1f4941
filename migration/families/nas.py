"""``nas``: ``tf.contrib.rnn.NASCell`` (TF 1.15), the recurrent cell found by Neural Architecture Search.

TF1 (:mod:`legacy_rnn.nas`): eight blocks of ``x K`` and of ``m R [+ b]`` through a fixed tree of sigmoid/relu/tanh
nodes; ``[m' = m' W_P]``. Checkpoint under ``nas_cell/``: ``recurrent_kernel [R, 8U]`` (R = num_proj or U),
``kernel [D, 8U]``, with ``use_bias=True`` ``bias [8U]``, with ``num_proj`` ``projection_weights [U, P]``: two
layouts (with and without the bias), each with or without the projection. Every hyper-parameter is in the
checkpoint: U and D from ``kernel``, P from ``projection_weights``, use_bias from whether ``bias`` is stored
(``CellSpec.options``).

Keras 2 (:mod:`modern_rnn.nas`): the same arrays under the same names (``kernel``, ``recurrent_kernel``, [``bias``],
[``projection_weights``]); no reordering, no folding.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from migration.core.specs import CellSpec
from migration.families.row import Builder, Converter, Family, Layout, custom_export

KERAS_CLASS = "modern_rnn.nas:NASCell"
BLOCKS = 8


def _use_bias(spec: CellSpec) -> bool:
    return bool(spec.option("use_bias", False))


def _tf1_names(spec: CellSpec) -> tuple[str, ...]:
    return (("recurrent_kernel", "kernel") + (("bias",) if _use_bias(spec) else ())
            + (("projection_weights",) if spec.num_proj is not None else ()))


def _keras_names(spec: CellSpec) -> tuple[str, ...]:
    return (("kernel", "recurrent_kernel") + (("bias",) if _use_bias(spec) else ())
            + (("projection_weights",) if spec.num_proj is not None else ()))


def nas_to_keras(spec: CellSpec, w: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """TF1 arrays by name -> the Keras weight list (the same arrays, Keras order)."""
    return [np.array(w[name]) for name in _keras_names(spec)]


def nas_to_tf1(spec: CellSpec, weights: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of :func:`nas_to_keras`."""
    return {name: np.array(value) for name, value in zip(_keras_names(spec), weights)}


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    u, r = spec.units, spec.output_size
    shapes = {"recurrent_kernel": (r, BLOCKS * u), "kernel": (input_size, BLOCKS * u)}
    if _use_bias(spec):
        shapes["bias"] = (BLOCKS * u,)
    if spec.num_proj is not None:
        shapes["projection_weights"] = (u, spec.num_proj)
    return shapes


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    proj = shape("projection_weights")[1] if "projection_weights" in names else None
    return shape("kernel")[1] // BLOCKS, shape("kernel")[0], proj


def _keras_spec(cell: Any, forget_bias: float, where: str) -> Optional[CellSpec]:
    """Export hook: a :class:`modern_rnn.nas.NASCell` -> its spec."""
    module, name = KERAS_CLASS.split(":")
    if not isinstance(cell, getattr(importlib.import_module(module), name)):
        return None
    return CellSpec("nas", cell.units, num_proj=cell.num_proj, options=(("use_bias", cell.use_bias),))


def _builder_args(spec: CellSpec, input_size: Optional[int], scope: str) -> tuple[tuple, dict]:
    return (spec.units,), {"num_proj": spec.num_proj, "use_bias": _use_bias(spec)}


FAMILY = Family(
    kind="nas",
    description="tf.contrib NASCell: kernel [D, 8U], recurrent_kernel [R, 8U], optional bias and projection_weights; "
                "Keras modern_rnn.NASCell",
    tf1_classes=("tf.contrib.rnn.NASCell",),
    scope="nas_cell",
    layouts=(Layout("nas_cell", ("recurrent_kernel", "kernel"), optional=("bias", "projection_weights")),),
    hyper={"num_proj": None, "use_bias": False},
    not_in_checkpoint={},
    converter=Converter(_tf1_names, _keras_names, lambda s, w, d, fb: nas_to_keras(s, w),
                        lambda s, w, fb: nas_to_tf1(s, w), _shapes),
    export=custom_export("NASCell", "MatMul, Add, Split, Sigmoid, Relu, Tanh, Mul; the bias and projection when "
                                    "stored"),
    custom_cell="NASCell",
    legacy=Builder("legacy_rnn.nas:nas_cell", _builder_args),
    targets={"keras2": Builder("modern_rnn.nas:nas_cell", _builder_args)},
    upgrade_homes={"tf.contrib.rnn.NASCell": "legacy_rnn.nas.NASCell"},
    lstm=True,
    dims=_dims,
    spec_options=("num_proj", "use_bias"),
    read_options=lambda names, shape: {"use_bias": "bias" in names},
    matrices=("projection_weights",),
    keras_spec=_keras_spec,
    keras_classes=(KERAS_CLASS,),
    transforms={name: ((name,), "copy") for name in ("kernel", "recurrent_kernel", "bias", "projection_weights")},
    inspect_keys=("num_proj", "options"),
)
