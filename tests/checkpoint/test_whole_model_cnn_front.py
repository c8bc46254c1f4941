"""Issue 21 end to end: a CNN front end (``Conv2D`` + ``FusedBatchNormV3`` with moving statistics + ``MaxPool`` +
``AvgPool``), a dropout named by the program over a static shape, an RNN and two Dense heads whose checkpoint keys
share their last 60 characters, trained with a softmax loss and saved by ``Saver``: the default ``convert`` writes
the whole ``model.keras`` with the logits as output and verifies it against the original graph; an op with no Keras
translation makes the exit code 2 (naming the op and ``--outputs``), and ``--no-model`` 0.

Negative controls: the model with one moving variance changed differs from the original graph; the labels are no
model input.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST

LONG = "a_scope_name_long_enough_that_the_last_sixty_characters_of_both_keys_agree"


def _front(x):
    w = v1.get_variable("conv/w", [3, 3, 1, 4])
    b = v1.get_variable("conv/b", [4], initializer=v1.random_normal_initializer(0.0, 0.3))
    h = tf.nn.bias_add(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"), b)
    h = v1.layers.batch_normalization(h, training=False, name="bn", beta_initializer=v1.random_normal_initializer(),
                                      gamma_initializer=v1.random_normal_initializer(1.0, 0.2))
    h = tf.nn.max_pool2d(tf.nn.relu(h), [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    return tf.nn.avg_pool2d(h, [1, 1, 3, 1], [1, 1, 1, 1], "SAME")


def _save(path, make):
    import legacy_rnn

    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(5)
        x = v1.placeholder(tf.float32, [2, 8, 6, 1], name="x")
        y = v1.placeholder(tf.int32, [2 * 4], name="y")
        pred = make(x, legacy_rnn)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=pred))
        train = v1.train.GradientDescentOptimizer(0.1).minimize(loss)
        with v1.Session(graph=graph, config=FAST) as sess:
            sess.run(v1.global_variables_initializer())
            rng = np.random.default_rng(0)
            for var in v1.global_variables():  # moving statistics that are not 0/1
                if "moving" in var.name:
                    var.load(rng.uniform(0.5, 1.5, var.shape.as_list()).astype(np.float32), sess)
            sess.run(train, {x: rng.normal(size=(2, 8, 6, 1)), y: rng.integers(0, 3, 8)})
            v1.train.Saver().save(sess, path)
    return path


def _cnn_rnn(x, legacy_rnn):
    seq = tf.reshape(_front(x), [2, 4, 12], name="seq")
    seq = v1.nn.dropout(seq, rate=0.4, name="feature_drop")  # static shape: its Shape is a Const
    v1.add_to_collection("dropped", seq)
    out, _ = v1.nn.dynamic_rnn(legacy_rnn.basic_rnn_cell(5), seq, dtype=tf.float32)
    flat = tf.reshape(out, [-1, 5])
    heads = []
    for side in ("left", "right"):
        with v1.variable_scope(f"{side}/{LONG}"):
            heads.append(v1.layers.dense(flat, 3, name="proj"))
    return tf.identity(heads[0] + heads[1], name="pred")


def _untranslatable(x, legacy_rnn):
    out, _ = v1.nn.dynamic_rnn(legacy_rnn.basic_rnn_cell(5), tf.reshape(x, [2, 8, 6]), dtype=tf.float32)
    return tf.reshape(v1.layers.dense(tf.math.cumsum(out, axis=1), 3, name="head"), [-1, 3])[:8]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from migration.checkpoint.convert import convert_checkpoint

    root = tmp_path_factory.mktemp("cnn_front")
    ckpt = _save(str(root / "cnn" / "model"), _cnn_rnn)
    result = convert_checkpoint(ckpt, str(root / "out"))
    return ckpt, str(root / "out"), result


def _original(ckpt, x):
    graph = tf.Graph()
    with graph.as_default():
        saver = v1.train.import_meta_graph(ckpt + ".meta")
        with v1.Session(graph=graph, config=FAST) as sess:
            saver.restore(sess, ckpt)
            ops = {n.op for n in graph.as_graph_def().node}
            runs = [sess.run("pred:0", {"x:0": x}) for _ in range(2)]  # the saved graph's dropout is random
            # inference: the dropout's output fed with its input (keep everything)
            dropped = v1.get_collection("dropped")[0]
            inference = sess.run("pred:0", {"x:0": x, dropped: sess.run("seq:0", {"x:0": x})})
    return inference, runs, ops


def test_the_cnn_front_end_gives_the_whole_model_verified_on_the_original_graph(converted):
    ckpt, out, result = converted
    assert result.ok and result.manifest["model"]
    model = result.manifest["model"]
    assert model["inputs"] == ["x"] and model["outputs"] == ["pred:0"]
    pieces = " ".join(model["pieces"])
    assert "Conv2D(4" in pieces and "BatchNormalization(4)" in pieces and pieces.count("Dense(3)") == 2
    assert any(s.endswith("feature_drop") for s in model["dropout_bypassed"])
    assert len(set(model["layers"])) == len(model["layers"]) >= 4  # the two heads got distinct Keras names
    checks = [c for c in result.verification["checks"] if c["what"] == "whole model"]
    assert checks and all(c["reference"] == "original-graph" and c["max_abs_diff"] <= 1e-5 for c in checks)


def test_an_independent_run_matches_and_a_changed_moving_variance_does_not(converted):
    import tf_keras

    import modern_rnn  # noqa: F401

    ckpt, out, _ = converted
    x = np.random.default_rng(9).normal(size=(2, 8, 6, 1)).astype(np.float32)
    keras_model = tf_keras.models.load_model(os.path.join(out, "model.keras"), compile=False, safe_mode=True)
    got = keras_model(x, training=False).numpy()
    inference, runs, ops = _original(ckpt, x)
    assert {"Conv2D", "FusedBatchNormV3", "MaxPool", "AvgPool"} <= ops
    assert np.max(np.abs(got - inference)) <= 1e-5
    assert not np.allclose(runs[0], runs[1]) and np.max(np.abs(got - runs[0])) > 1e-3  # the dropout was live
    bn = [layer for layer in keras_model.layers if "batch_norm" in layer.name][0]
    gamma, beta, mean, variance = bn.get_weights()
    bn.set_weights([gamma, beta, mean, variance * 1.5])
    assert np.max(np.abs(keras_model(x, training=False).numpy() - got)) > 1e-3


def test_no_model_is_exit_2_naming_the_op_and_no_model_is_0(tmp_path, capsys, monkeypatch):
    from migration.cli import main

    ckpt = _save(str(tmp_path / "u" / "model"), _untranslatable)
    rc = main(["convert", ckpt, str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Cumsum" in err and "--outputs" in err and "--no-model" in err
    manifest = json.load(open(tmp_path / "out" / "manifest.json"))
    assert manifest["model"] is None and manifest["blocks"]  # the blocks were converted and installed
    assert main(["convert", ckpt, str(tmp_path / "out2"), "--quiet", "--no-model"]) == 0
    # an internal error of the translation: exit 3, the blocks still installed
    from migration.graph import whole_model

    def broken(*args, **kwargs):
        raise RuntimeError("simulated translator bug")

    monkeypatch.setattr(whole_model, "default_io", broken)
    capsys.readouterr()
    assert main(["convert", ckpt, str(tmp_path / "out3"), "--quiet", "--no-verify"]) == 3
    assert "simulated translator bug" in capsys.readouterr().err
    assert os.path.isfile(tmp_path / "out3" / "manifest.json")


def _restored_inference(ckpt, prefix, names, x):
    """The ORIGINAL graph with ``Saver(var_list)`` over the variables ``names`` restored from ``prefix`` (the rest
    initialized), run in inference (the dropout fed with its input)."""
    graph = tf.Graph()
    with graph.as_default():
        v1.train.import_meta_graph(ckpt + ".meta")
        gvars = v1.global_variables()
        use = [v for v in gvars if v.op.name in names]
        with v1.Session(graph=graph, config=FAST) as sess:
            sess.run(v1.variables_initializer([v for v in gvars if v not in use]))
            v1.train.Saver(use).restore(sess, prefix)
            dropped = v1.get_collection("dropped")[0]
            return sess.run("pred:0", {"x:0": x, dropped: sess.run("seq:0", {"x:0": x})})


def test_export_writes_conv_and_batch_norm_back_under_their_original_names(converted, tmp_path):
    """Issue 21, "Export round trip" (crnn-ctc, cs20-chatbot-buckets were refused: "export cannot map back"): the
    Conv2D filter and the batch norm's gamma, beta and moving statistics are written under the variables they came
    from; restored by a Saver into the ORIGINAL .meta graph they give its outputs, and a fine-tuned filter and
    moving variance reach it (the Keras model's outputs); a manifest without the batch norm's keys is refused."""
    import shutil

    import tf_keras

    from migration.checkpoint.export import export_keras_model
    from migration.checkpoint.export_names import names_for
    from migration.core.errors import MigrationError

    ckpt, out, result = converted
    path = os.path.join(out, "model.keras")
    exported = export_keras_model(path, tmp_path / "a" / "model", names=names_for(path))
    wanted = {n for n, _ in tf.train.list_variables(ckpt) if n != "global_step"}
    bn_keys = {"bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"}
    assert {"conv/w", "conv/b"} | bn_keys <= set(exported.variables)
    assert set(exported.variables) == wanted
    x = np.random.default_rng(9).normal(size=(2, 8, 6, 1)).astype(np.float32)
    inference, _, _ = _original(ckpt, x)
    np.testing.assert_allclose(_restored_inference(ckpt, exported.prefix, exported.variables, x), inference, atol=1e-5)
    keras_model = tf_keras.models.load_model(path, compile=False, safe_mode=True)  # "fine-tuned"
    conv = next(layer for layer in keras_model.layers if layer.name.startswith("conv2d"))
    bn = next(layer for layer in keras_model.layers if "batch_norm" in layer.name)
    conv.kernel.assign(conv.kernel * -0.7)
    bn.moving_variance.assign(bn.moving_variance * 1.5)
    tuned = export_keras_model(keras_model, tmp_path / "b" / "model", names=names_for(path))
    got = _restored_inference(ckpt, tuned.prefix, tuned.variables, x)
    np.testing.assert_allclose(got, keras_model(x, training=False).numpy(), atol=1e-5)
    assert np.abs(got - inference).max() > 1e-3  # negative control: the tuned weights did change the outputs
    copy = tmp_path / "old"
    shutil.copytree(out, copy)
    manifest = json.load(open(copy / "manifest.json"))
    for source in manifest["model"]["layers"].values():
        if "batch_norm" in source:
            source.pop("gamma")
    (copy / "manifest.json").write_text(json.dumps(manifest))
    old = str(copy / "model.keras")
    with pytest.raises(MigrationError, match=r"does not record the TF1 variables of its gamma.*--standard-names"):
        export_keras_model(old, tmp_path / "c" / "model", names=names_for(old))
    assert not os.path.exists(tmp_path / "c")
