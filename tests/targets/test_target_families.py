"""Issue 24, every family row against every output target (a ratchet like tests/core/test_tf115_api.py).

Each row of migration/families declares, per target (keras3, onnx), ``exact: how`` or ``not supported: why``
explicitly. A row that says ``exact`` must be exercised here: tests/targets/family_graphs.py writes ONE real TF1
checkpoint with a block per such family (seeded asymmetric weights, biases, forget_bias values off their defaults,
ragged lengths), converted ONCE with ``--target keras3 --target onnx``; convert's own checks (Keras 3 on the
TensorFlow and JAX backends, onnxruntime) must pass, and the written files are rerun here against the outputs the
ORIGINAL TF1 session recorded on other inputs. A row that says ``not supported`` must be refused with the family and
its reason, up front (before any conversion work), exit 2, nothing written. Negative controls per new mapping:
forget_bias not folded, swapped gate blocks, cuDNN's recurrent bias row merged into the input row, and a dense
recurrence in place of diag(u) each fail for each target; for the custom steps (keras3_cells / onnx_cells' Scan)
forget_bias not folded, swapped gate blocks, clips dropped and peepholes zeroed. The docs table is generated from the
rows.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from migration import families
from migration.core.specs import CellSpec
from migration.families.row import EXPORT_TARGETS, NOT_MAPPED
from migration.targets import keras3, onnx_export
from migration.targets.weights import LSTM, TargetRefused, block_cells, check_block, gate_blocks
from tests.targets import family_graphs

TOL = 1e-5
#: family kind -> the block of family_graphs.py that exercises it (checkpoints of the contrib/cuDNN block cells are
#: read as the LSTMCell/GRUCell rows they share the layout and maths with: the row's recognized_as/through)
EXERCISED = {"handwritten": "hand", "basic_rnn": "basic_rnn", "basic_lstm": "basic_lstm", "lstm": "lstm",
             "gru": "gru", "lstm_block": "lstmblock", "lstm_block_fused": "fused", "gru_block": "grublock",
             "gru_block_v2": "grublockv2", "cudnn_compatible_lstm": "cudnnlstm",
             "cudnn_compatible_gru": "cudnngru", "ind_rnn": "indrnn", "indy_gru": "indygru", "indy_lstm": "indylstm",
             "weight_norm_lstm": "weightnorm", "layer_norm_lstm": "lnbasic", "layer_norm_lstm_contrib": "lncontrib",
             "ugrnn": "ugrnn", "cifg_lstm": "cifg", "minimal_rnn": "minimal", "cfn": "cfn", "sru": "sru",
             "intersection_rnn": "intersection", "nas": "nas", "glstm": "glstm",
             "phased_lstm": "phased", "time_freq_lstm": "timefreq", "grid_lstm": "grid",
             "bidirectional_grid_lstm": "bigrid"}
#: blocks of custom steps (keras3_cells in keras.layers.RNN, onnx_cells' Scan), incl. LSTMCell/LSTMBlockCell options
CUSTOM_BLOCKS = ("lnbasic", "lncontrib", "ugrnn", "cifg", "minimal", "cfn", "sru", "intersection", "projlstm",
                 "peepblock", "customstack", "custombi", "nas", "glstm", "nasglstmbi",
                 "dropoutcustom", "phased", "timefreq", "grid", "gridblocks", "bigrid")
#: blocks the original graph cannot run on its own (an unrolled Python loop: no while loop to feed); convert
#: compares their targets with the Keras 2 block and says so; this file compares them with the recorded session
NO_LOOP = {"hand"}


@pytest.fixture(scope="session")
def family_conversion(tmp_path_factory):
    from migration.checkpoint.convert import convert_checkpoint

    root = tmp_path_factory.mktemp("target_families")
    prefix = family_graphs.build(root / "ckpt")
    result = convert_checkpoint(prefix, root / "out", targets=["keras3", "onnx"], whole_model=False)
    assert result.ok, result.verification
    by_scope = {}
    for block in result.manifest["blocks"]:
        scope = block["cells"][0]["path"].split("/")[0]
        by_scope[scope] = block
    return str(root), str(root / "out"), result.manifest, by_scope


def _ref(root: str, scope: str):
    with np.load(os.path.join(root, "ckpt", f"ref_{scope}.npz"), allow_pickle=False) as data:
        return data["x"], data["lengths"], [data[f"out{k}"] for k in range(len(data.files) - 2)]


def _diff(expected, got) -> float:
    assert len(expected) == len(got)
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(expected, got))


def _kinds_read_as(row) -> set[str]:
    return {row.kind, row.recognized_through or row.kind} | {
        layout.recognized_as for layout in row.layouts if layout.recognized_as}


@pytest.mark.parametrize("target", EXPORT_TARGETS)
@pytest.mark.parametrize("row", families.families(), ids=[r.kind for r in families.families()])
def test_every_row_declares_each_target_and_exact_ones_are_exercised(row, target, family_conversion):
    """The ratchet: explicit answer; ``exact`` -> a block of the fixture of this family passed every check of
    ``target``; else -> ``check_block`` refuses it naming the family and the row's reason."""
    answer = row.export.get(target)
    assert answer is not None and answer != NOT_MAPPED, f"{row.kind}: declare its {target} export (docs/targets.md)"
    if answer.startswith("exact"):
        assert row.kind in EXERCISED, f"{row.kind} says {answer!r}: add a block of it to family_graphs.py"
        _, _, manifest, by_scope = family_conversion
        block = by_scope[EXERCISED[row.kind]]
        assert {c["spec"]["kind"] for c in block["cells"]} <= _kinds_read_as(row)
        ver = manifest["targets"][target]["verification"]
        mine = [c for c in ver["checks"] if c["what"] == f"block {block['name']}"]
        backends = {"keras3": {"tensorflow", "jax"}, "onnx": {"onnxruntime"}}[target]
        assert {c["backend"] for c in mine} == backends
        assert len(mine) == len(block["outputs"]) * len(backends)
        assert all(c["max_abs_diff"] <= TOL for c in mine)
        want = "keras2" if EXERCISED[row.kind] in NO_LOOP else "original-graph"
        assert {c["reference"] for c in mine} == {want}
        return
    assert answer.startswith("not supported: ") and len(answer) > 40
    spec = CellSpec(row.kind, 4, forget_bias=float(row.hyper.get("forget_bias", 1.0)))
    block = {"name": "probe_block", "cells": [{"direction": "", "layer": 0, "path": "probe/cell",
                                                "spec": spec.to_dict()}]}
    with pytest.raises(TargetRefused) as info:
        check_block(block, target)
    text = str(info.value)
    assert f"family {row.kind!r}" in text and answer in text and f"--target {target}" in text


@pytest.mark.parametrize("scope", family_graphs.BLOCKS)
def test_the_written_files_equal_the_original_session(family_conversion, scope):
    """Each block's ONNX file (onnxruntime) and Keras 3 file (safe mode, TensorFlow backend) on the inputs the
    original TF1 session ran when the checkpoint was written (ragged lengths; the unrolled block: full)."""
    root, out, _, by_scope = family_conversion
    block = by_scope[scope]
    x, lengths, expected = _ref(root, scope)
    sess = onnx_export.session(os.path.join(out, "blocks", f"{block['name']}.onnx"))
    assert _diff(expected, onnx_export.run_block(sess, x, lengths)) <= TOL
    k3 = keras3.load_block(os.path.join(out, "blocks", f"{block['name']}.keras3.keras"))
    assert type(k3).__module__.startswith("keras.")
    assert _diff(expected, k3([x, lengths], training=False)) <= TOL
    import keras
    import onnx

    cells = {keras.saving.get_registered_name(type(layer.cell)) for layer in k3.layers if hasattr(layer, "cell")}
    ops = {(n.domain, n.op_type) for n in onnx.load(os.path.join(out, "blocks", f"{block['name']}.onnx")).graph.node}
    if scope in CUSTOM_BLOCKS:  # custom cells (registered names) and plain ops of the standard domain in Scans
        assert cells and all(c.startswith("rnn_migrate>") for c in cells), cells
        assert ("", "Scan") in ops and {d for d, _ in ops} == {""}, ops
    else:
        assert not any(c.startswith("rnn_migrate>") for c in cells) and ("", "Scan") not in ops


def _each(cells: dict, fn) -> dict:
    return {d: [fn(c) for c in cs] for d, cs in cells.items()}


def _unfolded(c):
    bias = c.bias.copy()
    bias[c.units:2 * c.units] -= np.float32(c.spec.forget_bias)
    return dataclasses.replace(c, bias=bias)


def _swapped(c):
    def swap(a):
        blocks = gate_blocks(a, c.units)
        return np.concatenate([blocks[1], blocks[0]] + blocks[2:], axis=-1)
    if len(gate_blocks(c.bias, c.units)) < 2:
        return dataclasses.replace(c, kernel=c.kernel[::-1].copy())  # a simple RNN: its inputs read backwards
    return dataclasses.replace(c, kernel=swap(c.kernel), recurrent_kernel=swap(c.recurrent_kernel), bias=swap(c.bias))


def _merged_rows(c):
    """cuDNN's GRU with both bias rows added into the input row: TF1 GRUCell's reset (r outside b_hn) instead."""
    return dataclasses.replace(c, bias=np.stack([c.bias[0] + c.bias[1], np.zeros_like(c.bias[1])]))


def _dense_recurrence(c):
    """diag(u) replaced by u broadcast to every row: what a careless 'vector recurrence' mapping would give."""
    return dataclasses.replace(c, recurrent_kernel=np.tile(c.recurrent_kernel.sum(0, keepdims=True), (c.units, 1)))


#: custom step -> (index of the weight the forget_bias is folded into, its gate blocks)
FORGET = {"UGRNNCell": (2, [0]), "CoupledInputForgetGateLSTMCell": (2, [1]), "IntersectionRNNCell": (4, [0, 2]),
          "LayerNormBasicLSTMCell": (3, [1]), "LayerNormLSTMCell": (3, [1]), "ProjectionLSTMCell": (2, [1]),
          "GLSTMCell": (2, [2]), "TimeFreqLSTMCell": (1, [2])}


def _custom_unfolded(c):
    """forget_bias not folded into the custom cell's gate (bias or layer-norm beta) blocks."""
    index, blocks = FORGET[c.custom]
    weights = list(c.weights)
    weights[index] = weights[index].copy()
    for b in blocks:
        weights[index][b * c.units:(b + 1) * c.units] -= np.float32(c.spec.forget_bias)
    return dataclasses.replace(c, weights=tuple(weights))


def _custom_swapped(c):
    """The first two gate blocks of every gate-blocked weight swapped (MinimalRNN, whose weights are one block
    each: the matrices of z and of h swapped)."""
    def swap(a):
        if a.shape[-1] < 2 * c.units or a.shape[-1] % c.units:
            return a
        blocks = gate_blocks(a, c.units)
        return np.concatenate([blocks[1], blocks[0]] + blocks[2:], axis=-1)
    weights = [swap(a) for a in c.weights]
    if all(a is b for a, b in zip(weights, c.weights)):
        weights[1], weights[2] = weights[2], weights[1]
    return dataclasses.replace(c, weights=tuple(weights))


def _unclipped(c):
    """LSTMCell's cell_clip / proj_clip dropped: the fixture's clips bite."""
    assert c.spec.cell_clip
    return dataclasses.replace(c, spec=dataclasses.replace(c.spec, cell_clip=None, proj_clip=None))


def _no_peepholes(c):
    assert c.spec.use_peepholes
    return dataclasses.replace(c, weights=c.weights[:3] + tuple(np.zeros_like(w) for w in c.weights[3:6])
                               + c.weights[6:])


def _nas_no_bias(c):
    """NASCell's stored bias dropped (the row reads use_bias from whether ``bias`` is stored)."""
    assert c.spec.option("use_bias")
    return dataclasses.replace(c, weights=c.weights[:2] + (np.zeros_like(c.weights[2]),) + c.weights[3:])


def _no_projection(c):
    """The projection replaced by its first P rows' identity (a projection read as a plain slice of m)."""
    assert c.spec.num_proj
    eye = np.eye(*c.weights[-1].shape, dtype=np.float32)
    return dataclasses.replace(c, weights=c.weights[:-1] + (eye,))


def _groups_swapped(c):
    """GLSTMCell's first two groups' row blocks swapped in kernel and recurrent_kernel (a group order mix-up)."""
    groups = int(c.spec.option("number_of_groups", 1))
    assert groups >= 2

    def swap(a):
        blocks = np.split(a, groups)
        return np.concatenate([blocks[1], blocks[0]] + blocks[2:])
    return dataclasses.replace(c, weights=(swap(c.weights[0]), swap(c.weights[1])) + c.weights[2:])


def _keep_scaled(c):
    """Inverted dropout's survivor scaling (1 / keep_prob) left on the inputs: the wrapper not taken as identity."""
    return dataclasses.replace(c, kernel=c.kernel / np.float32(family_graphs.KEEP))


def _phase_dropped(c):
    """PhasedLSTMCell's phase zeroed (the time gate read as mod(time, period))."""
    return dataclasses.replace(c, weights=c.weights[:7] + (np.zeros_like(c.weights[7]),) + c.weights[8:])


def _grid_weights(c) -> dict:
    """A grid cell's Keras 2 arrays by the twin's weight names (``w_f_0``, ``fwd_b_t_1``, ``w_i_diag_freqf_0``...)."""
    from migration.families.grid_lstm import grid_config, grid_tf1_names, keras_name

    bidirectional = c.custom == "BidirectionalGridLSTMCell"
    names = [keras_name(n) for n in grid_tf1_names(grid_config(c.spec, None, bidirectional), bidirectional)]
    assert len(names) == len(c.weights)
    return dict(zip(names, c.weights))


def _grid_replaced(c, arrays: dict):
    return dataclasses.replace(c, weights=tuple(arrays.values()))


def _grid_unfolded(c):
    """forget_bias not folded into the f block (i, j, f, o) of every grid bias ``b_f_<b>`` / ``b_t_<b>``."""
    assert not c.spec.option("couple_input_forget_gates") and c.spec.forget_bias
    w = _grid_weights(c)
    for name in [n for n in w if n.split("_")[-3] == "b"]:
        w[name] = w[name].copy()
        w[name][2 * c.units:3 * c.units] -= np.float32(c.spec.forget_bias)
    return _grid_replaced(c, w)


def _grid_lstms_swapped(c):
    """The F-LSTM's and the T-LSTM's weights of block 0 swapped (``w_f_0``/``b_f_0`` <-> ``w_t_0``/``b_t_0``)."""
    w = _grid_weights(c)
    w["w_f_0"], w["w_t_0"], w["b_f_0"], w["b_t_0"] = w["w_t_0"], w["w_f_0"], w["b_t_0"], w["b_f_0"]
    return _grid_replaced(c, w)


def _grid_blocks_swapped(c):
    """Frequency block 0's and block 1's weights swapped (the same shapes: one slicing mixed up with the other)."""
    w = _grid_weights(c)
    for stem in ("w_f", "b_f"):
        w[f"{stem}_0"], w[f"{stem}_1"] = w[f"{stem}_1"], w[f"{stem}_0"]
    return _grid_replaced(c, w)


def _grid_no_peepholes(c):
    assert c.spec.use_peepholes
    return _grid_replaced(c, {n: np.zeros_like(a) if "_diag_" in n else a for n, a in _grid_weights(c).items()})


def _grid_directions_swapped(c):
    """The forward grid's arrays given to the backward one and back."""
    w = _grid_weights(c)
    return _grid_replaced(c, {n: w[("bwd_" + n[4:]) if n.startswith("fwd_") else ("fwd_" + n[4:])] for n in w})


def _grid_offset_dropped(c):
    """The backward grid read from the input as it is (``backward_slice_offset`` 0 instead of the program's)."""
    assert c.spec.option("backward_slice_offset")
    options = tuple((k, 0 if k == "backward_slice_offset" else v) for k, v in c.spec.options)
    return dataclasses.replace(c, spec=dataclasses.replace(c.spec, options=options))


MUTATIONS = {"lnbasic": [_custom_unfolded, _custom_swapped], "lncontrib": [_custom_unfolded, _custom_swapped],
             "ugrnn": [_custom_unfolded, _custom_swapped], "cifg": [_custom_unfolded, _custom_swapped],
             "intersection": [_custom_unfolded, _custom_swapped], "minimal": [_custom_swapped],
             "cfn": [_custom_swapped], "sru": [_custom_swapped], "custombi": [_custom_swapped],
             "projlstm": [_custom_unfolded, _custom_swapped, _unclipped, _no_peepholes],
             "peepblock": [_unclipped, _no_peepholes],
             "lstmblock": [_unfolded, _swapped], "fused": [_unfolded, _swapped], "cudnngru": [_merged_rows, _swapped],
             "indrnn": [_dense_recurrence, _swapped], "indygru": [_dense_recurrence, _swapped],
             "indylstm": [_unfolded, _dense_recurrence], "grublockv2": [_swapped], "hand": [_swapped],
             "weightnorm": [_unfolded, _swapped], "nas": [_custom_swapped, _nas_no_bias, _no_projection],
             "glstm": [_custom_unfolded, _groups_swapped, _no_projection], "nasglstmbi": [_custom_swapped],
             "varwrap": [_swapped, _keep_scaled], "dropoutcustom": [_custom_swapped, _custom_unfolded],
             "phased": [_custom_swapped, _phase_dropped], "timefreq": [_custom_unfolded, _custom_swapped],
             "grid": [_grid_unfolded, _custom_swapped, _grid_lstms_swapped, _grid_no_peepholes, _unclipped],
             "gridblocks": [_grid_unfolded, _custom_swapped, _grid_blocks_swapped],
             "bigrid": [_custom_swapped, _grid_no_peepholes, _grid_directions_swapped, _grid_offset_dropped]}


@pytest.mark.parametrize("scope", sorted(MUTATIONS))
def test_negative_controls_fail_for_each_target(family_conversion, scope):
    """The unmutated cells rebuilt here pass (the control is sound); every mutation fails on ONNX and Keras 3."""
    import onnxruntime as ort

    root, _, _, by_scope = family_conversion
    block = by_scope[scope]
    x, lengths, expected = _ref(root, scope)
    from migration.checkpoint.reader import CheckpointReader

    cells = block_cells(block, CheckpointReader(os.path.join(root, "ckpt", "model.ckpt")).read)

    def both(cs):
        model = onnx_export.build_block(cs, block["input_size"], "probe", block["outputs"])
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return (_diff(expected, onnx_export.run_block(sess, x, lengths)),
                _diff(expected, keras3.build_block(cs, block["input_size"], "probe")([x, lengths], training=False)))

    assert max(both(cells)) <= TOL
    for mutation in MUTATIONS[scope]:
        if mutation is _unfolded:
            assert all(c.op == LSTM and c.spec.forget_bias != 0 for cs in cells.values() for c in cs)
        if mutation is _custom_unfolded:
            assert all(c.custom in FORGET and c.spec.forget_bias != 0 for cs in cells.values() for c in cs)
        assert min(both(_each(cells, mutation))) > 1e-3, mutation.__name__


def test_dropout_wrappers_are_checked_as_their_inner_cells(family_conversion):
    """A plain DropoutWrapper (live keep_prob) is bypassed in the original graph, which is then the reference; the
    variational one's noise (drawn once, outside the loop) is no dropout pattern the sandbox bypasses, so convert
    says so and compares with the Keras 2 block (weaker; the recorded TF1 session above still checks the files)."""
    _, _, manifest, by_scope = family_conversion
    for target in EXPORT_TARGETS:
        checks = manifest["targets"][target]["verification"]["checks"]
        for scope, want in (("dropoutcustom", "original-graph"), ("varwrap", "keras2")):
            mine = [c for c in checks if c["what"] == f"block {by_scope[scope]['name']}"]
            assert mine and {c["reference"] for c in mine} == {want}, (scope, mine)
            assert all(c["max_abs_diff"] <= TOL for c in mine)
    note = [n for n in manifest["targets"]["notes"] if by_scope["varwrap"]["name"] in n]
    assert note and "RandomUniform" in note[0] and "Keras 2 block" in note[0]


def test_onnx_cudnn_reset_constant_is_load_bearing(family_conversion, monkeypatch):
    root, _, _, by_scope = family_conversion
    block = by_scope["cudnngru"]
    x, lengths, expected = _ref(root, "cudnngru")
    from migration.checkpoint.reader import CheckpointReader
    import onnxruntime as ort

    cells = block_cells(block, CheckpointReader(os.path.join(root, "ckpt", "model.ckpt")).read)
    monkeypatch.setattr(onnx_export, "CUDNN_GRU_LINEAR_BEFORE_RESET", 0)
    model = onnx_export.build_block(cells, block["input_size"], "probe", block["outputs"])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert _diff(expected, onnx_export.run_block(sess, x, lengths)) > 1e-3


def test_a_refused_cell_is_refused_up_front(tmp_path, capsys, monkeypatch):
    """``convert --target T`` of a checkpoint with a UGRNN block and a BasicRNNCell(elu) block: exit 2 naming the
    block's family and the reason, before any conversion pass runs (a pass that ran would fail this test), and no
    output directory: (1) with the UGRNN row answering ``not supported`` (every row takes its targets today; a new
    family's row does not), (2) with the rows as they are, for the activation no target has (elu)."""
    import legacy_rnn
    from legacy_rnn import tf, v1
    from legacy_rnn.ugrnn import ugrnn_cell
    import migration.checkpoint.convert as convert
    import migration.targets.weights as target_weights
    from migration.cli import main
    from migration.families.row import refused

    def no_pass(*args, **kwargs):
        raise AssertionError("a conversion pass ran before the refusal")

    monkeypatch.setattr(convert, "_run_passes", no_pass)
    with legacy_rnn.new_graph(5) as graph:
        x = v1.placeholder(tf.float32, [None, 3, 2], name="x")
        with v1.variable_scope("a"):
            legacy_rnn.dynamic_rnn(ugrnn_cell(3), x, dtype=tf.float32)
        with v1.variable_scope("b"):
            legacy_rnn.dynamic_rnn(legacy_rnn.basic_rnn_cell(3, activation="elu"), x, dtype=tf.float32)
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        prefix = v1.train.Saver().save(sess, str(tmp_path / "ckpt" / "model.ckpt"))
    real = target_weights.family
    probe = dataclasses.replace(real("ugrnn"), export=refused("a probe reason of this test"))
    for target in EXPORT_TARGETS:
        with monkeypatch.context() as patch:
            patch.setattr(target_weights, "family", lambda spec: probe if spec.kind == "ugrnn" else real(spec))
            assert main(["convert", prefix, str(tmp_path / "out"), "--target", target, "--quiet"]) == 2
        err = capsys.readouterr().err.replace("\n", " ")
        assert "family 'ugrnn'" in err and probe.support(target) in err and f"--target {target}" in err
        assert not (tmp_path / "out").exists()
        assert main(["convert", prefix, str(tmp_path / "out"), "--target", target, "--quiet"]) == 2
        err = capsys.readouterr().err.replace("\n", " ")
        assert "family 'basic_rnn'" in err and "activation 'elu'" in err and f"--target {target}" in err
        assert not (tmp_path / "out").exists()


def test_keras3_resume_refuses_a_diagonal_recurrence_and_a_conversion_without_slots(family_conversion):
    """IndRNN's Keras 3 layer trains a dense diag(u): its slots are refused with the reason; a plain block of a
    conversion without --with-optimizer says to convert with it."""
    from migration.checkpoint.optimizer_keras3 import keras3_slots
    from migration.core.errors import MigrationError

    _, out, _, by_scope = family_conversion
    for scope, message in (("indrnn", r"'ind_rnn' cell .* diag\(u\)"), ("gru", "convert with --with-optimizer")):
        model = keras3.load_block(os.path.join(out, "blocks", f"{by_scope[scope]['name']}.keras3.keras"))
        with pytest.raises(MigrationError, match=message):
            keras3_slots(out, model)


def test_the_docs_table_is_generated_from_the_rows():
    from migration.targets.table import support_table

    text = (Path(__file__).resolve().parents[2] / "docs" / "targets.md").read_text(encoding="utf-8")
    table = text.split("<!-- targets-table:start -->\n")[1].split("<!-- targets-table:end -->")[0]
    assert table.splitlines() == support_table()  # regenerate: python -m migration.targets.table
    assert len(support_table()) == len(families.families())
