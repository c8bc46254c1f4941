"""The one list of cell families. Adding a family = one module under :mod:`migration.families` + one line here."""
from __future__ import annotations

from migration.core.specs import CELL_KINDS, register_kind
import migration.families.basic_lstm as basic_lstm
import migration.families.basic_rnn as basic_rnn
import migration.families.cfn as cfn
import migration.families.cifg_lstm as cifg_lstm
import migration.families.cudnn_compatible_gru as cudnn_compatible_gru
import migration.families.cudnn_compatible_lstm as cudnn_compatible_lstm
import migration.families.glstm as glstm
import migration.families.grid_lstm as grid_lstm
import migration.families.gru as gru
import migration.families.gru_block as gru_block
import migration.families.gru_block_v2 as gru_block_v2
import migration.families.handwritten as handwritten
import migration.families.ind_rnn as ind_rnn
import migration.families.indy_gru as indy_gru
import migration.families.indy_lstm as indy_lstm
import migration.families.intersection_rnn as intersection_rnn
import migration.families.layer_norm_lstm as layer_norm_lstm
import migration.families.layer_norm_lstm_contrib as layer_norm_lstm_contrib
import migration.families.lstm as lstm
import migration.families.lstm_block as lstm_block
import migration.families.lstm_block_fused as lstm_block_fused
import migration.families.minimal_rnn as minimal_rnn
import migration.families.nas as nas
import migration.families.phased_lstm as phased_lstm
import migration.families.sru as sru
import migration.families.time_freq_lstm as time_freq_lstm
import migration.families.ugrnn as ugrnn
import migration.families.weight_norm_lstm as weight_norm_lstm
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
    cifg_lstm.FAMILY,
    layer_norm_lstm_contrib.FAMILY,
    weight_norm_lstm.FAMILY,
    ind_rnn.FAMILY, indy_gru.FAMILY, indy_lstm.FAMILY, minimal_rnn.FAMILY, cfn.FAMILY, sru.FAMILY,  # h-cells1
    intersection_rnn.FAMILY,
    nas.FAMILY, glstm.FAMILY,  # h-nas
    phased_lstm.FAMILY, time_freq_lstm.FAMILY,  # h-phased
    grid_lstm.FAMILY, grid_lstm.BIDIRECTIONAL_FAMILY,  # h-gridrow
)

for _family in FAMILIES:
    if _family.kind not in CELL_KINDS:  # a kind the core vocabulary does not list: its row makes it a CellSpec kind
        register_kind(_family.kind, _family.scope, lstm=_family.lstm, gru=_family.gru,
                      options=_family.spec_options, sizes=_family.spec_sizes)
