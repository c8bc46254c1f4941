"""``indy_gru``: ``tf.contrib.rnn.IndyGRUCell`` (TF 1.15), a GRU whose recurrent matrices are vectors.

TF1 (:mod:`legacy_rnn.indrnn`): ``r, u = split(sigmoid(x Wg + [h, h] * ug + bg))``;
``c = act(x Wc + (r * h) * uc + bc)``; ``h' = u h + (1 - u) c``. Checkpoint under ``indy_gru_cell/``:
``gates/kernel_w [D, 2U]``, ``gates/kernel_u [1, 2U]``, ``gates/bias [2U]`` (blocks r, u),
``candidate/kernel [D, U]``, ``candidate/kernel_u [1, U]``, ``candidate/bias [U]``.

Keras 2 (:mod:`modern_rnn.indrnn`): Keras' GRU order **z, r, h** (z = TF1 u): ``kernel [D, 3U]`` =
``[Wg_u | Wg_r | Wc]``, ``recurrent_kernel [3U]`` = ``[ug_u | ug_r | uc]``, ``bias [3U]`` = ``[bg_u | bg_r | bc]``.

Not read from the ``.meta``: the activation (tanh assumed and listed; ``verify`` checks it).
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from migration.core.gates import KERAS_GRU_GATES, TF1_GRU_GATES, reorder_gates
from migration.core.specs import CellSpec
from migration.families.row import Builder, Converter, Family, Layout, act_or_none, diagonal_recurrence, keras_spec_hook

TF1_NAMES: tuple[str, ...] = ("gates/kernel_w", "gates/kernel_u", "gates/bias", "candidate/kernel",
                              "candidate/kernel_u", "candidate/bias")
KERAS_NAMES: tuple[str, ...] = ("kernel", "recurrent_kernel", "bias")
KERAS_CLASS = "modern_rnn.indrnn:IndyGRUCell"
_ZR = tuple(g for g in KERAS_GRU_GATES if g != "h")  # the gate blocks TF1 keeps in gates/* (as r, u)


def _zr(array: np.ndarray) -> np.ndarray:
    return reorder_gates(array, TF1_GRU_GATES, _ZR)


def _ru(array: np.ndarray) -> np.ndarray:
    return reorder_gates(array, _ZR, TF1_GRU_GATES)


def indy_gru_to_keras(w: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """TF1 arrays by name -> Keras ``[kernel [D, 3U], recurrent_kernel [3U], bias [3U]]`` (blocks z, r, h)."""
    kernel = np.concatenate([_zr(w["gates/kernel_w"]), w["candidate/kernel"]], 1)
    recurrent = np.concatenate([_zr(w["gates/kernel_u"][0]), w["candidate/kernel_u"][0]])
    bias = np.concatenate([_zr(w["gates/bias"]), w["candidate/bias"]])
    return [kernel, recurrent, bias]


def indy_gru_to_tf1(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray) -> dict[str, np.ndarray]:
    """Inverse of :func:`indy_gru_to_keras`."""
    u2 = 2 * recurrent_kernel.shape[0] // 3
    return {"gates/kernel_w": _ru(kernel[:, :u2]), "gates/kernel_u": _ru(recurrent_kernel[:u2])[None, :],
            "gates/bias": _ru(bias[:u2]), "candidate/kernel": kernel[:, u2:].copy(),
            "candidate/kernel_u": recurrent_kernel[None, u2:].copy(), "candidate/bias": bias[u2:].copy()}


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    u, d = spec.units, input_size
    return {"gates/kernel_w": (d, 2 * u), "gates/kernel_u": (1, 2 * u), "gates/bias": (2 * u,),
            "candidate/kernel": (d, u), "candidate/kernel_u": (1, u), "candidate/bias": (u,)}


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    return shape("candidate/bias")[0], shape("candidate/kernel")[0], None


def _to_keras(spec: CellSpec, w: Mapping[str, np.ndarray], d: int, fb: float) -> list[np.ndarray]:
    return indy_gru_to_keras({n: np.asarray(w[n]) for n in TF1_NAMES})


def _to_tf1(spec: CellSpec, w: Sequence[np.ndarray], fb: float) -> dict[str, np.ndarray]:
    return indy_gru_to_tf1(*w)


FAMILY = Family(
    kind="indy_gru",
    description="tf.contrib IndyGRUCell: a GRU with vector recurrences (r, u; candidate); Keras modern_rnn.IndyGRUCell "
                "(z, r, h)",
    tf1_classes=("tf.contrib.rnn.IndyGRUCell",),
    scope="indy_gru_cell",
    layouts=(Layout("indy_gru_cell", TF1_NAMES),),
    hyper={"activation": "tanh"},
    not_in_checkpoint={"activation": "meta: not read for this family yet (tanh assumed and listed)"},
    converter=Converter(lambda s: TF1_NAMES, lambda s: KERAS_NAMES, _to_keras, _to_tf1, _shapes),
    export={"keras3": "exact: keras.layers.GRU(reset_after=False), each recurrent gate block diag(u) (gates z, r, h)",
            "onnx": "exact: ONNX GRU linear_before_reset=0 with each R block diag(u) (gates z, r, h; Rb = 0)"},
    standard=diagonal_recurrence("GRU"),
    legacy=Builder("legacy_rnn.indrnn:indy_gru_cell",
                   lambda s, d, scope: ((s.units,), {"activation": act_or_none(s)})),
    targets={"keras2": Builder("modern_rnn.indrnn:indy_gru_cell",
                               lambda s, d, scope: ((s.units,), {"activation": s.activation}))},
    upgrade_homes={"tf.contrib.rnn.IndyGRUCell": "legacy_rnn.indrnn.IndyGRUCell"},
    dims=_dims,
    keras_spec=keras_spec_hook("indy_gru", KERAS_CLASS),
    keras_classes=(KERAS_CLASS,),
    matrices=("gates/kernel_w", "gates/kernel_u", "candidate/kernel_u"),
)
