"""``gru``: ``tf.nn.rnn_cell.GRUCell``: ``r, u = sigma([x, h] G + g)``; ``c = tanh([x, r h] C + cb)``;
``h' = u h + (1 - u) c``; ``gates/kernel [D+U, 2U]`` (blocks r, u), ``candidate/kernel [D+U, U]``.

Keras 2 twin: ``GRUCell(reset_after=False)`` (blocks z, r, h; the tf_keras default reset_after=True cannot equal it).
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional

from migration.families.row import Builder, Family, Layout
from migration.families.stock import stock_converter


def gru_dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    units = shape("candidate/bias")[0]
    return units, shape("gates/kernel")[0] - units, None


FAMILY = Family(
    kind="gru",
    description="GRUCell: gates r, u and a candidate; Keras GRUCell(reset_after=False) (z, r, h)",
    tf1_classes=("tf.nn.rnn_cell.GRUCell", "tf.contrib.rnn.GRUCell"),
    pre12_classes=("GRUCell",),
    scope="gru_cell",
    layouts=(Layout("gru_cell", ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias"), order=3),
             Layout("gru_cell", ("gates/weights", "gates/biases", "candidate/weights", "candidate/biases"),
                    renames={"gates/weights": "gates/kernel", "gates/biases": "gates/bias",
                             "candidate/weights": "candidate/kernel", "candidate/biases": "candidate/bias"}, order=12),
             Layout("GRUCell", ("Gates/Linear/Matrix", "Gates/Linear/Bias", "Candidate/Linear/Matrix",
                                "Candidate/Linear/Bias"),
                    renames={"Gates/Linear/Matrix": "gates/kernel", "Gates/Linear/Bias": "gates/bias",
                             "Candidate/Linear/Matrix": "candidate/kernel", "Candidate/Linear/Bias": "candidate/bias"},
                    order=16)),
    hyper={},
    not_in_checkpoint={},
    converter=stock_converter("gru"),
    export={"keras3": "exact: keras.layers.GRU(reset_after=False) (gates z, r, h)",
            "onnx": "exact: ONNX GRU linear_before_reset=0 (gates z, r, h; Rb = 0)"},
    legacy=Builder("legacy_rnn.cells:gru_cell", lambda s, d, scope: ((s.units,), {})),
    targets={"keras2": Builder("modern_rnn.cells:gru_cell", lambda s, d, scope: ((s.units,), {}))},
    gru=True,
    dims=gru_dims,
    transforms={"kernel": (("gates/kernel", "candidate/kernel"), "rows [:D]; [r|u] + candidate -> [z|r|h]"),
                "recurrent_kernel": (("gates/kernel", "candidate/kernel"), "rows [D:]; [r|u] + candidate -> [z|r|h]"),
                "bias": (("gates/bias", "candidate/bias"), "[r|u] + candidate -> [z|r|h]")},
)
