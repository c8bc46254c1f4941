"""Embeddings (GloVe constant, variables, partitioned 'mod'/'div'), DropoutWrapper, ResidualWrapper, initial states
and zero-length sequences: the constructs the table does not cover, each on both sides."""
from __future__ import annotations

import numpy as np
import pytest

import legacy_rnn
import modern_rnn
from migration import converters
from migration.core.specs import CellSpec

from .harness import Case, loss_weights, random_inputs, run_tf1

tf, v1, keras = legacy_rnn.tf, legacy_rnn.v1, modern_rnn.keras
IDS = np.array([[0, 3, 9, 4], [7, 1, 1, 8]], np.int32)  # repeated ids on purpose


def _tf1_lookup(num_shards: int, strategy: str, full: np.ndarray):
    with legacy_rnn.new_graph(0) as graph:
        emb = legacy_rnn.embedding_variable("emb", matrix=full, num_shards=num_shards)
        out = legacy_rnn.embedding_lookup(emb, IDS, partition_strategy=strategy)
        with legacy_rnn.new_session(graph) as sess:
            legacy_rnn.initialize(sess)
            looked_up = sess.run(out)
            saved = dict(zip([v.op.name for v in v1.global_variables()], sess.run(v1.global_variables())))
    return looked_up, saved


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_partitioned_lookup_reproduced_by_keras(strategy: str) -> None:
    full = np.random.default_rng(0).standard_normal((10, 5)).astype(np.float32)
    looked_up, parts = _tf1_lookup(3, strategy, full)
    assert sorted(parts) == ["emb/part_0", "emb/part_1", "emb/part_2"]
    saved_full = np.concatenate([parts[f"emb/part_{k}"] for k in range(3)])  # what the Saver writes as `emb`
    rows = saved_full[converters.mod_partition_permutation(10, 3)] if strategy == "mod" else saved_full
    layer = modern_rnn.embedding_variable("emb", matrix=rows)
    np.testing.assert_allclose(modern_rnn.embedding_lookup(layer, IDS).numpy(), looked_up, atol=1e-7)
    if strategy == "mod":  # negative control: the unpermuted rows are wrong for 'mod'
        naive = modern_rnn.embedding_variable("naive", matrix=saved_full)
        assert np.abs(naive(IDS).numpy() - looked_up).max() > 0.1


def test_keras_embedding_lookup_refuses_mod() -> None:
    layer = modern_rnn.embedding_variable("e", shape=(4, 2))
    with pytest.raises(ValueError, match="mod_partition_permutation"):
        modern_rnn.embedding_lookup(layer, IDS % 4, partition_strategy="mod")


def test_glove_constant_both_sides_and_float64_trap() -> None:
    glove = np.random.default_rng(1).standard_normal((12, 6))  # float64, as np.loadtxt gives it
    with legacy_rnn.new_graph(0) as graph:
        out = legacy_rnn.glove_embedding(glove, IDS)
        assert out.dtype == tf.float32  # cast: a float64 lookup would break dynamic_rnn(dtype=float32)
        consts = [n for n in graph.as_graph_def().node if n.op == "Const" and n.attr["value"].tensor.tensor_shape.dim
                  and [d.size for d in n.attr["value"].tensor.tensor_shape.dim] == [12, 6]]
        assert consts, "the GloVe matrix should live in the GraphDef as a Const"
        with legacy_rnn.new_session(graph) as sess:
            tf1_rows = sess.run(out)
    layer = modern_rnn.glove_embedding(glove)
    assert layer.trainable is False
    np.testing.assert_allclose(layer(IDS).numpy(), tf1_rows, atol=1e-7)
    with pytest.raises(ValueError, match=r"`matrix`: expected \(vocab_size, dim\)"):
        modern_rnn.glove_embedding(np.zeros(5))
    with pytest.raises(ValueError, match=r"`matrix`: expected \(vocab_size, dim\)"):
        legacy_rnn.glove_embedding(np.zeros((0, 3)), IDS)


def test_dropout_inference_is_identity_on_both_sides() -> None:
    """keep_prob fed 1.0 (TF1) and training=False (Keras) equal the bare cell."""
    spec = CellSpec("basic_lstm", 4)
    x = random_inputs(0)
    w = {"kernel": np.random.default_rng(2).uniform(-0.5, 0.5, (8, 16)).astype(np.float32),
         "bias": np.random.default_rng(3).uniform(-0.5, 0.5, 16).astype(np.float32)}
    with legacy_rnn.new_graph(0) as graph:
        keep = legacy_rnn.keep_prob_placeholder()
        cell = legacy_rnn.dropout_wrapper(legacy_rnn.basic_lstm_cell(4), output_keep_prob=keep, state_keep_prob=keep)
        out, _ = legacy_rnn.dynamic_rnn(cell, x)
        variables = {v.op.name.split("/")[-1]: v for v in v1.global_variables()}
        assert sorted(v.op.name for v in v1.global_variables()) == ["rnn/basic_lstm_cell/bias", "rnn/basic_lstm_cell/kernel"]
        with legacy_rnn.new_session(graph) as sess:
            sess.run([variables[k].assign(v) for k, v in w.items()])
            tf1_eval = sess.run(out)
            tf1_train = [sess.run(out, {keep: 0.5}) for _ in range(2)]
    wrapped = modern_rnn.dropout_wrapper(modern_rnn.basic_lstm_cell(4), output_keep_prob=0.5, state_keep_prob=0.5)
    modern_rnn.dynamic_rnn(wrapped, x)
    wrapped.cell.set_weights(converters.cell_to_keras(spec, w, 4))
    keras_eval, _ = modern_rnn.dynamic_rnn(wrapped, x, training=False)
    np.testing.assert_allclose(keras_eval.numpy(), tf1_eval, atol=1e-6)
    assert np.abs(tf1_train[0] - tf1_train[1]).max() > 0.05  # a fed keep_prob < 1 really drops


def test_dropout_training_statistics_match_keep_prob() -> None:
    """Training-time behaviour, statistically (the RNGs differ, so not by value): among the outputs that are non-zero
    without dropout, a fraction close to 1 - keep_prob is zeroed, and the survivors are scaled by 1/keep_prob."""
    x = np.abs(random_inputs(5)).repeat(40, axis=0) + 0.1
    keep = 0.7
    with legacy_rnn.new_graph(1) as graph:
        keep_prob = legacy_rnn.keep_prob_placeholder()
        cell = legacy_rnn.dropout_wrapper(legacy_rnn.basic_rnn_cell(16, activation="relu"), output_keep_prob=keep_prob)
        out, _ = legacy_rnn.dynamic_rnn(cell, x)
        with legacy_rnn.new_session(graph) as sess:
            legacy_rnn.initialize(sess)
            tf1_eval, tf1_train = sess.run(out), sess.run(out, {keep_prob: keep})
    wrapped = modern_rnn.dropout_wrapper(modern_rnn.basic_rnn_cell(16, activation="relu"), output_keep_prob=keep)
    keras_train, _ = modern_rnn.dynamic_rnn(wrapped, x, training=True)
    keras_eval, _ = modern_rnn.dynamic_rnn(wrapped, x, training=False)
    for evaluated, trained in ((tf1_eval, tf1_train), (keras_eval.numpy(), keras_train.numpy())):
        active = evaluated > 0
        assert active.sum() > 1000
        survivors = active & (trained != 0)
        assert abs(np.mean(trained[active] == 0) - (1 - keep)) < 0.03
        # output dropout scales survivors (only the outputs are dropped here, so the inputs of later steps are equal)
        np.testing.assert_allclose(trained[survivors][:200], evaluated[survivors][:200] / keep, rtol=1e-4)


def test_residual_wrapper_both_sides() -> None:
    spec = CellSpec("basic_rnn", 4)
    x = random_inputs(0)
    w = {"kernel": np.random.default_rng(4).uniform(-0.6, 0.6, (8, 4)).astype(np.float32),
         "bias": np.random.default_rng(5).uniform(-0.5, 0.5, 4).astype(np.float32)}
    with legacy_rnn.new_graph(0) as graph:
        out, state = legacy_rnn.dynamic_rnn(legacy_rnn.residual_wrapper(legacy_rnn.basic_rnn_cell(4)), x)
        assert sorted(v.op.name for v in v1.global_variables()) == ["rnn/basic_rnn_cell/bias", "rnn/basic_rnn_cell/kernel"]
        with legacy_rnn.new_session(graph) as sess:
            sess.run([v.assign(w[v.op.name.split("/")[-1]]) for v in v1.global_variables()])
            tf1_out, tf1_state = sess.run([out, state])
    cell = modern_rnn.residual_wrapper(modern_rnn.basic_rnn_cell(4))
    modern_rnn.dynamic_rnn(cell, x)
    cell.cell.set_weights(converters.cell_to_keras(spec, w, 4))
    k_out, k_state = modern_rnn.dynamic_rnn(cell, x)
    np.testing.assert_allclose(k_out.numpy(), tf1_out, atol=1e-6)
    np.testing.assert_allclose(k_state[0].numpy(), tf1_state, atol=1e-6)
    assert np.abs(tf1_out[:, -1] - tf1_state).max() > 0.1  # output = state + input: the state is not residual


@pytest.mark.parametrize("kind", ["basic_lstm", "gru", "lstm_proj"])
def test_fed_initial_state_in_each_order(kind: str) -> None:
    """TF1 LSTMStateTuple(c, h) vs Keras initial_state=[h, c]: converted with tf1_state_to_keras."""
    spec = {"basic_lstm": CellSpec("basic_lstm", 4, forget_bias=0.5), "gru": CellSpec("gru", 4),
            "lstm_proj": CellSpec("lstm", 4, num_proj=3, use_peepholes=True)}[kind]
    x = random_inputs(3)
    rng = np.random.default_rng(9)
    init = tuple(rng.uniform(-0.8, 0.8, (3, n)).astype(np.float32) for n in spec.tf1_state_sizes)
    with legacy_rnn.new_graph(0) as graph:
        cell = legacy_rnn.cell_from_spec(spec)
        state = v1.nn.rnn_cell.LSTMStateTuple(*init) if spec.is_lstm else init[0]
        out, final = legacy_rnn.dynamic_rnn(cell, x, initial_state=state, sequence_length=[5, 2, 4])
        with legacy_rnn.new_session(graph) as sess:
            legacy_rnn.initialize(sess)
            tf1_out, tf1_final = sess.run([out, legacy_rnn.flatten_state(final)])
            names = [v.op.name for v in v1.global_variables()]
            values = dict(zip(names, sess.run(v1.global_variables())))
    kcell = modern_rnn.cell_from_spec(spec)
    keras_init = converters.tf1_state_to_keras(spec, init)
    modern_rnn.dynamic_rnn(kcell, x, initial_state=keras_init)
    prefix = f"rnn/{spec.tf1_scope}/"
    kcell.set_weights(converters.cell_to_keras(spec, {n[len(prefix):]: v for n, v in values.items()}, 4))
    k_out, k_final = modern_rnn.dynamic_rnn(kcell, x, initial_state=keras_init, sequence_length=[5, 2, 4])
    np.testing.assert_allclose(k_out.numpy(), tf1_out, atol=1e-5)
    for a, b in zip(modern_rnn.flatten_state(k_final, kcell), tf1_final):
        np.testing.assert_allclose(a.numpy(), b, atol=1e-5)
    if spec.is_lstm and spec.num_proj is None:  # negative control: TF1 order fed to Keras as it is
        swapped, _ = modern_rnn.dynamic_rnn(kcell, x, initial_state=list(init), sequence_length=[5, 2, 4])
        assert np.abs(swapped.numpy() - tf1_out).max() > 1e-3


def test_zero_length_sequence_gives_zero_outputs_and_state() -> None:
    spec = CellSpec("basic_lstm", 3)
    x = random_inputs(4)
    lengths = [5, 0, 2]
    with legacy_rnn.new_graph(0) as graph:
        out, state = legacy_rnn.dynamic_rnn(legacy_rnn.cell_from_spec(spec), x, sequence_length=lengths)
        with legacy_rnn.new_session(graph) as sess:
            legacy_rnn.initialize(sess)
            values = dict(zip([v.op.name for v in v1.global_variables()], sess.run(v1.global_variables())))
            tf1_out, tf1_state = sess.run([out, legacy_rnn.flatten_state(state)])
    kcell = modern_rnn.cell_from_spec(spec)
    modern_rnn.dynamic_rnn(kcell, x)
    kcell.set_weights(converters.cell_to_keras(spec, {n.split("basic_lstm_cell/")[1]: v for n, v in values.items()}, 4))
    k_out, k_state = modern_rnn.dynamic_rnn(kcell, x, sequence_length=lengths)
    np.testing.assert_allclose(k_out.numpy(), tf1_out, atol=1e-6)
    assert not k_out.numpy()[1].any() and not tf1_out[1].any()
    for a, b in zip(modern_rnn.flatten_state(k_state, kcell), tf1_state):
        np.testing.assert_allclose(a.numpy(), b, atol=1e-6)
        assert not b[1].any()


def test_projection_clipping_is_really_active_in_the_table() -> None:
    """The table's peephole/projection spec must exercise both clips, or they would be untested."""
    from .test_equivalence_table import CELLS

    spec = CELLS["peephole_proj_lstm"]
    case = Case("clip", spec, "dynamic")
    res = run_tf1(case, random_inputs(0), loss_weights(case), seed=11, with_grads=False)
    c, m = res.states
    assert np.mean(np.isclose(np.abs(res.outputs), spec.proj_clip)) > 0.05
    assert np.mean(np.isclose(np.abs(c), spec.cell_clip)) > 0.05


def _in_loop_dropout_run(keep_prob: float, parallel_iterations: int) -> np.ndarray:
    """Three training steps of a DropoutWrapper inside dynamic_rnn, in a fresh seeded graph and session."""
    from legacy_rnn import tf, v1

    with legacy_rnn.new_graph(3) as graph:
        x = v1.placeholder(tf.float32, [4, 6, 3])
        cell = legacy_rnn.dropout_wrapper(legacy_rnn.basic_lstm_cell(5), output_keep_prob=keep_prob, seed=11)
        out, _ = legacy_rnn.dynamic_rnn(cell, x, parallel_iterations=parallel_iterations)
        step = v1.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(out ** 2))
        with legacy_rnn.new_session(graph=graph) as sess:
            legacy_rnn.initialize(sess)
            xs = np.linspace(-1, 1, 72, dtype=np.float32).reshape(4, 6, 3)
            return np.stack([sess.run([out, step], {x: xs})[0] for _ in range(3)])


def test_in_loop_dropout_masks_reproduce_with_one_parallel_iteration() -> None:
    """TF 2.x's while_v2 lets parallel iterations draw a stateful random op in a racy order (masks differ run to run
    at TF1's default parallel_iterations=32); with parallel_iterations=1 two fresh runs are bit-identical."""
    first, second = _in_loop_dropout_run(0.5, 1), _in_loop_dropout_run(0.5, 1)
    np.testing.assert_array_equal(first, second)
    assert np.mean(first == 0) > 0.2  # dropout really was active (about half of the outputs zeroed)
    assert not np.array_equal(first, _in_loop_dropout_run(1.0, 1))
