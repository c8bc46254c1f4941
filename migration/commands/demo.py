"""``rnn-migrate demo``: the end-to-end job on the embedded data (see :mod:`migration.demo`)."""
from __future__ import annotations

import argparse

from migration import demo
from migration.demo import build_parser

NAME = "demo"
HELP = "train the seed-004 TF1 sentiment model, convert its checkpoint to Keras 2, verify, evaluate, keep training"


def add_parser(sub: argparse._SubParsersAction) -> None:
    template = build_parser()
    p = sub.add_parser(NAME, help=HELP, description=template.description, epilog=template.epilog,
                       formatter_class=argparse.RawDescriptionHelpFormatter, add_help=False, parents=[template])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return demo.execute(args)
