"""Issue 19 point 5: the layers of docs/architecture.md, enforced. `lint-imports` (import-linter, a test dependency)
checks the contracts in `.importlinter`; grimp reads every import, those inside functions too, so an import moved
into a function to dodge a circle is still an arrow of the graph. A negative control shows that the contracts catch
an upward import, an import between independent siblings and a circle, each hidden inside a function."""
from __future__ import annotations

import ast
import configparser
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import migration

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("migration", "legacy_rnn", "modern_rnn", "examples")
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([sys.executable, "-c", LINT, "--config", str(root / ".importlinter"), "--no-cache"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def _contract() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / ".importlinter")
    return cfg


def _layer_modules() -> list[str]:
    layers = _contract()["importlinter:contract:layers"]["layers"].split("\n")
    return [m.strip(" ()") for line in layers if line.strip() for m in line.replace(":", "|").split("|")]


def test_the_import_contracts_are_kept() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_every_top_level_module_of_the_product_has_its_layer() -> None:
    """A new module of `migration` (or a new top-level package) must be placed in `.importlinter`: an unplaced
    module escapes the layers contract."""
    placed = set(_layer_modules())
    found = {f"migration.{m.name}" for m in pkgutil.iter_modules(migration.__path__)} | {"legacy_rnn", "modern_rnn",
                                                                                          "examples"}
    assert found - placed == set()
    absent = {m for m in placed - found if m not in ("migration.families",)}  # families: optional until it lands
    assert absent == set()
    assert set(_contract()["importlinter"]["root_packages"].split()) == set(PACKAGES)


def test_no_private_name_is_imported_across_modules() -> None:
    """`from x import _name` and `module._name` between our modules: a private name is a module's own business."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            aliases = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
                    for a in node.names:
                        if a.name.startswith("_") and not a.name.startswith("__"):
                            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} import {a.name}")
                        aliases[a.asname or a.name] = node.module
                elif isinstance(node, ast.Import):
                    for a in node.names:
                        if a.name.split(".")[0] in PACKAGES:
                            aliases[a.asname or a.name.split(".")[0]] = a.name
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                        and node.attr.startswith("_") and not node.attr.startswith("__"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert found == []


def _inject(path: Path, code: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + code, encoding="utf-8")


def test_the_contracts_catch_upward_sibling_and_circular_imports_hidden_in_functions(tmp_path) -> None:
    """Negative control: a copy of the product with three imports placed inside functions, each breaking one rule."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    clean = _lint(tmp_path).stdout
    _inject(tmp_path / "legacy_rnn" / "stack.py", "def probe_up():\n    from migration.checkpoint import manifest\n")
    _inject(tmp_path / "modern_rnn" / "stack.py", "def probe_side():\n    from legacy_rnn import embedding\n")
    _inject(tmp_path / "migration" / "glove" / "text.py", "def probe_side():\n    from migration import datasets\n")
    _inject(tmp_path / "migration" / "examples" / "common.py", "def probe_up():\n    import examples.echo\n")
    _inject(tmp_path / "migration" / "core" / "errors.py", "def probe_circle():\n    from migration.core import output\n")
    _inject(tmp_path / "migration" / "core" / "output.py", "from migration.core.errors import MigrationError\n")
    result = _lint(tmp_path)
    out = " ".join(result.stdout.split())  # the report wraps long lines
    assert result.returncode == 1
    for arrow in ("legacy_rnn.stack -> migration.checkpoint.manifest", "modern_rnn.stack -> legacy_rnn.embedding",
                  "migration.glove.text -> migration.datasets", "migration.examples.common -> examples.echo"):
        assert arrow in out and arrow not in clean
    circle = "No cycles are allowed in migration.core."
    assert circle in out and circle not in clean
