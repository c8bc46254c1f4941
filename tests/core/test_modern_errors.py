"""Bad input to modern_rnn's public functions: Keras-style errors naming the argument and the shapes."""
from __future__ import annotations

import numpy as np
import pytest

import modern_rnn

tf, keras = modern_rnn.tf, modern_rnn.keras


@pytest.mark.parametrize("call,pattern", [
    (lambda: modern_rnn.basic_lstm_cell(0), r"`units`: expected a positive integer, got 0"),
    (lambda: modern_rnn.gru_cell(2.5), r"`units`: expected a positive integer, got 2.5"),
    (lambda: modern_rnn.lstm_cell(3, proj_clip=0.5), r"`proj_clip`.*needs `num_proj`"),
    (lambda: modern_rnn.dropout_wrapper(modern_rnn.gru_cell(2), output_keep_prob=0.0), r"`output_keep_prob`"),
    (lambda: modern_rnn.dropout_wrapper(modern_rnn.gru_cell(2), variational_recurrent=True), r"recurrent_dropout"),
    (lambda: modern_rnn.multi_rnn_cell([]), r"non-empty list"),
    (lambda: modern_rnn.embedding_variable("e", matrix=np.zeros((3, 2)), shape=(3, 2)), r"exactly one"),
    (lambda: modern_rnn.dynamic_rnn(modern_rnn.gru_cell(2), np.zeros((2, 3), np.float32)),
     r"`inputs`: expected rank 3 \[batch, time, depth\], got \[2, 3\]"),
    (lambda: modern_rnn.bidirectional_dynamic_rnn(modern_rnn.gru_cell(2), modern_rnn.gru_cell(2),
                                                  np.zeros((2, 3, 1), np.float32), initial_state_fw=[np.zeros((2, 2))]),
     r"only one of `initial_state_fw`"),
])
def test_bad_arguments(call, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        call()


def test_projection_cell_serializes_and_reloads(tmp_path) -> None:
    """The custom cells round-trip through a saved model (get_config + registration)."""
    cell = modern_rnn.lstm_cell(4, use_peepholes=True, num_proj=2, cell_clip=0.5, proj_clip=0.3, forget_bias=0.5)
    inp = keras.Input((5, 3))
    out = keras.layers.RNN(modern_rnn.dropout_wrapper(cell, output_keep_prob=0.8), return_sequences=True)(inp)
    model = keras.Model(inp, out)
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, compile=False)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-7)
    inner = loaded.layers[1].cell.cell
    assert (inner.num_proj, inner.cell_clip, inner.proj_clip, inner.use_peepholes) == (2, 0.5, 0.3, True)
    bias = inner.get_weights()[2]
    assert np.allclose(bias[4:8], 0.5) and not bias[:4].any()  # a fresh cell starts at b_f = forget_bias
