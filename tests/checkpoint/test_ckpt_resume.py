"""Resume: TF1 trains 3 steps, saves, trains 3 more; Keras, built from `convert --with-optimizer`, trains the same 3
steps on the same batches and ends on the same weights. Negative controls: no slots, epsilon 1e-7."""
from __future__ import annotations

import os

import numpy as np
import pytest

import legacy_rnn
from conftest import run_cli
from legacy_rnn import tf, v1

VOCAB, DIM, UNITS, CLASSES, B, T, LR = 12, 4, 5, 2, 4, 5, 0.05


def _batches(n: int = 6):
    rng = np.random.default_rng(11)
    return [(rng.integers(0, VOCAB, (B, T)).astype(np.int32), rng.integers(0, CLASSES, B).astype(np.int32))
            for _ in range(n)]


@pytest.fixture(scope="module")
def tf1_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    batches = _batches()
    with legacy_rnn.new_graph(3) as graph:
        ids = v1.placeholder(tf.int32, [None, T])
        y = v1.placeholder(tf.int32, [None])
        emb = v1.get_variable("embedding", [VOCAB, DIM])
        _, state = legacy_rnn.dynamic_rnn(legacy_rnn.basic_lstm_cell(UNITS), v1.nn.embedding_lookup(emb, ids))
        logits = v1.layers.dense(state.h, CLASSES, name="logits")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        step = v1.train.get_or_create_global_step()
        train = v1.train.AdamOptimizer(LR).minimize(loss, global_step=step)
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        rng = np.random.default_rng(5)
        for var in v1.trainable_variables():  # random biases too
            var.load(rng.normal(0, 0.5, var.shape.as_list()).astype(np.float32), sess)
        for x, t in batches[:3]:
            sess.run(train, {ids: x, y: t})
        prefix = legacy_rnn.save(sess, root / "model.ckpt")
        for x, t in batches[3:]:
            sess.run(train, {ids: x, y: t})
        final = {v.op.name: sess.run(v) for v in v1.trainable_variables()}
        sess.close()
    out = root / "converted"
    assert run_cli("convert", prefix, out, "--with-optimizer", "--quiet") == 0
    return str(out), final, batches


def _keras_resume(out: str, batches, restore: bool = True, **opt_overrides):
    import modern_rnn  # noqa: F401
    from migration.checkpoint import optimizer as copt
    from modern_rnn import keras

    emb = keras.layers.Embedding(VOCAB, DIM)
    emb.build((None,))
    emb.set_weights([np.load(os.path.join(out, "embeddings/embedding.npy"))])
    block = keras.models.load_model(os.path.join(out, "blocks/rnn.keras"), compile=False)
    dense = keras.layers.Dense(CLASSES)
    dense.build((None, UNITS))
    dense.set_weights([np.load(os.path.join(out, "dense/logits", f"{w}.npy")) for w in ("kernel", "bias")])
    opt, info = copt.make_optimizer(out, **opt_overrides)
    variables = [emb.embeddings] + list(block.trainable_weights) + [dense.kernel, dense.bias]
    if restore:
        slots = [copt.embedding_slots(out, "embedding")] + copt.block_slots(out, "rnn") + copt.dense_slots(out, "logits")
        copt.restore_slots(opt, list(zip(variables, slots)), info["iterations"])
    full = np.full(B, T, np.int32)
    for x, t in batches[3:]:
        with tf.GradientTape() as tape:
            h = block([emb(x), full])[2]  # outputs, state/c, state/h
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(t, dense(h), from_logits=True))
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return emb, block, dense


def _max_diff(out, final, emb, block, dense) -> float:
    from migration.converters import cell_to_keras
    from migration.specs import CellSpec

    cell = cell_to_keras(CellSpec("basic_lstm", UNITS), {"kernel": final["rnn/basic_lstm_cell/kernel"],
                                                         "bias": final["rnn/basic_lstm_cell/bias"]}, DIM)
    pairs = [(emb.get_weights()[0], final["embedding"]), (dense.get_weights()[0], final["logits/kernel"]),
             (dense.get_weights()[1], final["logits/bias"])] + list(zip(block.get_weights(), cell))
    return max(float(np.max(np.abs(a - b))) for a, b in pairs)


def test_keras_resumes_where_tf1_stopped(tf1_run):
    out, final, batches = tf1_run
    assert _max_diff(out, final, *_keras_resume(out, batches)) < 1e-5


@pytest.mark.parametrize("variant", ["no_slots", "epsilon_1e-7"])
def test_negative_controls(tf1_run, variant):
    out, final, batches = tf1_run
    models = (_keras_resume(out, batches, restore=False) if variant == "no_slots"
              else _keras_resume(out, batches, epsilon=1e-7))
    assert _max_diff(out, final, *models) > 1e-4
