"""Checkpoints of the tf.contrib.rnn block/fused cells: recognized, converted, and equal to the original graph.

One real graph (built by ``legacy_rnn.contrib`` on TensorFlow's own kernels) holds four blocks and an Adam optimizer
(so the registered LSTMBlockCell/GRUBlockCell gradients really train): ``lstmblock`` (LSTMBlockCell, peepholes,
forget_bias 0.5, cell_clip 0.4), ``grublock`` (MultiRNNCell of two GRUBlockCell, v1 names w_ru/b_ru/w_c/b_c),
``grublockv2`` (bidirectional GRUBlockCellV2) and ``fused`` (LSTMBlockFusedCell, time-major). Every variable is
randomised, the graph's outputs are recorded, and a ``tf.compat.v1.train.Saver`` checkpoint is written.

The hyper-parameters the checkpoint does not store (forget_bias, cell_clip) are given here as the program used them;
reading them from the ``LSTMBlockCell``/``BlockLSTM`` op attributes of the ``.meta`` is ``migration.checkpoint.meta``'s
job (the ground-truth verification work).
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

D = 3
LENGTHS = np.array([6, 4, 1, 3], np.int32)
HYPER = {"lstmblock": {"forget_bias": 0.5, "cell_clip": 0.4}, "fused": {"forget_bias": 0.0}}


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
        with v1.variable_scope("fused"):
            cell = legacy_rnn.lstm_block_fused_cell(4, forget_bias=0.0)
            h, _ = cell(tf.transpose(x, [1, 0, 2]), dtype=tf.float32, sequence_length=lengths)
            outs["fused"] = tf.transpose(h, [1, 0, 2])
        loss = sum(tf.reduce_sum(o ** 2) for o in outs.values())
        v1.train.AdamOptimizer(0.01).minimize(loss)
        with v1.Session(graph=graph) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 7)
            ref = sess.run(outs, {x: x_np})
            prefix = save(sess, tmp_path_factory.mktemp("contrib"))
    return prefix, x_np, ref


def _keras_outputs(block, x_np, prefix: str, hyper: dict):
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
    lengths = tf.constant(LENGTHS)

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
    assert sorted(blocks) == ["fused", "grublock", "grublockv2", "lstmblock"]
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


@pytest.mark.parametrize("scope", ["lstmblock", "grublock", "grublockv2", "fused"])
def test_contrib_block_converts_to_keras_equal_to_original_graph(contrib_ckpt, scope):
    prefix, x_np, ref = contrib_ckpt
    (block,) = [b for b in inspect_checkpoint(prefix).blocks if b.scope.split("/")[0] == scope]
    out = _keras_outputs(block, x_np, prefix, HYPER.get(scope, {}))
    assert float(np.max(np.abs(out - ref[scope]))) < 1e-5
    if scope in HYPER:  # negative control: the op-attribute hyper-parameters matter (defaults are caught)
        wrong = {"forget_bias": 1.0, "cell_clip": None}
        assert float(np.max(np.abs(_keras_outputs(block, x_np, prefix, wrong) - ref[scope]))) > 1e-3
