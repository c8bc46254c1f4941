"""``rnn-migrate verify CKPT OUT_DIR``: compare a conversion with the TF1 checkpoint, output by output."""
from __future__ import annotations

import argparse

from migration.commands.common import EXIT_CHECK_FAILED, EXIT_OK, print_json, tolerance
from migration.commands.convert import add_meta_arguments, print_verification, warn_provenance

NAME = "verify"
HELP = "compare the converted Keras files with the original TF1 graph (or a rebuilt one without .meta)"

DESCRIPTION = """\
Compare every RNN block and the whole model of a conversion with what the ORIGINAL program computes: the .meta
graph next to CKPT, executed in a sandbox (every op the fetches need is checked against an allowlist of pure math
and control-flow ops before anything runs; variables are replaced by their checkpoint values; dropout is
bypassed). Both sides get the same random inputs with ragged lengths (one = T, one = 1); the report gives the max
abs difference of every output and, per block, the reference used: "original-graph", or "rebuilt" (no .meta, a
static unroll, or an op the sandbox refused: a TF1 graph rebuilt from our reading, which cannot catch a misread
hyper-parameter; the notes say why). Embeddings are checked by lookup, dense weights by value.

First, OUT_DIR itself is compared with the file list convert recorded in manifest.json (sha256 and size of every
file): a file added, missing, replaced or changed fails, named (a manifest from an older rnn-migrate has no hashes:
then only extra and missing files are checked, and the notes say so).

examples:
  rnn-migrate verify models/pretrained_lstm.ckpt-40000 converted/
  rnn-migrate verify models/ converted/ --json | jq .max_abs_diff

exit codes: 0 every difference <= tolerance (1e-5) and the directory matches its manifest, 1 some output differs or
a file is extra, missing or changed, 2 bad input.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", metavar="CKPT", help="the TF1 checkpoint that was converted")
    p.add_argument("out_dir", metavar="OUT_DIR", help="directory written by `rnn-migrate convert`")

    p.add_argument("--tolerance", type=tolerance, default=1e-5,
                   help="max abs difference allowed, a finite number >= 0 (default 1e-5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_meta_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # the checkpoint job on first use (this module is imported to build --help, which must start fast)
    from migration.checkpoint.weights import float32_checkpoint
    from migration.checkpoint.manifest import read_manifest
    from migration.checkpoint.provenance import annotate, check_meta
    from migration.checkpoint.verdict import verdict
    from migration.checkpoint.verify import verify_conversion

    provenance = check_meta(args.checkpoint, args.meta, args.require_provenance)
    with float32_checkpoint(args.checkpoint, read_manifest(args.out_dir)) as checkpoint:
        report = verify_conversion(checkpoint, args.out_dir, tolerance=args.tolerance, check_directory=True,
                                   meta_path=args.meta).to_dict()
    annotate(report, provenance)
    warn_provenance(report)
    if args.json:
        print_json(report)
    else:
        print(f"{verdict(report)}, max |diff| {report['max_abs_diff']:.3g}:")
        print_verification(report)
    return EXIT_OK if report["ok"] else EXIT_CHECK_FAILED
