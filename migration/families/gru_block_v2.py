"""``gru_block_v2``: ``tf.contrib.rnn.GRUBlockCellV2``: GRUCell's names and layout (read through the ``gru``
layouts), on the ``GRUBlockCell`` kernel.

Keras 2 twin: ``GRUCell(reset_after=False)``.
"""
from __future__ import annotations

from migration.families.gru_block import BLOCK_GRU_EXPORT
from migration.families.row import Builder, Family
from migration.families.stock import stock_converter

FAMILY = Family(
    kind="gru_block_v2",
    description="tf.contrib GRUBlockCellV2: GRUCell's names and layout",
    tf1_classes=("tf.contrib.rnn.GRUBlockCellV2",),
    scope="gru_cell",
    layouts=(),
    recognized_through="gru",
    hyper={},
    not_in_checkpoint={},
    converter=stock_converter("gru_block_v2"),
    export=BLOCK_GRU_EXPORT,
    legacy=Builder("legacy_rnn.contrib:gru_block_cell_v2", lambda s, d, scope: ((s.units,), {})),
    targets={"keras2": Builder("modern_rnn.cells:gru_cell", lambda s, d, scope: ((s.units,), {}))},
    upgrade_homes={"tf.contrib.rnn.GRUBlockCellV2": "legacy_rnn.contrib.GRUBlockCellV2"},
    gru=True,
)
