"""The op table of the original-graph path: one row per op type that may appear in a user's graph we run.

Each row says two things, read by two consumers:

* ``allowed``: the sandbox (:mod:`migration.graph.sandbox`) may execute it (every row here is allowed; an op with no
  row is refused before anything runs);
* ``keras``: how the whole-model translator (:mod:`migration.graph.to_keras`) renders it: ``render`` (a public ``tf``
  function, a ``TFOpLambda`` layer in the saved model; :attr:`Op.render` holds it), ``special`` (the translator's own
  code: inputs, constants, pass-through, variables as Dense/Embedding weights; :attr:`Op.why` says which), or
  ``reference-only`` (the reference runs it, the translator does not render it; :attr:`Op.why` says why, and such an
  op on the path blocks the whole model with its name).

``tests/checkpoint/test_op_table.py`` keeps the sandbox, the translator and this table in step. To add an op: one
row (with its group's reason or a render function), and a test that runs it through both.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

Render = Callable[[Any, Any, list, int], Any]  # (tf, node, args, output index) -> value


@dataclasses.dataclass(frozen=True)
class Op:
    name: str
    keras: str  # "render" | "special" | "reference-only"
    render: Optional[Render] = None
    why: str = ""


def attr_value(node, key: str, default=None):
    """A NodeDef attribute as a Python value (lists, dtypes, shapes, strings), or ``default``."""
    if key not in node.attr:
        return default
    value = node.attr[key]
    kind = value.WhichOneof("value")
    if kind == "list":
        lst = value.list
        return list(lst.i) or list(lst.f) or list(lst.s) or [int(t) for t in lst.type]
    if kind == "type":
        import tensorflow as tf

        return tf.as_dtype(value.type)
    if kind == "shape":
        return None if value.shape.unknown_rank else [int(d.size) if d.size >= 0 else None for d in value.shape.dim]
    if kind == "s":
        return value.s.decode()
    return getattr(value, kind) if kind else default


_a = attr_value


def _fn(path: str) -> Callable:
    def get(tf):
        obj = tf
        for part in path.split("."):
            obj = getattr(obj, part)
        return obj
    return get


def _unary(path: str) -> Render:
    get = _fn(path)
    return lambda tf, n, a, i: get(tf)(a[0])


def _binary(path: str) -> Render:
    get = _fn(path)
    return lambda tf, n, a, i: get(tf)(a[0], a[1])


def _reduce(path: str) -> Render:
    get = _fn(path)
    return lambda tf, n, a, i: get(tf)(a[0], a[1], keepdims=_a(n, "keep_dims", False))


def _pool(tf, n, a, i):
    ksize, strides = (_a(n, "ksize"), _a(n, "strides")) if len(a) == 1 else (a[1], a[2])
    return tf.nn.max_pool2d(a[0], ksize, strides, _a(n, "padding"), data_format=_a(n, "data_format", "NHWC"))


def _avg_pool(tf, n, a, i):
    return tf.nn.avg_pool2d(a[0], _a(n, "ksize"), _a(n, "strides"), _a(n, "padding"),
                            data_format=_a(n, "data_format", "NHWC"))


_UNARY = {"LogicalNot": "math.logical_not", "Neg": "math.negative", "Abs": "math.abs", "Exp": "math.exp",
          "Log": "math.log", "Sqrt": "math.sqrt", "Rsqrt": "math.rsqrt", "Square": "math.square",
          "Reciprocal": "math.reciprocal", "Sign": "math.sign", "Floor": "math.floor", "Tanh": "math.tanh",
          "Sigmoid": "math.sigmoid", "Relu": "nn.relu", "Relu6": "nn.relu6", "Elu": "nn.elu", "Selu": "nn.selu",
          "Softplus": "math.softplus", "Softsign": "math.softsign", "Softmax": "nn.softmax",
          "LogSoftmax": "nn.log_softmax", "ZerosLike": "zeros_like", "OnesLike": "ones_like"}
_BINARY = {"Add": "math.add", "AddV2": "math.add", "Sub": "math.subtract", "Mul": "math.multiply",
           "RealDiv": "math.truediv", "Div": "math.divide", "FloorDiv": "math.floordiv", "FloorMod": "math.floormod",
           "Maximum": "math.maximum", "Minimum": "math.minimum", "Pow": "math.pow",
           "SquaredDifference": "math.squared_difference", "Equal": "math.equal", "NotEqual": "math.not_equal",
           "Less": "math.less", "LessEqual": "math.less_equal", "Greater": "math.greater",
           "GreaterEqual": "math.greater_equal", "LogicalAnd": "math.logical_and", "LogicalOr": "math.logical_or",
           "Reshape": "reshape", "ExpandDims": "expand_dims", "Transpose": "transpose", "Fill": "fill",
           "Tile": "tile", "GatherNd": "gather_nd", "BiasAdd": "nn.bias_add", "ReverseV2": "reverse"}
_REDUCE = {"Sum": "math.reduce_sum", "Mean": "math.reduce_mean", "Max": "math.reduce_max", "Min": "math.reduce_min",
           "Prod": "math.reduce_prod", "All": "math.reduce_all", "Any": "math.reduce_any"}
_OTHER: dict[str, Render] = {
    "AddN": lambda tf, n, a, i: tf.math.add_n(a),
    "LeakyRelu": lambda tf, n, a, i: tf.nn.leaky_relu(a[0], alpha=_a(n, "alpha", 0.2)),
    "ClipByValue": lambda tf, n, a, i: tf.clip_by_value(a[0], a[1], a[2]),
    "Cast": lambda tf, n, a, i: tf.cast(a[0], _a(n, "DstT")),
    "Squeeze": lambda tf, n, a, i: tf.squeeze(a[0], axis=_a(n, "squeeze_dims") or None),
    "ConcatV2": lambda tf, n, a, i: tf.concat(list(a[:-1]), axis=a[-1]),
    "Pack": lambda tf, n, a, i: tf.stack(list(a), axis=_a(n, "axis", 0)),
    "Unpack": lambda tf, n, a, i: tf.gather(a[0], i, axis=_a(n, "axis", 0)),
    "Split": lambda tf, n, a, i: tf.split(a[1], _a(n, "num_split"), axis=a[0])[i],
    "SplitV": lambda tf, n, a, i: tf.split(a[0], a[1], axis=a[2])[i],
    "StridedSlice": lambda tf, n, a, i: tf.strided_slice(
        a[0], a[1], a[2], a[3], begin_mask=_a(n, "begin_mask", 0), end_mask=_a(n, "end_mask", 0),
        ellipsis_mask=_a(n, "ellipsis_mask", 0), new_axis_mask=_a(n, "new_axis_mask", 0),
        shrink_axis_mask=_a(n, "shrink_axis_mask", 0)),
    "Slice": lambda tf, n, a, i: tf.slice(a[0], a[1], a[2]),
    "Shape": lambda tf, n, a, i: tf.shape(a[0], out_type=_a(n, "out_type")),
    "Size": lambda tf, n, a, i: tf.size(a[0], out_type=_a(n, "out_type")),
    "Rank": lambda tf, n, a, i: tf.rank(a[0]),
    "Range": lambda tf, n, a, i: tf.range(a[0], a[1], a[2]),
    "GatherV2": lambda tf, n, a, i: tf.gather(a[0], a[1], axis=a[2], batch_dims=_a(n, "batch_dims", 0)),
    "Gather": lambda tf, n, a, i: tf.gather(a[0], a[1]),
    "OneHot": lambda tf, n, a, i: tf.one_hot(a[0], a[1], a[2], a[3], axis=_a(n, "axis", -1)),
    "MatMul": lambda tf, n, a, i: tf.linalg.matmul(a[0], a[1], transpose_a=_a(n, "transpose_a", False),
                                                   transpose_b=_a(n, "transpose_b", False)),
    "BatchMatMulV2": lambda tf, n, a, i: tf.linalg.matmul(a[0], a[1], adjoint_a=_a(n, "adj_x", False),
                                                          adjoint_b=_a(n, "adj_y", False)),
    "ArgMax": lambda tf, n, a, i: tf.math.argmax(a[0], a[1], output_type=_a(n, "output_type")),
    "ArgMin": lambda tf, n, a, i: tf.math.argmin(a[0], a[1], output_type=_a(n, "output_type")),
    "Select": lambda tf, n, a, i: tf.where(a[0], a[1], a[2]),
    "SelectV2": lambda tf, n, a, i: tf.where(a[0], a[1], a[2]),
    "ReverseSequence": lambda tf, n, a, i: tf.reverse_sequence(a[0], a[1], seq_axis=_a(n, "seq_dim"),
                                                               batch_axis=_a(n, "batch_dim", 0)),
    "MaxPool": _pool, "MaxPoolV2": _pool, "AvgPool": _avg_pool,  # CNN front ends (pure math)
}

#: ops the translator passes through (their first input is their value)
PASS_THROUGH = ("Identity", "Snapshot", "StopGradient", "PreventGradient", "EnsureShape", "CheckNumerics")
#: variable nodes (read as Dense / Embedding weights, or folded when small)
VARIABLES = ("VariableV2", "Variable", "VarHandleOp")
#: ops the translator handles with its own code, and how
_SPECIAL = {
    **{op: "passed through: its input is its value" for op in PASS_THROUGH},
    "PlaceholderWithDefault": "its default (not a model input)",
    "Placeholder": "a keras.Input", "Const": "a NumPy constant (folded)", "IdentityN": "the input it forwards",
    **{op: "a Dense / Embedding weight, or a folded constant when small" for op in VARIABLES},
    "ReadVariableOp": "the variable it reads", "ResourceGather": "a keras.layers.Embedding",
    "DynamicStitch": "a partitioned embedding lookup, rendered as one Embedding",
    "ParallelDynamicStitch": "a partitioned embedding lookup, rendered as one Embedding",
    "Conv2D": "a keras.layers.Conv2D when its filter is a variable (CNN front ends; inside RNN loops the loop is a "
              "block model)",
    **{op: "a keras.layers.BatchNormalization with the moving statistics (is_training=False graphs only: a graph "
           "normalizing with batch statistics is named as a blocker)"
       for op in ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")},
}

_NOT_YET = "not rendered yet (the whole model is blocked, naming it; the reference still runs it)"
_LOOPS = "control flow: a recognized RNN loop becomes its converted block model; other loops have no Keras form"
#: allowed, not rendered: group -> (ops, reason)
_REFERENCE_ONLY = {
    "math": ("""Acos Acosh Asin Asinh Atan Atan2 Atanh BatchMatMul BatchMatMulV3 BiasAddV1 Ceil Cos Cosh Cumprod
Cumsum DivNoNan Erf Erfc Expm1 InvertPermutation IsFinite IsInf IsNan L2Loss Log1p Mod MulNoNan Rint Round Sin Sinh
Tan TopKV2 TruncateDiv Xdivy Xlogy""", _NOT_YET),
    "losses": ("SparseSoftmaxCrossEntropyWithLogits SoftmaxCrossEntropyWithLogits",
               "the loss: the whole model stops at the logits it consumes"),
    "shape": ("""BroadcastArgs BroadcastGradientArgs BroadcastTo Concat ConcatOffset DynamicPartition MirrorPad Pad
PadV2 ShapeN Unique Where""", _NOT_YET),
    "assert": ("Assert NoOp ControlTrigger", "no value: control dependencies only (an Assert that fails stops the "
                                               "reference with its node named)"),
    "control": ("""Enter Exit LoopCond Merge NextIteration RefEnter RefExit RefIdentity RefMerge RefNextIteration
RefSwitch Switch While StatelessWhile If StatelessIf Case StatelessCase PartitionedCall StatefulPartitionedCall _While
_If""", _LOOPS),
    "arrays": ("""TensorArrayV3 TensorArrayScatterV3 TensorArrayReadV3 TensorArrayWriteV3 TensorArrayGatherV3
TensorArraySizeV3 TensorArrayConcatV3 TensorArraySplitV3 TensorArrayV2 TensorArrayScatterV2 TensorArrayReadV2
TensorArrayWriteV2 TensorArrayGatherV2 TensorArraySizeV2 EmptyTensorList TensorListReserve TensorListFromTensor
TensorListGetItem TensorListSetItem TensorListStack TensorListLength TensorListElementShape TensorListPushBack
TensorListPopBack TensorListConcatV2 TensorListSplit TensorListGather TensorListScatterIntoExistingList
OptionalFromValue OptionalNone OptionalHasValue OptionalGetValue""",  # Optional*: cond_v2 outputs of training graphs
               "loop state (TensorArray / TensorList): lives inside RNN loops, which become block models"),
    "kernels": ("LSTMBlockCell BlockLSTM BlockLSTMV2 GRUBlockCell",
                "TensorFlow's fused RNN kernels: their loops become block models"),
    "conv": ("Conv3D",  # ConvLSTMCell 3-D; Conv2D has a row of its own
             "convolutions of RNN cells and attention: their loops become block models"),
}


def _rows() -> dict[str, Op]:
    rows: dict[str, Op] = {}
    for ops, make in ((_UNARY, _unary), (_BINARY, _binary), (_REDUCE, _reduce)):
        rows.update({op: Op(op, "render", make(path)) for op, path in ops.items()})
    rows.update({op: Op(op, "render", fn) for op, fn in _OTHER.items()})
    rows.update({op: Op(op, "special", why=why) for op, why in _SPECIAL.items()})
    for names, why in _REFERENCE_ONLY.values():
        for op in names.split():
            if op in rows:
                raise ValueError(f"op {op!r} has two rows in the op table")
            rows[op] = Op(op, "reference-only", why=why)
    return rows


#: op type -> its row; an op type with no row is refused by the sandbox
OPS: dict[str, Op] = _rows()
#: op types the sandbox may execute (every row)
ALLOWED: frozenset[str] = frozenset(OPS)


def render_table() -> dict[str, Render]:
    """op type -> render function, for the translator."""
    return {name: row.render for name, row in OPS.items() if row.keras == "render" and row.render is not None}


def _size(value) -> int:
    import numpy as np

    return int(np.asarray(value).size)


def _prod(values) -> int:
    import numpy as np

    out = 1
    for v in np.asarray(values).reshape(-1).tolist():
        out *= max(int(v), 0)
    return out


def _range_length(a) -> int:
    import math

    start, limit, delta = (float(x) for x in a[:3])
    return max(math.ceil((limit - start) / delta), 0) if delta and math.isfinite((limit - start) / delta) else 1 << 62


#: ops whose output can be much larger than their inputs: op -> elements of the output from constant inputs
_GROWTH: dict[str, Callable[[list], int]] = {
    "Fill": lambda a: _prod(a[0]), "Tile": lambda a: _size(a[0]) * _prod(a[1]), "Range": _range_length,
    "OneHot": lambda a: _size(a[0]) * max(int(a[1]), 0),
}


def folded_elements(op: str, args: list) -> Optional[int]:
    """How many elements folding ``op`` on the constant ``args`` would allocate, for the ops that can grow (None for
    the others: their output is no larger than an input)."""
    grow = _GROWTH.get(op)
    return None if grow is None else grow(args)
