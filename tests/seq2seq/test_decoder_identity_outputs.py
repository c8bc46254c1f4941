"""A seq2seq training graph built in TF1 graph mode: ``while_v2`` returns an ``Identity`` of each ``While`` output
outside a function (``decoder/while/Identity_3``, not ``decoder/while:3``), and ``dynamic_decode``'s output stack
reads that Identity. The whole model (encoder ``dynamic_rnn`` + attention decoder with a ``TrainingHelper`` + dense
projection, a masked summed loss, no optimizer) is written and equals the original graph and the program's own
logits; before, no whole model was written and the reason (the decoder loop "stacks no float output") never reached
the user. The same decoder trained with ``sequence_loss`` and no optimizer: the loss's
``reshape(logits, [-1, tf.shape(logits)[2]])`` is the whole model's output, and the static vocabulary size is folded
(before, Keras got ``[-1, n]`` as a placeholder shape: "Fill dimensions must be >= 0", no whole model)."""
from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

import legacy_rnn
import legacy_rnn.seq2seq as s2s

v1 = tf.compat.v1
B, S, T, V, E = 3, 5, 4, 17, 6
SRC_LEN = np.array([5, 3, 4], np.int32)
TGT_LEN = np.array([4, 2, 3], np.int32)


def _randomize(sess, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for var in sorted(v1.global_variables(), key=lambda v: v.name):
        shape = var.shape.as_list()
        scale = 1.0 / np.sqrt(shape[0]) if len(shape) > 1 else 0.5
        var.load(rng.uniform(-1.5, 1.5, shape).astype(np.float32) * scale, sess)  # biases non-zero too


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    from migration.checkpoint.convert import convert_checkpoint

    root = tmp_path_factory.mktemp("decoder_identity")
    rng = np.random.default_rng(3)
    feeds = {"src:0": rng.integers(0, V, (B, S)).astype(np.int32), "src_len:0": SRC_LEN,
             "tgt_in:0": rng.integers(0, V, (B, T)).astype(np.int32)}
    with tf.Graph().as_default() as graph:
        src = v1.placeholder(tf.int32, [None, None], name="src")
        src_len = v1.placeholder(tf.int32, [None], name="src_len")
        tgt_in = v1.placeholder(tf.int32, [None, None], name="tgt_in")
        tgt_out = v1.placeholder(tf.int32, [None, None], name="tgt_out")
        tgt_len = v1.placeholder(tf.int32, [None], name="tgt_len")
        emb = v1.get_variable("emb", [V, E])
        batch = tf.shape(src)[0]
        with v1.variable_scope("encoder"):
            memory, _ = v1.nn.dynamic_rnn(legacy_rnn.basic_lstm_cell(6), tf.nn.embedding_lookup(emb, src),
                                          sequence_length=src_len, dtype=tf.float32)
        with v1.variable_scope("decoder"):
            mechanism = s2s.BahdanauAttention(5, memory, memory_sequence_length=src_len)
            cell = s2s.AttentionWrapper(legacy_rnn.basic_lstm_cell(6), mechanism, attention_layer_size=4)
            helper = s2s.TrainingHelper(tf.nn.embedding_lookup(emb, tgt_in), tf.fill([batch], tf.shape(tgt_in)[1]))
            decoder = s2s.BasicDecoder(cell, helper, cell.zero_state(batch, tf.float32),
                                       output_layer=v1.layers.Dense(V, name="proj"))
            out, _, _ = s2s.dynamic_decode(decoder)
        mask = tf.sequence_mask(tgt_len, tf.shape(tgt_out)[1], dtype=tf.float32)
        xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tgt_out, logits=out.rnn_output)
        tf.identity(tf.reduce_sum(xent * mask) / tf.cast(batch, tf.float32), name="loss")
        stacks = {n.name: n.input[0] for n in graph.as_graph_def().node if n.op == "TensorListStack"}
        with v1.Session(graph=graph) as sess:
            saver = v1.train.Saver()
            _randomize(sess, 0)
            logits = sess.run(out.rnn_output, feeds)
            prefix = saver.save(sess, str(root / "ckpt" / "model.ckpt"))
            _randomize(sess, 1)  # the same graph with other values: what a wrong conversion would look like
            other = saver.save(sess, str(root / "other" / "model.ckpt"))
    result = convert_checkpoint(prefix, root / "out")
    return {"root": root, "prefix": prefix, "other": other, "feeds": feeds, "logits": logits, "stacks": stacks,
            "result": result, "out": str(root / "out")}


def test_the_decoder_stack_reads_an_identity_of_the_loop(program) -> None:
    """The pattern under test is really there: TF 2.x graph mode puts an Identity between While and the stack."""
    assert program["stacks"], program["stacks"]
    assert all("/while/Identity" in source for source in program["stacks"].values()), program["stacks"]


def test_the_whole_model_is_written_and_equals_the_original_graph(program) -> None:
    result = program["result"]
    assert result.ok, result.verification
    model = result.manifest["model"]
    assert model is not None, result.manifest["notes"]
    assert model["inputs"] == ["src", "src_len", "tgt_in"] and model["outputs"] == ["decoder/decoder/transpose:0"]
    whole = [c for c in result.verification["checks"] if c["what"] == "whole model"]
    assert whole and all(c["reference"] == "original-graph" and c["max_abs_diff"] <= 1e-5 for c in whole), whole


def test_the_whole_model_reproduces_the_programs_logits(program) -> None:
    from migration.safe_io import load_keras_model

    model = load_keras_model(os.path.join(program["out"], "model.keras"))
    feeds = program["feeds"]
    got = np.asarray(model([feeds["src:0"], feeds["src_len:0"], feeds["tgt_in:0"]], training=False))
    assert got.shape == program["logits"].shape
    assert float(np.max(np.abs(got - program["logits"]))) <= 1e-5


def test_other_weights_fail_the_whole_model_check(program) -> None:
    """Negative control: the same graph saved with other values does not verify against this conversion."""
    from migration.checkpoint.verify import verify_conversion

    report = verify_conversion(program["other"], program["out"])
    whole = [c for c in report.checks if c.what == "whole model"]
    assert whole and all(c.max_abs_diff > 1e-3 and c.reference == "original-graph" for c in whole), whole
    assert not report.ok


def test_without_looking_through_the_identity_the_reason_reaches_the_user(program, tmp_path, monkeypatch) -> None:
    """Control: the locator blind to the Identity writes no whole model, and the note says why (the decoder loop's
    output was not found), not only which op had no translation."""
    from migration.checkpoint.convert import convert_checkpoint
    from migration.graph import decoder_block

    monkeypatch.setattr(decoder_block, "through_identity", lambda nodes, tensor: tensor)
    result = convert_checkpoint(program["prefix"], tmp_path / "out", verify=False)
    assert result.manifest["model"] is None
    notes = " ".join(result.manifest["notes"])
    assert "TensorListStack" in notes and "stacks no float output" in notes, notes
    with open(tmp_path / "out" / "manifest.json") as f:
        assert json.load(f)["model"] is None


@pytest.fixture(scope="module")
def sequence_loss_program(tmp_path_factory):
    """The decoder trained with ``sequence_loss`` and no optimizer (an evaluation graph): the loss reshapes the
    logits ``reshape(logits, [-1, tf.shape(logits)[2]])`` before its cross-entropy. Returns (prefix, the name of
    the program's own ``[B, T, V]`` logits)."""
    root = tmp_path_factory.mktemp("decoder_sequence_loss")
    with tf.Graph().as_default() as graph:
        memory = v1.placeholder(tf.float32, [None, None, 4], name="memory")
        tgt_in = v1.placeholder(tf.int32, [None, None], name="tgt_in")
        tgt_len = v1.placeholder(tf.int32, [None], name="tgt_len")
        emb = v1.get_variable("emb", [V, E])
        batch = tf.shape(memory)[0]
        mechanism = s2s.LuongAttention(6, memory, scale=True)
        cell = s2s.AttentionWrapper(legacy_rnn.gru_cell(6), mechanism, attention_layer_size=5)
        helper = s2s.TrainingHelper(tf.nn.embedding_lookup(emb, tgt_in), tgt_len)
        decoder = s2s.BasicDecoder(cell, helper, cell.zero_state(batch, tf.float32),
                                   output_layer=v1.layers.Dense(V, name="proj"))
        out, _, _ = s2s.dynamic_decode(decoder, impute_finished=True)
        mask = tf.sequence_mask(tgt_len, tf.shape(tgt_in)[1], dtype=tf.float32)
        s2s.sequence_loss(out.rnn_output, tgt_in, mask)
        with v1.Session(graph=graph) as sess:
            _randomize(sess, 2)
            prefix = v1.train.Saver().save(sess, str(root / "ckpt" / "model.ckpt"))
    return prefix, out.rnn_output.name


def test_the_default_output_is_the_programs_logits_not_the_losss_flat_view(sequence_loss_program, tmp_path) -> None:
    """Without gradients the outputs are the cross-entropy's logits, read back through the loss's own
    ``sequence_loss/Reshape``: the ``[B, T, V]`` logits the program computed (``rnn_output``), and the whole model
    equals the original graph there."""
    from migration.checkpoint.convert import convert_checkpoint

    prefix, logits = sequence_loss_program
    result = convert_checkpoint(prefix, tmp_path / "out")
    assert result.ok, result.verification
    model = result.manifest["model"]
    assert model is not None and model["outputs"] == [logits], (logits, result.manifest["notes"])
    whole = [c for c in result.verification["checks"] if c["what"] == "whole model"]
    assert whole and all(c["reference"] == "original-graph" and c["max_abs_diff"] <= 1e-5
                         and len(c["shape"]) == 3 and c["shape"][-1] == V for c in whole), whole


def test_reading_only_the_ops_own_scope_keeps_the_flat_view(sequence_loss_program, monkeypatch) -> None:
    """Control: the cross-entropy's own scope alone stops at ``sequence_loss/Reshape``, the flattened ``[-1, V]``."""
    from types import SimpleNamespace

    from migration.graph import whole_model
    from migration.graph.graphdef import GraphIndex, load_meta_graph

    prefix, logits = sequence_loss_program
    og = SimpleNamespace(index=GraphIndex(load_meta_graph(prefix + ".meta").graph_def), path=prefix + ".meta")
    assert whole_model.default_io(og).outputs == [logits]
    monkeypatch.setattr(whole_model, "_UNNAMED_RESHAPE", re.compile("$^"))
    assert whole_model.default_io(og).outputs == ["sequence_loss/Reshape:0"]


def test_a_shape_read_from_the_logits_is_folded_for_the_whole_model(sequence_loss_program, tmp_path) -> None:
    """``tf.shape(logits)[2]`` is the vocabulary size the weights fix: folded to an int, the loss's reshape (chosen
    with ``--outputs``) translates and the whole model equals the original graph."""
    from migration.checkpoint.convert import convert_checkpoint

    result = convert_checkpoint(sequence_loss_program[0], tmp_path / "out", outputs=["sequence_loss/Reshape"])
    assert result.ok, result.verification
    model = result.manifest["model"]
    assert model is not None and model["outputs"] == ["sequence_loss/Reshape:0"], result.manifest["notes"]
    whole = [c for c in result.verification["checks"] if c["what"] == "whole model"]
    assert whole and all(c["reference"] == "original-graph" and c["max_abs_diff"] <= 1e-5
                         and c["shape"][-1] == V for c in whole), whole


def test_without_the_fold_the_shape_becomes_a_negative_fill(sequence_loss_program, tmp_path, monkeypatch) -> None:
    """Control: kept symbolic, ``[-1, n]`` reaches Keras as a placeholder shape and no whole model is written."""
    from migration.checkpoint.convert import convert_checkpoint
    from migration.graph.to_keras import ModelTranslator

    monkeypatch.setattr(ModelTranslator, "_static_dim", lambda self, node: None)
    result = convert_checkpoint(sequence_loss_program[0], tmp_path / "out", outputs=["sequence_loss/Reshape"],
                                verify=False)
    assert result.manifest["model"] is None
    assert "Fill dimensions must be >= 0" in " ".join(result.manifest["notes"]), result.manifest["notes"]
