"""Recognizer steps beyond the cell table (EMA shadows, the contrib wrappers' own variables, cuDNN opaque buffers,
stacked bidirectional layers) that :func:`migration.checkpoint.recognize.recognize` calls. The cell-table rows
themselves are the layouts of the family rows (:mod:`migration.families`).
"""
from __future__ import annotations

import re
from typing import Optional, Protocol

from migration.checkpoint.items import Block, DenseInfo, EmbeddingInfo, OptimizerInfo, ema_owner
from migration.checkpoint.meta import MetaGraph
from migration.checkpoint.reader import VariableInfo


class Recognizer(Protocol):
    """What these steps use of :class:`migration.checkpoint.recognize.Recognizer` (which calls them): the variables,
    the ones taken so far, the notes, and taking or rejecting a variable. A protocol, so that this module does not
    import the recognizer that imports it."""

    vs: dict[str, VariableInfo]
    meta: Optional[MetaGraph]
    consumed: dict[str, str]
    notes: list[str]

    def take(self, key: str, role: str) -> None: ...

    def reject(self, key: str, reason: str, rnn_like: bool = False) -> None: ...

    def free(self) -> list[str]: ...

# The cell-table rows (layouts) live in the family rows: migration.families.<kind>.FAMILY.layouts.


# --- recognizer steps of the families (called by migration.checkpoint.recognize.recognize) ---------------

def ema(r: "Recognizer", use_ema: bool) -> dict[str, str]:
    """``<var>/ExponentialMovingAverage`` shadows: listed (rejected, not RNN-blocking) by default; with
    ``use_ema`` taken, and returned as {variable: shadow} so that the recognized items read the shadows."""
    shadows = {}
    for key in r.free():
        owner = ema_owner(key, r.vs)
        if owner is None:
            continue
        if use_ema:
            shadows[owner] = key
            r.take(key, f"ExponentialMovingAverage shadow of {owner}: converted in its place (use_ema)")
        else:
            r.reject(key, f"ExponentialMovingAverage shadow of {owner!r} (the averaged weights): listed, not "
                          "converted; pass --use-ema (use_ema=True) to convert the shadows instead of the raw values")
    return shadows


def apply_ema(r: "Recognizer", shadows: dict[str, str], blocks: list[Block], embeddings: list[EmbeddingInfo],
              dense: list[DenseInfo], optimizers: list[OptimizerInfo]) -> None:
    """Point every recognized weight that has a shadow at the shadow (its optimizer slots follow it); the raw
    value stays listed as replaced."""
    def swap(key: str) -> str:
        if key in shadows:
            r.consumed[key] += f"; replaced by its ExponentialMovingAverage shadow {shadows[key]!r}"
            return shadows[key]
        return key

    for block in blocks:
        for cell in block.cells:
            cell.variables = {name: swap(key) for name, key in cell.variables.items()}
        if block.wrapper:  # AttentionCellWrapper's own variables
            block.wrapper["variables"] = {name: swap(key) for name, key in block.wrapper["variables"].items()}
    for emb in embeddings:
        if emb.source == "variable":
            emb.name = swap(emb.name)
    for d in dense:
        d.kernel, d.bias = swap(d.kernel), swap(d.bias)
    for opt in optimizers:
        opt.slots = {shadows.get(owner, owner): roles for owner, roles in opt.slots.items()}
    unused = [o for o in shadows if o not in r.consumed or "replaced by" not in r.consumed[o]]
    if unused:
        r.notes.append(f"use_ema: shadows of {unused} belong to variables nothing converts")


def wrappers(r: "Recognizer") -> tuple[list[EmbeddingInfo], list[DenseInfo]]:
    """Variables of the contrib wrappers (legacy_rnn.wrappers) under an RNN scope: ``.../output_projection_wrapper/
    {kernel,bias}`` (a Dense on every step's output), ``input_projection_wrapper/{kernel,bias}`` (a Dense on the
    inputs, before the block) and ``embedding_wrapper/embedding``."""
    embeddings, dense = [], []
    free = set(r.free())
    for key in sorted(free):
        scope, _, last = key.rpartition("/")
        wrapper = scope.rsplit("/", 1)[-1]
        if wrapper in ("output_projection_wrapper", "input_projection_wrapper") and last == "kernel" \
                and f"{scope}/bias" in free and len(r.vs[key].shape) == 2 \
                and r.vs[f"{scope}/bias"].shape == (r.vs[key].shape[1],):
            where = "every step's output" if wrapper.startswith("output") else "the inputs, before the block"
            dense.append(DenseInfo(scope, key, f"{scope}/bias", r.vs[key].shape))
            r.take(key, f"dense {scope} kernel ({wrapper}: applied to {where})")
            r.take(f"{scope}/bias", f"dense {scope} bias ({wrapper})")
        elif wrapper == "embedding_wrapper" and last == "embedding" and len(r.vs[key].shape) == 2:
            info = r.vs[key]
            embeddings.append(EmbeddingInfo(key, "variable", info.shape, info.dtype, None, None,
                                            "EmbeddingWrapper: the cell reads one id per step"))
            r.take(key, f"embedding {key} (embedding_wrapper)")
    return embeddings, dense


def cudnn_opaque(r: "Recognizer", blocks: list[Block]) -> None:
    """``<scope>/opaque_kernel`` of a CudnnLSTM/CudnnGRU layer: consumed when the canonical variables TF's
    saveable wrote under the same scope describe exactly a buffer of its size; otherwise left for
    :meth:`leftovers` to refuse with the remedy."""
    from migration.cudnn_converters import opaque_size

    for key in r.free():
        if key.rsplit("/", 1)[-1] != "opaque_kernel" or len(r.vs[key].shape) != 1:
            continue
        scope = key.rsplit("/", 1)[0] if "/" in key else ""
        mine = [b for b in blocks if (b.scope + "/").startswith(scope + "/") and all(
            c.rel_path.rsplit("/", 1)[-1].startswith("cudnn_compatible_") for c in b.cells)]
        if not mine:
            continue
        mode = "lstm" if mine[0].cells[0].spec.is_lstm else "gru"
        units, bidi = mine[0].cells[0].spec.units, mine[0].bidirectional
        layers = sum(len(next(iter(b.directions.values()))) for b in mine)
        if opaque_size(mode, layers, units, mine[0].input_size, bidi) == r.vs[key].shape[0]:
            r.take(key, f"cuDNN opaque buffer: the same parameters as the canonical variables under "
                        f"{scope!r} (converted from those, not twice)")


def crf(r: "Recognizer") -> list[str]:
    """``[<scope>/]transitions [N, N]``: the transition matrix ``tf.contrib.crf.crf_log_likelihood`` created (row =
    previous tag, column = next tag); ``convert`` exports it unchanged for ``modern_rnn.CRF(num_tags=N)``."""
    found = []
    for key in r.free():
        shape = r.vs[key].shape
        if key.rsplit("/", 1)[-1] == "transitions" and len(shape) == 2 and shape[0] == shape[1] and shape[0] > 0 \
                and r.vs[key].dtype.startswith("float"):
            found.append(key)
            r.take(key, f"CRF transition matrix (tf.contrib.crf, {shape[0]} tags): exported unchanged to "
                        "crf/<name>.npy for modern_rnn.CRF(num_tags=N).transitions")
    return found


_STACK = re.compile(r"^(.*)/cell_(\d+)/bidirectional_rnn$")


def stacked_bidirectional(blocks: list[Block]) -> list[tuple[str, list[Block], bool]]:
    """Blocks ``<scope>/cell_k/bidirectional_rnn`` are the layers of one ``stack_bidirectional_(dynamic_)rnn``:
    ``(scope, layers in chain order, chained)``, chained when k runs 0..n-1 and layer k's input size is
    ``U_fw + U_bw`` of layer k-1."""
    stacks: dict[str, dict[int, Block]] = {}
    for block in blocks:
        m = _STACK.match(block.scope)
        if m and block.bidirectional:
            stacks.setdefault(m.group(1), {})[int(m.group(2))] = block
    out = []
    for scope, layers in sorted(stacks.items()):
        order = [layers[k] for k in sorted(layers)]
        chained = sorted(layers) == list(range(len(layers))) and all(
            cur.input_size == sum(prev.directions[d][-1].spec.output_size for d in ("fw", "bw"))
            for prev, cur in zip(order, order[1:]))
        out.append((scope, order, chained))
    return out


def stacked_bidirectional_notes(blocks: list[Block]) -> list[str]:
    """One note per :func:`stacked_bidirectional` group: layer k reads concat(fw, bw) of layer k-1 (``convert``
    also writes the chained stack as one model, :mod:`migration.checkpoint.stacks`)."""
    notes = []
    for scope, order, chained in stacked_bidirectional(blocks):
        names = [b.name or b.scope for b in order]
        notes.append(f"blocks {names} are one stack_bidirectional_dynamic_rnn under {scope!r}: layer k reads "
                     "concat(fw, bw) of layer k-1; chain them in this order (modern_rnn.stack_bidirectional_dynamic_rnn)"
                     if chained else f"blocks {names} under {scope!r} look like a stack_bidirectional_rnn but their "
                     "input sizes do not chain (concat(fw, bw) of the layer below); check the model")
    return notes


def attention_cell_wrappers(r: "Recognizer", blocks: list[Block]) -> None:
    """``<scope>/attention_cell_wrapper/{kernel, bias, attention/{attn_w, attn_v, kernel, bias},
    attn_output_projection/{kernel, bias}}`` around a recognized block (``tf.contrib.rnn.AttentionCellWrapper``).
    With a ``.meta`` that gives ``attn_length`` the block becomes a wrapped block (:mod:`migration.checkpoint.wrapped`)
    and the variables are consumed; otherwise they are named precisely and refused with the remedy, never guessed
    (``attn_length`` is stored nowhere in the checkpoint)."""
    from migration.checkpoint.wrapped import attn_lengths
    from migration.wrapper_converters import OWN_NAMES, SCOPE

    free = set(r.free())
    for block in blocks:
        if block.scope.rsplit("/", 1)[-1] != SCOPE or len(block.directions) != 1:
            continue
        keys = [f"{block.scope}/{n}" for n in OWN_NAMES]
        if not all(k in free for k in keys):
            continue
        (cells,) = block.directions.values()
        shape = {n: r.vs[k].shape for n, k in zip(OWN_NAMES, keys)}
        a, v, i = shape["attn_output_projection/bias"][0], shape["attention/attn_v"][0], shape["bias"][0]
        d = shape["kernel"][0] - a
        lengths = attn_lengths(r.meta.path, a) if r.meta is not None and len(cells) == 1 else set()
        if len(lengths) == 1:
            (length,) = lengths
            block.wrapper = {"kind": "attention_cell_wrapper", "attn_length": length, "attn_size": a,
                             "attn_vec_size": v, "input_size": i, "input_depth": d,
                             "variables": dict(zip(OWN_NAMES, keys))}
            for name, key in zip(OWN_NAMES, keys):
                r.take(key, f"AttentionCellWrapper {name} of block {block.name!r} (attn_length={length} from the "
                            f".meta, attn_size={a}, attn_vec_size={v}, input_size={i})")
            continue
        why = ("no .meta" if r.meta is None else "a MultiRNNCell inside" if len(cells) != 1 else
               f"the .meta gives attn_length candidates {sorted(lengths)}")
        reason = (f"tf.contrib.rnn.AttentionCellWrapper around block {block.name!r} (attn_size={a}, "
                  f"attn_vec_size={v}, input_size={i}, input depth {d}): recognized, but not converted ({why}); "
                  "convert with the checkpoint's .meta (attn_length is not in the checkpoint: the window state is "
                  f"[B, attn_length * {a}]), or build modern_rnn.attention_cell_wrapper(cell, attn_length, attn_size, "
                  "attn_vec_size, input_size) and load migration.wrapper_converters.attention_cell_wrapper_to_keras"
                  "(spec, arrays, input_depth)")
        for key in keys:
            r.reject(key, reason, True)
        r.notes.append(f"block {block.name!r} is the cell of an AttentionCellWrapper ({cells[0].spec.kind}, "
                       f"reading the {i}-wide projection of [x, attns]): see the wrapper's variables' reason")
