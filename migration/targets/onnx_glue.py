"""The whole model's glue ops (the Keras 2 model's ``TFOpLambda`` / ``SlicingOpLambda`` layers) as ONNX nodes of the
standard domain (opset 17).

A value is ``(tensor name, rank or None, dtype)`` (:class:`Value`), or a Python / NumPy constant of the config,
made an initializer of the dtype TensorFlow would give it (the other operand's for arithmetic, else int32 / float32).
Shapes are real tensors here (``Shape`` cast to int32, as ``tf.shape`` gives), so ``fill`` is ``Expand``, ``range``
is ``Range``, ``gather_nd`` is ``GatherND`` (indices cast to int64). The length of a shape vector (``Shape``, its
slices, gathers and casts, ``stack`` / ``concat`` of them and constants) is tracked so that a ``Reshape`` to it (the
``tf.tensordot`` of a tensor of run-time shape) has a known rank. :func:`apply` raises
:class:`~migration.targets.glue.NotExportable` for a function or argument form it does not take.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import numpy as np

from migration.targets.glue import NotExportable, canonical, constant, slice_of, slice_spec

INT64_MAX = np.iinfo(np.int64).max
TYPES = {"float32": 1, "uint8": 2, "int8": 3, "int16": 5, "int32": 6, "int64": 7, "bool": 9, "float64": 11}


class Value(NamedTuple):
    name: str
    rank: Optional[int]
    dtype: str = "float32"


def _is_value(x) -> bool:
    return isinstance(x, tuple) and len(x) in (2, 3) and isinstance(x[0], str)


def as_value(x) -> Value:
    return Value(x[0], x[1], x[2] if len(x) > 2 else "float32")


class OnnxGlue:
    """Glue ops on one :class:`~migration.targets.onnx_graph.Graph`."""

    def __init__(self, g) -> None:
        self.g = g
        self.depth: dict[str, int] = {}  # static size of the last axis of index tensors (stack, constants)

    # -- values ------------------------------------------------------------------------------------------------
    def tensor(self, x, dtype: Optional[str] = None) -> Value:
        """A value as a tensor; a constant gets ``dtype`` (else TensorFlow's default for it)."""
        if _is_value(x):
            return as_value(x)
        array = constant(x) if dtype is None else np.asarray(x, dtype)
        name = self.g.const("c", array)
        if array.ndim:
            self.depth[name] = int(array.shape[-1])
        return Value(name, array.ndim, str(array.dtype))

    def cast(self, x: Value, dtype: str) -> Value:
        if x.dtype == dtype:
            return x
        out = Value(self.g.node("Cast", [x.name], to=TYPES[dtype])[0], x.rank, dtype)
        if x.name in self.depth:
            self.depth[out.name] = self.depth[x.name]
        return out

    def ints(self, values, stem: str = "i") -> str:
        return self.g.const(stem, np.asarray(values, np.int64).reshape(-1))

    def pair(self, x, y) -> tuple[Value, Value]:
        """Both operands as tensors of one dtype (a constant takes the tensor's, as TensorFlow converts it)."""
        if _is_value(x) and not _is_value(y):
            x = as_value(x)
            return x, self.tensor(y, x.dtype)
        if _is_value(y) and not _is_value(x):
            y = as_value(y)
            return self.tensor(x, y.dtype), y
        return self.tensor(x), self.tensor(y)

    def node(self, op: str, inputs: list[str], rank, dtype: str, **attrs) -> Value:
        return Value(self.g.node(op, inputs, **attrs)[0], rank, dtype)

    # -- ops ---------------------------------------------------------------------------------------------------
    def index(self, x: Value, spec: list) -> Value:
        starts, ends, axes, steps, squeeze = [], [], [], [], []
        for axis, s in enumerate(spec):
            if isinstance(s, int):
                starts.append(s)
                ends.append(s + 1 if s != -1 else INT64_MAX)
                steps.append(1)
                squeeze.append(axis)
            else:
                step = s.step or 1
                starts.append(s.start if s.start is not None else (0 if step > 0 else -1))
                ends.append(s.stop if s.stop is not None else (INT64_MAX if step > 0 else -INT64_MAX))
                steps.append(step)
            axes.append(axis)
        out = self.g.node("Slice", [x.name] + [self.ints(a, n) for n, a in zip(("starts", "ends", "axes", "steps"),
                                                                             (starts, ends, axes, steps))])[0]
        if squeeze:
            out = self.g.node("Squeeze", [out, self.ints(squeeze, "axes")])[0]
        last = spec[-1] if len(spec) == x.rank else None
        if isinstance(last, slice) and x.name in self.depth:  # a shape vector's piece (tf.shape(x)[:-1])
            self.depth[out] = len(range(self.depth[x.name])[last])
        return Value(out, None if x.rank is None else x.rank - len(squeeze), x.dtype)

    def binary(self, op: str, dtype: Optional[str] = None) -> Callable:
        def run(x, kw):
            a, b = self.pair(x, kw.get("y", kw.get("bias")))
            rank = None if a.rank is None or b.rank is None else max(a.rank, b.rank)
            return self.node(op, [a.name, b.name], rank, dtype or a.dtype)
        return run

    def unary(self, op: str, **attrs) -> Callable:
        def run(x, kw):
            x = self.tensor(x)
            return self.node(op, [x.name], x.rank, x.dtype, **attrs)
        return run

    def composed(self, ops: tuple[str, ...], square: bool = False) -> Callable:
        """A unary op as a chain of ONNX ops (``rsqrt``: Sqrt then Reciprocal), or ``x * x`` (``square``)."""
        def run(x, kw):
            x = self.tensor(x)
            if square:
                return self.node("Mul", [x.name, x.name], x.rank, x.dtype)
            name = x.name
            for op in ops:
                name = self.g.node(op, [name])[0]
            return Value(name, x.rank, x.dtype)
        return run

    def reduce(self, op: str) -> Callable:
        def run(x, kw):
            x = self.tensor(x)
            axis, keep = kw.get("axis"), int(bool(kw.get("keepdims")))
            axes = None if axis is None else [int(a) for a in np.asarray(axis).reshape(-1)]
            rank = None if x.rank is None else (x.rank if keep else (0 if axes is None else x.rank - len(axes)))
            if op == "ReduceSum":  # opset 13+: axes an input
                inputs = [x.name] + ([] if axes is None else [self.ints(axes, "axes")])
                return self.node(op, inputs, rank, x.dtype, keepdims=keep)
            return self.node(op, [x.name], rank, x.dtype, keepdims=keep, **({} if axes is None else {"axes": axes}))
        return run

    def shape(self, x, kw):
        if kw.get("out_type", "int32") not in ("int32", None):
            raise NotExportable(f"tf.shape with out_type {kw.get('out_type')}")
        x = self.tensor(x)
        out = self.cast(Value(self.g.node("Shape", [x.name])[0], 1, "int64"), "int32")
        if x.rank is not None:
            self.depth[out.name] = x.rank
        return out

    def getitem(self, x, kw):
        return self.index(self.tensor(x), slice_of(kw["slice_spec"]))

    def strided_slice(self, x, kw):
        x = self.tensor(x)
        return self.index(x, slice_spec(kw, x.rank or len(kw["begin"])))

    def reshape(self, x, kw):
        x, shape = self.tensor(x), kw["shape"]
        if _is_value(shape):  # its length, when known (a tf.stack of dims), is the result's rank
            target, rank = self.cast(as_value(shape), "int64").name, self.depth.get(as_value(shape).name)
        else:
            shape = np.asarray(shape, np.int64).reshape(-1)
            target, rank = self.ints(shape, "shape"), int(shape.size)
        return self.node("Reshape", [x.name, target], rank, x.dtype)

    def transpose(self, x, kw):
        x, perm = self.tensor(x), kw.get("perm")
        attrs = {} if perm is None else {"perm": [int(p) for p in perm]}
        return self.node("Transpose", [x.name], x.rank, x.dtype, **attrs)

    def expand_dims(self, x, kw):
        x = self.tensor(x)
        out = self.node("Unsqueeze", [x.name, self.ints([kw["axis"]], "axes")], None if x.rank is None else
                        x.rank + 1, x.dtype)
        if x.rank == 0:
            self.depth[out.name] = 1
        return out

    def squeeze(self, x, kw):
        x, axis = self.tensor(x), kw.get("axis", kw.get("squeeze_dims"))
        if axis is None:
            return self.node("Squeeze", [x.name], None, x.dtype)
        axes = [int(a) for a in np.asarray(axis).reshape(-1)]
        return self.node("Squeeze", [x.name, self.ints(axes, "axes")], None if x.rank is None else
                         x.rank - len(axes), x.dtype)

    def concat(self, values, kw):
        first = next((as_value(v) for v in values if _is_value(v)), None)
        parts = [self.tensor(v, first.dtype if first is not None else None) for v in values]
        out = self.node("Concat", [p.name for p in parts], parts[0].rank, parts[0].dtype, axis=int(kw.get("axis", 0)))
        if kw.get("axis", 0) in (-1, (parts[0].rank or 0) - 1) and all(p.name in self.depth for p in parts):
            self.depth[out.name] = sum(self.depth[p.name] for p in parts)
        return out

    def stack(self, values, kw):
        first = next((as_value(v) for v in values if _is_value(v)), None)
        parts = [self.tensor(v, first.dtype if first is not None else None) for v in values]
        axis = int(kw.get("axis", 0))
        axes = self.ints([axis], "axes")
        ups = [self.g.node("Unsqueeze", [p.name, axes])[0] for p in parts]
        rank = None if parts[0].rank is None else parts[0].rank + 1
        out = self.node("Concat", ups, rank, parts[0].dtype, axis=axis)
        if rank is not None and axis in (-1, rank - 1):
            self.depth[out.name] = len(parts)
        return out

    def fill(self, dims, kw):
        dims = self.tensor(dims)
        rank = self.depth.get(dims.name)
        value = self.tensor(kw["value"])
        return self.node("Expand", [value.name, self.cast(dims, "int64").name], rank, value.dtype)

    def range(self, start, kw):
        limit, delta = kw.get("limit"), kw.get("delta", 1)
        if limit is None:
            start, limit = 0, start
        like = next((as_value(v).dtype for v in (start, limit, delta) if _is_value(v)), None)
        parts = [self.tensor(v, like) for v in (start, limit, delta)]
        return self.node("Range", [p.name for p in parts], 1, parts[0].dtype)

    def gather(self, x, kw):
        if kw.get("batch_dims", 0):
            raise NotExportable("tf.gather with batch_dims")
        x, indices = self.tensor(x), self.tensor(kw["indices"])
        rank = None if x.rank is None or indices.rank is None else x.rank + indices.rank - 1
        out = self.node("Gather", [x.name, indices.name], rank, x.dtype, axis=int(kw.get("axis") or 0))
        if x.rank == 1 and indices.rank == 1 and indices.name in self.depth:  # tf.tensordot's pieces of a shape
            self.depth[out.name] = self.depth[indices.name]
        return out

    def gather_nd(self, x, kw):
        x, indices = self.tensor(x), self.tensor(kw["indices"])
        depth = self.depth.get(indices.name)
        rank = None if None in (x.rank, indices.rank, depth) else x.rank + indices.rank - 1 - depth
        batch = int(kw.get("batch_dims") or 0)
        return self.node("GatherND", [x.name, self.cast(indices, "int64").name], None if batch else rank, x.dtype,
                         batch_dims=batch)

    def one_hot(self, x, kw):
        x = self.tensor(x)
        on, off = kw.get("on_value"), kw.get("off_value")
        dtype = kw.get("dtype") or "float32"
        values = self.tensor([0.0 if off is None else off, 1.0 if on is None else on], dtype)
        axis = kw.get("axis") if kw.get("axis") is not None else -1
        return self.node("OneHot", [x.name, self.tensor(np.asarray(kw["depth"], np.int64)).name, values.name],
                         None if x.rank is None else x.rank + 1, dtype, axis=int(axis))

    def cast_op(self, x, kw):
        return self.cast(self.tensor(x), kw["dtype"])

    def matmul(self, x, kw):
        if kw.get("adjoint_a") or kw.get("adjoint_b"):
            raise NotExportable("matmul with adjoint_a / adjoint_b")
        a, b = self.pair(x, kw["b"])
        names = []
        for v, flag in ((a, kw.get("transpose_a")), (b, kw.get("transpose_b"))):
            if flag:
                if v.rank is None:
                    raise NotExportable("a transposed matmul operand of unknown rank")
                perm = list(range(v.rank - 2)) + [v.rank - 1, v.rank - 2]
                names.append(self.g.node("Transpose", [v.name], perm=perm)[0])
            else:
                names.append(v.name)
        return self.node("MatMul", names, a.rank, a.dtype)

    def softmax(self, op: str) -> Callable:
        def run(x, kw):
            x = self.tensor(x)
            axis = kw.get("axis") if kw.get("axis") is not None else -1
            return self.node(op, [x.name], x.rank, x.dtype, axis=int(axis))
        return run

    def where(self, x, kw):
        c = self.tensor(x)
        a, b = self.pair(kw["x"], kw["y"])
        return self.node("Where", [c.name, a.name, b.name], a.rank, a.dtype)

    def argmax(self, op: str) -> Callable:
        def run(x, kw):
            x = self.tensor(x)
            out = self.node(op, [x.name], None if x.rank is None else x.rank - 1, "int64",
                            axis=int(kw.get("axis") or 0), keepdims=0)
            return self.cast(out, kw.get("output_type") or "int64")
        return run

    # -- the ops the survey of the checkpoint suite's whole models met, and the rest of the Keras 3 table -----------
    def squared_difference(self, x, kw):
        a, b = self.pair(x, kw["y"])
        d = self.node("Sub", [a.name, b.name], None if None in (a.rank, b.rank) else max(a.rank, b.rank), a.dtype)
        return self.node("Mul", [d.name, d.name], d.rank, d.dtype)

    def clip(self, x, lo, hi):
        """TensorFlow's ``clip_by_value``: ``maximum(minimum(x, hi), lo)`` (broadcasting, any operand a tensor)."""
        x, hi = self.pair(x, hi)
        low = self.node("Min", [x.name, hi.name], x.rank, x.dtype)
        return self.node("Max", [low.name, self.pair(low, lo)[1].name], x.rank, x.dtype)

    def add_n(self, values, kw):
        first = next((as_value(v) for v in values if _is_value(v)), None)
        parts = [self.tensor(v, first.dtype if first is not None else None) for v in values]
        ranks = [p.rank for p in parts]
        return self.node("Sum", [p.name for p in parts], None if None in ranks else max(ranks), parts[0].dtype)

    def tile(self, x, kw):
        x = self.tensor(x)
        return self.node("Tile", [x.name, self.ints(np.asarray(kw["multiples"]).reshape(-1), "repeats")], x.rank,
                         x.dtype)

    def reverse(self, x, kw):
        x = self.tensor(x)
        axes = [int(a) for a in np.asarray(kw["axis"]).reshape(-1)]
        n = len(axes)
        inputs = [self.ints(v, stem) for stem, v in (("starts", [-1] * n), ("ends", [-INT64_MAX] * n),
                                                       ("axes", axes), ("steps", [-1] * n))]
        return self.node("Slice", [x.name] + inputs, x.rank, x.dtype)

    def split(self, x, kw):
        x, sizes, axis = self.tensor(x), kw["num_or_size_splits"], int(kw.get("axis", 0))
        if isinstance(sizes, (int, np.integer)):
            outs = self.g.node("Split", [x.name], int(sizes), axis=axis)
        else:
            sizes = [int(v) for v in np.asarray(sizes).reshape(-1)]
            if any(v < 0 for v in sizes):
                raise NotExportable("tf.split with a -1 size (computed from the input's run-time shape)")
            outs = self.g.node("Split", [x.name, self.ints(sizes, "split")], len(sizes), axis=axis)
        return [Value(o, x.rank, x.dtype) for o in outs]

    def reduce_bool(self, op: str) -> Callable:
        """``reduce_all`` / ``reduce_any``: the min / max of the booleans as int32."""
        def run(x, kw):
            out = self.reduce(op)(self.cast(self.tensor(x), "int32"), kw)
            return self.cast(out, "bool")
        return run

    def like(self, fill: float) -> Callable:
        """``zeros_like`` / ``ones_like``: ``ConstantOfShape`` of the input's shape, its dtype."""
        def run(x, kw):
            from onnx import numpy_helper

            x = self.tensor(x)
            value = numpy_helper.from_array(np.asarray([fill], dtype=x.dtype))
            return self.node("ConstantOfShape", [self.g.node("Shape", [x.name])[0]], x.rank, x.dtype, value=value)
        return run

    def not_equal(self, x, kw):
        equal = self.binary("Equal", "bool")(x, kw)
        return self.node("Not", [equal.name], equal.rank, "bool")

    def table(self) -> dict[str, Callable[[Any, dict], Any]]:
        b, u, r = self.binary, self.unary, self.reduce
        return {
            "__operators__.getitem": self.getitem, "strided_slice": self.strided_slice, "shape": self.shape,
            "cast": self.cast_op, "reshape": self.reshape, "transpose": self.transpose,
            "expand_dims": self.expand_dims, "squeeze": self.squeeze, "concat": self.concat, "stack": self.stack,
            "fill": self.fill, "range": self.range, "gather": self.gather, "gather_nd": self.gather_nd,
            "one_hot": self.one_hot, "linalg.matmul": self.matmul, "where": self.where,
            "nn.softmax": self.softmax("Softmax"), "nn.log_softmax": self.softmax("LogSoftmax"),
            "math.argmax": self.argmax("ArgMax"), "math.argmin": self.argmax("ArgMin"),
            **{f"math.{n}": b(op) for n, op in (("add", "Add"), ("subtract", "Sub"), ("multiply", "Mul"),
                                                ("truediv", "Div"), ("divide", "Div"), ("maximum", "Max"),
                                                ("minimum", "Min"), ("pow", "Pow"))},
            **{f"math.{n}": b(op, "bool") for n, op in (("equal", "Equal"), ("less", "Less"),
                                                        ("less_equal", "LessOrEqual"), ("greater", "Greater"),
                                                        ("greater_equal", "GreaterOrEqual"), ("logical_and", "And"),
                                                        ("logical_or", "Or"))},
            "nn.bias_add": b("Add"),
            **{f"math.{n}": u(op) for n, op in (("tanh", "Tanh"), ("sigmoid", "Sigmoid"), ("exp", "Exp"),
                                                ("log", "Log"), ("sqrt", "Sqrt"), ("abs", "Abs"),
                                                ("negative", "Neg"), ("sign", "Sign"), ("floor", "Floor"),
                                                ("reciprocal", "Reciprocal"), ("softplus", "Softplus"),
                                                ("softsign", "Softsign"), ("logical_not", "Not"))},
            "math.rsqrt": self.composed(("Sqrt", "Reciprocal")), "math.square": self.composed((), square=True),
            "nn.relu": u("Relu"), "nn.elu": u("Elu"), "nn.selu": u("Selu", alpha=1.6732632423543772,
                                                                     gamma=1.0507009873554805),
            **{f"math.reduce_{n}": r(op) for n, op in (("sum", "ReduceSum"), ("mean", "ReduceMean"),
                                                       ("max", "ReduceMax"), ("min", "ReduceMin"),
                                                       ("prod", "ReduceProd"))},
            "math.reduce_all": self.reduce_bool("ReduceMin"), "math.reduce_any": self.reduce_bool("ReduceMax"),
            "math.squared_difference": self.squared_difference, "math.add_n": self.add_n, "math.not_equal":
                self.not_equal, "tile": self.tile, "reverse": self.reverse, "split": self.split,
            "clip_by_value": lambda x, kw: self.clip(x, kw["clip_value_min"], kw["clip_value_max"]),
            "nn.relu6": lambda x, kw: self.clip(x, 0.0, 6.0),
            "nn.leaky_relu": lambda x, kw: u("LeakyRelu", alpha=float(kw.get("alpha", 0.2)))(x, kw),
            "zeros_like": self.like(0.0), "ones_like": self.like(1.0),
        }


def apply(glue: OnnxGlue, function: str, first, kwargs: dict) -> list:
    """The outputs of glue op ``function`` (recorded name); NotExportable if not mapped."""
    fn = glue.table().get(canonical(function))
    if fn is None:
        raise NotExportable(f"tf.{function} has no ONNX translation yet")
    out = fn(first, {k: v for k, v in kwargs.items() if k != "name"})
    return out if isinstance(out, list) else [out]
