"""``GridLSTMCell`` and ``BidirectionalGridLSTMCell``: the Keras 2 (tf_keras) twins of TF 1.15's
``tf.contrib.rnn.GridLSTMCell`` / ``BidirectionalGridLSTMCell`` (every TF 1.15 option but ``state_is_tuple=False``
with more than one block, whose block-0 offsets quirk is not reproduced); stock tf_keras has none.

Read beside :mod:`legacy_rnn.grid_lstm`: the same names, in the same order.

At each time step the input ``x [B, D]`` is cut into frequency slices of ``feature_size`` columns (``frequency_skip``
apart; one group per block, ``start_freqindex_list``/``end_freqindex_list``), and two LSTMs run along the slices of
each block: the F-LSTM (its ``c_f``/``m_f`` start at zero for every block and step) and the T-LSTM (its ``c_t``/``m_t``
per slice are the recurrent state). For slice k, with ``v = [x_k, m_t_prev_k, m_f]``:

.. math::

    z^f &= v W^f + b^f, \\quad z^t = v W^t + b^t \\ (\\text{shared: } z^t = z^f); \\quad i, j, f, o = \\mathrm{split}(z, 4)
    \\ (\\text{coupled: } i, j, o;\\ f_g = 1 - i_g) \\\\
    i_g &= \\sigma(i + p_i^{f} \\odot c_f + p_i^{t} \\odot c_{t,k}^{prev}), \\quad
    f_g = \\sigma(f + p_f^{f} \\odot c_f + p_f^{t} \\odot c_{t,k}^{prev}) \\\\
    c_f' &= f_g c_f + i_g \\tanh(j), \\quad c_{t,k} = f_g c_{t,k}^{prev} + i_g \\tanh(j) \\quad
    (\\text{each with its own } z;\\ \\text{clipped to cell_clip}) \\\\
    m &= \\sigma(o + p_o^{f} \\odot c_f' + p_o^{t} \\odot c_{t,k}) \\tanh(c) \\quad (c_f' \\text{ for } m_f,
    c_{t,k} \\text{ for } m_{t,k})

Weights (``get_weights()`` order, per block b, TF 1.15's creation order): ``w_f_<b> [F+2U, G U]`` (rows x, m_t_prev,
m_f; column blocks i, j, f, o as TF 1.15, or i, j, o with coupled gates: no reordering), ``b_f_<b> [G U]``,
``w_t_<b>``, ``b_t_<b>`` (unless shared), and with peepholes ``w_{f,i,o}_diag_{freq,time}{f,t}_<b> [U]`` (TF 1.15's
peephole names, lower case). TF1 adds ``forget_bias`` to the f blocks at run time: here it is folded into ``b_f``/
``b_t`` (the converter does it). The bidirectional cell has ``fwd_``/``bwd_`` copies; its backward grid reads the
slices in reverse order, from the input shifted by ``backward_slice_offset`` columns (zeros outside).

Output ``[m_t_k, m_f_k]`` per slice of every block (``2 U`` per slice; bidirectional: forward then backward). State:
``[c_t_k, m_t_k]`` per slice, in TF 1.15's state tuple order (forward then backward).
"""
from __future__ import annotations

from typing import Optional, Sequence

import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int


def _frequency_slices(depth: int, feature_size: int, frequency_skip: int, num_frequency_blocks: Sequence[int],
                     start_freqindex_list: Optional[Sequence[int]] = None,
                     end_freqindex_list: Optional[Sequence[int]] = None) -> list[list[int]]:
    """The first input column of every slice, per block; a ValueError when the configuration does not cover the
    input as ``num_frequency_blocks`` says (TF 1.15's check)."""
    if start_freqindex_list:
        if len(start_freqindex_list) != len(end_freqindex_list or ()) or \
                len(start_freqindex_list) != len(num_frequency_blocks):
            raise ValueError(f"Received inconsistent frequency blocks: start_freqindex_list={start_freqindex_list}, "
                             f"end_freqindex_list={end_freqindex_list}, num_frequency_blocks={num_frequency_blocks} "
                             f"must have one entry per block.")
        spans = list(zip(start_freqindex_list, end_freqindex_list))
    elif len(num_frequency_blocks) != 1:
        raise ValueError(f"Received num_frequency_blocks={num_frequency_blocks}: without start_freqindex_list there "
                         f"is one block.")
    else:
        spans = [(0, depth)]
    out = []
    for (start, end), n in zip(spans, num_frequency_blocks):
        count = int((end - start - feature_size) / frequency_skip) + 1
        if count != n:
            raise ValueError(f"Invalid num_frequency_blocks, requires {n} but gets {count}, please check the input "
                             f"size ({depth}) and filter config are correct.")
        out.append([start + k * frequency_skip for k in range(count)])
    return out


@keras.saving.register_keras_serializable(package="modern_rnn")
class GridLSTMCell(keras.layers.Layer):
    """The Grid LSTM cell (see the module docstring).

    Legacy equivalent: :class:`legacy_rnn.grid_lstm.GridLSTMCell`.
    """

    directions: tuple[str, ...] = ("",)

    def __init__(self, units: int, feature_size: int, num_frequency_blocks: Sequence[int], frequency_skip: int = 1,
                 start_freqindex_list: Optional[Sequence[int]] = None,
                 end_freqindex_list: Optional[Sequence[int]] = None, use_peepholes: bool = False,
                 share_time_frequency_weights: bool = False, couple_input_forget_gates: bool = False,
                 cell_clip: Optional[float] = None, forget_bias: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.feature_size = check_positive_int("feature_size", feature_size)
        self.frequency_skip = check_positive_int("frequency_skip", frequency_skip)
        self.num_frequency_blocks = [check_positive_int("num_frequency_blocks", n) for n in num_frequency_blocks]
        self.start_freqindex_list = list(start_freqindex_list) if start_freqindex_list else None
        self.end_freqindex_list = list(end_freqindex_list) if end_freqindex_list else None
        self.use_peepholes, self.cell_clip = bool(use_peepholes), cell_clip
        self.share_time_frequency_weights = bool(share_time_frequency_weights)
        self.couple_input_forget_gates = bool(couple_input_forget_gates)
        self.forget_bias = float(forget_bias)
        n = sum(self.num_frequency_blocks) * len(self.directions)
        self.state_size = [self.units] * (2 * n)
        self.output_size = 2 * self.units * n

    @property
    def gates(self) -> int:
        return 3 if self.couple_input_forget_gates else 4

    def weight_names(self) -> list[str]:
        """The Keras weight names in ``get_weights()`` order (TF 1.15's variables, lower case, per direction)."""
        lstms = ("freq",) if self.share_time_frequency_weights else ("freq", "time")
        peeps = [f"w_{g}_diag_{lstm}{src}" for lstm in lstms for g in ("io" if self.couple_input_forget_gates
                                                                        else "fio") for src in "ft"]
        names = []
        for d in self.directions:
            for b in range(len(self.num_frequency_blocks)):
                mats = ["w_f", "b_f"] + ([] if self.share_time_frequency_weights else ["w_t", "b_t"])
                names += [f"{d}{m}_{b}" for m in mats + (peeps if self.use_peepholes else [])]
        return names

    def build(self, input_shape) -> None:
        depth, u = int(input_shape[-1]), self.units
        self._slices = _frequency_slices(depth, self.feature_size, self.frequency_skip, self.num_frequency_blocks,
                                        self.start_freqindex_list, self.end_freqindex_list)
        fb_bias = [0.0] * (2 * u) + [self.forget_bias] * u + [0.0] * u if self.gates == 4 else [0.0] * (3 * u)
        self._w = {}
        for name in self.weight_names():
            base = name[len(self.directions[0]):] if self.directions[0] else name  # fwd_/bwd_ have one length
            if "_diag_" in base:
                shape, init = (u,), "glorot_uniform"
            elif base.startswith("w_"):
                shape, init = (self.feature_size + 2 * u, self.gates * u), "glorot_uniform"
            else:
                shape, init = (self.gates * u,), keras.initializers.Constant(fb_bias)
            self._w[name] = self.add_weight(name=name, shape=shape, initializer=init)
        self.built = True

    def _peephole(self, pre, prefix: str, gate: str, lstm: str, block: int, c_f, c_t):
        if not self.use_peepholes:
            return pre
        lstm = "freq" if self.share_time_frequency_weights else lstm
        w = self._w
        return pre + w[f"{prefix}w_{gate}_diag_{lstm}f_{block}"] * c_f + w[f"{prefix}w_{gate}_diag_{lstm}t_{block}"] * c_t

    def _lstm_c(self, z, prefix, lstm, block, c_f, c_t_prev, own):
        i_g = tf.sigmoid(self._peephole(z[0], prefix, "i", lstm, block, c_f, c_t_prev))
        f_g = 1.0 - i_g if self.couple_input_forget_gates else tf.sigmoid(
            self._peephole(z[2], prefix, "f", lstm, block, c_f, c_t_prev))
        c = f_g * own + i_g * tf.tanh(z[1])
        return c if self.cell_clip is None else tf.clip_by_value(c, -self.cell_clip, self.cell_clip)

    def _grid(self, slices, states, prefix: str, block: int):
        """One block of one direction: ``slices`` [B, F] in processing order, ``states`` (c_t, m_t) per slice."""
        w, zeros = self._w, tf.zeros_like(states[0][0])
        c_f, m_f, outputs, new_states = zeros, zeros, [], []
        for x, (c_t_prev, m_t_prev) in zip(slices, states):
            v = tf.concat([x, m_t_prev, m_f], -1)
            z_f = tf.split(tf.matmul(v, w[f"{prefix}w_f_{block}"]) + w[f"{prefix}b_f_{block}"], self.gates, -1)
            z_t = z_f if self.share_time_frequency_weights else tf.split(
                tf.matmul(v, w[f"{prefix}w_t_{block}"]) + w[f"{prefix}b_t_{block}"], self.gates, -1)
            new_c_f = self._lstm_c(z_f, prefix, "freq", block, c_f, c_t_prev, c_f)
            c_t = self._lstm_c(z_t, prefix, "time", block, c_f, c_t_prev, c_t_prev)
            m_f = tf.sigmoid(self._peephole(z_f[-1], prefix, "o", "freq", block, new_c_f, c_t)) * tf.tanh(new_c_f)
            m_t = tf.sigmoid(self._peephole(z_t[-1], prefix, "o", "time", block, new_c_f, c_t)) * tf.tanh(c_t)
            c_f = new_c_f
            outputs += [m_t, m_f]
            new_states += [c_t, m_t]
        return outputs, new_states

    def _direction_input(self, inputs, direction: str):
        """(input, column shift, reversed?) of a direction's grid; the forward grid reads the input as it is."""
        return inputs, 0, False

    def call(self, inputs, states, training=None):
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        outputs, new_states, pos = [], [], 0
        for direction in self.directions:
            x, shift, backward = self._direction_input(inputs, direction)
            for block, starts in enumerate(self._slices):
                slices = [x[:, s + shift:s + shift + self.feature_size] for s in starts]
                pairs = [(states[pos + 2 * k], states[pos + 2 * k + 1]) for k in range(len(starts))]
                pos += 2 * len(starts)
                out, st = self._grid(slices[::-1] if backward else slices, pairs, direction, block)
                outputs += out
                new_states += st
        return tf.concat(outputs, -1), new_states

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            batch_size, dtype = tf.shape(inputs)[0], inputs.dtype
        return [tf.zeros([batch_size, self.units], dtype or tf.float32) for _ in self.state_size]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, feature_size=self.feature_size, frequency_skip=self.frequency_skip,
                      num_frequency_blocks=list(self.num_frequency_blocks),
                      start_freqindex_list=self.start_freqindex_list, end_freqindex_list=self.end_freqindex_list,
                      use_peepholes=self.use_peepholes, share_time_frequency_weights=self.share_time_frequency_weights,
                      couple_input_forget_gates=self.couple_input_forget_gates, cell_clip=self.cell_clip,
                      forget_bias=self.forget_bias)
        return config


@keras.saving.register_keras_serializable(package="modern_rnn")
class BidirectionalGridLSTMCell(GridLSTMCell):
    """A forward and a backward grid along the frequency slices, each with its own weights (``fwd_``/``bwd_``).

    Legacy equivalent: :class:`legacy_rnn.grid_lstm.BidirectionalGridLSTMCell`.
    """

    directions = ("fwd_", "bwd_")

    def __init__(self, units: int, feature_size: int, num_frequency_blocks: Sequence[int],
                 backward_slice_offset: int = 0, **kwargs) -> None:
        self.backward_slice_offset = int(backward_slice_offset)
        super().__init__(units, feature_size, num_frequency_blocks, **kwargs)

    def _direction_input(self, inputs, direction: str):
        offset = self.backward_slice_offset
        if direction == "fwd_" or not offset:
            return inputs, 0, direction == "bwd_"
        padded = tf.pad(inputs, [[0, 0], [abs(offset), abs(offset)]])  # slice s reads columns s + offset, zeros outside
        return padded, offset + abs(offset), True

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(backward_slice_offset=self.backward_slice_offset)
        return config


def grid_lstm_cell(units: int, forget_bias: float = 1.0, **options) -> GridLSTMCell:
    """:class:`GridLSTMCell` from TF 1.15's arguments (``num_unit_shards`` is a checkpoint layout only; the
    concatenated state of more than one block, TF 1.15's quirk, is refused).

    Legacy equivalent: :func:`legacy_rnn.grid_lstm.grid_lstm_cell`.
    """
    return GridLSTMCell(units, forget_bias=forget_bias, **_twin_options(options))


def bidirectional_grid_lstm_cell(units: int, forget_bias: float = 1.0, **options) -> BidirectionalGridLSTMCell:
    """:class:`BidirectionalGridLSTMCell` from TF 1.15's arguments.

    Legacy equivalent: :func:`legacy_rnn.grid_lstm.bidirectional_grid_lstm_cell`.
    """
    return BidirectionalGridLSTMCell(units, forget_bias=forget_bias, **_twin_options(options))


def _twin_options(options: dict) -> dict:
    """TF 1.15's GridLSTMCell arguments -> the twin's: ``num_unit_shards``/``initializer`` only change how TF1
    stores/initialises the weights and are dropped; ``state_is_tuple=False`` is accepted with one block only."""
    options = dict(options)
    options.pop("num_unit_shards", None)
    options.pop("initializer", None)
    if options.pop("state_is_tuple", True) is False and len(options.get("num_frequency_blocks") or ()) > 1:
        raise ValueError("The Keras GridLSTMCell does not reproduce TF 1.15's concatenated state with more than one "
                         "block (TF 1.15 reads every block's previous state at block 0's offsets); use "
                         "state_is_tuple=True or keep the legacy cell.")
    if options.get("frequency_skip") is None:
        options.pop("frequency_skip", None)
    return options


__all__ = ["GridLSTMCell", "BidirectionalGridLSTMCell", "grid_lstm_cell", "bidirectional_grid_lstm_cell"]
