"""Rule ``graph_mode``: a program that uses TF1 graph mode (placeholders, sessions) gets TF1 semantics back, right
after its TensorFlow import: ``tf.compat.v1.disable_v2_behavior()``.

Why the whole switch and not only ``disable_eager_execution()`` (docs/upgrading.md, "TF1 semantics"): TF 1.15 ran
with every TF2 behaviour off. With eager execution off alone, ``x.shape[i].value`` fails (the v2 ``TensorShape``
holds ints), every ``tf.Variable`` is a resource variable (through a collection and ``export_meta_graph`` /
``import_meta_graph`` it comes back as a handle: ``TypeError`` at ``session.run``), ``tf.cond``/``tf.while_loop`` build
v2 control flow (different op names in the ``.meta``), and tensors compare by identity with ``==`` differently.
``disable_v2_behavior()`` turns off all of them at once (eager execution, resource variables, v2 tensor shapes,
v2 control flow, tensor equality): the TF1 program's meaning.
"""
from __future__ import annotations

from migration.upgrade.context import PlanContext, Site, rel_of
from migration.upgrade.rules.base import Example, Rule

GRAPH_MODE = {"placeholder", "placeholder_with_default", "Session", "InteractiveSession", "train.MonitoredSession",
              "train.MonitoredTrainingSession"}
SWITCHES = {"disable_eager_execution", "disable_v2_behavior"}
NOTE = "  # rnn-migrate: the program uses TF1 graph mode"


def used_names(p: PlanContext) -> set[str]:
    """The relative TensorFlow names the program uses (``placeholder``, ``Session``...)."""
    return {(r.path.split("tensorflow.compat.v1.")[-1] if "compat.v1." in r.path else rel_of(r.path))  # type: ignore
            for r in p.refs if r.kind == "use"}


def uses_graph_mode(p: PlanContext) -> bool:
    return bool(used_names(p) & GRAPH_MODE)


def apply(p: PlanContext, _: object = None) -> bool:
    rels = used_names(p)
    if not rels & GRAPH_MODE or rels & SWITCHES:
        return False
    roots = [r for r in p.refs if r.kind == "import" and r.binding is not None
             and r.binding.target in ("tensorflow", "tensorflow.compat.v1")]
    if roots:
        root = roots[0]
        prefix = f"{root.base}.compat.v1" if root.binding.target == "tensorflow" else root.base  # type: ignore[union-attr]
        code = f"{prefix}.disable_v2_behavior(){NOTE}\n"
    else:
        root = next((r for r in p.refs if r.kind == "import"), None)  # type: ignore[assignment]
        if root is None:
            return False
        code = "import tensorflow.compat.v1 as _tf_v1\n_tf_v1.disable_v2_behavior()" + NOTE + "\n"
    p.inserts[root.line] = code
    p.sites.append(Site((root.line, root.col, root.end_line, root.end_col), "tf.compat.v1.disable_v2_behavior()",
                        "rewrite", "", "; ".join(line.split("  #")[0] for line in code.strip().split("\n")),
                        "after the TensorFlow import: the program uses TF1 graph mode; TF1 semantics", "insert",
                        p.rule))
    return True


RULE = Rule("graph_mode", "module", "TF1 graph mode -> tf.compat.v1.disable_v2_behavior() after the import", apply, (
    Example("import tensorflow.compat.v1 as tf\nx = tf.placeholder(tf.float32)\n",
            f"import tensorflow.compat.v1 as tf\ntf.disable_v2_behavior(){NOTE}\nx = tf.placeholder(tf.float32)\n"),
    Example("import tensorflow.compat.v1 as tf\ntf.disable_v2_behavior()\nx = tf.placeholder(tf.float32)\n", None),
    Example("import tensorflow as tf\ny = tf.nn.relu(x)\n", None),  # eager TF2 code: nothing to switch
))
