"""``rnn-migrate glove import|info``: turn a GloVe text file into a cache that reloads in a fraction of a second.

``import`` reads ``GLOVE.txt`` (strictly: a bad line is reported with its number) and writes ``DIR`` with
``words.txt``, ``vectors.npy`` and ``meta.json`` atomically; an existing ``DIR`` is refused unless ``--force``.
``info`` describes any GloVe source: a text file, a seed ``wordsList.npy`` + ``wordVectors.npy`` directory, a cache.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from migration.commands.common import EXIT_OK, print_json
from migration.core.errors import MigrationError

NAME = "glove"
HELP = "import GloVe text vectors into a fast cache (glove import), or describe a GloVe source (glove info)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        NAME, help=HELP, description=HELP + ".",
        epilog="examples:\n  rnn-migrate glove import glove.6B.50d.txt --out glove6b50\n"
               "  rnn-migrate glove info glove6b50 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="glove_action", metavar="ACTION")
    actions.required = True
    imp = actions.add_parser("import", help="read a GloVe text file and write a cache directory",
                             description="Read GLOVE.txt and write DIR (words.txt, vectors.npy, meta.json).")
    imp.add_argument("path", metavar="GLOVE.txt", help="GloVe text file (word v1 ... vE per line, UTF-8)")
    imp.add_argument("--out", required=True, metavar="DIR", help="cache directory to create")
    imp.add_argument("--force", action="store_true", help="replace DIR if it exists")
    imp.add_argument("--json", action="store_true", help="print one JSON object as the last stdout line")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.add_argument("--engine", choices=("auto", "pyarrow", "pandas", "python"), default="auto",
                     help="the fast path's parser: auto (= pyarrow: one thread a core, no pandas import), pandas "
                          "(its C parser, one forked process a core) or python (line by line only); all give the "
                          "same cache (default: auto)")
    imp.set_defaults(func=run_import)
    info = actions.add_parser("info", help="describe a GloVe text file, seed .npy pair directory or cache")
    info.add_argument("path", metavar="PATH")
    info.add_argument("--json", action="store_true", help="print one JSON object as the last stdout line")
    info.add_argument("--quiet", action="store_true", help="no progress bar")
    info.set_defaults(func=run_info)


def run_import(args: argparse.Namespace) -> int:
    from migration.glove import describe, import_glove_text  # on first use (see migration.commands)

    out = Path(args.out)
    if out.exists() and not args.force:  # fail before the (long) read
        raise MigrationError(f"{out} already exists; refusing to overwrite it. Pass --force to replace it.")
    start = time.perf_counter()
    glove = import_glove_text(args.path, out, force=args.force, progress=not args.quiet and sys.stderr.isatty(),
                              engine=args.engine)  # the cache's vectors are written while the file is parsed
    read_seconds = time.perf_counter() - start
    report = {**describe(glove), "out": str(out), "read_seconds": round(read_seconds, 3),
              "total_seconds": round(time.perf_counter() - start, 3)}
    if args.json:
        print_json(report)
    else:
        print(f"read {report['V']} words x {report['E']} from {args.path} in {read_seconds:.2f} s; "
              f"wrote {out} (reload with migration.glove.load_glove_cache or --glove {out})")
    return EXIT_OK


def run_info(args: argparse.Namespace) -> int:
    from migration.glove import describe, glove_kind, load_glove  # on first use (see migration.commands)

    kind = glove_kind(args.path)
    glove = load_glove(args.path, progress=not args.quiet and sys.stderr.isatty())
    report = {**describe(glove), "kind": kind}
    if args.json:
        print_json(report)
    else:
        for key, value in report.items():
            print(f"{key:<22} {value}")
    return EXIT_OK
