"""Benchmark ``rnn-migrate scan`` on a generated 100,000-line tree of realistic TF1 files.

Baseline: a plain ``ast.parse`` of the same files (reading included), so the figure shows what the resolution and the
findings cost on top of parsing. One core (``scan_paths`` is single-threaded). Target: under 10 s for 100k lines.

    python benchmarks/bench_scan.py [--lines 100000] [--no-write]

Writes its section of docs/benchmarks.md between ``<!-- bench_scan:start -->`` and ``<!-- bench_scan:end -->``
(the rest of the file belongs to other benchmarks and is kept).
"""
from __future__ import annotations

import argparse
import ast
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

START, END = "<!-- bench_scan:start -->", "<!-- bench_scan:end -->"

# Realistic TF1 modules: the seed programs plus alias styles; mostly ordinary code with some TF1 constructs.
TEMPLATES = [
    (REPO / "tests/upgrade/fixtures/seed002_handwritten.py").read_text(encoding="utf-8"),
    (REPO / "tests/upgrade/fixtures/seed002_static_rnn.py").read_text(encoding="utf-8"),
    (REPO / "tests/upgrade/fixtures/seed002_dynamic_rnn.py").read_text(encoding="utf-8"),
    (REPO / "tests/upgrade/fixtures/seed004_sentiment.py").read_text(encoding="utf-8"),
    (REPO / "tests/upgrade/fixtures/aliases.py").read_text(encoding="utf-8"),
    '''import numpy as np
import tensorflow.compat.v1 as tf
from tensorflow.contrib import rnn


def encoder(x, lengths, units=128, layers=2, keep_prob=0.9):
    """A stacked LSTM encoder."""
    cells = []
    for i in range(layers):
        cell = rnn.LSTMCell(units, forget_bias=1.0)
        cell = rnn.DropoutWrapper(cell, output_keep_prob=keep_prob)
        cells.append(cell)
    stack = rnn.MultiRNNCell(cells)
    with tf.variable_scope("encoder"):
        outputs, state = tf.nn.dynamic_rnn(stack, x, sequence_length=lengths, dtype=tf.float32)
    return outputs, state


def stats(values):
    total = 0.0
    for v in values:
        total += v * v
    return np.sqrt(total / max(len(values), 1))
''',
]


def make_tree(root: Path, target_lines: int) -> tuple[int, int]:
    files = lines = 0
    while lines < target_lines:
        text = TEMPLATES[files % len(TEMPLATES)]
        sub = root / f"pkg{files // 100:03d}"
        sub.mkdir(exist_ok=True)
        (sub / f"mod{files:05d}.py").write_text(text, encoding="utf-8")
        files += 1
        lines += text.count("\n")
    return files, lines


def bench(target_lines: int) -> dict:
    from migration.upgrade.scan import iter_files, scan_paths

    with tempfile.TemporaryDirectory() as tmp:
        files, lines = make_tree(Path(tmp), target_lines)
        paths = list(iter_files([tmp]))
        t0 = time.perf_counter()
        for p in paths:
            with open(p, "rb") as fh:
                ast.parse(fh.read())
        baseline = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = scan_paths([tmp])
        scan = time.perf_counter() - t0
    return {"files": files, "lines": lines, "baseline_s": baseline, "scan_s": scan,
            "findings": len(report.findings), "errors": len(report.errors)}


def section(r: dict) -> str:
    return "\n".join([
        START,
        "## `rnn-migrate scan` (benchmarks/bench_scan.py)",
        "",
        f"Generated tree: {r['files']:,} TF1 files, {r['lines']:,} lines (the seed fixtures and alias-style modules). "
        f"One core, Python {platform.python_version()}, {platform.machine()}.",
        "",
        "| step | seconds | lines/s |",
        "|---|---|---|",
        f"| baseline: read + `ast.parse` of every file | {r['baseline_s']:.2f} | {r['lines'] / r['baseline_s']:,.0f} |",
        f"| `scan_paths` (read, parse, resolve, findings) | {r['scan_s']:.2f} | {r['lines'] / r['scan_s']:,.0f} |",
        "",
        f"{r['findings']:,} findings, {r['errors']} errors; scan / parse = {r['scan_s'] / r['baseline_s']:.1f}x; "
        f"target: under 10 s for 100k lines ({'met' if r['scan_s'] < 10 * r['lines'] / 100_000 else 'NOT met'}).",
        END,
    ])


def write_section(text: str, path: Path = REPO / "docs" / "benchmarks.md") -> None:
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if START in old and END in old:
        new = old[:old.index(START)] + text + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args()
    result = bench(args.lines)
    text = section(result)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
