"""``convert --target keras3`` for the manifest's ``seq2seq`` entries (``export.SEQ2SEQ_EXPORTERS["keras3"]``):
``seq2seq/<name>.keras3.keras`` beside each ``tf.contrib.seq2seq`` ``AttentionDecoderModel``
(:mod:`migration.targets.seq2seq_twins`), and the Keras 3 twins of a whole model's ``TeacherForcedDecoder`` layers.

Checks (:func:`verify_decoders`), on the inputs the Keras 2 file's check uses
(:func:`migration.graph.seq2seq_feeds.decoder_feeds`): the teacher-forced logits against the ORIGINAL graph's at the
decoder's tensors (without a usable ``.meta``: the Keras 2 model's, weaker, noted); greedy ids against the graph's own
greedy decoder when the ``.meta`` holds one, else, and beam ids always, against the Keras 2 model's decodes (start 0,
end 1, beam width 3, 6 steps; itself checked against TF1 inference graphs rebuilt on the same weights by ``verify``).
Each file is run as a user loads it (safe mode) on TensorFlow here and on JAX in one child process
(:mod:`migration.targets.keras3_child`). ``legacy_seq2seq`` models are not taken (their refusal names them).
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional

import numpy as np

KIND = "contrib.seq2seq.AttentionWrapper"
SUFFIX = ".keras3.keras"
GREEDY = {"start": 0, "end": 1, "maximum_iterations": 6}
BEAM = {"beam_width": 3, **GREEDY}


def takes(info) -> bool:
    """True for a seq2seq entry (a manifest dict or a ``Seq2SeqInfo``) this target exports: a tf.contrib.seq2seq
    AttentionWrapper decoder the Keras 2 conversion takes."""
    get = info.get if isinstance(info, dict) else lambda k, d=None: getattr(info, k, d)
    return get("kind") == KIND and not get("problem") and not get("legacy")


def _keras2(tmp: str, entry: dict):
    import modern_rnn.seq2seq.models  # noqa: F401  (registers the Keras 2 AttentionDecoderModel)
    from migration.safe_io import confined_path, load_keras_model

    return load_keras_model(confined_path(tmp, entry["file"], what="seq2seq model file"))


def write_decoders(tmp: str, entries: list[dict], notes: list[str]) -> dict[str, str]:
    """Write ``seq2seq/<name>.keras3.keras`` for every entry :func:`takes`: name -> file (relative to ``tmp``); a
    decoder without a twin gets a note naming why (its Keras 2 file stays)."""
    from migration.targets import seq2seq_twins
    from migration.targets.glue import NotExportable

    files = {}
    for entry in entries:
        if not takes(entry):
            continue
        rel = os.path.splitext(entry["file"])[0] + SUFFIX
        try:
            model = seq2seq_twins.decoder_model(_keras2(tmp, entry))
        except NotExportable as exc:
            notes.append(f"keras3: seq2seq {entry['name']} not exported ({rel}): {exc}")
            continue
        model.save(os.path.join(tmp, rel))
        files[entry["name"]] = rel
    return files


def not_exported(files: dict[str, str]) -> list[str]:
    """Nothing of a written decoder is left out (teacher forced, greedy and beam search are all in the file)."""
    return []


def load(path: str):
    """A Keras 3 seq2seq file in safe mode (the classes of :mod:`migration.targets.keras3_seq2seq` registered)."""
    import keras

    from migration.targets import keras3_seq2seq  # noqa: F401  (registers rnn_migrate>AttentionDecoderModel, ...)

    return keras.saving.load_model(path, safe_mode=True, compile=False)


def _logits_case(entry: dict, k2, data: dict, original, notes: list[str]) -> dict:
    """The teacher-forced case: the original graph's logits, else the Keras 2 model's (noted)."""
    from migration.graph.limits import SandboxLimit
    from migration.graph.seq2seq_feeds import graph_feeds

    what, graph = f"seq2seq {entry['name']}", entry.get("graph")
    expected, reference = None, "keras2"
    if original is not None and graph:
        try:
            expected, reference = np.asarray(original().run([graph["logits"]], graph_feeds(graph, data))[0]), \
                "original-graph"
        except SandboxLimit:
            raise
        except Exception as exc:  # noqa: BLE001 - say so, check against the Keras 2 model
            notes.append(f"keras3: {what}: the original graph could not be run ({exc})")
    if expected is None and not data["state"]:
        notes.append(f"keras3: {what}: compared with the Keras 2 model (weaker: itself verified against a TF1 graph "
                     "rebuilt from the checkpoint)")
        expected = np.asarray(k2({"decoder_inputs": data["ids"], "memory": data["memory"],
                                  "memory_sequence_length": data["lengths"]}))
    batch, steps = data["ids"].shape[:2]
    if expected is not None and expected.size % (batch * steps) == 0:
        expected = expected.reshape(batch, steps, -1)
    return {"what": what, "output": "teacher-forced logits", "reference": reference if expected is not None else "none",
            "inputs": [data["ids"], data["memory"], data["lengths"], *data["state"]], "call": None,
            "expected": expected}


def _decode_cases(entry: dict, k2, data: dict, original, notes: list[str]) -> list[dict]:
    """Greedy (the graph's own decoder, else the Keras 2 model's) and beam (the Keras 2 model's) ids."""
    what, batch = f"seq2seq {entry['name']}", data["memory"].shape[0]
    in_graph = (entry.get("graph") or {}).get("greedy") if original is not None else None
    memory, lengths, start = data["memory"], data["lengths"], np.zeros(batch, np.int32)
    greedy = None
    if in_graph:
        from migration.graph.seq2seq_feeds import graph_feeds

        try:
            (ids,) = original().run([in_graph["ids"]], graph_feeds(entry["graph"], data))
            greedy = {"what": f"{what} greedy", "output": "greedy ids (equal)", "reference": "original-graph",
                      "inputs": [memory, lengths, np.full(batch, in_graph["start"], np.int32)],
                      "call": {"method": "greedy", "kwargs": {"end_token": in_graph["end"], "maximum_iterations":
                                                              in_graph["maximum_iterations"]}},
                      "expected": np.asarray(ids.T if in_graph["time_major"] else ids)}
        except Exception as exc:  # noqa: BLE001 - said, then the Keras 2 decode is the reference
            notes.append(f"keras3: {what} greedy: the graph's greedy decoder could not be run ({exc})")
    if greedy is None:
        kwargs = {"end_token": GREEDY["end"], "maximum_iterations": GREEDY["maximum_iterations"]}
        greedy = {"what": f"{what} greedy", "output": "greedy ids (equal)", "reference": "keras2",
                  "inputs": [memory, lengths, start], "call": {"method": "greedy", "kwargs": kwargs},
                  "expected": np.asarray(k2.greedy(memory, lengths, start, **kwargs)[0])}
    kwargs = {"end_token": BEAM["end"], "beam_width": BEAM["beam_width"],
              "maximum_iterations": BEAM["maximum_iterations"]}
    beam = {"what": f"{what} beam", "output": "beam ids (equal)", "reference": "keras2",
            "inputs": [memory, lengths, start], "call": {"method": "beam_search", "kwargs": kwargs},
            "expected": np.asarray(k2.beam_search(memory, lengths, start, **kwargs)[0])}
    return [greedy, beam]


def cases(entry: dict, k2, original, notes: list[str], seed: int = 0) -> list[dict]:
    """Every check of one decoder: ``{what, output, inputs, call, expected, reference}``."""
    from migration.graph.seq2seq_feeds import decoder_feeds

    data = decoder_feeds(entry, k2.vocab_size if k2.embedding is not None else None, seed)
    out = [_logits_case(entry, k2, data, original, notes)]
    if k2.embedding is not None:  # the decodes feed back token ids
        out += _decode_cases(entry, k2, data, original, notes)
    return out


def _run(model, case: dict) -> list:
    """One check's outputs: the teacher-forced call, or ``greedy`` / ``beam_search`` (ids only)."""
    if not case.get("call"):
        return [np.asarray(model(list(case["inputs"])))]
    return [np.asarray(getattr(model, case["call"]["method"])(*case["inputs"], **case["call"]["kwargs"])[0])]


def check_files(paths: dict[str, str], by_name: dict[str, list[dict]]) -> tuple[list, list[str]]:
    """(checks, notes): each file (name -> path) on its cases, TensorFlow here, JAX in one child process."""
    from migration.targets.verify_targets import TargetCheck, compare, run_keras3_elsewhere

    checks, jobs, jax_cases = [], [], []
    for name, path in paths.items():
        model = load(path)
        for case in by_name[name]:
            block = {"what": case["what"], "outputs": [case["output"]]}
            if case["expected"] is None:  # a failed check (nothing installed), never an unchecked file
                checks.append(TargetCheck("keras3", "tensorflow", case["what"], case["output"], float("inf"), [],
                                          "none"))
                continue
            checks += compare("keras3", "tensorflow", block, case["reference"], [case["expected"]],
                              _run(model, case))
            call = (dict(case["call"], outputs=1),) if case.get("call") else ()
            jobs.append((path, list(case["inputs"])) + call)
            jax_cases.append((block, case["reference"], [case["expected"]]))
    if not jobs:
        return checks, []
    results, note = run_keras3_elsewhere(jobs, "jax")
    for (block, reference, expected), got in zip(jax_cases, results or []):
        checks += compare("keras3", "jax", block, reference, expected, got)
    return checks, [note]


def verify_decoders(entries: list[dict], files: dict[str, str], tmp: str, original: Optional[Callable[[], Any]],
                    seed: int = 0) -> tuple[list, list[str]]:
    """Every ``seq2seq/<name>.keras3.keras`` on its cases (module docstring); ``original()``: the sandboxed
    :class:`~migration.graph.reference.OriginalGraph` (None without a ``.meta``)."""
    notes: list[str] = []
    by_name = {e["name"]: cases(e, _keras2(tmp, e), original, notes, seed) for e in entries if e.get("name") in files}
    checks, more = check_files({n: os.path.join(tmp, files[n]) for n in by_name}, by_name)
    return checks, notes + more


def whole_decoders(k2_model) -> dict[str, Any]:
    """The Keras 3 twin of every ``TeacherForcedDecoder`` layer of a Keras 2 whole model (layer name -> twin);
    :class:`~migration.targets.glue.NotExportable` for one without a twin."""
    from migration.targets import seq2seq_twins

    out = {}
    for layer in k2_model.layers:
        if type(layer).__name__ == "TeacherForcedDecoder":
            shapes = [tuple(t.shape) for t in layer.input]
            out[layer.name] = seq2seq_twins.teacher_forced(layer, int(shapes[0][-1]), int(shapes[2][-1]))
    return out
