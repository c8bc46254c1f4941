"""``verify_conversion``: rebuild every block in a TF1 graph from the checkpoint and compare it with the Keras files.

The TF1 side is built by :mod:`legacy_rnn` (its own graph, never the ``.meta``), with the hyper-parameters the
``.meta`` graph declares (when there is one: so a conversion that ignored ``forget_bias`` fails) and restored by
name with tf-slim's ``assign_from_checkpoint_fn``. Both sides get the same random inputs with ragged lengths (one
equal to T, one of 1); the report holds the max abs difference of every output. Embeddings are checked by lookup
(partitioned variables through a partitioned TF1 variable and ``embedding_lookup`` with the graph's strategy), dense
weights and graph-constant matrices by value.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from migration.checkpoint.manifest import read_manifest
from migration.safe_io import load_block_model
from migration.errors import MigrationError
from migration.specs import CellSpec

TOLERANCE = 1e-5


@dataclasses.dataclass
class Check:
    what: str
    output: str
    max_abs_diff: float
    shape: list[int]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class VerifyReport:
    checks: list[Check]
    tolerance: float
    notes: list[str]

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.max_abs_diff <= self.tolerance for c in self.checks)

    @property
    def worst(self) -> float:
        return max((c.max_abs_diff for c in self.checks), default=float("nan"))

    def to_dict(self) -> dict:
        return {"ok": self.ok, "tolerance": self.tolerance, "max_abs_diff": self.worst,
                "checks": [c.to_dict() for c in self.checks], "notes": self.notes}


def _inputs(batch: int, steps: int, depth: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (batch, steps, depth)).astype(np.float32)
    lengths = rng.integers(1, steps + 1, batch).astype(np.int32)
    lengths[0] = steps
    if batch > 1:
        lengths[1] = 1
    return x, lengths


def _true_specs(block: dict, fresh_blocks: dict[str, Any]) -> tuple[dict[str, list[CellSpec]], str]:
    """Specs from the fresh inspection of the checkpoint (+ .meta) when it has a .meta, else from the manifest."""
    fresh = fresh_blocks.get(block["scope"])
    if fresh is not None:
        return {d: [c.spec for c in cells] for d, cells in fresh.directions.items()}, "checkpoint .meta"
    specs: dict[str, list[CellSpec]] = {}
    for cell in block["cells"]:
        specs.setdefault(cell["direction"], []).append(CellSpec.from_dict(cell["spec"]))
    return specs, "manifest"


def _run_tf1_block(prefix: str, block: dict, specs: dict[str, list[CellSpec]], x: np.ndarray,
                   lengths: np.ndarray) -> list[np.ndarray]:
    import legacy_rnn
    from migration.checkpoint.blocks import build_tf1_block

    with legacy_rnn.new_graph() as graph:
        xp, lp, flat, variables = build_tf1_block(specs, block["input_size"], x.shape[1])
        scope = block["scope"]
        name_map = {(f"{scope}/{rel}" if scope else rel): var for rel, var in variables.items()}
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        legacy_rnn.restore_renamed(sess, prefix, name_map)
        out = sess.run(flat, {xp: x, lp: lengths})
        sess.close()
    return out


def _check_embedding(prefix: str, emb: dict, out_dir: str, reader, meta) -> Check:
    rows = np.load(os.path.join(out_dir, emb["file"]), mmap_mode="r")
    if emb["source"] == "graph_constant":
        ref = meta.read_const(emb["name"]).astype(np.float32)
        return Check(f"embedding {emb['name']} (graph constant)", "rows", float(np.max(np.abs(ref - rows))), list(rows.shape))
    parts = emb.get("partitions") or 1
    if parts > 1:
        import legacy_rnn
        import tensorflow as tf

        ids = np.arange(emb["shape"][0], dtype=np.int32)
        with legacy_rnn.new_graph() as graph:
            var = legacy_rnn.embedding_variable(emb["name"], shape=tuple(emb["shape"]), num_shards=parts)
            looked = legacy_rnn.embedding_lookup(var, ids, partition_strategy=emb["strategy"] or "mod")
            sess = legacy_rnn.new_session(graph)
            tf.compat.v1.train.Saver(var_list={emb["name"]: var}).restore(sess, prefix)
            ref = sess.run(looked)
            sess.close()
        return Check(f"embedding {emb['name']} ({parts} partitions, '{emb['strategy']}' lookup of every id)",
                     "lookup", float(np.max(np.abs(ref - rows[ids]))), list(rows.shape))
    ref = reader.read(emb["name"])
    if ref.shape != rows.shape:
        return Check(f"embedding {emb['name']}", "rows", float("inf"), list(rows.shape))
    step = 65536  # compare in row chunks: no full-size temporaries next to the tensor
    diff = max((float(np.max(np.abs(ref[i:i + step] - rows[i:i + step]))) for i in range(0, len(ref), step)), default=0.0)
    return Check(f"embedding {emb['name']}", "rows", diff, list(rows.shape))


def verify_conversion(checkpoint: str | os.PathLike, out_dir: str | os.PathLike, *, batch: int = 4, time_steps: int = 6,
                      seed: int = 0, tolerance: float = TOLERANCE) -> VerifyReport:
    """Compare every artifact in ``out_dir`` with the TF1 checkpoint it came from (see the module docstring)."""
    from migration.checkpoint.meta import load_meta
    from migration.checkpoint.reader import CheckpointReader
    from migration.checkpoint.recognize import recognize
    import modern_rnn  # noqa: F401  (registers the custom cells for load_model)
    from modern_rnn import keras

    out_dir = os.fspath(out_dir)
    manifest = read_manifest(out_dir)
    reader = CheckpointReader(checkpoint)
    meta = load_meta(reader.prefix)
    fresh = {b.scope: b for b in recognize(reader.prefix, reader.variables, meta).blocks} if meta else {}
    checks: list[Check] = []
    notes: list[str] = []
    if meta is None:
        notes.append("no .meta: TF1 hyper-parameters taken from the manifest, so a wrong --forget-bias cannot be caught")
    for k, block in enumerate(manifest["blocks"]):
        specs, source = _true_specs(block, fresh)
        x, lengths = _inputs(batch, time_steps, block["input_size"], seed + k)
        path = os.path.join(out_dir, block["file"])
        model = load_block_model(out_dir, block["file"])
        keras_out = [np.asarray(t) for t in model([x, lengths], training=False)]
        tf1_out = _run_tf1_block(reader.prefix, block, specs, x, lengths)
        if len(keras_out) != len(tf1_out):
            raise MigrationError(f"Block {block['name']!r}: the Keras model returns {len(keras_out)} outputs, TF1 "
                                 f"{len(tf1_out)}; the file {path!r} does not follow the block contract.")
        for label, a, b in zip(block["outputs"], tf1_out, keras_out):
            diff = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")
            checks.append(Check(f"block {block['name']} (TF1 hyper-parameters from {source})", label, diff, list(a.shape)))
    for emb in manifest["embeddings"]:
        checks.append(_check_embedding(reader.prefix, emb, out_dir, reader, meta))
    for d in manifest["dense"]:
        for what in ("kernel", "bias"):
            saved = np.load(os.path.join(out_dir, d[f"{what}_file"]))
            ref = reader.read(d[what])
            diff = float(np.max(np.abs(saved - ref))) if saved.shape == ref.shape else float("inf")
            checks.append(Check(f"dense {d['name']}", what, diff, list(saved.shape)))
    return VerifyReport(checks, tolerance, notes)
