"""Cell-table rows contributed by the cell families (see :func:`migration.checkpoint.recognize.register_cell_row`).

Imported by :mod:`migration.checkpoint.recognize` once its table exists; each row is (cell directory, kind, required
variables, optional variables), with renames to the names the kind's converter reads and per-directory defaults
for hyper-parameters the checkpoint does not store.
"""
from __future__ import annotations

from migration.checkpoint.recognize import register_cell_row

_PEEPHOLES = ("w_f_diag", "w_i_diag", "w_o_diag")
# tf.contrib.rnn block cells. LSTMBlockCell writes exactly LSTMCell's lstm_cell/* (row above; its forget_bias,
# cell_clip and use_peephole are LSTMBlockCell op attributes in the .meta) and GRUBlockCellV2 exactly GRUCell's.
register_cell_row("lstm_fused_cell", "lstm", ("kernel", "bias"), _PEEPHOLES)  # LSTMBlockFusedCell (BlockLSTM op)
register_cell_row("gru_cell", "gru", ("w_ru", "b_ru", "w_c", "b_c"),  # GRUBlockCell v1 names, GRUCell's arrays
                  renames={"w_ru": "gates/kernel", "b_ru": "gates/bias", "w_c": "candidate/kernel",
                           "b_c": "candidate/bias"})
# tf.contrib.rnn.LayerNormBasicLSTMCell: no bias, gamma/beta per gate scope (layer_norm=False: a BasicLSTMCell).
register_cell_row("layer_norm_basic_lstm_cell", "layer_norm_lstm",
                  ("input/gamma", "kernel", "input/beta", "transform/gamma", "transform/beta", "forget/gamma",
                   "forget/beta", "output/gamma", "output/beta", "state/gamma", "state/beta"))
register_cell_row("layer_norm_basic_lstm_cell", "basic_lstm", ("kernel", "bias"))
# Checkpoints from before TF 1.2: TensorFlow's own checkpoint_convert.py renamed weights/biases -> kernel/bias
# (TF 1.0-1.1); older graphs (TF <= 0.12) used the class name as scope and Linear/Matrix, Linear/Bias, W_0, B.
_PRE12 = {"weights": "kernel", "biases": "bias"}
register_cell_row("basic_rnn_cell", "basic_rnn", ("weights", "biases"), renames=_PRE12)
register_cell_row("basic_lstm_cell", "basic_lstm", ("weights", "biases"), renames=_PRE12)
register_cell_row("lstm_cell", "lstm", ("weights", "biases"), _PEEPHOLES + ("projection/weights",),
                  renames={**_PRE12, "projection/weights": "projection/kernel"})
register_cell_row("gru_cell", "gru", ("gates/weights", "gates/biases", "candidate/weights", "candidate/biases"),
                  renames={"gates/weights": "gates/kernel", "gates/biases": "gates/bias",
                           "candidate/weights": "candidate/kernel", "candidate/biases": "candidate/bias"})
register_cell_row("layer_norm_basic_lstm_cell", "basic_lstm", ("weights", "biases"), renames=_PRE12)
_LINEAR = {"Linear/Matrix": "kernel", "Linear/Bias": "bias"}
register_cell_row("BasicRNNCell", "basic_rnn", ("Linear/Matrix", "Linear/Bias"), renames=_LINEAR)
register_cell_row("BasicLSTMCell", "basic_lstm", ("Linear/Matrix", "Linear/Bias"), renames=_LINEAR)
register_cell_row("GRUCell", "gru", ("Gates/Linear/Matrix", "Gates/Linear/Bias", "Candidate/Linear/Matrix",
                                     "Candidate/Linear/Bias"),
                  renames={"Gates/Linear/Matrix": "gates/kernel", "Gates/Linear/Bias": "gates/bias",
                           "Candidate/Linear/Matrix": "candidate/kernel", "Candidate/Linear/Bias": "candidate/bias"})
register_cell_row("LSTMCell", "lstm", ("W_0", "B"), ("W_F_diag", "W_I_diag", "W_O_diag", "W_P_0"),
                  renames={"W_0": "kernel", "B": "bias", "W_F_diag": "w_f_diag", "W_I_diag": "w_i_diag",
                           "W_O_diag": "w_o_diag", "W_P_0": "projection/kernel"})
# tf.contrib.cudnn_rnn: the canonical variables CudnnOpaqueParamsSaveable wrote (.../rnn/multi_rnn_cell/cell_k/...).
register_cell_row("cudnn_compatible_lstm_cell", "lstm", ("kernel", "bias"), defaults={"forget_bias": 0.0})
register_cell_row("cudnn_compatible_gru_cell", "cudnn_compatible_gru",
                  ("gates/kernel", "gates/bias", "candidate/input_projection/kernel",
                   "candidate/hidden_projection/kernel", "candidate/input_projection/bias",
                   "candidate/hidden_projection/bias"))
