"""Issue 20, point 6: a .meta with the same variable names but another forget_bias than the checkpoint's program was
trusted with no warning. Real Saver checkpoints of one program (dynamic_rnn over BasicLSTMCell, seeded random
weights and biases) built with forget_bias 1.0 and 0.0; the second one's .meta is the hostile graph."""
from __future__ import annotations

import json
import os
import shutil
import time

import pytest

import legacy_rnn
from legacy_rnn import tf, v1
from migration.checkpoint.meta import MetaGraph
from migration.checkpoint.provenance import MTIME_SLACK, saved_tensors
from tests.checkpoint.conftest import copy_checkpoint, randomize, save

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("provenance")


def run_cli(*args) -> int:
    from migration.cli import main

    return main([str(a) for a in args])


def _build(directory, forget_bias: float, *, extra: bool = False, saver: bool = True) -> str:
    with legacy_rnn.new_graph(3) as graph:
        x = v1.placeholder(tf.float32, [None, 6, 3], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        legacy_rnn.dynamic_rnn(legacy_rnn.basic_lstm_cell(5, forget_bias=forget_bias), x, sequence_length=lengths)
        if extra:
            v1.get_variable("extra", [2])
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        randomize(sess, 3)
        if saver:
            return save(sess, directory)
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(str(directory), "graph.meta")
        v1.train.export_meta_graph(filename=path, graph=graph)  # a graph with no Saver in it
        return path[: -len(".meta")]


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    root = tmp_path_factory.mktemp("programs")
    return {"own": _build(root / "own", 1.0), "other_bias": _build(root / "other", 0.0),
            "extra_var": _build(root / "extra", 1.0, extra=True), "no_saver": _build(root / "nosaver", 1.0, saver=False)}


def _convert(capsys, ckpt, out, *flags) -> tuple[int, str, str]:
    code = run_cli("convert", ckpt, out, "--quiet", *flags) if "--quiet" in flags else run_cli("convert", ckpt, out, *flags)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _forget_bias(out) -> float:
    manifest = json.loads((out / "manifest.json").read_text())
    return manifest["blocks"][0]["cells"][0]["spec"]["forget_bias"]


def test_the_saver_of_a_real_meta_is_read(programs):
    """What the provenance check compares: the keys, dtypes and shapes the .meta's Saver writes."""
    saved = saved_tensors(MetaGraph(programs["own"] + ".meta"))
    assert saved == {"rnn/basic_lstm_cell/kernel": ("float32", (8, 20)), "rnn/basic_lstm_cell/bias": ("float32", (20,))}
    assert saved_tensors(MetaGraph(programs["no_saver"] + ".meta")) is None


def test_its_own_meta_is_verified_plainly(programs, tmp_path, capsys):
    """Negative control: the .meta beside the checkpoint (also when named with --meta) gives the plain verdict."""
    for flags in ((), ("--meta", programs["own"] + ".meta")):
        out = tmp_path / f"out{len(flags)}"
        code, stdout, stderr = _convert(capsys, programs["own"], out, *flags)
        assert code == 0 and "verified against the original graph" in stdout and "unproven" not in stdout + stderr
        assert "meta_provenance" not in json.loads((out / "manifest.json").read_text())["verification"]
        assert _forget_bias(out) == 1.0


def test_a_meta_from_elsewhere_is_reported_as_unproven(programs, tmp_path, capsys):
    """The finding: the other program's .meta (forget_bias 0.0, same variables) given with --meta converts and
    "verifies" (the reference graph is that .meta too) with the wrong forget_bias. Now the verdict says so, a warning
    names why, and --require-provenance refuses before anything is written."""
    other = programs["other_bias"] + ".meta"
    code, stdout, stderr = _convert(capsys, programs["own"], tmp_path / "out", "--meta", other)
    assert code == 0 and _forget_bias(tmp_path / "out") == 0.0  # what the hostile graph says
    assert "verified against a .meta of unproven provenance" in stdout
    assert "verified against the original graph" not in stdout
    assert "warning: the graph" in stderr and "passed with --meta, not the .meta saved beside" in stderr
    prov = json.loads((tmp_path / "out" / "manifest.json").read_text())["verification"]["meta_provenance"]
    assert prov["proven"] is False and prov["meta"] == other
    code, _, stderr = _convert(capsys, programs["own"], tmp_path / "strict", "--meta", other, "--require-provenance",
                               "--quiet")
    assert code == 2 and "--require-provenance" in stderr and not os.path.exists(tmp_path / "strict")
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_verify_reports_the_provenance_too(programs, tmp_path, capsys):
    own, other = programs["own"], programs["other_bias"] + ".meta"
    assert _convert(capsys, own, tmp_path / "good")[0] == 0
    assert run_cli("verify", own, tmp_path / "good") == 0
    assert "unproven" not in capsys.readouterr().out
    assert run_cli("verify", own, tmp_path / "good", "--meta", other) == 1  # the other graph gives other numbers
    capsys.readouterr()
    assert _convert(capsys, own, tmp_path / "bad", "--meta", other)[0] == 0
    assert run_cli("verify", own, tmp_path / "bad", "--meta", other, "--json") == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out.splitlines()[-1])
    assert report["meta_provenance"]["proven"] is False and "unproven provenance" in captured.err
    assert run_cli("verify", own, tmp_path / "bad", "--meta", other) == 0
    assert "verified against a .meta of unproven provenance" in capsys.readouterr().out
    assert run_cli("verify", own, tmp_path / "bad", "--meta", other, "--require-provenance") == 2


def test_a_replaced_meta_beside_the_checkpoint(programs, tmp_path, capsys):
    """The other program's .meta copied beside the checkpoint under its prefix: caught when its time is unrelated
    to the .index's (an hour and more); with a plausible time it is indistinguishable (the documented limit)."""
    ckpt = copy_checkpoint(programs["own"], tmp_path / "ckpt", with_meta=False)
    shutil.copy(programs["other_bias"] + ".meta", ckpt + ".meta")
    code, stdout, _ = _convert(capsys, ckpt, tmp_path / "close")
    assert code == 0 and "verified against the original graph" in stdout  # the limit: same Saver, same shapes
    old = time.time() - 2 * MTIME_SLACK
    for name in os.listdir(tmp_path / "ckpt"):
        if not name.endswith(".meta"):
            os.utime(tmp_path / "ckpt" / name, (old, old))
    code, stdout, stderr = _convert(capsys, ckpt, tmp_path / "apart")
    assert code == 0 and "verified against a .meta of unproven provenance" in stdout
    assert "2.0 h apart from the checkpoint's .index" in stderr


@pytest.mark.parametrize("graph, reason", [
    ("extra_var", "its Saver saves 1 variable(s) the checkpoint does not hold (['extra'])"),
    ("no_saver", "it holds no Saver (no readable SaveV2 op)"),
])
def test_a_meta_whose_saver_does_not_match_the_checkpoint(programs, tmp_path, capsys, graph, reason):
    """Beside the checkpoint, with a plausible time, but its Saver disagrees with the checkpoint's keys."""
    ckpt = copy_checkpoint(programs["own"], tmp_path / "ckpt", with_meta=False)
    shutil.copy(programs[graph] + ".meta", ckpt + ".meta")
    code, stdout, stderr = _convert(capsys, ckpt, tmp_path / "out")
    assert code == 0 and "verified against a .meta of unproven provenance" in stdout, stdout + stderr
    assert reason in stderr


def test_a_v1_saver_cannot_have_written_a_v2_checkpoint(programs, tmp_path):
    from tensorflow.core.protobuf import meta_graph_pb2

    from migration.checkpoint.provenance import meta_provenance
    from migration.checkpoint.reader import CheckpointReader

    ckpt = copy_checkpoint(programs["own"], tmp_path / "ckpt", with_meta=False)
    proto = meta_graph_pb2.MetaGraphDef()
    with open(programs["own"] + ".meta", "rb") as f:
        proto.ParseFromString(f.read())
    with open(ckpt + ".meta", "wb") as f:
        f.write(proto.SerializeToString())
    reader = CheckpointReader(ckpt)
    assert meta_provenance(reader, MetaGraph(ckpt + ".meta"), explicit=False).proven  # control: the same proto
    proto.saver_def.version = 1  # SaverDef.V1
    with open(ckpt + ".meta", "wb") as f:
        f.write(proto.SerializeToString())
    provenance = meta_provenance(reader, MetaGraph(ckpt + ".meta"), explicit=False)
    assert provenance.reasons == ["its Saver writes V1 checkpoints (no .index), this checkpoint is V2"]


def test_a_hand_edited_save_op_is_an_unreadable_saver_not_a_traceback(programs, tmp_path):
    from tensorflow.core.protobuf import meta_graph_pb2

    from migration.checkpoint.provenance import meta_provenance
    from migration.checkpoint.reader import CheckpointReader

    ckpt = copy_checkpoint(programs["own"], tmp_path / "ckpt", with_meta=False)
    proto = meta_graph_pb2.MetaGraphDef()
    with open(programs["own"] + ".meta", "rb") as f:
        proto.ParseFromString(f.read())
    (node,) = [n for n in proto.graph_def.node if n.name == "save/SaveV2/shape_and_slices"]
    node.attr["value"].tensor.string_val[0] = b"ten 5 0,4:0,5"  # not a number
    (save_op,) = [n for n in proto.graph_def.node if n.name == "save/SaveV2"]
    save_op.attr["dtypes"].list.type[0] = 9999  # not a DataType
    with open(ckpt + ".meta", "wb") as f:
        f.write(proto.SerializeToString())
    provenance = meta_provenance(CheckpointReader(ckpt), MetaGraph(ckpt + ".meta"), explicit=False)
    assert not provenance.proven and "no readable SaveV2 op" in provenance.reasons[0]
