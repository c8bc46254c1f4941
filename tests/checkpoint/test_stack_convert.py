"""stack_bidirectional_dynamic_rnn converted as ONE chained block (migration.checkpoint.stacks): a real program
(2 layers, LSTM forget_bias=0.5 then GRU, a sequence_length placeholder, a dense head) saved by Saver with its .meta;
`convert` writes stacks/<name>.keras beside the per-layer blocks and verifies it against the ORIGINAL graph (the top
layer's concat and every layer's final states); the independent reference is the original program's own session
run. Negative controls: fw/bw swapped in a layer, or layer 1 reading concat(bw, fw), fail verification."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import tf, v1

from conftest import randomize, run_cli, save
from tests.checkpoint.tf1_values import FAST

D, LENGTHS = 3, np.array([6, 1, 4, 3], np.int32)


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    """(checkpoint prefix, x, the original program's flat (outputs, states_fw, states_bw) on x and LENGTHS)."""
    root = tmp_path_factory.mktemp("stack")
    x_np = np.random.default_rng(7).normal(0, 1, (4, 6, D)).astype(np.float32)
    with legacy_rnn.new_graph(11) as graph:
        x = v1.placeholder(tf.float32, [None, None, D], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        cells = lambda: [legacy_rnn.basic_lstm_cell(4, forget_bias=0.5), legacy_rnn.gru_cell(3)]  # noqa: E731
        out, s_fw, s_bw = legacy_rnn.stack_bidirectional_dynamic_rnn(cells(), cells(), x, sequence_length=lengths)
        v1.layers.dense(out, 2, name="head")
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 11)
            expected = sess.run(tf.nest.flatten((out, s_fw, s_bw)), {x: x_np, lengths: LENGTHS})
            prefix = save(sess, root / "ckpt")
    return prefix, x_np, expected


@pytest.fixture(scope="module")
def converted(program, tmp_path_factory):
    out = tmp_path_factory.mktemp("stack_out") / "out"
    assert run_cli("convert", program[0], out, "--quiet") == 0
    return str(out)


def _manifest(out: str) -> dict:
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


def _load(path: str):
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    return keras.models.load_model(path, compile=False, safe_mode=True)


def test_stack_is_one_chained_block_verified_against_the_original_graph(program, converted) -> None:
    _, x, expected = program
    m = _manifest(converted)
    (stack,) = m["stacks"]
    assert stack["scope"] == "stack_bidirectional_rnn" and stack["input_size"] == D
    blocks = {b["name"]: b for b in m["blocks"]}
    assert [layer["block"] for layer in stack["layers"]] == sorted(blocks)  # per-layer information kept
    assert [layer["input_size"] for layer in stack["layers"]] == [D, 8]
    assert [(layer["fw"]["spec"]["kind"], layer["bw"]["spec"]["kind"]) for layer in stack["layers"]] == \
        [("basic_lstm", "basic_lstm"), ("gru", "gru")]
    assert stack["layers"][0]["fw"]["spec"]["forget_bias"] == 0.5  # read from the .meta
    assert stack["outputs"] == ["outputs", "fw/layer0/state/c", "fw/layer0/state/h", "fw/layer1/state/h",
                                "bw/layer0/state/c", "bw/layer0/state/h", "bw/layer1/state/h"]
    v = m["verification"]
    assert v["ok"] and v["references"][f"stack {stack['name']}"] == "original-graph"
    checks = [c for c in v["checks"] if c["what"] == f"stack {stack['name']}"]
    assert [c["output"] for c in checks] == stack["outputs"] and all(c["max_abs_diff"] <= 1e-5 for c in checks)
    # independent of verify: the stack model against the original program's own run
    got = _load(os.path.join(converted, stack["file"]))([x, LENGTHS], training=False)
    assert len(got) == len(expected)
    assert max(float(np.max(np.abs(np.asarray(g) - e))) for g, e in zip(got, expected)) <= 1e-5
    assert expected[0].shape == (4, 6, 6) and not np.asarray(got[0])[1, 1:].any() and np.abs(expected[0][0]).min() > 0


def _tamper(out: str, wrong: str) -> None:
    """Rewrite the stack model with layer 1's fw/bw cells swapped, or layer 1 reading concat(bw, fw)."""
    from migration.checkpoint.stacks import build_keras_stack
    from migration.core.specs import CellSpec

    (stack,) = _manifest(out)["stacks"]
    path = os.path.join(out, stack["file"])
    specs = [{d: CellSpec.from_dict(layer[d]["spec"]) for d in ("fw", "bw")} for layer in stack["layers"]]
    model, cells = build_keras_stack(specs, stack["input_size"], "tampered")
    model.set_weights(_load(path).get_weights())
    fw, bw = cells["fw"][1], cells["bw"][1]
    if wrong == "fw_bw_swapped":
        w_fw, w_bw = fw.get_weights(), bw.get_weights()
        fw.set_weights(w_bw)
        bw.set_weights(w_fw)
    else:  # the input rows of layer 1: [fw of layer 0 | bw of layer 0] -> [bw | fw]
        for cell in (fw, bw):
            kernel, *rest = cell.get_weights()
            cell.set_weights([np.concatenate([kernel[4:], kernel[:4]], 0)] + rest)
    os.remove(path)
    model.save(path)


@pytest.mark.parametrize("wrong", ["fw_bw_swapped", "concat_order_swapped"])
def test_stack_chained_wrong_fails_verification(program, converted, tmp_path, wrong: str) -> None:
    from migration.checkpoint.verify import verify_conversion

    bad = tmp_path / "bad"
    shutil.copytree(converted, bad)
    _tamper(str(bad), wrong)
    report = verify_conversion(program[0], str(bad))
    failing = [c for c in report.checks if c.max_abs_diff > report.tolerance]
    assert not report.ok and failing
    assert {c.what for c in failing} == {"stack stack_bidirectional_rnn"}  # the per-layer blocks still pass
    assert {c.reference for c in failing} == {"original-graph"}
    assert max(c.max_abs_diff for c in failing) > 1e-3


def test_stack_without_meta_is_checked_against_a_rebuilt_stack(program, tmp_path) -> None:
    """No .meta: the stack is compared with a TF1 stack rebuilt by legacy_rnn (said so), which also catches a
    fw/bw swap. (forget_bias is then the default 1.0 unless --forget-bias: the reason the original graph is
    preferred.)"""
    from migration.checkpoint.convert import convert_checkpoint
    from migration.checkpoint.verify import verify_conversion

    src = tmp_path / "nometa"
    src.mkdir()
    for f in os.listdir(os.path.dirname(program[0])):
        if not f.endswith(".meta") and f.startswith("model.ckpt"):
            shutil.copy(os.path.join(os.path.dirname(program[0]), f), src / f)
    result = convert_checkpoint(str(src / "model.ckpt"), tmp_path / "out", forget_bias=0.5)
    v = result.verification
    assert result.ok and v["references"]["stack stack_bidirectional_rnn"] == "rebuilt"
    _tamper(str(tmp_path / "out"), "fw_bw_swapped")
    report = verify_conversion(str(src / "model.ckpt"), str(tmp_path / "out"))
    assert not report.ok and {c.reference for c in report.checks if c.max_abs_diff > 1e-3} == {"rebuilt"}


def _variant(root, kind: str):
    """The same two-layer stack as ``program`` written time-major or static (stack_bidirectional_rnn)."""
    x_np = np.random.default_rng(8).normal(0, 1, (4, 6, D)).astype(np.float32)
    with legacy_rnn.new_graph(12) as graph:
        cells = lambda: [legacy_rnn.basic_lstm_cell(4, forget_bias=0.5), legacy_rnn.gru_cell(3)]  # noqa: E731
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        if kind == "time_major":
            x = v1.placeholder(tf.float32, [None, None, D], name="x")
            out, s_fw, s_bw = legacy_rnn.stack_bidirectional_dynamic_rnn(cells(), cells(), x, sequence_length=lengths,
                                                                         time_major=True)
            feed_x, batch_major = np.transpose(x_np, (1, 0, 2)), lambda o: np.transpose(o, (1, 0, 2))
        else:
            x = v1.placeholder(tf.float32, [None, 6, D], name="x")
            outs, s_fw, s_bw = legacy_rnn.stack_bidirectional_rnn(cells(), cells(), tf.unstack(x, axis=1),
                                                                  sequence_length=lengths)
            out, feed_x, batch_major = tf.stack(outs, 1), x_np, lambda o: o
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 12)
            expected = sess.run(tf.nest.flatten((out, s_fw, s_bw)), {x: feed_x, lengths: LENGTHS})
            prefix = save(sess, root / "ckpt")
    expected[0] = batch_major(expected[0])
    return prefix, x_np, expected


@pytest.mark.parametrize("kind,reference", [("time_major", "original-graph"), ("static", "rebuilt")])
def test_stack_variants_convert_as_one_chained_block(tmp_path, kind: str, reference: str) -> None:
    """time_major: the original graph's loops take time-major inputs (fed and read back transposed); static
    (stack_bidirectional_rnn): no while loops, so a rebuilt stack is the reference and the notes say so."""
    prefix, x, expected = _variant(tmp_path, kind)
    out = tmp_path / "out"
    assert run_cli("convert", prefix, out, "--quiet", "--no-model") == 0
    m = _manifest(str(out))
    (stack,) = m["stacks"]
    v = m["verification"]
    assert v["ok"] and v["references"][f"stack {stack['name']}"] == reference
    if reference == "rebuilt":
        assert any(n.startswith(f"stack {stack['name']}:") and "rebuilt" in n for n in v["notes"])
    got = _load(os.path.join(str(out), stack["file"]))([x, LENGTHS], training=False)
    assert max(float(np.max(np.abs(np.asarray(g) - e))) for g, e in zip(got, expected)) <= 1e-5


def test_export_of_the_stack_model_is_refused_with_the_remedy(converted, tmp_path, capsys) -> None:
    (stack,) = _manifest(converted)["stacks"]
    target = tmp_path / "tf1" / "model.ckpt"
    assert run_cli("export", os.path.join(converted, stack["file"]), target) == 2 and not target.parent.exists()
    assert "export the layers' block models" in capsys.readouterr().err
