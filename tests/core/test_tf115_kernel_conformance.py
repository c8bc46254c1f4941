"""Conformance with TF 1.15's own kernel tests (issue 22), written here from the behaviours those tests assert.

``benchmarks/tf115_kernel_tests.py`` runs TensorFlow's test files themselves against ``legacy_rnn``; each failure
it found that was a project bug is pinned here by a test of ours. Expected values come from NumPy references on
fixed, seeded, asymmetric weights (never from the code under test), because TF's own expected numbers come from
TF 1.x's initializer stream.
"""
from __future__ import annotations

import numpy as np
import pytest

import legacy_rnn
import modern_rnn
from legacy_rnn import contrib as legacy_contrib
from migration.core.specs import CellSpec
from tests.core import reference
from tests.core.harness import FAST_SESSION

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
RNG = np.random.default_rng(1115)
B, T, D, U = 3, 4, 3, 4
X = RNG.normal(0, 1.0, (T, B, D)).astype(np.float32)
W = {"kernel": RNG.normal(0, 0.6, (D + U, 4 * U)).astype(np.float32),
     "bias": RNG.normal(0, 0.3, (4 * U,)).astype(np.float32),
     "w_i_diag": RNG.normal(0, 0.5, (U,)).astype(np.float32),
     "w_f_diag": RNG.normal(0, 0.5, (U,)).astype(np.float32),
     "w_o_diag": RNG.normal(0, 0.5, (U,)).astype(np.float32)}
C0 = RNG.normal(0, 0.8, (B, U)).astype(np.float32)
H0 = RNG.normal(0, 0.5, (B, U)).astype(np.float32)


def _numpy_lstm(use_peepholes: bool, cell_clip, forget_bias: float = 1.0):
    spec = CellSpec("lstm", U, use_peepholes=use_peepholes, cell_clip=cell_clip, forget_bias=forget_bias)
    state, outs = (C0.astype(np.float64), H0.astype(np.float64)), []
    for t in range(T):
        out, state = reference.step(spec, W, X[t].astype(np.float64), state)
        outs.append(out)
    return np.stack(outs), state


@pytest.fixture(scope="module")
def block_runs():
    """``_block_lstm`` (TF 1.15's private helper its lstm_ops_test calls) in three configurations, one graph, plus
    its gradients against those of TensorFlow's own ``LSTMCell`` run by ``static_rnn`` on the same weights."""
    with tf.Graph().as_default() as graph:
        xs = [tf.constant(X[t]) for t in range(T)]
        w, b = tf.constant(W["kernel"]), tf.constant(W["bias"])
        diag = {k: tf.constant(W[k]) for k in ("w_i_diag", "w_f_diag", "w_o_diag")}
        c0, h0 = tf.constant(C0), tf.constant(H0)
        fetch, n_lists = {}, {}
        for name, peep, clip, fb in (("plain", False, None, 1.0), ("peep_clip", True, 0.5, 0.5),
                                     ("clip0", False, 0.0, 1.0)):
            kwargs = dict(wci=diag["w_i_diag"], wcf=diag["w_f_diag"], wco=diag["w_o_diag"]) if peep else {}
            i, cs, f, o, ci, co, h = legacy_contrib._block_lstm(
                tf.constant(T, tf.int64), xs, w, b, cs_prev=c0, h_prev=h0, cell_clip=clip, use_peephole=peep,
                forget_bias=fb, **kwargs)
            fetch[name] = (tf.stack(h), cs[-1])
            n_lists[name] = [len(t) for t in (i, cs, f, o, ci, co, h)]
        # gradients: block vs TF's LSTMCell (the kernel test's basic_grads / block_grads comparison)
        with v1.variable_scope("g", initializer=v1.constant_initializer(0.0)):
            kv = v1.get_variable("rnn/lstm_cell/kernel", initializer=W["kernel"])
            bv = v1.get_variable("rnn/lstm_cell/bias", initializer=W["bias"])
            basic = v1.nn.rnn_cell.LSTMCell(U, reuse=True)
            basic_out, _ = v1.nn.static_rnn(basic, xs, initial_state=v1.nn.rnn_cell.LSTMStateTuple(c0, h0))
        *_, block_h = legacy_contrib._block_lstm(tf.constant(T, tf.int64), xs, kv, bv, cs_prev=c0, h_prev=h0)
        grads = {n: tf.gradients(outs, xs + [kv, bv]) for n, outs in (("basic", basic_out), ("block", block_h))}
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run(v1.global_variables_initializer())
            return sess.run(fetch), sess.run(grads), n_lists


@pytest.mark.parametrize("name, peep, clip, fb", [("plain", False, None, 1.0), ("peep_clip", True, 0.5, 0.5),
                                                  ("clip0", False, None, 1.0)])
def test_block_lstm_helper_matches_the_numpy_lstm(block_runs, name, peep, clip, fb) -> None:
    """TF 1.15's ``lstm_ops._block_lstm`` (lstm_ops_test's testLSTMBasicToBlock*): seven per-step lists; the
    outputs are the LSTM's; ``cell_clip=0`` means no clipping (the kernel clips only for > 0)."""
    h, c_last = block_runs[0][name]
    want_h, (want_c, _) = _numpy_lstm(peep, clip, fb)
    np.testing.assert_allclose(h, want_h, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c_last, want_c, rtol=1e-5, atol=1e-5)
    assert block_runs[2][name] == [T] * 7
    if name == "peep_clip":  # negative control: the clip and the peepholes are really active in this case
        assert np.abs(want_c).max() <= 0.5 + 1e-6
        unclipped, _ = _numpy_lstm(True, None, 0.5)
        assert np.abs(unclipped - want_h).max() > 1e-3


def test_block_lstm_gradients_equal_the_lstm_cell_gradients(block_runs) -> None:
    basic, block = block_runs[1]["basic"], block_runs[1]["block"]
    assert len(basic) == len(block) == T + 2
    for got, want in zip(block, basic):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert np.abs(block[-2]).max() > 1e-3  # the kernel gradient is not trivially zero


def test_zero_cell_clip_means_no_clipping_on_both_sides() -> None:
    """``LSTMBlockFusedCell(cell_clip=0)`` (lstm_ops_test's testLSTMFusedSequenceLengths) raised a ValueError; TF 1.15
    passes the value to the kernel, which clips only when it is > 0. The Keras twins read 0 as no clipping too."""
    with tf.Graph().as_default() as graph:
        x = tf.constant(X)
        outs = {}
        for clip in (0.0, -1.0, None, 0.3):
            cell = legacy_rnn.lstm_block_fused_cell(U, cell_clip=clip, name=f"fused_{clip}")
            outs[clip], _ = cell(x, initial_state=(tf.constant(C0), tf.constant(H0)))
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run(v1.global_variables_initializer())
            for var in v1.global_variables():  # the same weights in every cell
                key = var.name.split("/")[-1].split(":")[0]
                sess.run(var.assign(W[key] if key == "kernel" else W["bias"]))
            got = sess.run(outs)
    np.testing.assert_allclose(got[0.0], _numpy_lstm(False, None)[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[-1.0], got[None], rtol=0, atol=0)
    np.testing.assert_allclose(got[0.3], _numpy_lstm(False, 0.3)[0], rtol=1e-5, atol=1e-5)
    assert np.abs(got[0.3] - got[0.0]).max() > 1e-3  # negative control: a positive clip is applied
    assert modern_rnn.lstm_block_fused_cell(U, cell_clip=0.0).cell.get_config().get("cell_clip") is None
    block = modern_rnn.lstm_block_cell(U, cell_clip=0.0)
    assert getattr(block, "cell_clip", None) is None
    assert getattr(modern_rnn.lstm_block_cell(U, cell_clip=0.3), "cell_clip", None) == pytest.approx(0.3)


def test_every_rebuilt_tf115_name_is_in_its_namespace_module() -> None:
    """``from tensorflow.contrib import rnn`` becomes ``legacy_rnn.contrib_rnn`` (and seq2seq, crf, legacy_seq2seq
    their modules): every TF 1.15 public name rebuilt anywhere must be reachable there. ``UGRNNCell`` was missing
    from ``legacy_rnn.contrib_rnn`` (TF's rnn_cell_test reaches it as ``contrib_rnn_cell.UGRNNCell``)."""
    import json
    from pathlib import Path

    from legacy_rnn import contrib_rnn, crf, seq2seq
    from legacy_rnn.seq2seq import legacy_seq2seq
    from legacy_rnn.ugrnn import UGRNNCell

    api = json.loads((Path(__file__).parent / "tf115_api.json").read_text())
    homes = {"tf.contrib.rnn": contrib_rnn, "tf.contrib.seq2seq": seq2seq, "tf.contrib.crf": crf,
             "tf.contrib.legacy_seq2seq": legacy_seq2seq}
    assert set(homes) == set(api["modules"])
    for module, names in api["modules"].items():
        pending = set(api["not_yet"].get(module, ()))
        missing = sorted(n for n in names if n not in pending and not hasattr(homes[module], n))
        assert not missing, f"{module}: {missing}"
    assert contrib_rnn.UGRNNCell is UGRNNCell and "UGRNNCell" in contrib_rnn.__all__


def test_kernel_test_runner_rewrites_only_imports_and_classifies(tmp_path) -> None:
    """``benchmarks/tf115_kernel_tests.py`` (the measurement in docs/api-map.md): contrib imports become shim loads,
    core TensorFlow imports and test bodies stay as they are, an unmapped contrib import stops the run, and a
    failure on a missing name counts against us even for a random-stream test."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "tf115_kernel_tests.py"
    spec = importlib.util.spec_from_file_location("tf115_kernel_tests", path)
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    source = ("from tensorflow.contrib.crf.python.ops import crf\n"
              "from tensorflow.python.framework import ops\n"
              "import tensorflow as tf\n"
              "x = crf.crf_decode  # from tensorflow.contrib.rnn import nothing\n")
    text, changed = runner.rewrite_imports(source)
    assert text.splitlines() == ['crf = __import__("tf115_shim").load("tensorflow.contrib.crf.python.ops.crf")',
                                 "from tensorflow.python.framework import ops",
                                 'tf = __import__("tf115_shim").load("tensorflow")',
                                 "x = crf.crf_decode  # from tensorflow.contrib.rnn import nothing"]
    assert changed == ["tensorflow.contrib.crf.python.ops.crf", "tensorflow"]
    with pytest.raises(SystemExit, match="no target"):
        runner.rewrite_imports("from tensorflow.contrib.framework import nest\n")
    phased = "rnn_cell_test.py::RNNCellTest::testPhasedLSTMCell"
    assert runner.classify(phased, "failed", "", "AssertionError") == "random stream"
    assert runner.classify(phased, "failed", "tensorflow.contrib.rnn.python.ops.rnn_cell.PhasedLSTMCell",
                           "") == "missing API (in progress)"
    assert runner.classify("x.py::T::t", "failed", "", "NotImplementedError: TF115-MISSING-API: a.b") == "missing API"
    assert runner.classify("x.py::T::t", "failed", "", "AssertionError") == "fail"
    assert runner.classify(phased, "passed", "", "") == "pass"
