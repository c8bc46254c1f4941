"""The JAX child's load-time shortcut (migration/targets/keras3_child.py ``placeholder_initializers``): while a model
loads, the initializers return NumPy zeros instead of running their programs. Honest only if every variable is then
overwritten from the file: checked here in this process (Keras 3, TensorFlow backend; the child's code is the same):
the outputs equal those of the model that was saved, bit for bit; the initializers are restored afterwards; and a
file that lacks a variable of its model is refused (a placeholder zero can never stand in for a weight).
"""
from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from migration.targets import keras3_child


def _model(use_bias: bool, seed: int):
    import keras

    x = keras.Input((4, 3), name="x")
    seq = keras.layers.LSTM(5, return_sequences=True, use_bias=use_bias, name="lstm")(x)
    model = keras.Model(x, keras.layers.Dense(2, name="head")(seq))
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.8, 0.8, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def test_a_model_loaded_with_placeholder_initializers_is_the_saved_model(tmp_path):
    import keras

    model = _model(True, 3)
    path = str(tmp_path / "m.keras")
    model.save(path)
    x = np.random.default_rng(4).normal(0, 1, (2, 4, 3)).astype(np.float32)
    with keras3_child.placeholder_initializers(keras, np):
        assert not np.any(keras.initializers.Orthogonal()((3, 3)))  # the shortcut is on
        loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert all(np.any(w) for w in loaded.get_weights())
    assert np.any(np.asarray(keras.initializers.Orthogonal(seed=1)((3, 3))))  # restored
    assert np.any(np.asarray(keras.initializers.GlorotUniform(seed=1)((3, 3))))


def test_a_file_missing_a_variable_is_refused_not_left_at_the_placeholder(tmp_path):
    """model.weights.h5 of an LSTM without its bias inside the file of one with it: Keras refuses the load."""
    import keras

    with_bias, without = str(tmp_path / "bias.keras"), str(tmp_path / "nobias.keras")
    _model(True, 5).save(with_bias)
    _model(False, 5).save(without)
    hybrid = str(tmp_path / "hybrid.keras")
    with zipfile.ZipFile(with_bias) as a, zipfile.ZipFile(without) as b, zipfile.ZipFile(hybrid, "w") as out:
        for name in a.namelist():
            out.writestr(name, (b if name == "model.weights.h5" else a).read(name))
    assert os.path.getsize(hybrid) > 0
    with keras3_child.placeholder_initializers(keras, np), pytest.raises(ValueError):
        keras.saving.load_model(hybrid, safe_mode=True, compile=False)
