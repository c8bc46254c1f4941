"""The inputs an attention decoder (a manifest ``seq2seq`` entry of ``tf.contrib.seq2seq``) is checked on, and how
the original graph takes them: shared by its Keras 2 check (:func:`migration.checkpoint.seq2seq.verify_entry`) and
its target files' (:mod:`migration.targets.onnx_seq2seq`), so every check of one decoder runs on the same arrays.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from migration.core.specs import CellSpec


def decoder_feeds(entry: dict, vocab_size: Optional[int], seed: int, batch: int = 3, steps: int = 4,
                  memory_steps: int = 5) -> dict:
    """Random memory, ragged lengths (the first row full, the others shorter; every row full when the graph's
    mechanism has no ``memory_sequence_length``: it attends to every memory step) and decoder ids (embedded inputs
    when ``vocab_size`` is None: the model has no embedding); sizes the graph fixes statically are kept."""
    rng = np.random.default_rng(seed)
    graph = entry.get("graph") or {}
    shapes = graph.get("shapes") or {}
    mem_shape = shapes.get(graph.get("memory"), [])
    ids_shape = shapes.get(graph.get("ids"), [])
    if len(mem_shape) == 3:
        batch = mem_shape[0] if mem_shape[0] > 0 else batch
        memory_steps = mem_shape[1] if mem_shape[1] > 0 else memory_steps
    if len(ids_shape) >= 2:
        batch = ids_shape[0] if ids_shape[0] > 0 else batch
        steps = ids_shape[1] if ids_shape[1] > 0 else steps
    block = entry["block_shapes"]
    memory = rng.uniform(-1, 1, (batch, memory_steps, block["memory_depth"])).astype(np.float32)
    lengths = np.array([memory_steps] + [max(1, memory_steps - 2 - k) for k in range(batch - 1)], np.int32)
    if graph and not graph.get("lengths"):  # a mechanism without memory_sequence_length attends to every step: the
        lengths = np.full(batch, memory_steps, np.int32)  # Keras model's (and ONNX file's) mask must cover them all
    if vocab_size is not None:
        ids = rng.integers(0, vocab_size, (batch, steps)).astype(np.int32)
    else:
        ids = rng.uniform(-1, 1, (batch, steps, block["input_depth"])).astype(np.float32)
    per_layer = 2 if CellSpec.from_dict(entry["cell_spec"]).is_lstm else 1
    units = [u for u in (block.get("stack_units") or block.get("layer_units") or [block["cell_units"]])
             for _ in range(per_layer)]
    state = [rng.normal(0, 0.5, (batch, u)).astype(np.float32)
             for u, _ in zip(units, graph.get("initial_state") or [])]
    return {"memory": memory, "lengths": lengths, "ids": ids, "state": state}


def graph_feeds(graph: dict, data: dict) -> dict:
    """The original graph's feeds for one seq2seq entry (``graph``: where its decoder lives) from ``data``."""
    feeds = {graph["memory"]: data["memory"]}
    if graph["lengths"]:
        feeds[graph["lengths"]] = data["lengths"]
    if graph["ids"]:
        feeds[graph["ids"]] = data["ids"]
    feeds.update(zip(graph.get("initial_state") or [], data["state"]))
    batch, steps = data["ids"].shape[:2]
    for name, how in graph["extra_feeds"].items():
        if how == "decoder_length":
            feeds[name] = np.full(batch, steps, np.int32)
        else:  # only its shape is read: zeros of [batch, memory steps, ...]
            shape = graph["shapes"].get(name, [-1])
            dims = [batch] + [d if d > 0 else data["memory"].shape[1] for d in shape[1:]]
            feeds[name] = np.zeros(dims, np.float32 if how == "shape_only_float" else np.int32)
    return feeds
