"""``phased_lstm``: ``tf.contrib.rnn.PhasedLSTMCell`` (TF 1.15), the LSTM with a per-unit periodic time gate.

TF1 (:mod:`legacy_rnn.phased_lstm`): the input is ``(time [B, 1], x [B, D])``; an LSTM step (``mask_gates``: i, f;
``new_input``; ``output_gate``) whose new c, h are mixed with the old by the time gate ``k`` (from ``period``,
``phase``, ``ratio_on`` and the constant ``leak``). Checkpoint under ``phased_lstm_cell``: ``mask_gates/kernel
[D+U, 2U]``, ``mask_gates/bias [2U]``, ``new_input/kernel [D+U, U]``, ``new_input/bias``, ``output_gate/kernel
[D+U, U]``, ``output_gate/bias``, ``period``, ``phase``, ``ratio_on`` (``[U]`` each; ratio_on even when not
trainable: Saver keeps every global variable).

Keras 2 (:mod:`modern_rnn.phased_lstm`): the same nine arrays under mirrored names (``mask_gates_kernel`` ...); the
conversion is a checked copy. The twin reads ONE input ``[B, T, 1 + D]`` (time first), so this family's "input size"
is ``1 + D`` and the whole model feeds ``concat([times, x], -1)`` built from the two tensors the original
``dynamic_rnn`` read (``input_parts=2``).

Not read from the ``.meta``: ``leak`` (0.001 assumed and listed; ``verify`` checks it against the original graph,
where the closed phase's ``leak * r`` shows). ``use_peepholes=True`` (kernels of D+2U rows) has no twin: refused by
the shape check, naming the variable. A float64 time is read as float32 by the twin.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from migration.core.specs import CellSpec
from migration.families.row import Builder, Converter, Family, Layout, custom_export

TF1_NAMES: tuple[str, ...] = ("mask_gates/kernel", "mask_gates/bias", "new_input/kernel", "new_input/bias",
                              "output_gate/kernel", "output_gate/bias", "period", "phase", "ratio_on")
KERAS_NAMES: tuple[str, ...] = tuple(n.replace("/", "_") for n in TF1_NAMES)
KERAS_CLASS = "modern_rnn.phased_lstm:PhasedLSTMCell"
#: TF 1.15's default leak (a Python constant of the program; not read from the .meta yet)
LEAK = 0.001


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    """``input_size``: the twin's input width ``1 + D`` (the time column, then the D features)."""
    rows, u = input_size - 1 + spec.units, spec.units
    return {"mask_gates/kernel": (rows, 2 * u), "mask_gates/bias": (2 * u,), "new_input/kernel": (rows, u),
            "new_input/bias": (u,), "output_gate/kernel": (rows, u), "output_gate/bias": (u,), "period": (u,),
            "phase": (u,), "ratio_on": (u,)}


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    units = shape("period")[0]
    return units, shape("new_input/kernel")[0] - units + 1, None


def _to_keras(spec: CellSpec, w: Mapping[str, np.ndarray], d: int, fb: float) -> list[np.ndarray]:
    return [np.array(w[n]) for n in TF1_NAMES]


def _to_tf1(spec: CellSpec, w: Sequence[np.ndarray], fb: float) -> dict[str, np.ndarray]:
    return {n: np.array(a) for n, a in zip(TF1_NAMES, w)}


def _keras_input_size(spec: CellSpec, w: Sequence[np.ndarray]) -> int:
    return int(np.shape(w[2])[0]) - spec.units + 1


def _keras_spec(cell: Any, forget_bias: float, where: str) -> Optional[CellSpec]:
    """Export hook: a :class:`modern_rnn.phased_lstm.PhasedLSTMCell` -> its spec."""
    module, name = KERAS_CLASS.split(":")
    if not isinstance(cell, getattr(importlib.import_module(module), name)):
        return None
    return CellSpec("phased_lstm", cell.units)


FAMILY = Family(
    kind="phased_lstm",
    description="tf.contrib PhasedLSTMCell: an LSTM step gated by a periodic time gate; input (time, x); Keras "
                "modern_rnn.PhasedLSTMCell on [time, x] (same arrays)",
    tf1_classes=("tf.contrib.rnn.PhasedLSTMCell",),
    scope="phased_lstm_cell",
    layouts=(Layout("phased_lstm_cell", TF1_NAMES),),
    hyper={"leak": LEAK},
    not_in_checkpoint={"leak": f"meta: not read for this family yet ({LEAK} assumed and listed; verify checks it)"},
    converter=Converter(lambda s: TF1_NAMES, lambda s: KERAS_NAMES, _to_keras, _to_tf1, _shapes, _keras_input_size),
    export=custom_export("PhasedLSTMCell", "Split of the time column, Concat, MatMul, Add, Sigmoid, Tanh, Mul, Sub, "
                                           "Div, Mod with TF's floor-mod sign fix, Less, Where; leak 0.001"),
    custom_cell="PhasedLSTMCell",
    legacy=Builder("legacy_rnn.phased_lstm:phased_lstm_cell", lambda s, d, scope: ((s.units,), {"leak": LEAK})),
    targets={"keras2": Builder("modern_rnn.phased_lstm:phased_lstm_cell",
                               lambda s, d, scope: ((s.units,), {"leak": LEAK}))},
    upgrade_homes={"tf.contrib.rnn.PhasedLSTMCell": "legacy_rnn.phased_lstm.PhasedLSTMCell"},
    lstm=True,
    dims=_dims,
    matrices=("mask_gates/kernel", "new_input/kernel", "output_gate/kernel"),
    keras_spec=_keras_spec,
    keras_classes=(KERAS_CLASS,),
    inspect_keys=(),
    input_parts=2,
)
