"""``convert --target keras3 --target onnx`` of ``tf.contrib.legacy_seq2seq.embedding_attention_seq2seq`` models
(issue 24): :mod:`migration.targets.legacy_export`, :mod:`migration.targets.keras3_legacy`,
:mod:`migration.targets.onnx_legacy`.

Two real TF1 programs already built by tests/seq2seq (imported, not copied), each converted once in-process with both
targets:

* the single-cell nmt-style program of tests/seq2seq/test_cli_seq2seq.py (``BasicLSTMCell(forget_bias=0.5)``,
  ``OutputProjectionWrapper``, two Adam steps run): :class:`LegacyAttentionSeq2SeqModel`;
* the three models of tests/seq2seq/test_legacy_stack_buckets.py: ``a`` (``MultiRNNCell([gru] * 2)``, one cell
  object for encoder and decoder, ``output_projection=(w, b)``, two buckets), ``b`` (three ``BasicLSTMCell`` s,
  ``num_heads=2``), ``c`` (bare ``GRUCell``, ``output_projection=(w_t^T, b)``, ``feed_previous=True``):
  :class:`LegacyStackSeq2SeqModel`.

The reference is the original graph (``import_meta_graph`` + ``Saver.restore``), for every bucket; negative controls
(the attention ``V`` reversed, a gate block swapped, the wrong forget_bias) fail on both targets.
"""
from __future__ import annotations

import copy
import os
import shutil

import numpy as np
import pytest

from migration.targets import legacy_export, onnx_legacy
from migration.targets.verify_targets import summary
from tests.seq2seq.test_cli_seq2seq import LEGACY_VOUT, _legacy_build, _legacy_data, _legacy_tf1
from tests.seq2seq.test_legacy_stack_buckets import MODELS, built, original  # noqa: F401  (module fixtures)

TOL = 1e-5
ATT = onnx_legacy.ATT

pytestmark = pytest.mark.xdist_group("shared/legacy_stack")  # one worker builds legacy_stack_conversion


def _convert(prefix: str, out: str, **kwargs):
    from migration.checkpoint.convert import convert_checkpoint

    result = convert_checkpoint(prefix, out, targets=["keras3", "onnx"], **kwargs)
    assert result.verification["ok"], result.verification
    return result.manifest


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("legacy_single_targets")
    program = _legacy_build(root, tf1_form=False, adam=True)
    out = str(root / "out")
    # no whole model: the stack program's conversion below exports and checks one (the survey: all 11 legacy rows)
    manifest = _convert(program["prefix"], out, with_optimizer=True, whole_model=False)
    return {"program": program, "out": out, "manifest": manifest}


@pytest.fixture(scope="module")
def stack(built, tmp_path_factory) -> dict:  # noqa: F811  (built: the stack program's module fixture)
    """The targets of the stack program's default conversion (``built``), by the function ``convert --target`` calls
    (:func:`migration.targets.export.export_targets`) on a copy of it: no second Keras 2 conversion (the single
    program goes through ``convert_checkpoint`` itself)."""
    from migration.checkpoint.reader import CheckpointReader
    from migration.targets.export import export_targets, targets_ok

    out = str(tmp_path_factory.mktemp("legacy_stack_targets") / "out")
    shutil.copytree(built["out"], out)
    manifest = copy.deepcopy(built["manifest"])
    reader = CheckpointReader(built["prefix"])
    manifest["targets"] = export_targets(["keras3", "onnx"], out, manifest, reader.read,
                                         meta_path=built["prefix"] + ".meta", reader=reader)
    assert targets_ok(manifest["targets"]), manifest["targets"]
    return {"out": out, "manifest": manifest}


def _entry(manifest: dict, name: str) -> dict:
    (entry,) = [e for e in manifest["seq2seq"] if e["name"] == name]
    return entry


def _file(manifest: dict, target: str, name: str) -> str:
    (rel,) = [b["file"] for b in manifest["targets"][target]["blocks"] if b["name"] == name and b.get("seq2seq")]
    return rel


def _keras3(path: str):
    import keras

    import migration.targets.keras3_legacy  # noqa: F401  (registers rnn_migrate>LegacySeq2Seq)

    return keras.saving.load_model(path, safe_mode=True)


def _diff(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")


STACK_NAMES = {n: f"{n}_embedding_attention_seq2seq" for n in "abc"}


@pytest.mark.parametrize("which", ["single", "stack"])
def test_conversion_writes_and_verifies_both_targets(which, request) -> None:
    manifest = request.getfixturevalue(which)["manifest"]
    names = ["embedding_attention_seq2seq"] if which == "single" else list(STACK_NAMES.values())
    for target, suffix in (("keras3", ".keras3.keras"), ("onnx", ".onnx")):
        value = manifest["targets"][target]
        for name in names:
            assert _file(manifest, target, name) == f"seq2seq/{name}{suffix}"
            assert which == "stack" or _file(manifest, target, name) in manifest["files"]
            assert f"seq2seq {name}" not in value["not_exported"]
        checks = value["verification"]["checks"]
        backends = ("tensorflow", "jax") if target == "keras3" else ("onnxruntime",)
        for name in names:
            mine = [c for c in checks if c["what"].startswith(f"seq2seq {name} ")]
            # two cases (the first bucket's lengths against the graph, longer ones against Keras 2) per backend
            assert sorted((c["backend"], c["reference"]) for c in mine) == sorted(
                (b, r) for b in backends for r in ("original-graph", "keras2")), mine
            assert all(c["max_abs_diff"] <= TOL for c in mine)
        if which == "stack":  # the whole model (bucket a's graph rebuilt op by op) is exported and checked too
            assert value["model"]["file"] == f"model{suffix}"
            whole = [c for c in checks if c["what"] == "whole model"]
            assert {c["backend"] for c in whole} == set(backends) and all(c["max_abs_diff"] <= TOL for c in whole)
        assert value["verification"]["ok"]


@pytest.mark.parametrize("name,bucket", [("a", 0), ("a", 1), ("b", 0), ("c", 0)])
def test_one_file_per_target_for_every_bucket_matches_the_original_graph(stack, built, original, name,  # noqa: F811
                                                                         bucket) -> None:
    te, td = MODELS[name]["buckets"][bucket]
    rng = np.random.default_rng(bucket + 11)
    vocab = MODELS[name]["vocab"]
    enc, dec = (rng.integers(0, vocab, (3, n)).astype(np.int32) for n in (te, td))
    want = original(name, built["outputs"][name][bucket], enc, dec)
    out, manifest = stack["out"], stack["manifest"]
    k3 = _keras3(os.path.join(out, _file(manifest, "keras3", STACK_NAMES[name])))
    onnx_out = legacy_export.run_onnx(os.path.join(out, _file(manifest, "onnx", STACK_NAMES[name])), enc, dec)
    assert _diff(k3([enc, dec]), want) <= TOL
    assert _diff(onnx_out[0], want) <= TOL


def _swap_gates(desc: dict) -> dict:
    cell = desc["cells"][desc["decoder_layers"][-1]]
    units, kernel = cell["units"], cell["weights"][0]
    cell["weights"][0] = np.concatenate([kernel[:, units:2 * units], kernel[:, :units], kernel[:, 2 * units:]], 1)
    return desc


def _reverse_v(desc: dict) -> dict:
    for k in range(desc["num_heads"]):
        desc["named"][f"{ATT}/AttnV_{k}"] = desc["named"][f"{ATT}/AttnV_{k}"][::-1].copy()
    return desc


def _forget_bias(by: float):
    def mutate(desc: dict) -> dict:
        for cell in desc["cells"]:
            units = cell["units"]
            cell["weights"][2] = cell["weights"][2].copy()
            cell["weights"][2][units:2 * units] += by  # Keras i, f, c, o: the folded forget_bias
        return desc
    mutate.__name__ = f"forget_bias_{by:+}"
    return mutate


def _both(desc: dict, enc, dec) -> tuple[np.ndarray, np.ndarray]:
    import onnxruntime as ort

    model = onnx_legacy.build_model(desc, "probe")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got_onnx = sess.run(None, {"encoder_inputs": enc, "decoder_inputs": dec})[0]
    return np.asarray(legacy_export.keras3_model(desc)([enc, dec])), got_onnx


def _k2_desc(out: str, entry: dict) -> dict:
    return legacy_export.describe(legacy_export.load_keras2(out, entry))


@pytest.mark.parametrize("name,mutations", [
    ("single", [_reverse_v, _swap_gates, _forget_bias(0.5)]),  # TF1 forget_bias 0.5 read as 1.0
    ("b", [_reverse_v, _swap_gates, _forget_bias(-1.0)]),      # BasicLSTMCell's 1.0 dropped
    ("c", [_reverse_v, _swap_gates]),                          # GRU, feed_previous, output_projection (w_t^T, b)
])
def test_negative_controls_fail_for_each_target(request, name, mutations) -> None:
    if name == "single":
        single = request.getfixturevalue("single")
        program, out = single["program"], single["out"]
        entry = _entry(single["manifest"], "embedding_attention_seq2seq")
        data = _legacy_data(seed=5)
        enc, dec, want = data["enc"], data["dec"], _legacy_tf1(program["prefix"], program["prefix"],
                                                             program["outputs"], data)
    else:
        stack, built, original = (request.getfixturevalue(f) for f in ("stack", "built", "original"))
        out, entry = stack["out"], _entry(stack["manifest"], STACK_NAMES[name])
        te, td = MODELS[name]["buckets"][0]
        rng = np.random.default_rng(3)  # 16 rows: b's attention (3 LSTM layers, 2 heads) moves few logits far
        enc, dec = (rng.integers(0, MODELS[name]["vocab"], (16, n)).astype(np.int32) for n in (te, td))
        want = original(name, built["outputs"][name][0], enc, dec)
    desc = _k2_desc(out, entry)
    assert max(_diff(g, want) for g in _both(desc, enc, dec)) <= TOL  # the control is sound
    for mutate in mutations:
        got = _both(mutate(copy.deepcopy(desc)), enc, dec)
        assert min(_diff(g, want) for g in got) > 1e-3, mutate.__name__


def test_a_wrong_target_file_fails_the_check(single, tmp_path) -> None:
    """The check itself says so: a tampered ONNX file (AttnV reversed) beside the Keras 2 model fails both cases."""
    manifest, out = single["manifest"], single["out"]
    entry = _entry(manifest, "embedding_attention_seq2seq")
    rel = _file(manifest, "onnx", entry["name"])
    os.makedirs(tmp_path / "seq2seq")
    shutil.copy(os.path.join(out, entry["file"]), tmp_path / entry["file"])
    import onnx

    desc = _reverse_v(_k2_desc(out, entry))
    onnx.save_model(onnx_legacy.build_model(desc, "tampered"), str(tmp_path / rel))
    _, checks = legacy_export.legacy_cases([entry], {"onnx": {entry["name"]: rel}}, str(tmp_path), None, [])
    result = summary(checks, [])
    assert not result["onnx"]["ok"] and result["onnx"]["max_abs_diff"] > 1e-3
    assert {c.reference for c in checks} == {"keras2"}  # no graph given: the weaker reference, named


def test_an_activation_no_target_has_is_refused_up_front() -> None:
    class Item:
        name, convertible = "m", True
        legacy = {"spec": {"kind": "gru", "units": 3, "activation": "elu"}}

    with pytest.raises(legacy_export.TargetRefused, match="seq2seq 'm'.*activation 'elu'"):
        legacy_export.exportable(Item())


@pytest.fixture(scope="module")
def tf1_step(single) -> dict:
    """One more Adam step of the single program's original graph on a fixed batch: the loss before it and every
    variable after it."""
    from tests.seq2seq.harness import FAST, tf, v1

    program = single["program"]
    data = _legacy_data(seed=50)
    targets = np.random.default_rng(51).integers(0, LEGACY_VOUT, data["dec"].shape).astype(np.int32)
    feeds = dict(data["feeds"], **{f"target{t}:0": targets[:, t] for t in range(targets.shape[1])})
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(program["prefix"] + ".meta")
        with v1.Session(config=FAST) as sess:
            saver.restore(sess, program["prefix"])
            loss = float(sess.run(program["loss"], feeds))
            sess.run(program["train"], feeds)
            after = {v.op.name: sess.run(v) for v in v1.global_variables()}
    return {"data": data, "targets": targets, "loss": loss, "after": after}


@pytest.mark.parametrize("restore", ["slots", "zeroed", "no iterations"])
def test_keras3_twin_resumes_adam_from_the_converted_slots(single, tf1_step, restore) -> None:
    """One Keras 3 (TensorFlow backend) Adam step from the converted slots lands on TF1's next step within 1e-5; with
    the slots zeroed or the step count not restored it lands > 1e-4 away."""
    import keras
    import tensorflow as tf

    from migration.checkpoint.optimizer_keras3 import make_optimizer, restore_slots
    from migration.checkpoint.optimizer_keras3_legacy import legacy_keras3_slots
    from migration.checkpoint.seq2seq_legacy import build_model

    out, manifest = single["out"], single["manifest"]
    entry = _entry(manifest, "embedding_attention_seq2seq")
    model = _keras3(os.path.join(out, _file(manifest, "keras3", entry["name"])))
    opt, info = make_optimizer(out)
    pairs = legacy_keras3_slots(out, model)
    assert len(pairs) == len(model.trainable_variables) and info["iterations"] == 2
    if restore == "zeroed":
        pairs = [(v, {role: np.zeros_like(a) for role, a in s.items()}) for v, s in pairs]
    restore_slots(opt, pairs, None if restore == "no iterations" else info["iterations"])
    variables = [v for v, _ in pairs]
    data, targets = tf1_step["data"], tf1_step["targets"]
    with tf.GradientTape() as tape:
        logits = model([data["enc"], data["dec"]])
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True))
    # dense: Keras 3's Adam squares an embedding's IndexedSlices gradient slice by slice, TF1 (and Keras 2) sums the
    # slices of a repeated id first (see docs/targets.md, "Resuming training in Keras 3")
    opt.apply_gradients(zip([tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)], variables))
    assert abs(float(loss) - tf1_step["loss"]) <= 1e-5
    want = legacy_export.describe(build_model(entry["legacy"], tf1_step["after"]))  # TF1's step, Keras layout
    layer = model.get_layer("legacy_seq2seq")
    diffs = [_diff(layer.named[k].numpy(), want["named"][k]) for k in want["named"]]
    diffs += [_diff(w.numpy(), a) for cell, src in zip(layer.pool, want["cells"]) for w, a in zip(cell.weights,
                                                                                                   src["weights"])]
    assert len(diffs) == len(variables)
    assert (max(diffs) <= 1e-5) if restore == "slots" else (max(diffs) > 1e-4), max(diffs)


def test_an_original_graph_that_fails_falls_back_to_keras2_with_a_note_and_a_sandbox_limit_stops(single) -> None:
    from migration.core.errors import MigrationError
    from migration.graph.limits import SandboxLimit

    manifest, out = single["manifest"], single["out"]
    entry = _entry(manifest, "embedding_attention_seq2seq")
    files = {"onnx": {entry["name"]: _file(manifest, "onnx", entry["name"])}}

    class Failing:
        def __init__(self, exc) -> None:
            self.exc = exc

        def run(self, *_):
            raise self.exc

    notes: list[str] = []
    _, checks = legacy_export.legacy_cases([entry], files, out, lambda: (Failing(MigrationError("boom")), None), notes)
    assert [c.reference for c in checks] == ["keras2", "keras2"] and all(c.max_abs_diff <= TOL for c in checks)
    assert len(notes) == 1 and "the original graph did not run (boom)" in notes[0] and "weaker" in notes[0]
    with pytest.raises(SandboxLimit):
        legacy_export.legacy_cases([entry], files, out, lambda: (Failing(SandboxLimit("memory", "over 1 GB")), None), [])
