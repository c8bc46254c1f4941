"""``rnn-migrate run SCRIPT.py [ARGS]``: run a user's own TF1 program on TensorFlow 2.x, unchanged.

Two things make a TF1 program fail on TF 2.16+ before its first line of model code: ``tf.compat.v1.nn.rnn_cell``
(and ``tf.compat.v1.layers``) route to Keras 3 unless ``TF_USE_LEGACY_KERAS=1`` is set **before** TensorFlow is
imported, and graph-mode calls (``placeholder``, ``Session``) refuse to run eagerly unless
``tf.compat.v1.disable_v2_behavior()`` was called. This command sets both and then runs the program as
``python SCRIPT.py ARGS`` would: the interpreter is replaced (``exec``) by a fresh one whose ``sys.argv`` is
``[SCRIPT.py, *ARGS]``, whose ``sys.path[0]`` is the script's directory and whose ``__name__`` is ``"__main__"``;
its standard streams, signals and exit code are the program's own.
"""
from __future__ import annotations

import argparse
import os
import sys

from migration.core import tf_env
from migration.core.errors import MigrationError

NAME = "run"
HELP = "run your own TF1 program on TF 2.x unchanged (TF_USE_LEGACY_KERAS=1 first, TF1 behaviour on)"

DESCRIPTION = """\
Run your own TF1 program (tf.compat.v1 graph code: placeholders, Session, tf.nn.rnn_cell cells) on TensorFlow 2.x
without editing it. rnn-migrate starts a fresh Python that
  1. sets TF_USE_LEGACY_KERAS=1 before TensorFlow is imported (else tf.compat.v1.nn.rnn_cell.LSTMCell raises
     "LSTMCell is not available with Keras 3"),
  2. imports TensorFlow and calls tf.compat.v1.disable_v2_behavior() (graph mode, TF1 variables and control flow;
     skip it with --tf2-behavior),
  3. runs SCRIPT.py as `python SCRIPT.py ARGS` would (sys.argv, __name__ == "__main__", the script's directory
     first on sys.path). Its output, exit code and tracebacks are the program's own.
Everything after SCRIPT.py is passed to the program, options included.

  0. A program that uses TF1's top-level names (`import tensorflow as tf; tf.placeholder`, tf.contrib.rnn, ...)
     is upgraded in memory first, as `rnn-migrate upgrade --to compat` would write it: SCRIPT.py and every module
     it imports from its own directory tree (nothing is written to disk, no .pyc of the upgraded code is kept;
     --as-written runs the files exactly as they are). `rnn-migrate upgrade SCRIPT.py --to compat --out NEW.py`
     writes the same rewrite as a file that carries these switches itself.

examples:
  rnn-migrate run train.py --epochs 3
  rnn-migrate run --tf2-behavior eager_and_v1_cells.py
  rnn-migrate run --as-written already_upgraded.py
"""

#: The first code the fresh interpreter runs (argv: the directory holding this ``migration`` package, the script,
#: then the program's arguments). The current directory is never on ``sys.path`` (``-c`` would put it first).
BOOTSTRAP = """\
import os, sys
package_root, script = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[2:]
sys.path[0] = package_root
from migration.core.tf_env import ensure_legacy_keras
from migration.commands.run_hook import install_upgrade_hook, upgraded_source
sys.path[0] = os.path.dirname(os.path.abspath(script))
ensure_legacy_keras()
import tensorflow
if "{behavior}" == "v1":
    tensorflow.compat.v1.disable_v2_behavior()
upgrade = "{upgrade}" == "yes"
if upgrade:
    install_upgrade_hook(sys.path[0])
del ensure_legacy_keras, install_upgrade_hook, tensorflow, package_root, script
import types
main = types.ModuleType("__main__")  # as `python SCRIPT.py`: sys.argv[0] as given, __file__ absolute
main.__file__ = os.path.abspath(sys.argv[0])
main.__builtins__ = __builtins__
sys.modules["__main__"] = main
source = upgraded_source(main.__file__) if upgrade else open(main.__file__, "rb").read()
del upgrade, upgraded_source
exec(compile(source, main.__file__, "exec"), main.__dict__)
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="exit codes: the program's own; 2 when SCRIPT.py cannot be read (nothing was run)")
    p.add_argument("--tf2-behavior", action="store_true",
                   help="do not call tf.compat.v1.disable_v2_behavior() (eager programs that only need the TF1 cells)")
    p.add_argument("--as-written", action="store_true",
                   help="run the files as they are (no in-memory `upgrade --to compat` of SCRIPT.py and its modules)")
    p.add_argument("script", nargs="?", metavar="SCRIPT.py", help="the program to run")  # "?": a clear message
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="passed to the program unchanged")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    script = args.script
    if script is None:
        raise MigrationError("name the program to run: `rnn-migrate run SCRIPT.py [ARGS]` (e.g. `rnn-migrate run "
                             "train.py --epochs 3`).")
    if not os.path.isfile(script):
        what = "is a directory" if os.path.isdir(script) else "does not exist"
        raise MigrationError(f"Cannot run {script!r}: it {what}. Pass the path of a Python file (your TF1 program), "
                             "e.g. `rnn-migrate run train.py --epochs 3`.")
    if not os.access(script, os.R_OK):
        raise MigrationError(f"Cannot run {script!r}: it is not readable (check its permissions).")
    env = dict(os.environ)
    previous = env.get(tf_env.ENV_VAR)
    if previous is not None and previous not in tf_env.ACCEPTED_VALUES:
        print(f"rnn-migrate run: {tf_env.ENV_VAR}={previous!r} replaced by 1 for this program (TF1 cells need it)",
              file=sys.stderr)
    env[tf_env.ENV_VAR] = "1"
    code = BOOTSTRAP.format(behavior="v2" if args.tf2_behavior else "v1", upgrade="no" if args.as_written else "yes")
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(tf_env.__file__))))
    argv = [sys.executable, "-c", code, package_root, script, *args.args]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)  # never returns: the program's exit code is the command's
    return 3  # pragma: no cover
