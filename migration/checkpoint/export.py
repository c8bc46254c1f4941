"""``export_keras_model``: a Keras 2 RNN model -> a TF1 name-based checkpoint that ``Saver`` restores.

Recognized layers: ``SimpleRNN``/``LSTM``/``GRU(reset_after=False)`` and ``RNN(cell)`` (also with
``StackedRNNCells`` -> ``multi_rnn_cell/cell_k`` and ``modern_rnn.ProjectionLSTMCell`` -> ``lstm_cell`` with
peepholes/projection), ``Bidirectional`` (-> ``fw``/``bw``; a block model written by ``convert`` holds the two
directions as a forward and a ``go_backwards`` RNN layer, exported the same way), ``Embedding`` (-> its layer name)
and ``Dense`` (-> ``<layer name>/kernel``, ``/bias``, as ``tf.compat.v1.layers.dense`` names them). The checkpoint
is written by building a TF1 graph with variables of those names and ``Saver.save`` into a temporary directory, then
moving the files next to ``OUT_PREFIX``.

``partitions=N`` (``--partitions N``) writes every ``Embedding`` the way a parameter-server graph holds it:
``get_variable(name, partitioner=fixed_size_partitioner(N))``, saved by that graph's own ``Saver`` as N slices
(``name`` with ``save_slice_info``, rows split ``ceil``/``floor``, larger parts first), so ``Saver.restore`` in
such a graph fills ``name/part_0 ... part_{N-1}``. ``partition_strategy`` is the ``embedding_lookup`` strategy of
the graph that will restore it: ``'div'`` keeps the Keras row order (part k = the k-th block of rows, the order of a
``tf.distribute`` ``ShardedVariable``); ``'mod'`` (TF1's default) stores Keras row i at
``offset[i % N] + i // N`` so that the graph's lookup of id i still returns Keras row i
(:func:`migration.converters.mod_partition_permutation`, inverted).
"""
from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import tempfile
from typing import Any, Callable, Optional, Sequence

import numpy as np

from migration.core.errors import MigrationError
from migration.core.specs import CellSpec
from migration.families import cell_to_tf1, keras_spec, register_keras_classes

_ACT = {"tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid", "linear": "linear", "softsign": "softsign", "elu": "elu"}


@dataclasses.dataclass
class ExportResult:
    prefix: str
    variables: dict[str, list[int]]  # TF1 name -> shape
    sources: dict[str, str]  # TF1 name -> Keras weight it came from
    partitions: dict[str, dict] = dataclasses.field(default_factory=dict)  # name -> {"parts", "strategy"}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def unwrap_cell(cell):
    while hasattr(cell, "cell") and not hasattr(cell, "cells"):
        cell = cell.cell
    return cell


def _spec_for(cell, forget_bias: float, where: str) -> CellSpec:
    from modern_rnn import ProjectionLSTMCell, keras

    cell = unwrap_cell(cell)
    spec = keras_spec(cell, forget_bias, where)  # a family with its own Keras cell (an export hook in its row)
    if spec is not None:
        return spec
    act = keras.activations.serialize(cell.activation) if hasattr(cell, "activation") else "tanh"
    act = act if isinstance(act, str) else act.get("config", {}).get("name", str(act))
    if isinstance(cell, ProjectionLSTMCell):
        return CellSpec("lstm", cell.units, forget_bias=forget_bias, use_peepholes=cell.use_peepholes,
                        num_proj=cell.num_proj, cell_clip=cell.cell_clip, proj_clip=cell.proj_clip)
    if isinstance(cell, keras.layers.GRUCell):
        if cell.reset_after:
            raise MigrationError(
                f"{where}: GRU(reset_after=True) computes r * (h U_h) where a TF1 GRUCell computes (r * h) U_h; no "
                "weights make the two equal. Rebuild the layer with GRU(..., reset_after=False), retrain or convert "
                "it, then export."
            )
        _check_recurrent_activation(cell, where)
        return CellSpec("gru", cell.units)
    if isinstance(cell, keras.layers.LSTMCell):
        _check_recurrent_activation(cell, where)
        if act != "tanh":
            raise MigrationError(f"{where}: LSTM activation {act!r}; TF1 BasicLSTMCell export supports tanh only here.")
        return CellSpec("basic_lstm", cell.units, forget_bias=forget_bias)
    if isinstance(cell, keras.layers.SimpleRNNCell):
        if act not in _ACT:
            raise MigrationError(f"{where}: SimpleRNN activation {act!r} has no BasicRNNCell equivalent.")
        return CellSpec("basic_rnn", cell.units, activation=act)
    raise MigrationError(
        f"{where}: cell {type(cell).__name__} has no TF1 equivalent that rnn-migrate exports (SimpleRNNCell, LSTMCell, "
        "GRUCell(reset_after=False), StackedRNNCells, modern_rnn.ProjectionLSTMCell)."
    )


def _check_recurrent_activation(cell, where: str) -> None:
    from modern_rnn import keras

    name = keras.activations.serialize(cell.recurrent_activation)
    name = name if isinstance(name, str) else str(name)
    if name != "sigmoid" or not getattr(cell, "use_bias", True):
        raise MigrationError(f"{where}: TF1 cells use a sigmoid recurrent activation and a bias; got "
                             f"recurrent_activation={name!r}, use_bias={cell.use_bias}.")


def sublayers(model) -> list:
    from modern_rnn import keras

    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.extend(sublayers(layer))
        else:
            out.append(layer)
    return out


def runs_backward(layer) -> bool:
    """An RNN layer that runs backwards: ``go_backwards``, or fed by ``tf.reverse_sequence`` (as the block models
    that ``convert`` writes for fw/bw pairs do, to reverse each sequence by its own length like TF1)."""
    if getattr(layer, "go_backwards", False):
        return True
    for node in getattr(layer, "_inbound_nodes", []):
        for inbound in tf_nest_flatten(node.inbound_layers):
            name = getattr(inbound, "symbol", "") or inbound.name
            if "reverse_sequence" in name:
                return True
    return False


def tf_nest_flatten(x) -> list:
    import tensorflow as tf

    return list(tf.nest.flatten(x))


def _cell_arrays(cell, spec: CellSpec, prefix: str, out: dict, sources: dict, where: str) -> None:

    for name, array in cell_to_tf1(spec, unwrap_cell(cell).get_weights()).items():
        key = f"{prefix}/{spec.tf1_scope}/{name}"
        out[key] = array
        sources[key] = where


def _owning_wrapper(cell):
    """The first cell wrapper around ``cell`` that owns variables (``modern_rnn.wrappers``), or None."""
    from modern_rnn.wrappers import AttentionCell, EmbeddingCell, InputProjectionCell, OutputProjectionCell

    while cell is not None:
        if isinstance(cell, (AttentionCell, EmbeddingCell, InputProjectionCell, OutputProjectionCell)):
            return cell
        cell = getattr(cell, "cell", None) if not hasattr(cell, "cells") else None
    return None


def _attention_arrays(cell, block_prefix: str, forget_bias: float, out: dict, sources: dict, where: str) -> None:
    """An ``AttentionCell`` as TF1 ``<prefix>/attention_cell_wrapper/...`` (migration.wrapper_converters)."""
    from migration.wrapper_converters import SCOPE, attention_cell_wrapper_to_tf1, read_attention_cell

    spec = _spec_for(cell.cell, forget_bias, where)
    for name, array in attention_cell_wrapper_to_tf1(spec, read_attention_cell(cell), cell_to_tf1).items():
        key = f"{block_prefix}/{SCOPE}/{name}"
        out[key] = array
        sources[key] = where


def _rnn_arrays(rnn_layer, block_prefix: str, forget_bias: float, out: dict, sources: dict) -> None:
    from modern_rnn import keras

    owner = _owning_wrapper(rnn_layer.cell)
    if owner is not None:
        where = f"layer {rnn_layer.name!r}"
        if type(owner).__name__ == "AttentionCell":
            _attention_arrays(owner, block_prefix, forget_bias, out, sources, where)
            return
        raise MigrationError(f"{where} wraps its cell in {type(owner).__name__}, whose own weights export does not "
                             "write (it would drop them silently); export the wrapped cell's layer and copy the "
                             "wrapper's Dense/Embedding weights under the TF1 wrapper's names "
                             "(docs/api-map.md#projectionwrappers).")
    cell = unwrap_cell(rnn_layer.cell)
    if isinstance(cell, keras.layers.StackedRNNCells):
        for k, sub in enumerate(cell.cells):
            where = f"layer {rnn_layer.name!r} cell {k}"
            _cell_arrays(sub, _spec_for(sub, forget_bias, where), f"{block_prefix}/multi_rnn_cell/cell_{k}", out,
                         sources, where)
    else:
        where = f"layer {rnn_layer.name!r}"
        _cell_arrays(cell, _spec_for(cell, forget_bias, where), block_prefix, out, sources, where)


def _feedback_arrays(layer, out: dict, sources: dict) -> None:
    """A ``FeedbackDecoder``'s own weights (the raw_rnn loop's projection and feedback embedding) as
    ``<layer name>/kernel``, ``/bias``, ``/embeddings``: its cell is written as a block."""
    for what in ("kernel", "bias", "embeddings"):
        weight = getattr(layer, what, None)
        if weight is not None:
            out[f"{layer.name}/{what}"] = weight.numpy()
            sources[f"{layer.name}/{what}"] = f"layer {layer.name!r} {what} (raw_rnn decoder)"


def _refuse_unwritten(layers: list) -> None:
    """Strict: a layer holding weights that no rule above writes (BatchNormalization, Conv2D, a custom layer) is
    an error naming it, never a checkpoint that silently lacks its weights."""
    from modern_rnn import keras
    from modern_rnn.feedback_decoder import FeedbackDecoder

    written = (keras.layers.Bidirectional, keras.layers.RNN, keras.layers.Embedding, keras.layers.Dense,
               FeedbackDecoder)
    unwritten = [f"{layer.name!r} ({type(layer).__name__})" for layer in layers
                 if layer.weights and not isinstance(layer, written)]
    if unwritten:
        raise MigrationError(f"layer(s) {', '.join(unwritten)} hold weights that export does not write under standard "
                             "names (only RNN cells, Embedding and Dense): export the model convert wrote with its "
                             "manifest (original names), or copy those weights yourself; nothing is dropped silently.")


def collect_tf1_arrays(model, scope: Optional[str] = None, forget_bias: float = 1.0) -> tuple[dict, dict]:
    """TF1 name -> array for every exported weight of ``model`` (see the module docstring)."""
    from modern_rnn import keras
    from modern_rnn.seq2seq.legacy_models import LegacyStackSeq2SeqModel
    from modern_rnn.feedback_decoder import FeedbackDecoder
    from modern_rnn.seq2seq.models import AttentionDecoderModel, LegacyAttentionSeq2SeqModel

    if isinstance(model, (AttentionDecoderModel, LegacyAttentionSeq2SeqModel, LegacyStackSeq2SeqModel)):
        # convert's seq2seq/<name>.keras: back under the TF1 names recorded in its config
        from migration.checkpoint.seq2seq import tf1_arrays

        return tf1_arrays(model)
    arrays: dict[str, np.ndarray] = {}
    sources: dict[str, str] = {}
    layers = sublayers(model)
    rnns = [l for l in layers if isinstance(l, keras.layers.RNN)]
    pair_bw = [l for l in rnns if runs_backward(l)]
    pair_fw = [l for l in rnns if not runs_backward(l)]
    blocks: list[tuple[str, Any]] = []
    used = set()
    for layer in layers:
        if isinstance(layer, keras.layers.Bidirectional):
            blocks.append(("bi", (layer.forward_layer, layer.backward_layer)))
        elif isinstance(layer, FeedbackDecoder):  # a tf.nn.raw_rnn decoder: its cell as a dynamic_rnn block
            blocks.append(("uni", layer))
        elif isinstance(layer, keras.layers.RNN) and id(layer) not in used:
            if len(pair_fw) == 1 and len(pair_bw) == 1 and len(rnns) == 2:
                blocks.append(("bi", (pair_fw[0], pair_bw[0])))
                used |= {id(pair_fw[0]), id(pair_bw[0])}
            else:
                if runs_backward(layer):
                    stack = (" (several fw/bw pairs, as in a stacks/*.keras model of convert: export the layers' "
                             "block models, blocks/*.keras, each under its cell_k/bidirectional_rnn scope)"
                             if len(pair_bw) > 1 else "")
                    raise MigrationError(f"layer {layer.name!r} runs backwards outside a Bidirectional pair; TF1 "
                                         f"dynamic_rnn has no such mode{stack}.")
                blocks.append(("uni", layer))
                used.add(id(layer))
    counts = {"uni": 0, "bi": 0}
    for kind, item in blocks:
        base = scope or ("rnn" if kind == "uni" else "bidirectional_rnn")
        n = counts[kind]
        counts[kind] += 1
        block_scope = base if n == 0 else f"{base}_{n}"
        if kind == "uni":
            _rnn_arrays(item, block_scope, forget_bias, arrays, sources)
        else:
            _rnn_arrays(item[0], f"{block_scope}/fw", forget_bias, arrays, sources)
            _rnn_arrays(item[1], f"{block_scope}/bw", forget_bias, arrays, sources)
    for layer in layers:
        if isinstance(layer, FeedbackDecoder):
            _feedback_arrays(layer, arrays, sources)
        elif isinstance(layer, keras.layers.Embedding):
            arrays[layer.name] = layer.get_weights()[0]
            sources[layer.name] = f"layer {layer.name!r} embeddings"
        elif isinstance(layer, keras.layers.Dense):
            weights = layer.get_weights()
            arrays[f"{layer.name}/kernel"] = weights[0]
            sources[f"{layer.name}/kernel"] = f"layer {layer.name!r} kernel"
            if len(weights) > 1:
                arrays[f"{layer.name}/bias"] = weights[1]
                sources[f"{layer.name}/bias"] = f"layer {layer.name!r} bias"
    _refuse_unwritten(layers)
    if not blocks:
        raise MigrationError("The model has no RNN layer (SimpleRNN, LSTM, GRU, RNN(cell), Bidirectional) to export.")
    return arrays, sources


def write_tf1_checkpoint(arrays: dict[str, np.ndarray], out_prefix: str, force: bool = False,
                         inputs: Sequence[str] = (), partitions: Optional[dict[str, int]] = None) -> str:
    """Write ``arrays`` as a TF1 name-based checkpoint at ``out_prefix`` (Saver in a temp dir, then move).

    ``force`` overwrites an existing checkpoint there, never one of ``inputs`` nor files that are not a checkpoint;
    SIGTERM/SIGHUP/SIGINT and errors remove the temporary directory; OSError becomes MigrationError with the remedy.
    ``partitions``: name -> N, written as a ``fixed_size_partitioner(N)`` variable (rows already in saved order).
    """
    from migration.core.outdir import check_parent, describe_os_error, reserve
    from migration.core.signals import signals_raise

    out_prefix = os.path.abspath(out_prefix)
    pattern = (glob.escape(out_prefix) + ".index", glob.escape(out_prefix) + ".data-*")
    existing = glob.glob(pattern[0]) + glob.glob(pattern[1])
    if existing and not force:  # fail fast, before the lock (and again under it)
        raise MigrationError(f"{existing[0]!r} already exists; pass --force to overwrite, or choose another OUT_PREFIX.")
    check_parent(out_prefix)
    parent = os.path.dirname(out_prefix)
    with signals_raise():
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise MigrationError(describe_os_error(exc, out_prefix)) from None
        with reserve(out_prefix):  # one writer per OUT_PREFIX (.OUT_PREFIX.lock): checked and written under it
            existing = glob.glob(pattern[0]) + glob.glob(pattern[1])
            if existing and not force:
                raise MigrationError(f"{existing[0]!r} already exists; pass --force to overwrite, or choose another "
                                     "OUT_PREFIX.")
            if existing:
                _check_overwritable(out_prefix, existing, inputs)
            try:
                tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
            except OSError as exc:
                raise MigrationError(describe_os_error(exc, out_prefix)) from None
            try:
                _save(arrays, tmp, out_prefix, existing, partitions or {})
            except OSError as exc:
                raise MigrationError(describe_os_error(exc, out_prefix)) from None
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return out_prefix


def _check_overwritable(out_prefix: str, existing: list[str], inputs: Sequence[str]) -> None:
    """``--force`` overwrites only a TF checkpoint (its .index readable) that is none of the inputs."""
    import tensorflow as tf

    real_inputs = {os.path.realpath(p) for p in inputs}
    for path in existing:
        if os.path.realpath(path) in real_inputs:
            raise MigrationError(f"Refused to overwrite {path!r}: it is an input of this command. Choose another OUT_PREFIX.")
        if os.path.islink(path) or not os.path.isfile(path):
            raise MigrationError(f"Refused to overwrite {path!r}: not a regular file. Choose another OUT_PREFIX.")
    try:
        tf.train.load_checkpoint(out_prefix)
    except Exception:  # noqa: BLE001 - not a readable checkpoint: it may be anything of the user's
        raise MigrationError(f"Refused to overwrite {existing[0]!r} with --force: {out_prefix!r} is not a readable TF "
                             "checkpoint, so those files may be something else. Remove them yourself or choose "
                             "another OUT_PREFIX.") from None


def _rows(matrix: np.ndarray):
    """Initializer giving each part of a partitioned variable its own rows of ``matrix``."""
    import tensorflow as tf

    def initializer(shape, dtype=None, partition_info=None):
        offset = partition_info.var_offset[0] if partition_info is not None else 0
        return tf.constant(matrix[offset:offset + shape[0]], dtype=dtype)

    return initializer


def _save(arrays: dict[str, np.ndarray], tmp: str, out_prefix: str, existing: list[str],
          partitions: dict[str, int]) -> None:
    """Saver.save the arrays into ``tmp``, then replace the ``existing`` files by the new ones at ``out_prefix``: the
    old files are first moved into ``.<name>.old-*`` beside them and deleted only once every new file is in place (on
    an error they are put back; after a crash they are still there, and the next run on this prefix names them)."""
    import legacy_rnn
    import tensorflow as tf

    v1 = tf.compat.v1
    with legacy_rnn.new_graph() as graph:
        variables = {}
        for name, a in arrays.items():
            if partitions.get(name, 1) > 1:
                variables[name] = v1.get_variable(name, shape=a.shape, dtype=tf.as_dtype(a.dtype),
                                                  initializer=_rows(a),
                                                  partitioner=v1.fixed_size_partitioner(partitions[name]))
            else:
                variables[name] = v1.get_variable(name, shape=a.shape, dtype=tf.as_dtype(a.dtype),
                                                  initializer=v1.zeros_initializer())
        sess = legacy_rnn.new_session(graph)
        sess.run(v1.global_variables_initializer())
        for name, var in variables.items():
            if partitions.get(name, 1) <= 1:
                var.load(arrays[name], sess)
        saved = v1.train.Saver(var_list=variables).save(sess, os.path.join(tmp, "ckpt"), write_meta_graph=False,
                                                         write_state=False)
        sess.close()
    _swap_files(existing, {path: out_prefix + path[len(saved):] for path in glob.glob(glob.escape(saved) + ".*")},
                out_prefix)


def _swap_files(existing: list[str], new: dict[str, str], out_prefix: str) -> None:
    from migration.core import outdir

    backup = (tempfile.mkdtemp(prefix=f".{os.path.basename(out_prefix)}.old-", dir=os.path.dirname(out_prefix))
              if existing else None)
    moved, placed = [], []
    try:
        for old in existing:
            os.rename(old, os.path.join(backup, os.path.basename(old)))
            moved.append(old)
        outdir.step_hook("moved-aside", backup or "")
        for src, dst in new.items():
            os.replace(src, dst)
            placed.append(dst)
    except BaseException:
        for dst in placed:
            os.remove(dst)
        for old in moved:
            os.rename(os.path.join(backup, os.path.basename(old)), old)
        if backup:
            os.rmdir(backup)
        raise
    outdir.step_hook("installed", backup or "")
    if backup:
        shutil.rmtree(backup, ignore_errors=True)


def partition_embeddings(arrays: dict[str, np.ndarray], names: Sequence[str], partitions: int,
                         strategy: str) -> dict[str, int]:
    """Reorder the embeddings ``names`` of ``arrays`` in place for a ``fixed_size_partitioner(partitions)`` graph
    whose lookup uses ``strategy``; returns name -> partitions for :func:`write_tf1_checkpoint`."""
    from migration.converters import mod_partition_permutation

    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise MigrationError(f"Received an invalid value for `partitions`: expected a positive integer, got {partitions!r}.")
    if strategy not in ("mod", "div"):
        raise MigrationError(f"Received an invalid value for `partition_strategy`: expected 'mod' or 'div', got {strategy!r}.")
    if partitions == 1:
        return {}
    if not names:
        raise MigrationError(f"--partitions {partitions} partitions embeddings, and the model has no Embedding layer; "
                             "drop --partitions.")
    for name in names:
        rows = arrays[name].shape[0]
        if partitions > rows:
            raise MigrationError(f"--partitions {partitions} exceeds the {rows} rows of embedding {name!r}: "
                                 f"fixed_size_partitioner cannot make empty parts; use at most {rows}.")
        if strategy == "mod":
            saved = np.empty_like(arrays[name])
            saved[mod_partition_permutation(rows, partitions)] = arrays[name]  # keras = saved[perm]
            arrays[name] = saved
    return {name: partitions for name in names}


def export_keras_model(model: Any, out_prefix: str | os.PathLike, *, scope: Optional[str] = None,
                       forget_bias: float = 1.0, force: bool = False, trust: bool = False, partitions: int = 1,
                       partition_strategy: str = "mod", names: Optional[Callable[[Any], Optional[tuple]]] = None
                       ) -> ExportResult:
    """Export a Keras 2 RNN model (object or ``.keras`` path) to a TF1 checkpoint at ``out_prefix``.

    ``scope`` names the block scope (default ``rnn``, ``bidirectional_rnn`` for fw/bw; further blocks get ``_1``
    ...); ``forget_bias`` is the TF1 LSTM forget_bias the checkpoint will be used with (taken out of ``b_f``).
    A path is loaded by :func:`load_model`: ``.keras`` safely, ``.h5`` only with ``trust``.
    ``partitions``/``partition_strategy``: embeddings as a ``fixed_size_partitioner(partitions)`` graph with that
    lookup strategy restores them (module docstring). ``names``: ``(arrays, sources, {embedding: (parts,
    strategy)}) = names(model)`` already under the original graph's names (:mod:`migration.checkpoint.export_names`),
    written as they are; when ``names(model)`` is None the standard names apply.
    """
    inputs: list[str] = []
    if isinstance(model, (str, os.PathLike)):
        inputs.append(os.fspath(model))
        model = load_model(model, trust)
    if not np.isfinite(forget_bias):
        raise MigrationError(f"Received an invalid value for `forget_bias`: expected a finite number, got {forget_bias}.")
    found = names(model) if names is not None else None
    if found is not None:
        arrays, sources, by_name = found
        parts = {}
        for name, (n, strategy) in by_name.items():
            parts.update(partition_embeddings(arrays, [name], n, strategy))
        strategies = {name: strategy for name, (_, strategy) in by_name.items()}
    else:
        arrays, sources = collect_tf1_arrays(model, scope, forget_bias)
        embeddings = [name for name, src in sources.items() if src.endswith(" embeddings")]
        parts = partition_embeddings(arrays, embeddings, partitions, partition_strategy)
        strategies = {name: partition_strategy for name in parts}
    prefix = write_tf1_checkpoint(arrays, os.fspath(out_prefix), force, inputs, parts)
    return ExportResult(prefix, {k: list(v.shape) for k, v in arrays.items()}, sources,
                        {k: {"parts": n, "strategy": strategies[k]} for k, n in parts.items()})


def load_model(path: str | os.PathLike, trust: bool = False):
    """A Keras model file loaded by :func:`migration.safe_io.load_keras_model` (the project's Keras classes and the
    families' cells registered for safe mode)."""
    from migration.safe_io import load_keras_model
    import modern_rnn.seq2seq.models  # noqa: F401  (registers the seq2seq models for safe-mode loading)

    register_keras_classes()  # the families' own Keras cells, for safe-mode loading
    return load_keras_model(path, trust=trust)
