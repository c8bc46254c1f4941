"""The one list of cell families. Adding a family = one module under :mod:`migration.families` + one line here."""
from __future__ import annotations

from migration.core.specs import CELL_KINDS, register_kind
from migration.families import (basic_lstm, basic_rnn, cudnn_compatible_gru, cudnn_compatible_lstm, gru, gru_block,
                                gru_block_v2, handwritten, layer_norm_lstm, lstm, lstm_block, lstm_block_fused,
                                ugrnn)
from migration.families.row import Family

FAMILIES: tuple[Family, ...] = (
    handwritten.FAMILY,
    basic_rnn.FAMILY,
    basic_lstm.FAMILY,
    lstm.FAMILY,
    gru.FAMILY,
    lstm_block.FAMILY,
    lstm_block_fused.FAMILY,
    gru_block.FAMILY,
    gru_block_v2.FAMILY,
    cudnn_compatible_lstm.FAMILY,
    cudnn_compatible_gru.FAMILY,
    layer_norm_lstm.FAMILY,
    ugrnn.FAMILY,
)

for _family in FAMILIES:
    if _family.kind not in CELL_KINDS:  # a kind the core vocabulary does not list: its row makes it a CellSpec kind
        register_kind(_family.kind, _family.scope, lstm=_family.lstm, gru=_family.gru)
