"""``tf.nn.raw_rnn`` decoders (issue 21, the seq2seq-rawrnn-nb family): an encoder (time-major ``dynamic_rnn``) and a
decoder unrolled by ``raw_rnn`` with a ``loop_fn`` that feeds back ``embedding_lookup(E, argmax(output @ W + b))``.
Default ``convert`` writes the whole model with the decoder as ``modern_rnn.FeedbackDecoder``; ``model.keras``
(loaded in safe mode) equals the ORIGINAL graph (``import_meta_graph`` + ``Saver.restore``, run here by TensorFlow,
not by rnn-migrate), and the decoder block is checked against the original graph (not a rebuilt one).

Spellings covered: an LSTM decoder with a hand-written ``loop_fn`` (``tf.cond`` to a PAD input once all rows are done,
``nn.bias_add``, ``tf.shape``-sized reshape of the logits that the program's argmax reads); a two-layer GRU decoder
(``MultiRNNCell``, both layers started from one encoder state tensor) written with the legacy twin (``legacy_rnn.feedback_decoder``: ``Add`` bias, rows also finishing on an EOS prediction); an
LSTM decoder with teacher forcing (the TF docs' example: a ``TensorArray`` unstacked from batch-major embedded inputs
transposed to time-major, read at ``time`` until every row is done, zeros after).
Negative controls: a wrong weight inside the decoder in ``model.keras`` is caught; refused, naming the op and the
remedy: a ``loop_fn`` whose finished flags are not ``time >= lengths``, one that emits the projection instead of the
cell output, a raw_rnn in TF 2.x's ``While`` form (not translated yet); the Keras layer without its EOS rule differs.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn.feedback_decoder import greedy_raw_rnn
from migration.checkpoint import convert_checkpoint
from migration.checkpoint.reader import CheckpointReader
from migration.core.errors import MigrationError
from migration.graph import raw_rnn
from migration.graph.blocks import find_loops
from migration.graph.reference import OriginalGraph
from tests.checkpoint.ground_truth_graphs import tf1_graph_form
from tests.checkpoint.tf1_values import load_values

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
FAST = v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
V, E, H, T, B = 7, 5, 6, 4, 3
EOS = 5  # with these weights some rows predict it early (5 or 6 steps instead of T + 3 = 7), never all at once


def _encoder(cell):
    ids = v1.placeholder(tf.int32, [None, None], "ids")  # time-major [T, B]
    lengths = v1.placeholder(tf.int32, [None], "lengths")
    emb = v1.get_variable("emb", [V, E])
    _, state = v1.nn.dynamic_rnn(cell, tf.nn.embedding_lookup(emb, ids), sequence_length=lengths, time_major=True,
                                 dtype=tf.float32, scope="encoder")
    return ids, lengths, emb, state


def _logits(outputs, w, b):
    steps, batch = tf.unstack(tf.shape(outputs))[:2]
    flat = tf.nn.bias_add(tf.matmul(tf.reshape(outputs, [-1, H]), w), b)
    logits = tf.reshape(flat, tf.stack([steps, batch, V]))
    tf.argmax(logits, 2, name="prediction")  # the program's own prediction reads the reshaped logits
    return logits


def _lstm_hand_written(kind: str):
    ids, lengths, emb, state = _encoder(v1.nn.rnn_cell.LSTMCell(H))
    w, b = v1.get_variable("W", [H, V]), v1.get_variable("b", [V])
    dec_lengths = lengths + 2
    batch = tf.shape(ids)[1]
    go = tf.nn.embedding_lookup(emb, tf.ones([batch], tf.int32))
    pad = tf.nn.embedding_lookup(emb, tf.zeros([batch], tf.int32))

    def loop_fn(time, output, cell_state, loop_state):
        if cell_state is None:  # emitting logits: the time-0 emit gives their size
            return (0 >= dec_lengths, go, state, tf.zeros([V]) if kind == "emits_logits" else None, None)
        if kind == "refused":  # finished flags from the output's values, not from time and lengths
            finished = tf.reduce_sum(output, 1) > 0.0
        else:
            finished = time >= dec_lengths
        emit = tf.matmul(output, w) if kind == "emits_logits" else output  # what raw_rnn stacks

        def feedback():
            return tf.nn.embedding_lookup(emb, tf.argmax(tf.nn.bias_add(tf.matmul(output, w), b), axis=1))
        return (finished, tf.cond(tf.reduce_all(finished), lambda: pad, feedback), cell_state, emit, None)

    outputs_ta, _, _ = v1.nn.raw_rnn(v1.nn.rnn_cell.LSTMCell(H), loop_fn, scope="decoder")
    logits = _logits(outputs_ta.stack(), w, b) if kind != "emits_logits" else outputs_ta.stack()
    targets = v1.placeholder(tf.int32, [None, None], "targets")
    tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits))
    return ids, lengths, logits


def _gru_legacy_eos():
    ids, lengths, emb, state = _encoder(v1.nn.rnn_cell.GRUCell(H))
    w, b = v1.get_variable("proj_w", [H, V]), v1.get_variable("proj_b", [V])
    go = tf.nn.embedding_lookup(emb, tf.fill(tf.shape(ids)[1:2], 1))
    cell = v1.nn.rnn_cell.MultiRNNCell([v1.nn.rnn_cell.GRUCell(H), v1.nn.rnn_cell.GRUCell(H)])
    outputs, _ = greedy_raw_rnn(cell, go, (state, state), lengths + 3, embeddings=emb, kernel=w, bias=b, eos_id=EOS,
                                scope="decoder")  # both layers start from the one encoder state tensor
    steps, batch = tf.unstack(tf.shape(outputs))[:2]
    logits = tf.reshape(tf.matmul(tf.reshape(outputs, [-1, H]), w) + b, tf.stack([steps, batch, V]))
    tf.nn.softmax(logits, name="probabilities")
    return ids, lengths, logits


def _lstm_teacher_forced():
    """The TF docs' raw_rnn example: inputs unstacked into a TensorArray, read at ``time`` until every row is done."""
    ids, lengths, emb, state = _encoder(v1.nn.rnn_cell.LSTMCell(H))
    dec_ids = v1.placeholder(tf.int32, [None, None], "dec_ids")  # batch-major, transposed for the TensorArray
    dec_lengths = v1.placeholder(tf.int32, [None], "dec_lengths")
    inputs = tf.transpose(tf.nn.embedding_lookup(emb, dec_ids), [1, 0, 2])
    inputs_ta = tf.TensorArray(tf.float32, size=tf.shape(inputs)[0]).unstack(inputs)

    def loop_fn(time, output, cell_state, loop_state):
        next_state = state if cell_state is None else cell_state
        finished = time >= dec_lengths
        zeros = tf.zeros([tf.shape(dec_ids)[0], E])
        next_input = tf.cond(tf.reduce_all(finished), lambda: zeros, lambda: inputs_ta.read(time))
        return (finished, next_input, next_state, output, None)

    outputs_ta, _, _ = v1.nn.raw_rnn(v1.nn.rnn_cell.LSTMCell(H), loop_fn, scope="decoder")
    w, b = v1.get_variable("W", [H, V]), v1.get_variable("b", [V])
    return ids, lengths, _logits(outputs_ta.stack(), w, b)


BUILDERS = {"lstm": lambda: _lstm_hand_written("lstm"), "gru_eos": _gru_legacy_eos, "teacher": _lstm_teacher_forced,
            "refused": lambda: _lstm_hand_written("refused"), "v2": lambda: _lstm_hand_written("lstm"),
            "emits_logits": lambda: _lstm_hand_written("emits_logits")}
CONVERTED = ("lstm", "gru_eos", "teacher")


def _feeds(seed: int, kind: str = "") -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = [rng.integers(0, V, (T, B)).astype(np.int32), np.array([T, 1, 3], np.int32)]
    if kind == "teacher":
        out += [rng.integers(0, V, (B, T + 1)).astype(np.int32), np.array([2, T + 1, 1], np.int32)]
    return out


def _build(directory: str, kind: str) -> dict:
    rng = np.random.default_rng(11)
    with tf1_graph_form(kind != "v2"), tf.Graph().as_default():  # the TF 1.x frames a TF1 program's .meta holds
        ids, lengths, logits = BUILDERS[kind]()
        with v1.Session(config=FAST) as sess:
            sess.run(v1.global_variables_initializer())
            load_values(sess, [(var, rng.normal(0, 0.8, var.shape.as_list()).astype(np.float32))
                               for var in v1.trainable_variables()])  # asymmetric weights, non-zero biases
            prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    return {"prefix": prefix, "logits": logits.name}


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict:
    out = {}
    for kind in BUILDERS:
        root = tmp_path_factory.mktemp(f"raw_rnn_{kind}")
        case = _build(str(root), kind)
        if kind in CONVERTED:
            case["result"] = convert_checkpoint(case["prefix"], root / "conv", check_integrity=False)
            case["conv"] = str(root / "conv")
        out[kind] = case
    return out


def _original(case: dict, feeds: list[np.ndarray]) -> np.ndarray:
    names = ["ids:0", "lengths:0", "dec_ids:0", "dec_lengths:0"]
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(case["prefix"] + ".meta")
        with v1.Session(config=FAST) as sess:
            saver.restore(sess, case["prefix"])
            return sess.run(case["logits"], dict(zip(names, feeds)))


def _run(model, feeds: list[np.ndarray]) -> np.ndarray:
    return np.asarray(model([tf.constant(f) for f in feeds]))


def _keras(conv: str):
    import tf_keras

    return tf_keras.models.load_model(os.path.join(conv, "model.keras"), compile=False, safe_mode=True)


@pytest.mark.parametrize("kind", ["lstm", "gru_eos", "teacher"])
def test_default_whole_model_equals_the_original_graph(cases, kind: str) -> None:
    case = cases[kind]
    manifest = json.load(open(os.path.join(case["conv"], "manifest.json")))
    assert manifest["model"]["outputs"] == [case["logits"]]  # the [steps, batch, vocab] logits the argmax reads
    assert manifest["model"]["inputs"] == ["ids", "lengths"] + (["dec_ids", "dec_lengths"] if kind == "teacher" else [])
    assert any(p.startswith("raw_rnn decoder") for p in manifest["model"]["pieces"])
    verification = manifest["verification"]
    assert verification["ok"] and set(verification["references"].values()) == {"original-graph"}
    decoder = [c for c in verification["checks"] if c["what"] == "block decoder"]
    assert len(decoder) == 3 and max(c["max_abs_diff"] for c in decoder) < 1e-5
    model = _keras(case["conv"])
    for seed in (0, 1):
        feeds = _feeds(seed, kind)
        expected = _original(case, feeds)
        got = _run(model, feeds)
        assert got.shape == expected.shape and expected.shape[1:] == (B, V)
        np.testing.assert_allclose(got, expected, atol=1e-5)
        if kind == "lstm":  # every row runs to its own length + 2; finished rows emit zeros, logits = b there
            assert expected.shape[0] == T + 2
            b = tf.train.load_variable(case["prefix"], "b")
            np.testing.assert_allclose(expected[1 + 2:, 1], np.broadcast_to(b, (T + 2 - 3, V)), atol=1e-6)
        if kind == "gru_eos":  # EOS ends the decoding before the longest length + 3
            assert 1 < expected.shape[0] < T + 3
        if kind == "teacher":  # as long as the longest decoder row, whatever the encoder lengths
            assert expected.shape[0] == T + 1
    # negative control: a wrong weight inside the decoder (the projection its argmax feeds back; teacher forcing has
    # none: the cell's kernel) is caught
    layer = next(l for l in model.layers if type(l).__name__ == "FeedbackDecoder")
    weight = layer.kernel if kind != "teacher" else layer.cell.kernel
    weight.assign(weight + np.random.default_rng(5).normal(0, 1.0, weight.shape).astype(np.float32))
    feeds = _feeds(0, kind)
    off = _run(model, feeds)
    expected = _original(case, feeds)
    assert off.shape != expected.shape or np.abs(off - expected).max() > 1e-3


def test_the_eos_rule_is_part_of_the_layer(cases) -> None:
    model = _keras(cases["gru_eos"]["conv"])
    layer = next(l for l in model.layers if type(l).__name__ == "FeedbackDecoder")
    assert layer.eos_id == EOS and layer.feedback == "argmax"
    lstm = next(l for l in _keras(cases["lstm"]["conv"]).layers if type(l).__name__ == "FeedbackDecoder")
    assert lstm.eos_id is None
    layer.eos_id = None  # negative control: without the EOS stop the GRU decoder runs longer or differently
    feeds = _feeds(0)
    expected = _original(cases["gru_eos"], feeds)
    got = _run(model, feeds)
    assert got.shape != expected.shape or np.abs(got - expected).max() > 1e-3


def test_an_unrecognized_loop_fn_is_refused_naming_the_op_and_the_remedy(cases) -> None:
    case = cases["refused"]
    og = OriginalGraph(case["prefix"] + ".meta", CheckpointReader(case["prefix"]))
    keys = {"decoder/lstm_cell/kernel", "decoder/lstm_cell/bias"}
    with pytest.raises(MigrationError, match=r"finished flags come from .*Greater.*--outputs at the encoder"):
        raw_rnn.find(og, find_loops(og), keys)
    assert raw_rnn.find(og, find_loops(og), {"encoder/lstm_cell/kernel"}) is None  # a dynamic_rnn: not raw_rnn
    case = cases["emits_logits"]  # a loop_fn emitting the projection, not the cell output: refused, never mistranslated
    og = OriginalGraph(case["prefix"] + ".meta", CheckpointReader(case["prefix"]))
    with pytest.raises(MigrationError, match=r"emits .*MatMul.*not the cell output.*--outputs at the encoder"):
        raw_rnn.find(og, find_loops(og), keys)
    case = cases["v2"]  # TF 2.x's form (a While op with function bodies): refused with the way to the TF 1.x form
    og = OriginalGraph(case["prefix"] + ".meta", CheckpointReader(case["prefix"]))
    with pytest.raises(MigrationError, match=r"TF 2.x form.*disable_control_flow_v2.*--outputs at the encoder"):
        raw_rnn.find(og, find_loops(og), keys)
    assert raw_rnn.find(og, find_loops(og), {"encoder/lstm_cell/kernel"}) is None


def _restored(case: dict, prefix: str, feeds: list[np.ndarray]) -> np.ndarray:
    """The ORIGINAL graph with every trainable variable restored from ``prefix`` by a Saver over them."""
    names = ["ids:0", "lengths:0", "dec_ids:0", "dec_lengths:0"]
    with tf.Graph().as_default():
        v1.train.import_meta_graph(case["prefix"] + ".meta")
        with v1.Session(config=FAST) as sess:
            v1.train.Saver(v1.trainable_variables()).restore(sess, prefix)
            return sess.run(case["logits"], dict(zip(names, feeds)))


@pytest.mark.parametrize("kind", CONVERTED)
def test_export_restores_the_decoder_in_the_original_graph(cases, tmp_path, kind: str) -> None:
    """``export`` of the whole model writes the FeedbackDecoder's cell, projection and feedback embedding under the
    original names (issue 21, "Export round trip": it crashed with an AttributeError); a fine-tuned decoder weight
    reaches the original graph; copies of one variable that differ, and a manifest without the decoder's keys, are
    refused naming the layer."""
    from migration.checkpoint.export import export_keras_model
    from migration.checkpoint.export_names import names_for

    case = cases[kind]
    path = os.path.join(case["conv"], "model.keras")
    result = export_keras_model(path, tmp_path / "a" / "model.ckpt", names=names_for(path))
    wanted = {n for n, _ in tf.train.list_variables(case["prefix"]) if "Adam" not in n and "power" not in n}
    assert set(result.variables) == wanted
    feeds = _feeds(0, kind)
    np.testing.assert_allclose(_restored(case, result.prefix, feeds), _original(case, feeds), atol=1e-5)
    model = _keras(case["conv"])
    layer = next(l for l in model.layers if type(l).__name__ == "FeedbackDecoder")
    shared = [w for w in ("kernel", "embeddings") if getattr(layer, w) is not None]
    if kind == "teacher":  # teacher forcing: no feedback weights, its cell is the decoder's own
        assert not shared
        layer.cell.kernel.assign(layer.cell.kernel + 0.5)  # "fine-tuned": the export carries it to the original graph
        tuned = export_keras_model(model, tmp_path / "b" / "model.ckpt", names=names_for(path))
        assert np.abs(_restored(case, tuned.prefix, feeds) - _original(case, feeds)).max() > 1e-3
        return
    # negative control: the decoder's feedback embedding tuned apart from the encoder's (one variable in the graph)
    layer.embeddings.assign(layer.embeddings + 0.5)
    with pytest.raises(MigrationError, match=r"'emb' is read by both .*embeddings.*differ"):
        export_keras_model(model, tmp_path / "c" / "model.ckpt", names=names_for(path))
    manifest = json.load(open(os.path.join(case["conv"], "manifest.json")))
    for source in manifest["model"]["layers"].values():  # a conversion that did not record the decoder's keys
        for key in [k for k in source if k.startswith("feedback_")]:
            del source[key]
    old = tmp_path / "old_manifest.json"
    old.write_text(json.dumps(manifest))
    with pytest.raises(MigrationError, match=r"layer 'raw_rnn_\w+' \(FeedbackDecoder\).*does not record.*"
                                             r"--standard-names"):
        export_keras_model(path, tmp_path / "d" / "model.ckpt", names=names_for(path, str(old)))
    assert not os.path.exists(tmp_path / "d")
