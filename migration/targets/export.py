"""``convert --target keras3 --target onnx``: write and verify the target files of every RNN block.

Called once by :func:`migration.checkpoint.convert.convert_checkpoint`, inside its staging directory, after the
Keras 2 blocks are written and before the manifest: every target file is in the manifest's file record and nothing
is installed when a target is refused or fails its check. Order: every block is checked against every target first
(:func:`migration.targets.weights.check_block`: a refusal names the block, the family and the reason, before any file
is written); then each block's cells are converted once by the family converters and written per target; then
:mod:`migration.targets.verify_targets` compares every file with the original graph.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional, Sequence

import numpy as np

from migration.core.errors import MigrationError
from migration.targets import (EXPORT_TARGETS, attention_export, cnn_front, feedback_export, keras3, onnx_export,
                               onnx_seq2seq, seq2seq_export)
from migration.targets.conv_export import conv_cases, write_conv_targets
from migration.targets.crf_export import crf_cases, write_crf_targets
from migration.targets.legacy_export import exportable, legacy_cases, legacy_entries, write_legacy_targets
from migration.targets.wrapped_whole import wrap, wrapped_blocks
from migration.targets.verify_targets import TOLERANCE, WholeCase, original_outputs, summary, verify_blocks
from migration.targets.whole import Keras3Whole, NotExportable, OnnxWhole, walk
from migration.targets.weights import TargetRefused, block_cells, check_block
from migration.targets.wrapped_check import wrapped_block_checks

SUFFIXES = {"keras3": keras3.SUFFIX, "onnx": onnx_export.SUFFIX}
LOADING = {"keras3": "keras.saving.load_model(path, safe_mode=True) (any backend); inputs [x, sequence_length]",
           "onnx": "onnxruntime.InferenceSession(path); feeds {'x': float32 [batch, time, input_size], "
                   "'sequence_length': int32 [batch]}"}
#: target -> the module writing and checking its files of the tf.contrib.seq2seq attention decoders
#: (``takes(entry)``, ``write_decoders(tmp, entries, notes)``, ``not_exported(files)``,
#: ``verify_decoders(entries, files, tmp, original)``)
SEQ2SEQ_EXPORTERS: dict[str, Any] = {"onnx": onnx_seq2seq, "keras3": seq2seq_export}


def seq2seq_takes(target: str, entries: Sequence[Any]) -> bool:
    """True when ``target`` exports at least one of the seq2seq decoders ``entries``."""
    return target in SEQ2SEQ_EXPORTERS and any(SEQ2SEQ_EXPORTERS[target].takes(e) for e in entries)


def requested(targets: Optional[Sequence[str]]) -> list[str]:
    """The export targets of ``--target`` values (keras2 is always written); MigrationError for an unknown one."""
    out = []
    for target in targets or ():
        if target == "keras2":
            continue
        if target not in EXPORT_TARGETS:
            raise MigrationError(f"Received an invalid value for `--target`: expected one of "
                                 f"{['keras2', *EXPORT_TARGETS]}, got {target!r}.")
        if target not in out:
            out.append(target)
    return out


def nothing_to_export(targets: Sequence[str], seq2seq: Sequence[str]) -> TargetRefused:
    """The refusal of a checkpoint without an RNN block whose seq2seq models, if any, no target exporter takes (the
    contrib decoders and legacy_seq2seq models the Keras 2 conversion converts are all taken: named)."""
    why = ("the checkpoint has no RNN block to export (only RNN blocks are exported to these targets yet)"
           if not seq2seq else
           f"the checkpoint's RNNs are all in seq2seq models ({', '.join(seq2seq)}) that the Keras 2 conversion does "
           "not convert (the target files are built from its converted arrays; `rnn-migrate inspect` says why each "
           "is not converted)")
    return TargetRefused(f"--target {' --target '.join(targets)}: {why}; convert without --target (the Keras 2 "
                         "conversion is unaffected).")


def _nothing_for(targets: Sequence[str], seq2seq: Sequence[Any], anything_else: bool) -> list[str]:
    """The requested targets with nothing to export: no block, ConvLSTM block or legacy_seq2seq model
    (``anything_else``) and no seq2seq decoder the target's exporter takes."""
    return [] if anything_else else [t for t in targets if not seq2seq_takes(t, seq2seq)]


def refuse_up_front(targets: Sequence[str], blocks: Sequence[Any], conv_blocks: Sequence[Any] = (),
                    seq2seq: Sequence[Any] = ()) -> None:
    """Raise :class:`TargetRefused` (exit 2) before any conversion work when a requested target cannot take a block
    of the checkpoint (``blocks``: the inspection's blocks: ``name``, ``wrapper``, ``directions`` of cells with
    ``path`` and ``spec``; ConvLSTMCell blocks (``conv_blocks``) every target takes); :func:`export_targets` checks
    the written blocks again."""
    legacy = [s for s in seq2seq if exportable(s)] if targets else []  # legacy_seq2seq models: legacy_export
    refused = _nothing_for(targets, seq2seq, bool(blocks or conv_blocks or legacy))
    if refused:
        raise nothing_to_export(refused, [getattr(s, "name", "?") for s in seq2seq])
    for block in blocks:
        entry = {"name": block.name, "wrapper": block.wrapper,
                 "cells": [{"direction": d, "path": c.path, "spec": c.spec.to_dict()}
                           for d, cells in block.directions.items() for c in cells]}
        for target in targets:
            check_block(entry, target)


def write_block_targets(targets: Sequence[str], tmp: str, block: dict,
                        read_weight: Callable[[str], np.ndarray]) -> dict[str, tuple[str, Any]]:
    """Write one block's target files into ``tmp``; return target -> (file relative to ``tmp``, the model built)."""
    attention = attention_export.attention_parts(block, read_weight) if attention_export.is_attention(block) else None
    cells = block_cells(block, read_weight) if attention is None else {}
    stem = os.path.splitext(block["file"])[0]
    out = {}
    for target in targets:
        rel = stem + SUFFIXES[target]
        path = os.path.join(tmp, rel)
        if attention is not None:  # a cell in AttentionCellWrapper: the wrapper's step around the cell's
            model = attention_export.build(target, *attention, block, f"block_{block['name']}")
            (keras3.save_block if target == "keras3" else onnx_export.save_block)(model, path)
        elif target == "keras3":
            model = keras3.build_block(cells, block["input_size"], f"block_{block['name']}")
            keras3.save_block(model, path)
        else:
            model = onnx_export.build_block(cells, block["input_size"], f"block_{block['name']}", block["outputs"])
            onnx_export.save_block(model, path)
        out[target] = (rel, model)
    return out


def _discard(path: str) -> None:
    """A half-written whole-model file of ours (inside the staging directory) is not left to be recorded."""
    if os.path.isfile(path):
        os.remove(path)


def write_whole_targets(targets: Sequence[str], tmp: str, entry: dict, built: dict[str, dict[str, Any]],
                        notes: list[str], cells_of: Optional[Callable[[str], dict]] = None
                        ) -> dict[str, dict[str, Any]]:
    """``model.keras3.keras`` / ``model.onnx`` from the Keras 2 whole model ``entry`` (:mod:`migration.targets.whole`)
    with each block replaced by its target twin (``built``: target -> block name -> model); a target the model
    cannot be translated to gets a note instead; ``cells_of``: block name -> its target cells (a raw_rnn decoder's)."""
    import modern_rnn  # noqa: F401  (tf_keras set up, custom cells registered)

    from migration.families import register_keras_classes
    from migration.safe_io import load_block_model

    register_keras_classes()
    k2 = load_block_model(tmp, entry["file"])
    config = k2.get_config()
    weights = {layer.name: layer.get_weights() for layer in k2.layers
               if type(layer).__name__ in ("Embedding", "Dense") + cnn_front.LAYERS}
    block_of = {layer: src["block"] for layer, src in (entry.get("layers") or {}).items() if "block" in src}
    feedback = feedback_export.decoders(k2, block_of, cells_of)  # raw_rnn FeedbackDecoders
    written = {}
    try:  # blocks whose cell is in Embedding/Input/OutputProjectionWrapper: the twin between the wrappers' layers
        wrapped, unwrapped = wrapped_blocks(config, k2, block_of), ""
    except NotExportable as exc:
        wrapped, unwrapped = {}, str(exc)
    for target in targets:
        blocks = {layer: built[target][name] for layer, name in block_of.items() if name in built[target]}
        rel = "model" + SUFFIXES[target]
        if unwrapped:
            notes.append(f"{target}: no whole model ({rel}): {unwrapped}")
            continue
        try:
            blocks = wrap(target, blocks, wrapped)
            if target == "keras3":
                import keras

                ins, outs = walk(config, Keras3Whole(blocks, weights, decoders=seq2seq_export.whole_decoders(k2),
                                                     feedback=feedback))
                model = keras.Model(ins[0] if len(ins) == 1 else ins, outs[0] if len(outs) == 1 else outs,
                                    name="migrated_model")
                keras3.save_block(model, os.path.join(tmp, rel))
            else:
                onnx_whole = OnnxWhole(blocks, weights, decoders=onnx_seq2seq.whole_decoders(k2), feedback=feedback)
                _, outs = walk(config, onnx_whole)
                onnx_export.save_block(onnx_whole.model(outs, entry["outputs"]), os.path.join(tmp, rel))
        except (NotExportable, KeyError, TypeError, ValueError) as exc:
            _discard(os.path.join(tmp, rel))
            notes.append(f"{target}: no whole model ({rel}): {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - a translation bug must not cost the user the blocks
            _discard(os.path.join(tmp, rel))
            notes.append(f"{target}: no whole model ({rel}): the translation failed ({type(exc).__name__}: {exc}); "
                         "this is a bug in rnn-migrate, please report it. The blocks were exported.")
            continue
        written[target] = {"file": rel, "inputs": list(entry["inputs"]), "outputs": list(entry["outputs"]),
                           "model_inputs": [r[0] for r in config["input_layers"]]}
    return written


def graph_reference(tmp: str, meta_path: Optional[str], reader, shadows: dict, notes: list[str]):
    """reference(k, block, x, lengths) -> (expected, lengths, name): the original graph, else the Keras 2 block."""
    state: dict[str, Any] = {}

    def keras2(block: dict, x, lengths):
        import modern_rnn  # noqa: F401  (tf_keras set up, custom cells registered)

        from migration.families import register_keras_classes
        from migration.safe_io import load_block_model

        register_keras_classes()
        model = load_block_model(tmp, block["file"])
        return [np.asarray(o) for o in model([x, lengths], training=False)]

    def original():
        if "original" not in state:
            from migration.graph.blocks import find_loops
            from migration.graph.reference import OriginalGraph

            state["original"] = OriginalGraph(meta_path, reader, substitute=shadows)
            state["loops"] = find_loops(state["original"])
        return state["original"]

    def reference(k: int, block: dict, x, lengths):
        if meta_path is not None:
            out, used, why = original_outputs(original(), state["loops"], block, x, lengths)
            if out is not None:
                return out, used, "original-graph"
            notes.append(f"block {block['name']}: {why}; its targets were compared with the Keras 2 block model "
                         "instead (weaker: itself verified against a rebuilt TF1 graph)")
        else:
            notes.append(f"block {block['name']}: no .meta, so its targets were compared with the Keras 2 block "
                         "model (weaker: itself verified against a TF1 graph rebuilt from the checkpoint)")
        return keras2(block, x, lengths), lengths, "keras2"

    def fit(block: dict, x, lengths):
        """The test input cut / padded to the original block's static batch and steps (a queue's fixed batch:
        migration.graph.block_feeds.fit_block_input, as verify does); unchanged without a .meta."""
        if meta_path is None:
            return x, lengths
        from migration.graph.block_feeds import fit_block_input

        return fit_block_input(original(), state["loops"], block, x, lengths)

    reference.original = original  # type: ignore[attr-defined]
    reference.fit = fit  # type: ignore[attr-defined]
    reference.loops = lambda: (original(), state["loops"])[1]  # type: ignore[attr-defined]
    return reference


def export_targets(targets: Sequence[str], tmp: str, manifest: dict, read_weight: Callable[[str], np.ndarray], *,
                   meta_path: Optional[str], reader, shadows: Optional[dict] = None,
                   verify: bool = True) -> dict[str, Any]:
    """Write and verify the ``targets`` files of every block of ``manifest`` (its ``blocks`` entries, files in
    ``tmp``); return the manifest's ``targets`` entry. Raises :class:`TargetRefused` before writing anything when a
    block cannot be exported exactly."""
    blocks = manifest.get("blocks") or []
    conv_entries = manifest.get("conv_blocks") or []
    seq2seq_entries = manifest.get("seq2seq") or []
    legacy = legacy_entries(manifest)  # legacy_seq2seq models (migration.targets.legacy_export)
    refused = _nothing_for(targets, seq2seq_entries, bool(blocks or conv_entries or legacy))
    if refused:
        raise nothing_to_export(refused, [e.get("name", "?") for e in seq2seq_entries])
    for block in blocks:
        for target in targets:
            check_block(block, target)
    files: dict[str, dict[str, str]] = {t: {} for t in targets}
    built: dict[str, dict[str, Any]] = {t: {} for t in targets}
    for block in blocks:
        for target, (rel, model) in write_block_targets(targets, tmp, block, read_weight).items():
            files[target][block["name"]] = rel
            built[target][block["name"]] = model
    conv_files = write_conv_targets(targets, tmp, conv_entries, read_weight, built)  # the whole model calls them too
    crf_entries = manifest.get("crf") or []
    crf_files = write_crf_targets(targets, tmp, crf_entries, read_weight)  # the Viterbi decode of each CRF
    legacy_files = write_legacy_targets(targets, tmp, legacy)
    notes: list[str] = []
    seq2seq_files = {t: SEQ2SEQ_EXPORTERS[t].write_decoders(tmp, seq2seq_entries, notes) if t in SEQ2SEQ_EXPORTERS
                     else {} for t in targets}
    by_name = {block["name"]: block for block in blocks}
    whole = write_whole_targets(targets, tmp, manifest["model"], built, notes,
                                lambda name: block_cells(by_name[name], read_weight)) if manifest.get("model") else {}
    entry: dict[str, Any] = {}
    for target in targets:
        not_exported = [f"{what} {e.get('name', '?')}" for what in ("stacks", "seq2seq")
                        for e in (manifest.get(what) or [])
                        if what == "stacks" or (e.get("name") not in seq2seq_files[target] and e not in legacy)]
        if seq2seq_files[target]:
            not_exported += SEQ2SEQ_EXPORTERS[target].not_exported(seq2seq_files[target])
        entry[target] = {"blocks": [{"name": name, "file": rel} for name, rel in files[target].items()]
                         + [{"name": name, "file": rel, "conv": True} for name, rel in conv_files[target].items()]
                         + [{"name": name, "file": rel, "crf": True} for name, rel in crf_files[target].items()]
                         + [{"name": name, "file": rel, "seq2seq": True}
                            for name, rel in seq2seq_files[target].items()]
                         + [{"name": n, "file": rel, "seq2seq": True} for n, rel in legacy_files[target].items()],
                         "load": LOADING[target],
                         "not_exported": not_exported + ([] if target in whole or not manifest.get("model")
                                                         else ["the whole model (model.keras)"])}
        if target in whole:
            entry[target]["model"] = whole[target]
    if verify:
        reference = graph_reference(tmp, meta_path, reader, shadows or {}, notes)
        case = None
        if whole:
            from migration.graph.whole_model import sample_feeds

            first = next(iter(whole.values()))
            feeds = sample_feeds(reference.original(), first["inputs"], 4, 6, 0)
            expected = [np.asarray(a) for a in reference.original().run(first["outputs"], feeds)]
            case = WholeCase({t: w["file"] for t, w in whole.items()}, first["inputs"], first["model_inputs"],
                             first["outputs"], feeds, expected)
        original = (lambda: (reference.original(), reference.loops())) if meta_path is not None else None
        cases = conv_cases(conv_entries, conv_files, tmp, original, notes) + crf_cases(crf_entries, crf_files,
                                                                                     read_weight)
        legacy_k3, legacy_checks = legacy_cases(legacy, legacy_files, tmp, original, notes)
        checks, run_notes = verify_blocks(blocks, files, tmp, reference, whole=case, cases=cases + legacy_k3)
        checks += wrapped_block_checks(blocks, files, tmp, original, reader)  # Embedding/Input/OutputProjectionWrapper
        for target, by_name in seq2seq_files.items():
            more, more_notes = SEQ2SEQ_EXPORTERS[target].verify_decoders(
                seq2seq_entries, by_name, tmp, reference.original if meta_path is not None else None) \
                if by_name else ([], [])
            checks, run_notes = checks + more, run_notes + more_notes
        checks += legacy_checks
        result = summary(checks, notes + run_notes, TOLERANCE)
        for target in targets:
            entry[target]["verification"] = result.get(target, {"ok": False, "checks": []})
        entry["notes"] = result.get("notes", [])
    elif notes:
        entry["notes"] = notes
    return entry


def targets_ok(entry: Optional[dict]) -> bool:
    """False when a target's verification failed (a target not verified counts as ok: ``--no-verify``)."""
    return all((v.get("verification") or {"ok": True})["ok"] for k, v in (entry or {}).items() if k != "notes")


def target_files(entry: Optional[dict]) -> list[str]:
    """Every file of a manifest's ``targets`` entry."""
    return [f for k, v in (entry or {}).items() if k != "notes"
            for f in [b["file"] for b in v.get("blocks", [])] + ([v["model"]["file"]] if v.get("model") else [])]


def print_targets(entry: Optional[dict], stream=None) -> None:
    """The summary lines of ``convert --target``: one per target file check, then the notes."""
    import sys

    stream = stream or sys.stdout
    for target, value in (entry or {}).items():
        if target == "notes":
            continue
        ver = value.get("verification")
        for block in value["blocks"] + ([value["model"]] if value.get("model") else []):
            print(f"  {target}: {block['file']}", file=stream)
        if ver is None:
            print(f"  {target}: not verified (--no-verify)", file=stream)
            continue
        for c in ver["checks"]:
            flag = "ok  " if c["max_abs_diff"] <= ver["tolerance"] else "FAIL"
            print(f"  {flag} {target + ' (' + c['backend'] + ')':<24} {c['what']:<22} {c['output']:<22} "
                  f"{c['reference']:<15} max|diff| = {c['max_abs_diff']:.3g}", file=stream)
        if value.get("not_exported"):
            print(f"  {target}: not exported: {', '.join(value['not_exported'])}", file=stream)
    for note in (entry or {}).get("notes", []):
        print(f"  note: {note}", file=stream)
