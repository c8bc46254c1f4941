"""``rnn-migrate``: one command line for the project's jobs.

Each subcommand lives in its own module under :mod:`migration.commands` (or :mod:`examples`) and exposes
``NAME``, ``HELP`` and ``add_parser(subparsers)``; the parser's ``func`` default is the handler, which returns an exit
code. Building the parser never imports TensorFlow (``--help`` and ``scan`` start fast); handlers import it lazily.

Exit codes (the same for every subcommand):

====  ==========================================================================
0     success
1     the job ran but its check failed (outputs differ, findings need work)
2     bad usage or bad input (missing file, malformed checkpoint, refused overwrite, I/O fault with its remedy;
      standard output that cannot be written, e.g. ``--json > /dev/full``: a message on stderr, no traceback)
3     internal error (a bug: please report it with the traceback)
128+N interrupted by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP); temporary outputs are removed
====  ==========================================================================

With ``--json`` on the command line, usage errors too print their one JSON object (``exit_code`` 2).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import traceback
from typing import Iterator, Sequence

# exit codes, number types and the JSON printer live below the subcommands (re-exported here)
from migration.commands.common import (  # noqa: F401
    EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_INTERNAL, EXIT_OK, OutputError, finite_float, print_json, tolerance,
)
from migration.core import gc_tuning, op_traces, tf_env
from migration.core.errors import MigrationError
from migration.core.outdir import describe_os_error

# Subcommand modules, in the order --help lists them.
SUBCOMMANDS: tuple[str, ...] = (
    "migration.commands.demo",
    "migration.commands.doctor",
    "migration.commands.example",
    "migration.commands.run",
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


class UsageError(Exception):
    """A command-line usage error (argparse's ``error``), turned into exit 2 by :func:`main`."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of exiting, so ``--json`` can report usage errors too."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(self, message)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``only`` (a command's name) just that command's subparser: a command's run then
    imports no other command's module (``glove import`` does not pay for the demo's imports)."""
    parser = Parser(
        prog="rnn-migrate", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="%(prog)s 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in SUBCOMMANDS:
        if only is None or module_name.rsplit(".", 1)[1] == only:
            importlib.import_module(module_name).add_parser(sub)
    return parser


class _GuardedStdout:
    """``sys.stdout`` whose ``write``/``flush`` turn an ``OSError`` (not a broken pipe) into :class:`OutputError`."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def _call(self, method: str, *args):
        try:
            return getattr(self._stream, method)(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc.errno, exc.strerror) from None

    def write(self, text: str) -> int:
        return self._call("write", text)

    def flush(self) -> None:
        return self._call("flush")

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _guarded_stdout() -> Iterator[None]:
    original = sys.stdout
    sys.stdout = _GuardedStdout(original)
    try:
        yield
    finally:
        sys.stdout = original


def _discard_stdout() -> None:
    """Point fd 1 at /dev/null so that Python's own flush at exit cannot fail again (and print a traceback)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _stdout_failed(exc: OSError) -> bool:
    """True when ``exc`` came from writing standard output (checked by flushing it once more)."""
    if isinstance(exc, OutputError):
        return True
    if exc.filename is not None:
        return False
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        return True
    return False


def _report_json(obj: object) -> None:
    """:func:`print_json` for the error paths: a failing stdout is already being reported on stderr."""
    try:
        print_json(obj)
    except OSError:
        _discard_stdout()


def _usage_error(exc: UsageError, want_json: bool) -> None:
    exc.parser.print_usage(sys.stderr)
    print(f"{exc.parser.prog}: error: {exc}", file=sys.stderr)
    if want_json:
        _report_json({"error": f"usage: {exc}", "exit_code": EXIT_BAD_INPUT})


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the process's entry point (rnn-migrate, python -m migration), not a call from a program
        tf_env.skip_optional_imports()  # TensorFlow's import without its optional jax/pandas/scipy: a faster start
        gc_tuning.tune()  # fewer garbage-collector passes while graphs and models are built
        op_traces.skip()  # graph ops without a recorded Python stack (nothing here reads them): faster graph builds
    argv = list(sys.argv[1:] if argv is None else argv)
    named = argv[0] if argv and "migration.commands." + argv[0] in SUBCOMMANDS else None
    parser = build_parser(only=named)  # a misspelt command gets the whole parser: its error lists every command
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        _usage_error(exc, "--json" in argv)
        raise SystemExit(EXIT_BAD_INPUT) from None

    want_json = bool(getattr(args, "json", False))
    if args.command in ("convert", "verify"):  # freed chunk buffers go back to the OS: peak RSS flat in tensor size
        from migration.core.bundle_stream import return_freed_memory  # on first use: --help starts fast

        return_freed_memory()
    try:
        with _guarded_stdout():  # a write to a full or closed stdout raises OutputError
            code = int(args.func(args) or 0)
            sys.stdout.flush()  # fails here, inside the handlers below, not at exit
        return code
    except MigrationError as exc:
        if want_json:
            _report_json({"error": str(exc), "exit_code": EXIT_BAD_INPUT})
        print(f"rnn-migrate {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:  # SIGINT, and SIGTERM/SIGHUP through migration.core.signals.Interrupted
        signum = getattr(exc, "signum", signal.SIGINT)
        name = signal.Signals(signum).name
        print(f"rnn-migrate {args.command}: interrupted by {name}; temporary files removed, nothing was written",
              file=sys.stderr)
        if want_json:
            _report_json({"error": f"interrupted by {name}", "exit_code": 128 + signum})
        return 128 + signum
    except BrokenPipeError:  # `rnn-migrate scan src/ | head`: the reader has what it wanted; no traceback

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit would raise again
        return 128 + 13  # as a shell reports a process ended by SIGPIPE
    except OSError as exc:  # an I/O fault outside the staged writers: still bad input/environment, with the remedy

        if _stdout_failed(exc):  # `--json > /dev/full`: say so on stderr, exit 2, no traceback
            _discard_stdout()
            print(f"rnn-migrate {args.command}: error: cannot write the output to standard output: "
                  f"{exc.strerror or exc}. Remedy: redirect the output to a file system with free space (or drop the "
                  "redirection).", file=sys.stderr)
            return EXIT_BAD_INPUT

        message = describe_os_error(exc, str(exc.filename or args.command)).replace("Cannot write", "I/O error on", 1)
        if want_json:
            _report_json({"error": message, "exit_code": EXIT_BAD_INPUT})
        print(f"rnn-migrate {args.command}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - anything else is a bug: say so, keep the traceback, exit 3

        traceback.print_exc()
        print(f"rnn-migrate {args.command}: internal error ({type(exc).__name__}: {exc}). This is a bug; please "
              "report it with the traceback above.", file=sys.stderr)
        if want_json:
            _report_json({"error": f"internal error: {type(exc).__name__}: {exc}", "exit_code": EXIT_INTERNAL})
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
