"""In: a checkpoint written the parameter-server way (``ps_graphs.py``: 2 CPU devices, ``Saver(sharded=True)`` with 3
``.data`` shards, partitioned embeddings 'div' + 'mod' from ``fixed_size_partitioner`` and
``min_max_variable_partitioner``, a partitioned LSTM kernel and bias, ``SyncReplicasOptimizer`` leftovers) converts
block-wise and as a whole model, verified against the ORIGINAL graph; the leftovers are reported as recognized
bookkeeping. References are the original graph's own outputs, computed in the writing process."""
from __future__ import annotations

import glob
import json
import os
import shutil

import numpy as np
import pytest

from migration.checkpoint.bookkeeping import classify
from migration.checkpoint.reader import VariableInfo

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("scale_ps")]


def manifest(out: str) -> dict:
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


def load(path: str):
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    return keras.models.load_model(path, compile=False, safe_mode=True)


def test_the_checkpoint_is_really_sharded_and_partitioned(ps_checkpoint):
    shards = sorted(glob.glob(ps_checkpoint["prefix"] + ".data-*"))
    assert [s[-len("00000-of-00003"):] for s in shards] == [f"0000{k}-of-00003" for k in range(3)]
    assert ps_checkpoint["devices"] == ["", "/device:CPU:0", "/device:CPU:1"]
    names = set(ps_checkpoint["variables"])
    assert {f"encoder/rnn/lstm_cell/{w}/part_{k}" for w in ("kernel", "bias") for k in range(2)} <= names
    assert {f"{e}/part_{k}" for e in ("words", "tags") for k in range(3)} <= names
    assert {"sync_rep_local_step", "input_producer/limit_epochs/epochs", "global_step"} <= names


def test_leftovers_are_recognized_bookkeeping_never_silent(ps_converted):
    code, out = ps_converted
    assert code == 0
    m = manifest(out)
    assert m["unrecognized"] == []
    assert set(m["bookkeeping"]) == {"sync_rep_local_step", "input_producer/limit_epochs/epochs"}
    assert "SyncReplicasOptimizer" in m["bookkeeping"]["sync_rep_local_step"]
    for key in m["bookkeeping"]:
        assert m["variables"][key]["role"].startswith("distributed-training bookkeeping")
        assert m["variables"][key]["destination"].startswith("not migrated")
    assert m["variables"]["global_step"]["role"] == "global_step"
    (opt,) = m["optimizer"]["optimizers"]
    assert (opt["iterations"], opt["iterations_source"]) == (7, "global_step")  # the PS run's step


def test_partitions_and_strategies_are_read_from_the_graph(ps_converted):
    m = manifest(ps_converted[1])
    emb = {e["name"]: e for e in m["embeddings"]}
    assert (emb["words"]["partitions"], emb["words"]["strategy"]) == (3, "div")
    assert (emb["tags"]["partitions"], emb["tags"]["strategy"]) == (3, "mod")
    (block,) = m["blocks"]
    assert block["scope"] == "encoder/rnn"
    assert block["cells"][0]["spec"]["forget_bias"] == 0.5  # from the .meta, not the default 1.0


def test_blocks_and_whole_model_verified_against_the_original_graph(ps_converted):
    code, out = ps_converted
    v = manifest(out)["verification"]
    assert code == 0 and v["ok"]
    assert set(v["references"]) == {"block encoder_rnn", "whole model"}
    assert set(v["references"].values()) == {"original-graph"}


def test_whole_model_gives_the_original_programs_logits(ps_checkpoint, ps_converted):
    ref = np.load(os.path.join(ps_checkpoint["dir"], "ref.npz"))
    m = manifest(ps_converted[1])["model"]
    assert m["inputs"] == ["ids", "lengths"] and m["outputs"] == [ps_checkpoint["logits"]]
    model = load(os.path.join(ps_converted[1], "model.keras"))
    got = np.asarray(model([ref["ids"], ref["lengths"]], training=False))
    np.testing.assert_allclose(got, ref["logits"], atol=1e-5)
    assert np.ptp(ref["logits"]) > 0.1  # a real signal, not all zeros


def test_parts_joined_in_the_wrong_order_are_caught(ps_checkpoint, ps_converted, tmp_path):
    """Negative control: the LSTM kernel's two parts swapped (rows [6:12] before [0:6]) fails `verify`."""
    from migration.cli import main

    assert main(["verify", ps_checkpoint["prefix"], ps_converted[1]]) == 0  # the real conversion passes
    bad = tmp_path / "bad"
    shutil.copytree(ps_converted[1], bad)
    path = os.path.join(bad, "blocks", "encoder_rnn.keras")
    model = load(path)
    layer = next(l for l in model.layers if l.get_weights() and len(l.get_weights()) == 3)
    kernel, recurrent, bias = layer.get_weights()
    full = np.concatenate([kernel, recurrent], 0)  # TF1 row order [x; h], 12 rows, 2 parts of 6
    full = np.concatenate([full[6:], full[:6]], 0)
    layer.set_weights([full[: kernel.shape[0]], full[kernel.shape[0]:], bias])
    model.save(path)
    assert main(["verify", ps_checkpoint["prefix"], str(bad)]) == 1


def test_bookkeeping_rules_are_narrow():
    assert classify("sync_rep_local_step", VariableInfo("sync_rep_local_step", (), "int64"))
    assert classify("train/sync_rep_local_step_1", VariableInfo("x", (), "int64"))
    assert classify("a/input_producer/limit_epochs/epochs", VariableInfo("x", (), "int64"))
    assert classify("sync_rep_local_step", VariableInfo("x", (), "float32")) is None  # a float is not a counter
    assert classify("sync_rep_local_step", VariableInfo("x", (3,), "int64")) is None
    assert classify("my_counter", VariableInfo("x", (), "int64")) is None


def test_inspect_lists_the_bookkeeping_in_its_own_section(ps_checkpoint, capsys):
    from migration.cli import main

    assert main(["inspect", ps_checkpoint["prefix"]]) == 0
    out = capsys.readouterr().out
    section = out.split("distributed-training bookkeeping (2, recognized, not migrated):")[1].split("unrecognized (0):")[0]
    assert "sync_rep_local_step: SyncReplicasOptimizer" in section and "input_producer/limit_epochs/epochs" in section
    assert "3 partitions (div)" in out and "3 partitions (mod)" in out
    assert "variables: 23 total, 23 recognized, 0 unrecognized" in out


def test_partitioned_embeddings_stream_from_their_shards(ps_checkpoint, tmp_path):
    """The parts of `words` and `tags` are stored entries of their own (3 each) in the device's `.data` shard; they
    take the streaming path (copied part by part into the output file, never assembled in memory), row for row what
    TensorFlow reads (`mod` rows gathered in the same pass)."""
    from migration.checkpoint.reader import CheckpointReader
    from migration.converters import mod_partition_permutation

    reader = CheckpointReader(ps_checkpoint["prefix"])
    for name, perm in (("words", None), ("tags", mod_partition_permutation(12, 3))):
        layout = reader.layout(name)
        assert layout is not None and len(layout.pieces) == 3
        assert [p.rows for p in layout.pieces] == [4, 4, 4] and len({p.file for p in layout.pieces}) == 1
        out = str(tmp_path / f"{name}.npy")
        reader.write_npy(name, out, perm, chunk_bytes=1)  # one row per chunk: parts crossed chunk by chunk
        full = reader.read(name)
        np.testing.assert_array_equal(np.load(out), full if perm is None else full[perm])
    kernel = reader.layout("encoder/rnn/lstm_cell/kernel")
    assert kernel is not None and len(kernel.pieces) == 2  # the partitioned LSTM kernel, on the other device's shard
    assert {kernel.pieces[0].file} != {reader.layout("words").pieces[0].file}
