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

_PRE = ("embedding_wrapper/embedding", "input_projection_wrapper/kernel", "input_projection_wrapper/bias")
_POST = ("output_projection_wrapper/kernel", "output_projection_wrapper/bias")


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
    from migration.graph.graphdef import ref
    from migration.graph.reference import output_dtype

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


def check_wrapped_block(og, loops, block: dict, model: Any, reader, x: np.ndarray, lengths: np.ndarray,
                        seed: int = 0) -> Optional[tuple[list[np.ndarray], list[np.ndarray], np.ndarray]]:
    """``(original outputs, Keras outputs, lengths used)`` with the wrappers applied on the Keras side, or None."""
    from migration.graph.blocks import match
    from migration.graph.whole_model import manifest_block_keys

    keys, n_states = manifest_block_keys(block)
    if set(keys) != {""}:
        return None
    hits = [loop for loop in match(loops, keys[""]) if not loop.problems and loop.outputs]
    if len(hits) != 1:
        return None
    loop = hits[0]
    roles = _wrapper_variables(loop.variables - keys[""])
    if not roles:
        return None
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
    original = og.run([loop.outputs] + loop.states(n_states[""]), feeds)
    if loop.time_major:
        original[0] = np.transpose(original[0], (1, 0, 2))
    keras_out = [np.asarray(t) for t in model([x, lengths], training=False)]
    if "output_projection_wrapper/kernel" in values:
        projected = keras_out[0] @ values["output_projection_wrapper/kernel"] + values["output_projection_wrapper/bias"]
        mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
        keras_out[0] = np.where(mask[..., None], projected, 0.0).astype(np.float32)
    return original, keras_out, lengths
