"""inspect: the recognized blocks, embeddings, heads and optimizer state of real checkpoints; every variable once."""
from __future__ import annotations

import json

import pytest

from conftest import copy_checkpoint, run_cli
from migration.checkpoint import inspect_checkpoint


def _once(insp) -> None:
    rejected = [u.name for u in insp.unrecognized]
    assert sorted(list(insp.consumed) + rejected) == sorted(insp.variables)
    assert not set(insp.consumed) & set(rejected)


def test_seed004(ckpts):
    insp = inspect_checkpoint(ckpts["seed004"])
    _once(insp)
    (block,) = insp.blocks
    cell = block.directions[""][0]
    assert (block.scope, cell.spec.kind, cell.spec.units, cell.input_size) == ("rnn", "basic_lstm", 6, 5)
    assert cell.spec.forget_bias == 1.0 and cell.hyper_sources["forget_bias"] == "meta"
    assert [(e.name, e.source) for e in insp.embeddings] == [("embedding", "variable")]
    assert [(d.kernel, d.bias, d.shape) for d in insp.dense] == [("Variable", "Variable_1", (6, 2))]
    (opt,) = insp.optimizers
    assert opt.kind == "adam" and set(opt.counters) == {"beta1_power", "beta2_power"} and len(opt.slots) == 5
    assert opt.slots["rnn/basic_lstm_cell/kernel"] == {"m": "rnn/basic_lstm_cell/kernel/Adam",
                                                       "v": "rnn/basic_lstm_cell/kernel/Adam_1"}
    assert insp.global_step == "global_step" and not insp.unrecognized and insp.convertible


def test_seed004_glove_constant(ckpts):
    insp = inspect_checkpoint(ckpts["seed004_glove"])
    _once(insp)
    (emb,) = insp.embeddings
    assert emb.source == "graph_constant" and emb.shape == (20, 5)
    assert [(u.name, u.shape) for u in insp.unrecognized] == [("Variable", (4, 6, 5))]
    assert insp.dense[0].kernel == "Variable_1" and insp.dense[0].bias == "Variable_2"


@pytest.mark.parametrize("name,kind,scope", [("seed002_static", "basic_rnn", "rnn"),
                                             ("seed002_handwritten", "handwritten", "")])
def test_seed002(ckpts, name, kind, scope):
    insp = inspect_checkpoint(ckpts[name])
    _once(insp)
    (block,) = insp.blocks
    cell = block.directions[""][0]
    assert (block.scope, cell.spec.kind, cell.spec.units, cell.input_size) == (scope, kind, 4, 2)
    assert [(d.name, d.kernel, d.bias) for d in insp.dense] == [("softmax", "softmax/W", "softmax/b")]
    (opt,) = insp.optimizers
    assert opt.kind == "adagrad" and len(opt.slots) == 4 and insp.global_step is None


def test_stacked_gru_and_bidirectional(ckpts):
    gru = inspect_checkpoint(ckpts["gru_encoder"]).blocks[0]
    assert gru.scope == "encoder" and [c.spec.units for c in gru.directions[""]] == [5, 4]
    assert [c.input_size for c in gru.directions[""]] == [3, 5]
    bi = inspect_checkpoint(ckpts["bidi_projection"]).blocks[0]
    assert bi.scope == "bidirectional_rnn" and bi.bidirectional
    spec = bi.directions["fw"][0].spec
    assert (spec.kind, spec.units, spec.num_proj, spec.use_peepholes) == ("lstm", 6, 3, True)
    assert (spec.cell_clip, spec.proj_clip, spec.forget_bias) == (0.3, 0.2, 0.5)


def test_forget_bias_from_meta_and_defaults_without(ckpts, tmp_path):
    insp = inspect_checkpoint(ckpts["forget_bias"])
    found = {b.scope: b.directions[""][0].spec.forget_bias for b in insp.blocks}
    assert found == {"zero": 0.0, "model/rnn": 0.5}
    bare = inspect_checkpoint(copy_checkpoint(ckpts["forget_bias"], tmp_path, with_meta=False))
    assert {b.scope: b.directions[""][0].spec.forget_bias for b in bare.blocks} == {"zero": 1.0, "model/rnn": 1.0}
    assert all(b.directions[""][0].hyper_sources["forget_bias"] == "default (no .meta)" for b in bare.blocks)
    assert any("no .meta" in n for n in bare.notes)


def test_directory_and_json(ckpts, capsys):
    import os

    directory = os.path.dirname(ckpts["seed004"])
    with open(os.path.join(directory, "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "model.ckpt"\n')
    assert run_cli("inspect", directory, "--json") == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["blocks"][0]["scope"] == "rnn" and report["convertible"]
    assert len(report["consumed"]) + len(report["unrecognized"]) == len(report["variables"])
    assert run_cli("inspect", ckpts["seed004"]) == 0
    table = capsys.readouterr().out
    assert "basic_lstm" in table and "Variable_1" in table and "adam" in table


def test_no_rnn_and_unknown_cell_exit_1(ckpts, capsys):
    assert run_cli("inspect", ckpts["dense_only"]) == 1
    assert "holds no RNN cell" in capsys.readouterr().out
    insp = inspect_checkpoint(ckpts["unknown_cell"])
    _once(insp)
    reasons = {u.name: u.reason for u in insp.unrecognized}
    assert "no row of the cell table matches" in reasons["rnn/my_cell/kernel"]
    assert "unexpected ['extra']" in reasons["rnn/basic_lstm_cell/extra"]
    assert not insp.convertible
