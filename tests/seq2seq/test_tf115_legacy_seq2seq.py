"""TF 1.15 conformance of the tf.contrib.legacy_seq2seq pieces issue 22 added: embedding_tied_rnn_seq2seq,
one2many_rnn_seq2seq, model_with_buckets in the module, and feed_previous given as a boolean tensor (seq2seq_test
builds each model with a tensor and checks it gives what the Python-bool model gives, sharing the variables).

Expected values of the tied model come from a NumPy re-simulation (fixed seeded weights); one graph holds every
model."""
from __future__ import annotations

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn.seq2seq import buckets
from legacy_rnn.seq2seq import legacy_seq2seq as ls
from tests.core.harness import FAST_SESSION

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
B, TE, TD, V, E, U = 2, 3, 3, 6, 4, 5
RNG = np.random.default_rng(4242)
ENC = RNG.integers(0, V, (TE, B)).astype(np.int32)
DEC = RNG.integers(0, V, (TD, B)).astype(np.int32)


def _ids(arr):
    return [tf.constant(a) for a in arr]


MODELS = {   # name -> builder(feed_previous)
    "rnn": lambda feed: ls.embedding_rnn_seq2seq(_ids(ENC), _ids(DEC), v1.nn.rnn_cell.BasicRNNCell(U), V, V, E,
                                                 feed_previous=feed),
    "tied": lambda feed: ls.embedding_tied_rnn_seq2seq(_ids(ENC), _ids(DEC), v1.nn.rnn_cell.BasicRNNCell(U), V, E,
                                                       feed_previous=feed),
    "attention": lambda feed: ls.embedding_attention_seq2seq(_ids(ENC), _ids(DEC), v1.nn.rnn_cell.GRUCell(U), V, V,
                                                             E, feed_previous=feed),
    "one2many": lambda feed: ls.one2many_rnn_seq2seq(
        _ids(ENC), {"a": _ids(DEC), "b": _ids(DEC[:2] % 3)}, v1.nn.rnn_cell.BasicRNNCell(U),
        {"a": v1.nn.rnn_cell.BasicRNNCell(U), "b": v1.nn.rnn_cell.GRUCell(U)}, V, {"a": V, "b": 3}, E,
        feed_previous=feed),
}


def _flat(outputs):
    if isinstance(outputs, dict):
        return [o for k in sorted(outputs) for o in outputs[k]]
    return list(outputs)


@pytest.fixture(scope="module")
def run():
    with tf.Graph().as_default() as graph:
        v1.set_random_seed(11)
        feed = v1.placeholder(tf.bool, [], name="feed_previous")
        fetch, names = {}, {}
        for name, build in MODELS.items():
            with v1.variable_scope(name, initializer=v1.random_normal_initializer(0, 0.7, seed=5)):
                tensor_out, _ = build(feed)
                created = sorted(v.op.name for v in v1.global_variables() if v.op.name.startswith(name + "/"))
                with v1.variable_scope(v1.get_variable_scope(), reuse=True):
                    true_out, _ = build(True)
                    false_out, _ = build(False)
            names[name] = created
            fetch[name] = (_flat(tensor_out), _flat(true_out), _flat(false_out))
        count = len(v1.global_variables())
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run(v1.global_variables_initializer())
            weights = {v.op.name: sess.run(v) for v in v1.global_variables()}
            results = {True: sess.run(fetch, {feed: True}), False: sess.run(fetch, {feed: False})}
    return results, names, weights, count


@pytest.mark.parametrize("name", sorted(MODELS))
def test_feed_previous_tensor_picks_the_bool_model(run, name: str) -> None:
    results, names, weights, count = run
    assert count == len(weights) == sum(len(n) for n in names.values())   # the bool models reused every variable
    for fed in (True, False):
        tensor_out, true_out, false_out = results[fed][name]
        chosen = true_out if fed else false_out
        for a, b in zip(tensor_out, chosen):
            np.testing.assert_allclose(a, b, atol=1e-6)
    differs = [not np.allclose(a, b) for a, b in zip(results[True][name][1], results[True][name][2])]
    assert any(differs)                                   # negative control: the two decoders differ


def test_tf_1_15_variable_names(run) -> None:
    names = run[1]
    cell = "tied/embedding_tied_rnn_seq2seq/combined_tied_rnn_seq2seq/tied_rnn_seq2seq/output_projection_wrapper/"
    assert names["tied"] == sorted(["tied/embedding_tied_rnn_seq2seq/embedding", cell + "basic_rnn_cell/kernel",
                                    cell + "basic_rnn_cell/bias", cell + "kernel", cell + "bias"])
    o2m = "one2many/one2many_rnn_seq2seq/"
    assert o2m + "rnn/embedding_wrapper/embedding" in names["one2many"]
    for task, cell_name in (("a", "basic_rnn_cell"), ("b", "gru_cell")):
        dec = f"{o2m}one2many_decoder_{task}/embedding_rnn_decoder/"
        assert dec + "embedding" in names["one2many"]
        assert dec + "rnn_decoder/output_projection_wrapper/kernel" in names["one2many"]
        assert any(n.startswith(f"{dec}rnn_decoder/output_projection_wrapper/{cell_name}/") for n in names["one2many"])


def test_embedding_tied_rnn_seq2seq_matches_numpy(run) -> None:
    results, _, w, _ = run
    pre = "tied/embedding_tied_rnn_seq2seq/"
    cell = pre + "combined_tied_rnn_seq2seq/tied_rnn_seq2seq/output_projection_wrapper/"
    emb, k, b = w[pre + "embedding"], w[cell + "basic_rnn_cell/kernel"], w[cell + "basic_rnn_cell/bias"]
    pk, pb = w[cell + "kernel"], w[cell + "bias"]
    for feed in (False, True):
        h = np.zeros((B, U))
        for t in range(TE):
            h = np.tanh(np.concatenate([emb[ENC[t]], h], 1) @ k + b)
        outs, x = [], emb[DEC[0]]
        for t in range(TD):
            h = np.tanh(np.concatenate([x, h], 1) @ k + b)
            outs.append(h @ pk + pb)
            x = emb[np.argmax(outs[-1], 1)] if feed else emb[DEC[min(t + 1, TD - 1)]]
        got = results[feed]["tied"][1 if feed else 2]
        np.testing.assert_allclose(np.stack(got), np.stack(outs), atol=1e-5)


def test_module_api_and_errors() -> None:
    assert ls.model_with_buckets is buckets.model_with_buckets
    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="feed_previous of a decoder must be a Python bool"):
            ls.embedding_rnn_decoder(_ids(DEC), tf.zeros([B, U]), v1.nn.rnn_cell.BasicRNNCell(U), V, E,
                                     feed_previous=tf.constant(True))
        with pytest.raises(ValueError, match="keys of dec_cells_dict"):
            ls.one2many_rnn_seq2seq(_ids(ENC), {"a": _ids(DEC)}, v1.nn.rnn_cell.BasicRNNCell(U),
                                    {"b": v1.nn.rnn_cell.BasicRNNCell(U)}, V, {"a": V}, E)
        with pytest.raises(TypeError, match="enc_cell is not an RNNCell"):
            ls.one2many_rnn_seq2seq(_ids(ENC), {"a": _ids(DEC)}, object(), {"a": v1.nn.rnn_cell.BasicRNNCell(U)},
                                    V, {"a": V}, E)
