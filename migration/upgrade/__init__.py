"""Code upgrade: ``rnn-migrate scan`` finds TF1 constructs, ``rnn-migrate upgrade`` rewrites them.

``scan_paths`` never imports TensorFlow (nor libcst); ``upgrade_source`` needs libcst only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from migration.upgrade.rewrite_compat import UpgradeResult
    from migration.upgrade.scan import ScanReport

TARGETS = ("compat", "keras")


def scan_paths(paths: list[str]) -> "ScanReport":
    """Scan ``.py`` files, notebooks and directories; see :mod:`migration.upgrade.scan`."""
    from migration.upgrade.scan import scan_paths as _scan

    return _scan(paths)


def upgrade_source(source: str, to: str, filename: str = "<string>") -> "UpgradeResult":
    """Rewrite one TF1 source; ``to`` is ``"compat"`` or ``"keras"``. Returns ``.code`` and ``.manual_checks``."""
    if to == "compat":
        from migration.upgrade.rewrite_compat import upgrade_compat

        return upgrade_compat(source, filename)
    if to == "keras":
        from migration.upgrade.rewrite_keras import upgrade_keras

        return upgrade_keras(source, filename)
    raise ValueError(f"Received an invalid value for `to`: expected one of {TARGETS}, got {to!r}.")
