"""``tf.contrib.rnn.GridLSTMCell`` and ``BidirectionalGridLSTMCell`` (issue 22): the legacy cells (TF 1.15's
signature, variable names and maths) and their Keras 2 twins.

* TF 1.15's own kernel-test numbers (``rnn_cell_test.testGridLstmCellWithCoupledInputForgetGates`` with both state
  forms, ``testBidirectionGridLSTMCell`` and ``...WithSliceOffset``: facts, every weight 0.5 from the scope
  initializer, biases zero) from the legacy cells;
* an independent NumPy step written from TF 1.15's equations against the legacy cells over ``dynamic_rnn`` for a grid
  of TF 1.15 options (frequency blocks with start/end lists, frequency_skip, shared weights, coupled gates,
  peepholes, cell_clip, shards, concatenated state with its block-0 offsets quirk, the backward grid with positive
  and negative slice offsets), with every variable seeded asymmetric and non-zero, and TF 1.15's variable names;
* the Keras twins (custom cells registered for safe-mode loading) on the converted weights against the legacy cells
  within 1e-6, forward and in gradients (inputs and every weight), for the same option grid; the conversion back
  gives the TF1 arrays (shards too); negative controls (forget_bias not folded, the two gate blocks i/j swapped, the
  F- and T-LSTM weights swapped, the backward grid read forward) differ; the twin refuses the concatenated state of
  more than one block;
* one real ``tf.compat.v1.train.Saver`` checkpoint of a program using both cells (dynamic_rnn, ragged lengths, a dense
  head, a loss): ``convert`` with default options converts it (the family rows ``grid_lstm``/
  ``bidirectional_grid_lstm``; every option read from the ``.meta``) and verifies it against the ORIGINAL graph, block
  by block and as a whole; ``verify`` agrees; the whole model.keras loads in safe mode and reproduces the program's
  logits within 1e-5; negative controls: a wrong ``--forget-bias`` fails verification and a block with swapped gate
  blocks fails ``verify`` on the original graph's numbers; ``export`` writes the program's arrays back, which its own
  ``.meta`` graph restores and reproduces its logits; without the ``.meta`` ``convert`` refuses every grid variable
  naming the options and the remedy. Converted by hand (the configuration read from the ``.meta`` by
  ``grid_cell_config``) with the NumPy converters, the same: a wrong forget_bias does not reproduce the logits; the
  arrays converted back restore into the legacy graph and reproduce its outputs;
* the recognizer over a Saver checkpoint of every option cell: the spec gives each cell's arguments back; the
  concatenated-state cells (state_is_tuple=False) are refused with the reason;
* the grid's configuration read back from the ``.meta`` (:mod:`migration.checkpoint.grid_meta`) for every option cell
  (static_rnn) and the program's Saver ``.meta`` (dynamic_rnn), and its refusals (no ``.meta``, a cell the graph does
  not hold, the concatenated state of several blocks, shapes that do not fit).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import legacy_rnn
from conftest import randomize, run_cli
from legacy_rnn import tf, v1
from legacy_rnn.grid_lstm import BidirectionalGridLSTMCell, GridLSTMCell
from migration.families.grid_lstm import grid_tf1_names, grid_to_keras, grid_to_tf1, keras_name
from modern_rnn import grid_lstm as modern_grid
from modern_rnn import keras
from tests.checkpoint.tf1_values import FAST

B, T, U = 3, 3, 3


# -- the NumPy reference, written from TF 1.15's rnn_cell.py ----------------------------------------------------------
def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def slice_starts(cfg: dict, depth: int) -> list[list[int]]:
    """The first input column of every frequency slice, per block (TF 1.15's ``_make_tf_features``)."""
    spans = list(zip(cfg["start_freqindex_list"], cfg["end_freqindex_list"])) if cfg.get("start_freqindex_list") \
        else [(0, depth)]
    skip, size = cfg["frequency_skip"], cfg["feature_size"]
    return [[start + k * skip for k in range((end - start - size) // skip + 1)] for start, end in spans]


def _peep(w, gate, lstm, b, c_freq, c_time, cfg):
    if not cfg.get("use_peepholes"):
        return 0.0
    lstm = "freq" if cfg.get("share_time_frequency_weights") else lstm
    return w[f"W_{gate}_diag_{lstm}f_{b}"] * c_freq + w[f"W_{gate}_diag_{lstm}t_{b}"] * c_time


def _cell_state(z, w, lstm, b, c_freq, c_time, own, cfg, fb):
    couple = cfg.get("couple_input_forget_gates")
    i = _sig(z[0] + _peep(w, "I", lstm, b, c_freq, c_time, cfg))
    f = 1.0 - i if couple else _sig(z[2] + fb + _peep(w, "F", lstm, b, c_freq, c_time, cfg))
    c = f * own + i * np.tanh(z[1])
    clip = cfg.get("cell_clip")
    return np.clip(c, -clip, clip) if clip else c


def grid_block(slices, prev, w, b, cfg, fb):
    """One block at one step. ``slices``: [B, F] inputs; ``prev``: (c_time, m_time) per slice. Returns the outputs
    ``[m_time, m_freq]`` per slice and the new (c_time, m_time) per slice."""
    gates = 3 if cfg.get("couple_input_forget_gates") else 4
    zeros = np.zeros((slices[0].shape[0], cfg["units"]))
    c_freq, m_freq, outs, states = zeros, zeros, [], []
    for x, (c_time, m_time) in zip(slices, prev):
        inp = np.concatenate([x, m_time, m_freq], 1)
        z_f = np.split(inp @ w[f"W_f_{b}"] + w[f"B_f_{b}"], gates, 1)
        z_t = z_f if cfg.get("share_time_frequency_weights") else np.split(inp @ w[f"W_t_{b}"] + w[f"B_t_{b}"], gates, 1)
        new_c_freq = _cell_state(z_f, w, "freq", b, c_freq, c_time, c_freq, cfg, fb)
        new_c_time = _cell_state(z_t, w, "time", b, c_freq, c_time, c_time, cfg, fb)
        m_freq = _sig(z_f[-1] + _peep(w, "O", "freq", b, new_c_freq, new_c_time, cfg)) * np.tanh(new_c_freq)
        m_time = _sig(z_t[-1] + _peep(w, "O", "time", b, new_c_freq, new_c_time, cfg)) * np.tanh(new_c_time)
        c_freq = new_c_freq
        outs += [m_time, m_freq]
        states.append((new_c_time, m_time))
    return outs, states


def grid_step(x, state, w, cfg, fb, offset=0, reverse=False, concat_quirk=False):
    """One grid (all blocks). ``state``: (c_time, m_time) per slice of every block, in order. ``concat_quirk``: TF
    1.15's ``state_is_tuple=False`` reads block b's slice k at block 0's slice k offsets."""
    padded = np.concatenate([np.zeros((x.shape[0], max(-offset, 0))), x, np.zeros((x.shape[0], max(offset, 0)))], 1)
    shift = max(offset, 0)
    outs, states, first = [], [], 0
    for b, starts in enumerate(slice_starts(cfg, x.shape[1])):
        slices = [padded[:, s + shift:s + shift + cfg["feature_size"]] for s in starts]
        slices = slices[::-1] if reverse else slices
        prev = state[:len(starts)] if concat_quirk else state[first:first + len(starts)]
        o, s = grid_block(slices, prev, w, b, cfg, fb)
        outs += o
        states += s
        first += len(starts)
    return outs, states


def run_reference(x, cfg, w, fb, bidi=False):
    """Over time (zero initial state): outputs [B, T, out] and the final state as a flat list of arrays."""
    n = sum(len(s) for s in slice_starts(cfg, x.shape[2]))
    zeros = [(np.zeros((x.shape[0], cfg["units"])),) * 2] * n
    states = {"": zeros} if not bidi else {"fwd/": zeros, "bwd/": zeros}
    seq = []
    for t in range(x.shape[1]):
        out = []
        for d in states:
            wd = {k[len(d):]: v for k, v in w.items() if k.startswith(d)}
            o, states[d] = grid_step(x[:, t], states[d], wd, cfg, fb, offset=cfg.get("backward_slice_offset", 0)
                                     if d == "bwd/" else 0, reverse=d == "bwd/",
                                     concat_quirk=cfg.get("state_is_tuple") is False)
            out += o
        seq.append(np.concatenate(out, 1))
    return np.stack(seq, 1), [a for d in states for pair in states[d] for a in pair]


# -- TF 1.15's own kernel-test numbers ----------------------------------------------------------------------------------
COUPLED_OUT = [[0.416383, 0.403238, 0.524020, 0.565425, 0.557865, 0.609699],
               [0.627331, 0.622393, 0.688342, 0.708078, 0.694245, 0.715171],
               [0.711050, 0.709197, 0.736533, 0.744264, 0.737390, 0.745250]]
COUPLED_STATE = [[0.625556, 0.416383, 0.759134, 0.524020, 0.798795, 0.557865],
                 [0.875488, 0.627331, 0.936432, 0.688342, 0.941961, 0.694245],
                 [0.957327, 0.711050, 0.979522, 0.736533, 0.980245, 0.737390]]
BIDI_FWD_OUT = [[0.464130, 0.419165, 0.593283, 0.738350, 0.661638, 0.866774],
                [0.669636, 0.628966, 0.736057, 0.895927, 0.755559, 0.954359],
                [0.751109, 0.711716, 0.778357, 0.940779, 0.784530, 0.980604]]
BIDI_FWD_STATE = [[0.710660, 0.464130, 0.877293, 0.593283, 0.958505, 0.661638],
                  [0.967579, 0.669636, 1.038811, 0.736057, 1.058201, 0.755559],
                  [1.053842, 0.751109, 1.079919, 0.778357, 1.085620, 0.784530]]
BIDI_BWD_OUT = {0: [[0.520789, 0.476968, 0.604341, 0.760207, 0.635773, 0.850218],
                    [0.692621, 0.652363, 0.737517, 0.899558, 0.745984, 0.946840],
                    [0.759940, 0.720652, 0.778552, 0.941606, 0.781035, 0.977731]],
                1: [[0.322645, 0.276068, 0.584654, 0.690292, 0.640446, 0.840071],
                    [0.493625, 0.449236, 0.730828, 0.865996, 0.749429, 0.944958],
                    [0.608587, 0.566683, 0.777345, 0.925820, 0.782597, 0.976858]]}
BIDI_BWD_STATE = {0: [[0.785405, 0.520789, 0.890836, 0.604341, 0.928512, 0.635773],
                      [0.993088, 0.692621, 1.040288, 0.737517, 1.048773, 0.745984],
                      [1.062455, 0.759940, 1.080101, 0.778552, 1.082402, 0.781035]],
                  1: [[0.516575, 0.322645, 0.866628, 0.584654, 0.934002, 0.640446],
                      [0.749836, 0.493625, 1.033488, 0.730828, 1.052186, 0.749429],
                      [0.895999, 0.608587, 1.078978, 0.777345, 1.083843, 0.782597]]}


def _pairs(rows):
    """TF 1.15's tests use num_units=2 with equal columns: each number stands for two."""
    return np.repeat(np.asarray(rows, np.float32), 2, axis=1)


def test_legacy_cells_reproduce_tf115s_own_kernel_test_numbers():
    """Every weight 0.5 (the scope's constant initializer), biases zero, state 0.1, num_units 2, feature_size 2,
    frequency_skip 1, 3 slices of a 4-wide input (TF 1.15's ``rnn_cell_test``)."""
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        x_coupled = tf.constant(np.repeat([[1.0], [2.0], [3.0]], 4, 1).astype(np.float32))
        x_bidi = tf.constant((np.arange(4) * 0.1 + np.array([[1.0], [2.0], [3.0]])).astype(np.float32))
        s = tf.constant(np.full((3, 2), 0.1, np.float32))
        fetches = {}
        for tuple_state in (False, True):
            with v1.variable_scope(f"state_is_tuple{tuple_state}", initializer=v1.constant_initializer(0.5)):
                cell = GridLSTMCell(num_units=2, feature_size=2, frequency_skip=1, forget_bias=1.0,
                                    num_frequency_blocks=[3], couple_input_forget_gates=True,
                                    state_is_tuple=tuple_state)
                init = cell.state_tuple_type(*[s] * 6) if tuple_state else tf.fill([3, 12], 0.1)
                fetches[f"tuple{tuple_state}"] = cell(x_coupled, init)
        for offset in (0, 1):
            with v1.variable_scope(f"root{offset}", initializer=v1.constant_initializer(0.5)):
                cell = BidirectionalGridLSTMCell(num_units=2, feature_size=2, share_time_frequency_weights=True,
                                                 frequency_skip=1, forget_bias=1.0, num_frequency_blocks=[3],
                                                 backward_slice_offset=offset)
                fetches[f"offset{offset}"] = cell(x_bidi, cell.state_tuple_type(*[s] * 12))
        sess.run(v1.global_variables_initializer())
        names = sorted(v.op.name for v in v1.global_variables())
        got = sess.run(fetches)
    assert names[:4] == ["root0/bidirectional_grid_lstm_cell/bwd/B_f_0", "root0/bidirectional_grid_lstm_cell/bwd/W_f_0_0",
                         "root0/bidirectional_grid_lstm_cell/fwd/B_f_0", "root0/bidirectional_grid_lstm_cell/fwd/W_f_0_0"]
    assert names[-4:] == ["state_is_tupleTrue/grid_lstm_cell/B_f_0", "state_is_tupleTrue/grid_lstm_cell/B_t_0",
                          "state_is_tupleTrue/grid_lstm_cell/W_f_0_0", "state_is_tupleTrue/grid_lstm_cell/W_t_0_0"]
    for tuple_state in (False, True):
        out, state = got[f"tuple{tuple_state}"]
        np.testing.assert_allclose(out, _pairs(COUPLED_OUT), atol=1e-6)
        if tuple_state:
            assert len(state) == 6 and type(state).__name__ == "GridLSTMStateTuple"
            assert state._fields[:2] == ("state_f00_b00_c", "state_f00_b00_m")
            state = np.concatenate(state, 1)
        np.testing.assert_allclose(state, _pairs(COUPLED_STATE), atol=1e-6)
    for offset in (0, 1):
        out, state = got[f"offset{offset}"]
        assert len(state) == 12 and state._fields[6] == "bwd_state_f00_b00_c"
        np.testing.assert_allclose(out, np.concatenate([_pairs(BIDI_FWD_OUT), _pairs(BIDI_BWD_OUT[offset])], 1),
                                   atol=1e-6)
        np.testing.assert_allclose(np.concatenate(state, 1), np.concatenate(
            [_pairs(BIDI_FWD_STATE), _pairs(BIDI_BWD_STATE[offset])], 1), atol=1e-6)


def test_keras_twins_reproduce_tf115s_kernel_test_numbers_on_the_converted_weights():
    """The same facts from the twins: TF 1.15's arrays (weights 0.5, biases 0) through the converter."""
    s = [tf.fill([3, 2], 0.1)] * 12
    x_coupled = tf.constant(np.repeat([[1.0], [2.0], [3.0]], 4, 1).astype(np.float32))
    x_bidi = tf.constant((np.arange(4) * 0.1 + np.array([[1.0], [2.0], [3.0]])).astype(np.float32))

    def tf115_arrays(config, bidi):
        """Biases zero (their zeros_initializer), every other array 0.5 (the scope's constant initializer)."""
        gates_u = 2 * (3 if config.get("couple_input_forget_gates") else 4)
        out = {}
        for name in grid_tf1_names(config, bidi):
            base = name.rsplit("/", 1)[-1]
            if base.startswith("B_"):
                out[name] = np.zeros(gates_u, np.float32)
            else:
                out[name] = np.full((2,) if "_diag_" in base else (2 + 2 * 2, gates_u), 0.5, np.float32)
        return out

    config = dict(units=2, feature_size=2, frequency_skip=1, num_frequency_blocks=[3], couple_input_forget_gates=True)
    cell = modern_grid.grid_lstm_cell(2, forget_bias=1.0, **{k: v for k, v in config.items() if k != "units"})
    cell.build((3, 4))
    cell.set_weights(grid_to_keras(tf115_arrays(config, False), config, 1.0))
    out, state = cell(x_coupled, s[:6])
    np.testing.assert_allclose(np.asarray(out), _pairs(COUPLED_OUT), atol=1e-6)
    np.testing.assert_allclose(np.concatenate(state, 1), _pairs(COUPLED_STATE), atol=1e-6)
    config = dict(units=2, feature_size=2, frequency_skip=1, num_frequency_blocks=[3], share_time_frequency_weights=True)
    for offset in (0, 1):
        cell = modern_grid.bidirectional_grid_lstm_cell(2, forget_bias=1.0, backward_slice_offset=offset, **{
            k: v for k, v in config.items() if k != "units"})
        cell.build((3, 4))
        cell.set_weights(grid_to_keras(tf115_arrays(config, True), config, 1.0, bidirectional=True))
        out, state = cell(x_bidi, s)
        np.testing.assert_allclose(np.asarray(out), np.concatenate(
            [_pairs(BIDI_FWD_OUT), _pairs(BIDI_BWD_OUT[offset])], 1), atol=1e-6)
        np.testing.assert_allclose(np.concatenate(state, 1), np.concatenate(
            [_pairs(BIDI_FWD_STATE), _pairs(BIDI_BWD_STATE[offset])], 1), atol=1e-6)


# -- TF 1.15's options over dynamic_rnn against the NumPy step ---------------------------------------------------------
#: name -> (cell class, TF 1.15 arguments, input depth, the variable names TF 1.15 gives the cell)
OPTIONS = {
    "blocks_peepholes": (GridLSTMCell, dict(feature_size=2, frequency_skip=2, num_frequency_blocks=[2, 1],
                                            start_freqindex_list=[0, 4], end_freqindex_list=[5, 7],
                                            use_peepholes=True), 7,
                         [n.format(b) for b in (0, 1) for n in (
                             "B_f_{}", "B_t_{}", "W_f_{}_0", "W_t_{}_0", "W_F_diag_freqf_{}", "W_F_diag_freqt_{}",
                             "W_I_diag_freqf_{}", "W_I_diag_freqt_{}", "W_O_diag_freqf_{}", "W_O_diag_freqt_{}",
                             "W_F_diag_timef_{}", "W_F_diag_timet_{}", "W_I_diag_timef_{}", "W_I_diag_timet_{}",
                             "W_O_diag_timef_{}", "W_O_diag_timet_{}")]),
    "peepholes_shared_clip_shards": (GridLSTMCell, dict(feature_size=3, frequency_skip=1, num_frequency_blocks=[3],
                                                        use_peepholes=True, share_time_frequency_weights=True,
                                                        cell_clip=0.4, num_unit_shards=2), 5,
                                     ["B_f_0", "W_F_diag_freqf_0", "W_F_diag_freqt_0", "W_I_diag_freqf_0",
                                      "W_I_diag_freqt_0", "W_O_diag_freqf_0", "W_O_diag_freqt_0", "W_f_0_0",
                                      "W_f_0_1"]),
    "concat_state_two_blocks": (GridLSTMCell, dict(feature_size=2, frequency_skip=1, num_frequency_blocks=[2, 1],
                                                   start_freqindex_list=[0, 3], end_freqindex_list=[3, 5],
                                                   state_is_tuple=False), 5,
                                ["B_f_0", "B_f_1", "B_t_0", "B_t_1", "W_f_0_0", "W_f_1_0", "W_t_0_0", "W_t_1_0"]),
    "bidi_offset_coupled_peepholes": (BidirectionalGridLSTMCell, dict(feature_size=2, frequency_skip=1,
                                                                      num_frequency_blocks=[3], use_peepholes=True,
                                                                      couple_input_forget_gates=True,
                                                                      backward_slice_offset=-1), 4,
                                      [f"{d}/{n}" for d in ("fwd", "bwd") for n in (
                                          "B_f_0", "B_t_0", "W_f_0_0", "W_t_0_0", "W_I_diag_freqf_0",
                                          "W_I_diag_freqt_0", "W_O_diag_freqf_0", "W_O_diag_freqt_0",
                                          "W_I_diag_timef_0", "W_I_diag_timet_0", "W_O_diag_timef_0",
                                          "W_O_diag_timet_0")]),
    "bidi_offset_blocks": (BidirectionalGridLSTMCell, dict(feature_size=2, frequency_skip=2,
                                                           num_frequency_blocks=[1, 2], start_freqindex_list=[0, 2],
                                                           end_freqindex_list=[2, 6], backward_slice_offset=1,
                                                           share_time_frequency_weights=True), 6,
                           ["bwd/B_f_0", "bwd/B_f_1", "bwd/W_f_0_0", "bwd/W_f_1_0",
                            "fwd/B_f_0", "fwd/B_f_1", "fwd/W_f_0_0", "fwd/W_f_1_0"]),
}
OPTIONS_FB = 0.6


def _seeded(sess, seed) -> dict:
    """Load seeded asymmetric values into every variable; {name under the cell scope: value}."""
    rng = np.random.default_rng(seed)
    out = {var.op.name: rng.uniform(-0.8, 0.8, var.shape).astype(np.float32) for var in v1.global_variables()}
    sess.run([var.assign(out[var.op.name]) for var in v1.global_variables()])  # one run (var.load runs one each)
    return out


@pytest.fixture(scope="module")
def legacy_runs(tmp_path_factory):
    """Every OPTIONS cell over static_rnn in one graph (scope = option name), seeded; outputs, final states, arrays.
    The graph, with the META_EXTRA cells, is exported as ``grid_options.meta`` in the session's temporary root."""
    rng = np.random.default_rng(17)
    xs = {name: rng.normal(0, 1, (B, T, depth)).astype(np.float32) for name, (_, _, depth, _) in OPTIONS.items()}
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        fetches, grads = {}, {}
        for name, (cls, kwargs, _, _) in OPTIONS.items():
            cell = cls(U, forget_bias=OPTIONS_FB, **kwargs)
            xt = tf.constant(xs[name])
            # static_rnn (the gradients of while_v2 take minutes to build here); the checkpoint program below runs
            # dynamic_rnn
            outs, final = v1.nn.static_rnn(cell, tf.unstack(xt, axis=1), dtype=tf.float32, scope=name)
            fetches[name] = (tf.stack(outs, 1), final)
            loss = tf.reduce_sum(fetches[name][0] * _loss_weights(cell.output_size))
            variables = [v for v in v1.global_variables() if v.op.name.startswith(name + "/")]
            grads[name] = dict(zip(["x"] + [v.op.name for v in variables], tf.gradients(loss, [xt] + variables)))
        for name, (cls, kwargs, depth, _) in META_EXTRA.items():  # for the .meta reader only
            v1.nn.static_rnn(cls(U, forget_bias=META_FB, **kwargs), tf.unstack(v1.placeholder(
                tf.float32, [None, T, depth]), axis=1), dtype=tf.float32, scope=name)
        v1.train.export_meta_graph(str(tmp_path_factory.getbasetemp() / "grid_options.meta"))
        arrays = _seeded(sess, 5)
        v1.train.Saver().save(sess, str(tmp_path_factory.getbasetemp() / "grid_options_ckpt" / "model.ckpt"))
        got, grad_values = sess.run([fetches, grads])
    return xs, got, arrays, grad_values


def _loss_weights(size: int) -> np.ndarray:
    return np.sin(np.arange(size, dtype=np.float32) * 1.7) + 0.3  # asymmetric: every output column counts apart


def _cell_arrays(arrays: dict, name: str) -> dict:
    """The arrays of one OPTIONS cell by TF 1.15 name under the cell scope, shards concatenated (``W_f_0``)."""
    prefix = f"{name}/{'bidirectional_' if OPTIONS[name][0] is BidirectionalGridLSTMCell else ''}grid_lstm_cell/"
    own = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    out = {}
    for key in sorted(own):
        head, _, last = key.rpartition("_")
        if head.rsplit("/", 1)[-1].startswith(("W_f_", "W_t_")) and head.count("_") == 2:
            out[head] = np.concatenate([out[head], own[key]], 0) if head in out else own[key]
        else:
            out[key] = own[key]
    return own, out


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_legacy_cells_equal_the_numpy_step_for_tf115_options(legacy_runs, name):
    xs, got, arrays, _ = legacy_runs
    cls, kwargs, depth, names = OPTIONS[name]
    own, w = _cell_arrays(arrays, name)
    assert sorted(own) == sorted(names)
    cfg = dict(kwargs, units=U)
    bidi = cls is BidirectionalGridLSTMCell
    ref_out, ref_state = run_reference(xs[name], cfg, w, OPTIONS_FB, bidi=bidi)
    out, state = got[name]
    np.testing.assert_allclose(out, ref_out, atol=1e-6)
    assert np.max(np.abs(out)) > 0.05
    flat = [state] if kwargs.get("state_is_tuple") is False else list(state)
    np.testing.assert_allclose(np.concatenate(flat, 1), np.concatenate(ref_state, 1), atol=1e-6)
    if "cell_clip" in kwargs:  # the clip is really active
        assert np.max(np.abs(np.concatenate(flat, 1)[:, ::2])) <= kwargs["cell_clip"] + 1e-7


def test_the_concatenated_state_quirk_is_tf115s_and_differs_from_the_tuple_state(legacy_runs):
    """Negative control of the reference: with two blocks, TF 1.15's concatenated state reads block 0's offsets for
    block 1; the per-block reading (what the tuple state does) gives other numbers."""
    xs, got, arrays, _ = legacy_runs
    _, w = _cell_arrays(arrays, "concat_state_two_blocks")
    cfg = dict(OPTIONS["concat_state_two_blocks"][1], units=U, state_is_tuple=True)
    per_block, _ = run_reference(xs["concat_state_two_blocks"], cfg, w, OPTIONS_FB)
    assert np.max(np.abs(per_block - got["concat_state_two_blocks"][0])) > 1e-3


def test_legacy_cells_refuse_what_tf115_refused():
    with pytest.raises(ValueError, match="num_frequency_blocks"):
        GridLSTMCell(U, feature_size=2, frequency_skip=1)
    for kwargs, pattern in ((dict(num_frequency_blocks=[2]), "requires 2 but gets 3"),
                            (dict(num_frequency_blocks=[1, 2]), "is not 1"),
                            (dict(num_frequency_blocks=[1], start_freqindex_list=[0], end_freqindex_list=[2, 4]),
                             "does not match"),
                            (dict(num_frequency_blocks=[1, 1], start_freqindex_list=[0, 2], end_freqindex_list=[2, 4]
                                  ), None)):
        with tf.Graph().as_default():
            cell = GridLSTMCell(U, feature_size=2, frequency_skip=1, state_is_tuple=False, **kwargs)
            if pattern is None:  # the control: a consistent configuration builds
                assert cell(tf.zeros([2, 4]), tf.zeros([2, 4 * U]))[0].shape == (2, 4 * U)
                continue
            with pytest.raises(ValueError, match=pattern):
                cell(tf.zeros([2, 4]), tf.zeros([2, 6 * U]))


# -- the Keras twins against the legacy cells --------------------------------------------------------------------------
TWIN_OPTIONS = sorted(n for n in OPTIONS if n != "concat_state_two_blocks")


def _twin(name):
    cls, kwargs, _, _ = OPTIONS[name]
    build = modern_grid.bidirectional_grid_lstm_cell if cls is BidirectionalGridLSTMCell else modern_grid.grid_lstm_cell
    return build(U, forget_bias=OPTIONS_FB, **kwargs)


def _keras_run(cell, x, weights):
    """outputs, final states and d(sum(outputs * w))/d(x, every weight) of the twin in a Keras RNN layer."""
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    xt = tf.constant(x)
    layer(xt)
    layer.cell.set_weights(weights)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out, *states = layer(xt)
        loss = tf.reduce_sum(out * _loss_weights(cell.output_size))
    grads = tape.gradient(loss, [xt, *layer.cell.weights])
    return np.asarray(out), [np.asarray(s) for s in states], [np.asarray(g) for g in grads]


def _config(name) -> dict:
    return dict(OPTIONS[name][1], units=U)


@pytest.mark.parametrize("name", TWIN_OPTIONS)
def test_keras_twin_equals_the_legacy_cell_forward_and_in_gradients(legacy_runs, name):
    xs, got, arrays, grads = legacy_runs
    own, _ = _cell_arrays(arrays, name)
    bidi = OPTIONS[name][0] is BidirectionalGridLSTMCell
    cell = _twin(name)
    weights = grid_to_keras(own, _config(name), OPTIONS_FB, bidi)
    out, states, k_grads = _keras_run(cell, xs[name], weights)
    np.testing.assert_allclose(out, got[name][0], atol=1e-6)
    np.testing.assert_allclose(np.concatenate(states, 1), np.concatenate(list(got[name][1]), 1), atol=1e-6)
    assert [w.name.split("/")[-1].split(":")[0] for w in cell.weights] == [
        keras_name(n) for n in grid_tf1_names(_config(name), bidi)]
    g = grads[name]
    np.testing.assert_allclose(k_grads[0], g["x"], atol=1e-6)
    assert np.max(np.abs(g["x"])) > 1e-2
    prefix = f"{name}/{'bidirectional_' if bidi else ''}grid_lstm_cell/"
    tf1_grads = {k[len(prefix):]: v for k, v in g.items() if k.startswith(prefix)}
    for a, b in zip(grid_to_keras(tf1_grads, _config(name), 0.0, bidi), k_grads[1:]):  # layout only
        np.testing.assert_allclose(b, a, atol=1e-6, rtol=1e-6)
    shards = OPTIONS[name][1].get("num_unit_shards", 1)
    back = grid_to_tf1(weights, _config(name), OPTIONS_FB, bidi, num_unit_shards=shards)
    assert sorted(back) == sorted(own)
    for key, value in own.items():
        np.testing.assert_allclose(back[key], value, atol=1e-7)


def _wrong_conversions(name, own):
    cfg, bidi = _config(name), OPTIONS[name][0] is BidirectionalGridLSTMCell
    names = grid_tf1_names(cfg, bidi)
    good = grid_to_keras(own, cfg, OPTIONS_FB, bidi)
    if not cfg.get("couple_input_forget_gates"):
        yield "forget_bias not folded", grid_to_keras(own, cfg, 0.0, bidi)
    swap = lambda a: np.concatenate([a[..., U:2 * U], a[..., :U], a[..., 2 * U:]], -1)  # noqa: E731  i <-> j
    yield "i and j blocks swapped", [swap(w) if "_diag_" not in n else w for n, w in zip(names, good)]
    if "W_t_0" in names:  # (the first block's)
        f, t = names.index("W_f_0"), names.index("W_t_0")
        wrong = list(good)
        wrong[f], wrong[t] = good[t], good[f]
        yield "F-LSTM and T-LSTM weights swapped", wrong
    if bidi:
        half = len(good) // 2
        yield "forward and backward grids swapped", good[half:] + good[:half]


@pytest.mark.parametrize("name", TWIN_OPTIONS)
def test_negative_controls_wrong_conversions_differ(legacy_runs, name):
    xs, got, arrays, _ = legacy_runs
    own, _ = _cell_arrays(arrays, name)
    whats = []
    for what, wrong in _wrong_conversions(name, own):
        out = _keras_run(_twin(name), xs[name], wrong)[0]
        assert np.max(np.abs(out - got[name][0])) > 1e-3, what
        whats.append(what)
    assert len(whats) >= 2


def test_keras_twin_refuses_what_it_does_not_reproduce_and_round_trips_its_config():
    with pytest.raises(ValueError, match="concatenated state with more than one block"):
        _twin("concat_state_two_blocks")
    with pytest.raises(ValueError, match="requires 2 but gets 3"):
        modern_grid.grid_lstm_cell(U, feature_size=2, num_frequency_blocks=[2]).build((None, 4))
    cell = _twin("bidi_offset_blocks")
    again = modern_grid.BidirectionalGridLSTMCell.from_config(cell.get_config())
    assert again.get_config() == cell.get_config() and again.backward_slice_offset == 1
    assert keras.saving.get_registered_object("modern_rnn>BidirectionalGridLSTMCell") is \
        modern_grid.BidirectionalGridLSTMCell


def test_the_two_modules_mirror_each_other_name_for_name():
    """legacy_rnn.grid_lstm and modern_rnn.grid_lstm: the same public classes and functions in the same order, each
    docstring naming its twin (tests/core/test_mirror.py's rule, for a module the packages do not import)."""
    import inspect

    import legacy_rnn.grid_lstm as legacy_grid

    def public(mod):
        names = [n for n, f in inspect.getmembers(mod, lambda o: inspect.isfunction(o) or inspect.isclass(o))
                 if not n.startswith("_") and f.__module__ == mod.__name__]
        return sorted(names, key=lambda n: inspect.getsourcelines(getattr(mod, n))[1])

    assert public(legacy_grid) == public(modern_grid) == list(legacy_grid.__all__) == list(modern_grid.__all__)
    for name in public(legacy_grid):
        assert name in inspect.getdoc(getattr(legacy_grid, name)).split("Modern equivalent", 1)[1]
        assert name in inspect.getdoc(getattr(modern_grid, name)).split("Legacy equivalent", 1)[1]



# -- a real TF1 program, its Saver checkpoint, the CLI, and the conversion by hand ------------------------------------
#: scope -> (cell class, TF 1.15 arguments, forget_bias): one grid over one block, one bidirectional grid over two
PROGRAM = {"enc_grid": (GridLSTMCell, dict(feature_size=2, frequency_skip=2, num_frequency_blocks=[3]), 0.7),
           "enc_bigrid": (BidirectionalGridLSTMCell, dict(feature_size=3, frequency_skip=1, num_frequency_blocks=[2, 1],
                                                          start_freqindex_list=[0, 3], end_freqindex_list=[4, 6],
                                                          use_peepholes=True, backward_slice_offset=1), 0.4)}
P_T, P_D = 5, 6
LENGTHS = np.array([5, 1, 3], np.int32)


def _program_graph(x, lengths):
    """The program's encoders (legacy cells, dynamic_rnn with lengths): {scope: outputs}."""
    outs = {}
    for scope, (cls, kwargs, fb) in PROGRAM.items():
        outs[scope], _ = v1.nn.dynamic_rnn(cls(U, forget_bias=fb, **kwargs), x, sequence_length=lengths,
                                           dtype=tf.float32, scope=scope)
    return outs


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    """x -> the two grid encoders -> their last relevant outputs concatenated -> dense head -> softmax loss; every
    variable randomized; saved by Saver with its .meta."""
    root = tmp_path_factory.mktemp("grid_cells")
    x_np = np.random.default_rng(43).normal(0, 1, (B, P_T, P_D)).astype(np.float32)
    with legacy_rnn.new_graph(43) as graph:
        x = v1.placeholder(tf.float32, [None, P_T, P_D], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        outs = _program_graph(x, lengths)
        lasts = [tf.gather_nd(o, tf.stack([tf.range(tf.shape(x)[0]), lengths - 1], 1)) for o in outs.values()]
        logits = v1.layers.dense(tf.concat(lasts, 1), 3, name="head")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits), name="loss")
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 43)
            ref = sess.run([outs, logits], {x: x_np, lengths: LENGTHS})
            prefix = v1.train.Saver().save(sess, os.path.join(str(root / "ckpt"), "model.ckpt"))
    return root, prefix, x_np, ref


def _checkpoint_arrays(prefix: str) -> dict:
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


@pytest.fixture(scope="module")
def converted(program):
    """``rnn-migrate convert`` with default options, once: (output directory, exit code, manifest)."""
    import json

    root, prefix, _, _ = program
    code = run_cli("convert", prefix, root / "out", "--quiet")
    with open(root / "out" / "manifest.json") as f:
        return root / "out", code, json.load(f)


def test_convert_converts_and_verifies_the_grid_checkpoint_against_the_original_graph(program, converted, capsys):
    """Default options: exit 0, every grid option read from the .meta (none from PROGRAM), verified against the
    ORIGINAL graph (each block and the whole model); ``verify`` agrees; the whole model.keras in safe mode
    reproduces the program's logits, each block model its encoder's outputs."""
    from migration.safe_io import load_keras_model

    root, prefix, x_np, (outs, logits) = program
    out, code, manifest = converted
    assert code == 0
    blocks = {b["scope"]: b for b in manifest["blocks"]}
    assert sorted(blocks) == sorted(PROGRAM)
    for scope, (cls, kwargs, fb) in PROGRAM.items():
        (cell,) = blocks[scope]["cells"]
        spec = cell["spec"]
        bidi = cls is BidirectionalGridLSTMCell
        assert (spec["kind"], spec["units"], cell["input_size"]) == (
            "bidirectional_grid_lstm" if bidi else "grid_lstm", U, P_D)
        assert spec["forget_bias"] == pytest.approx(fb) and cell["hyper_sources"]["forget_bias"].startswith("meta")
        assert spec["use_peepholes"] == bool(kwargs.get("use_peepholes"))
        assert {k: spec["options"][k] for k in kwargs if k != "use_peepholes"} == {
            k: v for k, v in kwargs.items() if k != "use_peepholes"}
        assert not spec["options"]["couple_input_forget_gates"] and spec["options"]["num_unit_shards"] == 1
        assert sorted(cell["variables"].values()) == sorted(k for k in _checkpoint_arrays(prefix)
                                                           if k.startswith(_cell_dir(scope, cls) + "/"))
    assert manifest["unrecognized"] == []
    v = manifest["verification"]
    assert v["ok"] and v["references"]["whole model"] == "original-graph"
    assert all(v["references"][f"block {scope}"] == "original-graph" for scope in PROGRAM)
    checked = {c["what"] + " " + c["output"] for c in v["checks"] if c["reference"] == "original-graph"}
    # every state tensor, under TF 1.15's state tuple field names
    assert {"block enc_grid state/state_f02_b00_m", "block enc_bigrid state/bwd_state_f00_b01_c"} <= checked
    capsys.readouterr()
    assert run_cli("inspect", prefix) == 0
    printed = capsys.readouterr().out
    assert "bidirectional_grid_lstm" in printed and "unrecognized (0)" in printed
    model = load_keras_model(str(out / manifest["model"]["file"]))  # safe mode
    np.testing.assert_allclose(np.asarray(model([x_np, LENGTHS], training=False)), logits, atol=1e-5)
    assert {"GridLSTMCell", "BidirectionalGridLSTMCell"} <= {type(m).__name__ for m in model.submodules}
    for scope in PROGRAM:
        block = load_keras_model(str(out / blocks[scope]["file"]))
        got = np.asarray(block([x_np, LENGTHS], training=False)[0])
        np.testing.assert_allclose(got, outs[scope], atol=1e-5)
        assert np.max(np.abs(got)) > 1e-2


def test_a_wrong_forget_bias_or_swapped_gate_blocks_fail_against_the_original_graph(program, converted, tmp_path,
                                                                                     capsys):
    """Negative controls, one ``verify`` run (what ``convert`` runs before writing) on a copy of the output: the
    enc_grid block with the i and j blocks of ``w_f_0`` swapped, the enc_bigrid block with its forget_bias folded
    0.3 short (every f block of ``b_f``/``b_t``: a wrong ``--forget-bias``) each fail on the ORIGINAL graph's numbers
    (not only on the changed file hash); the untouched dense head still passes."""
    import shutil

    from migration.families import register_keras_classes
    from migration.families.grid_lstm import grid_tf1_names
    from migration.safe_io import load_keras_model

    _, prefix, _, _ = program
    out, _, manifest = converted
    tampered = tmp_path / "tampered"
    shutil.copytree(out, tampered)
    register_keras_classes()
    for block in manifest["blocks"]:
        model = load_keras_model(str(tampered / block["file"]))
        (cell,) = [m for m in model.submodules if type(m).__name__.endswith("GridLSTMCell")]
        weights = cell.get_weights()
        if block["scope"] == "enc_grid":  # swapped gate blocks i <-> j
            weights[0] = np.concatenate([weights[0][:, U:2 * U], weights[0][:, :U], weights[0][:, 2 * U:]], 1)
        else:  # forget_bias 0.3 short
            cls, kwargs, _ = PROGRAM[block["scope"]]
            for k, name in enumerate(grid_tf1_names(dict(kwargs, units=U), bidirectional=True)):
                if name.rsplit("/", 1)[-1].startswith("B_"):
                    weights[k][2 * U:3 * U] -= 0.3
        cell.set_weights(weights)
        model.save(str(tampered / block["file"]))
    capsys.readouterr()
    assert run_cli("verify", prefix, tampered) == 1
    lines = capsys.readouterr().out.splitlines()
    for scope in PROGRAM:
        assert any(line.split()[:4] == ["FAIL", "block", scope, "outputs"] and "original-graph" in line
                   for line in lines), scope
    assert any(line.split()[:3] == ["ok", "dense", "head"] for line in lines)


def test_export_writes_a_checkpoint_the_programs_meta_graph_restores(program, converted, tmp_path):
    """``export model.keras`` (the original graph's names from the manifest): every grid array as the program saved
    it (forget_bias unfolded, W_f_<b>_0), and the program's own .meta graph restores it and gives its logits; a block
    model exported with ``--standard-names`` restores into a legacy bidirectional grid under ``rnn``."""
    _, prefix, x_np, (outs, logits) = program
    out, _, _ = converted
    exported = str(tmp_path / "exp" / "model.ckpt")
    assert run_cli("export", out / "model.keras", exported) == 0
    original, back = _checkpoint_arrays(prefix), _checkpoint_arrays(exported)
    grid_keys = sorted(k for k in original if k.startswith("enc_"))
    assert sorted(k for k in back if k.startswith("enc_")) == grid_keys
    for key in grid_keys + ["head/kernel", "head/bias"]:
        np.testing.assert_allclose(back[key], original[key], atol=1e-6, err_msg=key)
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        v1.train.import_meta_graph(prefix + ".meta").restore(sess, exported)
        got = sess.run("head/BiasAdd:0", {"x:0": x_np, "lengths:0": LENGTHS})
    np.testing.assert_allclose(got, logits, atol=1e-5)
    # a block model without its manifest (--standard-names): the row's export hook gives the spec from the twin
    _, _, manifest = converted
    (block,) = [b for b in manifest["blocks"] if b["scope"] == "enc_bigrid"]
    cls, kwargs, fb = PROGRAM["enc_bigrid"]
    standard = str(tmp_path / "std" / "model.ckpt")
    assert run_cli("export", out / block["file"], standard, "--standard-names", "--forget-bias", fb) == 0
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        x = v1.placeholder(tf.float32, [None, P_T, P_D])
        lengths = v1.placeholder(tf.int32, [None])
        outputs, _ = v1.nn.dynamic_rnn(cls(U, forget_bias=fb, **kwargs), x, sequence_length=lengths,
                                       dtype=tf.float32, scope="rnn")
        v1.train.Saver().restore(sess, standard)
        np.testing.assert_allclose(sess.run(outputs, {x: x_np, lengths: LENGTHS}), outs["enc_bigrid"], atol=1e-5)


def test_convert_refuses_the_grid_cells_without_their_meta_naming_the_options_and_the_remedy(program, tmp_path,
                                                                                            capsys):
    """The checkpoint alone (no .meta): the slicing and 3 or 4 gates are not in it; refused (exit 2, nothing
    written), every grid variable named with the options and the remedy, never defaulted."""
    import shutil

    _, prefix, _, _ = program
    bare = tmp_path / "bare"
    bare.mkdir()
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(prefix + suffix, bare / ("model.ckpt" + suffix))
    grid_vars = sorted(k for k in _checkpoint_arrays(prefix) if k.startswith("enc_"))
    assert len(grid_vars) == 4 + 2 * 2 * (4 + 12)  # W_f/B_f/W_t/B_t; fwd/bwd x 2 blocks x (4 arrays + 12 peepholes)
    capsys.readouterr()
    assert run_cli("convert", bare / "model.ckpt", tmp_path / "out", "--quiet") == 2
    err = capsys.readouterr().err
    assert all(k in err for k in grid_vars)
    assert "tf.contrib.rnn.GridLSTMCell weights" in err and "tf.contrib.rnn.BidirectionalGridLSTMCell weights" in err
    assert "no .meta beside the checkpoint" in err and "couple_input_forget_gates" in err and "grid_to_keras" in err
    assert not os.path.exists(tmp_path / "out")
    assert run_cli("inspect", bare / "model.ckpt") == 1  # listed as unrecognized, with the same reason
    printed = capsys.readouterr().out
    assert all(k in printed for k in grid_vars) and printed.count("no .meta beside the checkpoint") >= len(grid_vars)


def _keras_program(weights_for, configs=None):
    """The program as a Keras model on the twins: ([x, lengths] -> logits), weights from ``weights_for(scope,
    config, forget_bias, bidirectional)``; ``configs``: scope -> (twin config, forget_bias) instead of PROGRAM's."""
    import modern_rnn

    x = keras.Input((P_T, P_D), name="x")
    length = keras.Input((), dtype="int32", name="lengths")
    lasts, cells = [], {}
    configs = configs or {scope: (dict(kwargs, units=U), fb) for scope, (_, kwargs, fb) in PROGRAM.items()}
    for scope, (cls, _, _) in PROGRAM.items():
        bidi = cls is BidirectionalGridLSTMCell
        build = modern_grid.bidirectional_grid_lstm_cell if bidi else modern_grid.grid_lstm_cell
        config, fb = configs[scope]
        cells[scope] = build(config["units"], forget_bias=fb, **{k: v for k, v in config.items() if k != "units"})
        outputs, _ = modern_rnn.dynamic_rnn(cells[scope], x, sequence_length=length)
        lasts.append(tf.gather(outputs, length - 1, batch_dims=1))
    head = keras.layers.Dense(3, name="head")
    model = keras.Model([x, length], head(keras.layers.Concatenate()(lasts)))
    for scope, (cls, _, _) in PROGRAM.items():
        cells[scope].set_weights(weights_for(scope, *configs[scope], cls is BidirectionalGridLSTMCell))
    return model, head, cells


def test_converted_by_hand_the_twins_reproduce_the_programs_logits_in_safe_mode(program, tmp_path):
    from migration.safe_io import load_keras_model

    _, prefix, x_np, (outs, logits) = program
    arrays = _checkpoint_arrays(prefix)

    def weights_for(scope, config, fb, bidi):
        cell_dir = f"{scope}/{'bidirectional_' if bidi else ''}grid_lstm_cell/"
        own = {k[len(cell_dir):]: v for k, v in arrays.items() if k.startswith(cell_dir)}
        return grid_to_keras(own, config, fb, bidi)

    # the configuration and forget_bias of each cell read from the checkpoint's shapes and its .meta (not PROGRAM's)
    from migration.checkpoint.grid_meta import grid_cell_config
    from migration.checkpoint.meta import MetaGraph

    meta, configs = MetaGraph(prefix + ".meta"), {}
    for scope, (cls, kwargs, fb) in PROGRAM.items():
        cell_dir = _cell_dir(scope, cls)
        shapes = {k[len(cell_dir) + 1:]: v.shape for k, v in arrays.items() if k.startswith(cell_dir + "/")}
        configs[scope] = grid_cell_config(meta, cell_dir, shapes, cls is BidirectionalGridLSTMCell)
        assert configs[scope][1] == pytest.approx(fb) and configs[scope][0]["units"] == U
    model, head, cells = _keras_program(weights_for, configs)
    head.set_weights([arrays["head/kernel"], arrays["head/bias"]])
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = load_keras_model(path)  # safe mode
    got = np.asarray(loaded([x_np, LENGTHS], training=False))
    np.testing.assert_allclose(got, logits, atol=1e-5)
    assert {type(layer.cell).__name__ for layer in loaded.layers if hasattr(layer, "cell")} == {
        "GridLSTMCell", "BidirectionalGridLSTMCell"}
    # negative control: a forget_bias that is not the program's (folded wrong) gives other logits
    for scope, (cls, kwargs, fb) in PROGRAM.items():
        bidi = cls is BidirectionalGridLSTMCell
        cells[scope].set_weights(weights_for(scope, dict(kwargs, units=U), fb - 0.5, bidi))
    assert np.max(np.abs(np.asarray(model([x_np, LENGTHS])) - logits)) > 1e-3
    # back to TF1 names: a checkpoint the legacy graph restores, reproducing the program's encoder outputs
    exported = {}
    for scope, (cls, kwargs, fb) in PROGRAM.items():
        bidi = cls is BidirectionalGridLSTMCell
        cell_dir = f"{scope}/{'bidirectional_' if bidi else ''}grid_lstm_cell/"
        back = grid_to_tf1([np.asarray(w) for w in _loaded_cell(loaded, cls).weights], dict(kwargs, units=U), fb,
                           bidi)
        exported.update({cell_dir + k: v for k, v in back.items()})
    assert sorted(exported) == sorted(k for k in arrays if k.startswith("enc_"))
    export_prefix = str(tmp_path / "exp" / "model.ckpt")
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        variables = [v1.Variable(value, name=name) for name, value in exported.items()]
        sess.run(v1.variables_initializer(variables))
        v1.train.Saver(variables).save(sess, export_prefix)
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        x = v1.placeholder(tf.float32, [None, P_T, P_D])
        lengths = v1.placeholder(tf.int32, [None])
        restored = _program_graph(x, lengths)
        v1.train.Saver().restore(sess, export_prefix)
        got = sess.run(restored, {x: x_np, lengths: LENGTHS})
    for scope in PROGRAM:
        np.testing.assert_allclose(got[scope], outs[scope], atol=1e-5)
        assert np.max(np.abs(outs[scope])) > 1e-2


def _loaded_cell(model, cls):
    (cell,) = [layer.cell for layer in model.layers if type(getattr(layer, "cell", None)).__name__ == cls.__name__]
    return cell


# -- the grid's configuration read back from the .meta (migration.checkpoint.grid_meta) -------------------------------
def _cell_dir(scope: str, cls) -> str:
    return f"{scope}/{'bidirectional_' if cls is BidirectionalGridLSTMCell else ''}grid_lstm_cell"


@pytest.fixture(scope="module")
def options_meta(legacy_runs, tmp_path_factory):
    """The ``.meta`` of legacy_runs' graph: every OPTIONS cell and the META_EXTRA ones (TF 1.15's kernel-test coupled
    grid, an offset-free bidirectional grid of two blocks), each forget_bias its own."""
    from migration.checkpoint.meta import MetaGraph

    return MetaGraph(str(tmp_path_factory.getbasetemp() / "grid_options.meta"))


META_FB = 0.3
META_EXTRA = dict(coupled_one_block=(GridLSTMCell, dict(feature_size=2, frequency_skip=1, num_frequency_blocks=[3],
                                                        couple_input_forget_gates=True), 4, []),
                  concat_state_one_block=(GridLSTMCell, dict(feature_size=2, frequency_skip=1,
                                                             num_frequency_blocks=[3], state_is_tuple=False), 4, []),
                  bidi_no_offset=(BidirectionalGridLSTMCell, dict(feature_size=1, frequency_skip=2,
                                                                  num_frequency_blocks=[2, 2],
                                                                  start_freqindex_list=[0, 4],
                                                                  end_freqindex_list=[3, 7]), 7, []))
META_OPTIONS = dict(OPTIONS, **META_EXTRA)


@pytest.mark.parametrize("name", sorted(META_OPTIONS))
def test_the_meta_gives_the_grids_configuration(options_meta, name):
    from migration.checkpoint.grid_meta import grid_options

    cls, kwargs, depth, _ = META_OPTIONS[name]
    bidi = cls is BidirectionalGridLSTMCell
    got = grid_options(options_meta, _cell_dir(name, cls), bidi)
    assert got.pop("input_size") == depth
    assert got.pop("forget_bias") == pytest.approx(  # (coupled gates: no f gate, no forget_bias; 1.0 returned)
        1.0 if kwargs.get("couple_input_forget_gates") else META_FB if name in META_EXTRA else OPTIONS_FB)
    assert slice_starts(got, depth) == slice_starts(kwargs, depth)  # the same slices (an equivalent slicing)
    assert got["feature_size"] == kwargs["feature_size"]
    assert got["num_frequency_blocks"] == kwargs["num_frequency_blocks"]
    assert got["couple_input_forget_gates"] == bool(kwargs.get("couple_input_forget_gates"))
    assert got["cell_clip"] == kwargs.get("cell_clip")
    assert got.get("backward_slice_offset") == (kwargs.get("backward_slice_offset", 0) if bidi else None)
    assert got.get("state_is_tuple", True) == kwargs.get("state_is_tuple", True)
    if not kwargs.get("start_freqindex_list"):  # the program's own form when its single block covers the input
        assert "start_freqindex_list" not in got and got["frequency_skip"] == kwargs["frequency_skip"]


def test_the_meta_reader_refuses_what_it_cannot_read(options_meta, program):
    """Negative controls: a cell the graph does not hold, and a grid whose slices are read as another cell's."""
    from migration.checkpoint.grid_meta import grid_options
    from migration.checkpoint.meta import MetaGraph
    from migration.core.errors import MigrationError

    with pytest.raises(MigrationError, match="no frequency Slice of the grid cell 'nowhere/grid_lstm_cell'"):
        grid_options(options_meta, "nowhere/grid_lstm_cell", False)
    with pytest.raises(MigrationError, match="grid_to_keras"):  # a bidirectional cell read as a one-way grid
        grid_options(options_meta, "bidi_no_offset/bidirectional_grid_lstm_cell", False)
    from migration.checkpoint.grid_meta import grid_cell_config

    with pytest.raises(MigrationError, match="no .meta beside the checkpoint.*couple_input_forget_gates"):
        grid_cell_config(None, "g/grid_lstm_cell", {"B_f_0": (12,), "W_f_0_0": (8, 12)}, False)
    with pytest.raises(MigrationError, match="state_is_tuple=False with 2 blocks"):
        grid_cell_config(options_meta, "concat_state_two_blocks/grid_lstm_cell", {}, False)
    names = OPTIONS["peepholes_shared_clip_shards"][3]  # its own variables, then one with a wrong shape
    shapes = dict({n: (U,) for n in names}, B_f_0=(4 * U,), W_f_0_0=(5, 4 * U), W_f_0_1=(4, 4 * U))  # F+2U = 9 rows
    config, fb = grid_cell_config(options_meta, "peepholes_shared_clip_shards/grid_lstm_cell", shapes, False)
    assert (config["num_unit_shards"], config["use_peepholes"], config["share_time_frequency_weights"],
            config["units"], fb) == (2, True, True, U, OPTIONS_FB)
    for wrong in ({"W_f_0_1": (5, 4 * U)}, {"W_F_diag_freqf_0": (U + 1,)}, {"B_t_0": (4 * U,)}):
        with pytest.raises(MigrationError, match="are not those of the configuration the graph gives"):
            grid_cell_config(options_meta, "peepholes_shared_clip_shards/grid_lstm_cell", dict(shapes, **wrong), False)
    _, prefix, _, _ = program
    meta = MetaGraph(prefix + ".meta")  # the Saver's .meta of the program: its arguments exactly
    for scope, (cls, kwargs, fb) in PROGRAM.items():
        got = grid_options(meta, _cell_dir(scope, cls), cls is BidirectionalGridLSTMCell)
        assert got.pop("forget_bias") == pytest.approx(fb) and got.pop("input_size") == P_D
        assert {k: v for k, v in got.items() if v not in (None, False)} == {
            k: v for k, v in kwargs.items() if k != "use_peepholes"}


def test_the_recognizer_reads_every_option_cell_of_a_saver_checkpoint(legacy_runs, tmp_path_factory):
    """``inspect``'s reading of the option cells' Saver checkpoint (static_rnn, each forget_bias its own): every cell
    the twin reproduces is a block whose spec gives the program's arguments (an equivalent slicing), sizes and
    variable names; the concatenated-state cells are refused naming state_is_tuple=False (two blocks: TF 1.15's
    block-0 offsets quirk; one block: the one-tensor state form), never converted."""
    import json

    from migration import families
    from migration.checkpoint.recognize import inspect_checkpoint
    from migration.core.specs import CellSpec
    from migration.families.grid_lstm import grid_config

    found = inspect_checkpoint(str(tmp_path_factory.getbasetemp() / "grid_options_ckpt" / "model.ckpt"))
    cells = {b.scope: c for b in found.blocks for layers in b.directions.values() for c in layers}
    refused = {}
    for u in found.unrecognized:
        refused.setdefault(u.name.split("/", 1)[0], set()).add(u.reason)
    assert sorted(refused) == ["concat_state_one_block", "concat_state_two_blocks"]
    assert all(len(reasons) == 1 for reasons in refused.values())
    assert "state_is_tuple=False with 2 blocks" in refused["concat_state_two_blocks"].pop()
    assert "state_is_tuple=False: its TF1 state is one concatenated tensor" in refused["concat_state_one_block"].pop()
    assert set(cells) == set(META_OPTIONS) - {"concat_state_one_block", "concat_state_two_blocks"}
    defaults = dict(use_peepholes=False, share_time_frequency_weights=False, couple_input_forget_gates=False,
                    cell_clip=None, num_unit_shards=1)
    for name, cell in cells.items():
        cls, kwargs, depth, names = META_OPTIONS[name]
        bidi, want = cls is BidirectionalGridLSTMCell, dict(defaults, **kwargs)
        got = grid_config(cell.spec, depth, bidi)
        assert cell.input_size == depth and cell.spec.units == U
        assert cell.spec.forget_bias == pytest.approx(
            1.0 if want["couple_input_forget_gates"] else META_FB if name in META_EXTRA else OPTIONS_FB)
        assert cell.hyper_sources["forget_bias"].startswith("unused" if want["couple_input_forget_gates"] else "meta")
        assert slice_starts(got, depth) == slice_starts(kwargs, depth)
        assert {k: got[k] for k in ["feature_size", "num_frequency_blocks", *defaults]} == {
            k: want[k] for k in ["feature_size", "num_frequency_blocks", *defaults]}
        assert got.get("backward_slice_offset") == (want.get("backward_slice_offset", 0) if bidi else None)
        slices = sum(len(b) for b in slice_starts(kwargs, depth)) * (2 if bidi else 1)
        assert cell.spec.output_size == 2 * U * slices and cell.spec.tf1_state_sizes == (U,) * (2 * slices)
        assert sorted(families.tf1_names_for(cell.spec)) == sorted(cell.variables) == sorted(names or cell.variables)
        assert CellSpec.from_dict(json.loads(json.dumps(cell.spec.to_dict()))) == cell.spec  # the manifest's spec


def test_the_recognizer_takes_only_the_grid_names_and_checks_their_ranks():
    """Negative controls of the row's name rule and matrices (no TensorFlow): a name no grid creates under the cell
    directory makes the layout unknown (named); the grid names alone, without a .meta, are refused for the .meta;
    a 1-D ``W_f_0_0`` or a 2-D ``B_f_0`` is refused by the rank check."""
    from migration.checkpoint.reader import VariableInfo
    from migration.checkpoint.recognize import recognize
    from migration.core.errors import ShapeError

    def found(shapes):
        variables = {k: VariableInfo(k, v, "float32") for k, v in shapes.items()}
        return {u.name: u.reason for u in recognize("p", variables, None).unrecognized}

    good = {"enc/grid_lstm_cell/B_f_1": (12,), "enc/grid_lstm_cell/W_f_1_0": (8, 12),
            "enc/grid_lstm_cell/W_f_1_1": (2, 12), "enc/grid_lstm_cell/W_I_diag_timef_1": (3,),
            "enc/grid_lstm_cell/B_f_0": (12,), "enc/grid_lstm_cell/W_f_0_0": (8, 12)}
    reasons = found(good)
    assert sorted(reasons) == sorted(good) and all("no .meta beside the checkpoint" in r for r in reasons.values())
    reasons = found(dict(good, **{"enc/grid_lstm_cell/W_x_0": (3,), "enc/grid_lstm_cell/fwd/B_f_0": (12,)}))
    assert all("unexpected ['W_x_0', 'fwd/B_f_0']" in r for r in reasons.values()) and len(reasons) == len(good) + 2
    bidi = {f"bi/bidirectional_grid_lstm_cell/{d}/{n}": shape for d in ("fwd", "bwd")
            for n, shape in (("B_f_0", (12,)), ("W_f_0_0", (8, 12)))}
    reasons = found(bidi)
    assert sorted(reasons) == sorted(bidi) and all("no .meta beside the checkpoint" in r for r in reasons.values())
    reasons = found(dict(bidi, **{"bi/bidirectional_grid_lstm_cell/B_f_0": (12,)}))  # no fwd/ or bwd/: not its name
    assert all("unexpected ['B_f_0']" in r for r in reasons.values()) and len(reasons) == len(bidi) + 1
    for wrong in ({"enc/grid_lstm_cell/W_f_0_0": (8,)}, {"enc/grid_lstm_cell/B_f_1": (1, 12)}):
        with pytest.raises(ShapeError, match=f"{next(iter(wrong))}.*expected a {'2' if 'W_' in str(wrong) else '1'}-D"):
            found(dict(good, **wrong))


def test_the_meta_reader_reads_tf1_while_frames(tmp_path):
    """A TF 1.x program's .meta (control flow v1: the loop body in the main graph, ``enc/while/enc/...``): read the
    same; op scopes that end with the asked directory are told apart by the frame (``outer/enc/while/outer/enc``),
    and the asked directory is refused when only op scopes that merely end with it hold it, several of them
    (``enc/grid_lstm_cell``: ``tower/enc/enc/...`` and ``outer/enc/while/outer/enc/...``; negative control)."""
    from tensorflow.python.ops import control_flow_util

    from migration.checkpoint.grid_meta import grid_options
    from migration.checkpoint.meta import MetaGraph
    from migration.core.errors import MigrationError

    kwargs = dict(feature_size=3, frequency_skip=1, num_frequency_blocks=[2, 1], start_freqindex_list=[0, 3],
                  end_freqindex_list=[4, 6], backward_slice_offset=-1)
    path = str(tmp_path / "v1.meta")
    assert control_flow_util.ENABLE_CONTROL_FLOW_V2
    v1.disable_control_flow_v2()
    try:
        with tf.Graph().as_default():
            x = v1.placeholder(tf.float32, [None, T, P_D])
            v1.nn.dynamic_rnn(BidirectionalGridLSTMCell(U, forget_bias=0.45, **kwargs), x, dtype=tf.float32,
                              scope="enc")
            v1.nn.dynamic_rnn(GridLSTMCell(U, forget_bias=0.55, feature_size=2, frequency_skip=2,
                                           num_frequency_blocks=[3]), x, dtype=tf.float32, scope="outer/enc")
            with tf.name_scope("tower"):  # ops under tower/... only: the name scope prefix
                v1.nn.static_rnn(GridLSTMCell(U, feature_size=2, frequency_skip=2, num_frequency_blocks=[3]),
                                 tf.unstack(x, axis=1), dtype=tf.float32, scope="enc")
            v1.train.export_meta_graph(path)
    finally:
        v1.enable_control_flow_v2()
    meta = MetaGraph(path)
    assert not any(f for ctx in meta.contexts if (f := ctx.function))  # no while functions: TF 1.x frames
    got = grid_options(meta, "enc/bidirectional_grid_lstm_cell", True)
    assert got.pop("forget_bias") == pytest.approx(0.45) and got.pop("input_size") == P_D
    assert {k: v for k, v in got.items() if v not in (None, False)} == kwargs
    got = grid_options(meta, "outer/enc/grid_lstm_cell", False)
    assert (got["forget_bias"], got["feature_size"], got["frequency_skip"], got["num_frequency_blocks"]) == (
        pytest.approx(0.55), 2, 2, [3])
    with pytest.raises(MigrationError, match="matches several op scopes"):
        grid_options(meta, "enc/grid_lstm_cell", False)
