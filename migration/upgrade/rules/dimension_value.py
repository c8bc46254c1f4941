"""Rule ``dimension_value``: ``x.shape[i].value`` / ``x.get_shape()[i].value`` -> ``tf.compat.v1.dimension_value(
x.shape[i])``, which reads a dimension under both the TF1 ``TensorShape`` (a ``Dimension``) and the v2 one (an int
or None). The same through a name that holds a shape (``dims = x.get_shape()`` ... ``dims[1].value``) when every
assignment to that name in the file is a ``.shape`` / ``.get_shape()``; when only some are, the ``.value`` is
reported (information: it runs under ``disable_v2_behavior()``, rule ``graph_mode``, which gives TF1's
``TensorShape``). ``tf.Dimension`` goes to ``tf.compat.v1.Dimension`` (rule ``tf_names``, TensorFlow's own rename);
reached through ``tensorflow.compat.v1`` it runs as written and is reported as information."""
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


def _is_shape(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "shape" or isinstance(node, ast.Call) \
        and isinstance(node.func, ast.Attribute) and node.func.attr == "get_shape" and not node.args and not node.keywords


def shape_names(nodes: list[ast.AST]) -> tuple[set[str], set[str]]:
    """Names assigned a shape somewhere in the file, and those of them assigned only shapes (every store)."""
    shapes, other, targets = set(), set(), set()
    for node in nodes:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            targets.add(id(node.targets[0]))
            (shapes if _is_shape(node.value) else other).add(node.targets[0].id)
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and id(node) not in targets:
            other.add(node.id)
        elif isinstance(node, ast.arg):
            other.add(node.arg)
    return shapes, shapes - other


def _compat_dimension(p: PlanContext) -> None:
    for ref in p.refs:
        if ref.kind == "use" and ref.path == "tensorflow.compat.v1.Dimension":
            p.note(p.span(ref), "tf.Dimension", "TF1's Dimension, through tensorflow.compat.v1: runs as written; TF2's "
                   "TensorShape holds ints (or None), tf.compat.v1.dimension_value reads either")


def apply(p: PlanContext, tree: ast.Module) -> bool:
    v1 = tf_prefix(p.refs)
    if v1 is None:
        return False
    if "Dimension" in p.source:
        _compat_dimension(p)
    if ".value" not in p.source:
        return False
    found = False
    shapes, only = shape_names(p.nodes)
    for node in p.nodes:
        if not (isinstance(node, ast.Attribute) and node.attr == "value" and isinstance(node.ctx, ast.Load)):
            continue
        sub = node.value
        held = isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name) and sub.value.id in shapes
        if _is_dimension(sub) or held and sub.value.id in only:  # type: ignore[union-attr]
            inner = p.text(p.node_span(sub))
            p.edit(p.node_span(node), f"{v1}.dimension_value({inner})", "Dimension.value", "name",
                   "TF2's TensorShape holds ints: dimension_value reads a dimension under both")
            found = True
        elif held:
            p.note(p.node_span(node), "Dimension.value", "may be a TF1 Dimension (the name is also assigned other "
                   "values): runs under disable_v2_behavior(); tf.compat.v1.dimension_value(...) reads either")
    return found


RULE = Rule("dimension_value", "tree", "x.shape[i].value -> tf.compat.v1.dimension_value(x.shape[i])", apply, (
    Example("import tensorflow as tf\nn = x.get_shape()[-1].value\n",
            "import tensorflow as tf\nn = tf.compat.v1.dimension_value(x.get_shape()[-1])\n"),
    Example("import tensorflow.compat.v1 as tf\nn = inputs.shape[2].value * 2\n",
            "import tensorflow.compat.v1 as tf\nn = tf.dimension_value(inputs.shape[2]) * 2\n"),
    Example("import tensorflow as tf\nn = node.value\nm = cfg['shape'][0].value\n", None),
    Example("import tensorflow as tf\ndims = x.get_shape()\nn = dims[1].value\ns = y.shape\nm = s[0].value + 1\n",
            "import tensorflow as tf\ndims = x.get_shape()\nn = tf.compat.v1.dimension_value(dims[1])\ns = y.shape\n"
            "m = tf.compat.v1.dimension_value(s[0]) + 1\n"),
    # a name that also holds something else: left (information), never rewritten
    Example("import tensorflow as tf\nd = x.shape\nd = cfg\nn = d[1].value\ndef f(s):\n    return s[0].value\n",
            None),
))
