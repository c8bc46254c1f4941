"""AttentionCellWrapper through `convert` (migration.checkpoint.wrapped): a real program (dynamic_rnn over
AttentionCellWrapper(BasicLSTMCell(forget_bias=0.5)), a sequence_length placeholder, a dense head) saved by Saver
with its .meta. attn_length comes from the .meta; the block model and the whole model are verified against the
ORIGINAL graph; the independent reference is the program's own session run. Negative control: the query kernel's
rows left in TF1's state order (c, h) fail verification. A static_rnn program is checked against its unrolled steps."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import tf, v1

from conftest import run_cli, save
from tests.checkpoint.tf1_values import FAST

L, A, V, I, D = 3, 3, 2, 5, 4
LENGTHS = np.array([6, 1, 4, 3], np.int32)


def _program(root, static: bool = False, cell=None):
    """(prefix, x, the program's flat (outputs, state) on x and LENGTHS); ``cell``: a factory of the wrapped cell
    (default ``BasicLSTMCell(4, forget_bias=0.5)``)."""
    x_np = np.random.default_rng(9).normal(0, 1, (4, 6, D)).astype(np.float32)
    with legacy_rnn.new_graph(13) as graph:
        x = v1.placeholder(tf.float32, [None, 6 if static else None, D], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        inner = cell() if cell is not None else legacy_rnn.basic_lstm_cell(4, forget_bias=0.5)
        cell = legacy_rnn.attention_cell_wrapper(inner, L, attn_size=A, attn_vec_size=V, input_size=I)
        if static:
            outs, state = legacy_rnn.static_rnn(cell, tf.unstack(x, axis=1), sequence_length=lengths)
            out = tf.stack(outs, 1)
        else:
            out, state = legacy_rnn.dynamic_rnn(cell, x, sequence_length=lengths)
        v1.layers.dense(out, 2, name="head")
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            rng = np.random.default_rng(13)  # the attention weights larger: a softmax far from uniform
            sess.run([v.assign((rng.uniform(-1.2, 1.2, v.shape) / np.sqrt(v.shape[0])
                                * (4.0 if "/attention/" in v.op.name else 1.0)).astype(np.float32))
                      for v in v1.trainable_variables()])
            expected = sess.run(tf.nest.flatten((out, state)), {x: x_np, lengths: LENGTHS})
            prefix = save(sess, root / "ckpt")
    return prefix, x_np, expected


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("attention")
    prefix, x, expected = _program(root)
    out = root / "out"
    assert run_cli("convert", prefix, out, "--quiet") == 0
    return prefix, x, expected, str(out)


def _manifest(out: str) -> dict:
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


def _load(path: str):
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    return keras.models.load_model(path, compile=False, safe_mode=True)


def _diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def test_attention_block_converts_and_verifies_against_the_original_graph(converted) -> None:
    prefix, x, expected, out = converted
    m = _manifest(out)
    (block,) = m["blocks"]
    assert block["wrapper"]["attn_length"] == L  # from the .meta: no checkpoint stores it
    assert (block["wrapper"]["attn_size"], block["wrapper"]["attn_vec_size"], block["wrapper"]["input_size"],
            block["input_size"]) == (A, V, I, D)
    assert block["cells"][0]["spec"]["forget_bias"] == 0.5
    assert block["outputs"] == ["outputs", "state/c", "state/h", "state/attns", "state/window"]
    assert not m["unrecognized"] and all("attention_cell_wrapper" in v["destination"] or k.startswith("head/")
                                         for k, v in m["variables"].items())
    v = m["verification"]
    assert v["ok"] and v["references"] == {f"block {block['name']}": "original-graph", "whole model": "original-graph"}
    got = _load(os.path.join(out, block["file"]))([x, LENGTHS], training=False)
    assert len(got) == len(expected) == 5 and max(map(_diff, got, expected)) <= 1e-5
    assert not np.asarray(got[0])[1, 1:].any()


def test_query_rows_in_tf1_order_fail_verification(converted, tmp_path) -> None:
    """Tamper the converted block: the attention query kernel's row blocks back in TF1's (c, h) order."""
    from migration.checkpoint.verify import verify_conversion

    prefix, _, _, out = converted
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    (block,) = _manifest(str(bad))["blocks"]
    path = str(bad / block["file"])
    model = _load(path)
    (cell,) = [layer.cell for layer in model.layers if type(getattr(layer, "cell", None)).__name__ == "AttentionCell"]
    kernel, bias = cell.query.get_weights()
    cell.query.set_weights([np.concatenate([kernel[4:], kernel[:4]], 0), bias])  # h, c -> c, h
    os.remove(path)
    model.save(path)
    report = verify_conversion(prefix, str(bad))
    failing = [c for c in report.checks if c.max_abs_diff > report.tolerance]
    assert not report.ok and {c.what for c in failing} == {f"block {block['name']}"}
    assert {c.reference for c in failing} == {"original-graph"} and max(c.max_abs_diff for c in failing) > 1e-3


def test_static_attention_program_is_checked_against_the_original_graph(tmp_path) -> None:
    """static_rnn: no while loop, but the unrolled steps of the original graph are the reference
    (migration/graph/static_blocks.py). Here forget_bias of the wrapped cell is not found in the static graph (the
    manifest says "default"): the default 1.0 is wrong, and the original-graph check catches it (a rebuilt graph would
    share the misreading and pass); with --forget-bias 0.5 (the remedy the error gives) the block equals the program."""
    prefix, x, expected = _program(tmp_path, static=True)
    out = tmp_path / "out0"
    assert run_cli("convert", prefix, out, "--quiet", "--no-model") == 1 and not out.exists()
    out = tmp_path / "out1"
    assert run_cli("convert", prefix, out, "--quiet", "--no-model", "--forget-bias", "0.5") == 0
    m = _manifest(str(out))
    (block,) = m["blocks"]
    assert m["verification"]["ok"] and m["verification"]["references"][f"block {block['name']}"] == "original-graph"
    assert block["cells"][0]["hyper_sources"]["forget_bias"] == "--forget-bias"
    got = _load(os.path.join(str(out), block["file"]))([x, LENGTHS], training=False)
    assert max(map(_diff, got, expected)) <= 1e-5


def test_export_writes_the_wrapper_back_under_its_tf1_names(converted, tmp_path) -> None:
    """Keras -> TF1: `export` of the converted block writes every variable of the original checkpoint (the wrapper's
    eight and the cell's) under its name, with its value (the query rows swapped back to c, h); nothing dropped."""
    prefix, _, _, out = converted
    (block,) = _manifest(out)["blocks"]
    target = tmp_path / "tf1" / "model.ckpt"
    assert run_cli("export", os.path.join(out, block["file"]), target, "--scope", "rnn", "--forget-bias", "0.5") == 0
    original, back = tf.train.load_checkpoint(prefix), tf.train.load_checkpoint(str(target))
    keys = sorted(k for k in original.get_variable_to_shape_map() if k.startswith("rnn/"))
    assert sorted(back.get_variable_to_shape_map()) == keys and len(keys) == 10
    assert max(_diff(original.get_tensor(k), back.get_tensor(k)) for k in keys) <= 1e-6


def test_inspect_shows_the_wrapper(converted, capsys) -> None:
    prefix = converted[0]
    assert run_cli("inspect", prefix) == 0
    assert f"in AttentionCellWrapper: attn_length={L} (from the .meta), attn_size={A}, attn_vec_size={V}, " \
        f"input_size={I}" in capsys.readouterr().out


def test_use_ema_swaps_the_wrapper_weights_too_and_with_optimizer_is_refused(tmp_path, capsys) -> None:
    """A trained program (Adam + ExponentialMovingAverage): --use-ema converts the shadows of the wrapper's eight
    variables as well as the cell's (the original graph, fed the shadows, verifies it); --with-optimizer refuses
    (the wrapper block's slots are not converted) instead of dropping them silently."""
    rng = np.random.default_rng(14)
    with legacy_rnn.new_graph(14) as graph:
        x = v1.placeholder(tf.float32, [None, None, D], name="x")
        y = v1.placeholder(tf.float32, [None, None, 2], name="y")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        cell = legacy_rnn.attention_cell_wrapper(legacy_rnn.basic_lstm_cell(4), L, attn_size=A, attn_vec_size=V,
                                                 input_size=I)
        out, _ = legacy_rnn.dynamic_rnn(cell, x, sequence_length=lengths)
        loss = tf.reduce_mean(tf.square(v1.layers.dense(out, 2, name="head") - y))
        train = v1.train.AdamOptimizer(0.05).minimize(loss)
        with tf.control_dependencies([train]):
            step = v1.train.ExponentialMovingAverage(0.5).apply(v1.trainable_variables())
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            for _ in range(3):
                sess.run(step, {x: rng.normal(size=(2, 5, D)), y: rng.normal(size=(2, 5, 2)), lengths: [5, 3]})
            prefix = save(sess, tmp_path / "ckpt")
    out_dir = tmp_path / "ema"
    assert run_cli("convert", prefix, out_dir, "--quiet", "--use-ema", "--no-model") == 0
    m = _manifest(str(out_dir))
    (block,) = m["blocks"]
    assert all(k.endswith("/ExponentialMovingAverage") for k in block["wrapper"]["variables"].values())
    assert m["verification"]["ok"] and m["verification"]["references"][f"block {block['name']}"] == "original-graph"
    assert run_cli("convert", prefix, tmp_path / "opt", "--quiet", "--with-optimizer") == 2
    assert "AttentionCellWrapper block" in capsys.readouterr().err and not (tmp_path / "opt").exists()
