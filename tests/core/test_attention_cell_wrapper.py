"""tf.contrib.rnn.AttentionCellWrapper (legacy_rnn.wrappers.attention_cell_wrapper) and its Keras twin
(modern_rnn.wrappers.AttentionCell): TF1 graph -> Saver checkpoint -> migration.wrapper_converters -> Keras (and
back), ragged lengths, within 1e-5 on outputs and every final state, both sides against an independent NumPy
reference of the TF 1.15 formulas; negative controls (window update order, softmax axis, the query's state order)."""
from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

import legacy_rnn
import modern_rnn
from migration import wrapper_converters as wc
from migration.core.specs import CellSpec

from .harness import FAST_SESSION, LENGTHS, random_inputs
from .reference import sigmoid, step, zero_state

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("attention_cell_wrapper")

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
L, A, V, I = 3, 3, 2, 5  # attn_length, attn_size, attn_vec_size, input_size (all distinct from D=4 and the units)
CASES = {"lstm": (CellSpec("basic_lstm", 4, forget_bias=0.5), True),
         "gru": (CellSpec("gru", 2), True),
         "gru-concat-state": (CellSpec("gru", 2), False)}
PREFIX = "rnn/attention_cell_wrapper/"


def _tf1(case: str, x: np.ndarray, values=None, seed: int = 4):
    """Returns (outputs, flat final state in TF1 order, {name under attention_cell_wrapper/: saved value})."""
    spec, as_tuple = CASES[case]
    rng = np.random.default_rng(seed)
    with legacy_rnn.new_graph(seed) as graph:
        xp = legacy_rnn.placeholder(tf.float32, x.shape, name="x")
        cell = legacy_rnn.attention_cell_wrapper(legacy_rnn.cell_from_spec(spec), L, attn_size=A, attn_vec_size=V,
                                                 input_size=I, state_is_tuple=as_tuple)
        out, state = legacy_rnn.dynamic_rnn(cell, xp, sequence_length=tf.constant(LENGTHS))
        variables = v1.trainable_variables()
        if values is None:
            # seeded, asymmetric, non-zero biases; the attention weights larger so the softmax is far from uniform
            values = {n: (rng.uniform(-1.2, 1.2, v.shape) / np.sqrt(max(v.shape[0], 1))
                          * (4.0 if n.startswith("attention/") else 1.0)).astype(np.float32)
                      for n, v in ((v.op.name[len(PREFIX):], v) for v in variables)}
        assert sorted(v.op.name[len(PREFIX):] for v in variables) == sorted(values)
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run([v.assign(values[v.op.name[len(PREFIX):]]) for v in variables])
            out_v, state_v = sess.run([out, legacy_rnn.flatten_state(state)], {xp: x})
            with tempfile.TemporaryDirectory() as tmp:
                reader = tf.train.load_checkpoint(legacy_rnn.save(sess, os.path.join(tmp, "m.ckpt")))
                saved = {v.op.name[len(PREFIX):]: reader.get_tensor(v.op.name) for v in variables}
    if not as_tuple:  # one [B, S + A + L*A] tensor: split it like the tuple layout
        (flat,) = state_v
        state_v = np.split(flat, np.cumsum([sum(spec.tf1_state_sizes), A]), axis=1)
    return out_v, list(state_v), saved


def _reference(spec: CellSpec, w: dict, x, lengths, window_update: str = "drop_oldest", softmax_axis: int = 1):
    """The TF 1.15 formulas in NumPy on the TF1 arrays (float64); the state is frozen past each row's length."""
    x = np.asarray(x, np.float64)
    batch, steps = x.shape[:2]
    cell_w = {n.split("/", 1)[1]: v for n, v in w.items() if n.startswith(spec.tf1_scope + "/")}
    state, attns, window = zero_state(spec, batch), np.zeros((batch, A)), np.zeros((batch, L, A))
    outputs = np.zeros((batch, steps, A))
    for t in range(steps):
        live = (t < lengths)[:, None]
        inp = np.concatenate([x[:, t], attns], 1) @ w["kernel"] + w["bias"]
        cell_out, new_state = step(spec, cell_w, inp, state)
        query = np.concatenate(new_state, 1)  # TF1 flatten order: c, h
        features = window @ w["attention/attn_w"][0, 0]  # [B, L, V]
        y = (query @ w["attention/kernel"] + w["attention/bias"])[:, None, :]
        scores = (w["attention/attn_v"] * np.tanh(features + y)).sum(-1)  # [B, L]
        e = np.exp(scores - scores.max(softmax_axis, keepdims=True))
        a = e / e.sum(softmax_axis, keepdims=True)
        new_attns = (a[:, :, None] * window).sum(1)
        out = np.concatenate([cell_out, new_attns], 1) @ w["attn_output_projection/kernel"] \
            + w["attn_output_projection/bias"]
        new_window = (np.concatenate([window[:, 1:], out[:, None]], 1) if window_update == "drop_oldest"
                      else np.concatenate([window[:, :-1], out[:, None]], 1))  # "drop_newest": a wrong window
        state = tuple(np.where(live, n, o) for n, o in zip(new_state, state))
        attns, window = np.where(live, new_attns, attns), np.where(live[:, :, None], new_window, window)
        outputs[:, t] = np.where(live, out, 0.0)
    return outputs, list(state) + [attns, window.reshape(batch, L * A)]


def _keras(case: str, x: np.ndarray, saved: dict, swap_query_rows: bool = True):
    spec, _ = CASES[case]
    cell = modern_rnn.attention_cell_wrapper(modern_rnn.cell_from_spec(spec), L, attn_size=A, attn_vec_size=V,
                                             input_size=I)
    run = lambda: modern_rnn.dynamic_rnn(cell, x, sequence_length=tf.constant(LENGTHS))  # noqa: E731
    run()
    weights = wc.attention_cell_wrapper_to_keras(spec, saved, x.shape[-1])
    if not swap_query_rows:  # negative control: the TF1 rows (c, h) read as if in Keras state order (h, c)
        weights["query"][0] = saved["attention/kernel"]
    wc.load_attention_cell(cell, weights)
    out, states = run()
    states = [s.numpy() for s in states]
    n = len(spec.keras_state_sizes)
    cell_states = states[:n][::-1] if spec.is_lstm else states[:n]  # Keras [h, c] -> TF1 (c, h)
    return out.numpy(), cell_states + states[n:], cell


def _diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.fixture(scope="module")
def runs():
    x = random_inputs(0)
    return x, {case: _tf1(case, x) for case in CASES}


@pytest.mark.parametrize("case", list(CASES))
def test_attention_cell_wrapper_matches_reference_and_keras_both_ways(runs, case: str) -> None:
    x, results = runs
    out, states, saved = results[case]
    spec, _ = CASES[case]
    assert saved["attention/kernel"].shape == (sum(spec.tf1_state_sizes), V)
    assert saved["kernel"].shape == (x.shape[-1] + A, I) and saved["attention/attn_w"].shape == (1, 1, A, V)
    ref_out, ref_states = _reference(spec, saved, x, LENGTHS)
    assert _diff(out, ref_out) <= 1e-5 and max(map(_diff, states, ref_states)) <= 1e-5
    assert not out[2, 1:].any() and np.abs(out[0]).min() > 0  # ragged: zeros after the length only
    k_out, k_states, cell = _keras(case, x, saved)
    assert _diff(k_out, out) <= 1e-5 and len(k_states) == len(states)
    assert max(map(_diff, k_states, states)) <= 1e-5
    # Keras -> TF1: the twin's weights converted back run in a fresh TF1 graph
    back = wc.attention_cell_wrapper_to_tf1(spec, wc.read_attention_cell(cell))
    assert sorted(back) == sorted(saved) and all(_diff(back[n], saved[n]) <= 1e-6 for n in saved)
    out2, states2, _ = _tf1(case, x, values=back)
    assert _diff(out2, k_out) <= 1e-5 and max(map(_diff, states2, k_states)) <= 1e-5


@pytest.mark.parametrize("wrong", ["window_drops_newest", "softmax_over_batch"])
def test_attention_negative_controls_reference_variants_are_caught(runs, wrong: str) -> None:
    """The reference with the wrong window update (the newest slot overwritten instead of the oldest dropped), or
    the softmax over the batch instead of the window slots, is far from TF1: the reference pins those choices.
    (The attention itself is order-free over the slots: only which slot leaves, and the state layout, matter.)"""
    x, results = runs
    out, _, saved = results["lstm"]
    kwargs = {"window_drops_newest": {"window_update": "drop_newest"}, "softmax_over_batch": {"softmax_axis": 0}}[wrong]
    wrong_out, _ = _reference(CASES["lstm"][0], saved, x, LENGTHS, **kwargs)
    assert _diff(wrong_out, out) > 1e-3


def test_attention_negative_control_query_rows_in_tf1_state_order(runs) -> None:
    """TF1's query is concat(c, h); the Keras state is [h, c]: without the row swap the converted twin is off."""
    x, results = runs
    out, states, saved = results["lstm"]
    k_out, k_states, _ = _keras("lstm", x, saved, swap_query_rows=False)
    assert _diff(k_out, out) > 1e-3


def test_attention_query_row_swap_is_an_exact_inverse_and_refuses_bad_shapes() -> None:
    spec = CellSpec("basic_lstm", 3)
    k = np.arange(6 * 2, dtype=np.float32).reshape(6, 2)
    assert np.array_equal(wc.query_rows_to_keras(k, spec)[:3], k[3:])
    assert np.array_equal(wc.query_rows_to_tf1(wc.query_rows_to_keras(k, spec), spec), k)
    with pytest.raises(ValueError, match="attn_length"):
        legacy_rnn.attention_cell_wrapper(legacy_rnn.gru_cell(2), 0)
    bad = {n: np.zeros((1,), np.float32) for n in wc.OWN_NAMES}
    with pytest.raises(Exception, match="invalid shape"):
        wc.attention_cell_wrapper_to_keras(spec, bad, 4)


def test_attention_cell_wrapper_checkpoint_is_named_and_refused_with_the_remedy(tmp_path, capsys) -> None:
    """Without the .meta (attn_length is in no checkpoint): inspect keeps the wrapped cell as a block reading the
    I-wide projection and refuses the wrapper's own eight variables by name, with the hyper-parameters read from
    their shapes and the remedy (never a guess); the CLI's convert exits 2 and writes nothing. (With the .meta it
    converts: tests/checkpoint/test_attention_convert.py.)"""
    from migration.checkpoint import inspect_checkpoint
    from migration.cli import main

    with legacy_rnn.new_graph(5) as graph:
        x = legacy_rnn.placeholder(tf.float32, (3, 5, 4), name="x")
        cell = legacy_rnn.attention_cell_wrapper(legacy_rnn.gru_cell(2), L, attn_size=A, attn_vec_size=V,
                                                 input_size=I)
        legacy_rnn.dynamic_rnn(cell, x, sequence_length=tf.constant(LENGTHS))
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            legacy_rnn.initialize(sess)
            prefix = legacy_rnn.save(sess, str(tmp_path / "m.ckpt"))
    os.remove(prefix + ".meta")
    insp = inspect_checkpoint(prefix)
    (block,) = insp.blocks
    assert block.scope == "rnn/attention_cell_wrapper" and block.input_size == I
    assert sorted(u.name for u in insp.unrecognized) == sorted(PREFIX + n for n in wc.OWN_NAMES)
    for u in insp.unrecognized:
        assert u.rnn_like and f"attn_size={A}, attn_vec_size={V}, input_size={I}, input depth 4" in u.reason
        assert "attention_cell_wrapper_to_keras" in u.reason and "attn_length" in u.reason and "no .meta" in u.reason
    assert not insp.convertible
    out = tmp_path / "out"
    assert main(["convert", prefix, str(out), "--quiet"]) == 2 and not out.exists()
    assert "AttentionCellWrapper" in capsys.readouterr().err


def test_attention_cell_round_trips_through_a_keras_file(runs, tmp_path) -> None:
    """The twin (registered, with get_config) saves to .keras and reloads in safe mode with the same outputs."""
    from modern_rnn import keras

    x, results = runs
    _, _, saved = results["lstm"]
    k_out, _, cell = _keras("lstm", x, saved)
    inp = keras.Input((None, x.shape[-1]))
    model = keras.Model(inp, keras.layers.RNN(cell, return_sequences=True)(inp))
    path = str(tmp_path / "attention.keras")
    model.save(path)
    again = keras.models.load_model(path, compile=False, safe_mode=True)
    assert type(again.layers[1].cell).__name__ == "AttentionCell" and again.layers[1].cell.attn_length == L
    assert _diff(again(x), model(x)) <= 1e-6 and _diff(model(x)[0], k_out[0]) <= 1e-5


def test_attention_twin_equals_the_original_graph_loop(tmp_path) -> None:
    """A real program (AttentionCellWrapper(BasicLSTMCell) in dynamic_rnn, a sequence_length placeholder) saved by
    Saver with its .meta: its own while loop, found by structure and run by migration.graph (checkpoint values,
    sandbox), is the reference for the twin converted from the checkpoint: outputs and the four final states
    (c, h, attns, window)."""
    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.blocks import find_loops, locate_block
    from migration.graph.reference import OriginalGraph

    spec = CellSpec("basic_lstm", 4, forget_bias=0.5)
    with legacy_rnn.new_graph(6) as graph:
        xp = v1.placeholder(tf.float32, [None, None, 4], name="x")
        lp = v1.placeholder(tf.int32, [None], name="lengths")
        cell = legacy_rnn.attention_cell_wrapper(legacy_rnn.basic_lstm_cell(4, forget_bias=0.5), L, attn_size=A,
                                                 attn_vec_size=V, input_size=I)
        legacy_rnn.dynamic_rnn(cell, xp, sequence_length=lp)
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            rng = np.random.default_rng(6)
            sess.run([v.assign((rng.uniform(-1.2, 1.2, v.shape) / np.sqrt(v.shape[0])
                                * (4.0 if "/attention/" in v.op.name else 1.0)).astype(np.float32))
                      for v in v1.trainable_variables()])
            prefix = legacy_rnn.save(sess, str(tmp_path / "m.ckpt"))
    reader = CheckpointReader(prefix)
    keys = {k for k in reader.variables if k.startswith(PREFIX)}
    original = OriginalGraph(prefix + ".meta", reader)
    where = locate_block(original, find_loops(original), {"": keys}, {"": 4})
    x = random_inputs(1)
    expected = original.run(where.outputs, {where.x: x, where.sequence_length: LENGTHS})
    saved = {k[len(PREFIX):]: reader.read(k) for k in keys}
    k_out, k_states, _ = _keras("lstm", x, saved)
    assert [e.shape[-1] for e in expected[1:]] == [4, 4, A, L * A]
    assert max(_diff(a, b) for a, b in zip([k_out] + k_states, expected)) <= 1e-5
    wrong, _, _ = _keras("lstm", x, saved, swap_query_rows=False)
    assert _diff(wrong, expected[0]) > 1e-3
    assert CASES["lstm"][0] == spec  # the twin _keras builds is this program's cell
