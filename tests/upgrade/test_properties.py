"""Property-based tests (hypothesis): the notebook reader and the scanner never give a traceback on random bytes or
structured junk, and on random TF1-like programs scan and upgrade agree (issue 9 and issue 11).

About 2,200 examples in total (800 + 500 + 600 + 300), a few seconds on a quiet core; derandomized so that CI runs
are reproducible.
"""
from __future__ import annotations

import ast
import json
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migration.upgrade import upgrade_source
from migration.upgrade.notebook_rewrite import upgrade_notebook
from migration.upgrade.notebooks import NotebookError, read_cells
from migration.upgrade.scan import ScanReport, scan_file, scan_source

FAST = settings(max_examples=800, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["cells", "source", "cell_type", "nbformat", "worksheets",
                                                       "input", "metadata", "outputs", "x"]), inner, max_size=5),
                    max_leaves=25)
CELL = st.fixed_dictionaries({"cell_type": st.sampled_from(["code", "markdown", "raw", 3, None]),
                              "source": st.one_of(st.text(max_size=60), st.lists(st.text(max_size=20), max_size=4),
                                                  JSON_LEAF)})
NOTEBOOK = st.fixed_dictionaries({"cells": st.one_of(st.lists(CELL, max_size=5), JSON_LEAF),
                                  "nbformat": st.sampled_from([4, 3, "4", None]),
                                  "metadata": st.just({})})


@FAST
@given(st.binary(max_size=300))
def test_notebook_reader_on_random_bytes(data):
    text = data.decode("utf-8", errors="replace")
    for fn in (read_cells, lambda t: upgrade_notebook(t, "compat")):
        try:
            fn(text)
        except NotebookError as exc:
            assert str(exc)
        except SyntaxError:  # a valid notebook whose code does not parse is reported as such
            pass


@settings(FAST, max_examples=500)
@given(st.one_of(JSON, NOTEBOOK))
def test_notebook_reader_on_structured_junk(data):
    text = json.dumps(data)
    try:
        cells = read_cells(text)
        assert all(isinstance(c.source, str) for c in cells)
    except NotebookError as exc:
        assert str(exc)
    try:
        out = upgrade_notebook(text, "compat")
        json.loads(out.text)
    except NotebookError as exc:
        assert str(exc)


_DIR = tempfile.mkdtemp(prefix="rnn-migrate-prop-")


@settings(FAST, max_examples=600)
@given(st.binary(max_size=400), st.sampled_from([".py", ".ipynb"]))
def test_scanner_on_random_bytes_never_raises(data, suffix):
    path = os.path.join(_DIR, "f" + suffix)
    with open(path, "wb") as fh:
        fh.write(data)
    report = ScanReport()
    scan_file(path, report)
    assert len(report.errors) <= 1 or suffix == ".ipynb"
    for e in report.errors:
        assert e.message and e.path == path


SNIPPETS = [
    "import tensorflow as tf", "import tensorflow.compat.v1 as tf", "from tensorflow.contrib import rnn",
    "from tensorflow.contrib import seq2seq", "from tensorflow.contrib.rnn import GRUCell as G", "rnn = tf.contrib.rnn",
    "from tensorflow.examples.tutorials.mnist import input_data", "tf.nn.seq2seq = tf.contrib.legacy_seq2seq",
    "tf.nn.rnn = tf.contrib.rnn.static_rnn", "x = tf.placeholder(tf.float32)", "h = tf.nn.dropout(x, kp)",
    "h = tf.nn.dropout(x, keep_prob=0.5)", "s = tf.reduce_sum(x, reduction_indices=1, keep_dims=True)",
    "c = rnn.BasicLSTMCell(3)", "c = G(4)", "o = tf.nn.seq2seq.rnn_decoder(i, s, c)", "FLAGS = tf.flags.FLAGS",
    "FLAGS._parse_flags()", "print(FLAGS.__flags)", "tf.summary.scalar('a', x)", "m = tf.summary.merge_all()",
    "i = tf.argmax(x, 1, 'n')", "e = tf.nn.embedding_lookup(w, i, 'div')", "d = seq2seq.BasicDecoder(a, b, c)",
    "def f(tf):", "def g():", "class K:", "    return tf.placeholder", "    import tensorflow as tf",
    "    x = tf.get_variable('w', [1])", "tf = None", "rnn = 3", "k = getattr(tf.nn.rnn_cell, name)",
    "from tensorflow.contrib.rnn import *", "v = tf.global_variables()", "t = tf.to_float(x)", "pass",
    "l = tf.nn.softmax_cross_entropy_with_logits(labels=a, logits=b)", "r = tf.reduce_max(*a)", "x = (",
    "i = tf.contrib.layers.xavier_initializer()", "w = tf.contrib.learn.preprocessing.VocabularyProcessor(3)",
]


def _inventory(source: str, code_changes: list[str], manual: list) -> None:
    setup: list = []  # the lines upgrade adds before/after the TensorFlow import (bootstrap, graph mode, header)
    findings = scan_source(source, setup=setup)
    changed = {tuple(int(v) for v in c.split(":")[:2]) for c in code_changes if c.split(":")[1].strip().isdigit()}
    assert {(f.line, f.col) for f in findings + setup if f.severity == "rewrite"} == changed
    assert {(f.line, f.col) for f in findings if f.severity == "manual"} == {(m.line, m.col) for m in manual}


@settings(FAST, max_examples=300)
@given(st.lists(st.sampled_from(SNIPPETS), min_size=1, max_size=10))
def test_random_tf1_programs_scan_and_upgrade_agree(lines):
    source = "\n".join(lines) + "\n"
    try:
        ast.parse(source)
    except SyntaxError:
        try:
            scan_source(source)
        except SyntaxError as exc:
            assert "Fix the syntax" in str(exc)
        return
    result = upgrade_source(source, "compat")
    ast.parse(result.code)
    assert upgrade_source(result.code, "compat").code == result.code  # idempotent
    _inventory(source, result.changes, result.manual_checks)
