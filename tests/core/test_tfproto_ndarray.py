"""migration.core.tfproto.make_ndarray against tf.make_ndarray on the same serialized TensorProto, for every dtype
the code meets and every way a proto stores values (tensor_content, a full typed list, one value broadcast, a short
list padded with its last value, no values); hostile protos raise MigrationError before allocating."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2

from migration.core.errors import MigrationError
from migration.core.tfproto import TensorProto, dtype_name, make_ndarray
from migration.core.tfproto.ndarray import DTYPE_NAMES

RNG = np.random.default_rng(23)
SHAPE = (3, 4)

DTYPES = [tf.float16, tf.bfloat16, tf.float32, tf.float64, tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8,
          tf.uint16, tf.uint32, tf.uint64, tf.bool, tf.complex64, tf.complex128, tf.string]


def _values(dtype: tf.DType, n: int) -> np.ndarray:
    if dtype == tf.string:
        return np.array([f"w{i}\xff".encode("latin-1") * (i % 3) for i in range(n)], dtype=object)
    if dtype == tf.bool:
        return RNG.integers(0, 2, n).astype(bool)
    if dtype.is_complex:
        return (RNG.normal(size=n) + 1j * RNG.normal(size=n)).astype(dtype.as_numpy_dtype)
    if dtype.is_floating:
        return RNG.normal(0, 3, n).astype(dtype.as_numpy_dtype)
    info = np.iinfo(dtype.as_numpy_dtype)
    return RNG.integers(info.min, info.max, n, dtype=np.int64 if info.min < 0 else np.uint64,
                        endpoint=True).astype(dtype.as_numpy_dtype)


def _typed(dtype: tf.DType, values: np.ndarray, shape=SHAPE) -> bytes:
    """A TensorProto with ``values`` in its typed field (as TensorFlow writes small or broadcast constants)."""
    proto = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum)
    for d in shape:
        proto.tensor_shape.dim.add(size=d)
    if dtype in (tf.float16, tf.bfloat16):
        proto.half_val.extend(int(v) for v in values.view(np.uint16))
    elif dtype.is_complex:
        field = proto.scomplex_val if dtype == tf.complex64 else proto.dcomplex_val
        field.extend(float(x) for v in values for x in (v.real, v.imag))
    else:
        field = {tf.float32: "float_val", tf.float64: "double_val", tf.int64: "int64_val", tf.bool: "bool_val",
                 tf.uint32: "uint32_val", tf.uint64: "uint64_val", tf.string: "string_val"}.get(dtype, "int_val")
        getattr(proto, field).extend(v if dtype == tf.string else v.item() for v in values)
    return proto.SerializeToString()


def _both(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    theirs = tf.make_ndarray(tensor_pb2.TensorProto.FromString(raw))
    ours = make_ndarray(TensorProto.FromString(raw))
    return ours, theirs


def _assert_same(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    if ours.dtype == object:
        assert ours.tolist() == theirs.tolist()
    else:  # bit for bit (NaN-safe, -0.0 distinguished)
        assert ours.tobytes() == theirs.tobytes()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("form", ["content", "full", "broadcast", "padded"])
def test_make_ndarray_equals_tensorflow(dtype, form):
    n = int(np.prod(SHAPE))
    if form == "content":
        if dtype == tf.string:
            pytest.skip("TensorFlow never writes strings to tensor_content")
        proto = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum, tensor_content=_values(dtype, n).tobytes())
        for d in SHAPE:
            proto.tensor_shape.dim.add(size=d)
        raw = proto.SerializeToString()
    else:
        raw = _typed(dtype, _values(dtype, {"full": n, "broadcast": 1, "padded": 5}[form]))
    ours, theirs = _both(raw)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("dtype", [d for d in DTYPES if d != tf.string], ids=lambda d: d.name)
def test_no_values_give_zeros(dtype):
    ours, theirs = _both(_typed(dtype, _values(dtype, 0)))
    _assert_same(ours, theirs)
    assert not ours.any()


def test_scalar_and_empty_shapes():
    for shape in [(), (0,), (2, 0, 3)]:
        raw = _typed(tf.float32, np.array([2.5], np.float32)[: 1 if 0 not in shape else 0], shape)
        _assert_same(*_both(raw))


def test_dtype_names_equal_tensorflow():
    for number, name in DTYPE_NAMES.items():
        assert tf.dtypes.as_dtype(number).name == name
    assert dtype_name(999) == "dtype_999"


def _proto(dtype=1, dims=(2, 2), **fields) -> TensorProto:
    proto = TensorProto(dtype=dtype, **fields)
    for d in dims:
        proto.tensor_shape.dim.add(size=d)
    return proto


@pytest.mark.parametrize("proto, pattern", [
    (_proto(dims=(2, -1)), "negative"),
    (_proto(dims=(1 << 20, 1 << 20), float_val=[1.0]), "more than the limit"),
    (_proto(dims=(1 << 62, 1 << 62), float_val=[1.0]), "more than the limit"),
    (_proto(tensor_content=b"\0" * 15), "holds 15 bytes"),
    (_proto(float_val=[1.0] * 5), "holds 5 values"),
    (_proto(dtype=6, int_val=[1, 300]), "out of the range"),
    (_proto(dtype=4, int_val=[-1]), "out of the range"),
    (_proto(dtype=19, half_val=[70000]), "out of the range"),
    (_proto(dtype=8, scomplex_val=[1.0, 2.0, 3.0]), "even number"),
    (_proto(dtype=7, tensor_content=b"abcd"), "string tensor"),
    (_proto(dtype=11, int_val=[1]), "qint8 has no NumPy"),
    (_proto(dtype=20), "resource has no NumPy"),
    (_proto(dtype=999), "dtype_999"),
])
def test_hostile_protos_raise_migration_error(proto, pattern):
    with pytest.raises(MigrationError, match=pattern):
        make_ndarray(proto, what="Const 'c' in x.meta")


def test_limit_is_checked_before_allocating():
    """A one-value broadcast to 2**27 elements passes under the default limit and fails under a lower one."""
    proto = _proto(dims=(1 << 14, 1 << 13), float_val=[0.25])
    assert make_ndarray(proto, max_elements=1 << 27).shape == (1 << 14, 1 << 13)
    with pytest.raises(MigrationError, match="Const 'big'"):
        make_ndarray(proto, max_elements=(1 << 27) - 1, what="Const 'big'")
