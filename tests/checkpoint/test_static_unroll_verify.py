"""Static unrolls (no while loop) are verified against the ORIGINAL graph's own unrolled ops, not a rebuilt graph.

One checkpoint (tests/checkpoint/static_unroll_fixture.py: static_rnn with sequence_length under TF 1.x cond,
static_bidirectional_rnn, legacy_seq2seq.rnn_decoder of a state_is_tuple=False stack in a constant DropoutWrapper, a
Python loop with variable_scope reuse in a fed DropoutWrapper, static_rnn on per-step placeholders), converted once
with default options. Checked: every block's verdict is "original-graph" within 1e-5; the blocks equal the
program's own tensors run by TensorFlow (import_meta_graph + restore, independently of rnn-migrate); the live
constant dropout is named in the manifest and the report, the fed one is not; a wrong weight in a static block is
caught by the original-graph check.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from static_unroll_fixture import B, D, T, build
from tests.checkpoint.tf1_values import FAST

TOL = 1e-5


@pytest.fixture(scope="module")
def static_conversion(tmp_path_factory):
    from migration.cli import main

    root = tmp_path_factory.mktemp("static_unroll")
    prefix, names = build(str(root / "ckpt"))
    out = root / "out"
    code = main(["convert", prefix, str(out), "--quiet"])
    return code, prefix, str(out), names


def _inputs(seed: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (B, T, D)).astype(np.float32)
    lengths = np.array([T, 1, 3], np.int32)
    return x, lengths


def test_convert_default_whole_model_and_manifest(static_conversion):
    code, _, out, _ = static_conversion
    assert code == 0
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    blocks = {b["scope"].split("/")[0]: b for b in manifest["blocks"]}
    assert sorted(blocks) == ["a", "b", "c", "d", "e"]
    assert os.path.exists(os.path.join(out, "model.keras"))
    live = manifest["model"]["dropout_live"]
    # rnn_decoder's DropoutWrapper(output_keep_prob=0.8) is live in the saved graph (one dropout per step); the Python
    # loop's keep_prob is a placeholder_with_default (the program can feed 1.0): not live
    assert len(live) == T and all(s.startswith("c/") for s in live)
    assert any(s.startswith("d/") for s in manifest["model"]["dropout_bypassed"])


def test_every_static_block_verified_against_the_original_graph(static_conversion):
    """convert's own verification (recorded in the manifest): every block against the original graph."""
    _, _, out, _ = static_conversion
    report = json.load(open(os.path.join(out, "manifest.json")))["verification"]
    blocks = [c for c in report["checks"] if c["what"].startswith("block ")]
    assert {c["what"].split()[1].split("_")[0] for c in blocks} == {"a", "b", "c", "d", "e"}
    assert len(blocks) == 5 + 4 + 5 + 3 + 2  # outputs + states of a, b (fw/bw), c (c, h per layer), d, e
    for c in blocks:
        assert c["reference"] == "original-graph", (c, report["notes"])
        assert c["max_abs_diff"] < TOL, c
    whole = [c for c in report["checks"] if c["what"] == "whole model"]
    assert len(whole) == 5 and all(c["reference"] == "original-graph" and c["max_abs_diff"] < TOL for c in whole)
    assert report["ok"]
    live = [n for n in report["notes"] if "live random dropout with a constant keep_prob" in n]
    assert len(live) == 1 and "c/rnn_decoder/dropout" in live[0] and "d/" not in live[0]


def test_blocks_equal_the_programs_tensors(static_conversion):
    """Independent of rnn-migrate's locating: the program's own tensors (recorded when the graph was built), run by
    TensorFlow from the .meta and the checkpoint, against the Keras blocks on the same inputs."""
    import tensorflow as tf
    from migration.safe_io import load_block_model

    _, prefix, out, names = static_conversion
    x, lengths = _inputs()
    per_step = {f"e_in_{t}:0": x[:, t] for t in range(T)}
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(prefix + ".meta")
        with tf.compat.v1.Session(graph=graph, config=FAST) as sess:
            saver.restore(sess, prefix)
            feed = {"x:0": x, "len:0": lengths, "keep:0": 1.0, **per_step}
            ref = {k: sess.run(v, feed) for k, v in names.items()}
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    files = {b["scope"].split("/")[0]: b["file"] for b in manifest["blocks"]}

    def keras(scope, lens=None):
        model = load_block_model(out, files[scope])
        full = np.full(B, T, np.int32)
        return [np.asarray(o) for o in model([x, full if lens is None else lens], training=False)]

    def close(a, b):
        assert a.shape == b.shape and float(np.max(np.abs(a - b))) < TOL

    for got, want in zip(keras("a", lengths), ref["a"]):  # ragged lengths: zero outputs, state held
        close(got, want)
    fw, bw, fw_state, bw_state = keras("b")
    close(np.concatenate([fw, bw], -1), ref["b"][0])
    close(fw_state, ref["b"][1])
    close(bw_state, ref["b"][2])
    c = keras("c")
    close(np.concatenate(c[1:3], -1), ref["c"][0])  # state_is_tuple=False: concat([c, h]) per layer
    close(np.concatenate(c[3:5], -1), ref["c"][1])
    for got, want in zip(keras("d"), ref["d"]):
        close(got, want)
    for got, want in zip(keras("e"), ref["e"]):
        close(got, want)


def test_wrong_weight_in_a_static_block_is_caught(static_conversion, tmp_path):
    """A bias off by 1e-3 in the bidirectional block and in the Python-loop block: both caught by the original-graph
    check (not a rebuilt graph), the untouched blocks still pass."""
    from migration.checkpoint.verify import verify_conversion
    from modern_rnn import keras
    import modern_rnn  # noqa: F401

    _, prefix, out, _ = static_conversion
    tampered = tmp_path / "tampered"
    shutil.copytree(out, tampered)
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    wrong = [b for b in manifest["blocks"] if b["scope"].split("/")[0] in ("b", "d")]
    for block in wrong:
        path = str(tampered / block["file"])
        model = keras.models.load_model(path, compile=False)
        weights = model.get_weights()
        weights[-1] = weights[-1] + 1e-3  # the last cell's last weight (a bias)
        model.set_weights(weights)
        model.save(path)
    report = verify_conversion(prefix, tampered)
    assert not report.ok
    for block in wrong:
        mine = [c for c in report.checks if c.what == f"block {block['name']}"]
        assert mine and all(c.reference == "original-graph" for c in mine)
        assert 1e-5 < max(c.max_abs_diff for c in mine) < 1.0
    names = {f"block {b['name']}" for b in wrong}
    others = [c for c in report.checks if c.what.startswith("block ") and c.what not in names]
    assert len(others) == 5 + 5 + 2 and all(c.max_abs_diff < TOL and c.reference == "original-graph" for c in others)


@pytest.mark.parametrize("name,block", [("seed002_static", "block rnn"), ("seed002_handwritten", "block root")])
def test_seed002_unrolls_with_per_step_heads_are_checked_against_the_original_graph(converted, name, block):
    """Seed 002 reads each step's output in its own step (``[matmul(o, W) + b for o in outputs]``, the softmax's own
    variables): the block's output is the cell's, never that head; static_rnn and the hand-written W/b loop alike."""
    code, out = converted(name)
    assert code == 0
    verification = json.load(open(os.path.join(out, "manifest.json")))["verification"]
    assert verification["ok"] and verification["references"][block] == "original-graph"
    assert not [n for n in verification["notes"] if n.startswith(block[6:] + ":")]
