"""Docs as tests: every fenced ```bash and ```python block of README.md and docs/*.md runs, unless the line just
before its fence is ``<!-- illustrative -->``.

The blocks of one file run in order in one fresh temporary directory (so a block may use what an earlier one
created), with the repository's ``examples/``, ``tests/``, ``docs/`` and ``benchmarks/`` linked in, the checkout on
``PYTHONPATH`` and an ``rnn-migrate`` on ``PATH`` that runs this checkout: inspect/convert/verify/export/example are
answered by this test process's ``migration.cli.main`` (tests/core/docs_shim.py: no TensorFlow import per command),
any other command is ``python -m migration``. A block fails the test when it exits non-zero (bash runs with
``-e -o pipefail``); the message names the file and line.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.core import docs_shim

ROOT = Path(__file__).resolve().parents[2]
ILLUSTRATIVE = "<!-- illustrative -->"
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)\s*$")
RUNNABLE = ("bash", "python")
LINKED = ("examples", "tests", "docs", "benchmarks")


class Block(NamedTuple):
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    illustrative: bool


def doc_files() -> list[Path]:
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def collect(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file (any language), with its language and illustrative mark."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, lang = match.groups()
        j = i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence[0] * len(fence))
                                      and lines[j].strip().strip(fence[0]) == ""):
            j += 1
        body = [line[len(indent):] if line.startswith(indent) else line for line in lines[i + 1:j]]
        marked = i > 0 and lines[i - 1].strip() == ILLUSTRATIVE
        blocks.append(Block(path, i + 1, lang.lower(), "\n".join(body) + "\n", marked))
        i = j + 1
    return blocks


class Workspace(NamedTuple):
    env: dict
    server: object  # the socket the rnn-migrate shim talks to (docs_shim)


def _workspace(tmp: Path) -> Workspace:
    for name in LINKED:
        if (ROOT / name).exists():
            (tmp / name).symlink_to(ROOT / name, target_is_directory=True)
    bin_dir = tmp.parent / f"{tmp.name}-bin"
    bin_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS",)}
    env["PATH"] = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["MPLBACKEND"] = "Agg"
    return Workspace(env, docs_shim.install(bin_dir, env))


def run_block(block: Block, cwd: Path, ws: Workspace) -> subprocess.CompletedProcess:
    """The block in a fresh bash / python; returns its process with ``answered`` (commands served in-process) set."""
    if block.lang == "bash":
        argv = ["bash", "-e", "-o", "pipefail", "-c", block.code]
    else:
        argv = [sys.executable, "-c", block.code]
    proc, answered = docs_shim.run(argv, cwd, ws.env, ws.server, timeout=600)
    proc.answered = answered
    return proc


def runnable(path: Path) -> list[Block]:
    return [b for b in collect(path) if b.lang in RUNNABLE and not b.illustrative]


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in doc_files() if runnable(p)], ids=lambda p: p.name)
def test_doc_blocks_run(path: Path, tmp_path: Path) -> None:
    blocks = runnable(path)
    work = tmp_path / "work"
    work.mkdir()
    ws = _workspace(work)
    with ws.server:
        for block in blocks:
            proc = run_block(block, work, ws)
            assert proc.returncode == 0, (
                f"{path.relative_to(ROOT)}:{block.line}: the ```{block.lang} block exited {proc.returncode}. Fix it, "
                f"or mark it with {ILLUSTRATIVE} on the line before the fence if it is not meant to run.\n"
                f"--- stdout ---\n{proc.stdout[-2000:]}\n--- stderr ---\n{proc.stderr[-3000:]}")


def test_collector_reads_fences_marks_and_languages(tmp_path: Path) -> None:
    doc = tmp_path / "d.md"
    doc.write_text("text\n```bash\necho one\n```\n<!-- illustrative -->\n```python\nraise SystemExit(1)\n```\n"
                   "```text\nnot run\n```\n- item\n\n  ```python\n  print('indented')\n  ```\n````bash\n```\n````\n")
    blocks = collect(doc)
    assert [(b.lang, b.line, b.illustrative) for b in blocks] == [
        ("bash", 2, False), ("python", 6, True), ("text", 9, False), ("python", 14, False), ("bash", 17, False)]
    assert blocks[3].code == "print('indented')\n" and blocks[4].code == "```\n"


def test_a_failing_block_is_caught(tmp_path: Path) -> None:
    """Control: the runner really runs blocks and reports their exit status (bash -e stops at the first failure); a
    command the shim answers in this process gives the block its output, stderr and exit code like a fresh one."""
    work = tmp_path / "w"
    work.mkdir()
    ws = _workspace(work)
    with ws.server:
        bad = Block(tmp_path / "x.md", 1, "bash", "false\necho never\n", False)
        assert run_block(bad, work, ws).returncode != 0
        ok = run_block(Block(tmp_path / "x.md", 1, "bash", "test -d examples && rnn-migrate --help >/dev/null\n",
                             False), work, ws)
        assert ok.returncode == 0 and ok.answered == 0, ok.stderr  # --help: python -m migration
        code = Block(tmp_path / "x.md", 1, "python", "import sys; sys.exit(3)\n", False)
        assert run_block(code, work, ws).returncode == 3
        served = run_block(Block(tmp_path / "x.md", 1, "bash", "rnn-migrate inspect missing.ckpt\necho never\n", False),
                           work, ws)
        assert served.returncode == 2 and served.answered == 1 and "never" not in served.stdout
        assert "missing.ckpt" in served.stderr, served.stderr
        piped = run_block(Block(tmp_path / "x.md", 1, "bash", "(rnn-migrate inspect missing.ckpt --json || test $? = 2) "
                                "| grep -q '\"exit_code\": 2}$'\n", False), work, ws)
        assert piped.returncode == 0 and piped.answered == 1, piped.stderr[-3000:]
        same_env = Block(tmp_path / "x.md", 1, "bash", "RNN_MIGRATE_TF_LOGS=1 rnn-migrate inspect missing.ckpt || true\n",
                         False)
        assert run_block(same_env, work, ws).answered == 0  # a variable this process lacks: a fresh process
