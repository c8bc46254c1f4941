"""The op allowlist: what the ground-truth verification may execute of a user's graph.

A ``.meta`` file is a program. Before any part of it runs, the transitive closure of the nodes a fetch needs
(control inputs included) and every node of every library function they call (``While``/``If`` bodies,
``PartitionedCall``) is checked against :data:`ALLOWED_OPS`: pure math, shape manipulation, control flow, tensor
lists/arrays and variable handles. Anything else (file, queue, reader, summary, ``Save``/``Restore``, ``PyFunc``,
``EagerPyFunc``, random ops left after dropout removal, custom ops) is refused with the op and the node named, and
the verification falls back to the weaker rebuilt check, labelled as such.

Variables never run as the user's graph wrote them: reference variables are replaced by constants at import
(``input_map``), resource variables get our own ``AssignVariableOp`` with the checkpoint value; the user's
initializers, ``Assign`` ops, ``Saver`` and optimizer ops are not in the closure of a forward fetch and are never
imported.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Optional

from migration.core.errors import MigrationError
from migration.graph.graphdef import GraphIndex

_MATH = """Abs Acos Acosh Add AddN AddV2 All Any ArgMax ArgMin Asin Asinh Atan Atan2 Atanh BatchMatMul BatchMatMulV2
BatchMatMulV3 BiasAdd BiasAddV1 Cast Ceil ClipByValue Cos Cosh Cumprod Cumsum Div DivNoNan Elu Equal Erf Erfc Exp
Expm1 Floor FloorDiv FloorMod Greater GreaterEqual InvertPermutation IsFinite IsInf IsNan L2Loss LeakyRelu Less
LessEqual Log Log1p LogSoftmax LogicalAnd LogicalNot LogicalOr MatMul Max Maximum Mean Min Minimum Mod Mul MulNoNan
Neg NotEqual OneHot Pow Prod RealDiv Reciprocal Relu Relu6 Rint Round Rsqrt Select SelectV2 Selu Sigmoid Sign Sin
Sinh Softmax Softplus Softsign Sqrt Square SquaredDifference Sub Sum Tan Tanh TopKV2 TruncateDiv Xdivy Xlogy
SparseSoftmaxCrossEntropyWithLogits SoftmaxCrossEntropyWithLogits
Conv2D"""  # Conv2D: legacy_seq2seq attention_decoder's 1x1 convolution AttnW_k (pure math)
_SHAPE = """BroadcastArgs BroadcastGradientArgs BroadcastTo CheckNumerics Concat ConcatOffset ConcatV2 Const
DynamicPartition DynamicStitch EnsureShape ExpandDims Fill Gather GatherNd GatherV2 Identity IdentityN MirrorPad
NoOp OnesLike Pack Pad PadV2 ParallelDynamicStitch Placeholder PlaceholderWithDefault PreventGradient Range Rank
Reshape ResourceGather ReverseSequence ReverseV2 Shape ShapeN Size Slice Snapshot Split SplitV Squeeze StopGradient
StridedSlice Tile Transpose Unique Unpack Where ZerosLike Assert"""
_CONTROL = """Enter Exit LoopCond Merge NextIteration RefEnter RefExit RefIdentity RefMerge RefNextIteration RefSwitch
Switch ControlTrigger While StatelessWhile If StatelessIf Case StatelessCase PartitionedCall StatefulPartitionedCall
_While _If"""
_ARRAYS = """TensorArrayV3 TensorArrayScatterV3 TensorArrayReadV3 TensorArrayWriteV3 TensorArrayGatherV3
TensorArraySizeV3 TensorArrayConcatV3 TensorArraySplitV3 TensorArrayV2 TensorArrayScatterV2 TensorArrayReadV2
TensorArrayWriteV2 TensorArrayGatherV2 TensorArraySizeV2 EmptyTensorList TensorListReserve TensorListFromTensor
TensorListGetItem TensorListSetItem TensorListStack TensorListLength TensorListElementShape TensorListPushBack
TensorListPopBack TensorListConcatV2 TensorListSplit TensorListGather TensorListScatterIntoExistingList
OptionalFromValue OptionalNone OptionalHasValue OptionalGetValue"""  # Optional*: cond_v2 outputs of a training graph
_VARIABLES = "VariableV2 Variable VarHandleOp ReadVariableOp"
_RNN_KERNELS = "LSTMBlockCell BlockLSTM BlockLSTMV2 GRUBlockCell Conv2D Conv3D"  # Conv2D/3D: ConvLSTMCell; Conv2D: AttentionCellWrapper

#: Op types the ground-truth verification may execute.
ALLOWED_OPS: frozenset[str] = frozenset(" ".join([_MATH, _SHAPE, _CONTROL, _ARRAYS, _VARIABLES, _RNN_KERNELS]).split())

#: Why well-known refused ops are refused (others: "not on the allowlist").
_REASONS = {
    "WriteFile": "writes a file", "ReadFile": "reads a file", "MatchingFiles": "lists files",
    "PyFunc": "runs Python code", "EagerPyFunc": "runs Python code", "PyFuncStateless": "runs Python code",
    "Save": "writes a checkpoint", "SaveV2": "writes a checkpoint", "SaveSlices": "writes a checkpoint",
    "Restore": "reads a checkpoint", "RestoreV2": "reads a checkpoint", "RestoreSlice": "reads a checkpoint",
    "Assign": "changes a variable", "AssignVariableOp": "changes a variable", "AssignAdd": "changes a variable",
    "RandomUniform": "is random (not a dropout the verification recognizes)",
    "RandomStandardNormal": "is random", "TruncatedNormal": "is random",
}


class SandboxRefusal(MigrationError):
    """The graph needs an op outside the allowlist; nothing was executed."""

    def __init__(self, op: str, node: str, function: Optional[str],
                 refused: Optional[list[tuple[str, str, Optional[str]]]] = None) -> None:
        where = f"node {node!r}" + (f" in function {function!r}" if function else "")
        reason = _REASONS.get(op, "is not on the allowlist of pure math / control-flow ops")
        refused = refused or [(op, node, function)]
        more = ""
        if len(refused) > 1:
            shown = ", ".join(f"{o} ({n})" for o, n, _ in refused[1:9])
            more = f"; also refused: {shown}" + (f" and {len(refused) - 9} more" if len(refused) > 9 else "")
        super().__init__(f"the original graph was not executed: op {op!r} at {where} {reason}{more}")
        self.op, self.node, self.function, self.refused = op, node, function, refused


@dataclasses.dataclass
class SandboxReport:
    nodes: int
    functions: int
    op_types: list[str]


def check(index: GraphIndex, fetches: Iterable[str], stop: Iterable[str] = ()) -> SandboxReport:
    """Raise :class:`SandboxRefusal` for the first disallowed op needed by ``fetches``; else describe the closure.

    ``stop``: nodes whose outputs are replaced before execution (their own inputs are not needed)."""
    names, functions = index.closure(fetches, stop)
    ops: set[str] = set()
    for fname in functions:
        if fname not in index.fn_contexts:
            raise SandboxRefusal("<missing function>", fname, None)
    refused: list[tuple[str, str, Optional[str]]] = []
    for function, node in index.iter_nodes(names, functions):
        if node.op not in ALLOWED_OPS:
            refused.append((node.op, node.name, function))
        ops.add(node.op)
    if refused:  # name the worst first: a known I/O or code op before a merely unknown one
        refused.sort(key=lambda r: (r[0] not in _REASONS, r[1]))
        raise SandboxRefusal(*refused[0], refused=refused)
    return SandboxReport(len(names), len(functions), sorted(ops))
