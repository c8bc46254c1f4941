"""Recognize what a TF1 checkpoint holds, from names and shapes (and the ``.meta`` graph when present).

The rules are an explicit table; every checkpoint variable ends up **exactly once** either consumed by something
recognized (an RNN cell, an embedding, a dense head, an optimizer slot or counter) or in ``unrecognized`` with the
reason. Nothing is skipped silently.

Cell table (``<cell>`` is the cell's variable directory; ``_N`` suffixes allowed):

=====================  ==============  =================================================  ===============================
cell directory         kind            variables under it                                 TF1 class
=====================  ==============  =================================================  ===============================
``basic_lstm_cell``    ``basic_lstm``  ``kernel [D+U,4U]``, ``bias [4U]``                   ``BasicLSTMCell``
``lstm_cell``          ``lstm``        ``kernel [D+R,4U]``, ``bias [4U]``, optional        ``LSTMCell`` (peepholes,
                                       ``w_{f,i,o}_diag [U]``, ``projection/kernel [U,P]``  num_proj, clips)
``basic_rnn_cell``     ``basic_rnn``   ``kernel [D+U,U]``, ``bias [U]``                     ``BasicRNNCell``
``gru_cell``           ``gru``         ``gates/{kernel,bias}``, ``candidate/{kernel,bias}``  ``GRUCell``
``rnn_cell``           ``handwritten`` ``W [D+U,U]``, ``b [U]``                             seed 002's ``get_variable`` cell
=====================  ==============  =================================================  ===============================

The rows are the layouts of the cell families (:mod:`migration.families`: ``tf.contrib`` block/fused/layer-norm
cells, cuDNN canonical cells, names from before TF 1.2, and every family added there). ``EMA`` shadows
(``<var>/ExponentialMovingAverage``) are listed, or converted instead of the raw values with ``use_ema``.

Above the cell directory: ``multi_rnn_cell/cell_k`` (layer k of a ``MultiRNNCell``), then ``fw``/``bw`` (a
bidirectional pair), then the block scope (``rnn``, ``encoder``, ``model/rnn``, ``bidirectional_rnn`` ...).

Other rows: optimizer slots ``<var>/<Optimizer>[_n]`` (same shape as ``<var>``), ``beta1_power``/``beta2_power``
(Adam), ``global_step``; embeddings (2-D variables read by a Gather in the graph, or named like ``embedding``;
Const matrices feeding a Gather); dense heads (``X/kernel``+``X/bias``, ``X/W``+``X/b``, and unnamed
``Variable_k``/``Variable_{k+1}`` pairs ``[H, C]`` + ``[C]``); distributed-training bookkeeping
(``sync_rep_local_step``, input-queue epoch counters: :mod:`migration.checkpoint.bookkeeping`), recognized and
reported, not migrated.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Optional

import migration.checkpoint.bookkeeping as bookkeeping
import migration.checkpoint.families as families
import migration.checkpoint.seq2seq as seq2seq
from migration.checkpoint.cell_table import (CELL_DEFAULTS, CELL_RENAMES, CELL_TABLE, check_cell_variables,
                                             cell_candidates, cell_path, listed, parse_path, is_rnn_like,
                                             units_and_input)
from migration.checkpoint.conv_blocks import recognize_conv
from migration.checkpoint.grid_meta import configured_spec
from migration.checkpoint.cudnn_opaque import opaque_layouts
from migration.checkpoint.dense_heads import biasless
from migration.checkpoint.items import (EMA_NAMES, AccountingError, Block, CellInfo, DenseInfo, EmbeddingInfo,
                                        Inspection, OptimizerInfo, Unrecognized, check_accounting, ema_owner)
from migration.checkpoint.meta import MetaGraph, load_meta
from migration.checkpoint.shared_cell import bw_reads_fw
from migration.checkpoint.reader import CheckpointReader, VariableInfo
from migration.core.errors import MigrationError, ShapeError
from migration.core.specs import CellSpec
from migration.families import family, tf1_shapes

#: optimizer slot name (without ``_n``) -> (optimizer kind, slot roles by index ``_n``)
SLOT_TABLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "Adam": ("adam", ("m", "v")),
    "Adagrad": ("adagrad", ("accumulator",)),
    "Momentum": ("momentum", ("momentum",)),
    "RMSProp": ("rmsprop", ("rms", "momentum")),  # centered=True: rms, mg, momentum (see _slot_roles)
    "Ftrl": ("ftrl", ("accumulator", "linear")),
    "Adadelta": ("adadelta", ("accum", "accum_update")),
}
#: TF1 optimizer kind -> (tf_keras optimizer class, TF1 slot role -> Keras slot name (legacy optimizers' add_slot
#: names), constants that differ from the Keras defaults). Ftrl and Adadelta complete convert.py's own table.
KERAS_OPTIMIZERS: dict[str, tuple[str, dict[str, str], dict[str, float]]] = {
    "ftrl": ("Ftrl", {"accumulator": "accumulator", "linear": "linear"}, {"initial_accumulator_value": 0.1}),
    "adadelta": ("Adadelta", {"accum": "accum_grad", "accum_update": "accum_var"}, {"epsilon": 1e-8}),
}
_NON_SLOT = re.compile(r"^(?:(.*)/)?(beta1_power|beta2_power)(?:_(\d+))?$")
_UNNAMED = re.compile(r"^(?:(.*)/)?Variable(?:_(\d+))?$")
_EMBED_NAME = re.compile(r"emb|embedding|word_?vec|glove|lookup|vocab", re.I)
#: (kernel, bias) names in one directory; ``<x>_w`` + ``<x>_b`` siblings (``softmax_w``) are matched in :meth:`dense`
_DENSE_PAIRS = (("kernel", "bias"), ("W", "b"), ("w", "b"), ("weights", "biases"), ("weight", "bias"))
#: Dense heads whose kernel and bias live apart, as tutorials wrote them: (kernel key, bias key, head name) at the
#: checkpoint root. ``W`` + ``output/b``: ``get_variable('W')`` ignores the ``name_scope('output')`` that
#: ``tf.Variable(..., name='b')`` follows.
_SPLIT_DENSE = (("softmax_w", "softmax_b", "softmax"), ("W", "output/b", "output"))


# ----------------------------------------------------------------------------------------------------------------------

def _split_slot(name: str, variables: dict[str, VariableInfo]) -> Optional[tuple[str, str, int]]:
    """``'x/Adam_1'`` -> ``('x', 'Adam', 1)`` when ``x`` is a checkpoint variable of the same shape.

    Slots created while a custom variable scope was open carry its prefix: ``Optimizer/x/RMSProp`` -> ``('x',
    'RMSProp', 0)`` (leading components are dropped until the owner is a variable of the same shape).
    """
    if "/" not in name:
        return None
    owner, last = name.rsplit("/", 1)
    while owner not in variables and "/" in owner:
        owner = owner.split("/", 1)[1]
    if owner not in variables or variables[owner].shape != variables[name].shape:
        return None
    m = re.match(r"^(.*?)(?:_(\d+))?$", last)
    return owner, m.group(1), int(m.group(2) or 0)


def _slot_roles(base: str, count: int) -> tuple[str, ...]:
    if base == "RMSProp" and count == 3:
        return ("rms", "mg", "momentum")
    return SLOT_TABLE[base][1]


#: hyper-parameters whose TF1 default (None) means "no such op": absent from a cell found in the .meta, they are read,
#: not assumed
_OFF_WHEN_ABSENT = ("cell_clip", "proj_clip")


class Recognizer:
    def __init__(self, prefix: str, variables: dict[str, VariableInfo], meta: Optional[MetaGraph]) -> None:
        self.prefix, self.vs, self.meta = prefix, variables, meta
        self.consumed: dict[str, str] = {}
        self.unrecognized: list[Unrecognized] = []
        self.bookkeeping: dict[str, str] = {}
        self.notes: list[str] = []

    def take(self, key: str, role: str) -> None:
        if key in self.consumed:
            raise AccountingError(f"checkpoint variable {key!r} consumed twice: {self.consumed[key]} / {role}. This is "
                                  "a bug in rnn-migrate; please report it with `rnn-migrate inspect --json` output.")
        self.consumed[key] = role

    def reject(self, key: str, reason: str, rnn_like: bool = False) -> None:
        self.unrecognized.append(Unrecognized(key, self.vs[key].shape, reason, rnn_like))

    def free(self) -> list[str]:
        rejected = {u.name for u in self.unrecognized}
        return [k for k in self.vs if k not in self.consumed and k not in rejected]

    # -- checks -----------------------------------------------------------------------------------------------------

    def check_against_meta(self) -> None:
        if self.meta is None:
            return
        for key, info in self.vs.items():
            declared = self.meta.declared_shape(key)
            if declared is not None and tuple(declared) != info.shape:
                raise ShapeError(
                    f"Variable {key!r} has shape {list(info.shape)} in the checkpoint {self.prefix + '.index'!r} but "
                    f"{list(declared)} in the graph {self.meta.path!r}: the .meta belongs to another model. Use the "
                    "matching .meta, or move it away to convert from the checkpoint alone (default hyper-parameters)."
                )
        undeclared = [key for key in self.vs if self.meta.declared_shape(key) is None]
        if undeclared:
            what = ("declares no variables at all (empty or not a TF1 training graph)" if
                    not (self.meta.graph_shapes or self.meta.full_shapes) else
                    f"does not declare {len(undeclared)} of the checkpoint's {len(self.vs)} variables "
                    f"({undeclared[:3]}{' ...' if len(undeclared) > 3 else ''})")
            raise MigrationError(
                f"The graph {self.meta.path!r} {what}: it does not belong to the checkpoint "
                f"{self.prefix + '.index'!r}, so its hyper-parameters (forget_bias, clips, activations) cannot be "
                "trusted. Put the .meta saved with this checkpoint beside it, or move the .meta away to convert from "
                "the checkpoint alone (TF1 defaults; pass --forget-bias if the model used another value)."
            )

    # -- optimizer --------------------------------------------------------------------------------------------------

    def optimizers(self) -> tuple[list[OptimizerInfo], Optional[str]]:
        """Slots per optimizer instance: ``<var>/Adam``, ``/Adam_1`` (first Adam), ``/Adam_2``, ``/Adam_3`` (second),
        a custom name (``MyAdam``, ``MyAdam_1``: an Adam when the graph has beta powers), under any scope prefix."""
        instances: dict[tuple[str, int], OptimizerInfo] = {}
        consts = self.meta.optimizer_constants() if self.meta else {}
        slots: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for key in list(self.vs):
            split = _split_slot(key, self.vs)
            if split is None or _split_slot(split[0], self.vs) is not None or ema_owner(key, self.vs):
                continue
            owner, base, idx = split
            slots.setdefault((owner, base), []).append((idx, key))
        has_powers = any(_NON_SLOT.match(k) and self.vs[k].shape == () for k in self.vs)
        state_of: dict[tuple[str, str], tuple[str, int]] = {}  # (variable, kind) -> the optimizer instance holding it
        for (owner, base), items in sorted(slots.items()):
            items.sort()
            custom_adam = base not in SLOT_TABLE and has_powers and len(items) % 2 == 0 and \
                [i for i, _ in items] == list(range(len(items)))
            if base not in SLOT_TABLE and not custom_adam:
                for _, key in items:
                    self.reject(key, f"looks like an optimizer slot of {owner!r} from an optimizer named {base!r} that "
                                     f"rnn-migrate does not map (known: {sorted(SLOT_TABLE)}); not migrated")
                continue
            kind = "adam" if custom_adam else SLOT_TABLE[base][0]
            roles = SLOT_TABLE["Adam"][1] if custom_adam else _slot_roles(base, len(items))
            for idx, key in items:
                chunk, pos = divmod(idx, len(roles))
                name = base if chunk == 0 else f"{base}_{chunk * len(roles)}"
                opt = instances.setdefault((base, chunk), OptimizerInfo(kind, name, {}, {}, consts.get(base, {})))
                if state_of.setdefault((owner, kind), (base, chunk)) != (base, chunk):
                    self.reject(key, f"{name} slot of {owner!r}: a second {kind} optimizer on the same variable; "
                                     "only one optimizer state per variable can be migrated")
                    continue
                opt.slots.setdefault(owner, {})[roles[pos]] = key
                self.take(key, f"{kind} ({name}) slot {roles[pos]} of {owner}")
        adams = sorted((k for k, o in instances.items() if o.kind == "adam"), key=lambda k: (k[0] != "Adam", k))
        step = None
        for key in self.free():
            info = self.vs[key]
            m = _NON_SLOT.match(key)
            if m and info.shape == ():
                n = int(m.group(3) or 0)
                if not adams and n == 0:
                    adams = [("Adam", 0)]
                    instances[adams[0]] = OptimizerInfo("adam", "Adam", {}, {}, consts.get("Adam", {}))
                if n < len(adams):  # TF1 numbers the beta powers by Adam creation order: beta1_power, _1, ...
                    instances[adams[n]].counters[m.group(2)] = key
                    self.take(key, f"adam ({instances[adams[n]].name}) {m.group(2)}")
                else:
                    self.reject(key, "beta power of a further Adam optimizer whose slots carry the same names as the "
                                     "first one's (disjoint variables; the .meta tells them apart) or are not in the "
                                     "checkpoint; not migrated (iterations come from global_step)")
            elif key.rsplit("/", 1)[-1] == "global_step" and info.shape == () and "int" in info.dtype:
                step = key
                self.take(key, "global_step")
        return list(instances.values()), step

    # -- cells ------------------------------------------------------------------------------------------------------

    def cells(self) -> list[Block]:
        groups: dict[str, dict[str, list[CellInfo]]] = {}
        free = set(self.free())
        for key in sorted(free):
            if key not in free:  # already taken by a cell found through another of its variables
                continue
            candidates = cell_candidates(key)
            if not candidates:
                continue
            path = candidates[0][0]
            under = {k[len(path) + 1:]: k for k in sorted(free) if k.startswith(path + "/")}

            def fits(row: int) -> bool:
                return set(CELL_TABLE[row][2]) <= set(under) and all(listed(row, n) for n in under)

            path, row = next((c for c in candidates if fits(c[1])), candidates[0])
            dirname, kind, required, optional = CELL_TABLE[row]
            missing = [n for n in required if n not in under]
            extra = [n for n in under if not listed(row, n)]
            renamed = {CELL_RENAMES.get((dirname, required[0]), {}).get(n, n) for n in under}
            peep = [n for n in ("w_f_diag", "w_i_diag", "w_o_diag") if n in renamed]
            problem = ""
            if missing or extra:
                problem = f"a {dirname} ({kind}) stores {list(required + optional)}; missing {missing}, unexpected {extra}"
            elif peep and len(peep) != 3:
                problem = f"LSTMCell peepholes need w_f_diag, w_i_diag and w_o_diag; found only {peep}"
            if problem:
                for k in under.values():
                    self.reject(k, f"unknown cell layout under {path!r}: {problem}", rnn_like=True)
                free -= set(under.values())
                continue
            renames = CELL_RENAMES.get((dirname, required[0]), {})
            under = {renames.get(n, n): k for n, k in under.items()}
            scope, direction, layer, rel = parse_path(path)
            check_cell_variables(kind, under, self.vs)
            # a cell whose configuration only the .meta gives (the grids): read whole, or refused with the reason
            configured = self.configured(kind, path, under) if family(kind).meta_config else None
            if family(kind).meta_config and configured is None:
                free -= set(under.values())
                continue
            units, input_size, proj = configured[:3] if configured else units_and_input(kind, under, self.vs)
            if input_size <= 0:
                raise ShapeError(
                    f"Variable {under[required[0]]!r} has shape {list(self.vs[under[required[0]]].shape)}: it leaves "
                    f"no rows for the input (units={units}), so it is not a {dirname} kernel."
                )
            spec, sources = configured[3:] if configured else self.spec_for(
                kind, units, bool(peep), proj, scope, rel, path, CELL_DEFAULTS.get(dirname))
            if family(kind).read_options is not None:  # the kind's own options, from the stored names and shapes
                options = family(kind).read_options(under, lambda n: self.vs[under[n]].shape)  # type: ignore[misc]
                spec = dataclasses.replace(spec, options=tuple(sorted(options.items())))
            for name, want in tf1_shapes(spec, input_size).items():
                got = self.vs[under[name]].shape
                if tuple(got) != tuple(want):
                    raise ShapeError(f"Received an invalid shape for {under[name]!r}: expected {list(want)} for a "
                                     f"{kind} cell with units={units}, input_size={input_size}; got {list(got)}.")
            cell = CellInfo(path, rel, spec, input_size, dict(under), sources)
            for name, k in under.items():
                self.take(k, f"rnn block {scope or '(root)'}: {rel} {name}")
            free -= set(under.values())
            layers = groups.setdefault(scope, {}).setdefault(direction, [])
            layers.append(cell)
            cell._layer = layer  # type: ignore[attr-defined]
        blocks = []
        for scope, dirs in sorted(groups.items()):
            blocks.append(self.make_block(scope, dirs))
        return [b for b in blocks if b is not None]

    def make_block(self, scope: str, dirs: dict[str, list[CellInfo]]) -> Optional[Block]:
        problem = ""
        for direction, layers in dirs.items():
            layers.sort(key=lambda c: c._layer)  # type: ignore[attr-defined]
            if [c._layer for c in layers] != list(range(len(layers))):  # type: ignore[attr-defined]
                problem = f"MultiRNNCell layers {[c._layer for c in layers]} are not 0..n-1"  # type: ignore[attr-defined]
            for prev, cur in zip(layers, layers[1:]):
                if cur.input_size != prev.spec.output_size:
                    raise ShapeError(
                        f"Variable {cur.path + '/' + next(iter(cur.variables))!r}: layer input {cur.input_size} does "
                        f"not match the output size {prev.spec.output_size} of the layer below ({prev.path})."
                    )
        if set(dirs) == {"fw"} and self.meta is not None and \
                bw_reads_fw(self.meta.main, scope, [k for c in dirs["fw"] for k in c.variables.values()]):
            dirs = {"fw": dirs["fw"], "bw": list(dirs["fw"])}  # one cell object for both directions
        if set(dirs) not in ({""}, {"fw", "bw"}):
            problem = f"directions {sorted(dirs)}: expected one unnamed direction or both fw and bw" + (
                " (a bidirectional_dynamic_rnn given one cell object for both directions is recognized through the "
                "bw loop of the .meta reading the fw variables; put the .meta next to the checkpoint)"
                if set(dirs) == {"fw"} and self.meta is None else "")
        elif len(dirs) == 2 and dirs["fw"][0].input_size != dirs["bw"][0].input_size:
            problem = "fw and bw read inputs of different sizes"
        if problem:
            for cells in dirs.values():
                for c in cells:
                    for k in c.variables.values():
                        del self.consumed[k]
                        self.reject(k, f"RNN block {scope!r}: {problem}", rnn_like=True)
            return None
        return Block(scope, dirs)

    def configured(self, kind: str, path: str, under: dict[str, str]) -> Optional[tuple]:
        """(units, input size, None, spec, sources) of a cell whose configuration only the ``.meta`` gives (the
        row's ``meta_config``); None when it cannot be read: its variables are then refused with the reason."""
        try:
            return configured_spec(family(kind), self.meta, path, {n: self.vs[k].shape for n, k in under.items()})
        except MigrationError as exc:
            for key in under.values():
                self.reject(key, f"{family(kind).tf1_classes[0]} weights under {path!r}, not converted: {exc}", True)
            return None

    def spec_for(self, kind: str, units: int, peep: bool, proj: Optional[int], scope: str, rel: str,
                 path: str, defaults: Optional[dict[str, object]] = None) -> tuple[CellSpec, dict[str, str]]:
        params: dict[str, object] = {}
        sources: dict[str, str] = {}
        row = family(kind)
        wanted = row.meta_hyper
        if self.meta is not None and wanted:
            params = self._meta_hyperparameters(kind, scope, rel, path)
            sources = {k: "meta" for k in params}
        located = bool(params)  # the cell's own ops were found in the .meta
        for key in wanted:
            if key in _OFF_WHEN_ABSENT and key not in params and located:  # no clip op in a located cell: no clipping
                sources[key] = "meta (no clipping op in the cell's graph)"
            elif key not in params:
                sources[key] = "default (no .meta)" if self.meta is None else "default (not found in .meta)"
                if defaults and key in defaults:
                    params[key] = defaults[key]
                    sources[key] += f" of {path.rsplit('/', 1)[-1]}: {defaults[key]!r}"
        params = {k: v for k, v in params.items() if k in wanted}
        if params.get("proj_clip") is not None and proj is None:
            params.pop("proj_clip")
        spec = CellSpec(kind, units, use_peepholes=peep if "use_peepholes" in row.spec_options else False,
                        num_proj=proj if "num_proj" in row.spec_options else None, **params)  # type: ignore[arg-type]
        return spec, sources

    def _op_scopes(self) -> dict[str, list[str]]:
        """cell path -> the op name scopes that use its first variable (see :meth:`MetaGraph.op_scopes`)."""
        if not hasattr(self, "_scopes_cache"):
            self._scopes_cache = {}
            for path in self._all_cell_paths():
                key = next(k for k in self.vs if k.startswith(path + "/"))
                self._scopes_cache[path] = self.meta.op_scopes(key, parse_path(path)[3])  # type: ignore[union-attr]
        return self._scopes_cache

    def _meta_hyperparameters(self, kind: str, scope: str, rel: str, path: str) -> dict[str, object]:
        """Hyper-parameters of one cell from every op scope its variables are used in (the variable scope itself
        when no op uses them); values must agree across scopes."""
        op_scopes = self._op_scopes()
        all_scopes = {s for ss in op_scopes.values() for s in ss} | {parse_path(p)[0] for p in self._all_cell_paths()}
        params: dict[str, object] = {}
        for op_scope in op_scopes.get(path) or [scope]:
            for key, value in self.meta.cell_hyperparameters(op_scope, rel, kind, all_scopes).items():  # type: ignore[union-attr]
                if key in params and params[key] != value:
                    raise MigrationError(f"{self.meta.path!r}: the cell {path!r} is used with {key}={params[key]} "  # type: ignore[union-attr]
                                         f"and {key}={value} in different parts of the graph. Pass the right one "
                                         "explicitly (e.g. --forget-bias).")
                params[key] = value
        fallback = family(kind).meta_fallback
        if fallback is not None and not params:  # LSTMBlockFusedCell: one BlockLSTM op outside any cell scope
            params = fallback(self.meta, next(k for k in self.vs if k.startswith(path + "/")))
        return params

    def _all_cell_paths(self) -> list[str]:
        if not hasattr(self, "_paths"):
            self._paths = [p for p in (cell_path(k) for k in self.vs) if p is not None]
        return [p for p, _ in self._paths]

    # -- embeddings, dense, leftovers ---------------------------------------------------------------------------

    def embeddings(self) -> list[EmbeddingInfo]:
        out: list[EmbeddingInfo] = []
        lookups = self.meta.embedding_lookups() if self.meta else {}
        for key in self.free():
            info = self.vs[key]
            if len(info.shape) != 2:
                continue
            named = bool(_EMBED_NAME.search(key.rsplit("/", 1)[-1]))
            if key not in lookups and not named:
                continue
            if self.meta is None:
                emb = EmbeddingInfo(key, "variable", info.shape, info.dtype, None, None,
                                    "no .meta: if this variable was partitioned and looked up with the default "
                                    "partition_strategy='mod', the rows need a permutation that cannot be known "
                                    "without the graph; rows are written as saved (correct for unpartitioned or 'div')")
            else:
                parts = self.meta.num_partitions(key)
                strategy = lookups.get(key) if parts > 1 else None
                emb = EmbeddingInfo(key, "variable", info.shape, info.dtype, parts, strategy)
                if parts > 1 and strategy is None:
                    emb.strategy = "mod"
                    emb.note = "partitioned, lookup not found in the graph: assumed TF1's default 'mod'"
            self.take(key, f"embedding {key}")
            out.append(emb)
        if self.meta is not None:
            for const in self.meta.const_embeddings():
                out.append(EmbeddingInfo(const.node, "graph_constant", const.shape, const.dtype, 1, None,
                                         f"NumPy matrix embedded in the graph as Const {const.node!r} feeding "
                                         f"{const.lookup!r}; not in the checkpoint"))
        return out

    def dense(self) -> list[DenseInfo]:
        out: list[DenseInfo] = []
        free = set(self.free())
        for key in sorted(free):
            info = self.vs[key]
            if len(info.shape) != 2 or "/" not in key:
                continue
            scope, last = key.rsplit("/", 1)
            if is_rnn_like(key):
                continue  # never read an RNN-looking scope as a dense head: leftovers() reports it
            pairs = [(f"{scope}/{b}", scope) for w, b in _DENSE_PAIRS if last == w]
            m = re.fullmatch(r"(.+)_(w|W|weights?)", last)  # PTB/char-rnn: softmax_w + softmax_b, out_W + out_b
            if m:
                pairs += [(f"{scope}/{m.group(1)}_{b}", f"{scope}/{m.group(1)}") for b in ("b", "bias", "biases")]
            for bias, name in pairs:
                if bias in free and self.vs[bias].shape == (info.shape[1],):
                    out.append(DenseInfo(name, key, bias, info.shape))
                    self.take(key, f"dense {name} kernel")
                    self.take(bias, f"dense {name} bias")
                    free.discard(bias)
                    break
        free = set(self.free())
        for w, b, name in _SPLIT_DENSE:
            if w in free and b in free and len(self.vs[w].shape) == 2 and self.vs[b].shape == (self.vs[w].shape[1],):
                out.append(DenseInfo(name, w, b, self.vs[w].shape))
                self.take(w, f"dense {name} kernel")
                self.take(b, f"dense {name} bias")
        unnamed: dict[str, list[tuple[int, str]]] = {}
        for key in self.free():
            m = _UNNAMED.match(key)
            if m:
                unnamed.setdefault(m.group(1) or "", []).append((int(m.group(2) or 0), key))
        for group in unnamed.values():
            group.sort()
            # ``weights``/``biases`` dicts of tf.Variables: all kernels were created first, then all biases
            mats = [k for _, k in group if len(self.vs[k].shape) in (1, 2)]
            half = len(mats) // 2
            if half >= 2 and len(mats) % 2 == 0 and all(len(self.vs[k].shape) == 2 for k in mats[:half]) and all(
                    self.vs[b].shape == (self.vs[k].shape[1],) for k, b in zip(mats[:half], mats[half:])):
                for k, b in zip(mats[:half], mats[half:]):
                    out.append(DenseInfo(k, k, b, self.vs[k].shape))
                    self.take(k, f"dense {k} kernel (tf.Variable weights dict, kernels created first)")
                    self.take(b, f"dense {k} bias (tf.Variable biases dict)")
                continue
            for (i, k), (j, b) in zip(group, group[1:]):
                if k in self.consumed or j != i + 1:
                    continue
                ks, bs = self.vs[k].shape, self.vs[b].shape
                if len(ks) == 2 and bs == (ks[1],):
                    out.append(DenseInfo(k, k, b, ks))
                    self.take(k, f"dense {k} kernel (unnamed tf.Variable pair)")
                    self.take(b, f"dense {k} bias (unnamed tf.Variable pair)")
        return out

    def leftovers(self) -> None:
        for key in self.free():
            info = self.vs[key]
            what = bookkeeping.classify(key, info)
            if what is not None:
                self.bookkeeping[key] = what
                self.take(key, f"distributed-training bookkeeping: {what} (not migrated)")
                continue
            comps = key.split("/")
            rnn_like = is_rnn_like(key)
            if comps[-1] == "opaque_kernel" and len(info.shape) == 1:
                reason = ("cuDNN opaque parameter buffer (CudnnLSTM/CudnnGRU) without canonical "
                          "cudnn_compatible_*_cell variables that match it: split it with "
                          "migration.cudnn_converters.opaque_to_tf1(buffer, rnn_mode, num_layers, num_units, "
                          "input_size, bidirectional) using the layer's configuration")
                rnn_like = True
                if self.meta is not None:
                    try:
                        layouts = opaque_layouts(self.meta, self.vs, [key])
                    except MigrationError as exc:
                        reason += f" ({exc})"
                        layouts = []
                    if layouts:
                        lay = layouts[0]
                        reason = (f"cuDNN opaque parameter buffer: {lay.mode}, {lay.num_layers} layer(s) of "
                                  f"{lay.num_units} units, input {lay.input_size}"
                                  f"{', bidirectional' if lay.bidirectional else ''} (the CudnnRNN op {lay.op!r} of "
                                  "the .meta): `rnn-migrate convert` splits it into the canonical "
                                  "cudnn_compatible_* cells (checked by the weaker rebuilt check: no CPU kernel)")
            elif rnn_like:
                reason = (f"under an RNN-looking scope ({'/'.join(comps[:-1])}) but no row of the cell table matches "
                          f"(known cell directories: {[r[0] for r in CELL_TABLE]})")
            elif len(info.shape) == 3:
                reason = ("3-D variable read by no recognized block (seed 004's `data = tf.Variable(tf.zeros([batch, "
                          "T, E]))` is such an unused placeholder-like variable); not migrated")
            elif info.shape == ():
                reason = "scalar that is neither global_step nor an Adam beta power; not migrated"
            else:
                reason = f"{len(info.shape)}-D variable that matches no embedding, dense or optimizer rule; not migrated"
            self.reject(key, reason, rnn_like)


def recognize(prefix: str, variables: dict[str, VariableInfo], meta: Optional[MetaGraph],
              use_ema: bool = False) -> Inspection:
    """Classify every variable of a checkpoint (see the module table).

    ``use_ema``: recognized weights read their ``ExponentialMovingAverage`` shadows (``convert --use-ema``); without
    it the shadows are listed in ``unrecognized`` with the remedy, never silently dropped.
    """
    r = Recognizer(prefix, variables, meta)
    r.check_against_meta()
    shadows = families.ema(r, use_ema)
    optimizers, step = r.optimizers()
    attention = seq2seq.take(r)  # before the cells: a wrapped cell belongs to its AttentionWrapper
    blocks = r.cells()
    seq2seq.legacy_cells_problem(attention, blocks)
    names: set[str] = set()
    for block in blocks:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", block.scope) or "root"
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}_{n}"
        names.add(name)
        block.name = name
    families.cudnn_opaque(r, blocks)
    r.notes += families.stacked_bidirectional_notes(blocks)
    wrapped_embeddings, wrapped_dense = families.wrappers(r)
    families.attention_cell_wrappers(r, blocks)
    embeddings = wrapped_embeddings + r.embeddings()
    dense = wrapped_dense + r.dense()
    crf = families.crf(r)
    conv = recognize_conv(r)
    dense += biasless(r)  # after every paired or named rule: only kernels nothing else reads
    r.leftovers()
    families.apply_ema(r, shadows, blocks, embeddings, dense, optimizers)
    if meta is None:
        r.notes.append("no .meta graph: hyper-parameters that checkpoints do not store (forget_bias, cell_clip, "
                       "proj_clip, activation, partition strategy) take their TF1 defaults; pass --forget-bias if needed")
    check_accounting(list(r.consumed), [u.name for u in r.unrecognized], variables)
    # slots of variables nothing consumed are themselves unrecognized
    for opt in optimizers:
        for owner in list(opt.slots):
            if owner not in r.consumed:
                for role, key in opt.slots.pop(owner).items():
                    del r.consumed[key]
                    r.reject(key, f"{opt.kind} slot {role} of {owner!r}, which is itself not migrated")
    return Inspection(prefix, meta.path if meta else None, dict(variables), blocks, embeddings, dense, optimizers,
                      step, r.unrecognized, r.consumed, r.notes, dict(shadows) if use_ema else {}, r.bookkeeping,
                      crf, conv, attention)


def inspect_checkpoint(path: str, use_ema: bool = False) -> Inspection:
    """Resolve and validate ``path`` (prefix, file or directory), parse its ``.meta`` if any, and recognize it."""

    reader = CheckpointReader(path)
    return recognize(reader.prefix, reader.variables, load_meta(reader.prefix), use_ema=use_ema)


__all__ = ["Block", "CellInfo", "EmbeddingInfo", "DenseInfo", "OptimizerInfo", "Unrecognized", "Inspection",
           "recognize", "inspect_checkpoint", "AccountingError", "check_accounting", "CELL_TABLE", "SLOT_TABLE", "MigrationError",
           "CELL_RENAMES", "CELL_DEFAULTS", "EMA_NAMES", "KERAS_OPTIMIZERS"]
