"""What both whole-model translators (:mod:`migration.targets.keras3_glue`, :mod:`migration.targets.onnx_glue`) share:
the refusal, the slice specs of ``tf.strided_slice`` / ``SlicingOpLambda`` and the config's Python constants."""
from __future__ import annotations

import numpy as np

from migration.core.errors import MigrationError


class NotExportable(MigrationError):
    """The whole model holds a piece a target has no translation for."""


def slice_spec(kwargs: dict, rank: int) -> list:
    """``tf.strided_slice`` keyword arguments -> per-axis ``int`` (shrunk) / ``slice``; NotExportable for masks the
    targets do not take (ellipsis, new axis)."""
    if kwargs.get("ellipsis_mask") or kwargs.get("new_axis_mask"):
        raise NotExportable("strided_slice with an ellipsis or new-axis mask")
    begin, end, strides = kwargs["begin"], kwargs["end"], kwargs.get("strides") or [1] * len(kwargs["begin"])
    spec: list = []
    for i in range(len(begin)):
        if (kwargs.get("shrink_axis_mask", 0) >> i) & 1:
            spec.append(int(begin[i]))
        else:
            start = None if (kwargs.get("begin_mask", 0) >> i) & 1 else int(begin[i])
            stop = None if (kwargs.get("end_mask", 0) >> i) & 1 else int(end[i])
            spec.append(slice(start, stop, int(strides[i])))
    return spec


def slice_of(spec) -> list:
    """A ``SlicingOpLambda`` ``slice_spec`` (int, {start, stop, step}, or a list of them) -> per-axis int/slice."""
    items = spec if isinstance(spec, list) else [spec]
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append(slice(item.get("start"), item.get("stop"), item.get("step")))
        elif isinstance(item, int):
            out.append(item)
        else:
            raise NotExportable(f"indexing with {item!r} (a new axis, an ellipsis or a tensor)")
    return out


def constant(value) -> np.ndarray:
    """A Python constant of the config as TensorFlow converts it: ints int32, floats float32."""
    array = np.asarray(value)
    if array.dtype.kind in "iu":
        return array.astype(np.int32)
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    return array


def canonical(function: str) -> str:
    """The table name of a recorded TensorFlow function name (``compat.v1.shape`` -> ``shape``: the v1 names the
    Keras 2 model records take the same arguments here)."""
    return function[len("compat.v1."):] if function.startswith("compat.v1.") else function
