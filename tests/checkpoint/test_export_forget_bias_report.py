"""export never defaults a hyper-parameter silently: with standard scopes (no conversion manifest lists the model)
the forget_bias the written LSTM biases assume is printed and in --json, whether it was given or TF1's default;
a model without an LSTM prints none. The figure printed is the one applied: the written bias moves by it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from modern_rnn import keras

    root = tmp_path_factory.mktemp("fb")
    rng = np.random.default_rng(11)
    paths = {}
    for name, layer in (("lstm", lambda: keras.layers.LSTM(3, name="lstm")),
                        ("gru", lambda: keras.layers.GRU(3, reset_after=False, name="gru"))):
        model = keras.Sequential([keras.Input((4, 2)), layer(), keras.layers.Dense(2, name="dense")])
        model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
        paths[name] = str(root / f"{name}.keras")
        model.save(paths[name])
    return root, paths


def _bias(prefix: str) -> np.ndarray:
    from legacy_rnn import tf

    reader = tf.train.load_checkpoint(prefix)
    (name,) = [n for n in reader.get_variable_to_shape_map() if n.endswith("lstm_cell/bias")]
    return reader.get_tensor(name)


def test_the_default_forget_bias_is_printed_and_applied(models, capsys):
    root, paths = models
    assert run_cli("export", paths["lstm"], root / "d" / "model.ckpt") == 0
    out = capsys.readouterr().out
    assert "forget_bias: 1.0 (the default of TF1's BasicLSTMCell and LSTMCell" in out and "--forget-bias F" in out
    assert run_cli("export", paths["lstm"], root / "h" / "model.ckpt", "--forget-bias", "0.25", "--json") == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["forget_bias"] == "0.25 (--forget-bias)"
    # the figure is the one applied: TF1's f block (i, j, f, o) of the bias is b_f - forget_bias
    default, given = _bias(str(root / "d" / "model.ckpt")), _bias(str(root / "h" / "model.ckpt"))
    np.testing.assert_allclose(given[6:9] - default[6:9], 0.75, atol=1e-6)
    np.testing.assert_array_equal(np.delete(given, range(6, 9)), np.delete(default, range(6, 9)))


def test_a_model_without_an_lstm_prints_no_forget_bias(models, capsys):
    root, paths = models
    assert run_cli("export", paths["gru"], root / "g" / "model.ckpt", "--json") == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "forget_bias" not in report and any("gru_cell" in n for n in report["variables"])
