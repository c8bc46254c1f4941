"""One regression test per cause found on real TF1 programs (issue 11), in the ``tf_upgrade_v2_test.py`` style:
exact before/after pairs through one helper, explicit manual lists, and the matching ``scan`` findings.

Every pair is also checked for idempotence (upgrading the output again changes nothing) and for the inventory
property: ``scan`` reports a ``rewrite`` finding at each place ``upgrade`` changed and a ``manual`` finding at each
place it listed (``test_scan_is_the_inventory_of_upgrade``).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from migration.upgrade import upgrade_source
from migration.upgrade.plan import DROPOUT_NOTE
from migration.upgrade.rewrite_compat import BOOTSTRAP
from migration.upgrade.scan import scan_source

BOOT = BOOTSTRAP
GRAPH = "tf.compat.v1.disable_v2_behavior()  # rnn-migrate: the program uses TF1 graph mode\n"
FIXTURES = Path(__file__).parent / "fixtures"


def _upgrade(before: str) -> tuple[str, list[str]]:
    result = upgrade_source(before, "compat")
    return result.code, [f"{m.line}:{m.col}: {m.symbol}" for m in result.manual_checks]


def _scan(source: str, severity: str) -> list[tuple[int, str]]:
    return [(f.line, f.symbol) for f in scan_source(source) if f.severity == severity]


CASES = [
    # cause 1: an attribute store into tf unbound `tf` for the rest of the file
    ("monkeypatch keeps tf bound; uses through the patched name resolve",
     "import tensorflow as tf\ntf.nn.seq2seq = tf.contrib.legacy_seq2seq\nx = tf.placeholder(tf.float32)\n"
     "l = tf.nn.seq2seq.sequence_loss_by_example(a, b, c)\n",
     BOOT + "import legacy_rnn.seq2seq.legacy_seq2seq\nimport tensorflow as tf\n" + GRAPH
     + "tf.nn.seq2seq = legacy_rnn.seq2seq.legacy_seq2seq\nx = tf.compat.v1.placeholder(tf.float32)\n"
     "l = legacy_rnn.seq2seq.legacy_seq2seq.sequence_loss_by_example(a, b, c)\n"),
    ("monkeypatch into a moved module writes into its home",
     "import tensorflow as tf\ntf.nn.rnn_cell.GRUCell = tf.contrib.rnn.GRUCell\nc = tf.nn.rnn_cell.GRUCell(3)\n",
     BOOT + "import tensorflow as tf\ntf.compat.v1.nn.rnn_cell.GRUCell = tf.compat.v1.nn.rnn_cell.GRUCell\n"
     "c = tf.compat.v1.nn.rnn_cell.GRUCell(3)\n"),
    ("an alias of tf.contrib.rnn is rebound to tf.compat.v1.nn; its cells go under rnn_cell",
     "import tensorflow as tf\nrnn = tf.contrib.rnn\nc = rnn.GRUCell(3)\no, s = rnn.static_rnn(c, xs, dtype=tf.float32)\n",
     BOOT + "import tensorflow as tf\nrnn = tf.compat.v1.nn\nc = rnn.rnn_cell.GRUCell(3)\n"
     "o, s = rnn.static_rnn(c, xs, dtype=tf.float32)\n"),
    # cause 2: argument-level changes
    ("dropout positional keep_prob -> rate = 1 - keep_prob, with a comment",
     "import tensorflow as tf\nh = tf.nn.dropout(x, keep_prob)\n",
     BOOT + "import tensorflow as tf\n" + DROPOUT_NOTE + "\nh = tf.nn.dropout(x, 1 - keep_prob)\n"),
    ("dropout keep_prob= keyword and an expression",
     "import tensorflow as tf\nh = tf.nn.dropout(x, keep_prob=a * b, seed=1)\n",
     BOOT + "import tensorflow as tf\n" + DROPOUT_NOTE + "\nh = tf.nn.dropout(x, rate=1 - (a * b), seed=1)\n"),
    ("dropout constant keep probability is folded",
     "import tensorflow as tf\nh = tf.nn.dropout(x, 0.75)\n",
     BOOT + "import tensorflow as tf\n" + DROPOUT_NOTE + "\nh = tf.nn.dropout(x, 0.25)\n"),
    ("dropout already written with rate= is left alone",
     "import tensorflow as tf\nh = tf.nn.dropout(x, rate=0.1)\n",
     BOOT + "import tensorflow as tf\nh = tf.nn.dropout(x, rate=0.1)\n"),
    ("reduction_indices= / keep_dims= keyword renames",
     "import tensorflow as tf\ns = tf.reduce_sum(x, reduction_indices=[1], keep_dims=True)\n",
     BOOT + "import tensorflow as tf\ns = tf.reduce_sum(x, axis=[1], keepdims=True)\n"),
    ("a reordered positional argument becomes a keyword (argmax's 3rd is name in TF1, output_type in TF2)",
     "import tensorflow as tf\ni = tf.argmax(x, 1, 'best')\n",
     BOOT + "import tensorflow as tf\ni = tf.argmax(x, 1, name='best')\n"),
    ("a TF1 keyword with no TF2 spelling sends the call to tf.compat.v1 (exact TF1 meaning)",
     "import tensorflow as tf\ne = tf.nn.embedding_lookup(w, ids, partition_strategy='div')\n",
     BOOT + "import tensorflow as tf\ne = tf.compat.v1.nn.embedding_lookup(w, ids, partition_strategy='div')\n"),
    ("softmax_cross_entropy_with_logits (labels get gradients in TF2) -> tf.compat.v1",
     "import tensorflow as tf\nl = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=z)\n",
     BOOT + "import tensorflow as tf\nl = tf.compat.v1.nn.softmax_cross_entropy_with_logits(labels=y, logits=z)\n"),
    ("v1 summaries feeding merge_all / FileWriter",
     "import tensorflow as tf\ntf.summary.scalar('loss', l)\ntf.summary.histogram('w', w)\n"
     "m = tf.summary.merge_all()\nw = tf.summary.FileWriter(d, g)\n",
     BOOT + "import tensorflow as tf\ntf.compat.v1.summary.scalar('loss', l)\ntf.compat.v1.summary.histogram('w', w)\n"
     "m = tf.compat.v1.summary.merge_all()\nw = tf.compat.v1.summary.FileWriter(d, g)\n"),
    # cause 3: names neither rewritten nor reported
    ("tf.flags + the private FLAGS API + tf.app.run",
     "import tensorflow as tf\ntf.flags.DEFINE_integer('n', 1, 'n')\nFLAGS = tf.flags.FLAGS\nFLAGS._parse_flags()\n"
     "print(FLAGS.__flags)\ntf.app.run()\n",
     BOOT + "import sys\nimport tensorflow as tf\ntf.compat.v1.flags.DEFINE_integer('n', 1, 'n')\n"
     "FLAGS = tf.compat.v1.flags.FLAGS\nFLAGS(sys.argv, known_only=True)\nprint(FLAGS.flag_values_dict())\n"
     "tf.compat.v1.app.run()\n"),
    ("tf.app.flags alias; sys already imported is not imported twice",
     "import sys\nimport tensorflow as tf\nflags = tf.app.flags\nFLAGS = flags.FLAGS\nFLAGS._parse_flags()\n",
     BOOT + "import sys\nimport tensorflow as tf\nflags = tf.compat.v1.app.flags\nFLAGS = flags.FLAGS\n"
     "FLAGS(sys.argv, known_only=True)\n"),
    ("tf.ConfigProto and xavier_initializer()",
     "import tensorflow as tf\nc = tf.ConfigProto(allow_soft_placement=True)\ni = tf.contrib.layers.xavier_initializer()\n",
     BOOT + "import legacy_rnn.contrib_layers\nimport tensorflow as tf\n"
     "c = tf.compat.v1.ConfigProto(allow_soft_placement=True)\ni = legacy_rnn.contrib_layers.xavier_initializer()\n"),
    # cause 4: names from TensorFlow's rename list that upgrade changed and scan did not report
    ("rename-list names",
     "import tensorflow as tf\na = tf.global_variables()\nb = tf.trainable_variables()\nc = tf.assign(v, 1)\n"
     "d = tf.to_float(x)\ne = tf.nn.xw_plus_b(x, w, b)\nf = tf.train.global_step(s, g)\n",
     BOOT + "import tensorflow as tf\na = tf.compat.v1.global_variables()\nb = tf.compat.v1.trainable_variables()\n"
     "c = tf.compat.v1.assign(v, 1)\nd = tf.compat.v1.to_float(x)\ne = tf.compat.v1.nn.xw_plus_b(x, w, b)\n"
     "f = tf.compat.v1.train.global_step(s, g)\n"),
    # seq2seq homes (issue 12 item 3), every import form
    ("contrib seq2seq and legacy_seq2seq -> legacy_rnn.seq2seq homes",
     "import tensorflow as tf\nfrom tensorflow.contrib import seq2seq\nfrom tensorflow.contrib import legacy_seq2seq\n"
     "from tensorflow.contrib.seq2seq import AttentionWrapper as AW\n"
     "from tensorflow.contrib.legacy_seq2seq import rnn_decoder\nimport tensorflow.contrib.seq2seq as s2s\n"
     "m = tf.contrib.seq2seq.LuongAttention(4, mem)\no = tf.contrib.legacy_seq2seq.sequence_loss(l, t, w)\n",
     BOOT + "import legacy_rnn.seq2seq\nimport legacy_rnn.seq2seq.legacy_seq2seq\nimport tensorflow as tf\n"
     "from legacy_rnn import seq2seq\nfrom legacy_rnn.seq2seq import legacy_seq2seq\n"
     "from legacy_rnn.seq2seq import AttentionWrapper as AW\n"
     "from legacy_rnn.seq2seq.legacy_seq2seq import rnn_decoder\nimport legacy_rnn.seq2seq as s2s\n"
     "m = legacy_rnn.seq2seq.LuongAttention(4, mem)\no = legacy_rnn.seq2seq.legacy_seq2seq.sequence_loss(l, t, w)\n"),
    # scopes (item 4)
    ("a parameter named tf shadows the module inside its function only",
     "import tensorflow as tf\ndef f(tf):\n    return tf.placeholder\nx = tf.placeholder(tf.float32)\n",
     BOOT + "import tensorflow as tf\n" + GRAPH + "def f(tf):\n    return tf.placeholder\n"
     "x = tf.compat.v1.placeholder(tf.float32)\n"),
    ("an import inside a function does not leak out of it (the bootstrap still goes at the top)",
     "def build():\n    import tensorflow as tf\n    return tf.get_variable('w', [2])\ntf = object()\ny = tf.get_variable\n",
     BOOT + "def build():\n    import tensorflow as tf\n"
     "    return tf.compat.v1.get_variable('w', [2])\ntf = object()\ny = tf.get_variable\n"),
]


@pytest.mark.parametrize("rule, before, after", CASES, ids=[c[0] for c in CASES])
def test_cause(rule, before, after):
    code, manual = _upgrade(before)
    assert code == after
    assert manual == []
    assert _upgrade(code)[0] == code  # idempotent
    assert _scan(before, "manual") == []


MANUAL_CASES = [
    ("tutorial MNIST loader (gone from TF 2.x) with its remedy",
     "from tensorflow.examples.tutorials.mnist import input_data\nmnist = input_data.read_data_sets('d', one_hot=True)\n",
     ["1:1: tf.examples.tutorials.mnist.input_data",
      "2:9: tf.examples.tutorials.mnist.input_data.read_data_sets"], "tf_keras.datasets.mnist.load_data()"),
    ("contrib.learn VocabularyProcessor with its remedy",
     "import tensorflow as tf\nvp = tf.contrib.learn.preprocessing.VocabularyProcessor(20)\n",
     ["2:6: tf.contrib.learn.preprocessing.VocabularyProcessor"], "TextVectorization"),
    ("learn imported as a module",
     "from tensorflow.contrib import learn\nvp = learn.preprocessing.VocabularyProcessor(20)\n",
     ["1:1: tf.contrib.learn", "2:6: tf.contrib.learn.preprocessing.VocabularyProcessor"], "TextVectorization"),
    ("a tf.contrib.layers name its home does not provide: manual",
     "import tensorflow as tf\ni = tf.contrib.layers.embed_sequence(ids, 10, 4)\n",
     ["2:5: tf.contrib.layers.embed_sequence"], "tf_slim"),
    ("a cell with no TF 2.21 home reached through an alias of tf.contrib.rnn",
     "import tensorflow as tf\nrnn = tf.contrib.rnn\nc = rnn.NTMCell(3)\n",
     ["3:5: tf.contrib.rnn.NTMCell"], "rewrite it by hand"),
    ("*args hide which TF1 arguments are passed",
     "import tensorflow as tf\ns = tf.reduce_sum(*args)\n", ["2:5: tf.reduce_sum(*args/**kwargs)"], "by hand"),
]


@pytest.mark.parametrize("rule, before, manual, remedy", MANUAL_CASES, ids=[c[0] for c in MANUAL_CASES])
def test_manual_with_remedy(rule, before, manual, remedy):
    result = upgrade_source(before, "compat")
    assert [f"{m.line}:{m.col}: {m.symbol}" for m in result.manual_checks] == manual
    assert remedy in result.manual_checks[-1].reason
    assert [f"{line}:{col}: {sym}" for line, col, sym in
            [(f.line, f.col, f.symbol) for f in scan_source(before) if f.severity == "manual"]] == manual


def test_scan_reports_what_it_did_not_before():
    """The names, modules, keywords and argument meanings of the issue are all reported by scan now."""
    src = ("import tensorflow as tf\nfrom tensorflow.contrib import rnn\nv = tf.global_variables()\n"
           "h = tf.nn.dropout(x, kp)\ns = tf.reduce_mean(x, keep_dims=True)\ntf.summary.scalar('a', s)\n"
           "F = tf.flags.FLAGS\nc = tf.ConfigProto()\n")
    assert _scan(src, "rewrite") == [
        (2, "tf.contrib.rnn"), (3, "tf.global_variables"), (4, "tf.nn.dropout(keep_prob)"),
        (5, "tf.reduce_mean(keep_dims=)"), (6, "tf.summary.scalar"), (7, "tf.flags.FLAGS"), (8, "tf.ConfigProto")]


def _inventory(source: str) -> tuple[set, set]:
    result = upgrade_source(source, "compat")
    changed = {tuple(int(v) for v in c.split(":")[:2]) for c in result.changes if c.split(":")[1].strip().isdigit()}
    manual = {(m.line, m.col) for m in result.manual_checks}
    setup: list = []  # the lines upgrade adds before TensorFlow is imported (bootstrap, graph mode, header)
    findings = scan_source(source, setup=setup)
    return (changed, manual), ({(f.line, f.col) for f in findings + setup if f.severity == "rewrite"},
                               {(f.line, f.col) for f in findings if f.severity == "manual"})


@pytest.mark.parametrize("name", sorted(p.name for p in (FIXTURES / "programs").glob("*.py"))
                         + ["aliases.py", "seed002_static_rnn.py", "seed004_sentiment.py"])
def test_scan_is_the_inventory_of_upgrade(name):
    path = FIXTURES / "programs" / name if (FIXTURES / "programs" / name).exists() else FIXTURES / name
    source = path.read_text(encoding="utf-8")
    upgrade, scan = _inventory(source)
    assert upgrade[0] and scan == upgrade


def test_inventory_negative_control():
    """The inventory comparison can fail: a scan that missed one site would differ."""
    source = (FIXTURES / "programs" / "text_rnn_flags.py").read_text(encoding="utf-8")
    upgrade, scan = _inventory(source)
    assert (scan[0] - {min(scan[0])}, scan[1]) != upgrade
