"""``tf.contrib.layers`` for TensorFlow 2.21: the names RNN programs use beside their cells.

Most come from tf-slim (``tf_slim``, the maintained copy of ``tf.contrib.layers``: same signatures, variable names
and maths). ``batch_norm`` is rebuilt here: tf-slim's fails on TensorFlow 2.21 (it reaches for ``ops.Tensor``).
:func:`batch_norm` keeps TF 1.15's signature and variable names (``<scope or BatchNorm>/beta``, ``gamma``,
``moving_mean``, ``moving_variance``) and its inference maths exactly; in training it normalises with the batch
moments and updates the moving averages through ``UPDATE_OPS`` (or in place with ``updates_collections=None``), as
TF 1.15's non-fused path did (the fused kernel's moving-variance update used the unbiased batch variance: the updated
averages can differ in the last digits after training, the trained checkpoint's values are read unchanged).
"""
from __future__ import annotations

import legacy_rnn  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf
import tf_slim
from tensorflow.python.training import moving_averages
from tf_slim import (  # noqa: F401
    apply_regularization, avg_pool2d, conv2d, conv2d_transpose, dropout, flatten, fully_connected, l1_l2_regularizer,
    l1_regularizer, l2_regularizer, layer_norm, max_pool2d, one_hot_encoding, optimize_loss, separable_conv2d,
    stack, repeat, sum_regularizer, summarize_activation, variance_scaling_initializer, xavier_initializer,
    xavier_initializer_conv2d,
)

v1 = tf.compat.v1
linear = tf_slim.linear
conv2d_in_plane = getattr(tf_slim, "conv2d_in_plane", None)
_UNSUPPORTED = ("param_regularizers", "batch_weights", "renorm_clipping", "adjustment")


def batch_norm(inputs, decay=0.999, center=True, scale=False, epsilon=0.001, activation_fn=None,
               param_initializers=None, param_regularizers=None, updates_collections=v1.GraphKeys.UPDATE_OPS,
               is_training=True, reuse=None, variables_collections=None, outputs_collections=None, trainable=True,
               batch_weights=None, fused=None, data_format="NHWC", zero_debias_moving_mean=False, scope=None,
               renorm=False, renorm_clipping=None, renorm_decay=0.99, adjustment=None):
    """TF 1.15 ``tf.contrib.layers.batch_norm`` (NHWC / channels last; see the module docstring)."""
    given = {"param_regularizers": param_regularizers, "batch_weights": batch_weights,
             "renorm_clipping": renorm_clipping, "adjustment": adjustment}
    bad = [k for k in _UNSUPPORTED if given[k] is not None] + (["renorm"] if renorm else []) + (
        ["data_format=" + data_format] if data_format not in ("NHWC", "NC") else [])
    if bad:
        raise NotImplementedError(f"legacy_rnn.contrib_layers.batch_norm does not rebuild {', '.join(bad)}; use "
                                  "tf.compat.v1.layers.batch_normalization (its variables are named differently).")
    del fused, renorm_decay  # the fused kernel computes the same normalisation
    inits = param_initializers or {}
    with v1.variable_scope(scope, "BatchNorm", [inputs], reuse=reuse):
        x = tf.convert_to_tensor(inputs)
        channels = x.shape[-1]
        dtype = x.dtype.base_dtype

        def var(name, init, train, extra=()):
            cols = [v1.GraphKeys.GLOBAL_VARIABLES, *extra] + list((variables_collections or {}).get(name, [])
                                                                  if isinstance(variables_collections, dict)
                                                                  else variables_collections or [])
            return v1.get_variable(name, [channels], dtype, initializer=inits.get(name, init),
                                   trainable=train and trainable, collections=cols)

        beta = var("beta", v1.zeros_initializer(), True) if center else None
        gamma = var("gamma", v1.ones_initializer(), True) if scale else None
        moving = [v1.GraphKeys.MOVING_AVERAGE_VARIABLES]
        mean_var = var("moving_mean", v1.zeros_initializer(), False, moving)
        variance_var = var("moving_variance", v1.ones_initializer(), False, moving)

        if isinstance(is_training, bool) and not is_training:
            mean, variance = mean_var, variance_var
        else:  # TF 1.15's non-fused path: moments always, the choice and the updates through smart_cond
            mean, variance = _moments(x, mean_var, variance_var, is_training, decay, zero_debias_moving_mean,
                                      updates_collections)
        out = tf.nn.batch_normalization(x, mean, variance, beta, gamma, epsilon)
        if activation_fn is not None:
            out = activation_fn(out)
        if outputs_collections:
            v1.add_to_collections(outputs_collections, out)
        return out


def _moments(x, mean_var, variance_var, is_training, decay, zero_debias, updates_collections):
    """(mean, variance) to normalise with: the batch moments in training, the moving averages otherwise
    (``is_training`` a bool or a boolean tensor); the averages' updates forced in place (``updates_collections=None``)
    or added to the collections. With a tensor flag the collection holds the outputs of a ``tf.cond`` around each
    update (TF 1.15's ``smart_cond`` layout), never an op created inside a branch: that one lives in the branch's
    function (control flow v2) and cannot be fetched from the graph."""
    batch_mean, batch_variance = tf.nn.moments(x, list(range(x.shape.rank - 1)))
    training = is_training if isinstance(is_training, bool) else tf.cast(is_training, tf.bool)

    def pick(train, infer):
        if isinstance(training, bool):
            return train()
        return tf.cond(training, train, infer)

    def update(var, value, debias):
        return pick(lambda: _average(var, value, decay, debias), lambda: tf.identity(var))

    if updates_collections is None:
        def forced():
            with tf.control_dependencies([_average(mean_var, batch_mean, decay, zero_debias),
                                          _average(variance_var, batch_variance, decay)]):
                return tf.identity(batch_mean), tf.identity(batch_variance)
        return pick(forced, lambda: (tf.identity(mean_var), tf.identity(variance_var)))
    for op in (update(mean_var, batch_mean, zero_debias), update(variance_var, batch_variance, False)):
        v1.add_to_collections(updates_collections, op)
    return pick(lambda: (tf.identity(batch_mean), tf.identity(batch_variance)),
                lambda: (tf.identity(mean_var), tf.identity(variance_var)))


def _average(variable, value, decay, zero_debias=False):
    return moving_averages.assign_moving_average(variable, value, decay, zero_debias=zero_debias)


#: Every TF 1.15 ``tf.contrib.layers`` name this module provides (``rnn-migrate upgrade`` reads it).
__all__ = [
    "apply_regularization", "avg_pool2d", "batch_norm", "conv2d", "conv2d_transpose", "dropout", "flatten",
    "fully_connected", "l1_l2_regularizer", "l1_regularizer", "l2_regularizer", "layer_norm", "linear", "max_pool2d",
    "one_hot_encoding", "optimize_loss", "repeat", "separable_conv2d", "stack", "sum_regularizer",
    "summarize_activation", "variance_scaling_initializer", "xavier_initializer", "xavier_initializer_conv2d",
]
