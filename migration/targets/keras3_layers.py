"""Keras 3 twins of rnn-migrate's two Keras 2 layers that are not RNN cells of a family: ``DropoutCell`` (TF1's
``DropoutWrapper`` keep-probability semantics for training) and the linear-chain ``CRF`` (``tf.contrib.crf``).

Written with ``keras.ops`` / ``keras.random`` only (no TensorFlow, nothing of rnn-migrate), registered as
``rnn_migrate>DropoutCell`` and ``rnn_migrate>CRF`` for safe-mode loading::

    import migration.targets.keras3_layers  # noqa: F401  (registers rnn_migrate>CRF, rnn_migrate>DropoutCell)
    model = keras.saving.load_model("out/crf/crf.keras3.keras", safe_mode=True)

* :class:`CRF`: the Keras 2 ``modern_rnn.CRF``'s weight (``transitions [N, N]``, row = previous tag, column = next
  tag, the checkpoint's array unchanged), ``call(potentials, lengths)`` = Viterbi ``(tags [B, T] int32, best_score
  [B])`` and ``log_likelihood(potentials, tags, lengths)``, from TF 1.15's equations (the same as
  :mod:`migration.core.crf_maths`): ``s(y) = sum_{t < len} u[t, y_t] + sum_{t < len - 1} A[y_t, y_{t+1}]``;
  ``log Z`` by the forward recursion frozen past each length; a length 0 gives score 0 and log Z 0; tags past a length
  are 0; with one time step TF 1.15's own branch (the argmax tag and the max potential, whatever the length).
* :class:`DropoutCell`: wraps any Keras 3 cell; with ``training=True`` a fresh mask every step on the input, on the
  new first state (``h``; an LSTM's ``c`` is never dropped) and on the output, survivors scaled by ``1/keep_prob``;
  inference is the bare cell (TF1: keep_prob fed 1.0).
"""
from __future__ import annotations

import keras
from keras import ops

PACKAGE = "rnn_migrate"


def _positions(potentials):
    """``[B, T]`` float positions 1..T built from the tensor itself (the time axis may be dynamic)."""
    return ops.cumsum(ops.ones_like(potentials[:, :, 0]), axis=1)


def _live(potentials, lengths):
    """``[T, B]`` bool: step t is inside sequence b's length."""
    return ops.transpose(ops.less_equal(_positions(potentials), ops.expand_dims(ops.cast(lengths, "float32"), 1)))


def crf_sequence_score(potentials, tags, lengths, transitions):
    """``s(y)`` of the tag paths ``tags [B, T]`` (unary scores up to each length, transitions up to length - 1)."""
    tags = ops.cast(tags, "int32")
    mask = ops.cast(ops.transpose(_live(potentials, lengths)), potentials.dtype)
    unary = ops.sum(ops.take_along_axis(potentials, ops.expand_dims(tags, -1), axis=2)[..., 0] * mask, axis=1)
    n = ops.shape(transitions)[0]
    pairs = ops.take(ops.reshape(transitions, (-1,)), tags[:, :-1] * n + tags[:, 1:])
    return unary + ops.sum(pairs * mask[:, 1:], axis=1)


def crf_log_norm(potentials, lengths, transitions):
    """``log Z`` (0 for a length-0 sequence)."""
    def step(alpha, xs):
        u_t, live_t = xs
        new = ops.logsumexp(ops.expand_dims(alpha, 2) + ops.expand_dims(transitions, 0), axis=1) + u_t
        alpha = ops.where(ops.expand_dims(live_t, 1), new, alpha)
        return alpha, alpha  # (Keras' TensorFlow scan wants ys of the carry's structure and dtypes)

    xs = (ops.transpose(potentials[:, 1:], (1, 0, 2)), _live(potentials, lengths)[1:])
    alpha, _ = ops.scan(step, potentials[:, 0], xs)
    return ops.where(ops.cast(lengths, "int32") > 0, ops.logsumexp(alpha, axis=1), ops.zeros_like(alpha[:, 0]))


def crf_log_likelihood(potentials, tags, lengths, transitions):
    return crf_sequence_score(potentials, tags, lengths, transitions) - crf_log_norm(potentials, lengths, transitions)


def crf_decode(potentials, transitions, lengths):
    """Viterbi ``(tags [B, T] int32, best_score [B])`` (see the module docstring)."""
    lengths = ops.cast(lengths, "int32")
    identity = ops.zeros_like(ops.cast(potentials[:, 0], "int32")) + ops.arange(ops.shape(transitions)[0],
                                                                                 dtype="int32")

    def forward(carry, xs):  # carry and ys (score, backpointers): Keras' TensorFlow scan wants them alike
        score, _ = carry
        u_t, live_t = xs
        cand = ops.expand_dims(score, 2) + ops.expand_dims(transitions, 0)  # [B, from, to]
        live_t = ops.expand_dims(live_t, 1)
        back = ops.where(live_t, ops.cast(ops.argmax(cand, axis=1), "int32"), identity)
        carry = (ops.where(live_t, ops.max(cand, axis=1) + u_t, score), back)
        return carry, carry

    xs = (ops.transpose(potentials[:, 1:], (1, 0, 2)), _live(potentials, lengths)[1:])
    (final, _), (_, backs) = ops.scan(forward, (potentials[:, 0], identity), xs)  # backs [T-1, B, N]
    last = ops.cast(ops.argmax(final, axis=1), "int32")

    def backward(tag, back):
        earlier = ops.take_along_axis(back, ops.expand_dims(tag, 1), axis=1)[:, 0]
        return earlier, earlier

    _, earlier = ops.scan(backward, last, backs, reverse=True)  # [T-1, B]: the tag at t, from t + 1
    path = ops.transpose(ops.concatenate([earlier, ops.expand_dims(last, 0)], axis=0))
    live = ops.transpose(_live(potentials, lengths))
    path = path * ops.cast(live, "int32")
    best = ops.where(lengths > 0, ops.max(final, axis=1), ops.zeros_like(final[:, 0]))
    # TF 1.15's one-step branch: the argmax tag and the max potential, the length not consulted
    single = ops.equal(ops.max(_positions(potentials)), 1.0)
    first = potentials[:, 0]
    path = ops.where(single, ops.expand_dims(ops.cast(ops.argmax(first, axis=1), "int32"), 1), path)
    return path, ops.where(single, ops.max(first, axis=1), best)


@keras.saving.register_keras_serializable(package=PACKAGE)
class CRF(keras.layers.Layer):
    """Linear-chain CRF over potentials ``[B, T, N]`` (the Keras 2 ``modern_rnn.CRF``'s twin; see the module
    docstring): ``call(potentials, lengths)`` -> ``(tags, best_score)``; ``log_likelihood(potentials, tags,
    lengths)`` for training (``-mean`` is the loss)."""

    def __init__(self, num_tags: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags <= 0:
            raise ValueError(f"Received an invalid value for `num_tags`: expected a positive integer, got {num_tags!r}.")
        self.num_tags = num_tags

    def build(self, *args, **kwargs) -> None:
        self.transitions = self.add_weight(name="transitions", shape=(self.num_tags, self.num_tags),
                                           initializer="glorot_uniform")
        self.built = True

    def log_likelihood(self, potentials, tags, lengths):
        if not self.built:
            self.build()
        return crf_log_likelihood(potentials, tags, lengths, self.transitions)

    def call(self, potentials, lengths):
        return crf_decode(potentials, self.transitions, lengths)

    def compute_output_spec(self, potentials, lengths):
        batch, steps = potentials.shape[0], potentials.shape[1]
        return (keras.KerasTensor((batch, steps), dtype="int32"), keras.KerasTensor((batch,), dtype=potentials.dtype))

    def get_config(self) -> dict:
        return {**super().get_config(), "num_tags": self.num_tags}


@keras.saving.register_keras_serializable(package=PACKAGE)
class DropoutCell(keras.layers.Layer):
    """Wrap a Keras 3 ``cell`` with TF1's ``DropoutWrapper`` keep probabilities (1.0 = no dropout; see the module
    docstring). The Keras 2 ``modern_rnn.DropoutCell``'s twin."""

    def __init__(self, cell, input_keep_prob: float = 1.0, output_keep_prob: float = 1.0,
                 state_keep_prob: float = 1.0, seed=None, **kwargs) -> None:
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        for name, value in (("input_keep_prob", input_keep_prob), ("output_keep_prob", output_keep_prob),
                            ("state_keep_prob", state_keep_prob)):
            if not 0.0 < float(value) <= 1.0:
                raise ValueError(f"Received an invalid value for `{name}`: expected a float in (0, 1], got {value!r}.")
        super().__init__(**kwargs)
        self.cell = cell
        self.input_keep_prob, self.output_keep_prob = float(input_keep_prob), float(output_keep_prob)
        self.state_keep_prob = float(state_keep_prob)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.state_size = cell.state_size
        self.output_size = getattr(cell, "output_size", None)

    def build(self, input_shape) -> None:
        if not self.cell.built:
            self.cell.build(input_shape)
        self.built = True

    def _drop(self, x, keep: float):
        return x if keep >= 1.0 else keras.random.dropout(x, 1.0 - keep, seed=self.seed_generator)

    def call(self, inputs, states, training=False):
        if training:
            inputs = self._drop(inputs, self.input_keep_prob)
        output, new_states = self.cell(inputs, states, training=training)
        if training:
            flat = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
            flat[0] = self._drop(flat[0], self.state_keep_prob)
            new_states = flat if isinstance(new_states, (list, tuple)) else flat[0]
            output = self._drop(output, self.output_keep_prob)
        return output, new_states

    def get_initial_state(self, batch_size=None):
        if hasattr(self.cell, "get_initial_state"):
            return self.cell.get_initial_state(batch_size=batch_size)
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def get_config(self) -> dict:
        return {**super().get_config(), "cell": keras.saving.serialize_keras_object(self.cell),
                "input_keep_prob": self.input_keep_prob, "output_keep_prob": self.output_keep_prob,
                "state_keep_prob": self.state_keep_prob, "seed": self.seed}
