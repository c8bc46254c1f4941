"""The references of a ``seq2seq`` entry's target files (:mod:`migration.targets.seq2seq_export`): what
:func:`migration.checkpoint.seq2seq.verify_entry` compares the Keras 2 file with, as cases a target file is run on.

* teacher-forced logits: the ORIGINAL graph (sandbox) fed the same random memory, ragged lengths, ids (and encoder
  state) at the decoder's tensors (reference ``original-graph``); without a usable ``.meta``, a TF1 graph rebuilt from
  ``legacy_rnn.seq2seq`` on the checkpoint (``rebuilt``, weaker);
* greedy ids: the graph's own ``GreedyEmbeddingHelper`` decoder when it has one (its start / end tokens and
  ``maximum_iterations`` from the ``.meta``), else a rebuilt TF1 greedy decoder (start 0, end 1, 6 steps);
* beam ids: a rebuilt TF1 ``BeamSearchDecoder`` (width 3, 6 steps; a training graph has no beam decoder).

Decode ids are checked only for a model with its embedding (they feed back token ids), as ``verify`` does.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from migration.checkpoint.seq2seq import entry_feeds, graph_feeds, rebuilt_decode
from migration.checkpoint.seq2seq_graph import run_original
from migration.graph.limits import SandboxLimit

GREEDY = {"start": 0, "end": 1, "maximum_iterations": 6}
BEAM = {"start": 0, "end": 1, "beam_width": 3, "maximum_iterations": 6}


def _graph_greedy(original, in_graph: dict, feeds: dict, what: str, notes: list):
    """The graph's own greedy ids, or None (the reason in ``notes``)."""
    try:
        (ids,) = original.run([in_graph["ids"]], feeds)
    except SandboxLimit:
        raise
    except Exception as exc:  # noqa: BLE001 - said, then checked against a rebuilt decoder
        notes.append(f"{what}: the graph's greedy decoder could not be run ({exc})")
        return None
    return ids.T if in_graph["time_major"] else ids


def references(checkpoint: str, entry: dict, model, original, seed: int = 0) -> tuple[list[dict], list[str]]:
    """(cases, notes) of one entry: each case ``{what, output, inputs, call, expected, reference}``; ``model``: the
    target's model (its ``embedding`` / ``vocab_size`` choose the feeds, as the Keras 2 model's do)."""
    what, notes = f"seq2seq {entry['name']}", []
    data = entry_feeds(entry, model, seed)
    graph = entry.get("graph")
    in_graph = (graph or {}).get("greedy") if original is not None and model.embedding is not None else None
    expected, reference, graph_ids = None, "rebuilt", None
    if original is not None and graph:
        feeds = graph_feeds(graph, data)
        expected = run_original(lambda: original.run([graph["logits"]], feeds)[0], what, notes)
        reference = "original-graph" if expected is not None else reference
        if in_graph:
            graph_ids = _graph_greedy(original, in_graph, feeds, what, notes)
    else:
        run_original(None, what, notes, entry.get("graph_note"))
    if expected is None:
        expected = rebuilt_decode(checkpoint, entry, data, "teacher")
    batch, steps = data["ids"].shape[:2]
    expected = np.asarray(expected)
    if expected.size % (batch * steps) == 0:
        expected = expected.reshape(batch, steps, -1)
    start = np.zeros(batch, np.int32)
    cases: list[dict[str, Any]] = [{"what": what, "output": "teacher-forced logits", "reference": reference,
                                    "inputs": [data["ids"], data["memory"], data["lengths"], *data["state"]],
                                    "call": None, "expected": expected}]
    if model.embedding is None:
        return cases, notes
    decoded = "decoder-rebuilt" if reference == "original-graph" else "rebuilt"
    if graph_ids is not None:
        g = in_graph
        cases.append(_decode_case(what, "greedy", data, np.full(batch, g["start"], np.int32),
                                  {"end_token": g["end"], "maximum_iterations": g["maximum_iterations"]},
                                  graph_ids, "original-graph"))
    else:
        ids = rebuilt_decode(checkpoint, entry, data, "greedy")
        cases.append(_decode_case(what, "greedy", data, start, {"end_token": GREEDY["end"], "maximum_iterations":
                                                                GREEDY["maximum_iterations"]}, ids, decoded))
    ids = rebuilt_decode(checkpoint, entry, data, "beam")
    cases.append(_decode_case(what, "beam", data, start, {"end_token": BEAM["end"], "beam_width": BEAM["beam_width"],
                                                          "maximum_iterations": BEAM["maximum_iterations"]},
                              ids, decoded))
    return cases, notes


def _decode_case(what: str, mode: str, data: dict, start, kwargs: dict, ids, reference: str) -> dict:
    return {"what": f"{what} {mode}", "output": f"{mode} ids (equal)", "reference": reference,
            "inputs": [data["memory"], data["lengths"], start],
            "call": {"method": "greedy" if mode == "greedy" else "beam_search", "kwargs": kwargs},
            "expected": np.asarray(ids)}


def reference_function(checkpoint: str):
    """``reference(entry, model, original)`` for :func:`migration.targets.seq2seq_export.verify`."""
    return lambda entry, model, original: references(checkpoint, entry, model, original)
