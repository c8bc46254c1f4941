"""The rest of TF 1.15's ``tf.contrib.rnn`` that is not a cell family of its own: the fused-cell interface and its two
adaptors, the dimension-named ConvLSTM classes, ``HighwayWrapper``, ``CompiledWrapper``, the ``LayerRNNCell`` base and
two helpers of ``rnn.py``. Each keeps TF 1.15's signature, variable names and maths
(``tests/core/test_contrib_rnn_misc.py`` checks them against TensorFlow's own ops and a NumPy reference).

Conversion: the Conv*DLSTMCell classes write the ConvLSTM family's variables (``conv_{1,2,3}d_lstm_cell/...``, which
``convert`` reads); the fused adaptors add no variable of their own (the adapted cell's are converted as usual).
``HighwayWrapper``'s ``carry_w``/``carry_b`` (and ``transform_w``/``transform_b``) have no Keras twin yet: ``convert``
reports them as unrecognized variables, by name.
"""
from __future__ import annotations

import abc

import legacy_rnn  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf
from tensorflow.python.framework import op_def_registry  # is_stateful per op type (CompiledWrapper)

from legacy_rnn.contrib import ConvLSTMCell
from legacy_rnn.wrappers import Wrapper

v1 = tf.compat.v1
rnn_cell = v1.nn.rnn_cell

#: TF 1.x's ``rnn_cell_impl.LayerRNNCell`` (the base of BasicRNNCell, GRUCell, LSTMCell...): variables in ``build``,
#: the layer's scope named after the cell. TF 2.x exports it under no public name; it is BasicRNNCell's parent.
LayerRNNCell = rnn_cell.BasicRNNCell.__mro__[1]
assert LayerRNNCell.__name__ == "LayerRNNCell", LayerRNNCell


def transpose_batch_time(x):
    """``[B, T, ...]`` <-> ``[T, B, ...]`` (TF 1.15 ``rnn._transpose_batch_time``): a tensor of rank < 2 is returned
    as it is; the static shape follows the swap."""
    static = x.get_shape()
    if static.rank is not None and static.rank < 2:
        return x
    x_t = tf.transpose(x, tf.concat(([1, 0], tf.range(2, tf.rank(x))), axis=0))
    if static.rank is not None:
        x_t.set_shape(tf.TensorShape([static.dims[1], static.dims[0]]).concatenate(static[2:]))
    return x_t


def best_effort_input_batch_size(flat_input):
    """The batch size of time-major inputs (TF 1.15 ``rnn._best_effort_input_batch_size``): the first static
    ``shape[1]`` found, else the dynamic ``tf.shape(flat_input[0])[1]``; a known rank below 2 is a ``ValueError``."""
    for input_ in flat_input:
        shape = input_.shape
        if shape.rank is None:
            continue
        if shape.rank < 2:
            raise ValueError(f"Expected input tensor {input_} to have rank at least 2")
        if shape.dims[1] is not None and tf.compat.dimension_value(shape.dims[1]) is not None:
            return tf.compat.dimension_value(shape.dims[1])
    return tf.shape(flat_input[0])[1]


class Conv1DLSTMCell(ConvLSTMCell):
    """``tf.contrib.rnn.Conv1DLSTMCell``: ``ConvLSTMCell(conv_ndims=1)`` under ``conv_1d_lstm_cell``."""

    def __init__(self, name="conv_1d_lstm_cell", **kwargs):
        super().__init__(conv_ndims=1, name=name, **kwargs)


class Conv2DLSTMCell(ConvLSTMCell):
    """``tf.contrib.rnn.Conv2DLSTMCell``: ``ConvLSTMCell(conv_ndims=2)`` under ``conv_2d_lstm_cell``."""

    def __init__(self, name="conv_2d_lstm_cell", **kwargs):
        super().__init__(conv_ndims=2, name=name, **kwargs)


class Conv3DLSTMCell(ConvLSTMCell):
    """``tf.contrib.rnn.Conv3DLSTMCell``: ``ConvLSTMCell(conv_ndims=3)`` under ``conv_3d_lstm_cell``."""

    def __init__(self, name="conv_3d_lstm_cell", **kwargs):
        super().__init__(conv_ndims=3, name=name, **kwargs)


class FusedRNNCell(abc.ABC):
    """TF 1.15's abstract fused cell: the whole sequence in one call, time-major ``[T, B, D]`` or a list of T
    ``[B, D]``; returns ``(outputs, final_state)`` of the same form."""

    @abc.abstractmethod
    def __call__(self, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
        """Run the fused RNN over ``inputs`` from ``initial_state`` (zeros of ``dtype`` when None)."""


class FusedRNNCellAdaptor(FusedRNNCell):
    """An ``RNNCell`` used as a :class:`FusedRNNCell`: ``dynamic_rnn(time_major=True)`` or ``static_rnn``."""

    def __init__(self, cell, use_dynamic_rnn=False):
        self._cell = cell
        self._use_dynamic_rnn = use_dynamic_rnn

    def __call__(self, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
        is_list = isinstance(inputs, list)
        if self._use_dynamic_rnn:
            outputs, state = v1.nn.dynamic_rnn(self._cell, tf.stack(inputs) if is_list else inputs,
                                               sequence_length=sequence_length, initial_state=initial_state,
                                               dtype=dtype, time_major=True, scope=scope)
            return (tf.unstack(outputs) if is_list else outputs), state
        outputs, state = v1.nn.static_rnn(self._cell, inputs if is_list else tf.unstack(inputs),
                                          initial_state=initial_state, dtype=dtype,
                                          sequence_length=sequence_length, scope=scope)
        return (outputs if is_list else tf.stack(outputs)), state


class TimeReversedFusedRNN(FusedRNNCell):
    """A :class:`FusedRNNCell` run backwards in time: inputs reversed (within each ``sequence_length`` for a tensor;
    a list is reversed whole, as TF 1.15 did), the cell run, its outputs reversed back."""

    def __init__(self, cell):
        self._cell = cell

    @staticmethod
    def _reverse(t, lengths):
        if isinstance(t, list):
            return list(reversed(t))
        if lengths is None:
            return tf.reverse(t, [0])
        return tf.reverse_sequence(t, lengths, seq_axis=0, batch_axis=1)

    def __call__(self, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
        outputs, state = self._cell(self._reverse(inputs, sequence_length), initial_state=initial_state, dtype=dtype,
                                    sequence_length=sequence_length, scope=scope)
        return self._reverse(outputs, sequence_length), state


class LSTMBlockWrapper(FusedRNNCell):
    """TF 1.15's abstract base of the fused LSTMs (``LSTMBlockFusedCell``): a subclass gives ``num_units`` and
    ``_call_cell(inputs, initial_cell_state, initial_output, dtype, sequence_length)`` returning the
    ``[T, B, U]`` cell states and outputs; this class runs it and picks each sequence's final state."""

    @property
    @abc.abstractmethod
    def num_units(self):
        """The number of units of the LSTM."""

    @abc.abstractmethod
    def _call_cell(self, inputs, initial_cell_state, initial_output, dtype, sequence_length):
        """``(cs, outputs)``, each ``[T, B, num_units]``."""

    def __call__(self, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
        is_list = isinstance(inputs, list)
        x = tf.stack(inputs) if is_list else tf.convert_to_tensor(inputs)
        dtype = dtype or x.dtype
        batch = tf.shape(x)[1]
        zeros = tf.zeros(tf.stack([batch, self.num_units]), dtype)
        c0, h0 = (zeros, zeros) if initial_state is None else initial_state
        with v1.variable_scope(scope or type(self).__name__):
            cs, outputs = self._call_cell(x, c0, h0, dtype, sequence_length)
        if sequence_length is None:
            c, h = cs[-1], outputs[-1]
        else:
            index = tf.stack([tf.maximum(tf.cast(sequence_length, tf.int32) - 1, 0), tf.range(batch)], axis=1)
            c, h = tf.gather_nd(cs, index), tf.gather_nd(outputs, index)
            empty = tf.equal(tf.cast(sequence_length, tf.int32), 0)[:, None]
            c, h = tf.where(empty, c0 * tf.ones_like(c), c), tf.where(empty, h0 * tf.ones_like(h), h)
        return (tf.unstack(outputs) if is_list else outputs), rnn_cell.LSTMStateTuple(c, h)


class HighwayWrapper(Wrapper):
    """``tf.contrib.rnn.HighwayWrapper``: ``out' = x * t + out * (1 - t)`` with the carry gate
    ``t = sigmoid(x @ carry_w + carry_b)`` (``carry_b`` starts at ``carry_bias_init``); uncoupled, the transform gate
    has its own ``transform_w``/``transform_b`` (starting at ``-carry_bias_init``). The variables live in the scope
    the wrapper is called in (TF 1.15 created them with ``get_variable`` outside the cell's scope); inputs and cell
    outputs must have the same structure and sizes."""

    def __init__(self, cell, couple_carry_transform_gates=True, carry_bias_init=1.0):
        super().__init__(cell)
        self._couple = couple_carry_transform_gates
        self._carry_bias_init = carry_bias_init

    def _highway(self, inp, out):
        size = tf.compat.dimension_value(inp.get_shape().with_rank(2)[1])
        carry_w = v1.get_variable("carry_w", [size, size], dtype=inp.dtype)
        carry_b = v1.get_variable("carry_b", [size], dtype=inp.dtype,
                                  initializer=v1.constant_initializer(self._carry_bias_init))
        carry = tf.sigmoid(v1.nn.xw_plus_b(inp, carry_w, carry_b))
        if self._couple:
            transform = 1 - carry
        else:
            transform_w = v1.get_variable("transform_w", [size, size], dtype=inp.dtype)
            transform_b = v1.get_variable("transform_b", [size], dtype=inp.dtype,
                                          initializer=v1.constant_initializer(-self._carry_bias_init))
            transform = tf.sigmoid(v1.nn.xw_plus_b(inp, transform_w, transform_b))
        return inp * carry + out * transform

    def __call__(self, inputs, state, scope=None):
        outputs, new_state = self._cell(inputs, state, scope=scope)
        tf.nest.assert_same_structure(inputs, outputs)
        tf.nest.map_structure(lambda i, o: i.get_shape().assert_is_compatible_with(o.get_shape()), inputs, outputs)
        return tf.nest.map_structure(self._highway, inputs, outputs), new_state


class CompiledWrapper(Wrapper):
    """``tf.contrib.rnn.CompiledWrapper``: the wrapped cell's step inside an XLA JIT scope (graph mode); stateful
    ops (initializers, random numbers) are left out of the compiled cluster unless ``compile_stateful``. The values
    are the wrapped cell's; no variable of its own."""

    def __init__(self, cell, compile_stateful=False):
        super().__init__(cell)
        self._compile_stateful = compile_stateful

    def __call__(self, inputs, state, scope=None):
        def compile_ops(node_def) -> bool:
            op_def = op_def_registry.get(node_def.op)
            return not (op_def is not None and op_def.is_stateful)

        with tf.xla.experimental.jit_scope(compile_ops=True if self._compile_stateful else compile_ops):
            return self._cell(inputs, state, scope=scope)

