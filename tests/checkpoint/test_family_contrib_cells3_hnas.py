"""Two tf.contrib.rnn cells added as family rows (issue 22): ``NASCell`` (``nas``) and ``GLSTMCell`` (``glstm``).

* each legacy cell and its Keras twin against an independent NumPy step written from TF 1.15's equations (forward
  within 1e-6) and against each other in gradients (inputs and every weight, within 1e-6), with seeded asymmetric
  weights and non-zero biases, over the TF 1.15 options (NAS: use_bias, num_proj; GLSTM: number_of_groups, num_proj,
  forget_bias, activation); TF 1.15's variable names checked;
* negative controls: a conversion with swapped blocks (NAS: the relu blocks 1 and 3; GLSTM: gates j and f, or the
  groups' row blocks), or with forget_bias not folded, must differ;
* TF 1.15's own kernel-test numbers for NASCell (with and without projection);
* one real ``tf.compat.v1.train.Saver`` checkpoint of a program using four cells (NAS plain, NAS with bias and
  projection, GLSTM with 2 groups and a projection, GLSTM with TF 1.15's defaults; ragged lengths, a dense head, a
  loss; the program is shared with the other contrib family modules: contrib_program.py):
  ``inspect``/``convert``/``verify`` recognize the four blocks and verify them against the ORIGINAL graph; a
  wrong ``--forget-bias`` and a wrong weight conversion fail there; the whole model loads in safe mode and reproduces
  the program's logits; ``export`` writes checkpoints the legacy graph restores; a GLSTM checkpoint with a missing
  group is refused naming its variables.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import legacy_rnn
import migration.families.nas as nas_row
from conftest import run_cli
from contrib_program import Part, register
from legacy_rnn import tf, v1
from legacy_rnn.glstm import GLSTMCell
from legacy_rnn.nas import NASCell
from migration import families
from migration.core.errors import ShapeError
from migration.core.specs import CellSpec
from modern_rnn import keras
from tests.checkpoint.tf1_values import FAST

B, T, D, U, P = 3, 5, 4, 6, 4
LENGTHS = np.array([5, 1, 3], np.int32)
LOSS_W = {U: np.linspace(-1, 1, U, dtype=np.float32), P: np.linspace(1, -0.5, P, dtype=np.float32)}


def _spec(kind, proj=None, fb=1.0, act="tanh", **options):
    return CellSpec(kind, U, forget_bias=fb, num_proj=proj, activation=act, options=tuple(sorted(options.items())))


#: (id, spec) of the numeric checks: every TF 1.15 option of both cells
CASES = {
    "nas": _spec("nas", use_bias=False),
    "nas_bias_proj": _spec("nas", proj=P, use_bias=True),
    "glstm_g2_proj": _spec("glstm", proj=P, fb=0.5, number_of_groups=2),
    "glstm_g1_relu": _spec("glstm", fb=1.5, act="relu", number_of_groups=1),
}


# -- NumPy references, written from TF 1.15's rnn_cell.py -------------------------------------------------------------
def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def ref_nas(x, c, m, w):
    """NASCell.call: 8 blocks of x K and m R (+ b); a fixed tree; optional projection."""
    mm = m @ w["recurrent_kernel"] + (w["bias"] if "bias" in w else 0)
    xs, ms = np.split(x @ w["kernel"], 8, 1), np.split(mm, 8, 1)
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    l1 = [_sig(xs[0] + ms[0]), relu(xs[1] + ms[1]), _sig(xs[2] + ms[2]), relu(xs[3] * ms[3]),
          np.tanh(xs[4] + ms[4]), _sig(xs[5] + ms[5]), np.tanh(xs[6] + ms[6]), _sig(xs[7] + ms[7])]
    l2 = [np.tanh(l1[0] * l1[1]), np.tanh(l1[2] + l1[3]), np.tanh(l1[4] * l1[5]), _sig(l1[6] + l1[7])]
    new_c = np.tanh(l2[0] + c) * l2[1]
    new_m = np.tanh(new_c * np.tanh(l2[2] + l2[3]))
    return new_c, (new_m @ w["projection_weights"] if "projection_weights" in w else new_m)


def ref_glstm(x, c, m, w, groups, fb, act):
    """GLSTMCell.call: per group [x_g, m_g] W_g -> i, j, f, o; gates concatenated + bias_*; tanh(j), act(c)."""
    xs, ms = np.split(x, groups, 1), np.split(m, groups, 1)
    per = [np.split(np.concatenate([xs[g], ms[g]], 1) @ w[f"group{g}/kernel"], 4, 1) for g in range(groups)]
    i, j, f, o = (np.concatenate([p[k] for p in per], 1) + w[f"bias_{n}"] for k, n in enumerate("ijfo"))
    new_c = _sig(f + fb) * c + _sig(i) * np.tanh(j)
    new_m = _sig(o) * {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0)}[act](new_c)
    return new_c, (new_m @ w["projection/kernel"] if "projection/kernel" in w else new_m)


def reference_run(spec, x, w):
    c, m, outs = np.zeros((x.shape[0], U)), np.zeros((x.shape[0], spec.output_size)), []
    for t in range(x.shape[1]):
        if spec.kind == "nas":
            c, m = ref_nas(x[:, t], c, m, w)
        else:
            c, m = ref_glstm(x[:, t], c, m, w, spec.option("number_of_groups"), spec.forget_bias, spec.activation)
        outs.append(m)
    return np.stack(outs, 1), c


def _arrays(spec, seed):
    rng = np.random.default_rng(seed)
    return {n: rng.uniform(-0.8, 0.8, s).astype(np.float32) for n, s in families.tf1_shapes(spec, D).items()}


def _legacy(spec, x, arrays):
    """outputs, final c, d(sum(outputs * w))/d(x, every variable) from the TF1 graph (tf.gradients)."""
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        xt = tf.constant(x)
        out, state = v1.nn.dynamic_rnn(families.legacy_cell(spec), xt, dtype=tf.float32)
        loss = tf.reduce_sum(out * LOSS_W[spec.output_size])
        prefix = f"rnn/{spec.tf1_scope}/"
        variables = {v.op.name[len(prefix):]: v for v in v1.global_variables()}
        assert sorted(variables) == sorted(arrays), sorted(v.op.name for v in v1.global_variables())  # TF 1.15's names
        names = sorted(arrays)
        grads = tf.gradients(loss, [xt] + [variables[n] for n in names])
        sess.run([variables[n].assign(arrays[n]) for n in names])
        got = sess.run([out, state.c] + grads)
    return got[0], got[1], got[2], dict(zip(names, got[3:]))


def _keras(spec, x, weights):
    layer = keras.layers.RNN(families.keras_cell(spec), return_sequences=True, return_state=True)
    xt = tf.constant(x)
    layer(xt)
    layer.cell.set_weights(weights)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out, _, c = layer(xt)
        loss = tf.reduce_sum(out * LOSS_W[spec.output_size])
    grads = tape.gradient(loss, [xt, *layer.cell.weights])
    return np.asarray(out), np.asarray(c), np.asarray(grads[0]), [np.asarray(g) for g in grads[1:]]


@pytest.mark.parametrize("case", CASES)
def test_both_cells_equal_the_numpy_step_forward_and_in_gradients(case):
    spec = CASES[case]
    arrays = _arrays(spec, list(CASES).index(case) + 3)
    x = np.random.default_rng(7).normal(0, 1, (B, T, D)).astype(np.float32)
    ref_out, ref_c = reference_run(spec, x, arrays)
    out, c, gx, gw = _legacy(spec, x, arrays)
    np.testing.assert_allclose(out, ref_out, atol=1e-6)
    np.testing.assert_allclose(c, ref_c, atol=1e-6)
    weights = families.cell_to_keras(spec, arrays, D)
    k_out, k_c, k_gx, k_gw = _keras(spec, x, weights)
    np.testing.assert_allclose(k_out, ref_out, atol=1e-6)
    np.testing.assert_allclose(k_c, ref_c, atol=1e-6)
    np.testing.assert_allclose(k_gx, gx, atol=1e-6)
    assert np.max(np.abs(gx)) > 1e-2 and np.max(np.abs(ref_out)) > 1e-2  # real values, not zeros on both sides
    # every weight: the TF1 gradients converted like the weights (layout only) equal Keras' gradients
    assert len(k_gw) == len(weights) == len(families.keras_names_for(spec))
    converted = families.cell_to_keras(spec, gw, D, include_forget_bias=False)
    for name, a, b in zip(families.keras_names_for(spec), converted, k_gw):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-6, err_msg=name)
        assert np.max(np.abs(b)) > 1e-4, name
    back = families.cell_to_tf1(spec, weights)  # and the way back gives the TF1 arrays
    assert sorted(back) == sorted(arrays)
    for name, value in arrays.items():
        np.testing.assert_allclose(back[name], value, atol=1e-7)


def _wrong_conversions(spec, arrays):
    good = families.cell_to_keras(spec, arrays, D)
    if spec.kind == "nas":  # the relu blocks 1 (x + m) and 3 (x * m) swapped in both kernels (and the bias)
        def swap(w):
            blocks = np.split(w, 8, -1)
            blocks[1], blocks[3] = blocks[3], blocks[1]
            return np.concatenate(blocks, -1)
        yield "blocks 1 and 3 swapped", [swap(w) if w.shape[-1] == 8 * U else w for w in good]
        yield "kernels transposed across x and m", [good[0][:, ::-1], good[1][:, ::-1]] + good[2:]
        return
    yield "forget_bias not folded", families.cell_to_keras(spec, arrays, D, include_forget_bias=False)
    swap = lambda a: np.concatenate([np.split(a, 4, -1)[k] for k in (0, 2, 1, 3)], -1)  # noqa: E731
    yield "gates j and f swapped", [swap(good[0]), swap(good[1]), swap(good[2])] + good[3:]
    if spec.option("number_of_groups") == 2:  # the groups' row blocks exchanged
        yield "groups swapped", [np.concatenate(np.split(good[0], 2)[::-1]), good[1][::-1].copy()] + good[2:]


@pytest.mark.parametrize("case", CASES)
def test_negative_controls_wrong_conversions_differ(case):
    spec = CASES[case]
    arrays = _arrays(spec, 11)
    x = np.random.default_rng(12).normal(0, 1, (B, T, D)).astype(np.float32)
    ref_out, _ = reference_run(spec, x, arrays)
    np.testing.assert_allclose(_keras(spec, x, families.cell_to_keras(spec, arrays, D))[0], ref_out, atol=1e-6)
    for what, wrong in _wrong_conversions(spec, arrays):
        assert np.max(np.abs(_keras(spec, x, wrong)[0] - ref_out)) > 1e-3, what


def test_nas_reproduces_tf115s_own_kernel_test_numbers():
    """TF 1.15's contrib ``rnn_cell_test.testNASCell`` / ``testNASCellProj`` (their expected numbers are facts: every
    weight 0.5 from the scope initializer, x rows of 1s/2s/3s, state 0.1): the legacy cell, and the Keras twin on
    the converted weights, give them."""
    expected = {None: ([0.576751, 0.618936, 0.627393], [0.71579772, 0.78041625, 0.79457647]),
                5: ([1.697418, 1.840037, 1.873985], [0.69855207, 0.77073824, 0.78973997])}
    x_np = np.repeat([[1.0], [2.0], [3.0]], 4, 1).astype(np.float32)
    for proj, (want_m, want_c) in expected.items():
        out = proj or 6
        with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
            with v1.variable_scope("nas_test", initializer=v1.constant_initializer(0.5)):
                cell = NASCell(num_units=6, num_proj=proj)
                m, (c, _) = cell(tf.constant(x_np), (tf.fill([3, 6], 0.1), tf.fill([3, out], 0.1)))
            sess.run(v1.global_variables_initializer())
            names = sorted(v.op.name for v in v1.global_variables())
            got_m, got_c = sess.run([m, c])
        assert names == sorted(f"nas_test/nas_cell/{n}" for n in ("kernel", "recurrent_kernel")
                               + (("projection_weights",) if proj else ()))
        np.testing.assert_allclose(got_m, np.repeat(np.array(want_m)[:, None], out, 1), atol=1e-6)
        np.testing.assert_allclose(got_c, np.repeat(np.array(want_c)[:, None], 6, 1), atol=1e-6)
        spec = CellSpec("nas", 6, num_proj=proj, options=(("use_bias", False),))
        cell = families.keras_cell(spec)
        cell.build((3, 4))
        cell.set_weights(families.cell_to_keras(spec, {n: np.full(s, 0.5, np.float32)
                                                       for n, s in families.tf1_shapes(spec, 4).items()}, 4))
        h, (_, kc) = cell(tf.constant(x_np), [tf.fill([3, out], 0.1), tf.fill([3, 6], 0.1)])
        np.testing.assert_allclose(np.asarray(h), got_m, atol=1e-6)
        np.testing.assert_allclose(np.asarray(kc), got_c, atol=1e-6)


def test_spec_options_and_the_rows_hooks():
    """``CellSpec.options`` round-trips through the manifest dict and is refused for a kind that does not declare the
    name; num_proj only for kinds that declare it; the rows read the options from the stored names and refuse a
    GLSTM with a missing group or a size the groups do not divide."""
    spec = CASES["glstm_g2_proj"]
    assert spec.to_dict()["options"] == {"number_of_groups": 2} and CellSpec.from_dict(spec.to_dict()) == spec
    assert "options" not in CellSpec("lstm", 3).to_dict()  # every other manifest keeps its exact spec dict
    with pytest.raises(ValueError, match="number_of_groups"):
        CellSpec("nas", 3, options=(("number_of_groups", 2),))
    with pytest.raises(ValueError, match="num_proj"):
        CellSpec("ugrnn", 3, num_proj=2)
    with pytest.raises(ValueError, match="proj_clip"):
        CellSpec("nas", 3, num_proj=2, proj_clip=1.0)
    nas, glstm = families.family("nas"), families.family("glstm")
    assert nas.read_options({"kernel": "k", "recurrent_kernel": "r"}, None) == {"use_bias": False}
    assert nas.read_options({"kernel": "k", "recurrent_kernel": "r", "bias": "b"}, None) == {"use_bias": True}
    names = {n: f"enc/glstm_cell/{n}" for n in ("group0/kernel", "group1/kernel", "bias_i", "bias_j", "bias_f",
                                                  "bias_o", "projection/kernel")}
    shapes = {"group0/kernel": (4, 12), "group1/kernel": (4, 12), "bias_i": (6,), "projection/kernel": (6, 4)}
    assert glstm.read_options(names, None) == {"number_of_groups": 2}
    assert glstm.dims(names, shapes.__getitem__) == (6, 4, 4)
    gap = {k.replace("group1", "group2"): v.replace("group1", "group2") for k, v in names.items()}
    with pytest.raises(ShapeError, match=r"found groups \[0, 2\]"):
        glstm.read_options(gap, None)
    with pytest.raises(ShapeError, match="divisible"):
        families.tf1_shapes(spec, 5)
    with pytest.raises(ValueError, match="divisible"):
        GLSTMCell(6, number_of_groups=4)
    assert families.upgrade_homes()["tf.contrib.rnn.NASCell"] == "legacy_rnn.contrib_rnn.NASCell"
    assert families.upgrade_homes()["tf.contrib.rnn.GLSTMCell"] == "legacy_rnn.contrib_rnn.GLSTMCell"


# -- a real TF1 program, its Saver checkpoint, and the CLI ------------------------------------------------------------
ENCODERS = {"enc_nas": lambda: NASCell(U), "enc_nas_bp": lambda: NASCell(U, num_proj=P, use_bias=True),
            "enc_glstm": lambda: GLSTMCell(U, num_proj=P, number_of_groups=2), "enc_glstm1": lambda: GLSTMCell(U)}
SPECS = {"enc_nas": _spec("nas", use_bias=False), "enc_nas_bp": _spec("nas", proj=P, use_bias=True),
         "enc_glstm": _spec("glstm", proj=P, number_of_groups=2), "enc_glstm1": _spec("glstm", number_of_groups=1)}


def _encoders(x, lengths):
    """The shared program's encoders of this module (contrib_program.py: one TF1 program of the contrib family modules,
    saved by Saver with its .meta, converted once): four dynamic_rnn encoders (ragged lengths)."""
    return {scope: v1.nn.dynamic_rnn(make(), x, sequence_length=lengths, dtype=tf.float32, scope=scope)
            for scope, make in ENCODERS.items()}


def _use_bias_of(spec) -> bool:
    return bool(spec.option("use_bias"))


_GOOD_NAS = nas_row.nas_to_keras


def _swapped_nas(spec, w):
    """A wrong NAS conversion: blocks 0 and 1 of the kernel swapped, for the plain NAS cell (enc_nas) only."""
    weights = _GOOD_NAS(spec, w)
    if not _use_bias_of(spec):
        weights[0] = np.concatenate([weights[0][:, U:2 * U], weights[0][:, :U], weights[0][:, 2 * U:]], 1)
    return weights


register(Part("contrib_cells3_hnas", _encoders, faults=((nas_row, "nas_to_keras", _swapped_nas),)), (B, T, D),
         LENGTHS)
pytestmark = pytest.mark.xdist_group("checkpoint/contrib_program")  # the modules sharing the program: one worker


def _manifest(out) -> dict:
    with open(os.path.join(str(out), "manifest.json")) as f:
        return json.load(f)


def test_checkpoint_converts_and_verifies_against_the_original_graph(contrib_program):
    p = contrib_program
    outs, logits = p.ref["outs"], p.ref["logits"]
    assert p.code == 0
    code, printed, _ = p.inspect
    assert code == 0
    assert "nas" in printed and "glstm" in printed and "'number_of_groups': 2" in printed
    m = _manifest(p.out)
    blocks = {b["scope"]: b for b in m["blocks"]}
    assert len(blocks) == len(m["blocks"]) == len(outs)  # one block per encoder of the program, nothing else
    assert set(ENCODERS) <= set(blocks)
    assert not any(b["cells"][0]["spec"]["kind"] in ("nas", "glstm") for s, b in blocks.items() if s not in ENCODERS)
    for scope, spec in SPECS.items():
        (cell,) = blocks[scope]["cells"]
        assert CellSpec.from_dict(cell["spec"]) == spec and cell["input_size"] == D
    assert blocks["enc_glstm"]["cells"][0]["hyper_sources"]["forget_bias"].startswith("default")  # assumed, said so
    v = m["verification"]
    assert v["ok"] and v["references"]["whole model"] == "original-graph"
    assert all(v["references"][f"block {scope}"] == "original-graph" for scope in ENCODERS)
    assert p.verify == 0  # `verify PREFIX OUT_DIR`
    np.testing.assert_allclose(p.model_logits, logits, atol=1e-5)
    from migration.safe_io import load_keras_model

    for scope in ENCODERS:
        block_model = load_keras_model(os.path.join(str(p.out), blocks[scope]["file"]))
        got = np.asarray(block_model([p.x_np, LENGTHS], training=False)[0])
        np.testing.assert_allclose(got, outs[scope], atol=1e-5)
        assert np.max(np.abs(got)) > 1e-2


def test_wrong_forget_bias_or_a_wrong_weight_conversion_fails_against_the_original_graph(contrib_program):
    """One convert of the shared program with two faults (one run, for the CPU budget): ``--forget-bias 0.0`` (the
    GLSTMs add 1.0) and a NAS conversion with blocks 0 and 1 of the kernel swapped for the plain NAS cell
    (``_swapped_nas``; NAS has no hyper-parameter outside the checkpoint: a wrong conversion is what can go wrong). The
    original graph fails exactly the faulty blocks, by name, and the whole model; the untouched NAS block still
    verifies; nothing is installed."""
    p = contrib_program
    assert p.wrong_code == 1 and not p.wrong_written, p.wrong_printed
    assert p.wrong_verdicts["whole model"] == "FAIL", p.wrong_printed
    assert {s: p.wrong_verdicts.get(s) for s in ENCODERS} == {"enc_glstm": "FAIL", "enc_glstm1": "FAIL",
                                                              "enc_nas": "FAIL", "enc_nas_bp": "ok"}, p.wrong_printed


@pytest.mark.parametrize("scope", ["enc_nas_bp", "enc_glstm"])
def test_export_writes_a_checkpoint_the_legacy_graph_restores(contrib_program, tmp_path, scope):
    x_np, outs, out = contrib_program.x_np, contrib_program.ref["outs"], contrib_program.out
    block = {b["scope"]: b for b in _manifest(out)["blocks"]}[scope]
    exported = str(tmp_path / "exp" / "model.ckpt")
    assert run_cli("export", os.path.join(str(out), block["file"]), exported, "--scope", scope) == 0
    with tf.Graph().as_default(), v1.Session(config=FAST) as sess:
        x = v1.placeholder(tf.float32, [None, T, D])
        lengths = v1.placeholder(tf.int32, [None])
        outputs, _ = v1.nn.dynamic_rnn(ENCODERS[scope](), x, sequence_length=lengths, dtype=tf.float32, scope=scope)
        v1.train.Saver().restore(sess, exported)
        np.testing.assert_allclose(sess.run(outputs, {x: x_np, lengths: LENGTHS}), outs[scope], atol=1e-5)


def test_a_glstm_checkpoint_with_a_missing_group_is_refused_naming_it(tmp_path, capsys):
    """Hostile input: ``group0`` and ``group2`` but no ``group1`` (a damaged or hand-edited checkpoint): convert
    refuses it (exit 2), naming the group variables, and writes nothing."""
    with legacy_rnn.new_graph(5) as graph:
        for name, shape in (("group0/kernel", (5, 8)), ("group2/kernel", (5, 8))) + tuple(
                (f"bias_{g}", (U,)) for g in "ijfo"):
            v1.get_variable(f"enc/glstm_cell/{name}", shape)
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            prefix = v1.train.Saver().save(sess, str(tmp_path / "ckpt" / "model.ckpt"), write_meta_graph=False)
    capsys.readouterr()
    assert run_cli("convert", prefix, tmp_path / "out", "--quiet") == 2
    err = capsys.readouterr().err
    assert "enc/glstm_cell/group2/kernel" in err and "found groups [0, 2]" in err
    assert not os.path.exists(tmp_path / "out")
