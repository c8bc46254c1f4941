"""Put converted TF1 optimizer state (``convert --with-optimizer``) into a tf_keras optimizer, so training resumes.

TF1 Adam and tf_keras ``optimizers.Adam`` use the same update with ``t = iterations + 1``, but Keras' epsilon default
is 1e-7 where TF1's is 1e-8: build the optimizer from the manifest's ``keras`` entry (epsilon 1e-8, betas and
learning rate from the ``.meta`` when present). Slots were converted with the same layout transform as their
variables and without ``forget_bias``.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from migration.checkpoint.manifest import read_manifest
from migration.core.errors import MigrationError

#: TF1 slot role -> tf_keras optimizer attribute holding that slot per variable
KERAS_SLOT_LISTS = {"m": "_momentums", "v": "_velocities", "accumulator": "_accumulators", "momentum": "momentums",
                "rms": "_velocities", "linear": "_linears", "accum": "_accumulated_grads",
                "accum_update": "_accumulated_delta_vars"}


def block_slots(out_dir: str, block_name: str) -> list[dict[str, np.ndarray]]:
    """Slot arrays for each Keras weight of a block model, in ``model.trainable_weights`` cell order."""
    manifest = read_manifest(out_dir)
    block = next((b for b in manifest["blocks"] if b["name"] == block_name), None)
    if block is None:
        raise MigrationError(f"No block {block_name!r} in {out_dir!r}; blocks: {[b['name'] for b in manifest['blocks']]}.")
    out = []
    for cell in block["cells"]:
        for weight in cell["weights"]:
            if "slots" not in weight:
                raise MigrationError(f"{out_dir!r} has no optimizer slots: convert with --with-optimizer.")
            out.append({role: np.load(os.path.join(out_dir, path)) for role, path in weight["slots"].items()})
    return out


def embedding_slots(out_dir: str, name: str) -> dict[str, np.ndarray]:
    manifest = read_manifest(out_dir)
    emb = next(e for e in manifest["embeddings"] if e["name"] == name)
    return {role: np.load(os.path.join(out_dir, path)) for role, path in emb.get("slots", {}).items()}


def dense_slots(out_dir: str, name: str) -> list[dict[str, np.ndarray]]:
    """``[kernel slots, bias slots]`` of dense head ``name``."""
    manifest = read_manifest(out_dir)
    d = next(x for x in manifest["dense"] if x["name"] == name)
    return [{role: np.load(os.path.join(out_dir, p)) for role, p in d.get("slots", {}).get(w, {}).items()}
            for w in ("kernel", "bias")]


def make_optimizer(out_dir: str, **overrides: Any):
    """The tf_keras optimizer the manifest describes (``Adam(epsilon=1e-8, ...)`` for a TF1 Adam)."""
    from modern_rnn import keras

    manifest = read_manifest(out_dir)
    opts = (manifest.get("optimizer") or {}).get("optimizers") or []
    if not opts:
        raise MigrationError(f"The checkpoint converted into {out_dir!r} holds no optimizer state.")
    cfg = dict(opts[0]["keras"])
    cls = getattr(keras.optimizers, cfg.pop("class"))
    cfg.update(overrides)
    return cls(**cfg), opts[0]


def restore_slots(optimizer, pairs: Sequence[tuple[Any, dict[str, np.ndarray]]], iterations: int | None) -> None:
    """``optimizer.build([v for v, _ in pairs])`` then assign each variable's slots and ``iterations``."""
    variables = [v for v, _ in pairs]
    optimizer.build(variables)
    for var, slots in pairs:
        index = optimizer._index_dict[optimizer._var_key(var)]
        for role, value in slots.items():
            attr = KERAS_SLOT_LISTS.get(role)
            if attr is None or not hasattr(optimizer, attr):
                raise MigrationError(f"{type(optimizer).__name__} has no slot for TF1 role {role!r}.")
            getattr(optimizer, attr)[index].assign(value)
    if iterations is not None:
        optimizer.iterations.assign(iterations)


def whole_model_slots(out_dir: str, model) -> list[tuple[Any, dict[str, np.ndarray]]]:
    """``(variable, slots)`` for every trainable weight of the whole model (``model.keras``), for
    :func:`restore_slots`: RNN blocks, Dense heads and trainable embeddings, matched through the manifest's
    ``model.layers`` (layer name -> the checkpoint variables it holds)."""
    manifest = read_manifest(out_dir)
    entry = manifest.get("model")
    if not entry:
        raise MigrationError(f"{out_dir!r} has no whole model (model.keras); see the manifest's notes for why.")
    sources = entry.get("layers", {})
    pairs: list[tuple[Any, dict[str, np.ndarray]]] = []
    for layer in model.layers:
        if not layer.trainable_weights:
            continue
        src = sources.get(layer.name)
        if src is None:
            raise MigrationError(f"Layer {layer.name!r} of the whole model is not in the manifest of {out_dir!r}.")
        if "block" in src:
            slots = block_slots(out_dir, src["block"])
        elif "dense" in src:
            dense = next((d for d in manifest["dense"] if d["kernel"] == src["dense"]), None)
            if dense is None:
                raise MigrationError(f"No converted dense head holds {src['dense']!r}; its slots were not converted.")
            slots = dense_slots(out_dir, dense["name"])[: len(layer.trainable_weights)]
        elif "embedding" in src:
            slots = [embedding_slots(out_dir, src["embedding"])]
        else:  # a CNN front end's Conv2D / BatchNormalization (migration.graph.cnn_layers): no slots converted yet
            raise MigrationError(f"Layer {layer.name!r} of the whole model ({src}) has no converted optimizer slots; "
                                 "training resumes only for RNN blocks, Dense heads and embeddings.")
        if len(slots) != len(layer.trainable_weights) or not all(slots):
            raise MigrationError(f"{out_dir!r} has no optimizer slots for every weight of layer {layer.name!r}: "
                                 "convert with --with-optimizer.")
        pairs += list(zip(layer.trainable_weights, slots))
    return pairs


def seq2seq_slots(out_dir: str, model) -> list[tuple[Any, dict[str, np.ndarray]]]:
    """``(variable, slots)`` for every trainable weight of a converted ``seq2seq/<name>.keras`` (an
    ``AttentionDecoderModel``, matched by ``named_weights()`` names; or a ``LegacyAttentionSeq2SeqModel``, by its
    scope's names and its cells' weights), from the manifest's ``seq2seq`` entry written by ``convert
    --with-optimizer``, for :func:`restore_slots`."""
    from migration.checkpoint.seq2seq_legacy import slot_key

    manifest = read_manifest(out_dir)
    legacy = hasattr(model, "scope")
    entries = [e for e in manifest.get("seq2seq") or []
               if (bool(e.get("legacy")) if legacy else f"seq2seq_{e['name']}" == model.name)]
    if len(entries) != 1:
        raise MigrationError(f"{len(entries)} seq2seq entries in the manifest of {out_dir!r} match the Keras model "
                             f"{model.name!r}; models: {[e['name'] for e in manifest.get('seq2seq') or []]}.")
    slots = entries[0].get("slots")
    if not slots:
        raise MigrationError(f"{out_dir!r} has no optimizer slots for {model.name!r}: convert with --with-optimizer.")
    if legacy:
        named = dict(model.scope.named_weights())
        named.update({slot_key(path, k): w for path, cell in model.scope.cells.items()
                      for k, w in enumerate(cell.weights)})
    else:
        named = model.named_weights()
    missing = sorted(n for n in named if n not in slots)
    if missing or {id(v) for v in named.values()} != {id(v) for v in model.trainable_variables}:
        raise MigrationError(f"{out_dir!r} has no optimizer slots for the weights {missing} of {model.name!r}.")
    return [(var, {role: np.load(os.path.join(out_dir, path), allow_pickle=False) for role, path in slots[n].items()})
            for n, var in named.items()]
