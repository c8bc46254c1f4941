"""``export`` never drops a weight silently (issue 21, "Export round trip"; the han-attention and show-attend-tell
rows lacked them): variables ``convert`` folded into the whole model as constants -- a bare ``get_variable`` context
vector of an attention pooling, a batch norm's gamma/beta in training mode -- are written under their original names
(from the manifest's original checkpoint: a constant cannot be fine-tuned), so ``Saver.restore`` in the ORIGINAL
``.meta`` graph gives its own outputs. Negative controls: without them the graph's outputs differ; when the original
checkpoint is gone they are refused by name and nothing is written; a ``--standard-names`` export of a model with a
layer it cannot write (BatchNormalization) is refused naming the layer.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import legacy_rnn
from migration.checkpoint import convert_checkpoint
from migration.checkpoint.export import export_keras_model
from migration.checkpoint.export_names import names_for
from migration.core.errors import MigrationError
from tests.checkpoint.tf1_values import FAST

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
B, T, F, H, A, C = 4, 5, 3, 6, 7, 2
FOLDED = ["att/context", "bn/beta", "bn/gamma"]


def _graph() -> str:
    x = v1.placeholder(tf.float32, [None, T, F], "x")
    lengths = v1.placeholder(tf.int32, [None], "lengths")
    labels = v1.placeholder(tf.int32, [None], "labels")
    h = v1.layers.batch_normalization(x, training=True, name="bn")  # batch statistics: gamma/beta read, as constants
    outputs, _ = v1.nn.dynamic_rnn(v1.nn.rnn_cell.GRUCell(H), h, sequence_length=lengths, dtype=tf.float32,
                                   scope="enc")
    u = tf.tanh(v1.layers.dense(outputs, A, name="att_proj"))
    context = v1.get_variable("att/context", [A])  # a bare vector: no Dense, no Embedding rule
    alpha = tf.nn.softmax(tf.reduce_sum(u * context, 2), axis=1)
    pooled = tf.reduce_sum(outputs * tf.expand_dims(alpha, 2), 1)
    logits = v1.layers.dense(pooled, C, name="out")
    tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    return logits.name


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("export_folded")
    rng = np.random.default_rng(3)
    with tf.Graph().as_default():
        logits = _graph()
        with v1.Session(config=FAST) as sess:
            sess.run(v1.global_variables_initializer())
            for var in v1.trainable_variables():  # asymmetric weights, non-zero biases, gamma far from 1
                var.load(rng.normal(0, 0.8, var.shape.as_list()).astype(np.float32), sess)
            prefix = v1.train.Saver().save(sess, str(root / "model.ckpt"))
    convert_checkpoint(prefix, root / "conv", verify=False)
    feeds = {"x:0": rng.normal(0, 1, (B, T, F)).astype(np.float32), "lengths:0": np.array([5, 2, 4, 1], np.int32)}
    case = {"prefix": prefix, "logits": logits, "conv": str(root / "conv"), "root": root, "feeds": feeds}
    case["expected"] = _restored(case, prefix, None)
    return case


def _restored(case: dict, prefix: str, names) -> np.ndarray:
    """The ORIGINAL graph, ``Saver(var_list)`` over the variables ``names`` (all when None) restored from ``prefix``,
    the others initialized."""
    with tf.Graph().as_default():
        v1.set_random_seed(0)
        v1.train.import_meta_graph(case["prefix"] + ".meta")
        gvars = v1.global_variables()
        use = [v for v in gvars if names is None or v.op.name in names]
        with v1.Session(config=FAST) as sess:
            sess.run(v1.variables_initializer([v for v in gvars if v not in use]))
            v1.train.Saver(use).restore(sess, prefix)
            return sess.run(case["logits"], case["feeds"])


def test_folded_constants_are_written_and_restore_in_the_original_graph(case, tmp_path) -> None:
    manifest = json.load(open(os.path.join(case["conv"], "manifest.json")))
    folded = sorted(p.split()[1] for p in manifest["model"]["pieces"] if "folded as a constant" in p)
    assert folded == FOLDED  # the fixture's point: the model holds them as constants, no Keras weight
    path = os.path.join(case["conv"], "model.keras")
    result = export_keras_model(path, tmp_path / "tf1" / "model.ckpt", names=names_for(path))
    trainable = sorted(n for n, _ in tf.train.list_variables(case["prefix"])
                       if "moving" not in n and "Adam" not in n and "power" not in n)
    assert sorted(result.variables) == trainable
    for key in FOLDED:
        assert "constant folded into the model" in result.sources[key]
        np.testing.assert_array_equal(tf.train.load_variable(result.prefix, key),
                                      tf.train.load_variable(case["prefix"], key))
    restored = _restored(case, result.prefix, set(result.variables))
    np.testing.assert_allclose(restored, case["expected"], atol=1e-5)
    # negative control: the export without them (what it wrote before) does not give the graph's outputs
    without = _restored(case, result.prefix, set(result.variables) - set(FOLDED))
    assert np.abs(without - case["expected"]).max() > 1e-3


def test_folded_constants_without_the_original_checkpoint_are_refused_by_name(case, tmp_path) -> None:
    conv = tmp_path / "conv"
    shutil.copytree(case["conv"], conv)
    manifest = json.load(open(conv / "manifest.json"))
    manifest["checkpoint"] = str(tmp_path / "gone" / "model.ckpt")
    (conv / "manifest.json").write_text(json.dumps(manifest))
    path = str(conv / "model.keras")
    with pytest.raises(MigrationError, match=r"'att/context', 'bn/beta', 'bn/gamma'.*folded.*gone.*will not drop"):
        export_keras_model(path, tmp_path / "out" / "model.ckpt", names=names_for(path))
    assert not os.path.exists(tmp_path / "out")
    # the checkpoint holds another value than the model's constant (overwritten since convert): refused by name
    assert sorted(manifest["model"]["folded"]) == FOLDED
    manifest["checkpoint"] = case["prefix"]
    manifest["model"]["folded"]["bn/gamma"] = "0" * 64
    (conv / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(MigrationError, match=r"'bn/gamma', folded .*another value.*convert the checkpoint again"):
        export_keras_model(path, tmp_path / "out" / "model.ckpt", names=names_for(path))
    assert not os.path.exists(tmp_path / "out")


def test_standard_names_refuse_a_layer_they_cannot_write(tmp_path) -> None:
    from modern_rnn import keras

    x = keras.Input((T, F))
    y = keras.layers.BatchNormalization(name="bn_layer")(keras.layers.LSTM(H, return_sequences=True)(x))
    model = keras.Model(x, keras.layers.Dense(C)(y))
    with pytest.raises(MigrationError, match=r"'bn_layer' \(BatchNormalization\).*does not write.*dropped silently"):
        export_keras_model(model, tmp_path / "out" / "model.ckpt")
    assert not os.path.exists(tmp_path / "out")
    # without that layer the same model exports (the refusal is about the layer)
    assert export_keras_model(keras.Model(x, keras.layers.Dense(C)(keras.layers.LSTM(H)(x))),
                              tmp_path / "ok" / "model.ckpt").variables


def test_a_batch_norm_constant_parameter_is_not_written_and_must_be_unchanged() -> None:
    """``scale=False``: the original graph's gamma is the constant 1 (no variable): nothing to write while the Keras
    gamma still holds it; a fine-tuned gamma is refused (the original graph cannot hold it)."""
    from modern_rnn import keras
    from migration.checkpoint.export_names import batch_norm_arrays

    layer = keras.layers.BatchNormalization(name="bn_c")
    layer.build((None, 3))
    rng = np.random.default_rng(1)
    beta, mean, var = (rng.normal(0, 1, 3).astype(np.float32) for _ in range(3))
    layer.set_weights([np.ones(3, np.float32), beta, mean, np.abs(var) + 0.5])
    source = {"batch_norm": "bn/moving_mean", "gamma": "constant 1.0", "beta": "bn/beta",
              "moving_mean": "bn/moving_mean", "moving_variance": "bn/moving_variance"}
    arrays, sources = {}, {}
    batch_norm_arrays(layer, source, arrays, sources, "here")
    assert sorted(arrays) == ["bn/beta", "bn/moving_mean", "bn/moving_variance"]
    np.testing.assert_array_equal(arrays["bn/beta"], beta)
    np.testing.assert_array_equal(arrays["bn/moving_mean"], mean)
    layer.gamma.assign(layer.gamma * 1.1)
    with pytest.raises(MigrationError, match=r"'bn_c' gamma was the graph constant 1.0 .*differs"):
        batch_norm_arrays(layer, source, {}, {}, "here")
