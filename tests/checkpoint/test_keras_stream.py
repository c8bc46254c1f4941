"""Flat memory for the whole model (issue 15): large embeddings are written into ``model.keras`` row by row and
``verify`` samples them on both sides. Forced here on tiny checkpoints by setting the size threshold to 0.

Exactness reference: the same conversion with streaming off (``tf_keras``' own ``model.save`` of fully built
layers); the streamed archive must hold the same config and byte-equal weights, and load with ``safe_mode=True``.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import zipfile

import numpy as np
import pytest

import ground_truth_graphs as g
from conftest import build_partitioned

from migration.graph import keras_stream


def _convert(prefix: str, out: str, stream_all: bool, monkeypatch) -> tuple[dict, list[str]]:
    from migration.checkpoint.convert import convert_checkpoint

    recorded: list[str] = []
    real = keras_stream.save_streamed

    def spy(model, path, streamed):
        recorded.extend(s.layer.name for s in streamed)
        return real(model, path, streamed)

    from modern_rnn import keras

    keras.backend.clear_session()  # the same auto-generated layer names (tf.__operators__.getitem_k) both times
    with monkeypatch.context() as m:
        m.setattr(keras_stream, "STREAM_MIN_BYTES", 0 if stream_all else 1 << 62)
        m.setattr(keras_stream, "save_streamed", spy)
        result = convert_checkpoint(prefix, out)
    return result.manifest, recorded


def _archive(path: str) -> tuple[dict, dict[str, np.ndarray], list[str]]:
    import h5py

    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
        names = [i.filename for i in zf.infolist()]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        assert zf.testzip() is None  # every member's CRC-32
        weights: dict[str, np.ndarray] = {}
        with h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r") as h5:
            h5.visititems(lambda n, o: weights.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
            h5.visititems(lambda n, o: weights.__setitem__(f"{n}@attrs", np.array(sorted(
                (k, str(v)) for k, v in o.attrs.items()), dtype=str)))
            weights["@attrs"] = np.array(sorted((k, str(v)) for k, v in h5.attrs.items()), dtype=str)
    return config, weights, names


CASES = {
    "ptb": lambda d: g.build_ptb(d, tf1_form=True),  # reference variables (VariableV2)
    "ptb_tf2": lambda d: g.build_ptb(d, tf1_form=False),  # resource variables (VarHandleOp, ResourceGather)
    "partitioned_mod": lambda d: build_partitioned(d, "mod"),
    "partitioned_div": lambda d: build_partitioned(d, "div"),
}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """name -> (prefix, direct conversion dir, streamed conversion dir, streamed layer names), built on demand."""
    root = tmp_path_factory.mktemp("keras_stream")
    cache: dict = {}
    mp = pytest.MonkeyPatch()

    def get(name: str):
        if name not in cache:
            prefix = CASES[name](root / name / "ckpt")
            direct, streamed = str(root / name / "direct"), str(root / name / "streamed")
            m_direct, rec_direct = _convert(prefix, direct, False, mp)
            m_streamed, rec_streamed = _convert(prefix, streamed, True, mp)
            assert rec_direct == [] and rec_streamed, (rec_direct, rec_streamed)
            cache[name] = (prefix, direct, streamed, rec_streamed, m_direct, m_streamed)
        return cache[name]

    yield get
    mp.undo()


@pytest.mark.parametrize("name", list(CASES))
def test_streamed_model_keras_equals_what_tf_keras_saves(pairs, name):
    prefix, direct, streamed, layers, m_direct, m_streamed = pairs(name)
    c1, w1, n1 = _archive(os.path.join(direct, "model.keras"))
    c2, w2, n2 = _archive(os.path.join(streamed, "model.keras"))
    assert n1 == n2 and c1 == c2
    assert sorted(w1) == sorted(w2)
    for key in w1:
        assert w1[key].dtype == w2[key].dtype and w1[key].shape == w2[key].shape, key
        assert w1[key].tobytes() == w2[key].tobytes(), key
    # the streamed layer is the embedding, at its real size, and holds non-trivial rows
    emb = [k for k in w2 if w2[k].ndim == 2 and w2[k].shape[0] == 10 or w2[k].shape[0] == g.V]
    assert emb and all(np.count_nonzero(w2[k]) == w2[k].size for k in emb)
    assert m_direct["model"]["pieces"] == m_streamed["model"]["pieces"]
    # both conversions were verified (the streamed one with sampled embeddings on both sides) and passed
    assert m_direct["verification"]["ok"] and m_streamed["verification"]["ok"]
    assert m_streamed["verification"]["references"]["whole model"] == "original-graph"
    from migration.safe_io import load_keras_model

    model = load_keras_model(os.path.join(streamed, "model.keras"))  # safe_mode=True
    assert {layer.name for layer in model.layers} >= set(layers)


def _rewrite_h5(src_dir: str, dst_dir: str, fn) -> None:
    """Copy a conversion and change datasets of its model.keras's weights (fn(name, array) -> array or None)."""
    import h5py

    shutil.copytree(src_dir, dst_dir)
    path = os.path.join(dst_dir, "model.keras")
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "r+") as h5:
        names: list[str] = []
        h5.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for n in names:
            new = fn(n, h5[n][()])
            if new is not None:
                h5[n][...] = new
    members["model.weights.h5"] = buf.getvalue()
    os.remove(path)
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)


def _verify(prefix: str, out: str, monkeypatch):
    from migration.checkpoint.verify import verify_conversion

    with monkeypatch.context() as m:
        m.setattr(keras_stream, "STREAM_MIN_BYTES", 0)
        return verify_conversion(prefix, out)


def test_sampled_verify_catches_a_wrong_row_that_the_inputs_look_up(pairs, tmp_path, monkeypatch):
    """Row of an id the whole-model check feeds: caught by the end-to-end comparison AND the every-row check."""
    prefix, _, streamed, layers, _, m = pairs("ptb")
    from migration.checkpoint.verify import verify_conversion  # noqa: F401
    from migration.graph.whole_model import sample_feeds

    report = _verify(prefix, streamed, monkeypatch)
    assert report.ok, report.to_dict()
    assert any("rows of the ids fed" in n for n in report.notes)
    # an id the sampled inputs contain (same seed as verify)
    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.reference import OriginalGraph

    original = OriginalGraph(prefix + ".meta", CheckpointReader(prefix))
    feeds = sample_feeds(original, m["model"]["inputs"], 4, 6, 0)
    fed = int(next(iter(feeds.values())).reshape(-1)[3])
    bad = str(tmp_path / "bad_row")

    def fn(name, a):
        if a.shape == (g.V, 8) or (a.ndim == 2 and a.shape[0] == g.V and "embedding" in name):
            a = a.copy()
            a[fed] += 0.5
            return a
        return None

    _rewrite_h5(streamed, bad, fn)
    report = _verify(prefix, bad, monkeypatch)
    failing = {c.what.split(" (")[0] for c in report.checks if c.max_abs_diff > report.tolerance}
    assert not report.ok
    assert "whole model" in failing and any(f.startswith("whole model embedding") for f in failing), failing


def test_sampled_verify_catches_a_wrong_row_no_input_looks_up(pairs, tmp_path, monkeypatch):
    prefix, _, streamed, _, _, m = pairs("ptb")
    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.reference import OriginalGraph
    from migration.graph.whole_model import sample_feeds

    original = OriginalGraph(prefix + ".meta", CheckpointReader(prefix))
    fed = set(np.unique(next(iter(sample_feeds(original, m["model"]["inputs"], 4, 6, 0).values()))).tolist())
    unfed = min(set(range(g.V)) - fed)
    bad = str(tmp_path / "bad_unfed")

    def fn(name, a):
        if a.ndim == 2 and a.shape[0] == g.V and "embedding" in name:
            a = a.copy()
            a[unfed] -= 0.25
            return a
        return None

    _rewrite_h5(streamed, bad, fn)
    report = _verify(prefix, bad, monkeypatch)
    failing = [c for c in report.checks if c.max_abs_diff > report.tolerance]
    # the end-to-end check never looks that row up; the every-row comparison of the model's embedding catches it
    assert not report.ok and failing and all(c.what.startswith("whole model embedding") for c in failing), failing


def test_sampled_verify_catches_a_wrong_cell_weight(pairs, tmp_path, monkeypatch):
    prefix, _, streamed, _, _, _ = pairs("ptb")
    bad = str(tmp_path / "bad_cell")

    def fn(name, a):
        return a + np.float32(0.01) if "cell" in name and "vars/0" in name else None

    _rewrite_h5(streamed, bad, fn)
    report = _verify(prefix, bad, monkeypatch)
    failing = {c.what for c in report.checks if c.max_abs_diff > report.tolerance}
    assert not report.ok and "whole model" in failing, report.to_dict()


def test_sampled_verify_catches_a_mis_permuted_mod_embedding(pairs, tmp_path, monkeypatch):
    """The streamed mod-partition model.keras with its rows left in saved (unpermuted) order is caught."""
    prefix, _, streamed, _, _, _ = pairs("partitioned_mod")
    from migration.converters import mod_partition_permutation

    report = _verify(prefix, streamed, monkeypatch)
    assert report.ok, report.to_dict()
    perm = mod_partition_permutation(10, 3)
    bad = str(tmp_path / "bad_perm")

    def fn(name, a):
        if a.shape == (10, 5):
            unpermuted = np.empty_like(a)
            unpermuted[perm] = a  # the saved order: what forgetting the permutation writes
            return unpermuted
        return None

    _rewrite_h5(streamed, bad, fn)
    report = _verify(prefix, bad, monkeypatch)
    failing = {c.what.split(" (")[0] for c in report.checks if c.max_abs_diff > report.tolerance}
    assert not report.ok and "whole model" in failing, failing


@pytest.mark.parametrize("name,op", [("ptb", "VariableV2"), ("ptb_tf2", "VarHandleOp")])
def test_reference_feeds_only_the_sampled_rows(pairs, name, op):
    """The original-graph reference with ``ids``: a zero buffer, 64-byte aligned, holding exactly the rows of the
    ids (and of nothing else) for a variable only gathered; the run with it equals the run with the full value."""
    prefix, _, _, _, _, m = pairs(name)
    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.reference import OriginalGraph

    reader = CheckpointReader(prefix)
    original = OriginalGraph(prefix + ".meta", reader)
    node = next(n for n in original.index.nodes.values() if n.op in ("VariableV2", "VarHandleOp") and
                n.name.endswith("embedding"))
    assert node.op == op
    full = reader.read("Model/embedding")
    ids = np.array([3, 0, 3, g.V - 1, g.V + 5])
    old = keras_stream.STREAM_MIN_BYTES
    keras_stream.STREAM_MIN_BYTES = 0
    try:
        value = original.variable_value(node, ids)
    finally:
        keras_stream.STREAM_MIN_BYTES = old
    assert value.ctypes.data % 64 == 0 and value.shape == full.shape
    keep = [0, 3, g.V - 1]
    np.testing.assert_array_equal(value[keep], full[keep])
    others = np.setdiff1d(np.arange(g.V), keep)
    assert not value[others].any() and full[others].any()
    # the whole run: sampled (resource variables: ResourceGather rewritten to GatherV2 of the fed buffer) == full
    from migration.graph.whole_model import sample_feeds

    feeds = sample_feeds(original, m["model"]["inputs"], 4, 6, 1)
    fed = np.unique(np.concatenate([v.reshape(-1) for v in feeds.values()]))
    full_run = original.run(m["model"]["outputs"], feeds)
    keras_stream.STREAM_MIN_BYTES = 0
    try:
        sampled_run = original.run(m["model"]["outputs"], feeds, ids=fed)
        wrong = original.run(m["model"]["outputs"], feeds, ids=fed[1:])  # one row missing: the control
    finally:
        keras_stream.STREAM_MIN_BYTES = old
    for a, b in zip(full_run, sampled_run):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(full_run, wrong))


def test_sampled_model_equals_the_full_model_on_its_ids_and_refuses_others(pairs):
    """load_sampled: same outputs as tf_keras' own load on the sampled ids; an id outside them raises."""
    import tensorflow as tf

    from migration.safe_io import load_block_model

    _, _, streamed, layers, _, m = pairs("ptb")
    rng = np.random.default_rng(3)
    ids = rng.integers(0, g.V, (4, g.T)).astype(np.int32)
    full = load_block_model(streamed, "model.keras")
    model, paths = keras_stream.load_sampled(streamed, "model.keras", ids, min_bytes=0)
    assert sorted(paths) == sorted(layers) and all(p.endswith("/vars/0") for p in paths.values())
    np.testing.assert_array_equal(np.asarray(model(ids)), np.asarray(full(ids)))
    other = np.setdiff1d(np.arange(g.V), ids)[0]
    with pytest.raises(tf.errors.InvalidArgumentError, match="outside the sampled rows"):
        model(np.full((1, g.T), other, np.int32))


def test_verify_falls_back_to_the_whole_embedding_when_other_ids_reach_it(pairs, monkeypatch):
    """Simulates a graph whose lookups see ids the inputs do not hold: the check is redone with the embedding loaded
    whole (and says so), still against the original graph, and still passes on a correct conversion."""
    prefix, _, streamed, _, _, _ = pairs("ptb")
    real = keras_stream.load_sampled
    monkeypatch.setattr(keras_stream, "load_sampled", lambda out, rel, ids, *a, **k: real(out, rel, ids[1:], *a, **k))
    report = _verify(prefix, streamed, monkeypatch)
    assert report.ok, report.to_dict()
    assert any("loaded whole" in n for n in report.notes), report.notes
    assert report.references["whole model"] == "original-graph"
    assert any(c.what.startswith("whole model embedding") for c in report.checks)
