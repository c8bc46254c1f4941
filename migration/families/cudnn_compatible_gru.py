"""``cudnn_compatible_gru``: ``tf.contrib.cudnn_rnn.CudnnCompatibleGRUCell``: ``gates/{kernel,bias}`` and
``candidate/{input,hidden}_projection/{kernel,bias}`` (cuDNN's GRU: the reset gate applied after the hidden
projection).

Keras 2 twin: ``GRUCell(reset_after=True)``.
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional

from migration.families.row import Builder, Family, Layout
from migration.families.stock import stock_converter


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    return shape("candidate/hidden_projection/bias")[0], shape("candidate/input_projection/kernel")[0], None


FAMILY = Family(
    kind="cudnn_compatible_gru",
    description="tf.contrib.cudnn_rnn CudnnCompatibleGRUCell: split candidate projections; Keras GRUCell(reset_after=True)",
    tf1_classes=("tf.contrib.cudnn_rnn.CudnnCompatibleGRUCell",),
    scope="cudnn_compatible_gru_cell",
    layouts=(Layout("cudnn_compatible_gru_cell",
                    ("gates/kernel", "gates/bias", "candidate/input_projection/kernel",
                     "candidate/hidden_projection/kernel", "candidate/input_projection/bias",
                     "candidate/hidden_projection/bias"), order=19),),
    hyper={},
    not_in_checkpoint={},
    converter=stock_converter("cudnn_compatible_gru"),
    export={"keras3": "exact: keras.layers.GRU(reset_after=True) (gates z, r, h; input and recurrent bias rows, the "
                      "candidate's hidden bias in the recurrent row)",
            "onnx": "exact: ONNX GRU linear_before_reset=1 (gates z, r, h; Wb, Rb from the two Keras bias rows)"},
    legacy=Builder("legacy_rnn.cudnn:cudnn_compatible_gru_cell", lambda s, d, scope: ((s.units,), {})),
    targets={"keras2": Builder("modern_rnn.cudnn:cudnn_compatible_gru_cell", lambda s, d, scope: ((s.units,), {}))},
    upgrade_homes={"tf.contrib.cudnn_rnn.CudnnCompatibleGRUCell": "legacy_rnn.cudnn.CudnnCompatibleGRUCell"},
    gru=True,
    dims=_dims,
)
