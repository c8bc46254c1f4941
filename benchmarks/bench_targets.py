"""Benchmark ``rnn-migrate convert --target`` (issue 24): conversion time per target, and the ONNX block's inference
time against the Keras 2 block model (and the Keras 3 one) on the same inputs.

Writes one TF1 checkpoint with Saver into a temp dir: ids -> embedding 5000x128 -> MultiRNNCell(2 x
BasicLSTMCell(256)) -> dense head, and a GRUCell(256) block on a [batch, time, 128] input. Conversion: each command
in a fresh subprocess (``python -m migration convert CKPT OUT --quiet`` with no target, ``--target keras3``,
``--target onnx``, both), wall and CPU (user + sys of the child) per run, runs interleaved. Every run verifies
(Keras 2 blocks and whole model; each target against the original graph, Keras 3 also on JAX in its child).
Inference (one process, after one warm-up call): the LSTM-stack block, batch 32 x 50 steps, median of ``--calls``:
the Keras 2 block model called eagerly and through ``tf.function``, the Keras 3 block model (TensorFlow backend,
eager call), the ONNX graph in onnxruntime (CPU, 1 and 2 intra-op threads). Results go into docs/benchmarks.md
between <!-- bench_targets:start --> and <!-- bench_targets:end -->.

    python benchmarks/bench_targets.py [--repeat 2] [--calls 20] [--no-write]
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from doc_section import write_section  # benchmarks/ is the script's own directory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
START, END = "<!-- bench_targets:start -->", "<!-- bench_targets:end -->"
VARIANTS = (("keras2 only (default)", []), ("--target keras3", ["--target", "keras3"]),
            ("--target onnx", ["--target", "onnx"]), ("--target keras3 --target onnx",
                                                      ["--target", "keras3", "--target", "onnx"]))


def build(directory: str) -> str:
    sys.path.insert(0, ROOT)
    import legacy_rnn
    from legacy_rnn import tf, v1

    with legacy_rnn.new_graph(1) as graph:
        ids = v1.placeholder(tf.int32, [None, None], name="ids")
        length = v1.placeholder(tf.int32, [None], name="length")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        data = v1.nn.embedding_lookup(v1.get_variable("embedding", [5000, 128]), ids)
        cell = legacy_rnn.multi_rnn_cell([legacy_rnn.basic_lstm_cell(256), legacy_rnn.basic_lstm_cell(256)])
        out, _ = legacy_rnn.dynamic_rnn(cell, data, sequence_length=length, scope="lstm")
        logits = v1.layers.dense(out[:, -1], 10, name="head")
        v1.losses.sparse_softmax_cross_entropy(labels, logits)
        x = v1.placeholder(tf.float32, [None, None, 128], name="x")
        legacy_rnn.dynamic_rnn(legacy_rnn.gru_cell(256), x, sequence_length=length, scope="gru")
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        return v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))


def convert(prefix: str, out: str, extra: list[str]) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=ROOT)
    subprocess.run([sys.executable, "-m", "migration", "convert", prefix, out, "--quiet", *extra], check=True,
                   env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_time(fn, calls: int) -> tuple[float, float]:
    """(median wall s, median CPU s of this process, all threads) per call, after one warm-up call."""
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(calls):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return float(np.median(walls)), float(np.median(cpus))


def inference(out: str, calls: int) -> list[tuple[str, tuple[float, float], float]]:
    sys.path.insert(0, ROOT)
    import tensorflow as tf

    import modern_rnn  # noqa: F401
    from migration.families import register_keras_classes
    from migration.safe_io import load_block_model
    from migration.targets import keras3, onnx_export

    register_keras_classes()
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (32, 50, 128)).astype(np.float32)
    lengths = rng.integers(1, 51, 32).astype(np.int32)
    k2 = load_block_model(out, "blocks/lstm.keras")
    k2_fn = tf.function(lambda a, b: k2([a, b], training=False))
    k3 = keras3.load_block(os.path.join(out, "blocks", "lstm.keras3.keras"))
    rows = []
    ref = [np.asarray(o) for o in k2([x, lengths], training=False)]
    runs = {"Keras 2 block model, eager call": lambda: k2([x, lengths], training=False),
            "Keras 2 block model, tf.function": lambda: k2_fn(x, lengths),
            "Keras 3 block model (TensorFlow backend), eager call": lambda: k3([x, lengths], training=False)}
    import onnxruntime as ort

    for threads in (1, 2):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        sess = ort.InferenceSession(os.path.join(out, "blocks", "lstm.onnx"), options,
                                    providers=["CPUExecutionProvider"])
        runs[f"ONNX (onnxruntime {ort.__version__}, {threads} intra-op thread{'s' if threads > 1 else ''})"] = \
            (lambda s=sess: onnx_export.run_block(s, x, lengths))
    for name, fn in runs.items():
        got = [np.asarray(o) for o in fn()]
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ref, got))
        rows.append((name, median_time(fn, calls), diff))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="bench-targets-")
    try:
        load_before = os.getloadavg()[0]
        prefix = build(tmp)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in VARIANTS}
        for _ in range(args.repeat):
            for name, extra in VARIANTS:
                times[name].append(convert(prefix, os.path.join(tmp, "out"), extra))
        rows = inference(os.path.join(tmp, "out"), args.calls)
        load_after = os.getloadavg()[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = min(w for w, _ in times[VARIANTS[0][0]])
    lines = [START, "## Output targets: `convert --target` (`benchmarks/bench_targets.py`)", "",
             "Checkpoint: ids -> embedding 5000x128 -> 2 x BasicLSTMCell(256) -> dense head, plus a GRUCell(256) block "
             f"(2 blocks). Machine: {platform.machine()}, {os.cpu_count()} cores **shared with other jobs** (load "
             f"average {load_before:.1f} before, {load_after:.1f} after: wall times are inflated and noisy, CPU "
             f"seconds less so), Python {platform.python_version()}; {time.strftime('%Y-%m-%d')}.", "",
             "Conversion (fresh subprocess each, verification included; best of the runs):", "",
             "| command | wall s (runs) | wall vs keras2 only | CPU s (runs) |", "|---|---:|---:|---:|"]
    for name, _ in VARIANTS:
        walls = [w for w, _ in times[name]]
        cpus = [c for _, c in times[name]]
        lines.append(f"| `convert {name}` | {min(walls):.1f} ({', '.join(f'{w:.1f}' for w in walls)}) | "
                     f"{min(walls) / base:.2f}x | {min(cpus):.1f} ({', '.join(f'{c:.1f}' for c in cpus)}) |")
    lines += ["", f"Inference of the LSTM-stack block, batch 32 x 50 steps x 128, ragged lengths; median of {args.calls} "
              "calls after a warm-up, wall and CPU (this process, all threads: the steadier figure on a loaded "
              "machine); max |diff| against the Keras 2 model's outputs:", "",
              "| runtime | median wall ms | median CPU ms | CPU vs Keras 2 tf.function | max abs diff |",
              "|---|---:|---:|---:|---:|"]
    k2_fn = next(t for n, t, _ in rows if "tf.function" in n)[1]
    for name, (wall, cpu), diff in rows:
        lines.append(f"| {name} | {wall * 1e3:.1f} | {cpu * 1e3:.1f} | {cpu / k2_fn:.2f}x | {diff:.2g} |")
    lines.append(END)
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(DOC, START, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
