"""Rule ``call_arguments``: a call to a name that stayed in TF2 with changed arguments (TensorFlow's own
``tf_upgrade_v2`` tables): keyword renames (``keep_dims=`` -> ``keepdims=``, ``reduction_indices=`` -> ``axis=``) and
positional-to-keyword reorders, when every resulting keyword is a TF2 parameter; otherwise the call goes to
``tf.compat.v1.X`` (the exact TF1 meaning). Arguments hidden by ``*args``/``**kwargs`` are a manual check.
"""
from __future__ import annotations

import ast

from migration.upgrade import homes
from migration.upgrade.context import PlanContext, Site, rel_of
from migration.upgrade.resolve import Binding, Reference
from migration.upgrade.rules.base import Example, Rule
from migration.upgrade.tfspec import spec

#: Transformer names that stay in TF2 and mean the same for simple calls: (max positional args, TF2-safe keywords).
SAFE_TRANSFORMER_CALLS: dict[str, tuple[int, frozenset[str]]] = {
    "name_scope": (1, frozenset({"name"})),
    "zeros_like": (3, frozenset({"dtype", "name"})),
    "ones_like": (3, frozenset({"dtype", "name"})),
    "while_loop": (7, frozenset({"cond", "body", "loop_vars", "shape_invariants", "parallel_iterations",
                                 "back_prop", "swap_memory", "maximum_iterations", "name"})),
    "device": (1, frozenset()),
}


def apply(p: PlanContext, ref: Reference) -> bool:
    call = ref.node
    assert isinstance(call, ast.Call)
    rel = stays_tf2(p, ref, call)
    if rel is None:
        return True
    s = spec()
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        if rel in s.keyword_renames or rel in s.reorders or rel in s.transformers:
            p.flag(p.node_span(call), f"tf.{rel}(*args/**kwargs)", "its TF1 arguments changed names or "
                         "meaning in TF2 and *args/**kwargs hide which ones are passed; check them by hand",
                         "argument")
        return True
    if rel == "nn.dropout":
        return True  # the `dropout_keep_prob` rule
    if rel in s.transformers:
        limit = SAFE_TRANSFORMER_CALLS.get(rel)
        if limit is not None and len(call.args) <= limit[0] and {k.arg for k in call.keywords} <= limit[1]:
            return True
        to_v1(p, ref, call, rel, "its arguments changed meaning in TF2")
        return True
    if rel not in s.keyword_renames and rel not in s.reorders:
        return True
    renames = s.keyword_renames.get(rel, {})
    order = s.reorders.get(rel, [])
    to_keyword: list[tuple[ast.expr, str]] = []
    for i, arg in enumerate(call.args):
        if i < len(order) and order[i] is not None:
            to_keyword.append((arg, order[i]))  # type: ignore[arg-type]
        elif i >= len(order) and order:
            p.flag(p.node_span(call), f"tf.{rel}(...)", "more positional arguments than TF1 took")
            return True
    final = {renames.get(k.arg, k.arg) for k in call.keywords} | {renames.get(n, n) for _, n in to_keyword}
    renamed = [k for k in call.keywords if k.arg in renames]
    params = s.tf2_params.get(rel, [])
    n_kw = len(call.keywords) + len(to_keyword)
    if (params is not None and not final <= set(params)) or len(final) != n_kw:
        to_v1(p, ref, call, rel, "its TF1 arguments have no exact TF2 spelling")
        return True
    if not to_keyword and not renamed:
        return True
    for arg, name in to_keyword:
        span = p.node_span(arg)
        new = renames.get(name, name)
        p.arg_keywords[span] = new
        p.sites.append(Site(span, f"tf.{rel}({name}=)", "rewrite", p.text(span),
                               f"{new}={p.text(span)}", "positional argument -> keyword (TF2 reordered it)",
                               "argument", p.rule))
    for k in renamed:
        span = p.node_span(k.value)
        p.arg_keywords[span] = renames[k.arg]  # type: ignore[index]
        p.sites.append(Site(span, f"tf.{rel}({k.arg}=)", "rewrite", f"{k.arg}=", f"{renames[k.arg]}=",
                               "keyword renamed in TF2", "argument", p.rule))
    return True


def stays_tf2(p: PlanContext, ref: Reference, call: ast.Call) -> str | None:
    """The relative name of a call's function if the call still goes to the TF2 version of it."""
    rel = rel_of(ref.path)
    if rel is None or rel.startswith(("contrib", "examples", "python")):
        return None  # no TF 2.21 home: the name itself is a manual check already
    func = p.func_ref(call)
    if func is None or func.binding is None or p.span(func) in p.edits or p.span(func) in p.handled:
        return None
    binding: Binding = func.binding
    if id(binding) in p.compat_bindings:
        return None
    if binding.via == "assign" and binding.source is not None and p.span(binding.source) in p.edits:
        return None
    if homes.new_home(rel) is not None:
        return None
    return rel


def to_v1(p: PlanContext, ref: Reference, call: ast.Call, rel: str, why: str) -> None:
    func = p.func_ref(call)
    if rel not in spec().in_v1 or func is None or func.binding is None:
        p.flag(p.node_span(call), f"tf.{rel}(...)", why + "; no tf.compat.v1 twin: check it by hand",
                     "argument")
        return
    if func.binding.via == "import" and func.binding.target == "tensorflow":
        p.edit(p.span(func), f"{func.base}.compat.v1.{rel}", f"tf.{rel}", "name",
                   why + ": tf.compat.v1 keeps the TF1 meaning")
    else:
        p.flag(p.node_span(call), f"tf.{rel}(...)", why + f"; call tf.compat.v1.{rel} instead",
                     "argument")

RULE = Rule("call_arguments", "call", "TF2's renamed/reordered arguments, or tf.compat.v1 for the TF1 meaning", apply, (
    Example("import tensorflow as tf\ns = tf.reduce_sum(x, reduction_indices=1, keep_dims=True)\n",
            "import tensorflow as tf\ns = tf.reduce_sum(x, axis=1, keepdims=True)\n"),
    Example("import tensorflow as tf\ni = tf.argmax(x, 1, 'best')\n",
            "import tensorflow as tf\ni = tf.argmax(x, 1, name='best')\n"),  # TF2 reordered `name`
    Example("import tensorflow as tf\ns = tf.reduce_sum(*args)\n", None, ("tf.reduce_sum(*args/**kwargs)",)),
))
