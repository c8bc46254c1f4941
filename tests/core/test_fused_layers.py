"""The stock Keras 2 layers users write (SimpleRNN, LSTM, GRU(reset_after=False)), not only RNN(cell), equal TF1
dynamic_rnn with sequence_length once given converted weights, the mask and zero_output_for_mask=True."""
from __future__ import annotations

import numpy as np
import pytest

import modern_rnn
from migration import converters
from migration.core.specs import CellSpec

from .harness import LENGTHS, Case, loss_weights, random_inputs, run_tf1

keras, tf = modern_rnn.keras, modern_rnn.tf

LAYERS = {
    "basic_rnn": (CellSpec("basic_rnn", 5), lambda u: keras.layers.SimpleRNN(u, **KW)),
    "basic_lstm": (CellSpec("basic_lstm", 5, forget_bias=1.0), lambda u: keras.layers.LSTM(u, **KW)),
    "lstm_fb0": (CellSpec("basic_lstm", 5, forget_bias=0.0), lambda u: keras.layers.LSTM(u, unit_forget_bias=False, **KW)),
    "gru": (CellSpec("gru", 5), lambda u: keras.layers.GRU(u, reset_after=False, **KW)),
}
KW = dict(return_sequences=True, return_state=True, zero_output_for_mask=True)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_stock_layer_equals_tf1(name: str) -> None:
    spec, make = LAYERS[name]
    case = Case(name, spec, "dynamic", ragged=True)
    x = random_inputs(0)
    tf1 = run_tf1(case, x, loss_weights(case), seed=13, with_grads=False)
    prefix = case.cell_prefix("", 0)
    layer = make(spec.units)
    mask = tf.sequence_mask(LENGTHS, x.shape[1])
    layer(x, mask=mask)
    layer.set_weights(converters.cell_to_keras(spec, {n[len(prefix):]: v for n, v in tf1.weights.items()}, 4))
    out, *states = layer(x, mask=mask)
    np.testing.assert_allclose(out.numpy(), tf1.outputs, atol=1e-5)
    keras_states = converters.keras_state_to_tf1(spec, [s.numpy() for s in states])
    for k, t in zip(keras_states, tf1.states):
        np.testing.assert_allclose(k, t, atol=1e-5)
