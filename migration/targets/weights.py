"""Which cells an output target takes, and their converted arrays.

A target takes a block when every cell's family row says ``exact`` for it (the ``export`` column of
:class:`migration.families.Family`) and the cell uses none of the LSTMCell options no target has a twin for yet
(peepholes, ``num_proj``, clips) and an activation the target has. The arrays are the family converter's output
(:func:`migration.families.cell_to_keras`): the very arrays the Keras 2 block model gets, in the Keras layout
``kernel [D, G*U]``, ``recurrent_kernel [U, G*U]``, ``bias [G*U]`` (LSTM gates i, f, c, o with forget_bias folded
into b_f; GRU z, r, h with reset before the recurrent MatMul, or ``bias [2, 3U]`` for cuDNN's reset after it; one
block for a simple RNN).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

import numpy as np

from migration.core.errors import MigrationError
from migration.core.specs import CellSpec
from migration.families import cell_to_keras, family

#: TF1/Keras activation name -> ONNX activation name (the ones both Keras 3 and ONNX RNN ops have)
ACTIVATIONS: dict[str, str] = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid", "softsign": "Softsign"}
LSTM, GRU, RNN = "LSTM", "GRU", "RNN"  # the layer/op each supported cell becomes


class TargetRefused(MigrationError):
    """A block a target cannot represent exactly: the message names the block, the cell family and the reason."""


@dataclasses.dataclass
class TargetCell:
    spec: CellSpec
    op: str  # LSTM / GRU / RNN
    kernel: np.ndarray  # [D, G*U]
    recurrent_kernel: np.ndarray  # [U, G*U]
    bias: np.ndarray  # [G*U]

    @property
    def units(self) -> int:
        return self.spec.units

    @property
    def reset_after(self) -> bool:
        """A GRU with cuDNN's reset (r applied after the recurrent MatMul): its Keras bias is ``[2, 3U]`` (input and
        recurrent rows; CudnnCompatibleGRUCell), Keras 3 ``GRU(reset_after=True)``, ONNX ``linear_before_reset=1``."""
        return self.op == GRU and self.bias.ndim == 2

    def arrays(self) -> list[np.ndarray]:
        return [self.kernel, self.recurrent_kernel, self.bias]


def refusal(spec: CellSpec, target: str) -> str:
    """Why ``target`` cannot take a cell of ``spec`` exactly ("" when it can)."""
    row = family(spec)
    answer = row.support(target)
    if not answer.startswith("exact"):
        return answer
    options = [name for name, value in (("use_peepholes", spec.use_peepholes), ("num_proj", spec.num_proj),
                                        ("cell_clip", spec.cell_clip), ("proj_clip", spec.proj_clip)) if value]
    if options:
        return f"not supported: {', '.join(options)} ha{'s' if len(options) == 1 else 've'} no {target} twin yet"
    if spec.activation not in ACTIVATIONS:
        return f"not supported: activation {spec.activation!r} (supported: {', '.join(ACTIVATIONS)})"
    return ""


def check_block(block: Mapping, target: str) -> None:
    """Raise :class:`TargetRefused` when ``target`` cannot take the manifest block ``block``."""
    name = block["name"]
    if block.get("wrapper"):
        raise TargetRefused(f"--target {target}: block {name!r} is a cell in AttentionCellWrapper, which has no "
                            f"{target} twin yet (not supported); convert without --target {target}.")
    for cell in block["cells"]:
        spec = CellSpec.from_dict(cell["spec"])
        why = refusal(spec, target)
        if why:
            row = family(spec)
            classes = ", ".join(row.tf1_classes) or "hand-written cell"
            raise TargetRefused(f"--target {target}: block {name!r}, cell {cell.get('path') or cell['direction']!r}: "
                                f"family {row.kind!r} ({classes}) is {why}. Convert without --target {target} (the "
                                "Keras 2 conversion is unaffected); docs/targets.md lists what each target takes.")


def block_cells(block: Mapping, read_weight: Callable[[str], np.ndarray]) -> dict[str, list[TargetCell]]:
    """direction ("" or fw/bw) -> the block's cells, layer by layer, with their converted arrays (call
    :func:`check_block` first). ``read_weight``: checkpoint key -> float32 array."""
    out: dict[str, list[TargetCell]] = {}
    order = ("", "fw", "bw")  # TF1's flat order: fw before bw
    for cell in sorted(block["cells"], key=lambda c: (order.index(c["direction"]), c.get("layer", 0))):
        spec = CellSpec.from_dict(cell["spec"])
        arrays = {name: read_weight(key) for name, key in cell["variables"].items()}
        weights = cell_to_keras(spec, arrays, cell["input_size"])
        op = LSTM if spec.is_lstm else GRU if spec.is_gru else RNN
        if family(spec).standard is not None:  # e.g. IndRNN's vector recurrence as diag(u)
            op, weights = family(spec).standard(spec, weights)
        if len(weights) != 3 or op not in (LSTM, GRU, RNN):
            raise TargetRefused(f"block {block['name']!r}: {spec.kind} cell converted to {len(weights)} arrays for "
                                f"{op!r}; the targets take kernel, recurrent_kernel and bias of an LSTM, GRU or RNN")
        out.setdefault(cell["direction"], []).append(
            TargetCell(spec, op, *(np.asarray(w, np.float32) for w in weights)))
    return out


def gate_blocks(array: np.ndarray, units: int) -> list[np.ndarray]:
    """Split the last axis of ``array`` into its gate blocks of ``units`` columns."""
    return [array[..., k * units:(k + 1) * units] for k in range(array.shape[-1] // units)]
