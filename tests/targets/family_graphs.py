"""One real TF1 checkpoint (tf.compat.v1.train.Saver, with its .meta) holding one block per cell family whose row
says ``exact`` for the output targets (tests/targets/test_target_families.py walks the rows against it): standard
layers/ops, and the custom steps (both layer-norm LSTMs, UGRNN, CIFG, MinimalRNN, CFN, SRU, IntersectionRNN with its
input projection, LSTMCell with peepholes + num_proj + clips, LSTMBlockCell with peepholes + cell_clip, NASCell,
GLSTMCell, PhasedLSTMCell on (time, x), TimeFreqLSTMCell, GridLSTMCell and BidirectionalGridLSTMCell; a stack and
bidirectional blocks of custom cells; DropoutWrapper blocks whose keep_prob is live in the saved graph).

Blocks on one input ``x [batch, T, D]`` with a ragged ``length`` placeholder (the hand-written cell: a Python-unrolled
loop over the full length, as seed 002 wrote it); seeded asymmetric weights in [-0.8, 0.8], biases included;
forget_bias values that differ from the defaults where the family has one (read from the .meta). The original session
records every block's input and flat outputs (``tf.nest.flatten((outputs, final_state))``, TF1 order) on other inputs
as ``ref_<block>.npz``: the tests' reference, independent of rnn-migrate's own graph runner.
"""
from __future__ import annotations

import os

import numpy as np

import legacy_rnn
from legacy_rnn import (cifg_lstm, contrib, glstm, grid_lstm, indrnn, intersection_rnn, layer_norm_lstm_contrib,
                        minimal_rnn, nas, phased_lstm, sru, tf, time_freq_lstm, ugrnn, v1, weight_norm_lstm)
from tests.checkpoint.tf1_values import load_values

T, D = 5, 3
LENGTHS = np.array([T, 1, 3, 4, 2], np.int32)


def _cells():
    """block scope -> (how it is built: "dynamic" / "bi" / "fused" / "handwritten", cells); the kinds each covers."""
    return {
        "basic_rnn": ("dynamic", lambda: legacy_rnn.basic_rnn_cell(4, activation="relu")),
        "basic_lstm": ("dynamic", lambda: legacy_rnn.basic_lstm_cell(4, forget_bias=0.6)),
        "lstm": ("dynamic", lambda: legacy_rnn.lstm_cell(3, forget_bias=0.7)),
        "gru": ("dynamic", lambda: legacy_rnn.gru_cell(4)),
        "lstmblock": ("dynamic", lambda: legacy_rnn.lstm_block_cell(4, forget_bias=0.5)),
        "fused": ("fused", lambda: legacy_rnn.lstm_block_fused_cell(4, forget_bias=0.3)),
        "grublock": ("dynamic", lambda: legacy_rnn.multi_rnn_cell([legacy_rnn.gru_block_cell(4),
                                                                   legacy_rnn.gru_block_cell(3)])),
        "grublockv2": ("bi", lambda: (legacy_rnn.gru_block_cell_v2(3), legacy_rnn.gru_block_cell_v2(4))),
        "cudnnlstm": ("dynamic", lambda: legacy_rnn.cudnn_compatible_lstm_cell(4)),
        "cudnngru": ("dynamic", lambda: legacy_rnn.cudnn_compatible_gru_cell(3)),
        "indrnn": ("dynamic", lambda: indrnn.ind_rnn_cell(4)),
        "indygru": ("dynamic", lambda: indrnn.indy_gru_cell(3)),
        "indylstm": ("dynamic", lambda: indrnn.indy_lstm_cell(4)),
        "weightnorm": ("dynamic", lambda: weight_norm_lstm.weight_norm_lstm_cell(4, forget_bias=0.6)),
        "hand": ("handwritten", lambda: legacy_rnn.handwritten_rnn_cell(4, D, scope="rnn_cell")),
        # the families of custom steps (keras3_cells, onnx_cells); clips small enough to bite
        "lnbasic": ("dynamic", lambda: contrib.layer_norm_basic_lstm_cell(4, forget_bias=0.6)),
        "lncontrib": ("dynamic", lambda: layer_norm_lstm_contrib.layer_norm_lstm_contrib_cell(3, forget_bias=0.7)),
        "ugrnn": ("dynamic", lambda: ugrnn.ugrnn_cell(4)),
        "cifg": ("dynamic", lambda: cifg_lstm.cifg_lstm_cell(4)),
        "minimal": ("dynamic", lambda: minimal_rnn.minimal_rnn_cell(4)),
        "cfn": ("dynamic", lambda: minimal_rnn.cfn_cell(3)),
        "sru": ("dynamic", lambda: sru.sru_cell(4)),
        "intersection": ("dynamic", lambda: intersection_rnn.intersection_rnn_cell(4)),
        "projlstm": ("dynamic", lambda: legacy_rnn.lstm_cell(4, use_peepholes=True, num_proj=3, cell_clip=0.5,
                                                             proj_clip=0.3, forget_bias=0.7)),
        "peepblock": ("dynamic", lambda: legacy_rnn.lstm_block_cell(4, forget_bias=0.5, cell_clip=0.25,
                                                                    use_peephole=True)),
        "customstack": ("dynamic", lambda: legacy_rnn.multi_rnn_cell([cifg_lstm.cifg_lstm_cell(3),
                                                                      contrib.layer_norm_basic_lstm_cell(4)])),
        "custombi": ("bi", lambda: (intersection_rnn.intersection_rnn_cell(3), minimal_rnn.minimal_rnn_cell(4))),
        # NASCell with its bias and projection; GLSTMCell of 3 groups (D = 3) with a projection (forget_bias: the
        # row assumes TF1's 1.0, not read from the .meta yet); a bidirectional block of the plain variants
        "nas": ("dynamic", lambda: nas.nas_cell(4, num_proj=3, use_bias=True)),
        "glstm": ("dynamic", lambda: glstm.glstm_cell(6, number_of_groups=3, num_proj=3)),
        "nasglstmbi": ("bi", lambda: (nas.nas_cell(3), glstm.glstm_cell(4))),
        # DropoutWrapper around exported cells (the saved graph's keep_prob is live, 0.75): at inference the block
        # is the inner cells; a variational (input, state, output) wrapper over an LSTMCell, a plain one over a GRUCell
        "varwrap": ("dynamic", lambda: legacy_rnn.multi_rnn_cell([
            legacy_rnn.dropout_wrapper(legacy_rnn.lstm_cell(4, forget_bias=0.7), _keep(), _keep(), _keep(),
                                       variational_recurrent=True, input_size=D, dtype=tf.float32, seed=3),
            legacy_rnn.dropout_wrapper(legacy_rnn.gru_cell(3), _keep(), _keep(), seed=4)])),
        # PhasedLSTMCell on (time, x): the first column of x is its time (periods in [0.5, 3], ratio_on 0.3-0.8)
        "phased": ("phased", lambda: phased_lstm.phased_lstm_cell(4)),
        "dropoutcustom": ("dynamic", lambda: legacy_rnn.dropout_wrapper(ugrnn.ugrnn_cell(3), _keep(), _keep(), seed=5)),
        # TimeFreqLSTMCell over one window (feature_size = D: what TF 1.15's dynamic_rnn runs; forget_bias 1.0, the
        # row's assumption); the grids with their configuration read from the .meta: peepholes + cell_clip; two
        # blocks with start/end lists, shared weights and two shards; the bidirectional grid with coupled gates,
        # peepholes and a backward slice offset (each dynamic_rnn inside the block's variable_scope: TF 2.x's while_v2
        # body names the cell's ops without it, which migration.checkpoint.grid_meta reads through the loop)
        "timefreq": ("dynamic", lambda: time_freq_lstm.time_freq_lstm_cell(4, feature_size=D)),
        "grid": ("dynamic", lambda: grid_lstm.grid_lstm_cell(3, forget_bias=0.6, feature_size=2, frequency_skip=1,
                                                                num_frequency_blocks=[2], use_peepholes=True,
                                                                cell_clip=0.5)),
        "gridblocks": ("dynamic", lambda: grid_lstm.grid_lstm_cell(
            3, forget_bias=0.8, feature_size=1, frequency_skip=1, num_frequency_blocks=[2, 1],
            start_freqindex_list=[0, 2], end_freqindex_list=[2, 3], share_time_frequency_weights=True,
            num_unit_shards=2)),
        "bigrid": ("dynamic", lambda: grid_lstm.bidirectional_grid_lstm_cell(
            3, forget_bias=0.7, feature_size=2, frequency_skip=1, num_frequency_blocks=[2], backward_slice_offset=1,
            couple_input_forget_gates=True, use_peepholes=True)),
    }


BLOCKS = tuple(_cells())
#: PhasedLSTMCell's time-gate variables: positive periods of the order of the time steps, open ratios that bite
PHASED_RANGES = {"period": (0.5, 3.0), "phase": (0.0, 1.0), "ratio_on": (0.3, 0.8)}
#: the keep probability of the DropoutWrapper blocks ("varwrap", "dropoutcustom"): a placeholder_with_default of this value (live dropout in
#: the saved graph; the recorded reference session feeds 1.0, which is inference)
KEEP = 0.75


def _keep():
    return v1.get_default_graph().get_tensor_by_name("keep_prob:0")


def _block(how: str, make, x, length):
    """(outputs, final_state) of one block, batch-major, as TF1's dynamic_rnn / bidirectional_dynamic_rnn give them."""
    if how == "dynamic":
        return legacy_rnn.dynamic_rnn(make(), x, sequence_length=length, dtype=tf.float32)
    if how == "bi":
        fw, bw = make()
        return legacy_rnn.bidirectional_dynamic_rnn(fw, bw, x, sequence_length=length, dtype=tf.float32)
    if how == "phased":
        return v1.nn.dynamic_rnn(make(), (x[..., :1], x[..., 1:]), sequence_length=length, dtype=tf.float32)
    if how == "fused":
        out, state = make()(tf.transpose(x, [1, 0, 2]), dtype=tf.float32, sequence_length=length)
        return tf.transpose(out, [1, 0, 2]), state
    step = make()
    state = tf.zeros([tf.shape(x)[0], 4])
    outs = []
    for t in range(T):
        state = step(x[:, t], state)
        outs.append(state)
    return tf.stack(outs, 1), state


def build(directory, seed: int = 31) -> str:
    with legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        length = v1.placeholder(tf.int32, [None], name="length")
        keep = v1.placeholder_with_default(np.float32(KEEP), [], name="keep_prob")
        flat = {}
        for name, (how, make) in _cells().items():
            with v1.variable_scope(name):
                flat[name] = tf.nest.flatten(_block(how, make, x, length))
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        rng = np.random.default_rng(seed)
        values = []
        for var in v1.global_variables():
            low, high = PHASED_RANGES.get(var.op.name.rsplit("/", 1)[-1], (-0.8, 0.8)) \
                if var.op.name.startswith("phased/") else (-0.8, 0.8)
            values.append((var, rng.uniform(low, high, var.shape.as_list()).astype(np.float32)))
        load_values(sess, values)
        os.makedirs(directory, exist_ok=True)
        x_np = np.random.default_rng(seed + 1).normal(0, 1, (len(LENGTHS), T, D)).astype(np.float32)
        for name, values in sess.run(flat, {x: x_np, length: LENGTHS, keep: 1.0}).items():
            lengths = np.full_like(LENGTHS, T) if _cells()[name][0] == "handwritten" else LENGTHS
            np.savez(os.path.join(str(directory), f"ref_{name}.npz"), x=x_np, lengths=lengths,
                     **{f"out{k}": v for k, v in enumerate(values)})
        return v1.train.Saver().save(sess, os.path.join(str(directory), "model.ckpt"))
