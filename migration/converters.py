"""Exact weight converters between TF1 cells and their Keras 2 twins: small pure NumPy functions.

Notation: D = input depth, U = units, P = num_proj, R = recurrent input size (P with projection, else U).
A TF1 fused kernel multiplies ``concat([x, h], 1)``: **the D input rows come first, the R recurrent rows after them**.
Keras keeps them apart as ``kernel [D, G*U]`` and ``recurrent_kernel [R, G*U]``.

Each ``<kind>_to_keras`` takes the TF1 arrays by their name under the cell scope and returns the Keras cell weights
in ``cell.get_weights()`` order; each ``<kind>_to_tf1`` is its exact inverse. ``forget_bias`` is the run-time
constant TF1 LSTMs add to the forget gate: it is folded into the Keras forget-gate bias (and taken out again on the
way back). Optimizer slots and gradients are transformed with ``forget_bias=0.0`` (the layout changes, the constant
does not apply to them).

Quirks handled here, each where it happens:

* LSTM gate blocks ``i, j, f, o`` (TF1) -> ``i, f, c, o`` (Keras), via :mod:`migration.core.gates`.
* LSTM ``forget_bias`` is not in the checkpoint -> ``b_f + forget_bias``.
* GRU: TF1 ``gates/kernel`` holds ``[r | u]`` and the candidate its own kernel; Keras wants ``[z | r | h]``
  with ``z = u`` (and ``reset_after=False``, see :func:`gru_to_keras`).
* LSTM state: TF1 ``LSTMStateTuple(c, h)``; Keras ``[h, c]`` (:func:`tf1_state_to_keras`).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Sequence

import numpy as np

from migration.core.errors import ShapeError, UnknownCellError, check_shape
from migration.core.gates import KERAS_GRU_GATES, KERAS_LSTM_GATES, TF1_LSTM_GATES, reorder_gates
from migration.core.gates import split_fused_rows
from migration.core.specs import CellSpec

Arrays = dict[str, np.ndarray]


def _get(weights: Mapping[str, np.ndarray], name: str, kind: str) -> np.ndarray:
    try:
        return np.asarray(weights[name])
    except KeyError:
        raise UnknownCellError(
            f"Missing weight `{name}` for a {kind} cell: got {sorted(weights)}, expected {list(tf1_names_for(kind))}."
        ) from None


def _forget_offset(units: int, forget_bias: float, order: Sequence[str]) -> np.ndarray:
    offset = np.zeros(len(order) * units, dtype=np.float32)
    k = list(order).index("f")
    offset[k * units:(k + 1) * units] = forget_bias
    return offset


# --- simple RNN: BasicRNNCell and the hand-written W/b cell -------------------------------------------------------

def simple_rnn_to_keras(kernel: np.ndarray, bias: np.ndarray, input_size: int) -> list[np.ndarray]:
    """``h' = act([x, h] K + b)``  ->  ``SimpleRNNCell`` ``[kernel = K[:D], recurrent_kernel = K[D:], bias = b]``."""
    k_x, k_h = split_fused_rows(np.asarray(kernel), input_size, "kernel")
    units = k_x.shape[1]
    check_shape("kernel", kernel.shape, (input_size + units, units), "simple RNN: [D+U, U]")
    check_shape("bias", np.shape(bias), (units,))
    return [k_x, k_h, np.asarray(bias)]


def simple_rnn_to_tf1(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`simple_rnn_to_keras`: ``K = concat([kernel, recurrent_kernel], 0)``."""
    units = np.shape(recurrent_kernel)[-1]
    check_shape("recurrent_kernel", np.shape(recurrent_kernel), (units, units))
    check_shape("kernel", np.shape(kernel), (None, units))
    check_shape("bias", np.shape(bias), (units,))
    return np.concatenate([kernel, recurrent_kernel], 0), np.asarray(bias)


# --- LSTM: BasicLSTMCell, LSTMCell ----------------------------------------------------------------------------------

def lstm_to_keras(kernel: np.ndarray, bias: np.ndarray, input_size: int, forget_bias: float) -> list[np.ndarray]:
    """TF1 ``kernel [D+R, 4U]`` / ``bias [4U]`` in ``i, j, f, o`` -> Keras ``kernel [D, 4U], recurrent_kernel [R, 4U],
    bias [4U]`` in ``i, f, c, o`` with ``b_f + forget_bias``."""
    kernel, bias = np.asarray(kernel), np.asarray(bias)
    k_x, k_h = split_fused_rows(kernel, input_size, "kernel")
    if kernel.shape[1] % 4:
        raise ShapeError(f"Received an invalid shape for `kernel`: expected (D+R, 4*units), got {tuple(kernel.shape)}.")
    units = kernel.shape[1] // 4
    check_shape("bias", bias.shape, (4 * units,), "LSTM: [4U]")
    reorder = lambda a: reorder_gates(a, TF1_LSTM_GATES, KERAS_LSTM_GATES)  # noqa: E731
    new_bias = reorder(bias) + _forget_offset(units, forget_bias, KERAS_LSTM_GATES).astype(bias.dtype)
    return [reorder(k_x), reorder(k_h), new_bias]


def lstm_to_tf1(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray, forget_bias: float) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`lstm_to_keras`: ``i, f, c, o`` -> ``i, j, f, o`` and ``b_f - forget_bias``."""
    bias = np.asarray(bias)
    gates = np.shape(recurrent_kernel)[-1]
    check_shape("kernel", np.shape(kernel), (None, gates))
    check_shape("bias", bias.shape, (gates,), "LSTM: [4U]")
    units = gates // 4
    reorder = lambda a: reorder_gates(a, KERAS_LSTM_GATES, TF1_LSTM_GATES)  # noqa: E731
    tf1_bias = reorder(bias - _forget_offset(units, forget_bias, KERAS_LSTM_GATES).astype(bias.dtype))
    return np.concatenate([reorder(np.asarray(kernel)), reorder(np.asarray(recurrent_kernel))], 0), tf1_bias


# --- GRU: GRUCell ----------------------------------------------------------------------------------------------------

def gru_to_keras(gates_kernel: np.ndarray, gates_bias: np.ndarray, candidate_kernel: np.ndarray,
                 candidate_bias: np.ndarray, input_size: int) -> list[np.ndarray]:
    """TF1 ``r, u = sigma([x, h] G + g)``; ``c = tanh([x, r*h] C + cb)``; ``h' = u*h + (1-u)*c``.

    Keras ``GRUCell(reset_after=False)`` computes the same with ``z = u`` and blocks ``[z | r | h]``::

        kernel           = [G[:D, U:] | G[:D, :U] | C[:D]]      # [D, 3U]
        recurrent_kernel = [G[D:, U:] | G[D:, :U] | C[D:]]      # [U, 3U]
        bias             = [g[U:] | g[:U] | cb]                 # [3U]

    Keras' default ``reset_after=True`` applies r after the recurrent matmul, ``r * (h U_h)``, which differs from TF1's
    ``(r * h) U_h`` for any non-diagonal ``U_h``: no weights make it equal a general TF1 GRUCell.
    """
    g_k, g_b = np.asarray(gates_kernel), np.asarray(gates_bias)
    c_k, c_b = np.asarray(candidate_kernel), np.asarray(candidate_bias)
    if c_k.ndim != 2:
        raise ShapeError(f"Received an invalid shape for `candidate/kernel`: expected (D+U, U), got {tuple(c_k.shape)}.")
    units = c_k.shape[1]
    check_shape("gates/kernel", g_k.shape, (input_size + units, 2 * units), "GRU: [D+U, 2U]")
    check_shape("gates/bias", g_b.shape, (2 * units,))
    check_shape("candidate/kernel", c_k.shape, (input_size + units, units), "GRU: [D+U, U]")
    check_shape("candidate/bias", c_b.shape, (units,))
    r, u = slice(0, units), slice(units, 2 * units)
    blocks = {"z": (g_k[:, u], g_b[u]), "r": (g_k[:, r], g_b[r]), "h": (c_k, c_b)}
    full = np.concatenate([blocks[g][0] for g in KERAS_GRU_GATES], 1)
    bias = np.concatenate([blocks[g][1] for g in KERAS_GRU_GATES], 0)
    return [full[:input_size], full[input_size:], bias]


def gru_to_tf1(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, ...]:
    """Inverse of :func:`gru_to_keras`: returns ``(gates/kernel, gates/bias, candidate/kernel, candidate/bias)``."""
    gates = np.shape(recurrent_kernel)[-1]
    bias = np.asarray(bias)
    if bias.ndim == 2:
        raise ShapeError(
            f"Received an invalid shape for `bias`: expected ({gates},), got {tuple(bias.shape)}. A [2, 3U] bias comes "
            "from GRU(reset_after=True), which cannot equal a TF1 GRUCell; rebuild the layer with reset_after=False."
        )
    units = gates // 3
    check_shape("recurrent_kernel", np.shape(recurrent_kernel), (units, 3 * units), "GRU: [U, 3U]")
    check_shape("kernel", np.shape(kernel), (None, 3 * units))
    check_shape("bias", bias.shape, (3 * units,))
    full = np.concatenate([kernel, recurrent_kernel], 0)
    z, r, h = (slice(k * units, (k + 1) * units) for k in range(3))
    gates_kernel = np.concatenate([full[:, r], full[:, z]], 1)  # TF1 [r | u], u = z
    gates_bias = np.concatenate([bias[r], bias[z]], 0)
    return gates_kernel, gates_bias, full[:, h], bias[h]


# --- projection / peephole LSTM (LSTMCell options) --------------------------------------------------------------------

PEEPHOLE_NAMES: tuple[str, ...] = ("w_i_diag", "w_f_diag", "w_o_diag")


def projection_lstm_to_keras(weights: Mapping[str, np.ndarray], spec: CellSpec, input_size: int,
                             forget_bias: float) -> list[np.ndarray]:
    """``LSTMCell`` with peepholes / projection -> ``modern_rnn.ProjectionLSTMCell`` weights.

    Order: ``kernel [D, 4U], recurrent_kernel [R, 4U], bias [4U]`` (Keras gate order, forget_bias folded), then
    ``w_i_diag, w_f_diag, w_o_diag [U]`` if ``use_peepholes``, then ``projection_kernel [U, P]`` if ``num_proj``.
    """
    out = lstm_to_keras(_get(weights, "kernel", "lstm"), _get(weights, "bias", "lstm"), input_size, forget_bias)
    check_shape("kernel", np.shape(weights["kernel"]), (input_size + spec.output_size, 4 * spec.units),
                "LSTMCell: [D+R, 4U], R = num_proj or units")
    if spec.use_peepholes:
        for name in PEEPHOLE_NAMES:
            out.append(np.asarray(_get(weights, name, "lstm")))
            check_shape(name, out[-1].shape, (spec.units,))
    if spec.num_proj is not None:
        out.append(np.asarray(_get(weights, "projection/kernel", "lstm")))
        check_shape("projection/kernel", out[-1].shape, (spec.units, spec.num_proj))
    return out


def projection_lstm_to_tf1(keras_weights: Sequence[np.ndarray], spec: CellSpec, forget_bias: float) -> Arrays:
    """Inverse of :func:`projection_lstm_to_keras`."""
    kernel, bias = lstm_to_tf1(keras_weights[0], keras_weights[1], keras_weights[2], forget_bias)
    out: Arrays = {"kernel": kernel, "bias": bias}
    rest = list(keras_weights[3:])
    if spec.use_peepholes:
        out.update(zip(PEEPHOLE_NAMES, rest[:3]))
        rest = rest[3:]
    if spec.num_proj is not None:
        out["projection/kernel"] = rest[0]
    return out


# --- the table: spec -> converter ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CellConverter:
    """How one cell kind's weights are named on both sides and converted."""

    kind: str
    tf1_names: Callable[[CellSpec], tuple[str, ...]]
    keras_names: Callable[[CellSpec], tuple[str, ...]]
    to_keras: Callable[[CellSpec, Mapping[str, np.ndarray], int, float], list[np.ndarray]]
    to_tf1: Callable[[CellSpec, Sequence[np.ndarray], float], Arrays]


def _lstm_tf1_names(spec: CellSpec) -> tuple[str, ...]:
    names = ("kernel", "bias")
    if spec.use_peepholes:
        names += PEEPHOLE_NAMES
    if spec.num_proj is not None:
        names += ("projection/kernel",)
    return names


def _lstm_keras_names(spec: CellSpec) -> tuple[str, ...]:
    names = ("kernel", "recurrent_kernel", "bias")
    if spec.use_peepholes:
        names += PEEPHOLE_NAMES
    if spec.num_proj is not None:
        names += ("projection_kernel",)
    return names


def _lstm_to_keras(spec: CellSpec, w: Mapping[str, np.ndarray], d: int, fb: float) -> list[np.ndarray]:
    if spec.needs_custom_keras_cell:
        return projection_lstm_to_keras(w, spec, d, fb)
    return lstm_to_keras(_get(w, "kernel", spec.kind), _get(w, "bias", spec.kind), d, fb)


def _lstm_to_tf1(spec: CellSpec, w: Sequence[np.ndarray], fb: float) -> Arrays:
    if spec.needs_custom_keras_cell:
        return projection_lstm_to_tf1(w, spec, fb)
    return dict(zip(("kernel", "bias"), lstm_to_tf1(w[0], w[1], w[2], fb)))


_SIMPLE_KERAS = ("kernel", "recurrent_kernel", "bias")
_GRU_TF1 = ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")

CONVERTERS: dict[str, CellConverter] = {
    "handwritten": CellConverter(
        "handwritten", lambda s: ("W", "b"), lambda s: _SIMPLE_KERAS,
        lambda s, w, d, fb: simple_rnn_to_keras(_get(w, "W", "handwritten"), _get(w, "b", "handwritten"), d),
        lambda s, w, fb: dict(zip(("W", "b"), simple_rnn_to_tf1(*w)))),
    "basic_rnn": CellConverter(
        "basic_rnn", lambda s: ("kernel", "bias"), lambda s: _SIMPLE_KERAS,
        lambda s, w, d, fb: simple_rnn_to_keras(_get(w, "kernel", "basic_rnn"), _get(w, "bias", "basic_rnn"), d),
        lambda s, w, fb: dict(zip(("kernel", "bias"), simple_rnn_to_tf1(*w)))),
    "basic_lstm": CellConverter("basic_lstm", _lstm_tf1_names, _lstm_keras_names, _lstm_to_keras, _lstm_to_tf1),
    "lstm": CellConverter("lstm", _lstm_tf1_names, _lstm_keras_names, _lstm_to_keras, _lstm_to_tf1),
    "gru": CellConverter(
        "gru", lambda s: _GRU_TF1, lambda s: _SIMPLE_KERAS,
        lambda s, w, d, fb: gru_to_keras(*(_get(w, n, "gru") for n in _GRU_TF1), d),
        lambda s, w, fb: dict(zip(_GRU_TF1, gru_to_tf1(*w)))),
}


# The tf.contrib families register their rows here (one module per family, pure NumPy).
from migration import contrib_converters as _contrib  # noqa: E402

CONVERTERS.update(_contrib.converters(CellConverter, _lstm_tf1_names, _lstm_keras_names, _lstm_to_keras, _lstm_to_tf1,
                                      _get, gru_to_keras, gru_to_tf1))
from migration import cudnn_converters as _cudnn  # noqa: E402

CONVERTERS.update(_cudnn.converters(CellConverter, _lstm_tf1_names, _lstm_keras_names, _lstm_to_keras, _lstm_to_tf1))


def _converter(spec: CellSpec) -> CellConverter:
    try:
        return CONVERTERS[spec.kind]
    except KeyError:
        raise UnknownCellError(f"No converter for cell kind {spec.kind!r}; known kinds: {sorted(CONVERTERS)}.") from None


def tf1_names_for(kind_or_spec: str | CellSpec) -> tuple[str, ...]:
    """TF1 variable names under the cell scope (``kernel``, ``gates/kernel``, ``W`` ...)."""
    spec = kind_or_spec if isinstance(kind_or_spec, CellSpec) else CellSpec(kind_or_spec, 1)
    return _converter(spec).tf1_names(spec)


def keras_names_for(spec: CellSpec) -> tuple[str, ...]:
    """Keras cell weight names, in ``cell.get_weights()`` order."""
    return _converter(spec).keras_names(spec)


def tf1_shapes(spec: CellSpec, input_size: int) -> dict[str, tuple[int, ...]]:
    """The checkpoint shape of every TF1 variable of ``spec`` with input depth ``input_size``."""
    u, r = spec.units, spec.output_size
    gates = 4 if spec.is_lstm else 2 if spec.is_gru else 1
    shapes: dict[str, tuple[int, ...]] = {}
    for name in tf1_names_for(spec):
        if name in ("kernel", "W", "gates/kernel", "w_ru"):
            shapes[name] = (input_size + r, gates * u)
        elif name in ("bias", "b", "gates/bias", "b_ru"):
            shapes[name] = (gates * u,)
        elif name in ("candidate/kernel", "w_c"):
            shapes[name] = (input_size + u, u)
        elif name.endswith(("/gamma", "/beta")):  # LayerNormBasicLSTMCell
            shapes[name] = (u,)
        elif name == "candidate/input_projection/kernel":  # CudnnCompatibleGRUCell
            shapes[name] = (input_size, u)
        elif name == "candidate/hidden_projection/kernel":
            shapes[name] = (u, u)
        elif name in ("candidate/bias", "b_c", "candidate/input_projection/bias", "candidate/hidden_projection/bias") \
                or name in PEEPHOLE_NAMES:
            shapes[name] = (u,)
        elif name == "projection/kernel":
            shapes[name] = (u, r)
    return shapes


def cell_to_keras(spec: CellSpec, tf1_weights: Mapping[str, np.ndarray], input_size: int, *,
                  include_forget_bias: bool = True) -> list[np.ndarray]:
    """Convert one TF1 cell's arrays (by name under the cell scope) to its Keras twin's ``get_weights()`` list.

    ``include_forget_bias=False`` converts the layout only: use it for optimizer slots and gradients.
    """
    missing = [n for n in tf1_names_for(spec) if n not in tf1_weights]
    if missing:
        raise UnknownCellError(
            f"Missing TF1 weights {missing} for {spec.kind} cell (got {sorted(tf1_weights)}); a {spec.kind} cell "
            f"stores {list(tf1_names_for(spec))}."
        )
    for name, shape in tf1_shapes(spec, input_size).items():
        check_shape(name, np.shape(tf1_weights[name]), shape,
                    f"{spec.kind} cell with units={spec.units}, input_size={input_size}")
    forget_bias = spec.forget_bias if (spec.is_lstm and include_forget_bias) else 0.0
    return _converter(spec).to_keras(spec, tf1_weights, input_size, forget_bias)


def cell_to_tf1(spec: CellSpec, keras_weights: Sequence[np.ndarray], *, include_forget_bias: bool = True) -> Arrays:
    """Inverse of :func:`cell_to_keras`: Keras ``get_weights()`` list -> TF1 arrays by name under the cell scope."""
    names = keras_names_for(spec)
    if len(keras_weights) != len(names):
        raise ShapeError(
            f"Received {len(keras_weights)} Keras weights for a {spec.kind} cell; expected {len(names)}: {list(names)}."
        )
    forget_bias = spec.forget_bias if (spec.is_lstm and include_forget_bias) else 0.0
    out = _converter(spec).to_tf1(spec, [np.asarray(w) for w in keras_weights], forget_bias)
    input_size = int(np.shape(keras_weights[0])[0])
    for name, shape in tf1_shapes(spec, input_size).items():
        check_shape(name, np.shape(out[name]), shape, f"{spec.kind} cell with units={spec.units}")
    return out


# --- states and embeddings -------------------------------------------------------------------------------------------

def tf1_state_to_keras(spec: CellSpec, state: Sequence[np.ndarray] | np.ndarray) -> list:
    """TF1 ``LSTMStateTuple(c, h)`` -> Keras ``[h, c]``; a single-tensor state stays ``[h]``."""
    if spec.is_lstm:
        c, h = state
        return [h, c]
    return [state[0] if isinstance(state, (list, tuple)) else state]


def keras_state_to_tf1(spec: CellSpec, state: Sequence) -> tuple:
    """Keras ``[h, c]`` -> TF1 ``(c, h)``; ``[h]`` -> ``(h,)``."""
    if spec.is_lstm:
        h, c = state
        return (c, h)
    return (state[0],)


def mod_partition_permutation(vocab_size: int, num_shards: int) -> np.ndarray:
    """Row permutation that makes a Keras ``Embedding`` reproduce TF1 ``embedding_lookup(partition_strategy='mod')``.

    A partitioned variable of ``vocab_size`` rows in ``num_shards`` parts is saved as one full tensor (parts
    concatenated; part k has ``ceil`` or ``floor`` of ``vocab_size / num_shards`` rows, the larger ones first). With
    'mod', id i reads ``part[i % P][i // P]`` = ``full[offset[i % P] + i // P]``, so Keras needs ``full[perm]`` with
    ``perm[i] = offset[i % P] + i // P``. ('div', and TF2's ``tf.nn.embedding_lookup``, read ``full[i]``.)
    """
    if vocab_size <= 0 or num_shards <= 0:
        raise ValueError(
            f"Received invalid values for `vocab_size`/`num_shards`: expected positive integers, got {vocab_size}, {num_shards}."
        )
    base, extra = divmod(vocab_size, num_shards)
    sizes = [base + (1 if k < extra else 0) for k in range(num_shards)]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    ids = np.arange(vocab_size)
    return offsets[ids % num_shards] + ids // num_shards
