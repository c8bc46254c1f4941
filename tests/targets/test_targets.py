"""``convert --target keras3 --target onnx`` (issue 24): every RNN block also as a Keras 3 model and an ONNX graph,
each equal to the user's original TF1 graph.

One real checkpoint (tests/targets/graphs.py: embedding + BasicLSTMCell/LSTMCell stack + dense head, GRUCell, a
relu BasicRNNCell, a bidirectional block with different stacks per direction; seeded asymmetric weights, non-zero
biases, forget_bias 1.0/0.7/0.5) is converted ONCE with both targets. The assertions read its manifest, and rerun
the written files themselves (onnxruntime; Keras 3 in safe mode) against outputs the ORIGINAL TF1 session recorded
on other inputs (ragged lengths) when the checkpoint was written: a reference independent of rnn-migrate's graph
runner. Negative controls: forget_bias not folded, swapped gate blocks, Keras' gate order given to ONNX, the
cuDNN-style GRU reset: each must fail for each target.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from migration import families
from migration.core.specs import CellSpec
from migration.families.row import EXPORT_TARGETS, NOT_MAPPED, SUPPORT_LEVELS
from migration.targets import keras3, onnx_export
from migration.targets.weights import LSTM, TargetRefused, block_cells, check_block, gate_blocks
from tests.targets import graphs

TOL = 1e-5
BLOCKS = ("lstm_stack", "gru", "relu_rnn", "bi")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from migration.checkpoint.convert import convert_checkpoint

    root = tmp_path_factory.mktemp("targets")
    prefix = graphs.build(root / "ckpt")
    result = convert_checkpoint(prefix, root / "out", targets=["keras3", "onnx"])
    assert result.ok, result.verification
    return prefix, str(root / "out"), result.manifest


def _blocks(manifest) -> dict:
    return {b["name"]: b for b in manifest["blocks"]}


def _reader(prefix):
    from migration.checkpoint.reader import CheckpointReader

    return CheckpointReader(prefix).read


def _diff(expected, got) -> float:
    assert len(expected) == len(got)
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(expected, got))


def test_every_target_file_of_every_block_matched_the_original_graph(converted):
    _, out, manifest = converted
    assert sorted(_blocks(manifest)) == sorted(BLOCKS)
    targets = manifest["targets"]
    for target, backends in (("keras3", ["jax", "tensorflow"]), ("onnx", ["onnxruntime"])):
        entry = targets[target]
        ver = entry["verification"]
        assert ver["ok"] and ver["max_abs_diff"] <= TOL and ver["backends"] == backends
        assert ver["references"] == ["original-graph"]  # never the weaker Keras 2 fallback here
        expected = (sum(len(b["outputs"]) for b in manifest["blocks"]) + 1) * len(backends)  # + the whole model
        assert len(ver["checks"]) == expected
        assert {b["name"] for b in entry["blocks"]} == set(BLOCKS)
        assert entry["model"]["file"] == f"model.{'keras3.keras' if target == 'keras3' else 'onnx'}"
        assert entry["not_exported"] == []
        whole = [c for c in ver["checks"] if c["what"] == "whole model"]
        assert len(whole) == len(backends) and all(c["reference"] == "original-graph" for c in whole)
    assert any("jax backend" in n for n in targets["notes"])


def test_target_files_are_in_the_manifest_and_its_file_record(converted, tmp_path):
    """Listed and hashed, so `rnn-migrate verify` sees a changed target file (on a copy of the output)."""
    import shutil

    from migration.checkpoint.files import directory_problems
    from migration.checkpoint.manifest import manifest_files, read_manifest

    _, out, _ = converted
    manifest = read_manifest(out)  # the schema accepts the targets entry
    listed = manifest_files(manifest)
    for name in BLOCKS:
        for rel in (f"blocks/{name}.keras3.keras", f"blocks/{name}.onnx", "model.keras3.keras", "model.onnx"):
            assert rel in listed and rel in manifest["files"]
            assert os.path.getsize(os.path.join(out, rel)) == manifest["files"][rel]["bytes"]
    assert directory_problems(out, manifest, listed) == ([], [])
    copy = shutil.copytree(out, tmp_path / "copy")
    path = copy / "blocks" / "gru.onnx"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # one byte of the weights
    path.write_bytes(bytes(data))
    problems, _ = directory_problems(str(copy), manifest, listed)
    assert [p for p, _ in problems] == ["blocks/gru.onnx"] and "sha256" in problems[0][1]


@pytest.mark.parametrize("name", BLOCKS)
def test_the_written_files_equal_the_original_session_on_other_inputs(converted, name):
    import onnx

    prefix, out, _ = converted
    x, lengths, expected = graphs.load_ref(os.path.dirname(prefix), name)
    model = onnx.load(os.path.join(out, "blocks", f"{name}.onnx"))
    assert model.opset_import[0].version >= 17
    assert {n.op_type for n in model.graph.node} & {"LSTM", "GRU", "RNN"}  # the standard ops, not plain algebra
    sess = onnx_export.session(os.path.join(out, "blocks", f"{name}.onnx"))
    assert _diff(expected, onnx_export.run_block(sess, x, lengths)) <= TOL
    k3 = keras3.load_block(os.path.join(out, "blocks", f"{name}.keras3.keras"))  # safe_mode=True
    assert type(k3).__module__.startswith("keras.")  # Keras 3, not tf_keras
    assert _diff(expected, k3([x, lengths], training=False)) <= TOL


def test_the_whole_model_files_equal_the_original_session(converted):
    """embedding -> LSTM stack -> last step -> dense head, on full-length inputs the original session ran (with
    ragged lengths the head would read zeros for every shorter row and compare little more than its bias)."""
    import onnx

    prefix, out, _ = converted
    with np.load(os.path.join(os.path.dirname(prefix), "ref_whole.npz"), allow_pickle=False) as data:
        ids, length, logits = data["ids"], data["length"], data["logits"]
    assert np.std(logits, axis=0).min() > 1e-3  # the rows differ: the RNN output reaches the head
    k3 = keras3.load_block(os.path.join(out, "model.keras3.keras"))
    assert _diff([logits], [k3([ids, length], training=False)]) <= TOL
    model = onnx.load(os.path.join(out, "model.onnx"))
    assert [i.name for i in model.graph.input] == ["input_ids", "input_length"]
    assert {"LSTM", "Gather", "MatMul", "Slice"} <= {n.op_type for n in model.graph.node}
    sess = onnx_export.session(os.path.join(out, "model.onnx"))
    assert _diff([logits], sess.run(None, {"input_ids": ids, "input_length": length})) <= TOL


def _mutations(cells: dict) -> dict[str, dict]:
    """Hostile variants of a block's converted cells: forget_bias not folded (LSTM b_f - forget_bias), and the
    first two gate blocks swapped (LSTM i<->f, GRU z<->r)."""
    def each(fn):
        return {d: [fn(c) for c in cs] for d, cs in cells.items()}

    def unfolded(c):
        if c.op != LSTM:
            return c
        bias = c.bias.copy()
        bias[c.units:2 * c.units] -= np.float32(c.spec.forget_bias)
        return dataclasses.replace(c, bias=bias)

    def swapped(c):
        if len(gate_blocks(c.bias, c.units)) < 2:
            return dataclasses.replace(c, kernel=c.kernel[::-1].copy())  # simple RNN: inputs read backwards
        def swap(a):
            blocks = gate_blocks(a, c.units)
            return np.concatenate([blocks[1], blocks[0]] + blocks[2:], axis=-1)
        return dataclasses.replace(c, kernel=swap(c.kernel), recurrent_kernel=swap(c.recurrent_kernel),
                                   bias=swap(c.bias))

    return {"forget_bias not folded": each(unfolded), "gate blocks swapped": each(swapped)}


def _onnx_outputs(cells, block, x, lengths):
    import onnxruntime as ort

    model = onnx_export.build_block(cells, block["input_size"], "probe", block["outputs"])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return onnx_export.run_block(sess, x, lengths)


def _keras3_outputs(cells, block, x, lengths):
    return keras3.build_block(cells, block["input_size"], "probe")([x, lengths], training=False)


@pytest.mark.parametrize("name", ["lstm_stack", "bi"])
def test_negative_controls_fail_for_each_target(converted, name):
    """The unmutated cells pass (the control is sound); each mutation fails on ONNX and on Keras 3 (TensorFlow
    backend: the JAX run of the same kind of file is the positive check of the conversion above)."""
    prefix, _, manifest = converted
    block = _blocks(manifest)[name]
    x, lengths, expected = graphs.load_ref(os.path.dirname(prefix), name)
    cells = block_cells(block, _reader(prefix))
    assert _diff(expected, _onnx_outputs(cells, block, x, lengths)) <= TOL
    assert _diff(expected, _keras3_outputs(cells, block, x, lengths)) <= TOL
    for what, bad in _mutations(cells).items():
        assert _diff(expected, _onnx_outputs(bad, block, x, lengths)) > 1e-3, what
        assert _diff(expected, _keras3_outputs(bad, block, x, lengths)) > 1e-3, what


def test_onnx_gate_order_and_gru_reset_are_load_bearing(converted, monkeypatch):
    """Keras' LSTM gate order (i, f, c, o) given to ONNX as is, or ONNX's cuDNN-style GRU reset
    (linear_before_reset=1): both must fail, so the mapping's constants are what makes the files equal."""
    prefix, _, manifest = converted
    for name, attr, wrong in (("lstm_stack", "LSTM_ORDER", (0, 1, 2, 3)), ("gru", "GRU_LINEAR_BEFORE_RESET", 1)):
        block = _blocks(manifest)[name]
        x, lengths, expected = graphs.load_ref(os.path.dirname(prefix), name)
        cells = block_cells(block, _reader(prefix))
        with monkeypatch.context() as m:
            m.setattr(onnx_export, attr, wrong)
            assert _diff(expected, _onnx_outputs(cells, block, x, lengths)) > 1e-3, attr


@pytest.mark.parametrize("target", EXPORT_TARGETS)
@pytest.mark.parametrize("row", families.families(), ids=[r.kind for r in families.families()])
def test_every_row_answers_for_every_target(row, target):
    """The export column of the registry: every row (a new row too, by the default) gives one of the answers."""
    answer = row.support(target)
    assert answer.startswith(SUPPORT_LEVELS) and len(answer.split(":", 1)[1].strip()) > 5
    assert row.support("no-such-target") == NOT_MAPPED


def _block_of(spec: CellSpec) -> dict:
    return {"name": "probe_block", "cells": [{"direction": "", "layer": 0, "path": "probe/cell", "spec": spec.to_dict()}]}


REFUSED = [CellSpec(r.kind, 4, forget_bias=float(r.hyper.get("forget_bias", 1.0))) for r in families.families() if not r.support("onnx").startswith("exact")] + [
    CellSpec("basic_rnn", 4, activation="elu"), CellSpec("ugrnn", 4, activation="elu")]
#: LSTMCell / LSTMBlockCell options: taken through the custom step ProjectionLSTMCell (tests/targets/family_graphs.py)
TAKEN = [CellSpec("lstm", 4, use_peepholes=True), CellSpec("lstm", 4, num_proj=2), CellSpec("lstm", 4, cell_clip=3.0),
         CellSpec("lstm_block", 4, use_peepholes=True, cell_clip=1.0)]


@pytest.mark.parametrize("target", EXPORT_TARGETS)
def test_lstm_options_are_taken_through_the_projection_lstm_step(target):
    from migration.targets.weights import PROJECTION_LSTM, custom_of

    for spec in TAKEN:
        check_block(_block_of(spec), target)
        assert custom_of(spec) == PROJECTION_LSTM
    assert custom_of(CellSpec("lstm", 4)) == ""


@pytest.mark.parametrize("target", EXPORT_TARGETS)
@pytest.mark.parametrize("spec", REFUSED, ids=[f"{s.kind}-{k}" for k, s in enumerate(REFUSED)])
def test_cells_a_target_cannot_take_are_refused_naming_the_family_and_reason(spec, target):
    with pytest.raises(TargetRefused) as info:
        check_block(_block_of(spec), target)
    text = str(info.value)
    assert f"family {spec.kind!r}" in text and "probe_block" in text and f"--target {target}" in text
    assert "not supported" in text


def test_a_refused_target_installs_nothing(tmp_path, capsys):
    """End to end through the CLI: a BasicRNNCell(elu) checkpoint with --target onnx is refused with exit 2, the
    family and the reason on stderr, and the output directory is not created."""
    import legacy_rnn
    from legacy_rnn import tf, v1
    from migration.cli import main

    with legacy_rnn.new_graph(3) as graph:
        x = v1.placeholder(tf.float32, [None, 4, 2], name="x")
        legacy_rnn.dynamic_rnn(legacy_rnn.basic_rnn_cell(3, activation="elu"), x, scope="elu", dtype=tf.float32)
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        prefix = v1.train.Saver().save(sess, str(tmp_path / "ckpt" / "model.ckpt"))
    assert main(["convert", prefix, str(tmp_path / "out"), "--target", "onnx", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "family 'basic_rnn'" in err and "activation 'elu'" in err and "--target onnx" in err
    assert not (tmp_path / "out").exists()


def test_the_summary_lines_flag_each_check(converted, capsys):
    import copy

    from migration.targets.export import print_targets

    entry = copy.deepcopy(converted[2]["targets"])
    entry["onnx"]["verification"]["checks"][0]["max_abs_diff"] = 0.5  # a doctored failure is shown as FAIL
    print_targets(entry)
    out = capsys.readouterr().out.splitlines()
    fails = [line for line in out if line.strip().startswith("FAIL")]
    assert len(fails) == 1 and "onnx (onnxruntime)" in fails[0] and "0.5" in fails[0]
    assert sum(line.strip().startswith("ok") for line in out) == sum(
        len(entry[t]["verification"]["checks"]) for t in ("keras3", "onnx")) - 1
    assert "  keras3: blocks/gru.keras3.keras" in out and any("jax backend" in line for line in out)


def test_target_option_of_the_cli():
    from migration.cli import UsageError, build_parser
    from migration.core.errors import MigrationError
    from migration.targets.export import requested

    args = build_parser().parse_args(["convert", "c", "o", "--target", "onnx", "--target", "keras3",
                                      "--target", "onnx", "--target", "keras2"])
    assert requested(args.target) == ["onnx", "keras3"]
    assert requested(None) == []
    with pytest.raises(UsageError, match="invalid choice: 'keras1'"):
        build_parser().parse_args(["convert", "c", "o", "--target", "keras1"])
    with pytest.raises(MigrationError, match="--target"):
        requested(["tflite"])


def test_the_extras_pin_the_target_packages_and_the_test_extra_pulls_them():
    import configparser
    from pathlib import Path

    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parents[2] / "setup.cfg")
    extras = {k: [r.strip() for r in v.splitlines() if r.strip() and not r.strip().startswith("#")]
              for k, v in cfg["options.extras_require"].items()}
    assert {r.split(">")[0] for r in extras["keras3"]} == {"keras", "jax", "jaxlib"}
    assert {r.split(">")[0] for r in extras["onnx"]} == {"onnx", "onnxruntime"}
    for requirement in extras["keras3"] + extras["onnx"]:
        assert ">=" in requirement and ",<" in requirement  # a pinned range
        assert requirement in extras["test"]  # .ci/run installs .[test]


def test_the_docs_table_is_the_registry_column():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "targets.md").read_text(encoding="utf-8")
    table = text.split("<!-- targets-table:start -->")[1].split("<!-- targets-table:end -->")[0]
    rows = {}
    for line in table.strip().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = (cells[2], cells[3])
    answers = {r.kind: (r.support("keras3"), r.support("onnx")) for r in families.families()}
    for kind, documented in rows.items():
        assert answers[kind] == documented, kind
    # a new row with the default answer may wait for its docs line; one that maps a target may not
    assert {k for k, a in answers.items() if a != (NOT_MAPPED, NOT_MAPPED)} <= set(rows)


SLICES = [dict(begin=[0, -1], end=[0, 0], strides=[1, 1], begin_mask=1, end_mask=1, shrink_axis_mask=2),
          dict(begin=[1, 2, 0], end=[3, 5, 0], strides=[1, 2, 1], begin_mask=4, end_mask=4),
          dict(begin=[0, -1, 0], end=[0, 0, 0], strides=[1, -1, 1], begin_mask=7, end_mask=7),
          dict(begin=[2, 0], end=[3, 0], strides=[1, 1], end_mask=2, shrink_axis_mask=1)]


@pytest.mark.parametrize("kwargs", SLICES)
def test_strided_slice_glue_equals_tensorflow_on_both_targets(kwargs):
    import onnxruntime as ort
    import tensorflow as tf
    from onnx import TensorProto, helper

    from migration.targets.whole import OnnxWhole, slice_spec

    x = np.arange(4 * 6 * 3, dtype=np.float32).reshape(4, 6, 3)
    x = x if len(kwargs["begin"]) == 3 else x[..., 0]
    want = tf.strided_slice(x, **kwargs).numpy()
    np.testing.assert_array_equal(x[tuple(slice_spec(kwargs, x.ndim))], want)  # the Keras 3 indexing
    onnx_whole = OnnxWhole({}, {})
    out = onnx_whole._glue("strided_slice", ("x", x.ndim), kwargs)
    onnx_whole.inputs.append(helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape)))
    model = onnx_whole.model([out], ["y"])
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, want)


def test_an_untranslatable_glue_op_names_the_layer():
    from migration.targets.whole import Keras3Whole, NotExportable, OnnxWhole, walk

    config = {"layers": [
        {"class_name": "InputLayer", "name": "input_x", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 3], "dtype": "float32"}},
        {"class_name": "TFOpLambda", "name": "tf.math.cumsum", "config": {"function": "math.cumsum"},
         "inbound_nodes": [["input_x", 0, 0, {"axis": -1}]]}],
        "input_layers": [["input_x", 0, 0]], "output_layers": [["tf.math.cumsum", 0, 0]]}
    for translator in (Keras3Whole({}, {}), OnnxWhole({}, {})):
        with pytest.raises(NotExportable, match=r"'tf.math.cumsum' \(TFOpLambda math.cumsum\)"):
            walk(config, translator)
