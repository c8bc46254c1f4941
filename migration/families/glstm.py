"""``glstm``: ``tf.contrib.rnn.GLSTMCell`` (TF 1.15), the group LSTM (G independent LSTM sub-cells).

TF1 (:mod:`legacy_rnn.glstm`): group g computes ``i_g, j_g, f_g, o_g = split([x_g, m_g] W_g, 4)`` on its slices
of the input and of the previous output; each gate is the groups' blocks concatenated plus its bias; ``c' =
sigmoid(f + forget_bias) c + sigmoid(i) tanh(j)``, ``m' = sigmoid(o) act(c')`` [``m' P``]. Checkpoint under
``glstm_cell/``: ``group{g}/kernel [D/G + R/G, 4U/G]`` for g < G (R = num_proj or U), ``bias_i``, ``bias_j``,
``bias_f``, ``bias_o`` ``[U]``, with ``num_proj`` ``projection/kernel [U, P]``. G is the number of ``group*``
directories (up to :data:`MAX_GROUPS`), U is ``bias_i``'s length, P the projection's columns: all read from the
checkpoint (G as ``CellSpec.options``).

Keras 2 (:mod:`modern_rnn.glstm`): ``kernel [D, 4U/G]`` (row block g = the x rows of ``group{g}/kernel``),
``recurrent_kernel [R, 4U/G]`` (row block g = its m rows), ``bias [4U]`` = ``bias_i, bias_j, bias_f + forget_bias,
bias_o`` (TF1's gate order kept), ``projection_kernel [U, P]``.

Not read from the ``.meta`` yet: forget_bias and activation are assumed (1.0, tanh), listed as assumed in the
summary and the manifest, and checked by ``verify`` against the original graph (``--forget-bias`` sets forget_bias).
"""
from __future__ import annotations

import importlib
import re
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from migration.core.errors import ShapeError
from migration.core.specs import CellSpec
from migration.families.row import Builder, Converter, Family, Layout, act_or_none, custom_export

KERAS_CLASS = "modern_rnn.glstm:GLSTMCell"
#: the most groups the recognizer looks for (``group0/kernel`` .. ``group{MAX_GROUPS-1}/kernel``)
MAX_GROUPS = 64
BIASES: tuple[str, ...] = ("bias_i", "bias_j", "bias_f", "bias_o")
PROJECTION = "projection/kernel"


def _groups(spec: CellSpec) -> int:
    return int(spec.option("number_of_groups", 1))  # type: ignore[call-overload]


def _tf1_names(spec: CellSpec) -> tuple[str, ...]:
    return (tuple(f"group{g}/kernel" for g in range(_groups(spec))) + BIASES
            + ((PROJECTION,) if spec.num_proj is not None else ()))


def _keras_names(spec: CellSpec) -> tuple[str, ...]:
    return ("kernel", "recurrent_kernel", "bias") + (("projection_kernel",) if spec.num_proj is not None else ())


def _shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    groups, u, r = _groups(spec), spec.units, spec.output_size
    if input_size % groups or u % groups or r % groups:
        raise ShapeError(f"A GLSTMCell with number_of_groups={groups} needs the input size ({input_size}), units ({u})"
                         f" and output size ({r}) divisible by it.")
    shapes = {f"group{g}/kernel": ((input_size + r) // groups, 4 * u // groups) for g in range(groups)}
    shapes.update({name: (u,) for name in BIASES})
    if spec.num_proj is not None:
        shapes[PROJECTION] = (u, spec.num_proj)
    return shapes


def glstm_to_keras(spec: CellSpec, w: Mapping[str, np.ndarray], input_size: int,
                   forget_bias: float) -> list[np.ndarray]:
    """TF1 arrays by name -> ``[kernel, recurrent_kernel, bias(, projection_kernel)]`` (see the module docstring)."""
    groups = _groups(spec)
    rows_x = input_size // groups
    kernels = [np.asarray(w[f"group{g}/kernel"]) for g in range(groups)]
    bias = np.concatenate([np.asarray(w[name]) for name in BIASES])
    bias[2 * spec.units:3 * spec.units] += np.asarray(forget_bias, bias.dtype)  # TF1 adds it to f at run time
    out = [np.concatenate([k[:rows_x] for k in kernels]), np.concatenate([k[rows_x:] for k in kernels]), bias]
    return out + ([np.array(w[PROJECTION])] if spec.num_proj is not None else [])


def glstm_to_tf1(spec: CellSpec, weights: Sequence[np.ndarray], forget_bias: float) -> dict[str, np.ndarray]:
    """Inverse of :func:`glstm_to_keras`."""
    groups = _groups(spec)
    kernel, recurrent, bias = (np.asarray(a) for a in weights[:3])
    rows_x, rows_m = kernel.shape[0] // groups, recurrent.shape[0] // groups
    out = {f"group{g}/kernel": np.concatenate([kernel[g * rows_x:(g + 1) * rows_x],
                                               recurrent[g * rows_m:(g + 1) * rows_m]]) for g in range(groups)}
    bias = bias.copy()
    bias[2 * spec.units:3 * spec.units] -= np.asarray(forget_bias, bias.dtype)
    out.update(zip(BIASES, np.split(bias, 4)))
    if spec.num_proj is not None:
        out[PROJECTION] = np.array(weights[3])
    return out


def _group_count(names: Mapping[str, str]) -> int:
    found = sorted(int(m.group(1)) for n in names if (m := re.fullmatch(r"group(\d+)/kernel", n)))
    if found != list(range(len(found))):
        keys = sorted(k for n, k in names.items() if n.endswith("/kernel") and n.startswith("group"))
        raise ShapeError(f"A GLSTMCell stores group0/kernel .. group{{G-1}}/kernel (G groups); found groups {found} "
                         f"in {keys}: the checkpoint is incomplete or was not written by GLSTMCell.")
    return len(found)


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    groups, units = _group_count(names), shape("bias_i")[0]
    proj = shape(PROJECTION)[1] if PROJECTION in names else None
    return units, groups * shape("group0/kernel")[0] - (proj or units), proj


def _keras_spec(cell: Any, forget_bias: float, where: str) -> Optional[CellSpec]:
    """Export hook: a :class:`modern_rnn.glstm.GLSTMCell` -> its spec."""
    module, name = KERAS_CLASS.split(":")
    if not isinstance(cell, getattr(importlib.import_module(module), name)):
        return None
    activation = cell.get_config()["activation"]
    return CellSpec("glstm", cell.units, forget_bias=forget_bias, num_proj=cell.num_proj,
                    activation=activation if isinstance(activation, str) else activation["config"]["name"],
                    options=(("number_of_groups", cell.number_of_groups),))


def _builder_args(legacy: bool):
    def args(spec: CellSpec, input_size: Optional[int], scope: str) -> tuple[tuple, dict]:
        return (spec.units,), {"forget_bias": spec.forget_bias, "num_proj": spec.num_proj,
                               "activation": act_or_none(spec) if legacy else spec.activation,
                               "number_of_groups": _groups(spec)}
    return args


FAMILY = Family(
    kind="glstm",
    description="tf.contrib GLSTMCell (group LSTM): group{g}/kernel per group, bias_{i,j,f,o}, optional projection; "
                "Keras modern_rnn.GLSTMCell",
    tf1_classes=("tf.contrib.rnn.GLSTMCell",),
    scope="glstm_cell",
    layouts=(Layout("glstm_cell", BIASES + ("group0/kernel",),
                    optional=tuple(f"group{g}/kernel" for g in range(1, MAX_GROUPS)) + (PROJECTION,)),),
    hyper={"forget_bias": 1.0, "activation": "tanh", "num_proj": None, "number_of_groups": 1},
    not_in_checkpoint={"forget_bias": "meta: not read for this family yet (1.0 assumed and listed; verify checks it)",
                       "activation": "meta: not read for this family yet (tanh assumed and listed)"},
    converter=Converter(_tf1_names, _keras_names, glstm_to_keras, lambda s, w, fb: glstm_to_tf1(s, w, fb), _shapes),
    export=custom_export("GLSTMCell", "Split per group, MatMul, Add, Concat, Sigmoid, Tanh, Mul, the activation; the "
                                      "groups' weights kept apart, so training does not fill off-diagonal blocks"),
    custom_cell="GLSTMCell",
    legacy=Builder("legacy_rnn.glstm:glstm_cell", _builder_args(True)),
    targets={"keras2": Builder("modern_rnn.glstm:glstm_cell", _builder_args(False))},
    upgrade_homes={"tf.contrib.rnn.GLSTMCell": "legacy_rnn.glstm.GLSTMCell"},
    lstm=True,
    dims=_dims,
    spec_options=("num_proj", "number_of_groups"),
    read_options=lambda names, shape: {"number_of_groups": _group_count(names)},
    keras_spec=_keras_spec,
    keras_classes=(KERAS_CLASS,),
    transforms={"bias": (BIASES, "bias_i, bias_j, bias_f + forget_bias, bias_o concatenated"),
                "projection_kernel": ((PROJECTION,), "copy")},
    inspect_keys=("forget_bias", "activation", "num_proj", "options"),
)
