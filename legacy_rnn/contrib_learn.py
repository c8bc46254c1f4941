"""``tf.contrib.learn.ModeKeys`` for TensorFlow 2.21 (``tf.contrib.learn`` is gone with its Estimators): the same
string values, so code that compares modes or passes them around runs unchanged."""
from __future__ import annotations


class ModeKeys:
    """TF 1.15 ``tf.contrib.learn.ModeKeys``: ``TRAIN = 'train'``, ``EVAL = 'eval'``, ``INFER = 'infer'``."""

    TRAIN = "train"
    EVAL = "eval"
    INFER = "infer"

    @classmethod
    def validate(cls, key: str) -> None:
        if key not in (cls.TRAIN, cls.EVAL, cls.INFER):
            raise ValueError(f"Invalid mode key: {key}.")


__all__ = ["ModeKeys"]
