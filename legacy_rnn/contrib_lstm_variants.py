"""What TF 1.15's ``tf.contrib.rnn`` LSTM variants share (``tensorflow/contrib/rnn/python/ops/rnn_cell.py``):
the sharded weight matrix (``_get_concat_variable``), contrib ``layers.layer_norm`` as those cells call it
(``_norm``), and the activation argument (a callable in TF 1.15, or a name).

Used by :mod:`legacy_rnn.cifg_lstm`, :mod:`legacy_rnn.layer_norm_lstm_contrib` and :mod:`legacy_rnn.weight_norm_lstm`.
"""
from __future__ import annotations

from typing import Callable, Optional, Union

import tensorflow as tf

from migration.core.specs import ACTIVATIONS

v1 = tf.compat.v1
#: contrib ``layers.layer_norm``'s variance epsilon (TF 1.15: ``nn.batch_normalization(..., 1e-12)``).
CONTRIB_LAYER_NORM_EPSILON = 1e-12
_BY_NAME: dict[str, Callable] = {"tanh": tf.tanh, "relu": tf.nn.relu, "sigmoid": tf.sigmoid, "linear": tf.identity,
                                 "softsign": tf.nn.softsign, "elu": tf.nn.elu}


def activation_fn(activation: Union[None, str, Callable]) -> Callable:
    """TF 1.15 took a callable (default ``math_ops.tanh``); a name of :data:`ACTIVATIONS` is accepted too."""
    if activation is None:
        return tf.tanh
    if callable(activation):
        return activation
    if activation not in ACTIVATIONS:
        raise ValueError(f"Received an invalid value for `activation`: expected a callable or one of {ACTIVATIONS}, "
                         f"got {activation!r}.")
    return _BY_NAME[activation]


def concat_variable(name: str, shape: list, dtype, num_shards: int, initializer=None):
    """``_get_concat_variable``: ``name_0 .. name_{n-1}`` row shards (the first ``rows % n`` one row longer),
    concatenated; one shard is the variable itself (``W_0``)."""
    if num_shards > shape[0]:
        raise ValueError(f"Too many shards: shape={shape}, num_shards={num_shards}")
    size, extra = divmod(shape[0], num_shards)
    shards = [v1.get_variable(f"{name}_{i}", [size + (1 if i < extra else 0)] + list(shape[1:]), dtype=dtype,
                              initializer=initializer) for i in range(num_shards)]
    return shards[0] if num_shards == 1 else tf.concat(shards, 0, name=f"{name}/concat")


def contrib_norm(gain: float, shift: float, x, scope: str):
    """``_norm``: ``gamma``/``beta`` under ``scope`` (initialised to gain/shift), contrib ``layers.layer_norm`` over
    the last axis (population variance, epsilon 1e-12)."""
    with v1.variable_scope(scope):
        gamma = v1.get_variable("gamma", x.shape[-1:], x.dtype, v1.constant_initializer(gain))
        beta = v1.get_variable("beta", x.shape[-1:], x.dtype, v1.constant_initializer(shift))
    mean, var = tf.nn.moments(x, [1], keepdims=True)
    return tf.nn.batch_normalization(x, mean, var, beta, gamma, CONTRIB_LAYER_NORM_EPSILON)


def check_proj(num_proj: Optional[int]) -> Optional[int]:
    if num_proj is not None and (isinstance(num_proj, bool) or not isinstance(num_proj, int) or num_proj <= 0):
        raise ValueError(f"Received an invalid value for `num_proj`: expected a positive integer or None, got "
                         f"{num_proj!r}.")
    return num_proj


__all__ = ["CONTRIB_LAYER_NORM_EPSILON", "activation_fn", "concat_variable", "contrib_norm", "check_proj"]
