"""``tf.contrib.cudnn_rnn``'s CPU-compatible cells, and the opaque cuDNN parameter buffer, for TensorFlow 2.21.

``CudnnLSTM``/``CudnnGRU`` train one opaque parameter buffer on the GPU; TF 1.x saved it (through
``CudnnOpaqueParamsSaveable``) under the canonical names of these two cells, so that CPU code could restore it:
``.../rnn/multi_rnn_cell/cell_k/cudnn_compatible_lstm_cell/{kernel,bias}`` and
``.../cudnn_compatible_gru_cell/{gates,candidate/input_projection,candidate/hidden_projection}/{kernel,bias}``.
The builders here create exactly those variables and compute what TF 1.15 computed (names and maths from
``tensorflow/contrib/cudnn_rnn/python/ops/cudnn_rnn_ops.py``):

* ``CudnnCompatibleLSTMCell`` is ``LSTMBlockCell(forget_bias=0, cell_clip=None, use_peephole=False)`` named
  ``cudnn_compatible_lstm_cell`` (cuDNN has no forget_bias; its two bias vectors are stored summed).
* ``CudnnCompatibleGRUCell`` computes cuDNN's GRU: ``r, u = sigmoid([x, h] G + g)``;
  ``c = tanh(x W_x + b_x + r * (h W_h + b_h))``; ``h' = u * h + (1 - u) * c``. The reset gate multiplies the
  recurrent projection **after** the matmul: the one TF1 GRU that equals Keras ``GRU(reset_after=True)``.

The opaque buffer itself (a ``cudnn_lstm/opaque_kernel`` variable) is split by :mod:`migration.cudnn_converters`.

Read beside :mod:`modern_rnn.cudnn`: the same names, in the same order.
"""
from __future__ import annotations

import tensorflow as tf

from legacy_rnn.contrib import LSTMBlockCell, GRUShapedCell

v1 = tf.compat.v1


class CudnnCompatibleGRUCell(GRUShapedCell):
    """``tf.contrib.cudnn_rnn.CudnnCompatibleGRUCell``; see :func:`cudnn_compatible_gru_cell`."""

    def __init__(self, num_units: int, name: str = "cudnn_compatible_gru_cell") -> None:
        super().__init__(num_units, name)

    def build(self, inputs_shape) -> None:
        depth, u = int(inputs_shape[-1]), self._num_units
        zeros = v1.zeros_initializer()
        self._gate_kernel = self.add_weight("gates/kernel", [depth + u, 2 * u])
        self._gate_bias = self.add_weight("gates/bias", [2 * u], initializer=v1.constant_initializer(1.0))
        self._in_kernel = self.add_weight("candidate/input_projection/kernel", [depth, u])
        self._hid_kernel = self.add_weight("candidate/hidden_projection/kernel", [u, u])
        self._in_bias = self.add_weight("candidate/input_projection/bias", [u], initializer=zeros)
        self._hid_bias = self.add_weight("candidate/hidden_projection/bias", [u], initializer=zeros)
        self.built = True

    def call(self, inputs, state):
        h = state[0] if isinstance(state, (list, tuple)) else state
        r, u = tf.split(tf.sigmoid(tf.matmul(tf.concat([inputs, h], 1), self._gate_kernel) + self._gate_bias), 2, 1)
        c = tf.tanh(tf.matmul(inputs, self._in_kernel) + self._in_bias
                    + r * (tf.matmul(h, self._hid_kernel) + self._hid_bias))
        new_h = u * h + (1 - u) * c
        return new_h, new_h


def cudnn_compatible_lstm_cell(units: int, name: str = "cudnn_compatible_lstm_cell") -> LSTMBlockCell:
    """``tf.contrib.cudnn_rnn.CudnnCompatibleLSTMCell``: an ``LSTMBlockCell`` with ``forget_bias=0`` (fixed), no clip,
    no peepholes, named ``cudnn_compatible_lstm_cell``: ``kernel [D+U, 4U]`` (blocks i, j, f, o), ``bias [4U]``
    (cuDNN's input and recurrent biases summed).

    Modern equivalent: :func:`modern_rnn.cudnn.cudnn_compatible_lstm_cell` (``LSTMCell``; nothing to fold).
    """
    return LSTMBlockCell(units, forget_bias=0.0, cell_clip=None, use_peephole=False, name=name)


def cudnn_compatible_gru_cell(units: int, name: str = "cudnn_compatible_gru_cell") -> CudnnCompatibleGRUCell:
    """``tf.contrib.cudnn_rnn.CudnnCompatibleGRUCell``: ``gates/kernel [D+U, 2U]`` (blocks r, u), ``gates/bias [2U]``
    (cuDNN's two biases summed), ``candidate/input_projection/{kernel [D, U], bias [U]}``,
    ``candidate/hidden_projection/{kernel [U, U], bias [U]}`` (kept apart: r multiplies the hidden one).

    Modern equivalent: :func:`modern_rnn.cudnn.cudnn_compatible_gru_cell` (``GRUCell(reset_after=True)``).
    """
    return CudnnCompatibleGRUCell(units, name)
