"""Real TF1 checkpoints for the checkpoint-migration tests, written by ``tf.compat.v1.train.Saver`` from the seeds'
graph patterns (seed 004: embedding + BasicLSTMCell + DropoutWrapper + unnamed dense + Adam, and its GloVe-constant
variant; seed 002: static_rnn BasicRNNCell and the hand-written W/b cell + softmax + Adagrad) and from the other
layouts users hold (stacked GRU under a custom scope, bidirectional peephole/projection LSTM with active clips,
forget_bias 0 and 0.5, partitioned embeddings with 'mod' and 'div').

Every variable gets random values before saving (biases, slots, everything), so that bias and forget_bias handling,
gate permutations and slot conversion are really exercised. Sizes stay small (B<=4, T<=6, units<=8).
"""
from __future__ import annotations

import os
import re
import shutil

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST, load_values

try:  # two xdist workers share 2 cores: one thread each avoids oversubscription
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
except RuntimeError:
    pass

B, T = 4, 6



def randomize(sess, seed: int, scale: float = 0.5, skip=()) -> None:
    """Give every float variable random values: slots that must be positive (Adam v, Adagrad) get |x| + 0.01,
    Adam beta powers get beta^(t+1) for t = 3 steps, global_step 3."""
    rng = np.random.default_rng(seed)
    pairs = []
    for var in v1.global_variables():
        name = var.op.name
        if any(re.search(s, name) for s in skip):
            continue
        shape = var.shape.as_list()
        if name.endswith("beta1_power"):
            value = np.float32(0.9 ** 4)
        elif name.endswith("beta2_power"):
            value = np.float32(0.999 ** 4)
        elif name == "global_step":
            value = np.int64(3)
        elif var.dtype.base_dtype.is_floating:
            value = rng.normal(0.0, scale, shape).astype(np.float32)
            if re.search(r"/(Adam_1|Adagrad|RMSProp)$", name):
                value = np.abs(value) + 0.01
        else:
            continue
        pairs.append((var, value))
    load_values(sess, pairs)


def record(sess, directory, name: str, feed: dict, fetches, **inputs) -> None:
    """Run the ORIGINAL graph and keep its outputs (tf.nest.flatten order) as the reference for the tests."""
    os.makedirs(directory, exist_ok=True)
    flat = sess.run(tf.nest.flatten(fetches), feed)
    np.savez(os.path.join(str(directory), f"ref_{name}.npz"), *flat, **inputs)


def load_ref(prefix: str, name: str) -> tuple[dict, list]:
    data = np.load(os.path.join(os.path.dirname(prefix), f"ref_{name}.npz"))
    inputs = {k: data[k] for k in data.files if not k.startswith("arr_")}
    return inputs, [data[f"arr_{i}"] for i in range(len([k for k in data.files if k.startswith("arr_")]))]


def save(sess, directory, name="model.ckpt", step=None) -> str:
    os.makedirs(directory, exist_ok=True)
    return v1.train.Saver().save(sess, os.path.join(str(directory), name), global_step=step)


def build_seed004(directory, glove: bool = False, seed: int = 4) -> str:
    """Seed 004: ids -> embedding -> BasicLSTMCell in DropoutWrapper -> dynamic_rnn -> last output -> unnamed
    tf.Variable weight/bias -> softmax CE -> Adam (with global_step). ``glove``: the seed's own form, a NumPy matrix
    passed to embedding_lookup (a graph Const) after ``data = tf.Variable(tf.zeros([B, T, E]))``."""
    vocab, dim, units, classes = 20, 5, 6, 2
    with legacy_rnn.new_graph(seed) as graph:
        ids = v1.placeholder(tf.int32, [None, T], name="input_data")
        labels = v1.placeholder(tf.float32, [None, classes], name="labels")
        keep = legacy_rnn.keep_prob_placeholder()
        if glove:
            word_vectors = np.random.default_rng(seed).normal(0, 1, (vocab, dim)).astype(np.float32)
            data = tf.Variable(tf.zeros([B, T, dim]), dtype=tf.float32)  # noqa: F841  (the seed's unused variable)
            data = legacy_rnn.glove_embedding(word_vectors, ids)
        else:
            embedding = v1.get_variable("embedding", [vocab, dim])
            data = v1.nn.embedding_lookup(embedding, ids)
        cell = legacy_rnn.dropout_wrapper(legacy_rnn.basic_lstm_cell(units), output_keep_prob=keep)
        value, state = legacy_rnn.dynamic_rnn(cell, data)
        weight = tf.Variable(v1.truncated_normal([units, classes]))
        bias = tf.Variable(tf.constant(0.1, shape=[classes]))
        prediction = tf.matmul(value[:, -1], weight) + bias
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=prediction))
        step = v1.train.get_or_create_global_step()
        v1.train.AdamOptimizer().minimize(loss, global_step=step)
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        randomize(sess, seed)
        x = np.random.default_rng(seed).normal(0, 1, (B, T, dim)).astype(np.float32)
        record(sess, directory, "rnn", {data: x, keep: 1.0}, (value, state), x=x, lengths=np.full(B, T, np.int32))
        return save(sess, directory)


def build_seed002(directory, handwritten: bool, seed: int = 2) -> str:
    """Seed 002: one-hot binary inputs, static_rnn(BasicRNNCell) or the hand-written rnn_cell/W,b loop, a
    softmax/W,b head, AdagradOptimizer (no global_step)."""
    classes, state = 2, 4
    with legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.int32, [B, T], name="x")
        y = v1.placeholder(tf.int32, [B, T], name="y")
        init_state = tf.zeros([B, state])
        rnn_inputs = tf.unstack(tf.one_hot(x, classes), axis=1)
        if handwritten:
            step = legacy_rnn.handwritten_rnn_cell(state, classes)
            outputs, s = [], init_state
            for rnn_input in rnn_inputs:
                s = step(rnn_input, s)
                outputs.append(s)
        else:
            cell = legacy_rnn.basic_rnn_cell(state)
            outputs, s = legacy_rnn.static_rnn(cell, rnn_inputs, initial_state=init_state)
        with v1.variable_scope("softmax"):
            w = v1.get_variable("W", [state, classes])
            b = v1.get_variable("b", [classes], initializer=v1.constant_initializer(0.0))
        logits = [tf.matmul(o, w) + b for o in outputs]
        losses = [tf.nn.sparse_softmax_cross_entropy_with_logits(labels=l, logits=g)
                  for g, l in zip(logits, tf.unstack(y, axis=1))]
        v1.train.AdagradOptimizer(0.1).minimize(tf.reduce_mean(losses))
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        randomize(sess, seed)
        ids = np.random.default_rng(seed).integers(0, classes, (B, T))
        record(sess, directory, "rnn", {x: ids}, (tf.stack(outputs, 1), s), x=np.eye(classes, dtype=np.float32)[ids],
               lengths=np.full(B, T, np.int32))
        return save(sess, directory)


def build_gru_encoder(directory, seed: int = 5) -> str:
    """dynamic_rnn(MultiRNNCell([GRUCell(5), GRUCell(4)]), scope='encoder') -> encoder/multi_rnn_cell/cell_k/..."""
    with legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.float32, [None, T, 3])
        length = v1.placeholder(tf.int32, [None])
        cell = legacy_rnn.multi_rnn_cell([legacy_rnn.gru_cell(5), legacy_rnn.gru_cell(4)])
        result = legacy_rnn.dynamic_rnn(cell, x, sequence_length=length, scope="encoder")
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        randomize(sess, seed)
        xs, ls = np.random.default_rng(seed).normal(0, 1, (B, T, 3)).astype(np.float32), np.array([T, 1, 3, 5], np.int32)
        record(sess, directory, "encoder", {x: xs, length: ls}, result, x=xs, lengths=ls)
        return save(sess, directory)


CLIP = {"cell_clip": 0.3, "proj_clip": 0.2}


def build_bidirectional_projection(directory, seed: int = 6) -> tuple[str, float]:
    """bidirectional_dynamic_rnn(LSTMCell(6, use_peepholes, num_proj=3, cell_clip, proj_clip, forget_bias=0.5) x 2).

    Returns (prefix, fraction of final |c| values sitting at cell_clip) so tests can assert the clip is active.
    """
    with legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.float32, [None, T, 3])
        length = v1.placeholder(tf.int32, [None])
        cells = [legacy_rnn.lstm_cell(6, use_peepholes=True, num_proj=3, forget_bias=0.5, **CLIP) for _ in range(2)]
        result = legacy_rnn.bidirectional_dynamic_rnn(cells[0], cells[1], x, sequence_length=length)
        st_fw = result[1][0]
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        randomize(sess, seed, scale=1.0)
        feed = {x: np.random.default_rng(seed).normal(0, 1, (B, T, 3)).astype(np.float32), length: [T, 1, 3, 5]}
        c_fw, m_fw = sess.run([st_fw.c, st_fw.h], feed)
        record(sess, directory, "bidirectional_rnn", feed, result, x=feed[x], lengths=np.array(feed[length], np.int32))
        clipped = float(np.mean(np.isclose(np.abs(c_fw), CLIP["cell_clip"])))
        assert np.max(np.abs(m_fw)) <= CLIP["proj_clip"] + 1e-7
        return save(sess, directory), clipped


def build_forget_bias(directory, seed: int = 7) -> str:
    """Two blocks: dynamic_rnn(BasicLSTMCell(5, forget_bias=0.0), scope='zero') and, under variable_scope('model'),
    dynamic_rnn(LSTMCell(4, forget_bias=0.5)) -> model/rnn/lstm_cell/..."""
    with legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.float32, [None, T, 3])
        length = v1.placeholder(tf.int32, [None])
        zero = legacy_rnn.dynamic_rnn(legacy_rnn.basic_lstm_cell(5, forget_bias=0.0), x, sequence_length=length,
                                      scope="zero")
        with v1.variable_scope("model"):
            half = legacy_rnn.dynamic_rnn(legacy_rnn.lstm_cell(4, forget_bias=0.5), x, sequence_length=length)
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        randomize(sess, seed)
        xs, ls = np.random.default_rng(seed).normal(0, 1, (B, T, 3)).astype(np.float32), np.array([T, 2, 1, 4], np.int32)
        record(sess, directory, "zero", {x: xs, length: ls}, zero, x=xs, lengths=ls)
        record(sess, directory, "model_rnn", {x: xs, length: ls}, half, x=xs, lengths=ls)
        return save(sess, directory)


def build_partitioned(directory, strategy: str, seed: int = 8) -> str:
    """get_variable('emb', [10, 5], partitioner=fixed_size_partitioner(3)) looked up with ``strategy``, feeding a
    BasicRNNCell(4) dynamic_rnn."""
    with legacy_rnn.new_graph(seed) as graph:
        ids = v1.placeholder(tf.int32, [None, T])
        emb = legacy_rnn.embedding_variable("emb", shape=(10, 5), num_shards=3)
        data = legacy_rnn.embedding_lookup(emb, ids, partition_strategy=strategy)
        legacy_rnn.dynamic_rnn(legacy_rnn.basic_rnn_cell(4), data)
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        randomize(sess, seed)
        all_ids = np.arange(12, dtype=np.int32).reshape(2, T) % 10
        record(sess, directory, "lookup", {ids: all_ids}, data, ids=all_ids)
        return save(sess, directory)


def build_dense_only(directory, seed: int = 9) -> str:
    with legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.float32, [None, 3])
        v1.layers.dense(x, 2)
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        randomize(sess, seed)
        return save(sess, directory)


def build_unknown_cell(directory, seed: int = 10) -> str:
    """An RNN-looking scope whose layout no table row matches: rnn/my_cell/{kernel,bias} from raw get_variable."""
    with legacy_rnn.new_graph(seed) as graph:
        with v1.variable_scope("rnn/my_cell"):
            v1.get_variable("kernel", [7, 8])
            v1.get_variable("bias", [8])
        with v1.variable_scope("rnn/basic_lstm_cell"):
            v1.get_variable("kernel", [7, 16])
            v1.get_variable("bias", [16])
            v1.get_variable("extra", [4])
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        randomize(sess, seed)
        return save(sess, directory)


def copy_checkpoint(prefix: str, directory, with_meta: bool = True, name: str = "model.ckpt") -> str:
    os.makedirs(directory, exist_ok=True)
    out = os.path.join(str(directory), name)
    for path in [prefix + ".index"] + sorted(p for p in os.listdir(os.path.dirname(prefix))
                                            if p.startswith(os.path.basename(prefix) + ".data-")):
        src = path if os.path.isabs(path) else os.path.join(os.path.dirname(prefix), path)
        shutil.copy(src, out + src[len(prefix):])
    if with_meta and os.path.exists(prefix + ".meta"):
        shutil.copy(prefix + ".meta", out + ".meta")
    return out


@pytest.fixture(scope="session")
def ckpts(tmp_path_factory):
    """Lazily built checkpoints, one per pattern, shared by the tests of one worker."""
    root = tmp_path_factory.mktemp("ckpts")
    built: dict = {}
    builders = {
        "seed004": lambda d: build_seed004(d),
        "seed004_glove": lambda d: build_seed004(d, glove=True),
        "seed002_static": lambda d: build_seed002(d, handwritten=False),
        "seed002_handwritten": lambda d: build_seed002(d, handwritten=True),
        "gru_encoder": build_gru_encoder,
        "bidi_projection": build_bidirectional_projection,
        "forget_bias": build_forget_bias,
        "partitioned_mod": lambda d: build_partitioned(d, "mod"),
        "partitioned_div": lambda d: build_partitioned(d, "div"),
        "dense_only": build_dense_only,
        "unknown_cell": build_unknown_cell,
    }

    class _Lazy:
        extra: dict = {}

        def __getitem__(self, name: str) -> str:
            if name not in built:
                result = builders[name](root / name)
                if isinstance(result, tuple):
                    result, self.extra[name] = result
                built[name] = result
            return built[name]

    return _Lazy()


@pytest.fixture(scope="session")
def converted(ckpts, tmp_path_factory):
    """``converted(name, *flags)`` -> (exit code, OUT_DIR) of ``rnn-migrate convert`` on checkpoint ``name``, cached."""
    from migration.cli import main

    root = tmp_path_factory.mktemp("converted")
    cache: dict = {}

    def get(name: str, *flags: str):
        key = (name, flags)
        if key not in cache:
            out = root / (name + "".join(f.strip("-").replace("-", "_") for f in flags))
            cache[key] = (main(["convert", ckpts[name], str(out), "--quiet", *flags]), str(out))
        return cache[key]

    return get


def run_cli(*args) -> int:
    """Run ``rnn-migrate ARGS`` in-process and return its exit code."""
    from migration.cli import main

    return main([str(a) for a in args])


@pytest.fixture(scope="session")
def contrib_program(tmp_path_factory):
    """The one TF1 program of the tf.contrib family modules, converted/verified/converted wrongly once
    (contrib_program.py; those modules share one xdist group so that one worker builds it once)."""
    import contrib_program  # the modules that register its parts import it; it imports this module's helpers

    return contrib_program.build(tmp_path_factory)
