"""``convert_checkpoint``: a TF1 checkpoint -> Keras 2 block models, embedding rows, dense weights, optimizer state.

Streaming: tensors are read one at a time (a block reads only its own cells' variables); embeddings, their
optimizer slots and dense weights are copied chunk by chunk from the checkpoint's bytes into their ``.npy`` files
(rows permuted per chunk when needed: :meth:`CheckpointReader.write_npy`), so memory stays flat in tensor size. Everything is written into a
temporary directory next to ``OUT_DIR`` and renamed into place at the end, so a failure leaves no partial output.
"""
from __future__ import annotations

import atexit
import contextlib
import dataclasses
import math
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Optional

import numpy as np

from migration.checkpoint.manifest import is_conversion_dir, safe_name, write_manifest
from migration.checkpoint.meta import MetaGraph
from migration.checkpoint.provenance import annotate, check_provenance, meta_provenance, resolve_meta
from migration.checkpoint.reader import CheckpointReader
from migration.checkpoint.recognize import KERAS_OPTIMIZERS, Block, CellInfo, Inspection, recognize
from migration.checkpoint.stacks import write_stacks
from migration.core.errors import MigrationError, UnknownCellError
from migration.core.outdir import staged_output
from migration.graph.limits import SandboxLimit
from migration.families import cell_to_keras, keras_names_for, uses_forget_bias

#: Keras weight name -> TF1 names it is made of, and how (per cell kind).
_TRANSFORMS: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    "handwritten": {"kernel": (("W",), "W[:D]"), "recurrent_kernel": (("W",), "W[D:]"), "bias": (("b",), "b")},
    "basic_rnn": {"kernel": (("kernel",), "kernel[:D]"), "recurrent_kernel": (("kernel",), "kernel[D:]"),
                  "bias": (("bias",), "bias")},
    "lstm": {"kernel": (("kernel",), "kernel[:D], gate blocks i,j,f,o -> i,f,c,o"),
             "recurrent_kernel": (("kernel",), "kernel[D:], gate blocks i,j,f,o -> i,f,c,o"),
             "bias": (("bias",), "gate blocks i,j,f,o -> i,f,c,o; b_f + forget_bias"),
             "w_i_diag": (("w_i_diag",), "copy"), "w_f_diag": (("w_f_diag",), "copy"), "w_o_diag": (("w_o_diag",), "copy"),
             "projection_kernel": (("projection/kernel",), "copy")},
    "gru": {"kernel": (("gates/kernel", "candidate/kernel"), "rows [:D]; [r|u] + candidate -> [z|r|h]"),
            "recurrent_kernel": (("gates/kernel", "candidate/kernel"), "rows [D:]; [r|u] + candidate -> [z|r|h]"),
            "bias": (("gates/bias", "candidate/bias"), "[r|u] + candidate -> [z|r|h]")},
}
_TRANSFORMS["basic_lstm"] = _TRANSFORMS["lstm"]


def _transform(spec, kname: str, variables: dict[str, str]) -> tuple[list[str], str]:
    """(checkpoint keys, how) behind Keras weight ``kname`` of a cell, for the manifest. Cell families without a
    row here (contrib block/fused, cuDNN, layer-norm: :mod:`migration.contrib_converters`,
    :mod:`migration.cudnn_converters`) list every variable of the cell and name their converter."""
    family = "lstm" if spec.is_lstm else "gru" if spec.is_gru else spec.kind
    row = _TRANSFORMS.get(spec.kind, _TRANSFORMS.get(family, {})).get(kname)
    if row is not None and all(n in variables for n in row[0]):
        return [variables[n] for n in row[0]], row[1]
    return sorted(variables.values()), f"migration.converters.cell_to_keras for kind {spec.kind!r}"
_KERAS_OPTIMIZERS = {"adam": "Adam", "adagrad": "Adagrad", "momentum": "SGD", "rmsprop": "RMSprop"}
#: TF1 constant name in the .meta -> (tf_keras argument, TF1's default) for the optimizers of KERAS_OPTIMIZERS
_OPTIMIZER_CONSTANTS = {
    "ftrl": (("learning_rate", "learning_rate", 0.001), ("learning_rate_power", "learning_rate_power", -0.5),
             ("l1_regularization_strength", "l1_regularization_strength", 0.0),
             ("l2_regularization_strength", "l2_regularization_strength", 0.0),
             ("l2_shrinkage_regularization_strength", "l2_shrinkage_regularization_strength", 0.0),
             ("beta", "beta", 0.0)),
    "adadelta": (("lr", "learning_rate", 0.001), ("rho", "rho", 0.95), ("epsilon", "epsilon", 1e-8)),
}
#: what a Keras step from the converted slots cannot reproduce (measured: tests/checkpoint/test_ckpt_resume.py)
_RESUME_TRAPS = {
    "ftrl": ["embeddings: TF1's sparse Ftrl update touched only the rows looked up; tf_keras' Ftrl recomputes every "
             "row from its `linear` slot (rows Ftrl never updated jump to their l1/l2 solution)",
             "LSTM biases: Keras holds forget_bias folded into the bias and Ftrl's l1/l2 pull towards 0 are not "
             "invariant under that shift, so the forget-gate bias moves differently from TF1's"],
    "adadelta": ["embeddings: TF1's sparse Adadelta update decayed the accumulators of the rows looked up only; "
                 "tf_keras' decays every row's, so later steps on other rows differ"],
}
_KERAS_SLOT = {("adam", "m"): "m", ("adam", "v"): "v", ("adagrad", "accumulator"): "accumulator",
               ("momentum", "momentum"): "momentum", ("rmsprop", "rms"): "velocity",
               ("rmsprop", "momentum"): "momentum", ("rmsprop", "mg"): "average_gradient"}


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


def with_forget_bias(cell: CellInfo, forget_bias: Optional[float]) -> CellInfo:
    if forget_bias is None or not uses_forget_bias(cell.spec):
        return cell
    spec = dataclasses.replace(cell.spec, forget_bias=float(forget_bias))
    return dataclasses.replace(cell, spec=spec, hyper_sources={**cell.hyper_sources, "forget_bias": "--forget-bias"})


class _Converter:
    def __init__(self, reader: CheckpointReader, meta: Optional[MetaGraph], insp: Inspection, tmp: str,
                 forget_bias: Optional[float], with_optimizer: bool, progress: _Progress) -> None:
        self.reader, self.meta, self.insp, self.tmp = reader, meta, insp, tmp
        self.forget_bias, self.with_optimizer, self.progress = forget_bias, with_optimizer, progress
        self.destinations: dict[str, str] = {}
        self.block_models: list = []
        self.read_keys: set[str] = set()
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
                    sources, how = _transform(cell.spec, kname, cell.variables)
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

    def adam_iterations(self, key: str, beta1: float) -> Optional[int]:
        """Adam's step count from ``beta1_power = beta1 ** (t + 1)``; a value no real run gives is refused (with
        ``--with-optimizer``) or noted (without: the optimizer state is not migrated anyway)."""
        array = self.read(key)
        power = float(array) if array.size == 1 else float("nan")
        problem = None
        if array.size != 1:
            problem = f"{key!r} holds {array.size} values instead of one"
        elif not (math.isfinite(power) and 0.0 < power < 1.0):
            problem = f"{key!r} = {power!r}, which no Adam run produces (beta1 ** (t + 1) lies in (0, 1))"
        elif not (math.isfinite(beta1) and 0.0 < beta1 < 1.0):
            problem = f"Adam beta1 = {beta1!r} from the .meta is outside (0, 1)"
        if problem is None:
            return max(int(round(math.log(power) / math.log(beta1))) - 1, 0)
        if self.with_optimizer:
            raise MigrationError(f"Cannot recover Adam's iteration count: {problem}. The checkpoint's optimizer state "
                                 "is damaged; convert without --with-optimizer (weights only).")
        self.notes.append(f"Adam iterations unknown: {problem}")
        return None

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

    def optimizer(self) -> Optional[dict[str, Any]]:
        if not self.insp.optimizers:
            return None
        out = []
        for opt in self.insp.optimizers:
            entry: dict[str, Any] = {"kind": opt.kind, "tf1_name": opt.name, "constants_from_meta": opt.constants,
                                     "migrated": self.with_optimizer}
            keras_cfg: dict[str, Any] = {"class": _KERAS_OPTIMIZERS.get(opt.kind)}
            if "learning_rate" in opt.constants:
                keras_cfg["learning_rate"] = opt.constants["learning_rate"]
            if opt.kind == "adam":
                beta1 = opt.constants.get("beta1", 0.9)
                keras_cfg.update(beta_1=beta1, beta_2=opt.constants.get("beta2", 0.999),
                                 epsilon=opt.constants.get("epsilon", 1e-8))
                iterations, source = None, None
                if self.insp.global_step:
                    iterations, source = int(self.read(self.insp.global_step)), "global_step"  # an int scalar
                elif "beta1_power" in opt.counters:
                    iterations, source = self.adam_iterations(opt.counters["beta1_power"], beta1), "beta1_power"
                for name, key in opt.counters.items():
                    self.destinations[key] = f"manifest optimizer[{opt.kind}].iterations (from {name})"
                entry["iterations"], entry["iterations_source"] = iterations, source
            elif opt.kind == "adagrad":
                keras_cfg.update(epsilon=0.0, initial_accumulator_value=0.1)
            elif opt.kind in KERAS_OPTIMIZERS:  # Ftrl, Adadelta: TF1's values, from the .meta where it has them
                cls, _, defaults = KERAS_OPTIMIZERS[opt.kind]
                keras_cfg["class"] = cls
                keras_cfg.update(defaults)
                assumed = []
                for tf1, keras_name, default in _OPTIMIZER_CONSTANTS[opt.kind]:
                    if tf1 in opt.constants:
                        keras_cfg[keras_name] = opt.constants[tf1]
                    else:
                        keras_cfg[keras_name] = default
                        assumed.append(f"{keras_name}={default} (TF1 default, not in the .meta)")
                entry["assumed"] = assumed
                entry["notes"] = _RESUME_TRAPS[opt.kind]
            entry["keras"] = keras_cfg
            entry["slot_roles"] = {role: _KERAS_SLOT.get((opt.kind, role))
                                   or KERAS_OPTIMIZERS.get(opt.kind, ("", {}, {}))[1].get(role, role)
                                   for roles in opt.slots.values() for role in roles}
            out.append(entry)
            if not self.with_optimizer:
                for roles in opt.slots.values():
                    for key in roles.values():
                        self.destinations.setdefault(key, "not migrated (pass --with-optimizer)")
        if self.insp.global_step:
            self.destinations.setdefault(self.insp.global_step, "manifest optimizer iterations")
        return {"optimizers": out}


def float32_weight(key: str, array: np.ndarray) -> tuple[np.ndarray, Optional[str]]:
    """RNN weights as float32, exactly: float16/bfloat16 always widen exactly; float64 only if no value rounds.

    Returns ``(array, note)`` with a note for the manifest when a cast happened; raises MigrationError otherwise.
    """
    dtype = str(array.dtype)
    if dtype == "float32":
        return array, None
    if dtype in ("float16", "bfloat16"):
        return array.astype(np.float32), f"{dtype} -> float32 (exact: every {dtype} value is a float32 value)"
    if dtype == "float64":
        cast = array.astype(np.float32)
        lossy = int(np.count_nonzero(cast.astype(np.float64) != array))
        if lossy:
            raise MigrationError(
                f"Variable {key!r} is float64 and {lossy} of its {array.size} values are not exactly representable in "
                "float32, which Keras RNN layers compute in. Refusing to round silently: cast the checkpoint to "
                "float32 yourself if the rounding is acceptable, then convert it."
            )
        return cast, "float64 -> float32 (exact: every value is representable in float32)"
    raise MigrationError(f"Variable {key!r} has dtype {dtype}; RNN weights must be floating point.")


def _float32_alias(reader: CheckpointReader, tmp_root: str, keys: set[str]) -> str:
    """A copy of the checkpoint with the variables ``keys`` cast to float32 (exact: :func:`float32_weight` refused any
    rounding), so that the TF1 side of the verification, built in float32, restores it; the .meta is linked beside."""
    from migration.checkpoint.export import write_tf1_checkpoint

    arrays = {}
    for key in reader.variables:
        array = reader.read(key)
        arrays[key] = float32_weight(key, array)[0] if key in keys else array
    prefix = write_tf1_checkpoint(arrays, os.path.join(tmp_root, "float32", "model.ckpt"))
    if reader.meta_path:
        os.symlink(os.path.abspath(reader.meta_path), prefix + ".meta")
    return prefix


@contextlib.contextmanager
def float32_checkpoint(checkpoint: str | os.PathLike, manifest: dict[str, Any]) -> Iterator[str]:
    """The checkpoint to verify ``manifest``'s conversion against: ``checkpoint`` itself, or (when the manifest lists
    exact float16/bfloat16/float64 -> float32 casts) a temporary copy with those variables cast to float32."""
    keys = {key for block in manifest.get("blocks", []) for cell in block.get("cells", [])
            for key in (cell.get("dtype_casts") or {})}
    if not keys:
        yield os.fspath(checkpoint)
        return
    import tempfile

    root = tempfile.mkdtemp(prefix="rnn-migrate-verify-")
    try:
        yield _float32_alias(CheckpointReader(checkpoint), root, keys)
    finally:
        shutil.rmtree(root, ignore_errors=True)


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
                 conv_blocks: tuple = ()) -> tuple[Optional[dict[str, Any]], list[str]]:
    """Write ``model.keras`` (the whole network, see :mod:`migration.graph.whole_model`) into ``tmp``.

    Returns the manifest entry (None when no model was written) and notes saying why not."""
    if meta is None:
        if outputs:
            raise MigrationError("--outputs needs the .meta graph next to the checkpoint; none was found.")
        return None, ["no .meta: no whole model (model.keras) can be built; the blocks, embeddings and dense "
                      "weights are written separately"]
    from migration.graph.reference import OriginalGraph
    from migration.graph.to_keras import Untranslatable
    from migration.graph.whole_model import build_whole_model, default_io

    original = OriginalGraph(meta.path, reader, substitute=shadows)
    try:
        io = default_io(original, outputs)
        original.check(io.outputs, io.inputs)  # the sandbox: refuse before building anything we cannot verify
        model, translator, notes = build_whole_model(original, list(zip(blocks, models)), io, conv_blocks)
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
             "pieces": translator.pieces, "layers": translator.layer_sources,
             "dropout_bypassed": original.dropout_bypassed}
    return entry, notes


def convert_checkpoint(checkpoint: str | os.PathLike, out_dir: str | os.PathLike, *, forget_bias: Optional[float] = None,
                       with_optimizer: bool = False, force: bool = False, verify: bool = True,
                       check_integrity: bool = True, progress: bool = False,
                       log: Optional[Callable[[str], None]] = None,
                       outputs: Optional[list[str]] = None, use_ema: bool = False,
                       whole_model: bool = True, meta_path: Optional[str] = None,
                       require_provenance: bool = False) -> ConversionResult:
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

    Raises:
        MigrationError: unreadable or damaged checkpoint, unknown cell, no RNN, refused overwrite, inconsistent shapes,
            an I/O error while writing (with the remedy).
    """
    if forget_bias is not None and not math.isfinite(forget_bias):
        raise MigrationError(f"Received an invalid value for `forget_bias`: expected a finite number, got {forget_bias}.")
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.lexists(out_dir) and not force:  # fail fast, before reading anything
        raise MigrationError(f"Output directory {out_dir!r} already exists. Pass --force to replace it (only a "
                             "directory rnn-migrate wrote is replaced), or choose a new directory.")
    reader = CheckpointReader(checkpoint)
    meta = resolve_meta(reader.prefix, meta_path)
    provenance = meta_provenance(reader, meta, explicit=meta_path is not None) if meta is not None else None
    check_provenance(provenance, require_provenance)
    insp = recognize(reader.prefix, reader.variables, meta, use_ema=use_ema)
    source, alias_notes = reader, []
    if meta is not None:  # a lone cuDNN buffer: its configuration from the CudnnRNN op (which has no CPU kernel)
        from migration.checkpoint.cudnn_opaque import convert_through_canonical

        aliased = convert_through_canonical(reader, meta, insp, use_ema)
        if aliased is not None:
            (reader, insp, alias_notes), meta = aliased, None
            atexit.register(shutil.rmtree, os.path.dirname(reader.prefix), True)
    if not insp.convertible:
        problems = insp.problems()
        cls = UnknownCellError if any(u.rnn_like for u in insp.unrecognized) else MigrationError
        raise cls("Cannot convert " + repr(reader.source_prefix) + ": " + "; ".join(problems) +
                  ". Run `rnn-migrate inspect` for the full report.")
    inputs = source.input_files + ([meta_path] if meta_path else [])
    with staged_output(out_dir, force=force, inputs=inputs, is_ours=is_conversion_dir, log=log) as stage:
        tmp = stage.path
        bar = _Progress(reader.total_bytes if check_integrity else 0, progress)
        try:
            conv = _Converter(reader, meta, insp, tmp, forget_bias, with_optimizer, bar)
            with ThreadPoolExecutor(1) as pool:  # large copies (I/O, GIL released) overlap the Keras block builds
                copies = pool.submit(lambda: ([conv.embedding(e) for e in insp.embeddings],
                                              [conv.dense(d) for d in insp.dense]))
                try:
                    blocks = [conv.block(b) for b in insp.blocks]
                    stacks = write_stacks(conv, insp.blocks, blocks)
                    embeddings, dense = copies.result()
                    attention = [conv.seq2seq(info) for info in insp.seq2seq]
                except BaseException:
                    bar.cancelled = True  # the copy thread stops at its next chunk instead of finishing a huge tensor
                    raise
            crf = [conv.crf(key) for key in insp.crf]
            conv_entries, conv_models = [], []
            for cb in insp.conv_blocks:  # tf.contrib.rnn.ConvLSTMCell blocks
                from migration.checkpoint.conv_blocks import write_block

                if forget_bias is not None:
                    cb = dataclasses.replace(cb, forget_bias=float(forget_bias), hyper_source="--forget-bias")
                conv_entries.append(write_block(tmp, cb, conv.read_weight, conv_models))
                for key in filter(None, (cb.kernel, cb.biases)):
                    conv.destinations[key] = conv_entries[-1]["file"]
            optimizer = conv.optimizer()
            model_entry, model_notes = (_whole_model(reader, meta, blocks, conv.block_models, tmp, outputs,
                                                     insp.ema_shadows, tuple(zip(conv_entries, conv_models)))
                                        if whole_model
                                        else (None, ["no whole model: not requested (--no-model)"]))
            integrity = None
            if check_integrity:
                extra = _check_integrity(reader, conv.read_keys, bar)
                integrity = {"checked": len(reader.variables), "read_only_for_the_check": extra,
                             "how": "every tensor read once; TensorFlow verifies each one's CRC32C"}
        finally:
            bar.close()
        for u in insp.unrecognized:
            conv.destinations[u.name] = f"not migrated: {u.reason}"
        for key, what in insp.bookkeeping.items():
            conv.destinations[key] = f"not migrated: distributed-training bookkeeping ({what}); tf.distribute keeps its own"
        variables = {k: {"shape": list(v.shape), "dtype": v.dtype, "role": insp.consumed.get(k, "unrecognized"),
                         "destination": conv.destinations.get(k, "not migrated")}
                     for k, v in reader.variables.items()}
        manifest = {
            "checkpoint": source.source_prefix, "meta": (meta.path if meta_path else source.meta_path) if meta or alias_notes else None,
            "hyper_parameters": {"source": ".meta graph" if meta else "defaults (no .meta)",
                                 "forget_bias_override": forget_bias},
            "blocks": blocks, "stacks": stacks, "seq2seq": attention, "embeddings": embeddings, "dense": dense,
            "crf": crf, "conv_blocks": conv_entries, "optimizer": optimizer,
            "with_optimizer": with_optimizer, "ema": {"used": use_ema, "shadows": insp.ema_shadows},
            "integrity": integrity, "variables": variables, "model": model_entry,
            "bookkeeping": dict(insp.bookkeeping),
            "unrecognized": [u.to_dict() for u in insp.unrecognized],
            "notes": alias_notes + insp.notes + conv.notes + model_notes,
        }
        write_manifest(tmp, manifest)
        verification = None
        if verify:
            import gc

            from migration.checkpoint.verify import verify_conversion

            conv.block_models.clear()  # verify loads what was written: the built models' memory is freed first
            gc.collect()

            against = reader.prefix
            if conv.casts:  # the TF1 side is built in float32: give it an exactly-cast float32 copy
                against = _float32_alias(reader, os.path.join(tmp, ".verify"), set(conv.casts))
            verification = verify_conversion(against, tmp, meta_path=meta_path).to_dict()
            if alias_notes:  # the .meta exists, but its CudnnRNN ops cannot run: say that, not "no .meta"
                verification["notes"] = alias_notes + [n for n in verification["notes"] if not n.startswith("no .meta")]
            if conv.casts:
                shutil.rmtree(os.path.join(tmp, ".verify"), ignore_errors=True)
                verification.setdefault("notes", []).append(
                    "verified against a float32 copy of the checkpoint (the casts listed in the manifest are exact)")
            annotate(verification, provenance)
            manifest["verification"] = verification
            write_manifest(tmp, manifest)
            if not verification["ok"]:
                return ConversionResult(out_dir, manifest, verification)
        stage.install()
        return ConversionResult(out_dir, manifest, verification)
