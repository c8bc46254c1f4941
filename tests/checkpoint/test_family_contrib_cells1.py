"""Seven ``tf.contrib.rnn`` cell families of TF 1.15 (issue 22), each added as one family row with its legacy/Keras twins
and one registry line: ``IndRNNCell``, ``IndyGRUCell``, ``IndyLSTMCell``, ``MinimalRNNCell``, ``CFNCell``, ``SRUCell``,
``IntersectionRNNCell``.

* twins: the legacy cell (a real TF1 graph, ``dynamic_rnn``, ``tf.gradients``) and the Keras cell (``GradientTape``)
  against an independent NumPy step written from TF 1.15's equations, forward and in the gradients with respect to
  the inputs and every weight (within 1e-6), with seeded asymmetric weights and non-zero biases; TF 1.15's variable
  names and shapes (written out here, not read from the rows);
* negative controls: a family-specific wrong conversion (gate blocks not reordered, row blocks swapped, forget_bias
  not folded, ...) must differ;
* one real TF1 program holding all seven (ragged lengths, a dense head over their last outputs, a loss; the program is
  shared with the other contrib family modules: contrib_program.py), saved by ``tf.compat.v1.train.Saver``:
  ``inspect``/``convert``/``verify`` recognize every cell and verify every block and the whole model against the
  ORIGINAL graph; a wrong ``--forget-bias`` fails there (IndyLSTM's and IntersectionRNN's blocks, the other five
  still verify) and installs nothing; the whole model loads in safe mode and reproduces the program's logits;
  ``export`` writes checkpoints the legacy graph restores.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import run_cli
from contrib_program import Part, register
from legacy_rnn import tf, v1
from migration import families
from migration.core.errors import ShapeError
from migration.core.specs import CellSpec
from modern_rnn import keras
from tests.checkpoint.tf1_values import FAST

B, T, D, U = 3, 5, 4, 5
LENGTHS = np.array([5, 1, 3], np.int32)
KINDS = ("ind_rnn", "indy_gru", "indy_lstm", "minimal_rnn", "cfn", "sru", "intersection_rnn")

#: TF 1.15's variable names and shapes under the cell's default scope (rnn_cell.py of tf.contrib.rnn, TF 1.15)
TF115_VARIABLES = {
    "ind_rnn": ("ind_rnn_cell", {"kernel_w": (D, U), "kernel_u": (1, U), "bias": (U,)}),
    "indy_gru": ("indy_gru_cell", {"gates/kernel_w": (D, 2 * U), "gates/kernel_u": (1, 2 * U), "gates/bias": (2 * U,),
                                   "candidate/kernel": (D, U), "candidate/kernel_u": (1, U), "candidate/bias": (U,)}),
    "indy_lstm": ("indy_lstm_cell", {"kernel_w": (D, 4 * U), "kernel_u": (1, 4 * U), "bias": (4 * U,)}),
    "minimal_rnn": ("minimal_rnn_cell", {"kernel": (D + 2 * U, U), "bias": (U,)}),
    "cfn": ("cfn_cell", {"kernel": (D, 3 * U), "recurrent_kernel": (U, 2 * U), "bias": (2 * U,)}),
    "sru": ("sru_cell", {"kernel": (D, 4 * U), "bias": (2 * U,)}),
    "intersection_rnn": ("intersection_rnn_cell", {"in_projection/kernel": (D, U), "in_projection/bias": (U,),
                                                   "kernel": (2 * U, 4 * U), "bias": (4 * U,)}),
}
TF1_CLASSES = {"ind_rnn": "IndRNNCell", "indy_gru": "IndyGRUCell", "indy_lstm": "IndyLSTMCell",
               "minimal_rnn": "MinimalRNNCell", "cfn": "CFNCell", "sru": "SRUCell",
               "intersection_rnn": "IntersectionRNNCell"}


# ---- an independent NumPy step per family, from TF 1.15's equations ------------------------------------------------

def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


_ACT = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0.0)}


def step(kind, x, state, w, act="tanh", forget_bias=1.0):
    """(output, new state) of one TF 1.15 step; ``state`` is h, or (c, h) for IndyLSTM, or c for SRU.
    ``act`` is the activation (IntersectionRNN: its y_activation)."""
    f = _ACT[act]
    if kind == "ind_rnn":
        h = f(x @ w["kernel_w"] + state * w["kernel_u"][0] + w["bias"])
        return h, h
    if kind == "indy_gru":
        g = _sig(x @ w["gates/kernel_w"] + np.concatenate([state, state], 1) * w["gates/kernel_u"][0] + w["gates/bias"])
        r, z = g[:, :U], g[:, U:]
        c = f(x @ w["candidate/kernel"] + (r * state) * w["candidate/kernel_u"][0] + w["candidate/bias"])
        h = z * state + (1 - z) * c
        return h, h
    if kind == "indy_lstm":
        c, h = state
        a = x @ w["kernel_w"] + np.tile(h, 4) * w["kernel_u"][0] + w["bias"]
        i, j, fg, o = np.split(a, 4, 1)
        c = c * _sig(fg + forget_bias) + _sig(i) * f(j)
        h = f(c) * _sig(o)
        return h, (c, h)
    if kind == "minimal_rnn":
        k = w["kernel"]
        z = f(x @ k[:D])
        u = _sig(z @ k[D:D + U] + state @ k[D + U:] + w["bias"])
        h = u * state + (1 - u) * z
        return h, h
    if kind == "cfn":
        k = w["kernel"]
        gates = _sig(state @ w["recurrent_kernel"] + x @ k[:, :2 * U] + w["bias"])
        theta, eta = gates[:, :U], gates[:, U:]
        h = theta * f(state) + (1 - eta) * f(x @ k[:, 2 * U:])
        return h, h
    if kind == "sru":
        x_bar, f_in, r_in, x_tx = np.split(x @ w["kernel"], 4, 1)
        fg, r = _sig(f_in + w["bias"][:U]), _sig(r_in + w["bias"][U:])
        c = fg * state + (1 - fg) * x_bar
        return r * f(c) + (1 - r) * x_tx, c
    if kind == "intersection_rnn":
        if "in_projection/kernel" in w:
            x = x @ w["in_projection/kernel"] + w["in_projection/bias"]
        a = np.concatenate([x, state], 1) @ w["kernel"] + w["bias"]
        gh, h_, gy, y_ = np.split(a, 4, 1)
        gh, gy = _sig(gh + forget_bias), _sig(gy + forget_bias)
        return gy * x + (1 - gy) * f(y_), gh * state + (1 - gh) * np.tanh(h_)
    raise AssertionError(kind)


def reference_run(kind, x, w, act="tanh", forget_bias=1.0):
    """(outputs [B, T, U], flat final state in TF1 order)."""
    zeros = np.zeros((x.shape[0], U))
    state = (zeros, zeros) if kind == "indy_lstm" else zeros
    outs = []
    for t in range(x.shape[1]):
        out, state = step(kind, x[:, t], state, w, act, forget_bias)
        outs.append(out)
    return np.stack(outs, 1), list(state) if kind == "indy_lstm" else [state]


# ---- the two twins ------------------------------------------------------------------------------------------------

def _legacy(spec, x, seed):
    """outputs, flat final state, TF1 arrays, d(loss)/dx and d(loss)/d(every variable) from the TF1 graph."""
    scope, expected = TF115_VARIABLES[spec.kind]
    rng = np.random.default_rng(seed)
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        xt = tf.constant(x)
        out, state = v1.nn.dynamic_rnn(families.legacy_cell(spec), xt, dtype=tf.float32)
        loss = tf.reduce_sum(out * np.linspace(-1, 1, U, dtype=np.float32))
        variables = {v.op.name[len(f"rnn/{scope}/"):]: v for v in v1.global_variables()}
        assert {n: tuple(v.shape.as_list()) for n, v in variables.items()} == expected  # TF 1.15's names and shapes
        assert all(v.op.name.startswith(f"rnn/{scope}/") for v in variables.values())
        names = sorted(variables)
        grads = tf.gradients(loss, [xt] + [variables[n] for n in names])  # built before the graph first runs
        arrays = {n: rng.uniform(-0.7, 0.7, expected[n]).astype(np.float32) for n in names}  # biases non-zero too
        sess.run([variables[n].assign(arrays[n]) for n in names])
        got = sess.run([out, tf.nest.flatten(state), grads])
    return got[0], got[1], arrays, got[2][0], dict(zip(names, got[2][1:]))


def _keras_layer(spec, x, weights):
    layer = keras.layers.RNN(families.keras_cell(spec, D), return_sequences=True, return_state=True)
    layer(tf.constant(x))
    layer.cell.set_weights(weights)
    return layer


def _keras(layer, x):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out, *state = layer(xt)
        loss = tf.reduce_sum(out * np.linspace(-1, 1, U, dtype=np.float32))
    grads = tape.gradient(loss, [xt, *layer.cell.weights])
    return np.asarray(out), [np.asarray(s) for s in state], np.asarray(grads[0]), [np.asarray(g) for g in grads[1:]]


def _tf1_order(spec, keras_state):
    return keras_state[::-1] if spec.is_lstm else keras_state  # Keras [h, c]; TF1 (c, h)


CASES = [("ind_rnn", "tanh", 1.0), ("ind_rnn", "relu", 1.0), ("indy_gru", "tanh", 1.0), ("indy_lstm", "tanh", 0.5),
         ("minimal_rnn", "tanh", 1.0), ("cfn", "tanh", 1.0), ("sru", "tanh", 1.0), ("intersection_rnn", "relu", 0.5)]


def _wrong(kind, w):
    """A plausible wrong conversion of the Keras weights ``w`` per family (the negative control)."""
    w = [a.copy() for a in w]
    if kind == "ind_rnn":  # the recurrent vector read in reverse unit order
        w[1] = w[1][::-1].copy()
    elif kind == "indy_gru":  # TF1's r, u blocks kept instead of Keras' z, r
        for i in range(3):
            w[i][..., :2 * U] = np.concatenate([w[i][..., U:2 * U], w[i][..., :U]], -1)
    elif kind == "indy_lstm":  # TF1's i, j, f, o order kept (c and f blocks swapped)
        for i in range(3):
            w[i][..., U:3 * U] = np.concatenate([w[i][..., 2 * U:3 * U], w[i][..., U:2 * U]], -1)
    elif kind == "minimal_rnn":  # the rows for z and for h swapped
        w[1], w[2] = w[2], w[1]
    elif kind == "cfn":  # theta and eta swapped
        w[1] = np.concatenate([w[1][:, U:], w[1][:, :U]], 1)
        w[2] = np.concatenate([w[2][U:], w[2][:U]])
    elif kind == "sru":  # the f and r biases swapped
        w[1] = np.concatenate([w[1][U:], w[1][:U]])
    elif kind == "intersection_rnn":  # the state gate and the depth gate swapped
        for i in (2, 3, 4):
            w[i][..., :3 * U] = np.concatenate([w[i][..., 2 * U:3 * U], w[i][..., U:2 * U], w[i][..., :U]], -1)
    return w


@pytest.mark.parametrize("kind,act,forget_bias", CASES, ids=[f"{k}-{a}" for k, a, _ in CASES])
def test_twins_equal_the_numpy_step_forward_and_in_gradients(kind, act, forget_bias):
    spec = CellSpec(kind, U, forget_bias=forget_bias, activation=act if kind != "intersection_rnn" else "tanh")
    x = np.random.default_rng(KINDS.index(kind) + 31).normal(0, 1, (B, T, D)).astype(np.float32)
    out, state, arrays, gx, gw = _legacy(spec, x, seed=KINDS.index(kind) + 7)
    ref_out, ref_state = reference_run(kind, x.astype(np.float64), arrays, act, forget_bias)
    np.testing.assert_allclose(out, ref_out, atol=1e-6)
    for a, b in zip(state, ref_state, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    weights = families.cell_to_keras(spec, arrays, D)
    layer = _keras_layer(spec, x, weights)
    k_out, k_state, k_gx, k_gw = _keras(layer, x)
    np.testing.assert_allclose(k_out, ref_out, atol=1e-6)
    for a, b in zip(_tf1_order(spec, k_state), ref_state, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(k_gx, gx, atol=1e-6)
    # weight gradients: the TF1 ones moved like the weights (layout only, no forget_bias) equal Keras' own
    for a, b in zip(families.cell_to_keras(spec, gw, D, include_forget_bias=False), k_gw, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    back = families.cell_to_tf1(spec, weights)  # and the way back restores the TF1 arrays
    assert sorted(back) == sorted(arrays)
    for name, value in back.items():
        np.testing.assert_allclose(value, arrays[name], atol=1e-7)
    # negative control: a plausible wrong conversion is caught by the same comparison
    layer.cell.set_weights(_wrong(kind, weights))
    assert np.max(np.abs(_keras(layer, x)[0] - ref_out)) > 1e-2
    if families.uses_forget_bias(spec):  # forget_bias not folded
        layer.cell.set_weights(families.cell_to_keras(spec, arrays, D, include_forget_bias=False))
        assert np.max(np.abs(_keras(layer, x)[0] - ref_out)) > 1e-2


def test_rows_answer_for_the_families_and_nothing_else_knows_them():
    import legacy_rnn.contrib_rnn as contrib_rnn
    from migration.families.namespaces import namespace_homes

    homes = families.upgrade_homes()
    for kind in KINDS:
        row = families.family(kind)
        scope, expected = TF115_VARIABLES[kind]
        spec = CellSpec(kind, U)
        assert row.scope == spec.tf1_scope == scope
        # the row's shapes are the variables every cell of the family stores (IntersectionRNN's optional
        # in_projection, present exactly when D != U, is checked by its converter)
        assert families.tf1_shapes(spec, D) == {n: v for n, v in expected.items() if not n.startswith("in_projection/")}
        assert row.tf1_classes == (f"tf.contrib.rnn.{TF1_CLASSES[kind]}",)
        module, _, name = homes[f"tf.contrib.rnn.{TF1_CLASSES[kind]}"].rpartition(".")
        assert name == TF1_CLASSES[kind] and module.startswith("legacy_rnn.")
        assert type(families.legacy_cell(spec)).__name__ == type(families.keras_cell(spec)).__name__ == name
        # `from tensorflow.contrib import rnn; rnn.X` upgrades to the tf.contrib.rnn namespace: the very same class
        assert getattr(contrib_rnn, name) is type(families.legacy_cell(spec)) and name in contrib_rnn.__all__
        assert namespace_homes()[f"tf.contrib.rnn.{name}"] == f"legacy_rnn.contrib_rnn.{name}"
    assert CellSpec("indy_lstm", U).is_lstm and not any(CellSpec(k, U).is_lstm for k in KINDS if k != "indy_lstm")
    assert [k for k in KINDS if families.uses_forget_bias(CellSpec(k, U))] == ["indy_lstm", "intersection_rnn"]


def test_kernel_u_rank_comes_from_the_row():
    """Regression: the recognizer required every variable not named ``*kernel`` to be 1-D, so IndRNN's
    ``kernel_w``/``kernel_u`` (2-D) were refused; the row's ``matrices`` now say which are 2-D."""
    from migration.checkpoint.cell_table import check_cell_variables
    from migration.checkpoint.reader import VariableInfo

    names = {"kernel_w": "rnn/ind_rnn_cell/kernel_w", "kernel_u": "rnn/ind_rnn_cell/kernel_u",
             "bias": "rnn/ind_rnn_cell/bias"}
    good = {names["kernel_w"]: VariableInfo(names["kernel_w"], (D, U), "float32"),
            names["kernel_u"]: VariableInfo(names["kernel_u"], (1, U), "float32"),
            names["bias"]: VariableInfo(names["bias"], (U,), "float32")}
    check_cell_variables("ind_rnn", names, good)
    bad = dict(good, **{names["kernel_u"]: VariableInfo(names["kernel_u"], (U,), "float32")})
    with pytest.raises(ShapeError, match="kernel_u"):
        check_cell_variables("ind_rnn", names, bad)


# ---- one real TF1 program with all seven, through the CLI ---------------------------------------------------------

def _encoders(x, lengths):
    """The seven dynamic_rnn blocks of the shared program (contrib_program.py), variable scopes named by kind; TF 1.15's
    default forget_bias; IntersectionRNNCell projects its D != U input."""
    built = {}
    for kind in KINDS:
        with v1.variable_scope(kind):
            built[kind] = v1.nn.dynamic_rnn(families.legacy_cell(CellSpec(kind, U)), x, sequence_length=lengths,
                                            dtype=tf.float32)
    return built


register(Part("contrib_cells1", _encoders), (B, T, D), LENGTHS)
pytestmark = pytest.mark.xdist_group("checkpoint/contrib_program")  # the modules sharing the program: one worker


def _manifest(out) -> dict:
    with open(os.path.join(str(out), "manifest.json")) as f:
        return json.load(f)


def _blocks(out) -> dict:
    """kind -> block, for this module's blocks (variable scope = kind) of the shared program."""
    return {b["cells"][0]["spec"]["kind"]: b for b in _manifest(out)["blocks"] if b["scope"].split("/")[0] in KINDS}


def test_inspect_names_every_family(contrib_program):
    code, text, _ = contrib_program.inspect
    assert code == 0
    assert all(kind in text for kind in KINDS), text


def test_checkpoint_converts_and_verifies_against_the_original_graph(contrib_program):
    p = contrib_program
    assert p.code == 0
    m = _manifest(p.out)
    blocks = _blocks(p.out)
    assert len(m["blocks"]) == len(p.ref["outs"])  # one block per encoder of the program, nothing else
    assert sorted(blocks) == sorted(KINDS) and sum(b["scope"].split("/")[0] in KINDS for b in m["blocks"]) == len(KINDS)
    assert not any(b["cells"][0]["spec"]["kind"] in KINDS for b in m["blocks"] if b["scope"].split("/")[0] not in KINDS)
    for kind, block in blocks.items():
        (cell,) = block["cells"]
        assert (cell["spec"]["units"], cell["input_size"]) == (U, D)
        assert block["scope"] == f"{kind}/rnn"
        if kind != "intersection_rnn":  # its h activation is fixed tanh; y_activation is TF 1.15's relu
            assert cell["hyper_sources"]["activation"].startswith("default")  # assumed and said so
    for kind in ("indy_lstm", "intersection_rnn"):
        assert blocks[kind]["cells"][0]["hyper_sources"]["forget_bias"].startswith("default")
    v = m["verification"]
    assert v["ok"] and v["reference"] == "original-graph"
    assert v["references"] == {**{f"block {b['name']}": "original-graph" for b in m["blocks"]},
                               "whole model": "original-graph"}
    assert p.verify == 0  # `verify PREFIX OUT_DIR`
    # the whole network in safe mode reproduces the program's own logits; every block its outputs and states
    np.testing.assert_allclose(p.model_logits, p.ref["logits"], atol=1e-5)
    from migration.safe_io import load_keras_model

    for kind, block in blocks.items():
        got = [np.asarray(t) for t in load_keras_model(os.path.join(str(p.out), block["file"]))([p.x_np, LENGTHS])]
        np.testing.assert_allclose(got[0], p.ref["outs"][kind], atol=1e-5)
        expected_states = p.ref["states"][kind]
        assert len(got) == 1 + len(expected_states)
        for a, b in zip(got[1:], expected_states):
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_wrong_forget_bias_fails_against_the_original_graph(contrib_program):
    """``convert --forget-bias 0.0`` (one run for the shared program): exit 1, nothing installed; exactly the blocks
    that use forget_bias (IndyLSTM, IntersectionRNN) fail, the other five still verify."""
    p = contrib_program
    assert p.wrong_code == 1 and not p.wrong_written, p.wrong_printed
    for kind, block in _blocks(p.out).items():
        want = "FAIL" if kind in ("indy_lstm", "intersection_rnn") else "ok"
        assert p.wrong_verdicts.get(block["name"]) == want, (kind, p.wrong_printed)
    assert p.wrong_verdicts["whole model"] == "FAIL"


def test_export_writes_checkpoints_the_legacy_graph_restores(contrib_program, tmp_path):
    p = contrib_program
    assert p.code == 0
    for kind, block in _blocks(p.out).items():
        exported = str(tmp_path / kind / "model.ckpt")
        assert run_cli("export", os.path.join(str(p.out), block["file"]), exported, "--scope", f"{kind}/rnn") == 0
        with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
            x = v1.placeholder(tf.float32, [None, T, D])
            lengths = v1.placeholder(tf.int32, [None])
            with v1.variable_scope(kind):
                outputs, _ = v1.nn.dynamic_rnn(families.legacy_cell(CellSpec(kind, U)), x, sequence_length=lengths,
                                               dtype=tf.float32)
            v1.train.Saver().restore(sess, exported)
            np.testing.assert_allclose(sess.run(outputs, {x: p.x_np, lengths: LENGTHS}), p.ref["outs"][kind],
                                       atol=1e-5)


def test_intersection_rnn_without_projection_when_depth_equals_units():
    """D == U: TF 1.15 has no in_projection; the Keras twin holds the identity (unused) and export refuses a moved one."""
    spec = CellSpec("intersection_rnn", U, forget_bias=1.0)
    x = np.random.default_rng(3).normal(0, 1, (B, T, U)).astype(np.float32)
    rng = np.random.default_rng(4)
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        out, state = v1.nn.dynamic_rnn(families.legacy_cell(spec), tf.constant(x), dtype=tf.float32)
        variables = {v.op.name.split("/", 2)[2]: v for v in v1.global_variables()}
        assert {n: tuple(v.shape.as_list()) for n, v in variables.items()} == {"kernel": (2 * U, 4 * U),
                                                                              "bias": (4 * U,)}
        arrays = {n: rng.uniform(-0.7, 0.7, v.shape.as_list()).astype(np.float32) for n, v in variables.items()}
        sess.run([variables[n].assign(a) for n, a in arrays.items()])
        got, final = sess.run([out, state])
    ref_out, (ref_state,) = reference_run("intersection_rnn", x.astype(np.float64), arrays, "relu", 1.0)
    np.testing.assert_allclose(got, ref_out, atol=1e-6)
    np.testing.assert_allclose(final, ref_state, atol=1e-6)
    weights = families.cell_to_keras(spec, arrays, U)
    np.testing.assert_array_equal(weights[0], np.eye(U))
    layer = _keras_layer(spec, x, weights)
    np.testing.assert_allclose(np.asarray(layer(tf.constant(x))[0]), ref_out, atol=1e-6)
    assert sorted(families.cell_to_tf1(spec, weights)) == ["bias", "kernel"]
    moved = [weights[0] + 0.1] + weights[1:]
    with pytest.raises(ShapeError, match="not the identity"):
        families.cell_to_tf1(spec, moved)
    with pytest.raises(Exception, match="no in_projection"):  # a projection where TF 1.15 writes none
        families.cell_to_keras(spec, dict(arrays, **{"in_projection/kernel": np.eye(U, dtype=np.float32),
                                                     "in_projection/bias": np.zeros(U, np.float32)}), U)
