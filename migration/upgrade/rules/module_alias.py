"""Rules ``module_alias`` and ``alias_uses``: names reached through an alias of a TensorFlow module.

``module_alias`` collects the uses made through an imported module (``from tensorflow.contrib import rnn`` ->
``rnn.GRUCell``) for the ``imports`` rule, which rebinds the import to the module's home and checks each use.
``alias_uses``: through an assigned alias (``seq2seq = tf.contrib.seq2seq``, rewritten by ``tf_names`` to
``legacy_rnn.seq2seq``), a name the home does not provide (``seq2seq.BahdanauMonotonicAttention``) is a manual check.
"""
from __future__ import annotations

from migration.upgrade import homes
from migration.upgrade.context import PlanContext, rel_of
from migration.upgrade.resolve import Reference
from migration.upgrade.rules.base import Example, Rule


def collect(p: PlanContext, ref: Reference) -> bool:
    if ref.kind != "use" or ref.binding is None or ref.binding.via not in ("import", "from") \
            or not ref.binding.target.startswith("tensorflow."):
        return False
    p.module_aliases.setdefault(id(ref.binding), []).append(ref)
    return True


def alias_uses(p: PlanContext, ref: Reference) -> bool:
    if ref.kind != "use" or ref.binding is None or ref.binding.via != "assign":
        return False
    target = rel_of(ref.binding.target) or ""
    rel = rel_of(ref.path) or ""
    if not target.startswith("contrib") or ref.path == ref.binding.target or homes.new_home(target) is None:
        return True
    if not homes.provides(target, rel):
        p.flag(p.span(ref), "tf." + rel, f"reached through `{ref.base}` (an alias of tf.{target}, now "
               f"{homes.new_home(target)}): " + (homes.remedy(rel) or "rewrite it by hand"))
    return True


COLLECT = Rule("module_alias", "ref", "uses through an imported TensorFlow module (checked by `imports`)", collect)
ALIAS_USES = Rule("alias_uses", "ref", "a name its module alias's home does not provide: a manual check", alias_uses, (
    Example("import tensorflow as tf\nrnn = tf.contrib.rnn\ncell = rnn.LSTMBlockCell(8)\n",
            "import legacy_rnn.contrib_rnn\nimport tensorflow as tf\nrnn = legacy_rnn.contrib_rnn\n"
            "cell = rnn.LSTMBlockCell(8)\n"),
    Example("import tensorflow as tf\nrnn = tf.contrib.rnn\ncell = rnn.NTMCell(8)\n",
            "import legacy_rnn.contrib_rnn\nimport tensorflow as tf\nrnn = legacy_rnn.contrib_rnn\n"
            "cell = rnn.NTMCell(8)\n", ("tf.contrib.rnn.NTMCell",)),
))
