"""``handwritten``: seed 002's hand-written cell, ``get_variable('W' [D+U, U])``, ``('b' [U])``, ``h' = tanh([x, h] W + b)``.

No TF1 class: the program's own step function. Keras 2 twin: ``SimpleRNNCell``.
"""
from __future__ import annotations

from typing import Optional

from migration.core.specs import CellSpec
from migration.families.row import Builder, Family, Layout, default_dims
from migration.families.stock import stock_converter


def _legacy_args(spec: CellSpec, input_size: Optional[int], scope: str) -> tuple[tuple, dict]:
    if input_size is None:
        raise ValueError("Received an invalid value for `input_size`: the hand-written cell needs it, got None.")
    return (spec.units, input_size), {"scope": scope}


FAMILY = Family(
    kind="handwritten",
    description="hand-written get_variable W/b cell (seed 002): h' = tanh([x, h] W + b); Keras SimpleRNNCell",
    tf1_classes=(),
    scope="rnn_cell",
    layouts=(Layout("rnn_cell", ("W", "b"), order=4),),
    hyper={},
    not_in_checkpoint={},
    converter=stock_converter("handwritten"),
    export={"keras3": "exact: keras.layers.SimpleRNN (tanh)", "onnx": "exact: ONNX RNN (Tanh)"},
    legacy=Builder("legacy_rnn.cells:handwritten_rnn_cell", _legacy_args),
    targets={"keras2": Builder("modern_rnn.cells:handwritten_rnn_cell", lambda s, d, scope: ((s.units, d), {}))},
    dims=default_dims("W", "b"),
    transforms={"kernel": (("W",), "W[:D]"), "recurrent_kernel": (("W",), "W[D:]"), "bias": (("b",), "b")},
)
