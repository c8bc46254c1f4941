"""``lstm``: ``tf.nn.rnn_cell.LSTMCell``: the BasicLSTMCell maths plus diagonal peepholes ``w_{f,i,o}_diag [U]``,
a projection ``projection/kernel [U, P]`` and clips (``cell_clip``, ``proj_clip``: Minimum/Maximum constants in the
``.meta``); ``kernel [D+R, 4U]`` (R = P or U).

Keras 2 twin: ``LSTMCell``, or ``modern_rnn.ProjectionLSTMCell`` with peepholes, projection or clipping.
"""
from __future__ import annotations

from migration.core.specs import CellSpec
from migration.families.basic_lstm import lstm_dims
from migration.families.row import META_LSTM_GATES, Builder, Family, Layout, act_or_none
from migration.families.stock import LSTM_TRANSFORMS, PEEPHOLES, PRE12, stock_converter


def lstm_args(spec: CellSpec) -> tuple:
    """The positional arguments of both lstm_cell builders."""
    return (spec.units, spec.use_peepholes, spec.num_proj, spec.cell_clip, spec.proj_clip, spec.forget_bias)


FAMILY = Family(
    kind="lstm",
    description="LSTMCell (peepholes, num_proj, cell_clip, proj_clip); Keras LSTMCell or ProjectionLSTMCell",
    tf1_classes=("tf.nn.rnn_cell.LSTMCell", "tf.contrib.rnn.LSTMCell"),
    pre12_classes=("LSTMCell",),
    scope="lstm_cell",
    layouts=(Layout("lstm_cell", ("kernel", "bias"), PEEPHOLES + ("projection/kernel",), order=1),
             Layout("lstm_cell", ("weights", "biases"), PEEPHOLES + ("projection/weights",),
                    renames={**PRE12, "projection/weights": "projection/kernel"}, order=11),
             Layout("LSTMCell", ("W_0", "B"), ("W_F_diag", "W_I_diag", "W_O_diag", "W_P_0"),
                    renames={"W_0": "kernel", "B": "bias", "W_F_diag": "w_f_diag", "W_I_diag": "w_i_diag",
                             "W_O_diag": "w_o_diag", "W_P_0": "projection/kernel"}, order=17)),
    hyper={"forget_bias": 1.0, "cell_clip": None, "proj_clip": None, "activation": "tanh"},
    not_in_checkpoint={"forget_bias": "meta: the Const added to the forget block (or the fused op's attribute)",
                       "cell_clip": "meta: the clip_by_value constant on c (or the fused op's attribute)",
                       "proj_clip": "meta: the clip_by_value constant after the projection MatMul",
                       "activation": "meta: the activation op on the j block"},
    meta_reader=META_LSTM_GATES,
    converter=stock_converter("lstm"),
    export={"keras3": "exact: keras.layers.LSTM; with peepholes, num_proj or clips exact with a custom layer: "
                      "rnn_migrate>ProjectionLSTMCell in keras.layers.RNN (`import migration.targets.keras3_cells`)",
            "onnx": "exact: ONNX LSTM (gates i, o, f, c); with peepholes, num_proj or clips exact with an op set: a "
                    "Scan of MatMul, Add, Split, Sigmoid, Mul, Clip, the activation (opset 17)"},
    legacy=Builder("legacy_rnn.cells:lstm_cell",
                   lambda s, d, scope: (lstm_args(s), {"activation": act_or_none(s)})),
    targets={"keras2": Builder("modern_rnn.cells:lstm_cell",
                               lambda s, d, scope: (lstm_args(s), {"activation": s.activation}))},
    lstm=True,
    inspect_keys=("forget_bias", "use_peepholes", "num_proj", "cell_clip", "proj_clip", "activation"),
    dims=lstm_dims,
    spec_options=("use_peepholes", "num_proj"),
    meta_fallback=lambda meta, key: meta.fused_lstm_hyperparameters(key),
    transforms=LSTM_TRANSFORMS,
)
