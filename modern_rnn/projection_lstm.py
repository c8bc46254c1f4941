"""``ProjectionLSTMCell``: the Keras 2 twin of TF1 ``LSTMCell(use_peepholes, num_proj, cell_clip, proj_clip)``.

Stock tf_keras has no peepholes, no projection and no clipping (and no ``PeepholeLSTMCell`` any more), so a TF1
``LSTMCell`` with any of them needs this cell. Maths (Keras gate order ``i, f, c, o``; forget_bias is folded into the
forget-gate bias by :func:`migration.converters.cell_to_keras`, so there is no run-time constant):

.. math::

    z &= x W + m_{t-1} R + b \\qquad (i, f, \\hat c, o = \\mathrm{split}(z, 4)) \\\\
    c_t &= \\sigma(f + p_f \\odot c_{t-1}) \\odot c_{t-1} + \\sigma(i + p_i \\odot c_{t-1}) \\odot \\tanh(\\hat c) \\\\
    c_t &= \\mathrm{clip}(c_t, \\pm\\,\\text{cell_clip}) \\\\
    m_t &= \\sigma(o + p_o \\odot c_t) \\odot \\tanh(c_t) \\qquad \\text{(the new } c_t\\text{)} \\\\
    m_t &= \\mathrm{clip}(m_t P, \\pm\\,\\text{proj_clip})

Weights (``get_weights()`` order), D = input depth, U = units, R = num_proj or U:

=====================  ========  ==============================================
``kernel``             [D, 4U]   TF1 ``kernel[:D]``, blocks reordered i,j,f,o -> i,f,c,o
``recurrent_kernel``   [R, 4U]   TF1 ``kernel[D:]``, same reorder
``bias``               [4U]      same reorder, ``b_f + forget_bias``
``w_i_diag``           [U]       peepholes only (TF1 ``w_i_diag``)
``w_f_diag``           [U]       peepholes only
``w_o_diag``           [U]       peepholes only
``projection_kernel``  [U, P]    num_proj only (TF1 ``projection/kernel``)
=====================  ========  ==============================================

State: ``[m, c]`` (Keras order, ``m`` first like ``[h, c]``); TF1's ``LSTMStateTuple(c, m)``. Output: ``m``.
Legacy equivalent: ``legacy_rnn.lstm_cell(..., use_peepholes=True, num_proj=P, cell_clip=..., proj_clip=...)``.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf
import tf_keras as keras


@keras.saving.register_keras_serializable(package="modern_rnn")
class ProjectionLSTMCell(keras.layers.Layer):
    """LSTM cell with optional diagonal peepholes, output projection and cell/projection clipping."""

    def __init__(self, units: int, use_peepholes: bool = False, num_proj: Optional[int] = None,
                 cell_clip: Optional[float] = None, proj_clip: Optional[float] = None,
                 activation: str = "tanh", kernel_initializer: str = "glorot_uniform",
                 recurrent_initializer: str = "orthogonal", bias_initializer: str = "zeros", **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(f"Received an invalid value for `units`: expected a positive integer, got {units!r}.")
        if num_proj is not None and (not isinstance(num_proj, int) or num_proj <= 0):
            raise ValueError(f"Received an invalid value for `num_proj`: expected a positive integer or None, got {num_proj!r}.")
        if proj_clip is not None and num_proj is None:
            raise ValueError("Received an invalid value for `proj_clip`: it needs `num_proj`.")
        self.units = units
        self.use_peepholes = bool(use_peepholes)
        self.num_proj = num_proj
        self.cell_clip = cell_clip
        self.proj_clip = proj_clip
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        out = num_proj if num_proj is not None else units
        self.state_size = [out, units]
        self.output_size = out

    def build(self, input_shape) -> None:
        depth = int(input_shape[-1])
        u, r = self.units, self.output_size
        self.kernel = self.add_weight(name="kernel", shape=(depth, 4 * u), initializer=self.kernel_initializer)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(r, 4 * u), initializer=self.recurrent_initializer)
        self.bias = self.add_weight(name="bias", shape=(4 * u,), initializer=self.bias_initializer)
        if self.use_peepholes:
            self.w_i_diag = self.add_weight(name="w_i_diag", shape=(u,), initializer=self.kernel_initializer)
            self.w_f_diag = self.add_weight(name="w_f_diag", shape=(u,), initializer=self.kernel_initializer)
            self.w_o_diag = self.add_weight(name="w_o_diag", shape=(u,), initializer=self.kernel_initializer)
        if self.num_proj is not None:
            self.projection_kernel = self.add_weight(name="projection_kernel", shape=(u, self.num_proj),
                                                     initializer=self.kernel_initializer)
        self.built = True

    def call(self, inputs, states, training=None):
        m_prev, c_prev = states[0], states[1]
        z = tf.matmul(inputs, self.kernel) + tf.matmul(m_prev, self.recurrent_kernel) + self.bias
        i, f, c_hat, o = tf.split(z, 4, axis=-1)
        if self.use_peepholes:
            i = i + self.w_i_diag * c_prev
            f = f + self.w_f_diag * c_prev
        c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * self.activation(c_hat)
        if self.cell_clip is not None:
            c = tf.clip_by_value(c, -self.cell_clip, self.cell_clip)
        if self.use_peepholes:
            o = o + self.w_o_diag * c
        m = tf.sigmoid(o) * self.activation(c)
        if self.num_proj is not None:
            m = tf.matmul(m, self.projection_kernel)
            if self.proj_clip is not None:
                m = tf.clip_by_value(m, -self.proj_clip, self.proj_clip)
        return m, [m, c]

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            batch_size = tf.shape(inputs)[0]
            dtype = inputs.dtype
        dtype = dtype or tf.float32
        return [tf.zeros([batch_size, self.output_size], dtype), tf.zeros([batch_size, self.units], dtype)]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units, use_peepholes=self.use_peepholes, num_proj=self.num_proj, cell_clip=self.cell_clip,
            proj_clip=self.proj_clip, activation=keras.activations.serialize(self.activation),
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            recurrent_initializer=keras.initializers.serialize(self.recurrent_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config
