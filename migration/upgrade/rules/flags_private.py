"""Rules ``flags_parse`` and ``flags_dict``: TF 1.4's private flag API on absl flags.

``FLAGS._parse_flags()`` -> ``FLAGS(sys.argv, known_only=True)`` (``import sys`` added before TensorFlow is
imported); ``FLAGS.__flags`` -> ``FLAGS.flag_values_dict()`` (the public ``{name: value}``).
"""
from __future__ import annotations

import ast

from migration.upgrade.context import PlanContext, rel_of
from migration.upgrade.resolve import Reference
from migration.upgrade.rules.base import Example, Rule


def parse_flags(p: PlanContext, ref: Reference) -> bool:
    call = ref.node
    if not (isinstance(call, ast.Call) and ref.path.endswith(".FLAGS._parse_flags")
            and p.flags_path(ref.path[:-len("._parse_flags")]) and not call.args and not call.keywords
            and isinstance(call.func, ast.Attribute)):
        return False
    func = p.func_ref(call)
    value = p.text(p.node_span(call.func.value))
    if func is not None and func.binding is not None and func.binding.via == "import" \
            and func.binding.target == "tensorflow":
        value = p.root_text(func, rel_of(ref.path[:-len("._parse_flags")]) or "")
    if func is not None:
        p.handled.add(p.span(func))
    p.header.add("import sys")
    p.edit(p.node_span(call), f"{value}(sys.argv, known_only=True)", "tf.flags.FLAGS._parse_flags",
           "call", "private TF 1.4 API: absl's FLAGS(argv) parses the command line")
    return True


def flags_dict(p: PlanContext, ref: Reference) -> bool:
    if ref.kind != "use" or ".FLAGS.__flags" not in ref.path or not p.flags_path(ref.path.split(".__flags")[0]):
        return False
    node = ref.node
    while isinstance(node, ast.Attribute) and node.attr != "__flags":
        node = node.value
    if not isinstance(node, ast.Attribute):
        return True
    value = p.text(p.node_span(node.value))
    if ref.binding is not None and ref.binding.via == "import" and ref.binding.target == "tensorflow":
        value = p.root_text(ref, rel_of(ref.path.split(".__flags")[0]) or "")
    p.edit(p.node_span(node), f"{value}.flag_values_dict()", "tf.flags.FLAGS.__flags",
           reason="private TF 1.4 API: FLAGS.flag_values_dict() is the public {name: value}")
    return True


PARSE = Rule("flags_parse", "call_first", "FLAGS._parse_flags() -> FLAGS(sys.argv, known_only=True)", parse_flags, (
    Example("import tensorflow as tf\nFLAGS = tf.flags.FLAGS\nFLAGS._parse_flags()\n",
            "import sys\nimport tensorflow as tf\nFLAGS = tf.compat.v1.flags.FLAGS\nFLAGS(sys.argv, known_only=True)\n"),
))
DICT = Rule("flags_dict", "ref", "FLAGS.__flags -> FLAGS.flag_values_dict()", flags_dict, (
    Example("import tensorflow as tf\nfor k in tf.app.flags.FLAGS.__flags:\n    pass\n",
            "import tensorflow as tf\nfor k in tf.compat.v1.app.flags.FLAGS.flag_values_dict():\n    pass\n"),
))
