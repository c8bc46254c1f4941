"""``rnn-migrate scan``: list every TF1 graph-mode / RNN construct in Python files and notebooks (never imports TF)."""
from __future__ import annotations

import argparse

from migration.core.printable import printable

NAME = "scan"
HELP = "find every TF1 graph-mode / RNN construct in .py files, notebooks and directories"

EPILOG = """\
examples:
  rnn-migrate scan train.py                 # one file
  rnn-migrate scan src/ notebooks/          # directories, recursively (.py and .ipynb)
  rnn-migrate scan model.ipynb --json       # one JSON object: {"findings": [...], "errors": [...], ...}
  rnn-migrate scan src/ --format markdown   # a table for an issue or a pull request

Each finding gives path:line:col (notebooks: path[cell N]:line:col), the TF1 symbol with the alias resolved
(`from tensorflow.contrib.rnn import GRUCell as GRU` -> tf.contrib.rnn.GRUCell), its Keras 2 equivalent, what
happens to the checkpoint, a severity and a link to its row of the API map or of docs/upgrading.md (in a checkout;
the copies installed with the package, migration/api-map.md and migration/upgrading.md, elsewhere):
  compat   runs as is on TensorFlow 2.21 through tf.compat.v1
  rewrite  needs a rewrite that `rnn-migrate upgrade SRC --to compat` does for you
  manual   needs a manual check (tf.contrib without a home, dynamic getattr, star imports)

The findings are the inventory of `rnn-migrate upgrade SRC --to compat`: scan runs the same plan (TensorFlow's own
tf_upgrade_v2 tables - renames, keyword renames, argument reorders and meaning changes, module deprecations - with
rnn-migrate's RNN table on top) and reports every place upgrade would change (rewrite, with what it writes there:
a name, an import, an argument such as tf.nn.dropout's keep_prob -> rate), every place it cannot (manual, with the
reason and a remedy: tf.contrib.learn, tensorflow.examples.tutorials, *args hiding changed arguments...), and the RNN
constructs that run as written (compat, also those reached through an import that upgrade rebinds).
Only regular files are read (FIFOs, devices and /dev/zero behind a symlink are skipped with a note), at most 16 MiB.

`--json` also lists under "setup" the lines upgrade adds to each file (the TF_USE_LEGACY_KERAS bootstrap,
tf.compat.v1.disable_v2_behavior() after the TensorFlow import of a graph-mode program, the legacy_rnn imports).
The rules both commands run are one table (docs/upgrading.md, "The rules").

The source is parsed with Python's ast module, never executed. Files that cannot be read (syntax errors, binary
files, broken notebooks) are reported under "errors" with the reason and the remedy; the scan goes on.
exit codes: 0 nothing needs work, 1 something needs a rewrite / manual check (or a file could not be read),
2 bad usage (a path that does not exist).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help=HELP, description=HELP + ".", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH", help=".py files, .ipynb notebooks or directories")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object (findings, errors, summary)")
    out.add_argument("--format", choices=("text", "markdown"), default="text", help="human output format")
    p.set_defaults(func=run)


def doc_link(doc: str) -> str:
    """``docs/api-map.md#anchor`` (or ``docs/upgrading.md#anchor``) as a link that opens: unchanged where that path
    exists (a checkout's root), otherwise the copy installed inside the package (the wheel ships no docs/)."""
    from pathlib import Path

    path, _, anchor = doc.partition("#")
    if Path(path).is_file():
        return doc
    shipped = Path(__file__).resolve().parent.parent / Path(path).name
    return f"{shipped}#{anchor}" if shipped.is_file() else doc


def format_text(report) -> str:
    lines = []
    for f in report.findings:
        written = f" (written `{f.written}`)" if f.written and f.written != f.symbol else ""
        lines.append(f"{f.location()}: [{f.severity}] {f.symbol}{written} -> {f.replacement}  ({doc_link(f.doc)})")
        if f.reason:
            lines.append(f"    why: {f.reason}")
        if f.consequence:
            lines.append(f"    checkpoint: {f.consequence}")
        if f.upgrade:
            lines.append(f"    upgrade --to compat writes: {f.upgrade}")
    setup = getattr(report, "setup", [])
    if setup:
        lines.append("")
        lines.append(f"lines `upgrade --to compat` adds ({len(setup)}: the TF_USE_LEGACY_KERAS bootstrap, TF1 semantics "
                     "after the TensorFlow import, the imports of legacy_rnn homes):")
        lines += [f"  {f.location()}: + {f.upgrade}" for f in setup]
    if report.errors:
        lines.append("")
        lines.append(f"errors ({len(report.errors)} file(s) not scanned or partly scanned):")
        lines += [f"  {e}" for e in report.errors]
    lines = [printable(line) for line in lines]  # file names with terminal escapes cannot forge lines
    lines.append("")
    lines.append(summary(report))  # counts and symbols of ours: several lines, no file names
    return "\n".join(lines)


def summary(report) -> str:
    counts = report.counts()
    sev = ", ".join(f"{k} {counts['by_severity'].get(k, 0)}" for k in ("compat", "rewrite", "manual"))
    rewrite, manual = counts["by_severity"].get("rewrite", 0), counts["by_severity"].get("manual", 0)
    out = [f"summary: {len(report.findings)} finding(s) in {report.files_scanned} file(s) ({sev}); "
           f"{len(report.errors)} error(s)",
           f"  `upgrade --to compat` changes {rewrite} place(s) and leaves {manual} for a manual check"]
    out += [f"  {n:>5}  {sym}" for sym, n in sorted(counts["by_symbol"].items(), key=lambda kv: (-kv[1], kv[0]))]
    verdict = ("needs work: run `rnn-migrate upgrade SRC --to compat --out DST`, then check the manual items"
               if report.needs_work else "nothing needs work")
    return "\n".join(out + [verdict])


def _md(text: str) -> str:
    return printable(str(text).replace("|", "\\|").replace("\n", " "))


def format_markdown(report) -> str:
    rows = ["| location | symbol | severity | Keras 2 | checkpoint | doc |", "|---|---|---|---|---|---|"]
    for f in report.findings:
        rows.append(f"| `{_md(f.location())}` | `{_md(f.symbol)}` | {f.severity} | {_md(f.replacement)} | "
                    f"{_md(f.consequence)} | [{f.doc.split('#')[-1]}]({doc_link(f.doc)}) |")
    if report.errors:
        rows += ["", "| file | error |", "|---|---|"] + [f"| `{_md(e.path)}` | {_md(str(e))} |" for e in report.errors]
    counts = report.counts()
    rows += ["", "| symbol | count |", "|---|---|"]
    rows += [f"| `{_md(s)}` | {n} |" for s, n in counts["by_symbol"].items()]
    rows += ["", "| severity | count |", "|---|---|"]
    rows += [f"| {k} | {counts['by_severity'].get(k, 0)} |" for k in ("compat", "rewrite", "manual")]
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    from migration.commands.common import print_json
    from migration.upgrade.scan import scan_paths

    report = scan_paths(args.paths)
    if args.json:
        print_json(report.to_dict())
    elif args.format == "markdown":
        print(format_markdown(report))
    else:
        print(format_text(report))
    return report.exit_code()
