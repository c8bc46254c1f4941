"""``sru``: ``tf.contrib.rnn.SRUCell`` (TF 1.15), the Simple Recurrent Unit.

TF1 (:mod:`legacy_rnn.sru`): ``x_bar, f_in, r_in, x_tx = split(x K, 4)``; ``f, r = sigmoid([f_in, r_in] + b)``;
``c' = f c + (1 - f) x_bar``; ``h = r act(c') + (1 - r) x_tx``: the output is h, the state c (they differ).
Checkpoint: ``sru_cell/kernel [D, 4U]``, ``sru_cell/bias [2U]``; no recurrent matrix.

Keras 2 (:mod:`modern_rnn.sru`): the same two arrays under the same names; the conversion is a checked copy.

Not read from the ``.meta``: the activation (tanh assumed and listed; ``verify`` checks it).
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from migration.core.specs import CellSpec
from migration.families.row import Builder, Converter, Family, Layout, act_or_none, keras_spec_hook, custom_export

TF1_NAMES: tuple[str, ...] = ("kernel", "bias")
KERAS_NAMES: tuple[str, ...] = TF1_NAMES
KERAS_CLASS = "modern_rnn.sru:SRUCell"


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    return {"kernel": (input_size, 4 * spec.units), "bias": (2 * spec.units,)}


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    return shape("bias")[0] // 2, shape("kernel")[0], None


def _to_keras(spec: CellSpec, w: Mapping[str, np.ndarray], d: int, fb: float) -> list[np.ndarray]:
    return [np.array(w[n]) for n in TF1_NAMES]


def _to_tf1(spec: CellSpec, w: Sequence[np.ndarray], fb: float) -> dict[str, np.ndarray]:
    return {n: np.array(a) for n, a in zip(TF1_NAMES, w)}


FAMILY = Family(
    kind="sru",
    description="tf.contrib SRUCell: no recurrent matrix; output h, state c; Keras modern_rnn.SRUCell (same arrays)",
    tf1_classes=("tf.contrib.rnn.SRUCell",),
    scope="sru_cell",
    layouts=(Layout("sru_cell", TF1_NAMES),),
    hyper={"activation": "tanh"},
    not_in_checkpoint={"activation": "meta: not read for this family yet (tanh assumed and listed)"},
    converter=Converter(lambda s: TF1_NAMES, lambda s: KERAS_NAMES, _to_keras, _to_tf1, _shapes),
    export=custom_export("SRUCell", "MatMul, Add, Split, Sigmoid, Mul, Sub, the activation"),
    custom_cell="SRUCell",
    legacy=Builder("legacy_rnn.sru:sru_cell", lambda s, d, scope: ((s.units,), {"activation": act_or_none(s)})),
    targets={"keras2": Builder("modern_rnn.sru:sru_cell",
                               lambda s, d, scope: ((s.units,), {"activation": s.activation}))},
    upgrade_homes={"tf.contrib.rnn.SRUCell": "legacy_rnn.sru.SRUCell"},
    dims=_dims,
    keras_spec=keras_spec_hook("sru", KERAS_CLASS),
    keras_classes=(KERAS_CLASS,),
)
