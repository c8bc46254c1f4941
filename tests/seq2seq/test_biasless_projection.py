"""A bias-less output projection (issue 21, cause 9): ``Dense(V, use_bias=False, name="output_projection")`` as
NMT-style code writes it, ``tf.layers.dense(..., use_bias=False)`` and a bare ``tf.matmul(h, softmax_w)``.

Before, the lone kernel was "unrecognized": a ``dynamic_decode`` decoder got no projection, its teacher-forced check
against the original graph failed (``max|diff| = inf``, exit 1), and classifiers listed the head as not migrated.
Graphs (real Saver checkpoints with their ``.meta``, seeded asymmetric weights, no loss: inference exports):

* ``after``: the projection applied to ``dynamic_decode``'s ``rnn_output`` (TF 1.x graph form);
* ``output_layer``: the same layer as ``BasicDecoder(output_layer=...)``, applied inside the decoder loop;
* ``layers``: ``dynamic_rnn`` classifier, ``tf.layers.dense(last, V, use_bias=False)`` (TF 2.x graph form: resource
  variables);
* ``matmul``: ``dynamic_rnn`` classifier, ``x @ softmax_w`` (square, so that a transposed kernel is a valid wrong
  answer), beside ``out_w`` read only as ``matmul(h, out_w, transpose_b=True)`` and ``reg_w`` read by no MatMul.

Each is converted once with the defaults; the decoder blocks are checked against the original graph by ``convert``
itself and every whole model is compared here with an independent run of the original graph (``import_meta_graph`` +
``Saver.restore``). Negative controls: a bias invented on the converted head, the kernel transposed, a kernel read
only transposed and a matrix read by no MatMul are not taken as heads.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from migration.checkpoint import convert_checkpoint, inspect_checkpoint
from migration.commands.inspect import format_report
from tests.checkpoint.ground_truth_graphs import tf1_graph_form
from tests.seq2seq import harness as h

tf, v1 = h.tf, h.v1
legacy_s2s = h.legacy_s2s
rnn = v1.nn.rnn_cell
B, S, T, M, V, E, U = 3, 5, 4, 6, 11, 3, 4     # batch, memory steps/depth, target steps, vocab, embedding, units
H = 6                                           # classifier units = classes of the square softmax_w
WIDTH, STEPS = 3, 6                             # beam width, decoding steps


def _save(directory: str) -> str:
    with v1.Session(config=h.FAST) as sess:
        sess.run(v1.global_variables_initializer())
        h._randomize(sess, seed=4)
        return v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))


def _decoder(directory: str, style: str) -> dict:
    with tf1_graph_form(True), tf.Graph().as_default():
        ph, embedding, batch = h.decoder_graph_inputs(M, V, E)
        with v1.variable_scope("decoder"):
            mechanism = legacy_s2s.BahdanauAttention(6, ph["memory"], memory_sequence_length=ph["memory_length"],
                                                     normalize=True)
            cell = legacy_s2s.AttentionWrapper(rnn.LSTMCell(U), mechanism, attention_layer_size=4)
            inputs = tf.nn.embedding_lookup(embedding, tf.concat([tf.fill([batch, 1], 1), ph["targets"][:, :-1]], 1))
            helper = legacy_s2s.TrainingHelper(inputs, ph["target_length"])
            layer = v1.layers.Dense(V, use_bias=False, name="output_projection")
            decoder = legacy_s2s.BasicDecoder(cell, helper, cell.zero_state(batch, tf.float32),
                                              output_layer=layer if style == "output_layer" else None)
            out, _, _ = legacy_s2s.dynamic_decode(decoder)
            logits = out.rnn_output if style == "output_layer" else layer(out.rnn_output)
        tf.argmax(tf.nn.softmax(logits), -1, name="ids")
        prefix = _save(directory)
    return {"prefix": prefix, "outputs": [logits.name], "kernel": layer.kernel.op.name}


def _beam(directory: str, style: str) -> dict:
    """An inference export: ``BeamSearchDecoder(..., output_layer=Dense(V, use_bias=False))`` alone."""
    with tf1_graph_form(True), tf.Graph().as_default():
        memory = v1.placeholder(tf.float32, [None, None, M], "memory")
        lengths = v1.placeholder(tf.int32, [None], "memory_length")
        embedding = v1.get_variable("embedding", [V, E])
        batch = tf.shape(memory)[0]
        with v1.variable_scope("decoder"):
            mechanism = legacy_s2s.BahdanauAttention(6, legacy_s2s.tile_batch(memory, WIDTH), normalize=True,
                                                     memory_sequence_length=legacy_s2s.tile_batch(lengths, WIDTH))
            cell = legacy_s2s.AttentionWrapper(rnn.LSTMCell(U), mechanism, attention_layer_size=4)
            layer = v1.layers.Dense(V, use_bias=False, name="output_projection")
            decoder = legacy_s2s.BeamSearchDecoder(cell, embedding, tf.fill([batch], 0), 1,
                                                   cell.zero_state(batch * WIDTH, tf.float32), WIDTH,
                                                   output_layer=layer)
            out, _, _ = legacy_s2s.dynamic_decode(decoder, maximum_iterations=STEPS)
        ids = tf.identity(out.predicted_ids, name="ids")
        prefix = _save(directory)
    return {"prefix": prefix, "outputs": [ids.name], "kernel": layer.kernel.op.name}


def _classifier(directory: str, style: str) -> dict:
    with tf1_graph_form(style == "matmul"), tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, T, 3], "x")
        lengths = v1.placeholder(tf.int32, [None], "lengths")
        out, _ = v1.nn.dynamic_rnn(rnn.LSTMCell(H), x, sequence_length=lengths, dtype=tf.float32)
        last = tf.gather_nd(out, tf.stack([tf.range(tf.shape(x)[0]), lengths - 1], 1))
        if style == "layers":
            logits = v1.layers.dense(last, V, use_bias=False, name="output_projection")
            outputs, kernel = [logits], "output_projection/kernel"
        else:
            softmax_w = v1.get_variable("softmax_w", [H, H])
            out_w = v1.get_variable("out_w", [5, H])       # read only transposed: no Dense kernel as stored
            reg_w = v1.get_variable("reg_w", [H, 3])        # read by no MatMul (only a regularizer)
            logits = tf.matmul(last, softmax_w)
            scores = tf.matmul(last, out_w, transpose_b=True, name="scores")
            v1.add_to_collection("l2", tf.nn.l2_loss(reg_w))
            outputs, kernel = [logits, scores], "softmax_w"
        tf.nn.softmax(logits, name="probs")
        prefix = _save(directory)
    return {"prefix": prefix, "outputs": [t.name for t in outputs], "kernel": kernel}


@pytest.fixture(scope="module")
def built() -> dict:
    """Each graph built and converted once for the module (tests ask for different subsets of them)."""
    return {}


@pytest.fixture
def converted(request, built, tmp_path_factory) -> dict:
    if request.param in built:
        return built[request.param]
    root = tmp_path_factory.mktemp(f"biasless_{request.param}")
    build = {"after": _decoder, "output_layer": _decoder, "beam": _beam}.get(request.param, _classifier)
    graph = build(str(root), request.param)
    result = convert_checkpoint(graph["prefix"], root / "conv")
    graph.update(style=request.param, result=result, conv=str(root / "conv"),
                 manifest=json.load(open(root / "conv" / "manifest.json")))
    built[request.param] = graph
    return graph


def _feeds(style: str, rng) -> dict:
    if style in ("layers", "matmul"):
        return {"x:0": rng.uniform(-1, 1, (B, T, 3)).astype(np.float32), "lengths:0": np.array([T, 2, 3], np.int32)}
    return {"memory:0": rng.uniform(-1, 1, (B, S, M)).astype(np.float32),
            "memory_length:0": np.array([S, 3, 1], np.int32),
            "targets:0": rng.integers(2, V, (B, T)).astype(np.int32),
            "target_length:0": np.array([T, 2, 3], np.int32)}


def _original(graph: dict, feeds: dict) -> list[np.ndarray]:
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(graph["prefix"] + ".meta")
        with v1.Session(config=h.FAST) as sess:
            saver.restore(sess, graph["prefix"])
            return sess.run(graph["outputs"], feeds)


ALL = pytest.mark.parametrize("converted", ["after", "output_layer", "beam", "layers", "matmul"], indirect=True)
WHOLE = pytest.mark.parametrize("converted", ["after", "output_layer", "layers", "matmul"], indirect=True)
DECODERS = pytest.mark.parametrize("converted", ["after", "output_layer"], indirect=True)
CLASSIFIERS = pytest.mark.parametrize("converted", ["layers", "matmul"], indirect=True)


@ALL
def test_the_lone_kernel_is_a_biasless_dense_head(converted) -> None:
    manifest = converted["manifest"]
    assert converted["result"].ok
    (head,) = [d for d in manifest["dense"] if d["kernel"] == converted["kernel"]]
    assert head["bias"] is None and head["bias_file"] is None
    np.testing.assert_array_equal(np.load(os.path.join(converted["conv"], head["kernel_file"])),
                                  tf.train.load_checkpoint(converted["prefix"]).get_tensor(converted["kernel"]))
    assert all(u["name"] != converted["kernel"] for u in manifest["unrecognized"])
    text = format_report(inspect_checkpoint(converted["prefix"]).to_dict())
    assert f"kernel={converted['kernel']} bias=none (use_bias=False)" in text


@DECODERS
def test_the_decoder_projection_is_checked_against_the_original_graph(converted) -> None:
    (entry,) = converted["manifest"]["seq2seq"]
    assert entry["projection"] == [converted["kernel"], None]
    (check,) = [c for c in converted["manifest"]["verification"]["checks"] if c["what"] == f"seq2seq {entry['name']}"]
    assert check["reference"] == "original-graph" and check["max_abs_diff"] < 1e-5 and check["shape"][-1] == V


def _dense_head(model, kernel_shape):
    from modern_rnn import keras

    layers = [layer for layer in _all_layers(model) if isinstance(layer, keras.layers.Dense)
              and tuple(layer.kernel.shape) == kernel_shape]
    assert len(layers) == 1 and not layers[0].use_bias
    return layers[0]


def _all_layers(layer):
    yield layer
    for sub in getattr(layer, "layers", None) or getattr(layer, "_flatten_layers", lambda **k: [])(include_self=False):
        if sub is not layer:
            yield from _all_layers(sub)


@WHOLE
def test_the_whole_model_equals_the_original_graph_and_a_wrong_head_is_caught(converted) -> None:
    from modern_rnn import keras
    import modern_rnn.seq2seq.models  # noqa: F401

    entry = converted["manifest"]["model"]
    assert sorted(entry["outputs"]) == sorted(converted["outputs"])  # the logits under the softmax, and `scores`
    model = keras.models.load_model(os.path.join(converted["conv"], "model.keras"), compile=False, safe_mode=True)
    feeds = _feeds(converted["style"], np.random.default_rng(8))
    inputs = [feeds[n + ":0"] for n in entry["inputs"]]
    want = _original({**converted, "outputs": entry["outputs"]}, feeds)
    got = model(inputs)
    got = [np.asarray(g) for g in (got if isinstance(got, (list, tuple)) else [got])]
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and np.abs(w).max() > 0.1
        np.testing.assert_allclose(g, w, atol=1e-5)
    kernel_shape = tuple(tf.train.load_checkpoint(converted["prefix"]).get_variable_to_shape_map()[converted["kernel"]])
    layer = _dense_head(model, kernel_shape)
    kernel = layer.kernel.numpy()

    def worst() -> float:
        again = model(inputs)
        again = again if isinstance(again, (list, tuple)) else [again]
        return max(float(np.abs(np.asarray(g) - w).max()) for g, w in zip(again, want))

    # negative control 1: a bias invented where the original has none (Keras's own Dense.call adds it)
    layer.bias = tf.Variable(np.linspace(-0.5, 0.5, kernel.shape[1]).astype(np.float32))
    layer.use_bias = True
    assert worst() > 1e-3
    layer.use_bias = False
    assert worst() < 1e-5
    # negative control 2: the kernel transposed (square head) or its columns reversed (a vocabulary permutation)
    layer.kernel.assign(kernel.T if kernel.shape[0] == kernel.shape[1] else kernel[:, ::-1])
    assert worst() > 1e-3


@pytest.mark.parametrize("converted", ["matmul"], indirect=True)
def test_a_transposed_read_and_an_unread_matrix_are_not_heads(converted) -> None:
    manifest = converted["manifest"]
    heads = {d["kernel"] for d in manifest["dense"]}
    assert heads == {"softmax_w"}
    reasons = {u["name"]: u["reason"] for u in manifest["unrecognized"]}
    assert "transpose_b=True" in reasons["out_w"] and "matches no embedding, dense" in reasons["reg_w"]
    # without the .meta the name alone is no evidence for softmax_w/out_w/reg_w; a tf.layers `kernel` would be
    insp = inspect_checkpoint(converted["prefix"])
    assert {d.kernel for d in insp.dense} == {"softmax_w"}


@CLASSIFIERS
def test_without_the_meta_only_a_layers_kernel_is_a_head(tmp_path, converted) -> None:
    import shutil

    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(converted["prefix"] + suffix, tmp_path / ("m" + suffix))
    insp = inspect_checkpoint(str(tmp_path / "m"))
    want = {"output_projection/kernel"} if converted["style"] == "layers" else set()
    assert {d.kernel for d in insp.dense} == want
    assert all(d.bias is None for d in insp.dense)


@pytest.mark.parametrize("converted", ["beam"], indirect=True)
def test_a_beam_search_output_layer_without_bias_decodes_as_the_original_graph(converted):
    """No whole model for a beam-search export (its TensorArray ops have no Keras translation) and the block check
    is the rebuilt one; so the converted decoder's own beam search is compared here with the original graph's ids."""
    from modern_rnn import keras
    import modern_rnn.seq2seq.models  # noqa: F401

    (entry,) = converted["manifest"]["seq2seq"]
    assert entry["projection"] == [converted["kernel"], None]
    beams = [c for c in converted["manifest"]["verification"]["checks"] if c["what"].endswith(" beam")]
    assert beams and all(c["max_abs_diff"] == 0 for c in beams)
    model = keras.models.load_model(os.path.join(converted["conv"], entry["file"]), safe_mode=True)
    feeds = _feeds("after", np.random.default_rng(8))
    memory, lengths = feeds["memory:0"], feeds["memory_length:0"]
    (want,) = _original(converted, {"memory:0": memory, "memory_length:0": lengths})
    got, _ = model.beam_search(memory, lengths, [0] * B, 1, WIDTH, STEPS)
    got = np.asarray(got)
    assert want.shape[-1] == WIDTH and len(np.unique(want)) > 2
    np.testing.assert_array_equal(got[:, :want.shape[1]], want)
    # negative control: a bias invented on the projection (the end token favoured) decodes other ids
    layer = _dense_head(model, (4, V))  # rows: the attention layer's size
    layer.bias = tf.Variable(np.eye(1, V, 1, dtype=np.float32)[0] * 3.0)
    layer.use_bias = True
    bad, _ = model.beam_search(memory, lengths, [0] * B, 1, WIDTH, STEPS)
    bad = np.asarray(bad)
    assert bad.shape != want.shape or not np.array_equal(bad, want)


@CLASSIFIERS
def test_the_whole_model_exports_back_into_the_original_graph(tmp_path, converted) -> None:
    """``export`` with the manifest writes the original names, the head's kernel alone (no bias invented: the
    exported variables are exactly the checkpoint's, less ``reg_w`` that no output reads) and ``out_w``, read as
    ``matmul(h, out_w, transpose_b=True)``, transposed back to its own shape (it was written as the Dense kernel
    ``out_w^T`` under the name ``out_w`` before); ``Saver.restore`` in the original ``.meta`` graph takes them with
    the checkpoint's values."""
    from migration.cli import main

    prefix = str(tmp_path / "exported")
    assert main(["export", os.path.join(converted["conv"], "model.keras"), prefix, "--manifest",
                 os.path.join(converted["conv"], "manifest.json")]) == 0
    original = tf.train.load_checkpoint(converted["prefix"])
    exported = tf.train.load_checkpoint(prefix)
    unused = {"reg_w"} if converted["style"] == "matmul" else set()
    shapes = exported.get_variable_to_shape_map()
    assert set(shapes) == set(original.get_variable_to_shape_map()) - unused
    assert all(shapes[k] == original.get_variable_to_shape_map()[k] for k in shapes)
    with tf.Graph().as_default():
        v1.train.import_meta_graph(converted["prefix"] + ".meta")
        variables = [v for v in v1.global_variables() if v.op.name in shapes]
        with v1.Session(config=h.FAST) as sess:
            v1.train.Saver(variables).restore(sess, prefix)
            for var in variables:
                np.testing.assert_allclose(sess.run(var), original.get_tensor(var.op.name), atol=1e-6)
