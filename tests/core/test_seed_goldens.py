"""Numbers published in seed 001 (../shared/seeds/001_*.txt), reproduced by both sides.

The document builds Keras layers with ``kernel_initializer=ones``, ``recurrent_initializer=ones`` and the default
bias (zeros, plus ``unit_forget_bias=True`` for LSTMs, i.e. b_f = 1) and feeds ``[0.1, 0.2, 0.3]`` as one sequence of
three 1-d steps. The TF1 twin of that LSTM is ``BasicLSTMCell(1, forget_bias=1.0)`` with an all-ones kernel and a
zero bias. Tolerance 1e-6 (the document prints 8 significant digits).
"""
from __future__ import annotations

import numpy as np
import pytest

import legacy_rnn
import modern_rnn

tf, v1, keras = legacy_rnn.tf, legacy_rnn.v1, modern_rnn.keras
DATA = np.array([0.1, 0.2, 0.3], np.float32).reshape(1, 3, 1)
ONES = dict(kernel_initializer="ones", recurrent_initializer="ones")

LSTM_SEQ = [0.02744377, 0.09097716, 0.20281446]
LSTM2_SEQ = [0.00704829, 0.03230806, 0.09769259]
GRU_SEQ = [0.04734437, 0.12427121, 0.21689339]
BI_LAST = [0.20281446, 0.20384209]


def _tf1(build) -> list[np.ndarray]:
    """Run ``build(x)`` in a TF1 graph with every kernel set to ones and every bias to zero."""
    with legacy_rnn.new_graph(0) as graph:
        x = legacy_rnn.placeholder(tf.float32, DATA.shape)
        fetches = build(x)
        init = [v.assign(tf.ones_like(v) if "kernel" in v.op.name else tf.zeros_like(v)) for v in v1.global_variables()]
        with legacy_rnn.new_session(graph) as sess:
            sess.run(init)
            return sess.run(fetches, {x: DATA})


def test_lstm_sequence_both_sides() -> None:
    keras_out = keras.layers.LSTM(1, return_sequences=True, **ONES)(DATA).numpy().ravel()
    tf1_out = _tf1(lambda x: legacy_rnn.dynamic_rnn(legacy_rnn.basic_lstm_cell(1, forget_bias=1.0), x)[0])
    np.testing.assert_allclose(keras_out, LSTM_SEQ, atol=1e-6)
    np.testing.assert_allclose(tf1_out.ravel(), LSTM_SEQ, atol=1e-6)


def test_lstm_return_state_is_h_then_c() -> None:
    out, h, c = keras.layers.LSTM(1, return_state=True, **ONES)(DATA)
    (c1, h1), = [_tf1(lambda x: legacy_rnn.dynamic_rnn(legacy_rnn.basic_lstm_cell(1), x)[1])]
    np.testing.assert_allclose([out.numpy()[0, 0], h.numpy()[0, 0]], [LSTM_SEQ[-1]] * 2, atol=1e-6)
    np.testing.assert_allclose([h1[0, 0], c1[0, 0]], [h.numpy()[0, 0], c.numpy()[0, 0]], atol=1e-6)
    assert abs(c.numpy()[0, 0] - h.numpy()[0, 0]) > 0.1  # so a swapped (c, h) order could not pass


def test_two_layer_lstm_both_sides() -> None:
    x = keras.layers.LSTM(1, return_sequences=True, **ONES)(DATA)
    keras_out = keras.layers.LSTM(1, return_sequences=True, **ONES)(x).numpy().ravel()

    def build(x):
        cell = legacy_rnn.multi_rnn_cell([legacy_rnn.basic_lstm_cell(1), legacy_rnn.basic_lstm_cell(1)])
        return legacy_rnn.dynamic_rnn(cell, x)[0]

    np.testing.assert_allclose(keras_out, LSTM2_SEQ, atol=1e-6)
    np.testing.assert_allclose(_tf1(build).ravel(), LSTM2_SEQ, atol=1e-6)


def test_bidirectional_lstm_both_sides() -> None:
    keras_out = keras.layers.Bidirectional(keras.layers.LSTM(1, **ONES))(DATA).numpy().ravel()

    def build(x):
        _, (s_fw, s_bw) = legacy_rnn.bidirectional_dynamic_rnn(legacy_rnn.basic_lstm_cell(1),
                                                               legacy_rnn.basic_lstm_cell(1), x)
        return tf.concat([s_fw.h, s_bw.h], -1)

    np.testing.assert_allclose(keras_out, BI_LAST, atol=1e-6)
    np.testing.assert_allclose(_tf1(build).ravel(), BI_LAST, atol=1e-6)


def test_keras_default_gru_numbers_and_the_one_unit_exception() -> None:
    """Seed 001's GRU uses Keras' default reset_after=True. With one unit U_h is 1x1, i.e. diagonal, the degenerate
    case where r*(h U_h) == (r*h) U_h, so a TF1 GRUCell (gates bias 0) reproduces it; with 2 units it cannot."""
    keras_out = keras.layers.GRU(1, return_sequences=True, **ONES)(DATA).numpy().ravel()
    np.testing.assert_allclose(keras_out, GRU_SEQ, atol=1e-6)
    tf1_out = _tf1(lambda x: legacy_rnn.dynamic_rnn(legacy_rnn.gru_cell(1), x)[0]).ravel()
    np.testing.assert_allclose(tf1_out, GRU_SEQ, atol=1e-6)
    keras2 = keras.layers.GRU(2, return_sequences=True, **ONES)(DATA).numpy()
    tf1_2 = _tf1(lambda x: legacy_rnn.dynamic_rnn(legacy_rnn.gru_cell(2), x)[0])
    # all-ones kernels keep both units identical, so the 2-unit case still agrees: a symmetric golden cannot tell
    # reset_after apart (style.md's warning about constant goldens); the table's random weights do.
    np.testing.assert_allclose(keras2, tf1_2, atol=1e-6)


@pytest.mark.parametrize("builder", ["modern", "keras"])
def test_modern_builder_reproduces_seed(builder: str) -> None:
    """modern_rnn.basic_lstm_cell(forget_bias=1.0) starts with b_f = 1, like the document's default LSTM."""
    cell = modern_rnn.basic_lstm_cell(1, forget_bias=1.0) if builder == "modern" else keras.layers.LSTMCell(1)
    modern_rnn.dynamic_rnn(cell, DATA)
    cell.set_weights([np.ones((1, 4)), np.ones((1, 4)), cell.get_weights()[2]])
    out, _ = modern_rnn.dynamic_rnn(cell, DATA)
    np.testing.assert_allclose(out.numpy().ravel(), LSTM_SEQ, atol=1e-6)
