"""``tf.contrib.rnn.Conv2DLSTMCell`` checkpoints through ``rnn-migrate inspect``/``convert``.

The program: ``dynamic_rnn(Conv2DLSTMCell(input_shape=[H, W, C_in], output_channels=C, kernel_shape=[3, 2],
forget_bias=0.5))`` over a placeholder ``x [None, T, H, W, C_in]`` with ragged ``lengths``, every variable random,
saved by ``tf.compat.v1.train.Saver`` with its ``.meta``, a dense head and a loss. ``convert`` must read forget_bias
and the spatial input shape from the graph, write the ``ConvLSTM2D`` block and the whole model, and verify both
against the original graph; a wrong ``--forget-bias`` must fail there. Without the ``.meta`` only the weaker rebuilt
check is possible and the CLI says so (and ``convert`` refuses: the spatial shape tf_keras's masked ConvLSTM needs is
declared by the graph only).
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import legacy_rnn
from conftest import copy_checkpoint, randomize, run_cli
from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST

B, T, H, W, C_IN, C = 3, 4, 5, 4, 2, 3
LENGTHS = np.array([4, 1, 3], np.int32)


@pytest.fixture(scope="module")
def conv_ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("conv_lstm")
    x_np = np.random.default_rng(31).normal(0, 1, (B, T, H, W, C_IN)).astype(np.float32)
    with legacy_rnn.new_graph(31) as graph:
        x = v1.placeholder(tf.float32, [None, T, H, W, C_IN], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        cell = legacy_rnn.conv_lstm_cell(2, [H, W, C_IN], C, [3, 2], forget_bias=0.5, name="conv_2d_lstm_cell")
        outputs, state = v1.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32, scope="video")
        last = tf.gather_nd(outputs, tf.stack([tf.range(tf.shape(x)[0]), lengths - 1], 1))  # [B, H, W, C]
        logits = v1.layers.dense(tf.reduce_mean(last, [1, 2]), 2, name="head")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits), name="loss")
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 31)
            ref = sess.run([outputs, state.c, state.h, logits], {x: x_np, lengths: LENGTHS})
            prefix = v1.train.Saver().save(sess, os.path.join(str(root / "ckpt"), "model.ckpt"))
    out = root / "out"
    return prefix, x_np, ref, str(out), run_cli("convert", prefix, out, "--quiet")


def _manifest(out) -> dict:
    with open(os.path.join(str(out), "manifest.json")) as f:
        return json.load(f)


def test_conv_lstm_recognized_with_forget_bias_from_the_meta(conv_ckpt):
    from migration.checkpoint import inspect_checkpoint

    insp = inspect_checkpoint(conv_ckpt[0])
    assert insp.convertible and not insp.unrecognized and not insp.blocks
    (cb,) = insp.conv_blocks
    assert (cb.scope, cb.kernel, cb.biases) == ("video", "video/conv_2d_lstm_cell/kernel",
                                                "video/conv_2d_lstm_cell/biases")
    assert (cb.conv_ndims, cb.input_channels, cb.output_channels, cb.kernel_shape) == (2, C_IN, C, (3, 2))
    assert (cb.forget_bias, cb.hyper_source, cb.spatial_shape) == (0.5, "meta", (H, W))


def test_conv_lstm_converts_and_verifies_against_the_original_graph(conv_ckpt):
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    prefix, x_np, ref, out, code = conv_ckpt
    assert code == 0
    m = _manifest(out)
    (entry,) = m["conv_blocks"]
    v = m["verification"]
    assert v["ok"] and v["references"] == {"conv block video": "original-graph", "whole model": "original-graph"}
    assert [c["output"] for c in v["checks"] if c["what"] == "conv block video"] == ["outputs", "state/c", "state/h"]
    assert m["variables"]["video/conv_2d_lstm_cell/kernel"]["destination"] == entry["file"]
    model = keras.models.load_model(os.path.join(out, entry["file"]), compile=False, safe_mode=True)
    got = [np.asarray(t) for t in model([x_np, LENGTHS], training=False)]
    for a, b in zip(got, ref[:3]):  # the original program's own session outputs
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.all(got[0][1, 1:] == 0)  # past the length: zero, as dynamic_rnn
    whole = m["model"]  # the conv block inside the whole network: x, lengths -> the logits the loss consumes
    assert whole["inputs"] == ["x", "lengths"] and whole["outputs"] == ["head/BiasAdd:0"]
    model = keras.models.load_model(os.path.join(out, whole["file"]), compile=False, safe_mode=True)
    np.testing.assert_allclose(np.asarray(model([x_np, LENGTHS], training=False)), ref[3], atol=1e-5)


def test_conv_lstm_wrong_forget_bias_fails_and_rebuilt_check_is_said_weaker(conv_ckpt, tmp_path, capsys):
    prefix, _, _, out, _ = conv_ckpt
    assert run_cli("convert", prefix, tmp_path / "wrong", "--forget-bias", "1.0", "--quiet") == 1
    assert not os.path.exists(tmp_path / "wrong")  # the original graph caught it: nothing installed
    bare = copy_checkpoint(prefix, tmp_path / "bare", with_meta=False)
    capsys.readouterr()
    assert run_cli("verify", bare, out) == 0  # no .meta: only the rebuilt TF1 graph, and the CLI says so
    text = capsys.readouterr().out
    assert "rebuilt" in text and "weaker" in text and "verified against the original graph" not in text
    # converting without the .meta: the spatial shape tf_keras needs is unknown, refused with the remedy
    assert run_cli("convert", bare, tmp_path / "no_meta") == 2
    assert "spatial shape" in capsys.readouterr().err and not os.path.exists(tmp_path / "no_meta")
