"""Check a block whose cell the program wrapped in ``OutputProjectionWrapper`` / ``InputProjectionWrapper`` /
``EmbeddingWrapper`` against the ORIGINAL graph.

The wrappers apply their weights inside every step of the ``dynamic_rnn`` loop, so the loop's boundary is not the
block's: the loop reads ids (``EmbeddingWrapper``) or raw inputs (``InputProjectionWrapper``) and returns projected
outputs (``OutputProjectionWrapper``); its final state is the wrapped cell's. Here the converted Keras block is run
between the wrappers' own arithmetic, with the checkpoint's wrapper weights, exactly as TF 1.15 applied them::

    EmbeddingWrapper:        x_t = embedding[ids_t]                        (ids [B, T] or [B, T, 1], cast to int)
    InputProjectionWrapper:  x_t = inputs_t @ kernel + bias
    OutputProjectionWrapper: y_t = output_t @ kernel + bias, and 0 past each sequence's length (dynamic_rnn's copy)

and the result is compared with the loop's outputs and final state, fed the same ids or inputs. Wrappers built with
an ``activation`` are not read from the graph: such a block then fails the check (never passes silently). Only
unidirectional blocks whose loop reads nothing but the cell's and the wrappers' variables are handled; anything
else returns ``None`` and the caller falls back to the weaker rebuilt check, saying so.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from migration.core.errors import UnknownCellError
from migration.families import family
from migration.graph.blocks import find_loops, match
from migration.graph.graphdef import ref
from migration.graph.reference import output_dtype

_PRE = ("embedding_wrapper/embedding", "input_projection_wrapper/kernel", "input_projection_wrapper/bias")
_POST = ("output_projection_wrapper/kernel", "output_projection_wrapper/bias")


def manifest_block_keys(block: dict) -> tuple[dict[str, set[str]], dict[str, int]]:
    """Checkpoint keys per direction and state counts per direction of a manifest block."""
    keys: dict[str, set[str]] = {}
    for cell in block["cells"]:
        ks = keys.setdefault(cell["direction"], set())
        for w in cell["weights"]:
            ks.update(set(w["sources"]) - _unread(cell))
    n_states: dict[str, int] = {}
    for label in block["outputs"]:
        if "state/" in label:
            direction = label.split("/", 1)[0] if label.startswith(("fw/", "bw/")) else ""
            n_states[direction] = n_states.get(direction, 0) + 1
    for d in keys:
        n_states.setdefault(d, 0)
    return keys, n_states


def _unread(cell: dict) -> set[str]:
    """Checkpoint keys of the variables the cell's family creates but never reads (``Family.unread``): no loop of
    the original graph reads them, so they cannot locate it."""
    kind = cell.get("spec", {}).get("kind")
    try:
        names = family(kind).unread if kind else ()
    except UnknownCellError:
        return set()
    return {cell["variables"][n] for n in names if n in cell.get("variables", {})}


def _wrapper_variables(extra: set[str]) -> Optional[dict[str, str]]:
    """``{'embedding_wrapper/embedding': key, ...}`` for the loop's extra variables, or None when one is not a
    wrapper variable (or a wrapper appears twice)."""
    found: dict[str, str] = {}
    for key in extra:
        role = "/".join(key.split("/")[-2:])
        if role not in _PRE + _POST or role in found:
            return None
        found[role] = key
    pairs = [("input_projection_wrapper/kernel", "input_projection_wrapper/bias"), _POST]
    if any((a in found) != (b in found) for a, b in pairs):
        return None
    if "embedding_wrapper/embedding" in found and "input_projection_wrapper/kernel" in found:
        return None  # two pre-processings: their order is not known here
    return found


def _fed_input(og, tensor: str, pre: dict[str, np.ndarray], x: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(what the original loop is fed, what the Keras block is fed) for the block input ``x`` of the test."""
    if "embedding_wrapper/embedding" in pre:
        table = pre["embedding_wrapper/embedding"]
        ids = np.random.default_rng(seed).integers(0, table.shape[0], x.shape[:2])
        node = og.index.node(ref(tensor)[0])
        dtype = output_dtype(node) if node is not None else None
        dims = len(node.attr["shape"].shape.dim) if node is not None and "shape" in node.attr else 3
        fed = ids.astype(dtype.as_numpy_dtype if dtype is not None else np.float32)
        return (fed[..., None] if dims == 3 else fed), table[ids]
    kernel, bias = pre["input_projection_wrapper/kernel"], pre["input_projection_wrapper/bias"]
    raw = np.random.default_rng(seed).normal(0.0, 1.0, x.shape[:2] + (kernel.shape[0],)).astype(np.float32)
    return raw, (raw @ kernel + bias).astype(np.float32)


def wrapped_loop(loops, block: dict):
    """``(loop, {role: checkpoint key}, number of state tensors)`` when ``block`` is a unidirectional block whose one
    loop reads, besides the block's variables, only the wrappers' (see the module docstring); else None."""
    keys, n_states = manifest_block_keys(block)
    if set(keys) != {""}:
        return None
    hits = [loop for loop in match(loops, keys[""]) if not loop.problems and loop.outputs]
    if len(hits) != 1:
        return None
    roles = _wrapper_variables(hits[0].variables - keys[""])
    return (hits[0], roles, n_states[""]) if roles else None


def keras_wrapped_block(og, loop, roles: dict[str, str], block_model: Any):
    """The Keras block between the wrappers, for the whole model: inputs ``[what the loop reads, lengths]``,
    outputs the loop's (projected outputs, then the cell's state). Weights from the checkpoint (``og.reader``)."""
    import tensorflow as tf

    from modern_rnn import keras

    values = {role: og.reader.read(key) for role, key in roles.items()}
    node = og.index.node(ref(loop.x)[0])
    if "embedding_wrapper/embedding" in values:
        table = values["embedding_wrapper/embedding"]
        rank = len(node.attr["shape"].shape.dim) if node is not None and "shape" in node.attr else 3
        x = keras.Input((None,) * (rank - 1), name="ids")
        embedding = keras.layers.Embedding(*table.shape, name="embedding_wrapper")
        pre = keras.layers.Reshape((-1, table.shape[1]))(embedding(x))  # [B, T, 1, E] -> [B, T, E]
        embedding.set_weights([table])
    elif "input_projection_wrapper/kernel" in values:
        kernel = values["input_projection_wrapper/kernel"]
        x = keras.Input((None, kernel.shape[0]), name="x")
        dense = keras.layers.Dense(kernel.shape[1], name="input_projection_wrapper")
        pre = dense(x)
        dense.set_weights([kernel, values["input_projection_wrapper/bias"]])
    else:
        x = pre = keras.Input((None, block_model.inputs[0].shape[-1]), name="x")
    length = keras.Input((), dtype="int32", name="sequence_length")
    outs = block_model([pre, length])
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    if "output_projection_wrapper/kernel" in values:
        kernel = values["output_projection_wrapper/kernel"]
        dense = keras.layers.Dense(kernel.shape[1], name="output_projection_wrapper")
        projected = dense(outs[0])
        dense.set_weights([kernel, values["output_projection_wrapper/bias"]])
        mask = tf.cast(tf.sequence_mask(length, tf.shape(projected)[1]), projected.dtype)
        outs[0] = projected * tf.expand_dims(mask, -1)  # dynamic_rnn's zero output past each length
    return keras.Model([x, length], outs, name=f"{block_model.name}_wrapped")


def id_inputs(og) -> dict[str, int]:
    """Placeholders an ``EmbeddingWrapper`` loop reads as ids (often float, cast inside the step): name -> the
    table's row count, so that test inputs are valid ids."""
    found = {}
    for loop in find_loops(og):
        for key in loop.variables:
            if key.endswith("embedding_wrapper/embedding") and loop.x and key in og.reader.variables:
                found[ref(loop.x)[0]] = int(og.reader.variables[key].shape[0])
    return found


def check_wrapped_block(og, loops, block: dict, model: Any, reader, x: np.ndarray, lengths: np.ndarray,
                        seed: int = 0) -> Optional[tuple[list[np.ndarray], list[np.ndarray], np.ndarray]]:
    """``(original outputs, Keras outputs, lengths used)`` with the wrappers applied on the Keras side, or None."""
    found = wrapped_loop(loops, block)
    if found is None:
        return None
    loop, roles, n_states = found
    values = {role: reader.read(key) for role, key in roles.items()}
    pre = {r: v for r, v in values.items() if r in _PRE}
    if pre:
        fed, x = _fed_input(og, loop.x, pre, x, seed)
    else:
        fed = x
    if loop.sequence_length is None:
        lengths = np.full_like(lengths, x.shape[1])
    feeds = {loop.x: np.transpose(fed, (1, 0) + tuple(range(2, fed.ndim))) if loop.time_major else fed}
    if loop.sequence_length is not None:
        feeds[loop.sequence_length] = lengths
    original = og.run([loop.outputs] + loop.states(n_states), feeds)
    if loop.time_major:
        original[0] = np.transpose(original[0], (1, 0, 2))
    keras_out = [np.asarray(t) for t in model([x, lengths], training=False)]
    if "output_projection_wrapper/kernel" in values:
        projected = keras_out[0] @ values["output_projection_wrapper/kernel"] + values["output_projection_wrapper/bias"]
        mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
        keras_out[0] = np.where(mask[..., None], projected, 0.0).astype(np.float32)
    return original, keras_out, lengths
