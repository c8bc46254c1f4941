"""Benchmark ``rnn-migrate scan`` on a generated 100,000-line tree of realistic TF1 files, and on one 5 MB file.

Baseline: a plain ``ast.parse`` of the same files (reading included), so the figure shows what the resolution, the
upgrade plan (scan reports exactly what ``upgrade`` would change) and the findings cost on top of parsing. One core
(``scan_paths`` is single-threaded). Targets: under 10 s for 100k lines; the 5 MB file within 3x of ``ast.parse``
(linear: no per-reference search over all references). Each timing is the best of ``--repeat`` runs.

    python benchmarks/bench_scan.py [--lines 100000] [--big-mb 5] [--repeat 3] [--no-write]

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


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench(target_lines: int, big_mb: float = 5.0, repeat: int = 3) -> dict:
    from migration.upgrade.scan import iter_files, scan_paths

    def parse_all(paths):
        for p in paths:
            with open(p, "rb") as fh:
                ast.parse(fh.read())

    with tempfile.TemporaryDirectory() as tmp:
        files, lines = make_tree(Path(tmp), target_lines)
        paths = list(iter_files([tmp]))
        baseline, _ = _best(lambda: parse_all(paths), repeat)
        scan, report = _best(lambda: scan_paths([tmp]), repeat)
        big = Path(tmp) / "big.py"
        text, i = [], 0
        size = 0
        while size < big_mb * 1024 * 1024:
            chunk = TEMPLATES[i % len(TEMPLATES)] + "\n"
            text.append(chunk)
            size += len(chunk.encode("utf-8"))
            i += 1
        big.write_text("".join(text), encoding="utf-8")
        big_lines = "".join(text).count("\n")
        big_parse, _ = _best(lambda: parse_all([str(big)]), repeat)
        big_scan, big_report = _best(lambda: scan_paths([str(big)]), repeat)
    return {"files": files, "lines": lines, "baseline_s": baseline, "scan_s": scan,
            "findings": len(report.findings), "errors": len(report.errors),  # type: ignore[union-attr]
            "big_bytes": big.stat().st_size if big.exists() else size, "big_lines": big_lines,
            "big_parse_s": big_parse, "big_scan_s": big_scan,
            "big_findings": len(big_report.findings), "repeat": repeat}  # type: ignore[union-attr]


def section(r: dict) -> str:
    ratio = r["big_scan_s"] / r["big_parse_s"]
    mb = f"{r['big_bytes'] / 1e6:.1f} MB"
    return "\n".join([
        START,
        "## `rnn-migrate scan` (benchmarks/bench_scan.py)",
        "",
        f"Generated tree: {r['files']:,} TF1 files, {r['lines']:,} lines (the seed fixtures and alias-style modules); "
        f"one file of {r['big_bytes'] / 1e6:.1f} MB ({r['big_lines']:,} lines) made of the same modules. One core, "
        f"Python {platform.python_version()}, {platform.machine()}; best of {r['repeat']} runs. Since the scan reports "
        "exactly what `upgrade --to compat` would change, each file is also planned (no libcst, no TensorFlow).",
        "",
        "| step | seconds | lines/s |",
        "|---|---|---|",
        f"| tree: read + `ast.parse` of every file | {r['baseline_s']:.2f} | {r['lines'] / r['baseline_s']:,.0f} |",
        f"| tree: `scan_paths` (read, parse, resolve, plan, findings) | {r['scan_s']:.2f} | "
        f"{r['lines'] / r['scan_s']:,.0f} |",
        f"| {mb} file: read + `ast.parse` | {r['big_parse_s']:.2f} | {r['big_lines'] / r['big_parse_s']:,.0f} |",
        f"| {mb} file: `scan_paths` | {r['big_scan_s']:.2f} | {r['big_lines'] / r['big_scan_s']:,.0f} |",
        "",
        f"Tree: {r['findings']:,} findings, {r['errors']} errors; scan / parse = {r['scan_s'] / r['baseline_s']:.1f}x; "
        f"target under 10 s for 100k lines ({'met' if r['scan_s'] < 10 * r['lines'] / 100_000 else 'NOT met'}). "
        f"{mb} file: {r['big_findings']:,} findings; scan / parse = {ratio:.1f}x; target within 3x "
        f"({'met' if ratio <= 3 else 'NOT met'}).",
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
    ap.add_argument("--big-mb", type=float, default=5.0, help="size of the single-file benchmark")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args()
    result = bench(args.lines, args.big_mb, args.repeat)
    text = section(result)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
