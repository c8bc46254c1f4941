"""AutoGraph leaves rnn-migrate's own cells and layers as written (migration/core/autograph_rules.py), keeps
converting the modules written for it (the Keras 2 decoders) and a user's own ``call``."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from tensorflow.python.autograph.core import config
from tensorflow.python.autograph.impl import api, conversion

import legacy_rnn
import modern_rnn
from migration.core import autograph_rules


def _own_call_methods() -> list:
    """Every ``call`` / ``__call__`` defined by a class of legacy_rnn and modern_rnn (their own, not inherited)."""
    found = []
    for package in (legacy_rnn, modern_rnn):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__:
                    found += [vars(cls)[name] for name in ("call", "__call__") if name in vars(cls)]
    return found


def test_our_call_methods_are_left_as_written_and_the_decoders_are_converted() -> None:
    assert autograph_rules.excluded() == autograph_rules.PACKAGES
    calls = _own_call_methods()
    assert len(calls) > 50  # the probe found the classes (70+ today)
    kept = [f.__qualname__ for f in calls if f.__module__.startswith(autograph_rules.CONVERTED)]
    left = [f for f in calls if not f.__module__.startswith(autograph_rules.CONVERTED)]
    assert kept and left
    assert [f.__qualname__ for f in left if not conversion.is_allowlisted(f)] == []
    from modern_rnn.seq2seq import decoders, models

    assert not conversion.is_allowlisted(decoders.tile_batch) and not conversion.is_allowlisted(models._static_decode)


def test_without_the_rules_autograph_would_convert_them(monkeypatch) -> None:
    """Negative control: TensorFlow's own rules alone treat our cells as user code to convert."""
    ours = set(autograph_rules.PACKAGES + autograph_rules.CONVERTED)
    monkeypatch.setattr(config, "CONVERSION_RULES",
                        tuple(rule for rule in config.CONVERSION_RULES if rule._prefix not in ours))
    assert autograph_rules.excluded() == ()
    assert not any(conversion.is_allowlisted(f) for f in _own_call_methods()[:10])


def test_a_model_with_our_cell_builds_and_runs_in_graph_mode_without_conversion(monkeypatch) -> None:
    """A functional model with a modern_rnn cell: AutoGraph converts none of our functions (it is asked to, by
    Keras, and declines), and the model still gives its eager numbers inside tf.function."""
    converted = []
    real = api._convert_actual
    monkeypatch.setattr(api, "_convert_actual", lambda entity, program_ctx: (converted.append(entity),
                                                                             real(entity, program_ctx))[1])
    monkeypatch.setattr(conversion, "_ALLOWLIST_CACHE", type(conversion._ALLOWLIST_CACHE)())
    cell = modern_rnn.LayerNormLSTMCell(4)
    inputs = keras.Input((5, 3))
    model = keras.Model(inputs, keras.layers.RNN(cell)(inputs))
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(tf.function(model)(x).numpy(), model(x).numpy(), atol=1e-6)
    assert [f for f in converted if getattr(f, "__module__", "").startswith(autograph_rules.PACKAGES)] == []


class UserCell(keras.layers.Layer):
    """A user's cell with Python control flow on a tensor: needs AutoGraph inside tf.function."""

    state_size = 2

    def call(self, inputs, states):
        h = states[0]
        if tf.reduce_sum(inputs) > 0:  # AutoGraph turns this into tf.cond
            h = h + 1.0
        else:
            h = h - 1.0
        return h, [h]


def test_a_users_own_call_is_still_converted() -> None:
    """One trace, both branches: the ``if`` became a tf.cond (unconverted, the trace would raise
    OperatorNotAllowedInGraphError)."""
    run = tf.function(keras.layers.RNN(UserCell()))
    up, down = run(np.ones((2, 3, 2), np.float32)), run(-np.ones((2, 3, 2), np.float32))
    assert run.experimental_get_tracing_count() == 1
    np.testing.assert_array_equal(up.numpy(), np.full((2, 2), 3.0))
    np.testing.assert_array_equal(down.numpy(), np.full((2, 2), -3.0))
