"""Resume training of the Keras 3 legacy_seq2seq twin (``seq2seq/<name>.keras3.keras``, the layer
``rnn_migrate>LegacySeq2Seq`` of :mod:`migration.targets.keras3_legacy`) from the optimizer slots ``convert
--with-optimizer`` converted for the Keras 2 ``LegacyAttentionSeq2SeqModel`` (:func:`migration.checkpoint.
seq2seq_legacy.convert_slots`).

The Keras 3 layer holds the Keras 2 model's weights unchanged: the scope's weights under the same TF1-relative names
and the cells' arrays in the same order (pool cell 0 the encoder's, 1 the decoder's: the manifest's ``cell_paths``),
so each converted slot serves its Keras 3 variable as it is::

    model = keras.saving.load_model("out/seq2seq/<name>.keras3.keras", safe_mode=True)
    opt, info = make_optimizer("out")
    restore_slots(opt, legacy_keras3_slots("out", model), info.get("iterations"))

The stack models (``LegacyStackSeq2SeqModel``) have no converted slots (the Keras 2 side does not resume them
either): refused with that reason.
"""
from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np

from migration.checkpoint.manifest import read_manifest
from migration.checkpoint.seq2seq_legacy import slot_key
from migration.core.errors import MigrationError


def legacy_keras3_slots(out_dir: str, model, name: Optional[str] = None) -> list[tuple[Any, dict[str, np.ndarray]]]:
    """``(variable, slots)`` for every trainable weight of the Keras 3 legacy model ``model`` (the manifest's
    legacy entry ``name``; the only one when None), for :func:`migration.checkpoint.optimizer_keras3.restore_slots`."""
    layers = [layer for layer in model.layers if type(layer).__name__ == "LegacySeq2Seq"]
    entries = [e for e in read_manifest(out_dir).get("seq2seq") or []
               if e.get("legacy") and (name is None or e["name"] == name)]
    if len(layers) != 1 or len(entries) != 1:
        raise MigrationError(f"{len(layers)} LegacySeq2Seq layers in the Keras 3 model and {len(entries)} legacy "
                             f"seq2seq entries in the manifest of {out_dir!r} (name one with `name`).")
    layer, entry = layers[0], entries[0]
    slots = entry.get("slots")
    if not slots:
        why = ("a stack model (LegacyStackSeq2SeqModel): `convert` converts no slots for it"
               if entry["legacy"].get("stack") else "convert with --with-optimizer")
        raise MigrationError(f"{out_dir!r} has no optimizer slots for seq2seq {entry['name']!r}: {why}.")
    named = dict(layer.named)
    for path, cell in zip(entry["legacy"]["cell_paths"], layer.pool):
        named.update({slot_key(path, k): w for k, w in enumerate(cell.weights)})
    missing = sorted(n for n in named if n not in slots)
    if missing or {id(v) for v in named.values()} != {id(v) for v in model.trainable_variables}:
        raise MigrationError(f"{out_dir!r} has no optimizer slots for the weights {missing} of {model.name!r}.")
    return [(var, {role: np.load(os.path.join(out_dir, path), allow_pickle=False) for role, path in slots[n].items()})
            for n, var in named.items()]
