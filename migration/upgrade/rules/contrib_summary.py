"""Rule ``contrib_summary``: ``tf.contrib.summary.scalar/histogram/image/audio(name, tensor, ...)`` -> the TF2 summary
op TensorFlow's ``tf_upgrade_v2`` writes, ``tf.compat.v2.summary.X(name, data, ..., step=...)``: ``tensor=`` ->
``data=``, ``max_images=`` -> ``max_outputs=``, and ``step=tf.compat.v1.train.get_or_create_global_step()`` when
the call gave none (contrib's default; the TF2 op needs one); ``generic(name, tensor, metadata)`` ->
``write(tag=name, data=tensor, metadata=..., step=...)``; ``always_record_summaries()`` /
``never_record_summaries()`` -> ``record_if(True)`` / ``record_if(False)`` (tf_upgrade_v2's transformers).
``family=`` (no TF2 equivalent) or arguments hidden by ``*args`` / ``**kwargs`` leave the call as written, a manual
check."""
from __future__ import annotations

import ast

from migration.upgrade.context import PlanContext, rel_of
from migration.upgrade.resolve import Reference
from migration.upgrade.rules.base import Example, Rule

#: op -> (positional parameters TF 1.x took before family/step, keyword renames)
OPS = {"scalar": (("name", "tensor"), {}), "histogram": (("name", "tensor"), {}),
       "image": (("name", "tensor"), {"max_images": "max_outputs"}),
       "audio": (("name", "tensor", "sample_rate", "max_outputs"), {})}
KEEP = {"name", "tensor", "step", "max_images", "max_outputs", "sample_rate"}
RECORD_IF = {"always_record_summaries": "True", "never_record_summaries": "False"}
GENERIC = ("name", "tensor", "metadata")  # generic(name, tensor, metadata=None, family=None, step=None)


def _other(p: PlanContext, call: ast.Call, op: str, base: str) -> str | None:
    """The TF2 call for ``generic`` / ``always_record_summaries`` / ``never_record_summaries``, or None."""
    if op in RECORD_IF:
        return None if call.args or call.keywords else f"{base}.compat.v2.summary.record_if({RECORD_IF[op]})"
    keywords = [k.arg for k in call.keywords]
    if len(call.args) > len(GENERIC) or None in keywords or not set(keywords) <= {*GENERIC, "step"} \
            or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    new = {"name": "tag", "tensor": "data"}
    args = [f"{new.get(GENERIC[i], GENERIC[i])}={p.text(p.node_span(a))}" for i, a in enumerate(call.args)]
    args += [f"{new.get(k.arg, k.arg)}={p.text(p.node_span(k.value))}" for k in call.keywords]  # type: ignore[arg-type]
    if "step" not in keywords:
        args.append(f"step={base}.compat.v1.train.get_or_create_global_step()")
    return f"{base}.compat.v2.summary.write({', '.join(args)})"


def apply(p: PlanContext, ref: Reference) -> bool:
    call = ref.node
    rel = rel_of(ref.path) or ""
    if not isinstance(call, ast.Call) or not rel.startswith("contrib.summary.") \
            or rel.split(".")[-1] not in (*OPS, *RECORD_IF, "generic"):
        return False
    op = rel.split(".")[-1]
    if op not in OPS:
        func = p.func_ref(call)
        code = None if func is None or func.binding is None or func.binding.target != "tensorflow" \
            else _other(p, call, op, func.base)
        if code is None:
            return False  # left to tf_names: a manual check with the remedy
        p.handled.add(p.span(func))  # type: ignore[arg-type]
        p.edit(p.node_span(call), code, f"tf.{rel}", "call", "TF2's summary API (tf_upgrade_v2's rewrite)")
        return True
    positional, renames = OPS[op]
    func = p.func_ref(call)
    keywords = {k.arg for k in call.keywords}
    if func is None or func.binding is None or func.binding.target != "tensorflow" or None in keywords \
            or any(isinstance(a, ast.Starred) for a in call.args) or len(call.args) > len(positional) \
            or not keywords <= KEEP:
        return False  # left to tf_names: a manual check with the remedy
    args = [p.text(p.node_span(a)) for a in call.args[:2]]
    args += [f"{positional[i]}={p.text(p.node_span(a))}" for i, a in enumerate(call.args) if i >= 2]
    for k in call.keywords:
        name = {"tensor": "data"}.get(k.arg, renames.get(k.arg, k.arg))  # type: ignore[arg-type]
        args.append(f"{name}={p.text(p.node_span(k.value))}")
    if "step" not in keywords:
        args.append(f"step={func.base}.compat.v1.train.get_or_create_global_step()")
    p.handled.add(p.span(func))
    p.edit(p.node_span(call), f"{func.base}.compat.v2.summary.{op}({', '.join(args)})", f"tf.{rel}", "call",
           "TF2's summary op (tf_upgrade_v2's rewrite): tensor -> data, the global step when none was given")
    return True


RULE = Rule("contrib_summary", "call_first", "tf.contrib.summary.X -> tf.compat.v2.summary.X with TF2's arguments",
            apply, (
                Example("import tensorflow as tf\ntf.contrib.summary.scalar('loss', l)\n",
                        "import tensorflow as tf\ntf.compat.v2.summary.scalar('loss', l, "
                        "step=tf.compat.v1.train.get_or_create_global_step())\n"),
                Example("import tensorflow as tf\ntf.contrib.summary.image('x', tensor=im, max_images=2, step=s)\n",
                        "import tensorflow as tf\ntf.compat.v2.summary.image('x', data=im, max_outputs=2, step=s)\n"),
                Example("import tensorflow as tf\ntf.contrib.summary.scalar('loss', l, family='train')\n", None,
                        ("tf.contrib.summary.scalar",)),
                Example("import tensorflow as tf\nwith tf.contrib.summary.always_record_summaries():\n    pass\n"
                        "r = tf.contrib.summary.never_record_summaries()\ng = tf.contrib.summary.generic('t', x, m)\n",
                        "import tensorflow as tf\nwith tf.compat.v2.summary.record_if(True):\n    pass\n"
                        "r = tf.compat.v2.summary.record_if(False)\ng = tf.compat.v2.summary.write(tag='t', data=x, "
                        "metadata=m, step=tf.compat.v1.train.get_or_create_global_step())\n"),
                Example("import tensorflow as tf\nw = tf.contrib.summary.create_file_writer(d)\n"
                        "f = tf.contrib.summary.flush(writer=w)\n",  # tf_upgrade_v2's renames (TF2 has both)
                        "import tensorflow as tf\nw = tf.compat.v2.summary.create_file_writer(d)\n"
                        "f = tf.compat.v2.summary.flush(writer=w)\n"),
                Example("import tensorflow as tf\ng = tf.contrib.summary.generic('t', x, family='f')\n", None,
                        ("tf.contrib.summary.generic",)),
            ))
