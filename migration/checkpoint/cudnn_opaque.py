"""cuDNN opaque buffers alone in a checkpoint: their configuration from the ``.meta``, their canonical variables.

A ``tf.contrib.cudnn_rnn`` ``CudnnLSTM``/``CudnnGRU`` saved without ``CudnnOpaqueParamsSaveable`` (the ops-level
classes, or a ``Saver(var_list=...)`` of the raw variable) leaves one flat ``<scope>/opaque_kernel`` buffer. Its
layout is documented (:func:`migration.cudnn_converters.split_opaque`), but its size alone does not say the
configuration; the ``.meta`` does, without executing anything:

* the ``CudnnRNN``/``CudnnRNNV2``/``CudnnRNNV3`` op whose ``params`` input reads the buffer: attributes ``rnn_mode``
  (``lstm``/``gru``), ``direction`` (``unidirectional``/``bidirectional``), ``input_mode`` (``linear_input``);
* its ``input_h`` (the zero state ``[num_layers * num_dirs, batch, num_units]``): a ``Fill`` whose dims are a
  ``Pack`` of constants and the batch, or a ``Const``;
* ``input_size``: the one value the buffer size then allows (the size is linear in it).

:func:`canonical_alias` writes a temporary checkpoint holding every variable plus the canonical
``cudnn_compatible_*_cell`` variables under the names TF's saveable gave them, so the ordinary recognizer and
converters apply. The original graph cannot be the reference here (the CudnnRNN ops have no CPU kernel): the
verification is the weaker rebuilt check, and the notes say so.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Optional

import numpy as np

from migration.core.errors import MigrationError
from migration.core.tfproto import make_ndarray

_CUDNN_OPS = ("CudnnRNN", "CudnnRNNV2", "CudnnRNNV3")
_PASS = ("Identity", "ReadVariableOp", "Snapshot")


@dataclasses.dataclass(frozen=True)
class OpaqueLayout:
    """One opaque buffer and the configuration its ``CudnnRNN`` op gives."""

    key: str
    mode: str
    num_layers: int
    num_units: int
    input_size: int
    bidirectional: bool
    op: str

    @property
    def scope(self) -> str:
        return self.key.rsplit("/", 1)[0] if "/" in self.key else ""


#: CudnnRNN's ``rnn_mode`` attribute values (cuDNN's vocabulary, not cell kinds) that have a canonical TF1 cell
CANONICAL_MODES = ("lstm", "gru")

def _ref(inp: str) -> str:
    return inp.lstrip("^").split(":")[0]


def _source(nodes: dict, name: str):
    node = nodes.get(name)
    for _ in range(8):
        if node is None or node.op not in _PASS or not node.input:
            break
        node = nodes.get(_ref(node.input[0]))
    return node


_INT_DTYPES = (3, 4, 5, 6, 9, 17, 22, 23)  # DataType int32, uint8, int16, int8, int64, uint16, uint32, uint64


def _const_ints(nodes: dict, name: str) -> Optional[list[int]]:
    node = _source(nodes, name)
    if node is None or node.op != "Const" or node.attr["value"].tensor.dtype not in _INT_DTYPES:
        return None
    value = make_ndarray(node.attr["value"].tensor, what=f"Const {node.name!r}")
    return [int(v) for v in value.reshape(-1)] if value.dtype.kind in "iu" else None


def _state_dims(nodes: dict, name: str) -> Optional[tuple[int, int]]:
    """(num_layers * num_dirs, num_units) of a zero state ``[L * dirs, batch, U]``."""
    node = _source(nodes, name)
    if node is None:
        return None
    if node.op == "Const":
        shape = [int(d.size) for d in node.attr["value"].tensor.tensor_shape.dim]
        return (shape[0], shape[2]) if len(shape) == 3 else None
    if node.op == "Fill":
        dims = _source(nodes, _ref(node.input[0]))
        if dims is not None and dims.op == "Pack" and len(dims.input) == 3:
            first, last = _const_ints(nodes, _ref(dims.input[0])), _const_ints(nodes, _ref(dims.input[2]))
            if first and last:
                return first[0], last[0]
        values = _const_ints(nodes, _ref(node.input[0]))
        if values and len(values) == 3:
            return values[0], values[2]
    return None


def _input_size(size: int, mode: str, layers: int, units: int, dirs: int) -> Optional[int]:
    """The ``input_size`` for which :func:`migration.cudnn_converters.opaque_size` is ``size``, if any."""
    from migration.cudnn_converters import opaque_size

    g = {"lstm": 4, "gru": 3}[mode]
    rest = opaque_size(mode, layers, units, 1, dirs == 2) - g * dirs * units  # the size with input_size 0
    d, r = divmod(size - rest, g * dirs * units)
    return d if r == 0 and d > 0 and opaque_size(mode, layers, units, d, dirs == 2) == size else None


def opaque_layouts(meta, variables: dict, keys: list[str]) -> list[OpaqueLayout]:
    """The configuration of each opaque buffer in ``keys`` from the ``CudnnRNN`` op reading it (raises
    :class:`MigrationError` naming the op when it is not readable); buffers no such op reads are left out."""
    nodes = meta.main
    out = []
    for key in keys:
        ops = []
        for node in nodes.values():
            if node.op in _CUDNN_OPS and len(node.input) >= 4:
                src = _source(nodes, _ref(node.input[3]))
                if src is not None and (src.name == key or (src.op == "VarHandleOp" and
                                                            src.attr["shared_name"].s.decode() == key)):
                    ops.append(node)
        if not ops:
            continue
        layouts = set()
        for op in ops:
            mode = op.attr["rnn_mode"].s.decode() if "rnn_mode" in op.attr else "lstm"
            direction = op.attr["direction"].s.decode() if "direction" in op.attr else "unidirectional"
            input_mode = op.attr["input_mode"].s.decode() if "input_mode" in op.attr else "linear_input"
            where = f"{meta.path!r}: the {op.op} op {op.name!r} reading {key!r}"
            if mode not in CANONICAL_MODES or input_mode != "linear_input":
                raise MigrationError(f"{where} has rnn_mode={mode!r}, input_mode={input_mode!r}: only lstm/gru with "
                                     "linear_input have a canonical TF1 cell (CudnnCompatibleLSTMCell/GRUCell).")
            dirs = 2 if direction == "bidirectional" else 1
            dims = _state_dims(nodes, _ref(op.input[1]))
            if dims is None or dims[0] % dirs:
                raise MigrationError(f"{where}: its initial state is not a zero state of constant shape [num_layers "
                                     "* num_dirs, batch, num_units], so the buffer's configuration is unknown. Split "
                                     "it with migration.cudnn_converters.opaque_to_tf1 using the layer's settings.")
            layers, units = dims[0] // dirs, dims[1]
            size = int(np.prod(variables[key].shape))
            d_in = _input_size(size, mode, layers, units, dirs)
            if d_in is None:
                raise MigrationError(f"{where}: a {mode} of {layers} layer(s) of {units} units ({direction}) cannot "
                                     f"have a buffer of {size} values for any input size; the .meta does not "
                                     "belong to this checkpoint.")
            layouts.add(OpaqueLayout(key, mode, layers, units, d_in, dirs == 2, op.name))
        if len({dataclasses.replace(lay, op="") for lay in layouts}) > 1:
            raise MigrationError(f"{meta.path!r}: {key!r} is read by CudnnRNN ops with different configurations.")
        out.append(sorted(layouts, key=lambda lay: lay.op)[0])
    return out


def canonical_alias(reader, layouts: list[OpaqueLayout]) -> str:
    """Write a temporary checkpoint (every variable of ``reader`` plus the canonical variables of each buffer);
    return its prefix. The caller removes ``os.path.dirname(prefix)``."""
    import tensorflow as tf

    from migration.cudnn_converters import opaque_to_tf1

    names, tensors = [], []
    for key in reader.variables:
        names.append(key)
        tensors.append(reader.read(key))
    for lay in layouts:
        cells = opaque_to_tf1(reader.read(lay.key).astype(np.float32), lay.mode, lay.num_layers, lay.num_units,
                              lay.input_size, lay.bidirectional)
        for path, arrays in cells.items():
            for name, array in arrays.items():
                key = "/".join(p for p in (lay.scope, path, name) if p)
                if key in reader.variables:
                    raise MigrationError(f"{reader.prefix!r} already holds {key!r} beside the opaque buffer "
                                         f"{lay.key!r} that does not match it; remove one of them.")
                names.append(key)
                tensors.append(np.ascontiguousarray(array, np.float32))
    directory = tempfile.mkdtemp(prefix="rnn-migrate-cudnn-")
    prefix = os.path.join(directory, "canonical")
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(t) for t in tensors])
    return prefix


def note(layouts: list[OpaqueLayout]) -> str:
    what = ", ".join(f"{lay.key!r} ({lay.mode}, {lay.num_layers} layer(s) of {lay.num_units} units, input "
                     f"{lay.input_size}{', bidirectional' if lay.bidirectional else ''}; from {lay.op!r})"
                     for lay in layouts)
    return (f"cuDNN opaque buffer(s) {what} split into the canonical cudnn_compatible_* variables by the documented "
            "cuDNN layout (listed under variables, they are not in the checkpoint); the original graph runs "
            "CudnnRNN ops, which have no CPU kernel, so only the weaker rebuilt check was possible")
