"""Rule ``shape_division``: ``/`` between dimensions in a shape (``[k, k, channels / groups, out]``) was integer
division on Python 2; on Python 3 it gives a float, which TF2's ``TensorShape`` refuses (``TypeError``). The operator
becomes ``//`` where the expression is a shape: a ``shape=`` argument, the shape argument of ``reshape`` /
``placeholder`` / ``get_variable`` / ``zeros`` / ``ones`` / ``truncated_normal`` / ``random_normal`` /
``random_uniform``, or an assignment to a name with ``shape`` in it. A float literal operand (``n / 2.0``) is left
alone and reported: that division was a float on Python 2 too."""
from __future__ import annotations

import ast

from migration.upgrade.context import PlanContext, tf_prefix
from migration.upgrade.rules.base import Example, Rule

#: function name -> index of its shape argument
SHAPE_ARGS = {"reshape": 1, "placeholder": 1, "get_variable": 1, "zeros": 0, "ones": 0, "truncated_normal": 0,
              "random_normal": 0, "random_uniform": 0, "fill": 0}


def _shape_exprs(nodes: list[ast.AST]):
    for node in nodes:
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            index = SHAPE_ARGS.get(name)
            if index is not None and len(node.args) > index:
                yield node.args[index]
            yield from (k.value for k in node.keywords if k.arg == "shape")
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and "shape" in t.id.lower()
                                                  for t in node.targets):
            yield node.value


def _is_float(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, float)


def apply(p: PlanContext, tree: ast.Module) -> bool:
    if tf_prefix(p.refs) is None or "/" not in p.source:
        return False  # not a TensorFlow program: its shapes are not ours to judge
    found = False
    seen: set[int] = set()
    for expr in _shape_exprs(p.nodes):
        if not isinstance(expr, (ast.List, ast.Tuple, ast.BinOp)):
            continue
        for node in ast.walk(expr):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and id(node) not in seen:
                seen.add(id(node))
                found = True
                if _is_float(node.left) or _is_float(node.right):
                    p.flag(p.node_span(node), "shape / (float)", "a float dimension: TF2's TensorShape refuses it",
                           "python2")
                elif not p.operator_edit(node, "//"):
                    p.flag(p.node_span(node), "shape /", "Python 2 integer division in a shape: write `//`",
                           "python2")
    return found


RULE = Rule("shape_division", "tree", "integer `/` in a shape -> `//` (Python 2 semantics)", apply, (
    Example("import tensorflow as tf\nfilter_shape = [k, k] + [c_in / groups, c_out]\n",
            "import tensorflow as tf\nfilter_shape = [k, k] + [c_in // groups, c_out]\n"),
    Example("import tensorflow as tf\nw = tf.get_variable('w', shape=[(a + b) / 2, n])\n",
            "import tensorflow as tf\nw = tf.compat.v1.get_variable('w', shape=[(a + b) // 2, n])\n"),
    Example("import tensorflow as tf\ny = tf.reshape(x, [-1, n / 2.0])\n", None, ("shape / (float)",)),
    Example("ratio = a / b\n", None),
))
