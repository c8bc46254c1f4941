"""The code ``upgrade --to keras`` emits for the new patterns computes what the TF1 code computed.

For a bidirectional_dynamic_rnn (LSTM, ragged lengths) and a MultiRNNCell stack (LSTM then GRU, ragged lengths,
an initial state), the TF1 graph is run with seeded asymmetric weights and non-zero biases; the EMITTED Keras
statements are executed as written (eager), with the layers' weights set from the TF1 variables through the
project's NumPy converters; outputs and states must agree to 1e-5. Negative controls: the same emitted code without
the mask, and the TF1 weights loaded without conversion, differ.
"""
from __future__ import annotations

import types

import numpy as np
import pytest

import migration  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
from migration.converters import gru_to_keras, lstm_to_keras
from migration.upgrade import upgrade_source

B, T, D, U = 3, 5, 4, 6
LENGTHS = np.array([5, 2, 3], dtype=np.int32)


@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow


def _emitted(source: str) -> str:
    """The statements the Keras upgrade put in place of the TF1 RNN (comments dropped)."""
    code = upgrade_source("import tensorflow as tf\n" + source, "keras").code
    body = code.split("import tf_keras  # rnn-migrate: Keras 2\n", 1)[1]
    return "\n".join(ln for ln in body.split("\n") if ln.strip() and not ln.lstrip().startswith("#"))


def _run_tf1(tf, source: str, seed: int, extra: dict) -> tuple[dict, dict]:
    """Run the compat form of ``source`` in a TF1 graph; weights set to seeded values. Returns (values, weights)."""
    compat = upgrade_source("import tensorflow as tf\n" + source, "compat").code
    body = compat.split("import tensorflow as tf\n", 1)[1]
    rng = np.random.RandomState(seed)
    g = tf.Graph()
    with g.as_default():
        ns = {"tf": tf, "x": tf.constant(extra["x"]), "L": tf.constant(LENGTHS), **extra.get("graph", lambda tf: {})(tf)}
        exec(body, ns)  # noqa: S102 - our own fixture code
        weights = {}
        with tf.compat.v1.Session() as sess:
            for v in tf.compat.v1.global_variables():
                value = rng.uniform(-0.6, 0.6, v.shape.as_list()).astype(np.float32)
                v.load(value, sess)
                weights[v.name] = value
            values = sess.run({k: ns[k] for k in extra["fetch"]})
    return values, weights


def _recording_keras(tf, weights_for):
    """A ``tf_keras`` stand-in whose RNN layers, the first time they are called, are built, given the converted
    weights (``weights_for(layer, k)`` for the k-th top-level layer) and then called for real."""
    import tf_keras

    state = {"depth": 0, "count": 0}

    def preset(base):
        class Preset(base):
            def __call__(self, *args, **kwargs):
                if state["depth"] or getattr(self, "_rnn_migrate_preset", False):
                    return super().__call__(*args, **kwargs)
                state["depth"] += 1
                try:
                    super().__call__(*args, **kwargs)  # builds the weights
                    self.set_weights(weights_for(self, state["count"]))
                    state["count"] += 1
                    self._rnn_migrate_preset = True
                    return super().__call__(*args, **kwargs)
                finally:
                    state["depth"] -= 1

        Preset.__name__ = base.__name__
        return Preset

    layers = types.SimpleNamespace(**{n: getattr(tf_keras.layers, n) for n in ("Dropout", "Embedding")})
    for name in ("LSTM", "GRU", "SimpleRNN", "Bidirectional"):
        setattr(layers, name, preset(getattr(tf_keras.layers, name)))
    return types.SimpleNamespace(layers=layers, initializers=tf_keras.initializers), state


BIDI = ("f = tf.nn.rnn_cell.LSTMCell(6, forget_bias=0.7)\nb = tf.nn.rnn_cell.LSTMCell(6, forget_bias=0.7)\n"
        "(of, ob), (sf, sb) = tf.nn.bidirectional_dynamic_rnn(f, b, x, sequence_length=L, dtype=tf.float32)\n")


def _bidi_weights(w: dict, convert: bool = True):
    def one(prefix):
        k, b = w[f"bidirectional_rnn/{prefix}/lstm_cell/kernel:0"], w[f"bidirectional_rnn/{prefix}/lstm_cell/bias:0"]
        return lstm_to_keras(k, b, D, 0.7) if convert else [k[:D], k[D:], b]
    return lambda layer, i: one("fw") + one("bw")


def _keras_run(tf, code: str, weights_for, x: np.ndarray, init=None, **names) -> dict:
    keras_ns, _ = _recording_keras(tf, weights_for)
    ns = {"tf": tf, "tf_keras": keras_ns, "x": tf.constant(x), "L": tf.constant(LENGTHS), **names}
    if init is not None:
        ns["s0"] = init
    exec(code, ns)  # noqa: S102 - the code the upgrade emitted
    return ns


def _flat(state) -> list[np.ndarray]:
    if hasattr(state, "c"):
        return [np.asarray(state.c), np.asarray(state.h)]
    if isinstance(state, (tuple, list)):
        return [a for s in state for a in _flat(s)]
    return [np.asarray(state)]


def test_bidirectional_dynamic_rnn_parity_and_controls(tf):
    x = np.random.RandomState(1).randn(B, T, D).astype(np.float32)
    ref, w = _run_tf1(tf, BIDI, 7, {"x": x, "fetch": ["of", "ob", "sf", "sb"]})
    code = _emitted(BIDI)
    assert "go_backwards=True" in code and "mask=tf.sequence_mask(L" in code
    got = _keras_run(tf, code, _bidi_weights(w), x)
    for k in ("of", "ob"):
        np.testing.assert_allclose(np.asarray(got[k]), ref[k], atol=1e-5)
    for k in ("sf", "sb"):
        for a, b in zip(_flat(got[k]), _flat(ref[k])):
            np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.abs(ref["ob"]).max() > 0.05 and np.abs(ref["ob"][1, 2:]).max() == 0.0  # padded steps are zeros
    # negative controls: no mask (the backward pass starts in the padding), unconverted weights
    unmasked = _keras_run(tf, code.replace(", mask=tf.sequence_mask(L, maxlen=tf.shape(_x1)[1])", ""),
                          _bidi_weights(w), x)
    assert np.abs(np.asarray(unmasked["ob"]) - ref["ob"]).max() > 1e-3
    raw = _keras_run(tf, code, _bidi_weights(w, convert=False), x)
    assert np.abs(np.asarray(raw["of"]) - ref["of"]).max() > 1e-3


STACK = ("a = tf.nn.rnn_cell.LSTMCell(6)\nb = tf.nn.rnn_cell.GRUCell(6)\nm = tf.nn.rnn_cell.MultiRNNCell([a, b])\n"
         "o, s = tf.nn.dynamic_rnn(m, x, sequence_length=L, initial_state=s0)\n")


def test_multirnncell_stack_parity(tf):
    rng = np.random.RandomState(3)
    x = rng.randn(B, T, D).astype(np.float32)
    c0, h0, g0 = (rng.randn(B, U).astype(np.float32) for _ in range(3))

    def graph_init(tf):
        return {"s0": (tf.compat.v1.nn.rnn_cell.LSTMStateTuple(tf.constant(c0), tf.constant(h0)), tf.constant(g0))}

    ref, w = _run_tf1(tf, STACK, 11, {"x": x, "fetch": ["o", "s"], "graph": graph_init})
    code = _emitted(STACK)
    assert "_rnn1_0 = tf_keras.layers.LSTM(" in code and "_rnn1_1 = tf_keras.layers.GRU(" in code
    base = "rnn/multi_rnn_cell/"
    converted = [
        lstm_to_keras(w[base + "cell_0/lstm_cell/kernel:0"], w[base + "cell_0/lstm_cell/bias:0"], D, 1.0),
        gru_to_keras(w[base + "cell_1/gru_cell/gates/kernel:0"], w[base + "cell_1/gru_cell/gates/bias:0"],
                     w[base + "cell_1/gru_cell/candidate/kernel:0"], w[base + "cell_1/gru_cell/candidate/bias:0"], U),
    ]
    init = (tf.compat.v1.nn.rnn_cell.LSTMStateTuple(tf.constant(c0), tf.constant(h0)), tf.constant(g0))
    got = _keras_run(tf, code, lambda layer, i: converted[i], x, init)
    np.testing.assert_allclose(np.asarray(got["o"]), ref["o"], atol=1e-5)
    for a, b in zip(_flat(got["s"]), _flat(ref["s"])):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # negative control: the layers' initial states swapped into Keras' order by mistake ([c, h] instead of [h, c])
    swapped = code.replace("initial_state=[((s0)[0])[1], ((s0)[0])[0]]", "initial_state=[((s0)[0])[0], ((s0)[0])[1]]")
    assert swapped != code
    bad = _keras_run(tf, swapped, lambda layer, i: converted[i], x, init)
    assert np.abs(np.asarray(bad["o"]) - ref["o"]).max() > 1e-3


# fw: a stack built by a ``for _ in range(n)`` loop with ``list.append``; bw: a GRU stack from a list comprehension.
LOOP_BIDI = ("fws = []\nfor _ in range(2):\n    c = tf.nn.rnn_cell.LSTMCell(6, forget_bias=0.7)\n"
             "    c = tf.nn.rnn_cell.DropoutWrapper(c, output_keep_prob=1.0)\n    fws.append(c)\n"
             "fw = tf.nn.rnn_cell.MultiRNNCell(cells=fws, state_is_tuple=True)\n"
             "bw = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.GRUCell(6) for _ in range(2)])\n"
             "(of, ob), (sf, sb) = tf.nn.bidirectional_dynamic_rnn(fw, bw, x, sequence_length=L, dtype=tf.float32)\n")


def _loop_bidi_weights(w: dict, convert: bool = True) -> list[list[np.ndarray]]:
    fw, bw = "bidirectional_rnn/fw/multi_rnn_cell/", "bidirectional_rnn/bw/multi_rnn_cell/"
    out = []
    for i, d in enumerate((D, U)):
        k, b = w[f"{fw}cell_{i}/lstm_cell/kernel:0"], w[f"{fw}cell_{i}/lstm_cell/bias:0"]
        out.append(lstm_to_keras(k, b, d, 0.7) if convert else [k[:d], k[d:], b])
    for i, d in enumerate((D, U)):
        g = f"{bw}cell_{i}/gru_cell/"
        out.append(gru_to_keras(w[g + "gates/kernel:0"], w[g + "gates/bias:0"], w[g + "candidate/kernel:0"],
                                w[g + "candidate/bias:0"], d))
    return out


def test_bidirectional_loop_built_stacks_parity_and_controls(tf):
    x = np.random.RandomState(5).randn(B, T, D).astype(np.float32)
    ref, w = _run_tf1(tf, LOOP_BIDI, 13, {"x": x, "fetch": ["of", "ob", "sf", "sb"]})
    code = _emitted(LOOP_BIDI)
    assert "tf.reverse_sequence(_x1, L, seq_axis=1, batch_axis=0)" in code and "MultiRNNCell" not in code
    converted = _loop_bidi_weights(w)
    got = _keras_run(tf, code, lambda layer, i: converted[i], x)
    for k in ("of", "ob"):
        np.testing.assert_allclose(np.asarray(got[k]), ref[k], atol=1e-5)
    for k in ("sf", "sb"):
        assert len(got[k]) == len(ref[k]) == 2
        for a, b in zip(_flat(got[k]), _flat(ref[k])):
            np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.abs(ref["ob"]).max() > 0.05 and np.abs(ref["ob"][1, 2:]).max() == 0.0
    # negative controls: the backward input reversed as a whole (not by length); LSTM weights not converted
    whole = code.replace("tf.reverse_sequence(_x1, L, seq_axis=1, batch_axis=0)", "tf.reverse(_x1, axis=[1])")
    assert whole != code
    bad = _keras_run(tf, whole, lambda layer, i: converted[i], x)
    assert np.abs(np.asarray(bad["ob"]) - ref["ob"]).max() > 1e-3
    raw = _loop_bidi_weights(w, convert=False)
    bad = _keras_run(tf, code, lambda layer, i: raw[i] if i < 2 else converted[i], x)
    assert np.abs(np.asarray(bad["of"]) - ref["of"]).max() > 1e-3


# static_bidirectional_rnn of two single-cell stacks without lengths: the whole sequence reversed, outputs concatenated
STATIC_BIDI = ("xs = tf.unstack(x, axis=1)\nfws = []\nfor _ in range(1):\n    fws.append(tf.nn.rnn_cell.GRUCell(6))\n"
               "bws = []\nfor _ in range(1):\n    bws.append(tf.nn.rnn_cell.GRUCell(6))\n"
               "outs, sf, sb = tf.nn.static_bidirectional_rnn(tf.nn.rnn_cell.MultiRNNCell(fws), "
               "tf.nn.rnn_cell.MultiRNNCell(bws), xs, dtype=tf.float32)\no = tf.stack(outs, axis=1)\n")


def test_static_bidirectional_loop_stacks_parity(tf):
    x = np.random.RandomState(8).randn(B, T, D).astype(np.float32)
    ref, w = _run_tf1(tf, STATIC_BIDI, 17, {"x": x, "fetch": ["o", "sf", "sb"]})
    code = _emitted(STATIC_BIDI)
    assert "tf.reverse(_x1, axis=[1])" in code
    converted = []
    for d in ("fw", "bw"):
        g = f"bidirectional_rnn/{d}/multi_rnn_cell/cell_0/gru_cell/"
        converted.append(gru_to_keras(w[g + "gates/kernel:0"], w[g + "gates/bias:0"], w[g + "candidate/kernel:0"],
                                      w[g + "candidate/bias:0"], D))
    got = _keras_run(tf, code, lambda layer, i: converted[i], x)
    np.testing.assert_allclose(np.asarray(got["o"]), ref["o"], atol=1e-5)
    for k in ("sf", "sb"):
        for a, b in zip(_flat(got[k]), _flat(ref[k])):
            np.testing.assert_allclose(a, b, atol=1e-5)
    # negative control: the backward output not reversed back
    unreversed = code.replace("_ob1 = tf.reverse(_h1b, axis=[1])", "_ob1 = _h1b")
    assert unreversed != code
    bad = _keras_run(tf, unreversed, lambda layer, i: converted[i], x)
    assert np.abs(np.asarray(bad["o"]) - ref["o"]).max() > 1e-3


# LSTMBlockCell(forget_bias=0) built by a nested helper whose DropoutWrapper is guarded by a Python condition (false
# here: keep 1.0), stacked by a list comprehension, fed a zero state from the stack and ragged lengths.
BLOCK = ("def build(x, kp):\n    def make_cell():\n        cell = tf.contrib.rnn.LSTMBlockCell(6, forget_bias=0.0)\n"
         "        if kp < 1:\n            cell = tf.nn.rnn_cell.DropoutWrapper(cell, output_keep_prob=kp)\n"
         "        return cell\n    m = tf.nn.rnn_cell.MultiRNNCell([make_cell() for _ in range(2)])\n"
         "    s0 = m.zero_state(3, tf.float32)\n"
         "    o, s = tf.nn.dynamic_rnn(m, x, initial_state=s0, sequence_length=L)\n    return o, s\n"
         "o, s = build(x, 1.0)\n")


def test_block_cell_nested_helper_guarded_dropout_parity(tf):
    import legacy_rnn.contrib_rnn  # noqa: F401  (the compat home of tf.contrib.rnn.LSTMBlockCell)
    import legacy_rnn

    x = np.random.RandomState(9).randn(B, T, D).astype(np.float32)
    ref, w = _run_tf1(tf, BLOCK, 19, {"x": x, "fetch": ["o", "s"], "graph": lambda tf: {"legacy_rnn": legacy_rnn}})
    code = _emitted(BLOCK)
    assert "tf_keras.layers.LSTM(6" in code and "(kp) if (kp < 1) else 1.0" in code
    names = sorted(k for k in w if k.endswith("kernel:0"))
    assert len(names) == 2
    converted = [lstm_to_keras(w[k], w[k.replace("kernel:0", "bias:0")], d, 0.0) for k, d in zip(names, (D, U))]
    got = _keras_run(tf, code, lambda layer, i: converted[i], x, legacy_rnn=legacy_rnn)
    np.testing.assert_allclose(np.asarray(got["o"]), ref["o"], atol=1e-5)
    for a, b in zip(_flat(got["s"]), _flat(ref["s"])):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # negative control: forget_bias 1.0 (LSTMCell's default) folded in instead of the block cell's 0.0
    wrong = [lstm_to_keras(w[k], w[k.replace("kernel:0", "bias:0")], d, 1.0) for k, d in zip(names, (D, U))]
    bad = _keras_run(tf, code, lambda layer, i: wrong[i], x, legacy_rnn=legacy_rnn)
    assert np.abs(np.asarray(bad["o"]) - ref["o"]).max() > 1e-3


# ``[GRUCell(n) for n in sizes]``: one layer per size (6 then 4), ragged lengths
SIZED = ("m = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.GRUCell(n) for n in (6, 4)])\n"
         "o, s = tf.nn.dynamic_rnn(m, x, sequence_length=L, dtype=tf.float32)\n")


def test_sized_comprehension_stack_parity(tf):
    x = np.random.RandomState(4).randn(B, T, D).astype(np.float32)
    ref, w = _run_tf1(tf, SIZED, 23, {"x": x, "fetch": ["o", "s"]})
    code = _emitted(SIZED)
    assert "enumerate((6, 4))" in code and "GRU(_layer_arg" in code
    base = "rnn/multi_rnn_cell/cell_{}/gru_cell/"
    converted = [gru_to_keras(w[base.format(i) + "gates/kernel:0"], w[base.format(i) + "gates/bias:0"],
                              w[base.format(i) + "candidate/kernel:0"], w[base.format(i) + "candidate/bias:0"], d)
                 for i, d in enumerate((D, 6))]
    got = _keras_run(tf, code, lambda layer, i: converted[i], x)
    assert np.asarray(got["o"]).shape == ref["o"].shape == (B, T, 4)
    np.testing.assert_allclose(np.asarray(got["o"]), ref["o"], atol=1e-5)
    for a, b in zip(_flat(got["s"]), _flat(ref["s"])):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # negative control: the layers' weights in the wrong order cannot even be set (sizes differ): swap the two
    # GRU gate blocks of the top layer instead
    swapped = [converted[0], [converted[1][0][:, ::-1].copy(), *converted[1][1:]]]
    bad = _keras_run(tf, code, lambda layer, i: swapped[i], x)
    assert np.abs(np.asarray(bad["o"]) - ref["o"]).max() > 1e-3
