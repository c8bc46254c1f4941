"""Resume training of a converted seq2seq model (issue 12): ``convert --with-optimizer`` on a checkpoint written by an
nmt-style graph trained with Adam converts the AttentionWrapper model's Adam slots like its weights, so that one Adam
step in Keras from the converted slots equals one more step of the ORIGINAL TF1 graph (its ``.meta`` re-imported, its
own train op run after ``Saver.restore``): loss and every updated weight within 1e-5. Negative controls: a fresh
Keras optimizer (the slots not restored), the step count not restored (Adam's bias correction), and the cell's slots
left in TF1's gate order all miss the TF1 step.
"""
from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from migration.checkpoint import optimizer as opt
from migration.checkpoint.seq2seq import tf1_arrays
from migration.cli import main
from tests.checkpoint.ground_truth_graphs import tf1_graph_form
from tests.seq2seq import harness as h
from tests.seq2seq.test_cli_seq2seq import BATCH, CONFIGS, SRC, TGT, _build

tf, v1, keras = h.tf, h.v1, h.keras

pytestmark = pytest.mark.xdist_group("shared/attention")  # one worker builds attention_adam_conversion (with test_keras3_seq2seq)


def _step_data(seed: int = 31) -> dict:
    rng = np.random.default_rng(seed)
    return {"memory:0": rng.uniform(-1, 1, (BATCH, SRC, h.M)).astype(np.float32),
            "memory_length:0": np.array([SRC, 2, 4], np.int32),
            "decoder_ids:0": rng.integers(0, h.V, (BATCH, TGT)).astype(np.int32),
            "targets:0": rng.integers(0, h.V, (BATCH, TGT)).astype(np.int32)}


def tf1_next_step(graph: dict, data: dict) -> tuple[float, dict]:
    """(loss, every variable after the step) of one more Adam step of the original graph: its .meta re-imported, its
    checkpoint restored, its own train op run on ``data`` (also tests/targets/test_keras3_seq2seq.py's reference)."""
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(graph["prefix"] + ".meta")
        with v1.Session(config=h.FAST) as sess:
            saver.restore(sess, graph["prefix"])
            loss = float(sess.run(graph["loss"], data))
            sess.run(graph["train"], data)
            return loss, {v.op.name: sess.run(v) for v in v1.global_variables()}


@pytest.fixture(scope="module", params=["v2", "v1"])
def resumed(request, tmp_path_factory) -> dict:
    """An Adam-trained graph (2 real steps) in TF 2.x's or TF 1.x's form, converted with --with-optimizer, and one
    more TF1 step of the original graph: (loss, weights after the step)."""
    if request.param == "v2":  # converted once for this module and tests/targets (tests/shared_programs.py)
        shared = request.getfixturevalue("attention_adam_conversion")
        assert shared["code"] == 0, shared["report"]
        g, out_dir, report = shared["graph"], shared["out"], shared["report"]
    else:
        directory = tmp_path_factory.mktemp(f"resume_{request.param}")
        with tf1_graph_form(True):
            g = _build(CONFIGS["bahdanau_norm"], str(directory / "graph"), adam=True)
        out_dir = directory / "out"
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["convert", g["prefix"], str(out_dir), "--with-optimizer", "--json", "--quiet"]) == 0
        report = json.loads(buf.getvalue().strip().splitlines()[-1])
    # the .meta with the optimizer (in TF 1.x's form: gradient frames too) is still the reference
    assert report["verification"]["references"]["seq2seq decoder"] == "original-graph"
    data = _step_data()
    loss, after = tf1_next_step(g, data)
    return {"form": request.param, "graph": g, "out_dir": str(out_dir), "data": data, "loss": loss, "after": after,
            "before": dict((n, tf.train.load_checkpoint(g["prefix"]).get_tensor(n))
                           for n, _ in tf.train.list_variables(g["prefix"]))}


def _keras_step(resumed: dict, restore: str = "slots") -> tuple[float, dict, object]:
    import modern_rnn.seq2seq.models  # noqa: F401

    out_dir = resumed["out_dir"]
    manifest = json.load(open(f"{out_dir}/manifest.json"))
    (entry,) = manifest["seq2seq"]
    model = keras.models.load_model(f"{out_dir}/{entry['file']}", safe_mode=True)
    optimizer, info = opt.make_optimizer(out_dir)
    if restore != "fresh":
        pairs = opt.seq2seq_slots(out_dir, model)
        if restore == "gates_unordered":  # a slot converter that forgets TF1 -> Keras gate reordering of the cell
            names = list(model.named_weights())
            pairs = [(var, {r: np.roll(a, a.shape[-1] // 4, axis=-1) for r, a in s.items()} if n.startswith("cell/")
                      else s) for n, (var, s) in zip(names, pairs)]
        opt.restore_slots(optimizer, pairs, None if restore == "no_iterations" else info["iterations"])
    data = resumed["data"]
    with tf.GradientTape() as tape:
        logits = model({"decoder_inputs": data["decoder_ids:0"], "memory": data["memory:0"],
                        "memory_sequence_length": data["memory_length:0"]})
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(data["targets:0"], logits, from_logits=True))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    return float(loss), tf1_arrays(model)[0], info


def test_one_keras_adam_step_from_converted_slots_equals_one_more_tf1_step(resumed) -> None:
    loss, weights, info = _keras_step(resumed)
    assert info["kind"] == "adam" and info["iterations"] == 2 and info["keras"]["learning_rate"] == pytest.approx(0.01)
    assert abs(loss - resumed["loss"]) <= 1e-5
    after, before = resumed["after"], resumed["before"]
    assert set(weights) == {k for k in after if k in before and not k.endswith(("/Adam", "/Adam_1"))
                            and "power" not in k}
    for key, value in weights.items():
        np.testing.assert_allclose(value, after[key], atol=1e-5, err_msg=key)
        assert np.abs(after[key] - before[key]).max() > 1e-4, key       # the step really moved every weight
    manifest = json.load(open(f"{resumed['out_dir']}/manifest.json"))
    slots = {k: v["destination"] for k, v in manifest["variables"].items() if k.endswith(("/Adam", "/Adam_1"))}
    assert slots and all(d.startswith("optimizer/") for d in slots.values()), slots


@pytest.mark.parametrize("restore", ["fresh", "no_iterations", "gates_unordered"])
def test_without_the_converted_slots_the_step_differs(resumed, restore: str) -> None:
    _, weights, _ = _keras_step(resumed, restore)
    worst = max(float(np.abs(weights[k] - resumed["after"][k]).max()) for k in weights)
    assert np.isfinite(worst) and worst > 1e-4


def test_missing_slots_of_some_seq2seq_weights_are_refused_with_the_names(resumed, tmp_path, capsys) -> None:
    """Adam slots for only part of the AttentionWrapper's weights (e.g. ``memory_layer`` frozen): ``--with-optimizer``
    refuses with the weight named and the remedy (exit 2, nothing written); without it the weights convert."""
    from migration.checkpoint.export import write_tf1_checkpoint

    reader = tf.train.load_checkpoint(resumed["graph"]["prefix"])
    arrays = {n: reader.get_tensor(n) for n, _ in tf.train.list_variables(resumed["graph"]["prefix"])
              if not n.startswith("memory_layer/kernel/Adam")}
    assert "memory_layer/kernel" in arrays and "decoder/attention_wrapper/attention_layer/kernel/Adam" in arrays
    prefix = write_tf1_checkpoint(arrays, str(tmp_path / "partial" / "model.ckpt"))
    out_dir = tmp_path / "out"
    assert main(["convert", prefix, str(out_dir), "--with-optimizer", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "memory_layer/kernel" in err and "without --with-optimizer" in err and "Traceback" not in err
    assert not out_dir.exists()
    assert main(["convert", prefix, str(out_dir), "--quiet"]) == 0


def test_legacy_embedding_attention_seq2seq_resumes_adam_too(tmp_path) -> None:
    """legacy_seq2seq.embedding_attention_seq2seq trained with Adam: its slots (``AttnW_0`` reshaped like the weight,
    both cells' layouts) converted, and one Keras step equals one more step of the original graph."""
    import modern_rnn.seq2seq.models  # noqa: F401
    from migration.checkpoint.seq2seq_legacy import tf1_arrays as legacy_tf1_arrays
    from tests.seq2seq.test_cli_seq2seq import LEGACY_TD, LEGACY_VOUT, _legacy_build, _legacy_data

    g = _legacy_build(tmp_path / "graph", tf1_form=False, adam=True)
    out_dir = tmp_path / "out"
    assert main(["convert", g["prefix"], str(out_dir), "--with-optimizer", "--quiet"]) == 0
    data = _legacy_data(seed=50)
    targets = np.random.default_rng(51).integers(0, LEGACY_VOUT, (BATCH, LEGACY_TD)).astype(np.int32)
    feeds = dict(data["feeds"], **{f"target{t}:0": targets[:, t] for t in range(LEGACY_TD)})
    want_loss, after = tf1_next_step(g, feeds)
    (entry,) = json.load(open(out_dir / "manifest.json"))["seq2seq"]
    results = {}
    for restore in ("slots", "fresh"):
        model = keras.models.load_model(out_dir / entry["file"], safe_mode=True)
        optimizer, info = opt.make_optimizer(str(out_dir))
        if restore == "slots":
            opt.restore_slots(optimizer, opt.seq2seq_slots(str(out_dir), model), info["iterations"])
        with tf.GradientTape() as tape:
            logits = model({"encoder_inputs": data["enc"], "decoder_inputs": data["dec"]})
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        results[restore] = (float(loss), legacy_tf1_arrays(model)[0])
    loss, weights = results["slots"]
    assert abs(loss - want_loss) <= 1e-5 and info["iterations"] == 2
    assert any("AttnW_0" in k for k in weights)
    for key, value in weights.items():
        np.testing.assert_allclose(value, after[key], atol=1e-5, err_msg=key)
    fresh = results["fresh"][1]
    assert max(float(np.abs(fresh[k] - after[k]).max()) for k in fresh) > 1e-4      # the slots matter
