"""``tf.contrib.rnn.GridLSTMCell`` and ``tf.contrib.rnn.BidirectionalGridLSTMCell`` (TF 1.15
``tensorflow/contrib/rnn/python/ops/rnn_cell.py``), rebuilt for TensorFlow 2.21 under the variable names TF 1.15
gave them, so a TF1 program that used them runs and restores its checkpoint.

Read beside :mod:`modern_rnn.grid_lstm`: the same names, in the same order.

The Grid LSTM (Kalchbrenner, Danihelka, Graves, ICLR 2016; peepholes after Sainath and Li, INTERSPEECH 2016) runs,
at every time step, an LSTM along the frequency axis of the input. The input ``x [B, D]`` is cut into slices of
``feature_size`` columns (``frequency_skip`` apart; with ``start_freqindex_list``/``end_freqindex_list`` one group of
slices per block, ``num_frequency_blocks[b]`` slices in block b). Along the slices of a block, for slice k::

    z_f = [x_k, m_time_prev_k, m_freq] W_f_<b> + B_f_<b>      # W_f_<b>_0 [F+2U, G U], B_f_<b> [G U]
    z_t = [x_k, m_time_prev_k, m_freq] W_t_<b> + B_t_<b>      # (share_time_frequency_weights: z_t = z_f)
    i, j, f, o = split(z, 4)      # G = 4; couple_input_forget_gates: i, j, o (G = 3) and f_g = 1 - i_g
    i_g = sigmoid(i [+ W_I_diag_<x>f c_freq + W_I_diag_<x>t c_time_prev_k])      # <x>: freq (F-LSTM), time (T-LSTM)
    f_g = sigmoid(f + forget_bias [+ W_F_diag_<x>f c_freq + W_F_diag_<x>t c_time_prev_k])
    c_freq' = f_g c_freq + i_g tanh(j_f);   c_time_k = f_g c_time_prev_k + i_g tanh(j_t)   # clipped to cell_clip
    m_freq' = sigmoid(o_f [+ W_O_diag_freqf c_freq' + W_O_diag_freqt c_time_k]) tanh(c_freq')
    m_time_k = sigmoid(o_t [+ W_O_diag_timef c_freq' + W_O_diag_timet c_time_k]) tanh(c_time_k)

``c_freq``/``m_freq`` start at zero for every block and step (they are not state). The output concatenates
``[m_time_k, m_freq'_k]`` over the slices of every block (``2 U`` per slice); the state is ``(c_time_k, m_time_k)``
per slice: a ``GridLSTMStateTuple`` with fields ``state_f<k>_b<b>_c``, ``..._m`` (or, with ``state_is_tuple=False``,
one ``[B, 2 U n]`` tensor; TF 1.15 then reads every block's previous state at the offsets of block 0's slices: a
quirk kept here, since it is TF 1.15's maths).

Variables (the cell's default scope is its class name in snake case), per block b: ``grid_lstm_cell/W_f_<b>_0``
(``_get_concat_variable``: shards ``W_f_<b>_0 .. _<n-1>`` with ``num_unit_shards=n``), ``B_f_<b>`` (zeros at init),
``W_t_<b>_0``, ``B_t_<b>`` (unless shared), and with ``use_peepholes`` ``W_{F,I,O}_diag_{freq,time}{f,t}_<b>``
(no F with coupled gates, no time ones when shared). ``BidirectionalGridLSTMCell`` runs a second grid over the
slices in reverse order (from the input shifted by ``backward_slice_offset`` columns, zero-padded) with its own
weights: ``.../fwd/...`` and ``.../bwd/...``; output ``[fwd, bwd]`` (``4 U`` per slice), state fields
``fwd_state_f<k>_b<b>_c`` ... then ``bwd_...`` (always a tuple). TF 1.15 ignored ``initializer`` (the weights took
the scope's initializer); so does this.
"""
from __future__ import annotations

import collections
from typing import Optional, Sequence

import tensorflow as tf

from legacy_rnn.contrib_lstm_variants import concat_variable
from migration.core.errors import check_positive_int

v1 = tf.compat.v1
rnn_cell = v1.nn.rnn_cell


def _state_names(prefix: str, num_frequency_blocks: Sequence[int]) -> list[str]:
    return [f"{prefix}_f{k:02d}_b{b:02d}_{part}" for b, n in enumerate(num_frequency_blocks) for k in range(int(n))
            for part in ("c", "m")]


class GridLSTMCell(rnn_cell.RNNCell):
    """``tf.contrib.rnn.GridLSTMCell`` with TF 1.15's signature (see the module docstring).

    Modern equivalent: :class:`modern_rnn.grid_lstm.GridLSTMCell`.
    """

    def __init__(self, num_units: int, use_peepholes: bool = False, share_time_frequency_weights: bool = False,
                 cell_clip: Optional[float] = None, initializer=None, num_unit_shards: int = 1,
                 forget_bias: float = 1.0, feature_size: Optional[int] = None, frequency_skip: Optional[int] = None,
                 num_frequency_blocks: Optional[Sequence[int]] = None,
                 start_freqindex_list: Optional[Sequence[int]] = None,
                 end_freqindex_list: Optional[Sequence[int]] = None, couple_input_forget_gates: bool = False,
                 state_is_tuple: bool = True, reuse=None) -> None:
        super().__init__(_reuse=reuse)
        if num_frequency_blocks is None:
            raise ValueError("Must specify num_frequency_blocks (a list: the number of frequency slices of each "
                             "block), as TF 1.15 required.")
        self._num_units = check_positive_int("num_units", num_units)
        self._use_peepholes, self._share_time_frequency_weights = bool(use_peepholes), bool(share_time_frequency_weights)
        self._couple_input_forget_gates, self._state_is_tuple = bool(couple_input_forget_gates), bool(state_is_tuple)
        self._cell_clip, self._initializer, self._num_unit_shards = cell_clip, initializer, num_unit_shards
        self._forget_bias, self._feature_size, self._frequency_skip = float(forget_bias), feature_size, frequency_skip
        self._start_freqindex_list, self._end_freqindex_list = start_freqindex_list, end_freqindex_list
        self._num_frequency_blocks = [int(n) for n in num_frequency_blocks]
        self._total_blocks = sum(self._num_frequency_blocks)
        if state_is_tuple:
            names = _state_names("state", self._num_frequency_blocks)
            self._state_tuple_type = collections.namedtuple("GridLSTMStateTuple", names)
            self._state_size = self._state_tuple_type(*([num_units] * len(names)))
        else:
            self._state_tuple_type = None
            self._state_size = num_units * self._total_blocks * 2
        self._output_size = num_units * self._total_blocks * 2

    @property
    def output_size(self) -> int:
        return self._output_size

    @property
    def state_size(self):
        return self._state_size

    @property
    def state_tuple_type(self):
        return self._state_tuple_type

    def call(self, inputs, state):
        batch_size = tf.compat.dimension_value(inputs.shape[0]) or tf.shape(inputs)[0]
        m_out, state_out = [], []
        for block, block_inputs in enumerate(self._make_tf_features(inputs)):
            m, s = self._compute(block_inputs, block, state, batch_size, state_is_tuple=self._state_is_tuple)
            m_out.extend(m)
            state_out.extend(s)
        state_out = self._state_tuple_type(*state_out) if self._state_is_tuple else tf.concat(state_out, 1)
        return tf.concat(m_out, 1), state_out

    def _weights(self, block: int, depth: int, dtype) -> dict:
        """The variables of one block, created in TF 1.15's order under TF 1.15's names."""
        u, gates = self._num_units, 3 if self._couple_input_forget_gates else 4
        shape = [depth + 2 * u, gates * u]
        w = {"W_f": concat_variable(f"W_f_{block}", shape, dtype, self._num_unit_shards),
             "B_f": v1.get_variable(f"B_f_{block}", [gates * u], dtype, initializer=v1.zeros_initializer())}
        if not self._share_time_frequency_weights:
            w["W_t"] = concat_variable(f"W_t_{block}", shape, dtype, self._num_unit_shards)
            w["B_t"] = v1.get_variable(f"B_t_{block}", [gates * u], dtype, initializer=v1.zeros_initializer())
        if self._use_peepholes:
            gate_names = "IO" if self._couple_input_forget_gates else "FIO"
            for lstm in ("freq",) if self._share_time_frequency_weights else ("freq", "time"):
                for g in gate_names:
                    for src in "ft":
                        name = f"W_{g}_diag_{lstm}{src}_{block}"
                        w[name] = v1.get_variable(name, [u], dtype)
        return w

    def _gate_input(self, pre, w: dict, gate: str, lstm: str, block: int, c_freq, c_time):
        """``pre [+ W_<gate>_diag_<lstm>f c_freq + W_<gate>_diag_<lstm>t c_time]`` (the freq ones when shared)."""
        if not self._use_peepholes:
            return pre
        lstm = "freq" if self._share_time_frequency_weights else lstm
        return pre + w[f"W_{gate}_diag_{lstm}f_{block}"] * c_freq + w[f"W_{gate}_diag_{lstm}t_{block}"] * c_time

    def _new_c(self, gates, w: dict, lstm: str, block: int, c_prev_freq, c_prev_time, c_own):
        i, j, f = gates[0], gates[1], None if self._couple_input_forget_gates else gates[2]
        i_g = tf.sigmoid(self._gate_input(i, w, "I", lstm, block, c_prev_freq, c_prev_time))
        if self._couple_input_forget_gates:
            f_g = 1.0 - i_g
        else:
            f_g = tf.sigmoid(self._gate_input(f + self._forget_bias, w, "F", lstm, block, c_prev_freq, c_prev_time))
        c = f_g * c_own + i_g * tf.tanh(j)
        if self._cell_clip is not None:
            c = tf.clip_by_value(c, -self._cell_clip, self._cell_clip)
        return c

    def _compute(self, freq_inputs, block: int, state, batch_size, state_prefix: str = "state",
                 state_is_tuple: bool = True):
        """One block at one time step: the F-LSTM and T-LSTM along its slices (TF 1.15's ``_compute``)."""
        u, dtype = self._num_units, freq_inputs[0].dtype
        w = self._weights(block, int(freq_inputs[0].shape[1]), dtype)
        gates = 3 if self._couple_input_forget_gates else 4
        m_prev_freq = tf.zeros([batch_size, u], dtype)
        c_prev_freq = tf.zeros([batch_size, u], dtype)
        m_out, state_out = [], []
        for k, x in enumerate(freq_inputs):
            if state_is_tuple:
                prefix = f"{state_prefix}_f{k:02d}_b{block:02d}"
                c_prev_time, m_prev_time = getattr(state, prefix + "_c"), getattr(state, prefix + "_m")
            else:  # TF 1.15: the offsets of block 0's slices, whatever the block
                c_prev_time, m_prev_time = state[:, 2 * k * u:(2 * k + 1) * u], state[:, (2 * k + 1) * u:(2 * k + 2) * u]
            cell_inputs = tf.concat([x, m_prev_time, m_prev_freq], 1)
            z_f = tf.split(tf.nn.bias_add(tf.matmul(cell_inputs, w["W_f"]), w["B_f"]), gates, axis=1)
            z_t = z_f if self._share_time_frequency_weights else tf.split(
                tf.nn.bias_add(tf.matmul(cell_inputs, w["W_t"]), w["B_t"]), gates, axis=1)
            c_freq = self._new_c(z_f, w, "freq", block, c_prev_freq, c_prev_time, c_prev_freq)
            c_time = self._new_c(z_t, w, "time", block, c_prev_freq, c_prev_time, c_prev_time)
            m_freq = tf.sigmoid(self._gate_input(z_f[-1], w, "O", "freq", block, c_freq, c_time)) * tf.tanh(c_freq)
            m_time = tf.sigmoid(self._gate_input(z_t[-1], w, "O", "time", block, c_freq, c_time)) * tf.tanh(c_time)
            m_prev_freq, c_prev_freq = m_freq, c_freq
            state_out.extend([c_time, m_time])
            m_out.extend([m_time, m_freq])
        return m_out, state_out

    def _slice_starts(self, input_size: int) -> list[list[int]]:
        """The first column of every slice, per block (TF 1.15's checks and messages, made readable)."""
        if not self._start_freqindex_list:
            if len(self._num_frequency_blocks) != 1:
                raise ValueError(f"Length of num_frequency_blocks is not 1, but instead is "
                                 f"{len(self._num_frequency_blocks)} (without start_freqindex_list there is one block).")
            spans = [(0, input_size)]
        else:
            if len(self._start_freqindex_list) != len(self._end_freqindex_list or ()):
                raise ValueError(f"Length of start and end freqindex_list does not match "
                                 f"{len(self._start_freqindex_list)} {len(self._end_freqindex_list or ())}")
            if len(self._num_frequency_blocks) != len(self._start_freqindex_list):
                raise ValueError(f"Length of num_frequency_blocks is not equal to start_freqindex_list "
                                 f"{len(self._num_frequency_blocks)} {len(self._start_freqindex_list)}")
            spans = list(zip(self._start_freqindex_list, self._end_freqindex_list))
        starts = []
        for b, (start, end) in enumerate(spans):
            feats = int((end - start - self._feature_size) / self._frequency_skip) + 1
            if feats != self._num_frequency_blocks[b]:
                raise ValueError(f"Invalid num_frequency_blocks, requires {self._num_frequency_blocks[b]} but gets "
                                 f"{feats}, please check the input size and filter config are correct.")
            starts.append([start + k * self._frequency_skip for k in range(feats)])
        return starts

    def _make_tf_features(self, input_feat, slice_offset: int = 0):
        """The slices ``[B, feature_size]`` of every block; ``slice_offset`` (BidirectionalGridLSTMCell's backward
        grid) shifts them right (> 0: zeros padded at the end) or left (< 0: zeros padded at the front)."""
        input_size = tf.compat.dimension_value(input_feat.shape.with_rank(2)[-1])
        if input_size is None:
            raise ValueError("Cannot infer input_size from static shape inference.")
        inputs = input_feat
        if slice_offset > 0:
            inputs = tf.pad(input_feat, [[0, 0], [0, slice_offset]])
        elif slice_offset < 0:
            inputs = tf.pad(input_feat, [[0, 0], [-slice_offset, 0]])
            slice_offset = 0
        return [[tf.slice(inputs, [0, s + slice_offset], [-1, self._feature_size]) for s in block]
                for block in self._slice_starts(int(input_size))]


class BidirectionalGridLSTMCell(GridLSTMCell):
    """``tf.contrib.rnn.BidirectionalGridLSTMCell`` with TF 1.15's signature: a forward and a backward grid along the
    frequency slices, each with its own weights (see the module docstring); the state is always a tuple.

    Modern equivalent: :class:`modern_rnn.grid_lstm.BidirectionalGridLSTMCell`.
    """

    def __init__(self, num_units: int, use_peepholes: bool = False, share_time_frequency_weights: bool = False,
                 cell_clip: Optional[float] = None, initializer=None, num_unit_shards: int = 1,
                 forget_bias: float = 1.0, feature_size: Optional[int] = None, frequency_skip: Optional[int] = None,
                 num_frequency_blocks: Optional[Sequence[int]] = None,
                 start_freqindex_list: Optional[Sequence[int]] = None,
                 end_freqindex_list: Optional[Sequence[int]] = None, couple_input_forget_gates: bool = False,
                 backward_slice_offset: int = 0, reuse=None) -> None:
        super().__init__(num_units, use_peepholes, share_time_frequency_weights, cell_clip, initializer,
                         num_unit_shards, forget_bias, feature_size, frequency_skip, num_frequency_blocks,
                         start_freqindex_list, end_freqindex_list, couple_input_forget_gates, True, reuse)
        self._backward_slice_offset = int(backward_slice_offset)
        names = (_state_names("fwd_state", self._num_frequency_blocks)
                 + _state_names("bwd_state", self._num_frequency_blocks))
        self._state_tuple_type = collections.namedtuple("BidirectionalGridLSTMStateTuple", names)
        self._state_size = self._state_tuple_type(*([num_units] * len(names)))
        self._output_size = 2 * num_units * self._total_blocks * 2

    def call(self, inputs, state):
        batch_size = tf.compat.dimension_value(inputs.shape[0]) or tf.shape(inputs)[0]
        fwd_inputs = self._make_tf_features(inputs)
        bwd_inputs = (self._make_tf_features(inputs, self._backward_slice_offset) if self._backward_slice_offset
                      else fwd_inputs)
        m_out, state_out = {}, {}
        for direction, blocks in (("fwd", fwd_inputs), ("bwd", bwd_inputs)):
            m_out[direction], state_out[direction] = [], []
            with v1.variable_scope(direction):
                for block, block_inputs in enumerate(blocks):
                    slices = block_inputs if direction == "fwd" else block_inputs[::-1]  # the backward grid
                    m, s = self._compute(slices, block, state, batch_size, state_prefix=f"{direction}_state",
                                         state_is_tuple=True)
                    m_out[direction].extend(m)
                    state_out[direction].extend(s)
        new_state = self._state_tuple_type(*(state_out["fwd"] + state_out["bwd"]))
        return tf.concat(m_out["fwd"] + m_out["bwd"], 1), new_state


def grid_lstm_cell(units: int, forget_bias: float = 1.0, **options) -> GridLSTMCell:
    """``tf.contrib.rnn.GridLSTMCell(units, forget_bias=, **options)`` (TF 1.15): ``options`` are its other arguments
    (feature_size, frequency_skip, num_frequency_blocks, ... : see :class:`GridLSTMCell`).

    Modern equivalent: :func:`modern_rnn.grid_lstm.grid_lstm_cell`.
    """
    return GridLSTMCell(units, forget_bias=forget_bias, **options)


def bidirectional_grid_lstm_cell(units: int, forget_bias: float = 1.0, **options) -> BidirectionalGridLSTMCell:
    """``tf.contrib.rnn.BidirectionalGridLSTMCell(units, forget_bias=, **options)`` (TF 1.15).

    Modern equivalent: :func:`modern_rnn.grid_lstm.bidirectional_grid_lstm_cell`.
    """
    return BidirectionalGridLSTMCell(units, forget_bias=forget_bias, **options)


__all__ = ["GridLSTMCell", "BidirectionalGridLSTMCell", "grid_lstm_cell", "bidirectional_grid_lstm_cell"]
