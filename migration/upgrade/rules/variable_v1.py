"""Rule ``variable_v1``: in TF1 graph code, ``tf.Variable(...)`` -> ``tf.compat.v1.Variable(...)``.

TF1 graph code = a graph-mode program (placeholders, sessions) or a module of one: a file without a placeholder or
a session of its own that builds its graph with TF1 names the plan moves to ``tf.compat.v1`` or to a home of ours
(``tf.variable_scope``, ``tf.get_variable``, ``tf.contrib.layers``...): the program that imports it runs with
``disable_v2_behavior()``, and the module's variables go into its graph.

On TensorFlow 2.x ``tf.Variable`` always makes a resource variable, whatever ``disable_v2_behavior()`` says;
``tf.compat.v1.Variable`` makes the variable TF 1.15 made (a ref variable once resource variables are off). The
difference shows at run time: a ``tf.Variable`` put in a collection and passed through ``export_meta_graph`` /
``import_meta_graph`` comes back as a resource handle, and ``session.run`` on it returns the handle, not the value.
``tf_upgrade_v2`` leaves ``tf.Variable`` alone (TF2 semantics); ``--to compat`` promises TF1's."""
from __future__ import annotations

from migration.upgrade import homes
from migration.upgrade.context import PlanContext, rel_of
from migration.upgrade.resolve import Reference
from migration.upgrade.rules.base import Example, Rule
from migration.upgrade.rules.graph_mode import used_names, uses_graph_mode


def tf1_graph_code(p: PlanContext) -> bool:
    """A graph-mode program, or a module of one (see the module docstring)."""
    if uses_graph_mode(p):
        return True
    for rel in used_names(p):
        if rel is None or rel == "Variable":
            continue
        home = homes.new_home(rel)
        if rel.startswith("contrib") or (home or "").startswith(("compat.v1.", "legacy_rnn.")):
            return True
    return False


def apply(p: PlanContext, ref: Reference) -> bool:
    if ref.kind != "use" or ref.binding is None or ref.binding.via != "import" or ref.binding.target != "tensorflow" \
            or rel_of(ref.path) != "Variable" or ref.store_target or not tf1_graph_code(p):
        return False
    p.edit(p.span(ref), f"{ref.base}.compat.v1.Variable", "tf.Variable",
           reason="TF2's tf.Variable is always a resource variable; tf.compat.v1.Variable keeps TF1's")
    return True


RULE = Rule("variable_v1", "ref", "tf.Variable -> tf.compat.v1.Variable in TF1 graph-mode programs", apply, (
    Example("import tensorflow as tf\nx = tf.placeholder(tf.float32)\nw = tf.Variable(1.0)\n",
            "import tensorflow as tf\ntf.compat.v1.disable_v2_behavior()  # rnn-migrate: the program uses TF1 graph "
            "mode\nx = tf.compat.v1.placeholder(tf.float32)\nw = tf.compat.v1.Variable(1.0)\n"),
    Example("import tensorflow as tf\nw = tf.Variable(1.0)\n", None),  # eager TF2 code: TF2's Variable is right
    # a module of a graph-mode program: TF1 names of its own, no placeholder or session
    Example("import tensorflow as tf\nwith tf.variable_scope('bn'):\n    g = tf.Variable(1.0)\n",
            "import tensorflow as tf\nwith tf.compat.v1.variable_scope('bn'):\n    g = tf.compat.v1.Variable(1.0)\n"),
    Example("import tensorflow as tf\nk = tf.contrib.layers.xavier_initializer()\nb = tf.Variable(tf.zeros([2]))\n",
            "import legacy_rnn.contrib_layers\nimport tensorflow as tf\nk = legacy_rnn.contrib_layers.xavier_initializer()"
            "\nb = tf.compat.v1.Variable(tf.zeros([2]))\n"),
    Example("import tensorflow as tf\ny = tf.nn.relu(x)\nw = tf.Variable(tf.zeros([2]))\n", None),  # TF2 names only
))
