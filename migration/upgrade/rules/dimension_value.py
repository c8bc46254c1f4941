"""Rule ``dimension_value``: ``x.shape[i].value`` / ``x.get_shape()[i].value`` -> ``tf.compat.v1.dimension_value(
x.shape[i])``, which reads a dimension under both the TF1 ``TensorShape`` (a ``Dimension``) and the v2 one (an int
or None). ``.value`` on anything else that may be a ``Dimension`` (``dims[1].value`` after ``dims = x.shape``) runs
under ``disable_v2_behavior()`` (rule ``graph_mode``); ``tf.Dimension`` itself goes to ``tf.compat.v1.Dimension``
(rule ``tf_names``, TensorFlow's own rename)."""
from __future__ import annotations

import ast

from migration.upgrade.context import PlanContext, tf_prefix
from migration.upgrade.rules.base import Example, Rule


def _is_dimension(node: ast.AST) -> bool:
    if not isinstance(node, ast.Subscript):
        return False
    shape = node.value
    if isinstance(shape, ast.Attribute) and shape.attr == "shape":
        return True
    return isinstance(shape, ast.Call) and isinstance(shape.func, ast.Attribute) and shape.func.attr == "get_shape" \
        and not shape.args and not shape.keywords


def apply(p: PlanContext, tree: ast.Module) -> bool:
    v1 = tf_prefix(p.refs)
    if v1 is None or ".value" not in p.source:
        return False
    found = False
    for node in p.nodes:
        if isinstance(node, ast.Attribute) and node.attr == "value" and isinstance(node.ctx, ast.Load) \
                and _is_dimension(node.value):
            inner = p.text(p.node_span(node.value))
            p.edit(p.node_span(node), f"{v1}.dimension_value({inner})", "Dimension.value", "name",
                   "TF2's TensorShape holds ints: dimension_value reads a dimension under both")
            found = True
    return found


RULE = Rule("dimension_value", "tree", "x.shape[i].value -> tf.compat.v1.dimension_value(x.shape[i])", apply, (
    Example("import tensorflow as tf\nn = x.get_shape()[-1].value\n",
            "import tensorflow as tf\nn = tf.compat.v1.dimension_value(x.get_shape()[-1])\n"),
    Example("import tensorflow.compat.v1 as tf\nn = inputs.shape[2].value * 2\n",
            "import tensorflow.compat.v1 as tf\nn = tf.dimension_value(inputs.shape[2]) * 2\n"),
    Example("import tensorflow as tf\nn = node.value\nm = cfg['shape'][0].value\n", None),
))
