"""``gru_block``: ``tf.contrib.rnn.GRUBlockCell`` (kernel ``tf.raw_ops.GRUBlockCell``), v1 names ``w_ru [D+U, 2U]``,
``b_ru``, ``w_c``, ``b_c`` holding GRUCell's gates/candidate arrays.

Keras 2 twin: ``GRUCell(reset_after=False)``.
"""
from __future__ import annotations

from migration.families.row import Builder, Family, Layout
from migration.families.stock import stock_converter

#: GRUCell's maths of the GRUBlockCell kernel (GRUBlockCell, GRUBlockCellV2) in the output targets
BLOCK_GRU_EXPORT = {"keras3": "exact: keras.layers.GRU(reset_after=False) (GRUCell's maths: gates z, r, h)",
                    "onnx": "exact: ONNX GRU linear_before_reset=0 (GRUCell's maths: gates z, r, h; Rb = 0)"}

FAMILY = Family(
    kind="gru_block",
    description="tf.contrib GRUBlockCell (v1 names w_ru, b_ru, w_c, b_c): GRUCell's arrays",
    tf1_classes=("tf.contrib.rnn.GRUBlockCell",),
    scope="gru_cell",
    layouts=(Layout("gru_cell", ("w_ru", "b_ru", "w_c", "b_c"), recognized_as="gru",
                    renames={"w_ru": "gates/kernel", "b_ru": "gates/bias", "w_c": "candidate/kernel",
                             "b_c": "candidate/bias"}, order=6),),
    hyper={},
    not_in_checkpoint={},
    converter=stock_converter("gru_block"),
    export=BLOCK_GRU_EXPORT,
    legacy=Builder("legacy_rnn.contrib:gru_block_cell", lambda s, d, scope: ((s.units,), {})),
    targets={"keras2": Builder("modern_rnn.cells:gru_cell", lambda s, d, scope: ((s.units,), {}))},
    upgrade_homes={"tf.contrib.rnn.GRUBlockCell": "legacy_rnn.contrib.GRUBlockCell"},
    gru=True,
)
