"""``cudnn_compatible_lstm``: ``tf.contrib.cudnn_rnn.CudnnCompatibleLSTMCell``: ``cudnn_compatible_lstm_cell/{kernel,
bias}`` in LSTMCell's layout, forget_bias fixed to 0 (cuDNN has none).

Keras 2 twin: ``LSTMCell``.
"""
from __future__ import annotations

from migration.families.row import Builder, Family, Layout
from migration.families.stock import stock_converter

FAMILY = Family(
    kind="cudnn_compatible_lstm",
    description="tf.contrib.cudnn_rnn CudnnCompatibleLSTMCell: LSTMCell's layout, forget_bias 0",
    tf1_classes=("tf.contrib.cudnn_rnn.CudnnCompatibleLSTMCell",),
    scope="cudnn_compatible_lstm_cell",
    layouts=(Layout("cudnn_compatible_lstm_cell", ("kernel", "bias"), recognized_as="lstm",
                    defaults={"forget_bias": 0.0}, order=18),),
    hyper={"forget_bias": 0.0},
    not_in_checkpoint={"forget_bias": "constant: 0 (the class fixes it)"},
    converter=stock_converter("cudnn_compatible_lstm"),
    export={"keras3": "exact: keras.layers.LSTM (gates i, f, c, o; forget_bias 0)",
            "onnx": "exact: ONNX LSTM (gates i, o, f, c; forget_bias 0; Rb = 0)"},
    legacy=Builder("legacy_rnn.cudnn:cudnn_compatible_lstm_cell", lambda s, d, scope: ((s.units,), {})),
    targets={"keras2": Builder("modern_rnn.cudnn:cudnn_compatible_lstm_cell", lambda s, d, scope: ((s.units,), {}))},
    # no upgrade home: TF 1.15's CudnnCompatibleLSTMCell is a class; legacy_rnn has only a factory of the same cell
    # (an upgrade to it would break isinstance checks), so `upgrade` keeps it a manual check
    upgrade_homes={},
    lstm=True,
)
