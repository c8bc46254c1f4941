"""Side by side with TensorFlow's own ``tf_upgrade_v2`` on the end-to-end fixture programs: which upgraded programs run.

For each program in ``tests/upgrade/fixtures/programs`` (and each notebook's code cells), the program is upgraded by
``tf_upgrade_v2`` (the installed TensorFlow's ``tensorflow.tools.compatibility`` API: ``ASTCodeUpgrader`` with
``TFAPIChangeSpec``) and by ``rnn-migrate upgrade --to compat``, and each result is run in a fresh process with
``TF_USE_LEGACY_KERAS`` unset (the normal state of a user's shell), the repository on ``PYTHONPATH``. A run counts as
"runs" when it exits 0 and prints its ``RESULT`` line; otherwise the last line of the error is shown. A third run gives
``tf_upgrade_v2`` the two things every one of its outputs needed first: ``TF_USE_LEGACY_KERAS=1`` set before the
import and ``tf.compat.v1.disable_eager_execution()`` after it (added by hand here), to show what is left after them.

    python benchmarks/compare_tf_upgrade_v2.py [--timeout 300] [--log FILE]

Prints only a markdown table on stdout (docs/upgrading.md quotes it). ``tf_upgrade_v2`` prints its per-line
``INFO``/``WARNING`` log itself; that log goes to ``--log`` (default: a temporary file, named on stderr), never to
stdout. Nothing is written to the repository.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PROGRAMS = REPO / "tests" / "upgrade" / "fixtures" / "programs"


def _source(path: Path) -> str:
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    from migration.upgrade.notebooks import is_cell_magic, is_magic

    lines = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "code":
            src = "".join(cell["source"])
            if not is_cell_magic(src):
                lines += [ln for ln in src.split("\n") if not is_magic(ln)]
    return "\n".join(lines) + "\n"


def tf_upgrade_v2(src: str, tmp: Path, log) -> tuple[str, int]:
    """(upgraded code, number of errors tf_upgrade_v2 reported); its own log lines are written to ``log``."""
    import migration  # noqa: F401
    from tensorflow.tools.compatibility import ast_edits, tf_upgrade_v2 as spec

    inp, out = tmp / "in.py", tmp / "out.py"
    inp.write_text(src, encoding="utf-8")
    upgrader = ast_edits.ASTCodeUpgrader(spec.TFAPIChangeSpec())
    with contextlib.redirect_stdout(log):
        _, _, errors = upgrader.process_file(str(inp), str(out))
    return out.read_text(encoding="utf-8"), len(errors)


def rnn_migrate(src: str) -> tuple[str, int]:
    from migration.upgrade import upgrade_source

    result = upgrade_source(src, "compat")
    return result.code, len(result.manual_checks)


def run(code: str, tmp: Path, timeout: float) -> str:
    prog = tmp / "prog.py"
    prog.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg", PYTHONPATH=str(REPO))
    try:
        proc = subprocess.run([sys.executable, str(prog)], cwd=tmp, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    if proc.returncode == 0 and "RESULT " in proc.stdout:
        return "runs"
    err = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    return (err[-1] if err else f"exit {proc.returncode}")[:110]


def helped(code: str) -> str:
    """tf_upgrade_v2's output with the bootstrap and graph mode added by hand."""
    lines = code.split("\n")
    at = next((i for i, ln in enumerate(lines) if ln.strip() == "import tensorflow as tf"), None)
    if at is None:
        return code
    lines.insert(at + 1, "tf.compat.v1.disable_eager_execution()")
    lines.insert(at, "import os; os.environ['TF_USE_LEGACY_KERAS'] = '1'")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--log", help="where tf_upgrade_v2's own log goes (default: a temporary file)")
    args = ap.parse_args()
    log_path = args.log
    if log_path is None:
        fd, log_path = tempfile.mkstemp(prefix="tf_upgrade_v2-", suffix=".log")
        os.close(fd)
    print(f"tf_upgrade_v2's log: {log_path}", file=sys.stderr)
    with open(log_path, "w", encoding="utf-8") as log:
        print("\n".join(table(args.timeout, log)))


def table(timeout: float, log) -> list[str]:
    """The markdown rows, one per fixture program, and a total row."""
    rows = ["| program | `tf_upgrade_v2` (errors reported) | result runs? | ... + eager off + TF_USE_LEGACY_KERAS "
            "by hand | `rnn-migrate upgrade --to compat` (manual checks) | result runs? |", "|---|---|---|---|---|---|"]
    totals = [0, 0, 0]
    for path in sorted(PROGRAMS.iterdir()):
        if path.suffix not in (".py", ".ipynb"):
            continue
        src = _source(path)
        with tempfile.TemporaryDirectory() as t1, tempfile.TemporaryDirectory() as t2:
            code1, n1 = tf_upgrade_v2(src, Path(t1), log)
            r1 = run(code1, Path(t1), timeout)
            r1b = run(helped(code1), Path(t1), timeout)
            code2, n2 = rnn_migrate(src)
            r2 = run(code2, Path(t2), timeout)
        totals[0] += r1 == "runs"
        totals[1] += r2 == "runs"
        totals[2] += r1b == "runs"

        def cell(r: str) -> str:
            return "**yes**" if r == "runs" else "no: `" + r.replace("|", "/").replace("`", "'") + "`"

        rows.append(f"| `{path.name}` | {n1} | {cell(r1)} | {cell(r1b)} | {n2} | {cell(r2)} |")
        print(rows[-1], file=sys.stderr, flush=True)
    n = len(rows) - 2
    rows.append(f"| **total** | | **{totals[0]} of {n}** | **{totals[2]} of {n}** | | **{totals[1]} of {n}** |")
    return rows


if __name__ == "__main__":
    main()
