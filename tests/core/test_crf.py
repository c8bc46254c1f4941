"""tf.contrib.crf (legacy_rnn.crf, TF1 graph with a Saver checkpoint) and its Keras twin (modern_rnn.CRF): the
log-likelihood and the Viterbi decode against brute-force enumeration of every tag path on tiny cases."""
from __future__ import annotations

import itertools
import os
import tempfile

import numpy as np
import pytest

import legacy_rnn
import modern_rnn

from .harness import FAST_SESSION

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
B, T, N = 3, 4, 3
LENGTHS = np.array([4, 2, 1], np.int32)


def _case(seed: int):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 1, (B, T, N)).astype(np.float32), rng.integers(0, N, (B, T)).astype(np.int32),
            rng.normal(0, 1, (N, N)).astype(np.float32))


def _score(x, trans, path) -> float:
    return sum(x[t, y] for t, y in enumerate(path)) + sum(trans[a, b] for a, b in zip(path, path[1:]))


def _brute(x, tags, trans):
    """Per sequence: (log-likelihood of tags, best path, best score), enumerating all N**len paths."""
    out = []
    for b, n in enumerate(LENGTHS):
        paths = list(itertools.product(range(N), repeat=int(n)))
        scores = np.array([_score(x[b].astype(np.float64), trans, p) for p in paths])
        log_z = np.log(np.exp(scores - scores.max()).sum()) + scores.max()
        best = paths[int(np.argmax(scores))]
        out.append((_score(x[b].astype(np.float64), trans, tuple(tags[b, :n])) - log_z,
                    list(best) + [0] * (T - n), scores.max()))
    return out


def _tf1(x, tags, trans):
    with legacy_rnn.new_graph(0) as graph:
        xp = legacy_rnn.placeholder(tf.float32, x.shape, name="x")
        tp = v1.placeholder(tf.int32, tags.shape)
        ll, transitions = legacy_rnn.crf_log_likelihood(xp, tp, LENGTHS)
        decoded, best = legacy_rnn.crf_decode(xp, transitions, LENGTHS)
        assert transitions.op.name == "transitions"
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run(transitions.assign(trans))
            result = sess.run([ll, decoded, best], {xp: x, tp: tags})
            with tempfile.TemporaryDirectory() as tmp:
                saved = tf.train.load_checkpoint(legacy_rnn.save(sess, os.path.join(tmp, "m.ckpt")))
                return result, saved.get_tensor("transitions")


@pytest.mark.parametrize("seed", [0, 1])
def test_crf_tf1_and_keras_equal_brute_force(seed: int) -> None:
    x, tags, trans = _case(seed)
    want = _brute(x, tags, trans.astype(np.float64))
    (ll, decoded, best), saved = _tf1(x, tags, trans)
    crf = modern_rnn.CRF(N)
    crf.build()
    crf.set_weights([saved])  # conversion: the checkpoint's transitions, unchanged
    k_ll = crf.log_likelihood(x, tags, LENGTHS).numpy()
    k_tags, k_best = (a.numpy() for a in crf(x, LENGTHS))
    for b, (w_ll, w_path, w_best) in enumerate(want):
        assert abs(ll[b] - w_ll) < 1e-5 and abs(k_ll[b] - w_ll) < 1e-5
        assert list(decoded[b]) == w_path and list(k_tags[b]) == w_path
        assert abs(best[b] - w_best) < 1e-5 and abs(k_best[b] - w_best) < 1e-5
        n = LENGTHS[b]
        path, score = modern_rnn.viterbi_decode(x[b, :n], crf.transitions.numpy())
        assert path == w_path[:n] and abs(score - w_best) < 1e-5


def test_crf_transposed_transitions_are_caught() -> None:
    """Negative control: transitions read as [next, previous] change the likelihood (and usually the path)."""
    x, tags, trans = _case(0)
    want = _brute(x, tags, trans.astype(np.float64))
    crf = modern_rnn.CRF(N)
    crf.build()
    crf.set_weights([trans.T])
    assert max(abs(a - w[0]) for a, w in zip(crf.log_likelihood(x, tags, LENGTHS).numpy(), want)) > 1e-3


def test_crf_eager_needs_transitions() -> None:
    x, tags, _ = _case(0)
    with pytest.raises(ValueError, match="CRF"):
        modern_rnn.crf_log_likelihood(x, tags, LENGTHS)
