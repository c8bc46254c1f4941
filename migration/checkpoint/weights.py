"""Weights as the Keras side needs them: float32 exactly (or refused), and the ``--forget-bias`` override.

Used by every item's converter (cells, stacks, wrapped blocks) and by the verification's float32 copy of a
checkpoint, below both :mod:`migration.checkpoint.convert` and the item modules.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from typing import Any, Iterator, Optional

import numpy as np

from migration.checkpoint.items import CellInfo
from migration.checkpoint.reader import CheckpointReader
from migration.core.errors import MigrationError
from migration.families import uses_forget_bias


def with_forget_bias(cell: CellInfo, forget_bias: Optional[float]) -> CellInfo:
    if forget_bias is None or not uses_forget_bias(cell.spec):
        return cell
    spec = dataclasses.replace(cell.spec, forget_bias=float(forget_bias))
    return dataclasses.replace(cell, spec=spec, hyper_sources={**cell.hyper_sources, "forget_bias": "--forget-bias"})


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


def float32_alias(reader: CheckpointReader, tmp_root: str, keys: set[str]) -> str:
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
        yield float32_alias(CheckpointReader(checkpoint), root, keys)
    finally:
        shutil.rmtree(root, ignore_errors=True)
