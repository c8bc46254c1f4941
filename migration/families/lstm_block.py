"""``lstm_block``: ``tf.contrib.rnn.LSTMBlockCell`` (kernel ``tf.raw_ops.LSTMBlockCell``): LSTMCell's variables
``lstm_cell/{kernel, bias}`` (+ ``w_{i,f,o}_diag`` with use_peephole); forget_bias, cell_clip and use_peephole are
attributes of the ``LSTMBlockCell`` op in the ``.meta``. The checkpoint is read through the ``lstm`` layouts.

Keras 2 twin: as ``lstm`` (the block kernel computes the LSTMCell maths).
"""
from __future__ import annotations

from migration.families.lstm import lstm_args
from migration.families.row import Builder, Family
from migration.families.stock import stock_converter

#: the LSTMCell maths of the block kernels (LSTMBlockCell, LSTMBlockFusedCell) in the output targets
BLOCK_LSTM_EXPORT = {
    "keras3": "exact: keras.layers.LSTM (LSTMCell's maths: gates i, f, c, o; forget_bias folded into b_f); with "
              "use_peephole or cell_clip exact with a custom layer: rnn_migrate>ProjectionLSTMCell",
    "onnx": "exact: ONNX LSTM (gates i, o, f, c; forget_bias folded into Wb_f; Rb = 0); with use_peephole or "
            "cell_clip exact with an op set: a Scan of MatMul, Add, Split, Sigmoid, Mul, Clip, the activation"}

FAMILY = Family(
    kind="lstm_block",
    description="tf.contrib LSTMBlockCell: LSTMCell's variables; hyper-parameters are op attributes",
    tf1_classes=("tf.contrib.rnn.LSTMBlockCell",),
    scope="lstm_cell",
    layouts=(),
    recognized_through="lstm",
    hyper={"forget_bias": 1.0, "cell_clip": None, "use_peephole": False},
    not_in_checkpoint={"forget_bias": "attribute: LSTMBlockCell op forget_bias",
                       "cell_clip": "attribute: LSTMBlockCell op cell_clip (-1: none)"},
    converter=stock_converter("lstm_block"),
    export=BLOCK_LSTM_EXPORT,
    legacy=Builder("legacy_rnn.contrib:lstm_block_cell",
                   lambda s, d, scope: ((s.units, s.forget_bias, s.cell_clip, s.use_peepholes), {})),
    targets={"keras2": Builder("modern_rnn.cells:lstm_cell",
                               lambda s, d, scope: (lstm_args(s), {"activation": s.activation}))},
    upgrade_homes={"tf.contrib.rnn.LSTMBlockCell": "legacy_rnn.contrib.LSTMBlockCell"},
    lstm=True,
)
