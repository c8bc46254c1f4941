"""The one-line verdict of a verification report (``VerifyReport.to_dict()``): what was compared with what. Shared by
``rnn-migrate convert``/``verify`` and the demo (:mod:`migration.demo`), which therefore say the same thing."""
from __future__ import annotations


def verdict(verification: dict) -> str:
    """One line that says what was compared with what: never a bare "verified" for a rebuilt reference or for a
    .meta of unproven provenance (:mod:`migration.checkpoint.provenance`)."""
    refs = verification.get("references", {})
    weak = sorted(name for name, r in refs.items() if r != "original-graph")
    if not verification["ok"]:
        return f"verification FAILED (tolerance {verification['tolerance']})"
    if refs and not weak and verification.get("meta_provenance"):
        return (f"verified against a .meta of unproven provenance (tolerance {verification['tolerance']}; see the "
                f"warning): {', '.join(sorted(refs))}")
    if refs and not weak:
        return (f"verified against the original graph (tolerance {verification['tolerance']}): "
                f"{', '.join(sorted(refs))}")
    return (f"checked against a TF1 graph rebuilt from our reading of the checkpoint (weaker: a misread "
            f"hyper-parameter would pass) for {', '.join(weak) or 'every block'}; see the notes "
            f"(tolerance {verification['tolerance']})")
