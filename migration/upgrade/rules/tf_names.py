"""Rule ``tf_names``: a name reached through the TensorFlow binding (``tf.placeholder``, ``tf.contrib.rnn.X``) goes
to its TF 2.21 home (:func:`migration.upgrade.homes.new_home`): ``tf.compat.v1.X`` (TensorFlow's own ``tf_upgrade_v2``
renames, the RNN table, a static method after a moved class), a home of the family rows (``legacy_rnn...``, with its
``import`` added before TensorFlow is imported), or, with no home, a manual check with a remedy."""
from __future__ import annotations

from migration.upgrade import homes
from migration.upgrade.context import PlanContext, rel_of
from migration.upgrade.resolve import Reference
from migration.upgrade.rules.base import Example, Rule


def apply(p: PlanContext, ref: Reference) -> bool:
    if ref.kind != "use" or ref.binding is None or ref.binding.via != "import" or ref.binding.target != "tensorflow":
        return False
    rel = rel_of(ref.path)
    if rel is None or p.span(ref) in p.handled:
        return True
    symbol = "tf." + rel
    home = homes.new_home(rel)
    if ref.store_target:  # ``tf.nn.rnn_cell.GRUCell = ...``: write into the module's TF 2.21 home if it moved
        if home is not None and not homes.is_absolute(home):
            p.edit(p.span(ref), p.root_text(ref, rel), symbol)
        return True
    if rel.startswith(("contrib", "examples", "python")):
        if home is None:
            p.flag(p.span(ref), symbol, homes.remedy(rel) or "no TF 2.21 home; rewrite it by hand")
        else:
            p.edit(p.span(ref), p.root_text(ref, rel), symbol)
        return True
    if rel == "nn.rnn_cell" and not ref.alias_assignment:
        p.flag(p.span(ref), symbol, "a TF1 module used as a value; point it at tf.compat.v1.nn.rnn_cell by hand once "
               "you have checked how it is used")
        return True
    if home is not None:
        p.edit(p.span(ref), p.root_text(ref, rel), symbol)
    return True


RULE = Rule("tf_names", "ref", "tf.X -> its TF 2.21 home (tf.compat.v1, legacy_rnn) or a manual check", apply, (
    Example("import tensorflow as tf\nx = tf.placeholder(tf.float32)\n",
            "import tensorflow as tf\ntf.compat.v1.disable_v2_behavior()  # rnn-migrate: the program uses TF1 graph "
            "mode\nx = tf.compat.v1.placeholder(tf.float32)\n"),
    Example("import tensorflow as tf\ncell = tf.contrib.rnn.LSTMBlockCell(8, forget_bias=0.0)\n",
            "import legacy_rnn.contrib_rnn\nimport tensorflow as tf\n"
            "cell = legacy_rnn.contrib_rnn.LSTMBlockCell(8, forget_bias=0.0)\n"),
    Example("import tensorflow as tf\nll, t = tf.contrib.crf.crf_log_likelihood(s, y, n)\n",
            "import legacy_rnn.crf\nimport tensorflow as tf\nll, t = legacy_rnn.crf.crf_log_likelihood(s, y, n)\n"),
    Example("import tensorflow as tf\nopts = tf.profiler.ProfileOptionBuilder.float_operation()\n",
            "import tensorflow as tf\nopts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()\n"),
    Example("import tensorflow as tf\nh = tf.contrib.training.HParams(lr=0.1)\n",
            "import legacy_rnn.contrib_training\nimport tensorflow as tf\n"
            "h = legacy_rnn.contrib_training.HParams(lr=0.1)\n"),
    Example("import tensorflow as tf\nb = tf.contrib.training.bucket_by_sequence_length(n, x, y, z)\n", None,
            ("tf.contrib.training.bucket_by_sequence_length",)),
    Example("import tensorflow as tf\nd = tf.contrib.seq2seq.BasicDecoderV2(a, b)\n", None,
            ("tf.contrib.seq2seq.BasicDecoderV2",)),  # not rebuilt: never rewritten silently
    Example("import tensorflow as tf\nout = tf.contrib.legacy_seq2seq.model_with_buckets(a, b, c, d, e, f)\n",
            "import legacy_rnn.seq2seq.buckets\nimport tensorflow as tf\n"
            "out = legacy_rnn.seq2seq.buckets.model_with_buckets(a, b, c, d, e, f)\n"),
    Example("import tensorflow as tf\ny = tf.concat([a, b], 1)\n", None),  # same name and meaning in TF2
))
