"""What ``inspect`` finds in a checkpoint: the items of an :class:`Inspection` (RNN blocks of cells, embeddings, dense
heads, optimizer slots, unrecognized variables) and the guarantee that every variable is accounted for exactly once.

The recognizer (:mod:`migration.checkpoint.recognize`) and its extra steps (:mod:`migration.checkpoint.families`)
fill these; ``convert``, ``verify`` and ``export`` read them.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

from migration.checkpoint.reader import VariableInfo
from migration.core.specs import CellSpec


@dataclasses.dataclass
class CellInfo:
    """One layer of one direction of an RNN block."""

    path: str
    rel_path: str
    spec: CellSpec
    input_size: int
    variables: dict[str, str]
    hyper_sources: dict[str, str]

    def to_dict(self) -> dict:
        return {"path": self.path, "rel_path": self.rel_path, "spec": self.spec.to_dict(), "input_size": self.input_size,
                "variables": dict(self.variables), "hyper_sources": dict(self.hyper_sources)}


@dataclasses.dataclass
class Block:
    """An RNN block: ``dynamic_rnn`` (direction ``""``) or ``bidirectional_dynamic_rnn`` (``fw``, ``bw``) over one
    cell or a ``MultiRNNCell`` stack, under ``scope``."""

    scope: str
    directions: dict[str, list[CellInfo]]
    name: str = ""
    wrapper: Optional[dict] = None  # an AttentionCellWrapper around the cell (migration.checkpoint.wrapped)

    @property
    def bidirectional(self) -> bool:
        return set(self.directions) == {"fw", "bw"}

    @property
    def input_size(self) -> int:
        if self.wrapper:  # the block reads x; the wrapped cell reads the wrapper's projection
            return int(self.wrapper["input_depth"])
        return next(iter(self.directions.values()))[0].input_size

    @property
    def cells(self) -> list[CellInfo]:
        return [c for d in sorted(self.directions) for c in self.directions[d]]

    def describe(self) -> str:
        layers = next(iter(self.directions.values()))
        kinds = "+".join(c.spec.kind for c in layers)
        return (f"{'bidirectional ' if self.bidirectional else ''}{kinds} units={[c.spec.units for c in layers]} "
                f"input={self.input_size} layers={len(layers)}")

    def to_dict(self) -> dict:
        return {"scope": self.scope, "name": self.name, "bidirectional": self.bidirectional,
                "input_size": self.input_size, "layers": len(next(iter(self.directions.values()))),
                "directions": {d: [c.to_dict() for c in cells] for d, cells in self.directions.items()},
                **({"wrapper": self.wrapper} if self.wrapper else {})}


@dataclasses.dataclass
class EmbeddingInfo:
    name: str
    source: str  # "variable" | "graph_constant"
    shape: tuple[int, ...]
    dtype: str
    partitions: Optional[int] = None  # None: unknown (no .meta)
    strategy: Optional[str] = None  # 'mod' / 'div' lookup strategy when partitioned
    note: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class DenseInfo:
    name: str
    kernel: str
    bias: Optional[str]  # None: a bias-less Dense (``use_bias=False``, ``x @ softmax_w``)
    shape: tuple[int, int]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class OptimizerInfo:
    kind: str
    name: str
    slots: dict[str, dict[str, str]]  # variable key -> role -> slot key
    counters: dict[str, str]  # beta1_power -> key
    constants: dict[str, float]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Unrecognized:
    name: str
    shape: tuple[int, ...]
    reason: str
    rnn_like: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Inspection:
    """What :func:`recognize` found; ``consumed`` maps every recognized key to its role."""

    prefix: str
    meta_path: Optional[str]
    variables: dict[str, VariableInfo]
    blocks: list[Block]
    embeddings: list[EmbeddingInfo]
    dense: list[DenseInfo]
    optimizers: list[OptimizerInfo]
    global_step: Optional[str]
    unrecognized: list[Unrecognized]
    consumed: dict[str, str]
    notes: list[str]
    #: with ``use_ema``: variable -> the ExponentialMovingAverage shadow converted in its place
    ema_shadows: dict[str, str] = dataclasses.field(default_factory=dict)
    #: distributed-training counters (``sync_rep_local_step`` ...) -> what wrote them (recognized, not migrated)
    bookkeeping: dict[str, str] = dataclasses.field(default_factory=dict)
    #: ``tf.contrib.crf`` transition matrices ``[N, N]`` (exported unchanged for ``modern_rnn.CRF``)
    crf: list[str] = dataclasses.field(default_factory=list)
    #: ``tf.contrib.rnn.ConvLSTMCell`` blocks (:mod:`migration.checkpoint.conv_blocks`)
    conv_blocks: list = dataclasses.field(default_factory=list)
    #: attention decoders (:mod:`migration.checkpoint.seq2seq`)
    seq2seq: list = dataclasses.field(default_factory=list)

    @property
    def convertible(self) -> bool:
        return bool(self.blocks or self.conv_blocks or self.seq2seq) \
            and not any(u.rnn_like for u in self.unrecognized) and all(s.convertible for s in self.seq2seq)

    def problems(self) -> list[str]:
        """Why ``convert`` would refuse this checkpoint (empty when it would not)."""
        out = [f"variable {u.name!r} {list(u.shape)}: {u.reason}" for u in self.unrecognized if u.rnn_like]
        out += [f"seq2seq {s.name}: {s.problem}" for s in self.seq2seq if s.problem]
        if not self.blocks and not self.conv_blocks and not self.seq2seq:
            out.insert(0, f"checkpoint {self.prefix!r} holds no RNN cell that rnn-migrate recognizes "
                          f"(expected e.g. rnn/basic_lstm_cell/kernel; the cell table is in `rnn-migrate inspect --help`)")
        return out

    def to_dict(self) -> dict:
        return {
            "checkpoint": self.prefix, "meta": self.meta_path,
            "variables": {k: {"shape": list(v.shape), "dtype": v.dtype} for k, v in self.variables.items()},
            "blocks": [b.to_dict() for b in self.blocks],
            "embeddings": [e.to_dict() for e in self.embeddings],
            "dense": [d.to_dict() for d in self.dense],
            "optimizers": [o.to_dict() for o in self.optimizers],
            "global_step": self.global_step,
            "unrecognized": [u.to_dict() for u in self.unrecognized],
            "consumed": dict(self.consumed),
            "bookkeeping": dict(self.bookkeeping),
            "crf": list(self.crf),
            "conv_blocks": [c.to_dict() for c in self.conv_blocks],
            "seq2seq": [s.to_dict() for s in self.seq2seq],
            "notes": list(self.notes),
            "convertible": self.convertible,
            "problems": self.problems(),
        }


#: ``tf.train.ExponentialMovingAverage`` shadow variables: ``<var>/<name>`` (default name below), same shape.
EMA_NAMES: tuple[str, ...] = ("ExponentialMovingAverage",)


def ema_owner(name: str, variables: dict[str, VariableInfo]) -> Optional[str]:
    """The variable whose EMA shadow ``name`` is (same shape, last component in :data:`EMA_NAMES`), or None."""
    if "/" not in name:
        return None
    owner, last = name.rsplit("/", 1)
    if last in EMA_NAMES and owner in variables and variables[owner].shape == variables[name].shape:
        return owner
    return None



class AccountingError(RuntimeError):
    """A checkpoint variable was consumed twice, or neither consumed nor listed as unrecognized: a bug in rnn-migrate
    (the CLI exits 3), raised instead of going on with a variable skipped silently."""


def check_accounting(consumed: list[str], rejected: list[str], variables: dict[str, VariableInfo]) -> None:
    """Every checkpoint variable exactly once: consumed by something recognized or listed as unrecognized."""
    seen: dict[str, int] = {}
    for key in consumed + rejected:
        seen[key] = seen.get(key, 0) + 1
    twice = sorted(k for k, n in seen.items() if n > 1)
    missing = sorted(set(variables) - set(seen))
    unknown = sorted(set(seen) - set(variables))
    if twice or missing or unknown:
        raise AccountingError(
            f"every checkpoint variable must be accounted for exactly once; counted twice: {twice}, neither consumed "
            f"nor listed as unrecognized: {missing}, not in the checkpoint: {unknown}. This is a bug in rnn-migrate; "
            "please report it with `rnn-migrate inspect --json` output.")
