"""``convert --target keras3`` for the manifest's ``seq2seq`` entries: ``seq2seq/<name>.keras3.keras`` beside each
``tf.contrib.seq2seq`` ``AttentionDecoderModel`` (:mod:`migration.targets.seq2seq_twins`), verified against the
original graph on what ``verify`` feeds the Keras 2 file.

:data:`TAKES`: which entries each target exports (``legacy_seq2seq`` models stay refused per model here, with their
reason: :func:`refusal`). The references (the original graph's teacher-forced logits at the decoder's tensors, its
own greedy decoder's ids when it has one, else TF1 inference graphs rebuilt on the same weights for greedy and beam
ids) come from ``reference(entry, model, original)``, a function of the checkpoint job
(:func:`migration.checkpoint.seq2seq_targets.references`); each file is then run as a user loads it (safe mode) on
the TensorFlow backend here, and on JAX in :mod:`migration.targets.keras3_child` (jobs returned for the one child).
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional, Sequence

import numpy as np

#: target -> the seq2seq entry kinds it exports
TAKES = {"keras3": ("contrib.seq2seq.AttentionWrapper",)}
SUFFIXES = {"keras3": ".keras3.keras"}


def takes(target: str, kind: str, legacy: Any = None) -> bool:
    """True when ``target`` exports a seq2seq entry of ``kind`` (a legacy_seq2seq model: not here)."""
    return not legacy and kind in TAKES.get(target, ())


def refusal(target: str, kind: str) -> str:
    """Why ``target`` does not export a seq2seq entry of ``kind``."""
    if kind.startswith("legacy_seq2seq"):
        return "a legacy_seq2seq model: no Keras 3 / ONNX twin of rnn-migrate's LegacyAttentionSeq2SeqModel yet"
    return f"no {target} twin of a {kind} decoder"


def exportable(targets: Sequence[str], entries: Sequence[Any]) -> bool:
    """Any of ``entries`` (manifest dicts or inspection objects) exported by one of ``targets``."""
    def kind(e):
        return e.get("kind", "") if isinstance(e, dict) else getattr(e, "kind", "")

    def legacy(e):
        return e.get("legacy") if isinstance(e, dict) else getattr(e, "legacy", None)

    return any(takes(t, kind(e), legacy(e)) for t in targets for e in entries)


def write(targets: Sequence[str], tmp: str, entries: Sequence[dict], notes: list[str]) -> dict[str, dict[str, str]]:
    """Write the target files of every entry a target takes: target -> entry name -> file (relative to ``tmp``); an
    entry without a twin (a piece :mod:`migration.targets.seq2seq_twins` does not take) gets a note instead and stays
    in ``not_exported``."""
    files: dict[str, dict[str, str]] = {t: {} for t in targets}
    todo = [e for e in entries if any(takes(t, e.get("kind", ""), e.get("legacy")) for t in targets)]
    if not todo or "keras3" not in targets:
        return files
    import modern_rnn.seq2seq.models  # noqa: F401  (registers the Keras 2 AttentionDecoderModel)
    from migration.safe_io import confined_path, load_keras_model
    from migration.targets import seq2seq_twins
    from migration.targets.glue import NotExportable

    for entry in todo:
        if not takes("keras3", entry["kind"], entry.get("legacy")):
            continue
        k2 = load_keras_model(confined_path(tmp, entry["file"], what="seq2seq model file"))
        rel = os.path.splitext(entry["file"])[0] + SUFFIXES["keras3"]
        try:
            model = seq2seq_twins.decoder_model(k2)
        except NotExportable as exc:
            notes.append(f"keras3: seq2seq {entry['name']} not exported: {exc}")
            continue
        model.save(os.path.join(tmp, rel))
        files["keras3"][entry["name"]] = rel
    return files


def load(path: str):
    """A Keras 3 seq2seq file in safe mode (the classes of :mod:`migration.targets.keras3_seq2seq` registered)."""
    import keras

    from migration.targets import keras3_seq2seq  # noqa: F401  (registers rnn_migrate>AttentionDecoderModel, ...)

    return keras.saving.load_model(path, safe_mode=True, compile=False)


def _run(model, job: tuple) -> list:
    """One check's outputs: the teacher-forced call, or ``greedy`` / ``beam_search`` (ids only)."""
    inputs, call = job
    if not call:
        return [np.asarray(model(list(inputs)))]
    return [np.asarray(getattr(model, call["method"])(*inputs, **call["kwargs"])[0])]


def verify(files: dict[str, dict[str, str]], tmp: str, entries: Sequence[dict],
           reference: Optional[Callable], original) -> tuple[list, list[str], list[tuple]]:
    """(checks, notes, JAX jobs ``((path, inputs, call), (block, reference, expected))``) of every seq2seq target
    file; ``reference(entry, model, original)`` -> the entry's cases (see the module docstring)."""
    from migration.targets.verify_targets import compare

    checks, notes, jax = [], [], []
    if not files.get("keras3"):
        return checks, notes, jax
    if reference is None:
        notes.append("seq2seq: the Keras 3 files were written but not verified (no reference graph function)")
        return checks, notes, jax
    for entry in entries:
        rel = files["keras3"].get(entry["name"])
        if rel is None:
            continue
        path = os.path.join(tmp, rel)
        model = load(path)
        cases, more = reference(entry, model, original)
        notes += more
        for case in cases:
            block = {"what": case["what"], "outputs": [case["output"]]}
            got = _run(model, (case["inputs"], case.get("call")))
            expected = [case["expected"]]
            checks += compare("keras3", "tensorflow", block, case["reference"], expected, got)
            job = (path, list(case["inputs"])) + ((dict(case["call"], outputs=1),) if case.get("call") else ())
            jax.append((job, (block, case["reference"], expected)))
    return checks, notes, jax


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
