"""``stack_bidirectional_dynamic_rnn`` / ``stack_bidirectional_rnn`` converted as ONE chained block.

``inspect`` recognizes each layer ``<scope>/cell_k/bidirectional_rnn`` as a bidirectional block (``convert`` writes
one block model per layer, each verified on its own). This module adds, per chained stack
(:func:`migration.checkpoint.families.stacked_bidirectional`), the model of the whole stack:

* ``stacks/<name>.keras``: inputs ``[x float32 [batch, time, input_size], sequence_length int32 [batch]]``; outputs
  ``tf.nest.flatten((outputs, states_fw, states_bw))`` exactly as TF1 returns them: the top layer's
  ``concat([fw, bw], -1)``, then every layer's forward final state (TF1 order, ``c, h`` for LSTMs), then every
  layer's backward one. Layer k reads ``concat([fw, bw])`` of layer k-1; ``sequence_length`` is shared.
  (:func:`build_keras_stack`, :func:`modern_rnn.stack_bidirectional_dynamic_rnn`.)
* the manifest's ``stacks`` entry keeps the per-layer information (block name, scope, input size, both cells' specs
  and checkpoint variables).

:func:`check_stack` verifies the stack model against the original graph: the layer-0 input and ``sequence_length``
tensors are fed, the top layer's ``ConcatV2`` of (fw outputs, re-reversed bw outputs) and each layer's final states
are fetched, so the original program itself chains the layers. Without a ``.meta`` (or when the graph has no
``dynamic_rnn`` loops, as for ``stack_bidirectional_rnn``), a TF1 stack rebuilt by ``legacy_rnn`` is the (weaker)
reference, said in the notes.
"""
from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np

from migration.checkpoint.checks import Check
from migration.checkpoint.blocks import run_restored
from migration.checkpoint.weights import float32_weight, with_forget_bias
from migration.checkpoint.manifest import safe_name
from migration.core.errors import MigrationError
from migration.graph.limits import SandboxLimit
from migration.graph.block_feeds import shape_feeds
from migration.core.specs import CellSpec
from migration.families import cell_to_keras, keras_cell, legacy_cell

DIRECTIONS = ("fw", "bw")


def output_labels(layers: list[dict[str, CellSpec]]) -> list[str]:
    """``outputs``, then ``fw/layer{k}/state/{c,h}`` for every layer, then the same for ``bw``."""
    labels = ["outputs"]
    for d in DIRECTIONS:
        for k, layer in enumerate(layers):
            spec = layer[d]
            parts = (("c", "m") if spec.num_proj else ("c", "h")) if spec.is_lstm else ("h",)
            labels += [f"{d}/layer{k}/state/{p}" for p in parts]
    return labels


def build_keras_stack(layers: list[dict[str, CellSpec]], input_size: int, name: str):
    """``(model, {"fw": [cell per layer], "bw": [...]})``: the functional stack model (see the module docstring)."""
    import modern_rnn
    from modern_rnn import keras

    x = keras.Input((None, input_size), dtype="float32", name="x")
    length = keras.Input((), dtype="int32", name="sequence_length")
    cells: dict[str, list] = {d: [] for d in DIRECTIONS}
    depth = input_size
    for layer in layers:
        for d in DIRECTIONS:
            cells[d].append(keras_cell(layer[d], depth))
        depth = layer["fw"].output_size + layer["bw"].output_size
    outputs, states_fw, states_bw = modern_rnn.stack_bidirectional_dynamic_rnn(cells["fw"], cells["bw"], x,
                                                                                sequence_length=length)
    flat = [outputs]
    for d, states in (("fw", states_fw), ("bw", states_bw)):
        for cell, state in zip(cells[d], states):
            flat += modern_rnn.flatten_state(state, cell)
    return keras.Model([x, length], flat, name=name), cells


def write_stacks(conv, blocks, block_entries: list[dict]) -> list[dict[str, Any]]:
    """Write ``stacks/<name>.keras`` for every chained stack of ``blocks`` (one cell per direction and layer);
    ``conv`` is the running converter (its reader, staging directory, forget_bias override, destinations)."""
    from migration.checkpoint import families

    by_scope = {e["scope"]: e for e in block_entries}
    out = []
    for scope, order, chained in families.stacked_bidirectional(blocks):
        if not chained or any(len(b.directions[d]) != 1 for b in order for d in DIRECTIONS):
            continue
        cells = [{d: with_forget_bias(b.directions[d][0], conv.forget_bias) for d in DIRECTIONS} for b in order]
        specs = [{d: layer[d].spec for d in DIRECTIONS} for layer in cells]
        name = safe_name(scope or "stack_bidirectional_rnn")
        model, keras_cells = build_keras_stack(specs, order[0].input_size, name=f"stack_{name}")
        file = conv.rel("stacks", f"{name}.keras")
        layers = []
        for k, (block, layer) in enumerate(zip(order, cells)):
            entry = {"block": by_scope[block.scope]["name"], "scope": block.scope, "input_size": block.input_size}
            for d in DIRECTIONS:
                cell = layer[d]
                arrays = {n: float32_weight(key, conv.reader.read(key))[0] for n, key in cell.variables.items()}
                keras_cells[d][k].set_weights(cell_to_keras(cell.spec, arrays, cell.input_size))
                entry[d] = {"spec": cell.spec.to_dict(), "variables": dict(cell.variables), "path": cell.path}
                for key in cell.variables.values():
                    conv.destinations[key] = f"{conv.destinations.get(key, '')}; {file} (layer {k} {d})".lstrip("; ")
            layers.append(entry)
        model.save(os.path.join(conv.tmp, file))
        out.append({"name": name, "scope": scope, "file": file, "input_size": order[0].input_size,
                    "inputs": ["x: float32 [batch, time, input_size]", "sequence_length: int32 [batch]"],
                    "outputs": output_labels(specs), "layers": layers,
                    "describe": f"stack_bidirectional_dynamic_rnn, {len(layers)} layers: layer k reads "
                                "concat(fw, bw) of layer k-1, sequence_length shared"})
    return out


# -- verification ---------------------------------------------------------------------------------------------------

def _concat_of(index, first: str, second: str) -> Optional[str]:
    """The ``ConcatV2`` whose first two inputs are ``first`` and ``second`` (the stack's ``tf.concat(outs, 2)``)."""
    from migration.graph.graphdef import ref

    def norm(t: str) -> tuple:
        name, idx, _ = ref(t)
        return name, idx

    for c in index.consumers(ref(first)[0]):
        if c.op == "ConcatV2" and len(c.input) >= 3 and [norm(i) for i in c.input[:2]] == [norm(first), norm(second)]:
            return f"{c.name}:0"
    return None


def _original(original, loops, entry: dict, blocks: dict[str, dict], x: np.ndarray, lengths: np.ndarray):
    """(flat reference outputs, lengths used) from the original graph; raises MigrationError when it cannot."""
    from migration.graph.whole_model import locate

    located = [locate(original, loops, blocks[layer["block"]]) for layer in entry["layers"]]
    counts = [{d: len(CellSpec.from_dict(layer[d]["spec"]).tf1_state_sizes) for d in DIRECTIONS}
              for layer in entry["layers"]]
    first, top = located[0], located[-1]
    concat = _concat_of(original.index, top.outputs[0], top.outputs[1])
    if concat is None:
        raise MigrationError(f"no concat of the top layer's fw and bw outputs ({top.outputs[:2]}) in the graph")
    fetches = [concat]
    for d in DIRECTIONS:
        for t, n in zip(located, counts):
            states = t.outputs[2:]
            fetches += states[:n["fw"]] if d == "fw" else states[n["fw"]:n["fw"] + n["bw"]]
    if first.sequence_length is None:
        lengths = np.full_like(lengths, x.shape[1])
    feeds = {first.x: np.transpose(x, (1, 0, 2)) if first.time_major else x}
    if first.sequence_length is not None:
        feeds[first.sequence_length] = lengths
    feeds.update(shape_feeds(original, fetches, feeds, x.shape[0], x.shape[1]))
    out = original.run(fetches, feeds)
    if first.time_major:
        out[0] = np.transpose(out[0], (1, 0, 2))
    return out, lengths


def _rebuilt(prefix: str, entry: dict, x: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    """The TF1 stack rebuilt with ``legacy_rnn.stack_bidirectional_dynamic_rnn``, restored by name."""
    import legacy_rnn
    import tensorflow as tf

    scope = "verify_stack"
    with legacy_rnn.new_graph() as graph:
        xp = tf.compat.v1.placeholder(tf.float32, [None, x.shape[1], entry["input_size"]], name="x")
        lp = tf.compat.v1.placeholder(tf.int32, [None], name="sequence_length")
        made = {d: [legacy_cell(CellSpec.from_dict(layer[d]["spec"])) for layer in entry["layers"]]
                for d in DIRECTIONS}
        outputs, st_fw, st_bw = legacy_rnn.stack_bidirectional_dynamic_rnn(made["fw"], made["bw"], xp,
                                                                           sequence_length=lp, scope=scope)
        flat = tf.nest.flatten((outputs, st_fw, st_bw))
        name_map = {}
        for var in tf.compat.v1.global_variables():
            comps = var.op.name.split("/")  # verify_stack/cell_k/bidirectional_rnn/{fw,bw}/<cell>/<name...>
            layer = entry["layers"][int(comps[1][len("cell_"):])]
            name_map[layer[comps[3]]["variables"]["/".join(comps[5:])]] = var
        return run_restored(graph, prefix, name_map, flat, {xp: x, lp: lengths})


def check_stack(entry: dict, manifest: dict, out_dir: str, prefix: str, original, loops, x: np.ndarray,
                lengths: np.ndarray, notes: list[str]) -> list:
    """Checks of one stack model (see the module docstring); ``original`` None means no ``.meta``."""
    from migration.safe_io import load_block_model

    model = load_block_model(out_dir, entry["file"])
    reference, expected = "rebuilt", None
    if original is not None:
        try:
            expected, lengths = _original(original, loops, entry, {b["name"]: b for b in manifest["blocks"]}, x,
                                          lengths)
            reference = "original-graph"
        except SandboxLimit:
            raise
        except MigrationError as exc:
            notes.append(f"stack {entry['name']}: {exc}; compared with a TF1 stack rebuilt from our reading of the "
                         "checkpoint instead (weaker: a misread hyper-parameter would pass)")
    if expected is None:
        expected = _rebuilt(prefix, entry, x, lengths)
    got = [np.asarray(t) for t in model([x, lengths], training=False)]
    if len(got) != len(expected):
        raise MigrationError(f"Stack {entry['name']!r}: the Keras model returns {len(got)} outputs, TF1 "
                             f"{len(expected)}; the file {entry['file']!r} does not follow the stack contract.")
    return [Check(f"stack {entry['name']}", label, float(np.max(np.abs(a - b))) if a.shape == b.shape
                  else float("inf"), list(a.shape), reference)
            for label, a, b in zip(entry["outputs"], expected, got)]
