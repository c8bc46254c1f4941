"""The ``tf.contrib.rnn`` block and fused cells, rebuilt for TensorFlow 2.21 on TensorFlow's own kernels.

``tf.contrib`` is gone in TF 2, but the kernels it called still ship as ``tf.raw_ops.LSTMBlockCell``, ``BlockLSTM``
and ``GRUBlockCell``. The builders here create the variables under the names TF 1.15's
``tensorflow/contrib/rnn/python/ops/{lstm_ops,gru_ops}.py`` gave them and call those kernels, so a TF1 program that
used the contrib cells runs unchanged (``tf.contrib.rnn.LSTMBlockCell(...)`` -> ``legacy_rnn.lstm_block_cell(...)``)
and restores its checkpoint. TF 2.21 registers no gradient for ``LSTMBlockCell`` and ``GRUBlockCell`` (contrib did);
importing this module registers them, computed like contrib's from the ``*Grad`` kernels.

Read beside :mod:`modern_rnn.contrib`: the same names, in the same order.

Block kernel equations (``lstm_ops.cc``; gate blocks **i, c, f, o** = TF1's ``i, j, f, o``)::

    [i, ci, f, o] = [x, h_prev] W + b
    i = sigmoid(i + wci * cs_prev)            # peephole terms only with use_peephole
    f = sigmoid(f + forget_bias + wcf * cs_prev)
    cs = tanh(ci) * i + cs_prev * f;  cs = clip(cs, -cell_clip, cell_clip) if cell_clip > 0
    o = sigmoid(o + wco * cs);  h = tanh(cs) * o

Traps: the raw ops default ``cell_clip=3`` (contrib passed ``-1``, no clipping, when ``cell_clip=None``); the
gradient kernels treat the clip as the identity (TF1 trained clipped cells with that gradient).
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
from tensorflow.python.framework import ops as _ops
from tf_keras.src.layers.rnn.legacy_cells import LayerRNNCell

from legacy_rnn.cell_utils import NumUnitsCell
from migration.core.errors import check_positive_int

v1 = tf.compat.v1
rnn_cell = tf.compat.v1.nn.rnn_cell


def _no_clip(cell_clip: Optional[float]) -> float:
    """TF 1.15 passed ``cell_clip`` to the kernel as given (``None`` -> -1); the kernel clips only when it is > 0, so
    0 or a negative value means no clipping, as in 1.15 (``LSTMBlockFusedCell(cell_clip=0)`` is in TF's own tests)."""
    if cell_clip is None:
        return -1.0
    try:
        return float(cell_clip)
    except (TypeError, ValueError):
        raise TypeError(f"Received an invalid value for `cell_clip`: expected a number or None, got {cell_clip!r}.")


def _zeros_if_none(grad, like):
    return tf.zeros_like(like) if grad is None else grad


# --- gradients TF 2.21 no longer registers ------------------------------------------------------------------------

def _lstm_block_cell_grad(op, *grads):
    """d(LSTMBlockCell): ``LSTMBlockCellGrad`` gives d[i,ci,f,o] (``dicfo``) and the peephole grads; the rest is the
    matmul ``[x, h_prev] W``."""
    x, cs_prev, h_prev, w, wci, wcf, wco, b = op.inputs
    i, cs, f, o, ci, co, h = op.outputs
    cs_grad, h_grad = _zeros_if_none(grads[1], cs), _zeros_if_none(grads[6], h)
    cs_prev_grad, dicfo, wci_grad, wcf_grad, wco_grad = tf.raw_ops.LSTMBlockCellGrad(
        x=x, cs_prev=cs_prev, h_prev=h_prev, w=w, wci=wci, wcf=wcf, wco=wco, b=b, i=i, cs=cs, f=f, o=o, ci=ci, co=co,
        cs_grad=cs_grad, h_grad=h_grad, use_peephole=op.get_attr("use_peephole"))
    depth = tf.shape(x)[1]
    xh_grad = tf.matmul(dicfo, w, transpose_b=True)
    w_grad = tf.matmul(tf.concat([x, h_prev], 1), dicfo, transpose_a=True)
    return (xh_grad[:, :depth], cs_prev_grad, xh_grad[:, depth:], w_grad, wci_grad, wcf_grad, wco_grad,
            tf.reduce_sum(dicfo, 0))


def _gru_block_cell_grad(op, *grads):
    """d(GRUBlockCell): ``GRUBlockCellGrad`` gives dx, dh_prev, d c_bar and d[r_bar, u_bar]; weight grads are the
    outer products with ``[x, h_prev]`` and ``[x, r * h_prev]``."""
    x, h_prev, w_ru, w_c, b_ru, b_c = op.inputs
    r, u, c, h = op.outputs
    d_h = _zeros_if_none(grads[3], h)
    d_x, d_h_prev, d_c_bar, d_ru_bar = tf.raw_ops.GRUBlockCellGrad(
        x=x, h_prev=h_prev, w_ru=w_ru, w_c=w_c, b_ru=b_ru, b_c=b_c, r=r, u=u, c=c, d_h=d_h)
    w_ru_grad = tf.matmul(tf.concat([x, h_prev], 1), d_ru_bar, transpose_a=True)
    w_c_grad = tf.matmul(tf.concat([x, h_prev * r], 1), d_c_bar, transpose_a=True)
    return d_x, d_h_prev, w_ru_grad, w_c_grad, tf.reduce_sum(d_ru_bar, 0), tf.reduce_sum(d_c_bar, 0)


for _op_type, _fn in (("LSTMBlockCell", _lstm_block_cell_grad), ("GRUBlockCell", _gru_block_cell_grad)):
    if _op_type not in _ops._gradient_registry.list():  # a future TF may register its own again
        _ops.RegisterGradient(_op_type)(_fn)


def _block_lstm(seq_len_max, x, w, b, cs_prev=None, h_prev=None, wci=None, wcf=None, wco=None, forget_bias=None,
                cell_clip=None, use_peephole=None, name=None):
    """TF 1.15's ``lstm_ops._block_lstm`` (used by TF's own kernel tests): ``tf.raw_ops.BlockLSTM`` over the list of
    time steps ``x``; missing states and peephole weights are zeros of ``x``'s dtype, ``cell_clip=None`` is -1 (no
    clipping). Returns the seven outputs ``i, cs, f, o, ci, co, h``, each a list of per-step tensors."""
    dtype = x[0].dtype
    batch = tf.shape(x[0])[0]
    cell_size = b.shape.with_rank(1)[0]
    if cell_size is None:
        raise ValueError("`b` shape must not be None.")
    zeros = tf.zeros(tf.stack([batch, cell_size // 4]), dtype)
    cs_prev = zeros if cs_prev is None else cs_prev
    h_prev = zeros if h_prev is None else h_prev
    if wci is None:
        wci = wcf = wco = tf.zeros([cell_size // 4], dtype)
    outs = tf.raw_ops.BlockLSTM(
        seq_len_max=seq_len_max, x=tf.stack(x), cs_prev=cs_prev, h_prev=h_prev, w=w, wci=wci, wcf=wcf, wco=wco, b=b,
        forget_bias=1.0 if forget_bias is None else forget_bias, cell_clip=_no_clip(cell_clip),
        use_peephole=bool(use_peephole), name=name)
    return tuple(tf.unstack(t) for t in outs)


# --- cells -----------------------------------------------------------------------------------------------------------

class LSTMBlockCell(LayerRNNCell):
    """``tf.contrib.rnn.LSTMBlockCell`` on ``tf.raw_ops.LSTMBlockCell``; see :func:`lstm_block_cell`."""

    def __init__(self, num_units: int, forget_bias: float = 1.0, cell_clip: Optional[float] = None,
                 use_peephole: bool = False, dtype=None, reuse=None, name: str = "lstm_cell") -> None:
        super().__init__(_reuse=reuse, name=name, dtype=dtype)
        self._num_units = check_positive_int("units", num_units)
        self._forget_bias = float(forget_bias)
        self._cell_clip = _no_clip(cell_clip)
        self._use_peephole = bool(use_peephole)

    @property
    def state_size(self):
        return rnn_cell.LSTMStateTuple(self._num_units, self._num_units)

    @property
    def output_size(self) -> int:
        return self._num_units

    def build(self, inputs_shape) -> None:
        depth = int(inputs_shape[-1])
        self._kernel = self.add_weight("kernel", [depth + self._num_units, 4 * self._num_units])
        self._bias = self.add_weight("bias", [4 * self._num_units], initializer=v1.constant_initializer(0.0))
        if self._use_peephole:
            self._diag = [self.add_weight(n, [self._num_units]) for n in ("w_i_diag", "w_f_diag", "w_o_diag")]
        self.built = True

    def call(self, inputs, state):
        cs_prev, h_prev = state
        wci, wcf, wco = self._diag if self._use_peephole else [tf.zeros([self._num_units], inputs.dtype)] * 3
        _, cs, _, _, _, _, h = tf.raw_ops.LSTMBlockCell(
            x=inputs, cs_prev=cs_prev, h_prev=h_prev, w=self._kernel, wci=wci, wcf=wcf, wco=wco, b=self._bias,
            forget_bias=self._forget_bias, cell_clip=self._cell_clip, use_peephole=self._use_peephole)
        return h, rnn_cell.LSTMStateTuple(cs, h)


class LSTMBlockFusedCell:
    """``tf.contrib.rnn.LSTMBlockFusedCell`` on ``tf.raw_ops.BlockLSTM``; see :func:`lstm_block_fused_cell`."""

    def __init__(self, num_units: int, forget_bias: float = 1.0, cell_clip: Optional[float] = None,
                 use_peephole: bool = False, reuse=None, dtype=None, name: str = "lstm_fused_cell") -> None:
        self.num_units = check_positive_int("units", num_units)
        self.forget_bias, self.cell_clip, self.use_peephole = float(forget_bias), _no_clip(cell_clip), bool(use_peephole)
        self.name, self._reuse, self.dtype = name, reuse, dtype
        self._scope: Optional[v1.VariableScope] = None

    def _variables(self, depth: int, dtype, scope=None) -> tuple:
        # First call: a fresh (uniquified) scope like a tf.layers Layer (or the ``scope=`` given, or the plain name
        # with reuse=True); later calls reuse it.
        reuse = self._scope is not None or bool(self._reuse)
        first = scope if scope is not None else (self.name if self._reuse else None)
        with v1.variable_scope(self._scope or first, default_name=None if reuse or first else self.name,
                               reuse=True if reuse else None) as scope:
            self._scope = scope
            u = self.num_units
            kernel = v1.get_variable("kernel", [depth + u, 4 * u], dtype)
            bias = v1.get_variable("bias", [4 * u], dtype, initializer=v1.constant_initializer(0.0))
            if self.use_peephole:
                diag = [v1.get_variable(n, [u], dtype) for n in ("w_i_diag", "w_f_diag", "w_o_diag")]
            else:
                diag = [tf.zeros([u], dtype)] * 3
        return kernel, bias, diag

    def __call__(self, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
        """Time-major ``inputs [T, B, D]`` (or a list of T ``[B, D]``) -> ``(outputs, LSTMStateTuple(c, h))``.

        Outputs past each ``sequence_length`` are zero; the final state is the one at ``length - 1`` (the initial
        state for length 0), as contrib's ``LSTMBlockWrapper`` computed it.
        """
        is_list = isinstance(inputs, (list, tuple))
        x = tf.stack(inputs) if is_list else tf.convert_to_tensor(inputs)
        if x.shape.rank != 3 or x.shape[-1] is None:
            raise ValueError(f"Received inputs of shape {x.shape}: expected time-major [time, batch, depth] with a "
                             "known depth (LSTMBlockFusedCell is time-major).")
        dtype = dtype or (initial_state[0].dtype if initial_state is not None else self.dtype)
        if dtype is None:
            raise ValueError("Received neither `initial_state` nor `dtype`: one of them is needed.")
        steps, batch = tf.shape(x)[0], tf.shape(x)[1]
        if initial_state is None:
            zeros = tf.zeros(tf.stack([batch, self.num_units]), dtype)
            initial_state = (zeros, zeros)
        c0, h0 = initial_state
        kernel, bias, (wci, wcf, wco) = self._variables(int(x.shape[-1]), dtype, scope)
        max_len = tf.cast(steps if sequence_length is None else tf.reduce_max(sequence_length), tf.int64)
        _, cs, _, _, _, _, h = tf.raw_ops.BlockLSTM(
            seq_len_max=max_len, x=x, cs_prev=c0, h_prev=h0, w=kernel, wci=wci, wcf=wcf, wco=wco, b=bias,
            forget_bias=self.forget_bias, cell_clip=self.cell_clip, use_peephole=self.use_peephole)
        if sequence_length is None:
            final = (cs[-1], h[-1])
        else:
            mask = tf.transpose(tf.sequence_mask(sequence_length, steps, dtype))[:, :, None]
            h = h * mask
            index = tf.stack([tf.cast(sequence_length, tf.int32), tf.range(batch)], 1)
            final = tuple(tf.gather_nd(tf.concat([s0[None], s], 0), index) for s0, s in ((c0, cs), (h0, h)))
        return (tf.unstack(h) if is_list else h), rnn_cell.LSTMStateTuple(*final)


class GRUShapedCell(NumUnitsCell):
    """A cell whose state and output are both ``[batch, num_units]`` (the GRU block cells here and
    :class:`legacy_rnn.cudnn.CudnnCompatibleGRUCell`)."""

    def __init__(self, num_units: int, name: str, reuse=None) -> None:
        super().__init__(_reuse=reuse, name=name)
        self._num_units = check_positive_int("units", num_units)


class GRUBlockCell(GRUShapedCell):
    """``tf.contrib.rnn.GRUBlockCell`` (v1 names) on ``tf.raw_ops.GRUBlockCell``; see :func:`gru_block_cell`."""

    _NAMES = ("w_ru", "b_ru", "w_c", "b_c")

    def __init__(self, num_units=None, cell_size=None, reuse=None, name: str = "gru_cell") -> None:
        if num_units is None:   # 1.15: cell_size is the deprecated spelling of num_units
            if cell_size is None:
                raise ValueError("num_units must be specified.")
            num_units = cell_size
        super().__init__(num_units, name, reuse)

    def build(self, inputs_shape) -> None:
        depth, u = int(inputs_shape[-1]), self._num_units
        w_ru, b_ru, w_c, b_c = self._NAMES
        self._w_ru = self.add_weight(w_ru, [depth + u, 2 * u])
        self._b_ru = self.add_weight(b_ru, [2 * u], initializer=v1.constant_initializer(1.0))
        self._w_c = self.add_weight(w_c, [depth + u, u])
        self._b_c = self.add_weight(b_c, [u], initializer=v1.constant_initializer(0.0))
        self.built = True

    def call(self, inputs, state):
        h_prev = state[0] if isinstance(state, (list, tuple)) else state
        *_, h = tf.raw_ops.GRUBlockCell(x=inputs, h_prev=h_prev, w_ru=self._w_ru, w_c=self._w_c, b_ru=self._b_ru,
                                        b_c=self._b_c)
        return h, h


class GRUBlockCellV2(GRUBlockCell):
    """``tf.contrib.rnn.GRUBlockCellV2``: :class:`GRUBlockCell` under the ``GRUCell`` variable names."""

    _NAMES = ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")


class LayerNormBasicLSTMCell(rnn_cell.RNNCell):
    """``tf.contrib.rnn.LayerNormBasicLSTMCell``; see :func:`layer_norm_basic_lstm_cell`."""

    GATE_SCOPES = ("input", "transform", "forget", "output")  # TF1 i, j, f, o

    def __init__(self, num_units: int, forget_bias: float = 1.0, layer_norm: bool = True, norm_gain: float = 1.0,
                 norm_shift: float = 0.0, dropout_keep_prob=1.0, dropout_prob_seed: Optional[int] = None,
                 name: str = "layer_norm_basic_lstm_cell") -> None:
        super().__init__(name=name)
        self._num_units = check_positive_int("units", num_units)
        self._forget_bias, self._layer_norm = float(forget_bias), bool(layer_norm)
        self._gain, self._shift = float(norm_gain), float(norm_shift)
        self._keep_prob, self._seed = dropout_keep_prob, dropout_prob_seed

    @property
    def state_size(self):
        return rnn_cell.LSTMStateTuple(self._num_units, self._num_units)

    @property
    def output_size(self) -> int:
        return self._num_units

    def _norm(self, x, scope: str):
        # contrib layers.layer_norm over the last axis: nn.moments + nn.batch_normalization, epsilon 1e-12
        with v1.variable_scope(scope):
            gamma = v1.get_variable("gamma", x.shape[-1:], x.dtype, v1.constant_initializer(self._gain))
            beta = v1.get_variable("beta", x.shape[-1:], x.dtype, v1.constant_initializer(self._shift))
        mean, var = tf.nn.moments(x, [1], keepdims=True)
        return tf.nn.batch_normalization(x, mean, var, beta, gamma, 1e-12)

    def call(self, inputs, state):
        c, h = state
        args = tf.concat([inputs, h], 1)
        z = tf.matmul(args, v1.get_variable("kernel", [args.shape[-1], 4 * self._num_units], args.dtype))
        if not self._layer_norm:
            z = z + v1.get_variable("bias", [4 * self._num_units], args.dtype)
        i, j, f, o = tf.split(z, 4, 1)
        if self._layer_norm:
            i, j, f, o = (self._norm(a, s) for a, s in zip((i, j, f, o), self.GATE_SCOPES))
        g = tf.tanh(j)
        if not isinstance(self._keep_prob, float) or self._keep_prob < 1:
            g = tf.nn.dropout(g, rate=1 - self._keep_prob, seed=self._seed)
        new_c = c * tf.sigmoid(f + self._forget_bias) + tf.sigmoid(i) * g
        if self._layer_norm:
            new_c = self._norm(new_c, "state")
        new_h = tf.tanh(new_c) * tf.sigmoid(o)
        return new_h, rnn_cell.LSTMStateTuple(new_c, new_h)


class ConvLSTMCell(rnn_cell.RNNCell):
    """``tf.contrib.rnn.ConvLSTMCell`` (``Conv1D/2D/3DLSTMCell``); see :func:`conv_lstm_cell`."""

    def __init__(self, conv_ndims: int, input_shape, output_channels: int, kernel_shape, use_bias: bool = True,
                 forget_bias: float = 1.0, name: str = "conv_lstm_cell") -> None:
        super().__init__(name=name)
        if conv_ndims not in (1, 2, 3) or len(input_shape) != conv_ndims + 1 or len(kernel_shape) != conv_ndims:
            raise ValueError(f"Received conv_ndims={conv_ndims!r}, input_shape={input_shape!r}, kernel_shape="
                             f"{kernel_shape!r}: expected conv_ndims in 1..3, input_shape of conv_ndims + 1 values "
                             "(spatial..., channels) and kernel_shape of conv_ndims values.")
        self._ndims, self._input_shape = conv_ndims, list(input_shape)
        self._channels = check_positive_int("output_channels", output_channels)
        self._kernel_shape, self._use_bias, self._forget_bias = list(kernel_shape), bool(use_bias), float(forget_bias)
        shape = tf.TensorShape(self._input_shape[:-1] + [self._channels])
        self._state_size = rnn_cell.LSTMStateTuple(shape, shape)

    @property
    def state_size(self):
        return self._state_size

    @property
    def output_size(self):
        return self._state_size.h

    def call(self, inputs, state):
        c, h = state
        args = tf.concat([inputs, h], -1)
        kernel = v1.get_variable("kernel", self._kernel_shape + [int(args.shape[-1]), 4 * self._channels], args.dtype)
        conv = {1: tf.nn.conv1d, 2: tf.nn.conv2d, 3: tf.nn.conv3d}[self._ndims]
        z = conv(args, kernel, 1 if self._ndims == 1 else [1] * (self._ndims + 2), padding="SAME")
        if self._use_bias:
            z = z + v1.get_variable("biases", [4 * self._channels], args.dtype, v1.constant_initializer(0.0))
        i, j, f, o = tf.split(z, 4, -1)
        new_c = tf.sigmoid(f + self._forget_bias) * c + tf.sigmoid(i) * tf.tanh(j)
        new_h = tf.tanh(new_c) * tf.sigmoid(o)
        return new_h, rnn_cell.LSTMStateTuple(new_c, new_h)


# --- builders (the public, mirrored API) ---------------------------------------------------------------------------

def lstm_block_cell(units: int, forget_bias: float = 1.0, cell_clip: Optional[float] = None,
                    use_peephole: bool = False, name: str = "lstm_cell") -> LSTMBlockCell:
    """``tf.contrib.rnn.LSTMBlockCell``: the ``LSTMCell`` maths in one kernel (``tf.raw_ops.LSTMBlockCell``).

    Variables ``lstm_cell/kernel [D+U, 4U]`` (blocks i, j(ci), f, o), ``lstm_cell/bias [4U]`` (initialised to 0;
    ``forget_bias`` is the op's attribute), and with ``use_peephole`` ``w_i_diag, w_f_diag, w_o_diag [U]``: the names
    and layout of ``LSTMCell(use_peepholes=...)``, so either restores the other's checkpoint. State
    ``LSTMStateTuple(c, h)``. ``cell_clip=None`` means no clipping.

    Modern equivalent: :func:`modern_rnn.contrib.lstm_block_cell` (``LSTMCell``, or ``ProjectionLSTMCell`` with
    peepholes or clipping; forget_bias folded into b_f).
    """
    return LSTMBlockCell(units, forget_bias, cell_clip, use_peephole, name=name)


def lstm_block_fused_cell(units: int, forget_bias: float = 1.0, cell_clip: Optional[float] = None,
                          use_peephole: bool = False, name: str = "lstm_fused_cell") -> LSTMBlockFusedCell:
    """``tf.contrib.rnn.LSTMBlockFusedCell``: the whole sequence in one ``tf.raw_ops.BlockLSTM`` call, **time-major**.

    Called as ``outputs, (c, h) = cell(x_tbd, dtype=tf.float32, sequence_length=lengths)``; it is not an RNNCell
    (no ``dynamic_rnn``). Variables ``lstm_fused_cell/kernel [D+U, 4U]`` and ``bias [4U]`` (a second cell in the
    same scope gets ``lstm_fused_cell_1``), peepholes as :func:`lstm_block_cell`. Same maths and layout.

    Modern equivalent: :func:`modern_rnn.contrib.lstm_block_fused_cell` (``RNN(..., time_major=True)``).
    """
    return LSTMBlockFusedCell(units, forget_bias, cell_clip, use_peephole, name=name)


def gru_block_cell(units: int, name: str = "gru_cell") -> GRUBlockCell:
    """``tf.contrib.rnn.GRUBlockCell``: the ``GRUCell`` maths in one kernel (``tf.raw_ops.GRUBlockCell``).

    v1 variable names: ``gru_cell/w_ru [D+U, 2U]`` (blocks r, u; ``b_ru [2U]`` initialised to 1.0),
    ``w_c [D+U, U]``, ``b_c [U]``; the arrays are exactly ``GRUCell``'s ``gates/*`` and ``candidate/*``.

    Modern equivalent: :func:`modern_rnn.contrib.gru_block_cell` (``GRUCell(reset_after=False)``).
    """
    return GRUBlockCell(units, name=name)


def gru_block_cell_v2(units: int, name: str = "gru_cell") -> GRUBlockCellV2:
    """``tf.contrib.rnn.GRUBlockCellV2``: :func:`gru_block_cell` under the ``GRUCell`` names
    (``gates/kernel``, ``gates/bias``, ``candidate/kernel``, ``candidate/bias``).

    Modern equivalent: :func:`modern_rnn.contrib.gru_block_cell_v2` (``GRUCell(reset_after=False)``).
    """
    return GRUBlockCellV2(units, name=name)


def layer_norm_basic_lstm_cell(units: int, forget_bias: float = 1.0, layer_norm: bool = True, norm_gain: float = 1.0,
                               norm_shift: float = 0.0, dropout_keep_prob=1.0, dropout_prob_seed: Optional[int] = None,
                               name: str = "layer_norm_basic_lstm_cell") -> LayerNormBasicLSTMCell:
    """``tf.contrib.rnn.LayerNormBasicLSTMCell``: a BasicLSTMCell whose gate pre-activations and new c are
    layer-normalised (contrib ``layers.layer_norm``: population variance, **epsilon 1e-12**), with **no bias**.

    Variables under ``layer_norm_basic_lstm_cell/``: ``kernel [D+U, 4U]`` (blocks i, j, f, o) and ``gamma``/``beta``
    ``[U]`` under ``input/``, ``transform/``, ``forget/``, ``output/``, ``state/`` (initialised to ``norm_gain`` and
    ``norm_shift``). ``forget_bias`` is added after the normalisation. ``layer_norm=False`` gives a BasicLSTMCell
    (``kernel``, ``bias``) under this name. ``dropout_keep_prob`` drops the candidate ``tanh(j)`` (feed 1.0 at
    inference).

    Modern equivalent: :func:`modern_rnn.contrib.layer_norm_basic_lstm_cell`
    (:class:`modern_rnn.layer_norm_lstm.LayerNormLSTMCell`, forget_bias folded into ``beta_f``).
    """
    return LayerNormBasicLSTMCell(units, forget_bias, layer_norm, norm_gain, norm_shift, dropout_keep_prob,
                                  dropout_prob_seed, name)


def conv_lstm_cell(conv_ndims: int, input_shape, output_channels: int, kernel_shape, use_bias: bool = True,
                   forget_bias: float = 1.0, name: str = "conv_lstm_cell") -> ConvLSTMCell:
    """``tf.contrib.rnn.ConvLSTMCell`` (``Conv2DLSTMCell`` is ``conv_ndims=2`` named ``conv_2d_lstm_cell``): the
    LSTM maths with ``conv(concat([x, h], -1), kernel, padding='SAME', stride 1)`` instead of the matmul.

    Variables ``conv_lstm_cell/kernel [*kernel_shape, C_in + C, 4C]`` (gate blocks i, j, f, o on the last axis; the
    input channels first on the second-to-last) and ``biases [4C]`` (note the plural). ``forget_bias`` is a run-time
    constant. Inputs ``[B, T, *spatial, C_in]`` through ``dynamic_rnn``; state ``LSTMStateTuple(c, h)``.
    (``skip_connection`` is not rebuilt.)

    Modern equivalent: :func:`modern_rnn.contrib.conv_lstm_cell` (``ConvLSTM{1,2,3}D`` with ``padding='same'``,
    ``recurrent_activation='sigmoid'``).
    """
    return ConvLSTMCell(conv_ndims, input_shape, output_channels, kernel_shape, use_bias, forget_bias, name)
