"""``basic_rnn``: ``tf.nn.rnn_cell.BasicRNNCell``: ``h' = act([x, h] K + b)``, ``kernel [D+U, U]``, ``bias [U]``.

Keras 2 twin: ``SimpleRNNCell`` (``kernel = K[:D]``, ``recurrent_kernel = K[D:]``).
"""
from __future__ import annotations

from migration.families.row import META_RNN_ACTIVATION, Builder, Family, Layout, act_or_none, default_dims
from migration.families.stock import LINEAR, PRE12, stock_converter

FAMILY = Family(
    kind="basic_rnn",
    description="BasicRNNCell: h' = act([x, h] K + b); Keras SimpleRNNCell",
    tf1_classes=("tf.nn.rnn_cell.BasicRNNCell", "tf.contrib.rnn.BasicRNNCell"),
    pre12_classes=("BasicRNNCell",),
    scope="basic_rnn_cell",
    layouts=(Layout("basic_rnn_cell", ("kernel", "bias"), order=2),
             Layout("basic_rnn_cell", ("weights", "biases"), renames=PRE12, order=9),
             Layout("BasicRNNCell", ("Linear/Matrix", "Linear/Bias"), renames=LINEAR, order=14)),
    hyper={"activation": "tanh"},
    not_in_checkpoint={"activation": "meta: the activation op after the cell's BiasAdd"},
    meta_reader=META_RNN_ACTIVATION,
    converter=stock_converter("basic_rnn"),
    export={"keras3": "exact: keras.layers.SimpleRNN (activations tanh, relu, sigmoid, softsign)",
            "onnx": "exact: ONNX RNN (activations Tanh, Relu, Sigmoid, Softsign)"},
    legacy=Builder("legacy_rnn.cells:basic_rnn_cell", lambda s, d, scope: ((s.units,), {"activation": act_or_none(s)})),
    targets={"keras2": Builder("modern_rnn.cells:basic_rnn_cell",
                               lambda s, d, scope: ((s.units,), {"activation": s.activation}))},
    dims=default_dims(),
    transforms={"kernel": (("kernel",), "kernel[:D]"), "recurrent_kernel": (("kernel",), "kernel[D:]"),
                "bias": (("bias",), "bias")},
)
