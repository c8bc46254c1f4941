"""Run TF 1.15's own kernel tests for tf.contrib.{rnn,seq2seq,legacy_seq2seq,crf} against ``legacy_rnn`` and print
the table (issue 22).

Usage::

    python benchmarks/tf115_kernel_tests.py DIR [--keep WORKDIR] [-k EXPR] [--json OUT]

``DIR`` holds TensorFlow's test files (``rnn_cell_test.py``, ``lstm_ops_test.py``, ``gru_ops_test.py``,
``attention_wrapper_test.py``, ``basic_decoder_test.py``, ``beam_search_decoder_test.py``, ``beam_search_ops_test.py``,
``loss_test.py``, ``seq2seq_test.py``, ``crf_test.py``). They are TensorFlow's code, not this project's: fetch them
yourself (nothing is downloaded here) and keep them out of the repository.

What the runner changes in them: **only import statements**. Every ``from tensorflow.contrib... import X`` (and
``import tensorflow as tf``) becomes ``X = tf115_shim.load("<dotted path>")``: a module object that looks names up
in the ``legacy_rnn`` module(s) of the table below (``tf.compat.v1`` for core TensorFlow's cells), so the test bodies
run unchanged. A name that no target has is returned as a placeholder that raises when used and records itself; a
failing test that touched one is classified "missing API". Tests run under pytest in graph mode (TF 1.15's default:
``tf.compat.v1.disable_eager_execution()``) with ``TF_USE_LEGACY_KERAS=1``.

Classification of each test (pytest item): ``pass``; ``missing API (in progress)`` for the six cells being built
(NASCell, GLSTMCell, PhasedLSTMCell, TimeFreqLSTMCell, GridLSTMCell, BidirectionalGridLSTMCell); ``missing API``;
``random stream`` (expected numbers drawn from TF 1.x's initializer stream, listed in RANDOM_STREAM with the reason);
``needs a GPU`` (GPU_ONLY); ``fail`` (a project bug, or a difference not yet understood).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FILES = (
    "rnn_cell_test.py", "lstm_ops_test.py", "gru_ops_test.py", "attention_wrapper_test.py", "basic_decoder_test.py",
    "beam_search_decoder_test.py", "beam_search_ops_test.py", "loss_test.py", "seq2seq_test.py", "crf_test.py",
)

#: where the copies measured for docs/api-map.md came from (tensorflow/tensorflow; the stored public index holds no
#: copy tagged 1.15 for most of them: the newest copy found was used, and the test counts differ from 1.15's 171).
SOURCES = {
    "rnn_cell_test.py": "commit 000474bf24f8 (2018 branch; has LayerNormBasicGRUCell, lacks 1.15's SRU/IndRNN tests)",
    "lstm_ops_test.py": "2019 copy (parameterized Fp32/Fp16 cases), index id 1035002289",
    "gru_ops_test.py": "2017 copy (same six tests as 1.15), index id 229271204",
    "attention_wrapper_test.py": "commit 062dd51b5a43 (2018; attention_layer=, multi-attention, monotonic)",
    "basic_decoder_test.py": "commit 102bff933e33 (2017; ScheduledOutputTrainingHelper(next_input_layer=))",
    "beam_search_decoder_test.py": "2018 copy with coverage_penalty_weight, index id 95413766",
    "beam_search_ops_test.py": "1.x copy with max_sequence_lengths/end_token, index id 53756874",
    "loss_test.py": "2019 copy with SequenceLoss, index id 615702840",
    "seq2seq_test.py": "commit 04ba418175db (legacy_seq2seq, with one2many and model_with_buckets)",
    "crf_test.py": "commit 17d21dc7da6c (with crf_multitag_sequence_score and the length-1 cases)",
}

#: dotted TF 1.15 module -> modules searched for its names, in order ("tf.compat.v1..." are attribute paths).
TARGETS: dict[str, tuple[str, ...]] = {
    "tensorflow": ("@tf1",),
    "tensorflow.contrib.rnn": ("legacy_rnn.contrib_rnn",),
    "tensorflow.contrib.seq2seq": ("legacy_rnn.seq2seq",),
    "tensorflow.contrib.legacy_seq2seq": ("legacy_rnn.seq2seq.legacy_seq2seq", "legacy_rnn.seq2seq.buckets"),
    "tensorflow.contrib.crf": ("legacy_rnn.crf",),
    "tensorflow.contrib.rnn.python.ops.lstm_ops": ("legacy_rnn.contrib_rnn", "legacy_rnn.contrib"),
    "tensorflow.contrib.rnn.python.ops.gru_ops": ("legacy_rnn.contrib_rnn", "legacy_rnn.contrib"),
    "tensorflow.contrib.rnn.python.ops.rnn_cell": (
        "legacy_rnn.contrib_rnn", "legacy_rnn.contrib_rnn_misc", "legacy_rnn.contrib"),
    "tensorflow.contrib.rnn.python.ops.core_rnn_cell": ("legacy_rnn.contrib_rnn", "legacy_rnn.wrappers"),
    "tensorflow.contrib.rnn.python.ops.rnn": ("legacy_rnn.contrib_rnn",),
    "tensorflow.contrib.rnn.core_rnn_cell": ("legacy_rnn.contrib_rnn",),
    "tensorflow.contrib.seq2seq.python.ops.attention_wrapper": (
        "legacy_rnn.seq2seq.attention_wrapper", "legacy_rnn.seq2seq"),
    "tensorflow.contrib.seq2seq.python.ops.basic_decoder": ("legacy_rnn.seq2seq.decoders", "legacy_rnn.seq2seq"),
    "tensorflow.contrib.seq2seq.python.ops.beam_search_decoder": (
        "legacy_rnn.seq2seq.decoders", "legacy_rnn.seq2seq.beam_step", "legacy_rnn.seq2seq"),
    "tensorflow.contrib.seq2seq.python.ops.beam_search_ops": ("legacy_rnn.seq2seq",),
    "tensorflow.contrib.seq2seq.python.ops.decoder": ("legacy_rnn.seq2seq.decoders", "legacy_rnn.seq2seq"),
    "tensorflow.contrib.seq2seq.python.ops.helper": ("legacy_rnn.seq2seq.helper", "legacy_rnn.seq2seq"),
    "tensorflow.contrib.seq2seq.python.ops.loss": ("legacy_rnn.seq2seq",),
    "tensorflow.contrib.legacy_seq2seq.python.ops.seq2seq": (
        "legacy_rnn.seq2seq.legacy_seq2seq", "legacy_rnn.seq2seq.buckets"),
    "tensorflow.contrib.crf.python.ops.crf": ("legacy_rnn.crf",),
    # core TensorFlow's RNN modules: the tf.compat.v1 objects (TF 2.21 keeps them in tf_keras' legacy cells)
    "tensorflow.python.ops.rnn_cell": ("@tf1.nn.rnn_cell", "tensorflow.python.ops.rnn_cell_impl"),
    "tensorflow.python.ops.rnn_cell_impl": ("@tf1.nn.rnn_cell", "tensorflow.python.ops.rnn_cell_impl"),
    "tensorflow.python.ops.rnn": ("@tf1.nn", "tensorflow.python.ops.rnn"),
    # TF 2.x moved stack/unstack out of array_ops
    "tensorflow.python.ops.array_ops": ("tensorflow.python.ops.array_ops", "tensorflow.python.ops.array_ops_stack"),
}

#: the cells other helpers are building now (issue 22): their tests count as "missing API (in progress)".
IN_PROGRESS = ("NASCell", "GLSTMCell", "PhasedLSTMCell", "TimeFreqLSTMCell", "GridLSTMCell",
               "BidirectionalGridLSTMCell")

#: tests whose expected numbers come from TF 1.x's random stream (a seeded initializer's draws), not from maths.
_MEMORY_LAYER = ("summary statistics of a decode whose attention memory_layer kernel is drawn by glorot_uniform "
                 "with no op seed, i.e. seeded by the count of ops in the graph before it (TF 1.x: graph seed + "
                 "op id), so the numbers depend on how many ops the implementation created first, not on the maths; "
                 "the maths is proven on fixed weights against a NumPy reference in "
                 "tests/seq2seq/test_tf115_attention.py and tests/seq2seq/test_attention.py")
RANDOM_STREAM: dict[str, str] = {
    f"attention_wrapper_test.py::AttentionWrapperTest::{name}": _MEMORY_LAYER
    for name in ("testBahdanauNotNormalized", "testBahdanauNormalized", "testLuongNotNormalized", "testLuongScaled",
                 "testNotUseAttentionLayer", "testBahdanauMonotonicNotNormalized", "testBahdanauMonotonicNormalized",
                 "testLuongMonotonicNotNormalized", "testLuongMonotonicScaled", "testMultiAttention",
                 "testMultiAttentionWithLayerInstances", "testMultiAttentionNoAttentionLayer",
                 "testSingleAttentionAsList")
}
RANDOM_STREAM["rnn_cell_test.py::RNNCellTest::testPhasedLSTMCell"] = (
    "PhasedLSTMCell draws period = exp(U(log 1, log 1000)) and phase = U(0, period) from initializers with no op "
    "seed (they override the test's constant scope initializer), so which time gates are open, and the expected "
    "c and h, follow TF 1.x's op-id-seeded stream")

#: tests of the stored file that do not test TF 1.15's API (the index holds older copies of some files).
VERSION_SKEW: dict[str, str] = {
    **{f"basic_decoder_test.py::BasicDecoderTest::testStepWithScheduledOutputTrainingHelper{case}":
       "passes next_input_layer=, the pre-1.3 name of ScheduledOutputTrainingHelper's argument; TF 1.15 takes "
       "next_inputs_fn= (and would raise the same TypeError)"
       for case in ("WithoutNextInputLayerOrAuxInputs", "WithNextInputLayer", "WithAuxiliaryInputs",
                    "WithNextInputLayerAndAuxInputs", "WithNoSampling")},
    "rnn_cell_test.py::RNNCellTest::testAttentionCellWrapperFailures":
        "expects the pre-1.15 message 'The parameter cell is not RNNCell.'; TF 1.15 raises assert_like_rnncell's "
        "\"The argument 'cell' (None) is not an RNNCell: ...\" (its test matches 'is not an RNNCell'), as "
        "legacy_rnn does",
    **{f"rnn_cell_test.py::LayerNormBasicGRUCellTest::{name}":
       "LayerNormBasicGRUCell was never in a TF release (this copy of the file comes from an unmerged 2018 branch)"
       for name in ("testMultiCellLayerNormBasicGRUCell", "testLayerNormBasicGRUCellWithInputSizeDifferentThanNbUnits",
                    "testLayerNormBasicGRUCellWithoutLayerNorm")},
}

#: tests that only mean something on a GPU.
GPU_ONLY: dict[str, str] = {
    "beam_search_ops_test.py::GatherTreeTest::testBadParentValuesOnGPU":
        "returns at once without a CUDA GPU (counted, but it checks nothing on CPU)",
}

_SHIM = r'''
"""Import shim written by benchmarks/tf115_kernel_tests.py (not TensorFlow code)."""
import importlib
import types

import legacy_rnn  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf

TARGETS = __TARGETS__
TOUCHED = set()


class MissingName:
    """A TF 1.15 name legacy_rnn does not have: any use raises (and is recorded)."""

    def __init__(self, path):
        self._path = path

    def _fail(self, *args, **kwargs):
        TOUCHED.add(self._path)
        raise NotImplementedError("TF115-MISSING-API: " + self._path)

    __call__ = _fail

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        TOUCHED.add(self._path)
        raise NotImplementedError("TF115-MISSING-API: " + self._path + "." + name)

    def __mro_entries__(self, bases):
        TOUCHED.add(self._path)
        raise NotImplementedError("TF115-MISSING-API: " + self._path + " (as a base class)")


def _resolve(spec):
    if spec.startswith("@tf1"):
        obj = tf.compat.v1
        for part in spec[4:].split(".")[1:]:
            obj = getattr(obj, part)
        return obj
    return importlib.import_module(spec)


class ShimModule(types.ModuleType):
    def __init__(self, path):
        super().__init__(path)
        self._targets = []
        for spec in TARGETS[path]:
            try:
                self._targets.append(_resolve(spec))
            except ImportError:  # an older checkout of the project (a "before" measurement)
                pass

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        for target in self._targets:
            try:
                return getattr(target, name)
            except AttributeError:
                continue
        sub = self.__name__ + "." + name
        if sub in TARGETS:
            return ShimModule(sub)
        if self.__name__ == "tensorflow" and name == "contrib":
            return _Contrib()
        return MissingName(sub)


class _Contrib:
    def __getattr__(self, name):
        path = "tensorflow.contrib." + name
        return ShimModule(path) if path in TARGETS else MissingName(path)


def load(path):
    if path in TARGETS:
        return ShimModule(path)
    raise ImportError("tf115_shim: no target for " + path)
'''

_CONFTEST = r'''
import os
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import legacy_rnn  # noqa: F401
import numpy as np
import tensorflow as tf
import pytest
import tf115_shim

if not hasattr(np, "Inf"):  # NumPy 2 removed the alias TF 1.15's tests use (beam_search_decoder_test)
    np.Inf = np.inf

if os.environ.get("TF115_BEHAVIOR", "v1") == "v1":
    tf.compat.v1.disable_v2_behavior()   # TF 1.15's defaults: graph mode, ref variables, v1 shapes and control flow
else:
    tf.compat.v1.disable_eager_execution()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when == "call" or (call.when == "setup" and report.failed):
        item.user_properties.append(("missing", ";".join(sorted(tf115_shim.TOUCHED))))
        tf115_shim.TOUCHED.clear()
'''

_IMPORT_FROM = re.compile(r"^(\s*)from (tensorflow[\w.]*) import (\w+)(?: as (\w+))?\s*(#.*)?$")
_IMPORT_AS = re.compile(r"^(\s*)import (tensorflow[\w.]*) as (\w+)\s*(#.*)?$")


def rewrite_imports(text: str) -> tuple[str, list[str]]:
    """Rewrite the import lines that point at a TARGETS module; return the new text and the rewritten modules."""
    out, changed = [], []
    for line in text.splitlines():
        m = _IMPORT_FROM.match(line)
        if m and f"{m.group(2)}.{m.group(3)}" in TARGETS:
            path = f"{m.group(2)}.{m.group(3)}"
            out.append(f'{m.group(1)}{m.group(4) or m.group(3)} = __import__("tf115_shim").load("{path}")')
            changed.append(path)
            continue
        m = _IMPORT_AS.match(line)
        if m and m.group(2) in TARGETS:
            out.append(f'{m.group(1)}{m.group(3)} = __import__("tf115_shim").load("{m.group(2)}")')
            changed.append(m.group(2))
            continue
        if re.match(r"^\s*(from|import) tensorflow\.contrib", line):
            raise SystemExit(f"no target for the import line {line.strip()!r}: add it to TARGETS")
        out.append(line)
    return "\n".join(out) + "\n", changed


def prepare(src: Path, work: Path) -> list[str]:
    work.mkdir(parents=True, exist_ok=True)
    present = []
    for name in FILES:
        if (src / name).is_file():
            text, _ = rewrite_imports((src / name).read_text())
            (work / name).write_text(text)
            present.append(name)
    (work / "tf115_shim.py").write_text(_SHIM.replace("__TARGETS__", repr(TARGETS)))
    (work / "conftest.py").write_text(_CONFTEST)
    return present


def classify(nodeid: str, outcome: str, missing: str, message: str) -> str:
    """GPU-only first; then pass; version skew (the stored copy does not test 1.15's API); a missing name (the API
    is not rebuilt: it counts against us even where the expected numbers are random-stream ones); random stream."""
    if nodeid in GPU_ONLY:
        return "needs a GPU"
    if outcome == "passed":
        return "pass"
    if outcome == "skipped":
        return "skipped"
    if nodeid in VERSION_SKEW:
        return "version skew"
    names = missing or " ".join(re.findall(r"TF115-MISSING-API: ([\w.]+)", message))
    if names:
        return "missing API (in progress)" if any(c in names for c in IN_PROGRESS) else "missing API"
    if nodeid in RANDOM_STREAM:
        return "random stream"
    return "fail"


def run(work: Path, files: list[str], expr: str | None) -> list[dict]:
    xml = work / "report.xml"
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([str(work), str(REPO), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "--rootdir", str(work),
           f"--junitxml={xml}", "-o", "junit_logging=no", *files]
    if expr:
        cmd += ["-k", expr]
    subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    rows = []
    for case in ET.parse(xml).getroot().iter("testcase"):
        if case.get("name") == "test_session":  # tf.test.TestCase's own helper, skipped as "Not a test."
            continue
        file = case.get("classname", "").split(".")[0] + ".py"
        nodeid = f"{file}::{case.get('classname', '').split('.')[-1]}::{case.get('name')}"
        failure = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        outcome = "failed" if failure is not None else "skipped" if skipped is not None else "passed"
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        message = (failure.get("message", "") + "\n" + (failure.text or "")) if failure is not None else ""
        rows.append({"file": file, "test": nodeid, "outcome": outcome,
                     "class": classify(nodeid, outcome, props.get("missing", ""), message),
                     "missing": props.get("missing", ""), "message": message.strip().splitlines()[:1]})
    return rows


def table(rows: list[dict]) -> str:
    kinds = ("pass", "fail", "missing API", "missing API (in progress)", "random stream", "version skew",
             "needs a GPU", "skipped")
    per = defaultdict(Counter)
    for row in rows:
        per[row["file"]][row["class"]] += 1
    lines = ["| file | total | " + " | ".join(kinds) + " |", "|---|---|" + "---|" * len(kinds)]
    total = Counter()
    for file in sorted(per):
        total.update(per[file])
        lines.append(f"| {file} | {sum(per[file].values())} | " + " | ".join(str(per[file][k]) for k in kinds) + " |")
    lines.append(f"| **all** | {sum(total.values())} | " + " | ".join(str(total[k]) for k in kinds) + " |")
    counted = sum(total.values()) - total["random stream"] - total["needs a GPU"] - total["version skew"]
    lines.append(f"\npassed {total['pass']} of {counted} counted "
                 f"({100.0 * total['pass'] / max(counted, 1):.1f}%; random-stream, version-skew and GPU-only tests "
                 "excepted; a random-stream test that passes counts as passed)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path, help="directory holding TF 1.15's kernel test files")
    parser.add_argument("--keep", type=Path, help="work directory to keep (default: a temporary one)")
    parser.add_argument("-k", dest="expr", help="pytest -k expression")
    parser.add_argument("--json", type=Path, help="write every test's row here")
    parser.add_argument("--list", action="store_true", help="print every test not passing, with its class")
    parser.add_argument("--behavior", choices=("v1", "graph"), default="v1",
                        help="v1 (default): TF 1.15's defaults via tf.compat.v1.disable_v2_behavior() (graph mode, "
                             "ref variables, v1 TensorShape, v1 control flow); graph: only disable_eager_execution()")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="tf115-kernel-"))
    try:
        files = prepare(args.src, work)
        if not files:
            print(f"no TF 1.15 test file found in {args.src} (expected: {', '.join(FILES)})", file=sys.stderr)
            return 2
        os.environ["TF115_BEHAVIOR"] = args.behavior
        rows = run(work, files, args.expr)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(table(rows))
    if args.list:
        for row in rows:
            if row["class"] != "pass":
                print(f"{row['class']:28} {row['test']}  {row['missing'] or ' '.join(row['message'])[:160]}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
