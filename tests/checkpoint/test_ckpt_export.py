"""export: Keras 2 -> TF1 name-based checkpoint; round trips through convert and a user model restored by Saver."""
from __future__ import annotations

import os

import numpy as np
import pytest

import legacy_rnn
from conftest import run_cli
from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST


@pytest.mark.parametrize("name,block,args", [
    ("seed004", "rnn", []),
    ("gru_encoder", "encoder", ["--scope", "encoder"]),
    ("bidi_projection", "bidirectional_rnn", ["--forget-bias", "0.5"]),
    ("forget_bias", "zero", ["--scope", "zero", "--forget-bias", "0.0"]),
])
def test_round_trip_restores_original_tensors(ckpts, converted, tmp_path, name, block, args):
    code, out = converted(name)
    prefix = str(tmp_path / "exported" / "model.ckpt")
    assert run_cli("export", os.path.join(out, "blocks", f"{block}.keras"), prefix, *args) == 0
    exported = dict(tf.train.list_variables(prefix))
    original = tf.train.load_checkpoint(ckpts[name])
    scope = block.replace("_", "/") if block == "model_rnn" else block
    expected = {n for n, _ in tf.train.list_variables(ckpts[name])
                if n.startswith(scope + "/") and not n.rsplit("/", 1)[-1].startswith(("Adam", "Adagrad"))}
    assert set(exported) == expected
    reader = tf.train.load_checkpoint(prefix)
    for key in exported:
        np.testing.assert_allclose(reader.get_tensor(key), original.get_tensor(key), atol=1e-6, rtol=0, err_msg=key)
    assert not [p for p in os.listdir(tmp_path / "exported") if p.startswith(".export-")]


def test_user_model_restored_by_tf1_saver(tmp_path):
    from modern_rnn import keras

    model = keras.Sequential([keras.layers.Embedding(10, 4, name="embedding"),
                              keras.layers.LSTM(5, name="lstm"), keras.layers.Dense(3, name="dense")])
    model.build((None, 6))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    path = str(tmp_path / "user.keras")
    model.save(path)
    prefix = str(tmp_path / "tf1" / "model.ckpt")
    assert run_cli("export", path, prefix, "--forget-bias", "1.0") == 0
    ids = rng.integers(0, 10, (3, 6)).astype(np.int32)
    expected = model(ids).numpy()  # before any TF1 layer exists (tf.compat.v1.layers in a graph invalidates it)
    with legacy_rnn.new_graph() as graph:
        x = v1.placeholder(tf.int32, [None, 6])
        emb = v1.get_variable("embedding", [10, 4])
        _, state = legacy_rnn.dynamic_rnn(legacy_rnn.basic_lstm_cell(5), v1.nn.embedding_lookup(emb, x))
        logits = v1.layers.dense(state.h, 3, name="dense")
        sess = v1.Session(graph=graph, config=FAST)
        v1.train.Saver().restore(sess, prefix)
        tf1 = sess.run(logits, {x: ids})
    np.testing.assert_allclose(expected, tf1, atol=1e-5, rtol=0)


def test_gru_reset_after_true_refused(tmp_path, capsys):
    from modern_rnn import keras

    model = keras.Sequential([keras.Input((4, 3)), keras.layers.GRU(2)])
    path = str(tmp_path / "gru.keras")
    model.save(path)
    assert run_cli("export", path, tmp_path / "x" / "model.ckpt") == 2
    assert "reset_after=True" in capsys.readouterr().err and not (tmp_path / "x" / "model.ckpt.index").exists()
