"""Benchmark: ``rnn-migrate glove import`` as a WHOLE PROCESS against the best plain alternative, also whole.

A user waits for the whole command: interpreter start-up, imports, parsing, checks, hashing and writing. So both
sides are timed from outside, each a fresh process, interleaved (A B A B ...), ``--runs`` pairs after one warm-up
pair, on the same 400,000 x 50 file (the real GloVe 6B 50d vectors in the original text format, written by
``benchmarks/bench_glove.py``'s writer):

* A: ``python -m migration glove import glove.6B.50d.txt --out DIR --quiet --force`` (strict parse: every line
  E + 1 fields, finite numbers, unique words; vectors hashed; the cache written atomically);
* B: ``python -c`` the pandas C parser (``read_csv(sep=' ', header=None, quoting=QUOTE_NONE, engine='c',
  na_filter=False)``), then ``np.save`` of the float32 matrix and of the words: the same data on disk with none of
  the checks.

Wall seconds (monotonic clock around the child) and CPU seconds (the child's user + system, from
``getrusage(RUSAGE_CHILDREN)``); medians of the runs and the median of the pairwise ratios A/B. The load average
before and after is printed: on a busy machine the wall figures move, the CPU figures much less. Results go to
``docs/benchmarks.md`` between ``<!-- bench_glove_cli:start -->`` and ``<!-- bench_glove_cli:end -->`` and, as JSON,
to the last stdout line.

Run: ``python benchmarks/bench_glove_cli.py [--runs 5] [--rows 400000] [--no-docs]``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_glove import write_glove_text  # noqa: E402
from migration.core.outdir import atomic_write_bytes  # noqa: E402

START, END = "<!-- bench_glove_cli:start -->", "<!-- bench_glove_cli:end -->"
BASELINE = """
import csv, sys
import numpy as np, pandas as pd
frame = pd.read_csv(sys.argv[1], sep=" ", header=None, quoting=csv.QUOTE_NONE, engine="c", na_filter=False,
                    keep_default_na=False, encoding="utf-8")
np.save(sys.argv[2] + "/vectors.npy", frame.iloc[:, 1:].to_numpy(np.float32), allow_pickle=False)
np.save(sys.argv[2] + "/words.npy", frame[0].to_numpy().astype(str), allow_pickle=False)
"""


def timed(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall, cpu) seconds of one whole child process; raises if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)

    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "glove.6B.50d.txt"
        write_glove_text(text, args.rows)
        size = text.stat().st_size
        (Path(tmp) / "b").mkdir()
        ours = [sys.executable, "-m", "migration", "glove", "import", str(text), "--out", str(Path(tmp) / "a"),
                "--quiet", "--force"]
        base = [sys.executable, "-c", BASELINE, str(text), str(Path(tmp) / "b")]
        load_before = os.getloadavg()[0]
        timed(ours, env), timed(base, env)  # warm-up pair: page cache, .pyc files
        a, b = [], []
        for _ in range(args.runs):
            a.append(timed(ours, env))
            b.append(timed(base, env))
        load_after = os.getloadavg()[0]

    def med(values):
        return statistics.median(values)

    result = {
        "rows": args.rows, "bytes": size, "runs": args.runs,
        "ours_wall": med([w for w, _ in a]), "ours_cpu": med([c for _, c in a]),
        "pandas_wall": med([w for w, _ in b]), "pandas_cpu": med([c for _, c in b]),
        "ratio_wall": med([x[0] / y[0] for x, y in zip(a, b)]), "ratio_cpu": med([x[1] / y[1] for x, y in zip(a, b)]),
        "load_before": load_before, "load_after": load_after,
    }
    table = "\n".join([
        START,
        "## `rnn-migrate glove import`, whole process (`benchmarks/bench_glove_cli.py`)",
        "",
        f"{args.rows:,} x 50 real GloVe 6B vectors in the original text format ({size:,} bytes); each side a fresh "
        f"process, {args.runs} runs interleaved after a warm-up pair; medians, and the median of the pairwise "
        f"ratios. {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load average "
        f"{load_before:.1f} before, {load_after:.1f} after (above ~1 the machine was shared: CPU seconds are then the "
        "closer figure).",
        "",
        "| whole process | wall s | CPU s |",
        "|---|---|---|",
        f"| `rnn-migrate glove import` (strict checks, hash, atomic cache) | {result['ours_wall']:.2f} | "
        f"{result['ours_cpu']:.2f} |",
        f"| `pandas.read_csv` (C parser) + `np.save` of matrix and words | {result['pandas_wall']:.2f} | "
        f"{result['pandas_cpu']:.2f} |",
        f"| ratio ours / pandas (median of pairs) | **{result['ratio_wall']:.2f}x** | {result['ratio_cpu']:.2f}x |",
        END,
    ])
    print(table)
    if not args.no_docs:
        docs = ROOT / "docs" / "benchmarks.md"
        old = docs.read_text(encoding="utf-8")
        if START in old and END in old:
            new = old[:old.index(START)] + table + old[old.index(END) + len(END):]
        else:
            new = old.rstrip("\n") + "\n\n" + table + "\n"
        atomic_write_bytes(str(docs), new.encode("utf-8"))
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
