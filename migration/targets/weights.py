"""Which cells an output target takes, and their converted arrays.

A target takes a block when every cell's family row says ``exact`` (``exact with a custom layer`` / ``an op set``) for
it (the ``export`` column of :class:`migration.families.Family`) and its activation is one the target has. A family
no standard layer computes names its custom step (``Family.custom_cell``; an LSTMCell/LSTMBlockCell with peepholes,
``num_proj`` or clips: :data:`PROJECTION_LSTM`): its cells keep the Keras 2 twin's whole weight list. The arrays are the family converter's output
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
#: a cell computed by a custom step (:attr:`TargetCell.custom`: keras3_cells' class, onnx_cells' Scan body)
CUSTOM = "CUSTOM"
#: the custom step of an LSTMCell / LSTMBlockCell with peepholes, num_proj or clips (``spec.needs_custom_keras_cell``)
PROJECTION_LSTM = "ProjectionLSTMCell"


class TargetRefused(MigrationError):
    """A block a target cannot represent exactly: the message names the block, the cell family and the reason."""


@dataclasses.dataclass
class TargetCell:
    """One cell of a block for the targets: a standard layer/op (``op`` LSTM/GRU/RNN and its three arrays), or a
    custom step (``op`` :data:`CUSTOM`, ``custom`` the step's name, ``weights`` the Keras 2 twin's whole list;
    ``kernel`` is then ``weights[0]`` and the other two arrays are empty)."""

    spec: CellSpec
    op: str  # LSTM / GRU / RNN / CUSTOM
    kernel: np.ndarray  # [D, G*U]
    recurrent_kernel: np.ndarray  # [U, G*U]
    bias: np.ndarray  # [G*U]
    custom: str = ""
    weights: tuple = ()

    @property
    def units(self) -> int:
        return self.spec.units

    @property
    def output_size(self) -> int:
        return self.spec.output_size

    @property
    def lstm_state(self) -> bool:
        """Keras states ``[h, c]`` (TF1 ``(c, h)``): an LSTM, standard or custom."""
        return self.op == LSTM or (self.op == CUSTOM and self.spec.is_lstm)

    @property
    def reset_after(self) -> bool:
        """A GRU with cuDNN's reset (r applied after the recurrent MatMul): its Keras bias is ``[2, 3U]`` (input and
        recurrent rows; CudnnCompatibleGRUCell), Keras 3 ``GRU(reset_after=True)``, ONNX ``linear_before_reset=1``."""
        return self.op == GRU and self.bias.ndim == 2

    def arrays(self) -> list[np.ndarray]:
        """The layer's ``set_weights`` list."""
        return list(self.weights) if self.op == CUSTOM else [self.kernel, self.recurrent_kernel, self.bias]


def custom_of(spec: CellSpec) -> str:
    """The custom step computing a cell of ``spec`` ("" when a standard layer/op does)."""
    return PROJECTION_LSTM if spec.needs_custom_keras_cell else family(spec).custom_cell


def refusal(spec: CellSpec, target: str) -> str:
    """Why ``target`` cannot take a cell of ``spec`` exactly ("" when it can)."""
    row = family(spec)
    answer = row.support(target)
    if not answer.startswith("exact"):
        return answer
    if spec.activation not in ACTIVATIONS:
        return f"not supported: activation {spec.activation!r} (supported: {', '.join(ACTIVATIONS)})"
    return ""


def check_block(block: Mapping, target: str) -> None:
    """Raise :class:`TargetRefused` when ``target`` cannot take the manifest block ``block``."""
    name = block["name"]
    kind = (block.get("wrapper") or {}).get("kind", "attention_cell_wrapper")
    if block.get("wrapper") and kind != "attention_cell_wrapper":  # AttentionCellWrapper: targets.attention_export
        raise TargetRefused(f"--target {target}: block {name!r} is in a cell wrapper of kind {kind!r}, which the "
                            f"targets do not know (only attention_cell_wrapper); convert without --target {target}.")
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
        custom = custom_of(spec)
        if custom:
            out.setdefault(cell["direction"], []).append(TargetCell(
                spec, CUSTOM, np.asarray(weights[0], np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32),
                custom, tuple(np.asarray(w, np.float32) for w in weights)))
            continue
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
