"""Resume training of the Keras 3 target (``convert --with-optimizer --target keras3``) from the converted TF1
optimizer slots: the Keras 3 twin of :mod:`migration.checkpoint.optimizer` (which serves the tf_keras model).

Keras 3's ``optimizers.Adam`` runs TF1's update (``t = iterations + 1``, the bias correction folded into the step
size, epsilon outside the square root) once built from the manifest's ``keras`` entry (epsilon 1e-8, betas and
learning rate from the ``.meta``); its slots live in per-variable lists (``_momentums``, ``_velocities``) indexed in
the order :meth:`build` saw the variables. The Keras 3 block layers take the Keras 2 arrays unchanged (same names,
same layout), so the slots converted for the Keras 2 block serve them as they are; a family exported through a
``standard`` hook (IndRNN's ``diag(u)``, WeightNormLSTM's folded kernels) is refused: training those weights is not
training the TF1 cell.

Usage (the Keras 3 whole model or one block model)::

    model = keras.saving.load_model("out/model.keras3.keras", safe_mode=True)
    opt, info = make_optimizer("out")
    restore_slots(opt, keras3_slots("out", model), info.get("iterations"))
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from migration.checkpoint.manifest import read_manifest
from migration.checkpoint.optimizer import KERAS_SLOT_LISTS, block_slots, dense_slots, embedding_slots, seq2seq_slots
from migration.core.errors import MigrationError
from migration.core.specs import CellSpec
from migration.families import family
from migration.targets.whole import layer_name

_BLOCK_LAYER = re.compile(r"^(fw_|bw_)?layer(\d+)$")


def make_optimizer(out_dir: str, **overrides: Any):
    """The Keras 3 optimizer the manifest describes (``keras.optimizers.Adam(epsilon=1e-8, ...)`` for a TF1 Adam)
    and the manifest's optimizer entry."""
    import keras

    opts = ((read_manifest(out_dir).get("optimizer") or {}).get("optimizers")) or []
    if not opts:
        raise MigrationError(f"The checkpoint converted into {out_dir!r} holds no optimizer state.")
    cfg = dict(opts[0]["keras"])
    cls = getattr(keras.optimizers, cfg.pop("class"))
    cfg.update(overrides)
    return cls(**cfg), opts[0]


def _block_pairs(out_dir: str, block: dict, model) -> list[tuple[Any, dict[str, np.ndarray]]]:
    """(variable, slots) of a Keras 3 block model's layers (``layer<k>`` / ``fw_layer<k>`` / ``bw_layer<k>``)."""
    for cell in block["cells"]:
        spec = CellSpec.from_dict(cell["spec"])
        if family(spec).standard is not None:
            raise MigrationError(f"block {block['name']!r}: the Keras 3 layer of a {spec.kind!r} cell holds weights "
                                 "rewritten for a standard layer (a dense diag(u), a folded weight norm); training "
                                 "them is not training the TF1 cell, so its slots are not restored.")
    slots = block_slots(out_dir, block["name"])  # per Keras weight, in manifest cell order
    per_cell, k = {}, 0
    for cell in block["cells"]:
        per_cell[(cell["direction"], cell.get("layer", 0))] = slots[k:k + len(cell["weights"])]
        k += len(cell["weights"])
    pairs = []
    for layer in model.layers:
        if not layer.trainable_weights:
            continue
        match = _BLOCK_LAYER.match(layer.name)
        key = ((match.group(1) or "").rstrip("_"), int(match.group(2))) if match else None
        if key not in per_cell or len(per_cell[key]) != len(layer.trainable_weights):
            raise MigrationError(f"Layer {layer.name!r} of the Keras 3 block {block['name']!r} matches no converted "
                                 "cell of the manifest.")
        pairs += list(zip(layer.trainable_weights, per_cell[key]))
    return pairs


def keras3_slots(out_dir: str, model) -> list[tuple[Any, dict[str, np.ndarray]]]:
    """``(variable, slots)`` for every trainable weight of a Keras 3 model ``convert --target keras3`` wrote: the
    whole model (``model.keras3.keras``: embeddings, blocks, Dense heads, matched through the manifest's
    ``model.layers``) or a block model (``blocks/<name>.keras3.keras``); for :func:`restore_slots`."""
    if hasattr(model, "named_weights"):  # seq2seq/<name>.keras3.keras: the Keras 2 twin's weight names and slots
        return seq2seq_slots(out_dir, model)
    manifest = read_manifest(out_dir)
    blocks = {f"block_{b['name']}": b for b in manifest["blocks"]}
    if model.name in blocks:
        return _block_pairs(out_dir, blocks[model.name], model)
    sources = {layer_name(k2): src for k2, src in ((manifest.get("model") or {}).get("layers") or {}).items()}
    pairs: list[tuple[Any, dict[str, np.ndarray]]] = []
    for layer in model.layers:
        if not layer.trainable_weights:
            continue
        if layer.name in blocks:
            pairs += _block_pairs(out_dir, blocks[layer.name], layer)
            continue
        src = sources.get(layer.name)
        if src is not None and "dense" in src:
            dense = next((d for d in manifest["dense"] if d["kernel"] == src["dense"]), None)
            slots = dense_slots(out_dir, dense["name"])[: len(layer.trainable_weights)] if dense else []
        elif src is not None and "embedding" in src:
            slots = [embedding_slots(out_dir, src["embedding"])]
        else:
            raise MigrationError(f"Layer {layer.name!r} of the Keras 3 model has no converted optimizer slots in "
                                 f"{out_dir!r} (training resumes for RNN blocks, Dense heads and embeddings).")
        if len(slots) != len(layer.trainable_weights) or not all(slots):
            raise MigrationError(f"{out_dir!r} has no optimizer slots for every weight of layer {layer.name!r}: "
                                 "convert with --with-optimizer.")
        pairs += list(zip(layer.trainable_weights, slots))
    return pairs


def restore_slots(optimizer, pairs: list[tuple[Any, dict[str, np.ndarray]]], iterations: int | None) -> None:
    """``optimizer.build([v for v, _ in pairs])``, then each variable's slots and ``iterations`` (Keras 3)."""
    optimizer.build([v for v, _ in pairs])
    for var, slots in pairs:
        index = optimizer._get_variable_index(var)  # noqa: SLF001 - Keras 3's own index of the slot lists
        for role, value in slots.items():
            attr = KERAS_SLOT_LISTS.get(role)
            if attr is None or not hasattr(optimizer, attr):
                raise MigrationError(f"Keras 3 {type(optimizer).__name__} has no slot for TF1 role {role!r}.")
            slot = getattr(optimizer, attr)[index]
            if tuple(slot.shape) != tuple(np.shape(value)):
                raise MigrationError(f"TF1 {role} slot of shape {np.shape(value)} for the Keras 3 variable "
                                     f"{var.path!r} of shape {tuple(slot.shape)}.")
            slot.assign(np.asarray(value, np.float32))
    if iterations is not None:
        optimizer.iterations.assign(iterations)
