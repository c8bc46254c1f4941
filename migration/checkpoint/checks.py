"""What a verification reports: one :class:`Check` per compared output and the :class:`VerifyReport` of them all.

Kept below :mod:`migration.checkpoint.verify` so that every item's verifier (stacks, wrapped blocks, ConvLSTM blocks,
seq2seq models) returns checks without importing the verification job itself.
"""
from __future__ import annotations

import dataclasses

TOLERANCE = 1e-5


#: What a check compared against (strongest first); "manifest": the directory against the manifest's file record;
#: "decoder-rebuilt": a seq2seq model's greedy / beam-search decoding, which its training graph does not hold,
#: compared with TF1's own decoder rebuilt on the same converted weights, after the model itself was checked against
#: the original graph (its weights and hyper-parameters; the decode loop is the library's, not read from the user).
REFERENCES = ("original-graph", "rebuilt", "checkpoint", "manifest", "decoder-rebuilt")


@dataclasses.dataclass
class Check:
    what: str
    output: str
    max_abs_diff: float
    shape: list[int]
    reference: str = "checkpoint"

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
        """The largest numerical difference (the directory check's rows count for ``ok`` only)."""
        return max((c.max_abs_diff for c in self.checks if c.reference != "manifest"), default=float("nan"))

    @property
    def references(self) -> dict[str, str]:
        """Block or model name -> the reference its checks used."""
        out: dict[str, str] = {}
        for c in self.checks:
            if c.reference not in ("checkpoint", "manifest", "decoder-rebuilt"):
                out.setdefault(c.what, c.reference)
        return out

    @property
    def original_graph(self) -> bool:
        """True when every block and the whole model were checked against the original graph."""
        refs = self.references
        return bool(refs) and all(r == "original-graph" for r in refs.values())

    def to_dict(self) -> dict:
        return {"ok": self.ok, "tolerance": self.tolerance, "max_abs_diff": self.worst,
                "reference": "original-graph" if self.original_graph else "rebuilt",
                "references": self.references,
                "checks": [c.to_dict() for c in self.checks], "notes": self.notes}
