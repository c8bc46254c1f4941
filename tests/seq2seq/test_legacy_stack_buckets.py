"""``legacy_seq2seq.embedding_attention_seq2seq`` with cell stacks, shared cells, ``output_projection`` and
``model_with_buckets`` through the default ``rnn-migrate convert`` / ``verify`` (issue 21, cs20-chatbot-buckets).

One real TF1 graph on :mod:`legacy_rnn.seq2seq` holds three models, each spelled as real programs write it:

* ``a`` (the CS20 chatbot): ``MultiRNNCell([gru] * 2)`` (one weight set in both layers), ``__deepcopy__`` patched to
  return the cell (encoder and decoder on one cell object), ``output_projection=(w [U, V], b)`` with a sampled-softmax
  loss, two buckets;
* ``b`` (translate.py): ``MultiRNNCell`` of 3 distinct ``BasicLSTMCell`` s, a fresh ``deepcopy`` per bucket, no
  projection (an ``OutputProjectionWrapper``), ``num_heads=2``, one bucket (``a`` covers several);
* ``c``: one bare ``GRUCell``, ``output_projection=(transpose(w_t [V, U]), b)``, ``feed_previous=True``.

Seeded asymmetric weights with non-zero biases, saved by a real Saver with its ``.meta``; one default ``convert``.
The reference is the graph itself (``import_meta_graph`` + ``Saver.restore``).
"""
from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest

from migration.cli import main
from tests.seq2seq import harness as h

tf, v1, keras = h.tf, h.v1, h.keras
B = 3
MODELS = {  # units, embedding, vocabulary, buckets
    "a": dict(units=6, emb=6, vocab=13, buckets=[(3, 4), (4, 5)]),
    "b": dict(units=5, emb=4, vocab=11, buckets=[(2, 3)]),
    "c": dict(units=7, emb=4, vocab=9, buckets=[(3, 3)]),
}

pytestmark = pytest.mark.xdist_group("shared/legacy_stack")  # one worker builds legacy_stack_conversion


def _placeholders(name: str, spec: dict) -> tuple[list, list]:
    te, td = spec["buckets"][-1]
    return ([v1.placeholder(tf.int32, [None], f"{name}_enc{i}") for i in range(te)],
            [v1.placeholder(tf.int32, [None], f"{name}_dec{i}") for i in range(td + 1)])


def _model_a(ls, spec: dict) -> tuple[list, list]:
    cells = (v1.nn.rnn_cell.GRUCell, v1.nn.rnn_cell.MultiRNNCell)
    for cls in cells:  # the CS20 work-around: deepcopy returns the cell itself
        setattr(cls, "__deepcopy__", lambda self, _: self)
    try:
        u, vocab = spec["units"], spec["vocab"]
        enc, dec = _placeholders("a", spec)
        with v1.variable_scope("a"):
            w, b = v1.get_variable("proj_w", [u, vocab]), v1.get_variable("proj_b", [vocab])
            one = v1.nn.rnn_cell.GRUCell(u)
            cell = v1.nn.rnn_cell.MultiRNNCell([one, one])

            def sampled(labels, logits):
                return tf.nn.sampled_softmax_loss(tf.transpose(w), b, tf.reshape(labels, [-1, 1]), logits, 4, vocab)

            outputs, losses = ls.model_with_buckets(
                enc, dec, dec[1:], [tf.ones_like(d, tf.float32) for d in dec], spec["buckets"],
                lambda x, y: ls.embedding_attention_seq2seq(x, y, cell, vocab, vocab, spec["emb"],
                                                            output_projection=(w, b)),
                softmax_loss_function=sampled)
    finally:
        for cls in cells:
            delattr(cls, "__deepcopy__")
    return outputs, losses


def _model_b(ls, spec: dict) -> tuple[list, list]:
    u, vocab = spec["units"], spec["vocab"]
    enc, dec = _placeholders("b", spec)
    cell = v1.nn.rnn_cell.MultiRNNCell([v1.nn.rnn_cell.BasicLSTMCell(u) for _ in range(3)])
    with v1.variable_scope("b"):
        return ls.model_with_buckets(
            enc, dec, dec[1:], [tf.ones_like(d, tf.float32) for d in dec], spec["buckets"],
            lambda x, y: ls.embedding_attention_seq2seq(x, y, copy.deepcopy(cell), vocab, vocab, spec["emb"],
                                                        num_heads=2),
            name="buckets_b")


def _model_c(ls, spec: dict) -> tuple[list, list]:
    u, vocab = spec["units"], spec["vocab"]
    enc, dec = _placeholders("c", spec)
    te, td = spec["buckets"][0]
    with v1.variable_scope("c"):
        w_t, b = v1.get_variable("proj_w_t", [vocab, u]), v1.get_variable("proj_b", [vocab])
        outputs, _ = ls.embedding_attention_seq2seq(enc[:te], dec[:td], v1.nn.rnn_cell.GRUCell(u), vocab, vocab,
                                                    spec["emb"], output_projection=(tf.transpose(w_t), b),
                                                    feed_previous=True)
        logits = [o @ tf.transpose(w_t) + b for o in outputs]
        loss = ls.sequence_loss(logits, dec[1:td + 1], [tf.ones_like(d, tf.float32) for d in dec[1:td + 1]])
    return [outputs], [loss]


def build_and_convert(root) -> dict:
    """The program (Saver checkpoint and ``.meta`` under ``root``) and its default ``convert``; run once per session
    by tests/shared_programs.py's ``legacy_stack_conversion`` for this module and tests/targets'
    test_legacy_seq2seq_targets.py."""
    from legacy_rnn.seq2seq import legacy_seq2seq as ls

    out = {"prefix": str(root / "ckpt" / "model"), "out": str(root / "converted"), "outputs": {}}
    with tf.Graph().as_default():
        losses = {}
        for name, make in (("a", _model_a), ("b", _model_b), ("c", _model_c)):
            outputs, losses[name] = make(ls, MODELS[name])
            out["outputs"][name] = [[t.name for t in bucket] for bucket in outputs]
        # the training graph of the first bucket (the whole model's default outputs are what its loss consumes)
        train = v1.train.GradientDescentOptimizer(0.1).minimize(losses["a"][0])
        assert train is not None
        with v1.Session(config=h.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            h._randomize(sess, seed=5)
            for var in v1.global_variables():  # c feeds back argmax(o @ w + b): w, not b, must decide the token
                if var.op.name == "c/proj_w_t":
                    var.load(sess.run(var) * 8.0, sess)
            v1.train.Saver().save(sess, out["prefix"])
    out["code"] = main(["convert", out["prefix"], out["out"], "--json", "--quiet"])
    with open(os.path.join(out["out"], "manifest.json")) as f:
        out["manifest"] = json.load(f)
    return out


@pytest.fixture(scope="module")
def built(legacy_stack_conversion) -> dict:
    return legacy_stack_conversion


def _ids(name: str, te: int, td: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vocab = MODELS[name]["vocab"]
    return (rng.integers(0, vocab, (B, te)).astype(np.int32), rng.integers(0, vocab, (B, td)).astype(np.int32))


@pytest.fixture(scope="module")
def original(built):
    """The saved graph, imported with ``import_meta_graph`` and restored with ``Saver.restore`` (once)."""
    graph = tf.Graph()
    with graph.as_default():
        sess = v1.Session(config=h.FAST)
        v1.train.import_meta_graph(built["prefix"] + ".meta").restore(sess, built["prefix"])

    def run(name: str, fetch: list[str], enc: np.ndarray, dec: np.ndarray) -> np.ndarray:
        feeds = {graph.get_tensor_by_name(f"{name}_enc{t}:0"): enc[:, t] for t in range(enc.shape[1])}
        feeds.update({graph.get_tensor_by_name(f"{name}_dec{t}:0"): dec[:, t] for t in range(dec.shape[1])})
        return np.stack(sess.run(fetch, feeds), 1)

    yield run
    sess.close()


def _entry(built: dict, name: str) -> dict:
    (entry,) = [e for e in built["manifest"]["seq2seq"] if e["name"] == f"{name}_embedding_attention_seq2seq"]
    return entry


def _load(built: dict, name: str):
    import modern_rnn.seq2seq.legacy_models  # noqa: F401

    return keras.models.load_model(os.path.join(built["out"], _entry(built, name)["file"]), safe_mode=True)


def test_default_convert_reads_each_spelling(built) -> None:
    assert built["code"] == 0
    a, b, c = (_entry(built, n)["legacy"] for n in "abc")
    assert (a["pool"], a["encoder_layers"], a["decoder_layers"], a["projection"]) == (
        ["embedding_attention_seq2seq/rnn/embedding_wrapper/multi_rnn_cell/cell_0/gru_cell"], [0, 0], [0, 0], True)
    assert a["projection_vars"] == {"kernel": "a/proj_w", "bias": "a/proj_b", "transposed": False}
    assert (len(b["pool"]), b["encoder_layers"], b["decoder_layers"], b["num_heads"], b["projection"]) == (
        6, [0, 1, 2], [3, 4, 5], 2, False)
    assert b["pool"][3] == ("embedding_attention_seq2seq/embedding_attention_decoder/attention_decoder/"
                            "output_projection_wrapper/multi_rnn_cell/cell_0/basic_lstm_cell")
    assert (c["pool"], c["stacked"], c["projection_vars"]["transposed"]) == (
        ["embedding_attention_seq2seq/rnn/embedding_wrapper/gru_cell",
         "embedding_attention_seq2seq/embedding_attention_decoder/attention_decoder/gru_cell"], False, True)
    graphs = {n: _entry(built, n)["graph"] for n in "abc"}
    assert [graphs[n]["feed_previous"] for n in "abc"] == [False, False, True]
    assert [len(graphs[n]["encoder_ids"]) for n in "abc"] == [3, 2, 3]  # the first bucket's copy
    refs = built["manifest"]["verification"]["references"]
    assert set(refs.values()) == {"original-graph"}
    checks = [c for c in built["manifest"]["verification"]["checks"] if c["what"].startswith("seq2seq")]
    assert len(checks) == 3 and all(c["max_abs_diff"] < 1e-5 for c in checks)


@pytest.mark.parametrize("name,bucket", [("a", 0), ("a", 1), ("b", 0), ("c", 0)])
def test_one_model_for_every_bucket_matches_the_original_graph(built, original, name: str, bucket: int) -> None:
    te, td = MODELS[name]["buckets"][bucket]
    enc, dec = _ids(name, te, td, seed=bucket + 7)
    want = original(name, built["outputs"][name][bucket], enc, dec)
    got = _load(built, name)({"encoder_inputs": enc, "decoder_inputs": dec}).numpy()
    assert got.shape == want.shape
    assert float(np.max(np.abs(got - want))) < 1e-5


def test_whole_model_is_the_first_bucket(built, original) -> None:
    model = built["manifest"]["model"]
    te, td = MODELS["a"]["buckets"][0]
    assert model["inputs"] == [f"a_enc{t}" for t in range(te)] + [f"a_dec{t}" for t in range(td)]
    assert model["outputs"] == built["outputs"]["a"][0]
    enc, dec = _ids("a", te, td, seed=3)
    whole = keras.models.load_model(os.path.join(built["out"], "model.keras"), safe_mode=True)
    got = np.stack(whole([tf.constant(enc[:, t]) for t in range(te)] + [tf.constant(dec[:, t]) for t in range(td)]), 1)
    want = original("a", built["outputs"]["a"][0], enc, dec)
    assert float(np.max(np.abs(got - want))) < 1e-5


def test_verify_agrees(built, capsys) -> None:
    capsys.readouterr()
    assert main(["verify", built["prefix"], built["out"], "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(report["references"].values()) == {"original-graph"}


def test_projected_logits(built, original) -> None:
    import modern_rnn.seq2seq.legacy_models as lm

    model = _load(built, "a")
    logits = lm.LegacyStackSeq2SeqModel.from_config({**model.get_config(), "project_outputs": True})
    logits.build_weights()
    logits.set_weights(model.get_weights())
    enc, dec = _ids("a", *MODELS["a"]["buckets"][0], seed=11)
    reader = tf.train.load_checkpoint(built["prefix"])
    outputs = original("a", built["outputs"]["a"][0], enc, dec)
    want = outputs @ reader.get_tensor("a/proj_w") + reader.get_tensor("a/proj_b")
    got = logits({"encoder_inputs": enc, "decoder_inputs": dec}).numpy()
    assert float(np.max(np.abs(got - want))) < 1e-5


def _tampered(built: dict, original, name: str, change) -> float:
    """max |diff| to the original graph of the model built from the checkpoint arrays after ``change(arrays)``."""
    from migration.checkpoint import seq2seq_stack

    entry = _entry(built, name)
    reader = tf.train.load_checkpoint(built["prefix"])
    arrays = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
    change(arrays)
    model = seq2seq_stack.build_model(entry["legacy"], arrays, feed_previous=entry["graph"]["feed_previous"])
    te, td = MODELS[name]["buckets"][0]
    enc, dec = _ids(name, te, td, seed=1)
    want = original(name, built["outputs"][name][0], enc, dec)
    return float(np.max(np.abs(model({"encoder_inputs": enc, "decoder_inputs": dec}).numpy() - want)))


def test_negative_controls(built, original) -> None:
    # the untouched arrays pass: the controls below can fail
    assert _tampered(built, original, "a", lambda a: None) < 1e-5

    def swap_gates(arrays) -> None:  # GRU r/u gates swapped
        key = "a/embedding_attention_seq2seq/rnn/embedding_wrapper/multi_rnn_cell/cell_0/gru_cell/gates/kernel"
        u = MODELS["a"]["units"]
        arrays[key] = np.concatenate([arrays[key][:, u:], arrays[key][:, :u]], 1)

    def wrong_projection(arrays) -> None:  # c feeds back argmax(outputs @ w + b): a permuted w changes the tokens
        arrays["c/proj_w_t"] = arrays["c/proj_w_t"][::-1]

    assert _tampered(built, original, "a", swap_gates) > 1e-3
    assert _tampered(built, original, "c", wrong_projection) > 1e-3


@pytest.mark.parametrize("name", ["a", "b", "c"])
def test_export_writes_the_checkpoint_names_back(built, name: str) -> None:
    from migration.checkpoint.export import collect_tf1_arrays

    entry = _entry(built, name)
    arrays, _ = collect_tf1_arrays(_load(built, name))
    proj = entry["legacy"]["projection_vars"]
    assert set(arrays) == set(entry["variables"]) | ({proj["kernel"], proj["bias"]} if proj else set())
    reader = tf.train.load_checkpoint(built["prefix"])
    assert max(float(np.max(np.abs(a - reader.get_tensor(k)))) for k, a in arrays.items()) < 1e-6


def test_a_stack_with_a_missing_layer_is_refused_with_the_scope(tmp_path, capsys) -> None:
    """``cell_0`` and ``cell_2`` without ``cell_1``: a named refusal (exit 2, nothing written), not a guess."""
    from migration.checkpoint.export import write_tf1_checkpoint

    rng = np.random.default_rng(0)
    top = "s/embedding_attention_seq2seq/"
    att = top + "embedding_attention_decoder/attention_decoder/"
    arrays = {top + "rnn/embedding_wrapper/embedding": [7, 4], top + "embedding_attention_decoder/embedding": [7, 4],
              att + "AttnW_0": [1, 1, 3, 3], att + "AttnV_0": [3], att + "Attention_0/kernel": [9, 3],
              att + "Attention_0/bias": [3], att + "kernel": [7, 4], att + "bias": [4],
              att + "AttnOutputProjection/kernel": [6, 3], att + "AttnOutputProjection/bias": [3]}
    for k in (0, 2):
        cell = f"{top}rnn/embedding_wrapper/multi_rnn_cell/cell_{k}/gru_cell/"
        arrays.update({cell + "gates/kernel": [7, 6], cell + "gates/bias": [6], cell + "candidate/kernel": [7, 3],
                       cell + "candidate/bias": [3]})
    prefix = write_tf1_checkpoint({k: rng.normal(size=s).astype(np.float32) for k, s in arrays.items()},
                                  str(tmp_path / "gap" / "model.ckpt"))
    capsys.readouterr()
    assert main(["convert", prefix, str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "s/embedding_attention_seq2seq/ encoder: cells [0, 2] for a 3-layer stack" in err, err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
