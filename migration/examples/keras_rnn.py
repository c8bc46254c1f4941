"""Seed 000 (Keras RNN sentiment classifiers): the document's seven models, each with its TF1 twin.

The document trains on IMDB (``keras.datasets.imdb``, which downloads); here the embedded Rotten Tomatoes snippets
stand in (:func:`migration.datasets.load_rotten_tomatoes`, fresh=1 / rotten=0), with a vocabulary of the
``--vocab`` most frequent training words (ids: 0 padding, 1 unknown) and the seed's ``pad_sequences`` layout
(**pre**-padding and pre-truncation to ``--max-len``, so the last step is the last word). Every model is
``Embedding(vocab, 100) -> recurrent part -> Dense(1) -> sigmoid``, binary cross-entropy, Adam(1e-3):

===================  ===========================================================  ======================================
``--model``          Keras 2 (the document)                                       TF1 twin (same weights)
===================  ===========================================================  ======================================
``simplernn_cell``   ``SimpleRNNCell(u, dropout=0.5)`` stepped in a Python loop   ``BasicRNNCell`` + ``manual_rnn``
``simplernn_cell2``  two ``SimpleRNNCell(u, dropout=0.2)`` stepped per word       ``MultiRNNCell`` of 2 ``BasicRNNCell``
``simplernn``        ``SimpleRNN(u, dropout=0.5, return_sequences, unroll)`` x2   ``static_rnn(MultiRNNCell)``
``lstm``             ``LSTM`` x2, same options                                    ``static_rnn`` of 2 ``BasicLSTMCell``
``gru``              ``GRU(reset_after=False)`` x2, same options                  ``static_rnn`` of 2 ``GRUCell``
``lstm_cell``        two ``LSTMCell(u, dropout=0.5)`` stepped per word            ``manual_rnn`` of 2 ``BasicLSTMCell``
``gru_cell``         two ``GRUCell(u, dropout=0.5, reset_after=False)``           ``manual_rnn`` of 2 ``GRUCell``
===================  ===========================================================  ======================================

Departures from the document, on purpose: the GRUs use ``reset_after=False`` (the tf_keras default ``True`` cannot
equal any TF1 GRUCell, see facts §1d and ``examples.keras_api``); Keras ``dropout`` (input dropout, one mask per
sequence) becomes ``DropoutWrapper(input_keep_prob=1-dropout, variational_recurrent=True)`` on the TF1 side (one mask
per sequence too; the random masks differ, so the sides are compared with dropout off); Adam uses TF1's
``epsilon=1e-8`` on both sides.

Procedure per model: build the Keras model (its initialiser draws the weights), convert them to TF1 names with
:func:`migration.converters.cell_to_tf1` (LSTM gates i,f,c,o -> i,j,f,o and ``b_f - forget_bias``; GRU z,r,h ->
[r|u] + candidate), load them into the TF1 graph, and compare the **first-batch loss** (dropout off, before any
update) on both sides; then train both for ``--epochs`` on the same batches and report held-out accuracy.
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from collections import Counter
from typing import Optional, Sequence

import numpy as np

from migration.examples.common import (
    add_common_args, emit_json, plot_curves, progress, quiet_tensorflow, result_line, run_guarded, write_scalars,
)
from migration import datasets
from migration.converters import cell_to_tf1
from migration.core.errors import MigrationError
from migration.core.specs import CellSpec

MODELS: dict[str, tuple[str, str, int, float]] = {
    # name: (cell kind, style, layers, dropout)
    "simplernn_cell": ("basic_rnn", "cell", 1, 0.5),
    "simplernn_cell2": ("basic_rnn", "cell", 2, 0.2),
    "simplernn": ("basic_rnn", "layer", 2, 0.5),
    "lstm": ("basic_lstm", "layer", 2, 0.5),
    "gru": ("gru", "layer", 2, 0.5),
    "lstm_cell": ("basic_lstm", "cell", 2, 0.5),
    "gru_cell": ("gru", "cell", 2, 0.5),
}
EMBED_DIM = 100
TF1_SCOPES = {"basic_rnn": "basic_rnn_cell", "basic_lstm": "basic_lstm_cell", "gru": "gru_cell"}


@dataclasses.dataclass
class RnnConfig:
    model: str = "lstm"
    units: int = 64
    epochs: int = 2
    batch_size: int = 64
    vocab: int = 10_000
    max_len: int = 40
    limit: Optional[int] = None  # cap on training examples (quick runs, tests)
    seed: int = 0
    quiet: bool = True

    def validate(self) -> None:
        if self.model not in MODELS:
            raise MigrationError(f"Received an invalid value for `model`: expected one of {sorted(MODELS)}, got {self.model!r}.")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 0:
            raise MigrationError(f"Received an invalid value for `epochs`: expected an integer >= 0, got {self.epochs!r}.")
        for name in ("units", "batch_size", "vocab", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise MigrationError(f"Received an invalid value for `{name}`: expected a positive integer, got {value!r}.")
        if self.vocab < 3:
            raise MigrationError(f"Received an invalid value for `vocab`: expected at least 3 (padding, unknown, a word), got {self.vocab}.")


@dataclasses.dataclass
class Data:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    vocab_size: int


def load_data(config: RnnConfig) -> Data:
    """Rotten Tomatoes -> ids with a frequency vocabulary of the training split, pre-padded like ``pad_sequences``."""

    train, test = datasets.train_test_split(datasets.load_rotten_tomatoes(), 0.2, seed=config.seed)
    train_texts, y_train, test_texts, y_test = train.texts, train.labels, test.texts, test.labels
    counts = Counter(w for t in train_texts for w in datasets.clean_sentence(t).split())
    index = {w: i + 2 for i, (w, _) in enumerate(counts.most_common(config.vocab - 2))}
    x_train = _pre_pad(*datasets.encode(train_texts, index, config.max_len, unknown_id=1))
    x_test = _pre_pad(*datasets.encode(test_texts, index, config.max_len, unknown_id=1))
    y_train, y_test = np.asarray(y_train, np.float32), np.asarray(y_test, np.float32)
    if config.limit is not None:
        x_train, y_train = x_train[:config.limit], y_train[:config.limit]
    return Data(x_train, y_train, x_test, y_test, len(index) + 2)


def _pre_pad(ids, lengths) -> np.ndarray:
    """Post-padded ids (``encode``) -> the seed's pre-padded layout: each row's words moved to the end.

    ``encode`` keeps the first ``max_len`` words; ``pad_sequences`` would keep the last ones (``truncating='pre'``).
    The snippets are short (about 19 words), so only a few long ones differ.
    """
    ids = np.asarray(ids, np.int32)
    out = np.zeros_like(ids)
    for row, (seq, n) in enumerate(zip(ids, np.asarray(lengths))):
        n = int(n)
        if n:
            out[row, ids.shape[1] - n:] = seq[:n]
    return out


# --- Keras 2 -----------------------------------------------------------------------------------------------------------

def build_keras(config: RnnConfig, vocab_size: int):
    from modern_rnn import keras, tf

    kind, style, layers, dropout = MODELS[config.model]

    def cell():
        if kind == "basic_rnn":
            return keras.layers.SimpleRNNCell(config.units, dropout=dropout)
        if kind == "basic_lstm":
            return keras.layers.LSTMCell(config.units, dropout=dropout)
        return keras.layers.GRUCell(config.units, dropout=dropout, reset_after=False)

    def layer(return_sequences):
        cls = {"basic_rnn": keras.layers.SimpleRNN, "basic_lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind]
        extra = {"reset_after": False} if kind == "gru" else {}
        return cls(config.units, dropout=dropout, return_sequences=return_sequences, unroll=True, **extra)

    class SeedModel(keras.Model):
        def __init__(self):
            super().__init__(name=config.model)
            self.embedding = keras.layers.Embedding(vocab_size, EMBED_DIM)
            if style == "cell":
                self.cells = [cell() for _ in range(layers)]
            else:
                self.rnn = keras.Sequential([layer(k < layers - 1) for k in range(layers)])
            self.outlayer = keras.layers.Dense(1)

        def call(self, inputs, training=None):
            x = self.embedding(inputs)
            if style == "layer":
                return self.outlayer(self.rnn(x, training=training))
            batch = tf.shape(inputs)[0]
            states = [c.get_initial_state(batch_size=batch, dtype=tf.float32) for c in self.cells]
            states = [s if isinstance(s, (list, tuple)) else [s] for s in states]
            out = None
            for word in tf.unstack(x, axis=1):  # the seed's loop
                out = word
                for k, c in enumerate(self.cells):
                    out, states[k] = c(out, states[k], training=training)
            return self.outlayer(out)

    model = SeedModel()
    model(tf.zeros([1, config.max_len], tf.int32))
    _reset_dropout_masks(model)
    return model


def _reset_dropout_masks(model) -> None:
    """Keras cells stepped by hand cache their dropout masks (and their batch size) until reset."""
    for cell in keras_cells(model):
        cell.reset_dropout_mask()
        cell.reset_recurrent_dropout_mask()


def keras_cells(model) -> list:
    return list(model.cells) if hasattr(model, "cells") else [layer.cell for layer in model.rnn.layers]


# --- TF1 -------------------------------------------------------------------------------------------------------------

def _tf1_names(config: RnnConfig) -> list[str]:
    kind, _, layers, _ = MODELS[config.model]
    if layers == 1:
        return [f"rnn/{TF1_SCOPES[kind]}/"]
    return [f"rnn/multi_rnn_cell/cell_{k}/{TF1_SCOPES[kind]}/" for k in range(layers)]


def keras_to_tf1(config: RnnConfig, model) -> dict[str, np.ndarray]:
    """The Keras model's weights under the TF1 twin's variable names."""

    kind = MODELS[config.model][0]
    spec = CellSpec(kind, config.units, forget_bias=1.0) if kind == "basic_lstm" else CellSpec(kind, config.units)
    out = {"embedding": model.embedding.get_weights()[0]}
    for prefix, cell in zip(_tf1_names(config), keras_cells(model)):
        out.update({prefix + name: value for name, value in cell_to_tf1(spec, cell.get_weights()).items()})
    out["dense/kernel"], out["dense/bias"] = model.outlayer.get_weights()
    return out


def build_tf1(config: RnnConfig, vocab_size: int) -> dict:
    import legacy_rnn
    from legacy_rnn import tf, v1

    kind, style, layers, dropout = MODELS[config.model]
    x = legacy_rnn.placeholder(tf.int32, [None, config.max_len], name="x")
    y = legacy_rnn.placeholder(tf.float32, [None], name="y")
    keep_prob = legacy_rnn.keep_prob_placeholder()
    embedding = legacy_rnn.embedding_variable("embedding", shape=(vocab_size, EMBED_DIM))
    inputs = legacy_rnn.embedding_lookup(embedding, x)

    def cell(input_size):
        base = {"basic_rnn": lambda: legacy_rnn.basic_rnn_cell(config.units),
                "basic_lstm": lambda: legacy_rnn.basic_lstm_cell(config.units, forget_bias=1.0),
                "gru": lambda: legacy_rnn.gru_cell(config.units)}[kind]()
        return legacy_rnn.dropout_wrapper(base, input_keep_prob=keep_prob, variational_recurrent=True,
                                          input_size=input_size, dtype=tf.float32, seed=config.seed)

    cells = [cell(EMBED_DIM if k == 0 else config.units) for k in range(layers)]
    rnn_cell = cells[0] if layers == 1 else legacy_rnn.multi_rnn_cell(cells)
    if style == "cell":
        outputs, _ = legacy_rnn.manual_rnn(rnn_cell, inputs)
        last = outputs[:, -1]
    else:
        outputs, _ = legacy_rnn.static_rnn(rnn_cell, inputs)
        last = outputs[-1]
    with v1.variable_scope("dense"):  # Dense(1)'s twin; get_variable, not v1.layers (a Keras layer in the graph)
        kernel = v1.get_variable("kernel", [config.units, 1])
        bias = v1.get_variable("bias", [1], initializer=v1.zeros_initializer())
    logits = tf.squeeze(tf.matmul(last, kernel) + bias, 1)
    loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
    correct = tf.reduce_sum(tf.cast(tf.equal(tf.cast(logits > 0, tf.float32), y), tf.float32))
    train = v1.train.AdamOptimizer(1e-3, epsilon=1e-8).minimize(loss)
    return dict(x=x, y=y, keep_prob=keep_prob, loss=loss, correct=correct, train=train)


# --- one model, both sides ---------------------------------------------------------------------------------------------

def _batches(n: int, batch_size: int, epochs: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng([seed, 2])
    out = []
    for _ in range(epochs):
        order = rng.permutation(n)
        out += [order[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]  # drop_remainder=True
    return out


def _tail(losses: list[float], n: int = 20) -> Optional[float]:
    return float(np.mean(losses[-n:])) if losses else None


def _accuracy(correct_fn, x: np.ndarray, y: np.ndarray, chunk: int = 1024) -> float:
    return float(sum(correct_fn(x[i:i + chunk], y[i:i + chunk]) for i in range(0, len(y), chunk)) / len(y))


def run_model(config: RnnConfig, data: Data) -> dict:
    """First-batch loss on both sides from the same weights, then brief training and held-out accuracy."""
    import legacy_rnn
    from modern_rnn import keras, tf

    config.validate()
    tf.random.set_seed(config.seed)
    model = build_keras(config, data.vocab_size)
    weights = keras_to_tf1(config, model)
    batches = _batches(len(data.y_train), config.batch_size, config.epochs, config.seed)
    first_epoch = _batches(len(data.y_train), config.batch_size, 1, config.seed)  # batches[0] when epochs >= 1
    if not first_epoch:
        raise MigrationError(f"{len(data.y_train)} training examples make no batch of {config.batch_size}.")
    first = first_epoch[0]

    # legacy
    with legacy_rnn.new_graph(config.seed) as graph:
        g = build_tf1(config, data.vocab_size)
        variables = {v.op.name: v for v in legacy_rnn.v1.trainable_variables()}
        if set(variables) != set(weights):
            raise MigrationError(f"TF1 variables {sorted(variables)} do not match the converted names {sorted(weights)}.")
        with legacy_rnn.new_session(graph) as sess:
            legacy_rnn.initialize(sess)
            for name, value in weights.items():
                variables[name].load(value, sess)
            legacy_first = float(sess.run(g["loss"], {g["x"]: data.x_train[first], g["y"]: data.y_train[first]}))
            legacy_losses = []
            began = time.perf_counter()
            for idx in progress(batches, desc=f"{config.model} TF1", quiet=config.quiet):
                loss, _ = sess.run([g["loss"], g["train"]], {g["x"]: data.x_train[idx], g["y"]: data.y_train[idx],
                                                             g["keep_prob"]: 1.0 - MODELS[config.model][3]})
                legacy_losses.append(float(loss))
            legacy_seconds = time.perf_counter() - began
            legacy_acc = _accuracy(lambda a, b: sess.run(g["correct"], {g["x"]: a, g["y"]: b}), data.x_test, data.y_test)

    # modern
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(1e-3, epsilon=1e-8)
    _reset_dropout_masks(model)
    modern_first = float(bce(data.y_train[first], model(data.x_train[first], training=False)[:, 0]))

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = bce(y, model(x, training=True)[:, 0])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def correct_step(x, y):  # eager: cheaper than tracing the unrolled model for two batch shapes
        _reset_dropout_masks(model)  # the cells cache a mask of the previous batch's shape
        logits = model(x, training=False)[:, 0]
        return tf.reduce_sum(tf.cast(tf.equal(tf.cast(logits > 0, tf.float32), y), tf.float32))

    modern_losses = []
    began = time.perf_counter()
    for idx in progress(batches, desc=f"{config.model} Keras", quiet=config.quiet):  # (no trace when epochs=0)
        _reset_dropout_masks(model)  # one input-dropout mask per batch, like the layers
        modern_losses.append(float(train_step(data.x_train[idx], data.y_train[idx])))
    modern_seconds = time.perf_counter() - began
    modern_acc = _accuracy(lambda a, b: float(correct_step(a, b)), data.x_test, data.y_test)
    return {"model": config.model, "first_step_loss": {"legacy": legacy_first, "modern": modern_first},
            "first_step_abs_diff": abs(legacy_first - modern_first), "steps": len(batches),
            "legacy": {"accuracy": legacy_acc, "final_train_loss": _tail(legacy_losses),
                       "losses": legacy_losses, "seconds": legacy_seconds},
            "modern": {"accuracy": modern_acc, "final_train_loss": _tail(modern_losses),
                       "losses": modern_losses, "seconds": modern_seconds}}


# --- command line ----------------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rnn-migrate example keras_rnn",
        description="Seed 000: SimpleRNN/LSTM/GRU sentiment classifiers (cell loops and stacked layers) in Keras 2 and "
                    "their TF1 twins from the same initial weights, on the embedded Rotten Tomatoes snippets.",
    )
    p.add_argument("--model", default="lstm", choices=sorted(MODELS) + ["all"], help="which model (default lstm)")
    p.add_argument("--epochs", type=int, default=2,
                   help="training epochs per side (default 2; the seed: 4; 0 compares the first-batch losses only)")
    p.add_argument("--units", type=int, default=64, help="recurrent units (default 64)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--vocab", type=int, default=10_000, help="vocabulary size incl. padding and unknown (default 10000)")
    p.add_argument("--max-len", type=int, default=40, help="words per snippet (default 40)")
    p.add_argument("--limit", type=int, help="use only the first N training examples")
    add_common_args(p, seed=42)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run_guarded("keras_rnn", build_parser().parse_args(argv), _main)


def _main(args: argparse.Namespace) -> int:
    quiet_tensorflow(args.seed)
    names = sorted(MODELS, key=list(MODELS).index) if args.model == "all" else [args.model]
    base = RnnConfig(model=names[0], units=args.units, epochs=args.epochs, batch_size=args.batch_size,
                     vocab=args.vocab, max_len=args.max_len, limit=args.limit, seed=args.seed, quiet=args.quiet)
    base.validate()
    data = load_data(base)
    result_line(f"data: {len(data.y_train)} train / {len(data.y_test)} held-out snippets, vocabulary {data.vocab_size}, "
        f"majority baseline {max(data.y_test.mean(), 1 - data.y_test.mean()):.3f}", args)
    results = {}
    curves: dict[str, list[float]] = {}
    for name in names:
        r = results[name] = run_model(dataclasses.replace(base, model=name), data)
        result_line(f"{name:<16} first-batch loss TF1 {r['first_step_loss']['legacy']:.6f} Keras {r['first_step_loss']['modern']:.6f} "
            f"(|diff| {r['first_step_abs_diff']:.1e}); held-out accuracy TF1 {r['legacy']['accuracy']:.4f} "
            f"Keras {r['modern']['accuracy']:.4f} ({r['legacy']['seconds']:.1f} s / {r['modern']['seconds']:.1f} s)", args)
        if r["steps"]:
            curves[f"{name} TF1"] = r["legacy"]["losses"]
            curves[f"{name} Keras 2"] = r["modern"]["losses"]
        write_scalars(args.logdir, "legacy", f"keras_rnn/{name}/loss", r["legacy"]["losses"])
        write_scalars(args.logdir, "modern", f"keras_rnn/{name}/loss", r["modern"]["losses"])
    if args.plot and curves:
        plot_curves(args.plot, curves, title="keras_rnn: training loss per step", families=plot_families(curves))
    worst = max(r["first_step_abs_diff"] for r in results.values())
    if args.json:
        emit_json({"example": "keras_rnn", "models": results, "max_first_step_abs_diff": worst,
                   "train": int(len(data.y_train)), "test": int(len(data.y_test)), "vocab_size": data.vocab_size,
                   "epochs": args.epochs, "units": args.units, "seed": args.seed})
    return 0 if worst <= 1e-5 else 1


def plot_families(curves: dict[str, list[float]]) -> dict[str, str]:
    """``{"lstm TF1": "lstm", "lstm Keras 2": "lstm", ...}``: one colour per model, TF1 solid and Keras 2 dashed."""
    return {label: label.removesuffix(" Keras 2").removesuffix(" TF1") for label in curves}


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
