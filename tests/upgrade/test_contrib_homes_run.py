"""The homes legacy_rnn gives to tf.contrib names that RNN programs use beside their cells compute what TF 1.15 did,
in real TF1 graphs: batch_norm (its TF 1.15 variable names and maths), the TF 1.15 signature of
stack_bidirectional_dynamic_rnn, model_with_buckets (one variable set for every bucket), ModeKeys, the projector."""
from __future__ import annotations

import numpy as np
import pytest

import legacy_rnn
import legacy_rnn.contrib_layers as layers
import legacy_rnn.contrib_learn as learn
import legacy_rnn.contrib_projector as projector
import legacy_rnn.contrib_rnn as rnn
from legacy_rnn.seq2seq import legacy_seq2seq
from legacy_rnn.seq2seq.buckets import model_with_buckets

tf = legacy_rnn.tf
v1 = tf.compat.v1


def _rng():
    return np.random.RandomState(7)


@pytest.mark.parametrize("training", [False, True])
def test_batch_norm_names_and_maths(training):
    x = _rng().randn(6, 4, 3).astype(np.float32) * 2 + 1
    beta, gamma = np.array([0.1, -0.2, 0.3], np.float32), np.array([1.5, 0.5, 2.0], np.float32)
    mean, var = np.array([0.5, 1.0, -1.0], np.float32), np.array([2.0, 0.25, 4.0], np.float32)
    with tf.Graph().as_default():
        inp = v1.placeholder(tf.float32, [None, 4, 3])
        out = layers.batch_norm(inp, decay=0.9, scale=True, is_training=training, scope="bn")
        names = sorted(v.op.name for v in v1.global_variables())
        assert names == ["bn/beta", "bn/gamma", "bn/moving_mean", "bn/moving_variance"]
        assert sorted(v.op.name for v in v1.trainable_variables()) == ["bn/beta", "bn/gamma"]
        by_name = {v.op.name.split("/")[-1]: v for v in v1.global_variables()}
        with v1.Session() as s:
            for name, value in (("beta", beta), ("gamma", gamma), ("moving_mean", mean), ("moving_variance", var)):
                s.run(by_name[name].assign(value))
            got = s.run(out, {inp: x})
            updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
            if training:
                s.run(updates, {inp: x})
                moved = s.run(by_name["moving_mean"])
    m, v = (x.mean((0, 1)), x.var((0, 1))) if training else (mean, var)
    want = (x - m) / np.sqrt(v + 0.001) * gamma + beta
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert len(updates) == (2 if training else 0)
    if training:
        np.testing.assert_allclose(moved, 0.9 * mean + 0.1 * x.mean((0, 1)), rtol=1e-5)
    # negative control: the inference answer is not the training one (the check can fail)
    other = (x - x.mean((0, 1))) / np.sqrt(x.var((0, 1)) + 0.001) * gamma + beta
    assert not np.allclose(want, other) or training


def test_batch_norm_refuses_what_it_does_not_rebuild():
    with tf.Graph().as_default():
        with pytest.raises(NotImplementedError, match="renorm"):
            layers.batch_norm(v1.placeholder(tf.float32, [2, 3]), renorm=True)


def test_stack_bidirectional_keeps_tf115_signature_and_names(tmp_path):
    x = _rng().randn(2, 5, 3).astype(np.float32)
    lengths = np.array([5, 3], np.int32)

    def build(fn, **kw):
        inp = v1.placeholder(tf.float32, [None, 5, 3])
        cells = [[v1.nn.rnn_cell.LSTMCell(4), v1.nn.rnn_cell.GRUCell(2)] for _ in range(2)]
        out, fw, bw = fn(cells[0], cells[1], inp, sequence_length=lengths, dtype=tf.float32, **kw)
        return inp, out

    with tf.Graph().as_default():
        inp, out = build(rnn.stack_bidirectional_dynamic_rnn, parallel_iterations=4, swap_memory=False)
        names = sorted(v.op.name for v in v1.trainable_variables())
        with v1.Session() as s:
            s.run([v.assign(tf.random.stateless_normal(v.shape, [1, i])) for i, v in enumerate(v1.global_variables())])
            want = s.run(out, {inp: x})
            v1.train.Saver().save(s, str(tmp_path / "ckpt"))
    assert "stack_bidirectional_rnn/cell_0/bidirectional_rnn/fw/lstm_cell/kernel" in names
    assert "stack_bidirectional_rnn/cell_1/bidirectional_rnn/bw/gru_cell/candidate/kernel" in names
    with tf.Graph().as_default():  # the same variables, restored by name into legacy_rnn's own stack
        inp, out = build(legacy_rnn.stack.stack_bidirectional_dynamic_rnn)
        with v1.Session() as s:
            v1.train.Saver().restore(s, str(tmp_path / "ckpt"))
            got = s.run(out, {inp: x})
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert np.abs(want).max() > 0.05 and np.all(want[1, 3:] == 0)  # masked past length 3
    with pytest.raises(ValueError, match="same number"):
        rnn.stack_bidirectional_dynamic_rnn([1, 2], [1], None)


def test_model_with_buckets_shares_one_variable_set():
    with tf.Graph().as_default():
        enc = [v1.placeholder(tf.float32, [None, 3]) for _ in range(4)]
        dec = [v1.placeholder(tf.float32, [None, 3]) for _ in range(5)]
        tgt = [v1.placeholder(tf.int32, [None]) for _ in range(5)]
        wts = [v1.placeholder(tf.float32, [None]) for _ in range(5)]

        def seq2seq(e, d):
            outs, state = legacy_seq2seq.basic_rnn_seq2seq(e, d, v1.nn.rnn_cell.GRUCell(3))
            return outs, state

        outputs, losses = model_with_buckets(enc, dec, tgt, wts, [(2, 3), (4, 5)], seq2seq)
        assert [len(o) for o in outputs] == [3, 5] and len(losses) == 2
        names = sorted(v.op.name for v in v1.trainable_variables())
    with tf.Graph().as_default():  # one seq2seq alone: the variables a single bucket creates
        seq2seq([v1.placeholder(tf.float32, [None, 3])] * 2, [v1.placeholder(tf.float32, [None, 3])] * 3)
        single = sorted(v.op.name for v in v1.trainable_variables())
    assert names == single and len(single) == 8  # created by bucket 1, reused by bucket 2
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="encoder inputs"):
            model_with_buckets([None] * 3, [None] * 5, [None] * 5, [None] * 5, [(2, 3), (4, 5)], seq2seq)


def test_mode_keys_and_projector(tmp_path):
    assert (learn.ModeKeys.TRAIN, learn.ModeKeys.EVAL, learn.ModeKeys.INFER) == ("train", "eval", "infer")
    learn.ModeKeys.validate("infer")
    with pytest.raises(ValueError):
        learn.ModeKeys.validate("predict")
    config = projector.ProjectorConfig()
    emb = config.embeddings.add()
    emb.tensor_name, emb.metadata_path = "embedding/W", "meta.tsv"
    projector.visualize_embeddings(str(tmp_path), config)
    assert (tmp_path / "projector_config.pbtxt").read_text() == (
        'embeddings {\n  tensor_name: "embedding/W"\n  metadata_path: "meta.tsv"\n}\n')


def test_hparams_keeps_tf115_api():
    from legacy_rnn.contrib_training import HParams

    hp = HParams(learning_rate=0.1, num_layers=2, unit_type="lstm", use_attention=False, cells=[4, 8])
    hp.parse("learning_rate=0.5,num_layers=3,use_attention=true,cells=[16;32]")
    assert hp.values() == {"learning_rate": 0.5, "num_layers": 3, "unit_type": "lstm", "use_attention": True,
                           "cells": [16, 32]}
    hp.add_hparam("beam_width", 10)
    hp.set_hparam("learning_rate", 1)  # an int into a float parameter: TF 1.15 accepted it
    assert hp.learning_rate == 1.0 and isinstance(hp.learning_rate, float) and "beam_width" in hp
    assert HParams(**hp.values()).to_json(sort_keys=True) == hp.to_json(sort_keys=True)
    with pytest.raises(ValueError):
        hp.parse("num_layers=two")
    with pytest.raises(ValueError):
        hp.parse("no_such=1")
    with pytest.raises(ValueError):
        hp.set_hparam("unit_type", 3)
