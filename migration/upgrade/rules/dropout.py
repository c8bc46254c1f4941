"""Rule ``dropout_keep_prob``: ``tf.nn.dropout(x, keep_prob)`` -> ``tf.nn.dropout(x, 1 - keep_prob)`` (TF2 reads the
second argument as a rate: fed 1.0 at evaluation it would zero every feature); ``keep_prob=`` -> ``rate=``; a comment
above the statement says so (and keeps the rewrite idempotent)."""
from __future__ import annotations

import ast

from migration.upgrade.context import PlanContext, Site
from migration.upgrade.resolve import Reference
from migration.upgrade.rules.call_arguments import stays_tf2
from migration.upgrade.rules.base import Example, Rule

DROPOUT_NOTE = "# rnn-migrate: tf.nn.dropout takes rate = 1 - keep_prob in TF2 (it took keep_prob in TF1)"


def apply(p: PlanContext, ref: Reference) -> bool:
    call = ref.node
    if not isinstance(call, ast.Call) or stays_tf2(p, ref, call) != "nn.dropout" \
            or any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return False
    kw = {k.arg: k for k in call.keywords}
    if "rate" in kw:
        return True
    value: ast.expr | None = None
    if len(call.args) >= 2:
        value = call.args[1]
    elif "keep_prob" in kw:
        value = kw["keep_prob"].value
        p.arg_keywords[p.node_span(value)] = "rate"
    if value is None:
        return True
    stmt = p.stmt_lines.get(call.lineno, call.lineno)
    if stmt >= 2 and p.lines[stmt - 2].strip() == DROPOUT_NOTE:
        return True  # upgraded already: the argument is a rate now (keeps the upgrade idempotent)
    span = p.node_span(value)
    text = p.text(span)
    if isinstance(value, ast.Constant) and isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
        new = repr(round(1 - value.value, 12))
    elif isinstance(value, (ast.Name, ast.Attribute, ast.Constant, ast.Call, ast.Subscript)) and "\n" not in text:
        new = f"1 - {text}"
    else:
        new = f"1 - ({text})"
    p.edits[span] = new
    p.sites.append(Site(span, "tf.nn.dropout(keep_prob)", "rewrite", text, new,
                           "TF2's second argument is rate = 1 - keep_prob", "argument", p.rule))
    p.comments.setdefault(stmt, [])
    if DROPOUT_NOTE not in p.comments[stmt]:
        p.comments[stmt].append(DROPOUT_NOTE)
    return True


RULE = Rule("dropout_keep_prob", "call", "tf.nn.dropout's keep_prob -> rate = 1 - keep_prob", apply, (
    Example("import tensorflow as tf\ny = tf.nn.dropout(x, 0.8)\n",
            f"import tensorflow as tf\n{DROPOUT_NOTE}\ny = tf.nn.dropout(x, 0.2)\n"),
    Example("import tensorflow as tf\ny = tf.nn.dropout(x, keep_prob=kp)\n",
            f"import tensorflow as tf\n{DROPOUT_NOTE}\ny = tf.nn.dropout(x, rate=1 - kp)\n"),
    Example("import tensorflow as tf\ny = tf.nn.dropout(x, rate=0.1)\n", None),
))
