"""``verify_conversion``: compare every artifact in OUT_DIR with what the user's original TF1 program computes.

Reference for each RNN block, in order of strength:

* ``original-graph`` (when the checkpoint has its ``.meta``): the user's own graph, executed inside the sandbox
  (:mod:`migration.graph.sandbox`: op allowlist checked before anything runs, variables replaced by their checkpoint
  values, dropout bypassed), fed the same random inputs at the block's own input and ``sequence_length`` tensors,
  found by structure (:mod:`migration.graph.blocks`). A misread hyper-parameter cannot pass: the reference does not
  depend on our reading of the graph. A ``dynamic_rnn`` loop is fed at its input tensor; a static unroll at its
  per-step inputs, its per-step outputs stacked (:data:`ORIGINAL_BLOCK_RUNNERS`).
* ``rebuilt`` (no ``.meta``, an unroll not located, or a graph the sandbox refuses): a TF1 graph built by
  :mod:`legacy_rnn` with the hyper-parameters we read, restored by name with tf-slim. It proves the weight layout but
  shares any misread hyper-parameter with the conversion, so the report never calls it "verified against the
  original"; the reason is given in the notes.

The whole model (``model.keras``), when written, is compared end to end with the original graph on random inputs
(ids within the embedding, ragged lengths). Embeddings of 4 MiB and more (the whole variable, all its parts) are sampled on both sides so memory stays
flat in their size: the Keras side holds only the rows of the ids fed (read from ``model.weights.h5``; any other id
raises and the comparison is redone with the embedding whole), the original graph gets a zero buffer with only those
rows filled; then every row of the model's embedding is compared with the checkpoint, chunk by chunk. Embeddings are checked by lookup (partitioned variables of up to
:data:`TF_LOOKUP_MAX_BYTES` through a partitioned TF1 variable and ``embedding_lookup`` with the graph's strategy;
larger ones row by row against the checkpoint in the strategy's row order, flat), dense weights and graph-constant
matrices by value (reference ``checkpoint``).
"""
from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
from typing import Any, Callable, Optional

import numpy as np

from migration.checkpoint.checks import TOLERANCE, Check, VerifyReport  # noqa: F401 - Check, VerifyReport re-exported
from migration.checkpoint.conv_blocks import verify_conv_block
from migration.checkpoint.cudnn_alias import convert_through_canonical
from migration.checkpoint.files import directory_rows
from migration.checkpoint.manifest import manifest_files, read_manifest
from migration.checkpoint.provenance import resolve_meta
from migration.checkpoint.reader import CheckpointReader
from migration.checkpoint.recognize import recognize
from migration.checkpoint.seq2seq import verify_entry
from migration.checkpoint.stacks import check_stack
from migration.checkpoint.wrapped import run_rebuilt
from migration.families import register_keras_classes
from migration.graph.blocks import NotThisKind, find_loops
from migration.graph.dropout_facts import constant_dropouts, live_dropout_note
from migration.graph.raw_rnn_check import check_block as check_raw_rnn_block
from migration.graph.reference import OriginalGraph
from migration.graph.static_blocks import run_static_block
from migration.graph.stepped_blocks import run_stepped_block
from migration.graph.wrapper_check import check_wrapped_block
from migration.graph.block_feeds import fit_block_input, input_feeds, shape_feeds
from migration.safe_io import load_block_model
from migration.core.errors import MigrationError
from migration.core.npy import load_npy
from migration.graph.limits import SandboxLimit
from migration.core.specs import CellSpec


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


def _cell_keys(block: dict, fresh_blocks: dict[str, Any]) -> dict[tuple[str, int], dict[str, str]]:
    """(direction, layer) -> {TF1 variable name in the cell: checkpoint key} (renamed layouts, EMA shadows)."""
    fresh = fresh_blocks.get(block["scope"])
    if fresh is not None:
        return {(d, k): dict(c.variables) for d, cells in fresh.directions.items() for k, c in enumerate(cells)}
    return {(c["direction"], c.get("layer", 0)): dict(c.get("variables") or {}) for c in block["cells"]}


def _checkpoint_key(rel: str, scope: str, keys: dict[tuple[str, int], dict[str, str]]) -> str:
    """The checkpoint key a rebuilt variable restores from: ``[fw/][multi_rnn_cell/cell_k/]<cell>/<name>``."""
    comps = rel.split("/")
    direction = comps.pop(0) if comps[0] in ("fw", "bw") else ""
    layer = 0
    if len(comps) > 2 and comps[0] == "multi_rnn_cell" and comps[1].startswith("cell_"):
        layer = int(comps[1][5:])
        comps = comps[2:]
    name = "/".join(comps[1:])
    found = keys.get((direction, layer), {}).get(name)
    return found or (f"{scope}/{rel}" if scope else rel)


def _run_tf1_block(prefix: str, block: dict, specs: dict[str, list[CellSpec]], x: np.ndarray,
                   lengths: np.ndarray, keys: Optional[dict[tuple[str, int], dict[str, str]]] = None) -> list[np.ndarray]:
    import legacy_rnn
    from migration.checkpoint.blocks import build_tf1_block, run_restored

    with legacy_rnn.new_graph() as graph:
        xp, lp, flat, variables = build_tf1_block(specs, block["input_size"], x.shape[1])
        name_map: dict = {}
        for rel, var in variables.items():  # one key read by two variables: a cell shared by fw and bw
            name_map.setdefault(_checkpoint_key(rel, block["scope"], keys or {}), []).append(var)
        name_map = {k: v[0] if len(v) == 1 else v for k, v in name_map.items()}
        return run_restored(graph, prefix, name_map, flat, {xp: x, lp: lengths})


def _run_loop_block(original, loops, block: dict, x: np.ndarray, lengths: np.ndarray):
    """(outputs, x, lengths used) of the block's ``dynamic_rnn`` loop (or fused op) in the original graph."""
    from migration.graph.whole_model import locate

    where = locate(original, loops, block)
    if where.sequence_length is None:
        lengths = np.full_like(lengths, x.shape[1])  # the original block has no sequence_length: full length
    feeds = input_feeds(original, where, x)
    if where.sequence_length is not None:
        feeds[where.sequence_length] = lengths
    feeds.update(shape_feeds(original, where.outputs, feeds, x.shape[0], x.shape[1]))  # zero state sized
    out = original.run(where.outputs, feeds)
    if where.time_major:
        out = [np.transpose(o, (1, 0, 2)) if j < where.sequences else o for j, o in enumerate(out)]
    return out, x, lengths


#: How a block is found and run in the original graph, tried in this order: a while loop (``dynamic_rnn``, fused
#: ops), then a static unroll (one copy of the cell per step: :mod:`migration.graph.static_blocks`), then a cell
#: stepped by hand whose per-step input comes from the previous step (:mod:`migration.graph.stepped_blocks`).
ORIGINAL_BLOCK_RUNNERS = (
    _run_loop_block,
    lambda original, loops, block, x, lengths: run_static_block(original, block, x, lengths),
    lambda original, loops, block, x, lengths: run_stepped_block(original, block, x, lengths),
)


def _run_original_block(original, loops, block: dict, x: np.ndarray, lengths: np.ndarray):
    """(outputs, x, lengths used, why not) from the original graph; outputs None when it cannot be the reference."""
    why, other_kind = [], []
    for runner in ORIGINAL_BLOCK_RUNNERS:
        try:
            out, x, lengths = runner(original, loops, block, x, lengths)
        except SandboxLimit:  # over a resource limit: the command stops (never a silent fallback)
            raise
        except MigrationError as exc:  # NotThisKind: another runner's kind, said only when no runner claims it
            (other_kind if isinstance(exc, NotThisKind) else why).append(str(exc))
            continue
        return out, x, lengths, ""
    return None, x, lengths, "; ".join(why or other_kind)


def _check_whole_model(original, entry: dict, out_dir: str, batch: int, steps: int,
                       seed: int) -> tuple[list[Check], list[str], dict[str, str]]:
    """The whole model against the original graph on random inputs. Large embeddings are sampled on both sides
    (memory flat in their size): the Keras side holds only the rows of the ids fed
    (:func:`migration.graph.keras_stream.load_sampled`, read from ``model.weights.h5``; any other id raises), the
    original graph gets zero buffers with only those rows filled (:meth:`OriginalGraph.run` ``ids``). Every row of
    each sampled embedding is compared with the checkpoint separately (:func:`_check_model_embeddings`)."""
    import tensorflow as tf

    from migration.graph.keras_stream import load_sampled
    from migration.graph.whole_model import sample_feeds

    feeds = sample_feeds(original, entry["inputs"], batch, steps, seed)
    ints = [np.asarray(v).reshape(-1) for v in feeds.values() if np.asarray(v).dtype.kind in "iu"]
    ids = np.unique(np.concatenate(ints)) if ints else np.zeros(0, np.int64)
    args = [feeds[n] for n in entry["inputs"]]
    notes: list[str] = []
    model, paths = load_sampled(out_dir, entry["file"], ids)
    sampled = sorted(paths)
    try:
        # the original first, in the bounded sandbox child: a graph that would exhaust memory stops there, before
        # its translation runs unbounded in this process
        expected = original.run(entry["outputs"], feeds, ids=ids if sampled else None)
        got = model(args[0] if len(args) == 1 else args, training=False)
    except tf.errors.InvalidArgumentError as exc:
        if not sampled or "SampledEmbedding" not in str(exc):
            raise
        notes.append("whole model: an embedding is looked up with ids other than the ones fed, so the embeddings "
                     f"{sampled} were loaded whole for the comparison (memory not flat)")
        model, sampled = load_block_model(out_dir, entry["file"]), []
        got = model(args[0] if len(args) == 1 else args, training=False)
        expected = original.run(entry["outputs"], feeds)
    got = [np.asarray(g) for g in (got if isinstance(got, (list, tuple)) else [got])]
    what = "whole model" + (f" (embeddings {', '.join(sampled)}: the {len(ids)} rows of the ids fed)" if sampled else "")
    checks = []
    for name, a, b in zip(entry["outputs"], expected, got):
        diff = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")
        checks.append(Check("whole model", name, diff, list(a.shape), "original-graph"))
    if sampled:
        notes.append(f"{what}: compared on those rows; every row is compared with the checkpoint below")
    return checks, notes, paths


def _check_model_embeddings(reader, entry: dict, out_dir: str, manifest: dict, paths: dict[str, str]) -> list[Check]:
    """Every row of each large embedding inside ``model.keras`` (``paths``: layer name -> its h5 dataset) against
    the checkpoint, chunk by chunk (flat): the sampled whole-model check saw only the rows of its ids."""
    import zipfile

    import h5py

    from migration.core import bundle_stream as stream
    from migration.graph.keras_stream import MemberFile
    from migration.safe_io import confined_path

    if not paths:
        return []
    path = confined_path(out_dir, entry["file"], what="model file")
    sources = entry.get("layers") or {}
    strategies = {e["name"]: (e.get("partitions") or 1, e.get("strategy") or "mod") for e in manifest["embeddings"]}
    checks = []
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("model.weights.h5")
    member = MemberFile(path, info)
    try:
        with h5py.File(member, "r") as h5:
            for name, dataset in sorted(paths.items()):
                key = (sources.get(name) or {}).get("embedding")
                ds = h5[dataset]
                shape = tuple(ds.shape)
                layout = reader.layout(key) if key in reader.variables else None
                if layout is None or tuple(layout.shape) != shape:
                    checks.append(Check(f"whole model embedding {name} ({key}: not comparable with the checkpoint)",
                                        "rows", float("inf"), list(shape)))
                    continue
                parts, strategy = strategies.get(key, (1, "mod"))
                perm = None
                if parts > 1 and strategy == "mod":
                    from migration.converters import mod_partition_permutation

                    perm = mod_partition_permutation(shape[0], parts)
                diff = 0.0
                got = np.empty((max(1, COMPARE_CHUNK_BYTES // (4 * shape[1])), shape[1]), np.float32)
                for a, ref in stream.iter_rows(layout, perm, chunk_bytes=COMPARE_CHUNK_BYTES):
                    n = len(ref)
                    ds.read_direct(got, np.s_[a:a + n], np.s_[0:n])
                    diff = max(diff, _max_abs_diff(ref, got[:n]))
                checks.append(Check(f"whole model embedding {name} ({key}, every row)", "rows", diff, list(shape)))
    finally:
        member.close()
    return checks


#: Row chunk of the flat comparisons (checkpoint rows vs .npy / model.keras rows): 3 buffers of this size live
#: (1 MiB: as fast as larger chunks for a subtraction, and beside the fixed cost of verify's TF sessions).
COMPARE_CHUNK_BYTES = 1024 * 1024

#: Above this size a partitioned embedding is compared by streaming (flat memory) instead of a TF1 lookup of every id
#: (which holds the restored variable, the lookup and the ``.npy``: 4x its size).
TF_LOOKUP_MAX_BYTES = 4 * 1024 * 1024


def _compare_rows(reader, key: str, path: str, perm: Optional[np.ndarray] = None) -> float:
    """max |saved[perm] - npy| over the rows of checkpoint tensor ``key`` and the ``.npy`` at ``path``, chunk by chunk
    from the checkpoint's files (CRC-checked) and the ``.npy``: memory flat in the tensor's size. Tensors the bundle
    reader does not stream are read whole."""
    from migration.core import bundle_stream as stream

    layout = reader.layout(key)
    if layout is None:
        ref = np.asarray(reader.read(key))
        rows = load_npy(path)  # regular file, bounded header, never unpickled
        if perm is not None:
            ref = ref[perm]
        return float(np.max(np.abs(ref - rows))) if ref.shape == rows.shape and ref.size else (
            0.0 if ref.shape == rows.shape else float("inf"))
    diff = 0.0
    for (a, ref), (b, got) in zip(stream.iter_rows(layout, perm, chunk_bytes=COMPARE_CHUNK_BYTES),
                                  stream.iter_npy_rows(path, chunk_bytes=COMPARE_CHUNK_BYTES)):
        if a != b or ref.shape != got.shape:
            return float("inf")
        diff = max(diff, _max_abs_diff(ref, got))
    return diff


def _max_abs_diff(ref: np.ndarray, got: np.ndarray) -> float:
    """max |ref - got| computed in ``got``'s buffer (overwritten: no temporaries of the chunk's size)."""
    if not ref.size:
        return 0.0
    if got.dtype.kind != "f" or np.result_type(ref, got) != got.dtype:
        return float(np.max(np.abs(ref - got)))
    np.subtract(ref, got, out=got)
    np.abs(got, out=got)
    return float(np.max(got))


def _check_embedding(prefix: str, emb: dict, out_dir: str, reader, meta) -> Check:
    path = os.path.join(out_dir, emb["file"])
    shape = list(emb["shape"])
    if emb["source"] == "graph_constant":
        rows = load_npy(path, mmap_mode="r")
        ref = meta.read_const(emb["name"]).astype(np.float32)
        return Check(f"embedding {emb['name']} (graph constant)", "rows", float(np.max(np.abs(ref - rows))), shape)
    parts = emb.get("partitions") or 1
    if parts > 1 and int(np.prod(shape)) * 4 <= TF_LOOKUP_MAX_BYTES:
        import legacy_rnn
        import tensorflow as tf

        rows = load_npy(path)
        ids = np.arange(emb["shape"][0], dtype=np.int32)
        with legacy_rnn.new_graph() as graph:
            var = legacy_rnn.embedding_variable(emb["name"], shape=tuple(emb["shape"]), num_shards=parts)
            looked = legacy_rnn.embedding_lookup(var, ids, partition_strategy=emb["strategy"] or "mod")
            sess = legacy_rnn.new_session(graph)
            tf.compat.v1.train.Saver(var_list={emb["name"]: var}).restore(sess, prefix)
            ref = sess.run(looked)
            sess.close()
        return Check(f"embedding {emb['name']} ({parts} partitions, '{emb['strategy']}' lookup of every id)",
                     "lookup", float(np.max(np.abs(ref - rows[ids]))), shape)
    perm = None
    what = f"embedding {emb['name']}"
    if parts > 1 and (emb["strategy"] or "mod") == "mod":
        from migration.converters import mod_partition_permutation

        perm = mod_partition_permutation(emb["shape"][0], parts)
        what += f" ({parts} partitions, 'mod' row order, streamed)"
    return Check(what, "rows", _compare_rows(reader, emb["name"], path, perm), shape)


@dataclasses.dataclass
class _Context:
    """What every section's verifier may use: the checkpoint (and its fresh inspection), the original graph (None
    without a usable ``.meta``) and its loops, the converted directory and its manifest, the random inputs' size."""

    reader: Any
    meta: Any
    fresh: dict[str, Any]
    original: Any
    loops: list
    out_dir: str
    manifest: dict[str, Any]
    batch: int
    time_steps: int
    seed: int


def _verify_block(ctx: _Context, block: dict, k: int) -> tuple[list[Check], list[str]]:
    """One RNN block against the original graph (or, when that cannot be the reference, a rebuilt TF1 block)."""
    notes: list[str] = []
    x, lengths = _inputs(ctx.batch, ctx.time_steps, block["input_size"], ctx.seed + k)
    path = os.path.join(ctx.out_dir, block["file"])
    model = load_block_model(ctx.out_dir, block["file"])
    tf1_out, reference, keras_out = None, "rebuilt", None
    if ctx.original is not None:
        x, lengths = fit_block_input(ctx.original, ctx.loops, block, x, lengths)  # a graph of fixed batch/steps
        tf1_out, x, lengths, why = _run_original_block(ctx.original, ctx.loops, block, x, lengths)
        if tf1_out is None:  # Output/InputProjectionWrapper, EmbeddingWrapper: their weights applied around it
            tf1_out, keras_out, lengths = check_wrapped_block(ctx.original, ctx.loops, block, model, ctx.reader, x,
                                                              lengths, ctx.seed + k) or (None, None, lengths)
        if tf1_out is None:  # a cell inside a tf.nn.raw_rnn decoder loop: checked as the loop runs it
            try:
                tf1_out, keras_out = check_raw_rnn_block(ctx.original, ctx.loops, block, model, ctx.batch,
                                                         ctx.time_steps, ctx.seed + k) or (None, None)
            except MigrationError as exc:
                why = str(exc)
        if tf1_out is not None:
            reference = "original-graph"
        else:
            notes.append(f"block {block['name']}: {why}; compared with a TF1 graph rebuilt from our reading of "
                         "the checkpoint and .meta instead (weaker: a misread hyper-parameter would pass)")
    if tf1_out is None:
        tf1_out = run_rebuilt(ctx.reader.prefix, block, x, lengths)
    if tf1_out is None:
        specs, _source = _true_specs(block, ctx.fresh)
        tf1_out = _run_tf1_block(ctx.reader.prefix, block, specs, x, lengths, _cell_keys(block, ctx.fresh))
    if keras_out is None:
        keras_out = [np.asarray(t) for t in model([x, lengths], training=False)]
    if len(keras_out) != len(tf1_out):
        raise MigrationError(f"Block {block['name']!r}: the Keras model returns {len(keras_out)} outputs, TF1 "
                             f"{len(tf1_out)}; the file {path!r} does not follow the block contract.")
    checks = []
    for label, a, b in zip(block["outputs"], tf1_out, keras_out):
        diff = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")
        checks.append(Check(f"block {block['name']}", label, diff, list(a.shape), reference))
    return checks, notes


def _verify_stack(ctx: _Context, stack: dict, k: int) -> tuple[list[Check], list[str]]:
    notes: list[str] = []
    x, lengths = _inputs(ctx.batch, ctx.time_steps, stack["input_size"], ctx.seed + len(ctx.manifest["blocks"]) + k)
    named = {b["name"]: b for b in ctx.manifest["blocks"]}
    if ctx.original is not None and stack["layers"] and stack["layers"][0].get("block") in named:
        x, lengths = fit_block_input(ctx.original, ctx.loops, named[stack["layers"][0]["block"]], x, lengths)
    return check_stack(stack, ctx.manifest, ctx.out_dir, ctx.reader.prefix, ctx.original, ctx.loops, x, lengths,
                       notes), notes


def _verify_model(ctx: _Context, entry: dict, k: int) -> tuple[list[Check], list[str]]:
    checks, notes, paths = _check_whole_model(ctx.original, entry, ctx.out_dir, ctx.batch, ctx.time_steps, ctx.seed)
    return checks + _check_model_embeddings(ctx.reader, entry, ctx.out_dir, ctx.manifest, paths), notes


def _verify_dense(ctx: _Context, d: dict, k: int) -> tuple[list[Check], list[str]]:
    checks = []
    for what in ("kernel", "bias") if d["bias"] is not None else ("kernel",):
        diff = _compare_rows(ctx.reader, d[what], os.path.join(ctx.out_dir, d[f"{what}_file"]))
        checks.append(Check(f"dense {d['name']}", what, diff, list(ctx.reader.variables[d[what]].shape)))
    return checks, []


def _verify_crf(ctx: _Context, c: dict, k: int) -> tuple[list[Check], list[str]]:
    diff = _compare_rows(ctx.reader, c["name"], os.path.join(ctx.out_dir, c["file"]))
    return [Check(f"crf {c['name']}", "transitions", diff, list(ctx.reader.variables[c["name"]].shape))], []


#: The manifest sections ``verify`` checks, in this order: section -> the verifier of one entry of that item kind
#: (context, entry, its index) -> (checks, notes). The whole model (``model``) is one entry, checked only against
#: the original graph.
VERIFIERS: tuple[tuple[str, Callable[[_Context, dict, int], tuple[list[Check], list[str]]]], ...] = (
    ("blocks", _verify_block),
    ("stacks", _verify_stack),
    ("conv_blocks", lambda ctx, entry, k: verify_conv_block(ctx.reader.prefix, ctx.original, ctx.loops, entry,
                                                            ctx.out_dir, ctx.seed + 100 + k)),
    ("seq2seq", lambda ctx, entry, k: verify_entry(entry, ctx.out_dir, ctx.reader.prefix, ctx.original, ctx.seed)),
    ("model", _verify_model),
    ("embeddings", lambda ctx, emb, k: ([_check_embedding(ctx.reader.prefix, emb, ctx.out_dir, ctx.reader,
                                                          ctx.meta)], [])),
    ("crf", _verify_crf),
    ("dense", _verify_dense),
)


def _entries(ctx: _Context, section: str) -> list:
    if section == "model":
        return [ctx.manifest["model"]] if ctx.manifest.get("model") and ctx.original is not None else []
    return ctx.manifest.get(section) or []


def _open_checkpoint(checkpoint, meta_path: Optional[str], shadows: dict[str, str]):
    """(reader, meta, fresh blocks by scope, notes): the checkpoint, or for a lone cuDNN buffer (convert split it) its
    canonical alias (then no .meta to run: the rebuilt check)."""
    reader = CheckpointReader(checkpoint)
    meta = resolve_meta(reader.prefix, meta_path)
    fresh = {b.scope: b for b in recognize(reader.prefix, reader.variables, meta, use_ema=bool(shadows)).blocks} \
        if meta else {}
    notes: list[str] = []
    if meta is not None and not fresh:
        aliased = convert_through_canonical(reader, meta, recognize(reader.prefix, reader.variables, meta))
        if aliased is not None:
            reader, meta, notes = aliased[0], None, list(aliased[2])
            atexit.register(shutil.rmtree, os.path.dirname(reader.prefix), True)
    if meta is None and not notes:
        notes.append("no .meta: the original graph is not available, so every block is compared with a TF1 graph "
                     "rebuilt from the checkpoint with the manifest's hyper-parameters (weaker: a wrong --forget-bias "
                     "cannot be caught)")
    return reader, meta, fresh, notes


def verify_conversion(checkpoint: str | os.PathLike, out_dir: str | os.PathLike, *, batch: int = 4, time_steps: int = 6,
                      seed: int = 0, tolerance: float = TOLERANCE, check_directory: bool = False,
                      meta_path: Optional[str] = None) -> VerifyReport:
    """Compare every artifact in ``out_dir`` with the TF1 checkpoint it came from (see the module docstring): each
    manifest section's entries by that item kind's verifier (:data:`VERIFIERS`).

    ``check_directory`` (``rnn-migrate verify``): also compare the directory with the manifest's file record
    (:func:`migration.checkpoint.files.directory_rows`): extra, missing or changed files fail the report.
    ``meta_path`` (``--meta``): the graph to compare with instead of the ``.meta`` beside the checkpoint."""
    import modern_rnn  # noqa: F401  (registers the custom cells for load_model)

    out_dir = os.fspath(out_dir)
    manifest = read_manifest(out_dir)
    rows, dir_notes, stop = (directory_rows(out_dir, manifest, manifest_files(manifest)) if check_directory
                             else ([], [], False))
    checks: list[Check] = [Check(what, out, diff, [], "manifest") for what, out, diff in rows]
    if stop:
        return VerifyReport(checks, tolerance, dir_notes)
    register_keras_classes()  # the families' own Keras cells, for safe-mode loading
    shadows = (manifest.get("ema") or {}).get("shadows") or {}
    reader, meta, fresh, notes = _open_checkpoint(checkpoint, meta_path, shadows)
    notes = dir_notes + notes
    original, loops = None, []
    if meta is not None:
        original = OriginalGraph(meta.path, reader, substitute=shadows)
        loops = find_loops(original)
        notes += [n for n in [live_dropout_note(constant_dropouts(original))] if n]
    ctx = _Context(reader, meta, fresh, original, loops, out_dir, manifest, batch, time_steps, seed)
    for section, verifier in VERIFIERS:
        for k, entry in enumerate(_entries(ctx, section)):
            more, why = verifier(ctx, entry, k)
            checks += more
            notes += why
    return VerifyReport(checks, tolerance, notes)
