"""``rnn-migrate example sentiment``: the command line of the seed-004 sentiment example (:mod:`.sentiment`).

Trains the TF1 graph and/or its Keras 2 twin; the Keras side runs in this process or under ``tf.distribute``
(``--strategy``, :mod:`.distributed`). Kept apart from :mod:`.sentiment` so that the distributed runner can import the
model code without a circle (sentiment model <- distributed <- this command line).
"""
from __future__ import annotations

import argparse
import dataclasses
from typing import Sequence

from migration.examples import distributed
from migration.examples.common import (
    add_common_args, emit_json, plot_curves, quiet_tensorflow, result_line, run_guarded, write_scalars,
)
from migration.examples.sentiment import SentimentConfig, prepare, train_legacy, windows


# --- command line ----------------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rnn-migrate example sentiment",
        description="Seed 004: GloVe embedding_lookup + BasicLSTMCell(64) + DropoutWrapper + dynamic_rnn sentiment "
                    "classifier (TF1 graph, Saver checkpoints) and its Keras 2 twin, on the embedded Rotten Tomatoes "
                    "snippets or a local IMDB.",
    )
    p.add_argument("--side", choices=("both", "legacy", "modern"), default="both", help="which side(s) to train")
    p.add_argument("--steps", type=int, default=1500, help="training steps per side (default 1500; seed: 50000)")
    p.add_argument("--batch-size", type=int, default=24, help="batch size (default 24 as in the seed)")
    p.add_argument("--max-len", type=int, default=40, help="words per example (default 40; seed: 250 for IMDB)")
    p.add_argument("--save-every", type=int, default=500, help="Saver checkpoint every N steps (seed: 10000)")
    p.add_argument("--ckpt-dir", default="models/sentiment", help="checkpoint directory (default models/sentiment)")
    p.add_argument("--resume", action="store_true", help="restore tf.train.latest_checkpoint(--ckpt-dir) and continue")
    p.add_argument("--use-length", action="store_true",
                   help="take the output at each example's length (sequence_length / mask) instead of the last step")
    p.add_argument("--full-glove", action="store_true", help="embed the whole GloVe matrix, as the seed does")
    p.add_argument("--same-init", action="store_true",
                   help="start the Keras twin from the TF1 graph's initial weights (converted)")
    p.add_argument("--data", metavar="PATH", help="a local aclImdb/ directory or imdb.npz (default: embedded data)")
    p.add_argument("--glove", metavar="PATH", help="GloVe text file or directory with wordsList.npy + wordVectors.npy "
                                                   "(default: the installed GloVe 6B 50d)")
    p.add_argument("--keep-prob", type=float, default=0.75,
                   help="DropoutWrapper output_keep_prob / Keras Dropout(1 - p) while training (default 0.75; 1 = off)")
    distributed.add_arguments(p)  # --strategy, --workers: the Keras side under tf.distribute (examples/distributed.py)
    add_common_args(p, seed=0)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run_guarded("sentiment", build_parser().parse_args(argv), _main)


def _main(args: argparse.Namespace) -> int:
    quiet_tensorflow(args.seed)
    config = SentimentConfig(steps=args.steps, batch_size=args.batch_size, max_len=args.max_len,
                             save_every=args.save_every, ckpt_dir=args.ckpt_dir, resume=args.resume,
                             use_length=args.use_length, full_glove=args.full_glove, data=args.data, glove=args.glove,
                             keep_prob=args.keep_prob, seed=args.seed, quiet=args.quiet)
    config.validate()
    prepared = prepare(config)
    info = prepared.describe()
    result_line(f"data: {info['data']}: {info['train']} train / {info['test']} held-out; embedding {info['embedding_rows']} of "
        f"{info['glove_rows']} GloVe rows; majority baseline {info['test_majority_accuracy']:.3f}", args)
    result: dict = {"example": "sentiment", "config": dataclasses.asdict(config), "data": info}
    curves: dict[str, list[float]] = {}
    legacy = None
    if args.side in ("both", "legacy"):
        legacy = train_legacy(config, prepared)
        result_line(f"legacy: steps {legacy.start_step}->{legacy.global_step}, held-out accuracy {legacy.held_out_accuracy:.4f} "
            f"(before: {legacy.initial_eval['accuracy']:.4f}), checkpoint {legacy.checkpoint} ({legacy.seconds:.1f} s)", args)
        result["legacy"] = legacy.summary()
        curves["legacy (TF1 graph)"] = windows(legacy.losses)
        write_scalars(args.logdir, "legacy", "sentiment/loss", legacy.losses, start_step=legacy.start_step)
    if args.side in ("both", "modern"):
        init = legacy.initial_weights if (legacy is not None and args.same_init) else None
        modern, result["distributed"] = distributed.train_modern(args, config, init, prepared)
        result_line(f"modern: held-out accuracy {modern.held_out_accuracy:.4f} (before: {modern.initial_eval['accuracy']:.4f}) "
            f"({modern.seconds:.1f} s)", args)
        result["modern"] = modern.summary()
        curves["modern (Keras 2)"] = windows(modern.losses)
        write_scalars(args.logdir, "modern", "sentiment/loss", modern.losses)
    if args.plot:
        plot_curves(args.plot, curves, title="sentiment: training loss (50-step means)", xlabel="x50 steps")
    if args.json:
        emit_json(result)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
