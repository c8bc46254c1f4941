"""TF 1.15 seq2seq checkpoints <-> :mod:`modern_rnn.seq2seq`: a name table, a recogniser and pure NumPy converters.

Two families live in TF1 checkpoints:

* ``tf.contrib.seq2seq`` (``AttentionWrapper`` + ``BahdanauAttention``/``LuongAttention``, tensorflow/nmt style). The
  attention weights keep their layout (``tf.layers.Dense`` kernels are ``[in, out]`` in both worlds); only the wrapped
  cell changes layout (gate order, forget_bias, kernel split; :mod:`migration.converters`). Its input is
  ``concat([decoder input, previous attention])``, so its kernel has ``D + A`` input rows.
* ``tf.contrib.legacy_seq2seq`` (``attention_decoder`` & co). ``AttnW_k`` is a 1x1 convolution kernel
  ``[1, 1, A, A]`` -> a Dense kernel ``[A, A]``; the ``_Linear`` kernels are already ``[in, out]``.

:data:`SEQ2SEQ_NAME_TABLE` lists every checkpoint name the converters consume (data, for ``rnn-migrate inspect``);
:func:`recognize_seq2seq` groups a checkpoint's ``{name: shape}`` into blocks; :func:`convert_seq2seq` converts the
arrays of each block to the relative names of :meth:`modern_rnn.seq2seq.AttentionWrapper.named_weights` (and back with
:func:`attention_wrapper_to_tf1`). Names it does not know are returned as ``unconverted``, never dropped silently.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Mapping, Optional, Sequence

import numpy as np

from migration import converters
from migration.core.errors import MigrationError, check_shape
from migration.core.specs import CellSpec

Arrays = dict[str, np.ndarray]
Shapes = Mapping[str, Sequence[int]]


@dataclasses.dataclass(frozen=True)
class NameRow:
    """One checkpoint name pattern: what it is, its shape, and where it goes in Keras."""

    pattern: str
    family: str
    meaning: str
    shape: str
    keras: str


_W = r"(?P<prefix>(?:.*/)?)attention_wrapper/"
SEQ2SEQ_NAME_TABLE: tuple[NameRow, ...] = (
    NameRow(r"(?P<prefix>(?:.*/)?)memory_layer(?:_\d+)?/kernel", "contrib.seq2seq",
            "keys = memory @ W (built where the mechanism is constructed)", "[M, N]", "memory_layer/kernel"),
    NameRow(_W + r"bahdanau_attention/query_layer/kernel", "contrib.seq2seq", "processed query = cell output @ W",
            "[Q, N]", "bahdanau_attention/query_layer/kernel"),
    NameRow(_W + r"bahdanau_attention/attention_v", "contrib.seq2seq", "score = sum v tanh(keys + query)", "[N]",
            "bahdanau_attention/attention_v"),
    NameRow(_W + r"bahdanau_attention/attention_g", "contrib.seq2seq", "normalize=True: v -> g v / ||v||", "[]",
            "bahdanau_attention/attention_g"),
    NameRow(_W + r"bahdanau_attention/attention_b", "contrib.seq2seq", "normalize=True: bias inside tanh", "[N]",
            "bahdanau_attention/attention_b"),
    NameRow(_W + r"luong_attention/attention_g", "contrib.seq2seq", "scale=True: score = g q.k", "[]",
            "luong_attention/attention_g"),
    NameRow(_W + r"attention_layer/kernel", "contrib.seq2seq", "attention = [cell_output, context] @ W", "[Q + M, A]",
            "attention_layer/kernel"),
    NameRow(_W + r"(?P<cell>basic_lstm_cell|lstm_cell|gru_cell|basic_rnn_cell)/(?P<var>.+)", "contrib.seq2seq",
            "the wrapped cell; input = concat([x, attention])", "kernel [D + A + U, G U]",
            "cell/{kernel, recurrent_kernel, bias} (migration.converters.cell_to_keras)"),
    NameRow(r"(?P<prefix>(?:.*/)?)AttnW_(?P<head>\d+)", "legacy_seq2seq", "1x1 conv over the attention states",
            "[1, 1, A, A]", "AttnW_k [A, A] (reshaped)"),
    NameRow(r"(?P<prefix>(?:.*/)?)AttnV_(?P<head>\d+)", "legacy_seq2seq", "score vector", "[A]", "AttnV_k"),
    NameRow(r"(?P<prefix>(?:.*/)?)Attention_(?P<head>\d+)/(?P<var>kernel|bias)", "legacy_seq2seq",
            "query projection (flattened state)", "[S, A] / [A]", "Attention_k/{kernel, bias}"),
    NameRow(r"(?P<prefix>(?:.*/)?)AttnOutputProjection/(?P<var>kernel|bias)", "legacy_seq2seq",
            "output = [cell_output, attns] @ W + b", "[U + heads A, O] / [O]", "AttnOutputProjection/{kernel, bias}"),
    NameRow(r"(?P<prefix>(?:.*/)?)attention_decoder/(?P<var>kernel|bias)", "legacy_seq2seq",
            "cell input = [input, attns] @ W + b", "[D + heads A, D] / [D]", "attention_decoder/{kernel, bias}"),
    NameRow(r"(?P<prefix>(?:.*/)?)embedding_wrapper/embedding", "legacy_seq2seq", "encoder EmbeddingWrapper table",
            "[V_in, E]", "Embedding.embeddings"),
    NameRow(r"(?P<prefix>(?:.*/)?)embedding_(?:attention|rnn)_decoder/embedding", "legacy_seq2seq",
            "decoder embedding table", "[V_out, E]", "Embedding.embeddings"),
    NameRow(r"(?P<prefix>(?:.*/)?)output_projection_wrapper/(?P<var>kernel|bias)", "legacy_seq2seq",
            "OutputProjectionWrapper", "[U, V] / [V]", "Dense(V).{kernel, bias}"),
)

_CELL_SCOPES = {"basic_lstm_cell": "basic_lstm", "lstm_cell": "lstm", "gru_cell": "gru", "basic_rnn_cell": "basic_rnn"}


@dataclasses.dataclass(frozen=True)
class AttentionWrapperBlock:
    """One ``AttentionWrapper`` found in a checkpoint, with what its shapes say about its hyper-parameters."""

    prefix: str                      # e.g. "decoder/"; the wrapper's names are prefix + "attention_wrapper/..."
    memory_layer: str                # full name of the memory_layer kernel
    mechanism: str                   # "bahdanau" | "luong"
    num_units: int
    normalize: bool
    scale: bool
    attention_layer_size: Optional[int]
    cell_kind: str
    cell_units: int
    input_depth: int                 # decoder input depth D (the cell kernel has D + A + U rows)
    memory_depth: int
    names: tuple[str, ...]           # every checkpoint name this block consumes
    wrapper_name: str = "attention_wrapper"   # AttentionWrapper(..., name=...): its variable scope
    #: AttentionWrapper(MultiRNNCell([...])): the units of each layer (``cell_units`` is the top one's, the query);
    #: ``()`` for one wrapped cell
    layer_units: tuple[int, ...] = ()
    #: MultiRNNCell([cell_0, ..., AttentionWrapper(cell_k), ..., cell_n]) (attention on one layer of a plain stack):
    #: the stack's scope (``.../multi_rnn_cell/``), the wrapper's index ``k``, every layer's units and input depth
    #: (kernel rows - units; ``k``'s includes the attention); ``()`` when the wrapper is not one layer of a stack
    stack_prefix: str = ""
    stack_index: int = -1
    stack_units: tuple[int, ...] = ()
    stack_inputs: tuple[int, ...] = ()
    #: the wrapper's output_attention when the layer above it tells by its kernel rows (attention != cell width)
    stack_output_attention: Optional[bool] = None

    @property
    def scope(self) -> str:
        return self.prefix + self.wrapper_name + "/"

    def cell_spec(self, forget_bias: float = 1.0) -> CellSpec:
        fb = forget_bias if self.cell_kind in ("basic_lstm", "lstm") else 1.0
        return CellSpec(self.cell_kind, self.cell_units, forget_bias=fb)

    def layer_specs(self, forget_bias: float = 1.0) -> list[CellSpec]:
        """One :class:`CellSpec` per wrapped layer (one for a single cell)."""
        top = self.cell_spec(forget_bias)
        return [dataclasses.replace(top, units=u) for u in self.stack_units or self.layer_units] or [top]

    def cell_scopes(self) -> list[str]:
        """Each layer's TF1 cell scope relative to :attr:`scope` (``multi_rnn_cell/cell_0/basic_lstm_cell``)."""
        name = self.cell_spec().tf1_scope
        return [f"multi_rnn_cell/cell_{k}/{name}" for k in range(len(self.layer_units))] or [name]

    def cell_keys(self) -> list[str]:
        """Each layer's full TF1 cell scope (a plain layer of a mixed stack is outside :attr:`scope`)."""
        if not self.stack_units:
            return [self.scope + rel for rel in self.cell_scopes()]
        name = self.cell_spec().tf1_scope
        return [self.scope + name if j == self.stack_index else f"{self.stack_prefix}cell_{j}/{name}"
                for j in range(len(self.stack_units))]

    def layer_input_sizes(self) -> list[int]:
        """Each layer's input depth: ``D + A`` (decoder input and attention) for the first, the layer below's units
        for the others (a mixed stack: read from the kernels)."""
        if self.stack_units:
            return list(self.stack_inputs)
        return [self.input_depth + self.attention_size] + list(self.layer_units[:-1])

    def keras_cell_prefixes(self) -> list[str]:
        """Each layer's prefix in :meth:`modern_rnn.seq2seq.AttentionWrapper.named_weights` (and
        :meth:`modern_rnn.seq2seq.attention_stack.AttentionStack.named_weights` for a mixed stack)."""
        if self.stack_units:
            return ["cell/" if j == self.stack_index else f"stack/cell_{j}/" for j in range(len(self.stack_units))]
        return [f"cell/cell_{k}/" for k in range(len(self.layer_units))] or ["cell/"]

    @property
    def output_units(self) -> Optional[int]:
        """The width of the decoder's output when a plain layer is on top (None: the wrapper's output)."""
        on_top = not self.stack_units or self.stack_index == len(self.stack_units) - 1
        return None if on_top else self.stack_units[-1]

    @property
    def attention_size(self) -> int:
        return self.attention_layer_size or self.memory_depth


@dataclasses.dataclass(frozen=True)
class AttentionDecoderBlock:
    """One ``legacy_seq2seq.attention_decoder`` scope (``AttnW_0`` ... ``AttnOutputProjection``)."""

    prefix: str                      # names are prefix + "AttnW_0" etc.
    num_heads: int
    attn_size: int
    names: tuple[str, ...]


def is_slot(name: str, variables: Mapping[str, object]) -> bool:
    """An optimizer slot is saved as ``<variable>/<slot>`` (``.../kernel/Adam``, ``.../kernel/Momentum``)."""
    return "/" in name and name.rsplit("/", 1)[0] in variables


def table_row(name: str) -> Optional[NameRow]:
    """The :data:`SEQ2SEQ_NAME_TABLE` row a checkpoint name matches, or None."""
    return next((row for row in SEQ2SEQ_NAME_TABLE if re.fullmatch(row.pattern, name)), None)


def _match(row: NameRow, name: str) -> Optional[re.Match]:
    return re.fullmatch(row.pattern, name)


def recognize_seq2seq(variables: Shapes) -> list:
    """Group checkpoint names into :class:`AttentionWrapperBlock` / :class:`AttentionDecoderBlock` objects.

    ``variables`` maps checkpoint keys to shapes (``dict(tf.train.list_variables(path))``). Raises
    :class:`MigrationError` when a wrapper's pieces are inconsistent (e.g. two candidate memory layers).
    """
    shapes = {k: tuple(int(d) for d in v) for k, v in variables.items() if not is_slot(k, variables)}
    blocks: list = []
    memory_layers = [n for n in shapes if _match(SEQ2SEQ_NAME_TABLE[0], n)]
    for scope in wrapper_scopes(shapes):
        prefix, name = scope[:-1].rpartition("/")[0], scope[:-1].rpartition("/")[2]
        if name != "attention_wrapper" and not _has_memory(scope, shapes, memory_layers):
            continue  # e.g. a Dense named attention_layer beside a plain cell: not an AttentionWrapper
        blocks.append(in_stack(_wrapper_block(prefix + "/" if prefix else "", shapes, memory_layers, name), shapes))
    heads = sorted({m.group("prefix") for n in shapes if (m := _match(SEQ2SEQ_NAME_TABLE[8], n))})
    for prefix in heads:
        names = tuple(sorted(n for n in shapes if n.startswith(prefix) and re.fullmatch(
            r"(AttnW_\d+|AttnV_\d+|Attention_\d+/(kernel|bias)|AttnOutputProjection/(kernel|bias)|kernel|bias)",
            n[len(prefix):])))
        num_heads = sum(1 for n in names if re.fullmatch(r"AttnW_\d+", n[len(prefix):]))
        blocks.append(AttentionDecoderBlock(prefix, num_heads, shapes[prefix + "AttnW_0"][2], names))
    return blocks


#: what only an AttentionWrapper holds beside its cell (a Luong wrapper without scale nor attention layer holds
#: nothing of its own: only the default ``attention_wrapper`` scope name tells it then)
_WRAPPER_OWN = ("bahdanau_attention/attention_v", "luong_attention/attention_g", "attention_layer/kernel")


def wrapper_scopes(names) -> list[str]:
    """Every ``AttentionWrapper`` variable scope among checkpoint ``names`` (with a trailing ``/``): the default
    ``.../attention_wrapper/``, or any scope (``AttentionWrapper(..., name="attention_decoder_cell")``) holding one of
    :data:`_WRAPPER_OWN` and a cell (or a ``multi_rnn_cell``) directly below it."""
    names = list(names)
    found = {n.split("attention_wrapper/")[0] + "attention_wrapper/" for n in names if "attention_wrapper/" in n}
    cells = tuple(_CELL_SCOPES) + ("multi_rnn_cell",)
    for n in names:
        for own in _WRAPPER_OWN:
            if n.endswith("/" + own) or n == own:
                scope = n[: len(n) - len(own)]
                if any(m.startswith(scope) and m[len(scope):].split("/")[0] in cells for m in names):
                    found.add(scope)
    return sorted(found)


def _has_memory(scope: str, shapes: dict, memory_layers: list[str]) -> bool:
    """A custom-named wrapper scope is taken only with a mechanism's memory layer that fits it: Bahdanau's
    ``attention_v`` (+ ``query_layer``) as wide as a memory_layer kernel; else a memory layer at all."""
    if scope + "bahdanau_attention/attention_v" in shapes:
        width = shapes[scope + "bahdanau_attention/attention_v"][0]
        return scope + "bahdanau_attention/query_layer/kernel" in shapes and \
            any(shapes[m][1] == width for m in memory_layers)
    return bool(memory_layers)


def _directory(kernel: str) -> str:
    """The scope a ``.../memory_layer[_N]/kernel`` was built in, with its trailing slash (``""`` at the root)."""
    parts = kernel.split("/")
    return "/".join(parts[:-2]) + "/" if len(parts) > 2 else ""


def _wrapper_block(prefix: str, shapes: dict, memory_layers: list[str],
                   wrapper_name: str = "attention_wrapper") -> AttentionWrapperBlock:
    scope = prefix + wrapper_name + "/"
    has = lambda rel: scope + rel in shapes  # noqa: E731
    if has("bahdanau_attention/attention_v"):
        mechanism, num_units = "bahdanau", shapes[scope + "bahdanau_attention/attention_v"][0]
    else:
        mechanism, num_units = "luong", None
    cells = sorted({n[len(scope):].split("/")[0] for n in shapes if n.startswith(scope)} & set(_CELL_SCOPES))
    layers = _stacked_layers(scope, shapes)
    if len(cells) + bool(layers) != 1:
        raise MigrationError(f"Checkpoint scope {scope!r}: expected exactly one wrapped cell among "
                             f"{sorted(_CELL_SCOPES)} or one multi_rnn_cell/cell_<k>/<cell> stack, found "
                             f"{cells + (['multi_rnn_cell'] if layers else []) or 'none'}.")
    cell_scopes = [f"multi_rnn_cell/cell_{k}/{name}" for k, name in enumerate(layers)] if layers else cells
    kind = _CELL_SCOPES[layers[0] if layers else cells[0]]
    layer_units = tuple(_cell_units(shapes, scope + rel + "/", kind) for rel in cell_scopes)
    units = layer_units[-1]  # the top layer's output is the attention query
    if num_units is None:  # Luong: the query is the cell output, num_units == units
        num_units = units
    candidates = [m for m in memory_layers if shapes[m][1] == num_units]
    if len(candidates) > 1:  # several mechanisms of that width: the one built in the wrapper's enclosing scope
        # (two built in the same scope, memory_layer and memory_layer_1, stay ambiguous: names cannot tell)
        enclosing = [m for m in candidates if scope.startswith(_directory(m))]
        deepest = max((len(_directory(m)) for m in enclosing), default=0)
        candidates = [m for m in enclosing if len(_directory(m)) == deepest] if enclosing else candidates
    if len(candidates) != 1:
        raise MigrationError(
            f"Checkpoint scope {scope!r}: expected one memory_layer/kernel with {num_units} columns, found "
            f"{candidates or 'none'}. Build the mechanisms in separate variable scopes, or convert with "
            "attention_wrapper_to_keras(..., memory_layer=NAME).")
    memory_layer = candidates[0]
    attention_layer_size = shapes[scope + "attention_layer/kernel"][1] if has("attention_layer/kernel") else None
    memory_depth = shapes[memory_layer][0]
    attention = attention_layer_size or memory_depth
    kernels = [shapes[scope + rel + ("/gates/kernel" if kind == "gru" else "/kernel")] for rel in cell_scopes]
    input_depth = kernels[0][0] - layer_units[0] - attention
    if input_depth <= 0:
        raise MigrationError(f"Checkpoint variable {scope}{cell_scopes[0]}/kernel has shape {kernels[0]}: too few "
                             f"rows for decoder input + attention ({attention}) + units ({layer_units[0]}).")
    for k in range(1, len(kernels)):  # a stacked layer reads the layer below: units[k - 1] + units[k] rows
        if kernels[k][0] != layer_units[k - 1] + layer_units[k]:
            raise MigrationError(f"Checkpoint variable {scope}{cell_scopes[k]}/kernel has shape {kernels[k]}: "
                                 f"expected {layer_units[k - 1] + layer_units[k]} rows (the {layer_units[k - 1]} "
                                 f"outputs of cell_{k - 1} + its own {layer_units[k]} units).")
    names = tuple(sorted([memory_layer] + [n for n in shapes if n.startswith(scope)]))
    return AttentionWrapperBlock(
        prefix=prefix, memory_layer=memory_layer, mechanism=mechanism, num_units=num_units,
        normalize=has("bahdanau_attention/attention_g"), scale=has("luong_attention/attention_g"),
        attention_layer_size=attention_layer_size, cell_kind=kind, cell_units=units, input_depth=input_depth,
        memory_depth=memory_depth, names=names, wrapper_name=wrapper_name,
        layer_units=layer_units if layers else ())


_IN_STACK = re.compile(r"(?P<stack>(?:.*/)?multi_rnn_cell/)cell_(?P<k>\d+)/")


def in_stack(block: AttentionWrapperBlock, shapes: dict) -> AttentionWrapperBlock:
    """``block`` as ONE layer of ``MultiRNNCell([cell_0, ..., AttentionWrapper(cell_k), ..., cell_n])``: the whole
    stack, its decoder input depth read from the bottom layer's kernel; ``block`` unchanged when the wrapper is not
    one layer of a stack of plain cells. Refuses GNMT's ``GNMTAttentionMultiCell`` (``cell_0_attention``: the
    attention fed to every layer), a second attention layer, other cell kinds, and kernels that do not chain."""
    if re.fullmatch(r"(?:.*/)?multi_rnn_cell/cell_0_attention/", block.prefix):
        raise MigrationError(f"Checkpoint scope {block.scope!r} is GNMT's GNMTAttentionMultiCell (the attention of the "
                             "bottom layer fed to every layer, scope cell_0_attention): that structure is not "
                             "converted (a MultiRNNCell with an AttentionWrapper on one layer is).")
    m = _IN_STACK.fullmatch(block.prefix)
    if not m:
        return block
    stack, k, name = m.group("stack"), int(m.group("k")), block.cell_spec().tf1_scope
    found: dict[int, set[str]] = {}
    for n in shapes:
        if (layer := re.match(re.escape(stack) + r"cell_(\d+)/([^/]+)/", n)):
            found.setdefault(int(layer.group(1)), set()).add(layer.group(2))
    if len(found) == 1:
        return block            # MultiRNNCell([AttentionWrapper(cell)]): the wrapper alone
    if block.layer_units:
        raise MigrationError(f"Checkpoint scope {block.scope!r}: an AttentionWrapper around a MultiRNNCell inside "
                             "another MultiRNNCell is not converted.")
    for j in range(max(found) + 1):
        want = {block.wrapper_name} if j == k else {name}
        if found.get(j) != want:
            raise MigrationError(f"Checkpoint scope {stack}cell_{j}/: expected {sorted(want)}, found "
                                 f"{sorted(found.get(j, ())) or 'nothing'} (a MultiRNNCell with attention on one "
                                 f"layer converts when every other layer is a {name} like the attention layer's cell).")
    units = [block.cell_units if j == k else _cell_units(shapes, f"{stack}cell_{j}/{name}/", block.cell_kind)
             for j in range(len(found))]
    keys = [block.scope + name if j == k else f"{stack}cell_{j}/{name}" for j in range(len(found))]
    inputs = [shapes.get(key + "/kernel", shapes.get(key + "/gates/kernel"))[0] - u for key, u in zip(keys, units)]
    wrapper_out = {block.attention_size, block.cell_units}
    for j in range(1, len(units)):   # each layer reads the one below (the wrapper: its output and the attention)
        below = wrapper_out if j - 1 == k else {units[j - 1]}
        reads = inputs[j] - (block.attention_size if j == k else 0)
        if reads not in below:
            raise MigrationError(f"Checkpoint variable {keys[j]}/kernel reads {reads}-wide inputs; the layer below "
                                 f"({stack}cell_{j - 1}/) outputs {sorted(below)} features: the layers do not chain.")
    output_attention = None
    if k < len(units) - 1 and len(wrapper_out) == 2:
        output_attention = inputs[k + 1] == block.attention_size
    depth = inputs[0] - (block.attention_size if k == 0 else 0)
    names = tuple(sorted({block.memory_layer, *(n for n in shapes if n.startswith(stack))}))
    return dataclasses.replace(block, input_depth=depth, names=names, stack_prefix=stack, stack_index=k,
                               stack_units=tuple(units), stack_inputs=tuple(inputs),
                               stack_output_attention=output_attention)


def _stacked_layers(scope: str, shapes: dict) -> list[str]:
    """The cell scope name of each ``multi_rnn_cell/cell_<k>/`` layer directly under ``scope`` (``[]``: none).
    Raises when the layers are not numbered 0..n-1, hold other than one known cell each, or mix cell kinds."""
    found: dict[int, set[str]] = {}
    for n in shapes:
        m = re.match(re.escape(scope) + r"multi_rnn_cell/cell_(\d+)/([^/]+)/", n)
        if m:
            found.setdefault(int(m.group(1)), set()).add(m.group(2))
    if not found:
        return []
    layers = []
    for k in range(max(found) + 1):
        names = found.get(k, set())
        if len(names) != 1 or not names <= set(_CELL_SCOPES):
            raise MigrationError(f"Checkpoint scope {scope}multi_rnn_cell/cell_{k}/: expected one cell among "
                                 f"{sorted(_CELL_SCOPES)}, found {sorted(names) or 'none'} (an AttentionWrapper "
                                 "around a MultiRNNCell is converted when every layer is one such cell).")
        layers.append(next(iter(names)))
    kinds = {_CELL_SCOPES[n] for n in layers}
    if len(kinds) != 1:
        raise MigrationError(f"Checkpoint scope {scope}multi_rnn_cell/: layers of different cell kinds {layers} "
                             "are not converted (every layer of the wrapped MultiRNNCell must be the same kind).")
    return layers


def _cell_units(shapes: dict, cell_scope: str, kind: str) -> int:
    units = shapes[cell_scope + ("gates/bias" if kind == "gru" else "bias")][0] // (2 if kind == "gru" else 1)
    return units // 4 if kind in ("basic_lstm", "lstm") else units


def describe_block(block) -> dict:
    """A JSON-ready summary of a recognised block for ``rnn-migrate inspect``, with the Keras twin to build."""
    if isinstance(block, AttentionDecoderBlock):
        return {"kind": "legacy_seq2seq.attention_decoder", "scope": block.prefix, "num_heads": block.num_heads,
                "attn_size": block.attn_size, "variables": list(block.names),
                "keras": "modern_rnn.seq2seq.legacy_seq2seq.attention_decoder(..., scope=Seq2SeqScope())"}
    cell = {"basic_lstm": "basic_lstm_cell({u}, forget_bias=FORGET_BIAS)", "lstm": "lstm_cell({u}, forget_bias=FORGET_BIAS)",
            "gru": "gru_cell({u})", "basic_rnn": "basic_rnn_cell({u})"}[block.cell_kind]
    plain = [f"modern_rnn.{cell.format(u=u)}" for j, u in enumerate(block.stack_units) if j != block.stack_index]
    cell = (f"tf_keras.layers.StackedRNNCells([{', '.join('modern_rnn.' + cell.format(u=u) for u in block.layer_units)}])"
            if block.layer_units else "modern_rnn." + cell.format(u=block.cell_units))
    mechanism = (f"BahdanauAttention({block.num_units}, normalize={block.normalize})" if block.mechanism == "bahdanau"
                 else f"LuongAttention({block.num_units}, scale={block.scale})")
    return {"kind": "contrib.seq2seq.AttentionWrapper", "scope": block.scope, "memory_layer": block.memory_layer,
            "mechanism": block.mechanism, "num_units": block.num_units, "normalize": block.normalize,
            "scale": block.scale, "attention_layer_size": block.attention_layer_size, "cell": block.cell_kind,
            "cell_units": block.cell_units, "decoder_input_depth": block.input_depth,
            "memory_depth": block.memory_depth, "layer_units": list(block.layer_units), "variables": list(block.names),
            "stack": {"scope": block.stack_prefix, "attention_layer": block.stack_index,
                      "units": list(block.stack_units)} if block.stack_units else None,
            "keras": (f"modern_rnn.seq2seq.attention_stack.AttentionStack([{', '.join(plain)}], " if plain else "")
            + f"modern_rnn.seq2seq.AttentionWrapper({cell}, modern_rnn.seq2seq.{mechanism}, "
              f"attention_layer_size={block.attention_layer_size})" + (f", {block.stack_index})" if plain else ""),
            "note": "forget_bias of a wrapped TF1 LSTM is not in the checkpoint (read it from the .meta or the program)"
            if block.cell_kind in ("basic_lstm", "lstm") else ""}


def _attention_rel_names(block: AttentionWrapperBlock) -> list[str]:
    rel = []
    if block.mechanism == "bahdanau":
        rel += ["bahdanau_attention/query_layer/kernel", "bahdanau_attention/attention_v"]
        if block.normalize:
            rel += ["bahdanau_attention/attention_g", "bahdanau_attention/attention_b"]
    elif block.scale:
        rel.append("luong_attention/attention_g")
    if block.attention_layer_size is not None:
        rel.append("attention_layer/kernel")
    return rel


def attention_wrapper_to_keras(arrays: Mapping[str, np.ndarray], block: AttentionWrapperBlock,
                               forget_bias: float = 1.0) -> Arrays:
    """TF1 arrays (full checkpoint names) -> ``AttentionWrapper.named_weights()`` names: attention weights copied,
    the cell converted with ``input_size = D + A`` (its input is ``[x, attention]``)."""
    out: Arrays = {"memory_layer/kernel": np.asarray(arrays[block.memory_layer])}
    for rel in _attention_rel_names(block):
        out[rel] = np.asarray(arrays[block.scope + rel])
    for spec, key, size, keras in zip(block.layer_specs(forget_bias), block.cell_keys(), block.layer_input_sizes(),
                                      block.keras_cell_prefixes()):
        tf1_cell = _cell_arrays(arrays, key)
        keras_cell = converters.cell_to_keras(spec, tf1_cell, size)
        out.update(dict(zip((keras + "kernel", keras + "recurrent_kernel", keras + "bias"), keras_cell)))
    return out


def attention_wrapper_to_tf1(named: Mapping[str, np.ndarray], block: AttentionWrapperBlock,
                             forget_bias: float = 1.0) -> Arrays:
    """Inverse of :func:`attention_wrapper_to_keras`: named Keras arrays -> full TF1 checkpoint names."""
    out: Arrays = {block.memory_layer: np.asarray(named["memory_layer/kernel"])}
    for rel in _attention_rel_names(block):
        out[block.scope + rel] = np.asarray(named[rel])
    for spec, key, keras in zip(block.layer_specs(forget_bias), block.cell_keys(), block.keras_cell_prefixes()):
        cell = converters.cell_to_tf1(spec, [named[keras + n] for n in ("kernel", "recurrent_kernel", "bias")])
        out.update({f"{key}/{k}": v for k, v in cell.items()})
    return out


def _attn_w(name: str, value: np.ndarray, to_keras: bool) -> np.ndarray:
    """``AttnW_k``: TF1 1x1 conv kernel ``[1, 1, A, A]`` <-> Keras matrix ``[A, A]``; other names unchanged."""
    if not re.fullmatch(r"(?:.*/)?AttnW_\d+", name):
        return value
    if to_keras:
        if value.ndim != 4 or value.shape[:2] != (1, 1):
            raise MigrationError(f"Checkpoint variable {name} has shape {value.shape}; a legacy_seq2seq attention "
                                 "kernel is a 1x1 convolution [1, 1, A, A].")
        return value.reshape(value.shape[2:])
    return value.reshape((1, 1) + value.shape)


def _cell_arrays(arrays: Mapping[str, np.ndarray], cell_scope: str) -> Arrays:
    return {n[len(cell_scope) + 1:]: np.asarray(a) for n, a in arrays.items() if n.startswith(cell_scope + "/")}


def legacy_scope_to_keras(arrays: Mapping[str, np.ndarray], variable_names: Sequence[str],
                          cell_specs: Mapping[str, CellSpec], prefix: str = "") -> tuple[Arrays, dict]:
    """``legacy_seq2seq`` arrays -> :class:`modern_rnn.seq2seq.legacy_seq2seq.Seq2SeqScope` weights.

    ``variable_names``: the scope's relative names (``Seq2SeqScope.named_weights()``); ``cell_specs``: TF1 cell scope
    (relative, e.g. ``embedding_attention_seq2seq/rnn/embedding_wrapper/basic_lstm_cell``) -> :class:`CellSpec`.
    Returns ``({relative name: array}, {cell scope: Keras cell weights})``.
    """
    missing = [prefix + n for n in variable_names if prefix + n not in arrays]
    if missing:
        raise MigrationError(f"Checkpoint has no variables {missing[:4]}: the Keras scope and the TF1 graph differ "
                             "(other sizes, feed_previous/output_projection, or another variable scope prefix).")
    out = {n: _attn_w(n, np.asarray(arrays[prefix + n]), True) for n in variable_names}
    cells = {}
    for cell_scope, spec in cell_specs.items():
        w = _cell_arrays(arrays, prefix + cell_scope)
        kernel = w.get("gates/kernel", w.get("kernel"))
        if kernel is None:
            raise MigrationError(f"Checkpoint has no cell under {prefix + cell_scope}/ (got {sorted(w)}).")
        cells[cell_scope] = converters.cell_to_keras(spec, w, kernel.shape[0] - spec.units)
    return out, cells


def legacy_scope_to_tf1(named: Mapping[str, np.ndarray], cells: Mapping[str, tuple[CellSpec, Sequence[np.ndarray]]],
                        prefix: str = "") -> Arrays:
    """Inverse of :func:`legacy_scope_to_keras`: ``cells`` maps a TF1 cell scope to ``(spec, Keras weights)``."""
    out = {prefix + n: _attn_w(n, np.asarray(v), False) for n, v in named.items()}
    for cell_scope, (spec, weights) in cells.items():
        out.update({f"{prefix}{cell_scope}/{k}": v for k, v in converters.cell_to_tf1(spec, weights).items()})
    return out


@dataclasses.dataclass
class Seq2SeqConversion:
    """What :func:`convert_seq2seq` did: Keras arrays per block, and every checkpoint name it did not consume."""

    blocks: list
    keras: list[Arrays]
    consumed: set[str]
    unconverted: dict[str, str]


def convert_seq2seq(arrays: Mapping[str, np.ndarray], forget_bias: float = 1.0) -> Seq2SeqConversion:
    """Recognise and convert every seq2seq block of a checkpoint's arrays (``{name: ndarray}``).

    ``forget_bias`` is the run-time constant of the wrapped TF1 LSTM (not in the checkpoint; read it from the
    ``.meta`` or the program). Names outside any block (output layers, embeddings, encoders, optimizer slots) come
    back in ``unconverted`` with a reason: convert them with :mod:`migration.converters` or by hand.
    """
    blocks = recognize_seq2seq({k: np.shape(v) for k, v in arrays.items()})
    keras_arrays, consumed = [], set()
    for block in blocks:
        if isinstance(block, AttentionWrapperBlock):
            keras_arrays.append(attention_wrapper_to_keras(arrays, block, forget_bias))
        else:
            keras_arrays.append({n[len(block.prefix):]: _attn_w(n, np.asarray(arrays[n]), True) for n in block.names})
        consumed.update(block.names)
    unconverted = {n: ("optimizer slot: not converted (restart the optimizer, or convert it with the layout of its "
                       "variable)" if is_slot(n, arrays) else
                       "not part of an attention block (encoder, output layer, embedding, step counter)")
                   for n in arrays if n not in consumed}
    return Seq2SeqConversion(blocks, keras_arrays, consumed, unconverted)


def assign_named(named_weights: Mapping[str, object], arrays: Mapping[str, np.ndarray]) -> None:
    """``variable.assign(array)`` for every name, with a clear error on a missing name or a shape mismatch."""
    missing = sorted(set(named_weights) - set(arrays))
    extra = sorted(set(arrays) - set(named_weights))
    if missing or extra:
        raise MigrationError(f"Keras weights {missing} have no converted array, and converted arrays {extra} have no "
                             "Keras weight: the Keras model and the checkpoint describe different attention set-ups.")
    for name, variable in named_weights.items():
        check_shape(name, np.shape(arrays[name]), tuple(variable.shape))
        variable.assign(arrays[name])
