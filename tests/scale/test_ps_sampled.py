"""The PS-era checkpoint on the sampled (flat-memory) paths: with ``keras_stream.STREAM_MIN_BYTES`` forced to 0 the
tiny ``ps_graphs.py`` checkpoint takes the paths the 300 MB benchmark takes: ``model.keras`` gets both partitioned
embeddings streamed, ``verify`` samples them on the Keras side and feeds the original graph zero buffers with only
the sampled rows of each PART filled (``div`` and ``mod``, decided by the whole variable's size), and a part that is
read whole is read as its row range from the data files. References: the original program's own logits
(``ref.npz``, computed in the writing process) and negative controls (a wrong row in a partition is caught)."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("scale_ps")]


@pytest.fixture(scope="module")
def sampled(ps_checkpoint, tmp_path_factory):
    """(exit code, OUT_DIR) of ``convert`` (defaults: whole model + verify) with every embedding streamed/sampled."""
    from migration.cli import main
    from migration.graph import keras_stream

    out = tmp_path_factory.mktemp("ps_sampled") / "out"
    with pytest.MonkeyPatch.context() as m:
        m.setattr(keras_stream, "STREAM_MIN_BYTES", 0)
        code = main(["convert", ps_checkpoint["prefix"], str(out), "--quiet"])
    return code, str(out)


def _original(prefix: str):
    from migration.checkpoint.meta import load_meta
    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.reference import OriginalGraph

    reader = CheckpointReader(prefix)
    return OriginalGraph(load_meta(reader.prefix).path, reader)


def test_sampled_partitions_reproduce_the_original_programs_logits(ps_checkpoint, monkeypatch):
    """Every part of `words` (div) and `tags` (mod) fed as a zero buffer holding only the rows the fed ids reach:
    the original program's logits, exactly. Each part holds exactly the rows TF1's lookups of those ids read (both
    strategies' rows: the reference does not guess which one the graph uses), zeros elsewhere; leaving a fed id out
    of the sample changes the logits (the zeros are really there, so a wrong row index would show)."""
    from migration.graph import keras_stream

    monkeypatch.setattr(keras_stream, "STREAM_MIN_BYTES", 0)
    ref = np.load(os.path.join(ps_checkpoint["dir"], "ref.npz"))
    og = _original(ps_checkpoint["prefix"])
    feeds = {"ids": ref["ids"], "lengths": ref["lengths"]}
    fetch = [ps_checkpoint["logits"]]
    ids = np.unique(ref["ids"])
    (got,) = og.run(fetch, feeds, ids=ids)
    np.testing.assert_allclose(got, ref["logits"], atol=1e-5)
    for name, dim in (("words", 5), ("tags", 3)):
        full = og.reader.read(name)  # 12 rows saved as 3 parts of 4
        for p in range(3):
            for sample in ([9], [5], [4 * p + 1, 3 * 2 + p]):
                # part p, row j: id 4p + j under 'div', id p + 3j under 'mod'
                want = np.zeros((4, dim), np.float32)
                for j in range(4):
                    if 4 * p + j in sample or p + 3 * j in sample:
                        want[j] = full[4 * p + j]
                value = og._sampled_of(og.index.nodes[f"{name}/part_{p}"], np.array(sample))
                np.testing.assert_array_equal(value, want, err_msg=f"{name}/part_{p} {sample}")
    within = np.unique(np.concatenate([r[:n] for r, n in zip(ref["ids"], ref["lengths"])]))
    assert 11 in within  # id 11: row 3 of part 2 under both strategies, looked up inside a sequence
    (wrong,) = og.run(fetch, feeds, ids=ids[ids != 11])
    assert np.max(np.abs(wrong - ref["logits"])) > 1e-3


def test_a_part_read_whole_is_its_row_range_of_the_data_files(ps_checkpoint):
    """Without ids (or below the size limit) each part is read from the data files as its own rows, equal to the
    slice of TensorFlow's full read, for the embedding parts and the partitioned LSTM kernel (other shard)."""
    og = _original(ps_checkpoint["prefix"])
    for node in ("words/part_1", "tags/part_2", "encoder/rnn/lstm_cell/kernel/part_1"):
        src = og.variable_source(og.index.nodes[node])
        full = og.reader.read(src.key)
        want = full[src.offset[0]:src.offset[0] + src.shape[0]]
        got = og.variable_value(og.index.nodes[node])
        assert got.flags.owndata  # not a view that keeps the whole tensor alive
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(og._part_rows(src), want)


def test_a_damaged_part_read_as_its_rows_is_refused(ps_checkpoint, tmp_path):
    """Negative control: one byte of the LSTM kernel's second part changed in a copy of the `.data` shard; reading
    that part as its row range fails its stored CRC32C with a clear error (never a silently wrong reference)."""
    from migration.core.errors import MigrationError

    copy = tmp_path / "ckpt"
    shutil.copytree(ps_checkpoint["dir"], copy)
    prefix = str(copy / os.path.basename(ps_checkpoint["prefix"]))
    og = _original(prefix)
    node = og.index.nodes["encoder/rnn/lstm_cell/kernel/part_1"]
    src = og.variable_source(node)
    piece = next(p for p in og.reader.layout(src.key).pieces if p.row == src.offset[0])
    og.variable_value(node)  # intact: reads
    with open(piece.file, "r+b") as f:
        f.seek(piece.offset + 5)
        byte = f.read(1)
        f.seek(piece.offset + 5)
        f.write(bytes([byte[0] ^ 0x40]))
    with pytest.raises(MigrationError, match="Checksum mismatch"):
        og.variable_value(node)


def test_convert_and_verify_on_the_sampled_paths(sampled):
    from migration.checkpoint.manifest import read_manifest

    code, out = sampled
    m = read_manifest(out)
    assert code == 0 and m["verification"]["ok"]
    assert m["verification"]["references"]["whole model"] == "original-graph"
    notes = " ".join(m["verification"]["notes"])
    assert "embeddings embedding_tags, embedding_words" in notes  # both partitioned embeddings were sampled


@pytest.mark.parametrize("key", ["words", "tags"])
@pytest.mark.parametrize("looked_up", [True, False])
def test_a_wrong_row_in_a_partition_is_caught(ps_checkpoint, sampled, tmp_path, key, looked_up):
    """Negative control: one row of the last partition of `words` (div: rows 8..11) or `tags` (mod: the ids
    congruent to 2) changed inside `model.keras`; verify (sampled paths) fails: on the whole model's logits when the
    random ids look that row up inside a sequence, and on the every-row comparison with the checkpoint in any case."""
    import modern_rnn  # noqa: F401
    from migration.checkpoint.verify import verify_conversion
    from migration.graph import keras_stream
    from migration.graph.whole_model import sample_feeds
    from modern_rnn import keras

    feeds = sample_feeds(_original(ps_checkpoint["prefix"]), ["ids", "lengths"])  # what verify feeds (seed 0)
    seen = set(np.concatenate([r[:n] for r, n in zip(feeds["ids"], feeds["lengths"])]).tolist())
    in_part = [i for i in range(12) if (i >= 8 if key == "words" else i % 3 == 2)]
    row = next(i for i in in_part if (i in seen) == looked_up)
    bad = str(tmp_path / "bad")
    shutil.copytree(sampled[1], bad)
    path = os.path.join(bad, "model.keras")
    model = keras.models.load_model(path, compile=False, safe_mode=True)
    layer = model.get_layer(f"embedding_{key}")
    (table,) = layer.get_weights()
    table[row] += 0.5
    layer.set_weights([table])
    model.save(path)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(keras_stream, "STREAM_MIN_BYTES", 0)
        report = verify_conversion(ps_checkpoint["prefix"], bad)
    failed = {c.what for c in report.checks if not c.max_abs_diff <= report.tolerance}
    assert not report.ok
    assert any(w.startswith(f"whole model embedding embedding_{key} ") for w in failed), failed
    assert ("whole model" in failed) == looked_up, failed
