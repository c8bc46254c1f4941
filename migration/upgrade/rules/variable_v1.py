"""Rule ``variable_v1``: in a TF1 graph-mode program, ``tf.Variable(...)`` -> ``tf.compat.v1.Variable(...)``.

On TensorFlow 2.x ``tf.Variable`` always makes a resource variable, whatever ``disable_v2_behavior()`` says;
``tf.compat.v1.Variable`` makes the variable TF 1.15 made (a ref variable once resource variables are off). The
difference shows at run time: a ``tf.Variable`` put in a collection and passed through ``export_meta_graph`` /
``import_meta_graph`` comes back as a resource handle, and ``session.run`` on it returns the handle, not the value.
``tf_upgrade_v2`` leaves ``tf.Variable`` alone (TF2 semantics); ``--to compat`` promises TF1's."""
from __future__ import annotations

from migration.upgrade.context import PlanContext, rel_of
from migration.upgrade.resolve import Reference
from migration.upgrade.rules.base import Example, Rule
from migration.upgrade.rules.graph_mode import uses_graph_mode


def apply(p: PlanContext, ref: Reference) -> bool:
    if ref.kind != "use" or ref.binding is None or ref.binding.via != "import" or ref.binding.target != "tensorflow" \
            or rel_of(ref.path) != "Variable" or ref.store_target or not uses_graph_mode(p):
        return False
    p.edit(p.span(ref), f"{ref.base}.compat.v1.Variable", "tf.Variable",
           reason="TF2's tf.Variable is always a resource variable; tf.compat.v1.Variable keeps TF1's")
    return True


RULE = Rule("variable_v1", "ref", "tf.Variable -> tf.compat.v1.Variable in TF1 graph-mode programs", apply, (
    Example("import tensorflow as tf\nx = tf.placeholder(tf.float32)\nw = tf.Variable(1.0)\n",
            "import tensorflow as tf\ntf.compat.v1.disable_v2_behavior()  # rnn-migrate: the program uses TF1 graph "
            "mode\nx = tf.compat.v1.placeholder(tf.float32)\nw = tf.compat.v1.Variable(1.0)\n"),
    Example("import tensorflow as tf\nw = tf.Variable(1.0)\n", None),  # eager TF2 code: TF2's Variable is right
))
