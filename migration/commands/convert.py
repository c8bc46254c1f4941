"""``rnn-migrate convert CKPT OUT_DIR``: TF1 checkpoint -> Keras 2 block models + manifest, verified."""
from __future__ import annotations

import argparse
import sys
from typing import Optional

from migration.commands.common import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_INTERNAL, EXIT_OK, finite_float, print_json
from migration.families import family

NAME = "convert"
HELP = "convert a TF1 checkpoint into Keras 2 block models, embedding/dense arrays and a manifest (verified)"

DESCRIPTION = """\
Convert a TF1 checkpoint into OUT_DIR:
  manifest.json                    every block, its Keras config, every source variable and where it went
  blocks/<scope>.keras             one Keras 2 model per RNN block: inputs [x, sequence_length], outputs
                                   tf.nest.flatten((outputs, final_state)) as TF1 dynamic_rnn returns them
  seq2seq/<name>.keras             one modern_rnn.seq2seq.models.AttentionDecoderModel per tf.contrib.seq2seq
                                   AttentionWrapper (embedding -> attention decoder -> output projection; teacher
                                   forced call, .greedy, .beam_search), one LegacyAttentionSeq2SeqModel per
                                   legacy_seq2seq.embedding_attention_seq2seq; verified on the original graph's logits
  embeddings/<name>.npy            rows in the order a Keras Embedding needs ('mod' partitions permuted)
  dense/<name>/{kernel,bias}.npy   Dense weights
  crf/<name>.npy                   tf.contrib.crf transitions [N, N], unchanged (modern_rnn.CRF.transitions)
  optimizer/...                    with --with-optimizer: slots converted like their weights (no forget_bias)

Hyper-parameters that checkpoints do not store (forget_bias, cell_clip, proj_clip, activation) come from the .meta
graph next to the checkpoint, under whatever name scope its ops live (and from LSTMBlockCell op attributes); without
it TF1 defaults are assumed, and the summary and the manifest list every assumed value.
  model.keras                      the whole network (with the .meta): inputs = the graph's placeholders, outputs =
                                   the logits its loss consumes (--outputs to choose); no model when any op on the
                                   path has no Keras translation (the manifest lists the blocking nodes)

Verification (before OUT_DIR is created) compares every block and the whole model with the user's ORIGINAL graph
from the .meta, executed in a sandbox (op allowlist checked first; variables replaced by checkpoint values; dropout
bypassed). Without a .meta, or when the sandbox refuses an op, blocks are compared with a TF1 graph rebuilt from our
reading instead, and the report says so ("rebuilt", weaker). Nothing partial is ever left behind, also on
SIGTERM/SIGHUP/SIGINT (exit 128+N) or a full disk (exit 2). --force replaces only a directory rnn-migrate wrote (a
valid manifest.json) that holds none of the inputs.

examples:
  rnn-migrate convert models/pretrained_lstm.ckpt-40000 converted/
  rnn-migrate convert models/ converted/ --with-optimizer        # resume training in Keras
  rnn-migrate convert old.ckpt out/ --forget-bias 0.0 --force    # the model used BasicLSTMCell(forget_bias=0)
  rnn-migrate convert model.ckpt out/ --outputs Model/logits:0   # choose the whole model's outputs

  python -c "import modern_rnn, tf_keras; m = tf_keras.models.load_model('converted/blocks/rnn.keras', compile=False)"

exit codes: 0 converted and verified, 1 verification failed (nothing installed), 2 bad input; with a .meta and
without --no-model, also 2 when no model.keras could be written (an op on the path has no Keras translation or is
refused: the message names it; choose other outputs with --outputs, or pass --no-model) and 3 when its translation
hit an internal error. The blocks are converted, verified and installed in both cases. (A checkpoint whose
seq2seq decoders were written as seq2seq/<name>.keras exits 0 without model.keras.)
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint prefix, one of its files, or a directory")
    p.add_argument("out_dir", metavar="OUT_DIR", help="output directory (must not exist unless --force)")

    p.add_argument("--forget-bias", type=finite_float, default=None, metavar="F",
                   help="LSTM forget_bias, overriding the .meta graph (default: from .meta, else 1.0)")
    p.add_argument("--with-optimizer", action="store_true", help="also convert optimizer slots and iterations")
    p.add_argument("--no-model", action="store_true",
                   help="do not write model.keras (the whole model; its large embeddings are streamed into it "
                        "row by row, so memory stays flat in tensor size either way)")
    p.add_argument("--use-ema", action="store_true",
                   help="convert each weight's ExponentialMovingAverage shadow instead of its raw value (the weights "
                        "TF1 programs evaluated with); without it the shadows are listed in the manifest")
    p.add_argument("--outputs", default=None, metavar="NAME[,NAME]",
                   help="tensor names of the whole model's outputs (default: the logits the loss consumes)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing OUT_DIR, only if rnn-migrate wrote it (every file in it is in its manifest) "
                        "and it holds none of the inputs; the swap is atomic")
    add_meta_arguments(p)
    p.add_argument("--check-integrity", action=argparse.BooleanOptionalAction, default=True,
                   help="read every tensor once, also those not converted, so TensorFlow's CRC32C check catches a "
                        "damaged one (default: on)")
    p.add_argument("--no-verify", action="store_true", help="skip the TF1-vs-Keras verification")
    p.add_argument("--target", action="append", choices=("keras2", "keras3", "onnx"), default=None,
                   help="also write every RNN block as a Keras 3 model (blocks/<name>.keras3.keras) or an ONNX graph "
                        "(blocks/<name>.onnx), each verified against the original graph; repeatable (keras2 is "
                        "always written; docs/targets.md)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=run)


def add_meta_arguments(p: argparse.ArgumentParser) -> None:
    """``--meta`` and ``--require-provenance`` (convert and verify)."""
    p.add_argument("--meta", default=None, metavar="PATH",
                   help="the .meta graph to use instead of the one beside CKPT (e.g. written once at step 0); its "
                        "provenance cannot be proven, so the verdict and a warning say so")
    p.add_argument("--require-provenance", action="store_true",
                   help="refuse (exit 2, before writing anything) a .meta of unproven provenance: passed with --meta, "
                        "or whose Saver, variables or time do not match the checkpoint")


def warn_provenance(verification: Optional[dict]) -> None:
    """The warning line for a .meta of unproven provenance (stderr, also with --json)."""
    prov = (verification or {}).get("meta_provenance")
    if prov and not prov["proven"]:
        print(f"rnn-migrate: warning: the graph {prov['meta']!r} is of unproven provenance: "
              f"{'; '.join(prov['reasons'])}. Its hyper-parameters and the reference come from it; use the .meta "
              "saved with this checkpoint, or pass --require-provenance to refuse.", file=sys.stderr)


def print_verification(verification: dict, stream=None) -> None:
    stream = stream or sys.stdout
    for check in verification["checks"]:
        flag = "ok  " if check["max_abs_diff"] <= verification["tolerance"] else "FAIL"
        ref = check.get("reference", "checkpoint")
        print(f"  {flag} {check['what']:<34} {check['output']:<40} {ref:<15} max|diff| = {check['max_abs_diff']:.3g}",
              file=stream)
    for note in verification.get("notes", []):
        print(f"  note: {note}", file=stream)


def print_assumptions(manifest: dict, stream=None) -> None:
    """Hyper-parameters that were assumed (TF1 defaults), not read from the .meta or the command line."""
    stream = stream or sys.stdout
    for block in manifest["blocks"]:
        for cell in block["cells"]:
            row = family(cell["spec"]["kind"])  # a hyper-parameter CellSpec has no field for (leak): the row's default
            assumed = {k: cell["spec"].get(k, row.hyper.get(k)) for k, src in cell.get("hyper_sources", {}).items()
                       if src.startswith("default")}
            if assumed:
                what = ", ".join(f"{k}={v}" for k, v in sorted(assumed.items()))
                print(f"  assumed (TF1 default, not in the .meta): {cell['path']}: {what}", file=stream)


def run(args: argparse.Namespace) -> int:
    # the checkpoint job on first use (this module is imported to build --help, which must start fast)
    from migration.checkpoint.convert import convert_checkpoint
    from migration.checkpoint.verdict import verdict
    from migration.targets.export import print_targets, requested

    result = convert_checkpoint(args.checkpoint, args.out_dir, forget_bias=args.forget_bias,
                                with_optimizer=args.with_optimizer, force=args.force, verify=not args.no_verify,
                                check_integrity=args.check_integrity,
                                progress=not args.quiet and sys.stderr.isatty(),
                                outputs=args.outputs.split(",") if args.outputs else None, use_ema=args.use_ema,
                                whole_model=not args.no_model, meta_path=args.meta,
                                require_provenance=args.require_provenance, targets=requested(args.target))
    v = result.verification
    warn_provenance(v)
    if args.json:
        print_json({"out_dir": result.out_dir, "ok": result.ok, "installed": result.ok, "verification": v,
                    "blocks": [b["file"] for b in result.manifest["blocks"]], "targets": result.manifest.get("targets"),
                    "seq2seq": [e["file"] for e in result.manifest.get("seq2seq") or []]})
    elif not args.quiet or not result.ok:
        m = result.manifest
        if result.ok:
            blocks = len(m["blocks"]) + len(m.get("conv_blocks") or [])
            print(f"wrote {result.out_dir}: {blocks} block(s), "
                  + (f"{len(m['seq2seq'])} seq2seq decoder(s), " if m.get("seq2seq") else "")
                  + f"{len(m['embeddings'])} embedding(s), "
                  f"{len(m['dense'])} dense head(s); {len(m['unrecognized'])} unrecognized variable(s) not migrated (see manifest)"
                  + (f"; {len(m['bookkeeping'])} distributed-training counter(s) recognized, not migrated: "
                     f"{', '.join(m['bookkeeping'])}" if m.get("bookkeeping") else ""))
        print_assumptions(m)
        model = m.get("model")
        if model:
            print(f"  whole model: {model['file']} (inputs {model['inputs']} -> outputs {model['outputs']})")
        if v is not None:
            print(verdict(v) + ":")
            print_verification(v)
        print_targets(result.manifest.get("targets"))
        if not result.ok:
            print(f"verification failed: {result.out_dir} was not written. Check --forget-bias and the .meta, or "
                  "re-run with --no-verify to keep the files for debugging.", file=sys.stderr)
    if not result.ok:
        return EXIT_CHECK_FAILED
    return _model_exit(result.manifest, args.no_model, result.out_dir)


def _model_exit(manifest: dict, no_model: bool, out_dir: str) -> int:
    """0, or (a .meta, no --no-model, no seq2seq decoder model standing for the network, and no model.keras) 2 when
    an op was refused or has no translation, 3 when the translation hit an internal error; the reason on stderr."""
    if no_model or manifest.get("model") or not manifest.get("meta") or manifest.get("seq2seq") or \
            any(n.startswith("no .meta") for n in manifest["notes"]):  # a cuDNN buffer read through its alias
        return EXIT_OK
    why = [n for n in manifest["notes"] if "whole model" in n] or ["no whole model was written"]
    print(f"rnn-migrate: no model.keras: {why[0].rstrip('.')}. The blocks were converted and installed in {out_dir}; "
          "choose the model's outputs with --outputs NAME[,NAME], or pass --no-model to convert the blocks only "
          "(exit 0).", file=sys.stderr)
    return EXIT_INTERNAL if "this is a bug in rnn-migrate" in why[0] else EXIT_BAD_INPUT
