"""``legacy_seq2seq.embedding_attention_seq2seq`` checkpoints the single-cell reading of
:mod:`.seq2seq_legacy` does not cover, as one :class:`modern_rnn.seq2seq.legacy_models.LegacyStackSeq2SeqModel`:

* a ``MultiRNNCell`` stack: ``<scope>/multi_rnn_cell/cell_k/<cell>`` (or a bare ``<cell>``) with ``<cell>`` one of
  ``basic_lstm_cell``, ``gru_cell``, ``basic_rnn_cell``; ``MultiRNNCell([cell] * n)`` saves only ``cell_0`` for
  its n layers: n is read from ``Attention_0/kernel`` (its rows are the whole stack's state size: the attention
  query is the flattened state);
* the decoder cell at ``attention_decoder/<cell path>`` (``output_projection=(w, b)``), at
  ``attention_decoder/output_projection_wrapper/<cell path>`` (no projection), or absent: the decoder runs the
  encoder's cell object (``__deepcopy__`` patched to return the cell), so it reads the encoder's variables;
* ``output_projection=(w, b)``: the model returns the decoder outputs TF1 returned (before the projection). The
  projection's ``w`` ``[units, V]`` (or ``w_t`` ``[V, units]``) and ``b`` ``[V]`` are taken into the model when
  exactly one such pair of variables is left outside the scope (then ``feed_previous=True`` works); else they are
  left to the other rules, named in the manifest.

In a ``model_with_buckets`` graph each bucket is a copy of the ops (``embedding_attention_seq2seq``,
``..._1``, ...) on the same variables: the converted model takes any lengths, and it is verified against the first
bucket's copy (its id placeholders fed, its per-step ``AttnOutputProjection`` outputs compared); a copy built with
``feed_previous=True`` (its later decoder steps fed by ``ArgMax``) is converted with ``feed_previous=True``.
"""
from __future__ import annotations

import re
from typing import Any, Optional

import numpy as np

from migration import converters
from migration import seq2seq_converters as s2c
from migration.core.errors import MigrationError
from migration.core.specs import CellSpec
from migration.graph.graphdef import ref

CELLS = {"basic_lstm_cell": "basic_lstm", "gru_cell": "gru", "basic_rnn_cell": "basic_rnn"}
#: cell scope -> (bias name, kernel name, bias width / units, state vectors per layer)
_LAYOUT = {"basic_lstm_cell": ("bias", "kernel", 4, 2), "gru_cell": ("gates/bias", "gates/kernel", 2, 1),
           "basic_rnn_cell": ("bias", "kernel", 1, 1)}
_CELL_PATH = re.compile(r"(?:multi_rnn_cell/cell_(\d+)/)?(basic_lstm_cell|gru_cell|basic_rnn_cell)/(?:gates/)?bias")


def _cell_paths(rel: dict, root: str) -> dict[int, str]:
    """``{layer: relative cell scope}`` of the cells directly under ``root`` (-1 for a bare cell)."""
    out = {}
    for n in rel:
        if n.startswith(root) and (m := _CELL_PATH.fullmatch(n[len(root):])):
            cell = n[len(root):].rsplit("/bias", 1)[0].removesuffix("/gates")
            out[int(m.group(1)) if m.group(1) is not None else -1] = root + cell
    return out


def _state_size(r, user: str, path: str) -> int:
    bias, _, width, states = _LAYOUT[path.rsplit("/", 1)[-1]]
    return r.vs[user + path + "/" + bias].shape[0] // width * states


def _depth(r, user: str, att: str, paths: dict[int, str]) -> Optional[int]:
    """The stack depth from ``Attention_0/kernel`` ``[state size, A]``: the attention query is TF1's flattened cell
    state, so its rows are the state sizes of all layers (``MultiRNNCell([cell] * n)`` saves one layer's weights)."""
    rows = int(r.vs[user + att + "Attention_0/kernel"].shape[0])
    if set(paths) == {0}:
        size = _state_size(r, user, paths[0])
        return rows // size if rows % size == 0 else None
    return None


def _layers(paths: dict[int, str], depth: Optional[int], where: str) -> list[str]:
    if -1 in paths:
        if len(paths) > 1:
            raise MigrationError(f"{where}: both a bare cell and a multi_rnn_cell")
        return [paths[-1]]
    if not paths:
        raise MigrationError(f"{where}: no cell variables")
    n = depth or (max(paths) + 1)
    if sorted(paths) == [0] and n > 1:
        return [paths[0]] * n  # MultiRNNCell([cell] * n): one weight set in every layer
    if sorted(paths) != list(range(n)):
        raise MigrationError(f"{where}: cells {sorted(paths)} for a {n}-layer stack")
    return [paths[k] for k in range(n)]


def _consumers(meta) -> dict[str, list[str]]:
    """Node name -> the names of the nodes of the main graph that read it."""
    consumers: dict[str, list[str]] = {}
    for node in meta.main.values():
        for inp in node.input:
            consumers.setdefault(ref(inp.lstrip("^"))[0], []).append(node.name)
    return consumers


def _reads_decoder_outputs(meta, consumers: dict[str, list[str]], key: str, decoder: str, hops: int = 10) -> bool:
    """True when a node within ``hops`` ops downstream of variable ``key`` also reads (through up to 3 single-input
    ops) an ``AttnOutputProjection`` output of ``decoder``: a sampled-softmax loss, a ``feed_previous`` loop function
    or the program's own ``outputs @ w + b`` projects the decoder outputs with it (``consumers``:
    :func:`_consumers` of ``meta``, built once for every key)."""
    nodes = meta.main

    def from_decoder(name: str) -> bool:
        for _ in range(4):
            if decoder in name and "AttnOutputProjection" in name:
                return True
            node = nodes.get(name)
            if node is None or len(node.input) != 1:
                return False
            name = ref(node.input[0])[0]
        return False

    seen, frontier = {key}, [key]
    for _ in range(hops):
        nxt = []
        for name in frontier:
            for c in consumers.get(name, []):
                if c in seen:
                    continue
                seen.add(c)
                if any(from_decoder(ref(i.lstrip("^"))[0]) for i in nodes[c].input):
                    return True
                nxt.append(c)
        frontier = nxt
    return False


def _projection(r, top: str, decoder: str, units: int, vocab: int) -> Optional[dict[str, Any]]:
    """``output_projection``'s ``w``/``b``: the one ``[units, V]`` (or ``[V, units]``) and ``[V]`` variables outside
    the scope; with a ``.meta``, only those that project the decoder outputs in the graph."""
    free = [k for k in r.free() if not k.startswith(top)]
    if r.meta is not None:
        consumers = _consumers(r.meta)
        free = [k for k in free if _reads_decoder_outputs(r.meta, consumers, k, decoder)]
    shape = {k: tuple(r.vs[k].shape) for k in free}
    biases = [k for k in free if shape[k] == (vocab,)]
    for transposed, want in ((False, (units, vocab)), (True, (vocab, units))):
        kernels = [k for k in free if shape[k] == want]
        if len(kernels) == 1 and len(biases) == 1 and units != vocab:
            return {"kernel": kernels[0], "bias": biases[0], "transposed": transposed}
    return None


def read(r, block, user: str, top: str, att: str) -> tuple[Optional[dict[str, Any]], str, list[str]]:
    """(description, problem, names) of the stack form; ``(None, problem, names)`` when it is not one."""
    names = [k for k in r.free() if k.startswith(user + top)]
    rel = {k[len(user):]: k for k in names}
    where = f"{user + top}"
    enc_root = top + "rnn/embedding_wrapper/"
    wrapper = att + "output_projection_wrapper/"
    projection = wrapper + "kernel" not in rel
    try:
        enc_paths = _cell_paths(rel, enc_root)
        depth = _depth(r, user, att, enc_paths)
        enc = _layers(enc_paths, depth, where + " encoder")
        dec_paths = _cell_paths(rel, att if projection else wrapper)
        dec = _layers(dec_paths, depth, where + " decoder") if dec_paths else list(enc)
    except MigrationError as exc:
        return None, f"{exc}; not converted by `convert`", names
    if len(dec) != len(enc):
        return None, f"{where}: a {len(enc)}-layer encoder and a {len(dec)}-layer decoder", names
    pool = list(dict.fromkeys(enc + dec))
    specs, sources = [], {}
    for path in pool:
        cell_dir = path.rsplit("/", 1)[-1]
        kind = CELLS[cell_dir]
        bias_name, kernel_name, width, _ = _LAYOUT[cell_dir]
        kernel = r.vs[user + path + "/" + kernel_name]
        units = r.vs[user + path + "/" + bias_name].shape[0] // width
        spec, src = r.spec_for(kind, units, False, None, (user + path).rsplit("/", 1)[0], cell_dir, user + path)
        specs.append((spec, int(kernel.shape[0] - units)))
        sources = sources or src
    vin, emb = r.vs[user + enc_root + "embedding"].shape
    vout = r.vs[user + top + "embedding_attention_decoder/embedding"].shape[0]
    last = specs[pool.index(dec[-1])][0].units
    proj = _projection(r, user + top, (user + att).rstrip("/"), last, int(vout)) if projection else None
    taken = names + ([proj["kernel"], proj["bias"]] if proj else [])
    desc = {"stack": True, "user_prefix": user, "kind": specs[0][0].kind, "units": int(specs[0][0].units),
            "num_encoder_symbols": int(vin), "num_decoder_symbols": int(vout), "embedding_size": int(emb),
            "num_heads": block.num_heads, "pool": pool, "pool_specs": [s.to_dict() for s, _ in specs],
            "input_sizes": [n for _, n in specs], "encoder_layers": [pool.index(p) for p in enc],
            "decoder_layers": [pool.index(p) for p in dec], "stacked": "multi_rnn_cell/" in pool[0],
            "projection": projection, "projection_vars": proj, "spec": specs[0][0].to_dict(),
            "hyper_sources": sources, "encoder_table": user + enc_root + "embedding",
            "decoder_table": user + top + "embedding_attention_decoder/embedding",
            "output_bias": user + att + "AttnOutputProjection/bias"}
    return desc, "", taken


def build_model(desc: dict, arrays: dict[str, np.ndarray], forget_bias: Optional[float] = None,
                feed_previous: bool = False):
    import dataclasses

    from modern_rnn import keras
    from modern_rnn.seq2seq.legacy_models import LegacyStackSeq2SeqModel
    from migration.families import keras_cell

    specs = [CellSpec.from_dict(d) for d in desc["pool_specs"]]
    if forget_bias is not None:
        specs = [dataclasses.replace(s, forget_bias=float(forget_bias)) if s.is_lstm else s for s in specs]
    cells = [keras.layers.serialize(keras_cell(s, n)) for s, n in zip(specs, desc["input_sizes"])]
    proj = desc.get("projection_vars")
    shape = None
    if proj:
        shape = [specs[desc["decoder_layers"][-1]].units, desc["num_decoder_symbols"]]
    model = LegacyStackSeq2SeqModel(cells, desc["encoder_layers"], desc["decoder_layers"], desc["num_encoder_symbols"],
                                    desc["num_decoder_symbols"], desc["embedding_size"], desc["num_heads"],
                                    projection=desc["projection"], projection_shape=shape,
                                    feed_previous=feed_previous, stacked=desc["stacked"],
                                    tf1={"legacy": desc, "forget_bias": [s.forget_bias if s.is_lstm else None
                                                                         for s in specs]},
                                    name="legacy_seq2seq")
    model.build_weights()
    named, _ = s2c.legacy_scope_to_keras(arrays, list(model.scope.named_weights()), {}, prefix=desc["user_prefix"])
    for name, var in model.scope.named_weights().items():
        var.assign(named[name])
    for k, (path, spec) in enumerate(zip(desc["pool"], specs)):
        scope = desc["user_prefix"] + path + "/"
        w = {n[len(scope):]: np.asarray(a) for n, a in arrays.items() if n.startswith(scope)}
        model.pool[k].set_weights(converters.cell_to_keras(spec, w, desc["input_sizes"][k]))
    if proj:
        kernel = np.asarray(arrays[proj["kernel"]])
        model.proj_kernel.assign(kernel.T if proj["transposed"] else kernel)
        model.proj_bias.assign(np.asarray(arrays[proj["bias"]]))
    return model


def tf1_arrays(model) -> dict[str, np.ndarray]:
    """The model's weights back under the checkpoint's names (``rnn-migrate export``)."""
    desc = model.tf1["legacy"]
    fbs = model.tf1.get("forget_bias") or [None] * len(desc["pool"])
    out = s2c.legacy_scope_to_tf1({k: v.numpy() for k, v in model.scope.named_weights().items()}, {},
                                  prefix=desc["user_prefix"])
    for k, path in enumerate(desc["pool"]):
        spec = CellSpec.from_dict(desc["pool_specs"][k])
        if spec.is_lstm and fbs[k] is not None:
            import dataclasses
            spec = dataclasses.replace(spec, forget_bias=float(fbs[k]))
        out.update({f"{desc['user_prefix']}{path}/{n}": v
                    for n, v in converters.cell_to_tf1(spec, model.pool[k].get_weights()).items()})
    proj = desc.get("projection_vars")
    if proj:
        kernel = model.proj_kernel.numpy()
        out[proj["kernel"]] = kernel.T if proj["transposed"] else kernel
        out[proj["bias"]] = model.proj_bias.numpy()
    return out


# -- the .meta graph: the first bucket's copy ------------------------------------------------------------------------

_COPY = re.compile(r"^(.*?embedding_attention_seq2seq(?:_\d+)?)/")


def _copy_of(name: str) -> str:
    m = _COPY.match(name)
    return m.group(1) if m else ""


def locate(index, desc: dict) -> dict[str, Any]:
    """Feeds and outputs of the first ``embedding_attention_seq2seq`` copy in the graph (the first bucket)."""
    from migration.checkpoint.seq2seq_graph import back_to, handle_nodes

    def lookups(key: str) -> list[tuple[str, str, str]]:
        handles = set(handle_nodes(index, key))
        out = []
        for node in index.graph_def.node:  # creation order = step order
            if node.op in ("GatherV2", "ResourceGather", "Gather") and \
                    ref(back_to(index, node.input[0]))[0] in handles:
                ids = back_to(index, node.input[1], ("Reshape", "Identity"))
                out.append((_copy_of(node.name), ids, index.node(ref(ids)[0]).op))
        return out

    enc, dec = lookups(desc["encoder_table"]), lookups(desc["decoder_table"])
    if not enc:
        raise MigrationError("no lookup of the encoder embedding in the graph")
    first = enc[0][0]
    enc_ids = [t for c, t, _ in enc if c == first]
    dec_all = [(t, op) for c, t, op in dec if c == first]
    dec_ids = [t for t, op in dec_all if op != "ArgMax"]
    feed_previous = any(op == "ArgMax" for _, op in dec_all)
    handles = set(handle_nodes(index, desc["output_bias"]))
    outputs = [f"{n.name}:0" for n in index.graph_def.node if n.op in ("BiasAdd", "Add", "AddV2")
               and _copy_of(n.name) == first and any(ref(back_to(index, i))[0] in handles for i in n.input[1:])]
    if not enc_ids or not dec_ids or len(outputs) != len(dec_ids):
        raise MigrationError(f"found {len(enc_ids)} encoder and {len(dec_ids)} decoder lookups and {len(outputs)} "
                             f"AttnOutputProjection outputs in {first!r} (expected one output per decoder step)")
    for t in enc_ids + dec_ids:
        if ref(t)[1] != 0:
            raise MigrationError(f"tensor {t!r} is not a node's first output and cannot be fed")
    return {"encoder_ids": enc_ids, "decoder_ids": dec_ids, "outputs": outputs, "copy": first,
            "feed_previous": feed_previous}
