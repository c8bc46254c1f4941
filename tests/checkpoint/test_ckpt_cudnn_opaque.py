"""A checkpoint holding only a cuDNN opaque buffer (``CudnnLSTM``/``CudnnGRU`` saved without canonical variables).

The user's program is a ``CudnnRNN`` op reading ``cudnn/opaque_kernel`` with a zero initial state of constant shape
``[num_layers, batch, num_units]``, as ``tf.contrib.cudnn_rnn`` built it; it cannot run here (no CPU kernel). The
buffer is joined from the canonical weights of ``CudnnCompatible*Cell`` layers with random values, whose TF1 graph
(TensorFlow's own kernels, run here) recorded the reference outputs. ``convert`` must read the configuration from
the ``.meta``, convert the buffer, and say plainly that only the weaker rebuilt check was possible.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import legacy_rnn
from conftest import randomize, run_cli
from legacy_rnn import tf, v1
from migration import cudnn_converters as cc
from tests.checkpoint.tf1_values import FAST

B, T, D, U, LAYERS = 3, 5, 3, 4, 2
LENGTHS = np.array([5, 2, 4], np.int32)


def _canonical(mode: str, arrays: dict, d_in: int) -> dict:
    """cuDNN's per-gate matrices from one CudnnCompatible cell's arrays (summed biases split in halves)."""
    def halves(b):
        return b / 2, b / 2

    if mode == "lstm":
        kernel, bias = arrays["kernel"], arrays["bias"]
        blocks, biases = dict(zip("icfo", np.split(kernel, 4, 1))), dict(zip("icfo", np.split(bias, 4)))
        return {g: dict(zip(("W", "R", "b_W", "b_R"), (blocks[g][:d_in].T, blocks[g][d_in:].T, *halves(biases[g]))))
                for g in "ifco"}
    out = {g: dict(zip(("W", "R", "b_W", "b_R"), (k[:d_in].T, k[d_in:].T, *halves(b))))
           for g, k, b in zip("ru", np.split(arrays["gates/kernel"], 2, 1), np.split(arrays["gates/bias"], 2))}
    out["h"] = {"W": arrays["candidate/input_projection/kernel"].T, "R": arrays["candidate/hidden_projection/kernel"].T,
                "b_W": arrays["candidate/input_projection/bias"], "b_R": arrays["candidate/hidden_projection/bias"]}
    return out


def _build(directory, mode: str, seed: int = 21):
    rng = np.random.default_rng(seed)
    x_np = rng.normal(0, 1, (B, T, D)).astype(np.float32)
    make = legacy_rnn.cudnn_compatible_lstm_cell if mode == "lstm" else legacy_rnn.cudnn_compatible_gru_cell
    with legacy_rnn.new_graph(seed) as graph:  # the reference: canonical cells on TF's kernels
        x = v1.placeholder(tf.float32, [None, T, D])
        cells = [make(U) for _ in range(LAYERS)]
        result = legacy_rnn.dynamic_rnn(legacy_rnn.multi_rnn_cell(cells), x, sequence_length=LENGTHS, dtype=tf.float32)
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, seed)
            ref = sess.run(tf.nest.flatten(result), {x: x_np})
            canonical = {}
            for k in range(LAYERS):
                prefix = f"rnn/multi_rnn_cell/cell_{k}/cudnn_compatible_{mode}_cell/"
                arrays = {v.op.name[len(prefix):]: sess.run(v) for v in v1.global_variables()
                          if v.op.name.startswith(prefix)}
                canonical[(k, "")] = _canonical(mode, arrays, D if k == 0 else U)
    buffer = cc.join_opaque(canonical, mode)
    os.makedirs(directory, exist_ok=True)
    with legacy_rnn.new_graph(seed) as graph:  # the user's program: one CudnnRNN op on the opaque buffer
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        with v1.variable_scope("cudnn"):
            opaque = v1.get_variable("opaque_kernel", [buffer.size])
        saver = v1.train.Saver()
        with v1.Session(graph=graph, config=FAST) as sess:  # a session cannot run a graph holding CudnnRNN here: save first
            sess.run(opaque.initializer)
            opaque.load(buffer, sess)
            prefix = saver.save(sess, os.path.join(str(directory), "model.ckpt"), write_meta_graph=False)
        x_tbd = tf.transpose(x, [1, 0, 2])
        h0 = tf.zeros(tf.stack([LAYERS, tf.shape(x_tbd)[1], U]))
        outputs = tf.raw_ops.CudnnRNN(input=x_tbd, input_h=h0, input_c=h0, params=opaque, rnn_mode=mode,
                                      input_mode="linear_input", direction="unidirectional", is_training=False)[0]
        tf.identity(tf.transpose(outputs, [1, 0, 2]), name="outputs")
        saver.export_meta_graph(prefix + ".meta")  # the whole program's graph, as Saver.save would have written it
    return prefix, x_np, ref


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_opaque_only_checkpoint_converts_with_the_weaker_check_said_plainly(tmp_path, capsys, mode):
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    prefix, x_np, ref = _build(tmp_path / "ckpt", mode)
    capsys.readouterr()
    assert run_cli("convert", prefix, tmp_path / "out") == 0
    text = capsys.readouterr().out
    assert "verified against the original graph" not in text
    assert "rebuilt" in text and "weaker" in text and "no CPU kernel" in text
    with open(tmp_path / "out" / "manifest.json") as f:
        m = json.load(f)
    v = m["verification"]
    assert v["ok"] and v["reference"] == "rebuilt" and set(v["references"].values()) == {"rebuilt"}
    assert any("CudnnRNN" in n and "no CPU kernel" in n for n in v["notes"])
    assert not any(n.startswith("no .meta") for n in v["notes"])  # the .meta is there; it cannot run
    assert m["checkpoint"] == prefix and not m["unrecognized"]
    (block,) = m["blocks"]
    kinds = [c["spec"]["kind"] for c in block["cells"]]
    assert kinds == (["lstm"] * LAYERS if mode == "lstm" else ["cudnn_compatible_gru"] * LAYERS)
    assert [c["input_size"] for c in block["cells"]] == [D, U]
    if mode == "lstm":
        assert all(c["spec"]["forget_bias"] == 0.0 for c in block["cells"])
        assert not [line for line in text.splitlines() if line.strip().startswith("assumed")]
    # independent reference: the canonical cells on TF's kernels, from which the buffer was joined
    model = keras.models.load_model(str(tmp_path / "out" / block["file"]), compile=False, safe_mode=True)
    got = [np.asarray(t) for t in model([x_np, LENGTHS], training=False)]
    assert len(got) == len(ref)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, atol=1e-5)
    capsys.readouterr()  # `rnn-migrate verify` later: the same weaker check, said the same way
    assert run_cli("verify", prefix, tmp_path / "out") == 0
    text = capsys.readouterr().out
    assert "weaker" in text and "no CPU kernel" in text and "verified against the original graph" not in text


def test_opaque_buffer_read_as_another_configuration_is_refused(tmp_path):
    """Negative control: a .meta whose CudnnRNN op states another num_units cannot explain the buffer's size."""
    from migration.checkpoint.cudnn_opaque import opaque_layouts
    from migration.checkpoint.meta import load_meta
    from migration.checkpoint.reader import CheckpointReader
    from migration.core.errors import MigrationError

    prefix, _, _ = _build(tmp_path / "ckpt", "lstm")
    reader = CheckpointReader(prefix)
    meta = load_meta(reader.prefix)
    (layout,) = opaque_layouts(meta, reader.variables, ["cudnn/opaque_kernel"])
    assert (layout.mode, layout.num_layers, layout.num_units, layout.input_size, layout.bidirectional) == \
        ("lstm", LAYERS, U, D, False)
    from migration.checkpoint.recognize import recognize

    (u,) = recognize(reader.prefix, reader.variables, meta).unrecognized  # inspect says what convert will do
    assert "lstm, 2 layer(s) of 4 units, input 3" in u.reason and "weaker rebuilt check" in u.reason
    bigger = dict(reader.variables)
    info = bigger["cudnn/opaque_kernel"]
    bigger["cudnn/opaque_kernel"] = type(info)(info.name, (info.shape[0] + 1,), info.dtype)
    with pytest.raises(MigrationError, match="cannot have a buffer"):
        opaque_layouts(meta, bigger, ["cudnn/opaque_kernel"])
