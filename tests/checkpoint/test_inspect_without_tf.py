"""`rnn-migrate inspect` reads the index and the .meta without importing TensorFlow, and reads them as TensorFlow does.

* a fresh process runs `inspect` and `inspect --json` on real Saver checkpoints (a GloVe-constant graph, partitioned
  'mod' embeddings, a bidirectional projection LSTM with clips, a directory with a state file) and reports which of
  TensorFlow, tf_keras, legacy_rnn, modern_rnn it imported: none; then the same process reads one tensor, which
  must import TensorFlow (the control: the check sees an import when there is one);
* the same recognition run on TensorFlow's own readings (``tf.train.load_checkpoint``'s shape and dtype maps,
  TensorFlow's ``MetaGraphDef`` and ``tf.make_ndarray`` swapped into :mod:`migration.checkpoint.meta`) gives the
  same report, field for field, and the CLI's text output in the TF-free process is that report's text;
* the variables' sizes (``nbytes``, which no longer ask NumPy for TF's dtypes) equal the bytes TensorFlow reads.
Fails on the main branch before this change: `inspect` imported TensorFlow in ``CheckpointReader.__init__``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import node_def_pb2
from tensorflow.core.protobuf import meta_graph_pb2

import migration.checkpoint.meta as meta_module
from migration.checkpoint.reader import CheckpointReader, VariableInfo
from migration.checkpoint.recognize import inspect_checkpoint, recognize
from migration.commands.inspect import format_report
from tests.ux import ROOT

FIXTURES = ["seed004_glove", "partitioned_mod", "bidi_projection"]

CHILD = r"""
import contextlib, io, json, sys
from migration.cli import main
HEAVY = ("tensorflow", "tf_keras", "legacy_rnn", "modern_rnn", "keras")
out = {}
for path in json.loads(sys.argv[1]):
    for extra in ([], ["--json"]):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main(["inspect", path] + extra)
        out[path + " ".join([""] + extra)] = [code, buf.getvalue()]
loaded = sorted(m for m in HEAVY if m in sys.modules)
from migration.checkpoint.reader import CheckpointReader
reader = CheckpointReader(json.loads(sys.argv[1])[0])
reader.read(sorted(reader.variables)[0])  # the control: reading a tensor opens TensorFlow's reader
print(json.dumps({"outputs": out, "loaded_by_inspect": loaded, "tf_after_read": "tensorflow" in sys.modules}))
"""


@pytest.fixture(scope="module")
def child(ckpts):
    paths = [ckpts[name] for name in FIXTURES] + [os.path.dirname(ckpts["seed004"])]
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(paths)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return paths, json.loads(proc.stdout.strip().splitlines()[-1])


def test_inspect_imports_no_tensorflow(child):
    paths, result = child
    assert result["loaded_by_inspect"] == []
    assert result["tf_after_read"] is True  # the same check does see TensorFlow once a tensor is read
    assert len(result["outputs"]) == 2 * len(paths)
    assert all(code == 0 for code, _ in result["outputs"].values()), result["outputs"]


class _TFMeta:
    """Swap TensorFlow's readers into migration.checkpoint.meta: its MetaGraphDef and tf.make_ndarray."""

    def __enter__(self):
        self.saved = meta_module.MetaGraphDef, meta_module.make_ndarray
        meta_module.MetaGraphDef = meta_graph_pb2.MetaGraphDef
        meta_module.make_ndarray = lambda tensor, **_: tf.make_ndarray(tensor)
        return self

    def __exit__(self, *exc):
        meta_module.MetaGraphDef, meta_module.make_ndarray = self.saved


def _tf_report(prefix: str) -> dict:
    """The inspection computed from TensorFlow's own readings of the same files."""
    reader = tf.train.load_checkpoint(prefix)
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    variables = {n: VariableInfo(n, tuple(int(d) for d in shapes[n]), dtypes[n].name) for n in sorted(shapes)}
    with _TFMeta():
        meta = meta_module.load_meta(prefix)
        assert all(isinstance(node, node_def_pb2.NodeDef) for node in meta.main.values())  # TF's messages
        return recognize(prefix, variables, meta).to_dict()


@pytest.mark.parametrize("name", FIXTURES)
def test_report_equals_the_one_from_tensorflows_readers(child, ckpts, name):
    prefix = ckpts[name]
    ours = inspect_checkpoint(prefix).to_dict()
    theirs = _tf_report(prefix)
    assert json.dumps(ours, sort_keys=True, default=str) == json.dumps(theirs, sort_keys=True, default=str)
    _, result = child
    code, text = result["outputs"][prefix]
    assert text.rstrip("\n") == format_report(theirs)
    code, text = result["outputs"][prefix + " --json"]
    assert json.loads(text.strip().splitlines()[-1])["variables"] == json.loads(json.dumps(theirs["variables"]))


@pytest.mark.parametrize("name", FIXTURES)
def test_sizes_and_consts_equal_tensorflows(ckpts, name):
    prefix = ckpts[name]
    ours = CheckpointReader(prefix)
    tf_reader = tf.train.load_checkpoint(prefix)
    for key, info in ours.variables.items():
        value = tf_reader.get_tensor(key)
        assert info.shape == value.shape and info.dtype == tf_reader.get_variable_to_dtype_map()[key].name
        assert info.nbytes == value.nbytes
    meta = meta_module.load_meta(prefix)
    consts = [n for n, node in meta.main.items() if node.op == "Const"]
    assert consts
    for name_ in consts:
        np.testing.assert_array_equal(meta.read_const(name_), tf.make_ndarray(meta.main[name_].attr["value"].tensor))
