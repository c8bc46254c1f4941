"""``basic_lstm``: ``tf.nn.rnn_cell.BasicLSTMCell``: ``i, j, f, o = split([x, h] K + b)``,
``c' = c sigma(f + forget_bias) + sigma(i) tanh(j)``, ``h' = tanh(c') sigma(o)``; ``kernel [D+U, 4U]``, ``bias [4U]``
(blocks i, j, f, o); forget_bias is a Python constant of the program (found in the ``.meta``, not the checkpoint).

Keras 2 twin: ``LSTMCell`` (blocks i, f, c, o; forget_bias folded into b_f; state [h, c] for TF1's (c, h)).
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional

from migration.core.errors import ShapeError
from migration.families.row import META_LSTM_GATES, Builder, Family, Layout, act_or_none
from migration.families.stock import LINEAR, LSTM_TRANSFORMS, PRE12, stock_converter


def lstm_dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    """(units, input size, num_proj) of an LSTMCell-shaped cell: ``bias [4U]``, ``kernel [D+R, 4U]``, R = P or U."""
    bias = shape("bias")
    if len(bias) != 1 or bias[0] % 4:
        raise ShapeError(f"Received an invalid shape for `{names['bias']}`: expected (4*units,), got {bias}.")
    units = bias[0] // 4
    proj = shape("projection/kernel")[1] if "projection/kernel" in names and len(shape("projection/kernel")) == 2 else None
    rows = shape("kernel")[0]
    return units, rows - (proj or units), proj


FAMILY = Family(
    kind="basic_lstm",
    description="BasicLSTMCell: blocks i, j, f, o; forget_bias added at run time; Keras LSTMCell (i, f, c, o)",
    tf1_classes=("tf.nn.rnn_cell.BasicLSTMCell", "tf.contrib.rnn.BasicLSTMCell"),
    pre12_classes=("BasicLSTMCell",),
    scope="basic_lstm_cell",
    layouts=(Layout("basic_lstm_cell", ("kernel", "bias"), order=0),
             Layout("basic_lstm_cell", ("weights", "biases"), renames=PRE12, order=10),
             Layout("BasicLSTMCell", ("Linear/Matrix", "Linear/Bias"), renames=LINEAR, order=15)),
    hyper={"forget_bias": 1.0, "activation": "tanh"},
    not_in_checkpoint={"forget_bias": "meta: the Const added to the forget block of the gate Split",
                       "activation": "meta: the activation op on the j block"},
    meta_reader=META_LSTM_GATES,
    converter=stock_converter("basic_lstm"),
    export={"keras3": "exact: keras.layers.LSTM (gates i, f, c, o; forget_bias folded into b_f)",
            "onnx": "exact: ONNX LSTM (gates i, o, f, c; forget_bias folded into Wb_f; Rb = 0)"},
    legacy=Builder("legacy_rnn.cells:basic_lstm_cell",
                   lambda s, d, scope: ((s.units,), {"forget_bias": s.forget_bias, "activation": act_or_none(s)})),
    targets={"keras2": Builder("modern_rnn.cells:basic_lstm_cell",
                               lambda s, d, scope: ((s.units,), {"forget_bias": s.forget_bias,
                                                                 "activation": s.activation}))},
    lstm=True,
    inspect_keys=("forget_bias", "use_peepholes", "num_proj", "cell_clip", "proj_clip", "activation"),
    dims=lstm_dims,
    transforms=LSTM_TRANSFORMS,
)
