"""``convert_checkpoint``: a TF1 checkpoint -> Keras 2 block models, embedding rows, dense weights, optimizer state.

Streaming: tensors are read one at a time (a block reads only its own cells' variables); embeddings, their
optimizer slots and dense weights are copied chunk by chunk from the checkpoint's bytes into their ``.npy`` files
(rows permuted per chunk when needed: :meth:`CheckpointReader.write_npy`), so memory stays flat in tensor size. Everything is written into a
temporary directory next to ``OUT_DIR`` and renamed into place at the end, so a failure leaves no partial output.
"""
from __future__ import annotations

import atexit
import dataclasses
import gc
import math
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

import numpy as np

from migration.checkpoint.conv_blocks import write_block
from migration.checkpoint.cudnn_alias import convert_through_canonical
from migration.checkpoint.manifest import is_conversion_dir, safe_name, write_manifest
from migration.checkpoint.meta import MetaGraph
from migration.checkpoint.optimizer_section import optimizer_section
from migration.checkpoint.provenance import annotate, check_provenance, meta_provenance, resolve_meta
from migration.checkpoint.reader import CheckpointReader
from migration.checkpoint.seq2seq import whole_model_decoders
from migration.checkpoint.recognize import Block, CellInfo, Inspection, recognize
from migration.checkpoint.stacks import write_stacks
from migration.checkpoint.verify import verify_conversion
from migration.checkpoint.weights import float32_alias, float32_weight, with_forget_bias
from migration.core.errors import MigrationError, UnknownCellError
from migration.core.outdir import staged_output
from migration.graph.limits import SandboxLimit
from migration.families import cell_to_keras, keras_names_for, weight_sources
from migration.targets.export import export_targets, refuse_up_front, targets_ok

@dataclasses.dataclass
class ConversionResult:
    out_dir: str
    manifest: dict[str, Any]
    verification: Optional[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return self.verification is None or bool(self.verification.get("ok"))


class _Progress:
    """convert's one progress bar (bytes read), drawn through :func:`migration.core.output.task`: messages and warnings
    print above it, and it ends complete. ``cancelled`` stops the copy thread at its next chunk."""

    def __init__(self, total: int, enabled: bool) -> None:
        import contextlib

        from migration.core.output import task

        self.cancelled = False
        self._stack = contextlib.ExitStack()
        self.bar = self._stack.enter_context(task("convert", total or None, unit="B", unit_scale=True,
                                                  quiet=not enabled))

    def update(self, nbytes: int) -> None:
        if self.cancelled:
            raise MigrationError("conversion cancelled")
        self.bar.update(nbytes)

    def close(self) -> None:
        self._stack.close()


#: below this many bytes of weights the built models are left to the next automatic collection (not worth 0.3 s)
GC_BYTES = 8 << 20


class _Converter:
    def __init__(self, reader: CheckpointReader, meta: Optional[MetaGraph], insp: Inspection, tmp: str,
                 forget_bias: Optional[float], with_optimizer: bool, progress: _Progress) -> None:
        self.reader, self.meta, self.insp, self.tmp = reader, meta, insp, tmp
        self.forget_bias, self.with_optimizer, self.progress = forget_bias, with_optimizer, progress
        self.destinations: dict[str, str] = {}
        self.block_models: list = []
        self.conv_models: list = []  # the ConvLSTM blocks' Keras models, for the whole model
        self.sections: dict[str, Any] = {}  # manifest section -> what its pass wrote (PASSES)
        self.copies: Any = None  # the embeddings and dense weights, copied on the I/O thread (COPIES)
        self.read_keys: set[str] = set()
        self.bytes_read = 0  # the arrays read into memory (the built models hold copies of them)
        self.casts: dict[str, str] = {}  # variable -> how it was cast to float32
        self.notes: list[str] = []
        self.slot_index: dict[str, dict[str, str]] = {}  # variable key -> role -> slot key
        for opt in insp.optimizers:
            for owner, roles in opt.slots.items():
                self.slot_index.setdefault(owner, {}).update(roles)
        self.opt_kind = {k: opt.kind for opt in insp.optimizers for roles in opt.slots.values() for k in roles.values()}

    def read(self, key: str) -> np.ndarray:
        array = self.reader.read(key)
        self.read_keys.add(key)
        self.bytes_read += array.nbytes
        self.progress.update(array.nbytes)
        return array

    def copy(self, key: str, rel: str, perm: Optional[np.ndarray] = None) -> str:
        """Stream tensor ``key`` (rows permuted by ``perm``) into ``tmp/rel`` (CRC-checked: it counts as read for the
        integrity check); returns its dtype."""
        dtype = self.reader.write_npy(key, os.path.join(self.tmp, rel), perm, progress=self.progress.update)
        self.read_keys.add(key)
        return dtype

    def read_weight(self, key: str) -> np.ndarray:
        """An RNN weight (or slot) as float32, cast exactly or refused (see :func:`float32_weight`)."""
        array, note = float32_weight(key, self.read(key))
        if note:
            self.casts[key] = note
        return array

    def rel(self, *parts: str) -> str:
        path = os.path.join(self.tmp, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return "/".join(parts)

    # -- blocks -------------------------------------------------------------------------------------------------------

    def block(self, block: Block) -> dict[str, Any]:
        from migration.checkpoint.blocks import build_keras_block, output_labels

        if block.wrapper:  # AttentionCellWrapper around the cell
            from migration.checkpoint.wrapped import attention_block

            return attention_block(self, block)
        dirs = {d: [with_forget_bias(c, self.forget_bias) for c in cells] for d, cells in block.directions.items()}
        specs = {d: [c.spec for c in cells] for d, cells in dirs.items()}
        model, keras_cells = build_keras_block(specs, block.input_size, name=f"block_{block.name}")
        file = self.rel("blocks", f"{block.name}.keras")
        cells_out = []
        for direction, cells in dirs.items():
            for k, (cell, kcell) in enumerate(zip(cells, keras_cells[direction])):
                arrays = {name: self.read_weight(key) for name, key in cell.variables.items()}
                kcell.set_weights(cell_to_keras(cell.spec, arrays, cell.input_size))
                del arrays
                weights = []
                slots = self.cell_slots(block, direction, k, cell)
                for j, kname in enumerate(keras_names_for(cell.spec)):
                    sources, how = weight_sources(cell.spec, kname, cell.variables)
                    entry = {"keras": kname, "shape": list(kcell.weights[j].shape), "sources": sources, "transform": how}
                    if slots:
                        entry["slots"] = {role: files[j] for role, files in slots.items()}
                    weights.append(entry)
                for key in cell.variables.values():
                    self.destinations[key] = f"{file} (cell {direction or 'rnn'}[{k}])"
                casts = {key: self.casts[key] for key in cell.variables.values() if key in self.casts}
                cells_out.append({"direction": direction, "layer": k, "path": cell.path, "rel_path": cell.rel_path,
                                  "variables": dict(cell.variables),
                                  "input_size": cell.input_size, "spec": cell.spec.to_dict(),
                                  "source_dtypes": {key: self.reader.variables[key].dtype
                                                    for key in cell.variables.values()},
                                  "dtype_casts": casts,
                                  "hyper_sources": cell.hyper_sources, "keras_class": type(kcell).__name__,
                                  "keras_config": kcell.get_config(), "weights": weights})
        model.save(os.path.join(self.tmp, file))
        self.block_models.append(model)
        return {"name": block.name, "scope": block.scope, "file": file, "bidirectional": block.bidirectional,
                "input_size": block.input_size, "layers": len(next(iter(dirs.values()))), "describe": block.describe(),
                "inputs": ["x: float32 [batch, time, input_size]", "sequence_length: int32 [batch]"],
                "outputs": output_labels(specs), "cells": cells_out}

    def cell_slots(self, block: Block, direction: str, k: int, cell: CellInfo) -> dict[str, list[str]]:
        """Convert one cell's optimizer slots like the cell (no forget_bias); return role -> file per Keras weight."""
        if not self.with_optimizer:
            return {}

        roles: dict[str, dict[str, str]] = {}
        for name, key in cell.variables.items():
            for role, slot_key in self.slot_index.get(key, {}).items():
                roles.setdefault(role, {})[name] = slot_key
        out: dict[str, list[str]] = {}
        for role, by_name in roles.items():
            if set(by_name) != set(cell.variables):
                missing = sorted(set(cell.variables) - set(by_name))
                raise MigrationError(f"Optimizer slot {role!r} is missing for {missing} of cell {cell.path!r}; "
                                     "the checkpoint is inconsistent. Convert without --with-optimizer.")
            arrays = {name: self.read_weight(key) for name, key in by_name.items()}
            converted = cell_to_keras(cell.spec, arrays, cell.input_size, include_forget_bias=False)
            files = []
            for j, array in enumerate(converted):
                rel = self.rel("optimizer", role, block.name, f"{direction or 'rnn'}{k}_{j}.npy")
                np.save(os.path.join(self.tmp, rel), array)
                files.append(rel)
            for key in by_name.values():
                self.destinations[key] = f"optimizer/{role}/{block.name} (converted like {cell.path})"
            out[role] = files
        return out

    def optimizer(self) -> Optional[dict[str, Any]]:
        return optimizer_section(self)

    def conv_block(self, cb) -> dict[str, Any]:
        """One ``tf.contrib.rnn.ConvLSTMCell`` block (:mod:`migration.checkpoint.conv_blocks`)."""
        if self.forget_bias is not None:
            cb = dataclasses.replace(cb, forget_bias=float(self.forget_bias), hyper_source="--forget-bias")
        entry = write_block(self.tmp, cb, self.read_weight, self.conv_models)
        for key in filter(None, (cb.kernel, cb.biases)):
            self.destinations[key] = entry["file"]
        return entry

    def seq2seq(self, info) -> dict[str, Any]:
        from migration.checkpoint.seq2seq import convert_entry

        if not hasattr(self, "_original"):
            from migration.graph.reference import OriginalGraph

            self._original = OriginalGraph(self.meta.path, self.reader) if self.meta else None
        return convert_entry(self, info, lambda: self._original, self.insp)

    # -- embeddings, dense, optimizer ---------------------------------------------------------------------------

    def embedding(self, emb) -> dict[str, Any]:
        from migration.converters import mod_partition_permutation

        file = self.rel("embeddings", f"{safe_name(emb.name)}.npy")
        entry: dict[str, Any] = {"name": emb.name, "source": emb.source, "file": file, "shape": list(emb.shape),
                                 "partitions": emb.partitions, "strategy": emb.strategy, "note": emb.note}
        if emb.source == "graph_constant":
            array = self.meta.read_const(emb.name)  # type: ignore[union-attr]
            self.progress.update(array.nbytes)
            entry["dtype"] = "float32"
            if array.dtype != np.float32:
                entry["note"] += f"; cast from {array.dtype} to float32 (as legacy_rnn.glove_embedding does)"
                array = array.astype(np.float32)
            np.save(os.path.join(self.tmp, file), array)
            entry["row_order"] = "as in the graph constant"
            return entry
        perm = None
        if emb.partitions and emb.partitions > 1 and emb.strategy == "mod":
            perm = mod_partition_permutation(emb.shape[0], emb.partitions)
            entry["row_order"] = (f"permuted for partition_strategy='mod' over {emb.partitions} partitions: "
                                  "row i = saved[offset[i % P] + i // P]")
        else:
            entry["row_order"] = "as saved" + ("" if emb.partitions or self.meta
                                               else " (partitioning unknown without .meta)")
        entry["dtype"] = self.copy(emb.name, file, perm)
        self.destinations[emb.name] = file
        slots = {}
        for role, key in self.slot_index.get(emb.name, {}).items() if self.with_optimizer else ():
            rel = self.rel("optimizer", role, "embeddings", f"{safe_name(emb.name)}.npy")
            self.copy(key, rel, perm)
            self.destinations[key] = rel
            slots[role] = rel
        if slots:
            entry["slots"] = slots
        return entry

    def dense(self, d) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": d.name, "kernel": d.kernel, "bias": d.bias, "shape": list(d.shape)}
        for what, key in (("kernel", d.kernel), ("bias", d.bias)):
            if key is None:  # a bias-less Dense (use_bias=False): no bias file
                entry["bias_file"] = None
                continue
            rel = self.rel("dense", safe_name(d.name), f"{what}.npy")
            self.copy(key, rel)
            self.destinations[key] = rel
            entry[f"{what}_file"] = rel
            if self.with_optimizer:
                for role, slot_key in self.slot_index.get(key, {}).items():
                    srel = self.rel("optimizer", role, "dense", safe_name(d.name), f"{what}.npy")
                    self.copy(slot_key, srel)
                    self.destinations[slot_key] = srel
                    entry.setdefault("slots", {}).setdefault(what, {})[role] = srel
        return entry

    def crf(self, key: str) -> dict[str, Any]:
        """``crf/<name>.npy``: a ``tf.contrib.crf`` transition matrix, unchanged, and how to load it."""
        tags = int(self.reader.variables[key].shape[0])
        rel = self.rel("crf", f"{safe_name(key)}.npy")
        dtype = self.copy(key, rel)
        self.destinations[key] = rel
        return {"name": key, "file": rel, "num_tags": tags, "dtype": dtype,
                "keras": f"crf = modern_rnn.CRF(num_tags={tags}); crf.build(); "
                         f"crf.transitions.assign(numpy.load('{rel}', allow_pickle=False))  "
                         "# row = previous tag, column = next tag, as TF1 stored it"}

def _check_integrity(reader: CheckpointReader, already: set[str], progress: _Progress) -> int:
    """Read every tensor not read yet, CRC-checked, in row chunks (memory flat in the tensor's size; tensors the bundle
    reader does not stream go through TensorFlow's reader, which checks the CRC too); return how many were read."""
    from migration.core import bundle_stream as stream

    count = 0
    for key in reader.variables:
        if key in already:
            continue
        layout = reader.layout(key)
        if layout is not None:
            for _, chunk in stream.iter_rows(layout):
                progress.update(chunk.nbytes)
        else:
            progress.update(reader.read(key).nbytes)
        count += 1
    return count


def _whole_model(reader: CheckpointReader, meta: Optional[MetaGraph], blocks: list[dict], models: list, tmp: str,
                 outputs: Optional[list[str]], shadows: dict[str, str],
                 conv_blocks: tuple = (), decoders: tuple = ()) -> tuple[Optional[dict[str, Any]], list[str]]:
    """Write ``model.keras`` (the whole network, see :mod:`migration.graph.whole_model`) into ``tmp``.

    Returns the manifest entry (None when no model was written) and notes saying why not."""
    if meta is None:
        if outputs:
            raise MigrationError("--outputs needs the .meta graph next to the checkpoint; none was found.")
        return None, ["no .meta: no whole model (model.keras) can be built; the blocks, embeddings and dense "
                      "weights are written separately"]
    from migration.graph.reference import OriginalGraph
    from migration.graph.to_keras import Untranslatable
    from migration.graph.dropout_facts import constant_dropouts
    from migration.graph.update_rewrite import batch_statistics_notes
    from migration.graph.whole_model import build_whole_model, default_io

    original = OriginalGraph(meta.path, reader, substitute=shadows)
    try:
        io = default_io(original, outputs)
        original.check(io.outputs, io.inputs)  # the sandbox: refuse before building anything we cannot verify
        model, translator, notes = build_whole_model(original, list(zip(blocks, models)), io, conv_blocks,
                                                     decoders)
        notes = list(notes) + batch_statistics_notes(original.index, io.outputs)
    except Untranslatable as exc:
        return None, [str(exc)]
    except SandboxLimit:
        raise
    except MigrationError as exc:
        if outputs:
            raise
        return None, [f"no whole model: {exc}"]
    except Exception as exc:  # noqa: BLE001 - a translation bug must not cost the user the block conversion
        return None, [f"no whole model: the translation failed ({type(exc).__name__}: {exc}); this is a bug in "
                      "rnn-migrate, please report it. The blocks were converted."]
    from migration.graph.keras_stream import save_streamed

    save_streamed(model, os.path.join(tmp, "model.keras"), translator.streamed)  # large embeddings row by row
    entry = {"file": "model.keras", "inputs": io.inputs, "outputs": io.outputs, "outputs_from": io.how,
             "pieces": translator.pieces, "layers": translator.layer_sources, "folded": translator.folded,
             "dropout_bypassed": original.dropout_bypassed, "dropout_live": constant_dropouts(original)}
    return entry, notes


#: The manifest sections ``convert`` writes, in this order: section -> its handler, which asks the inspection's items
#: of that kind (each item's converter: a :class:`_Converter` method, or the item kind's module). ``None``: no section
#: of its own (there, the embeddings and dense weights copied meanwhile on the I/O thread are joined, see COPIES).
PASSES: tuple[tuple[Optional[str], Callable[[_Converter], Any]], ...] = (
    ("blocks", lambda c: [c.block(b) for b in c.insp.blocks]),
    ("stacks", lambda c: write_stacks(c, c.insp.blocks, c.sections["blocks"])),
    (None, lambda c: c.sections.update(c.copies.result())),
    ("seq2seq", lambda c: [c.seq2seq(info) for info in c.insp.seq2seq]),
    ("crf", lambda c: [c.crf(key) for key in c.insp.crf]),
    ("conv_blocks", lambda c: [c.conv_block(cb) for cb in c.insp.conv_blocks]),
    ("optimizer", lambda c: c.optimizer()),
)
#: The large copies (I/O, the GIL released) that overlap the Keras block builds, on a second thread.
COPIES: tuple[tuple[str, Callable[[_Converter], Any]], ...] = (
    ("embeddings", lambda c: [c.embedding(e) for e in c.insp.embeddings]),
    ("dense", lambda c: [c.dense(d) for d in c.insp.dense]),
)


def _run_passes(conv: _Converter) -> None:
    """Every pass of :data:`PASSES` in order into ``conv.sections``, the :data:`COPIES` on a second thread."""
    with ThreadPoolExecutor(1) as pool:
        conv.copies = pool.submit(lambda: {name: handler(conv) for name, handler in COPIES})
        try:
            for name, handler in PASSES:
                result = handler(conv)
                if name is not None:
                    conv.sections[name] = result
        except BaseException:
            conv.progress.cancelled = True  # the copy thread stops at its next chunk instead of finishing a huge tensor
            raise


def _check_request(out_dir: str | os.PathLike, forget_bias: Optional[float], force: bool) -> str:
    """The absolute ``out_dir``, after the checks that need nothing read (fail fast)."""
    if forget_bias is not None and not math.isfinite(forget_bias):
        raise MigrationError(f"Received an invalid value for `forget_bias`: expected a finite number, got {forget_bias}.")
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.lexists(out_dir) and not force:  # fail fast, before reading anything
        raise MigrationError(f"Output directory {out_dir!r} already exists. Pass --force to replace it (only a "
                             "directory rnn-migrate wrote is replaced), or choose a new directory.")
    return out_dir


def _inspect(reader: CheckpointReader, meta: Optional[MetaGraph], use_ema: bool):
    """(reader, meta, inspection, notes) to convert: the checkpoint's own, or for a lone cuDNN buffer its canonical
    alias (configuration from the CudnnRNN op, which has no CPU kernel: then no .meta to run). Refuses a checkpoint
    with nothing convertible."""
    insp = recognize(reader.prefix, reader.variables, meta, use_ema=use_ema)
    alias_notes: list[str] = []
    if meta is not None:
        aliased = convert_through_canonical(reader, meta, insp, use_ema)
        if aliased is not None:
            (reader, insp, alias_notes), meta = aliased, None
            atexit.register(shutil.rmtree, os.path.dirname(reader.prefix), True)
    if not insp.convertible:
        problems = insp.problems()
        cls = UnknownCellError if any(u.rnn_like for u in insp.unrecognized) else MigrationError
        raise cls("Cannot convert " + repr(reader.source_prefix) + ": " + "; ".join(problems) +
                  ". Run `rnn-migrate inspect` for the full report.")
    return reader, meta, insp, alias_notes


def _integrity(reader: CheckpointReader, read_keys: set[str], bar: _Progress) -> dict[str, Any]:
    extra = _check_integrity(reader, read_keys, bar)
    return {"checked": len(reader.variables), "read_only_for_the_check": extra,
            "how": "every tensor read once; TensorFlow verifies each one's CRC32C"}


def _manifest(conv: _Converter, source: CheckpointReader, meta_path: Optional[str], alias_notes: list[str],
              integrity: Optional[dict], model_entry: Optional[dict], model_notes: list[str],
              use_ema: bool) -> dict[str, Any]:
    """The manifest: every section the passes wrote and where every checkpoint variable went."""
    insp, meta, sections = conv.insp, conv.meta, conv.sections
    for u in insp.unrecognized:
        conv.destinations[u.name] = f"not migrated: {u.reason}"
    for key, what in insp.bookkeeping.items():
        conv.destinations[key] = f"not migrated: distributed-training bookkeeping ({what}); tf.distribute keeps its own"
    variables = {k: {"shape": list(v.shape), "dtype": v.dtype, "role": insp.consumed.get(k, "unrecognized"),
                     "destination": conv.destinations.get(k, "not migrated")}
                 for k, v in conv.reader.variables.items()}
    return {
        "checkpoint": source.source_prefix,
        "meta": (meta.path if meta_path else source.meta_path) if meta or alias_notes else None,
        "hyper_parameters": {"source": ".meta graph" if meta else "defaults (no .meta)",
                             "forget_bias_override": conv.forget_bias},
        **{name: sections[name] for name in ("blocks", "stacks", "seq2seq", "embeddings", "dense", "crf")},
        "conv_blocks": sections["conv_blocks"], "optimizer": sections["optimizer"],
        "with_optimizer": conv.with_optimizer, "ema": {"used": use_ema, "shadows": insp.ema_shadows},
        "integrity": integrity, "variables": variables, "model": model_entry,
        "bookkeeping": dict(insp.bookkeeping),
        "unrecognized": [u.to_dict() for u in insp.unrecognized],
        "notes": alias_notes + insp.notes + conv.notes + model_notes,
    }


def _verify(conv: _Converter, manifest: dict[str, Any], meta_path: Optional[str], alias_notes: list[str],
            provenance) -> dict[str, Any]:
    """Verify what ``conv`` wrote (:func:`migration.checkpoint.verify.verify_conversion`) and record the report in
    the manifest (rewritten)."""
    conv.block_models.clear()  # verify loads what was written: the built models' memory is freed first
    if conv.bytes_read >= GC_BYTES:  # Keras models hold reference cycles: a full collection (0.2-0.4 s) frees them
        gc.collect()
    against = conv.reader.prefix
    if conv.casts:  # the TF1 side is built in float32: give it an exactly-cast float32 copy
        against = float32_alias(conv.reader, os.path.join(conv.tmp, ".verify"), set(conv.casts))
    verification = verify_conversion(against, conv.tmp, meta_path=meta_path).to_dict()
    if alias_notes:  # the .meta exists, but its CudnnRNN ops cannot run: say that, not "no .meta"
        verification["notes"] = alias_notes + [n for n in verification["notes"] if not n.startswith("no .meta")]
    if conv.casts:
        shutil.rmtree(os.path.join(conv.tmp, ".verify"), ignore_errors=True)
        verification.setdefault("notes", []).append(
            "verified against a float32 copy of the checkpoint (the casts listed in the manifest are exact)")
    annotate(verification, provenance)
    if not targets_ok(manifest.get("targets")):
        verification["ok"] = False
        verification.setdefault("notes", []).append("a --target file differs from the original graph: see the "
                                                    "manifest's targets entry")
    manifest["verification"] = verification
    write_manifest(conv.tmp, manifest)
    return verification


def _targets(conv: _Converter, manifest: dict[str, Any], targets: list[str], verify: bool) -> dict[str, Any]:
    """Keras 3 / ONNX files of every block and of the whole model, verified against the original graph
    (:mod:`migration.targets`, docs/targets.md)."""
    reader, meta = conv.reader, conv.meta
    return export_targets(targets, conv.tmp, manifest, lambda k: float32_weight(k, reader.read(k))[0],
                          meta_path=meta.path if meta else None, reader=reader, shadows=conv.insp.ema_shadows,
                          verify=verify)


def convert_checkpoint(checkpoint: str | os.PathLike, out_dir: str | os.PathLike, *, forget_bias: Optional[float] = None,
                       with_optimizer: bool = False, force: bool = False, verify: bool = True,
                       check_integrity: bool = True, progress: bool = False,
                       log: Optional[Callable[[str], None]] = None,
                       outputs: Optional[list[str]] = None, use_ema: bool = False,
                       whole_model: bool = True, meta_path: Optional[str] = None,
                       require_provenance: bool = False, targets: Optional[list[str]] = None) -> ConversionResult:
    """Convert a TF1 checkpoint into ``out_dir`` (see :mod:`migration.checkpoint.manifest` for the layout).

    Args:
        checkpoint: prefix, one of its files, or a directory with a ``checkpoint`` state file.
        out_dir: created; refused if it exists unless ``force``, and even then replaced only when it is a conversion
            rnn-migrate wrote that holds none of the inputs (:func:`migration.core.outdir.check_replaceable`).
        forget_bias: overrides the LSTM forget_bias found in the ``.meta`` (or the default 1.0 without one).
        with_optimizer: also convert optimizer slots (layout like their variables, without forget_bias).
        use_ema: convert each weight's ``ExponentialMovingAverage`` shadow instead of its raw value (the averaged
            weights TF1 programs evaluated with); without it the shadows are listed, never dropped silently.
        whole_model: write ``model.keras`` (the whole network; large embeddings are written into it row by row,
            :mod:`migration.graph.keras_stream`, so memory stays flat in tensor size either way).
        outputs: tensor names of the whole model's outputs (default: the logits the loss consumes); see
            :mod:`migration.graph.whole_model`.
        verify: run :func:`migration.checkpoint.verify.verify_conversion` before installing ``out_dir``; a failed
            verification installs nothing and is reported in the result (``ok`` False).
        check_integrity: also read every tensor the conversion does not use (optimizer slots without
            ``with_optimizer``, unrecognized variables), so a damaged one is reported (TF checks CRC32C on read).
        progress: show a tqdm bar on stderr.
        meta_path: the ``.meta`` to read (``--meta``) instead of the one beside the checkpoint; its provenance is
            checked (:mod:`migration.checkpoint.provenance`) and, when unproven, reported in the verification;
            ``require_provenance`` refuses it instead.

        targets: output targets besides Keras 2 (``keras3``, ``onnx``: :mod:`migration.targets`), written per block
            and verified against the original graph; a block a target cannot take exactly is refused.

    Raises:
        MigrationError: unreadable or damaged checkpoint, unknown cell, no RNN, refused overwrite, inconsistent shapes,
            an I/O error while writing (with the remedy).
    """
    out_dir = _check_request(out_dir, forget_bias, force)
    source = CheckpointReader(checkpoint)
    meta = resolve_meta(source.prefix, meta_path)
    provenance = meta_provenance(source, meta, explicit=meta_path is not None) if meta is not None else None
    check_provenance(provenance, require_provenance)
    reader, meta, insp, alias_notes = _inspect(source, meta, use_ema)
    # a target that cannot take a block: exit 2 before any work
    refuse_up_front(targets or [], insp.blocks, insp.conv_blocks, insp.seq2seq)
    inputs = source.input_files + ([meta_path] if meta_path else [])
    with staged_output(out_dir, force=force, inputs=inputs, is_ours=is_conversion_dir, log=log) as stage:
        bar = _Progress(reader.total_bytes if check_integrity else 0, progress)
        try:
            conv = _Converter(reader, meta, insp, stage.path, forget_bias, with_optimizer, bar)
            _run_passes(conv)
            model_entry, model_notes = (_whole_model(reader, meta, conv.sections["blocks"], conv.block_models,
                                                     stage.path, outputs, insp.ema_shadows,
                                                     tuple(zip(conv.sections["conv_blocks"], conv.conv_models)),
                                                     whole_model_decoders(stage.path, conv.sections["seq2seq"]))
                                        if whole_model else (None, ["no whole model: not requested (--no-model)"]))
            integrity = _integrity(reader, conv.read_keys, bar) if check_integrity else None
        finally:
            bar.close()
        manifest = _manifest(conv, source, meta_path, alias_notes, integrity, model_entry, model_notes, use_ema)
        if targets:
            manifest["targets"] = _targets(conv, manifest, targets, verify)
        write_manifest(stage.path, manifest)
        verification = _verify(conv, manifest, meta_path, alias_notes, provenance) if verify else None
        if verification is None or verification["ok"]:
            stage.install()
        return ConversionResult(out_dir, manifest, verification)
