"""Default whole-model outputs of a ``legacy_seq2seq`` attention graph (``embedding_attention_seq2seq``,
``attention_decoder``), optionally bucketed by ``model_with_buckets``.

The loss frontier of :mod:`migration.graph.model_outputs` cannot find these predictions: the decoder's id
placeholders are its inputs *and*, shifted by one, its labels (``targets = decoder_inputs[1:]``), so every decoder step
after the first depends on a label. The per-step outputs are found by name instead: each decoder copy's
``AttnOutputProjection[_k]/BiasAdd`` (the list ``attention_decoder`` returns; with ``output_projection=(w, b)`` the
vectors the sampled-softmax loss projects).

``model_with_buckets`` builds one copy per bucket on the same variables. The whole model is the **first** copy (the
first bucket: the inputs are only its placeholders); the converted ``seq2seq/<name>.keras`` takes any bucket's
lengths, and ``convert --outputs`` names another bucket's outputs.
"""
from __future__ import annotations

import re

_STEP = re.compile(r"^(?P<copy>(?:.*/)?attention_decoder)/AttnOutputProjection(?:_(?P<k>\d+))?/(?:BiasAdd|add)$")


def decoder_copies(index) -> list[list[str]]:
    """Each legacy attention decoder copy's per-step output tensors, in step order; copies in graph order."""
    copies: dict[str, list[tuple[int, str]]] = {}
    for node in index.graph_def.node:
        m = _STEP.match(node.name)
        if m and node.op in ("BiasAdd", "Add", "AddV2"):
            copies.setdefault(m.group("copy"), []).append((int(m.group("k") or 0), f"{node.name}:0"))
    return [[t for _, t in sorted(steps)] for steps in copies.values()]


def bucket_outputs(index, roots: list[str]) -> list[str]:
    """The first decoder copy's step outputs when the loss predictions ``roots`` were read inside a legacy attention
    seq2seq (a root in a copy's encoder or decoder), else ``[]``."""
    copies = decoder_copies(index)
    if not copies:
        return []
    seq2seq = re.compile(r"(?:^|/)embedding_attention_seq2seq(?:_\d+)?/|(?:^|/)attention_decoder/")
    if roots and not any(seq2seq.search(r) for r in roots):
        return []
    return copies[0]
