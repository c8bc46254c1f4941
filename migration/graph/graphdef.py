"""Index a ``GraphDef`` (and its function library) without importing or executing it.

Node inputs come in two spellings: main-graph ``"node:1"`` / ``"^node"`` and function-body ``"node:out_arg:1"``;
:func:`ref` reads both. A *context* is the main graph (``None``) or one library function (its name).
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Iterator, Optional

from migration.core.errors import MigrationError


class MissingNode(MigrationError, KeyError):
    """A node input (or a fetch) names a node the graph does not hold: a damaged or edited ``.meta``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "missing node"


def node_dtype(node, key: str = "dtype"):
    """The ``tf.DType`` of attribute ``key`` of ``node``; :class:`MigrationError` naming the node for an invalid one."""
    import tensorflow as tf

    enum = node.attr[key].type if key in node.attr else 0
    try:
        return tf.as_dtype(enum)
    except TypeError:
        raise MigrationError(f"node {node.name!r} ({node.op}) has an invalid {key} attribute ({enum}): the .meta is "
                             "damaged or edited") from None


def ref(inp: str) -> tuple[str, int, bool]:
    """``'a/b:2'`` -> ``('a/b', 2, False)``; ``'a/b:z:0'`` -> ``('a/b', 0, False)``; ``'^a'`` -> ``('a', -1, True)``."""
    if inp.startswith("^"):
        return inp[1:], -1, True
    parts = inp.split(":")
    idx = int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 0
    return parts[0], idx, False


def through_identity(nodes, tensor: str, limit: int = 8) -> str:
    """``tensor`` followed back through ``Identity`` nodes (at most ``limit``) in ``nodes`` (name -> NodeDef): what
    they pass on (TF 2.x puts an Identity after some ``While`` outputs, e.g. ``while/Identity_3`` for ``while:3``)."""
    for _ in range(limit):
        node = nodes.get(ref(tensor)[0])
        if node is None or node.op != "Identity" or not node.input:
            return tensor
        tensor = node.input[0]
    return tensor


def tensor_name(inp: str) -> str:
    """A node input as a tensor name: ``'a/b'`` -> ``'a/b:0'``, ``'a/b:2'`` -> ``'a/b:2'`` (see :func:`ref`)."""
    name, idx, _ = ref(inp)
    return f"{name}:{idx}"


#: ops whose result depends on their input's shape only, never on its values
SHAPE_OPS = frozenset({"Shape", "ShapeN", "Size", "Rank"})


def is_training_op(name: str) -> bool:
    """True for a node of the training machinery by its name: gradients, optimizer updates, the Saver's ops."""
    first = name.split("/", 1)[0]
    return any(p == "gradients" or p.startswith(("gradients_", "update_")) for p in name.split("/")) or \
        first == "save" or first.startswith("save_")


def func_attrs(node) -> list[str]:
    """Names of the library functions a node calls (While cond/body, If branches, PartitionedCall f, ...), through any
    attribute: a func, a list of funcs, and the funcs named inside a func attribute's own attributes (a function's
    body can call what its caller passes it), at any nesting depth (walked iteratively)."""
    out: list[str] = []
    todo = list(node.attr.values())
    while todo:
        value = todo.pop()
        kind = value.WhichOneof("value")
        if kind == "func":
            funcs = [value.func]
        elif kind == "list":
            funcs = list(value.list.func)
        else:
            continue
        for func in funcs:
            if func.name:
                out.append(func.name)
            todo.extend(func.attr.values())
    return out


#: the most elements a ``Const`` may declare beyond what it stores (TensorFlow repeats its last value to fill it)
MAX_BROADCAST_ELEMENTS = 1 << 26


def const_value(node):
    """The value of a ``Const`` node as a NumPy array; :class:`MigrationError` when its declared shape is larger than
    what it stores by more than :data:`MAX_BROADCAST_ELEMENTS` (a one-value constant edited to ``[10**6, 10**6]``
    would be expanded to the full size here)."""
    import numpy as np
    import tensorflow as tf

    proto = node.attr["value"].tensor
    elements = 1
    for d in proto.tensor_shape.dim:
        elements *= max(int(d.size), 0)
    try:
        itemsize = np.dtype(tf.as_dtype(proto.dtype).as_numpy_dtype).itemsize
    except TypeError:
        raise MigrationError(f"constant {node.name!r} has an invalid dtype ({proto.dtype})") from None
    if elements > MAX_BROADCAST_ELEMENTS and len(proto.tensor_content) < elements * itemsize:
        raise MigrationError(f"constant {node.name!r} declares shape {[int(d.size) for d in proto.tensor_shape.dim]} "
                             "but stores far fewer values: refused (the .meta is edited or damaged)")
    try:
        return tf.make_ndarray(proto)
    except (TypeError, ValueError) as exc:
        raise MigrationError(f"constant {node.name!r} cannot be read ({exc})") from None


@dataclasses.dataclass
class Context:
    """The nodes of the main graph (``function=None``) or of one library function."""

    function: Optional[str]
    nodes: dict  # name -> NodeDef

    def consumers(self) -> dict[str, list]:
        out: dict[str, list] = {}
        for node in self.nodes.values():
            for inp in node.input:
                out.setdefault(ref(inp)[0], []).append(node)
        return out


class GraphIndex:
    """A ``GraphDef`` with name lookups, consumers and reachability over the function library."""

    def __init__(self, graph_def) -> None:
        self.graph_def = graph_def
        self.main = Context(None, {n.name: n for n in graph_def.node})
        self.functions = {f.signature.name: f for f in graph_def.library.function}
        self.fn_contexts = {name: Context(name, {n.name: n for n in f.node_def}) for name, f in self.functions.items()}
        self._consumers: Optional[dict[str, list]] = None

    @property
    def nodes(self) -> dict:
        return self.main.nodes

    def consumers(self, name: str) -> list:
        if self._consumers is None:
            self._consumers = self.main.consumers()
        return self._consumers.get(name, [])

    def node(self, name: str):
        return self.main.nodes.get(name)

    def closure(self, fetches: Iterable[str], stop: Iterable[str] = ()) -> tuple[list[str], list[str]]:
        """Main-graph nodes needed to compute ``fetches`` (node names; control inputs included) and the library
        functions they call, transitively. Nodes in ``stop`` (inputs replaced before execution) are included but
        not walked through."""
        stop = set(stop)
        seen: dict[str, None] = {}
        todo = [ref(f)[0] for f in fetches]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            node = self.main.nodes.get(name)
            if node is None:
                raise MissingNode(f"the graph has no node {name!r} (an input of a node the fetches need, or a fetch): "
                                  "the .meta is damaged or edited")
            seen[name] = None
            if name in stop:
                continue
            todo += [ref(i)[0] for i in node.input]
        fns = self.reachable_functions(self.main.nodes[n] for n in seen)
        return list(seen), fns

    def reachable_functions(self, nodes: Iterable) -> list[str]:
        fns: dict[str, None] = {}
        todo = [f for n in nodes for f in func_attrs(n)]
        while todo:
            fname = todo.pop()
            if fname in fns:
                continue
            fns[fname] = None
            if fname in self.fn_contexts:
                todo += [f for n in self.fn_contexts[fname].nodes.values() for f in func_attrs(n)]
        return list(fns)

    def iter_nodes(self, names: Iterable[str], functions: Iterable[str]) -> Iterator[tuple[Optional[str], object]]:
        """(context, NodeDef) for the given main-graph nodes and every node of the given functions."""
        for name in names:
            yield None, self.main.nodes[name]
        for fname in functions:
            ctx = self.fn_contexts.get(fname)
            if ctx is not None:
                for node in ctx.nodes.values():
                    yield fname, node


def slice_infos(meta, collections: Iterable[str] = ("variables", "trainable_variables")) -> Iterator[tuple]:
    """``(part node, full name, offsets, part shape, full shape)`` of every partitioned variable (``save_slice_info``)
    in the ``VariableDef`` collections of a ``MetaGraphDef``; the Saver writes the full tensor under the full name."""
    from tensorflow.core.framework import variable_pb2

    for key in collections:
        if key not in meta.collection_def:
            continue
        for raw in meta.collection_def[key].bytes_list.value:
            vd = variable_pb2.VariableDef()
            vd.ParseFromString(raw)
            info = vd.save_slice_info_def
            if info.full_name:
                yield (vd.variable_name.split(":")[0], info.full_name, tuple(int(v) for v in info.var_offset),
                       tuple(int(v) for v in info.var_shape), tuple(int(v) for v in info.full_shape))


def load_meta_graph(path: str):
    """Parse a ``.meta`` file into a ``MetaGraphDef`` (protobuf parsing only)."""
    from tensorflow.core.protobuf import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    try:
        with open(path, "rb") as f:
            meta.ParseFromString(f.read())
    except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
        raise MigrationError(f"Cannot parse {path!r} as a MetaGraphDef ({exc}). Use the .meta written with the "
                             "checkpoint, or move it away to convert from the checkpoint alone.") from None
    return meta
