"""``rnn-migrate demo``: the whole story on the embedded data, in a few minutes on 2 cores.

1. **Legacy**: train the seed-004 TF1 graph (GloVe ``embedding_lookup`` + ``BasicLSTMCell(64)`` + ``DropoutWrapper``
   + ``dynamic_rnn`` + unnamed dense + Adam) on the embedded Rotten Tomatoes snippets and write a real
   ``tf.compat.v1.train.Saver`` checkpoint (``model.ckpt-N.{index,data,meta}``).
2. **Convert** it with :func:`migration.convert_checkpoint` (``--with-optimizer``): the whole Keras 2 model
   (``model.keras``: ids and lengths -> logits, the GloVe rows taken from the graph constant), the block and dense
   files, and the Adam state.
3. **Verify**: the conversion's own check against the ORIGINAL TF1 graph from the ``.meta`` (sandboxed, variables
   as checkpoint constants, dropout bypassed), block by block and the whole model end to end; reported per output.
4. **Evaluate both** on the held-out snippets: the TF1 graph restored from its checkpoint and ``model.keras`` as
   written by convert (no hand assembly): logits, predictions, accuracy.
5. **Continue training in Keras**: ``model.keras`` with the converted Adam state, on the batches TF1 would have seen
   next; it starts exactly where TF1 stopped (same held-out loss) and keeps improving. (The whole model computes the
   graph at inference, so it trains without the TF1 program's output dropout.) ``--strategy {mirrored,
   multi-worker,parameter-server} --workers N`` runs this phase under ``tf.distribute`` through
   :mod:`migration.examples.distributed` (each process loads ``model.keras`` and the Adam state itself); with the
   same global batches the losses are the ``--strategy none`` ones. The JSON gains ``"distributed"`` as the
   sentiment example's.
6. **Report**: a short table (stderr), ``--json`` for machines, ``--plot`` for the loss curve, ``--logdir`` for
   TensorBoard.

Exit codes: 0 success, 1 a check failed (verification or held-out agreement), 2 bad input (e.g. a refused workdir).
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from migration.examples import distributed, sentiment
from migration.examples.common import (
    add_common_args, emit_json, plot_curves, quiet_tensorflow, result_line, run_guarded, say, write_scalars,
)
from migration.core.errors import MigrationError
from migration.core.outdir import check_replaceable, is_checkpoint_dir

AGREEMENT_TOL = 1e-5


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rnn-migrate demo",
        description="Train the seed-004 TF1 sentiment graph on the embedded Rotten Tomatoes snippets, save a real TF1 "
                    "checkpoint, convert it to Keras 2, verify that both give the same outputs, evaluate both on "
                    "held-out data and continue training in Keras from the converted weights and Adam state.",
        epilog="examples:\n  rnn-migrate demo --workdir /tmp/demo --json --plot /tmp/demo.png\n"
               "  rnn-migrate demo --strategy multi-worker --workers 2 --json   # Keras phase on 2 worker processes",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--steps", type=int, default=1500, help="TF1 training steps (default 1500)")
    p.add_argument("--keras-steps", type=int, default=500, help="Keras steps after the conversion (default 500)")
    p.add_argument("--batch-size", type=int, default=24, help="batch size (default 24, as in the seed)")
    p.add_argument("--keep-prob", type=float, default=0.75,
                   help="TF1 training keep probability of the DropoutWrapper (default 0.75, as in the seed; 1.0 turns "
                        "dropout off)")
    p.add_argument("--workdir", metavar="DIR",
                   help="where the TF1 checkpoint and the converted model go (default: a new temporary directory); "
                        "an existing non-empty DIR is refused without --force")
    p.add_argument("--force", action="store_true", help="reuse a non-empty --workdir (its tf1/ and keras/ are replaced)")
    # --strategy, --workers, --dist-timeout: the Keras phase under tf.distribute (migration/examples/distributed.py)
    distributed.add_arguments(p, train_embedding=False)
    add_common_args(p, seed=0)
    return p


def _workdir(args: argparse.Namespace) -> Path:
    path = Path(args.workdir)
    if path.exists() and any(path.iterdir()):
        if not args.force:
            raise MigrationError(f"--workdir {str(path)!r} exists and is not empty; pass --force to replace its tf1/ "
                                 "and keras/ directories, or choose another directory.")
        # the checkpoint package on first use (start-up speed); the same --force rules as convert: replace only
        # what a previous demo run wrote
        from migration.checkpoint.manifest import is_conversion_dir

        check_replaceable(path / "keras", is_ours=is_conversion_dir)
        check_replaceable(path / "tf1", is_ours=is_checkpoint_dir, what="a checkpoint directory")
        for sub in ("tf1", "keras"):
            shutil.rmtree(path / sub, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _held_out(tf1_logits: np.ndarray, keras_logits: np.ndarray, labels: np.ndarray) -> dict:
    """How the TF1 graph and the converted Keras model agree on the held-out snippets, and their accuracies."""
    return {
        "max_abs_logit_diff": float(np.max(np.abs(tf1_logits - keras_logits))),
        "same_predictions": float(np.mean(tf1_logits.argmax(1) == keras_logits.argmax(1))),
        "legacy_accuracy": float(np.mean(tf1_logits.argmax(1) == labels)),
        "keras_accuracy": float(np.mean(keras_logits.argmax(1) == labels)),
        "examples": int(len(labels)),
    }


def run(args: argparse.Namespace) -> dict:
    """Run every step; return the report (``ok`` False when a check failed)."""
    # the checkpoint job on first use: `rnn-migrate --help` builds this module's parser and must start fast
    from migration.checkpoint import convert_checkpoint
    from migration.checkpoint.verdict import verdict
    from migration.examples import converted

    quiet_tensorflow(args.seed)
    distributed.validate(args.strategy, args.workers, args.batch_size)  # before minutes of TF1 training
    work = _workdir(args)
    config = sentiment.SentimentConfig(steps=args.steps, batch_size=args.batch_size, save_every=args.steps,
                                       keep_prob=args.keep_prob,
                                       ckpt_dir=str(work / "tf1"), seed=args.seed, quiet=args.quiet)
    config.validate()
    began = time.perf_counter()
    say("[1/5] data: embedded Rotten Tomatoes snippets + GloVe 6B 50d")
    prepared = sentiment.prepare(config)
    data = prepared.describe()

    say(f"[2/5] legacy: training the seed-004 TF1 graph for {config.steps} steps (tf.compat.v1, Session, Saver)")
    legacy = sentiment.train_legacy(config, prepared)

    say(f"[3/5] convert: {legacy.checkpoint} -> {work / 'keras'} (with the Adam state), then verify")
    conversion = convert_checkpoint(legacy.checkpoint, work / "keras", with_optimizer=True, verify=True, log=say)
    checks = conversion.verification.get("checks", []) if conversion.verification else []
    verify_max = max((c["max_abs_diff"] for c in checks), default=float("nan"))

    say("[4/5] evaluate both on the held-out snippets")
    out_dir = work / "keras"
    model, optimizer, opt_info, model_entry = converted.load_converted_model(out_dir)
    tf1_logits = sentiment.legacy_logits(config, prepared, legacy.checkpoint)
    keras_logits = np.concatenate([
        model((prepared.test_ids[i:i + 512], prepared.test_lengths[i:i + 512]), training=False).numpy()
        for i in range(0, len(prepared.test_labels), 512)])
    held_out = _held_out(tf1_logits, keras_logits, prepared.test_labels)

    where = "" if args.strategy == "none" else f" under {args.strategy} ({args.workers} workers)"
    say(f"[5/5] continue training in Keras for {args.keras_steps} steps from the converted weights and Adam "
        f"state{where}")
    cont_config = sentiment.SentimentConfig(**{**config.__dict__, "steps": args.keras_steps})
    modern, dist = distributed.train_modern(args, cont_config, None, prepared,
                                            resume=distributed.Resume(str(out_dir), model, optimizer,
                                                                      legacy.global_step))
    resume_gap = abs(modern.initial_eval["loss"] - legacy.held_out_loss)

    ok = bool(conversion.ok and held_out["max_abs_logit_diff"] <= AGREEMENT_TOL and held_out["same_predictions"] == 1.0
              and resume_gap <= AGREEMENT_TOL)
    report = {
        "ok": ok, "workdir": str(work), "seconds": round(time.perf_counter() - began, 1), "data": data,
        "legacy": {"checkpoint": legacy.checkpoint, "steps": legacy.global_step,
                   "held_out_accuracy": legacy.held_out_accuracy, "held_out_loss": legacy.held_out_loss,
                   "final_train_loss": legacy.summary()["final_train_loss"], "seconds": round(legacy.seconds, 1)},
        "conversion": {"out_dir": str(out_dir), "verified": conversion.ok, "max_abs_diff": verify_max,
                       "reference": (conversion.verification or {}).get("reference"),
                       "verdict": verdict(conversion.verification) if conversion.verification else "not verified",
                       "references": (conversion.verification or {}).get("references", {}),
                       "model": {k: model_entry[k] for k in ("file", "inputs", "outputs", "pieces")},
                       "checks": checks, "optimizer": {k: opt_info.get(k) for k in ("kind", "iterations", "keras")}},
        "held_out": held_out,
        "keras_continued": {"steps": args.keras_steps, "start_step": legacy.global_step,
                            "held_out_loss_at_start": modern.initial_eval["loss"], "resume_gap": resume_gap,
                            "held_out_accuracy": modern.held_out_accuracy, "held_out_loss": modern.held_out_loss,
                            "final_train_loss": modern.summary()["final_train_loss"], "seconds": round(modern.seconds, 1)},
        "distributed": dist,
    }
    if args.plot:
        plot_loss(args.plot, legacy.losses, modern.losses, legacy.global_step, keep_prob=args.keep_prob)
    # one tag, one step axis: TF1's loss k at global step k, Keras' continuing at the step where TF1 stopped
    write_scalars(args.logdir, "legacy", "demo/train_loss", legacy.losses, start_step=legacy.start_step)
    write_scalars(args.logdir, "modern", "demo/train_loss", modern.losses, start_step=legacy.global_step)
    return report


def plot_loss(path: str, tf1_losses: list[float], keras_losses: list[float], converted_at: int,
              window: int = 25, keep_prob: float = 1.0) -> None:
    """The demo's loss curves: 25-step means at their last step, TF1 then Keras, the conversion line labelled. With
    ``keep_prob < 1`` the label says why the training loss drops there: TF1's is measured through its DropoutWrapper,
    the converted model is the inference graph (dropout bypassed), so Keras trains and measures without dropout."""
    why = (f"\ntraining loss lower from here: TF1's with dropout\n(keep_prob {keep_prob:g}), the converted model "
           "has none" if keep_prob < 1 else "")
    tf1_label, keras_label = "TF1 graph (legacy_rnn)", "Keras 2 from the converted checkpoint"
    tf1_windows = sentiment.windows(tf1_losses, window)
    plot_curves(path, {tf1_label: tf1_windows, keras_label: sentiment.windows(keras_losses, window)},
                offsets={keras_label: len(tf1_windows)}, x_step=window, xlabel="training step",
                marker=(len(tf1_windows) * window + window / 2,
                        f"step {converted_at}: converted + verified;\nKeras continues from the same weights\n"
                        "and Adam state" + why),
                title=f"rnn-migrate demo: training loss (mean of {window} steps)")


def _print_report(r: dict, args: argparse.Namespace) -> None:
    h, c, k = r["held_out"], r["conversion"], r["keras_continued"]
    lines = [
        "",
        f"rnn-migrate demo: {'OK' if r['ok'] else 'CHECK FAILED'} ({r['seconds']} s, "
        + (f"files in {r['workdir']})" if r.get("workdir_kept", True) else
           "temporary files removed; --workdir DIR keeps them)"),
        f"  data           {r['data']['train']} train / {r['data']['test']} held-out snippets; majority baseline "
        f"{r['data']['test_majority_accuracy']:.3f}",
        f"  TF1 graph      {r['legacy']['steps']} steps, held-out accuracy {r['legacy']['held_out_accuracy']:.4f}, "
        + (f"checkpoint {r['legacy']['checkpoint']}" if r.get("workdir_kept", True) else
           f"checkpoint {os.path.basename(r['legacy']['checkpoint'])} (removed with the temporary files)"),
        f"  conversion     {c['verdict']}; max |TF1 - Keras| = {c['max_abs_diff']:.2e}; whole model "
        f"{c['model']['file']}: {' -> '.join(c['model']['pieces'])}",
        f"  held-out       TF1 {h['legacy_accuracy']:.4f} vs Keras {h['keras_accuracy']:.4f}; "
        f"same predictions {h['same_predictions']:.2%}; max |logit diff| {h['max_abs_logit_diff']:.2e}",
        f"  Keras resumed  at step {k['start_step']} with held-out loss {k['held_out_loss_at_start']:.6f} "
        f"(TF1 ended at {r['legacy']['held_out_loss']:.6f}); after {k['steps']} more steps: accuracy "
        f"{k['held_out_accuracy']:.4f}, loss {k['held_out_loss']:.4f}",
    ]
    result_line("\n".join(lines), args)


def main(argv: Sequence[str] | None = None) -> int:
    return execute(build_parser().parse_args(argv))


def execute(args: argparse.Namespace) -> int:
    """Run the demo for parsed arguments (``rnn-migrate demo`` parses with the same parser)."""
    return run_guarded("rnn-migrate demo", args, _execute)


def _execute(args: argparse.Namespace) -> int:
    temporary = None
    if not args.workdir:  # a temporary directory, removed at the end: --workdir keeps the files
        temporary = tempfile.TemporaryDirectory(prefix="rnn-migrate-demo-")
        args = argparse.Namespace(**{**vars(args), "workdir": temporary.name})
    try:
        report = run(args)
    finally:
        if temporary is not None:
            temporary.cleanup()
    report["workdir_kept"] = temporary is None
    _print_report(report, args)
    if args.json:
        emit_json(report)
    return 0 if report["ok"] else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
