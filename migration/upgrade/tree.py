"""``rnn-migrate upgrade SRC_DIR --out DST_DIR`` (``--intree``/``--outtree``): a whole project, like
``tf_upgrade_v2 --intree``: every ``.py`` file and notebook upgraded, every other file copied as it is, and a report
file listing each file's changes, manual checks and errors.

Nothing partial is ever left: the tree is written into a staging directory beside DST and renamed to DST at the end
(:func:`migration.core.outdir.staged_output`); an error, Ctrl-C or SIGTERM removes it. An existing DST is replaced
only with ``--force`` and only if rnn-migrate wrote it and nothing else: its record (:data:`RECORD`, every path the
run wrote) is there and DST holds no path the record does not list (a file a user added is named and kept). A Python file that does not parse is
copied unchanged and listed under errors (the run exits 1, as for manual checks). Symlinks are recreated as links
(never followed); FIFOs, devices and sockets are skipped and listed; ``.git`` and ``__pycache__`` are not copied.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass, field

from migration.core.errors import MigrationError
from migration.core.outdir import atomic_write_bytes, staged_output
from migration.core.regular_files import read_regular
from migration.upgrade import upgrade_source
from migration.upgrade.notebook_rewrite import upgrade_notebook
from migration.upgrade.notebooks import NotebookError
from migration.upgrade.scan import read_text

REPORT = "rnn-migrate-report.txt"
#: Every path an upgrade tree run wrote (files and links, relative, sorted): what ``--force`` may replace.
RECORD = ".rnn-migrate-upgrade.json"
SKIP_DIRS = frozenset({".git", "__pycache__"})


@dataclass
class FileResult:
    path: str  # relative to the tree
    changes: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class TreeResult:
    dst: str
    files: list[FileResult] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def needs_work(self) -> bool:
        return any(f.manual or f.error for f in self.files)

    def report(self, src: str, to: str) -> str:
        lines = [f"rnn-migrate upgrade --to {to}: {src} -> {self.dst}",
                 f"{len(self.files)} source file(s) upgraded, {len(self.copied)} other file(s) copied, "
                 f"{len(self.skipped)} skipped; {sum(len(f.changes) for f in self.files)} change(s), "
                 f"{sum(len(f.manual) for f in self.files)} manual check(s), "
                 f"{sum(1 for f in self.files if f.error)} error(s)", ""]
        for f in self.files:
            lines.append(f"{f.path}: {len(f.changes)} change(s), {len(f.manual)} manual check(s)"
                         + (f"; ERROR: {f.error}" if f.error else ""))
            lines += [f"  {f.path}{c}" for c in f.changes]
            lines += [f"  {f.path}{m}  [requires manual check]" for m in f.manual]
        if self.skipped:
            lines += ["", "skipped (not regular files, not copied):"] + [f"  {s}" for s in self.skipped]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        return {"dst": self.dst, "copied": self.copied, "skipped": self.skipped,
                "files": [vars(f) for f in self.files]}


def _upgrade_file(src: str, rel: str, to: str) -> tuple[str | None, FileResult]:
    """The upgraded text (None: copy the file unchanged) and what happened."""
    result = FileResult(rel)
    notebook = rel.endswith(".ipynb")
    try:
        text = read_text(src)
        up = upgrade_notebook(text, to, src) if notebook else upgrade_source(text, to, src)
    except SyntaxError as exc:
        result.error = f"line {exc.lineno}: {exc.msg} (copied unchanged)"
        return None, result
    except (ValueError, NotebookError, RecursionError, MemoryError) as exc:
        result.error = f"{exc} (copied unchanged)"
        return None, result
    sep = "" if notebook else ":"
    result.changes = [f"{sep}{c}" for c in up.changes]
    result.manual = [f"{sep}{m}" for m in up.manual_checks]
    return (up.text if notebook else up.code), result  # type: ignore[union-attr]


def _paths(root: str) -> list[str]:
    """Every file and link below ``root`` (relative, sorted); directories are implied by them."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        out += [os.path.relpath(os.path.join(dirpath, n), root) for n in filenames + links]
    return sorted(out)


def _is_our_tree(path: str) -> bool:
    """True when ``path`` is a tree an upgrade run wrote and nothing was added to it since; a path it did not write
    raises :class:`MigrationError` naming it (``--force`` then deletes nothing)."""
    record = os.path.join(path, RECORD)
    if not os.path.isfile(record) or not os.path.isfile(os.path.join(path, REPORT)):
        return False
    try:
        written = set(json.loads(read_regular(record, "the upgrade record", 64 << 20))["paths"])
    except (MigrationError, ValueError, KeyError, TypeError):
        return False
    extra = [p for p in _paths(path) if p not in written]
    if extra:
        raise MigrationError(f"Refused to replace {path!r}: {os.path.join(path, extra[0])!r} was not written by "
                             f"rnn-migrate ({len(extra)} such path(s)). Move it out, or choose another --out.")
    return True


def upgrade_tree(src: str, dst: str, to: str, *, force: bool = False, report: str | None = None) -> TreeResult:
    """Upgrade the tree ``src`` into the new directory ``dst`` (see the module docstring)."""
    if not os.path.isdir(src):
        raise MigrationError(f"{src} is not a directory.")
    src_real, dst_abs = os.path.realpath(src), os.path.abspath(dst)
    if dst_abs == src_real or dst_abs.startswith(src_real + os.sep) or src_real.startswith(dst_abs + os.sep):
        raise MigrationError(f"--out {dst} overlaps SRC {src}; choose a directory outside it.")
    result = TreeResult(dst)
    with staged_output(dst, force=force, inputs=[src], is_ours=_is_our_tree, what="an upgraded tree") as stage:
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            rel_dir = os.path.relpath(dirpath, src)
            os.makedirs(os.path.join(stage.path, rel_dir), exist_ok=True)
            for d in dirnames:
                if os.path.islink(os.path.join(dirpath, d)):
                    os.symlink(os.readlink(os.path.join(dirpath, d)), os.path.join(stage.path, rel_dir, d))
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
            for name in sorted(filenames):
                _one(os.path.join(dirpath, name), os.path.normpath(os.path.join(rel_dir, name)), stage.path, to,
                     result)
        text = result.report(src, to)
        with open(os.path.join(stage.path, REPORT), "w", encoding="utf-8") as fh:
            fh.write(text)
        with open(os.path.join(stage.path, RECORD), "w", encoding="utf-8") as fh:
            json.dump({"paths": _paths(stage.path) + [RECORD]}, fh)
        stage.install()
    if report:
        atomic_write_bytes(report, text.encode("utf-8"))
    return result


def _one(path: str, rel: str, root: str, to: str, result: TreeResult) -> None:
    target = os.path.join(root, rel)
    if os.path.islink(path):
        os.symlink(os.readlink(path), target)
        result.copied.append(rel)
        return
    mode = os.lstat(path).st_mode
    if not stat.S_ISREG(mode):
        result.skipped.append(rel)
        return
    if rel.endswith((".py", ".ipynb")) and rel != REPORT:
        text, file_result = _upgrade_file(path, rel, to)
        result.files.append(file_result)
        if text is not None:
            with open(target, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            shutil.copymode(path, target)
            return
    shutil.copy2(path, target)
    if not rel.endswith((".py", ".ipynb")):
        result.copied.append(rel)
