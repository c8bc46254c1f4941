"""Real ``.keras`` archives for the model-file tests: saved by tf_keras, then edited member by member."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Callable, Optional

import numpy as np

#: Where tf_keras stores the LSTM cell's kernel in ``model.weights.h5`` for :func:`save_lstm_model`.
LSTM_KERNEL = "layers/lstm/cell/vars/0"


def save_lstm_model(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Save ``Sequential([Input((3, 4)), LSTM(5, name='lstm'), Dense(2)])`` with seeded asymmetric weights and
    non-zero biases to ``path`` (``.keras``); return its weights by variable name."""
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    model = keras.Sequential([keras.layers.Input((3, 4)), keras.layers.LSTM(5, name="lstm"),
                              keras.layers.Dense(2, name="dense")])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) + 0.05 for w in model.get_weights()])
    model.save(path)
    return {w.name: w.numpy() for w in model.weights}


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rewrite(path: Path, out: Path, *, config: Optional[Callable[[dict], None]] = None,
            raw_config: Optional[bytes] = None, weights: Optional[Callable[[object], None]] = None,
            extra: Optional[dict[str, bytes]] = None) -> Path:
    """Copy the archive ``path`` to ``out`` with ``config(dict)`` applied to ``config.json`` (or ``raw_config``
    instead) and ``weights(h5py.File)`` applied to ``model.weights.h5`` (opened read-write)."""
    import h5py

    files = members(path)
    if config is not None:
        cfg = json.loads(files["config.json"])
        config(cfg)
        files["config.json"] = json.dumps(cfg).encode()
    if raw_config is not None:
        files["config.json"] = raw_config
    if weights is not None:
        buf = io.BytesIO(files["model.weights.h5"])
        with h5py.File(buf, "r+") as h5:
            weights(h5)
        files["model.weights.h5"] = buf.getvalue()
    files.update(extra or {})
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out


def layer(cfg: dict, name: str) -> dict:
    """The config dict of the layer called ``name`` in a saved Sequential's config."""
    for entry in cfg["config"]["layers"]:
        if entry["config"].get("name") == name:
            return entry
    raise KeyError(name)
