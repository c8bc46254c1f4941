"""``grid_lstm``: ``tf.contrib.rnn.GridLSTMCell`` and ``BidirectionalGridLSTMCell`` (TF 1.15): the weight layouts
and the pure NumPy converters both ways.

TF1 (:mod:`legacy_rnn.grid_lstm`), per block b (under ``fwd/``, ``bwd/`` for the bidirectional cell):
``W_f_<b>_<shard> [F+2U, G U]`` (row shards of one matrix, ``_0`` alone by default; rows x, m_time, m_freq; column
blocks i, j, f, o, or i, j, o with coupled gates), ``B_f_<b> [G U]``, ``W_t_<b>_*``/``B_t_<b>`` unless the time and
frequency LSTMs share weights, and with peepholes ``W_{F,I,O}_diag_{freq,time}{f,t}_<b> [U]``. forget_bias (default
1.0) is a Python constant of the program, added to the f blocks at run time (ignored with coupled gates).

Keras 2 (:mod:`modern_rnn.grid_lstm`): the same arrays in the same order under lower-case names (``w_f_<b>``,
``b_f_<b>``, ``w_i_diag_freqf_<b>``; ``fwd_``/``bwd_`` prefixes), the shards concatenated and forget_bias folded into
the f blocks of ``b_f``/``b_t``: no gate reordering.

The grid's configuration (feature_size, frequency_skip, the frequency blocks, which options) is a dict of the Keras
cell's arguments (``config``): the converters need only which variables exist and U.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from migration.core.errors import ShapeError


#: the cell directories of the two classes -> why ``convert`` refuses them and what to do instead (the recognizer's
#: message for their variables, until a family row wires :mod:`migration.checkpoint.grid_meta` into ``convert``)
UNCONVERTED_DIRS: dict[str, str] = {
    cls_dir: (f"tf.contrib.rnn.{cls} weights: `rnn-migrate convert` does not convert this cell yet (no family row; "
              "its frequency slicing, i.e. feature_size, frequency_skip, num_frequency_blocks, "
              "start/end_freqindex_list, and couple_input_forget_gates are Python arguments of the program, not in "
              "the checkpoint). Convert it by hand: config, forget_bias = migration.checkpoint.grid_meta."
              "grid_cell_config(MetaGraph(prefix + '.meta'), cell_dir, shapes, bidirectional) reads them from the "
              ".meta; migration.families.grid_lstm.grid_to_keras(arrays, config, forget_bias"
              f"{', bidirectional=True' if cls.startswith('Bi') else ''}) gives the weights of "
              f"modern_rnn.grid_lstm.{cls}(**config) (docs/api-map.md#{cls.lower()})")
    for cls_dir, cls in (("grid_lstm_cell", "GridLSTMCell"),
                         ("bidirectional_grid_lstm_cell", "BidirectionalGridLSTMCell"))}


def grid_tf1_names(config: Mapping, bidirectional: bool = False) -> tuple[str, ...]:
    """The TF1 arrays of a grid, shards concatenated (``W_f_0``), in TF 1.15's creation order."""
    share, couple = config.get("share_time_frequency_weights"), config.get("couple_input_forget_gates")
    lstms = ("freq",) if share else ("freq", "time")
    peeps = [f"W_{g}_diag_{lstm}{src}" for lstm in lstms for g in ("IO" if couple else "FIO") for src in "ft"]
    names = []
    for d in ("fwd/", "bwd/") if bidirectional else ("",):
        for b in range(len(config["num_frequency_blocks"])):
            mats = ["W_f", "B_f"] + ([] if share else ["W_t", "B_t"])
            names += [f"{d}{m}_{b}" for m in mats + (peeps if config.get("use_peepholes") else [])]
    return tuple(names)


def keras_name(tf1_name: str) -> str:
    """``fwd/W_I_diag_freqf_0`` -> ``fwd_w_i_diag_freqf_0`` (the twin's weight names)."""
    return tf1_name.replace("/", "_").lower()


def _is_bias(name: str) -> bool:
    return name.rsplit("/", 1)[-1].startswith("B_")


def _gathered(arrays: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """A logical TF1 array: ``name`` itself, or its checkpoint shards ``name_0 .. name_{n-1}`` concatenated."""
    if name in arrays:
        return np.asarray(arrays[name])
    if _is_bias(name) or "_diag_" in name:
        raise ShapeError(f"Missing TF1 variable `{name}` of a GridLSTMCell (its checkpoint has {sorted(arrays)}).")
    shards, k = [], 0
    while f"{name}_{k}" in arrays:
        shards.append(np.asarray(arrays[f"{name}_{k}"]))
        k += 1
    if not shards:
        raise ShapeError(f"Missing TF1 variable `{name}_0` of a GridLSTMCell (its checkpoint has {sorted(arrays)}).")
    return np.concatenate(shards, 0)


def _fold(bias: np.ndarray, units: int, gates: int, forget_bias: float) -> np.ndarray:
    out = bias.copy()
    if gates == 4:  # blocks i, j, f, o: TF1 adds forget_bias to f at run time (coupled gates have no f)
        out[2 * units:3 * units] += np.asarray(forget_bias, bias.dtype)
    return out


def grid_to_keras(arrays: Mapping[str, np.ndarray], config: Mapping, forget_bias: float,
                  bidirectional: bool = False) -> list[np.ndarray]:
    """TF1 arrays (checkpoint names under the cell scope, shards allowed) -> the twin's ``get_weights()`` list."""
    units, gates = int(config["units"]), 3 if config.get("couple_input_forget_gates") else 4
    out = []
    for name in grid_tf1_names(config, bidirectional):
        value = _gathered(arrays, name)
        if _is_bias(name):
            if value.shape != (gates * units,):
                raise ShapeError(f"Received an invalid shape for `{name}`: expected {(gates * units,)} for a "
                                 f"GridLSTMCell with units={units} and {gates} gates; got {value.shape}.")
            value = _fold(value, units, gates, forget_bias)
        elif "_diag_" not in name and value.shape != (config["feature_size"] + 2 * units, gates * units):
            raise ShapeError(f"Received an invalid shape for `{name}`: expected "
                             f"{(config['feature_size'] + 2 * units, gates * units)} (feature_size + 2 units, "
                             f"{gates} gates x units); got {value.shape}.")
        out.append(value.copy())
    return out


def grid_to_tf1(weights: Sequence[np.ndarray], config: Mapping, forget_bias: float, bidirectional: bool = False,
                num_unit_shards: int = 1) -> dict[str, np.ndarray]:
    """Inverse of :func:`grid_to_keras`: checkpoint names (``W_f_0_0`` ...: ``num_unit_shards`` row shards, the first
    ``rows % n`` one row longer, as TF 1.15's ``_get_concat_variable``)."""
    units, gates = int(config["units"]), 3 if config.get("couple_input_forget_gates") else 4
    names = grid_tf1_names(config, bidirectional)
    if len(weights) != len(names):
        raise ShapeError(f"Expected {len(names)} Keras weights for this GridLSTMCell ({names}), got {len(weights)}.")
    out = {}
    for name, value in zip(names, weights):
        value = np.asarray(value)
        if _is_bias(name):
            out[name] = _fold(value, units, gates, -forget_bias)
        elif "_diag_" in name:
            out[name] = value.copy()
        else:
            size, extra = divmod(value.shape[0], num_unit_shards)
            start = 0
            for k in range(num_unit_shards):
                rows = size + (1 if k < extra else 0)
                out[f"{name}_{k}"] = value[start:start + rows].copy()
                start += rows
    return out


__all__ = ["UNCONVERTED_DIRS", "grid_tf1_names", "keras_name", "grid_to_keras", "grid_to_tf1"]
