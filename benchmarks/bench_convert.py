"""Benchmark `rnn-migrate convert` against the floor: one TensorFlow import, one read and one write of the bytes.

Writes TF1 checkpoints with Saver into a temp dir: the 480 MB case (embedding 400000x300 + two BasicLSTMCell(256)
layers) and, unless ``--no-big``, a ~4 GB case (embedding ``--big-vocab`` x 300 + the same cells; generated here,
never in the tests). For each case, in the same run and interleaved, each command in a fresh subprocess (peak RSS
from getrusage(RUSAGE_CHILDREN) in a one-child wrapper):

* bare:     ``import tensorflow, tf_keras`` (the memory reference: targets are peak RSS minus this);
* baseline: import TensorFlow, read every tensor with tf.train.load_checkpoint, np.save each;
* convert:  rnn-migrate convert --no-verify --no-model --quiet (the streamed copies: the target of issue 15);
* model:    rnn-migrate convert --no-verify --quiet (also writes the whole model, model.keras, its embedding
            streamed into it row by row);
* default:  rnn-migrate convert --quiet (the defaults: whole model, then verify in the same process);
* verify:   rnn-migrate verify of that conversion: every block and the whole model against the ORIGINAL graph from the
            .meta, in the sandbox (embeddings sampled on both sides, every row compared with the checkpoint).

Targets (issue 15): convert <= 0.6x the baseline's wall time; convert's and verify's peak RSS at most 96 MB above
the bare import (with and without the whole model). Results go into docs/benchmarks.md between
<!-- bench_convert:start --> and <!-- bench_convert:end -->.
Check free space first: the big case needs about 4x its size on the temp disk (``df -h /tmp``).

The ``ps`` case (issue 14): the parameter-server-era program of ``tests/scale/ps_graphs.py`` scaled up (two
partitioned embeddings, ``'div'`` and ``'mod'``, a partitioned ``LSTMCell`` kernel and bias, ``SyncReplicasOptimizer``
(Adam) slots, placed over 2 devices, ``Saver(sharded=True)``: 3 ``.data`` files, ~300 MB), with the same rows; targets:
each run's peak RSS within 1.5x the baseline's ("reading every tensor once", issue 14) and at most 96 MB over the bare
import (issue 15; ``--ps-vocab`` scales its embeddings to check that this does not grow with them). Its rows go between
<!-- bench_convert:ps:start --> and <!-- bench_convert:ps:end --> inside the section; a ``--cases`` run that leaves out
some cases keeps their rows from the existing docs/benchmarks.md.

    python benchmarks/bench_convert.py [--repeat 2] [--big-vocab 3500000] [--no-big] [--no-write] [--cases ps] [--ps-vocab 400000]
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
BUDGET_MB, TIME_RATIO = 96, 0.6

BARE = "import tensorflow, tf_keras"

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
    emb = v1.get_variable("embedding", [vocab, dim], initializer=v1.random_uniform_initializer(-0.1, 0.1, seed=1))
    cell = legacy_rnn.multi_rnn_cell([legacy_rnn.basic_lstm_cell(units), legacy_rnn.basic_lstm_cell(units)])
    legacy_rnn.dynamic_rnn(cell, v1.nn.embedding_lookup(emb, ids))
    sess = legacy_rnn.new_session(g)
    sess.run(v1.global_variables_initializer())
    rng = np.random.default_rng(0)
    for v in v1.global_variables():
        if v is not emb:
            v.load(rng.standard_normal(v.shape.as_list(), dtype=np.float32) * 0.1, sess)
    v1.train.Saver().save(sess, prefix)
"""

MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": code, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}))
"""


def measure(cmd: list[str]) -> dict:
    """Run ``cmd`` as the only child of a fresh wrapper process; return wall time and the child's peak RSS."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["code"] != 0:
        raise SystemExit(f"command failed ({result['code']}): {' '.join(cmd)}")
    return result


def _write_checkpoint(directory: str, vocab: int, dim: int, units: int, env: dict) -> tuple[str, int]:
    prefix = os.path.join(directory, "model.ckpt")
    os.makedirs(directory)
    subprocess.run([sys.executable, "-c", WRITER, prefix, str(vocab), str(dim), str(units)],
                   check=True, env=env, capture_output=True)
    return prefix, sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory))


def _measure(tmp: str, tag: str, prefix: str, repeat: int, with_model: bool) -> dict[str, dict]:
    """Interleaved runs (fresh subprocesses) of the bare import, the baseline and the streamed convert, plus, with
    ``with_model``, convert with the whole model, verify (exit 0 = verified: ``measure`` checks) and the default
    convert. Returns each run's best wall and CPU, largest peak RSS, the walls, and the peak over the bare import."""
    runs: dict[str, list[dict]] = {"bare": [], "baseline": [], "convert": []}
    if with_model:
        runs["model"], runs["verify"], runs["default"] = [], [], []
    cli = [sys.executable, "-m", "migration.cli"]
    for k in range(repeat):
        base_out, conv_out = os.path.join(tmp, f"{tag}base{k}"), os.path.join(tmp, f"{tag}conv{k}")
        os.makedirs(base_out)
        runs["bare"].append(measure([sys.executable, "-c", BARE]))
        runs["baseline"].append(measure([sys.executable, "-c", BASELINE, prefix, base_out]))
        shutil.rmtree(base_out)
        runs["convert"].append(measure(cli + ["convert", prefix, conv_out, "--no-verify", "--no-model", "--quiet"]))
        shutil.rmtree(conv_out)
        if with_model:
            runs["model"].append(measure(cli + ["convert", prefix, conv_out, "--no-verify", "--quiet"]))
            if not os.path.exists(os.path.join(conv_out, "model.keras")):  # else the rows below measure less
                raise SystemExit(f"convert wrote no whole model into {conv_out}: see its manifest's notes")
            runs["verify"].append(measure(cli + ["verify", prefix, conv_out]))
            shutil.rmtree(conv_out)
            runs["default"].append(measure(cli + ["convert", prefix, conv_out, "--quiet"]))
            shutil.rmtree(conv_out)
    best = {name: {"wall": min(r["wall"] for r in rs), "cpu": min(r["cpu"] for r in rs),
                   "peak_rss_mb": max(r["peak_rss_mb"] for r in rs), "walls": [round(r["wall"], 1) for r in rs]}
            for name, rs in runs.items()}
    for b in best.values():
        b["over_bare_mb"] = b["peak_rss_mb"] - best["bare"]["peak_rss_mb"]
    return best


def run_case(tmp: str, label: str, vocab: int, dim: int, units: int, repeat: int, with_verify: bool,
             env: dict) -> dict:
    prefix, size = _write_checkpoint(os.path.join(tmp, label), vocab, dim, units, env)
    try:
        best = _measure(tmp, "", prefix, repeat, with_verify)
    finally:
        shutil.rmtree(os.path.dirname(prefix), ignore_errors=True)
    ratio = best["convert"]["wall"] / best["baseline"]["wall"]
    cpu_ratio = best["convert"]["cpu"] / best["baseline"]["cpu"]
    return {"cpu_ratio": cpu_ratio, "label": label, "vocab": vocab, "dim": dim, "units": units, "bytes": size, "best": best,
            "time_ratio": ratio, "time_ok": ratio <= TIME_RATIO,
            "memory_ok": all(best[n]["over_bare_mb"] <= BUDGET_MB for n in ("convert", "model", "verify", "default")
                                if n in best)}


PS_START, PS_END = "<!-- bench_convert:ps:start -->", "<!-- bench_convert:ps:end -->"
PS_RATIO = 1.5  # issue 14: peak RSS within 1.5x the baseline's (reading every tensor once)
PS_GRAPHS = os.path.join(ROOT, "tests", "scale", "ps_graphs.py")
PS_SIZES = {"vocab": 200000, "dim-words": 100, "dim-tags": 25, "units": 256}
PS_RUNS = ("convert", "model", "verify", "default")
CASES = ("small", "big", "ps")


def run_ps_case(tmp: str, repeat: int, env: dict, sizes: dict = PS_SIZES) -> dict:
    """The PS-era checkpoint (``tests/scale/ps_graphs.py`` with ``sizes``, 2 devices, 3 shards): bare, baseline,
    streamed convert, convert with the whole model, verify; peak RSS of each against the baseline's."""
    directory = os.path.join(tmp, "ps")
    flags = [a for k, v in sizes.items() for a in (f"--{k}", str(v))]
    proc = subprocess.run([sys.executable, PS_GRAPHS, directory, *flags], check=True, env=env, capture_output=True,
                          text=True)
    written = json.loads(proc.stdout.strip().splitlines()[-1])
    prefix = written["prefix"]
    shards = sorted(f for f in os.listdir(directory) if ".data-" in f)
    size = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory) if f.startswith("model.ckpt"))
    try:
        best = _measure(tmp, "ps_", prefix, repeat, True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    base = best["baseline"]["peak_rss_mb"]
    for b in best.values():
        b["rss_vs_baseline"] = b["peak_rss_mb"] / base
    return {"label": "ps", "sizes": dict(sizes), "bytes": size, "shards": len(shards), "devices": written["devices"],
            "best": best, "rss_ok": {n: best[n]["rss_vs_baseline"] <= PS_RATIO for n in PS_RUNS if n in best},
            "flat_ok": {n: best[n]["over_bare_mb"] <= BUDGET_MB for n in PS_RUNS if n in best}}


def render_ps(case: dict) -> str:
    """The ps case's rows and verdict (between PS_START and PS_END)."""
    z, best = case["sizes"], case["best"]
    head = (f"PS-era: words {z['vocab']}x{z['dim-words']} (div) + tags {z['vocab']}x{z['dim-tags']} (mod), "
            f"LSTMCell({z['units']}) kernel in 2 parts, SyncReplicas(Adam) slots, {case['shards']} shards, "
            f"{case['bytes'] / 1e6:,.0f} MB")
    names = {"bare": "bare `import tensorflow, tf_keras`",
             "baseline": "baseline: import TF, `load_checkpoint`, `np.save` every tensor",
             "convert": "`rnn-migrate convert --no-verify --no-model --quiet` (streamed copies)",
             "model": "`rnn-migrate convert --no-verify --quiet` (+ whole model `model.keras`)",
             "verify": "`rnn-migrate verify` (block + whole model against the original graph, sandboxed)",
             "default": "`rnn-migrate convert --quiet` (defaults: whole model + verify)"}
    rows = [f"| {head} | {names[n]} | {b['wall']:.1f} ({', '.join(map(str, b['walls']))}) | {b['peak_rss_mb']:.0f} | "
            f"{b['over_bare_mb']:+.0f} | {b['rss_vs_baseline']:.2f}x |" for n, b in best.items()]
    verdict = "; ".join(f"{n} {best[n]['rss_vs_baseline']:.2f}x (**{'met' if ok else 'NOT met'}**)"
                        for n, ok in case["rss_ok"].items())
    return "\n".join([
        PS_START,
        "### Parameter-server-era checkpoint (`--cases ps`, issue 14)",
        "",
        f"`tests/scale/ps_graphs.py` scaled up: the graph placed over 2 devices "
        f"({', '.join(f'`{d}`' for d in case['devices'] if d)}; the dense head and the counters unplaced), "
        f"`Saver(sharded=True)` writing {case['shards']} `.data` files. Same method as above; load average "
        f"{case.get('load', [0, 0])[0]:.1f} before, {case.get('load', [0, 0])[1]:.1f} after; "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        "| checkpoint | run | wall s (runs) | peak RSS MB | over bare MB | peak RSS vs baseline |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
        "",
        f"Target: peak RSS within {PS_RATIO}x the baseline's (reading every tensor once): {verdict}."
        + (f" Issue 15's target, peak RSS at most {BUDGET_MB} MB over the bare import: " + "; ".join(
            f"{n} {best[n]['over_bare_mb']:+.0f} MB (**{'met' if ok else 'NOT met'}**)"
            for n, ok in case["flat_ok"].items()) + "." if case.get("flat_ok") else ""),
        PS_END,
    ])


def merge_section(old: str | None, main_part: str | None, ps_part: str | None) -> str:
    """The bench_convert section from the parts run now; a part not run is kept from ``old`` (the existing section)."""
    old_main, old_ps = None, None
    if old is not None:
        body = old.split(START, 1)[1].rsplit(END, 1)[0]
        if PS_START in body and PS_END in body:
            before, rest = body.split(PS_START, 1)
            old_ps, after = PS_START + rest.split(PS_END, 1)[0] + PS_END, rest.split(PS_END, 1)[1]
            body = before.rstrip("\n") + after
        old_main = body.strip("\n")
    main_text = main_part.split(START, 1)[1].rsplit(END, 1)[0].strip("\n") if main_part else old_main
    ps_text = ps_part or old_ps
    return "\n".join([START, *(p for p in (main_text, "" if main_text and ps_text else None, ps_text) if p is not None),
                      END])


def _rows(case: dict) -> list[str]:
    best, base, base_cpu = case["best"], case["best"]["baseline"]["wall"], case["best"]["baseline"]["cpu"]
    names = {"bare": "bare `import tensorflow, tf_keras`",
             "baseline": "baseline: import TF, `load_checkpoint`, `np.save` every tensor",
             "convert": "`rnn-migrate convert --no-verify --no-model --quiet` (streamed copies)",
             "model": "`rnn-migrate convert --no-verify --quiet` (+ whole model `model.keras`, streamed)",
             "verify": "`rnn-migrate verify` (blocks + whole model against the original graph, sandboxed; "
                       "every embedding row)",
             "default": "`rnn-migrate convert --quiet` (defaults: whole model + verify)"}
    head = f"{case['vocab']}x{case['dim']} embedding + 2 x BasicLSTMCell({case['units']}), {case['bytes'] / 1e6:,.0f} MB"
    rows = []
    for name in ("bare", "baseline", "convert", "model", "verify", "default"):
        if name in best:
            b = best[name]
            rows.append(f"| {head} | {names[name]} | {b['wall']:.1f} ({', '.join(map(str, b['walls']))}) | "
                        f"{b['wall'] / base:.2f}x | {b['cpu']:.1f} ({b['cpu'] / base_cpu:.2f}x) | "
                        f"{b['peak_rss_mb']:.0f} | {b['over_bare_mb']:+.0f} |")
    return rows


def _memory_verdict(case: dict, name: str) -> str:
    over = case["best"][name]["over_bare_mb"]
    label = {"convert": "convert", "model": "convert with the whole model", "verify": "verify",
             "default": "convert with the defaults"}[name]
    return f"{label} {over:+.0f} MB (**{'met' if over <= BUDGET_MB else 'NOT met'}**)"


def render(cases: list[dict], load_before: float, load_after: float) -> str:
    """The docs section for ``cases`` (as returned by :func:`run_case`)."""
    verdicts = [f"{c['bytes'] / 1e6:,.0f} MB: wall {c['time_ratio']:.2f}x (CPU {c['cpu_ratio']:.2f}x) the baseline "
                f"(**{'met' if c['time_ok'] else 'NOT met'}**), peak RSS over the bare import: "
                + ", ".join(_memory_verdict(c, n) for n in ("convert", "model", "verify", "default")
                            if n in c["best"])
                for c in cases]
    beyond = []
    for c in cases:
        b = c["best"]
        work_convert = b["convert"]["wall"] - b["bare"]["wall"]
        work_base = b["baseline"]["wall"] - b["bare"]["wall"]
        beyond.append(f"{c['bytes'] / 1e6:,.0f} MB: {work_convert:.1f} s vs {work_base:.1f} s "
                      f"({work_convert / work_base:.2f}x)" if work_base > 0 else f"{c['bytes'] / 1e6:,.0f} MB: n/a")
    return "\n".join([
        START,
        "## rnn-migrate convert (`benchmarks/bench_convert.py`)",
        "",
        "TF1 checkpoints written by `tf.compat.v1.train.Saver` into a temp dir (page cache warm for every run). Each "
        f"row is a fresh subprocess, best wall and CPU (user + sys) of the runs listed (interleaved); peak RSS (the "
        "largest of the runs) from `getrusage(RUSAGE_CHILDREN)`. "
        f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs (load average "
        f"{load_before:.1f} before, {load_after:.1f} after), Python {platform.python_version()}; "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        "| checkpoint | run | wall s (runs) | wall vs baseline | CPU s (vs baseline) | peak RSS MB | over bare MB |",
        "|---|---|---:|---:|---:|---:|---:|",
        *[row for c in cases for row in _rows(c)],
        "",
        f"Targets: convert <= {TIME_RATIO}x the baseline's wall time; convert's and verify's peak RSS at most "
        f"{BUDGET_MB} MB above the bare import. " + "; ".join(verdicts) + ".",
        "",
        "How: tensors are copied from the bundle's own bytes in 16 MiB row chunks (`migration/core/bundle_stream.py`: "
        "`preadv`, the next chunk read while one is written, CRC32C of every stored entry checked, `mod` rows "
        "gathered per chunk), in a thread beside the Keras block builds; no tensor is ever whole in memory. Both "
        "sides pay one TensorFlow import, which is most of the small case: time beyond the bare import, convert vs "
        "baseline: " + "; ".join(beyond) + ". The floor (one import + one read + one write) is above the 0.6x "
        "target where the import dominates: the bare import alone is " + "; ".join(
            f"{c['bytes'] / 1e6:,.0f} MB: {c['best']['bare']['wall'] / c['best']['baseline']['wall']:.2f}x "
            f"(CPU {c['best']['bare']['cpu'] / c['best']['baseline']['cpu']:.2f}x)" for c in cases) + " the baseline; "
        "convert needs `import tensorflow, tf_keras` for the `.meta` graph and the Keras block files. With the whole "
        "model the embedding is written twice (`embeddings/*.npy` and `model.keras`), so that row writes twice the "
        "bytes of the baseline.",
        END,
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=int, default=400000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--units", type=int, default=256)
    ap.add_argument("--big-vocab", type=int, default=3500000, help="rows of the ~4 GB case (x --dim float32)")
    ap.add_argument("--no-big", action="store_true", help="skip the ~4 GB case")
    ap.add_argument("--no-big-model", action="store_true", help="no whole-model convert / verify rows at ~4 GB")
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement (the best is kept)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    ap.add_argument("--ps-vocab", type=int, default=PS_SIZES["vocab"],
                    help="rows of the ps case's embeddings (e.g. 2x to check that memory does not grow with them)")
    ap.add_argument("--cases", default=",".join(CASES),
                    help="comma-separated cases to run, of small, big, ps (default all; --no-big drops big); the rows "
                         "of the others are kept in docs/benchmarks.md")
    args = ap.parse_args(argv)
    wanted = [c for c in args.cases.split(",") if c]
    if not wanted or set(wanted) - set(CASES):
        ap.error(f"--cases takes a comma-separated subset of {', '.join(CASES)}; got {args.cases!r}")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    os.environ.update(env)
    tmp = tempfile.mkdtemp(prefix="bench_convert-")
    load_before = os.getloadavg()
    cases, ps = [], None
    try:
        if "small" in wanted:
            cases.append(run_case(tmp, "small", args.vocab, args.dim, args.units, args.repeat, True, env))
        if "big" in wanted and not args.no_big:
            cases.append(run_case(tmp, "big", args.big_vocab, args.dim, args.units, max(1, args.repeat - 1),
                                  not args.no_big_model, env))
        if "ps" in wanted:
            ps_before = os.getloadavg()[0]
            ps = run_ps_case(tmp, args.repeat, env, {**PS_SIZES, "vocab": args.ps_vocab})
            ps["load"] = [ps_before, os.getloadavg()[0]]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()
    main_part = render(cases, load_before[0], load_after[0]) if cases else None
    section = merge_section(_read_section(), main_part, render_ps(ps) if ps else None)
    print(section)
    print(json.dumps({"cases": cases, "ps": ps}))
    if not args.no_write:
        _write_section(section)
    return 0 if all(c["time_ok"] and c["memory_ok"] for c in cases) and (ps is None or ps["rss_ok"]["convert"]) else 1


def _read_section() -> str | None:
    """The current bench_convert section of docs/benchmarks.md (None when there is none)."""
    text = open(DOC).read() if os.path.exists(DOC) else ""
    return START + text.split(START, 1)[1].split(END, 1)[0] + END if START in text and END in text else None


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
