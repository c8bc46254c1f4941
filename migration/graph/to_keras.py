"""Translate the original graph, from its placeholders to its outputs, into one tf_keras functional model.

The walk goes backwards from the output tensors; each tensor becomes a Keras tensor (or a NumPy constant, folded
eagerly when every input of an op is constant). What each piece becomes:

=========================================  ==================================================================
original graph                             Keras 2 model
=========================================  ==================================================================
``Placeholder``                            ``keras.Input`` (in graph order; ``placeholder_with_default``:
                                           its default, not an input)
a ``dynamic_rnn`` / ``bidirectional_       the converted block model (``blocks/<name>.keras``), called on the
dynamic_rnn`` loop (recognized block)      loop's input and ``sequence_length`` (full length when the graph
                                           has none)
a ``tf.nn.raw_rnn`` decoder loop (its      ``modern_rnn.FeedbackDecoder`` with the block's cell and the loop's
cell a recognized block)                   W, b, E, called on the tensors its ``loop_fn`` gets at time 0
                                           (:mod:`migration.graph.raw_rnn`); outputs time-major
``Gather`` of a variable / a GloVe         ``keras.layers.Embedding`` (rows as saved; ``mod``-partitioned
``Const`` (``embedding_lookup``)           variables are not translated yet)
``MatMul`` by a variable (+ ``BiasAdd``/   ``keras.layers.Dense`` (one layer per weight pair, reused by every
``Add`` of a variable)                     unrolled step: ``tf.layers.dense``, ``xw_plus_b``, ``W``/``b``)
``Conv2D`` by a variable filter;           ``keras.layers.Conv2D`` / ``BatchNormalization`` with the moving
``FusedBatchNorm*`` (is_training=False)    statistics (:mod:`migration.graph.cnn_layers`)
dropout                                    nothing (bypassed: inference)
reshape, concat, stack, slices, gathers,   the same ``tf`` function as a ``TFOpLambda`` layer (serialized by
activations, softmax, arithmetic, shape    its API name: no code in the file, loads with ``safe_mode=True``)
=========================================  ==================================================================

Any other op on the path blocks the translation: :class:`Untranslatable` lists every blocking node and op type, and
no model is written (never a partial or guessed model).
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Optional, Sequence

import numpy as np

from migration.core.errors import MigrationError
from migration.graph.graphdef import const_value, ref, tensor_name
from migration.graph.tensordot import tensordot_matmul
from migration.graph.cnn_layers import batch_norm_layer, conv2d_layer
from migration.graph.model_outputs import dequeued_signature
from migration.graph.ops import PASS_THROUGH, VARIABLES, attr_value, folded_elements, render_table

_PASS_THROUGH = PASS_THROUGH
_VARS = VARIABLES
_attr = attr_value
#: the largest constant the translator folds (elements); a larger one blocks the whole model, naming the node
MAX_FOLDED_ELEMENTS = 1 << 26


class Untranslatable(MigrationError):
    """Ops on the path from the inputs to the outputs that have no Keras translation."""

    def __init__(self, blockers: list[tuple[str, str]]) -> None:
        shown = ", ".join(f"{n!r} ({op})" for n, op in blockers[:12])
        more = f" and {len(blockers) - 12} more" if len(blockers) > 12 else ""
        super().__init__(f"no whole model was written: {len(blockers)} node(s) on the path have no Keras translation: "
                         f"{shown}{more}")
        self.blockers = blockers


def _swap_time(x) -> list[int]:
    """The permutation swapping a tensor's first two axes (batch and time), whatever its rank."""
    return [1, 0] + list(range(2, x.shape.rank))


@dataclasses.dataclass
class BlockCall:
    """A recognized RNN block in the original graph: its Keras block model and where its tensors are."""

    model: Any
    x: str
    sequence_length: Optional[str]
    time_major: bool
    outputs: list[str]  # original tensor names in the block contract order (outputs..., states...)
    sequences: int = 1  # how many leading outputs are sequences (2 for a bidirectional block)
    name: str = ""  # the manifest block name
    inputs: Optional[list[str]] = None  # a layer called on these tensors instead (raw_rnn: migration.graph.raw_rnn)
    #: more input tensors, passed after ``[x, sequence_length]`` (a seq2seq decoder's memory, lengths, initial state)
    extra: list = dataclasses.field(default_factory=list)
    kind: str = "block"  # the manifest section ``name`` is in ("seq2seq" for a decoder loop)
    #: a nested input's tensors (PhasedLSTMCell's ``(times, x)``), read concatenated on the last axis instead of x
    parts: list = dataclasses.field(default_factory=list)
    #: checkpoint keys of weights the layer holds besides its block's cell (a raw_rnn decoder's ``feedback_kernel``,
    #: ``feedback_bias``, ``feedback_embeddings``): recorded in the manifest for ``export``
    weight_keys: dict = dataclasses.field(default_factory=dict)


def _gradient(name: str) -> bool:
    """A node of the training graph's backward pass (``gradients/...``, ``Train/gradients_1/...``): it reads the
    forward pass's intermediate tensors, which are not the forward pass's outputs."""
    return any(part == "gradients" or part.startswith("gradients_") for part in name.split("/"))


def _is_constant(value) -> bool:
    return isinstance(value, (np.ndarray, np.generic, int, float, bool))


class ModelTranslator:
    """See the module docstring. ``blocks``: the recognized RNN blocks of the graph."""

    def __init__(self, original, blocks: Sequence[BlockCall]) -> None:
        import modern_rnn  # noqa: F401  (sets up tf_keras before TensorFlow's Keras)

        self.og = original
        self.index = original.index
        self.blocks = list(blocks)
        self.block_of: dict[str, tuple[int, int]] = {}
        for k, block in enumerate(self.blocks):
            for j, name in enumerate(block.outputs):
                self.block_of[tensor_name(name)] = (k, j)
        self.block_results: dict[int, list] = {}
        self.inputs: dict[str, Any] = {}
        self.memo: dict[str, Any] = {}
        self.blockers: dict[str, str] = {}
        self.layers: dict[tuple, Any] = {}
        self.table = render_table()  # the op table's rendered rows (migration.graph.ops)
        self.partitioned = self._partitioned_lookups()
        self.pieces: list[str] = []
        #: Keras layer name -> where its weights came from ({"embedding": key} / {"dense": kernel key, "bias": key} /
        #: {"block": manifest block name}); what :func:`migration.checkpoint.optimizer.whole_model_slots` pairs with
        self.layer_sources: dict[str, dict[str, str]] = {}
        #: checkpoint key -> sha256 of the value of each variable folded into the model as a constant (``export``
        #: writes it back from the original checkpoint and checks it is still that value)
        self.folded: dict[str, str] = {}
        #: large embeddings built as one-row stubs, written row by row by keras_stream.save_streamed
        self.streamed: list = []
        self.used_names: set[str] = set()

    def var_node(self, tensor: str):
        """The variable node ``tensor`` reads (through identities), else None."""
        return self._var_node(tensor)

    def unique_name(self, kind: str, key: str) -> str:
        return self._name(kind, key)

    def _name(self, kind: str, key: str) -> str:
        """A Keras layer name for ``key``, unique in the model: two keys with the same 60-character tail (the fw/bw
        cells of two towers) get their whole key, then a counter."""
        name = _layer_name(kind, key)
        if name in self.used_names:
            name = _layer_name(kind, key, 200)
        base, k = name, 1
        while name in self.used_names:
            k += 1
            name = f"{base}_{k}"
        self.used_names.add(name)
        return name

    # -- values -------------------------------------------------------------------------------------------------

    def value(self, tensor: str):
        tensor = tensor_name(tensor)
        if tensor in self.memo:
            return self.memo[tensor]
        result = self._value(tensor)
        self.memo[tensor] = result
        return result

    def _value(self, tensor: str):
        import tensorflow as tf

        if tensor in self.inputs:  # a dequeued input (placeholders are keyed by their node name)
            return self.inputs[tensor]
        if tensor in self.block_of:
            k, j = self.block_of[tensor]
            return self._block(k)[j]
        name, idx, _ = ref(tensor)
        node = self.index.node(name)
        if node is None:
            raise MigrationError(f"the graph {self.og.path!r} has no tensor {tensor!r}")
        if node.op == "Placeholder":
            if name not in self.inputs:
                self.blockers[name] = "Placeholder (not one of the model inputs)"
                return None
            return self.inputs[name]
        if node.op == "Const":
            value = const_value(node)
            # scalar ints (axes, sizes) as Python ints: some tf functions refuse a 0-d array as an axis
            return int(value) if value.ndim == 0 and value.dtype.kind in "iu" else value
        if node.op in _PASS_THROUGH or node.op == "PlaceholderWithDefault":
            return self.value(node.input[0])
        if node.op == "IdentityN":
            return self.value(node.input[idx])
        if node.op in _VARS or node.op == "ReadVariableOp":
            return self._variable_node(node)
        if tensor in self.partitioned:
            return self._partitioned_embedding(*self.partitioned[tensor])
        static = self._static_dim(node)
        if static is not None:
            return static
        special = self._embedding(node)
        if special is None:
            special = self._dense(node)
        if special is None and node.op == "Conv2D":
            special = conv2d_layer(self, node)
        if special is None and node.op.startswith("FusedBatchNorm") and idx == 0:
            special = batch_norm_layer(self, node)
        if special is not None:
            return special
        fn = self.table.get(node.op)
        if fn is None:
            self.blockers[name] = node.op
            return None
        args = [self.value(i) for i in node.input if not ref(i)[2]]
        if any(a is None for a in args):
            return None
        if all(_is_constant(a) for a in args):
            elements = folded_elements(node.op, args)
            if elements is not None and elements > MAX_FOLDED_ELEMENTS:  # Fill([2**20, 2**20, 16]): never allocated
                self.blockers[name] = f"{node.op} (a constant of {elements} elements, over {MAX_FOLDED_ELEMENTS})"
                return None
            return np.asarray(fn(tf, node, args, idx))
        return fn(tf, node, args, idx)

    def _static_dim(self, node) -> Optional[int]:
        """``tf.shape(x)[k]`` (``StridedSlice`` of a ``Shape``, one constant index) as a Python int when the Keras
        value of ``x`` knows that dimension (a vocabulary, a width: fixed by the weights), else None. TF1 code writes it
        everywhere (``sequence_loss``' ``reshape(logits, [-1, tf.shape(logits)[2]])``); kept symbolic, Keras turns
        the ``[-1, n]`` it feeds into a placeholder of that shape and fails."""
        if node.op != "StridedSlice" or len(node.input) != 4 or attr_value(node, "shrink_axis_mask", 0) != 1:
            return None
        shape_node = self.index.node(ref(node.input[0])[0])
        if shape_node is None or shape_node.op != "Shape" or any(
                attr_value(node, m, 0) for m in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask")):
            return None
        parts = [self.index.node(ref(i)[0]) for i in node.input[1:]]
        if any(p is None or p.op != "Const" for p in parts):
            return None
        begin, _end, strides = (const_value(p).reshape(-1) for p in parts)
        if begin.shape != (1,) or strides.tolist() != [1]:
            return None
        x = self.value(shape_node.input[0])
        rank = getattr(getattr(x, "shape", None), "rank", None)
        if rank is None or not -rank <= int(begin[0]) < rank:
            return None
        dim = x.shape[int(begin[0])]
        return int(dim) if dim is not None else None

    # -- variables, embeddings, dense ------------------------------------------------------------------------------

    def _var_node(self, tensor: str):
        node = self.index.node(ref(tensor)[0])
        depth = 0
        while node is not None and node.op in _PASS_THROUGH + ("ReadVariableOp",) and node.input and depth < 6:
            node, depth = self.index.node(ref(node.input[0])[0]), depth + 1
        return node if node is not None and node.op in _VARS else None

    def _variable_node(self, node):
        var = self._var_node(node.name) if node.op not in _VARS else node
        if var is None:
            self.blockers[node.name] = node.op
            return None
        value = self.og.variable_value(var)
        if value.size > 4096:
            self.blockers[node.name] = f"{node.op} (variable {var.name!r} used other than as a Dense or Embedding weight)"
            return None
        key = self.og.variable_source(var).key
        self.pieces.append(f"variable {key} folded as a constant {list(value.shape)}")
        self.folded[key] = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        return value

    def _weight(self, tensor: str):
        """(checkpoint key, value) of a variable or a float Const read by ``tensor``, else None."""
        var = self._var_node(tensor)
        if var is not None:
            return self.og.variable_source(var).key, self.og.variable_value(var)
        node = self.index.node(ref(tensor)[0])
        while node is not None and node.op in _PASS_THROUGH and node.input:
            node = self.index.node(ref(node.input[0])[0])
        if node is not None and node.op == "Const":
            value = const_value(node)
            if value.dtype.kind == "f" and value.ndim == 2 and value.size > 4096:
                return f"graph constant {node.name}", value
        return None

    def _embedding(self, node):
        from modern_rnn import keras

        if node.op not in ("GatherV2", "ResourceGather", "Gather"):
            return None
        if node.op == "GatherV2":
            axis = self.value(node.input[2])
            if not _is_constant(axis) or int(axis) != 0 or _attr(node, "batch_dims", 0):
                return None
        streamed = self._streamable(self._var_node(node.input[0]))
        if streamed is not None:
            key, layout = streamed
            ids = self.value(node.input[1])
            if ids is None or _is_constant(ids):
                return None
            return self._streamed_layer(key, layout, None, f"Embedding({layout.shape[0]}, {layout.shape[1]}) "
                                        f"from {key}")(ids)
        found = self._weight(node.input[0])
        if found is None or found[1].ndim != 2:
            return None
        key, matrix = found
        ids = self.value(node.input[1])
        if ids is None or _is_constant(ids):
            return None
        layer = self.layers.get(("embedding", key))
        if layer is None:
            layer = keras.layers.Embedding(matrix.shape[0], matrix.shape[1], name=self._name("embedding", key),
                                           trainable=not key.startswith("graph constant"),
                                           embeddings_initializer="zeros")  # no random init of a large matrix
            layer.build((None,))
            layer.set_weights([np.asarray(matrix, np.float32)])  # no copy when already float32
            self.layers[("embedding", key)] = layer
            self.layer_sources[layer.name] = {"embedding": key}
            self.pieces.append(f"Embedding({matrix.shape[0]}, {matrix.shape[1]}) from {key}")
        return layer(ids)

    def _layout(self, key: str, rank: int):
        """The checkpoint layout of ``key`` when it is large enough to stream into ``model.keras``
        (:mod:`migration.graph.keras_stream`), else None (the value is read and set as usual)."""
        from migration.graph import keras_stream

        layout_of = getattr(self.og.reader, "layout", None)
        if layout_of is None or key not in self.og.reader.variables:
            return None
        layout = layout_of(key)
        if layout is None or len(layout.shape) != rank or \
                int(np.prod(layout.shape, dtype=np.int64)) * 4 < keras_stream.STREAM_MIN_BYTES:
            return None
        return layout

    def _streamable(self, var) -> Optional[tuple[str, Any]]:
        """(checkpoint key, layout) of a whole (unpartitioned) 2-D variable to stream, else None."""
        if var is None:
            return None
        src = self.og.variable_source(var)
        if src.offset or src.shape:  # one part of a partitioned variable
            return None
        key = self.og.substitute.get(src.key, src.key)
        layout = self._layout(key, 2)
        return (src.key, layout) if layout is not None else None

    def _streamed_layer(self, key: str, layout, perm, piece: str):
        """One stub ``Embedding`` per key; its rows are written by :func:`keras_stream.save_streamed`."""
        from migration.graph import keras_stream

        layer = self.layers.get(("embedding", key))
        if layer is None:
            layer = keras_stream.stub_embedding(self._name("embedding", key), int(layout.shape[1]))
            self.streamed.append(keras_stream.Streamed(layer, layout, perm))
            self.layers[("embedding", key)] = layer
            self.layer_sources[layer.name] = {"embedding": key}
            self.pieces.append(piece)
        return layer

    def _partitioned_lookups(self) -> dict[str, tuple[str, str, int, str]]:
        """Output tensor -> (ids tensor, full variable key, partitions, strategy) of every ``embedding_lookup`` of a
        partitioned variable: TF1 builds it as DynamicPartition -> one Gather per part -> DynamicStitch -> Reshape
        inside the lookup's name scope; the strategy is ``'div'`` when that scope computes a ``Maximum``."""
        out: dict[str, tuple[str, str, int, str]] = {}
        nodes = self.index.nodes
        for stitch in [n for n in nodes.values() if n.op in ("DynamicStitch", "ParallelDynamicStitch")]:
            # TF 2.x names the stitch after the lookup's scope (``embedding_lookup``), TF 1.x puts it inside
            scope = stitch.name + "/"
            if not any(n.startswith(scope) for n in nodes):
                scope = stitch.name.rsplit("/", 1)[0] + "/"
            inside = {n for n in nodes if n.startswith(scope)} | {stitch.name}
            keys = set()
            for name in inside:
                node = nodes[name]
                if node.op in ("GatherV2", "ResourceGather", "Gather"):
                    var = self._var_node(node.input[0])
                    if var is not None:
                        keys.add(self.og.variable_source(var).key)
            reshapes = sorted((n for n in inside if nodes[n].op == "Reshape" and
                               ref(nodes[n].input[0])[0] not in inside), key=len)
            used = {f"{ref(i)[0]}:{ref(i)[1]}" for c in nodes.values() if c.name not in inside and not _gradient(c.name)
                    for i in c.input if not ref(i)[2] and ref(i)[0] in inside}
            if len(keys) != 1 or not reshapes or len(used) != 1:
                continue
            key = keys.pop()
            parts = sum(1 for n in nodes.values() if n.op in _VARS and self.og.variable_source(n).key == key)
            strategy = "div" if any(nodes[n].op == "Maximum" for n in inside) else "mod"
            out[used.pop()] = (nodes[reshapes[0]].input[0], key, parts, strategy)
        return out

    def _partitioned_embedding(self, ids_tensor: str, key: str, parts: int, strategy: str):
        """``Embedding`` whose row i is what TF1's lookup of id i returns (``mod``: saved[offset[i % P] + i // P])."""
        from migration.converters import mod_partition_permutation
        from modern_rnn import keras

        ids = self.value(ids_tensor)
        if ids is None or _is_constant(ids):
            return None
        layer = self.layers.get(("embedding", key))
        layout = self._layout(key, 2)
        if layer is None and layout is not None:
            perm = mod_partition_permutation(layout.shape[0], parts) if strategy == "mod" and parts > 1 else None
            layer = self._streamed_layer(key, layout, perm, f"Embedding({layout.shape[0]}, {layout.shape[1]}) from "
                                         f"{key} ({parts} partitions, '{strategy}' lookup)")
        if layer is None:
            full = np.asarray(self.og.reader.read(key))
            if strategy == "mod" and parts > 1:
                full = full[mod_partition_permutation(full.shape[0], parts)]
            layer = keras.layers.Embedding(full.shape[0], full.shape[1], name=self._name("embedding", key),
                                           embeddings_initializer="zeros")
            layer.build((None,))
            layer.set_weights([np.asarray(full, np.float32)])
            self.layers[("embedding", key)] = layer
            self.layer_sources[layer.name] = {"embedding": key}
            self.pieces.append(f"Embedding({full.shape[0]}, {full.shape[1]}) from {key} ({parts} partitions, "
                               f"'{strategy}' lookup)")
        return layer(ids)

    def _dense(self, node):
        """``MatMul(x, W)`` [+ ``BiasAdd``/``Add`` of ``b``] with variable ``W``/``b`` -> one shared Dense layer."""
        from modern_rnn import keras

        matmul, bias, dot_x = None, None, None
        if node.op in ("BiasAdd", "Add", "AddV2"):
            for a, b in ((0, 1), (1, 0)):
                producer = self.index.node(ref(node.input[a])[0])
                dot = tensordot_matmul(self.index, producer)
                producer, through = dot if dot is not None else (producer, None)
                if producer is not None and producer.op == "MatMul":
                    found = self._weight(node.input[b]) if self._var_node(node.input[b]) is not None else None
                    if found is not None and found[1].ndim == 1:
                        matmul, bias, dot_x = producer, found, through
                        break
            if matmul is None:
                return None
        elif node.op == "MatMul":
            matmul = node
        else:
            return None
        if _attr(matmul, "transpose_a", False) or self._var_node(matmul.input[1]) is None:
            return None
        key, kernel = self._weight(matmul.input[1])
        transposed = bool(_attr(matmul, "transpose_b", False))
        if transposed:
            kernel = kernel.T
        if bias is not None and bias[1].shape[0] != kernel.shape[1]:
            return None
        x = self.value(matmul.input[0] if dot_x is None else dot_x)
        if x is None or _is_constant(x):
            return None
        if dot_x is not None and x.shape[-1] != kernel.shape[0]:  # not a contraction over the last axis only
            return None
        if dot_x is None and (x.shape.rank != 2 or x.shape[-1] is None):  # MatMul operands are matrices: pin the depth
            import tensorflow as tf

            x = tf.reshape(x, [-1, kernel.shape[0]])
        layer_key = ("dense", key, bias[0] if bias else None, transposed)
        layer = self.layers.get(layer_key)
        if layer is None:
            layer = keras.layers.Dense(kernel.shape[1], use_bias=bias is not None, name=self._name("dense", key))
            layer.build((None, kernel.shape[0]))
            layer.set_weights([kernel.astype(np.float32)] + ([bias[1].astype(np.float32)] if bias else []))
            self.layers[layer_key] = layer
            self.layer_sources[layer.name] = {"dense": key, "bias": bias[0] if bias else "",
                                              **({"transposed": True} if transposed else {})}  # x @ W^T
            self.pieces.append(f"Dense({kernel.shape[1]}) from {key}" + (f" + {bias[0]}" if bias else ""))
        return layer(x)

    # -- RNN blocks ---------------------------------------------------------------------------------------------

    def _block(self, k: int) -> list:
        import tensorflow as tf

        if k in self.block_results:
            return self.block_results[k]
        block = self.blocks[k]
        if block.inputs is not None:
            return self._layer_block(k)
        x = self._block_input(block)
        if x is None or _is_constant(x):
            self.block_results[k] = [None] * len(block.outputs)
            return self.block_results[k]
        if block.time_major:
            x = tf.transpose(x, _swap_time(x))  # [T, B, ...] -> [B, T, ...] (a ConvLSTM block's x has rank 4-6)
        if block.sequence_length is not None:
            length = self.value(block.sequence_length)
            if length is None:
                self.block_results[k] = [None] * len(block.outputs)
                return self.block_results[k]
            length = tf.cast(length, tf.int32)
        else:
            shape = tf.shape(x)
            length = tf.fill(shape[:1], shape[1])
        extra = [self.value(t) for t in block.extra]
        if any(v is None for v in extra):
            self.block_results[k] = [None] * len(block.outputs)
            return self.block_results[k]
        outs = block.model([x, length] + [tf.convert_to_tensor(v) if _is_constant(v) else v for v in extra])
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        if block.time_major:  # the block model is batch-major; the graph's loop outputs were time-major
            outs = [tf.transpose(o, _swap_time(o)) if j < block.sequences else o for j, o in enumerate(outs)]
        self.pieces.append(f"RNN block {block.model.name} on {block.x}")
        self.layer_sources[block.model.name] = {block.kind: block.name}
        self.block_results[k] = outs
        return outs

    def _block_input(self, block: BlockCall):
        """The block's x, or its nested input's tensors concatenated on the last axis (as float32)."""
        import tensorflow as tf

        if not block.parts:
            return self.value(block.x)
        values = [self.value(t) for t in block.parts]
        if any(v is None or _is_constant(v) for v in values):
            return None
        return tf.concat([tf.cast(v, tf.float32) for v in values], -1)

    def _layer_block(self, k: int) -> list:
        """A block whose layer takes original tensors as they are (``raw_rnn``'s decoder: time-major outputs)."""
        block = self.blocks[k]
        args = [self.value(t) for t in block.inputs]
        if any(a is None or _is_constant(a) for a in args):
            for t, a in zip(block.inputs, args):
                if a is not None and _is_constant(a):
                    self.blockers[ref(t)[0]] = f"a constant input of the {block.name} decoder (not translated yet)"
            self.block_results[k] = [None] * len(block.outputs)
            return self.block_results[k]
        outs = list(block.model(args))
        self.pieces.append(f"raw_rnn decoder {block.model.name} ({type(block.model).__name__})")
        self.layer_sources[block.model.name] = {"block": block.name, **block.weight_keys}
        self.block_results[k] = outs
        return outs

    # -- the model ----------------------------------------------------------------------------------------------

    def translate(self, inputs: Sequence[str], outputs: Sequence[str], name: str = "migrated_model"):
        """The functional model ``inputs`` (placeholder node names) -> ``outputs`` (tensor names)."""
        from modern_rnn import keras

        for name_ in inputs:
            if ":" in name_:  # a dequeued tensor of a queue- or tf.data-fed graph
                shape, dtype = dequeued_signature(self.index, name_)
                if shape is None or dtype is None:
                    raise MigrationError(f"the dequeued input {name_!r} has no static rank in the graph; the whole "
                                         "model needs one")
                self.inputs[name_] = keras.Input(shape=tuple(shape[1:]), batch_size=shape[0] if shape else None,
                                                 dtype=dtype.name, name=self._name("input", name_))
                continue
            node = self.index.node(name_)
            shape = _attr(node, "shape")
            if shape is None or not shape:
                dims = [] if shape == [] else None
                if dims is None:
                    raise MigrationError(f"placeholder {name_!r} has an unknown rank; the whole model needs a static rank")
            batch = shape[0] if shape else None
            self.inputs[name_] = keras.Input(shape=tuple(shape[1:]) if shape else (), batch_size=batch,
                                             dtype=_attr(node, "dtype").name, name=self._name("input", name_))
        results = [self.value(t) for t in outputs]
        if self.blockers:
            raise Untranslatable(sorted(self.blockers.items()))
        for t, r in zip(outputs, results):
            if r is None or _is_constant(r):
                raise MigrationError(f"output {t!r} does not depend on the model inputs {list(inputs)}")
        model_inputs = [self.inputs[n] for n in inputs]
        return keras.Model(model_inputs[0] if len(model_inputs) == 1 else model_inputs,
                           results[0] if len(results) == 1 else results, name=name)


def _layer_name(kind: str, key: str, keep: int = 60) -> str:
    import re

    return f"{kind}_" + re.sub(r"[^A-Za-z0-9_]", "_", key).strip("_")[-keep:]
