"""Read what checkpoints do not store from the ``.meta`` MetaGraphDef, by parsing the protobuf only.

The graph is **never imported or executed**: ``MetaGraphDef.ParseFromString`` (:mod:`migration.core.tfproto`'s
messages: TensorFlow is not imported) and a walk over ``NodeDef`` lists (the main graph and every function of its
library, where TF2 control flow puts ``while_loop`` bodies). What is read:

* hyper-parameters of each TF1 cell: ``forget_bias`` (the Const added to the ``f`` output of the gate ``Split``, as
  ``BasicLSTMCell``/``LSTMCell`` build it), ``cell_clip`` / ``proj_clip`` (the ``clip_by_value`` Consts; the one
  applied to the projection ``MatMul`` is ``proj_clip``), the activation (the op applied to the candidate);
* variable shapes as the graph declared them, and partitioned variables (``save_slice_info``: ``emb/part_k``);
* embedding lookups: which variable a ``Gather`` reads and, for partitioned variables, the strategy (``'div'``
  builds a ``Maximum`` in the lookup scope, ``'mod'`` does not); NumPy matrices embedded as ``Const`` nodes feeding
  a ``Gather`` (seed 004's GloVe), extracted from the proto's ``tensor_content``;
* optimizer constants (``Adam/beta1``, ``Adam/epsilon``, ``Adam/learning_rate`` ...).
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Iterable, Optional

import numpy as np

from migration.core.errors import MigrationError
from migration.core.regular_files import read_regular
from migration.core.tfproto import MetaGraphDef, dtype_name, make_ndarray, slice_infos
from migration.families import family
from migration.families.row import META_LAYER_NORM_FORGET, META_LSTM_GATES, META_RNN_ACTIVATION

_ACTIVATIONS = {"Tanh": "tanh", "Relu": "relu", "Sigmoid": "sigmoid", "Elu": "elu", "Softsign": "softsign",
                "Identity": "linear"}
_VARIABLE_OPS = ("VariableV2", "VarHandleOp", "Variable")
_BLOCK_LSTM_OPS = ("LSTMBlockCell", "BlockLSTM", "BlockLSTMV2")
_LOOP_OPS = ("While", "StatelessWhile", "_While")
_FORWARD = ("Identity", "ReadVariableOp", "Enter", "RefEnter", "Switch", "RefSwitch", "Merge", "RefMerge")
_GATHER_OPS = ("GatherV2", "Gather", "ResourceGather")
_FLOAT_DTYPES = (1, 2, 19)  # DataType float32, float64, float16
_OPT_CONST = re.compile(r"^(?:.*/)?(\w+)/(learning_rate|lr|beta1|beta2|epsilon|momentum|decay|rho|"
                        r"initial_accumulator_value|learning_rate_power|l1_regularization_strength|"
                        r"l2_regularization_strength|l2_shrinkage_regularization_strength|beta)$")


@dataclasses.dataclass
class _Context:
    """The nodes of the main graph (``function=None``) or of one library function."""

    function: Optional[str]
    nodes: dict  # name -> NodeDef


@dataclasses.dataclass(frozen=True)
class ConstEmbedding:
    """A float matrix embedded in the graph as a Const feeding a Gather (not in the checkpoint)."""

    node: str
    shape: tuple[int, ...]
    dtype: str
    lookup: str


def _ref(inp: str) -> tuple[str, int]:
    """``'a/b:2'`` or ``'a/b:output:2'`` -> ``('a/b', 2)``; control inputs ``'^x'`` -> ``('x', -1)``."""
    if inp.startswith("^"):
        return inp[1:], -1
    parts = inp.split(":")
    idx = int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 0
    return parts[0], idx


def _norm(scope: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", scope)


class MetaGraph:
    """A parsed ``.meta`` file."""

    def __init__(self, path: str) -> None:
        self.path = path
        meta = MetaGraphDef()
        data = read_regular(path, "graph file (.meta)")  # a named pipe would block the read for ever
        try:
            meta.ParseFromString(data)
        except Exception as exc:
            raise MigrationError(
                f"Cannot parse {path!r} as a MetaGraphDef ({exc}). Delete or move the damaged .meta file to convert "
                "with default hyper-parameters (and pass --forget-bias if the model used another value)."
            ) from None
        gd = meta.graph_def
        #: the Saver that wrote the checkpoint beside it (migration.checkpoint.provenance); None without one
        self.saver_def = meta.saver_def if meta.HasField("saver_def") else None
        self.contexts = [_Context(None, {n.name: n for n in gd.node})]
        self.contexts += [_Context(f.signature.name, {n.name: n for n in f.node_def}) for f in gd.library.function]
        self.main = self.contexts[0].nodes
        self.graph_shapes: dict[str, tuple[int, ...]] = {}
        for node in gd.node:
            if node.op in _VARIABLE_OPS and "shape" in node.attr:
                dims = node.attr["shape"].shape.dim
                self.graph_shapes[node.name] = tuple(int(d.size) for d in dims)
        # full name -> [(part variable name, offset[0], shape)]
        self.partitions: dict[str, list[tuple[str, int, tuple[int, ...]]]] = {}
        self.full_shapes: dict[str, tuple[int, ...]] = {}
        for part, full, offsets, shape, full_shape in slice_infos(meta):
            parts = self.partitions.setdefault(full, [])
            if part not in [p[0] for p in parts]:
                parts.append((part, offsets[0], shape))
            self.full_shapes[full] = full_shape
        for parts in self.partitions.values():
            parts.sort(key=lambda p: p[1])

    # -- shapes -----------------------------------------------------------------------------------------------------

    def declared_shape(self, name: str) -> Optional[tuple[int, ...]]:
        """The shape the graph declares for checkpoint key ``name`` (full shape for a partitioned variable)."""
        if name in self.full_shapes:
            return self.full_shapes[name]
        return self.graph_shapes.get(name)

    def num_partitions(self, name: str) -> int:
        return len(self.partitions.get(name, ())) or 1

    # -- lookups ----------------------------------------------------------------------------------------------------

    def _source(self, nodes: dict, name: str, depth: int = 0) -> Optional[object]:
        node = nodes.get(name)
        while node is not None and node.op in ("Identity", "ReadVariableOp") and node.input and depth < 8:
            node, depth = nodes.get(_ref(node.input[0])[0]), depth + 1
        return node

    def _part_owner(self, var_name: str) -> Optional[str]:
        for full, parts in self.partitions.items():
            if var_name in [p[0] for p in parts]:
                return full
        return None

    def embedding_lookups(self) -> dict[str, Optional[str]]:
        """Checkpoint key -> lookup strategy (``'mod'``/``'div'`` for partitioned variables, else ``None``) for every
        variable read by a Gather in the main graph."""
        out: dict[str, Optional[str]] = {}
        for node in self.main.values():
            if node.op not in _GATHER_OPS or not node.input:
                continue
            src = self._source(self.main, _ref(node.input[0])[0])
            if src is None or src.op not in _VARIABLE_OPS:
                continue
            full = self._part_owner(src.name)
            if full is None:
                out.setdefault(src.name, None)
                continue
            scope = node.name.rsplit("/", 1)[0]
            out[full] = "div" if f"{scope}/Maximum" in self.main else "mod"
        return out

    def const_embeddings(self) -> list[ConstEmbedding]:
        """Rank-2 float Const nodes that feed a Gather (NumPy matrices passed to ``embedding_lookup``)."""
        found: dict[str, ConstEmbedding] = {}
        for node in self.main.values():
            if node.op not in _GATHER_OPS or not node.input:
                continue
            src = self._source(self.main, _ref(node.input[0])[0])
            if src is None or src.op != "Const":
                continue
            tensor = src.attr["value"].tensor
            shape = tuple(int(d.size) for d in tensor.tensor_shape.dim)
            dtype = dtype_name(tensor.dtype)
            if len(shape) == 2 and dtype in ("float16", "float32", "float64", "bfloat16"):
                found.setdefault(src.name, ConstEmbedding(src.name, shape, dtype, node.name))
        return list(found.values())

    def read_const(self, name: str) -> np.ndarray:
        """The value of Const ``name`` from the proto (``tensor_content``), without executing anything."""
        node = self.main.get(name)
        if node is None or node.op != "Const":
            raise MigrationError(f"{self.path!r} has no Const node {name!r}.")
        return make_ndarray(node.attr["value"].tensor, what=f"Const {name!r} in {self.path!r}")

    # -- cells ------------------------------------------------------------------------------------------------------

    def op_scopes(self, var_key: str, rel_path: str) -> list[str]:
        """The name scopes of the ops that use cell variable ``var_key`` (``rel_path``: the cell's path below its block
        scope, e.g. ``multi_rnn_cell/cell_0/basic_lstm_cell``).

        Variable scopes and op scopes differ: ``tf.name_scope('Train')`` around ``variable_scope('Model')`` puts the
        ops of ``Model/rnn/...`` under ``Train/Model/rnn/...``; re-entering ``variable_scope('rnnlm')`` puts them
        under ``rnnlm_1/...``. Found by following the variable forward to the ``While`` loop that captures it (TF 2.x
        control flow) or to the cell's ops (TF 1.x frames, static unrolls); ``.../fw/fw`` loops give the
        bidirectional block's scope.
        """
        rel = rel_path.split("/", 1)[1] if rel_path.split("/", 1)[0] in ("fw", "bw") and "/" in rel_path else rel_path
        if not hasattr(self, "_consumers"):
            self._consumers: dict[str, list] = {}
            for node in self.main.values():
                for inp in node.input:
                    self._consumers.setdefault(_ref(inp)[0], []).append(node)
        start = [n.name for n in self.main.values() if n.op in _VARIABLE_OPS and
                 (n.name == var_key or (n.op == "VarHandleOp" and n.attr["shared_name"].s.decode() == var_key))]
        found: list[str] = []
        seen = set(start)
        frontier = start
        for _ in range(6):
            nxt = []
            for name in frontier:
                for c in self._consumers.get(name, ()):
                    if c.name in seen:
                        continue
                    seen.add(c.name)
                    prefix = None
                    if c.op in _FORWARD:
                        nxt.append(c.name)
                        continue
                    if any(c.name.startswith(v + "/") for v in start) or "/update_" in c.name or \
                            re.match(r"^gradients(_\d+)?/", c.name) or "/gradients" in c.name:
                        continue  # initializers, optimizer updates and gradients use the variable: not the cell
                    if c.op in _LOOP_OPS:
                        prefix = c.name[: -len("/while")] if c.name.endswith("/while") else c.name.rsplit("/", 1)[0]
                    elif ("/" + rel + "/") in ("/" + c.name):
                        prefix = ("/" + c.name)[: ("/" + c.name).find("/" + rel + "/")][1:]
                        prefix = prefix.split("/while/")[0]
                        prefix = prefix[: -len("/while")] if prefix.endswith("/while") else prefix
                    if prefix is not None:
                        for suffix in ("/fw/fw", "/bw/bw"):
                            if prefix.endswith(suffix):
                                prefix = prefix[: -len(suffix)]
                        if prefix not in found:
                            found.append(prefix)
            frontier = nxt
        return found

    def _cell_nodes(self, scope: str, rel_path: str, scopes: Iterable[str]) -> list[tuple[_Context, object]]:
        """Nodes of the cell at ``scope/rel_path``, in the main graph and in the while/cond functions of ``scope``."""
        scopes = sorted(set(scopes), key=len, reverse=True)

        def owner_main(name: str) -> Optional[str]:
            return next((s for s in scopes if s and name.startswith(s + "/")), "" if "" in scopes else None)

        def owner_fn(fname: str) -> Optional[str]:
            return next((s for s in scopes if s and fname.startswith(_norm(s) + "_")), None)

        direction = ""
        if rel_path.split("/", 1)[0] in ("fw", "bw"):
            direction, rel_path = rel_path.split("/", 1)
        needle = "/" + rel_path + "/"
        out = []
        for ctx in self.contexts:
            if ctx.function is not None and owner_fn(ctx.function) != scope:
                continue
            fn_dir = ctx.function is not None and ctx.function.startswith(f"{_norm(scope)}_{direction}_")
            for name, node in ctx.nodes.items():
                if needle not in "/" + name:
                    continue
                if ctx.function is None and owner_main(name) != scope:
                    continue
                if direction and not (fn_dir or f"/{direction}/" in "/" + name):
                    continue
                out.append((ctx, node))
        return out

    def cell_hyperparameters(self, scope: str, rel_path: str, kind: str, scopes: Iterable[str]) -> dict[str, object]:
        """``forget_bias``, ``cell_clip``, ``proj_clip``, ``activation`` found for one cell (absent keys: not found).

        Each value must be the same in every copy of the cell (static_rnn unrolls one per step); a disagreement
        raises :class:`MigrationError`.
        """
        found: dict[str, set] = {}
        for ctx, node in self._cell_nodes(scope, rel_path, scopes):
            for key, value in self._node_facts(ctx, node, kind):
                found.setdefault(key, set()).add(value)
        out: dict[str, object] = {}
        for key, values in found.items():
            if len(values) > 1:
                raise MigrationError(
                    f"{self.path!r}: the cell {scope + '/' if scope else ''}{rel_path} has several values for "
                    f"{key}: {sorted(map(str, values))}. Pass the right one explicitly (e.g. --forget-bias)."
                )
            out[key] = values.pop()
        return out

    def _const_value(self, ctx: _Context, inp: str) -> Optional[float]:
        node = self._source(ctx.nodes, _ref(inp)[0])
        if node is None or node.op != "Const":
            return None
        tensor = node.attr["value"].tensor
        # float16/32/64 scalars only (bfloat16, whose NumPy kind is not "f", never counted); checked before reading
        if tensor.dtype not in _FLOAT_DTYPES or tensor.tensor_shape.unknown_rank or \
                any(int(d.size) != 1 for d in tensor.tensor_shape.dim):
            return None
        value = make_ndarray(tensor, what=f"Const {node.name!r} in {self.path!r}")
        # float32 constants: the shortest decimal that rounds to the same float32 (0.3, not 0.30000001192...)
        return float(str(value.reshape(()))) if value.dtype == np.float32 else float(value.reshape(()))

    def _producer_op(self, ctx: _Context, inp: str) -> str:
        node = ctx.nodes.get(_ref(inp)[0])
        return node.op if node is not None else ""

    def _node_facts(self, ctx: _Context, node, kind: str) -> list[tuple[str, object]]:
        facts: list[tuple[str, object]] = []
        refs = [_ref(i) for i in node.input]
        is_split = lambda r: (ctx.nodes.get(r[0]) is not None and ctx.nodes[r[0]].op == "Split")  # noqa: E731
        reader = family(kind).meta_reader
        if reader == META_LSTM_GATES and node.op in _BLOCK_LSTM_OPS:
            # tf.contrib.rnn.LSTMBlockCell / LSTMBlockFusedCell: the hyper-parameters are attributes of the fused op
            # (BlockLSTMV2 has no forget_bias attribute: 0.0). The kernels fix tanh and have no projection.
            bias = node.attr["forget_bias"].f if "forget_bias" in node.attr else 0.0
            facts.append(("forget_bias", float(str(np.float32(bias)))))
            clip = float(str(np.float32(node.attr["cell_clip"].f))) if "cell_clip" in node.attr else -1.0
            facts.append(("cell_clip", clip if clip > 0 else None))
            facts += [("activation", "tanh"), ("proj_clip", None)]
        elif reader == META_LSTM_GATES:
            if node.op in ("Add", "AddV2") and len(refs) == 2:
                for (src, idx), other in ((refs[0], node.input[1]), (refs[1], node.input[0])):
                    if idx == 2 and is_split((src, idx)):
                        value = self._const_value(ctx, other)
                        if value is not None:
                            facts.append(("forget_bias", value))
            if node.op in _ACTIVATIONS and node.op != "Identity" and refs and refs[0][1] == 1 and is_split(refs[0]):
                facts.append(("activation", _ACTIVATIONS[node.op]))
            if node.op == "Minimum" and len(refs) == 2:
                value = self._const_value(ctx, node.input[1])
                if value is not None:
                    clip = "proj_clip" if self._producer_op(ctx, node.input[0]) == "MatMul" else "cell_clip"
                    facts.append((clip, value))
        elif reader == META_LAYER_NORM_FORGET and node.op in ("Add", "AddV2") and len(refs) == 2:
            # LayerNormBasicLSTMCell: sigmoid(layer_norm(f, "forget") + forget_bias): an Add of a Const and a tensor
            # computed from the gate Split's output 2 alone (through the layer norm), feeding a Sigmoid
            for k in (0, 1):
                value = self._const_value(ctx, node.input[1 - k])
                if value is not None and self._split_outputs(ctx, node.input[k]) == {2} and any(
                        c.op == "Sigmoid" for c in self._context_consumers(ctx).get(node.name, ())):
                    facts.append(("forget_bias", value))
        elif reader == META_RNN_ACTIVATION:
            if node.op in _ACTIVATIONS and refs and self._producer_op(ctx, node.input[0]) == "BiasAdd":
                facts.append(("activation", _ACTIVATIONS[node.op]))
        return facts

    def _context_consumers(self, ctx: _Context) -> dict[str, list]:
        cache = self.__dict__.setdefault("_ctx_consumers", {})
        if ctx.function not in cache:
            consumers: dict[str, list] = {}
            for node in ctx.nodes.values():
                for inp in node.input:
                    consumers.setdefault(_ref(inp)[0], []).append(node)
            cache[ctx.function] = consumers
        return cache[ctx.function]

    def _split_outputs(self, ctx: _Context, inp: str, depth: int = 10) -> set[int]:
        """Which outputs of a ``Split`` the tensor ``inp`` is computed from (walking back ``depth`` ops at most;
        variables, constants and the loop's inputs end the walk)."""
        found: set[int] = set()
        seen: set[str] = set()
        frontier = [inp]
        for _ in range(depth):
            nxt = []
            for t in frontier:
                name, idx = _ref(t)
                node = ctx.nodes.get(name)
                if node is None or idx < 0:
                    continue
                if node.op == "Split":
                    found.add(idx)
                    continue
                if name in seen or node.op in _VARIABLE_OPS or node.op == "Const":
                    continue
                seen.add(name)
                nxt += [i for i in node.input if not i.startswith("^")]
            frontier = nxt
        return found

    def fused_lstm_hyperparameters(self, var_key: str) -> dict[str, object]:
        """Attributes of the ``BlockLSTM``/``BlockLSTMV2`` ops (``LSTMBlockFusedCell``: one op for the whole sequence,
        under whatever name scope) that read variable ``var_key`` directly; values must agree."""
        consumers = self._context_consumers(self.contexts[0])
        start = [n.name for n in self.main.values() if n.op in _VARIABLE_OPS and
                 (n.name == var_key or (n.op == "VarHandleOp" and n.attr["shared_name"].s.decode() == var_key))]
        found: dict[str, set] = {}
        frontier, seen = start, set(start)
        for _ in range(4):
            nxt = []
            for name in frontier:
                for c in consumers.get(name, ()):
                    if c.name in seen:
                        continue
                    seen.add(c.name)
                    if c.op in ("Identity", "ReadVariableOp"):
                        nxt.append(c.name)
                    elif c.op == "BlockLSTMV2":
                        raise MigrationError(
                            f"{self.path!r}: {var_key!r} is read by a BlockLSTMV2 op ({c.name!r}), TensorFlow 2's "
                            "kernel in the Keras gate order i, f, c, o, not a TF1 LSTMBlockFusedCell (i, c, f, o): "
                            "load these weights with Keras directly instead of converting them.")
                    elif c.op == "BlockLSTM":
                        for key, value in self._node_facts(self.contexts[0], c, "lstm"):
                            found.setdefault(key, set()).add(value)
            frontier = nxt
        out: dict[str, object] = {}
        for key, values in found.items():
            if len(values) > 1:
                raise MigrationError(f"{self.path!r}: the fused LSTM reading {var_key!r} has several values for "
                                     f"{key}: {sorted(map(str, values))}. Pass the right one explicitly.")
            out[key] = values.pop()
        return out

    def matmul_reads(self) -> dict[str, bool]:
        """Variable -> ``transpose_b`` of the main graph's ``MatMul`` nodes that read it as their right operand
        (``x @ W``: a Dense kernel; through ``Identity``/``ReadVariableOp``/loop ``Enter``; ``True`` when any read
        is transposed)."""
        out: dict[str, bool] = {}
        for node in self.main.values():
            if node.op != "MatMul" or len(node.input) < 2:
                continue
            src, depth = self.main.get(_ref(node.input[1])[0]), 0
            while src is not None and src.op in _FORWARD and src.input and depth < 8:
                src, depth = self.main.get(_ref(src.input[0])[0]), depth + 1
            if src is not None and src.op in _VARIABLE_OPS:
                out[src.name] = out.get(src.name, False) or bool(node.attr["transpose_b"].b)
        return out

    # -- optimizer ------------------------------------------------------------------------------------------------

    def optimizer_constants(self) -> dict[str, dict[str, float]]:
        """``{'Adam': {'beta1': 0.9, 'epsilon': 1e-08, 'learning_rate': 0.001}, ...}`` from scalar Consts."""
        out: dict[str, dict[str, float]] = {}
        for name, node in self.main.items():
            m = _OPT_CONST.match(name)
            if not m or node.op != "Const":
                continue
            value = self._const_value(self.contexts[0], name)
            if value is not None:
                out.setdefault(m.group(1), {})[m.group(2)] = value
                if m.group(2) == "learning_rate_power":  # TF >= 1.13 Ftrl: l2 only as `l2 + beta / (2 lr)`'s x
                    l2 = name[: -len("learning_rate_power")] + "add/x"
                    if l2 in self.main and self.main[l2].op == "Const":
                        found = self._const_value(self.contexts[0], l2)
                        if found is not None:
                            out[m.group(1)].setdefault("l2_regularization_strength", found)
        return out


def load_meta(prefix: str) -> Optional[MetaGraph]:
    """The parsed ``prefix.meta``, or ``None`` when the checkpoint has none."""
    path = prefix + ".meta"
    return MetaGraph(path) if os.path.exists(path) else None
