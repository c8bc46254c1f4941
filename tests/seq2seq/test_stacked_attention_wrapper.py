"""``AttentionWrapper(MultiRNNCell([...]))`` decoders (issue 21, the chatbot-beam row): one TF 1.x-form training graph
(RefVariables, Enter/Exit frames, as TF 1.15 programs wrote their ``.meta``) with three such decoders, a Saver
checkpoint with its ``.meta``, ONE default ``convert`` (whole model included), and an independent comparison with the
original graph re-imported here (``import_meta_graph`` + ``Saver.restore``).

The family: LSTM layers of different sizes / GRU layers / BasicLSTM layers; Bahdanau (normed) and Luong (scaled and
not); with and without ``attention_layer_size``; ``output_attention`` False and True (read from the graph when the
attention and the cell output have the same width); ``alignment_history``; the projection inside ``BasicDecoder`` or
applied after ``dynamic_decode``; ``impute_finished``; a zero initial state and an encoder's final state; ragged
memory and decoder lengths; the targets used both as (shifted) decoder inputs and as the loss labels.
Negative controls: the two layers' recurrent kernels swapped in the converted model are caught by the comparison; a
decoder length longer than another row's changes that row's outputs only where TF1 computes them.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from migration.checkpoint import convert_checkpoint
from tests.checkpoint.ground_truth_graphs import tf1_graph_form
from tests.seq2seq import harness as h

tf, v1 = h.tf, h.v1
legacy_s2s = h.legacy_s2s
B, S, T, M, V, E = 3, 5, 4, 6, 11, 3
rnn = v1.nn.rnn_cell


def _decoder(name: str, cells, mechanism, targets, target_length, embedding, batch, initial=None, **options):
    """One teacher-forced decoder (its own variable scope) and its sequence_loss; returns (logits, loss)."""
    inside, impute = options.pop("inside", False), options.pop("impute", False)
    with v1.variable_scope(name):
        wrapper = legacy_s2s.AttentionWrapper(rnn.MultiRNNCell(cells), mechanism, **options)
        start = tf.fill([batch, 1], 1)
        inputs = tf.nn.embedding_lookup(embedding, tf.concat([start, targets[:, :-1]], 1))
        helper = legacy_s2s.TrainingHelper(inputs, target_length)
        state = wrapper.zero_state(batch, tf.float32)
        if initial is not None:
            state = state.clone(cell_state=initial)
        dense = v1.layers.Dense(V, name="output_dense")
        out, _, _ = legacy_s2s.dynamic_decode(legacy_s2s.BasicDecoder(wrapper, helper, state, dense if inside else None),
                                              impute_finished=impute)
        logits = out.rnn_output if inside else dense(out.rnn_output)
        mask = tf.sequence_mask(target_length, tf.shape(targets)[1], dtype=tf.float32)
        return logits, legacy_s2s.sequence_loss(logits, targets, mask)


def _feeds(rng, ph: dict, lengths=(T, 2, 3), memory_lengths=(S, 3, 1)) -> dict:
    return {ph["memory"]: rng.uniform(-1, 1, (B, S, M)).astype(np.float32),
            ph["memory_length"]: np.array(memory_lengths, np.int32),
            ph["targets"]: rng.integers(2, V, (B, T)).astype(np.int32),
            ph["target_length"]: np.array(lengths, np.int32)}


def _build(directory: str) -> dict:
    rng = np.random.default_rng(21)
    with tf1_graph_form(True), tf.Graph().as_default():
        ph, embedding, batch = h.decoder_graph_inputs(M, V, E)
        memory, lengths, targets, target_length = ph["memory"], ph["memory_length"], ph["targets"], ph["target_length"]
        with v1.variable_scope("encoder"):
            enc_out, enc_state = v1.nn.dynamic_rnn(rnn.MultiRNNCell([rnn.BasicLSTMCell(4) for _ in range(2)]), memory,
                                                   sequence_length=lengths, dtype=tf.float32)
        with v1.variable_scope("d1"):
            mech1 = legacy_s2s.BahdanauAttention(6, memory, memory_sequence_length=lengths, normalize=True)
        d1 = _decoder("d1", [rnn.LSTMCell(5), rnn.LSTMCell(4)], mech1, targets, target_length, embedding, batch,
                      attention_layer_size=4, output_attention=False, alignment_history=True)
        with v1.variable_scope("d2"):
            mech2 = legacy_s2s.LuongAttention(4, memory, memory_sequence_length=lengths, scale=True)
        d2 = _decoder("d2", [rnn.GRUCell(4), rnn.GRUCell(4)], mech2, targets, target_length, embedding, batch,
                      inside=True, impute=True)
        with v1.variable_scope("d3"):
            mech3 = legacy_s2s.LuongAttention(4, enc_out, memory_sequence_length=lengths)
        d3 = _decoder("d3", [rnn.BasicLSTMCell(4, forget_bias=0.5) for _ in range(2)], mech3, targets, target_length,
                      embedding, batch, initial=enc_state, attention_layer_size=4, output_attention=True)
        train = v1.train.AdamOptimizer(0.01).minimize(d1[1] + d2[1] + d3[1])
        with v1.Session(config=h.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            h._randomize(sess, seed=3)
            sess.run(v1.variables_initializer([v for v in v1.global_variables() if "Adam" in v.op.name
                                               or "power" in v.op.name]))        # the optimizer's own start
            sess.run(train, _feeds(rng, ph))
            prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    return {"prefix": prefix, "logits": {k: d[0].name for k, d in (("d1", d1), ("d2", d2), ("d3", d3))},
            "placeholders": {k: p.name for k, p in ph.items()}}


@pytest.fixture(scope="module")
def stacked(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("stacked_wrapper")
    graph = _build(str(root))
    result = convert_checkpoint(graph["prefix"], root / "conv")
    graph.update(result=result, conv=str(root / "conv"),
                 manifest=json.load(open(root / "conv" / "manifest.json")))
    return graph


def _original(graph: dict, feeds: dict) -> dict:
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(graph["prefix"] + ".meta")
        with v1.Session(config=h.FAST) as sess:
            saver.restore(sess, graph["prefix"])
            names = list(graph["logits"])
            return dict(zip(names, sess.run([graph["logits"][n] for n in names], feeds)))


def test_each_stacked_decoder_is_one_block_checked_against_the_original_graph(stacked) -> None:
    assert stacked["result"].ok and os.path.isdir(stacked["conv"])
    entries = {e["name"]: e for e in stacked["manifest"]["seq2seq"]}
    assert sorted(entries) == ["d1_decoder", "d2_decoder", "d3_decoder"]
    d1, d2, d3 = entries["d1_decoder"], entries["d2_decoder"], entries["d3_decoder"]
    assert (d1["cell"], d1["layer_units"], d1["mechanism"], d1["normalize"]) == ("lstm", [5, 4], "bahdanau", True)
    assert (d2["cell"], d2["layer_units"], d2["mechanism"], d2["scale"]) == ("gru", [4, 4], "luong", True)
    assert (d3["cell"], d3["layer_units"], d3["attention_layer_size"]) == ("basic_lstm", [4, 4], 4)
    assert d2["attention_layer_size"] is None and d2["memory_depth"] == M
    # output_attention: d1 and d3 have attention width == cell width, so only the graph can tell
    assert (d1["output_attention"], d2["output_attention"], d3["output_attention"]) == (False, True, True)
    assert d1["hyper_sources"]["output_attention"].startswith(".meta graph") and \
        d3["hyper_sources"]["output_attention"].startswith(".meta graph")
    assert d3["cell_spec"]["forget_bias"] == 0.5 and len(d3["graph"]["initial_state"]) == 4   # (c, h) x 2 layers
    assert d1["graph"]["initial_state"] == [] and d1["projection"] and d2["projection"]
    every = {k for e in entries.values() for k in e["variables"]}
    assert {k for k in every if "multi_rnn_cell/cell_1/" in k}            # the layers are in the blocks
    verification = stacked["manifest"]["verification"]
    for name in entries:
        (check,) = [c for c in verification["checks"] if c["what"] == f"seq2seq {name}"]
        assert check["reference"] == "original-graph" and check["max_abs_diff"] < 1e-5
    assert verification["reference"] == "original-graph" and verification["ok"]


def test_the_default_whole_model_equals_the_original_graph(stacked) -> None:
    from modern_rnn import keras
    import modern_rnn.seq2seq.models  # noqa: F401

    model_entry = stacked["manifest"]["model"]
    assert model_entry, stacked["manifest"]["notes"]
    assert set(model_entry["inputs"]) == {"memory", "memory_length", "targets", "target_length"}   # targets: input
    assert len(model_entry["outputs"]) == 3
    assert {src.get("seq2seq") for src in model_entry["layers"].values()} >= {"d1_decoder", "d2_decoder", "d3_decoder"}
    model = keras.models.load_model(os.path.join(stacked["conv"], "model.keras"), compile=False, safe_mode=True)
    ph = stacked["placeholders"]
    rng = np.random.default_rng(5)
    for lengths in ((T, 2, 3), (1, 3, 2)):        # the loop runs max(lengths) steps, every row past its length too
        feeds = _feeds(rng, ph, lengths=lengths)
        want = _original(stacked, feeds)
        got = model([feeds[n + ":0"] for n in model_entry["inputs"]])
        by_output = dict(zip(model_entry["outputs"], [g.numpy() for g in got]))
        for name, tensor in stacked["logits"].items():
            assert by_output[tensor].shape == want[name].shape == (B, max(lengths), V)
            np.testing.assert_allclose(by_output[tensor], want[name], atol=1e-5)
            assert np.abs(want[name]).max() > 0.1
        short = int(np.argmin(lengths))   # impute_finished (d2): zeros past the row's length; d1 computes them
        assert np.all(want["d2"][short, lengths[short]:] == 0) and np.abs(want["d1"][short, lengths[short]:]).max() > 0.1
    # negative control: the two layers' recurrent kernels swapped (same shape) are caught
    layer = model.get_layer("decoder_d3_decoder")
    cells = layer.wrapper.cell.cells
    k0, k1 = cells[0].recurrent_kernel.numpy(), cells[1].recurrent_kernel.numpy()
    cells[0].recurrent_kernel.assign(k1)
    cells[1].recurrent_kernel.assign(k0)
    feeds = _feeds(rng, ph)
    got = dict(zip(model_entry["outputs"], [g.numpy() for g in model([feeds[n + ":0"] for n in model_entry["inputs"]])]))
    assert np.abs(got[stacked["logits"]["d3"]] - _original(stacked, feeds)["d3"]).max() > 1e-3


def test_teacher_forcing_targets_are_an_input_and_the_labels() -> None:
    """The default outputs (graph building only): targets shifted into the decoder and used as the labels make the
    model's logits the output, with the targets an input (they were taken for labels only: no default output). A
    sampled softmax's labels, which gather output weights, stay labels (tests/checkpoint/test_whole_model_losses.py)."""
    from migration.graph.graphdef import GraphIndex
    from migration.graph.model_outputs import _Graph, loss_predictions

    graph = tf.Graph()
    with graph.as_default():
        targets = v1.placeholder(tf.int32, [None, None], "targets")
        embedding = v1.get_variable("embedding", [V, E])
        shifted = tf.concat([tf.fill([tf.shape(targets)[0], 1], 1), targets[:, :-1]], 1)
        out, _ = v1.nn.dynamic_rnn(rnn.GRUCell(4), tf.nn.embedding_lookup(embedding, shifted), dtype=tf.float32)
        logits = v1.layers.dense(out, V, name="logits")
        loss = legacy_s2s.sequence_loss(logits, targets, tf.ones_like(targets, tf.float32))
        v1.train.GradientDescentOptimizer(0.1).minimize(loss)
    index = GraphIndex(graph.as_graph_def())
    outputs, losses = loss_predictions(index)
    assert outputs == ["logits/BiasAdd:0"] and _Graph(index, losses).inputs == {"targets"}


def test_a_wrapper_inside_a_multirnncell_is_one_block_with_the_stack() -> None:
    """``MultiRNNCell([lstm, AttentionWrapper(lstm)])``: the wrapper is layer 1 of the stack, around ONE cell (not
    the stacked form above), and the block is the whole stack (tests/seq2seq/test_mixed_attention_stack.py); a
    wrapper around a stack of one kind is the stacked form."""
    from migration import seq2seq_converters as s2c

    inner = {"rnn/multi_rnn_cell/cell_0/lstm_cell/kernel": (9, 16), "rnn/multi_rnn_cell/cell_0/lstm_cell/bias": (16,),
             "rnn/multi_rnn_cell/cell_1/attention_wrapper/bahdanau_attention/attention_v": (5,),
             "rnn/multi_rnn_cell/cell_1/attention_wrapper/bahdanau_attention/query_layer/kernel": (4, 5),
             "rnn/multi_rnn_cell/cell_1/attention_wrapper/lstm_cell/kernel": (4 + 6 + 4, 16),
             "rnn/multi_rnn_cell/cell_1/attention_wrapper/lstm_cell/bias": (16,), "memory_layer/kernel": (6, 5)}
    (block,) = s2c.recognize_seq2seq(inner)
    assert block.prefix == "rnn/multi_rnn_cell/cell_1/" and block.layer_units == () and block.input_depth == 9 - 4
    assert block.cell_scopes() == ["lstm_cell"] and block.keras_cell_prefixes() == ["stack/cell_0/", "cell/"]
    assert block.cell_keys() == ["rnn/multi_rnn_cell/cell_0/lstm_cell", "rnn/multi_rnn_cell/cell_1/attention_wrapper/"
                                 "lstm_cell"] and block.stack_units == (4, 4) and block.stack_index == 1
    assert {"rnn/multi_rnn_cell/cell_0/lstm_cell/kernel", "memory_layer/kernel"} <= set(block.names)
    outer = {"d/attention_wrapper/bahdanau_attention/attention_v": (5,),
             "d/attention_wrapper/bahdanau_attention/query_layer/kernel": (3, 5),
             "d/attention_wrapper/multi_rnn_cell/cell_0/lstm_cell/kernel": (4 + 6 + 2, 8),
             "d/attention_wrapper/multi_rnn_cell/cell_0/lstm_cell/bias": (8,),
             "d/attention_wrapper/multi_rnn_cell/cell_1/lstm_cell/kernel": (2 + 3, 12),
             "d/attention_wrapper/multi_rnn_cell/cell_1/lstm_cell/bias": (12,), "d/memory_layer/kernel": (6, 5)}
    (block,) = s2c.recognize_seq2seq(outer)
    assert block.layer_units == (2, 3) and block.cell_units == 3 and block.input_depth == 4
    assert block.layer_input_sizes() == [4 + 6, 2]
    with pytest.raises(Exception, match="expected 5 rows"):                 # layer 1 must read layer 0's 2 outputs
        s2c.recognize_seq2seq({**outer, "d/attention_wrapper/multi_rnn_cell/cell_1/lstm_cell/kernel": (4 + 3, 12)})
