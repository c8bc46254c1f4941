"""Cell families as rows: one module per TF1 cell family, listed in :mod:`migration.families.registry`.

Layer: above ``legacy_rnn``/``modern_rnn`` (whose builders the rows name), below ``migration.graph`` and the jobs.
Everything below answers from the rows; no caller compares kind strings:

* :func:`family` / :func:`families`: the rows;
* :func:`cell_from_spec`: the legacy cell or the cell of an output target (``"keras2"``) for a spec;
* :func:`cell_to_keras`, :func:`cell_to_tf1`, :func:`tf1_names_for`, :func:`keras_names_for`, :func:`tf1_shapes`:
  the row's NumPy converters, with the shape checks of :mod:`migration.converters`;
* :func:`cell_layouts`: the recognizer's table (every layout of every row, in table order);
* :func:`upgrade_homes`: TF1 public symbol -> the project's home of the class (read by ``rnn-migrate upgrade``).
"""
from __future__ import annotations

import importlib
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from migration.core.errors import ShapeError, UnknownCellError, check_shape
from migration.core.specs import CellSpec
from migration.families.namespaces import PARTIAL_MODULES, namespace_homes
from migration.families.registry import FAMILIES
from migration.families.row import Builder, Converter, Family, Layout

_BY_KIND: dict[str, Family] = {f.kind: f for f in FAMILIES}
TARGETS: tuple[str, ...] = ("keras2",)


def families() -> tuple[Family, ...]:
    return FAMILIES


def family(kind_or_spec: str | CellSpec) -> Family:
    """The row of a kind (or of a spec's kind); UnknownCellError names the known kinds."""
    kind = kind_or_spec.kind if isinstance(kind_or_spec, CellSpec) else kind_or_spec
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise UnknownCellError(f"No converter for cell kind {kind!r}; known kinds: {sorted(_BY_KIND)}.") from None


def cell_from_spec(spec: CellSpec, input_size: Optional[int] = None, scope: str = "rnn_cell",
                   target: str = "legacy"):
    """Build the cell ``spec`` describes: the TF1 cell (``target='legacy'``) or its twin for an output target."""
    row = family(spec)
    builder = row.legacy if target == "legacy" else row.targets[target]
    return builder(spec, input_size, scope)


def legacy_cell(spec: CellSpec, input_size: Optional[int] = None, scope: str = "rnn_cell"):
    return cell_from_spec(spec, input_size, scope, "legacy")


def keras_cell(spec: CellSpec, input_size: Optional[int] = None):
    return cell_from_spec(spec, input_size, target="keras2")


def uses_forget_bias(spec: CellSpec) -> bool:
    """True when the family adds a run-time forget_bias (not stored in the checkpoint; folded into a Keras bias)."""
    return "forget_bias" in family(spec).hyper


def weight_sources(spec: CellSpec, kname: str, variables: Mapping[str, str]) -> tuple[list[str], str]:
    """(checkpoint keys, how) behind Keras weight ``kname`` of a cell, for the manifest, from the row's
    ``transforms`` (a family without its own: the lstm/gru row's for that trait). Families without a row entry
    (contrib block/fused, cuDNN, layer-norm) list every variable of the cell and name their converter."""
    table = family(spec).transforms or family("lstm" if spec.is_lstm else "gru" if spec.is_gru else spec).transforms
    row = table.get(kname)
    if row is not None and all(n in variables for n in row[0]):
        return [variables[n] for n in row[0]], row[1]
    return sorted(variables.values()), f"migration.converters.cell_to_keras for kind {spec.kind!r}"


def tf1_names_for(kind_or_spec: str | CellSpec) -> tuple[str, ...]:
    """TF1 variable names under the cell scope."""
    spec = kind_or_spec if isinstance(kind_or_spec, CellSpec) else CellSpec(kind_or_spec, 1)
    return family(spec).converter.tf1_names(spec)


def keras_names_for(spec: CellSpec) -> tuple[str, ...]:
    """Keras cell weight names, in ``cell.get_weights()`` order."""
    return family(spec).converter.keras_names(spec)


def tf1_shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    """The checkpoint shape of every TF1 variable of ``spec`` with input depth ``input_size``."""
    return family(spec).converter.tf1_shapes(spec, input_size)


def cell_to_keras(spec: CellSpec, tf1_weights: Mapping[str, np.ndarray], input_size: int, *,
                  include_forget_bias: bool = True) -> list[np.ndarray]:
    """One TF1 cell's arrays (by name under the cell scope) -> its Keras twin's ``get_weights()`` list; checks
    names and shapes first. ``include_forget_bias=False``: the layout only (optimizer slots, gradients)."""
    names = tf1_names_for(spec)
    missing = [n for n in names if n not in tf1_weights]
    if missing:
        raise UnknownCellError(f"Missing TF1 weights {missing} for {spec.kind} cell (got {sorted(tf1_weights)}); a "
                               f"{spec.kind} cell stores {list(names)}.")
    for name, shape in tf1_shapes(spec, input_size).items():
        check_shape(name, np.shape(tf1_weights[name]), shape,
                    f"{spec.kind} cell with units={spec.units}, input_size={input_size}")
    forget_bias = spec.forget_bias if (uses_forget_bias(spec) and include_forget_bias) else 0.0
    return family(spec).converter.to_keras(spec, tf1_weights, input_size, forget_bias)


def cell_to_tf1(spec: CellSpec, keras_weights: Sequence[np.ndarray], *,
                include_forget_bias: bool = True) -> dict[str, np.ndarray]:
    """Inverse of :func:`cell_to_keras`."""
    names = keras_names_for(spec)
    if len(keras_weights) != len(names):
        raise ShapeError(f"Received {len(keras_weights)} Keras weights for a {spec.kind} cell; expected {len(names)}: "
                         f"{list(names)}.")
    forget_bias = spec.forget_bias if (uses_forget_bias(spec) and include_forget_bias) else 0.0
    out = family(spec).converter.to_tf1(spec, [np.asarray(w) for w in keras_weights], forget_bias)
    sizer = family(spec).converter.keras_input_size
    input_size = sizer(spec, keras_weights) if sizer else int(np.shape(keras_weights[0])[0])
    for name, shape in tf1_shapes(spec, input_size).items():
        check_shape(name, np.shape(out[name]), shape, f"{spec.kind} cell with units={spec.units}")
    return out


def cell_layouts() -> list[tuple[Family, Layout]]:
    """Every checkpoint layout of every family, in the recognizer's table order."""
    rows = [(f, layout) for f in FAMILIES for layout in f.layouts]
    return sorted(rows, key=lambda r: r[1].order)


def recognized_family(layout_row: tuple[Family, Layout]) -> Family:
    """The family whose kind the recognizer gives a cell found through ``layout_row``."""
    row, layout = layout_row
    return family(layout.recognized_as) if layout.recognized_as else row


def keras_spec(cell: Any, forget_bias: float, where: str) -> Optional[CellSpec]:
    """The spec of a Keras cell of a family that declares an export hook (None: no such family)."""
    for row in FAMILIES:
        if row.keras_spec is not None:
            spec = row.keras_spec(cell, forget_bias, where)
            if spec is not None:
                return spec
    return None


def register_keras_classes() -> None:
    """Import every row's Keras classes, so that safe-mode loading finds them (``module:Class`` names; imports
    TensorFlow, so the jobs call it just before loading a model)."""
    for row in FAMILIES:
        for target in row.keras_classes:
            module, name = target.split(":")
            getattr(importlib.import_module(module), name)


def upgrade_homes() -> dict[str, str]:
    """TF1 public dotted symbol -> its home in this project: every row's class home (``tf.contrib.rnn.UGRNNCell`` ->
    ``legacy_rnn.ugrnn.UGRNNCell``), then the namespaces of :mod:`migration.families.namespaces`, whose module
    spelling is kept where they list the class too (``legacy_rnn.contrib_rnn.LSTMBlockCell``, the same object as the
    row's ``legacy_rnn.contrib.LSTMBlockCell``: tests/core/test_families_registry.py checks each is)."""
    homes: dict[str, str] = {}
    for row in FAMILIES:
        homes.update(row.upgrade_homes)
    homes.update(namespace_homes())
    return homes


__all__ = ["Builder", "Converter", "Family", "Layout", "TARGETS", "families", "family", "cell_from_spec",
           "legacy_cell", "keras_cell", "tf1_names_for", "keras_names_for", "tf1_shapes", "cell_to_keras",
           "cell_to_tf1", "uses_forget_bias", "cell_layouts", "recognized_family", "keras_spec", "register_keras_classes", "upgrade_homes",
           "PARTIAL_MODULES", "weight_sources"]
