"""Flat-memory tensor copies (issue 15): sliced reads of the bundle give files byte-identical to ``np.save`` of the
whole tensor read by TensorFlow, for plain and partitioned variables, with and without the ``mod`` permutation,
at any chunk size; damaged data is caught by the CRC; memory stays bounded by the chunk size."""
from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import tf, v1
from migration.core import bundle_stream as stream
from migration.checkpoint.reader import CheckpointReader
from migration.converters import mod_partition_permutation
from migration.core.errors import MigrationError
from tests.checkpoint.tf1_values import FAST

#: name -> (shape, dtype, partitions); every numeric one must take the streaming path
VARIABLES = {
    "emb/plain": ((37, 6), tf.float32, 1),
    "emb/parts": ((41, 5), tf.float32, 4),  # fixed_size_partitioner(4): 11, 10, 10, 10 rows
    "deep/kernel": ((3, 4, 5), tf.float32, 1),
    "wide/bias": ((9,), tf.float64, 1),
    "half/w": ((7, 3), tf.float16, 1),
    "ids/table": ((13, 2), tf.int32, 1),
    "global_step": ((), tf.int64, 1),
}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> str:
    directory = tmp_path_factory.mktemp("stream")
    with legacy_rnn.new_graph(3) as graph:
        for name, (shape, dtype, parts) in VARIABLES.items():
            partitioner = v1.fixed_size_partitioner(parts) if parts > 1 else None
            v1.get_variable(name, shape, dtype=dtype, partitioner=partitioner, initializer=v1.zeros_initializer())
        v1.Variable([b"a", b"bc"], name="vocab/words")  # a string tensor: not streamed, read through TF
        sess = v1.Session(graph=graph, config=FAST)
        legacy_rnn.initialize(sess)
        rng = np.random.default_rng(11)
        for var in v1.global_variables():  # the parts of a partitioned variable are variables of their own
            dtype = var.dtype.base_dtype
            if dtype == tf.string:
                continue
            shape = var.shape.as_list()
            values = rng.integers(-1000, 1000, shape) if dtype.is_integer else rng.standard_normal(shape) * 7 + 0.25
            var.load(np.asarray(values, dtype=dtype.as_numpy_dtype), sess)
        return v1.train.Saver().save(sess, str(directory / "model.ckpt"))


def _reference(reader: CheckpointReader, name: str, perm, path: str) -> bytes:
    """``np.save`` of the whole tensor as TensorFlow's reader returns it (assembled from its parts), permuted."""
    whole = reader.read(name)
    np.save(path, whole if perm is None else whole[perm])
    with open(path, "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("name", sorted(VARIABLES))
def test_streamed_npy_is_byte_identical_to_whole_tensor_save(ckpt, tmp_path, name):
    reader = CheckpointReader(ckpt)
    layout = stream.open_index(reader.prefix, reader.data_files).layout(name)
    assert layout is not None, "this variable must take the streaming path"
    assert len(layout.pieces) == VARIABLES[name][2]
    rows = reader.variables[name].shape[0] if reader.variables[name].shape else 1
    perms = [None]
    if rows > 1:
        perms.append(mod_partition_permutation(rows, 3))  # the 'mod' permutation
        perms.append(np.random.default_rng(5).permutation(rows))  # any permutation: rows gathered across parts
    for k, perm in enumerate(perms):
        expected = _reference(reader, name, perm, str(tmp_path / f"ref{k}.npy"))
        for chunk_bytes in (1, layout.row_bytes * 3 + 1, 1 << 20):  # 1 row, 3 rows, everything at once
            out = str(tmp_path / f"out{k}_{chunk_bytes}.npy")
            dtype = reader.write_npy(name, out, perm, chunk_bytes=chunk_bytes)
            with open(out, "rb") as handle:
                assert handle.read() == expected, (name, k, chunk_bytes)
            assert dtype == str(reader.read(name).dtype)
    if rows > 1:  # control: the permutation really moves rows
        assert _reference(reader, name, None, str(tmp_path / "a.npy")) != \
            _reference(reader, name, np.arange(rows)[::-1], str(tmp_path / "b.npy"))


def test_partitioned_mod_embedding_of_the_suite_streams_exactly(ckpts, tmp_path):
    """The suite's 'mod' checkpoint (get_variable partitioned in 3, looked up with 'mod'): streamed == TF read."""
    reader = CheckpointReader(ckpts["partitioned_mod"])
    layout = stream.open_index(reader.prefix, reader.data_files).layout("emb")
    assert layout is not None and len(layout.pieces) == 3
    perm = mod_partition_permutation(10, 3)
    reader.write_npy("emb", str(tmp_path / "emb.npy"), perm, chunk_bytes=1)
    np.testing.assert_array_equal(np.load(tmp_path / "emb.npy"), reader.read("emb")[perm])


def test_string_tensor_falls_back_to_tensorflow(ckpt, tmp_path):
    reader = CheckpointReader(ckpt)
    assert stream.open_index(reader.prefix, reader.data_files).layout("vocab/words") is None
    with pytest.raises(ValueError, match="pickle"):  # object arrays are never pickled into an output
        reader.write_npy("vocab/words", str(tmp_path / "w.npy"))


def test_slice_keys_are_tensorflows():
    # EncodeTensorNameSlice as found in a real index: 'emb' rows 334..666 of [1000, 5]
    assert stream.slice_key("emb", [(334, 333), (0, 5)]) == b"\x00emb\x00\x01\x01\x02\xc1N\xc1M\x80\x85"
    assert stream.slice_key("a\x00b", [(0, 1)]) == b"\x00a\x00\xffb\x00\x01\x01\x01\x80\x81"


@pytest.fixture
def damaged(ckpt, tmp_path):
    """A copy of the checkpoint and the byte offset of ``emb/plain``'s data."""
    from tests.checkpoint.conftest import copy_checkpoint

    prefix = copy_checkpoint(ckpt, tmp_path / "copy")
    reader = CheckpointReader(prefix)
    piece = stream.open_index(reader.prefix, reader.data_files).layout("emb/plain").pieces[0]
    return prefix, reader, piece


def test_flipped_byte_is_caught_by_the_crc(damaged, tmp_path):
    prefix, reader, piece = damaged
    out = str(tmp_path / "e.npy")
    reader.write_npy("emb/plain", out, chunk_bytes=64)  # control: intact data passes
    with open(piece.file, "r+b") as handle:
        handle.seek(piece.offset + piece.size // 2)
        byte = handle.read(1)
        handle.seek(piece.offset + piece.size // 2)
        handle.write(bytes([byte[0] ^ 0x10]))
    for perm in (None, mod_partition_permutation(37, 3)):
        with pytest.raises(MigrationError, match=r"Checksum mismatch for 'emb/plain' in .*data-00000-of-00001"):
            reader.write_npy("emb/plain", out, perm, chunk_bytes=64)


def test_truncated_data_is_a_clear_error(damaged, tmp_path):
    prefix, reader, piece = damaged
    os.truncate(piece.file, piece.offset + 10)
    with pytest.raises(MigrationError, match=r"ends early while reading 'emb/plain'.*re-copy"):
        reader.write_npy("emb/plain", str(tmp_path / "e.npy"), chunk_bytes=64)


def test_memory_is_bounded_by_the_chunk_not_the_tensor(tmp_path):
    """A 12 MB tensor copied in 256 KiB chunks allocates a small multiple of the chunk (NumPy allocations traced)."""
    rows, cols = 12_000, 250
    data = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32)
    src = tmp_path / "raw.bin"
    data.tofile(src)
    import google_crc32c

    crc = stream._mask(google_crc32c.value(data.tobytes()))
    layout = stream.TensorLayout("big", np.dtype("<f4"), (rows, cols),
                                 (stream.Piece(0, rows, str(src), 0, data.nbytes, crc),))
    del data
    chunk = 1 << 18
    for perm in (None, mod_partition_permutation(rows, 7)):
        tracemalloc.start()
        stream.copy_to_npy(layout, str(tmp_path / "out.npy"), perm, chunk_bytes=chunk)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 8 * chunk + (perm.nbytes if perm is not None else 0), peak
        back = np.load(tmp_path / "out.npy")
        expected = np.fromfile(src, np.float32).reshape(rows, cols)
        np.testing.assert_array_equal(back, expected if perm is None else expected[perm])
    tracemalloc.start()  # control: the whole-tensor way does show up in the same measure
    np.fromfile(src, np.float32)
    assert tracemalloc.get_traced_memory()[1] >= rows * cols * 4
    tracemalloc.stop()


def test_flat_comparison_helpers_find_a_changed_row(ckpt, tmp_path):
    """iter_rows (checkpoint side) against iter_npy_rows (output side), chunk by chunk: what a flat verify uses."""
    reader = CheckpointReader(ckpt)
    layout = reader.layout("emb/parts")
    assert layout is not None and reader.layout("vocab/words") is None
    perm = mod_partition_permutation(41, 4)
    out = str(tmp_path / "e.npy")
    reader.write_npy("emb/parts", out, perm)

    def worst(path: str) -> float:
        diffs = [float(np.max(np.abs(ref - got)))
                 for (a, ref), (b, got) in zip(stream.iter_rows(layout, perm, chunk_bytes=60),
                                               stream.iter_npy_rows(path, chunk_bytes=60))
                 if a == b]
        assert len(diffs) == 14  # 41 rows, 3 rows (60 bytes) per chunk
        return max(diffs)

    assert worst(out) == 0.0
    changed = np.load(out)
    changed[40, 4] += 0.5  # negative control: the last row of the last chunk
    np.save(out, changed)
    assert worst(out) == pytest.approx(0.5)


def test_convert_of_a_damaged_embedding_exits_2_and_leaves_nothing(ckpts, tmp_path, capsys):
    from tests.checkpoint.conftest import copy_checkpoint, run_cli

    prefix = copy_checkpoint(ckpts["partitioned_mod"], tmp_path / "src")
    reader = CheckpointReader(prefix)
    piece = reader.layout("emb").pieces[1]
    with open(piece.file, "r+b") as handle:
        handle.seek(piece.offset)
        first = handle.read(1)
        handle.seek(piece.offset)
        handle.write(bytes([first[0] ^ 0x01]))
    out = tmp_path / "out"
    assert run_cli("convert", prefix, out, "--quiet", "--no-verify") == 2
    err = capsys.readouterr().err
    assert "Checksum mismatch for 'emb'" in err and "re-copy" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["src"]  # no partial output


def test_a_failing_block_stops_the_embedding_copy_thread(ckpts, tmp_path, monkeypatch):
    """convert copies embeddings in a thread beside the block builds: when a block fails, the copy stops at its next
    chunk (instead of finishing a possibly huge tensor before the error surfaces) and nothing is left behind."""
    import threading
    import time

    from migration.checkpoint import convert as C

    reads: list[int] = []
    started = threading.Event()
    real_read_range = stream._read_range

    def slow_read_range(reader, a, b, out):
        reads.append(a)
        started.set()
        time.sleep(0.02)
        real_read_range(reader, a, b, out)

    def failing_block(self, block):
        assert started.wait(60)
        raise RuntimeError("block failed")

    monkeypatch.setattr(stream, "_read_range", slow_read_range)
    monkeypatch.setattr(stream, "CHUNK_BYTES", 20)  # seed004's embedding (20 x 5 float32): one row per chunk
    monkeypatch.setattr(C._Converter, "block", failing_block)
    with pytest.raises(RuntimeError, match="block failed"):
        C.convert_checkpoint(ckpts["seed004"], tmp_path / "out", verify=False)
    assert 1 <= len(reads) < 20, reads  # without the cancel all 20 chunks are copied before the error surfaces
    assert list(tmp_path.iterdir()) == []


def test_damaged_index_bytes_never_raise_from_the_bundle_parser(ckpt, tmp_path):
    """Random byte flips and truncations of a real .index: the parser answers None (fall back to TensorFlow, which
    then reports the damage) or a layout, never an exception; an intact copy still parses (control)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.checkpoint.conftest import copy_checkpoint

    prefix = copy_checkpoint(ckpt, tmp_path / "copy")
    data_files = CheckpointReader(prefix).data_files
    original = open(prefix + ".index", "rb").read()
    assert all(stream.open_index(prefix, data_files).layout(n) is not None for n in VARIABLES)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(flips=st.lists(st.tuples(st.integers(0, len(original) - 1), st.integers(1, 255)), max_size=4),
           cut=st.integers(0, len(original)))
    def check(flips, cut):
        damaged = bytearray(original)
        for pos, xor in flips:
            damaged[pos] ^= xor
        with open(prefix + ".index", "wb") as handle:
            handle.write(bytes(damaged[:cut] if cut < 48 else damaged))
        index = stream.open_index(prefix, data_files)
        if index is not None:
            for name in list(VARIABLES) + ["vocab/words", "missing"]:
                layout = index.layout(name)
                assert layout is None or isinstance(layout, stream.TensorLayout)

    check()
