"""``cfn``: ``tf.contrib.rnn.CFNCell`` (TF 1.15), the Chaos Free Network.

TF1 (:mod:`legacy_rnn.minimal_rnn`): ``theta, eta = split(sigmoid(h U + x V + b))``;
``h' = theta act(h) + (1 - eta) act(x W)``. Checkpoint: ``cfn_cell/kernel [D, 3U]`` (column blocks V_theta, V_eta,
W), ``recurrent_kernel [U, 2U]`` (theta, eta), ``bias [2U]``.

Keras 2 (:mod:`modern_rnn.minimal_rnn`): the same three arrays under the same names (TF1's layout is already
Keras-shaped: input and recurrent matrices apart); the conversion is a checked copy.

Not read from the ``.meta``: the activation (tanh assumed and listed; ``verify`` checks it).
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from migration.core.specs import CellSpec
from migration.families.row import Builder, Converter, Family, Layout, act_or_none, keras_spec_hook, custom_export

TF1_NAMES: tuple[str, ...] = ("kernel", "recurrent_kernel", "bias")
KERAS_NAMES: tuple[str, ...] = TF1_NAMES
KERAS_CLASS = "modern_rnn.minimal_rnn:CFNCell"


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    u = spec.units
    return {"kernel": (input_size, 3 * u), "recurrent_kernel": (u, 2 * u), "bias": (2 * u,)}


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    return shape("recurrent_kernel")[0], shape("kernel")[0], None


def _to_keras(spec: CellSpec, w: Mapping[str, np.ndarray], d: int, fb: float) -> list[np.ndarray]:
    return [np.array(w[n]) for n in TF1_NAMES]


def _to_tf1(spec: CellSpec, w: Sequence[np.ndarray], fb: float) -> dict[str, np.ndarray]:
    return {n: np.array(a) for n, a in zip(TF1_NAMES, w)}


FAMILY = Family(
    kind="cfn",
    description="tf.contrib CFNCell (Chaos Free Network): h' = theta act(h) + (1 - eta) act(x W); Keras "
                "modern_rnn.CFNCell (same arrays)",
    tf1_classes=("tf.contrib.rnn.CFNCell",),
    scope="cfn_cell",
    layouts=(Layout("cfn_cell", TF1_NAMES),),
    hyper={"activation": "tanh"},
    not_in_checkpoint={"activation": "meta: not read for this family yet (tanh assumed and listed)"},
    converter=Converter(lambda s: TF1_NAMES, lambda s: KERAS_NAMES, _to_keras, _to_tf1, _shapes),
    export=custom_export("CFNCell", "MatMul, Add, Slice, Sigmoid, Mul, Sub, the activation"),
    custom_cell="CFNCell",
    legacy=Builder("legacy_rnn.minimal_rnn:cfn_cell", lambda s, d, scope: ((s.units,), {"activation": act_or_none(s)})),
    targets={"keras2": Builder("modern_rnn.minimal_rnn:cfn_cell",
                               lambda s, d, scope: ((s.units,), {"activation": s.activation}))},
    upgrade_homes={"tf.contrib.rnn.CFNCell": "legacy_rnn.minimal_rnn.CFNCell"},
    dims=_dims,
    keras_spec=keras_spec_hook("cfn", KERAS_CLASS),
    keras_classes=(KERAS_CLASS,),
)
