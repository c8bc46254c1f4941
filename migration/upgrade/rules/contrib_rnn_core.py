"""Rule ``contrib_rnn_core``: ``tf.contrib.rnn`` used as a module (``from tensorflow.contrib import rnn``,
``rnn = tf.contrib.rnn``) only for the cells and functions TensorFlow 2.21 still ships is rebound to
``tf.compat.v1.nn`` (``rnn.GRUCell`` -> ``rnn.rnn_cell.GRUCell``): the program stays on TensorFlow alone and
``--to keras`` sees the cells. With any other name (``LSTMBlockCell``, ``stack_bidirectional_dynamic_rnn``), the
``imports`` / ``tf_names`` rules rebind the module to its home in this project, ``legacy_rnn.contrib_rnn``."""
from __future__ import annotations

import ast

from migration.upgrade import homes
from migration.upgrade.context import PlanContext, rel_of
from migration.upgrade.resolve import Reference
from migration.upgrade.rules.base import Example, Rule

PREFIX = "tensorflow.contrib.rnn."


def _core_names(uses: list[Reference], module: str) -> list[tuple[Reference, str]] | None:
    """(use, its home) for every use through the module, or None if one has no TensorFlow home."""
    out = []
    for use in uses:
        if use.path == module:
            return None  # the module itself used as a value
        home = homes.new_home(rel_of(use.path) or "")
        if home is None or not home.startswith("compat.v1.nn."):
            return None
        out.append((use, home))
    return out


def _rewrite_uses(p: PlanContext, pairs: list[tuple[Reference, str]]) -> None:
    for use, home in pairs:
        if home.startswith("compat.v1.nn.rnn_cell."):
            name = use.path[len(PREFIX):].split(".")[0]
            p.edit(p.span(use), f"{use.base}.rnn_cell.{name}" + use.path[len(PREFIX + name):], "tf.contrib.rnn." + name)
        p.handled.add(p.span(use))


def on_import(p: PlanContext, ref: Reference) -> bool:
    if ref.kind != "import" or ref.path != "tensorflow.contrib.rnn" or not isinstance(ref.node, ast.ImportFrom) \
            and (ref.binding is None or ref.binding.target == "tensorflow"):
        return False
    pairs = _core_names(p.module_aliases.get(id(ref.binding), []), ref.path)
    if pairs is None:
        return False
    _rewrite_uses(p, pairs)
    p.compat_bindings.add(id(ref.binding))
    p.rebind(ref, ref.node, "tensorflow.compat.v1.nn")  # type: ignore[arg-type]
    return True


def on_alias(p: PlanContext, ref: Reference) -> bool:
    if ref.kind != "use" or not ref.alias_assignment or ref.path != "tensorflow.contrib.rnn" or ref.binding is None \
            or ref.binding.via != "import" or ref.binding.target != "tensorflow":
        return False
    uses = [r for r in p.refs if r.kind == "use" and r.binding is not None and r.binding.source is ref]
    pairs = _core_names(uses, ref.path)
    if pairs is None:
        return False
    _rewrite_uses(p, pairs)
    p.edit(p.span(ref), f"{ref.base}.compat.v1.nn", "tf.contrib.rnn",
           reason="tf.contrib.rnn's core cells live in tf.compat.v1.nn.rnn_cell, its functions in tf.compat.v1.nn")
    return True


IMPORT = Rule("contrib_rnn_core", "import", "tf.contrib.rnn used only for TF's own cells -> tf.compat.v1.nn", on_import, (
    Example("from tensorflow.contrib import rnn\ncell = rnn.GRUCell(8)\nys = rnn.static_rnn(cell, xs)\n",
            "from tensorflow.compat.v1 import nn as rnn\ncell = rnn.rnn_cell.GRUCell(8)\nys = rnn.static_rnn(cell, xs)\n"),
))
ALIAS = Rule("contrib_rnn_core_alias", "ref", "rnn = tf.contrib.rnn (TF's own cells only) -> tf.compat.v1.nn", on_alias, (
    Example("import tensorflow as tf\nrnn = tf.contrib.rnn\ncell = rnn.LSTMCell(8)\n",
            "import tensorflow as tf\nrnn = tf.compat.v1.nn\ncell = rnn.rnn_cell.LSTMCell(8)\n"),
))
