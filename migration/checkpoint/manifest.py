"""``OUT_DIR/manifest.json``: what ``rnn-migrate convert`` wrote, from what, and how.

Layout of a conversion directory::

    manifest.json
    blocks/<name>.keras              one Keras 2 model per RNN block (inputs [x, sequence_length])
    seq2seq/<name>.keras             one attention decoder / legacy_seq2seq model (migration.checkpoint.seq2seq)
    stacks/<name>.keras              one chained model per stack_bidirectional_dynamic_rnn (its layers are blocks too)
    embeddings/<name>.npy            Embedding rows in the order a Keras Embedding needs
    dense/<name>/{kernel,bias}.npy   Dense weights
    crf/<name>.npy                   tf.contrib.crf transition matrices, unchanged (modern_rnn.CRF.transitions)
    optimizer/<role>/...npy          optimizer slots (--with-optimizer), same layout as their weights
    blocks/<name>.keras3.keras       --target keras3: the block as a Keras 3 model (migration.targets)
    blocks/<name>.onnx               --target onnx: the block as an ONNX graph (migration.targets)

``files`` records every file written (sha256 and size, :mod:`migration.checkpoint.files`): ``verify`` checks the
directory against it, ``--force`` refuses a directory holding anything else. Manifests without it still load.
"""
from __future__ import annotations

import functools
import json
import os
import re
from typing import Any

from migration.checkpoint.files import RECORD, record_files, unrecorded_files
from migration.core.errors import MigrationError

MANIFEST = "manifest.json"
FORMAT = "rnn-migrate/checkpoint-conversion"
VERSION = 1


def safe_name(name: str) -> str:
    """A file-system-safe version of a TF name (``encoder/rnn`` -> ``encoder_rnn``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "root"


def write_manifest(out_dir: str, manifest: dict[str, Any]) -> str:
    """Write ``out_dir/manifest.json``. The first call records every file already in ``out_dir`` in
    ``manifest["files"]`` (set in the caller's dict, so a later rewrite keeps the same record)."""
    path = os.path.join(out_dir, MANIFEST)
    if RECORD not in manifest:
        manifest[RECORD] = record_files(out_dir)
    manifest = {"format": FORMAT, "version": VERSION, **manifest}
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=False, default=_default)
        f.write("\n")
    return path


_NAME = {"type": "string"}
_REL = {"type": "string", "minLength": 1}
_SIZE = {"type": "integer", "minimum": 0}
_POSITIVE = {"type": "integer", "minimum": 1}
_SHAPE = {"type": "array", "items": _SIZE}
_SLOTS = {"type": "object", "additionalProperties": _REL}

#: JSON schema of what :func:`read_manifest` accepts: the fields the readers (verify, optimizer, demo) use, with
#: their types; everything else is free. File references are also checked by :func:`manifest_files`.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format", "version", "blocks", "embeddings", "dense"],
    "properties": {
        "format": {"const": FORMAT},
        "version": {"const": VERSION},
        "checkpoint": {"type": ["string", "null"]},
        "blocks": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "scope", "file", "input_size", "outputs", "cells"],
            "properties": {
                "name": _NAME, "scope": _NAME, "file": _REL, "input_size": _POSITIVE, "layers": _POSITIVE,
                "outputs": {"type": "array", "items": _NAME},
                "cells": {"type": "array", "minItems": 1, "items": {
                    "type": "object",
                    "required": ["direction", "spec"],
                    "properties": {
                        "direction": {"enum": ["", "fw", "bw"]},
                        "layer": _SIZE, "input_size": _POSITIVE,
                        "spec": {"type": "object", "required": ["kind", "units"],
                                 "properties": {"kind": _NAME, "units": _POSITIVE}},
                        "weights": {"type": "array", "items": {
                            "type": "object",
                            "properties": {"shape": _SHAPE, "slots": {"type": "object",
                                                                      "additionalProperties": _REL}}}},
                    }}},
            }}},
        "stacks": {"type": "array", "items": {  # migration.checkpoint.stacks
            "type": "object",
            "required": ["name", "scope", "file", "input_size", "outputs", "layers"],
            "properties": {"name": _NAME, "scope": _NAME, "file": _REL, "input_size": _POSITIVE,
                           "outputs": {"type": "array", "items": _NAME},
                           "layers": {"type": "array", "minItems": 1, "items": {
                               "type": "object", "required": ["block", "fw", "bw"],
                               "properties": {"block": _NAME, "fw": {"type": "object", "required": ["spec"]},
                                              "bw": {"type": "object", "required": ["spec"]}}}}},
        }},
        "embeddings": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "source", "file", "shape"],
            "properties": {"name": _NAME, "source": _NAME, "file": _REL, "shape": _SHAPE,
                           "partitions": {"type": ["integer", "null"], "minimum": 1},
                           "strategy": {"type": ["string", "null"]}, "slots": _SLOTS},
        }},
        "model": {"oneOf": [{"type": "null"}, {
            "type": "object",
            "required": ["file", "inputs", "outputs"],
            "properties": {"file": _REL, "inputs": {"type": "array", "items": _NAME},
                           "outputs": {"type": "array", "minItems": 1, "items": _NAME}},
        }]},
        "conv_blocks": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "file", "kernel", "conv_ndims", "input_channels", "output_channels", "kernel_shape",
                         "spatial_shape", "forget_bias", "outputs"],
            "properties": {"name": _NAME, "file": _REL, "kernel": _NAME, "conv_ndims": _POSITIVE,
                           "input_channels": _POSITIVE, "output_channels": _POSITIVE, "kernel_shape": _SHAPE,
                           "spatial_shape": _SHAPE, "forget_bias": {"type": "number"}, "outputs": {"type": "array", "items": _NAME}},
        }},
        "crf": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "file", "num_tags"],
            "properties": {"name": _NAME, "file": _REL, "num_tags": _POSITIVE},
        }},
        "targets": {"type": "object", "additionalProperties": {  # migration.targets (convert --target)
            "type": ["object", "array"],
            "properties": {"blocks": {"type": "array", "items": {
                "type": "object", "required": ["name", "file"], "properties": {"name": _NAME, "file": _REL}}},
                "model": {"type": "object", "required": ["file"], "properties": {"file": _REL}},
                "verification": {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}}}},
        "files": {"type": "object", "additionalProperties": {  # migration.checkpoint.files
            "type": "object", "required": ["sha256", "bytes"],
            "properties": {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "bytes": _SIZE}}},
        "dense": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "kernel", "bias", "kernel_file", "bias_file"],
            "properties": {"name": _NAME, "kernel": _NAME, "kernel_file": _REL,  # bias None: use_bias=False
                           "bias": {"type": ["string", "null"]}, "bias_file": {"type": ["string", "null"], "minLength": 1},
                           "shape": _SHAPE,
                           "slots": {"type": "object", "additionalProperties": _SLOTS}},
        }},
    },
}

#: Largest manifest read (a manifest lists every variable; 256 MiB is far beyond any real one).
MAX_BYTES = 256 * 1024 * 1024


def manifest_files(manifest: dict[str, Any]) -> list[str]:
    """Every file reference of a (schema-valid) manifest: block models, embedding rows, dense weights, slots."""
    files = []
    for block in manifest["blocks"]:
        files.append(block["file"])
        for cell in block["cells"]:
            for weight in cell.get("weights", []):
                files.extend(weight.get("slots", {}).values())
    files += [stack["file"] for stack in manifest.get("stacks") or []]
    for emb in manifest["embeddings"]:
        files.append(emb["file"])
        files.extend(emb.get("slots", {}).values())
    if manifest.get("model"):
        files.append(manifest["model"]["file"])
    files += [c["file"] for c in (manifest.get("crf") or []) + (manifest.get("conv_blocks") or [])]
    files += [b["file"] for name, t in (manifest.get("targets") or {}).items() if name != "notes"
              for b in t.get("blocks", []) + ([t["model"]] if t.get("model") else [])]
    for d in manifest["dense"]:
        files += [f for f in (d["kernel_file"], d["bias_file"]) if f is not None]
        for roles in d.get("slots", {}).values():
            files.extend(roles.values())
    return files


def _validator(jsonschema):
    """Draft 2020-12, except that an "integer" is a JSON integer only: the standard also accepts ``0.0``, which the
    readers (shapes, sizes, counts) would then use as a float."""
    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool))
    return jsonschema.validators.extend(base, type_checker=checker)


@functools.lru_cache(maxsize=None)
def _schema_validator():
    """The validator of :data:`SCHEMA`, built once per process (a new validator class per manifest read cost more
    than the validation itself)."""
    import jsonschema

    return _validator(jsonschema)(SCHEMA)


def validate_manifest_file(path: str) -> dict[str, Any]:
    """Parse and validate ``path`` (schema, file references confined to its directory); raise MigrationError."""
    import jsonschema

    from migration.safe_io import confined_path

    redo = "Re-run `rnn-migrate convert CKPT OUT_DIR --force` to rewrite it."
    try:
        if not os.path.isfile(path):
            raise MigrationError(f"{path!r} is not a regular file. {redo}")
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise MigrationError(f"Cannot read {path!r}: {exc.strerror or exc}. {redo}") from None
    if len(raw) > MAX_BYTES:
        raise MigrationError(f"{path!r} is over {MAX_BYTES >> 20} MiB: not a manifest rnn-migrate wrote. {redo}")
    try:
        manifest = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, too deeply nested
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MigrationError(f"Cannot parse {path!r} as JSON: {text[:200]}. {redo}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise MigrationError(f"{path!r} is not an rnn-migrate conversion manifest (format={got!r}). {redo}")
    try:
        error = jsonschema.exceptions.best_match(_schema_validator().iter_errors(manifest))
    except RecursionError:
        raise MigrationError(f"{path!r} is nested too deeply to be a manifest. {redo}") from None
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise MigrationError(f"Invalid manifest {path!r} at {where}: {error.message[:300]}. {redo}")
    root = os.path.dirname(os.path.abspath(path))
    for rel in manifest_files(manifest) + sorted(manifest.get(RECORD) or {}):
        confined_path(root, rel, what=f"file reference in {path!r}")
    return manifest


def is_conversion_dir(out_dir: str) -> bool:
    """``--force`` may replace ``out_dir`` (see :func:`migration.core.outdir.check_replaceable`): it holds a valid
    manifest and nothing convert did not write; :class:`MigrationError` naming the first file that is not ours."""
    try:
        manifest = validate_manifest_file(os.path.join(out_dir, MANIFEST))
    except MigrationError:
        return False
    foreign = unrecorded_files(out_dir, manifest)
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise MigrationError(
            f"Refused to replace {out_dir!r} with --force: it holds {foreign[0]!r}{more}, which rnn-migrate did not "
            "write (not in its manifest's file list, or changed in size). --force would delete it. Move it out of "
            "the directory, or choose a new output directory; nothing was changed.")
    return True


def read_manifest(out_dir: str) -> dict[str, Any]:
    """The validated manifest of a conversion directory (see :data:`SCHEMA`); MigrationError for anything else."""
    path = os.path.join(os.fspath(out_dir), MANIFEST)
    if not os.path.lexists(path):
        raise MigrationError(
            f"{path!r} not found: {out_dir!r} is not a directory written by `rnn-migrate convert`. Convert first: "
            f"rnn-migrate convert CKPT {out_dir}"
        )
    return validate_manifest_file(path)


def _default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, tuple):
        return list(obj)
    return str(obj)
