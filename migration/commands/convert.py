"""``rnn-migrate convert CKPT OUT_DIR``: TF1 checkpoint -> Keras 2 block models + manifest, verified."""
from __future__ import annotations

import argparse
import sys

NAME = "convert"
HELP = "convert a TF1 checkpoint into Keras 2 block models, embedding/dense arrays and a manifest (verified)"

DESCRIPTION = """\
Convert a TF1 checkpoint into OUT_DIR:
  manifest.json                    every block, its Keras config, every source variable and where it went
  blocks/<scope>.keras             one Keras 2 model per RNN block: inputs [x, sequence_length], outputs
                                   tf.nest.flatten((outputs, final_state)) as TF1 dynamic_rnn returns them
  embeddings/<name>.npy            rows in the order a Keras Embedding needs ('mod' partitions permuted)
  dense/<name>/{kernel,bias}.npy   Dense weights
  optimizer/...                    with --with-optimizer: slots converted like their weights (no forget_bias)

Hyper-parameters that checkpoints do not store (forget_bias, cell_clip, proj_clip, activation) come from the .meta
graph next to the checkpoint (parsed, never executed); without it TF1 defaults are used and the manifest says so.
The conversion is verified against a TF1 graph rebuilt from the checkpoint (max abs diff <= 1e-5) before OUT_DIR is
created; nothing partial is ever left behind, also on SIGTERM/SIGHUP/SIGINT (exit 128+N) or a full disk (exit 2).
--force replaces only a directory rnn-migrate wrote (a valid manifest.json) that holds none of the inputs.

examples:
  rnn-migrate convert models/pretrained_lstm.ckpt-40000 converted/
  rnn-migrate convert models/ converted/ --with-optimizer        # resume training in Keras
  rnn-migrate convert old.ckpt out/ --forget-bias 0.0 --force    # the model used BasicLSTMCell(forget_bias=0)

  python -c "import modern_rnn, tf_keras; m = tf_keras.models.load_model('converted/blocks/rnn.keras', compile=False)"

exit codes: 0 converted and verified, 1 verification failed (nothing installed), 2 bad input.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint prefix, one of its files, or a directory")
    p.add_argument("out_dir", metavar="OUT_DIR", help="output directory (must not exist unless --force)")
    from migration.cli import finite_float

    p.add_argument("--forget-bias", type=finite_float, default=None, metavar="F",
                   help="LSTM forget_bias, overriding the .meta graph (default: from .meta, else 1.0)")
    p.add_argument("--with-optimizer", action="store_true", help="also convert optimizer slots and iterations")
    p.add_argument("--force", action="store_true",
                   help="replace an existing OUT_DIR, only if rnn-migrate wrote it and it holds none of the inputs")
    p.add_argument("--check-integrity", action=argparse.BooleanOptionalAction, default=True,
                   help="read every tensor once, also those not converted, so TensorFlow's CRC32C check catches a "
                        "damaged one (default: on)")
    p.add_argument("--no-verify", action="store_true", help="skip the TF1-vs-Keras verification")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=run)


def print_verification(verification: dict, stream=None) -> None:
    stream = stream or sys.stdout
    for check in verification["checks"]:
        flag = "ok  " if check["max_abs_diff"] <= verification["tolerance"] else "FAIL"
        print(f"  {flag} {check['what']:<60} {check['output']:<22} max|diff| = {check['max_abs_diff']:.3g}", file=stream)
    for note in verification.get("notes", []):
        print(f"  note: {note}", file=stream)


def run(args: argparse.Namespace) -> int:
    from migration.checkpoint.convert import convert_checkpoint
    from migration.cli import EXIT_CHECK_FAILED, EXIT_OK, print_json

    result = convert_checkpoint(args.checkpoint, args.out_dir, forget_bias=args.forget_bias,
                                with_optimizer=args.with_optimizer, force=args.force, verify=not args.no_verify,
                                check_integrity=args.check_integrity,
                                progress=not args.quiet and sys.stderr.isatty())
    v = result.verification
    if args.json:
        print_json({"out_dir": result.out_dir, "ok": result.ok, "installed": result.ok, "verification": v,
                    "blocks": [b["file"] for b in result.manifest["blocks"]]})
    elif not args.quiet or not result.ok:
        m = result.manifest
        if result.ok:
            print(f"wrote {result.out_dir}: {len(m['blocks'])} block(s), {len(m['embeddings'])} embedding(s), "
                  f"{len(m['dense'])} dense head(s); {len(m['unrecognized'])} unrecognized variable(s) not migrated (see manifest)")
        if v is not None:
            print(f"verification ({'passed' if v['ok'] else 'FAILED'}, tolerance {v['tolerance']}):")
            print_verification(v)
        if not result.ok:
            print(f"verification failed: {result.out_dir} was not written. Check --forget-bias and the .meta, or "
                  "re-run with --no-verify to keep the files for debugging.", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_CHECK_FAILED
