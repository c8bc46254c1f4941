"""Run the user's original graph as the reference: variables replaced by their checkpoint values.

Steps for one :meth:`OriginalGraph.run`:

1. the ``.meta`` ``GraphDef`` is copied and every dropout subgraph bypassed (:mod:`migration.graph.rewrite`);
2. the closure of the fetches (stopping at the tensors we feed) is checked by the sandbox
   (:func:`migration.graph.sandbox.check`): a disallowed op refuses before anything runs;
3. only that closure (and the functions it calls) is imported into a fresh ``tf.Graph`` with ``input_map``: each
   reference variable (``VariableV2``) becomes a placeholder fed with its checkpoint value (partition ``part_k`` gets
   its slice of the saved full tensor), each fed tensor becomes a placeholder;
4. resource variables (``VarHandleOp``, read inside loop bodies where ``input_map`` cannot reach) get an
   ``AssignVariableOp`` of ours with the checkpoint value, run before the fetch; the variable's key is the handle's
   ``shared_name``.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from migration.core.errors import MigrationError
from migration.graph import sandbox, worker
from migration.graph.graphdef import GraphIndex, load_meta_graph, node_dtype, ref, slice_infos
from migration.graph.limits import current as current_limits
from migration.graph.cond_rewrite import remove_pass_through_conds
from migration.graph.rewrite import remove_dropout
from migration.graph.training_conds import take_inference_branches
from migration.graph.update_rewrite import detach_updates

_REF_VARIABLES = ("VariableV2", "Variable")


@dataclasses.dataclass(frozen=True)
class VariableSource:
    """Where a graph variable's value comes from: checkpoint ``key``, optionally a slice (partitioned variables)."""

    key: str
    offset: tuple[int, ...] = ()
    shape: tuple[int, ...] = ()


def _partitions(meta) -> dict[str, VariableSource]:
    collections = ("variables", "trainable_variables", "local_variables", "model_variables")
    return {node: VariableSource(full, offsets, shape)
            for node, full, offsets, shape, _ in slice_infos(meta, collections)}


class OriginalGraph:
    """The ``.meta`` graph of a checkpoint, runnable with checkpoint values (see the module docstring)."""

    def __init__(self, meta_path: str, reader, substitute: Optional[Mapping[str, str]] = None) -> None:
        """``substitute``: checkpoint key -> the key whose value to use instead (``convert --use-ema``: each
        variable's ExponentialMovingAverage shadow, as TF1's ``Saver(ema.variables_to_restore())`` evaluation did)."""
        meta = load_meta_graph(meta_path)
        self.path = meta_path
        self.reader = reader
        self.substitute = dict(substitute or {})
        self.graph_def = copy.deepcopy(meta.graph_def)
        self.dropout_bypassed = remove_dropout(self.graph_def)
        self.dropout_bypassed += remove_pass_through_conds(self.graph_def)  # tf.cond(training, dropout, identity)
        self.inference_branches = take_inference_branches(self.graph_def)  # batch norm(training=flag): moving stats
        updates = meta.collection_def["update_ops"].node_list.value if "update_ops" in meta.collection_def else ()
        self.updates_detached = detach_updates(self.graph_def, updates)  # batch norm's moving averages: no model op
        self.index = GraphIndex(self.graph_def)
        self._parts = _partitions(meta)
        self._cache: dict[str, np.ndarray] = {}

    # -- variables ------------------------------------------------------------------------------------------------

    def variable_source(self, node) -> VariableSource:
        if node.name in self._parts:
            return self._parts[node.name]
        if node.op == "VarHandleOp":
            shared = node.attr["shared_name"].s.decode() if "shared_name" in node.attr else ""
            name = shared or node.name
            return self._parts.get(name, VariableSource(name))
        return VariableSource(node.name)

    def variable_value(self, node, ids: Optional[np.ndarray] = None) -> np.ndarray:
        """The checkpoint value of variable ``node`` (its slice for a partition). With ``ids`` (the caller knows
        the variable is only the params of Gathers of those ids), a large 2-D variable comes back as a zero
        buffer with only the rows those ids can reach filled (see :meth:`_sampled_value`)."""
        src = self.variable_source(node)
        if src.key in self.substitute:
            src = dataclasses.replace(src, key=self.substitute[src.key])
        if src.key not in self.reader.variables:
            raise MigrationError(f"The graph {self.path!r} reads variable {node.name!r} (checkpoint key {src.key!r}), "
                                 f"which the checkpoint {self.reader.prefix!r} does not hold: the .meta belongs to "
                                 "another model, or the Saver renamed variables.")
        if ids is not None:
            sampled = self._sampled_value(src, ids)
            if sampled is not None:
                return sampled
        if src.offset:
            rows = self._part_rows(src)
            if rows is not None:
                return rows
        full = self.reader.read(src.key)
        if src.offset:
            full = np.array(full[tuple(slice(o, o + s) for o, s in zip(src.offset, src.shape))])  # not a view: the
            # full tensor is freed, so P parts never hold P copies of it
        return np.asarray(full)

    def _part_rows(self, src: VariableSource) -> Optional[np.ndarray]:
        """Partition ``src`` (rows ``[offset, offset + shape[0])`` of the saved full tensor, every column) read from
        the data files alone (:func:`migration.core.bundle_stream.read_rows`: its stored piece CRC-checked), not the
        whole tensor; None when the part is not a row range or the bundle is not streamable."""
        from migration.core import bundle_stream as stream

        layout_of = getattr(self.reader, "layout", None)
        layout = layout_of(src.key) if layout_of is not None else None
        if layout is None or not layout.shape or len(src.offset) != len(layout.shape) or \
                any(src.offset[1:]) or tuple(src.shape[1:]) != tuple(layout.shape[1:]):
            return None
        return stream.read_rows(layout, int(src.offset[0]), int(src.offset[0]) + int(src.shape[0]))

    def _sampled_of(self, node, ids: np.ndarray) -> Optional[np.ndarray]:
        rows = self._sampled_rows_of(node, ids)
        return None if rows is None else _materialize(rows)

    def _sampled_rows_of(self, node, ids: np.ndarray) -> Optional[worker.SparseRows]:
        src = self.variable_source(node)
        if src.key in self.substitute:
            src = dataclasses.replace(src, key=self.substitute[src.key])
        return self._sampled_rows(src, ids) if src.key in self.reader.variables else None

    def _sampled_value(self, src: VariableSource, ids: np.ndarray) -> Optional[np.ndarray]:
        """A 64-byte-aligned zero buffer of the variable's (or partition's) shape with the rows ``ids`` can reach
        filled from the checkpoint (:meth:`_sampled_rows`); None when the tensor is small or not streamable."""
        rows = self._sampled_rows(src, ids)
        return None if rows is None else _materialize(rows)

    def _sampled_rows(self, src: VariableSource, ids: np.ndarray) -> Optional[worker.SparseRows]:
        """The rows ``ids`` can reach of the variable's (or partition's) shape, read from the checkpoint; None when
        the tensor is small or not streamable (then it is read whole).

        The sandbox child rebuilds the value as a fresh anonymous mapping (:func:`zero_buffer`: untouched pages cost
        no memory) and TensorFlow feeds an aligned array without copying it, so the reference holds only the
        sampled rows. For partition ``p`` of ``P`` both lookups' rows are filled: ``div`` (id - the partition's first
        row) and ``mod`` (id // P for id % P == p)."""
        from migration.core import bundle_stream as stream
        from migration.graph.keras_stream import STREAM_MIN_BYTES

        layout_of = getattr(self.reader, "layout", None)
        layout = layout_of(src.key) if layout_of is not None else None
        if layout is None or len(layout.shape) != 2:
            return None
        shape = tuple(src.shape) if src.shape else tuple(layout.shape)
        # the whole variable's size decides, as for the Keras side (migration.graph.to_keras): each part of a
        # partitioned embedding may be small while the parts together are not
        if int(np.prod(layout.shape, dtype=np.int64)) * 4 < STREAM_MIN_BYTES:
            return None
        first = int(src.offset[0]) if src.offset else 0
        ids = np.unique(np.asarray(ids, np.int64).reshape(-1))
        ids = ids[(ids >= 0) & (ids < layout.shape[0])]
        local = ids - first
        if src.shape:
            offsets = sorted(s.offset[0] for s in self._parts.values() if s.key == src.key and s.offset)
            parts, p = len(offsets), offsets.index(first) if first in offsets else -1
            if parts > 1 and p >= 0:
                local = np.concatenate([local, ids[ids % parts == p] // parts])
        local = np.unique(local[(local >= 0) & (local < shape[0])])
        rows = stream.gather_rows(layout, local + first) if len(local) else \
            np.zeros((0,) + shape[1:], layout.dtype)
        return worker.SparseRows(shape, np.dtype(layout.dtype), local, rows)

    def _gathered_only(self, name: str, within: set) -> bool:
        """True when variable ``name`` is read (in the nodes ``within``) only as the params of Gathers, directly or
        through ``Identity``/``ReadVariableOp``: then only the gathered rows matter."""
        return _gathered_only_impl(self.index, name, within)

    # -- running --------------------------------------------------------------------------------------------------

    def closure(self, fetches: Sequence[str], feeds: Sequence[str]) -> tuple[list[str], list[str]]:
        """Main-graph nodes and library functions the fetches need; fed tensors' producers are not walked through."""
        return self.index.closure(fetches, {ref(t)[0] for t in feeds})

    def check(self, fetches: Sequence[str], feeds: Sequence[str]) -> sandbox.SandboxReport:
        """Sandbox check of what :meth:`run` would execute (raises :class:`SandboxRefusal`)."""
        report = sandbox.check(self.index, fetches, {ref(t)[0] for t in feeds})
        fed = {ref(t)[0] for t in feeds}
        names, _ = self.closure(fetches, feeds)
        for n in names:
            node = self.index.nodes[n]
            if node.op == "Placeholder" and n not in fed:
                raise MigrationError(f"the original graph was not executed: the fetches need placeholder {n!r}, "
                                     "which the verification does not feed")
        return report

    def run(self, fetches: Sequence[str], feeds: Mapping[str, np.ndarray],
            ids: Optional[np.ndarray] = None) -> list[np.ndarray]:
        """Values of the tensors ``fetches`` (original-graph names like ``'Train/Model/add:0'``) given ``feeds``
        (original tensor name -> value: placeholders or any intermediate tensor). ``ids``: the only ids any
        embedding lookup can see (e.g. every integer fed): large variables read only by Gathers then hold only the
        rows those ids reach (:meth:`_sampled_value`; rows any other id reaches read as zeros).

        The sandbox check and the structural limits run here; the graph itself runs in the sandbox child
        (:mod:`migration.graph.worker`) under the resource limits of :mod:`migration.graph.limits`."""
        fetches = [f if ":" in f else f + ":0" for f in fetches]
        self.check(fetches, list(feeds))
        limits = current_limits()
        names, fns = self.closure(fetches, list(feeds))
        within = set(names)
        fed: dict[str, Any] = {}
        multi: dict[str, dict[int, np.ndarray]] = {}  # a dequeue's outputs (queue- and tf.data-fed graphs)
        for name, value in feeds.items():
            node_name, idx, _ = ref(name)
            if node_name in within:
                multi.setdefault(node_name, {})[idx] = np.asarray(value)
        for node_name in [n for n, by in multi.items() if set(by) == {0}]:
            fed[node_name] = multi.pop(node_name)[0]
        # a resource variable only gathered: fed as a (sampled) tensor, its ResourceGather/ReadVariableOp readers
        # rewritten to GatherV2/Identity (an AssignVariableOp would copy the whole buffer)
        as_tensor = {}
        if ids is not None:
            for n in names:
                node = self.index.nodes[n]
                if node.op == "VarHandleOp" and n not in fed and self._gathered_only(n, within):
                    value = self._sampled_rows_of(node, ids)
                    if value is not None:
                        as_tensor[n] = fed[n] = value
        sub = self._subgraph(names, fns, fed, as_tensor)
        if multi:
            fed_outputs(sub, multi, fed)
        mapped, assigned = {}, {}
        for n in names:
            node = self.index.nodes[n]
            if n in fed or n in multi:
                continue
            if node.op in _REF_VARIABLES:
                mapped[n + ":0"] = self._feed_value(node, ids, within)
            elif node.op == "VarHandleOp":
                assigned[n] = self._feed_value(node, ids, within)
        request = worker.Request(sub.SerializeToString(), fetches, mapped, fed, assigned)
        return worker.run(request, limits)

    def _feed_value(self, node, ids: Optional[np.ndarray], within: set):
        """A variable's value for the child: its sampled rows (:class:`SparseRows`) when only gathered, else whole."""
        if ids is not None and self._gathered_only(node.name, within):
            sampled = self._sampled_rows_of(node, ids)
            if sampled is not None:
                return sampled
        return self.variable_value(node)

    def _subgraph(self, names: list[str], fns: list[str], fed: dict, as_tensor: dict):
        """The closure as a ``GraphDef``: fed nodes become placeholders (nothing upstream is imported), device
        placement and colocation cleared (also inside loop-body functions)."""
        import tensorflow as tf
        from tensorflow.core.framework import graph_pb2

        sub = graph_pb2.GraphDef()
        sub.versions.CopyFrom(self.graph_def.versions)
        for n in names:
            if n in fed:
                node = self.index.nodes[n]
                dtype = output_dtype(node)
                value = fed[n]
                if dtype is not None and not isinstance(value, worker.SparseRows):
                    fed[n] = value = value.astype(dtype.as_numpy_dtype, copy=False)
                ph = sub.node.add(name=n, op="Placeholder")
                ph.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
            else:
                sub.node.append(self.index.nodes[n])
                if as_tensor and any(ref(i)[0] in as_tensor for i in sub.node[-1].input):
                    _read_as_tensor(sub, sub.node[-1])
        sub.library.function.extend(self.index.functions[f] for f in fns)
        # placement of the original cluster (PS tasks, GPUs, a second CPU) and colocation with other nodes, also
        # inside the loop-body functions of a dynamic_rnn placed on a device
        for node in [*sub.node, *(n for f in sub.library.function for n in f.node_def)]:
            node.device = ""
            if "_class" in node.attr:
                del node.attr["_class"]
        return sub


def fed_outputs(sub, multi: dict[str, dict[int, np.ndarray]], fed: dict) -> None:
    """Feed outputs of a multi-output node (a queue's or an iterator's dequeue): each fed output becomes a
    placeholder of its own that its readers read; the node itself (and its queue) is not imported."""
    import tensorflow as tf

    rename = {}
    for name, by_index in multi.items():
        for k, value in by_index.items():
            ph_name = f"{name}/rnn_migrate_fed_{k}"
            ph = sub.node.add(name=ph_name, op="Placeholder")
            ph.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
            fed[ph_name] = value
            rename[(name, k)] = ph_name
    keep = [n for n in sub.node if n.name not in multi]
    for node in keep:
        new = []
        for inp in node.input:
            base, idx, control = ref(inp)
            if base in multi:
                if control:
                    continue
                if (base, idx) not in rename:
                    raise MigrationError(f"output {idx} of {base!r} is needed but not fed")
                new.append(rename[(base, idx)])
            else:
                new.append(inp)
        del node.input[:]
        node.input.extend(new)
    del sub.node[:]
    sub.node.extend(keep)


def _materialize(rows: worker.SparseRows) -> np.ndarray:
    value = zero_buffer(rows.shape, rows.dtype)
    if len(rows.index):
        value[rows.index] = rows.rows
    return value


_MAP_NORESERVE = 0x4000  # Linux; Python's mmap module does not export it


def zero_buffer(shape: Sequence[int], dtype) -> np.ndarray:
    """A zero array backed by a fresh anonymous mapping: page-aligned (TensorFlow feeds it without a copy), and only
    the pages written cost memory. On Linux the mapping is ``MAP_NORESERVE``, so a buffer larger than RAM + swap (an
    embedding of tens of GB) is not refused by the kernel's overcommit heuristic; elsewhere ``np.zeros``."""
    import mmap
    import sys

    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if sys.platform.startswith("linux") and nbytes > 0:
        try:
            region = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE)
            return np.frombuffer(region, dtype).reshape(shape)
        except (OSError, ValueError):
            pass
    raw = np.zeros(nbytes + 64, np.uint8)
    start = (-raw.ctypes.data) % 64
    return raw[start:start + nbytes].view(dtype).reshape(shape)


_GATHERS = ("GatherV2", "Gather", "ResourceGather")


def _gathered_only_impl(index, name: str, within: set) -> bool:
    found, todo, seen = False, [name], {name}
    while todo:
        n = todo.pop()
        for c in index.consumers(n):
            if c.name not in within or c.name in seen:
                continue
            inputs = [ref(i) for i in c.input]
            if c.op in ("Identity", "ReadVariableOp") and len(c.input) >= 1 and inputs[0][0] == n and \
                    not inputs[0][2]:
                seen.add(c.name)
                todo.append(c.name)
            elif c.op in _GATHERS and inputs[0][0] == n and not inputs[0][2] and all(i[0] != n for i in inputs[1:]):
                found = True
            else:
                return False
    return found


def _read_as_tensor(sub, node) -> None:
    """Rewrite a reader of a resource variable that is fed as a tensor: ``ReadVariableOp`` -> ``Identity``,
    ``ResourceGather(var, ids)`` -> ``GatherV2(var, ids, 0)`` (same rows, same output)."""
    import tensorflow as tf

    dtype = node.attr["dtype"].type
    if node.op == "ReadVariableOp":
        node.op = "Identity"
    elif node.op == "ResourceGather":
        axis = sub.node.add(name=node.name + "/_rnn_migrate_axis", op="Const")
        axis.attr["dtype"].type = tf.int32.as_datatype_enum
        axis.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(0, tf.int32))
        node.op = "GatherV2"
        node.input.insert(2, axis.name)
        node.attr["Tparams"].type = dtype
        node.attr["Taxis"].type = tf.int32.as_datatype_enum
        if "validate_indices" in node.attr:
            del node.attr["validate_indices"]
        del node.attr["dtype"]
        return
    else:
        raise MigrationError(f"internal error: {node.op} {node.name!r} reads a variable fed as a tensor")
    node.attr["T"].type = dtype
    del node.attr["dtype"]


#: ops whose output is bool whatever their ``T`` attribute says (``raw_rnn``'s first flags: ``0 >= lengths``)
_BOOL_OUTPUTS = frozenset({"Less", "LessEqual", "Greater", "GreaterEqual", "Equal", "NotEqual", "ApproximateEqual",
                           "IsNan", "IsInf", "IsFinite", "InTopK", "InTopKV2"})


def output_dtype(node):
    """The dtype of a node's first output, from its attributes (None when they do not say)."""
    if node.op in _BOOL_OUTPUTS:  # their ``T`` is the inputs' dtype
        import tensorflow as tf

        return tf.bool
    for key in ("dtype", "DstT", "out_type", "T", "Tidx"):
        if key in node.attr and node.attr[key].WhichOneof("value") == "type":
            return node_dtype(node, key)
    return None

