"""Rule ``dynamic_getattr``: ``getattr(tf.nn.rnn_cell, name)`` with a name known only at run time: a manual check."""
from __future__ import annotations

from migration.upgrade.context import PlanContext
from migration.upgrade.resolve import Reference
from migration.upgrade.rules.base import Example, Rule


def apply(p: PlanContext, ref: Reference) -> bool:
    if ref.kind != "getattr":
        return False
    p.flag(p.span(ref), f"getattr({ref.path.replace('tensorflow', 'tf', 1)}, ...)",
           "dynamic attribute of a TF1 module: only known at run time")
    return True


RULE = Rule("dynamic_getattr", "ref", "getattr on a TensorFlow module with a computed name: a manual check", apply, (
    Example("import tensorflow as tf\ncell = getattr(tf.contrib.rnn, kind)(8)\n", None,
            ("getattr(tf.contrib.rnn, ...)",)),
))
