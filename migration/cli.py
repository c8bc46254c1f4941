"""``rnn-migrate``: one command line for the project's jobs.

Each subcommand lives in its own module under :mod:`migration.commands` (or :mod:`examples`) and exposes
``NAME``, ``HELP`` and ``add_parser(subparsers)``; the parser's ``func`` default is the handler, which returns an exit
code. Building the parser never imports TensorFlow (``--help`` and ``scan`` start fast); handlers import it lazily.

Exit codes (the same for every subcommand):

====  ==========================================================================
0     success
1     the job ran but its check failed (outputs differ, findings need work)
2     bad usage or bad input (missing file, malformed checkpoint, refused overwrite)
3     internal error (a bug: please report it with the traceback)
====  ==========================================================================
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Sequence

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

# Subcommand modules, in the order --help lists them.
SUBCOMMANDS: tuple[str, ...] = (
    "migration.commands.demo",
    "migration.commands.doctor",
    "migration.commands.example",
    "migration.commands.scan",
    "migration.commands.upgrade",
    "migration.commands.inspect",
    "migration.commands.convert",
    "migration.commands.verify",
    "migration.commands.export",
    "migration.commands.glove",
)

DESCRIPTION = """\
Keep TensorFlow 1.x recurrent models alive and move them to Keras 2 (tf_keras).

TF1 and Keras 2 store the same RNN weights differently: LSTM gates are i,j,f,o in TF1 and i,f,c,o in Keras;
TF1's forget_bias is added at run time and is not in the checkpoint; Keras' default GRU (reset_after=True) can never
equal a TF1 GRUCell. rnn-migrate knows these layouts and proves every conversion numerically.
"""

EPILOG = """\
exit codes: 0 success, 1 a check failed (outputs differ / code needs work), 2 bad usage or input, 3 internal error.
Run `rnn-migrate COMMAND --help` for each command's own options and examples.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnn-migrate", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="%(prog)s 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in SUBCOMMANDS:
        importlib.import_module(module_name).add_parser(sub)
    return parser


def print_json(obj: object) -> None:
    """Print one JSON object as the last line of stdout (the ``--json`` contract)."""
    sys.stdout.write(json.dumps(obj, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from migration.errors import MigrationError

    try:
        return int(args.func(args) or 0)
    except MigrationError as exc:
        if getattr(args, "json", False):
            print_json({"error": str(exc), "exit_code": EXIT_BAD_INPUT})
        print(f"rnn-migrate {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("rnn-migrate: interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rnn-migrate scan src/ | head`: the reader has what it wanted; no traceback
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit would raise again
        return 128 + 13  # as a shell reports a process ended by SIGPIPE
    except Exception as exc:  # noqa: BLE001 - anything else is a bug: say so, keep the traceback, exit 3
        import traceback

        traceback.print_exc()
        print(f"rnn-migrate {args.command}: internal error ({type(exc).__name__}: {exc}). This is a bug; please "
              "report it with the traceback above.", file=sys.stderr)
        if getattr(args, "json", False):
            print_json({"error": f"internal error: {type(exc).__name__}: {exc}", "exit_code": EXIT_INTERNAL})
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
