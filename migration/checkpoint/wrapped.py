"""A ``dynamic_rnn`` block whose cell is wrapped in ``tf.contrib.rnn.AttentionCellWrapper``: recognized, converted
(``modern_rnn.AttentionCell``, weights by :mod:`migration.wrapper_converters`) and verified like any block.

The checkpoint gives every size but ``attn_length``; the ``.meta`` gives it: the wrapper's first op reshapes the
window state to ``[-1, attn_length, attn_size]`` (a ``Reshape`` whose shape is a ``Const``, in the loop body).
Without a ``.meta`` (or with several candidate lengths) the wrapper's variables are refused with the remedy.

Block contract (as :mod:`migration.checkpoint.blocks`): inputs ``[x [batch, time, D], sequence_length]``, outputs
``tf.nest.flatten((outputs, state))`` of TF1: ``outputs [B, T, A]``, the cell state in TF1 order (``c, h``), then
``attns [B, A]`` and the window ``[B, L*A]``.
"""
from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np

from migration.checkpoint.blocks import run_restored
from migration.checkpoint.weights import with_forget_bias
from migration.core.specs import CellSpec
from migration.core.tfproto import make_ndarray, read_meta
from migration.families import cell_to_keras, keras_cell, legacy_cell

STATE_PARTS = ("attns", "window")


def attn_lengths(meta_path: str, attn_size: int) -> set[int]:
    """Every ``L`` of a ``Reshape`` to ``[-1, L, attn_size]`` named ``.../attention_cell_wrapper/Reshape`` in the
    graph or its functions (the wrapper's window reshape)."""
    from migration.graph.graphdef import GraphIndex, ref

    remedy = "Use the .meta written with the checkpoint, or move it away to convert from the checkpoint alone."
    index = GraphIndex(read_meta(meta_path, remedy=remedy).graph_def)
    found = set()
    for ctx in [index.main, *index.fn_contexts.values()]:
        for node in ctx.nodes.values():
            if node.op != "Reshape" or not node.name.endswith("attention_cell_wrapper/Reshape") or len(node.input) < 2:
                continue
            shape = ctx.nodes.get(ref(node.input[1])[0])
            if shape is None or shape.op != "Const":
                continue
            value = make_ndarray(shape.attr["value"].tensor, what=f"Const {shape.name!r} in {meta_path!r}").reshape(-1)
            if value.size == 3 and value[0] == -1 and value[2] == attn_size and value[1] > 0:
                found.add(int(value[1]))
    return found


def output_labels(spec: CellSpec) -> list[str]:
    parts = (("c", "m") if spec.num_proj else ("c", "h")) if spec.is_lstm else ("h",)
    return ["outputs"] + [f"state/{p}" for p in parts + STATE_PARTS]


def build_keras_attention_block(spec: CellSpec, wrapper: dict, name: str):
    """``(model, attention cell)`` following the block contract (see the module docstring)."""
    import modern_rnn
    from modern_rnn import keras

    x = keras.Input((None, wrapper["input_depth"]), dtype="float32", name="x")
    length = keras.Input((), dtype="int32", name="sequence_length")
    cell = modern_rnn.attention_cell_wrapper(keras_cell(spec, wrapper["input_size"]),
                                             wrapper["attn_length"], wrapper["attn_size"], wrapper["attn_vec_size"],
                                             wrapper["input_size"])
    outputs, states = modern_rnn.dynamic_rnn(cell, x, sequence_length=length)
    states = list(states)
    n = len(spec.keras_state_sizes)
    cell_states = states[:n][::-1] if spec.is_lstm else states[:n]  # Keras [h, c] -> TF1 (c, h)
    return keras.Model([x, length], [outputs] + cell_states + states[n:], name=name), cell


def attention_block(conv, block) -> dict[str, Any]:
    """Write ``blocks/<name>.keras`` for a wrapped block; return its manifest entry (``conv``: the converter)."""
    from migration.wrapper_converters import attention_cell_wrapper_to_keras, load_attention_cell

    from migration.core.errors import MigrationError

    (cell,) = block.directions[""]
    cell = with_forget_bias(cell, conv.forget_bias)
    wrapper = block.wrapper
    slotted = sorted(k for k in [*cell.variables.values(), *wrapper["variables"].values()] if k in conv.slot_index)
    if conv.with_optimizer and slotted:
        raise MigrationError(f"--with-optimizer: the optimizer slots of the AttentionCellWrapper block {block.name!r} "
                             f"({slotted[:2]}...) are not converted (only its weights are); convert without "
                             "--with-optimizer, or drop the optimizer state.")
    model, kcell = build_keras_attention_block(cell.spec, wrapper, name=f"block_{block.name}")
    arrays = {f"{cell.spec.tf1_scope}/{n}": conv.read_weight(k) for n, k in cell.variables.items()}
    arrays.update({n: conv.read_weight(k) for n, k in wrapper["variables"].items()})
    load_attention_cell(kcell, attention_cell_wrapper_to_keras(cell.spec, arrays, wrapper["input_depth"],
                                                               cell_to_keras))
    file = conv.rel("blocks", f"{block.name}.keras")
    model.save(os.path.join(conv.tmp, file))
    conv.block_models.append(model)
    keys = sorted(cell.variables.values()) + sorted(wrapper["variables"].values())
    for key in keys:
        conv.destinations[key] = f"{file} (AttentionCellWrapper)"
    how = "migration.wrapper_converters.attention_cell_wrapper_to_keras (the query kernel's rows c,h -> h,c)"
    return {"name": block.name, "scope": block.scope, "file": file, "bidirectional": False,
            "input_size": wrapper["input_depth"], "layers": 1, "describe": block.describe() + " in AttentionCellWrapper",
            "inputs": ["x: float32 [batch, time, input_size]", "sequence_length: int32 [batch]"],
            "outputs": output_labels(cell.spec), "wrapper": {k: v for k, v in wrapper.items()},
            "cells": [{"direction": "", "layer": 0, "path": cell.path, "rel_path": cell.rel_path,
                       "variables": dict(cell.variables), "input_size": cell.input_size, "spec": cell.spec.to_dict(),
                       "hyper_sources": cell.hyper_sources, "keras_class": "AttentionCell",
                       "weights": [{"keras": "attention_cell", "sources": keys, "transform": how}]}]}


def run_rebuilt(prefix: str, block: dict, x: np.ndarray, lengths: np.ndarray) -> Optional[list[np.ndarray]]:
    """The wrapped block rebuilt with ``legacy_rnn.attention_cell_wrapper``, restored by name (None: not wrapped)."""
    wrapper = block.get("wrapper")
    if not wrapper:
        return None
    import legacy_rnn
    import tensorflow as tf

    cell_entry = block["cells"][0]
    spec = CellSpec.from_dict(cell_entry["spec"])
    scope = "verify_block"
    with legacy_rnn.new_graph() as graph:
        xp = tf.compat.v1.placeholder(tf.float32, [None, x.shape[1], wrapper["input_depth"]], name="x")
        lp = tf.compat.v1.placeholder(tf.int32, [None], name="sequence_length")
        cell = legacy_rnn.attention_cell_wrapper(legacy_cell(spec), wrapper["attn_length"],
                                                 wrapper["attn_size"], wrapper["attn_vec_size"],
                                                 wrapper["input_size"])
        outputs, state = legacy_rnn.dynamic_rnn(cell, xp, sequence_length=lp, scope=scope)
        flat = tf.nest.flatten((outputs, state))
        base = f"{scope}/attention_cell_wrapper/"
        own = {f"{spec.tf1_scope}/{n}": k for n, k in cell_entry["variables"].items()}
        own.update(wrapper["variables"])
        name_map = {own[v.op.name[len(base):]]: v for v in tf.compat.v1.global_variables()
                    if v.op.name.startswith(base)}
        return run_restored(graph, prefix, name_map, flat, {xp: x, lp: lengths})
