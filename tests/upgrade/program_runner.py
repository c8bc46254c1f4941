"""Upgraded TF1 programs run as ``python prog.py`` runs them, without paying TensorFlow's import once per program.

A fresh process spends ~5 CPU s importing TensorFlow; the test programs train for about a second. A
:class:`ProgramRunner` keeps one *zygote* per (prelude, environment): a fresh ``python`` started with the environment
the test gives (e.g. TF_USE_LEGACY_KERAS unset) that executes the program's own prelude, imports TensorFlow, then forks
one child per program (tests/upgrade/zygote.py). The child sees what a fresh process running the program sees once
its prelude ran and TensorFlow was imported.

The prelude (:func:`prelude`) is the program's leading statements before anything else runs: its docstring,
``from __future__`` and standard-library imports, and the ``os.environ`` settings (the bootstrap the upgrade adds). A
program that touches ``os.environ`` after its prelude is refused (its TensorFlow import could see other settings than
the zygote's). Programs share a zygote only when their preludes make the same ``os.environ`` settings, so a program
whose bootstrap is missing or different imports TensorFlow under the settings it really makes (negative control:
test_programs_e2e.py::test_runner_honours_a_missing_bootstrap).
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ZYGOTE = Path(__file__).with_name("zygote.py")
REPO = Path(__file__).resolve().parents[2]
#: the xdist group of every test that runs programs (one worker: the zygotes start once per run)
GROUP = "upgrade_programs"


def program_env() -> dict[str, str]:
    """The environment the upgrade tests run programs in: TF_USE_LEGACY_KERAS unset (the bootstrap the upgrade adds
    must set it), this repository on PYTHONPATH, quiet TensorFlow, matplotlib without a display, fixed hashes."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", "PYTEST_CURRENT_TEST")}
    env.update(MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _stdlib_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        return all(alias.name.split(".")[0] in sys.stdlib_module_names for alias in node.names)
    return (isinstance(node, ast.ImportFrom) and node.level == 0
            and (node.module or "").split(".")[0] in sys.stdlib_module_names | {"__future__"})


def _environ(node: ast.stmt) -> bool:
    return isinstance(node, (ast.Assign, ast.AugAssign, ast.Expr)) and "os.environ" in ast.unparse(node)


def prelude(code: str) -> tuple[str, str]:
    """``(source, key)``: the program's prelude (its leading lines up to the first other statement) and the
    ``os.environ`` statements in it, which decide the zygote. ValueError when the rest touches ``os.environ``."""
    tree = ast.parse(code)
    kept: list[ast.stmt] = []
    for i, node in enumerate(tree.body):
        docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
            and isinstance(node.value.value, str)
        if not (docstring or _stdlib_import(node) or _environ(node)):
            break
        kept.append(node)
    rest = ast.Module(body=tree.body[len(kept):], type_ignores=[])
    if "environ" in ast.unparse(rest):
        raise ValueError("the program reads or sets os.environ after its prelude: run it in a fresh process")
    end = kept[-1].end_lineno if kept else 0
    source = "".join(code.splitlines(keepends=True)[:end])
    return source, "\n".join(ast.unparse(n) for n in kept if _environ(n))


class ProgramRunner:
    """``run(code, cwd, env)`` -> CompletedProcess, as ``subprocess.run([python, cwd/NAME], cwd=cwd, env=env)``."""

    def __init__(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="zygotes-")
        self._zygotes: dict[tuple, subprocess.Popen] = {}
        self.started = 0  # zygotes started (what the sharing saved is visible in tests)

    def _zygote(self, source: str, key: str, env: dict[str, str], before: str) -> subprocess.Popen:
        ident = (key, before, tuple(sorted((k, v) for k, v in env.items() if k != "PYTEST_CURRENT_TEST")))  # per test
        if ident not in self._zygotes:
            self.started += 1
            prelude_file = Path(self._tmp, f"prelude{self.started}.py")
            prelude_file.write_text(f"{source}\n{before}\n", encoding="utf-8")
            with open(Path(self._tmp, f"zygote{self.started}.err"), "w", encoding="utf-8") as err:
                proc = subprocess.Popen([sys.executable, str(ZYGOTE), str(prelude_file)], cwd=self._tmp, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
            if proc.stdout.readline() != "READY\n":
                proc.kill()
                raise RuntimeError(Path(err.name).read_text(encoding="utf-8")[-3000:])
            self._zygotes[ident] = proc
        return self._zygotes[ident]

    def run(self, code: str, cwd: str | os.PathLike, env: dict[str, str], name: str = "prog.py",
            timeout: float = 240, before: str = "") -> subprocess.CompletedProcess:
        """``before``: code to run first, as ``python -c "BEFORE; runpy.run_path(NAME, run_name='__main__')"`` does
        (e.g. seeding ``random``): the zygote runs it after the prelude, before its TensorFlow import, so each child
        starts from the state a fresh process reaches once it imported TensorFlow (its import draws from ``random``)."""
        source, key = prelude(code)
        script = Path(cwd, name)
        script.write_text(code, encoding="utf-8")
        zygote = self._zygote(source, key, env, before)
        out, err = Path(self._tmp, "child.out"), Path(self._tmp, "child.err")
        request = {"script": str(script), "cwd": str(cwd), "stdout": str(out), "stderr": str(err), "timeout": timeout}
        zygote.stdin.write(json.dumps(request) + "\n")
        zygote.stdin.flush()
        reply = zygote.stdout.readline()
        if not reply:
            raise RuntimeError(f"the zygote for {key!r} died: exit {zygote.wait()}")
        return subprocess.CompletedProcess([sys.executable, str(script)], json.loads(reply)["returncode"],
                                           out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8"))

    def close(self) -> None:
        for proc in self._zygotes.values():
            proc.stdin.close()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        self._zygotes.clear()
        shutil.rmtree(self._tmp, ignore_errors=True)
