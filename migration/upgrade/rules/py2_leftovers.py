"""Rule ``py2_leftovers``: Python 2 constructs that stop a TF1 program on Python 3.

Rewritten (the same meaning on Python 3): ``d.iteritems()`` / ``itervalues()`` / ``iterkeys()`` -> ``items()`` /
``values()`` / ``keys()``; ``xrange(...)`` -> ``range(...)`` where the module does not define ``xrange`` itself;
``import cPickle [as p]`` -> ``import pickle as cPickle`` (or ``import pickle as p``). Reported (a manual check):
``d.has_key(k)`` (write ``k in d``). ``print x`` statements and ``except E, e:`` do not parse on Python 3: ``scan``
reports the file as an error with the ``2to3`` remedy, ``upgrade`` refuses it (exit 2).
"""
from __future__ import annotations

import ast
import re

from migration.upgrade.context import PlanContext
from migration.upgrade.rules.base import Example, Rule

HINT = re.compile(r"\b(iteritems|itervalues|iterkeys|xrange|cPickle|has_key)\b")
ITER_METHODS = {"iteritems": "items", "itervalues": "values", "iterkeys": "keys"}


def _defines(nodes: list[ast.AST], name: str) -> bool:
    for node in nodes:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.name == name:
            return True
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


def apply(p: PlanContext, tree: ast.Module) -> bool:
    if not HINT.search(p.source):
        return False
    found = False
    has_xrange = _defines(p.nodes, "xrange")
    for node in p.nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args \
                and not node.keywords and node.func.attr in ITER_METHODS:
            span = p.node_span(node.func)
            p.edit(span, p.text(p.node_span(node.func.value)) + "." + ITER_METHODS[node.func.attr],
                   f"dict.{node.func.attr}()", "name", "Python 2 only: Python 3 dicts have items()/values()/keys()")
            found = True
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "has_key" \
                and len(node.args) == 1:
            p.flag(p.node_span(node), "dict.has_key()", "Python 2 only: write `key in d`", "python2")
            found = True
        elif isinstance(node, ast.Name) and node.id == "xrange" and isinstance(node.ctx, ast.Load) and not has_xrange:
            p.edit(p.node_span(node), "range", "xrange", "name", "Python 2 only: range is lazy on Python 3")
            found = True
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "cPickle":
                    bound = alias.asname or "cPickle"
                    code = "import pickle" + (f" as {bound}" if bound != "pickle" else "")
                    p.replace_import(node, bound, code, "cPickle", "Python 2 only: cPickle is pickle on Python 3")
                    found = True
    return found


RULE = Rule("py2_leftovers", "tree", "iteritems/xrange/cPickle -> their Python 3 names; has_key reported", apply, (
    Example("for k, v in d.iteritems():\n    pass\n", "for k, v in d.items():\n    pass\n"),
    Example("for i in xrange(3):\n    pass\n", "for i in range(3):\n    pass\n"),
    Example("import cPickle as pickle\nimport os, cPickle\n", "import pickle\nimport os\nimport pickle as cPickle\n"),
    Example("def xrange(n):\n    return [n]\nfor i in xrange(3):\n    pass\n", None),
    Example("if d.has_key('a'):\n    pass\n", None, ("dict.has_key()",)),
    Example("for k in d.iterkeys(1):\n    pass\n", None),  # not a dict's method: it takes no argument
))
