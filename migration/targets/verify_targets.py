"""Each target against the user's original TF1 graph, on the inputs ``rnn-migrate verify`` feeds the Keras 2 block.

Per block (in manifest order, block ``k``): random ``x`` and ragged ``sequence_length`` from seed ``seed + k``
(:func:`block_inputs`, the inputs of :func:`migration.checkpoint.verify.verify_conversion`); the reference is the
original graph run in the sandbox at the block's own input and ``sequence_length`` tensors
(:func:`migration.graph.whole_model.locate`). When the graph cannot be the reference (no ``.meta``, a block the
graph does not expose), the Keras 2 block model is, itself verified against a TF1 graph rebuilt from the checkpoint:
the check then says ``reference: keras2`` (weaker: it proves the target equals the Keras 2 model, not the graph).

Runs: Keras 3 on the TensorFlow backend in this process and on the JAX backend in a child process
(``KERAS_BACKEND=jax``, :mod:`migration.targets.keras3_child`); ONNX with onnxruntime (CPU). Every output of the
block contract is compared within :data:`TOLERANCE`.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from typing import Any, Callable, Optional, Sequence

import numpy as np

from migration.core.errors import MigrationError
from migration.graph.limits import SandboxLimit
from migration.targets import keras3_process

TOLERANCE = 1e-5
#: seconds for the JAX child's start (imports JAX and Keras: ~3 s on an idle core) and for each request
CHILD_TIMEOUT = 600


@dataclasses.dataclass
class TargetCheck:
    target: str
    backend: str
    what: str
    output: str
    max_abs_diff: float
    shape: list[int]
    reference: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def block_inputs(batch: int, steps: int, depth: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The Keras 2 verification's inputs of a block (same generator, same seed): lengths ragged, the first full,
    the second 1."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (batch, steps, depth)).astype(np.float32)
    lengths = rng.integers(1, steps + 1, batch).astype(np.int32)
    lengths[0] = steps
    if batch > 1:
        lengths[1] = 1
    return x, lengths


def original_outputs(original, loops, block: dict, x: np.ndarray, lengths: np.ndarray):
    """(outputs, lengths used, why not): the block in the original graph; outputs None when it cannot be run."""
    from migration.graph.block_feeds import input_feeds
    from migration.graph.whole_model import locate

    try:
        where = locate(original, loops, block)
        if where.sequence_length is None:
            lengths = np.full_like(lengths, x.shape[1])  # the graph's block has no sequence_length: full length
        feeds = input_feeds(original, where, x)  # a nested input (PhasedLSTMCell's (time, x)): cut into its parts
        if where.sequence_length is not None:
            feeds[where.sequence_length] = lengths
        out = original.run(where.outputs, feeds)
    except SandboxLimit:
        raise
    except MigrationError as exc:
        return None, lengths, str(exc)
    if where.time_major:
        out = [np.transpose(o, (1, 0, 2)) if j < where.sequences else o for j, o in enumerate(out)]
    return [np.asarray(o) for o in out], lengths, ""


def _what(block: dict) -> str:
    if block.get("what"):
        return block["what"]
    return block["name"] if block["name"] == "whole model" else f"block {block['name']}"


def compare(target: str, backend: str, block: dict, reference: str, expected, got) -> list[TargetCheck]:
    checks = []
    for label, a, b in zip(block["outputs"], expected, got):
        b = np.asarray(b)
        diff = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")
        checks.append(TargetCheck(target, backend, _what(block), label, diff, list(a.shape), reference))
    if len(expected) != len(got):
        checks.append(TargetCheck(target, backend, _what(block), "output count", float("inf"), [], reference))
    return checks


#: XLA's LLVM code generation unoptimised in the child (its programs run once, on a 4 x 6 batch): ~15 % of its CPU
XLA_CHILD_FLAGS = "--xla_backend_optimization_level=0"


def child_env(backend: str) -> dict[str, str]:
    """The child's environment: ours, the backend, CPU, and :data:`XLA_CHILD_FLAGS` unless the user's
    ``XLA_FLAGS`` set an optimization level of their own."""
    env = dict(os.environ, KERAS_BACKEND=backend, JAX_PLATFORMS="cpu")
    flags = env.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in flags:
        env["XLA_FLAGS"] = f"{flags} {XLA_CHILD_FLAGS}".strip()
    return env


def run_keras3_elsewhere(jobs: list[tuple[str, list[np.ndarray]]], backend: str = "jax"
                         ) -> tuple[Optional[list[list[np.ndarray]]], str]:
    """Run Keras 3 models (path, inputs) on ``backend`` in the child process of :mod:`migration.targets.
    keras3_process` (started once, reused): (outputs per job, note); outputs None when the backend is not installed
    (the note says so)."""
    with tempfile.TemporaryDirectory(prefix="rnn-migrate-keras3-") as work:
        listed = []
        for k, (path, inputs, *call) in enumerate(jobs):
            paths = []
            for j, array in enumerate(inputs):
                paths.append(os.path.join(work, f"in{k}-{j}.npy"))
                np.save(paths[-1], array, allow_pickle=False)
            listed.append([os.path.abspath(path), paths, f"out{k}"] + call)
        with open(os.path.join(work, "jobs.json"), "w") as f:
            json.dump(listed, f)
        try:
            info = keras3_process.request(backend, child_env(backend), work, CHILD_TIMEOUT)
        except keras3_process.ChildFailed as exc:
            if "No module named 'jax'" in str(exc) or "No module named 'jaxlib'" in str(exc):
                return None, f"Keras 3 on the {backend} backend not checked: {backend} is not installed " \
                             "(pip install 'rnn-migrate[keras3]')"
            raise MigrationError(f"the Keras 3 {backend} check failed in its child process: {exc}") from None
        if not info.get("ok"):
            raise MigrationError(f"the Keras 3 {backend} check failed in its child process: {info.get('error')}")
        results = []
        for k in range(len(jobs)):
            outs, j = [], 0
            while os.path.exists(os.path.join(work, f"out{k}-{j}.npy")):
                outs.append(np.load(os.path.join(work, f"out{k}-{j}.npy"), allow_pickle=False))
                j += 1
            results.append(outs)
    return results, f"Keras 3 {info['keras']} on the {info['backend']} backend ({', '.join(info['devices'])})"


@dataclasses.dataclass
class WholeCase:
    """The whole model's target files and their test: inputs in the model's order (placeholder names), the ONNX
    input names, the manifest's output labels and the reference outputs on ``feeds``."""

    files: dict[str, str]
    inputs: list[str]
    onnx_inputs: list[str]
    outputs: list[str]
    feeds: dict[str, np.ndarray]
    expected: list[np.ndarray]


def verify_blocks(blocks: list[dict], files: dict[str, dict[str, str]], out_dir: str,
                  reference: Callable[[int, dict, np.ndarray, np.ndarray], tuple[list, np.ndarray, str]],
                  batch: int = 4, steps: int = 6, seed: int = 0,
                  whole: Optional[WholeCase] = None, cases: Sequence[tuple] = ()) -> tuple[list[TargetCheck], list[str]]:
    """Check every target file of every block (and of the whole model). ``files``: target -> block name -> file
    relative to ``out_dir``; ``reference(k, block, x, lengths)`` -> (expected outputs, lengths used, reference), and
    ``reference.fit(block, x, lengths)`` -> the test input fitted to the original block's static sizes
    (:func:`migration.targets.export.graph_reference`);
    ``cases``: more blocks with their own inputs and reference (ConvLSTM blocks,
    :func:`migration.targets.conv_export.conv_cases`): (block, x, lengths, expected, reference, target -> file)."""
    from migration.targets import keras3, onnx_export

    checks: list[TargetCheck] = []
    notes: list[str] = []
    jax_jobs, jax_cases = [], []
    for k, block in enumerate(blocks):
        if not any(block["name"] in by_block for by_block in files.values()):
            continue
        x, lengths = block_inputs(batch, steps, block["input_size"], seed + k)
        x, lengths = reference.fit(block, x, lengths)  # a graph of fixed batch / steps (a queue's): its sizes
        expected, lengths, ref = reference(k, block, x, lengths)
        if "keras3" in files:
            path = os.path.join(out_dir, files["keras3"][block["name"]])
            model = keras3.load_block(path)
            got = [np.asarray(o) for o in model([x, lengths], training=False)]
            checks += compare("keras3", "tensorflow", block, ref, expected, got)
            jax_jobs.append((path, [x, lengths]))
            jax_cases.append((block, ref, expected))
        if "onnx" in files:
            sess = onnx_export.session(os.path.join(out_dir, files["onnx"][block["name"]]))
            checks += compare("onnx", "onnxruntime", block, ref, expected, onnx_export.run_block(sess, x, lengths))
    for block, x, lengths, expected, ref, case_files in cases:
        if "keras3" in case_files:
            path = os.path.join(out_dir, case_files["keras3"])
            got = keras3.load_block(path)([x, lengths], training=False)  # one output: a tensor, not a list
            checks += compare("keras3", "tensorflow", block, ref, expected,
                              [np.asarray(o) for o in (got if isinstance(got, (list, tuple)) else [got])])
            jax_jobs.append((path, [x, lengths]))
            jax_cases.append((block, ref, expected))
        if "onnx" in case_files:
            sess = onnx_export.session(os.path.join(out_dir, case_files["onnx"]))
            checks += compare("onnx", "onnxruntime", block, ref, expected, onnx_export.run_block(sess, x, lengths))
    if whole is not None:
        fake = {"name": "whole model", "outputs": whole.outputs}
        args = [whole.feeds[n] for n in whole.inputs]
        if "keras3" in whole.files:
            path = os.path.join(out_dir, whole.files["keras3"])
            got = keras3.load_block(path)(args[0] if len(args) == 1 else args, training=False)
            got = list(got) if isinstance(got, (list, tuple)) else [got]
            checks += compare("keras3", "tensorflow", fake, "original-graph", whole.expected, got)
            jax_jobs.append((path, args))
            jax_cases.append((fake, "original-graph", whole.expected))
        if "onnx" in whole.files:
            sess = onnx_export.session(os.path.join(out_dir, whole.files["onnx"]))
            got = sess.run(None, dict(zip(whole.onnx_inputs, args)))
            checks += compare("onnx", "onnxruntime", fake, "original-graph", whole.expected, got)
    if jax_jobs:
        results, note = run_keras3_elsewhere(jax_jobs, "jax")
        notes.append(note)
        for (block, ref, expected), got in zip(jax_cases, results or []):
            checks += compare("keras3", "jax", block, ref, expected, got)
    return checks, notes


def summary(checks: list[TargetCheck], notes: list[str], tolerance: float = TOLERANCE) -> dict[str, Any]:
    """target -> {ok, max_abs_diff, tolerance, backends, references, checks}."""
    out: dict[str, Any] = {}
    for target in sorted({c.target for c in checks}):
        mine = [c for c in checks if c.target == target]
        out[target] = {"ok": all(c.max_abs_diff <= tolerance for c in mine),
                       "max_abs_diff": max(c.max_abs_diff for c in mine), "tolerance": tolerance,
                       "backends": sorted({c.backend for c in mine}),
                       "references": sorted({c.reference for c in mine}),
                       "checks": [c.to_dict() for c in mine]}
    if notes:
        out["notes"] = notes
    return out
