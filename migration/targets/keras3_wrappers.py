"""Keras 3 twin of ``tf.contrib.rnn.AttentionCellWrapper`` (TF 1.15 ``contrib/rnn/python/ops/rnn_cell.py``), the
cell wrapper with weights of its own: ``rnn_migrate>AttentionCell`` (``keras.ops`` only, every backend).

Imports only ``keras`` (the JAX check's isolated child process loads this file by its path,
:mod:`migration.targets.keras3_child`); register it before loading a file that holds it::

    import migration.targets.keras3_wrappers  # noqa: F401  (registers rnn_migrate>AttentionCell)
    import migration.targets.keras3_cells     # noqa: F401  (the wrapped cell, when it is a custom step)
    model = keras.saving.load_model("out/blocks/rnn_attention_cell_wrapper.keras3.keras", safe_mode=True)

The weights are the Keras 2 twin's (``modern_rnn.wrappers.AttentionCell``, from
:func:`migration.wrapper_converters.attention_cell_wrapper_to_keras`) per sublayer, unchanged: ``input_projection``
(``Dense(I)`` on ``[x, attns]``), ``cell`` (a Keras 3 cell: ``LSTMCell`` / ``GRUCell`` / ``SimpleRNNCell`` or a
custom step of ``keras3_cells``), ``attn_w [1, 1, A, V]``, ``attn_v [V]``, ``query`` (``Dense(V)``, its rows in Keras
state order ``[h, c]``), ``output_projection`` (``Dense(A)`` on ``[cell output, attns]``). One step, window
``W [B, L, A]``::

    x'      = [x, attns] @ input_projection            out, s' = cell(x', s)
    e_l     = attn_v . tanh(W_l @ attn_w[0, 0] + query(concat(s')))
    a       = softmax(e) over the L slots               attns' = sum_l a_l W_l
    y       = output_projection([out, attns'])          W' = concat(W[:, 1:], y)    (the oldest slot dropped)

The state is the cell's states (Keras order), ``attns [A]`` and the window flattened ``[L*A]`` (TF1's layout: slot
after slot); every state starts as zeros, as TF1's ``zero_state``.
"""
from __future__ import annotations

import keras
from keras import ops

PACKAGE = "rnn_migrate"


def _sizes(size) -> list:
    return list(size) if isinstance(size, (list, tuple)) else [size]


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentionCell(keras.layers.Layer):
    """``tf.contrib.rnn.AttentionCellWrapper(cell, attn_length, attn_size, attn_vec_size, input_size)`` as a Keras 3
    cell for ``keras.layers.RNN`` (see the module docstring)."""

    def __init__(self, cell, attn_length: int, attn_size: int, attn_vec_size: int, input_size: int,
                 **kwargs) -> None:
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        super().__init__(**kwargs)
        self.cell = cell
        self.attn_length, self.attn_size = int(attn_length), int(attn_size)
        self.attn_vec_size, self.input_size = int(attn_vec_size), int(input_size)
        self.cell_sizes = [int(s) for s in _sizes(cell.state_size)]
        self.state_size = self.cell_sizes + [self.attn_size, self.attn_size * self.attn_length]
        self.output_size = self.attn_size
        self.input_projection = keras.layers.Dense(self.input_size, name="input_projection")
        self.query = keras.layers.Dense(self.attn_vec_size, name="query")
        self.output_projection = keras.layers.Dense(self.attn_size, name="output_projection")

    def build(self, input_shape) -> None:
        a, v = self.attn_size, self.attn_vec_size
        self.input_projection.build((None, int(input_shape[-1]) + a))
        if not self.cell.built:
            self.cell.build((None, self.input_size))
        self.attn_w = self.add_weight(name="attn_w", shape=(1, 1, a, v), initializer="zeros")
        self.attn_v = self.add_weight(name="attn_v", shape=(v,), initializer="zeros")
        self.query.build((None, sum(self.cell_sizes)))
        cell_out = getattr(self.cell, "output_size", None) or self.cell_sizes[0]
        self.output_projection.build((None, int(cell_out) + a))
        self.built = True

    def call(self, inputs, states, training=None):
        n = len(self.cell_sizes)
        states = list(states)
        attns, window = states[n], ops.reshape(states[n + 1], (-1, self.attn_length, self.attn_size))
        x = self.input_projection(ops.concatenate([inputs, attns], axis=1))
        cell_out, new_cell = self.cell(x, states[:n], training=training)
        new_cell = list(new_cell) if isinstance(new_cell, (list, tuple)) else [new_cell]
        features = ops.matmul(window, self.attn_w[0, 0])  # TF1's 1x1 conv2d over the window: [B, L, V]
        y = ops.expand_dims(self.query(ops.concatenate(new_cell, axis=1)), 1)
        weights = ops.softmax(ops.sum(self.attn_v * ops.tanh(features + y), axis=-1), axis=-1)  # over the L slots
        new_attns = ops.sum(ops.expand_dims(weights, -1) * window, axis=1)
        output = self.output_projection(ops.concatenate([cell_out, new_attns], axis=1))
        new_window = ops.concatenate([window[:, 1:], ops.expand_dims(output, 1)], axis=1)
        return output, new_cell + [new_attns, ops.reshape(new_window, (-1, self.attn_length * self.attn_size))]

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    def get_config(self) -> dict:
        return {**super().get_config(), "cell": keras.saving.serialize_keras_object(self.cell),
                "attn_length": self.attn_length, "attn_size": self.attn_size, "attn_vec_size": self.attn_vec_size,
                "input_size": self.input_size}
