"""``upgrade --to keras`` on a cell stepped by hand in a Python loop (issue 21, cause 7).

Fixtures of our own for the ways TF1 programs write the loop (the PTB tutorial's ``range`` loop with
``reuse_variables()`` under a ``variable_scope``, a ``tf.unstack`` list walked with ``enumerate`` under
``variable_scope(..., reuse=i > 0)`` from a given initial state, a ``MultiRNNCell`` stepped over the list itself,
a ``BasicRNNCell`` whose last output alone is used). Each is run twice on the same seeded weights: its compat form
as a TF1 graph, and the EMITTED Keras statements, executed as written (eager), the layers' weights set from the TF1
variables through the project's NumPy converters; outputs and final states must agree to 1e-5. Negative controls: the
TF1 weights loaded unconverted differ; the given initial state dropped differs; a loop with extra per-step logic, a
feedback loop and keyword arguments to the cell are NOT rewritten and are listed with the reason.
"""
from __future__ import annotations

import types

import numpy as np
import pytest

import migration  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
from migration.converters import gru_to_keras, lstm_to_keras, simple_rnn_to_keras
from migration.upgrade import upgrade_source

B, T, D, U = 3, 5, 4, 6
rnn = "tf.nn.rnn_cell"

PTB = (f"cell = {rnn}.LSTMCell({U}, forget_bias=0.7)\nstate = cell.zero_state(3, tf.float32)\noutputs = []\n"
       "with tf.variable_scope('RNN'):\n    for time_step in range(5):\n        if time_step > 0:\n"
       "            tf.get_variable_scope().reuse_variables()\n"
       "        (cell_output, state) = cell(x[:, time_step, :], state)\n        outputs.append(cell_output)\n"
       "o = tf.stack(outputs, axis=1)\ns = state\n")
UNSTACK = (f"inputs = tf.unstack(x, 5, 1)\ngru = {rnn}.GRUCell({U})\nh = s0\nouts = []\n"
           "for i, inp in enumerate(inputs):\n    with tf.variable_scope('rnn', reuse=(i > 0)):\n"
           "        out, h = gru(inp, h)\n    outs.append(out)\no = tf.stack(outs, axis=1)\ns = h\n")
STACK = (f"stack = {rnn}.MultiRNNCell([{rnn}.BasicLSTMCell({U}), {rnn}.GRUCell({U})])\n"
         "st = stack.zero_state(3, tf.float32)\nys = []\nfor x_t in tf.unstack(x, axis=1):\n"
         "    y, st = stack(x_t, st)\n    ys.append(y)\no = tf.stack(ys, axis=1)\ns = st\n")
LAST = (f"c = {rnn}.BasicRNNCell({U})\nh = c.zero_state(3, tf.float32)\nfor t in range(4):\n"
        "    o, h = c(x[:, t], h)\ns = h\n")


def _lstm(w, p, d, fb=1.0, convert=True):
    k, b = w[p + "kernel:0"], w[p + "bias:0"]
    return lstm_to_keras(k, b, d, fb) if convert else [k[:d], k[d:], b]


def _gru(w, p, d):
    return gru_to_keras(w[p + "gates/kernel:0"], w[p + "gates/bias:0"], w[p + "candidate/kernel:0"],
                        w[p + "candidate/bias:0"], d)


CASES = {  # name -> (source, converted Keras weights per layer from the TF1 variables, Keras layer kinds)
    "ptb_range_reuse": (PTB, lambda w, c=True: [_lstm(w, "RNN/lstm_cell/", D, 0.7, c)], ["LSTM"]),
    "unstack_enumerate_initial_state": (UNSTACK, lambda w, c=True: [_gru(w, "rnn/gru_cell/", D)], ["GRU"]),
    "multirnncell_over_the_list": (STACK, lambda w, c=True: [_lstm(w, "multi_rnn_cell/cell_0/basic_lstm_cell/", D,
                                                                   1.0, c), _gru(w, "multi_rnn_cell/cell_1/gru_cell/",
                                                                                 U)], ["LSTM", "GRU"]),
    "last_output_only": (LAST, lambda w, c=True: [simple_rnn_to_keras(w["basic_rnn_cell/kernel:0"],
                                                                      w["basic_rnn_cell/bias:0"], D)], ["SimpleRNN"]),
}


@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow


def _body(code: str) -> str:
    return code.split("import tensorflow as tf\n", 1)[1]


def _run_tf1(tf, source: str, x: np.ndarray, s0: np.ndarray) -> tuple[dict, dict]:
    """The compat form of ``source`` as a TF1 graph with seeded asymmetric weights: ({o, s}, {variable: value})."""
    body = _body(upgrade_source("import tensorflow as tf\n" + source, "compat").code)
    rng = np.random.RandomState(7)
    with tf.Graph().as_default():
        ns = {"tf": tf, "x": tf.constant(x), "s0": tf.constant(s0)}
        exec(body, ns)  # noqa: S102 - our own fixture code
        weights = {}
        with tf.compat.v1.Session() as sess:
            for v in tf.compat.v1.global_variables():
                weights[v.name] = rng.uniform(-0.6, 0.6, v.shape.as_list()).astype(np.float32)
                v.load(weights[v.name], sess)
            return sess.run({"o": ns["o"], "s": ns["s"]}), weights


def _keras_run(tf, code: str, weights: list, x: np.ndarray, s0: np.ndarray) -> dict:
    """Execute the emitted statements eagerly; the k-th RNN layer called gets ``weights[k]`` once built."""
    import tf_keras

    count = [0]

    def preset(base):
        class Preset(base):
            def __call__(self, *args, **kwargs):
                if not getattr(self, "_preset", False):
                    super().__call__(*args, **kwargs)  # builds the weights
                    self.set_weights(weights[count[0]])
                    count[0] += 1
                    self._preset = True
                return super().__call__(*args, **kwargs)

        return Preset

    layers = types.SimpleNamespace(Dropout=tf_keras.layers.Dropout,
                                   **{n: preset(getattr(tf_keras.layers, n)) for n in ("LSTM", "GRU", "SimpleRNN")})
    ns = {"tf": tf, "tf_keras": types.SimpleNamespace(layers=layers), "x": tf.constant(x), "s0": tf.constant(s0)}
    exec(code.split("import tf_keras  # rnn-migrate: Keras 2\n", 1)[1], ns)  # noqa: S102 - the code the upgrade emitted
    assert count[0] == len(weights)
    return ns


def _flat(state) -> list[np.ndarray]:
    if hasattr(state, "c"):
        return [np.asarray(state.c), np.asarray(state.h)]
    if isinstance(state, (tuple, list)):
        return [a for s in state for a in _flat(s)]
    return [np.asarray(state)]


def _worst(got: dict, ref: dict) -> float:
    pairs = [(np.asarray(got["o"]), ref["o"])] + list(zip(_flat(got["s"]), _flat(ref["s"]), strict=True))
    assert all(a.shape == b.shape for a, b in pairs)
    return max(float(np.abs(a - b).max()) for a, b in pairs)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_loop_becomes_one_layer_with_the_numbers_of_the_tf1_loop(tf, case):
    source, convert, kinds = CASES[case]
    rng = np.random.RandomState(3)
    x, s0 = rng.randn(B, T, D).astype(np.float32), rng.randn(B, U).astype(np.float32)
    ref, w = _run_tf1(tf, source, x, s0)
    result = upgrade_source("import tensorflow as tf\n" + source, "keras")
    code = result.code
    assert [k for k in kinds if f"tf_keras.layers.{k}(" in code] == kinds
    assert not [ln for ln in code.splitlines() if ln.lstrip().startswith("for ")]  # the Python loop is gone
    assert not [m for m in result.manual_checks if "rnn_cell" in m.symbol]       # and the TF1 cell with it
    assert np.abs(ref["o"]).max() > 0.1
    assert _worst(_keras_run(tf, code, convert(w), x, s0), ref) < 1e-5
    # negative control: a wrong weight conversion of the first layer (LSTM: TF1 weights unconverted; GRU: its gate
    # blocks rolled; SimpleRNN: the recurrent kernel transposed)
    wrong = convert(w)
    first = wrong[0]
    if kinds[0] == "LSTM":
        wrong[0] = convert(w, False)[0]
    elif kinds[0] == "GRU":
        wrong[0] = [np.roll(first[0], U, axis=1), np.roll(first[1], U, axis=1), np.roll(first[2], U, axis=-1)]
    else:
        wrong[0] = [first[0], first[1].T, first[2]]
    assert _worst(_keras_run(tf, code, wrong, x, s0), ref) > 1e-3
    if case == "unstack_enumerate_initial_state":  # negative control: the given initial state dropped
        dropped = code.replace(", initial_state=[h]", "")
        assert dropped != code and _worst(_keras_run(tf, dropped, convert(w), x, s0), ref) > 1e-3


NOT_REWRITTEN = {
    "per-step Dense": ("cell = tf.nn.rnn_cell.LSTMCell(5)\nstate = cell.zero_state(3, tf.float32)\nlogits = []\n"
                       "for t in range(5):\n    out, state = cell(x[:, t, :], state)\n"
                       "    logits.append(tf.layers.dense(out, 3, name='proj', reuse=t > 0))\n",
                       "does more than `out, state = cell(x_t, state)`"),
    "loss per step": ("cell = tf.nn.rnn_cell.GRUCell(5)\nstate = cell.zero_state(3, tf.float32)\nloss = 0.0\n"
                      "for t in range(5):\n    out, state = cell(x[:, t, :], state)\n"
                      "    loss += tf.reduce_sum(out)\n", ": `loss += tf.reduce_sum(out)`"),
    "feedback": ("cell = tf.nn.rnn_cell.GRUCell(4)\nstate = cell.zero_state(3, tf.float32)\ninp = x[:, 0, :]\n"
                 "outs = []\nfor t in range(5):\n    inp, state = cell(inp, state)\n    outs.append(inp)\n",
                 "feedback"),
    "loop variable read after the loop": ("cell = tf.nn.rnn_cell.GRUCell(5)\nstate = cell.zero_state(3, tf.float32)\n"
                                          "for t in range(5):\n    out, state = cell(x[:, t, :], state)\nlast = t\n",
                                          "read after the loop"),
    "keyword arguments": ("cell = tf.nn.rnn_cell.GRUCell(5)\nstate = cell.zero_state(3, tf.float32)\n"
                          "for t in range(5):\n    out, state = cell(x[:, t, :], state, scope='s')\n",
                          "keyword arguments"),
}


@pytest.mark.parametrize("case", sorted(NOT_REWRITTEN))
def test_a_loop_with_more_than_the_step_stays_compat_and_is_listed_with_the_reason(case):
    body, reason = NOT_REWRITTEN[case]
    src = "import tensorflow as tf\n" + body
    result = upgrade_source(src, "keras")
    assert result.code == upgrade_source(src, "compat").code and "tf_keras.layers" not in result.code
    (check,) = [m for m in result.manual_checks if m.symbol.startswith("tf.nn.rnn_cell.")]
    assert "stepped by hand in the loop at line" in check.reason and reason in check.reason
