"""Keras 2 (``tf_keras``) twins of TF 1.15 ``tf.contrib.seq2seq`` attention: mechanisms as layers, an attention cell.

Read beside :mod:`legacy_rnn.seq2seq.attention_wrapper`: same class names, same maths, the same weights under the
same relative names (:meth:`AttentionWrapper.named_weights`), so :mod:`migration.seq2seq_converters` only has to
convert the wrapped cell's gate layout. The memory is runtime data, set with ``setup_memory(memory, lengths)``
(as tensorflow-addons did); every class is registered for ``.keras`` serialisation (``safe_mode=True`` loads it).

=====================================  ===========================================  ====================
weight (relative name)                 shape                                        TF1 twin
=====================================  ===========================================  ====================
``memory_layer/kernel``                ``[M, N]``                                   same name, top level
``bahdanau_attention/query_layer/kernel``  ``[Q, N]``                               ``.../attention_wrapper/...``
``bahdanau_attention/attention_v``     ``[N]``
``bahdanau_attention/attention_g``     ``[]`` (normalize)
``bahdanau_attention/attention_b``     ``[N]`` (normalize)
``luong_attention/attention_g``        ``[]`` (scale)
``attention_layer/kernel``             ``[Q + M, A]``
``cell/kernel``, ``cell/recurrent_kernel``, ``cell/bias``  Keras cell layout     ``.../attention_wrapper/<cell>/``
``cell/cell_<k>/kernel`` ... (a ``StackedRNNCells``)  layer ``k``            ``.../multi_rnn_cell/cell_<k>/<cell>/``
=====================================  ===========================================  ====================

Legacy equivalent: :mod:`legacy_rnn.seq2seq.attention_wrapper`.
"""
from __future__ import annotations

import collections
from typing import Callable, Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from migration.core.errors import check_positive_int

_PACKAGE = "modern_rnn.seq2seq"
register = keras.saving.register_keras_serializable(package=_PACKAGE)


class _AttentionMechanism(keras.layers.Layer):
    """Shared part: masked memory, ``memory_layer`` keys, ``-inf`` score mask, softmax."""

    scope_name = ""

    def __init__(self, units: int, probability_fn: str = "softmax", score_mask_value: Optional[float] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        if probability_fn not in ("softmax",):
            raise ValueError(f"Received an invalid value for `probability_fn`: expected 'softmax', got "
                             f"{probability_fn!r} (a callable cannot be serialised).")
        self.probability_fn = probability_fn
        self.score_mask_value = score_mask_value
        self.memory_layer = keras.layers.Dense(self.units, use_bias=False, name="memory_layer")
        self.values = self.keys = self.memory_mask = None

    def setup_memory(self, memory, memory_sequence_length=None) -> None:
        """``values = memory`` zeroed past each length; ``keys = memory_layer(values)``."""
        memory = tf.convert_to_tensor(memory)
        if memory_sequence_length is not None:
            self.memory_mask = tf.sequence_mask(memory_sequence_length, maxlen=tf.shape(memory)[1])
            memory = memory * tf.cast(self.memory_mask, memory.dtype)[:, :, None]
        else:
            self.memory_mask = None
        self.values = memory
        self.keys = self.memory_layer(memory)

    @property
    def alignments_size(self) -> int:
        return int(self.keys.shape[1])

    def initial_alignments(self, batch_size, dtype=tf.float32) -> tf.Tensor:
        size = self.keys.shape[1] if self.keys.shape[1] is not None else tf.shape(self.keys)[1]  # symbolic memory
        return tf.zeros([batch_size, size], dtype=dtype)

    def initial_state(self, batch_size, dtype=tf.float32) -> tf.Tensor:
        return self.initial_alignments(batch_size, dtype)

    def _probabilities(self, score: tf.Tensor) -> tf.Tensor:
        if self.memory_mask is not None:
            fill = float("-inf") if self.score_mask_value is None else self.score_mask_value
            score = tf.where(self.memory_mask, score, fill * tf.ones_like(score))
        return tf.nn.softmax(score)

    def call(self, query, state):
        if self.keys is None:
            raise ValueError(f"{type(self).__name__}: call setup_memory(memory, memory_sequence_length) first.")
        alignments = self._probabilities(self._score(query))
        return alignments, alignments

    def named_weights(self) -> dict[str, tf.Variable]:
        return {"memory_layer/kernel": self.memory_layer.kernel}

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "probability_fn": self.probability_fn,
                "score_mask_value": self.score_mask_value}


@register
class BahdanauAttention(_AttentionMechanism):
    """Additive attention: ``score = sum_n v_n tanh(keys + query @ W_q)``; with ``normalize=True``,
    ``v -> g * v / ||v||`` and ``+ b`` inside tanh (``g`` initialised to ``sqrt(1/N)``, ``b`` to 0).

    Weights: ``memory_layer/kernel [M, N]``, ``query_layer/kernel [Q, N]``, ``attention_v [N]``
    (+ ``attention_g []``, ``attention_b [N]``).

    Legacy equivalent: :class:`legacy_rnn.seq2seq.BahdanauAttention`.
    """

    scope_name = "bahdanau_attention"

    def __init__(self, units: int, normalize: bool = False, probability_fn: str = "softmax",
                 score_mask_value: Optional[float] = None, name: str = "BahdanauAttention", **kwargs) -> None:
        super().__init__(units, probability_fn, score_mask_value, name=name, **kwargs)
        self.normalize = bool(normalize)
        self.query_layer = keras.layers.Dense(self.units, use_bias=False, name="query_layer")

    def build(self, query_shape) -> None:
        self.query_layer.build(query_shape)
        self.attention_v = self.add_weight(name="attention_v", shape=[self.units])
        if self.normalize:
            self.attention_g = self.add_weight(name="attention_g", shape=[], initializer=keras.initializers.Constant(
                float(np.sqrt(1.0 / self.units))))
            self.attention_b = self.add_weight(name="attention_b", shape=[self.units], initializer="zeros")
        super().build(query_shape)

    def _score(self, query: tf.Tensor) -> tf.Tensor:
        processed = self.query_layer(query)[:, None, :]
        if self.normalize:
            v = self.attention_g * self.attention_v * tf.math.rsqrt(tf.reduce_sum(tf.square(self.attention_v)))
            return tf.reduce_sum(v * tf.tanh(self.keys + processed + self.attention_b), 2)
        return tf.reduce_sum(self.attention_v * tf.tanh(self.keys + processed), 2)

    def named_weights(self) -> dict[str, tf.Variable]:
        out = {**super().named_weights(), "bahdanau_attention/query_layer/kernel": self.query_layer.kernel,
               "bahdanau_attention/attention_v": self.attention_v}
        if self.normalize:
            out.update({"bahdanau_attention/attention_g": self.attention_g,
                        "bahdanau_attention/attention_b": self.attention_b})
        return out

    def get_config(self) -> dict:
        return {**super().get_config(), "normalize": self.normalize}


@register
class LuongAttention(_AttentionMechanism):
    """Multiplicative attention: ``score_t = query . keys_t`` (query depth must equal ``units``); with
    ``scale=True``, ``g * score`` (``g`` initialised to 1).

    Weights: ``memory_layer/kernel [M, N]`` (+ ``attention_g []``).

    Legacy equivalent: :class:`legacy_rnn.seq2seq.LuongAttention`.
    """

    scope_name = "luong_attention"

    def __init__(self, units: int, scale: bool = False, probability_fn: str = "softmax",
                 score_mask_value: Optional[float] = None, name: str = "LuongAttention", **kwargs) -> None:
        super().__init__(units, probability_fn, score_mask_value, name=name, **kwargs)
        self.scale = bool(scale)

    def build(self, query_shape) -> None:
        if int(query_shape[-1]) != self.units:
            raise ValueError(f"Received a query of depth {int(query_shape[-1])} for LuongAttention(units={self.units}):"
                             " the query (the cell output) must have `units` features.")
        if self.scale:
            self.attention_g = self.add_weight(name="attention_g", shape=[], initializer="ones")
        super().build(query_shape)

    def _score(self, query: tf.Tensor) -> tf.Tensor:
        score = tf.einsum("bn,btn->bt", query, self.keys)
        return self.attention_g * score if self.scale else score

    def named_weights(self) -> dict[str, tf.Variable]:
        out = super().named_weights()
        if self.scale:
            out["luong_attention/attention_g"] = self.attention_g
        return out

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale}


class AttentionWrapperState(collections.namedtuple(
        "AttentionWrapperState",
        ("cell_state", "attention", "time", "alignments", "alignment_history", "attention_state"))):
    """The state of :class:`AttentionWrapper`, field for field the TF1 namedtuple; ``cell_state`` is the Keras cell's
    state list (LSTM ``[h, c]``, TF1 ``(c, h)``); ``alignment_history`` a ``TensorArray`` or ``()``.

    Legacy equivalent: :class:`legacy_rnn.seq2seq.AttentionWrapperState`.
    """

    def clone(self, **kwargs) -> "AttentionWrapperState":
        return self._replace(**kwargs)


CELL_INPUT_FNS: dict[str, Callable[[tf.Tensor, tf.Tensor], tf.Tensor]] = {
    "concat": lambda inputs, attention: tf.concat([inputs, attention], -1),  # the TF1 default: inputs first
}


@register
class AttentionWrapper(keras.layers.Layer):
    """An attention RNN cell: the Keras cell ``cell`` plus one mechanism, stepped with ``wrapper(inputs, state)``::

        cell_output, cell_state' = cell(cell_input_fn(inputs, state.attention), state.cell_state)
        alignments = mechanism(cell_output);  context = alignments @ mechanism.values
        attention = concat([cell_output, context]) @ attention_layer/kernel   (or context)
        output = attention if output_attention else cell_output

    ``cell_input_fn`` is ``'concat'`` (TF1's default, ``[inputs, attention]``) or a callable (not serialisable).

    Legacy equivalent: :class:`legacy_rnn.seq2seq.AttentionWrapper`.
    """

    def __init__(self, cell, attention_mechanism, attention_layer_size: Optional[int] = None,
                 alignment_history: bool = False, cell_input_fn="concat", output_attention: bool = True,
                 name: str = "attention_wrapper", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if isinstance(cell, dict):
            cell = keras.layers.deserialize(cell)
        if isinstance(attention_mechanism, dict):
            attention_mechanism = keras.layers.deserialize(attention_mechanism)
        self.cell, self.attention_mechanism = cell, attention_mechanism
        if isinstance(cell_input_fn, str) and cell_input_fn not in CELL_INPUT_FNS:
            raise ValueError(f"Received an invalid value for `cell_input_fn`: expected one of {sorted(CELL_INPUT_FNS)}"
                             f" or a callable, got {cell_input_fn!r}.")
        self.cell_input_fn = cell_input_fn
        self._input_fn = CELL_INPUT_FNS[cell_input_fn] if isinstance(cell_input_fn, str) else cell_input_fn
        self.attention_layer_size = (None if attention_layer_size is None
                                     else check_positive_int("attention_layer_size", attention_layer_size))
        self.attention_layer = (None if attention_layer_size is None else
                                keras.layers.Dense(attention_layer_size, use_bias=False, name="attention_layer"))
        self.alignment_history, self.output_attention = bool(alignment_history), bool(output_attention)

    def setup_memory(self, memory, memory_sequence_length=None) -> None:
        self.attention_mechanism.setup_memory(memory, memory_sequence_length)

    @property
    def attention_size(self) -> int:
        return self.attention_layer_size or int(self.attention_mechanism.values.shape[-1])

    def get_initial_state(self, batch_size: int, dtype=tf.float32, cell_state=None) -> AttentionWrapperState:
        mech = self.attention_mechanism
        if cell_state is None:
            cell_state = self.cell.get_initial_state(batch_size=batch_size, dtype=dtype)
        history = (tf.TensorArray(dtype, size=0, dynamic_size=True) if self.alignment_history else ())
        return AttentionWrapperState(
            cell_state=cell_state, attention=tf.zeros([batch_size, self.attention_size], dtype),
            time=tf.zeros([], tf.int32), alignments=mech.initial_alignments(batch_size, dtype),
            alignment_history=history, attention_state=mech.initial_state(batch_size, dtype))

    zero_state = get_initial_state

    def call(self, inputs, state: AttentionWrapperState):
        cell_inputs = self._input_fn(inputs, state.attention)
        cell_output, next_cell_state = self.cell(cell_inputs, state.cell_state)
        mech = self.attention_mechanism
        alignments, next_attention_state = mech(cell_output, state.attention_state)
        context = tf.einsum("bt,btm->bm", alignments, mech.values)
        attention = (self.attention_layer(tf.concat([cell_output, context], 1)) if self.attention_layer is not None
                     else context)
        history = state.alignment_history.write(state.time, alignments) if self.alignment_history else ()
        next_state = AttentionWrapperState(
            cell_state=next_cell_state, attention=attention, time=state.time + 1, alignments=alignments,
            alignment_history=history, attention_state=next_attention_state)
        return (attention if self.output_attention else cell_output), next_state

    def named_weights(self) -> dict[str, tf.Variable]:
        """Every weight under its TF1-relative name (the cell's in Keras layout under ``cell/``)."""
        out = dict(self.attention_mechanism.named_weights())
        if self.attention_layer is not None:
            out["attention_layer/kernel"] = self.attention_layer.kernel
        names = ("kernel", "recurrent_kernel", "bias")
        stacked = isinstance(self.cell, keras.layers.StackedRNNCells)
        for prefix, cell in ([(f"cell/cell_{k}/", c) for k, c in enumerate(self.cell.cells)] if stacked
                             else [("cell/", self.cell)]):
            if len(cell.weights) != 3:
                raise NotImplementedError("named_weights covers cells with kernel/recurrent_kernel/bias only.")
            out.update({prefix + n: w for n, w in zip(names, cell.weights)})
        return out

    def get_config(self) -> dict:
        if not isinstance(self.cell_input_fn, str):
            raise ValueError("AttentionWrapper with a callable cell_input_fn cannot be serialised; use 'concat'.")
        return {**super().get_config(), "cell": keras.layers.serialize(self.cell),
                "attention_mechanism": keras.layers.serialize(self.attention_mechanism),
                "attention_layer_size": self.attention_layer_size, "alignment_history": self.alignment_history,
                "cell_input_fn": self.cell_input_fn, "output_attention": self.output_attention}
