"""Seed 004 ("Tensorflow应用之LSTM"): GloVe + BasicLSTMCell + DropoutWrapper sentiment classifier, and its Keras twin.

Legacy side (:func:`train_legacy`), the seed's graph:

* text cleaned as in the seed (``lower``, ``<br />`` -> space, keep ``[A-Za-z0-9 ]``), words -> GloVe row ids through
  a **dict** (the seed's ``wordsList.index(word)`` is a linear scan per word), unknown words -> the last GloVe row
  (the seed's 399999), padding -> id 0 (the seed's zeros, i.e. the vector of "the");
* ``tf.nn.embedding_lookup(glove_matrix, input_data)``: the matrix is a graph constant. To keep the GraphDef small the
  matrix is **restricted to the rows the data uses** (every word id that occurs, plus row 0 and the unknown row), with
  ids remapped: the lookups are the very same vectors as with the full 400,000 x 50 matrix, so the model is the seed's
  (``--full-glove`` embeds the whole matrix as the seed does);
* ``BasicLSTMCell(64)`` in ``DropoutWrapper(output_keep_prob=keep_prob)``, keep_prob fed 0.75 while training and
  left at its default 1.0 for evaluation (:func:`legacy_rnn.keep_prob_placeholder`); ``dynamic_rnn``;
* the last time step (the seed's ``gather(transpose(value), T-1)``, which with padding reads the output after the
  padding) or, with ``--use-length``, ``sequence_length`` and the output at ``len-1``;
* ``weight = tf.Variable(truncated_normal([64, 2]))``, ``bias = tf.Variable(constant(0.1))`` (unnamed, so the
  checkpoint calls them ``Variable`` and ``Variable_1``), softmax cross-entropy, ``AdamOptimizer()``;
* ``Saver`` checkpoints every ``--save-every`` steps (``model.ckpt-STEP``) and at the end, ``--resume`` restores
  ``tf.train.latest_checkpoint`` and continues from its ``global_step`` (the seed passes ``global_step=i`` to
  ``save``; here it is a variable so that it survives the restore); accuracy on the held-out split.

Batches follow the seed's ``getTrainBatch``: half positive, half negative (alternating), drawn at random.

Modern side (:func:`train_modern`), the same architecture in Keras 2: frozen GloVe ``Embedding``, ``LSTM(64)``,
``Dropout(0.25)`` (= ``output_keep_prob=0.75``), ``Dense(2)``, ``Adam(1e-3, epsilon=1e-8)`` (TF1's epsilon), the same
batches. Given ``initial_weights`` (TF1 checkpoint names -> arrays, e.g. ``LegacyRun.initial_weights`` or a
checkpoint read with :func:`read_checkpoint_weights`) it starts where the TF1 graph started: the LSTM weights go
through :func:`migration.converters.cell_to_keras` (gate reorder, forget_bias folded) and both sides report the same
untrained held-out loss (``initial_eval``).
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from migration import datasets, glove
from migration.converters import cell_to_keras
from migration.core.errors import MigrationError
from migration.core.specs import CellSpec
from migration.examples.common import progress, say

NUM_CLASSES = 2
LSTM_VARS = ("rnn/basic_lstm_cell/kernel", "rnn/basic_lstm_cell/bias")
DENSE_VARS = ("Variable", "Variable_1")  # the seed's unnamed tf.Variable weight and bias


@dataclasses.dataclass
class SentimentConfig:
    """Everything a run needs; the defaults are the seed's except ``max_len`` and ``steps`` (short snippets, CPU)."""

    steps: int = 1500
    batch_size: int = 24
    max_len: int = 40
    units: int = 64
    keep_prob: float = 0.75
    learning_rate: float = 0.001
    save_every: int = 500
    ckpt_dir: str = "models/sentiment"
    resume: bool = False
    use_length: bool = False
    full_glove: bool = False
    data: Optional[str] = None
    glove: Optional[str] = None
    seed: int = 0
    quiet: bool = True

    def validate(self) -> None:
        for name in ("steps", "batch_size", "max_len", "units", "save_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise MigrationError(f"Received an invalid value for `{name}`: expected a positive integer, got {value!r}.")
        if not 0.0 < self.keep_prob <= 1.0:
            raise MigrationError(f"Received an invalid value for `keep_prob`: expected 0 < keep_prob <= 1, got {self.keep_prob!r}.")
        if self.batch_size % 2:
            raise MigrationError(f"Received an invalid value for `batch_size`: the seed's batches are half positive, "
                                 f"half negative, so it must be even, got {self.batch_size}.")


@dataclasses.dataclass
class Prepared:
    """Encoded data and the (restricted) GloVe matrix."""

    train_ids: np.ndarray
    train_lengths: np.ndarray
    train_labels: np.ndarray
    test_ids: np.ndarray
    test_lengths: np.ndarray
    test_labels: np.ndarray
    matrix: np.ndarray  # [V', E] float32: the rows the ids index
    glove_rows: int  # rows of the GloVe matrix the ids came from
    data_source: str
    glove_source: str

    def describe(self) -> dict:
        return {"data": self.data_source, "glove": self.glove_source, "train": int(len(self.train_labels)),
                "test": int(len(self.test_labels)), "train_positive": int(self.train_labels.sum()),
                "test_positive": int(self.test_labels.sum()), "embedding_rows": int(self.matrix.shape[0]),
                "glove_rows": self.glove_rows,
                "test_majority_accuracy": float(max(self.test_labels.mean(), 1 - self.test_labels.mean()))}


@dataclasses.dataclass
class LegacyRun:
    checkpoint: str  # prefix of the last checkpoint written (model.ckpt-STEP)
    ckpt_dir: str
    start_step: int  # global_step restored (0 for a fresh run)
    global_step: int  # global_step at the end
    losses: list[float]  # training loss per step (keep_prob 0.75)
    held_out_accuracy: float
    held_out_loss: float
    initial_eval: dict  # held-out loss/accuracy before training (or right after the restore)
    initial_weights: dict  # TF1 name -> array, before training (after the restore with --resume)
    seconds: float

    def summary(self) -> dict:
        return {"checkpoint": self.checkpoint, "start_step": self.start_step, "global_step": self.global_step,
                "held_out_accuracy": self.held_out_accuracy, "held_out_loss": self.held_out_loss,
                "initial_eval": self.initial_eval, "final_train_loss": _tail_mean(self.losses),
                "losses": windows(self.losses), "seconds": self.seconds}


@dataclasses.dataclass
class ModernRun:
    losses: list[float]
    held_out_accuracy: float
    held_out_loss: float
    initial_eval: dict
    seconds: float
    model: object = dataclasses.field(repr=False, default=None)

    def summary(self) -> dict:
        return {"held_out_accuracy": self.held_out_accuracy, "held_out_loss": self.held_out_loss,
                "initial_eval": self.initial_eval, "final_train_loss": _tail_mean(self.losses),
                "losses": windows(self.losses), "seconds": self.seconds}


def _tail_mean(values: Sequence[float], n: int = 100) -> float:
    return float(np.mean(values[-n:])) if len(values) else float("nan")


def windows(values: Sequence[float], n: int = 50) -> list[float]:
    """Mean loss of each ``n``-step window (the last one possibly shorter): the reported/plotted curve."""
    return [float(np.mean(values[i:i + n])) for i in range(0, len(values), n)]


# --- data ------------------------------------------------------------------------------------------------------------

def _load_glove(path: Optional[str]):
    return glove.load_default_glove() if path is None else glove.load_glove(path)


def _load_texts(config: SentimentConfig):
    """(train_texts, train_labels, test_texts, test_labels, description) from the embedded data or ``--data``."""

    if config.data is None:
        data = datasets.load_rotten_tomatoes()
        train, test = datasets.train_test_split(data, 0.2, seed=config.seed)
        source = (f"Rotten Tomatoes critic snippets ({data.source}), fresh=1/rotten=0, stratified 80/20 split "
                  f"with seed {config.seed}")
        return train.texts, train.labels, test.texts, test.labels, source
    path = Path(config.data)
    if not path.exists():
        raise MigrationError(f"--data path not found: {path}. Give a local aclImdb/ directory or an imdb.npz file.")
    if path.is_dir():
        train, test = datasets.load_aclimdb(path, "train"), datasets.load_aclimdb(path, "test")
        return train.texts, train.labels, test.texts, test.labels, f"IMDB reviews from {path} (train/test)"
    train, test = datasets.load_imdb_npz(path, "train"), datasets.load_imdb_npz(path, "test")
    words = _imdb_words(path)
    decode = lambda seqs: [" ".join(words.get(int(i), "") for i in seq) for seq in seqs]  # noqa: E731
    return (decode(train.sequences), train.labels, decode(test.sequences), test.labels,
            f"IMDB word ids from {path}, decoded with {path.parent / IMDB_WORD_INDEX}")


IMDB_WORD_INDEX = "imdb_word_index.json"


def _imdb_words(npz: Path) -> dict[int, str]:
    """Keras imdb ids -> words: ``imdb_word_index.json`` next to the ``.npz`` (ids are ``word_index + 3``; 0, 1, 2
    are padding, start and out-of-vocabulary, which decode to nothing)."""

    path = npz.parent / IMDB_WORD_INDEX
    if not path.is_file():
        raise MigrationError(
            f"{npz} holds Keras word ids, not words, and the GloVe lookup needs words: put Keras' {IMDB_WORD_INDEX} "
            f"next to it ({path} is missing), or pass the aclImdb/ text directory instead.")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        return {int(i) + 3: str(w) for w, i in index.items()}
    except (ValueError, AttributeError) as exc:
        raise MigrationError(f"{path}: not a JSON object word -> id ({exc}).") from None


def prepare(config: SentimentConfig) -> Prepared:
    """Load texts and GloVe, encode through the GloVe dict, and restrict the matrix to the rows used."""

    train_texts, train_labels, test_texts, test_labels, source = _load_texts(config)
    glove = _load_glove(config.glove)
    unknown = len(glove.words) - 1  # the seed's 399999: the last GloVe row stands for unknown words
    train_ids, train_len = datasets.encode(train_texts, glove.index, config.max_len, unknown_id=unknown, pad_id=0)
    test_ids, test_len = datasets.encode(test_texts, glove.index, config.max_len, unknown_id=unknown, pad_id=0)
    train_ids, test_ids = np.asarray(train_ids, np.int64), np.asarray(test_ids, np.int64)
    if config.full_glove:
        matrix = np.asarray(glove.vectors, np.float32)
    else:
        keep = np.union1d(np.union1d(np.unique(train_ids), np.unique(test_ids)), [0, unknown])
        matrix = np.asarray(glove.vectors[keep], np.float32)
        train_ids, test_ids = np.searchsorted(keep, train_ids), np.searchsorted(keep, test_ids)
    # dynamic_rnn(sequence_length=0) gives a zero output; a snippet that cleans to nothing keeps one (padding) step
    lengths = [np.maximum(np.asarray(x, np.int32), 1) for x in (train_len, test_len)]
    return Prepared(train_ids.astype(np.int32), lengths[0], np.asarray(train_labels, np.int32),
                    test_ids.astype(np.int32), lengths[1], np.asarray(test_labels, np.int32),
                    matrix, len(glove.words), source, glove.source or str(config.glove))


def batch_indices(labels: np.ndarray, batch_size: int, steps: int, seed: int, start_step: int = 0) -> np.ndarray:
    """The seed's ``getTrainBatch``: even slots positive, odd slots negative, each drawn at random; ``[steps, B]``."""
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if len(pos) == 0 or len(neg) == 0:
        raise MigrationError(f"The training data needs both classes for the seed's balanced batches; got "
                             f"{len(pos)} positive and {len(neg)} negative examples.")
    rng = np.random.default_rng([seed, start_step])
    out = np.empty((steps, batch_size), np.int64)
    out[:, 0::2] = rng.choice(pos, size=(steps, (batch_size + 1) // 2))
    out[:, 1::2] = rng.choice(neg, size=(steps, batch_size // 2))
    return out


def dropout_masks(config: "SentimentConfig", start_step: int = 0) -> np.ndarray:
    """The Keras twin's dropout masks for ``config.steps`` steps, ``[steps, B, units]`` float32 (a kept unit is
    ``1 / keep_prob``, a dropped one 0; all ones when keep_prob is 1), drawn from the seed and the GLOBAL step alone.

    Keras' own ``Dropout`` draws from the process's random stream, which a replica under ``tf.distribute`` does not
    share with a single process: the same seed then gave other losses under ``--strategy multi-worker``. With the
    masks as data, each replica applies the rows of its slice of the global batch, and every strategy computes the
    single-process numbers."""
    out = np.ones((config.steps, config.batch_size, config.units), np.float32)
    if config.keep_prob < 1.0:
        for k in range(config.steps):
            rng = np.random.default_rng([config.seed, 7, start_step + k])
            out[k] = (rng.random((config.batch_size, config.units)) < config.keep_prob) / np.float32(config.keep_prob)
    return out


def _one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES, dtype=np.float32)[labels]


def read_checkpoint_weights(prefix: str) -> dict[str, np.ndarray]:
    """TF1 checkpoint -> ``{name: array}`` (all tensors, optimizer slots included)."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as exc:  # noqa: BLE001 - TF raises several types for a bad path
        raise MigrationError(f"Cannot read checkpoint {prefix!r}: {exc}") from None
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


# --- legacy (TF1 graph) ----------------------------------------------------------------------------------------------

def _legacy_graph(config: SentimentConfig, matrix: np.ndarray) -> dict:
    import legacy_rnn
    from legacy_rnn import tf, v1

    labels = legacy_rnn.placeholder(tf.float32, [None, NUM_CLASSES], name="labels")
    input_data = legacy_rnn.placeholder(tf.int32, [None, config.max_len], name="input_data")
    lengths = legacy_rnn.placeholder(tf.int32, [None], name="lengths")
    keep_prob = legacy_rnn.keep_prob_placeholder()
    data = legacy_rnn.glove_embedding(matrix, input_data)
    cell = legacy_rnn.dropout_wrapper(legacy_rnn.basic_lstm_cell(config.units), output_keep_prob=keep_prob,
                                      seed=config.seed)  # op-level seeds: the masks do not depend on PYTHONHASHSEED
    # parallel_iterations=1: TF 2.x's while_v2 draws the in-loop dropout masks of up to 32 parallel iterations in a
    # racy order (legacy_rnn.dynamic_rnn's docstring); one at a time, the same seed gives the same masks
    value, _ = legacy_rnn.dynamic_rnn(cell, data, sequence_length=lengths if config.use_length else None,
                                      parallel_iterations=1)
    weight = tf.Variable(v1.truncated_normal([config.units, NUM_CLASSES]))
    bias = tf.Variable(tf.constant(0.1, shape=[NUM_CLASSES]))
    if config.use_length:
        last = tf.gather_nd(value, tf.stack([tf.range(tf.shape(value)[0]), lengths - 1], 1))
    else:
        value = tf.transpose(value, [1, 0, 2])
        last = tf.gather(value, int(value.get_shape()[0]) - 1)
    prediction = tf.matmul(last, weight) + bias
    correct = tf.equal(tf.argmax(prediction, 1), tf.argmax(labels, 1))
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=prediction, labels=labels))
    global_step = v1.train.get_or_create_global_step()
    optimizer = v1.train.AdamOptimizer(config.learning_rate).minimize(loss, global_step=global_step)
    return dict(labels=labels, input_data=input_data, lengths=lengths, keep_prob=keep_prob, loss=loss,
                accuracy=accuracy, correct=correct, optimizer=optimizer, global_step=global_step, prediction=prediction,
                weights={v.op.name: v for v in [weight, bias] + v1.trainable_variables()})


def evaluate(run_batch, ids: np.ndarray, lengths: np.ndarray, labels: np.ndarray, chunk: int = 512) -> dict:
    """Held-out loss and accuracy over the whole split, in chunks (no dropout)."""
    total_loss, correct = 0.0, 0.0
    for i in range(0, len(labels), chunk):
        loss, right = run_batch(ids[i:i + chunk], lengths[i:i + chunk], labels[i:i + chunk])
        total_loss += float(loss) * len(labels[i:i + chunk])
        correct += float(right)
    return {"loss": total_loss / len(labels), "accuracy": correct / len(labels)}


def train_legacy(config: SentimentConfig, prepared: Optional[Prepared] = None) -> LegacyRun:
    """Train the seed's TF1 graph; write real Saver checkpoints; evaluate on the held-out split."""
    import legacy_rnn

    config.validate()
    prepared = prepared or prepare(config)
    ckpt_dir = Path(config.ckpt_dir)
    if not config.resume:
        ckpt_dir.mkdir(parents=True, exist_ok=True)  # Saver refuses a missing parent; --resume needs it to exist
    with legacy_rnn.new_graph(config.seed) as graph:
        g = _legacy_graph(config, prepared.matrix)
        saver = legacy_rnn.v1.train.Saver(max_to_keep=5)
        with legacy_rnn.new_session(graph) as sess:
            legacy_rnn.initialize(sess)
            if config.resume:
                restored = legacy_rnn.restore_latest(sess, ckpt_dir, saver)
                say(f"restored {restored}")
            start = int(sess.run(g["global_step"]))
            initial_weights = {name: sess.run(v) for name, v in g["weights"].items()}

            def eval_batch(ids, lengths, labels):
                feed = {g["input_data"]: ids, g["lengths"]: lengths, g["labels"]: _one_hot(labels)}
                loss, correct = sess.run([g["loss"], g["correct"]], feed)  # keep_prob left at 1.0
                return loss, correct.sum()

            test = (prepared.test_ids, prepared.test_lengths, prepared.test_labels)
            initial_eval = evaluate(eval_batch, *test)
            batches = batch_indices(prepared.train_labels, config.batch_size, config.steps, config.seed, start)
            losses: list[float] = []
            checkpoint = ""
            began = time.perf_counter()
            for idx in progress(batches, total=config.steps, desc="legacy", quiet=config.quiet):
                feed = {g["input_data"]: prepared.train_ids[idx], g["lengths"]: prepared.train_lengths[idx],
                        g["labels"]: _one_hot(prepared.train_labels[idx]), g["keep_prob"]: config.keep_prob}
                loss, _ = sess.run([g["loss"], g["optimizer"]], feed)
                losses.append(float(loss))
                # read global_step after the update, in its own run: fetched beside the train op it may be read
                # before or after the increment (no ordering), and a checkpoint named -N would hold step N-1
                step = int(sess.run(g["global_step"]))
                if step % config.save_every == 0:
                    checkpoint = legacy_rnn.save(sess, ckpt_dir / "model.ckpt", global_step=step, saver=saver)
            seconds = time.perf_counter() - began
            step = int(sess.run(g["global_step"]))
            if not checkpoint.endswith(f"-{step}"):
                checkpoint = legacy_rnn.save(sess, ckpt_dir / "model.ckpt", global_step=step, saver=saver)
            final = evaluate(eval_batch, *test)
    return LegacyRun(checkpoint, str(ckpt_dir), start, step, losses, final["accuracy"], final["loss"],
                     initial_eval, initial_weights, seconds)


def legacy_logits(config: SentimentConfig, prepared: Prepared, checkpoint: str, chunk: int = 512) -> np.ndarray:
    """Held-out logits of the TF1 graph restored from ``checkpoint`` (keep_prob left at 1.0: no dropout)."""
    import legacy_rnn

    with legacy_rnn.new_graph(config.seed) as graph:
        g = _legacy_graph(config, prepared.matrix)
        with legacy_rnn.new_session(graph) as sess:
            legacy_rnn.v1.train.Saver().restore(sess, checkpoint)
            return np.concatenate([
                sess.run(g["prediction"], {g["input_data"]: prepared.test_ids[i:i + chunk],
                                           g["lengths"]: prepared.test_lengths[i:i + chunk]})
                for i in range(0, len(prepared.test_labels), chunk)])


# --- modern (Keras 2) ------------------------------------------------------------------------------------------------

def build_modern_model(config: SentimentConfig, matrix: np.ndarray):
    """Frozen GloVe Embedding -> LSTM(64) -> Dropout(1 - keep_prob) -> Dense(2); inputs ``(ids, lengths)``, or
    ``(ids, lengths, mask)`` in training, the dropout mask given as data (:func:`dropout_masks`)."""
    import modern_rnn
    from modern_rnn import keras, tf

    class SentimentModel(keras.Model):
        def __init__(self):
            super().__init__(name="sentiment")
            self.embedding = modern_rnn.glove_embedding(matrix)
            self.lstm = keras.layers.LSTM(config.units, unit_forget_bias=True, name="lstm")  # basic_lstm_cell's twin
            self.dropout = keras.layers.Dropout(1.0 - config.keep_prob)
            self.dense = keras.layers.Dense(NUM_CLASSES)

        takes_dropout_mask = True  # the training loops pass dropout_masks() rows as a third input

        def call(self, inputs, training=None):
            ids, lengths, *noise = inputs
            mask = tf.sequence_mask(lengths, tf.shape(ids)[1]) if config.use_length else None
            hidden = self.lstm(self.embedding(ids), mask=mask, training=training)
            if noise and training:
                return self.dense(hidden * noise[0])
            return self.dense(self.dropout(hidden, training=training))

    model = SentimentModel()
    model((tf.zeros([1, config.max_len], tf.int32), tf.ones([1], tf.int32)))
    return model


def load_tf1_weights(model, weights: Mapping[str, np.ndarray], units: int) -> None:
    """Set the Keras model from TF1 arrays by checkpoint name (the LSTM converted, Dense copied)."""

    missing = [n for n in LSTM_VARS + DENSE_VARS if n not in weights]
    if missing:
        raise MigrationError(f"initial_weights lacks {missing}; expected the TF1 names {list(LSTM_VARS + DENSE_VARS)} "
                             f"(got {sorted(weights)[:8]}...).")
    kernel = np.asarray(weights[LSTM_VARS[0]])
    lstm = cell_to_keras(CellSpec("basic_lstm", units, forget_bias=1.0),
                         {"kernel": kernel, "bias": weights[LSTM_VARS[1]]}, kernel.shape[0] - units)
    model.lstm.cell.set_weights(lstm)
    model.dense.set_weights([weights[DENSE_VARS[0]], weights[DENSE_VARS[1]]])


def keras_eval_batch(model):
    """``(ids, lengths, labels) -> (mean loss, correct count)`` of the Keras model on one held-out batch (no
    dropout), for :func:`evaluate`."""
    from modern_rnn import keras, tf

    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(ids, lengths, labels):
        logits = model((ids, lengths), training=False)
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), tf.argmax(labels, 1)), tf.float32))
        return loss_fn(labels, logits), correct

    return lambda ids, lengths, labels: step(ids, lengths, _one_hot(labels))


def train_modern(config: SentimentConfig, initial_weights: Optional[Mapping[str, np.ndarray]] = None,
                 prepared: Optional[Prepared] = None, model=None, optimizer=None, start_step: int = 0) -> ModernRun:
    """Train the Keras 2 twin on the same batches; start from TF1 ``initial_weights`` when given.

    ``model`` and ``optimizer`` continue an existing Keras model (e.g. one rebuilt from a converted TF1 checkpoint,
    with its converted Adam state), and ``start_step`` continues the TF1 batch schedule at that global step.
    """
    from modern_rnn import keras, tf

    config.validate()
    prepared = prepared or prepare(config)
    tf.random.set_seed(config.seed)
    model = model if model is not None else build_modern_model(config, prepared.matrix)
    if initial_weights is not None:
        load_tf1_weights(model, initial_weights, config.units)
    optimizer = optimizer if optimizer is not None else keras.optimizers.Adam(config.learning_rate, epsilon=1e-8)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)

    masked = getattr(model, "takes_dropout_mask", False)  # a converted whole model has no dropout

    @tf.function
    def train_step(ids, lengths, labels, noise):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model((ids, lengths, noise) if masked else (ids, lengths), training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    eval_batch = keras_eval_batch(model)
    test = (prepared.test_ids, prepared.test_lengths, prepared.test_labels)
    initial_eval = evaluate(eval_batch, *test)
    batches = batch_indices(prepared.train_labels, config.batch_size, config.steps, config.seed, start_step)
    noises = dropout_masks(config, start_step)
    losses: list[float] = []
    began = time.perf_counter()
    for k, idx in enumerate(progress(batches, total=config.steps, desc="modern", quiet=config.quiet)):
        loss = train_step(prepared.train_ids[idx], prepared.train_lengths[idx], _one_hot(prepared.train_labels[idx]),
                          noises[k])
        losses.append(float(loss))
    seconds = time.perf_counter() - began
    final = evaluate(eval_batch, *test)
    return ModernRun(losses, final["accuracy"], final["loss"], initial_eval, seconds, model)
