"""``layer_norm_lstm``: ``tf.contrib.rnn.LayerNormBasicLSTMCell``: ``kernel [D+U, 4U]`` (no bias) and
``{input, transform, forget, output, state}/{gamma, beta} [U]``; forget_bias is a Python-level add in the graph.
With ``layer_norm=False`` the cell writes a BasicLSTMCell's ``kernel``/``bias`` (read as ``basic_lstm``).

Keras 2 twin: ``modern_rnn.LayerNormLSTMCell``.
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional

from migration.families.row import META_LAYER_NORM_FORGET, Builder, Family, Layout, custom_export
from migration.families.stock import PRE12, stock_converter

_LN = ("input/gamma", "kernel", "input/beta", "transform/gamma", "transform/beta", "forget/gamma", "forget/beta",
       "output/gamma", "output/beta", "state/gamma", "state/beta")


def _dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
    units = shape("input/gamma")[0]
    return units, shape("kernel")[0] - units, None


FAMILY = Family(
    kind="layer_norm_lstm",
    description="tf.contrib LayerNormBasicLSTMCell: kernel + per-gate gamma/beta; Keras modern_rnn.LayerNormLSTMCell",
    tf1_classes=("tf.contrib.rnn.LayerNormBasicLSTMCell",),
    scope="layer_norm_basic_lstm_cell",
    layouts=(Layout("layer_norm_basic_lstm_cell", _LN, order=7),
             Layout("layer_norm_basic_lstm_cell", ("kernel", "bias"), recognized_as="basic_lstm", order=8),
             Layout("layer_norm_basic_lstm_cell", ("weights", "biases"), renames=PRE12, recognized_as="basic_lstm",
                    order=13)),
    hyper={"forget_bias": 1.0},
    not_in_checkpoint={"forget_bias": "meta: the Const added to the layer-normed forget block before its Sigmoid"},
    meta_reader=META_LAYER_NORM_FORGET,
    converter=stock_converter("layer_norm_lstm"),
    export=custom_export("LayerNormBasicLSTMCell", "MatMul, Add, Split, ReduceMean, Sub, Mul, Sqrt, Div, Sigmoid, the activation"),
    custom_cell="LayerNormBasicLSTMCell",
    legacy=Builder("legacy_rnn.contrib:layer_norm_basic_lstm_cell",
                   lambda s, d, scope: ((s.units,), {"forget_bias": s.forget_bias})),
    targets={"keras2": Builder("modern_rnn.contrib:layer_norm_basic_lstm_cell",
                               lambda s, d, scope: ((s.units,), {"forget_bias": s.forget_bias}))},
    upgrade_homes={"tf.contrib.rnn.LayerNormBasicLSTMCell": "legacy_rnn.contrib.LayerNormBasicLSTMCell"},
    lstm=True,
    dims=_dims,
    keras_classes=("modern_rnn.layer_norm_lstm:LayerNormLSTMCell",),
)
