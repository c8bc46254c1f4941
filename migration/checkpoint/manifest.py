"""``OUT_DIR/manifest.json``: what ``rnn-migrate convert`` wrote, from what, and how.

Layout of a conversion directory::

    manifest.json
    blocks/<name>.keras              one Keras 2 model per RNN block (inputs [x, sequence_length])
    embeddings/<name>.npy            Embedding rows in the order a Keras Embedding needs
    dense/<name>/{kernel,bias}.npy   Dense weights
    optimizer/<role>/...npy          optimizer slots (--with-optimizer), same layout as their weights
"""
from __future__ import annotations

import json
import os
import re
from typing import Any

from migration.errors import MigrationError

MANIFEST = "manifest.json"
FORMAT = "rnn-migrate/checkpoint-conversion"
VERSION = 1


def safe_name(name: str) -> str:
    """A file-system-safe version of a TF name (``encoder/rnn`` -> ``encoder_rnn``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "root"


def write_manifest(out_dir: str, manifest: dict[str, Any]) -> str:
    path = os.path.join(out_dir, MANIFEST)
    manifest = {"format": FORMAT, "version": VERSION, **manifest}
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=False, default=_default)
        f.write("\n")
    return path


def read_manifest(out_dir: str) -> dict[str, Any]:
    path = os.path.join(os.fspath(out_dir), MANIFEST)
    if not os.path.exists(path):
        raise MigrationError(
            f"{path!r} not found: {out_dir!r} is not a directory written by `rnn-migrate convert`. Convert first: "
            f"rnn-migrate convert CKPT {out_dir}"
        )
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise MigrationError(f"Cannot read {path!r}: {exc}. Re-run `rnn-migrate convert --force`.") from None
    if manifest.get("format") != FORMAT:
        raise MigrationError(f"{path!r} is not an rnn-migrate conversion manifest (format={manifest.get('format')!r}).")
    return manifest


def _default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, tuple):
        return list(obj)
    return str(obj)
