"""``rnn-migrate doctor``: check that this Python can run both sides (TF1 graphs and tf_keras) and say what to fix."""
from __future__ import annotations

import argparse
import importlib.metadata as md

from migration.commands.common import EXIT_CHECK_FAILED, EXIT_OK, print_json
from migration.core import tf_env

NAME = "doctor"
HELP = "check the TensorFlow / tf_keras / tf-slim installation and the TF_USE_LEGACY_KERAS trap"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        NAME, help=HELP,
        description=HELP + ".\n\nTF1 cells (tf.compat.v1.nn.rnn_cell) live in tf_keras and are only reachable when "
                    "TF_USE_LEGACY_KERAS=1 is set before TensorFlow is imported; otherwise TF 2.16+ routes them to "
                    "Keras 3, where they do not exist. doctor prints the installed versions, applies the project's "
                    "fix, and checks both sides: the TF1 cells and modern_rnn on tf_keras.",
        epilog="example: rnn-migrate doctor --json\nexit codes: 0 everything works, 1 a package or check failed",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=run)


def collect() -> dict:
    """Versions and the result of each check; never raises for a missing package (reports it instead)."""
    report: dict = {"packages": {}, "checks": {}}
    for pkg in ("tensorflow", "tf_keras", "tf-slim", "numpy"):
        try:
            report["packages"][pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            report["packages"][pkg] = None
    try:
        tf_env.ensure_legacy_keras()
        tf_env.check_rnn_cell_available()
        report["checks"]["tf.compat.v1.nn.rnn_cell"] = "ok"
    except ImportError as exc:
        report["checks"]["tf.compat.v1.nn.rnn_cell"] = f"FAILED: {exc}"
    try:
        import modern_rnn  # noqa: F401  (the check itself: this import is what may fail)

        report["checks"]["modern_rnn (tf_keras)"] = "ok"
    except ImportError as exc:
        report["checks"]["modern_rnn (tf_keras)"] = f"FAILED: {exc}"
    report["ok"] = all(v == "ok" for v in report["checks"].values()) and None not in report["packages"].values()
    return report


def run(args: argparse.Namespace) -> int:
    report = collect()
    if args.json:
        print_json(report)
    else:
        for pkg, version in report["packages"].items():
            print(f"{pkg:<28} {version or 'MISSING: pip install ' + pkg}")
        for name, result in report["checks"].items():
            print(f"{name:<28} {result}")
    return EXIT_OK if report["ok"] else EXIT_CHECK_FAILED
