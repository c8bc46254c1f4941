"""Rule ``imports``: an import of a TensorFlow submodule or name is rebound to its TF 2.21 home.

``from tensorflow.contrib import rnn`` -> ``from legacy_rnn import contrib_rnn as rnn``; deep imports of TF 1.x's
private paths go to the public module that re-exported them (``from tensorflow.contrib.seq2seq.python.ops import
attention_wrapper`` -> ``from legacy_rnn import seq2seq as attention_wrapper``; ``from tensorflow.python.ops.rnn
import dynamic_rnn`` -> ``from tensorflow.compat.v1.nn import dynamic_rnn``), never to a module that does not exist.
Each use made through a rebound module is checked: a name its home does not provide is a manual check, as is an
import with no home at all (and every use through it). Private modules TensorFlow 2.21 still ships
(:data:`migration.upgrade.homes.KEPT_PRIVATE`) run as written (information).
"""
from __future__ import annotations

import ast

from migration.upgrade import homes
from migration.upgrade.context import PlanContext, Site, rel_of
from migration.upgrade.resolve import Reference
from migration.upgrade.rules.base import Example, Rule


def apply(p: PlanContext, ref: Reference) -> bool:
    if ref.kind != "import":
        return False
    node = ref.node
    assert isinstance(node, (ast.Import, ast.ImportFrom))
    rel = rel_of(ref.path)
    if rel is None:
        return True  # tensorflow itself, or tensorflow.compat.*
    uses = p.module_aliases.get(id(ref.binding), [])
    span = p.span(ref)
    if isinstance(node, ast.Import) and ref.binding is not None and ref.binding.target == "tensorflow":
        # ``import tensorflow.contrib.rnn`` binds ``tensorflow``; its uses are rewritten like ``tf.x`` uses.
        if rel.startswith(("contrib", "examples", "python")) or homes.new_home(rel) is not None:
            key = (node.lineno, ref.col)
            p.imports.setdefault(key, []).append(("tensorflow", "import tensorflow"))
            p.pending_originals.setdefault(key, node)
            p.sites.append(Site(span, "tf." + rel, "rewrite", f"import {ref.path}", "import tensorflow",
                                f"import {ref.path} -> import tensorflow", "import", p.rule))
        return True
    if rel.startswith("python") and homes.is_kept_private(rel):
        return True  # a private module TensorFlow 2.21 still ships: runs as written
    home = homes.new_home(rel)
    if rel.startswith(("contrib", "examples", "python")):
        if home is None:
            _no_home(p, ref, rel, uses)
            return True
        _check_uses(p, ref, uses)
        new_module = home if homes.is_absolute(home) else "tensorflow." + home
    elif home is not None or any(homes.new_home(rel_of(u.path) or "") is not None for u in uses):
        new_module = "tensorflow.compat.v1." + rel
    else:
        return True
    if new_module.startswith("tensorflow.compat.v1"):
        p.compat_bindings.add(id(ref.binding))
    p.rebind(ref, node, new_module)
    return True


def _no_home(p: PlanContext, ref: Reference, rel: str, uses: list[Reference]) -> None:
    p.flag(p.span(ref), "tf." + rel, homes.remedy(rel) or "no TF 2.21 home; rewrite it by hand", "import")
    for use in uses:
        if use.path != ref.path:
            use_rel = rel_of(use.path) or use.path
            p.flag(p.span(use), "tf." + use_rel, f"reached through `{use.base}`, imported from a module with no "
                   "TF 2.21 home; " + (homes.remedy(use_rel) or "rewrite it by hand"))


def _check_uses(p: PlanContext, ref: Reference, uses: list[Reference]) -> None:
    for use in uses:
        use_rel = rel_of(use.path) or use.path
        if use.path != ref.path and not homes.provides(rel_of(ref.path) or "", use_rel):
            p.flag(p.span(use), "tf." + use_rel, f"reached through `{use.base}`: not provided by "
                   f"its new home; " + (homes.remedy(use_rel) or "rewrite it by hand"))


RULE = Rule("imports", "import", "TensorFlow imports rebound to their TF 2.21 homes (deep paths included)", apply, (
    Example("from tensorflow.contrib import rnn\ncell = rnn.LSTMBlockCell(8)\n",
            "from legacy_rnn import contrib_rnn as rnn\ncell = rnn.LSTMBlockCell(8)\n"),
    Example("from tensorflow.contrib.seq2seq.python.ops import attention_wrapper as aw\nm = aw.LuongAttention(8, x)\n",
            "from legacy_rnn import seq2seq as aw\nm = aw.LuongAttention(8, x)\n"),
    Example("from tensorflow.python.ops.rnn import bidirectional_dynamic_rnn as bi\n",
            "from tensorflow.compat.v1.nn import bidirectional_dynamic_rnn as bi\n"),
    Example("import tensorflow.contrib.layers as layers\nw = layers.xavier_initializer()\n",
            "import legacy_rnn.contrib_layers as layers\nw = layers.xavier_initializer()\n"),
    Example("from tensorflow.contrib.crf import viterbi_decode\n", "from legacy_rnn.crf import viterbi_decode\n"),
    Example("from tensorflow.python.ops import array_ops\n", None),
    Example("from tensorflow.python.ops import rnn\no, s = rnn.bidirectional_dynamic_rnn(f, b, x, dtype=d)\n",
            "from tensorflow.compat.v1 import nn as rnn\no, s = rnn.bidirectional_dynamic_rnn(f, b, x, dtype=d)\n"),
    Example("from tensorflow.python.ops import rnn_cell_impl\nc = rnn_cell_impl.LSTMCell(4)\n"
            "y = rnn_cell_impl._linear(x, 4, True)\n",
            "from tensorflow.compat.v1.nn import rnn_cell as rnn_cell_impl\nc = rnn_cell_impl.LSTMCell(4)\n"
            "y = rnn_cell_impl._linear(x, 4, True)\n", ("tf.python.ops.rnn_cell_impl._linear",)),
    Example("from tensorflow.contrib.seq2seq.python.ops import beam_search_ops\n", None,
            ("tf.contrib.seq2seq.python.ops.beam_search_ops",)),
    Example("from tensorflow.python.ops.rnn_cell_impl import _linear\n", None,
            ("tf.python.ops.rnn_cell_impl._linear",)),
    Example("from tensorflow.contrib.seq2seq import BasicDecoderV2\n", None,
            ("tf.contrib.seq2seq.BasicDecoderV2",)),
    Example("from tensorflow.contrib import legacy_seq2seq as s2s\no, l = s2s.model_with_buckets(a, b, c, d, e, f)\n",
            "from legacy_rnn.seq2seq import legacy_seq2seq as s2s\no, l = s2s.model_with_buckets(a, b, c, d, e, f)\n",
            ("tf.contrib.legacy_seq2seq.model_with_buckets",)),  # its home is elsewhere: not reachable through s2s
    Example("from tensorflow.contrib import seq2seq\nd = seq2seq.BeamSearchDecoderV2(a, b)\n",
            "from legacy_rnn import seq2seq\nd = seq2seq.BeamSearchDecoderV2(a, b)\n",
            ("tf.contrib.seq2seq.BeamSearchDecoderV2",)),
))
