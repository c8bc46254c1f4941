"""``rnn-migrate example NAME [ARGS...]``: run one of the seed programs (:mod:`migration.examples`; the repository's
``examples/`` holds a thin script for each)."""
from __future__ import annotations

import argparse
import importlib

from migration.core.errors import MigrationError

NAME = "example"
HELP = "run a seed program, legacy TF1 graph and Keras 2 side by side (echo, sentiment, keras_rnn, keras_api, text_prep, seq2seq)"

EXAMPLES: dict[str, str] = {
    "echo": "seed 002: binary echo task, hand-written cell / static_rnn / dynamic_rnn / Keras, truncated BPTT",
    "sentiment": "seed 004: GloVe + BasicLSTMCell + DropoutWrapper sentiment classifier and its Keras twin",
    "keras_rnn": "seed 000: SimpleRNN/LSTM/GRU classifiers (cell loops and layers) with their TF1 twins",
    "keras_api": "seed 001: return_sequences / return_state / stacked / Bidirectional numbers, both sides",
    "text_prep": "seed 003: vocabularies, character windows, Tokenizer, GloVe Embedding, parameter counts",
    "seq2seq": "attention encoder-decoder (contrib.seq2seq) reversing digits: TF1 training, greedy + beam both sides",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    lines = "\n".join(f"  {name:<10} {text}" for name, text in EXAMPLES.items())
    p = sub.add_parser(
        NAME, help=HELP, description=f"{HELP}.\n\nexamples:\n{lines}",
        epilog="Each example takes --json and --seed N; those that train take --plot PATH.png and --logdir DIR (TensorBoard; "
               "view with the [tensorboard] extra). See `rnn-migrate example NAME --help`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # nargs="?": without a NAME the handler lists the examples (argparse would say "required: NAME, args")
    p.add_argument("name", nargs="?", choices=sorted(EXAMPLES), metavar="NAME", help="one of: " + ", ".join(EXAMPLES))
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the example")
    p.set_defaults(func=run)


# the module whose main(argv) runs each example (the sentiment example's command line is its own module)
MODULES: dict[str, str] = {name: f"migration.examples.{name}" for name in EXAMPLES}
MODULES["sentiment"] = "migration.examples.sentiment_cli"


def run(args: argparse.Namespace) -> int:
    if args.name is None:
        raise MigrationError("name the example to run, one of: " + ", ".join(EXAMPLES) + " (e.g. `rnn-migrate example "
                             "echo`; `rnn-migrate example --help` says what each shows).")
    module = importlib.import_module(MODULES[args.name])  # on first use: TensorFlow and the example's own imports
    return int(module.main(args.args) or 0)
