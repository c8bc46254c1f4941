"""Rules ``legacy_keras`` and ``header_imports``: lines added before TensorFlow is imported.

``legacy_keras``: ``os.environ["TF_USE_LEGACY_KERAS"] = "1"`` (``tf.compat.v1.nn.rnn_cell`` needs tf_keras; only
``1``/``true``/``True`` work, and only before TensorFlow is imported). ``header_imports``: the imports the other
rules asked for (``import sys``, the ``legacy_rnn`` homes), once each, ``import sys`` first.
"""
from __future__ import annotations

import ast

from migration.upgrade.context import PlanContext, Site
from migration.upgrade.rules.base import Example, Rule

BOOTSTRAP = (
    'import os\n'
    'os.environ["TF_USE_LEGACY_KERAS"] = "1"  # rnn-migrate: tf.compat.v1.nn.rnn_cell needs tf_keras; set before TF\n'
)


def has_bootstrap(tree: ast.Module) -> bool:
    """True if the module sets ``os.environ["TF_USE_LEGACY_KERAS"]`` to an accepted value with an assignment."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript):
            sub = node.targets[0]
            key = sub.slice
            if (isinstance(key, ast.Constant) and key.value == "TF_USE_LEGACY_KERAS"
                    and isinstance(node.value, ast.Constant) and node.value.value in ("1", "true", "True")
                    and ast.unparse(sub.value).endswith("environ")):
                return True
    return False


def imported_modules(tree: ast.Module) -> set[str]:
    """Top-level ``import X`` module names bound at module level (to avoid adding ``import sys`` twice)."""
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.asname is None}
    return out


def bootstrap(p: PlanContext, _: object = None) -> bool:
    if not any(r.kind == "import" for r in p.refs) or p.tree is None or (
            "TF_USE_LEGACY_KERAS" in p.source and has_bootstrap(p.tree)):
        return False
    p.bootstrap = True
    p.sites.append(Site((1, 0, 1, 0), "os.environ['TF_USE_LEGACY_KERAS']", "rewrite", "",
                        "os.environ['TF_USE_LEGACY_KERAS'] = '1'", "before TensorFlow is imported", "insert", p.rule))
    return True


def header_imports(p: PlanContext, _: object = None) -> bool:
    have = imported_modules(p.tree) if p.tree is not None else set()
    lines = sorted((line for line in p.header if line.split()[1] not in have), key=lambda s: (s != "import sys", s))
    p.header_lines = lines
    for line in lines:
        p.sites.append(Site((1, 0, 1, 0), line, "rewrite", "", line, "before TensorFlow is imported", "insert",
                            p.rule))
    return bool(lines)


BOOTSTRAP_RULE = Rule("legacy_keras", "module", "TF_USE_LEGACY_KERAS=1 before TensorFlow is imported", bootstrap, (
    Example("import os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\nimport tensorflow as tf\n", None),
))
HEADER = Rule("header_imports", "module", "import sys / the legacy_rnn homes, before TensorFlow", header_imports, (
    Example("import sys\nimport tensorflow as tf\ntf.app.flags.FLAGS._parse_flags()\n",
            "import sys\nimport tensorflow as tf\ntf.compat.v1.app.flags.FLAGS(sys.argv, known_only=True)\n"),
))
