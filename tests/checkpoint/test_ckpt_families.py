"""``rnn-migrate convert`` on every tf.contrib cell family, verified against the ORIGINAL graph through the CLI.

One program (``families_graph.build_families``: LSTMBlockCell with peepholes/forget_bias 0.5/cell_clip 0.4,
LSTMBlockFusedCell with forget_bias 0.0 (time-major BlockLSTM op), MultiRNNCell of GRUBlockCell (v1 names),
bidirectional GRUBlockCellV2, LayerNormBasicLSTMCell with forget_bias 0.5, CudnnCompatibleLSTMCell and
CudnnCompatibleGRUCell, a dense head and a loss) is saved once with its ``.meta``; ``convert`` must read the
hyper-parameters itself, verify every block and the whole model against that graph, and a wrong ``--forget-bias``
must fail the verification. The program is saved twice: in TF 2.x's graph form and in TF 1.x's (RefVariables,
``Enter``/``Exit`` frames), where every block must still be located and checked against the original graph. The
independent reference for ``model.keras`` is the original program run the way its
author would: ``import_meta_graph`` + ``Saver.restore``.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import families_graph as fg
from conftest import run_cli
from ground_truth_graphs import tf1_graph_form

BLOCKS = {"cudnngru_rnn", "cudnnlstm_rnn", "fused", "grublock_rnn", "grublockv2_bidirectional_rnn", "layernorm_rnn",
          "lstmblock_rnn"}


@pytest.fixture(scope="module", params=["tf2_form", "tf1_form"])
def families(request, tmp_path_factory):
    """The program saved in TF 2.x's graph form (resource variables, ``While`` functions) and in TF 1.x's
    (RefVariables, ``Enter``/``Exit`` frames: what a real TF 1.15 program wrote into its ``.meta``)."""
    root = tmp_path_factory.mktemp("families_" + request.param)
    with tf1_graph_form(request.param == "tf1_form"):
        prefix = fg.build_families(root / "ckpt")
    assert _frames(prefix) == (request.param == "tf1_form")  # the .meta really is in the requested form
    code = run_cli("convert", prefix, root / "out", "--quiet")
    return prefix, str(root / "out"), code


def _frames(prefix: str) -> bool:
    """True when the ``.meta`` is in TF 1.x form: ``Enter`` frames and ``VariableV2``, no ``While``/``VarHandleOp``."""
    from tensorflow.core.protobuf import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    with open(prefix + ".meta", "rb") as f:
        meta.ParseFromString(f.read())
    ops = {n.op for n in meta.graph_def.node}
    v1_form = {"Enter", "Exit", "VariableV2"} <= ops and not ops & {"While", "StatelessWhile", "VarHandleOp"}
    v2_form = "VarHandleOp" in ops and ops & {"While", "StatelessWhile"} and not ops & {"Enter", "VariableV2"}
    assert v1_form or v2_form, sorted(ops)
    return v1_form


def _manifest(out: str) -> dict:
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


def _load(path: str):
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    return keras.models.load_model(path, compile=False, safe_mode=True)


def test_every_family_converts_and_verifies_against_the_original_graph(families):
    prefix, out, code = families
    assert code == 0
    m = _manifest(out)
    assert {b["name"] for b in m["blocks"]} == BLOCKS
    assert all(os.path.isfile(os.path.join(out, b["file"])) for b in m["blocks"])
    v = m["verification"]
    assert v["ok"] and v["reference"] == "original-graph"
    assert v["references"] == {**{f"block {b}": "original-graph" for b in BLOCKS}, "whole model": "original-graph"}
    checks = [c for c in v["checks"] if c["what"].startswith("block ")]
    assert len(checks) == 21 and all(c["max_abs_diff"] <= 1e-5 for c in checks)  # outputs + every state


def test_hyperparameters_come_from_the_meta(families):
    _, out, _ = families
    cells = {c["path"]: c for b in _manifest(out)["blocks"] for c in b["cells"]}
    expected = {"lstmblock/rnn/lstm_cell": fg.HYPER["lstmblock"], "fused/lstm_fused_cell": fg.HYPER["fused"],
                "layernorm/rnn/layer_norm_basic_lstm_cell": fg.HYPER["layernorm"],
                "cudnnlstm/rnn/cudnn_compatible_lstm_cell": fg.HYPER["cudnnlstm"]}
    for path, hyper in expected.items():
        spec, sources = cells[path]["spec"], cells[path]["hyper_sources"]
        assert {k: spec[k] for k in hyper} == hyper, path
        assert sources and set(sources.values()) == {"meta"}, (path, sources)  # nothing "assumed"
    assert cells["fused/lstm_fused_cell"]["spec"]["cell_clip"] is None
    assert all(not src.startswith("default") for c in cells.values() for src in c["hyper_sources"].values())


def test_whole_model_equals_the_original_program(families):
    prefix, out, _ = families
    m = _manifest(out)["model"]
    assert m["file"] == "model.keras" and m["inputs"] == ["x", "lengths"]
    ins, outs, names = fg.reference(prefix)
    assert m["outputs"] == [names["logits"]]
    model = _load(os.path.join(out, "model.keras"))
    rng = np.random.default_rng(3)
    fresh = {"x": rng.normal(0, 1, ins["x"].shape).astype(np.float32),
             "lengths": np.array([2, 6, 1, 5], np.int32)}
    for feeds, (expected,) in zip((ins, fresh), fg.run_original_program_on(prefix, m["outputs"], [ins, fresh])):
        got = np.asarray(model([feeds["x"], feeds["lengths"]], training=False))
        np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(model([ins["x"], ins["lengths"]], training=False)), outs["logits"],
                               atol=1e-5)


def test_wrong_forget_bias_override_fails_against_the_original_graph(families, tmp_path, capsys):
    """Negative control: the reference is the original graph, so a wrong --forget-bias cannot pass."""
    prefix, _, _ = families
    capsys.readouterr()
    assert run_cli("convert", prefix, tmp_path / "wrong", "--forget-bias", "1.0", "--no-model", "--json") == 1
    assert not os.path.exists(tmp_path / "wrong")  # nothing installed
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not result["installed"]
    failed = {c["what"] for c in result["verification"]["checks"] if c["max_abs_diff"] > 1e-5}
    assert {"block lstmblock_rnn", "block layernorm_rnn", "block fused", "block cudnnlstm_rnn"} <= failed
    assert not any("gru" in f for f in failed)  # GRUs have no forget_bias: the override does not touch them
    refs = {c["what"]: c["reference"] for c in result["verification"]["checks"] if c["what"] in failed}
    assert set(refs.values()) == {"original-graph"}
