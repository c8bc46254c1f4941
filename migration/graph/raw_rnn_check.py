"""Check a block whose cell runs inside a ``tf.nn.raw_rnn`` decoder loop against the original graph.

The block contract (``[x, sequence_length]`` in, zero initial state) cannot be fed to a loop that makes its own
inputs, so the decoder is checked as the program runs it: the original graph is fed, just outside the loop, a random
first input, first finished flags (none), ragged lengths, a random initial state (and, with teacher forcing, a random
input sequence); it returns the stacked outputs (time-major) and the final state. The Keras side is the
:class:`modern_rnn.FeedbackDecoder` made from the converted block file's cell and the checkpoint's projection and
embedding (:func:`migration.graph.raw_rnn.decoder_layer`): the same layer the whole model uses.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from migration.graph import raw_rnn
from migration.graph.graphdef import node_dtype, ref
from migration.graph.block_feeds import shape_feeds
from migration.graph.wrapper_check import manifest_block_keys


def check_block(og, loops, block: dict, model, batch: int, steps: int, seed: int
                ) -> Optional[tuple[list[np.ndarray], list[np.ndarray]]]:
    """(original-graph outputs, Keras outputs) in the block's output order, or None when no ``raw_rnn`` loop reads the
    block's cell. Raises :class:`MigrationError` (naming the op) when one does but is not recognized."""
    import tensorflow as tf  # lazily, for start-up speed (modern_rnn imports it)
    from modern_rnn.feedback_decoder import state_order

    keys, _ = manifest_block_keys(block)
    if set(keys) != {""}:
        return None
    rr = raw_rnn.find(og, loops, keys[""])
    if rr is None:
        return None
    layer = raw_rnn.decoder_layer(og, rr, model, block["input_size"], "raw_rnn_check")
    rng = np.random.default_rng(seed)
    depth = block["input_size"]
    lengths = rng.integers(1, steps + 1, batch).astype(np.int32)
    lengths[0] = steps
    first_input = rng.normal(0, 1, (steps, batch, depth) if rr.sequence else (batch, depth)).astype(np.float32)
    first = [first_input, np.zeros(batch, bool), lengths]
    sizes = [int(s) for s in tf.nest.flatten(layer.cell.state_size)]
    units = [sizes[k] for k in state_order(layer.cell)]  # TF1 order
    state = [rng.normal(0, 0.5, (batch, u)).astype(np.float32) for u in units]
    values = first + state
    names = raw_rnn.layer_inputs(rr)
    for k, name in enumerate(names):  # one tensor fed twice (`(state, state)` for two layers): one value, both sides
        values[k] = values[names.index(name)]
    feeds = {_tensor(name): value.astype(_dtype(og, name, value)) for name, value in
             zip(raw_rnn.layer_inputs(rr), values)}
    feeds.update(shape_feeds(og, rr.outputs, feeds, batch, steps))
    feeds.update(_sized_only(og, rr.outputs, feeds, batch, steps))
    tf1 = og.run(rr.outputs, feeds)
    got = [np.asarray(t) for t in layer(values)]
    return tf1, got


def _tensor(name: str) -> str:
    return name if ":" in name else name + ":0"


def _dtype(og, name: str, value: np.ndarray):
    """The original tensor's dtype (lengths may be int64 in the program)."""
    node = og.index.node(ref(name)[0])
    for key in ("T", "dtype", "DstT"):
        if node is not None and key in node.attr and node.attr[key].type:
            import tensorflow as tf

            dtype = tf.dtypes.as_dtype(node.attr[key].type).as_numpy_dtype
            return dtype if np.dtype(dtype).kind == np.dtype(value.dtype).kind else value.dtype
    return value.dtype


_SIZES = ("Shape", "Size", "Rank", "ShapeN")


def _sized_only(og, fetches, feeds: dict, batch: int, steps: int) -> dict:
    """Zeros for the unfed placeholders whose values the fetches never read, only their shape, also from inside the
    loop (``tf.zeros([tf.shape(ids)[0], depth])`` in a ``loop_fn``: ``Enter`` -> ``Shape``)."""
    names, _ = og.closure(fetches, list(feeds))
    within, fed = set(names), {ref(t)[0] for t in feeds}
    out = {}
    for name in names:
        node = og.index.nodes[name]
        if node.op != "Placeholder" or name in fed or not node.attr["shape"].shape.dim:
            continue
        readers, todo = [], [name]
        while todo:
            for c in og.index.consumers(todo.pop()):
                if c.name in within:
                    (todo.append(c.name) if c.op in ("Enter", "Identity") else readers.append(c))
        if readers and all(c.op in _SIZES for c in readers):
            dims = [d.size if d.size >= 0 else (batch if k == 0 else steps)
                    for k, d in enumerate(node.attr["shape"].shape.dim)]
            out[f"{name}:0"] = np.zeros(dims, node_dtype(node).as_numpy_dtype)
    return out
