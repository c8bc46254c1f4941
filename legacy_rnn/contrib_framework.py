"""``tf.contrib.framework`` for TensorFlow 2.21: the variable helpers from tf-slim (``tf_slim``, the maintained copy:
same signatures and collections) and the names TensorFlow kept elsewhere (``nest``, ``get_or_create_global_step``)."""
from __future__ import annotations

import legacy_rnn  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf
from tf_slim import (  # noqa: F401
    add_arg_scope, add_model_variable, arg_scope, assign_from_checkpoint, assign_from_checkpoint_fn,
    get_model_variables, get_trainable_variables, get_variables, get_variables_by_name, get_variables_to_restore,
    local_variable, model_variable, variable,
)

v1 = tf.compat.v1
nest = tf.nest
get_global_step, get_or_create_global_step = v1.train.get_global_step, v1.train.get_or_create_global_step
is_tensor, sort, argsort, load_variable = tf.is_tensor, tf.sort, tf.argsort, tf.train.load_variable

#: Every TF 1.15 ``tf.contrib.framework`` name this module provides (``rnn-migrate upgrade`` reads it).
__all__ = [
    "add_arg_scope", "add_model_variable", "arg_scope", "argsort", "assign_from_checkpoint",
    "assign_from_checkpoint_fn", "get_global_step", "get_model_variables", "get_or_create_global_step",
    "get_trainable_variables", "get_variables", "get_variables_by_name", "get_variables_to_restore", "is_tensor",
    "load_variable", "local_variable", "model_variable", "nest", "sort", "variable",
]
