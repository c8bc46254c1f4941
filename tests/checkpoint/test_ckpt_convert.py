"""convert + verify on real checkpoints of every supported pattern; the Keras block models are also compared with
the outputs of the ORIGINAL TF1 graphs (recorded when the checkpoints were written), so a wrong hyper-parameter
read from the .meta cannot hide behind verify."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import load_ref, run_cli

# (checkpoint fixture, reference name, block file name)
CASES = [
    ("seed004", "rnn", "rnn"),
    ("seed004_glove", "rnn", "rnn"),
    ("seed002_static", "rnn", "rnn"),
    ("seed002_handwritten", "rnn", "root"),
    ("gru_encoder", "encoder", "encoder"),
    ("bidi_projection", "bidirectional_rnn", "bidirectional_rnn"),
    ("forget_bias", "zero", "zero"),
    ("forget_bias", "model_rnn", "model_rnn"),
]


def _manifest(out: str) -> dict:
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("name,ref,block", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_block_reproduces_original_graph(ckpts, converted, name, ref, block):
    import modern_rnn
    from modern_rnn import keras

    code, out = converted(name)
    assert code == 0
    manifest = _manifest(out)
    assert manifest["verification"]["ok"] and manifest["verification"]["max_abs_diff"] <= 1e-5
    entry = next(b for b in manifest["blocks"] if b["name"] == block)
    model = keras.models.load_model(os.path.join(out, entry["file"]), compile=False)
    inputs, expected = load_ref(ckpts[name], ref)
    got = model([inputs["x"], inputs["lengths"]])
    assert len(got) == len(expected) == len(entry["outputs"])
    for label, a, b in zip(entry["outputs"], expected, got):
        assert a.shape == tuple(b.shape), label
        np.testing.assert_allclose(np.asarray(b), a, atol=1e-5, rtol=0, err_msg=label)
    assert modern_rnn  # the import registers ProjectionLSTMCell for load_model


def test_padding_outputs_are_zero(ckpts, converted):
    from modern_rnn import keras

    code, out = converted("gru_encoder")
    model = keras.models.load_model(os.path.join(out, "blocks/encoder.keras"), compile=False)
    x = np.random.default_rng(1).normal(size=(3, 6, 3)).astype(np.float32)
    outputs = np.asarray(model([x, np.array([6, 2, 0], np.int32)])[0])
    assert np.all(outputs[1, 2:] == 0) and np.all(outputs[2] == 0) and np.all(outputs[0] != 0)


def test_clips_were_active_and_read_from_meta(ckpts, converted):
    ckpts["bidi_projection"]
    assert ckpts.extra["bidi_projection"] > 0.05  # some final |c| sit at cell_clip in the original graph
    code, out = converted("bidi_projection")
    cells = _manifest(out)["blocks"][0]["cells"]
    assert {c["direction"] for c in cells} == {"fw", "bw"}
    for c in cells:
        assert c["spec"]["cell_clip"] == 0.3 and c["spec"]["proj_clip"] == 0.2 and c["spec"]["forget_bias"] == 0.5
        assert c["spec"]["use_peepholes"] and c["spec"]["num_proj"] == 3
        assert c["keras_class"] == "ProjectionLSTMCell" and c["hyper_sources"]["cell_clip"] == "meta"


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_partitioned_embedding_rows(ckpts, converted, strategy):
    name = f"partitioned_{strategy}"
    code, out = converted(name)
    assert code == 0
    emb = _manifest(out)["embeddings"][0]
    assert emb["partitions"] == 3 and emb["strategy"] == strategy
    rows = np.load(os.path.join(out, emb["file"]))
    inputs, (expected,) = load_ref(ckpts[name], "lookup")
    np.testing.assert_array_equal(rows[inputs["ids"]], expected)  # a Keras Embedding reads rows[ids]
    if strategy == "mod":  # negative control: the rows as saved would be wrong for 'mod'
        import tensorflow as tf

        saved = tf.train.load_checkpoint(ckpts[name]).get_tensor("emb")
        assert np.max(np.abs(saved[inputs["ids"]] - expected)) > 0.1


def test_glove_constant_extracted(ckpts, converted):
    code, out = converted("seed004_glove")
    manifest = _manifest(out)
    (emb,) = manifest["embeddings"]
    assert emb["source"] == "graph_constant" and emb["shape"] == [20, 5]
    glove = np.random.default_rng(4).normal(0, 1, (20, 5)).astype(np.float32)  # as build_seed004 made it
    np.testing.assert_array_equal(np.load(os.path.join(out, emb["file"])), glove)
    assert manifest["variables"]["Variable"]["destination"].startswith("not migrated: 3-D variable")


def test_manifest_accounts_for_every_variable(ckpts, converted):
    import tensorflow as tf

    code, out = converted("seed004", "--with-optimizer")
    assert code == 0
    manifest = _manifest(out)
    names = {n for n, _ in tf.train.list_variables(ckpts["seed004"])}
    assert set(manifest["variables"]) == names
    for name, entry in manifest["variables"].items():
        assert entry["destination"] and not entry["destination"].startswith("not migrated"), name
    (opt,) = manifest["optimizer"]["optimizers"]
    assert opt["kind"] == "adam" and opt["iterations"] == 3 and opt["keras"]["epsilon"] == 1e-8
    dense = manifest["dense"][0]
    assert dense["kernel"] == "Variable" and dense["bias"] == "Variable_1"
    cell = manifest["blocks"][0]["cells"][0]
    assert cell["keras_class"] == "LSTMCell" and [w["keras"] for w in cell["weights"]] == ["kernel", "recurrent_kernel", "bias"]
    assert set(cell["weights"][2]["slots"]) == {"m", "v"}


def test_without_meta_uses_defaults_and_says_so(ckpts, tmp_path):
    from conftest import copy_checkpoint

    prefix = copy_checkpoint(ckpts["partitioned_mod"], tmp_path / "ck", with_meta=False)
    assert run_cli("convert", prefix, tmp_path / "out", "--quiet") == 0
    manifest = _manifest(str(tmp_path / "out"))
    assert manifest["meta"] is None and "defaults" in manifest["hyper_parameters"]["source"]
    emb = manifest["embeddings"][0]
    assert emb["partitions"] is None and "cannot be known without the graph" in emb["note"]


def test_load_model_in_fresh_process(converted):
    code, out = converted("bidi_projection")
    script = ("import modern_rnn, tf_keras, numpy as np; m = tf_keras.models.load_model(%r, compile=False); "
              "print(len(m([np.zeros((2, 4, 3), 'f'), np.array([4, 1], 'i')])))" % os.path.join(out, "blocks/bidirectional_rnn.keras"))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "6"
