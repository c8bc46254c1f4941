"""Benchmark reading a checkpoint without TensorFlow: whole processes, side by side.

Rows, each a fresh ``python`` process (interleaved, ``--repeat`` runs each; median and best wall, CPU = user + sys of
the child from ``getrusage(RUSAGE_CHILDREN)``):

* ``python -c pass``: the interpreter alone;
* ``python -c "import tensorflow"``: what every checkpoint command paid first before ``inspect`` stopped importing it;
* ``migration.core.tfproto``: import it, read the checkpoint's ``.index`` (every entry, CRC-checked), its ``.meta``
  (the whole MetaGraphDef) and walk every node of the graph and of its functions: the reading ``inspect`` needs;
* ``rnn-migrate inspect CKPT`` and ``rnn-migrate inspect CKPT --json`` (``python -m migration``), which import no
  TensorFlow (checked once per call here: the run is repeated with ``-X importtime`` and its log searched).

The checkpoint is the demo's (``python -m migration demo --workdir DIR`` is run once when ``--checkpoint`` is not
given: about a minute). Writes its section of docs/benchmarks.md between ``<!-- bench_tfless:start -->`` and
``<!-- bench_tfless:end -->`` unless ``--no-write``; prints the table either way.

    python benchmarks/bench_tfless.py [--checkpoint PREFIX] [--repeat 5] [--no-write]
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

REPO = Path(__file__).resolve().parents[1]
START, END = "<!-- bench_tfless:start -->", "<!-- bench_tfless:end -->"

READ_TFLESS = """
import json, sys
from migration.core.tfproto import read_index, read_meta
prefix = sys.argv[1]
index = read_index(prefix + ".index")
meta = read_meta(prefix + ".meta")
nodes = len(meta.graph_def.node) + sum(len(f.node_def) for f in meta.graph_def.library.function)
ops = {n.op for n in meta.graph_def.node}
assert "tensorflow" not in sys.modules and "tf_keras" not in sys.modules
print(json.dumps({"variables": len(index.variables), "nodes": nodes, "ops": len(ops)}))
"""


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONHASHSEED"] = "0"
    return env


def timed(argv: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of one child process, and its stdout; raises if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), cwd=str(REPO))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):  # inspect exits 1 for a checkpoint convert would refuse
        raise RuntimeError(f"{argv} exited {proc.returncode}: {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def demo_checkpoint(workdir: str) -> str:
    subprocess.run([sys.executable, "-m", "migration", "demo", "--workdir", workdir, "--quiet"], env=_env(),
                   cwd=str(REPO), check=True, capture_output=True)
    tf1 = os.path.join(workdir, "tf1")
    index = sorted(p for p in os.listdir(tf1) if p.endswith(".index"))[-1]
    return os.path.join(tf1, index[: -len(".index")])


def rows_for(prefix: str) -> list[tuple[str, list[str]]]:
    py = sys.executable
    return [
        ("`python -c pass` (the interpreter alone)", [py, "-c", "pass"]),
        ("`python -c \"import tensorflow\"`", [py, "-c", "import tensorflow"]),
        ("`migration.core.tfproto`: import, read `.index` + `.meta`, walk every node (no TensorFlow)",
         [py, "-c", READ_TFLESS, prefix]),
        ("`rnn-migrate inspect CKPT`", [py, "-m", "migration", "inspect", prefix]),
        ("`rnn-migrate inspect CKPT --json`", [py, "-m", "migration", "inspect", prefix, "--json"]),
    ]


def imports_no_tensorflow(prefix: str) -> bool:
    """``inspect`` (tables and JSON) runs without importing TensorFlow or tf_keras (``-X importtime``'s log)."""
    for flags in (["--json"], []):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "migration", "inspect", prefix, *flags],
                              capture_output=True, text=True, env=_env(), cwd=str(REPO))
        names = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time")}
        if proc.returncode not in (0, 1) or not proc.stdout.strip() or {"tensorflow", "tf_keras"} & names:
            return False
    return True


def measure(prefix: str, repeat: int) -> tuple[list[dict], dict]:
    rows = rows_for(prefix)
    results = [{"name": name, "wall": [], "cpu": []} for name, _ in rows]
    details: dict = {}
    for _ in range(repeat):
        for result, (_, argv) in zip(results, rows):  # interleaved: load changes hit every row alike
            wall, cpu, out = timed(argv)
            result["wall"].append(wall)
            result["cpu"].append(cpu)
            if out.strip() and "read" not in details and "tfproto" in result["name"]:
                details["read"] = json.loads(out.strip().splitlines()[-1])
    return results, details


def table(results: list[dict]) -> str:
    base = statistics.median(results[1]["wall"])
    lines = ["| process | wall s, median (best) | CPU s, median | wall vs `import tensorflow` |",
             "|---|---:|---:|---:|"]
    for r in results:
        wall = statistics.median(r["wall"])
        lines.append(f"| {r['name']} | {wall:.2f} ({min(r['wall']):.2f}) | {statistics.median(r['cpu']):.2f} | "
                     f"{wall / base:.2f}x |")
    return "\n".join(lines)


def section(prefix: str, results: list[dict], details: dict, load: tuple[float, float], repeat: int,
            tf_free: bool) -> str:
    files = {ext: os.path.getsize(prefix + ext) for ext in (".index", ".meta")}
    read = details.get("read", {})
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load average "
               f"{load[0]:.1f} before, {load[1]:.1f} after")
    noisy = max(load) > 0.5 * (os.cpu_count() or 1)
    return "\n".join([
        START, "## Reading without TensorFlow: `inspect` (`benchmarks/bench_tfless.py`)", "",
        f"The demo's checkpoint (`rnn-migrate demo`: seed-004 sentiment model, GloVe 18,857 x 50 as a graph Const): "
        f"`.index` {files['.index']:,} bytes ({read.get('variables', '?')} variables), `.meta` {files['.meta']:,} "
        f"bytes ({read.get('nodes', '?')} nodes in the graph and its functions). Each row is a whole process, "
        f"{repeat} runs interleaved. Machine: {machine}"
        + ("; **shared and noisy** (other jobs on the same cores: wall times are inflated and vary; CPU seconds, "
           "user + sys of the process, move less and are the closer estimate of an idle machine's wall time)."
           if noisy else "."), "",
        table(results), "",
        "`inspect` reads the index, the `checkpoint` state file and the `.meta` with `migration.core.tfproto` "
        "(`migration/checkpoint/reader.py`, `meta.py`); TensorFlow is imported only when a tensor is read (`convert`, "
        "`verify`, `export`). In this run `inspect` "
        + ("imported neither TensorFlow nor tf_keras" if tf_free else "**imported TensorFlow**: a regression")
        + " (`-X importtime`); `tests/checkpoint/test_inspect_without_tf.py` checks it and that its report equals "
        "the one computed from TensorFlow's own readers. Acceptance target: <= 1.0 s wall on an idle 2-core machine; "
        "on a loaded machine the CPU column is the closer estimate of that wall time.",
        END,
    ])


def write_section(text: str) -> None:
    path = REPO / "docs" / "benchmarks.md"
    doc = path.read_text(encoding="utf-8")
    if START in doc and END in doc:
        doc = doc[: doc.index(START)] + text + doc[doc.index(END) + len(END):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="checkpoint prefix with its .index and .meta (default: the demo's)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tfless-") as tmp:
        prefix = args.checkpoint or demo_checkpoint(tmp)
        before = os.getloadavg()[0]
        tf_free = imports_no_tensorflow(prefix)
        results, details = measure(prefix, args.repeat)
        load = (before, os.getloadavg()[0])
        text = section(prefix, results, details, load, args.repeat, tf_free)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
