"""TF1 graph-mode recurrent code, runnable on TensorFlow 2.21 through ``tf.compat.v1``.

Importing this package first sets ``TF_USE_LEGACY_KERAS=1`` (see :mod:`migration.tf_env`) so that
``tf.compat.v1.nn.rnn_cell.*`` exists, then imports TensorFlow. Every public name has a twin of the same name in
:mod:`modern_rnn` (Keras 2, via ``tf_keras``); the two packages read side by side.
"""
from __future__ import annotations

from migration.tf_env import check_rnn_cell_available, ensure_legacy_keras

ensure_legacy_keras()

import tensorflow as tf  # noqa: E402

check_rnn_cell_available()

v1 = tf.compat.v1
