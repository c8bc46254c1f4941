"""Keras 2 (``tf_keras``) twins of every :mod:`legacy_rnn` construct, name for name.

This package builds on the ``tf_keras`` package explicitly, never on whatever ``tf.keras`` resolves to: ``keras``
below *is* ``tf_keras``.
"""
from __future__ import annotations

from migration.tf_env import ensure_legacy_keras

ensure_legacy_keras()

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
