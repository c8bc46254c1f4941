"""Seed 002 (R2RT "Recurrent Neural Networks in Tensorflow I"): the binary dependency task, four ways.

The data: ``X_t`` is a fair coin; ``Y_t`` is 1 with probability ``0.5 + 0.5*X_{t-3} - 0.25*X_{t-8}``. A model that
learns nothing has cross-entropy 0.66, one that learns the ``t-3`` dependency 0.52, one that learns both 0.45 (the
seed's analysis; :func:`expected_losses` recomputes the three figures from the rule).

Four implementations of the same model, all trained with TF-style truncated backpropagation (the final state of
one ``num_steps`` segment is fed as the initial state of the next), Adagrad(0.1), batch 200:

* ``handwritten``: the seed's ``W``/``b`` cell (:func:`legacy_rnn.handwritten_rnn_cell`) in a Python loop
  (:func:`legacy_rnn.manual_rnn`), one logits matmul per step, as in the seed;
* ``static``: ``BasicRNNCell`` + ``static_rnn``;
* ``dynamic``: ``BasicRNNCell`` + ``dynamic_rnn`` and one reshaped matmul for the logits;
* ``keras``: the Keras 2 twin, ``SimpleRNN(return_sequences=True, return_state=True)`` + ``Dense(2)`` in a
  ``tf.function`` train step; ``initial_state`` is fed from the previous segment's final state exactly as TF1 feeds
  ``init_state``; ``Adagrad(0.1, initial_accumulator_value=0.1, epsilon=0)`` is TF1's ``AdagradOptimizer(0.1)``
  (facts §5: TF1 has no epsilon and starts the accumulators at 0.1).

All four start from the **same initial weights**, drawn once with NumPy (Glorot-uniform ``W [2+S, S]`` and softmax
``[S, 2]``, zero biases: TF1's ``get_variable`` defaults) and loaded into each, so with the same data they are the same
model and their per-step losses agree to float32 noise. Departures from the seed, all deliberate:

* data generation is vectorised (``np.roll`` reproduces the seed's wrap-around ``X[i-3]`` for ``i < 3``) and drawn
  from ``np.random.default_rng(seed)`` instead of the global RNG; the distribution is the seed's;
* the seed divides the first 100-step window (steps 0..100, 101 losses) by 100; here each window is the mean of
  its own losses;
* ``final_loss`` is the mean of the last 100 step losses (also defined for runs shorter than 100 steps).
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Iterator, Sequence

import numpy as np

from migration.examples.common import (
    add_common_args, emit_json, plot_curves, progress, quiet_tensorflow, result_line, run_guarded, say, write_scalars,
)
from migration.core.errors import MigrationError

IMPLS: tuple[str, ...] = ("handwritten", "static", "dynamic", "keras")
LEGACY_IMPLS: tuple[str, ...] = IMPLS[:3]
NUM_CLASSES = 2
BATCH_SIZE = 200
LEARNING_RATE = 0.1
REPORT_EVERY = 100


def expected_losses() -> dict[str, float]:
    """The seed's three cross-entropies, recomputed from the data rule (0.66, 0.52, 0.45 in the document)."""
    def h(p: float) -> float:
        return float(-(p * np.log(p) + (1 - p) * np.log(1 - p))) if 0 < p < 1 else 0.0

    return {
        "no_dependency": h(0.625),
        "one_dependency": 0.5 * h(0.875) + 0.5 * h(0.625),
        "both_dependencies": 0.5 * h(0.75) + 0.25 * h(0.5) + 0.25 * h(1.0),
    }


# --- data ---------------------------------------------------------------------------------------------------------

def gen_data(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The seed's ``gen_data``, vectorised: ``Y_t = 1`` with probability ``0.5 + 0.5 X_{t-3} - 0.25 X_{t-8}``.

    ``np.roll(x, k)[i] == x[i - k]`` including the seed's wrap-around for ``i < k``. The seed draws ``rand() >
    threshold -> 0``, i.e. ``Y = rand <= threshold``.
    """
    x = rng.integers(0, 2, size=size, dtype=np.int32)
    return x, echo_labels(x, rng.random(size))


def echo_labels(x: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """``Y`` from ``X`` and one uniform draw per step, vectorised (the seed's loop is ``threshold = 0.5; if X[i-3]:
    threshold += 0.5; if X[i-8]: threshold -= 0.25; Y.append(0 if rand() > threshold else 1)``)."""
    threshold = 0.5 + 0.5 * np.roll(x, 3) - 0.25 * np.roll(x, 8)
    return (uniform <= threshold).astype(np.int32)


def gen_batches(raw: tuple[np.ndarray, np.ndarray], batch_size: int, num_steps: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The seed's ``gen_batch``: row i of the batch matrix is the i-th contiguous slice of the series, and segment k
    is columns ``[k*num_steps, (k+1)*num_steps)``, so each row continues where the previous segment stopped."""
    raw_x, raw_y = raw
    part = len(raw_x) // batch_size
    data_x = raw_x[:batch_size * part].reshape(batch_size, part)
    data_y = raw_y[:batch_size * part].reshape(batch_size, part)
    for i in range(part // num_steps):
        cols = slice(i * num_steps, (i + 1) * num_steps)
        yield data_x[:, cols], data_y[:, cols]


def initial_weights(state_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """TF1 ``get_variable`` defaults in NumPy: Glorot-uniform kernels, zero biases (the seed's constant 0.0)."""
    def glorot(shape: tuple[int, int]) -> np.ndarray:
        limit = np.sqrt(6.0 / (shape[0] + shape[1]))
        return rng.uniform(-limit, limit, size=shape).astype(np.float32)

    return {
        "W": glorot((NUM_CLASSES + state_size, state_size)),
        "b": np.zeros(state_size, np.float32),
        "softmax_W": glorot((state_size, NUM_CLASSES)),
        "softmax_b": np.zeros(NUM_CLASSES, np.float32),
    }


# --- runs ---------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class EchoConfig:
    impl: str = "dynamic"
    num_steps: int = 5
    state_size: int = 4
    epochs: int = 1
    size: int = 1_000_000
    seed: int = 0
    batch_size: int = BATCH_SIZE
    learning_rate: float = LEARNING_RATE
    quiet: bool = True

    def validate(self) -> None:
        if self.impl not in IMPLS:
            raise MigrationError(f"Received an invalid value for `impl`: expected one of {IMPLS}, got {self.impl!r}.")
        for name in ("num_steps", "state_size", "epochs", "size", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise MigrationError(f"Received an invalid value for `{name}`: expected a positive integer, got {value!r}.")
        if self.size // self.batch_size < self.num_steps:
            raise MigrationError(
                f"Received an invalid value for `size`: {self.size} samples give rows of {self.size // self.batch_size} "
                f"steps for batch {self.batch_size}, fewer than num_steps={self.num_steps}; use a size of at least "
                f"{self.batch_size * self.num_steps}."
            )


@dataclasses.dataclass
class EchoRun:
    impl: str
    step_losses: list[float]
    losses: list[float]  # mean loss of each 100-step window (the seed's report)
    seconds: float

    @property
    def final_loss(self) -> float:
        return float(np.mean(self.step_losses[-REPORT_EVERY:]))

    def summary(self) -> dict:
        return {"impl": self.impl, "losses": self.losses, "final_loss": self.final_loss,
                "first_loss": self.losses[0] if self.losses else self.final_loss,
                "first_step_loss": self.step_losses[0], "first_10_steps_loss": float(np.mean(self.step_losses[:10])),
                "steps": len(self.step_losses), "seconds": self.seconds}


def plot_windows(step_losses: Sequence[float], per_epoch: int) -> list[float]:
    """The plotted curve: the seed's windows (:func:`_train`: steps 0..100, then 100 steps each) plus, per epoch, the
    mean of its remaining steps, which the seed's report leaves out (1,000 steps: 10 windows, not 9)."""
    out: list[float] = []
    for start in range(0, len(step_losses), max(per_epoch, 1)):
        epoch = list(step_losses[start:start + per_epoch])
        bounds = [0, *range(REPORT_EVERY + 1, len(epoch) + 1, REPORT_EVERY)]
        if bounds[-1] < len(epoch):
            bounds.append(len(epoch))
        out += [float(np.mean(epoch[a:b])) for a, b in zip(bounds, bounds[1:])]
    return out


def _epochs(config: EchoConfig) -> Iterator[Iterator[tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng([config.seed, 0])
    for _ in range(config.epochs):
        yield gen_batches(gen_data(config.size, rng), config.batch_size, config.num_steps)


def _train(config: EchoConfig, step_fn, zero_state: np.ndarray) -> tuple[list[float], list[float]]:
    """The seed's ``train_rnn`` loop, shared by every implementation: the state restarts at zero each epoch."""
    step_losses: list[float] = []
    windows: list[float] = []
    per_epoch = (config.size // config.batch_size) // config.num_steps
    for k, epoch in enumerate(_epochs(config)):
        state, total, count = zero_state, 0.0, 0
        desc = config.impl if config.epochs == 1 else f"{config.impl} epoch {k + 1}/{config.epochs}"
        for step, (x, y) in enumerate(progress(epoch, total=per_epoch, desc=desc, quiet=config.quiet)):
            loss, state = step_fn(x, y, state)
            step_losses.append(float(loss))
            total, count = total + float(loss), count + 1
            if step % REPORT_EVERY == 0 and step > 0:
                windows.append(total / count)
                total, count = 0.0, 0
                if not config.quiet:
                    say(f"{config.impl}: step {step}: average loss {windows[-1]:.4f}")
    return step_losses, windows


def _legacy_graph(config: EchoConfig):
    """The seed's graph for ``handwritten``, ``static`` or ``dynamic``; returns the tensors the loop feeds/fetches."""
    import legacy_rnn
    from legacy_rnn import v1

    tf = legacy_rnn.tf
    b, t, s = config.batch_size, config.num_steps, config.state_size
    x = legacy_rnn.placeholder(tf.int32, [b, t], name="x")
    y = legacy_rnn.placeholder(tf.int32, [b, t], name="y")
    init_state = tf.zeros([b, s])  # fed with the previous segment's final state, as in the seed
    x_one_hot = tf.one_hot(x, NUM_CLASSES)
    if config.impl == "handwritten":
        cell = legacy_rnn.handwritten_rnn_cell(s, NUM_CLASSES, scope="rnn_cell")
        outputs, final_state = legacy_rnn.manual_rnn(cell, tf.unstack(x_one_hot, axis=1), initial_state=init_state)
        rnn_outputs = tf.unstack(outputs, axis=1)
    elif config.impl == "static":
        cell = legacy_rnn.basic_rnn_cell(s)
        rnn_outputs, final_state = legacy_rnn.static_rnn(cell, tf.unstack(x_one_hot, axis=1), initial_state=init_state)
    else:
        cell = legacy_rnn.basic_rnn_cell(s)
        rnn_outputs, final_state = legacy_rnn.dynamic_rnn(cell, x_one_hot, initial_state=init_state)
    with v1.variable_scope("softmax"):
        w = v1.get_variable("W", [s, NUM_CLASSES])
        bias = v1.get_variable("b", [NUM_CLASSES], initializer=v1.constant_initializer(0.0))
    if config.impl == "dynamic":
        logits = tf.reshape(tf.matmul(tf.reshape(rnn_outputs, [-1, s]), w) + bias, [b, t, NUM_CLASSES])
        losses = v1.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    else:
        logits = [tf.matmul(o, w) + bias for o in rnn_outputs]
        labels = tf.unstack(y, num=t, axis=1)
        losses = [v1.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=lg) for lg, lab in zip(logits, labels)]
    total_loss = tf.reduce_mean(losses)
    train_step = v1.train.AdagradOptimizer(config.learning_rate).minimize(total_loss)
    return x, y, init_state, final_state, total_loss, train_step


def _legacy_variables(impl: str) -> dict[str, str]:
    cell = "rnn_cell/W", "rnn_cell/b"
    if impl != "handwritten":
        cell = "rnn/basic_rnn_cell/kernel", "rnn/basic_rnn_cell/bias"
    return {"W": cell[0], "b": cell[1], "softmax_W": "softmax/W", "softmax_b": "softmax/b"}


def run_legacy(config: EchoConfig, weights: dict[str, np.ndarray]) -> EchoRun:
    """Train one of the TF1 graphs (``handwritten``, ``static``, ``dynamic``) in a Session, feeding the state."""
    import legacy_rnn

    with legacy_rnn.new_graph(config.seed) as graph:
        x, y, init_state, final_state, total_loss, train_step = _legacy_graph(config)
        by_name = {v.op.name: v for v in legacy_rnn.v1.global_variables()}
        with legacy_rnn.new_session(graph) as sess:
            legacy_rnn.initialize(sess)
            for key, name in _legacy_variables(config.impl).items():
                by_name[name].load(weights[key], sess)

            def step(bx, by, state):
                loss, new_state, _ = sess.run([total_loss, final_state, train_step],
                                              feed_dict={x: bx, y: by, init_state: state})
                return loss, new_state

            start = time.perf_counter()
            step_losses, windows = _train(config, step, np.zeros((config.batch_size, config.state_size), np.float32))
            seconds = time.perf_counter() - start
    return EchoRun(config.impl, step_losses, windows, seconds)


def run_keras(config: EchoConfig, weights: dict[str, np.ndarray]) -> EchoRun:
    """The Keras 2 twin: ``SimpleRNN`` + ``Dense`` with an explicit state carry, one ``tf.function`` step."""
    from modern_rnn import keras, tf

    b, t, s = config.batch_size, config.num_steps, config.state_size
    inputs = keras.Input(batch_shape=(b, t, NUM_CLASSES))
    state_in = keras.Input(batch_shape=(b, s))
    seq, final_state = keras.layers.SimpleRNN(s, return_sequences=True, return_state=True)(inputs, initial_state=state_in)
    logits = keras.layers.Dense(NUM_CLASSES)(seq)
    model = keras.Model([inputs, state_in], [logits, final_state])
    rnn_layer, dense = model.layers[-2], model.layers[-1]
    rnn_layer.set_weights([weights["W"][:NUM_CLASSES], weights["W"][NUM_CLASSES:], weights["b"]])
    dense.set_weights([weights["softmax_W"], weights["softmax_b"]])
    optimizer = keras.optimizers.Adagrad(config.learning_rate, initial_accumulator_value=0.1, epsilon=0.0)

    @tf.function
    def train_step(x, y, state):
        with tf.GradientTape() as tape:
            out, new_state = model([tf.one_hot(x, NUM_CLASSES), state], training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=out))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, new_state

    def step(bx, by, state):
        loss, new_state = train_step(tf.constant(bx), tf.constant(by), state)
        return loss.numpy(), new_state

    start = time.perf_counter()
    step_losses, windows = _train(config, step, tf.zeros((b, s)))
    return EchoRun("keras", step_losses, windows, time.perf_counter() - start)


def run(config: EchoConfig, weights: dict[str, np.ndarray] | None = None) -> EchoRun:
    """Train ``config.impl`` from ``weights`` (default: :func:`initial_weights` drawn from ``config.seed``)."""
    config.validate()
    if weights is None:
        weights = initial_weights(config.state_size, np.random.default_rng([config.seed, 1]))
    return run_keras(config, weights) if config.impl == "keras" else run_legacy(config, weights)


# --- command line -------------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rnn-migrate example echo",
        description="Seed 002: the binary echo/dependency task with TF-style truncated BPTT; hand-written cell, "
                    "static_rnn, dynamic_rnn (TF1 graphs) and the Keras 2 twin.",
        epilog="Expected (seed): loss starts near 0.66, ends near 0.52 with --num-steps 5 --state-size 4, and near 0.45 "
               "with --num-steps 10 --state-size 16.",
    )
    p.add_argument("--impl", default="dynamic", choices=IMPLS + ("all",),
                   help="implementation to train (default dynamic; 'all' trains the four in turn)")
    p.add_argument("--compare", action="store_true",
                   help="also train the Keras twin (or, with --impl keras, the dynamic_rnn graph) from the same weights")
    p.add_argument("--num-steps", type=int, default=5, help="truncated backprop length (default 5)")
    p.add_argument("--state-size", type=int, default=4, help="RNN state size (default 4)")
    p.add_argument("--epochs", type=int, default=1, help="epochs, each on freshly generated data (default 1)")
    p.add_argument("--size", type=int, default=1_000_000, help="samples per epoch (default 1,000,000 as in the seed)")
    add_common_args(p, seed=0)
    return p


def _impls(args: argparse.Namespace) -> list[str]:
    if args.impl == "all":
        return list(IMPLS)
    if args.compare:
        return [args.impl, "dynamic"] if args.impl == "keras" else [args.impl, "keras"]
    return [args.impl]


def main(argv: Sequence[str] | None = None) -> int:
    return run_guarded("echo", build_parser().parse_args(argv), _main)


def _main(args: argparse.Namespace) -> int:
    quiet_tensorflow(args.seed)
    runs: dict[str, EchoRun] = {}
    weights = None
    for impl in _impls(args):
        config = EchoConfig(impl=impl, num_steps=args.num_steps, state_size=args.state_size, epochs=args.epochs,
                            size=args.size, seed=args.seed, quiet=args.quiet)
        config.validate()
        if weights is None:
            weights = initial_weights(config.state_size, np.random.default_rng([config.seed, 1]))
        runs[impl] = result = run(config, weights)
        result_line(f"{impl}: first 10 steps {result.summary()['first_10_steps_loss']:.4f}, "
            f"first window {result.summary()['first_loss']:.4f}, final loss {result.final_loss:.4f} "
            f"({len(result.step_losses)} steps, {result.seconds:.1f} s)", args)
        # one tag for every implementation, one run directory each: TensorBoard overlays them on the step axis
        write_scalars(args.logdir, f"modern/{impl}" if impl == "keras" else f"legacy/{impl}", "echo/loss",
                      result.step_losses)
    expected = expected_losses()
    result_line("expected (seed 002): no dependency {no_dependency:.3f}, one {one_dependency:.3f}, both {both_dependencies:.3f}"
        .format(**expected), args)
    if args.plot:
        per_epoch = (args.size // BATCH_SIZE) // args.num_steps
        curves = {f"{impl} ({'Keras 2' if impl == 'keras' else 'TF1'})":
                  plot_windows(r.step_losses, per_epoch) if r.losses else r.step_losses for impl, r in runs.items()}
        same = plot_curves(args.plot, curves, title=f"echo: num_steps={args.num_steps}, state_size={args.state_size}",
                           xlabel=f"window of {REPORT_EVERY} steps (each epoch's last one: its remaining steps)"
                           if all(r.losses for r in runs.values()) else "step")
        for label, (other, diff) in same.items():
            say(f"plot: {label} lies exactly on {other} (max |diff| {diff:.1e}); it is drawn dashed on top")
    if args.json:
        main_run = next(iter(runs.values()))
        emit_json({"example": "echo", **main_run.summary(), "num_steps": args.num_steps,
                   "state_size": args.state_size, "epochs": args.epochs, "size": args.size, "seed": args.seed,
                   "batch_size": BATCH_SIZE, "expected": expected,
                   "runs": {impl: r.summary() for impl, r in runs.items()}})
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
