"""A ``tf.contrib.crf`` checkpoint: ``transitions`` is recognized and exported by ``rnn-migrate convert``, and the
Keras CRF twin loaded from the export computes what the legacy graph computed.

The program: ``x -> dynamic_rnn(GRUCell) -> dense -> potentials``, ``crf_log_likelihood`` (which creates
``crf/transitions [N, N]``) and ``crf_decode``, every variable random, a ``Saver`` checkpoint with its ``.meta``.
References: the legacy graph's own log-likelihood and Viterbi path (recorded by its session) and brute-force
enumeration of every tag path.
"""
from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest

import legacy_rnn
from conftest import randomize, run_cli
from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST

B, T, D, N = 3, 4, 2, 3
LENGTHS = np.array([4, 2, 3], np.int32)


@pytest.fixture(scope="module")
def crf_converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("crf")
    rng = np.random.default_rng(12)
    x_np = rng.normal(0, 1, (B, T, D)).astype(np.float32)
    tags_np = rng.integers(0, N, (B, T)).astype(np.int32)
    with legacy_rnn.new_graph(12) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        tags = v1.placeholder(tf.int32, [None, T], name="tags")
        outputs, _ = legacy_rnn.dynamic_rnn(legacy_rnn.gru_cell(4), x, sequence_length=lengths, dtype=tf.float32)
        potentials = v1.layers.dense(outputs, N, name="potentials")
        with v1.variable_scope("crf"):
            log_likelihood, transitions = legacy_rnn.crf_log_likelihood(potentials, tags, lengths)
        decoded, best = legacy_rnn.crf_decode(potentials, transitions, lengths)
        tf.reduce_mean(-log_likelihood, name="loss")
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 12, scale=1.0)
            ref = sess.run({"potentials": potentials, "ll": log_likelihood, "decoded": decoded, "best": best},
                           {x: x_np, lengths: LENGTHS, tags: tags_np})
            prefix = v1.train.Saver().save(sess, os.path.join(str(root / "ckpt"), "model.ckpt"))
    out = root / "out"
    # --no-model: this test is about the CRF's transitions; the program has no optimizer (no gradients mark a
    # loss), so the default whole-model outputs are its terminal tensors, crf_decode's loop, which has no Keras
    # translation: without --no-model convert says so with exit 2 (tests/checkpoint/test_whole_model_losses.py)
    code = run_cli("convert", prefix, out, "--quiet", "--no-model")
    return prefix, str(out), code, ref, tags_np


def _manifest(out: str) -> dict:
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


def _brute_force(potentials: np.ndarray, transitions: np.ndarray, tags: np.ndarray, length: int):
    """(log-likelihood of ``tags``, best path) by enumerating all N^length paths."""
    def score(path):
        return sum(potentials[t, path[t]] for t in range(length)) + sum(
            transitions[path[t], path[t + 1]] for t in range(length - 1))

    scores = {p: score(p) for p in itertools.product(range(N), repeat=length)}
    log_z = np.log(np.sum(np.exp(np.array(list(scores.values()), np.float64))))
    return score(tuple(tags[:length])) - log_z, max(scores, key=scores.get)


def test_crf_transitions_are_exported_not_listed(crf_converted):
    prefix, out, code, _, _ = crf_converted
    assert code == 0
    m = _manifest(out)
    assert not [u for u in m["unrecognized"] if u["name"].endswith("transitions")]
    (entry,) = m["crf"]
    assert entry["name"] == "crf/transitions" and entry["num_tags"] == N and entry["file"] == "crf/crf_transitions.npy"
    assert "modern_rnn.CRF(num_tags=3)" in entry["keras"]
    saved = tf.train.load_checkpoint(prefix).get_tensor("crf/transitions")
    np.testing.assert_array_equal(np.load(os.path.join(out, entry["file"]), allow_pickle=False), saved)
    (check,) = [c for c in m["verification"]["checks"] if c["what"] == "crf crf/transitions"]
    assert check["max_abs_diff"] == 0.0
    assert m["variables"]["crf/transitions"]["destination"] == entry["file"]


def test_keras_crf_from_the_export_equals_the_legacy_graph(crf_converted):
    import modern_rnn

    _, out, _, ref, tags = crf_converted
    (entry,) = _manifest(out)["crf"]
    crf = modern_rnn.CRF(num_tags=entry["num_tags"])
    crf.build()
    transitions = np.load(os.path.join(out, entry["file"]), allow_pickle=False)
    crf.transitions.assign(transitions)
    pot = ref["potentials"]
    ll = np.asarray(crf.log_likelihood(pot, tags, LENGTHS))
    decoded, best = (np.asarray(t) for t in crf(pot, LENGTHS))
    np.testing.assert_allclose(ll, ref["ll"], atol=1e-5)
    np.testing.assert_array_equal(decoded, ref["decoded"])
    np.testing.assert_allclose(best, ref["best"], atol=1e-5)
    for b in range(B):  # independent reference: every tag path enumerated
        bf_ll, bf_path = _brute_force(pot[b].astype(np.float64), transitions.astype(np.float64), tags[b], LENGTHS[b])
        assert abs(ll[b] - bf_ll) < 1e-4
        assert tuple(decoded[b, :LENGTHS[b]]) == bf_path
    # negative control: the matrix read transposed (next tag as row) gives another likelihood
    crf.transitions.assign(transitions.T)
    assert np.max(np.abs(np.asarray(crf.log_likelihood(pot, tags, LENGTHS)) - ref["ll"])) > 1e-3
