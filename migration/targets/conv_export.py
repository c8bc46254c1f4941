"""``convert --target``: the ConvLSTMCell blocks (the manifest's ``conv_blocks``) written and checked per target.

Files: ``blocks/conv_<name>.keras3.keras`` and ``blocks/conv_<name>.onnx`` beside the Keras 2 ``blocks/conv_<name>
.keras`` (:mod:`migration.targets.conv`), listed in the manifest's ``targets.<target>.blocks`` with ``"conv": true``.
Check: random ``x [3, 4, *spatial, C_in]`` with ragged lengths (the first full, the second 1), compared with the
ORIGINAL graph's ``dynamic_rnn`` loop that reads the block's kernel (outputs, then the final ``c``, ``h``), run in the
sandbox; when that loop cannot be found or run, with the Keras 2 conv block (itself verified against a TF1 graph),
and the check says ``reference: keras2``.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional, Sequence

import numpy as np

from migration.core.errors import MigrationError
from migration.graph.limits import SandboxLimit
from migration.targets import conv

SUFFIXES = {"keras3": ".keras3.keras", "onnx": ".onnx"}
BATCH, STEPS = 3, 4


def conv_weights(entry: dict, read_weight: Callable[[str], np.ndarray]) -> list[np.ndarray]:
    """The Keras 2 conv block's arrays (forget_bias folded; use_bias=False: the bias holds forget_bias alone)."""
    from migration.contrib_converters import conv_lstm_to_keras

    kernel = np.asarray(read_weight(entry["kernel"]), np.float32)
    biases = np.asarray(read_weight(entry["biases"]), np.float32) if entry.get("biases") else \
        np.zeros(kernel.shape[-1], np.float32)
    return [np.asarray(w, np.float32)
            for w in conv_lstm_to_keras(kernel, biases, entry["input_channels"], entry["forget_bias"])]


def write_conv_targets(targets: Sequence[str], tmp: str, entries: Sequence[dict],
                       read_weight: Callable[[str], np.ndarray],
                       built: Optional[dict[str, dict[str, Any]]] = None) -> dict[str, dict[str, str]]:
    """Write every conv block's target files into ``tmp``: target -> block name -> file relative to ``tmp``;
    ``built`` (target -> block name -> model) gets the models written (the whole model calls them)."""
    files: dict[str, dict[str, str]] = {t: {} for t in targets}
    for entry in entries:
        weights = conv_weights(entry, read_weight)
        stem = os.path.splitext(entry["file"])[0]
        for target in targets:
            rel = stem + SUFFIXES[target]
            if target == "keras3":
                model = conv.keras3_conv_block(entry["conv_ndims"], entry["input_channels"], entry["spatial_shape"],
                                               weights, f"conv_{entry['name']}")
                model.save(os.path.join(tmp, rel))
            else:
                import onnx

                model = conv.onnx_conv_block(entry["conv_ndims"], entry["input_channels"], weights,
                                             f"conv_{entry['name']}", entry["outputs"])
                onnx.save_model(model, os.path.join(tmp, rel))
            files[target][entry["name"]] = rel
            if built is not None:
                built.setdefault(target, {})[entry["name"]] = model
    return files


def conv_inputs(entry: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (BATCH, STEPS) + tuple(entry["spatial_shape"]) + (entry["input_channels"],))
    lengths = rng.integers(1, STEPS + 1, BATCH).astype(np.int32)
    lengths[0], lengths[1] = STEPS, 1
    return x.astype(np.float32), lengths


def _original(original, loops, entry: dict, x: np.ndarray, lengths: np.ndarray):
    """(expected, lengths used, why not): the loop of the original graph reading the block's kernel."""
    from migration.graph.blocks import match

    keys = {entry["kernel"]} | ({entry["biases"]} if entry.get("biases") else set())
    hits = match(loops, keys)
    if len(hits) != 1 or hits[0].problems:
        problems = "; ".join(hits[0].problems) if len(hits) == 1 else ""
        return None, lengths, f"{len(hits)} while loops of the original graph read its kernel" + \
            (f" ({problems})" if problems else "")
    loop = hits[0]
    feeds = {loop.x: np.moveaxis(x, 1, 0) if loop.time_major else x}
    if loop.sequence_length is None:
        lengths = np.full_like(lengths, x.shape[1])
    else:
        feeds[loop.sequence_length] = lengths
    try:
        expected = [np.asarray(a) for a in original.run([loop.outputs] + loop.states(2), feeds)]
    except SandboxLimit:
        raise
    except MigrationError as exc:
        return None, lengths, str(exc)
    if loop.time_major:
        expected[0] = np.moveaxis(expected[0], 0, 1)
    return expected, lengths, ""


def conv_cases(entries: Sequence[dict], files: dict[str, dict[str, str]], tmp: str,
               original_and_loops: Optional[Callable[[], tuple]], notes: list[str], seed: int = 100) -> list[tuple]:
    """(block for the checks, x, lengths, expected outputs, reference, target -> file) per conv block
    (:func:`migration.targets.verify_targets.verify_blocks`' ``cases``); ``original_and_loops()`` -> the original
    graph and its loops (None: no .meta)."""
    cases = []
    for k, entry in enumerate(entries):
        x, lengths = conv_inputs(entry, seed + k)
        expected, why = None, "no .meta"
        if original_and_loops is not None:
            expected, lengths, why = _original(*original_and_loops(), entry, x, lengths)
        ref = "original-graph"
        if expected is None:
            import modern_rnn  # noqa: F401  (tf_keras set up, its cells registered)

            from migration.families import register_keras_classes
            from migration.safe_io import load_block_model

            register_keras_classes()
            notes.append(f"conv block {entry['name']}: {why}; its targets were compared with the Keras 2 block "
                         "model instead (weaker: itself verified against a TF1 graph)")
            expected = [np.asarray(o) for o in load_block_model(tmp, entry["file"])([x, lengths], training=False)]
            ref = "keras2"
        block: dict[str, Any] = {"name": entry["name"], "outputs": list(entry["outputs"]),
                                 "what": f"conv block {entry['name']}"}
        cases.append((block, x, lengths, expected, ref, {t: by[entry["name"]] for t, by in files.items()}))
    return cases
