"""Survey (issue 24): every whole model the checkpoint test suite converts, through the Keras 3 and ONNX targets.

Three steps, each resumable (the machine is shared: run them in parts, under ``timeout``):

1. ``run``: the suite's tests (``tests/checkpoint`` minus ``test_targets_suite_whole.py``, and ``tests/seq2seq``;
   or the files given) under pytest with the plugin :mod:`survey_record`, which records every in-process conversion
   that wrote a whole ``model.keras`` (test node id, options, a copy of the checkpoint). Conversions run in a child
   process (``run_cli``) are found from their ``manifest.json`` under the run's ``--basetemp``.
2. ``check --part K/N``: each recorded checkpoint (once per distinct files + options) converted again, in this
   process, with ``targets=["keras3", "onnx"]`` and the options the first conversion used (``forget_bias``,
   ``outputs``, ``use_ema``, ``with_optimizer``, ``meta``); each whole-model file is run on the inputs ``verify``
   feeds (:func:`migration.graph.whole_model.sample_feeds`: batch 4, 6 steps, ragged lengths, seed 0) and compared
   with the ORIGINAL graph (sandbox; EMA shadows substituted when the conversion used them): Keras 3 on TensorFlow
   here, on JAX in one child process per part, ONNX in onnxruntime. A target without a whole model gives the note
   the conversion wrote (the refusal's reason); a conversion that raises gives its error.
3. ``table``: one markdown row per whole model (test module, program, glue, max |diff| per target or the reason).

    python benchmarks/survey_targets.py run --dir /tmp/survey [FILES...]
    python benchmarks/survey_targets.py check --dir /tmp/survey --part 1/4
    python benchmarks/survey_targets.py table --dir /tmp/survey
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import traceback
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = 1e-5
TARGETS = ("keras3", "onnx")
KEYS = (("keras3", "tensorflow"), ("keras3", "jax"), ("onnx", "onnxruntime"))


def default_files() -> list[str]:
    tests = sorted(glob.glob(os.path.join(ROOT, "tests", "checkpoint", "test_*.py")))
    return [os.path.relpath(f, ROOT) for f in tests if not f.endswith("test_targets_suite_whole.py")] + [
        os.path.join("tests", "seq2seq")]


def run(directory: str, files: list[str], workers: str, timeout: int) -> int:
    """Step 1: pytest with the recording plugin; basetemp ``DIR/bt-<n>`` (a new one per call)."""
    os.makedirs(directory, exist_ok=True)
    n = len(glob.glob(os.path.join(directory, "bt-*")))
    env = dict(os.environ, RNN_MIGRATE_SURVEY_DIR=os.path.join(directory, "rec"),
               PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "benchmarks"), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "pytest", *(files or default_files()), "-p", "survey_record", "-n", workers, "-q",
           f"--basetemp={os.path.join(directory, f'bt-{n}')}", "-p", "no:cacheprovider"]
    return subprocess.run(cmd, cwd=ROOT, env=env, timeout=timeout).returncode


def _manifest_rows(directory: str, recorded_outs: set) -> list[dict]:
    """Conversions the plugin did not see (child processes): their manifests under the basetemps."""
    rows = []
    seen = {os.path.realpath(o) for o in recorded_outs}
    for path in sorted(glob.glob(os.path.join(directory, "bt*", "**", "manifest.json"), recursive=True)):
        out = os.path.dirname(path)
        if os.path.realpath(out) in seen:
            continue
        seen.add(os.path.realpath(out))
        try:
            with open(path, encoding="utf-8") as f:
                manifest = json.load(f)
        except (OSError, ValueError):
            continue
        if not manifest.get("model") or manifest.get("targets") or not manifest.get("checkpoint"):
            continue
        if not glob.glob(glob.escape(manifest["checkpoint"]) + ".index"):
            continue
        options = {"forget_bias": manifest["hyper_parameters"].get("forget_bias_override"),
                   "outputs": None, "use_ema": manifest["ema"]["used"], "with_optimizer": manifest["with_optimizer"]}
        rel = [p for p in os.path.relpath(out, directory).split(os.sep)[1:] if not p.startswith("popen-gw")]
        rows.append({"nodeid": f"(child process) {'/'.join(rel)}", "prefix": manifest["checkpoint"],
                     "meta": manifest.get("meta") if manifest.get("meta") != manifest["checkpoint"] + ".meta" else None,
                     "out": out, "options": options, "outputs": manifest["model"].get("outputs"),
                     "key": "cli-" + hashlib.sha256(os.path.realpath(out).encode()).hexdigest()[:16]})
    return rows


def _content_key(row: dict) -> str:
    """The checkpoint's files (names and bytes) and the options, normalised (a CLI run and an in-process call of
    the same conversion are one row)."""
    o = row["options"]
    options = [o.get("forget_bias"), o.get("outputs"), bool(o.get("use_ema")), bool(o.get("with_optimizer"))]
    digest = hashlib.sha256(json.dumps(options, default=str).encode())
    files = sorted(p for p in glob.glob(glob.escape(row["prefix"]) + ".*") if os.path.isfile(p))
    for path in files + ([row["meta"]] if row.get("meta") and os.path.isfile(row["meta"]) else []):
        digest.update(os.path.basename(path).encode())
        with open(path, "rb") as f:
            digest.update(hashlib.sha256(f.read()).digest())
    return digest.hexdigest()


def collect(directory: str) -> list[dict]:
    """One row per distinct (checkpoint files, options): the node ids of every test that converted it."""
    rows = []
    for path in sorted(glob.glob(os.path.join(directory, "rec", "records-*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            rows += [json.loads(line) for line in f if line.strip()]
    rows += _manifest_rows(directory, {r["out"] for r in rows})
    by_key: dict[str, dict] = {}
    for row in rows:
        entry = by_key.setdefault(_content_key(row), dict(row, nodeids=[]))
        if (entry["key"].startswith("cli-"), entry["key"]) > (row["key"].startswith("cli-"), row["key"]):
            entry.update({k: v for k, v in row.items() if k != "nodeids"})  # a stable key: the least recorded one
        if row["nodeid"] not in entry["nodeids"]:
            entry["nodeids"].append(row["nodeid"])
    return sorted(by_key.values(), key=lambda r: (r["nodeids"][0] or "", r["key"]))


def glue(out: str) -> str:
    """The Keras 2 whole model's layer classes and glue functions (its config, no TensorFlow)."""
    path = os.path.join(out, "model.keras")
    if not os.path.isfile(path):
        return "?"
    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read("config.json"))
    seen: list[str] = []
    for layer in config["config"]["layers"]:
        cls = layer["class_name"]
        what = layer["config"].get("function", cls) if cls in ("TFOpLambda", "SlicingOpLambda") else cls
        what = what.replace("compat.v1.", "")
        if cls in ("Functional", "Model"):
            what = "block"
        if what not in seen and cls != "InputLayer":
            seen.append(what)
    return ", ".join(seen)


def _diff(expected, got) -> float:
    import numpy as np

    if len(expected) != len(got):
        return float("inf")
    return max([float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.shape(a) == np.shape(b) else float("inf")
                for a, b in zip(expected, got)] or [0.0])


def keras2_outputs(out: str, args: list) -> list:
    """The Keras 2 whole model's outputs on ``args``."""
    import numpy as np

    import modern_rnn  # noqa: F401  (custom cells registered)
    from migration.families import register_keras_classes
    from migration.safe_io import load_block_model

    register_keras_classes()
    got = load_block_model(out, "model.keras")(args[0] if len(args) == 1 else args, training=False)
    return [np.asarray(g) for g in (got if isinstance(got, (list, tuple)) else [got])]


def check_row(row: dict, work: str, jax_jobs: list) -> dict:
    """Convert ``row``'s checkpoint with both targets and check the whole-model files (JAX jobs appended)."""
    import numpy as np

    from migration.checkpoint.convert import convert_checkpoint
    from migration.checkpoint.reader import CheckpointReader
    from migration.core.errors import MigrationError
    from migration.graph.reference import OriginalGraph
    from migration.graph.whole_model import sample_feeds
    from migration.targets import keras3, onnx_export

    out = os.path.join(work, row["key"])
    shutil.rmtree(out, ignore_errors=True)
    options = {k: v for k, v in row["options"].items() if v is not None}
    result = {"key": row["key"], "nodeids": row["nodeids"], "out": row["out"], "diffs": {}, "reasons": {}}
    try:
        manifest = convert_checkpoint(row["prefix"], out, targets=list(TARGETS), verify=False,
                                      meta_path=row.get("meta"), **options).manifest
    except MigrationError as exc:
        result["error"] = f"refused ({type(exc).__name__}): {exc}"
        return result
    except Exception as exc:  # noqa: BLE001 - a survey row, not a product path
        result["error"] = f"crash ({type(exc).__name__}): {exc}\n{traceback.format_exc()[-1500:]}"
        return result
    result["glue"] = glue(out)
    targets = manifest["targets"]
    for target in TARGETS:
        if not targets[target].get("model"):
            result["reasons"][target] = [n for n in targets.get("notes", []) if n.startswith(f"{target}:")] or \
                                        targets[target].get("not_exported")
    entry = next((targets[t]["model"] for t in TARGETS if targets[t].get("model")), None)
    if entry is None:
        return result
    try:
        meta = row.get("meta") or manifest.get("meta") or row["prefix"] + ".meta"
        shadows = manifest["ema"]["shadows"] if manifest["ema"]["used"] else None
        original = OriginalGraph(meta, CheckpointReader(row["prefix"]), substitute=shadows)
        feeds = sample_feeds(original, entry["inputs"], 4, 6, 0)
        expected = [np.asarray(a) for a in original.run(entry["outputs"], feeds)]
        args = [feeds[n] for n in entry["inputs"]]
        if options.get("forget_bias") is not None:  # --forget-bias overrides the graph's: the Keras 2 model is the
            expected = keras2_outputs(out, args)     # reference (the original graph computes another function)
            result["reference"] = "keras2 (forget_bias override)"
        np.savez(os.path.join(work, row["key"] + ".npz"), *(args + expected), n_args=len(args))
        if targets["onnx"].get("model"):
            got = onnx_export.session(os.path.join(out, "model.onnx")).run(
                None, dict(zip(entry["model_inputs"], args)))
            result["diffs"]["onnx/onnxruntime"] = _diff(expected, got)
        if targets["keras3"].get("model"):
            path = os.path.join(out, "model.keras3.keras")
            got = keras3.load_block(path)(args[0] if len(args) == 1 else args, training=False)
            got = [np.asarray(g) for g in (got if isinstance(got, (list, tuple)) else [got])]
            result["diffs"]["keras3/tensorflow"] = _diff(expected, got)
            jax_jobs.append((row["key"], path, args, expected))
    except Exception as exc:  # noqa: BLE001
        result["error"] = f"check crash ({type(exc).__name__}): {exc}\n{traceback.format_exc()[-1500:]}"
    return result


def check(directory: str, part: str, match: str = "", redo: bool = False) -> None:
    """Step 2 for part ``K/N`` of the collected rows: results appended to ``DIR/results.jsonl``."""
    sys.path.insert(0, ROOT)
    import migration  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
    from migration.targets.verify_targets import run_keras3_elsewhere

    k, n = (int(v) for v in part.split("/"))
    rows = collect(directory)
    mine = [r for r in rows[k - 1::n] if not match or any(re.search(match, i or "") for i in r["nodeids"])]
    done_path = os.path.join(directory, "results.jsonl")
    done = set()
    if os.path.exists(done_path):
        with open(done_path, encoding="utf-8") as f:
            done = {r["key"] for r in map(json.loads, filter(str.strip, f))}  # partial ones: the jax step
    work = os.path.join(directory, "targets-out")
    results, jax_jobs = [], []
    seen: dict[str, int] = {}  # the first row of each test module first (a pass cut short still covers most)
    checked = {(r["nodeids"][0] or "").split("::")[0] for r in rows if r["key"] in done}
    ranked = []
    for row in mine:
        module = (row["nodeids"][0] or "").split("::")[0]
        seen[module] = seen.get(module, 0) + 1
        ranked.append((seen[module] + (module in checked), row))
    mine = [row for _, row in sorted(ranked, key=lambda item: item[0])]
    for row in mine:
        if row["key"] in done and not redo:
            continue
        print(f"[{len(results) + 1}/{len(mine)}] {row['nodeids'][0]}", flush=True)
        results.append(check_row(row, work, jax_jobs))
        with open(done_path, "a", encoding="utf-8") as f:  # seen at once (the JAX diffs follow in a later line)
            f.write(json.dumps(dict(results[-1], partial=True)) + "\n")
        import keras
        import tf_keras

        keras.backend.clear_session()
        tf_keras.backend.clear_session()
    by_key = {r["key"]: r for r in results}
    if jax_jobs:
        try:
            outputs, _ = run_keras3_elsewhere([(p, a) for _, p, a, _ in jax_jobs], "jax")
            for (key, _, _, expected), got in zip(jax_jobs, outputs):
                by_key[key]["diffs"]["keras3/jax"] = _diff(expected, got)
        except Exception:  # noqa: BLE001 - one job failed the child: run them one by one to name it
            for key, path, args, expected in jax_jobs:
                try:
                    outputs, _ = run_keras3_elsewhere([(path, args)], "jax")
                    by_key[key]["diffs"]["keras3/jax"] = _diff(expected, outputs[0])
                except Exception as exc:  # noqa: BLE001
                    by_key[key]["reasons"]["keras3/jax"] = f"crash ({type(exc).__name__}): {exc}"
    with open(done_path, "a", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")


def jax_step(directory: str) -> None:
    """The Keras 3 JAX diffs of rows checked without them (a ``check`` pass cut by its timeout): their inputs and
    reference outputs again (saved by ``check``, else from the original graph), one child process for all."""
    sys.path.insert(0, ROOT)
    import numpy as np

    import migration  # noqa: F401
    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.reference import OriginalGraph
    from migration.graph.whole_model import sample_feeds
    from migration.targets.verify_targets import run_keras3_elsewhere

    done_path = os.path.join(directory, "results.jsonl")
    with open(done_path, encoding="utf-8") as f:
        latest = {r["key"]: r for r in map(json.loads, filter(str.strip, f))}
    rows = {r["key"]: r for r in collect(directory)}
    work = os.path.join(directory, "targets-out")
    jobs = []
    for key, r in latest.items():
        path = os.path.join(work, key, "model.keras3.keras")
        if "keras3/tensorflow" not in r["diffs"] or "keras3/jax" in r["diffs"] or not os.path.isfile(path):
            continue
        saved = os.path.join(work, key + ".npz")
        if os.path.isfile(saved):
            data = np.load(saved, allow_pickle=False)
            n = int(data["n_args"])
            arrays = [data[f"arr_{i}"] for i in range(len(data.files) - 1)]
            args, expected = arrays[:n], arrays[n:]
        else:
            with open(os.path.join(work, key, "manifest.json"), encoding="utf-8") as f:
                manifest = json.load(f)
            entry, row = manifest["targets"]["keras3"]["model"], rows.get(key) or {}
            prefix = row.get("prefix") or manifest["checkpoint"]
            meta = row.get("meta") or manifest.get("meta") or prefix + ".meta"
            original = OriginalGraph(meta, CheckpointReader(prefix),
                                     substitute=manifest["ema"]["shadows"] if manifest["ema"]["used"] else None)
            feeds = sample_feeds(original, entry["inputs"], 4, 6, 0)
            args = [feeds[n] for n in entry["inputs"]]
            if (row.get("options") or {}).get("forget_bias") is not None:
                expected = keras2_outputs(os.path.join(work, key), args)
            else:
                expected = [np.asarray(a) for a in original.run(entry["outputs"], feeds)]
        jobs.append((key, path, args, expected))
    print(f"{len(jobs)} JAX jobs", flush=True)
    if not jobs:
        return
    try:
        outputs, note = run_keras3_elsewhere([(p, a) for _, p, a, _ in jobs], "jax")
    except Exception:  # noqa: BLE001 - one job failed the child: one by one, to name it
        outputs, note = [], "one child per job"
        for _, path, args, _ in jobs:
            try:
                outputs.append(run_keras3_elsewhere([(path, args)], "jax")[0][0])
            except Exception as exc:  # noqa: BLE001
                outputs.append(f"crash ({type(exc).__name__}): {exc}")
    with open(done_path, "a", encoding="utf-8") as f:
        for (key, _, _, expected), got in zip(jobs, outputs):
            r = dict(latest[key], partial=False)
            if isinstance(got, str):
                r["reasons"]["keras3/jax"] = got
            else:
                r["diffs"]["keras3/jax"] = _diff(expected, got)
            f.write(json.dumps(r) + "\n")
    print(note)


def _module(nodeids: list[str]) -> str:
    mods = []
    for nodeid in nodeids:
        mod = (nodeid or "?").split("::")[0].replace("tests/", "")
        if mod not in mods:
            mods.append(mod)
    return ", ".join(mods[:3]) + (f" (+{len(mods) - 3})" if len(mods) > 3 else "")


def _program(nodeids: list[str]) -> str:
    tests = [n.split("::", 1)[1].split("@")[0] for n in nodeids if n and "::" in n]
    return (tests[0][:70] if tests else "?") + (f" (+{len(nodeids) - 1} tests)" if len(nodeids) > 1 else "")


def table(directory: str) -> str:
    """Step 3: the markdown table of ``DIR/results.jsonl`` (latest result per key)."""
    latest = {}
    with open(os.path.join(directory, "results.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                latest[r["key"]] = r
    current = {r["key"]: r["nodeids"] for r in collect(directory)}  # one row per checkpoint files + options
    latest = {k: dict(r, nodeids=current[k]) for k, r in latest.items() if k in current}
    lines = ["| test module | test (program) | whole model (glue) | keras3 TF | keras3 JAX | onnx |",
             "|---|---|---|---:|---:|---:|"]
    for r in sorted(latest.values(), key=lambda r: r["nodeids"][0] or ""):
        if r.get("error"):
            cells = [r["error"].splitlines()[0][:200]] * 3
        else:
            cells = []
            for target, backend in KEYS:
                key = f"{target}/{backend}"
                if key in r["diffs"]:
                    v = r["diffs"][key]
                    cells.append(("0" if v == 0 else f"{v:.1e}") + ("" if v <= TOL else " **FAIL**"))
                elif r.get("partial") and target == "keras3" and "keras3/tensorflow" in r["diffs"]:
                    cells.append("(pending)")
                else:
                    why = r["reasons"].get(key) or r["reasons"].get(target) or ["?"]
                    if key == "keras3/jax" and "File not found" in str(why):  # a later pass replaced the file
                        cells.append("not run")
                        continue
                    cells.append("refused: " + (why if isinstance(why, str) else "; ".join(why))[:200])
        cells = [c if k == 0 or c != cells[k - 1] or not c.startswith("refused") else "(same)"
                 for k, c in enumerate(cells)]
        glue_cell = r.get("glue", "-") + (f" (reference: {r['reference']})" if r.get("reference") else "")
        lines.append(f"| {_module(r['nodeids'])} | {_program(r['nodeids'])} | {glue_cell} | "
                     + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("run", "check", "jax", "table", "list"))
    parser.add_argument("files", nargs="*")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--part", default="1/1")
    parser.add_argument("--workers", default="2")
    parser.add_argument("--match", default="", help="check only rows with a test node id matching this regex")
    parser.add_argument("--redo", action="store_true", help="check the matching rows again (after a fix)")
    parser.add_argument("--timeout", type=int, default=3600)
    args = parser.parse_args(argv)
    if args.step == "run":
        return run(args.dir, args.files, args.workers, args.timeout)
    if args.step == "check":
        check(args.dir, args.part, args.match, args.redo)
    elif args.step == "jax":
        jax_step(args.dir)
    elif args.step == "list":
        for row in collect(args.dir):
            print(row["key"], len(row["nodeids"]), row["nodeids"][0], row["options"])
    else:
        print(table(args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
