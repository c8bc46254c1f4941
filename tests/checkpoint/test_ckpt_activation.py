"""An LSTMCell with a non-default activation: the activation is not in the checkpoint, only in the .meta graph.
Converted with the .meta, the Keras block reproduces the original graph; without it, the manifest says the default
(tanh) was used, and the outputs then differ from the original graph (so the .meta reading is what makes it exact)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import legacy_rnn
import migration
from legacy_rnn import tf, v1
from migration.checkpoint.manifest import read_manifest
from tests.checkpoint.tf1_values import FAST, load_values

X = np.random.default_rng(0).standard_normal((3, 5, 4)).astype(np.float32)
LENGTHS = np.array([5, 2, 4], np.int32)


@pytest.fixture(scope="module")
def relu_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("relu")
    with legacy_rnn.new_graph(1) as graph:
        cell = legacy_rnn.lstm_cell(4, use_peepholes=True, activation="relu")  # forget_bias default: only the activation is missing without the .meta
        out, state = legacy_rnn.dynamic_rnn(cell, tf.constant(X), sequence_length=tf.constant(LENGTHS))
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            rng = np.random.default_rng(3)
            load_values(sess, [(var, rng.uniform(-0.7, 0.7, var.shape.as_list()).astype(np.float32))
                               for var in v1.trainable_variables()])
            expected = sess.run([out, state.c, state.h])
            prefix = legacy_rnn.save(sess, root / "with_meta" / "model.ckpt")
    bare = root / "no_meta"
    bare.mkdir()
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(prefix + suffix, bare / ("model.ckpt" + suffix))
    return prefix, str(bare / "model.ckpt"), expected, root


def _convert(prefix: str, out) -> tuple[list, dict]:
    from modern_rnn import keras

    migration.convert_checkpoint(prefix, out, verify=False)
    manifest = read_manifest(str(out))
    block = keras.models.load_model(out / manifest["blocks"][0]["file"], compile=False)
    return [a.numpy() for a in block([X, LENGTHS])], manifest


def test_relu_read_from_meta_reproduces_the_graph(relu_checkpoint) -> None:
    prefix, _, expected, root = relu_checkpoint
    got, manifest = _convert(prefix, root / "converted")
    cell = manifest["blocks"][0]["cells"][0]
    assert cell["spec"]["activation"] == "relu" and cell["hyper_sources"]["activation"] == "meta"
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_without_meta_the_default_is_said_and_differs(relu_checkpoint) -> None:
    _, bare, expected, root = relu_checkpoint
    got, manifest = _convert(bare, root / "converted_no_meta")
    cell = manifest["blocks"][0]["cells"][0]
    assert cell["spec"]["activation"] == "tanh" and cell["hyper_sources"]["activation"].startswith("default")
    assert max(float(np.abs(a - b).max()) for a, b in zip(got, expected)) > 1e-3
