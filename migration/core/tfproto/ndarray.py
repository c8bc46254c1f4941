"""``TensorProto`` -> NumPy array without TensorFlow: :func:`make_ndarray` is ``tf.make_ndarray`` in pure NumPy.

Same rules as TensorFlow's ``tensor_util.MakeNdarray``: ``tensor_content`` (raw bytes, C order, the host's byte
order: little-endian on every platform TensorFlow ships for) when present; otherwise the typed ``*_val`` field
(``half_val`` holds float16/bfloat16 bit patterns, ``scomplex_val``/``dcomplex_val`` alternate real and imaginary
parts, ``string_val`` gives an object array of ``bytes``), where fewer values than elements repeat the last one
(``tf.constant(0.5, shape=[3, 4])`` stores one value) and no values at all give zeros (a string tensor without
values gives ``b""`` elements where TensorFlow gives ``""``).

Stricter than TensorFlow on hostile input: a negative or huge dimension, more elements than ``max_elements``
(checked before anything is allocated), a ``tensor_content`` of the wrong length, more values than elements or
a value out of the dtype's range raise :class:`MigrationError` instead of a ``ValueError`` or a memory blow-up.
``bfloat16`` needs the ``ml_dtypes`` package (installed with TensorFlow, not required here); quantized, float8,
int4/int2, resource and variant tensors are refused with a clear message.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from migration.core.errors import MigrationError

#: ``DataType`` number -> TensorFlow's dtype name (``tf.dtypes.as_dtype(n).name``); ``_REF`` types get ``_ref``.
DTYPE_NAMES: dict[int, str] = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string", 8: "complex64",
    9: "int64", 10: "bool", 11: "qint8", 12: "quint8", 13: "qint32", 14: "bfloat16", 15: "qint16", 16: "quint16",
    17: "uint16", 18: "complex128", 19: "float16", 20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
    24: "float8_e5m2", 25: "float8_e4m3fn", 26: "float8_e4m3fnuz", 27: "float8_e4m3b11fnuz", 28: "float8_e5m2fnuz",
    29: "int4", 30: "uint4", 31: "int2", 32: "uint2", 33: "float4_e2m1fn",
}
DTYPE_NAMES.update({number + 100: name + "_ref" for number, name in list(DTYPE_NAMES.items())})

#: ``DataType`` number -> NumPy dtype, for the dtypes :func:`make_ndarray` reads; bfloat16 (14) is added by
#: :func:`numpy_dtype` on first use when ``ml_dtypes`` is installed (importing it takes about a second).
NUMPY_DTYPES: dict[int, np.dtype] = {
    1: np.dtype(np.float32), 2: np.dtype(np.float64), 3: np.dtype(np.int32), 4: np.dtype(np.uint8),
    5: np.dtype(np.int16), 6: np.dtype(np.int8), 7: np.dtype(object), 8: np.dtype(np.complex64),
    9: np.dtype(np.int64), 10: np.dtype(np.bool_), 17: np.dtype(np.uint16), 18: np.dtype(np.complex128),
    19: np.dtype(np.float16), 22: np.dtype(np.uint32), 23: np.dtype(np.uint64),
}
#: ``DataType`` number -> bytes per element in a bundle's data file, for the fixed-size dtypes.
ITEM_BYTES: dict[int, int] = {1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 8: 8, 9: 8, 10: 1, 11: 1, 12: 1, 13: 4, 14: 2,
                              15: 2, 16: 2, 17: 2, 18: 16, 19: 2, 22: 4, 23: 8}

#: Default bound on the elements of one tensor (a ``float32`` of this size is 1 GiB).
MAX_ELEMENTS = 1 << 28

# DataType -> the typed field holding its values (TensorFlow's MakeNdarray table)
_VALUE_FIELDS = {1: "float_val", 2: "double_val", 3: "int_val", 4: "int_val", 5: "int_val", 6: "int_val",
                 9: "int64_val", 10: "bool_val", 14: "half_val", 17: "int_val", 19: "half_val", 22: "uint32_val",
                 23: "uint64_val"}


def dtype_name(dtype: int) -> str:
    """TensorFlow's name of ``DataType`` number ``dtype`` (``1`` -> ``'float32'``); unknown numbers ``'dtype_N'``."""
    return DTYPE_NAMES.get(int(dtype), f"dtype_{int(dtype)}")


def numpy_dtype(dtype: int, what: str = "tensor") -> np.dtype:
    """The NumPy dtype of ``DataType`` ``dtype``; :class:`MigrationError` for one NumPy cannot hold."""
    if int(dtype) == 14 and 14 not in NUMPY_DTYPES:
        try:  # TensorFlow's own bfloat16 is ml_dtypes'
            import ml_dtypes

            NUMPY_DTYPES[14] = np.dtype(ml_dtypes.bfloat16)
        except ImportError:  # pragma: no cover - ml_dtypes comes with TensorFlow
            pass
    try:
        return NUMPY_DTYPES[int(dtype)]
    except KeyError:
        hint = " (install the `ml_dtypes` package)" if int(dtype) == 14 else ""
        raise MigrationError(f"Cannot read {what}: dtype {dtype_name(dtype)} has no NumPy equivalent here{hint}.") \
            from None


def checked_shape(dims, what: str = "tensor", max_elements: int = MAX_ELEMENTS) -> tuple[int, ...]:
    """``dims`` (ints, or ``TensorShapeProto.Dim``) as a shape tuple; :class:`MigrationError` for a negative
    (unknown) dimension or more than ``max_elements`` elements."""
    shape = tuple(int(getattr(d, "size", d)) for d in dims)
    if any(d < 0 for d in shape):
        raise MigrationError(f"Cannot read {what}: its shape {list(shape)} has a negative (unknown) dimension.")
    count = 1
    for d in shape:
        count *= d
    if count > max_elements:
        raise MigrationError(f"Refusing to read {what}: its shape {list(shape)} holds {count} elements, more than "
                             f"the limit of {max_elements}.")
    return shape


def make_ndarray(tensor, *, max_elements: int = MAX_ELEMENTS, what: Optional[str] = None) -> np.ndarray:
    """The value of ``TensorProto`` ``tensor`` as a NumPy array, like ``tf.make_ndarray`` (see the module doc).

    Works on this package's ``TensorProto`` and on TensorFlow's (same field names). ``what`` names the tensor in
    error messages (e.g. ``"Const 'rnn/Const' in model.meta"``)."""
    what = what or "a TensorProto"
    if tensor.tensor_shape.unknown_rank:
        raise MigrationError(f"Cannot read {what}: its shape has unknown rank.")
    shape = checked_shape(tensor.tensor_shape.dim, what, max_elements)
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    dtype = numpy_dtype(tensor.dtype, what)
    if tensor.tensor_content:
        if dtype == object:
            raise MigrationError(f"Cannot read {what}: a string tensor cannot use tensor_content.")
        if len(tensor.tensor_content) != count * dtype.itemsize:
            raise MigrationError(f"Cannot read {what}: tensor_content holds {len(tensor.tensor_content)} bytes, its "
                                 f"shape {list(shape)} and dtype {dtype_name(tensor.dtype)} need "
                                 f"{count * dtype.itemsize}.")
        return np.frombuffer(tensor.tensor_content, dtype=dtype).copy().reshape(shape)
    values = _typed_values(tensor, dtype, what)
    if len(values) > count:
        raise MigrationError(f"Cannot read {what}: it holds {len(values)} values for shape {list(shape)} "
                             f"({count} elements).")
    if len(values) == 0:
        if dtype == object:
            return np.full(shape, b"", dtype=object)
        return np.zeros(shape, dtype)
    if len(values) < count:
        out = np.empty(count, dtype)
        out[:len(values)] = values
        out[len(values):] = values[-1]  # TensorFlow repeats the last value (np.pad mode 'edge')
        values = out
    return values.reshape(shape)


def _typed_values(tensor, dtype: np.dtype, what: str) -> np.ndarray:
    number = int(tensor.dtype)
    try:
        if number == 7:
            values = np.empty(len(tensor.string_val), dtype=object)
            values[:] = list(tensor.string_val)
            return values
        if number in (8, 18):
            parts = np.asarray(tensor.scomplex_val if number == 8 else tensor.dcomplex_val, dtype=np.float64)
            if len(parts) % 2:
                raise MigrationError(f"Cannot read {what}: a complex tensor needs an even number of parts, got "
                                     f"{len(parts)}.")
            return (parts[0::2] + 1j * parts[1::2]).astype(dtype)
        field = getattr(tensor, _VALUE_FIELDS[number])
        if number in (14, 19):  # bit patterns of 16-bit floats in an int32 field
            return np.array(list(field), dtype=np.int64).astype(np.uint16).view(dtype) if _fits(field, 0, 0xFFFF) \
                else _out_of_range(what, "half_val")
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            if not _fits(field, int(info.min), int(info.max)):
                return _out_of_range(what, _VALUE_FIELDS[number])
        return np.array(list(field), dtype=dtype)
    except (OverflowError, ValueError, TypeError) as exc:
        raise MigrationError(f"Cannot read {what}: {exc}.") from None


def _fits(values, low: int, high: int) -> bool:
    return all(low <= v <= high for v in values)


def _out_of_range(what: str, field: str) -> np.ndarray:
    raise MigrationError(f"Cannot read {what}: a value of {field} is out of the range of its dtype.")
