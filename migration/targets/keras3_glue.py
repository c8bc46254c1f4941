"""The whole model's glue ops (the Keras 2 model's ``TFOpLambda`` / ``SlicingOpLambda`` layers) as ``keras.ops``.

:func:`apply` takes the layer's TensorFlow function name (``compat.v1.`` dropped: the v1 names the Keras 2 model
records take the same arguments here), its first argument and its other arguments by name (as the Keras 2 config
holds them), and returns the op's outputs. Everything is ``keras.ops`` (so the model runs on every backend and loads
in safe mode with nothing of rnn-migrate).

Shapes: ``tf.shape(x)`` in a functional Keras 3 model has no tensor form that ``ops.full`` or ``ops.arange`` take,
so a shape is kept symbolic (:class:`Dims`: each dimension a static ``int`` or a :class:`Dim`, a dimension of a
tensor known at run time) through the ops that only move dimensions around (indexing, ``gather``, ``expand_dims``,
``concat``, ``stack``) or multiply them (``reduce_prod``, ``d0 * d1``: a :class:`Prod`, as ``tf.tensordot`` computes
its ``[-1, k]`` shape; a reshape then resolves it from the input's actual shape at call time), and made a tensor only
where a value is computed: ``fill`` broadcasts ones along each dimension (a line of the tensor the dimension comes
from), ``range(0, n, 1)`` is ``cumsum(ones) - 1``, and a dimension in arithmetic is ``sum(ones)``. A function not
in :data:`FUNCTIONS` (or an argument form not handled) raises :class:`~migration.targets.whole.NotExportable` naming
it.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from migration.targets.glue import NotExportable, canonical, constant, slice_of, slice_spec


@dataclasses.dataclass(frozen=True)
class Dim:
    """Dimension ``axis`` of ``tensor``, known only at run time."""

    tensor: Any
    axis: int


@dataclasses.dataclass(frozen=True)
class Prod:
    """The product of ``factors`` (:class:`Dim` s, at most one static ``int``): ``reduce_prod`` of a shape's pieces
    or ``d0 * d1``, as ``tf.tensordot`` / ``tf.layers.dense`` on a rank-3 tensor compute their ``[-1, k]`` shape."""

    factors: tuple


#: a dimension known only at run time
RUNTIME = (Dim, Prod)


class Dims(tuple):
    """A shape vector: each element a static ``int``, a :class:`Dim` or a :class:`Prod`."""


def product(factors):
    """The product of dimensions (``int`` / :class:`Dim` / :class:`Prod`): an ``int`` when all are static."""
    static, run = 1, []
    for f in factors:
        if isinstance(f, Prod):
            run += [g for g in f.factors if isinstance(g, Dim)]
            static *= int(np.prod([g for g in f.factors if not isinstance(g, Dim)], dtype=np.int64))
        elif isinstance(f, Dim):
            run.append(f)
        else:
            static *= int(f)
    if not run:
        return static
    if len(run) == 1 and static == 1:
        return run[0]
    return Prod(tuple(run) + ((static,) if static != 1 else ()))


def _ops():
    from keras import ops

    return ops


def _line(dim: Dim):
    """The 1-D line of ``dim.tensor`` along ``dim.axis`` (its length is the dimension)."""
    rank = len(dim.tensor.shape)
    return dim.tensor[tuple(slice(None) if a == dim.axis else 0 for a in range(rank))]


def _ones(d, dtype: str):
    """Ones of length ``d``; of a :class:`Prod`, the flattened outer product of its factors' ones."""
    ops = _ops()
    if isinstance(d, Prod):
        n = len(d.factors)
        grid = None
        for k, f in enumerate(d.factors):
            ones = ops.reshape(_ones(f, dtype), tuple(-1 if j == k else 1 for j in range(n)))
            grid = ones if grid is None else grid * ones
        return ops.reshape(grid, (-1,))
    return ops.ones_like(_line(d), dtype=dtype) if isinstance(d, Dim) else ops.ones((int(d),), dtype=dtype)


def tensor(value):
    """A value as something ``keras.ops`` take: a :class:`Dim` / :class:`Prod` is ``sum(ones)``, :class:`Dims`
    their stack."""
    ops = _ops()
    if isinstance(value, RUNTIME):
        return ops.sum(_ones(value, "int32"))
    if isinstance(value, Dims):
        return ops.stack([tensor(d) if isinstance(d, RUNTIME) else np.int32(d) for d in value])
    if isinstance(value, list):
        return constant(value)
    return value




def is_static(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating, np.ndarray, list)) and not isinstance(value, Dims)




def _index(x, spec: list):
    if any(s is None for s in spec):
        raise NotExportable("indexing with a new axis")
    if isinstance(x, Dims):
        if len(spec) != 1:
            raise NotExportable("a shape indexed on more than one axis")
        got = x[spec[0]]
        return Dims(got) if isinstance(spec[0], slice) else got
    if is_static(x):
        return constant(x)[tuple(spec)]
    return x[tuple(spec)]


def _getitem(x, kw):
    return _index(x, slice_of(kw["slice_spec"]))


def _strided_slice(x, kw):
    return _index(x, slice_spec(kw, 1 if isinstance(x, Dims) else len(x.shape)))


def _shape(x, kw):
    if kw.get("out_type", "int32") not in ("int32", None):
        raise NotExportable(f"tf.shape with out_type {kw.get('out_type')}")
    return Dims(d if d is not None else Dim(x, a) for a, d in enumerate(x.shape))


def _as_dims(value) -> Dims:
    if isinstance(value, Dims):
        return value
    if isinstance(value, (Dim, Prod, int, np.integer)):
        return Dims((value,))
    if is_static(value) and np.asarray(value).ndim == 1:
        return Dims(int(v) for v in np.asarray(value))
    raise NotExportable("a shape computed from tensor values")


def _concat(values, kw):
    axis = kw.get("axis", 0)
    if any(isinstance(v, Dims) for v in values) and axis in (0, -1):
        return Dims(d for v in values for d in _as_dims(v))
    return _ops().concatenate([tensor(v) for v in values], axis=axis)


def _stack(values, kw):
    axis = kw.get("axis", 0)
    if all(isinstance(v, (Dim, Prod, int, np.integer)) for v in values) and axis in (0, -1):
        return Dims(values)
    # a Python constant beside a tensor (tf.stack([rows, -1])): an array (keras.ops.stack reads each part's shape)
    return _ops().stack([constant(v) if is_static(v) else tensor(v) for v in values], axis=axis)


def _expand_dims(x, kw):
    axis = kw.get("axis")
    if isinstance(x, (Dim, Prod, int, np.integer)) and axis in (0, -1):
        return Dims((x,))
    return _ops().expand_dims(tensor(x), axis)


def _fill(dims, kw):
    ops = _ops()
    value = kw["value"]
    dims = _as_dims(dims)
    dtype = "float32" if isinstance(value, float) or "float" in str(getattr(value, "dtype", "")) else "int32"
    out = None
    for k, d in enumerate(dims):
        ones = ops.reshape(_ones(d, dtype), tuple(-1 if j == k else 1 for j in range(len(dims))))
        out = ones if out is None else out * ones
    if out is None:
        return ops.cast(tensor(value), dtype)
    return out * ops.cast(tensor(value), dtype)


def _range(start, kw):
    ops = _ops()
    limit, delta = kw.get("limit"), kw.get("delta", 1)
    if limit is None:
        start, limit = 0, start
    if all(is_static(v) for v in (start, limit, delta)):
        return np.arange(start, limit, delta).astype(np.int32 if all(
            np.asarray(v).dtype.kind in "iu" for v in (start, limit, delta)) else np.float32)
    if isinstance(limit, RUNTIME) and int(start) == 0 and int(delta) == 1 and kw.get("dtype") in (None, "int32"):
        return ops.cumsum(_ones(limit, "int32")) - 1
    raise NotExportable("tf.range over a run-time limit other than range(0, n, 1)")


def _reshape_dims(x, dims: Dims):
    """``reshape(x, dims)`` with several run-time dimensions (``tf.reshape(flat, tf.stack([steps, batch, V]))``): the
    row-major index grid of ``dims`` (``sum_j arange(d_j) * prod_{k > j} d_k``, broadcast) gathered from the
    flattened ``x``: exact (a gather, no arithmetic on values), and shape-polymorphic on every backend."""
    ops = _ops()
    index, stride = None, None
    for j in reversed(range(len(dims))):
        shape = tuple(-1 if k == j else 1 for k in range(len(dims)))
        if isinstance(dims[j], RUNTIME):
            axis = ops.reshape(ops.cumsum(_ones(dims[j], "int32")) - 1, shape)
            size = ops.sum(_ones(dims[j], "int32"))
        else:  # NumPy: a static dimension needs no op
            axis, size = np.arange(int(dims[j]), dtype=np.int32).reshape(shape), np.int32(dims[j])
        term = axis if stride is None else ops.multiply(axis, stride)
        # not ops.add: Keras 3's TensorFlow add takes a [n, 1, 1] operand for a bias (tf.nn.bias_add over axis 1 of
        # a [1, n, k] one, dropping the broadcast) when two run-time dimensions are equal
        index = term if index is None else ops.subtract(term, ops.negative(index))
        stride = size if stride is None else ops.multiply(stride, size)
    return ops.take(ops.reshape(tensor(x), (-1,)), index, axis=0)


def _keeps_batch(x, shape: Dims) -> bool:
    """``shape`` is ``[dimension 0 of x itself, static..., -1, static...]`` (a ``Reshape`` layer's form)."""
    first, rest = (shape[0], shape[1:]) if shape else (None, ())
    return (isinstance(first, Dim) and first.axis == 0 and first.tensor is x and list(rest).count(-1) == 1
            and not any(isinstance(d, RUNTIME) for d in rest) and all(int(d) >= -1 for d in rest))


def _reshape(x, kw):
    shape = kw["shape"]
    if isinstance(shape, Dims):
        if sum(isinstance(d, RUNTIME) for d in shape) > 1 and all(
                isinstance(d, RUNTIME) or int(d) >= 0 for d in shape):
            return _reshape_dims(x, shape)
        if _keeps_batch(x, shape):  # tf.reshape(x, [tf.shape(x)[0], -1, k]): the batch axis of x kept
            import keras

            return keras.layers.Reshape(tuple(int(d) for d in shape[1:]))(x)
        shape = [d if not isinstance(d, RUNTIME) else -1 for d in shape]
        if shape.count(-1) > 1:
            raise NotExportable("a reshape to more than one run-time dimension")
    if not is_static(shape):
        raise NotExportable("a reshape to a shape computed from tensor values")
    return _ops().reshape(tensor(x), tuple(int(s) for s in np.asarray(shape).reshape(-1)))


def _gather(x, kw):
    if kw.get("batch_dims", 0):
        raise NotExportable("tf.gather with batch_dims")
    indices, axis = kw["indices"], kw.get("axis", 0) or 0
    if isinstance(x, Dims) and isinstance(indices, (int, np.integer)):
        return x[int(indices)]
    if isinstance(x, Dims) and axis in (0, -1) and is_static(indices) and np.asarray(indices).ndim == 1:
        return Dims(x[int(i)] for i in np.asarray(indices))  # tf.tensordot's free / contracted dimensions
    if is_static(indices) and np.asarray(indices).ndim == 0:
        return _index(x, [slice(None)] * axis + [int(indices)]) if axis >= 0 else \
            _ops().take(x, int(indices), axis=axis)
    return _ops().take(tensor(x), tensor(indices), axis=axis)


def _gather_nd(x, kw):
    """``params[indices[..., 0], ..., indices[..., k-1]]`` as one ``take`` of the flattened leading axes."""
    ops = _ops()
    if kw.get("batch_dims", 0):
        raise NotExportable("tf.gather_nd with batch_dims")
    indices = tensor(kw["indices"])
    k = indices.shape[-1]
    rest = tuple(x.shape[k:]) if k is not None else (None,)
    if k is None or any(d is None for d in rest):
        raise NotExportable("tf.gather_nd with a run-time index depth or trailing dimension")
    flat = ops.reshape(x, (-1,) + rest)
    linear, stride = None, None
    for j in reversed(range(k)):
        term = indices[..., j] if stride is None else indices[..., j] * stride
        linear = term if linear is None else linear + term
        d = x.shape[j]
        size = tensor(Dim(x, j)) if d is None else d
        stride = size if stride is None else stride * size
    return ops.take(flat, linear, axis=0)


def _one_hot(x, kw):
    ops = _ops()
    on, off = kw.get("on_value", 1.0), kw.get("off_value", 0.0)
    on, off = (1.0 if on is None else on), (0.0 if off is None else off)
    dtype = kw.get("dtype") or "float32"
    hot = ops.one_hot(tensor(x), int(kw["depth"]), axis=kw.get("axis", -1) if kw.get("axis") is not None else -1,
                      dtype=dtype)
    return hot if (on, off) == (1.0, 0.0) else hot * (on - off) + off


def _binary(name: str) -> Callable:
    def apply(x, kw):
        y = kw.get("y", kw.get("bias"))
        dims = (Dim, Prod, int, np.integer)
        if isinstance(x, dims) and isinstance(y, dims) and (isinstance(x, RUNTIME) or isinstance(y, RUNTIME)):
            if name == "multiply" and all(isinstance(v, RUNTIME) or int(v) > 0 for v in (x, y)):
                # batch * steps: a dimension still (a reshape's target)
                return product([x, y])
            x, y = tensor(x), tensor(y)
        return getattr(_ops(), name)(tensor(x), tensor(y))
    return apply


def _unary(name: str, **fixed) -> Callable:
    return lambda x, kw: getattr(_ops(), name)(tensor(x), **fixed)


def _reduce(name: str) -> Callable:
    def apply(x, kw):
        axis = kw.get("axis")
        axis = tuple(int(a) for a in np.asarray(axis).reshape(-1)) if axis is not None else None
        if name == "prod" and isinstance(x, Dims) and axis in (None, (0,), (-1,)) and all(
                isinstance(d, RUNTIME) or int(d) > 0 for d in x):  # tf.tensordot's reshape
            value = product(x)
            return Dims((value,)) if kw.get("keepdims") else value
        return getattr(_ops(), name)(tensor(x), axis=axis, keepdims=bool(kw.get("keepdims") or False))
    return apply


def _matmul(x, kw):
    ops = _ops()
    if kw.get("adjoint_a") or kw.get("adjoint_b"):
        raise NotExportable("matmul with adjoint_a / adjoint_b")
    a, b = tensor(x), tensor(kw["b"])
    if kw.get("transpose_a"):
        a = ops.swapaxes(a, -1, -2)
    if kw.get("transpose_b"):
        b = ops.swapaxes(b, -1, -2)
    return ops.matmul(a, b)


def _split(x, kw):
    sizes, axis = kw["num_or_size_splits"], kw.get("axis", 0)
    if isinstance(sizes, (int, np.integer)):
        return list(_ops().split(tensor(x), int(sizes), axis=axis))
    cuts = list(np.cumsum(np.asarray(sizes))[:-1].astype(int))
    return list(_ops().split(tensor(x), cuts, axis=axis))


def _squeeze(x, kw):
    axis = kw.get("axis", kw.get("squeeze_dims"))
    return _ops().squeeze(tensor(x), axis=tuple(axis) if isinstance(axis, list) else axis)


def _add_n(values: list):
    """``ops.add`` in turn (a NumPy constant first would take a Keras tensor for an array)."""
    out = tensor(values[0])
    for value in values[1:]:
        out = _ops().add(out, tensor(value))
    return out


def _argmax(name: str) -> Callable:
    def apply(x, kw):
        ops = _ops()
        return ops.cast(getattr(ops, name)(tensor(x), axis=kw.get("axis", 0)), kw.get("output_type") or "int64")
    return apply


FUNCTIONS: dict[str, Callable[[Any, dict], Any]] = {
    "__operators__.getitem": _getitem, "strided_slice": _strided_slice, "shape": _shape,
    "cast": lambda x, kw: _ops().cast(tensor(x), kw["dtype"]), "reshape": _reshape,
    "transpose": lambda x, kw: _ops().transpose(tensor(x), kw.get("perm")),
    "expand_dims": _expand_dims, "squeeze": _squeeze, "concat": _concat, "stack": _stack, "fill": _fill,
    "range": _range, "gather": _gather, "gather_nd": _gather_nd, "one_hot": _one_hot, "split": _split,
    "tile": lambda x, kw: _ops().tile(tensor(x), [int(m) for m in np.asarray(kw["multiples"]).reshape(-1)]),
    "reverse": lambda x, kw: _ops().flip(tensor(x), axis=tuple(int(a) for a in np.asarray(kw["axis"]).reshape(-1))),
    "where": lambda x, kw: _ops().where(tensor(x), tensor(kw["x"]), tensor(kw["y"])),
    "clip_by_value": lambda x, kw: _ops().clip(tensor(x), kw["clip_value_min"], kw["clip_value_max"]),
    "math.add_n": lambda xs, kw: _add_n(xs),
    "linalg.matmul": _matmul, "math.argmax": _argmax("argmax"), "math.argmin": _argmax("argmin"),
    "nn.softmax": lambda x, kw: _ops().softmax(tensor(x), axis=kw.get("axis") if kw.get("axis") is not None else -1),
    "nn.log_softmax": lambda x, kw: _ops().log_softmax(
        tensor(x), axis=kw.get("axis") if kw.get("axis") is not None else -1),
    "nn.leaky_relu": lambda x, kw: _ops().leaky_relu(tensor(x), negative_slope=kw.get("alpha", 0.2)),
    **{f"math.{n}": _binary(k) for n, k in (
        ("add", "add"), ("subtract", "subtract"), ("multiply", "multiply"), ("truediv", "true_divide"),
        ("divide", "divide"), ("maximum", "maximum"), ("minimum", "minimum"), ("pow", "power"),
        ("equal", "equal"), ("not_equal", "not_equal"), ("less", "less"), ("less_equal", "less_equal"),
        ("greater", "greater"), ("greater_equal", "greater_equal"), ("logical_and", "logical_and"),
        ("logical_or", "logical_or"))},
    "math.squared_difference": lambda x, kw: _ops().square(tensor(x) - tensor(kw["y"])),
    "nn.bias_add": _binary("add"),
    **{f"math.{n}": _unary(k) for n, k in (
        ("tanh", "tanh"), ("sigmoid", "sigmoid"), ("exp", "exp"), ("log", "log"), ("sqrt", "sqrt"),
        ("rsqrt", "rsqrt"), ("square", "square"), ("abs", "abs"), ("negative", "negative"), ("sign", "sign"),
        ("floor", "floor"), ("reciprocal", "reciprocal"), ("softplus", "softplus"), ("softsign", "softsign"),
        ("logical_not", "logical_not"))},
    "nn.relu": _unary("relu"), "nn.relu6": _unary("relu6"), "nn.elu": _unary("elu"), "nn.selu": _unary("selu"),
    "zeros_like": _unary("zeros_like"), "ones_like": _unary("ones_like"),
    **{f"math.reduce_{n}": _reduce(k) for n, k in (("sum", "sum"), ("mean", "mean"), ("max", "max"),
                                                   ("min", "min"), ("prod", "prod"), ("all", "all"),
                                                   ("any", "any"))},
}




def apply(function: str, first, kwargs: dict) -> list:
    """The outputs of glue op ``function`` (recorded name) on ``first`` and ``kwargs``; NotExportable if not mapped."""
    fn = FUNCTIONS.get(canonical(function))
    if fn is None:
        raise NotExportable(f"tf.{function} has no Keras 3 translation yet")
    kw = {k: v for k, v in kwargs.items() if k != "name"}
    out = fn(first, kw)
    return out if isinstance(out, list) else [out]
