"""TF 1.15 ``tf.contrib.seq2seq`` helpers (``helper.py``), rebuilt on ``tf.compat.v1`` graph mode.

A helper tells :class:`legacy_rnn.seq2seq.BasicDecoder` how to start (``initialize -> (finished, inputs)``), how to
read the cell output (``sample -> sample_ids``) and what to feed next (``next_inputs -> (finished, inputs, state)``).
Each one also gives ``sample_ids_shape`` (a ``TensorShape`` without the batch) and ``sample_ids_dtype``, from which
``BasicDecoder.output_size`` / ``output_dtype`` are built, as in 1.15.

* ``TrainingHelper``: teacher forcing; step t reads ``inputs[:, t]``; row done once ``t + 1 >= sequence_length``.
* ``GreedyEmbeddingHelper``: ``argmax(logits)`` embedded; ``SampleEmbeddingHelper``: a categorical sample of
  ``logits / softmax_temperature`` instead.
* ``ScheduledEmbeddingTrainingHelper``: with probability ``sampling_probability`` a row feeds the embedding of a
  sampled id (``sample_ids`` = that id) instead of the ground truth (``sample_ids`` = -1).
* ``ScheduledOutputTrainingHelper``: with probability ``sampling_probability`` a row feeds the cell output itself
  (``next_inputs_fn(output)`` if given; ``auxiliary_inputs[t + 1]`` concatenated); ``sample_ids`` are booleans.
* ``InferenceHelper``: ``sample_fn(outputs)`` and ``end_fn(sample_ids)``; feeds ``next_inputs_fn(sample_ids)`` or the
  samples themselves. ``CustomHelper``: the three functions given.

Random draws use TF 2.21's ops (``tf.random.categorical``, ``tf.random.uniform``) with the given seeds: the same
distributions as 1.15, not the same numbers for a given seed.

Modern equivalent: :mod:`modern_rnn.seq2seq.decoders` (``TrainingHelper`` and ``GreedyEmbeddingHelper``).
"""
from __future__ import annotations

import abc
from typing import Optional

import tensorflow as tf

v1 = tf.compat.v1
nest = tf.nest


def transpose_batch_time(t: tf.Tensor) -> tf.Tensor:
    """``[B, T, ...] <-> [T, B, ...]`` (rank < 2 unchanged), as 1.15 ``decoder._transpose_batch_time``."""
    if t.shape.rank is not None and t.shape.rank < 2:
        return t
    perm = tf.concat([[1, 0], tf.range(2, tf.rank(t))], 0)
    return tf.transpose(t, perm)


def _embedding_fn(embedding):
    return embedding if callable(embedding) else (lambda ids: tf.nn.embedding_lookup(embedding, ids))


def _categorical(logits, seed):
    return tf.cast(tf.random.categorical(logits, 1, seed=seed)[:, 0], tf.int32)


def _bernoulli(probs, batch_size, seed):
    return tf.random.uniform([batch_size], seed=seed) < probs


def _check_probability(sampling_probability):
    prob = tf.convert_to_tensor(sampling_probability, name="sampling_probability")
    if prob.shape.rank not in (0, 1):
        raise ValueError(f"sampling_probability must be either a scalar or a vector. saw shape: {prob.shape}")
    return prob


class Helper(abc.ABC):
    """``tf.contrib.seq2seq.Helper``: the interface :class:`BasicDecoder` calls (abstract)."""

    @property
    @abc.abstractmethod
    def batch_size(self):
        """Scalar int32 tensor."""

    @property
    @abc.abstractmethod
    def sample_ids_shape(self):
        """``TensorShape`` of one sample id, without the batch."""

    @property
    @abc.abstractmethod
    def sample_ids_dtype(self):
        """dtype of ``sample``'s result."""

    @abc.abstractmethod
    def initialize(self, name=None):
        """``(initial_finished, initial_inputs)``."""

    @abc.abstractmethod
    def sample(self, time, outputs, state, name=None):
        """``sample_ids``."""

    @abc.abstractmethod
    def next_inputs(self, time, outputs, state, sample_ids, name=None):
        """``(finished, next_inputs, next_state)``."""


class CustomHelper(Helper):
    """``tf.contrib.seq2seq.CustomHelper``: ``initialize_fn()``, ``sample_fn(time=, outputs=, state=)`` and
    ``next_inputs_fn(time=, outputs=, state=, sample_ids=)``; ``batch_size`` is known after ``initialize``."""

    def __init__(self, initialize_fn, sample_fn, next_inputs_fn, sample_ids_shape=None, sample_ids_dtype=None) -> None:
        self._initialize_fn, self._sample_fn, self._next_inputs_fn = initialize_fn, sample_fn, next_inputs_fn
        self._batch_size = None
        self._sample_ids_shape = tf.TensorShape(sample_ids_shape or [])
        self._sample_ids_dtype = sample_ids_dtype or tf.int32

    @property
    def batch_size(self):
        if self._batch_size is None:
            raise ValueError("batch_size accessed before initialize was called")
        return self._batch_size

    @property
    def sample_ids_shape(self):
        return self._sample_ids_shape

    @property
    def sample_ids_dtype(self):
        return self._sample_ids_dtype

    def initialize(self, name=None):
        with tf.name_scope(name or f"{type(self).__name__}Initialize"):
            finished, next_inputs = self._initialize_fn()
            if self._batch_size is None:
                self._batch_size = tf.size(finished)
        return finished, next_inputs

    def sample(self, time, outputs, state, name=None):
        with tf.name_scope(name or f"{type(self).__name__}Sample"):
            return self._sample_fn(time=time, outputs=outputs, state=state)

    def next_inputs(self, time, outputs, state, sample_ids, name=None):
        with tf.name_scope(name or f"{type(self).__name__}NextInputs"):
            return self._next_inputs_fn(time=time, outputs=outputs, state=state, sample_ids=sample_ids)


class _IntIdsHelper(Helper):
    """A helper whose sample ids are one int32 per batch row and whose batch size its constructor set
    (``TrainingHelper`` and ``GreedyEmbeddingHelper``, and their subclasses, in TF 1.15)."""

    @property
    def batch_size(self):
        return self._batch_size

    @property
    def sample_ids_shape(self):
        return tf.TensorShape([])

    @property
    def sample_ids_dtype(self):
        return tf.int32


class TrainingHelper(_IntIdsHelper):
    """``tf.contrib.seq2seq.TrainingHelper``: teacher forcing; step t reads ``inputs[:, t]``; a row finishes once
    ``t + 1 >= sequence_length``; ``sample_ids = argmax(outputs)``.

    Modern equivalent: :class:`modern_rnn.seq2seq.TrainingHelper`.
    """

    def __init__(self, inputs, sequence_length, time_major: bool = False, name: Optional[str] = None) -> None:
        with tf.name_scope(name or "TrainingHelper"):
            inputs = nest.map_structure(lambda x: tf.convert_to_tensor(x, name="inputs"), inputs)
            self._inputs = inputs if time_major else nest.map_structure(transpose_batch_time, inputs)
            self._sequence_length = tf.convert_to_tensor(sequence_length, name="sequence_length")
            if self._sequence_length.shape.rank != 1:
                raise ValueError(f"Expected sequence_length to be a vector, but received shape: "
                                 f"{self._sequence_length.shape}")
            self._zero_inputs = nest.map_structure(lambda x: tf.zeros_like(x[0]), self._inputs)
            self._batch_size = tf.size(self._sequence_length)

    def _read(self, time):
        return nest.map_structure(lambda x: x[tf.minimum(time, tf.shape(x)[0] - 1)], self._inputs)

    def initialize(self, name=None):
        finished = tf.equal(0, self._sequence_length)
        next_inputs = tf.cond(tf.reduce_all(finished), lambda: self._zero_inputs, lambda: self._read(0))
        return finished, next_inputs

    def sample(self, time, outputs, state=None, name=None):
        return tf.cast(tf.argmax(outputs, axis=-1), tf.int32)

    def next_inputs(self, time, outputs, state, sample_ids=None, name=None):
        next_time = time + 1
        finished = next_time >= self._sequence_length
        next_inputs = tf.cond(tf.reduce_all(finished), lambda: self._zero_inputs, lambda: self._read(next_time))
        return finished, next_inputs, state


class ScheduledEmbeddingTrainingHelper(TrainingHelper):
    """``tf.contrib.seq2seq.ScheduledEmbeddingTrainingHelper``: per row, with probability ``sampling_probability``,
    the next input is ``embedding(categorical sample of outputs)`` (``sample_ids`` = the id), else the ground truth
    (``sample_ids`` = -1)."""

    def __init__(self, inputs, sequence_length, embedding, sampling_probability, time_major: bool = False,
                 seed=None, scheduling_seed=None, name: Optional[str] = None) -> None:
        self._embedding_fn = _embedding_fn(embedding)
        self._sampling_probability = _check_probability(sampling_probability)
        self._seed, self._scheduling_seed = seed, scheduling_seed
        super().__init__(inputs=inputs, sequence_length=sequence_length, time_major=time_major, name=name)

    def sample(self, time, outputs, state=None, name=None):
        select = _bernoulli(self._sampling_probability, self.batch_size, self._scheduling_seed)
        return tf.where(select, _categorical(outputs, self._seed), tf.fill([self.batch_size], -1))

    def next_inputs(self, time, outputs, state, sample_ids=None, name=None):
        finished, base_next_inputs, state = super().next_inputs(time, outputs, state, sample_ids)

        def maybe_sample():
            sampled = sample_ids > -1
            embedded = self._embedding_fn(tf.maximum(sample_ids, 0))
            return tf.where(sampled[:, None], tf.cast(embedded, base_next_inputs.dtype), base_next_inputs)

        next_inputs = tf.cond(tf.reduce_all(finished), lambda: base_next_inputs, maybe_sample)
        return finished, next_inputs, state


class ScheduledOutputTrainingHelper(TrainingHelper):
    """``tf.contrib.seq2seq.ScheduledOutputTrainingHelper``: per row, with probability ``sampling_probability``, the
    next input is the cell output (through ``next_inputs_fn`` if given, with ``auxiliary_inputs[t + 1]``
    concatenated), else the ground truth; ``sample_ids`` are booleans (True = sampled)."""

    def __init__(self, inputs, sequence_length, sampling_probability, time_major: bool = False, seed=None,
                 next_inputs_fn=None, auxiliary_inputs=None, name: Optional[str] = None) -> None:
        self._sampling_probability = _check_probability(sampling_probability)
        if auxiliary_inputs is None:
            merged = inputs
            self._auxiliary = None
        else:
            inputs, auxiliary_inputs = tf.convert_to_tensor(inputs), tf.convert_to_tensor(auxiliary_inputs)
            merged = tf.concat([inputs, auxiliary_inputs], -1)
            self._auxiliary = auxiliary_inputs if time_major else transpose_batch_time(auxiliary_inputs)
        self._seed, self._next_inputs_fn = seed, next_inputs_fn
        super().__init__(inputs=merged, sequence_length=sequence_length, time_major=time_major, name=name)

    @property
    def sample_ids_dtype(self):
        return tf.bool

    def sample(self, time, outputs, state=None, name=None):
        return _bernoulli(self._sampling_probability, self.batch_size, self._seed)

    def next_inputs(self, time, outputs, state, sample_ids=None, name=None):
        finished, base_next_inputs, state = super().next_inputs(time, outputs, state, sample_ids)
        sampled = tf.cast(sample_ids, tf.bool)

        def maybe_sample():
            fed = outputs if self._next_inputs_fn is None else self._next_inputs_fn(outputs)
            if self._auxiliary is not None:
                aux = self._auxiliary[tf.minimum(time + 1, tf.shape(self._auxiliary)[0] - 1)]
                fed = tf.concat([fed, aux], -1)
            return tf.where(sampled[:, None], fed, base_next_inputs)

        no_samples = tf.logical_not(tf.reduce_any(sampled))
        next_inputs = tf.cond(tf.logical_or(tf.reduce_all(finished), no_samples), lambda: base_next_inputs,
                              maybe_sample)
        return finished, next_inputs, state


class GreedyEmbeddingHelper(_IntIdsHelper):
    """``tf.contrib.seq2seq.GreedyEmbeddingHelper``: feeds ``embedding[argmax(logits)]`` back; starts from
    ``start_tokens``; a row finishes when it samples ``end_token``. The decoder outputs must be logits.

    Modern equivalent: :class:`modern_rnn.seq2seq.GreedyEmbeddingHelper`.
    """

    def __init__(self, embedding, start_tokens, end_token) -> None:
        self._embedding_fn = _embedding_fn(embedding)
        self._start_tokens = tf.convert_to_tensor(start_tokens, dtype=tf.int32, name="start_tokens")
        self._end_token = tf.convert_to_tensor(end_token, dtype=tf.int32, name="end_token")
        if self._start_tokens.shape.rank != 1:
            raise ValueError("start_tokens must be a vector")
        self._batch_size = tf.size(self._start_tokens)
        if self._end_token.shape.rank != 0:
            raise ValueError("end_token must be a scalar")
        self._start_inputs = self._embedding_fn(self._start_tokens)

    def initialize(self, name=None):
        return tf.tile([False], [self._batch_size]), self._start_inputs

    def sample(self, time, outputs, state, name=None):
        if not tf.is_tensor(outputs):
            raise TypeError(f"Expected outputs to be a single Tensor, got: {type(outputs)}")
        return tf.cast(tf.argmax(outputs, axis=-1), tf.int32)

    def next_inputs(self, time, outputs, state, sample_ids, name=None):
        finished = tf.equal(sample_ids, self._end_token)
        next_inputs = tf.cond(tf.reduce_all(finished), lambda: self._start_inputs,
                              lambda: self._embedding_fn(sample_ids))
        return finished, next_inputs, state


class SampleEmbeddingHelper(GreedyEmbeddingHelper):
    """``tf.contrib.seq2seq.SampleEmbeddingHelper``: a categorical sample of ``logits / softmax_temperature``
    (default 1) instead of the argmax."""

    def __init__(self, embedding, start_tokens, end_token, softmax_temperature=None, seed=None) -> None:
        super().__init__(embedding, start_tokens, end_token)
        self._softmax_temperature, self._seed = softmax_temperature, seed

    def sample(self, time, outputs, state, name=None):
        if not tf.is_tensor(outputs):
            raise TypeError(f"Expected outputs to be a single Tensor, got: {type(outputs)}")
        logits = outputs if self._softmax_temperature is None else outputs / self._softmax_temperature
        return _categorical(logits, self._seed)


class InferenceHelper(Helper):
    """``tf.contrib.seq2seq.InferenceHelper``: ``sample_ids = sample_fn(outputs)``, ``finished = end_fn(sample_ids)``,
    next inputs ``next_inputs_fn(sample_ids)`` (or the samples themselves); starts from ``start_inputs``."""

    def __init__(self, sample_fn, sample_shape, sample_dtype, start_inputs, end_fn, next_inputs_fn=None) -> None:
        self._sample_fn, self._end_fn, self._next_inputs_fn = sample_fn, end_fn, next_inputs_fn
        self._sample_shape, self._sample_dtype = tf.TensorShape(sample_shape), sample_dtype
        self._start_inputs = tf.convert_to_tensor(start_inputs, name="start_inputs")
        self._batch_size = tf.shape(self._start_inputs)[0]

    @property
    def batch_size(self):
        return self._batch_size

    @property
    def sample_ids_shape(self):
        return self._sample_shape

    @property
    def sample_ids_dtype(self):
        return self._sample_dtype

    def initialize(self, name=None):
        return tf.tile([False], [self._batch_size]), self._start_inputs

    def sample(self, time, outputs, state, name=None):
        return self._sample_fn(outputs)

    def next_inputs(self, time, outputs, state, sample_ids, name=None):
        next_inputs = sample_ids if self._next_inputs_fn is None else self._next_inputs_fn(sample_ids)
        return self._end_fn(sample_ids), next_inputs, state


__all__ = ["Helper", "CustomHelper", "TrainingHelper", "GreedyEmbeddingHelper", "SampleEmbeddingHelper",
           "ScheduledEmbeddingTrainingHelper", "ScheduledOutputTrainingHelper", "InferenceHelper",
           "transpose_batch_time"]
