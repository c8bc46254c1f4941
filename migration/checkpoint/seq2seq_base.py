"""What both kinds of seq2seq model share (``tf.contrib.seq2seq`` attention decoders in :mod:`.seq2seq`,
``legacy_seq2seq.embedding_attention_seq2seq`` in :mod:`.seq2seq_legacy`): the inspected item
(:class:`Seq2SeqInfo`) and the writing of its optimizer slots (:func:`write_slots`). Below both modules and
:mod:`.seq2seq_graph`, so none of them imports another to reach these.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Optional

import numpy as np

from migration import seq2seq_converters as s2c
from migration.checkpoint.manifest import safe_name
from migration.core.errors import MigrationError
from migration.core.specs import CellSpec


@dataclasses.dataclass
class Seq2SeqInfo:
    """One attention decoder found in a checkpoint (``kind`` ``contrib.seq2seq.AttentionWrapper`` or
    ``legacy_seq2seq.attention_decoder``)."""

    kind: str
    name: str
    block: Any                                  # s2c.AttentionWrapperBlock | s2c.AttentionDecoderBlock
    spec: Optional[CellSpec] = None
    hyper_sources: dict[str, str] = dataclasses.field(default_factory=dict)
    embedding: Optional[str] = None             # checkpoint key of the decoder embedding (from the .meta)
    projection: Optional[tuple[str, Optional[str]]] = None   # (kernel key, bias key) of the output layer
    output_attention: Optional[bool] = None
    assumed: dict[str, str] = dataclasses.field(default_factory=dict)
    problem: str = ""
    legacy: Optional[dict[str, Any]] = None     # embedding_attention_seq2seq (:mod:`.seq2seq_legacy`)
    names: tuple[str, ...] = ()                 # every checkpoint key this model consumes
    graph_output_attention: Optional[bool] = None   # read from the .meta by seq2seq_graph.locate

    @property
    def convertible(self) -> bool:
        return not self.problem

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "name": self.name, **s2c.describe_block(self.block)}
        out["kind"] = self.kind
        if self.spec is not None:
            out["cell_spec"] = self.spec.to_dict()
            out["hyper_sources"] = dict(self.hyper_sources)
        out.update({"embedding": self.embedding, "projection": list(self.projection) if self.projection else None,
                    "output_attention": self.output_attention, "assumed": dict(self.assumed),
                    "convertible": self.convertible, "problem": self.problem})
        if self.legacy is not None:
            d = self.legacy
            out.update({"legacy": dict(d), "variables": sorted(self.names),
                        "keras": f"modern_rnn.seq2seq.models.LegacyAttentionSeq2SeqModel({d['kind']} cell units="
                                 f"{d['units']}, {d['num_encoder_symbols']}, {d['num_decoder_symbols']}, "
                                 f"{d['embedding_size']}, num_heads={d['num_heads']})"})
        return out


def write_slots(conv, name: str, keys: set[str], required: set[str], to_keras) -> dict[str, dict[str, str]]:
    """The slots of one seq2seq model (either kind), role by role: every ``required`` weight must have the role (else
    a named refusal), ``to_keras({checkpoint key: slot array})`` gives ``{Keras weight name: array}`` converted like
    the weights, saved as ``optimizer/<role>/seq2seq/<name>/<weight>.npy``. Returns ``{Keras weight: {role: file}}``;
    ``{}`` without ``--with-optimizer`` or without slots (then the slots are named as not migrated)."""
    slotted = {k for k in keys if conv.slot_index.get(k)}
    if not conv.with_optimizer or not slotted:
        for key in keys:
            for role, slot in conv.slot_index.get(key, {}).items():
                conv.destinations[slot] = "not migrated (pass --with-optimizer)"
        return {}
    roles: dict[str, dict[str, str]] = {}
    for key in sorted(slotted):
        for role, slot in conv.slot_index[key].items():
            roles.setdefault(role, {})[key] = slot
    out: dict[str, dict[str, str]] = {}
    for role, by_key in roles.items():
        missing = sorted(required - set(by_key))
        if missing:
            raise MigrationError(f"Optimizer slot {role!r} is missing for {missing[:3]} of the seq2seq model "
                                 f"{name!r} (it has slots for {len(by_key)} of its weights); the checkpoint is "
                                 "inconsistent or part of the model was frozen. Convert without --with-optimizer.")
        named = to_keras({key: conv.read_weight(slot) for key, slot in by_key.items()})
        for weight, array in named.items():
            rel = conv.rel("optimizer", role, "seq2seq", name, f"{safe_name(weight)}.npy")
            np.save(os.path.join(conv.tmp, rel), np.asarray(array, np.float32), allow_pickle=False)
            out.setdefault(weight, {})[role] = rel
        for key, slot in by_key.items():
            conv.destinations[slot] = f"optimizer/{role}/seq2seq/{name} (converted like {key})"
    return out


def run_loaded(fetch, value_of) -> Any:
    """``fetch`` of the current default graph, run once in a new session whose variables hold ``value_of(var)``.

    Every variable's initializer runs with its value fed, all in ONE run (``Variable.load`` is a run of its own each,
    a new pruned executor); the graph runs as written, like the sandbox's (no Grappler rewrites, no classic
    optimizer: a graph built to be run once, where those passes cost more than the run)."""
    import legacy_rnn

    v1 = legacy_rnn.v1
    config = v1.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    config.graph_options.optimizer_options.opt_level = v1.OptimizerOptions.L0
    variables = v1.global_variables()
    with v1.Session(config=config) as sess:
        sess.run([v.initializer for v in variables], {v.initializer.inputs[1]: value_of(v) for v in variables})
        return sess.run(fetch)
