"""The maths of ``tf.contrib.crf`` for TensorFlow 2.21: linear-chain CRF log-likelihood and Viterbi decoding in TF ops.

TF 2 ships no CRF kernel (``tf.contrib`` and TensorFlow Addons are gone), so this module computes what TF 1.15's
``tensorflow/contrib/crf/python/ops/crf.py`` computed, from its equations, in graph-compatible ops:

* score of a tag path y for potentials ``inputs [B, T, N]`` (unary) and ``transitions [N, N]`` (binary):
  ``s(y) = sum_{t < len} inputs[t, y_t] + sum_{t < len - 1} transitions[y_t, y_{t+1}]``;
* ``log Z = logsumexp_y s(y)`` by the forward recursion ``a_t = logsumexp_i(a_{t-1}[i] + transitions[i, :]) +
  inputs[t]`` (frozen past each length);
* ``log_likelihood = s(tags) - log Z``; a length 0 gives score 0 and log Z 0 (TF 1.15);
* ``crf_decode``: Viterbi, the best path and its score.

The transition matrix is the variable ``transitions [N, N]`` (``get_variable('transitions', ...)``, created by
``crf_log_likelihood`` when no ``transition_params`` are passed).

One implementation for both twins: :mod:`legacy_rnn.crf` (graph code, ``get_variable``) and :mod:`modern_rnn.crf`
(the Keras ``CRF`` layer) call these functions, so the two sides cannot drift. It lives in the bottom layer because
the two libraries must not import each other; it imports TensorFlow and NumPy, nothing else.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def _mask(lengths, steps, dtype=tf.float32):
    return tf.sequence_mask(lengths, steps, dtype=dtype)


def crf_unary_score(tag_indices, sequence_lengths, inputs):
    """``sum_{t < len} inputs[t, y_t]`` of the tag paths ``[B, T]``. Shape ``[B]``."""
    inputs = tf.convert_to_tensor(inputs)
    tags = tf.cast(tag_indices, tf.int32)
    mask = _mask(sequence_lengths, tf.shape(tags)[1], inputs.dtype)
    return tf.reduce_sum(tf.gather(inputs, tags, axis=2, batch_dims=2) * mask, 1)


def crf_binary_score(tag_indices, sequence_lengths, transition_params):
    """``sum_{t < len - 1} transitions[y_t, y_{t+1}]`` of the tag paths ``[B, T]``. Shape ``[B]``."""
    transition_params = tf.convert_to_tensor(transition_params)
    tags = tf.cast(tag_indices, tf.int32)
    mask = _mask(sequence_lengths, tf.shape(tags)[1], transition_params.dtype)
    pairs = tf.gather_nd(transition_params, tf.stack([tags[:, :-1], tags[:, 1:]], -1))
    return tf.reduce_sum(pairs * mask[:, 1:], 1)


def crf_sequence_score(inputs, tag_indices, sequence_lengths, transition_params):
    """``s(y)`` of the given tag paths ``[B, T]``: unary plus binary scores up to each length. Shape ``[B]``.
    """
    return (crf_unary_score(tag_indices, sequence_lengths, inputs)
            + crf_binary_score(tag_indices, sequence_lengths, transition_params))


def crf_multitag_sequence_score(inputs, tag_bitmap, sequence_lengths, transition_params):
    """``log sum_{y allowed by tag_bitmap [B, T, N]} exp s(y)``: the forward recursion over potentials set to
    ``-inf`` where a tag is not allowed; with one time step (TF 1.15's branch) the logsumexp of the allowed
    potentials, whatever the length. Shape ``[B]``."""
    inputs = tf.convert_to_tensor(inputs)
    filtered = tf.where(tf.cast(tag_bitmap, tf.bool), inputs, tf.fill(tf.shape(inputs), float("-inf")))
    if tf.compat.dimension_value(inputs.shape[1]) == 1:
        return tf.reduce_logsumexp(filtered, axis=[1, 2])
    return crf_log_norm(filtered, sequence_lengths, transition_params)


def crf_log_norm(inputs, sequence_lengths, transition_params):
    """``log Z`` by the forward recursion; 0 for a length-0 sequence. Shape ``[B]``.
    """
    inputs = tf.convert_to_tensor(inputs)
    lengths = tf.cast(sequence_lengths, tf.int32)
    steps = tf.shape(inputs)[1]

    def step(alpha, t):
        new = tf.reduce_logsumexp(alpha[:, :, None] + transition_params[None], 1) + inputs[:, t]
        return tf.where((t < lengths)[:, None], new, alpha)

    alpha = tf.foldl(lambda a, t: step(a, t), tf.range(1, steps), initializer=inputs[:, 0])
    return tf.where(lengths > 0, tf.reduce_logsumexp(alpha, 1), tf.zeros_like(alpha[:, 0]))


def crf_log_likelihood(inputs, tag_indices, sequence_lengths, transition_params=None):
    """``(log_likelihood [B], transition_params)``; creates ``transitions [N, N]`` with ``get_variable`` when
    ``transition_params`` is None (as TF 1.15 did; graph mode only)."""
    inputs = tf.convert_to_tensor(inputs)
    if transition_params is None:
        tags = int(inputs.shape[-1])
        transition_params = tf.compat.v1.get_variable("transitions", [tags, tags], inputs.dtype)
    score = crf_sequence_score(inputs, tag_indices, sequence_lengths, transition_params)
    return score - crf_log_norm(inputs, sequence_lengths, transition_params), transition_params


def crf_decode(potentials, transition_params, sequence_length):
    """Viterbi: ``(decode_tags [B, T] int32, best_score [B])``; tags past each length are 0. With one time step
    (T == 1) TF 1.15 took a separate branch: the argmax tag and the max potential, whatever the length.
    """
    potentials = tf.convert_to_tensor(potentials)
    if tf.compat.dimension_value(potentials.shape[1]) == 1:
        return _decode_one_step(potentials)
    if tf.compat.dimension_value(potentials.shape[1]) is None:   # T known only at run time
        return tf.cond(tf.equal(tf.shape(potentials)[1], 1), lambda: _decode_one_step(potentials),
                       lambda: _decode_steps(potentials, transition_params, sequence_length))
    return _decode_steps(potentials, transition_params, sequence_length)


def _decode_one_step(potentials):
    """TF 1.15's length-1 branch: the argmax tag and the max potential (the length is not consulted)."""
    first = potentials[:, 0]
    return tf.argmax(first, 1, output_type=tf.int32)[:, None], tf.reduce_max(first, 1)


def _decode_steps(potentials, transition_params, sequence_length):
    lengths = tf.cast(sequence_length, tf.int32)
    steps, tags = tf.shape(potentials)[1], tf.shape(potentials)[2]

    def forward(carry, t):
        score, _ = carry
        cand = score[:, :, None] + transition_params[None]           # [B, from, to]
        best, back = tf.reduce_max(cand, 1) + potentials[:, t], tf.argmax(cand, 1, output_type=tf.int32)
        live = (t < lengths)[:, None]
        identity = tf.broadcast_to(tf.range(tags)[None], tf.shape(back))
        return tf.where(live, best, score), tf.where(live, back, identity)

    init = (potentials[:, 0], tf.zeros_like(potentials[:, 0], tf.int32))
    scores, backs = tf.scan(forward, tf.range(1, steps), initializer=init)   # backs [T-1, B, N]
    final = tf.concat([init[0][None], scores], 0)[-1]   # scores is empty when the cond takes the other branch
    last = tf.argmax(final, 1, output_type=tf.int32)

    def backward(tag, back):
        return tf.gather(back, tag, batch_dims=1)

    earlier = tf.scan(backward, backs, initializer=last, reverse=True)      # [T-1, B]: tag at t from t+1
    path = tf.transpose(tf.concat([earlier, last[None]], 0))
    mask = _mask(lengths, steps, tf.int32)
    return path * mask, tf.where(lengths > 0, tf.reduce_max(final, 1), tf.zeros_like(final[:, 0]))


def viterbi_decode(score, transition_params):
    """``tf.contrib.crf.viterbi_decode``: NumPy Viterbi for one sequence ``score [T, N]`` -> ``(path list, best
    score)`` (TF 1.15 ran it outside the graph, on fetched potentials).
    """
    score, trans = np.asarray(score, np.float64), np.asarray(transition_params, np.float64)
    trellis, backpointers = score[0].copy(), []
    for t in range(1, score.shape[0]):
        cand = trellis[:, None] + trans
        backpointers.append(np.argmax(cand, 0))
        trellis = np.max(cand, 0) + score[t]
    path = [int(np.argmax(trellis))]
    for back in reversed(backpointers):
        path.append(int(back[path[-1]]))
    return path[::-1], float(np.max(trellis))
