"""``convert --target``: the ``tf.contrib.legacy_seq2seq.embedding_attention_seq2seq`` models (the manifest's
``seq2seq`` entries with ``legacy``), written and checked per target.

Files beside ``seq2seq/<name>.keras``: ``seq2seq/<name>.keras3.keras`` (a Keras 3 functional model around the layer
``rnn_migrate>LegacySeq2Seq`` of :mod:`migration.targets.keras3_legacy`; inputs ``[encoder_inputs, decoder_inputs]``
int32 ``[B, T]``, one output ``[B, Td, O]``) and ``seq2seq/<name>.onnx`` (:mod:`migration.targets.onnx_legacy`: two
``Scan`` s of plain ops; inputs ``encoder_inputs``, ``decoder_inputs``, output ``outputs``). Both take any lengths, so
one file serves every bucket of a ``model_with_buckets`` graph (as the Keras 2 model does). Listed in the manifest's
``targets.<target>.blocks`` with ``"seq2seq": true``.

Their weights are the Keras 2 model's (:func:`describe` reads the file ``convert`` just wrote and verified: the
scope's weights by TF1-relative name, the cells' Keras arrays, ``output_projection``'s ``w``/``b``), unchanged.

Check (:func:`legacy_cases`): random ids ``[4, Te]``, ``[4, Td]`` at the first bucket's lengths, fed to the original
graph's id tensors (the ones the Keras 2 check feeds, ``entry["graph"]``), its per-step ``AttnOutputProjection``
outputs stacked (``reference: original-graph``); without a ``.meta`` (or the model not found in it) the Keras 2 model
is the reference (``keras2``, weaker, with a note). A second case at other lengths (``Te + 1``, ``Td + 2``) checks the
any-length claim against the Keras 2 model (itself checked against the original graph above; ``keras2``).
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional, Sequence

import numpy as np

from migration.core.errors import MigrationError
from migration.core.specs import CellSpec
from migration.graph.limits import SandboxLimit
from migration.targets import onnx_legacy
from migration.targets.weights import ACTIVATIONS, GRU, LSTM, RNN, TargetRefused

SUFFIXES = {"keras3": ".keras3.keras", "onnx": ".onnx"}
OUTPUTS = ("outputs",)
KINDS = {"LSTMCell": LSTM, "GRUCell": GRU, "SimpleRNNCell": RNN}  # Keras 2 cell -> the step it is


def legacy_entries(manifest: dict) -> list[dict]:
    """The manifest's converted legacy_seq2seq models."""
    return [e for e in manifest.get("seq2seq") or [] if e.get("legacy") and e.get("file")]


def legacy_refusal(desc: dict) -> str:
    """Why the targets cannot take the legacy model of description ``desc`` ("" when they can)."""
    specs = desc.get("pool_specs") or [desc["spec"]]
    for d in specs:
        spec = CellSpec.from_dict(d)
        if spec.activation not in ACTIVATIONS:
            return f"activation {spec.activation!r} (supported: {', '.join(ACTIVATIONS)})"
    return ""


def exportable(item: Any) -> bool:
    """True for an inspected seq2seq item (``Seq2SeqInfo``) that is a convertible legacy model the targets take; a
    cell activation they lack raises :class:`TargetRefused` naming the model."""
    desc = getattr(item, "legacy", None)
    if desc is None or not getattr(item, "convertible", False):
        return False
    why = legacy_refusal(desc)
    if why:
        raise TargetRefused(f"--target: seq2seq {item.name!r} (legacy_seq2seq.embedding_attention_seq2seq): {why}; "
                            "convert without --target (the Keras 2 conversion is unaffected).")
    return True


def _cell(cell) -> dict:
    config = cell.get_config()
    kind = KINDS.get(type(cell).__name__)
    if kind is None or not config.get("use_bias", True) or config.get("reset_after") or \
            (kind != RNN and config.get("recurrent_activation") != "sigmoid"):
        raise TargetRefused(f"legacy_seq2seq cell {type(cell).__name__} {config}: not a TF1 BasicLSTMCell, GRUCell "
                            "or BasicRNNCell twin")
    return {"kind": kind, "units": int(config["units"]), "activation": config["activation"],
            "weights": [np.asarray(w, np.float32) for w in cell.get_weights()]}


def describe(k2) -> dict[str, Any]:
    """The Keras 2 model's structure and arrays (see :func:`migration.targets.onnx_legacy.build_model`)."""
    named = {k: np.asarray(v.numpy(), np.float32) for k, v in k2.scope.named_weights().items()}
    common = {"num_encoder_symbols": k2.num_encoder_symbols, "num_decoder_symbols": k2.num_decoder_symbols,
              "embedding_size": k2.embedding_size, "num_heads": k2.num_heads, "named": named,
              "feed_previous": k2.feed_previous, "initial_state_attention": k2.initial_state_attention}
    if type(k2).__name__ == "LegacyAttentionSeq2SeqModel":
        return {**common, "cells": [_cell(k2.encoder_cell), _cell(k2.cell)], "encoder_layers": [0],
                "decoder_layers": [1], "projection": False, "proj": None, "project_outputs": False}
    if not k2.attention:
        raise TargetRefused("an embedding_rnn_seq2seq model (no attention): `convert` does not write one")
    proj = None if k2.proj_kernel is None else (np.asarray(k2.proj_kernel.numpy(), np.float32),
                                                np.asarray(k2.proj_bias.numpy(), np.float32))
    return {**common, "cells": [_cell(c) for c in k2.pool], "encoder_layers": list(k2.encoder_layers),
            "decoder_layers": list(k2.decoder_layers), "projection": k2.projection, "proj": proj,
            "project_outputs": k2.project_outputs}


def keras3_model(desc: dict, name: str = "legacy_seq2seq"):
    """The Keras 3 model of ``desc`` (weights set; every scope weight of the layer given by ``desc``)."""
    import keras

    from migration.targets import keras3_legacy

    makers = {LSTM: lambda c: keras.layers.LSTMCell(c["units"], activation=c["activation"],
                                                       recurrent_activation="sigmoid"),
              GRU: lambda c: keras.layers.GRUCell(c["units"], activation=c["activation"],
                                                     recurrent_activation="sigmoid", reset_after=False),
              RNN: lambda c: keras.layers.SimpleRNNCell(c["units"], activation=c["activation"])}
    cells = [keras.layers.serialize(makers[c["kind"]](c)) for c in desc["cells"]]
    proj = desc["proj"]
    layer = keras3_legacy.LegacySeq2Seq(
        cells, desc["encoder_layers"], desc["decoder_layers"], desc["num_encoder_symbols"],
        desc["num_decoder_symbols"], desc["embedding_size"], desc["num_heads"], projection=desc["projection"],
        projection_shape=None if proj is None else list(proj[0].shape), project_outputs=desc["project_outputs"],
        feed_previous=desc["feed_previous"], initial_state_attention=desc["initial_state_attention"],
        name="legacy_seq2seq")
    model = keras3_legacy.legacy_model(layer, name)
    if set(layer.named) != set(desc["named"]):
        raise ValueError(f"the Keras 3 layer's weights {sorted(set(layer.named) ^ set(desc['named']))} differ from "
                         "the Keras 2 model's")
    for key, var in layer.named.items():
        var.assign(desc["named"][key])
    for cell, source in zip(layer.pool, desc["cells"]):
        cell.set_weights(source["weights"])
    if proj is not None:
        layer.proj_kernel.assign(proj[0])
        layer.proj_bias.assign(proj[1])
    return model


def load_keras2(tmp: str, entry: dict):
    import modern_rnn.seq2seq.models  # noqa: F401  (registers both legacy models for safe-mode loading)

    from migration.safe_io import confined_path, load_keras_model

    return load_keras_model(confined_path(tmp, entry["file"], what="seq2seq model file"))


def write_legacy_targets(targets: Sequence[str], tmp: str, entries: Sequence[dict]) -> dict[str, dict[str, str]]:
    """Write every legacy model's target files into ``tmp``: target -> model name -> file relative to ``tmp``."""
    files: dict[str, dict[str, str]] = {t: {} for t in targets}
    for entry in entries:
        desc = describe(load_keras2(tmp, entry))
        stem = os.path.splitext(entry["file"])[0]
        for target in targets:
            rel = stem + SUFFIXES[target]
            if target == "keras3":
                keras3_model(desc).save(os.path.join(tmp, rel))
            else:
                import onnx

                onnx.save_model(onnx_legacy.build_model(desc, "legacy_seq2seq"), os.path.join(tmp, rel))
            files[target][entry["name"]] = rel
    return files


def load_keras3(path: str):
    import keras

    from migration.targets import keras3_cells, keras3_layers, keras3_legacy  # noqa: F401  (rnn_migrate>...)

    return keras.saving.load_model(path, safe_mode=True, compile=False)


def run_onnx(path: str, enc: np.ndarray, dec: np.ndarray) -> list[np.ndarray]:
    from migration.targets.onnx_export import session

    return session(path).run(None, {onnx_legacy.INPUTS[0]: np.asarray(enc, np.int32),
                                    onnx_legacy.INPUTS[1]: np.asarray(dec, np.int32)})


def reference_ids(entry: dict, seed: int, extra: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """Random ids ``[4, Te]``, ``[4, Td]``: the first bucket's lengths (``(4, 3)`` without a graph) plus ``extra``."""
    graph, desc = entry.get("graph"), entry["legacy"]
    te, td = (len(graph["encoder_ids"]), len(graph["decoder_ids"])) if graph else (4, 3)
    rng = np.random.default_rng(seed)
    return (rng.integers(0, desc["num_encoder_symbols"], (4, te + extra[0])).astype(np.int32),
            rng.integers(0, desc["num_decoder_symbols"], (4, td + extra[1])).astype(np.int32))


def original_logits(original, entry: dict, enc: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """The original graph's outputs at the first bucket's id tensors (the Keras 2 check's feeds)."""
    graph = entry["graph"]
    feeds = {t: enc[:, k] for k, t in enumerate(graph["encoder_ids"])}
    feeds.update({t: dec[:, k] for k, t in enumerate(graph["decoder_ids"])})
    return np.stack(original.run(graph["outputs"], feeds), 1)


def legacy_cases(entries: Sequence[dict], files: dict[str, dict[str, str]], tmp: str,
                 original: Optional[Callable[[], Any]], notes: list[str], seed: int = 300) -> tuple[list, list]:
    """(Keras 3 cases for :func:`migration.targets.verify_targets.verify_blocks` (TensorFlow here, JAX in its child),
    the ONNX checks) of every legacy model: two cases each (see the module docstring)."""
    from migration.targets.verify_targets import compare

    cases, checks = [], []
    for k, entry in enumerate(entries):
        name = entry["name"]
        k2 = load_keras2(tmp, entry)
        for extra in ((0, 0), (1, 2)):
            enc, dec = reference_ids(entry, seed + k, extra)
            expected, ref, why = None, "keras2", entry.get("graph_note") or "not found in the .meta"
            if extra == (0, 0) and original is not None and entry.get("graph"):
                try:
                    expected, ref = original_logits(original()[0], entry, enc, dec), "original-graph"
                except SandboxLimit:  # a sandbox limit stops the conversion (as for the blocks)
                    raise
                except MigrationError as exc:
                    why = f"the original graph did not run ({exc})"
            if extra == (0, 0) and expected is None:
                notes.append(f"seq2seq {name}: {why}; its targets were compared with the Keras 2 model instead "
                             "(weaker)")
            if expected is None:
                expected = np.asarray(k2({"encoder_inputs": enc, "decoder_inputs": dec}))
            block = {"name": name, "outputs": list(OUTPUTS),
                     "what": f"seq2seq {name} (Te={enc.shape[1]}, Td={dec.shape[1]})"}
            if "keras3" in files:
                from migration.targets import keras3_legacy  # noqa: F401  (registers rnn_migrate>LegacySeq2Seq)

                cases.append((block, enc, dec, [expected], ref, {"keras3": files["keras3"][name]}))
            if "onnx" in files:
                got = run_onnx(os.path.join(tmp, files["onnx"][name]), enc, dec)
                checks += compare("onnx", "onnxruntime", block, ref, [expected], got)
    return cases, checks
