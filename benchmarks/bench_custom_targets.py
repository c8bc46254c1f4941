"""Benchmark the custom-step targets (issue 24): inference of a block whose family no standard layer/op computes,
the ONNX ``Scan`` graph (:mod:`migration.targets.onnx_cells`) and the Keras 3 custom cell
(:mod:`migration.targets.keras3_cells`) against the Keras 2 twin (``modern_rnn``) on the same inputs.

For each family (LayerNormBasicLSTMCell, UGRNNCell, SRUCell; 256 units, input 128), one set of seeded arrays in the
Keras 2 layout feeds the three models; batch 32 x 50 steps, ragged lengths; after one warm-up call, the median of
``--calls`` calls, wall and CPU (this process, all threads: the steadier figure on a loaded machine), and the max
|diff| against the Keras 2 outputs. Prints a Markdown table (``--write``: into docs/benchmarks.md between
<!-- bench_custom_targets:start --> and <!-- bench_custom_targets:end -->).

    python benchmarks/bench_custom_targets.py [--calls 10] [--write]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
START, END = "<!-- bench_custom_targets:start -->", "<!-- bench_custom_targets:end -->"
UNITS, DEPTH, BATCH, STEPS = 256, 128, 32, 50
KINDS = ("layer_norm_lstm", "ugrnn", "sru")


def median_call(fn, calls: int) -> tuple[float, float, list]:
    out = fn()
    walls, cpus = [], []
    for _ in range(calls):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return float(np.median(walls)) * 1e3, float(np.median(cpus)) * 1e3, out


def models(kind: str, rng):
    import modern_rnn  # noqa: F401  (tf_keras set up, the Keras 2 twins registered)
    import onnxruntime as ort
    import tensorflow as tf

    from migration import families
    from migration.core.specs import CellSpec
    from migration.targets import keras3, onnx_export
    from migration.targets.weights import CUSTOM, TargetCell, custom_of

    spec = CellSpec(kind, UNITS)
    cell2 = families.family(spec).keras2(spec, DEPTH)
    layer = tf.keras.layers.RNN(cell2, return_sequences=True, return_state=True)
    x0 = tf.zeros([1, 2, DEPTH])
    layer(x0)
    weights = [rng.uniform(-0.1, 0.1, w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)

    @tf.function
    def keras2(x, mask):
        return layer(x, mask=mask)

    cell = TargetCell(spec, CUSTOM, weights[0], np.zeros(0, np.float32), np.zeros(0, np.float32), custom_of(spec),
                      tuple(weights))
    k3 = keras3.build_block({"": [cell]}, DEPTH, "bench")
    labels = ["out"] + [f"state{k}" for k in range(len(spec.tf1_state_sizes))]
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_export.build_block({"": [cell]}, DEPTH, "bench", labels).SerializeToString(),
                                options, providers=["CPUExecutionProvider"])
    return keras2, k3, sess


def run(calls: int) -> list[str]:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (BATCH, STEPS, DEPTH)).astype(np.float32)
    lengths = rng.integers(1, STEPS + 1, BATCH).astype(np.int32)
    lengths[0] = STEPS
    mask = np.arange(STEPS)[None] < lengths[:, None]
    rows = []
    for kind in KINDS:
        keras2, k3, sess = models(kind, rng)
        w2, c2, ref = median_call(lambda: keras2(x, mask), calls)
        ref = np.asarray(ref[0]) * mask[..., None]
        w3, c3, got3 = median_call(lambda: k3([x, lengths], training=False), calls)
        wo, co, goto = median_call(lambda: sess.run(None, {"x": x, "sequence_length": lengths}), calls)
        for name, wall, cpu, out in (("Keras 2 twin, tf.function", w2, c2, ref),
                                     ("Keras 3 custom cell (TensorFlow backend), eager call", w3, c3, got3[0]),
                                     ("ONNX Scan (onnxruntime, 1 thread)", wo, co, goto[0])):
            diff = float(np.max(np.abs(np.asarray(out) - ref)))
            rows.append(f"| `{kind}` | {name} | {wall:.1f} | {cpu:.1f} | {cpu / c2:.2f}x | {diff:.2g} |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    import migration  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
    import onnxruntime

    load = os.getloadavg()[0]
    lines = [START, "## Custom-step targets: inference (`benchmarks/bench_custom_targets.py`)", "",
             f"One block of {UNITS} units over input {DEPTH}, batch {BATCH} x {STEPS} steps, ragged lengths; seeded "
             f"arrays in the Keras 2 layout; median of {args.calls} calls after a warm-up. Machine: "
             f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs (load average {load:.1f}), "
             f"onnxruntime {onnxruntime.__version__}; CPU is this process, all threads.", "",
             "| family | runtime | median wall ms | median CPU ms | CPU vs Keras 2 | max abs diff vs Keras 2 |",
             "|---|---|---:|---:|---:|---:|"] + run(args.calls) + [END]
    text = "\n".join(lines)
    print(text)
    if args.write:
        doc = open(DOC, encoding="utf-8").read()
        if START in doc:
            doc = doc[:doc.index(START)] + text + doc[doc.index(END) + len(END):]
        else:
            marker = "<!-- bench_targets:end -->"
            doc = doc.replace(marker, marker + "\n\n" + text, 1)
        with open(DOC + ".tmp", "w", encoding="utf-8") as f:
            f.write(doc)
        os.replace(DOC + ".tmp", DOC)
    return 0


if __name__ == "__main__":
    sys.exit(main())
