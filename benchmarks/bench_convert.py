"""Benchmark `rnn-migrate convert` against the cheapest possible pass over the same checkpoint.

Writes a ~480 MB TF1 checkpoint with Saver (embedding 400000x300 + two BasicLSTMCell(256) layers) into a temp dir,
then measures, each in a fresh subprocess (peak RSS via getrusage(RUSAGE_CHILDREN) in a one-child wrapper):

* baseline: import TensorFlow, read every tensor with tf.train.load_checkpoint, np.save each;
* convert:  rnn-migrate convert --no-verify --quiet;
* verify:   rnn-migrate verify (the verification's own cost, reported beside).

Targets: convert <= 2x the baseline's wall time and <= 1.5x its peak RSS. Results go into docs/benchmarks.md between
<!-- bench_convert:start --> and <!-- bench_convert:end --> (other benchmarks' sections are left alone).

    python benchmarks/bench_convert.py [--vocab 400000] [--dim 300] [--units 256] [--repeat 1] [--no-write]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
START, END = "<!-- bench_convert:start -->", "<!-- bench_convert:end -->"

BASELINE = """
import os, sys, numpy as np, tensorflow as tf
prefix, out = sys.argv[1], sys.argv[2]
reader = tf.train.load_checkpoint(prefix)
for i, name in enumerate(sorted(reader.get_variable_to_shape_map())):
    np.save(os.path.join(out, f"{i}.npy"), reader.get_tensor(name))
"""

WRITER = """
import sys, numpy as np
import legacy_rnn
from legacy_rnn import tf, v1
prefix, vocab, dim, units = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with legacy_rnn.new_graph(0) as g:
    ids = v1.placeholder(tf.int32, [None, None])
    emb = v1.get_variable("embedding", [vocab, dim], initializer=v1.zeros_initializer())
    cell = legacy_rnn.multi_rnn_cell([legacy_rnn.basic_lstm_cell(units), legacy_rnn.basic_lstm_cell(units)])
    legacy_rnn.dynamic_rnn(cell, v1.nn.embedding_lookup(emb, ids))
    sess = legacy_rnn.new_session(g)
    sess.run(v1.global_variables_initializer())
    rng = np.random.default_rng(0)
    for v in v1.global_variables():
        v.load(rng.standard_normal(v.shape.as_list(), dtype=np.float32) * 0.1, sess)
    v1.train.Saver().save(sess, prefix)
"""

MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - t
print(json.dumps({"code": code, "wall": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def measure(cmd: list[str]) -> dict:
    """Run ``cmd`` as the only child of a fresh wrapper process; return wall time and the child's peak RSS."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["code"] != 0:
        raise SystemExit(f"command failed ({result['code']}): {' '.join(cmd)}")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=int, default=400000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--units", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement (the best is kept)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args(argv)
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    os.environ.update(env)
    tmp = tempfile.mkdtemp(prefix="bench_convert-")
    try:
        prefix = os.path.join(tmp, "ckpt", "model.ckpt")
        os.makedirs(os.path.dirname(prefix))
        subprocess.run([sys.executable, "-c", WRITER, prefix, str(args.vocab), str(args.dim), str(args.units)],
                       check=True, env=env, capture_output=True)
        size = sum(os.path.getsize(os.path.join(os.path.dirname(prefix), f)) for f in os.listdir(os.path.dirname(prefix)))
        runs: dict[str, list[dict]] = {"baseline": [], "convert": [], "verify": []}
        for k in range(args.repeat):
            base_out, conv_out = os.path.join(tmp, f"base{k}"), os.path.join(tmp, f"conv{k}")
            os.makedirs(base_out)
            runs["baseline"].append(measure([sys.executable, "-c", BASELINE, prefix, base_out]))
            cli = [sys.executable, "-m", "migration.cli"]
            runs["convert"].append(measure(cli + ["convert", prefix, conv_out, "--no-verify", "--quiet"]))
            runs["verify"].append(measure(cli + ["verify", prefix, conv_out]))
            shutil.rmtree(base_out)
            if k + 1 < args.repeat:
                shutil.rmtree(conv_out)
        best = {name: {"wall": min(r["wall"] for r in rs), "peak_rss_mb": min(r["peak_rss_mb"] for r in rs)}
                for name, rs in runs.items()}
        ratio_t = best["convert"]["wall"] / best["baseline"]["wall"]
        ratio_m = best["convert"]["peak_rss_mb"] / best["baseline"]["peak_rss_mb"]
        ok = ratio_t <= 2.0 and ratio_m <= 1.5
        section = "\n".join([
            START,
            "## rnn-migrate convert (`benchmarks/bench_convert.py`)",
            "",
            f"Checkpoint: embedding {args.vocab}x{args.dim} + MultiRNNCell of two BasicLSTMCell({args.units}), written by "
            f"`tf.compat.v1.train.Saver`: {size / 1e6:.0f} MB on disk. Each row is a fresh subprocess "
            f"(best of {args.repeat}); peak RSS from `getrusage(RUSAGE_CHILDREN)`.",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
            f"{time.strftime('%Y-%m-%d')}.",
            "",
            "| run | wall (s) | peak RSS (MB) | vs baseline |",
            "|---|---:|---:|---|",
            f"| baseline: import TF, `load_checkpoint`, `np.save` every tensor | {best['baseline']['wall']:.1f} | "
            f"{best['baseline']['peak_rss_mb']:.0f} | 1.00x / 1.00x |",
            f"| `rnn-migrate convert --no-verify --quiet` | {best['convert']['wall']:.1f} | "
            f"{best['convert']['peak_rss_mb']:.0f} | {ratio_t:.2f}x time / {ratio_m:.2f}x memory |",
            f"| `rnn-migrate verify` (the verification's own cost) | {best['verify']['wall']:.1f} | "
            f"{best['verify']['peak_rss_mb']:.0f} | {best['verify']['wall'] / best['baseline']['wall']:.2f}x / "
            f"{best['verify']['peak_rss_mb'] / best['baseline']['peak_rss_mb']:.2f}x |",
            "",
            f"Targets: convert <= 2x the baseline's time and <= 1.5x its peak memory: "
            f"**{'met' if ok else 'NOT met'}**.",
            END,
        ])
        print(section)
        if not args.no_write:
            _write_section(section)
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_section(section: str) -> None:
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    text = open(DOC).read() if os.path.exists(DOC) else "# Benchmarks\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(DOC, "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
