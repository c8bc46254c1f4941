"""Checkpoints of the tf.contrib.rnn block/fused cells: recognized, converted, and equal to the original graph.

One real graph (built by ``legacy_rnn.contrib`` on TensorFlow's own kernels) holds four blocks and an Adam optimizer
(so the registered LSTMBlockCell/GRUBlockCell gradients really train): ``lstmblock`` (LSTMBlockCell, peepholes,
forget_bias 0.5, cell_clip 0.4), ``grublock`` (MultiRNNCell of two GRUBlockCell, v1 names w_ru/b_ru/w_c/b_c),
``grublockv2`` (bidirectional GRUBlockCellV2), ``layernorm`` (LayerNormBasicLSTMCell, forget_bias 0.5) and ``fused`` (LSTMBlockFusedCell, time-major). Every variable is
randomised, the graph's outputs are recorded, and a ``tf.compat.v1.train.Saver`` checkpoint is written.

The hyper-parameters the checkpoint does not store (forget_bias, cell_clip) are given here as the program used them;
``test_ckpt_families.py`` proves that ``rnn-migrate convert`` reads them from the ``.meta`` itself and verifies every
family against the original graph.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import legacy_rnn
import modern_rnn
from conftest import B, T, randomize, save
from legacy_rnn import tf, v1
from migration import converters
from migration.checkpoint import inspect_checkpoint
from tests.checkpoint.tf1_values import FAST

D = 3
LENGTHS = np.array([6, 4, 1, 3], np.int32)
HYPER = {"lstmblock": {"forget_bias": 0.5, "cell_clip": 0.4}, "fused": {"forget_bias": 0.0},
         "layernorm": {"forget_bias": 0.5}}


@pytest.fixture(scope="module")
def contrib_ckpt(tmp_path_factory):
    rng = np.random.default_rng(7)
    x_np = rng.normal(0, 1, (B, T, D)).astype(np.float32)
    with legacy_rnn.new_graph(7) as graph:
        x = v1.placeholder(tf.float32, [B, T, D], name="x")
        lengths = tf.constant(LENGTHS)
        outs = {}
        with v1.variable_scope("lstmblock"):
            cell = legacy_rnn.lstm_block_cell(5, forget_bias=0.5, cell_clip=0.4, use_peephole=True)
            outs["lstmblock"] = legacy_rnn.dynamic_rnn(cell, x, sequence_length=lengths)[0]
        with v1.variable_scope("grublock"):
            cell = legacy_rnn.multi_rnn_cell([legacy_rnn.gru_block_cell(4), legacy_rnn.gru_block_cell(3)])
            outs["grublock"] = legacy_rnn.dynamic_rnn(cell, x, sequence_length=lengths)[0]
        with v1.variable_scope("grublockv2"):
            (fw, bw), _ = legacy_rnn.bidirectional_dynamic_rnn(
                legacy_rnn.gru_block_cell_v2(4), legacy_rnn.gru_block_cell_v2(4), x, sequence_length=lengths)
            outs["grublockv2"] = tf.concat([fw, bw], -1)
        with v1.variable_scope("layernorm"):
            cell = legacy_rnn.layer_norm_basic_lstm_cell(4, forget_bias=0.5)
            outs["layernorm"] = legacy_rnn.dynamic_rnn(cell, x, sequence_length=lengths)[0]
        with v1.variable_scope("fused"):
            cell = legacy_rnn.lstm_block_fused_cell(4, forget_bias=0.0)
            h, _ = cell(tf.transpose(x, [1, 0, 2]), dtype=tf.float32, sequence_length=lengths)
            outs["fused"] = tf.transpose(h, [1, 0, 2])
        loss = sum(tf.reduce_sum(o ** 2) for o in outs.values())
        v1.train.AdamOptimizer(0.01).minimize(loss)
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 7)
            ref = sess.run(outs, {x: x_np})
            prefix = save(sess, tmp_path_factory.mktemp("contrib"))
    return prefix, x_np, ref


def _keras_outputs(block, x_np, prefix: str, hyper: dict, lengths=LENGTHS):
    """The block rebuilt from modern_rnn cells, its weights converted from the checkpoint keys it was recognized by."""
    cells = {d: [] for d in block.directions}
    weights = {}
    reader = tf.train.load_checkpoint(prefix)
    for d, infos in block.directions.items():
        for info in infos:
            spec = dataclasses.replace(info.spec, **hyper)
            arrays = {name: reader.get_tensor(key) for name, key in info.variables.items()}
            cells[d].append(modern_rnn.cell_from_spec(spec))
            weights[(d, len(cells[d]) - 1)] = converters.cell_to_keras(spec, arrays, info.input_size)
    top = {d: c[0] if len(c) == 1 else modern_rnn.multi_rnn_cell(c) for d, c in cells.items()}
    lengths = None if lengths is None else tf.constant(lengths)

    def run():
        if block.bidirectional:
            (fw, bw), _ = modern_rnn.bidirectional_dynamic_rnn(top["fw"], top["bw"], x_np, sequence_length=lengths)
            return tf.concat([fw, bw], -1)
        return modern_rnn.dynamic_rnn(top[""], x_np, sequence_length=lengths)[0]

    run()
    for (d, k), w in weights.items():
        cells[d][k].set_weights(w)
    return run().numpy()


def test_contrib_blocks_recognized(contrib_ckpt):
    insp = inspect_checkpoint(contrib_ckpt[0])
    assert not insp.unrecognized and insp.convertible
    blocks = {b.scope.split("/")[0]: b for b in insp.blocks}
    assert sorted(blocks) == ["fused", "grublock", "grublockv2", "layernorm", "lstmblock"]
    norm = blocks["layernorm"].directions[""][0]
    assert (norm.spec.kind, norm.spec.units, norm.input_size) == ("layer_norm_lstm", 4, D)
    assert norm.variables["state/beta"] == "layernorm/rnn/layer_norm_basic_lstm_cell/state/beta"
    lstm = blocks["lstmblock"].directions[""][0]
    assert (lstm.spec.kind, lstm.spec.units, lstm.input_size, lstm.spec.use_peepholes) == ("lstm", 5, D, True)
    gru = blocks["grublock"].directions[""]
    assert [(c.spec.kind, c.spec.units, c.input_size) for c in gru] == [("gru", 4, D), ("gru", 3, 4)]
    assert gru[0].variables["gates/kernel"] == "grublock/rnn/multi_rnn_cell/cell_0/gru_cell/w_ru"
    assert gru[1].variables["candidate/bias"] == "grublock/rnn/multi_rnn_cell/cell_1/gru_cell/b_c"
    assert blocks["grublockv2"].bidirectional and blocks["grublockv2"].scope == "grublockv2/bidirectional_rnn"
    fused = blocks["fused"].directions[""][0]
    assert (fused.path, fused.spec.kind, fused.spec.units) == ("fused/lstm_fused_cell", "lstm", 4)
    (opt,) = insp.optimizers
    assert opt.kind == "adam" and "grublock/rnn/multi_rnn_cell/cell_0/gru_cell/w_ru" in opt.slots


@pytest.mark.parametrize("scope", ["lstmblock", "grublock", "grublockv2", "fused", "layernorm"])
def test_contrib_block_converts_to_keras_equal_to_original_graph(contrib_ckpt, scope):
    prefix, x_np, ref = contrib_ckpt
    (block,) = [b for b in inspect_checkpoint(prefix).blocks if b.scope.split("/")[0] == scope]
    out = _keras_outputs(block, x_np, prefix, HYPER.get(scope, {}))
    assert float(np.max(np.abs(out - ref[scope]))) < 1e-5
    if scope in HYPER:  # negative control: the op-attribute hyper-parameters matter (defaults are caught)
        wrong = {"forget_bias": 1.0, "cell_clip": None} if scope != "layernorm" else {"forget_bias": 1.0}
        assert float(np.max(np.abs(_keras_outputs(block, x_np, prefix, wrong) - ref[scope]))) > 1e-3


# --- cuDNN: what a CudnnLSTM/CudnnGRU program saved (canonical variables + the opaque buffer) -------------------

def _cudnn_ckpt(directory, mode: str, with_canonical: bool, seed: int = 5):
    """The canonical variables TF's CudnnOpaqueParamsSaveable wrote, built by legacy_rnn.cudnn's cells under
    ``cudnn_{mode}/rnn/multi_rnn_cell/cell_k/``, beside ``cudnn_{mode}/opaque_kernel`` holding the same parameters
    (joined from the canonical arrays by the documented layout)."""
    from migration import cudnn_converters as cc

    rng = np.random.default_rng(seed)
    x_np = rng.normal(0, 1, (B, T, D)).astype(np.float32)
    make = legacy_rnn.cudnn_compatible_lstm_cell if mode == "lstm" else legacy_rnn.cudnn_compatible_gru_cell
    with legacy_rnn.new_graph(seed) as graph:
        x = v1.placeholder(tf.float32, [B, T, D], name="x")
        with v1.variable_scope(f"cudnn_{mode}"):
            out = legacy_rnn.dynamic_rnn(legacy_rnn.multi_rnn_cell([make(4), make(4)]), x)[0] if with_canonical else x
            size = cc.opaque_size(mode, 2, 4, D)
            opaque = v1.get_variable("opaque_kernel", [size])
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, seed)
            ref = sess.run(out, {x: x_np})
            if with_canonical:  # the buffer holds the same parameters as the canonical variables
                cells = {}
                cell_dir = f"cudnn_compatible_{mode}_cell"
                for var in [v for v in v1.trainable_variables() if cell_dir in v.op.name]:
                    path, name = var.op.name.split(cell_dir + "/", 1)
                    cells.setdefault(path + cell_dir, {})[name] = sess.run(var)
                canonical = {}
                for k in range(2):
                    arrays = cells[f"cudnn_{mode}/rnn/multi_rnn_cell/cell_{k}/cudnn_compatible_{mode}_cell"]
                    canonical[(k, "")] = _tf1_to_canonical(mode, arrays, D if k == 0 else 4)
                opaque.load(cc.join_opaque(canonical, mode), sess)
            prefix = save(sess, directory)
    return prefix, x_np, ref


def _tf1_to_canonical(mode: str, arrays: dict, d_in: int) -> dict:
    """Canonical per-gate matrices from CudnnCompatible arrays (biases split evenly, as TF's saveable restored)."""
    if mode == "lstm":
        k, b = arrays["kernel"], arrays["bias"]
        blocks = dict(zip("icfo", np.split(k, 4, 1)))
        biases = dict(zip("icfo", np.split(b, 4)))
        return {g: {"W": blocks[g][:d_in].T, "R": blocks[g][d_in:].T, "b_W": biases[g] / 2, "b_R": biases[g] / 2}
                for g in "ifco"}
    g, gb = arrays["gates/kernel"], arrays["gates/bias"]
    out = {n: {"W": blk[:d_in].T, "R": blk[d_in:].T, "b_W": bb / 2, "b_R": bb / 2}
           for n, blk, bb in zip("ru", np.split(g, 2, 1), np.split(gb, 2))}
    out["h"] = {"W": arrays["candidate/input_projection/kernel"].T, "R": arrays["candidate/hidden_projection/kernel"].T,
                "b_W": arrays["candidate/input_projection/bias"], "b_R": arrays["candidate/hidden_projection/bias"]}
    return out


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_cudnn_checkpoint_recognized_and_converted(tmp_path, mode):
    prefix, x_np, ref = _cudnn_ckpt(tmp_path / "with", mode, with_canonical=True)
    insp = inspect_checkpoint(prefix)
    assert not insp.unrecognized and insp.convertible
    (block,) = insp.blocks
    kinds = [c.spec.kind for c in block.directions[""]]
    assert kinds == (["lstm", "lstm"] if mode == "lstm" else ["cudnn_compatible_gru"] * 2)
    if mode == "lstm":
        assert [c.spec.forget_bias for c in block.directions[""]] == [0.0, 0.0]  # cuDNN has none (default 1 is wrong)
    assert insp.consumed[f"cudnn_{mode}/opaque_kernel"].startswith("cuDNN opaque buffer")
    out = _keras_outputs(block, x_np, prefix, {}, lengths=None)
    assert float(np.max(np.abs(out - ref))) < 1e-5
    if mode == "lstm":  # the TF1 LSTM default forget_bias=1.0 would be wrong here
        wrong = _keras_outputs(block, x_np, prefix, {"forget_bias": 1.0}, lengths=None)
        assert float(np.max(np.abs(wrong - ref))) > 1e-3
    prefix_alone, _, _ = _cudnn_ckpt(tmp_path / "alone", mode, with_canonical=False)
    alone = inspect_checkpoint(prefix_alone)
    (u,) = alone.unrecognized
    assert u.rnn_like and "opaque_to_tf1" in u.reason and not alone.convertible


def test_wrapper_variables_recognized(tmp_path):
    """OutputProjectionWrapper / InputProjectionWrapper / EmbeddingWrapper: their own variables are a dense head, an
    input projection and an embedding; the wrapped cells are blocks under the wrapper's scope."""
    with legacy_rnn.new_graph(9) as graph:
        x = v1.placeholder(tf.float32, [B, T, D])
        legacy_rnn.dynamic_rnn(legacy_rnn.output_projection_wrapper(legacy_rnn.basic_lstm_cell(4), 2), x, scope="a")
        legacy_rnn.dynamic_rnn(legacy_rnn.input_projection_wrapper(legacy_rnn.gru_cell(4), 3), x, scope="b")
        ids = v1.placeholder(tf.float32, [B, T, 1])
        legacy_rnn.dynamic_rnn(legacy_rnn.embedding_wrapper(legacy_rnn.gru_cell(4), 7, 3), ids, scope="c")
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            prefix = save(sess, tmp_path)
    insp = inspect_checkpoint(prefix)
    assert not insp.unrecognized and insp.convertible
    assert sorted(b.scope for b in insp.blocks) == ["a/output_projection_wrapper", "b/input_projection_wrapper",
                                                    "c/embedding_wrapper"]
    assert {(d.kernel, d.shape) for d in insp.dense} == {("a/output_projection_wrapper/kernel", (4, 2)),
                                                        ("b/input_projection_wrapper/kernel", (3, 3))}
    assert [(e.name, e.shape) for e in insp.embeddings] == [("c/embedding_wrapper/embedding", (7, 3))]
    assert "every step's output" in insp.consumed["a/output_projection_wrapper/kernel"]


def test_stack_bidirectional_layers_recognized_in_chain_order(tmp_path):
    with legacy_rnn.new_graph(10) as graph:
        x = v1.placeholder(tf.float32, [B, T, D])
        cells = lambda: [legacy_rnn.basic_lstm_cell(4), legacy_rnn.gru_cell(3)]  # noqa: E731
        legacy_rnn.stack_bidirectional_dynamic_rnn(cells(), cells(), x, sequence_length=tf.constant(LENGTHS))
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            prefix = save(sess, tmp_path)
    insp = inspect_checkpoint(prefix)
    assert not insp.unrecognized and insp.convertible
    layers = sorted(insp.blocks, key=lambda b: b.scope)
    assert [b.scope for b in layers] == ["stack_bidirectional_rnn/cell_0/bidirectional_rnn",
                                         "stack_bidirectional_rnn/cell_1/bidirectional_rnn"]
    assert [b.input_size for b in layers] == [D, 8] and all(b.bidirectional for b in layers)
    (note,) = [n for n in insp.notes if "stack_bidirectional" in n]
    assert "layer k reads concat(fw, bw)" in note and note.index("cell_0") < note.index("cell_1")
