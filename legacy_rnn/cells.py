"""TF1 recurrent cells (``tf.compat.v1.nn.rnn_cell``), as the seed programs build them.

Read beside :mod:`modern_rnn.cells`: the same names, in the same order. Every builder validates its arguments and
returns the real TF1 object, so the checkpoint names are those of the original programs (see :mod:`migration.core.specs`).
Gate comment from TF1: ``i = input_gate, j = new_input, f = forget_gate, o = output_gate``.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Callable, Iterator, Optional, Sequence

import tensorflow as tf

from legacy_rnn import contrib, cudnn
from migration.core.errors import check_positive_int
from migration.core.specs import CellSpec

rnn_cell = tf.compat.v1.nn.rnn_cell
v1 = tf.compat.v1


@contextlib.contextmanager
def _known_deprecation() -> Iterator[None]:
    """Silence the cells' "is deprecated ... equivalent as tf.keras.layers.X" warning: this package exists because
    of that deprecation, and the claim is only true after the conversions in :mod:`migration.converters`."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*is deprecated and will be removed", category=UserWarning)
        yield


def handwritten_rnn_cell(units: int, input_size: int, scope: str = "rnn_cell") -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The R2RT hand-written cell of seed 002: ``h' = tanh([x, h] W + b)``.

    Creates ``{scope}/W [input_size + units, units]`` (default initializer) and ``{scope}/b [units]`` (zeros) with
    ``get_variable``; the returned step function re-enters the scope with ``reuse=True`` on every call, as the seed
    does, so one weight set serves every step. Rows ``W[:input_size]`` multiply x, rows ``W[input_size:]`` multiply h.

    Modern equivalent: :func:`modern_rnn.cells.handwritten_rnn_cell` (``SimpleRNNCell``; ``kernel = W[:D]``,
    ``recurrent_kernel = W[D:]``, ``bias = b``).
    """
    units, input_size = check_positive_int("units", units), check_positive_int("input_size", input_size)
    with v1.variable_scope(scope):
        v1.get_variable("W", [input_size + units, units])
        v1.get_variable("b", [units], initializer=v1.constant_initializer(0.0))

    def step(rnn_input: tf.Tensor, state: tf.Tensor) -> tf.Tensor:
        with v1.variable_scope(scope, reuse=True):
            w = v1.get_variable("W", [input_size + units, units])
            b = v1.get_variable("b", [units], initializer=v1.constant_initializer(0.0))
        return tf.tanh(tf.matmul(tf.concat([rnn_input, state], 1), w) + b)

    step.units = units  # type: ignore[attr-defined]
    step.input_size = input_size  # type: ignore[attr-defined]
    return step


def basic_rnn_cell(units: int, activation: Optional[str] = None, name: Optional[str] = None) -> "rnn_cell.BasicRNNCell":
    """``BasicRNNCell``: ``h' = act([x, h] K + b)``, ``kernel [D+U, U]``, ``bias [U]``.

    Modern equivalent: :func:`modern_rnn.cells.basic_rnn_cell` (``SimpleRNNCell``).
    """
    with _known_deprecation():
        return rnn_cell.BasicRNNCell(check_positive_int("units", units), activation=activation, name=name)


def basic_lstm_cell(units: int, forget_bias: float = 1.0, state_is_tuple: bool = True,
                    activation: Optional[str] = None, name: Optional[str] = None) -> "rnn_cell.BasicLSTMCell":
    """``BasicLSTMCell``: ``i, j, f, o = split([x, h] K + b)``;
    ``c' = c * sigma(f + forget_bias) + sigma(i) * tanh(j)``; ``h' = tanh(c') * sigma(o)``.

    ``kernel [D+U, 4U]`` and ``bias [4U]`` hold the column blocks **i, j, f, o**; ``forget_bias`` is a Python constant
    (not in the checkpoint). State: ``LSTMStateTuple(c, h)`` (or ``concat([c, h])`` with ``state_is_tuple=False``).

    Modern equivalent: :func:`modern_rnn.cells.basic_lstm_cell` (``LSTMCell``, blocks i, f, c, o, forget_bias folded).
    """
    with _known_deprecation():
        return rnn_cell.BasicLSTMCell(check_positive_int("units", units), forget_bias=float(forget_bias),
                                      state_is_tuple=state_is_tuple, activation=activation, name=name)


def lstm_cell(units: int, use_peepholes: bool = False, num_proj: Optional[int] = None,
              cell_clip: Optional[float] = None, proj_clip: Optional[float] = None, forget_bias: float = 1.0,
              activation: Optional[str] = None, name: Optional[str] = None) -> "rnn_cell.LSTMCell":
    """``LSTMCell``: the BasicLSTMCell maths plus optional diagonal peepholes, projection and clipping.

    ``c = sigma(f + fb + w_f*c_prev)*c_prev + sigma(i + w_i*c_prev)*tanh(j)``; ``c = clip(c, ±cell_clip)``;
    ``m = sigma(o + w_o*c)*tanh(c)`` (new c); ``m = clip(m P, ±proj_clip)``. Weights: ``kernel [D+R, 4U]`` (R = num_proj
    or U; blocks i, j, f, o), ``bias [4U]``, ``w_f_diag, w_i_diag, w_o_diag [U]``, ``projection/kernel [U, P]``.
    State ``LSTMStateTuple(c [U], m [R])``.

    Modern equivalent: :func:`modern_rnn.cells.lstm_cell` (``LSTMCell``, or ``ProjectionLSTMCell`` when peepholes,
    projection or clipping are on).
    """
    spec = CellSpec("lstm", check_positive_int("units", units), forget_bias=float(forget_bias),
                    use_peepholes=use_peepholes, num_proj=num_proj, cell_clip=cell_clip, proj_clip=proj_clip,
                    activation=activation or "tanh")
    with _known_deprecation():
        return rnn_cell.LSTMCell(spec.units, use_peepholes=spec.use_peepholes, num_proj=spec.num_proj,
                                 cell_clip=spec.cell_clip, proj_clip=spec.proj_clip, forget_bias=spec.forget_bias,
                                 state_is_tuple=True, activation=activation, name=name)


def gru_cell(units: int, name: Optional[str] = None) -> "rnn_cell.GRUCell":
    """``GRUCell``: ``r, u = sigma([x, h] G + g)``; ``c = tanh([x, r*h] C + cb)``; ``h' = u*h + (1-u)*c``.

    ``gates/kernel [D+U, 2U]`` (blocks r, u; ``gates/bias`` initialised to 1.0), ``candidate/kernel [D+U, U]``.

    Modern equivalent: :func:`modern_rnn.cells.gru_cell` (``GRUCell(reset_after=False)``: the tf_keras default
    ``reset_after=True`` cannot equal this cell).
    """
    with _known_deprecation():
        return rnn_cell.GRUCell(check_positive_int("units", units), name=name)


def cell_from_spec(spec: CellSpec, input_size: Optional[int] = None, scope: str = "rnn_cell"):
    """Build the TF1 cell that ``spec`` describes (``input_size`` is needed by the hand-written cell only).

    Modern equivalent: :func:`modern_rnn.cells.cell_from_spec`.
    """
    if spec.kind == "handwritten":
        if input_size is None:
            raise ValueError("Received an invalid value for `input_size`: the hand-written cell needs it, got None.")
        return handwritten_rnn_cell(spec.units, input_size, scope=scope)
    if spec.kind == "basic_rnn":
        return basic_rnn_cell(spec.units, activation=_act(spec))
    if spec.kind == "basic_lstm":
        return basic_lstm_cell(spec.units, forget_bias=spec.forget_bias, activation=_act(spec))
    if spec.kind == "lstm":
        return lstm_cell(spec.units, spec.use_peepholes, spec.num_proj, spec.cell_clip, spec.proj_clip, spec.forget_bias,
                         activation=_act(spec))
    if spec.kind in ("lstm_block", "gru_block", "gru_block_v2", "lstm_block_fused"):

        if spec.kind == "lstm_block":
            return contrib.lstm_block_cell(spec.units, spec.forget_bias, spec.cell_clip, spec.use_peepholes)
        if spec.kind == "lstm_block_fused":
            raise ValueError("Received kind='lstm_block_fused': LSTMBlockFusedCell is not an RNNCell (it runs a whole "
                             "time-major sequence); build it with legacy_rnn.lstm_block_fused_cell.")
        return (contrib.gru_block_cell if spec.kind == "gru_block" else contrib.gru_block_cell_v2)(spec.units)
    if spec.kind == "layer_norm_lstm":

        return contrib.layer_norm_basic_lstm_cell(spec.units, forget_bias=spec.forget_bias)
    if spec.kind in ("cudnn_compatible_lstm", "cudnn_compatible_gru"):

        return getattr(cudnn, spec.kind + "_cell")(spec.units)
    return gru_cell(spec.units)


def _act(spec: CellSpec) -> Optional[str]:
    return None if spec.activation == "tanh" else spec.activation


def multi_rnn_cell(cells: Sequence) -> "rnn_cell.MultiRNNCell":
    """``MultiRNNCell``: layer k reads layer k-1's output; variables ``multi_rnn_cell/cell_k/<cell>/...``.

    Pass distinct cell objects: ``MultiRNNCell([cell] * n)`` shares **one** weight set (only ``cell_0`` is created).

    Modern equivalent: :func:`modern_rnn.cells.multi_rnn_cell` (``StackedRNNCells``).
    """
    cells = list(cells)
    if not cells:
        raise ValueError("Received an invalid value for `cells`: expected a non-empty list of cells, got [].")
    if len({id(c) for c in cells}) != len(cells):
        raise ValueError(
            "Received the same cell object more than once in `cells`: MultiRNNCell would share one weight set "
            "between layers. Build one cell per layer."
        )
    with _known_deprecation():
        return rnn_cell.MultiRNNCell(cells, state_is_tuple=True)


def dropout_wrapper(cell, input_keep_prob: float | tf.Tensor = 1.0, output_keep_prob: float | tf.Tensor = 1.0,
                    state_keep_prob: float | tf.Tensor = 1.0, variational_recurrent: bool = False,
                    input_size: Optional[int] = None, dtype: Optional[tf.DType] = None,
                    seed: Optional[int] = None) -> "rnn_cell.DropoutWrapper":
    """``DropoutWrapper``: keep probabilities (survivors scaled by ``1/keep_prob``), a fresh mask each step unless
    ``variational_recurrent``; ``state_keep_prob`` drops the new h only (never c). Adds no variables, renames nothing.

    There is no training switch: feed ``keep_prob = 1.0`` at inference (see
    :func:`legacy_rnn.session.keep_prob_placeholder`, a ``placeholder_with_default(1.0)``).

    Modern equivalent: :func:`modern_rnn.cells.dropout_wrapper` (tf_keras' own ``DropoutWrapper``, same semantics,
    active only with ``training=True``).
    """
    with _known_deprecation():
        return rnn_cell.DropoutWrapper(cell, input_keep_prob=input_keep_prob, output_keep_prob=output_keep_prob,
                                       state_keep_prob=state_keep_prob, variational_recurrent=variational_recurrent,
                                       input_size=input_size, dtype=dtype, seed=seed)


def residual_wrapper(cell) -> "rnn_cell.ResidualWrapper":
    """``ResidualWrapper``: output = cell output + input (the state is not residual); needs depth == units.

    Modern equivalent: :func:`modern_rnn.cells.residual_wrapper`.
    """
    with _known_deprecation():
        return rnn_cell.ResidualWrapper(cell)
