"""``lstm_block_fused``: ``tf.contrib.rnn.LSTMBlockFusedCell`` (one ``BlockLSTM`` op over a time-major sequence):
``lstm_fused_cell/{kernel, bias}`` (+ ``w_{i,f,o}_diag``), converted like LSTMCell; forget_bias/cell_clip are
``BlockLSTM`` attributes. Not an RNNCell: the legacy twin is ``legacy_rnn.lstm_block_fused_cell``.

Keras 2 twin: as ``lstm`` (``LSTM(time_major=True)``).
"""
from __future__ import annotations

from migration.core.specs import CellSpec
from migration.families.lstm import lstm_args
from migration.families.lstm_block import BLOCK_LSTM_EXPORT
from migration.families.row import Builder, Family, Layout
from migration.families.stock import PEEPHOLES, stock_converter


def _not_a_cell(spec: CellSpec, input_size, scope) -> tuple[tuple, dict]:
    raise ValueError("Received kind='lstm_block_fused': LSTMBlockFusedCell is not an RNNCell (it runs a whole "
                     "time-major sequence); build it with legacy_rnn.lstm_block_fused_cell.")


FAMILY = Family(
    kind="lstm_block_fused",
    description="tf.contrib LSTMBlockFusedCell: one BlockLSTM op, time-major; converted like LSTMCell",
    tf1_classes=("tf.contrib.rnn.LSTMBlockFusedCell",),
    scope="lstm_fused_cell",
    layouts=(Layout("lstm_fused_cell", ("kernel", "bias"), PEEPHOLES, recognized_as="lstm", order=5),),
    hyper={"forget_bias": 1.0, "cell_clip": None, "use_peephole": False},
    not_in_checkpoint={"forget_bias": "attribute: BlockLSTM op forget_bias (BlockLSTMV2: 0)",
                       "cell_clip": "attribute: BlockLSTM op cell_clip"},
    converter=stock_converter("lstm_block_fused"),
    export=BLOCK_LSTM_EXPORT,
    legacy=Builder("legacy_rnn.contrib:lstm_block_fused_cell", _not_a_cell),
    targets={"keras2": Builder("modern_rnn.cells:lstm_cell",
                               lambda s, d, scope: (lstm_args(s), {"activation": s.activation}))},
    upgrade_homes={"tf.contrib.rnn.LSTMBlockFusedCell": "legacy_rnn.contrib.LSTMBlockFusedCell"},
    lstm=True,
)
