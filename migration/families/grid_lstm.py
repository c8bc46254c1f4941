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

The rows (``grid_lstm``, ``bidirectional_grid_lstm``): a spec carries the configuration in its options
(:data:`GRID_OPTIONS`; use_peepholes and cell_clip as CellSpec fields). The checkpoint alone does not give it (the
slicing, 3 or 4 gates, forget_bias are Python arguments of the program): the recognizer reads it from the ``.meta``
(``meta_config``: :func:`migration.checkpoint.grid_meta.configured_spec`) and refuses the cell without one, naming
the options and the remedy; ``state_is_tuple=False`` is refused too (one concatenated state tensor). The recognizer
accepts the block-numbered names (``W_f_<b>_<shard>``, ``B_f_<b>``, peepholes; ``fwd/``, ``bwd/``) through the
layout's ``accepts`` rule; the output (``2 U`` per slice) and state sizes (``c_t, m_t`` per slice, TF 1.15's state
tuple field names) through ``spec_sizes``/``state_labels``. Keras 3 / ONNX: the custom steps ``GridLSTMCell`` /
``BidirectionalGridLSTMCell`` (:mod:`migration.targets.keras3_cells`, :mod:`migration.targets.onnx_cells`) on the
Keras 2 arrays, every option the rows convert (``state_is_tuple=False`` is refused before, by the recognizer).
"""
from __future__ import annotations

import importlib
import re
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from migration.core.errors import ShapeError
from migration.core.specs import CellSpec
from migration.families.row import META_GRID, Builder, Converter, Family, Layout, custom_export


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



# -- the family rows: GridLSTMCell and BidirectionalGridLSTMCell -------------------------------------------------------
#: the twin's arguments a spec carries in :attr:`CellSpec.options` (use_peepholes and cell_clip are CellSpec fields)
GRID_OPTIONS: tuple[str, ...] = ("feature_size", "frequency_skip", "num_frequency_blocks", "start_freqindex_list",
                                 "end_freqindex_list", "share_time_frequency_weights", "couple_input_forget_gates",
                                 "num_unit_shards")
_MATRIX = re.compile(r"^(?:fwd/|bwd/)?W_[ft]_\d+_\d+$")
_NAME = r"(?:B_[ft]_\d+|W_[ft]_\d+_\d+|W_[FIO]_diag_(?:freq|time)[ft]_\d+)"
#: the block-numbered names a grid directory holds (the layouts' ``accepts``): one-way, and under fwd/, bwd/
_BLOCK_NAMES = {False: re.compile(f"^{_NAME}$"), True: re.compile(f"^(?:fwd|bwd)/{_NAME}$")}


class _Matrices:
    """The row's ``matrices``: every ``W_f_<b>_<shard>`` / ``W_t_<b>_<shard>`` (block-numbered names)."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(_MATRIX.match(name))


def grid_config(spec: CellSpec, input_size: Optional[int] = None, bidirectional: bool = False) -> dict:
    """The TF 1.15 arguments of the grid ``spec`` describes (:data:`GRID_OPTIONS` from its options; a spec without
    them is the one-slice grid: feature_size = the input width, one block of one slice)."""
    opts = dict(spec.options)
    config = {"units": spec.units, "feature_size": opts.get("feature_size") or input_size,
              "frequency_skip": int(opts.get("frequency_skip", 1)),
              "num_frequency_blocks": [int(n) for n in opts.get("num_frequency_blocks", (1,))],
              "use_peepholes": spec.use_peepholes, "cell_clip": spec.cell_clip,
              "share_time_frequency_weights": bool(opts.get("share_time_frequency_weights", False)),
              "couple_input_forget_gates": bool(opts.get("couple_input_forget_gates", False)),
              "num_unit_shards": int(opts.get("num_unit_shards", 1))}
    for name in ("start_freqindex_list", "end_freqindex_list"):
        if opts.get(name):
            config[name] = [int(v) for v in opts[name]]
    if bidirectional:
        config["backward_slice_offset"] = int(opts.get("backward_slice_offset", 0))
    return config


def _is_matrix(name: str) -> bool:
    return not _is_bias(name) and "_diag_" not in name


def _names(bidirectional: bool):
    def names(spec: CellSpec) -> tuple[str, ...]:
        """The checkpoint names: ``W_f_<b>`` as its row shards ``W_f_<b>_0 ..``."""
        config = grid_config(spec, None, bidirectional)
        out: list[str] = []
        for name in grid_tf1_names(config, bidirectional):
            out += [f"{name}_{k}" for k in range(config["num_unit_shards"])] if _is_matrix(name) else [name]
        return tuple(out)
    return names


def _shapes(bidirectional: bool):
    def shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
        config = grid_config(spec, input_size, bidirectional)
        units, shards = spec.units, config["num_unit_shards"]
        cols = (3 if config["couple_input_forget_gates"] else 4) * units
        rows = config["feature_size"] + 2 * units
        out: dict[str, tuple[int, ...]] = {}
        for name in grid_tf1_names(config, bidirectional):
            if _is_matrix(name):
                out.update({f"{name}_{k}": (rows // shards + (k < rows % shards), cols) for k in range(shards)})
            else:
                out[name] = (cols,) if _is_bias(name) else (units,)
        return out
    return shapes


def _slices(spec: CellSpec) -> int:
    return sum(int(n) for n in dict(spec.options).get("num_frequency_blocks", (1,)))


def _sizes(directions: int):
    def sizes(spec: CellSpec) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
        """Output ``[m_t, m_f]`` per slice (forward then backward), state ``(c_t, m_t)`` per slice: the TF 1.15 state
        tuple's order is the twin's state list's."""
        n = _slices(spec) * directions
        return 2 * spec.units * n, (spec.units,) * (2 * n), (spec.units,) * (2 * n)
    return sizes


def _state_labels(directions: int):
    def labels(spec: CellSpec) -> tuple[str, ...]:
        """TF 1.15's state tuple field names (``state_f00_b00_c``; ``bwd_state_...``)."""
        out = []
        for d in ("", "bwd_")[:directions]:
            for b, count in enumerate(dict(spec.options).get("num_frequency_blocks", (1,))):
                out += [f"{d}state_f{k:02d}_b{b:02d}_{p}" for k in range(int(count)) for p in "cm"]
        return tuple(out)
    return labels


def _builder(function: str, bidirectional: bool, legacy: bool) -> Builder:
    def args(spec: CellSpec, input_size: Optional[int], scope: str) -> tuple[tuple, dict]:
        config = grid_config(spec, input_size, bidirectional)
        if config["feature_size"] is None:
            raise ShapeError(f"A {spec.kind} spec without feature_size needs the input size to build its cell.")
        units = config.pop("units")
        if not legacy:
            config.pop("num_unit_shards")
        return (units,), dict(config, forget_bias=spec.forget_bias)
    return Builder(f"{'legacy_rnn' if legacy else 'modern_rnn'}.grid_lstm:{function}", args)


def spec_from_config(kind: str, bidirectional: bool):
    """(the twin's configuration read by :func:`migration.checkpoint.grid_meta.grid_cell_config`, forget_bias) ->
    the spec (the row's ``spec_from_config``)."""
    def make(config: Mapping, forget_bias: float) -> CellSpec:
        options = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()
                   if k in GRID_OPTIONS + (("backward_slice_offset",) if bidirectional else ()) and v is not None}
        return CellSpec(kind, int(config["units"]), forget_bias=float(forget_bias),
                        use_peepholes=bool(config.get("use_peepholes")), cell_clip=config.get("cell_clip"),
                        options=tuple(sorted(options.items())))
    return make


def _keras_spec(kind: str, keras_class: str, bidirectional: bool):
    def hook(cell: Any, forget_bias: float, where: str) -> Optional[CellSpec]:
        """Export: a twin -> its spec (its arguments; ``forget_bias``: the TF1 program's, unfolded on the way back)."""
        module, name = keras_class.split(":")
        cls = getattr(importlib.import_module(module), name)
        if type(cell) is not cls:  # the bidirectional twin subclasses the one-way one
            return None
        config = cell.get_config()
        config = dict({k: config.get(k) for k in GRID_OPTIONS if k != "num_unit_shards"}, units=cell.units,
                      use_peepholes=cell.use_peepholes, cell_clip=cell.cell_clip,
                      backward_slice_offset=config.get("backward_slice_offset"))
        return spec_from_config(kind, bidirectional)(config, forget_bias)
    return hook


def _row(kind: str, cls: str, scope: str, bidirectional: bool) -> Family:
    keras_class = f"modern_rnn.grid_lstm:{cls}"
    first = "fwd/B_f_0" if bidirectional else "B_f_0"
    return Family(
        kind=kind,
        description=f"tf.contrib {cls}: per frequency block b W_f_<b>_<shard>, B_f_<b> (W_t/B_t unless shared, "
                    f"peepholes W_{{F,I,O}}_diag_*){'; fwd/ and bwd/ grids' if bidirectional else ''}; the slicing "
                    f"from the .meta; Keras modern_rnn.grid_lstm.{cls}",
        tf1_classes=(f"tf.contrib.rnn.{cls}",),
        scope=scope,
        layouts=(Layout(scope, (first,), accepts=_BLOCK_NAMES[bidirectional].match),),
        hyper={"forget_bias": 1.0, "use_peepholes": False, "cell_clip": None, "feature_size": None,
               "frequency_skip": None, "num_frequency_blocks": None, "start_freqindex_list": None,
               "end_freqindex_list": None, "share_time_frequency_weights": False, "couple_input_forget_gates": False,
               "num_unit_shards": 1, **({"backward_slice_offset": 0} if bidirectional else {})},
        not_in_checkpoint={k: "meta: the grid's graph (migration.checkpoint.grid_meta; refused without a .meta)"
                           for k in ("forget_bias", "cell_clip", "feature_size", "frequency_skip",
                                     "num_frequency_blocks", "start_freqindex_list", "end_freqindex_list",
                                     "couple_input_forget_gates")
                           + (("backward_slice_offset",) if bidirectional else ())},
        converter=Converter(
            _names(bidirectional), lambda s: tuple(keras_name(n) for n in grid_tf1_names(
                grid_config(s, None, bidirectional), bidirectional)),
            lambda s, w, d, fb: grid_to_keras(w, grid_config(s, d, bidirectional), fb, bidirectional),
            lambda s, w, fb: grid_to_tf1(w, grid_config(s, None, bidirectional), fb, bidirectional,
                                         grid_config(s)["num_unit_shards"]),
            _shapes(bidirectional),
            lambda s, w: int(dict(s.options).get("feature_size") or np.shape(w[0])[0] - 2 * s.units)),
        export=custom_export(cls, "Slice of each frequency slice" + (", Pad by the backward slice offset" if
                                                                      bidirectional else "")
                             + ", Concat, MatMul, Add, Split, Sigmoid, Tanh, Mul, Sub, Clip; every block, shared or "
                             "coupled weights, peepholes, cell_clip; the states c_t, m_t per slice as TF1's tuple"),
        custom_cell=cls,
        legacy=_builder(scope, bidirectional, True),  # the builder functions are named like the scopes
        targets={"keras2": _builder(scope, bidirectional, False)},
        upgrade_homes={f"tf.contrib.rnn.{cls}": f"legacy_rnn.grid_lstm.{cls}"},
        matrices=_Matrices(),
        spec_options=("use_peepholes", "cell_clip") + GRID_OPTIONS
        + (("backward_slice_offset",) if bidirectional else ()),
        spec_sizes=_sizes(2 if bidirectional else 1),
        state_labels=_state_labels(2 if bidirectional else 1),
        meta_config=META_GRID,
        spec_from_config=spec_from_config(kind, bidirectional),
        keras_spec=_keras_spec(kind, keras_class, bidirectional),
        keras_classes=(keras_class,),
        inspect_keys=("forget_bias", "use_peepholes", "cell_clip", "options"),
    )


FAMILY = _row("grid_lstm", "GridLSTMCell", "grid_lstm_cell", False)
BIDIRECTIONAL_FAMILY = _row("bidirectional_grid_lstm", "BidirectionalGridLSTMCell", "bidirectional_grid_lstm_cell",
                            True)

__all__ = ["grid_tf1_names", "keras_name", "grid_to_keras", "grid_to_tf1", "grid_config",
           "spec_from_config", "GRID_OPTIONS", "FAMILY", "BIDIRECTIONAL_FAMILY"]
