"""The tf.contrib wrappers that own variables (legacy_rnn.wrappers / modern_rnn.wrappers): TF1 graph -> Saver
checkpoint -> converted Keras twin (and back), ragged lengths, within 1e-5 on outputs and states; negative controls."""
from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

import legacy_rnn
import modern_rnn
from migration import converters
from migration.core.specs import CellSpec

from .harness import FAST_SESSION, LENGTHS, random_inputs

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
SPEC = {"lstm": CellSpec("basic_lstm", 5, forget_bias=0.5), "gru": CellSpec("gru", 4)}
WRAPPERS = [("output_projection", "lstm"), ("input_projection", "gru"), ("embedding", "gru"), ("embedding", "lstm")]
V, E, P = 7, 3, 2


def _inputs(kind: str) -> np.ndarray:
    if kind == "embedding":
        return np.random.default_rng(2).integers(0, V, (3, 5, 1)).astype(np.float32)
    return random_inputs(0)


def _tf1(kind: str, cell_kind: str, x: np.ndarray, values=None, seed: int = 1):
    """Returns (outputs, flat TF1 states, {name under the wrapper: value})."""
    rng = np.random.default_rng(seed)
    with legacy_rnn.new_graph(seed) as graph:
        xp = legacy_rnn.placeholder(tf.float32, x.shape, name="x")
        inner = legacy_rnn.cell_from_spec(SPEC[cell_kind])
        cell = {"output_projection": lambda: legacy_rnn.output_projection_wrapper(inner, P),
                "input_projection": lambda: legacy_rnn.input_projection_wrapper(inner, P),
                "embedding": lambda: legacy_rnn.embedding_wrapper(inner, V, E)}[kind]()
        out, state = legacy_rnn.dynamic_rnn(cell, xp, sequence_length=tf.constant(LENGTHS))
        variables = v1.trainable_variables()
        prefix = f"rnn/{kind}_wrapper/"
        if values is None:
            values = {v.op.name[len(prefix):]: rng.uniform(-.8, .8, v.shape).astype(np.float32) for v in variables}
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run([v.assign(values[v.op.name[len(prefix):]]) for v in variables])
            out_v, state_v = sess.run([out, legacy_rnn.flatten_state(state)], {xp: x})
            with tempfile.TemporaryDirectory() as tmp:
                reader = tf.train.load_checkpoint(legacy_rnn.save(sess, os.path.join(tmp, "m.ckpt")))
                saved = {v.op.name[len(prefix):]: reader.get_tensor(v.op.name) for v in variables}
    return out_v, state_v, saved


def _keras(kind: str, cell_kind: str, x: np.ndarray, tf1_values=None):
    spec = SPEC[cell_kind]
    inner = modern_rnn.cell_from_spec(spec)
    cell = {"output_projection": lambda: modern_rnn.output_projection_wrapper(inner, P),
            "input_projection": lambda: modern_rnn.input_projection_wrapper(inner, P),
            "embedding": lambda: modern_rnn.embedding_wrapper(inner, V, E)}[kind]()
    run = lambda: modern_rnn.dynamic_rnn(cell, x, sequence_length=tf.constant(LENGTHS))  # noqa: E731
    run()
    if tf1_values is not None:
        depth = {"output_projection": 4, "input_projection": P, "embedding": E}[kind]
        cell_arrays = {n.split("/", 1)[1]: v for n, v in tf1_values.items() if n.startswith(spec.tf1_scope + "/")}
        cell.cell.set_weights(converters.cell_to_keras(spec, cell_arrays, depth))
        if kind == "embedding":
            cell.embedding.set_weights([tf1_values["embedding"]])
        else:
            cell.projection.set_weights([tf1_values["kernel"], tf1_values["bias"]])
    out, state = run()
    return out.numpy(), [s.numpy() for s in modern_rnn.flatten_state(state, cell)], cell


def _diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.mark.parametrize("kind,cell_kind", WRAPPERS, ids=[f"{k}-{c}" for k, c in WRAPPERS])
def test_wrapper_checkpoint_into_keras_and_back(kind: str, cell_kind: str) -> None:
    x = _inputs(kind)
    out, states, saved = _tf1(kind, cell_kind, x)
    k_out, k_states, cell = _keras(kind, cell_kind, x, saved)
    assert _diff(k_out, out) <= 1e-5 and max(map(_diff, k_states, states)) <= 1e-5
    assert not out[2, 1:].any() and not k_out[2, 1:].any()
    # Keras -> TF1: the twin's weights, converted back, in the TF1 graph
    spec = SPEC[cell_kind]
    back = {f"{spec.tf1_scope}/{n}": v for n, v in converters.cell_to_tf1(spec, cell.cell.get_weights()).items()}
    if kind == "embedding":
        back["embedding"] = cell.embedding.get_weights()[0]
    else:
        back["kernel"], back["bias"] = cell.projection.get_weights()
    out2, _, _ = _tf1(kind, cell_kind, x, values=back)
    assert _diff(out2, k_out) <= 1e-5


def test_wrapper_negative_control_projection_transposed() -> None:
    """The projection applied to the wrong side (input instead of output) or transposed is caught."""
    x = _inputs("output_projection")
    out, _, saved = _tf1("output_projection", "lstm", x)
    wrong = dict(saved, kernel=saved["kernel"][::-1].copy())
    k_out, _, _ = _keras("output_projection", "lstm", x, wrong)
    assert _diff(k_out, out) > 1e-3


def test_one_home_for_the_wrappers_with_the_1_15_embedding_behaviours() -> None:
    """legacy_seq2seq uses legacy_rnn.wrappers' classes; the table is uniform ±sqrt(3) by default (variance 1, so
    its spread exceeds Glorot's on a [V, E] = [50, 40] table) and takes the state's dtype (float64 here)."""
    from legacy_rnn.seq2seq import legacy_seq2seq
    from legacy_rnn import wrappers

    assert legacy_seq2seq.EmbeddingWrapper is wrappers.EmbeddingWrapper
    assert legacy_seq2seq.OutputProjectionWrapper is wrappers.OutputProjectionWrapper
    with legacy_rnn.new_graph(0) as graph:
        ids = legacy_rnn.placeholder(tf.int32, (3, 4, 1), name="ids")
        cell = legacy_rnn.embedding_wrapper(legacy_rnn.cell_from_spec(CellSpec("gru", 4)), 50, 40)
        legacy_rnn.dynamic_rnn(cell, ids, dtype=tf.float64)
        (table,) = [v for v in v1.global_variables() if v.op.name.endswith("embedding")]
        assert table.op.name == "rnn/embedding_wrapper/embedding" and table.dtype.base_dtype == tf.float64
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run(v1.global_variables_initializer())
            values = sess.run(table)
    assert np.abs(values).max() <= np.sqrt(3) and np.abs(values).max() > 1.5  # Glorot's limit here is 0.26
    assert 0.8 < values.var() < 1.2


def test_export_refuses_wrapper_twins_whose_weights_it_would_drop() -> None:
    """export walks through weightless wrappers (dropout, residual) to the cell; a projection/embedding twin owns a
    Dense/Embedding it does not write, so it is refused by name instead of exported without it."""
    from migration.checkpoint.export import collect_tf1_arrays
    from migration.core.errors import MigrationError
    from modern_rnn import keras

    for make in (lambda c: modern_rnn.output_projection_wrapper(c, P), lambda c: modern_rnn.input_projection_wrapper(c, P)):
        inp = keras.Input((None, 4))
        model = keras.Model(inp, keras.layers.RNN(make(modern_rnn.cell_from_spec(SPEC["gru"])), name="rnn")(inp))
        with pytest.raises(MigrationError, match=r"layer 'rnn' wraps its cell in \w+ProjectionCell"):
            collect_tf1_arrays(model, scope="rnn")
