"""Checkpoint migration: ``inspect | convert | verify | export`` (the Python API behind the CLI commands).

Modules: :mod:`.reader` (files, streaming), :mod:`.meta` (the ``.meta`` graph, parsed never executed),
:mod:`.recognize` (the name/shape table), :mod:`.blocks` (a block on both sides), :mod:`.convert`, :mod:`.verify`,
:mod:`.export`, :mod:`.manifest`, :mod:`.optimizer` (restore converted optimizer state into tf_keras).
"""
from __future__ import annotations

from migration.checkpoint.convert import ConversionResult, convert_checkpoint
from migration.checkpoint.export import ExportResult, export_keras_model
from migration.checkpoint.recognize import Inspection, inspect_checkpoint
from migration.checkpoint.verify import VerifyReport, verify_conversion

__all__ = ["inspect_checkpoint", "convert_checkpoint", "verify_conversion", "export_keras_model", "Inspection",
           "ConversionResult", "VerifyReport", "ExportResult"]
