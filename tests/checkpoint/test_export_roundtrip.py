"""Round trip (issue 21, point 10): TF1 checkpoint -> ``convert`` -> Keras -> ``export`` -> ``Saver.restore`` in the
ORIGINAL ``.meta`` graph.

Each layout is a real TF1 graph with names a standard scope would not guess (``LSTMCell`` = ``lstm_cell``, a
forget_bias of its own, a named embedding under a scope, a ``tf.layers.dense`` head on a 3-D output, GRU fw/bw under
a custom scope, an encoder + ``AttentionWrapper`` decoder), seeded asymmetric weights with non-zero biases, saved by
``Saver`` with its ``.meta``. The reference is that graph itself (``import_meta_graph`` + ``Saver.restore``), never
rnn-migrate. Negative controls: standard names do not restore; a manifest with a wrong forget_bias gives other
outputs; a model the manifest does not describe is refused.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import seq2seq as legacy_s2s
from migration.checkpoint import convert_checkpoint
from migration.checkpoint.export import export_keras_model, load_model
from migration.checkpoint.export_names import NameHook, names_for
from migration.cli import main
from migration.core.errors import MigrationError
from tests.checkpoint.tf1_values import FAST

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
B, T, V, E = 3, 5, 11, 4


def _randomize(sess, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for var in sorted(v1.trainable_variables(), key=lambda v: v.name):
        shape = var.shape.as_list()
        scale = 1.0 / np.sqrt(shape[0]) if len(shape) > 1 else 0.5
        var.load(rng.uniform(-1.5, 1.5, shape).astype(np.float32) * scale, sess)


def _save(directory: str, loss, feeds: dict, outputs: list, seed: int) -> dict:
    """A couple of Adam steps (so the graph holds slots and beta powers beside the weights), then Saver.save."""
    train = v1.train.AdamOptimizer(0.01).minimize(loss)
    with v1.Session(config=FAST) as sess:
        sess.run(v1.global_variables_initializer())
        _randomize(sess, seed)
        for _ in range(2):
            sess.run(train, feeds)
        prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    return {"prefix": prefix, "outputs": [t.name for t in outputs],
            "feeds": {k.name: v for k, v in feeds.items()}}


def _stack_head(directory: str) -> dict:
    rng = np.random.default_rng(1)
    with tf.Graph().as_default():
        ids = v1.placeholder(tf.int32, [None, T], "ids")
        with v1.variable_scope("words"):
            table = v1.get_variable("table", [V, E])
        cells = [v1.nn.rnn_cell.LSTMCell(6, forget_bias=0.5), v1.nn.rnn_cell.LSTMCell(5)]
        out, _ = v1.nn.dynamic_rnn(v1.nn.rnn_cell.MultiRNNCell(cells), tf.nn.embedding_lookup(table, ids),
                                   dtype=tf.float32, scope="encoder")
        logits = v1.layers.dense(out, V, name="proj")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ids, logits=logits))
        return _save(directory, loss, {ids: rng.integers(0, V, (B, T))}, [logits], 3)


def _bidi(directory: str) -> dict:
    rng = np.random.default_rng(2)
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, T, 3], "x")
        lengths = v1.placeholder(tf.int32, [None], "lengths")
        (fw, bw), _ = v1.nn.bidirectional_dynamic_rnn(v1.nn.rnn_cell.GRUCell(4), v1.nn.rnn_cell.GRUCell(3), x,
                                                      sequence_length=lengths, dtype=tf.float32, scope="tagger")
        logits = v1.layers.dense(tf.concat([fw, bw], 2), 5, name="tags")
        labels = tf.zeros_like(lengths)[:, None] + tf.range(T)[None, :] % 5
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        feeds = {x: rng.normal(size=(B, T, 3)), lengths: np.array([T, 2, 4], np.int32)}
        return _save(directory, loss, feeds, [logits], 4)


def _seq2seq(directory: str) -> dict:
    rng = np.random.default_rng(3)
    with tf.Graph().as_default():
        src = v1.placeholder(tf.float32, [None, T, 3], "source")
        src_len = v1.placeholder(tf.int32, [None], "source_length")
        ids = v1.placeholder(tf.int32, [None, 4], "decoder_ids")
        memory, _ = v1.nn.dynamic_rnn(v1.nn.rnn_cell.LSTMCell(6, forget_bias=0.25), src, sequence_length=src_len,
                                      dtype=tf.float32, scope="encoder")
        embedding = v1.get_variable("target_embedding", [V, E])
        with v1.variable_scope("decoder"):
            mech = legacy_s2s.BahdanauAttention(5, memory, memory_sequence_length=src_len)
            cell = legacy_s2s.AttentionWrapper(v1.nn.rnn_cell.LSTMCell(7), mech, attention_layer_size=4)
            helper = legacy_s2s.TrainingHelper(tf.nn.embedding_lookup(embedding, ids), tf.fill([tf.shape(ids)[0]], 4))
            decoder = legacy_s2s.BasicDecoder(cell, helper, cell.zero_state(tf.shape(ids)[0], tf.float32),
                                              output_layer=v1.layers.Dense(V, name="output_projection"))
            out, _, _ = legacy_s2s.dynamic_decode(decoder)
        loss = legacy_s2s.sequence_loss(out.rnn_output, ids, tf.ones_like(ids, tf.float32))
        feeds = {src: rng.normal(size=(B, T, 3)), src_len: np.array([T, 3, 2], np.int32),
                 ids: rng.integers(0, V, (B, 4))}
        return _save(directory, loss, feeds, [out.rnn_output], 5)


BUILDERS = {"stack_head": _stack_head, "bidi": _bidi, "seq2seq": _seq2seq}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory) -> dict:
    out = {}
    for name, build in BUILDERS.items():
        root = tmp_path_factory.mktemp(f"roundtrip_{name}")
        graph = build(str(root))
        convert_checkpoint(graph["prefix"], root / "conv", verify=False)
        graph["conv"] = str(root / "conv")
        graph["manifest"] = json.load(open(root / "conv" / "manifest.json"))
        graph["root"] = root
        out[name] = graph
    return out


def _run_original(graph: dict, restore: list[tuple[str, list[str]]]) -> list[np.ndarray]:
    """The ORIGINAL graph (its .meta) with its weights restored by ``Saver(var_list)`` from each (prefix, names)."""
    with tf.Graph().as_default():
        v1.train.import_meta_graph(graph["prefix"] + ".meta")
        by_name = {v.op.name: v for v in v1.global_variables()}
        with v1.Session(config=FAST) as sess:
            for prefix, names in restore:
                v1.train.Saver(var_list={n: by_name[n] for n in names}).restore(sess, prefix)
            return sess.run(graph["outputs"], graph["feeds"])


def _expected(graph: dict) -> np.ndarray:
    """The original graph's own outputs (its own checkpoint restored): run once per layout, kept in ``graph``."""
    if "expected" not in graph:
        (graph["expected"],) = _run_original(graph, [(graph["prefix"], _trainable_names(graph["prefix"]))])
    return graph["expected"]


def _weights(prefix: str) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(prefix)
    return {n: reader.get_tensor(n) for n, _ in tf.train.list_variables(prefix)}


def _trainable_names(prefix: str) -> list[str]:
    return sorted(n for n in _weights(prefix) if "Adam" not in n and "power" not in n)


def _export(path: str, prefix: str, *extra: str) -> dict:
    from contextlib import redirect_stdout
    from io import StringIO

    buffer = StringIO()
    with redirect_stdout(buffer):
        code = main(["export", path, prefix, "--json", *extra])
    assert code == 0, buffer.getvalue()
    return json.loads(buffer.getvalue())


@pytest.mark.parametrize("name", ["stack_head", "bidi"])
def test_whole_model_export_restores_in_the_original_graph(layouts, tmp_path, name: str) -> None:
    graph = layouts[name]
    exported = _export(os.path.join(graph["conv"], "model.keras"), str(tmp_path / "tf1" / "model.ckpt"))
    assert "original graph's names" in exported["names"]
    wanted = _trainable_names(graph["prefix"])
    assert sorted(exported["variables"]) == wanted          # every weight of the graph, under its own name
    original, saved = _weights(graph["prefix"]), _weights(exported["prefix"])
    for key in wanted:
        np.testing.assert_allclose(saved[key], original[key], atol=1e-6, err_msg=key)
    expected = _expected(graph)
    (restored,) = _run_original(graph, [(exported["prefix"], wanted)])
    np.testing.assert_allclose(restored, expected, atol=1e-5)


def test_lstm_cell_names_and_forget_bias_come_from_the_manifest(layouts) -> None:
    names = _trainable_names(layouts["stack_head"]["prefix"])
    assert "encoder/multi_rnn_cell/cell_0/lstm_cell/kernel" in names and "words/table" in names  # the fixture's point
    assert "proj/bias" in names


def test_fine_tuned_copy_elsewhere_exports_with_manifest_and_matches_keras(layouts, tmp_path) -> None:
    graph = layouts["stack_head"]
    model = load_model(os.path.join(graph["conv"], "model.keras"))
    rng = np.random.default_rng(9)
    model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.get_weights()])
    copy = tmp_path / "tuned.keras"
    model.save(copy)
    alone = _export(str(copy), str(tmp_path / "std" / "model.ckpt"))  # no manifest next to it: standard names
    assert alone["names"].startswith("standard scopes (no conversion manifest")
    exported = _export(str(copy), str(tmp_path / "tuned" / "model.ckpt"), "--manifest",
                       os.path.join(graph["conv"], "manifest.json"))
    (restored,) = _run_original(graph, [(exported["prefix"], _trainable_names(graph["prefix"]))])
    ids = graph["feeds"]["ids:0"]
    np.testing.assert_allclose(restored, np.asarray(model(ids, training=False)), atol=1e-5)  # called, not predict
    assert np.abs(restored - _expected(graph)).max() > 1e-2            # the tuned weights, not the original ones


def test_standard_names_do_not_restore_in_the_original_graph(layouts, tmp_path) -> None:
    graph = layouts["stack_head"]
    exported = _export(os.path.join(graph["conv"], "model.keras"), str(tmp_path / "std" / "model.ckpt"),
                       "--standard-names")
    assert exported["names"] == "standard scopes"
    assert any("basic_lstm_cell" in n for n in exported["variables"])
    with pytest.raises(Exception, match="not found|NotFound"):
        _run_original(graph, [(exported["prefix"], _trainable_names(graph["prefix"]))])


def test_a_wrong_forget_bias_in_the_manifest_changes_the_outputs(layouts, tmp_path) -> None:
    """Negative control: the exported cell arrays depend on the manifest's spec (b_f - forget_bias)."""
    graph = layouts["stack_head"]
    conv = tmp_path / "conv"
    shutil.copytree(graph["conv"], conv)
    manifest = json.load(open(conv / "manifest.json"))
    manifest["blocks"][0]["cells"][0]["spec"]["forget_bias"] = 3.0
    json.dump(manifest, open(conv / "manifest.json", "w"))
    exported = _export(str(conv / "model.keras"), str(tmp_path / "tf1" / "model.ckpt"))
    names = _trainable_names(graph["prefix"])
    (restored,) = _run_original(graph, [(exported["prefix"], names)])
    assert np.abs(restored - _expected(graph)).max() > 1e-3


def test_seq2seq_encoder_block_and_decoder_restore_in_the_original_graph(layouts, tmp_path) -> None:
    graph = layouts["seq2seq"]
    manifest = graph["manifest"]
    (block,) = manifest["blocks"]
    (decoder,) = manifest["seq2seq"]
    enc = _export(os.path.join(graph["conv"], block["file"]), str(tmp_path / "enc" / "model.ckpt"))
    dec = _export(os.path.join(graph["conv"], decoder["file"]), str(tmp_path / "dec" / "model.ckpt"))
    assert sorted(enc["variables"]) == ["encoder/lstm_cell/bias", "encoder/lstm_cell/kernel"]
    names = _trainable_names(graph["prefix"])
    assert sorted([*enc["variables"], *dec["variables"]]) == names
    expected = _expected(graph)
    (restored,) = _run_original(graph, [(enc["prefix"], sorted(enc["variables"])),
                                        (dec["prefix"], sorted(dec["variables"]))])
    np.testing.assert_allclose(restored, expected, atol=1e-5)


def test_a_model_the_manifest_does_not_describe_is_refused(layouts, tmp_path) -> None:
    graph = layouts["bidi"]
    model = load_model(os.path.join(graph["conv"], "model.keras"))
    hook = names_for(os.path.join(graph["conv"], "model.keras"), os.path.join(graph["conv"], "manifest.json"))
    assert isinstance(hook, NameHook)
    stack = layouts["stack_head"]
    other = load_model(os.path.join(stack["conv"], "model.keras"))
    with pytest.raises(MigrationError, match="neither the manifest's whole model"):
        hook(other)
    assert hook(model) is not None and hook.applied
    # a manifest whose block lost a cell: named, never a checkpoint with made-up names
    broken = json.loads(json.dumps(graph["manifest"]))
    broken["blocks"][0]["cells"] = broken["blocks"][0]["cells"][:1]
    hook.manifest = broken
    with pytest.raises(MigrationError, match="cell"):
        export_keras_model(model, str(tmp_path / "x" / "model.ckpt"), names=hook)
    assert not os.path.exists(tmp_path / "x")
