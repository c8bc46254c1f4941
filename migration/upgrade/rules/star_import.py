"""Rule ``star_import``: ``from tensorflow... import *`` is left as written (which names it binds is unknown)."""
from __future__ import annotations

from migration.upgrade.context import PlanContext
from migration.upgrade.resolve import Reference
from migration.upgrade.rules.base import Example, Rule


def apply(p: PlanContext, ref: Reference) -> bool:
    if ref.kind != "star":
        return False
    p.flag(p.span(ref), f"from {ref.path} import *", "star import: import the names explicitly")
    return True


RULE = Rule("star_import", "ref", "a star import of a TensorFlow module: a manual check", apply, (
    Example("from tensorflow.contrib.rnn import *\n", None, ("from tensorflow.contrib.rnn import *",)),
))
