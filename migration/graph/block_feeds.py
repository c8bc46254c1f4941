"""Inputs for checking one RNN block on the original graph, as the graph can take them.

* **Static sizes**: a graph built with a fixed batch (``placeholder([2, 32, 100, 3])``, CRNN front ends) or a
  fixed number of steps runs only on inputs of that size (its ``TensorListFromTensor`` checks the element shape).
  :func:`fit_static_sizes` cuts or repeats the random test input (and its lengths) to the sizes the block's input
  tensor has in the ``.meta`` (``_output_shapes``); the Keras block then runs on the same arrays.
* **Shape-only placeholders**: a program that sizes the zero state from another placeholder
  (``cell.zero_state(tf.shape(features)[0])``) makes the block depend on that placeholder through its shape alone.
  :func:`shape_feeds` feeds those ``Shape``/``Size``/``Rank`` tensors with the test input's sizes, so the loop
  runs without inventing the placeholder's values. A placeholder whose values reach the block is not fed: the
  check then falls back, naming it.
* **Nested inputs**: a ``dynamic_rnn`` over ``(times, x)`` (PhasedLSTMCell) reads two tensors; the Keras block reads
  them concatenated. :func:`input_feeds` cuts the test input back into the parts, by their static last dimensions.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from migration.core.errors import MigrationError
from migration.graph.graphdef import ref
from migration.graph.limits import check_feed


def _static_shape(og, tensor: str) -> Optional[list[int]]:
    name, idx, _ = ref(tensor)
    node = og.index.node(name)
    if node is None:
        return None
    if node.op in ("Placeholder", "PlaceholderWithDefault") and "shape" in node.attr and \
            not node.attr["shape"].shape.unknown_rank:
        return [int(d.size) for d in node.attr["shape"].shape.dim]
    shapes = node.attr["_output_shapes"].list.shape if "_output_shapes" in node.attr else []
    if idx >= len(shapes) or shapes[idx].unknown_rank:
        return None
    return [int(d.size) for d in shapes[idx].dim]


def fit_static_sizes(og, x_tensor: str, time_major: bool, x: np.ndarray,
                     lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x, lengths)`` (batch-major) cut or repeated to the fixed batch and step counts of ``x_tensor``."""
    shape = _static_shape(og, x_tensor)
    if not shape or len(shape) != 3:
        return x, lengths
    batch, steps = (shape[1], shape[0]) if time_major else (shape[0], shape[1])
    # a shape edited to [10**9, T, D]: refused before anything is allocated
    check_feed(x_tensor, [batch if batch > 0 else x.shape[0], steps if steps > 0 else x.shape[1], x.shape[2]],
               x.dtype.itemsize)
    if batch > 0 and batch != x.shape[0]:
        rows = np.arange(batch) % x.shape[0]
        x, lengths = x[rows], lengths[rows]
    if steps > 0 and steps != x.shape[1]:
        cols = np.arange(steps) % x.shape[1]
        x = x[:, cols]
        lengths = np.minimum(lengths, steps).astype(lengths.dtype)
        lengths[0] = steps
    return np.ascontiguousarray(x), lengths


_SHAPE_OPS = {"Shape": lambda dims, n: np.asarray(dims), "Size": lambda dims, n: np.asarray(int(np.prod(dims))),
              "Rank": lambda dims, n: np.asarray(len(dims), np.int32)}


def shape_feeds(og, fetches, feeds: dict, batch: int, steps: int) -> dict[str, np.ndarray]:
    """Feeds for the ``Shape``/``Size``/``Rank`` of placeholders the fetches need only through those (see the
    module docstring); empty when some unfed placeholder's values are needed."""
    from migration.graph.ops import attr_value

    names, _ = og.closure(fetches, list(feeds))
    within = set(names)
    fed = {ref(t)[0] for t in feeds}
    extra: dict[str, np.ndarray] = {}
    for name in names:
        node = og.index.nodes[name]
        if node.op != "Placeholder" or name in fed:
            continue
        shape = _static_shape(og, name)
        readers = [c for c in og.index.consumers(name) if c.name in within and c.name not in fed]  # fed: not run
        if shape is None or not readers or any(c.op not in _SHAPE_OPS for c in readers):
            return {}
        dims = [d if d >= 0 else (batch if k == 0 else steps if k == 1 else -1) for k, d in enumerate(shape)]
        if any(d < 0 for d in dims):
            return {}
        for c in readers:
            out_type = attr_value(c, "out_type")
            value = _SHAPE_OPS[c.op](dims, c)
            extra[f"{c.name}:0"] = value.astype(out_type.as_numpy_dtype if out_type is not None else np.int32)
    return extra


def fit_block_input(og, loops, block: dict, x: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fit_static_sizes` for a manifest block located in the original graph (unchanged when it is not)."""
    from migration.graph.whole_model import locate

    try:
        where = locate(og, loops, block)
    except MigrationError:
        return x, lengths
    return fit_static_sizes(og, where.x, where.time_major, x, lengths)


def input_feeds(og, where, x: np.ndarray) -> dict[str, np.ndarray]:
    """Feeds of a located block's input tensors for the batch-major test input ``x``: ``{x tensor: x}``, or for a
    nested input (``where.parts``) ``x`` cut on its last axis into the parts (every part but the last of a static
    width; the last takes the rest)."""
    value = np.transpose(x, (1, 0, 2)) if where.time_major else x
    if not where.parts:
        return {where.x: value}
    widths = [(_static_shape(og, t) or [-1])[-1] for t in where.parts[:-1]]
    if any(w <= 0 for w in widths) or sum(widths) >= x.shape[-1]:
        raise MigrationError(f"the nested input {list(where.parts)} of the block: the widths of its first parts "
                             f"({widths}) are not known or leave nothing of the {x.shape[-1]} columns for the last")
    cuts = np.cumsum(widths)
    return {t: np.ascontiguousarray(v) for t, v in zip(where.parts, np.split(value, cuts, axis=-1))}
