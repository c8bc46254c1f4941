"""``export`` of a model that ``convert`` wrote: back under the names the ORIGINAL graph holds.

Without this, ``export`` names weights by the Keras layers (``rnn/basic_lstm_cell`` for every LSTM, ``embedding_x``,
``dense_x/kernel``), which a TF1 graph built with ``LSTMCell`` (``lstm_cell``), a scope of its own or a named
embedding cannot restore. The conversion's manifest (``OUT/manifest.json``) records, for each Keras layer of
``model.keras`` (``model.layers``) and each cell of ``blocks/<name>.keras`` (``blocks[].cells``), the checkpoint keys
it came from and the TF1 cell spec (kind, ``forget_bias``...). Export reverses each conversion with that spec and
writes every array under its original key, so ``Saver.restore`` in the original ``.meta`` graph works.

The manifest is found next to the model (``OUT/model.keras`` -> ``OUT/manifest.json``; ``OUT/blocks/x.keras`` ->
``OUT/manifest.json``) when it lists the model's file, or given with ``--manifest`` (a fine-tuned copy saved
elsewhere). The model is matched to the manifest by structure (its layer names, or ``block_<name>``), never by its
bytes (fine-tuning changes them). Any weight the manifest does not account for is an error naming the layer: never
a checkpoint that mixes original and made-up names, nor one that lacks a weight.

Whole-model pieces besides cells, embeddings and dense heads: a ``tf.nn.raw_rnn`` decoder (``FeedbackDecoder``, its
``feedback_*`` keys), ``Conv2D`` filters (``conv``), inference batch norms (``batch_norm`` + ``gamma``/``beta``/
``moving_*``), and the variables convert folded into the model as constants (the model's ``pieces``: read from the
manifest's original checkpoint, as no Keras weight holds them).
"""
from __future__ import annotations

import hashlib
import os
import re
from typing import Optional

import numpy as np

from migration.checkpoint.export import runs_backward, sublayers, unwrap_cell
from migration.checkpoint.manifest import MANIFEST, manifest_files, validate_manifest_file
from migration.checkpoint.reader import CheckpointReader
from migration.checkpoint.seq2seq import block_from_dict
from migration import seq2seq_converters as s2c
from migration.core.errors import MigrationError
from migration.core.specs import CellSpec
from migration.families import cell_to_tf1

REMEDY = "export with --standard-names (standard scopes: rnn/basic_lstm_cell ...) and rename the variables yourself"


def find_manifest(model_path: str, manifest_path: Optional[str] = None) -> Optional[tuple[dict, str]]:
    """``(manifest, its path)`` for ``model_path``: ``manifest_path`` when given, else the ``manifest.json`` of the
    model's directory or its parent when that manifest lists the model's file; None when there is none."""
    if manifest_path is not None:
        return validate_manifest_file(os.fspath(manifest_path)), os.fspath(manifest_path)
    model_path = os.path.abspath(model_path)
    for root in (os.path.dirname(model_path), os.path.dirname(os.path.dirname(model_path))):
        path = os.path.join(root, MANIFEST)
        if not os.path.isfile(path):
            continue
        rel = os.path.relpath(model_path, root).replace(os.sep, "/")
        manifest = validate_manifest_file(path)
        if rel in manifest_files(manifest):
            return manifest, path
    return None


#: how migration.graph.to_keras names an embedding read from a graph constant rather than a variable
GRAPH_CONSTANT = "graph constant "
#: how migration.graph.cnn_layers records a batch norm parameter that is a scalar graph constant (``constant 1.0``)
CONSTANT = "constant "


def original_arrays(model, manifest: dict, where: str) -> Optional[tuple[dict, dict, dict]]:
    """``(arrays, sources, partitions)`` of ``model`` under the original checkpoint keys, or None when ``model`` is
    neither the manifest's whole model nor one of its block models (then the standard names apply)."""
    whole = manifest.get("model") or {}
    blocks = {b["name"]: b for b in manifest.get("blocks") or []}
    weighted = [layer for layer in model.layers if layer.weights]
    arrays: dict[str, np.ndarray] = {}
    sources: dict[str, str] = {}
    if whole.get("layers") and weighted and all(layer.name in whole["layers"] for layer in weighted):
        decoders = {e["name"]: e for e in manifest.get("seq2seq") or [] if e.get("block_shapes")}
        for layer in weighted:
            mine: dict[str, np.ndarray] = {}
            mine_sources: dict[str, str] = {}
            _layer_arrays(layer, whole["layers"][layer.name], blocks, mine, mine_sources, where, decoders)
            for key, array in mine.items():  # one original variable read by two layers (a raw_rnn decoder's W, E)
                if key in arrays and not np.array_equal(arrays[key], array):
                    raise MigrationError(f"{where}: {key!r} is read by both {sources[key]} and {mine_sources[key]}, "
                                         "and the two Keras copies differ (trained apart); the original graph has "
                                         f"room for one: tie or copy them first, or {REMEDY}.")
            arrays.update(mine)
            sources.update(mine_sources)
        folded_arrays(whole, manifest, arrays, sources, where)
    else:
        entry = next((b for name, b in blocks.items() if model.name == f"block_{name}"), None)
        if entry is None or entry.get("wrapper"):  # a wrapped cell's block: its own names (export.py)
            return None
        _block_arrays(model, entry, arrays, sources, where)
    embeddings = {e["name"]: e for e in manifest.get("embeddings") or []}
    partitions = {}
    for key in arrays:
        e = embeddings.get(key)
        if e and int(e.get("partitions") or 1) > 1:
            partitions[key] = (int(e["partitions"]), e.get("strategy") or "mod")
    return arrays, sources, partitions


def _layer_arrays(layer, source: dict, blocks: dict, arrays: dict, sources: dict, where: str,
                  seq2seq: Optional[dict] = None) -> None:
    seq2seq = seq2seq or {}
    weights = layer.get_weights()
    if "embedding" in source and str(source["embedding"]).startswith(GRAPH_CONSTANT):
        return  # a Const node of the original .meta (a GloVe matrix), not a checkpoint variable: Saver never reads it
    if "embedding" in source:
        arrays[source["embedding"]] = weights[0]
        sources[source["embedding"]] = f"layer {layer.name!r} embeddings"
    elif "dense" in source:
        if len(weights) > 1 and not source.get("bias"):
            raise MigrationError(f"{where}: layer {layer.name!r} has a bias, and the manifest records no TF1 bias "
                                 f"variable for it (the original Dense {source['dense']!r} had none); {REMEDY}.")
        arrays[source["dense"]] = weights[0].T if source.get("transposed") else weights[0]  # matmul(x, W, transpose_b)
        sources[source["dense"]] = f"layer {layer.name!r} kernel" + (" (transposed back)" if source.get("transposed")
                                                                      else "")
        if len(weights) > 1:
            arrays[source["bias"]] = weights[1]
            sources[source["bias"]] = f"layer {layer.name!r} bias"
    elif "conv" in source:  # migration.graph.cnn_layers: the filter variable as it is, no bias (a BiasAdd is apart)
        if len(weights) != 1:
            raise MigrationError(f"{where}: layer {layer.name!r} holds {len(weights)} weights, and the manifest "
                                 f"records one TF1 variable for it (the filter {source['conv']!r}); {REMEDY}.")
        arrays[source["conv"]] = weights[0]
        sources[source["conv"]] = f"layer {layer.name!r} kernel (Conv2D filter)"
    elif "batch_norm" in source:
        batch_norm_arrays(layer, source, arrays, sources, where)
    elif "block" in source and source["block"] in blocks:
        if not hasattr(layer, "layers"):  # a layer around the block's cell: a tf.nn.raw_rnn FeedbackDecoder
            _feedback_decoder_arrays(layer, source, blocks[source["block"]], arrays, sources, where)
            return
        _block_arrays(layer, blocks[source["block"]], arrays, sources, where)
    elif "seq2seq" in source and source["seq2seq"] in seq2seq:
        _decoder_arrays(layer, seq2seq[source["seq2seq"]], arrays, sources, where)
    else:
        raise MigrationError(f"{where}: layer {layer.name!r} comes from {source!r}, which export cannot map back to "
                             f"the original names; {REMEDY}.")


#: how migration.graph.to_keras records a variable it read as a constant (``pieces`` of the manifest's model)
FOLDED = re.compile(r"^variable (?P<key>.+) folded as a constant \[(?P<shape>[0-9, ]*)\]$")


def folded_arrays(whole: dict, manifest: dict, arrays: dict, sources: dict, where: str) -> None:
    """The variables the conversion folded into the whole model as constants (an attention context vector, a batch
    norm's gamma/beta/moving statistics, a custom layer's bias): the model holds no weight for them, so fine-tuning
    cannot change them, and the original graph needs them; their value is the original checkpoint's (the manifest's
    ``checkpoint``). Never dropped silently: when that checkpoint is gone or no longer holds them, an error names
    them."""
    wanted = {}
    for piece in whole.get("pieces") or []:
        m = FOLDED.match(str(piece))
        if m and m["key"] not in arrays:
            wanted[m["key"]] = [int(d) for d in m["shape"].replace(" ", "").split(",") if d]
    if not wanted:
        return
    ckpt = manifest.get("checkpoint")
    try:
        reader = CheckpointReader(ckpt) if ckpt else None
    except MigrationError:
        reader = None
    missing = sorted(k for k, shape in wanted.items() if reader is None or k not in reader.variables
                     or list(reader.variables[k].shape) != shape)
    if missing:
        raise MigrationError(f"{where}: the model holds {missing} as constants folded in by convert (no Keras weight), "
                             f"and the original checkpoint {ckpt!r} the manifest names, which export reads them from, "
                             "is gone or does not hold them with the recorded shape; export cannot write them and "
                             "will not drop them: restore that checkpoint (or pass --manifest with a manifest whose "
                             "'checkpoint' holds them).")
    hashes = whole.get("folded") or {}  # older manifests: none, the checkpoint's value is taken as it is
    for key in sorted(wanted):
        arrays[key] = reader.read(key)
        if key in hashes and hashlib.sha256(np.ascontiguousarray(arrays[key]).tobytes()).hexdigest() != hashes[key]:
            raise MigrationError(f"{where}: {key!r}, folded into the model as a constant by convert, has another "
                                 f"value in {ckpt!r} than the one the model holds (the checkpoint was overwritten "
                                 "since convert, or convert folded another value: an EMA shadow); export will not "
                                 "write a value the model does not use: convert the checkpoint again.")
        sources[key] = f"constant folded into the model by convert (not a Keras weight: unchanged), read from {ckpt!r}"


def _decoder_arrays(layer, entry: dict, arrays: dict, sources: dict, where: str) -> None:
    """A ``tf.contrib.seq2seq`` training decoder of the whole model (a ``TeacherForcedDecoder``): its wrapper's
    weights (and its output layer's, when ``BasicDecoder`` applied it inside the loop) under the checkpoint keys of
    the manifest's seq2seq ``entry``."""
    named = {k: v.numpy() for k, v in layer.wrapper.named_weights().items()}
    spec = CellSpec.from_dict(entry["cell_spec"])
    out = s2c.attention_wrapper_to_tf1(named, block_from_dict(entry["block_shapes"]),
                                       spec.forget_bias if spec.is_lstm else 1.0)
    head = getattr(layer, "output_layer", None)
    if head is not None:
        kernel, bias = entry.get("projection") or (None, None)
        if kernel is None or (bias is None) == head.use_bias:
            raise MigrationError(f"{where}: layer {layer.name!r} applies an output layer the manifest's seq2seq entry "
                                 f"{entry['name']!r} does not record as its projection; {REMEDY}.")
        out[kernel] = head.kernel.numpy()
        if bias:
            out[bias] = head.bias.numpy()
    mapped = len(named) + (len(head.weights) if head is not None else 0)
    if mapped != len(layer.weights):
        raise MigrationError(f"{where}: layer {layer.name!r} holds {len(layer.weights)} weights, its wrapper and "
                             f"output layer name {mapped}; {REMEDY}.")
    arrays.update(out)
    sources.update({k: f"layer {layer.name!r} (seq2seq {entry['name']})" for k in out})


#: a BatchNormalization layer's weights in order, and the manifest's layer source keys of their TF1 variables
BATCH_NORM = ("gamma", "beta", "moving_mean", "moving_variance")


def batch_norm_arrays(layer, source: dict, arrays: dict, sources: dict, where: str) -> None:
    """An inference ``FusedBatchNorm`` (migration.graph.cnn_layers): each weight under the variable it came from.
    A parameter that was a graph constant (``scale=False``: gamma 1) is no variable: its Keras weight must still hold
    it (else fine-tuning changed what the original graph cannot hold), and a manifest without the keys is refused."""
    weights = layer.get_weights()
    keys = [source.get(p) for p in BATCH_NORM]
    if len(weights) != len(BATCH_NORM) or not all(keys):
        raise MigrationError(f"{where}: layer {layer.name!r} comes from {source!r}, which does not record the TF1 "
                             "variables of its gamma, beta and moving statistics (a conversion before batch norm "
                             f"export: convert again); {REMEDY}.")
    for what, key, array in zip(BATCH_NORM, keys, weights):
        if key.startswith(CONSTANT):
            if not np.allclose(array, float(key[len(CONSTANT):]), rtol=0, atol=0):
                raise MigrationError(f"{where}: layer {layer.name!r} {what} was the graph constant "
                                     f"{key[len(CONSTANT):]} in the original graph and differs now (fine-tuned); the "
                                     f"original graph cannot hold it; {REMEDY}.")
            continue
        arrays[key] = array
        sources[key] = f"layer {layer.name!r} {what} (BatchNormalization)"


def _feedback_decoder_arrays(layer, source: dict, entry: dict, arrays: dict, sources: dict, where: str) -> None:
    """A ``tf.nn.raw_rnn`` decoder (``FeedbackDecoder``): its cell under block ``entry``'s keys, its projection and
    feedback embedding under the ``feedback_*`` keys the manifest records (the loop's W, b, E are often the model's
    Dense and Embedding too: :func:`original_arrays` refuses copies that differ)."""
    own = [w for w in ("kernel", "bias", "embeddings") if getattr(layer, w, None) is not None]
    unmapped = [w for w in own if not source.get(f"feedback_{w}")]
    if unmapped or not hasattr(layer, "cell"):
        raise MigrationError(f"{where}: layer {layer.name!r} ({type(layer).__name__}) runs the cell of block "
                             f"{entry['name']!r} with weights {unmapped or own} whose original checkpoint keys the "
                             f"manifest does not record (a conversion before raw_rnn export: convert again); "
                             f"{REMEDY}.")
    _block_arrays(layer, entry, arrays, sources, where, {"": cells_of(layer.cell)})
    for what in own:
        key = source[f"feedback_{what}"]
        arrays[key] = getattr(layer, what).numpy()
        sources[key] = f"layer {layer.name!r} {what} (raw_rnn decoder)"


def keras_cells(block_model) -> dict[str, list]:
    """``{direction: [Keras cell per layer]}`` of a block model (``""``, or ``fw``/``bw``), in layer order."""
    from modern_rnn import keras

    rnns = [layer for layer in sublayers(block_model) if isinstance(layer, keras.layers.RNN)]
    fw = [layer for layer in rnns if not runs_backward(layer)]
    bw = [layer for layer in rnns if runs_backward(layer)]
    out = {}
    for direction, found in (("fw", fw), ("bw", bw)) if bw else (("", fw),):
        if len(found) != 1:
            return {}
        out[direction] = cells_of(found[0].cell)
    return out


def cells_of(cell) -> list:
    """The Keras cell per layer of an RNN layer's ``cell`` (a ``StackedRNNCells`` has one per layer)."""
    from modern_rnn import keras

    cell = unwrap_cell(cell)
    return list(cell.cells) if isinstance(cell, keras.layers.StackedRNNCells) else [cell]


def _block_arrays(block_model, entry: dict, arrays: dict, sources: dict, where: str,
                  cells: Optional[dict] = None) -> None:
    """The cells of the manifest block ``entry`` from the Keras block model (or ``cells``, as
    :func:`keras_cells` gives them), through each cell's own TF1 spec."""
    if cells is None:
        cells = keras_cells(block_model) if not entry.get("wrapper") else {}
    count = sum(len(c) for c in cells.values())
    if count != len(entry["cells"]):
        raise MigrationError(f"{where}: block {entry['name']!r} has {len(entry['cells'])} cell(s) in the manifest and "
                             f"{count} recognizable Keras cell(s) in layer {block_model.name!r}; {REMEDY}.")
    for cell_entry in entry["cells"]:
        layer_cells = cells.get(cell_entry["direction"], [])
        if cell_entry["layer"] >= len(layer_cells):
            raise MigrationError(f"{where}: block {entry['name']!r} has no Keras cell for {cell_entry['path']!r}; "
                                 f"{REMEDY}.")
        spec = CellSpec.from_dict(cell_entry["spec"])
        converted = cell_to_tf1(spec, layer_cells[cell_entry["layer"]].get_weights())
        for rel, array in converted.items():
            key = cell_entry["variables"].get(rel)
            if key is None:
                raise MigrationError(f"{where}: the {spec.kind} cell {cell_entry['path']!r} gives {rel!r}, which its "
                                     f"manifest entry does not name; {REMEDY}.")
            if key in arrays and not np.array_equal(arrays[key], array):
                raise MigrationError(f"{where}: {key!r} is read by both directions of block {entry['name']!r} (one "
                                     "cell object for fw and bw in the original graph), and its two Keras copies "
                                     "differ (trained apart); the original graph has room for one: tie or average "
                                     f"them first, or {REMEDY}.")
            arrays[key] = array
            sources[key] = f"layer {block_model.name!r} cell {cell_entry['path']} ({spec.kind}, forget_bias " \
                           f"{spec.forget_bias})"


class NameHook:
    """The ``names`` hook of :func:`migration.checkpoint.export.export_keras_model` for one model file; ``applied``
    says afterwards whether the original names were used."""

    def __init__(self, manifest: dict, path: str, where: str, explicit: bool) -> None:
        self.manifest, self.path, self.where, self.explicit = manifest, path, where, explicit
        self.applied = False

    def __call__(self, model) -> Optional[tuple[dict, dict, dict]]:
        out = original_arrays(model, self.manifest, self.where)
        if out is None and self.explicit:
            raise MigrationError(f"{self.where}: the model is neither the manifest's whole model nor one of its block "
                                 f"models (matched by layer names); {REMEDY}.")
        self.applied = out is not None
        return out


def names_for(model_path: str, manifest_path: Optional[str] = None) -> Optional[NameHook]:
    """The hook for the model at ``model_path``, or None when no conversion manifest applies (:func:`find_manifest`)."""
    found = find_manifest(model_path, manifest_path)
    if found is None:
        return None
    manifest, path = found
    return NameHook(manifest, path, f"{os.fspath(model_path)!r} with {path!r}", manifest_path is not None)
