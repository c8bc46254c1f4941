"""migration.core.tfproto on real Saver checkpoints, cross-checked against TensorFlow reading the same files:
index entries (dtype, shape, shard, offset, size, CRC32C, slices), the .meta's MetaGraphDef, every Const's value,
partitioned variables and the `checkpoint` state file; the readers run in a process that never imports
TensorFlow; damaged and hostile files raise MigrationError (exhaustive byte flips, hypothesis mutations, FIFOs)."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow.core.framework import variable_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from migration.core.errors import MigrationError
from migration.core.tfproto import (BundleEntryProto, BundleHeaderProto, latest_checkpoint, make_ndarray,
                                    read_index, read_meta, slice_infos)
from migration.core.tfproto.bundle import decode_slice_key
from migration.core.tfproto.table import masked_crc32c, parse_table, read_table
from migration.graph.graphdef import slice_infos as tf_slice_infos
from tests.checkpoint import ground_truth_graphs as gt
from tests.checkpoint.tfproto_graphs import build_dtypes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FROM_CKPTS = ["seed004", "seed004_glove", "partitioned_mod", "partitioned_div", "bidi_projection", "gru_encoder"]
OWN = {"dtypes": build_dtypes, "ptb_tf1": lambda d: gt.build_ptb(d, tf1_form=True),
       "ptb_tf2": lambda d: gt.build_ptb(d, tf1_form=False)}
ALL = FROM_CKPTS + list(OWN)


@pytest.fixture(scope="session")
def files(ckpts, tmp_path_factory):
    root = tmp_path_factory.mktemp("tfproto")
    built: dict = {}

    def get(name: str) -> str:
        if name not in built:
            built[name] = ckpts[name] if name in ckpts_names else OWN[name](root / name)
        return built[name]

    ckpts_names = set(FROM_CKPTS)
    return get


def _shard_path(prefix: str, shard: int, shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{shards:05d}"


def _stored_bytes(prefix: str, index, entry) -> bytes:
    with open(_shard_path(prefix, entry.shard, index.num_shards), "rb") as f:
        f.seek(entry.offset)
        return f.read(entry.size)


@pytest.mark.parametrize("name", ALL)
def test_index_equals_tensorflow(files, name):
    """Every variable's dtype and shape as TensorFlow's reader lists them; every stored entry's bytes at its
    shard/offset/size carry its CRC32C and hold TensorFlow's value (slices: the matching block of the full value)."""
    prefix = files(name)
    index = read_index(prefix + ".index")
    reader = tf.train.load_checkpoint(prefix)
    assert {k: tuple(v) for k, v in reader.get_variable_to_shape_map().items()} == index.shape_map()
    assert {k: v.name for k, v in reader.get_variable_to_dtype_map().items()} == index.dtype_map()
    wholes = [((e.name, None), e) for e in index.variables.values() if not e.slices]
    for (key, extents), piece in wholes + list(index.pieces.items()):
        raw = _stored_bytes(prefix, index, piece)
        assert len(raw) == piece.size, key
        if piece.dtype_name == "string":
            continue  # stored as varint lengths + a CRC of its own + bytes; TF's CRC covers another encoding
        assert masked_crc32c(raw) == piece.crc32c, key
        full = reader.get_tensor(key)
        expected = full if extents is None else full[tuple(slice(s, s + n) for s, n in extents)]
        assert raw == np.ascontiguousarray(expected).tobytes(), key
    if name in ("dtypes", "partitioned_mod"):  # the fixtures this test must exercise
        assert index.pieces and (name != "dtypes" or index.num_shards > 1)


@pytest.mark.parametrize("name", ALL)
def test_meta_equals_tensorflow(files, name):
    """The parsed MetaGraphDef written back equals TensorFlow's parse of the same bytes (every node, function,
    attr, collection); the partitioned variables' save_slice_info and every Const's value agree too."""
    path = files(name) + ".meta"
    with open(path, "rb") as f:
        raw = f.read()
    theirs = meta_graph_pb2.MetaGraphDef.FromString(raw)
    ours = read_meta(path)
    assert meta_graph_pb2.MetaGraphDef.FromString(ours.SerializeToString()) == theirs
    assert list(slice_infos(ours)) == list(tf_slice_infos(theirs))
    graphs = [(ours.graph_def.node, theirs.graph_def.node)] + [
        (f.node_def, g.node_def) for f, g in zip(ours.graph_def.library.function, theirs.graph_def.library.function)]
    checked = 0
    for our_nodes, their_nodes in graphs:
        for node, tf_node in zip(our_nodes, their_nodes):
            assert (node.name, node.op, list(node.input)) == (tf_node.name, tf_node.op, list(tf_node.input))
            if node.op == "Const":
                value, expected = make_ndarray(node.attr["value"].tensor), tf.make_ndarray(tf_node.attr["value"].tensor)
                assert value.dtype == expected.dtype and value.shape == expected.shape, node.name
                assert value.tolist() == expected.tolist() if value.dtype == object else \
                    value.tobytes() == expected.tobytes(), node.name
                checked += 1
    assert checked > 0
    if name in ("dtypes", "ptb_tf2"):  # TF 2.x control flow: Consts inside library functions were compared too
        assert any(n.op == "Const" for f in ours.graph_def.library.function for n in f.node_def)


def test_slices_equal_the_graphs_save_slice_info(files):
    """Each partition's extents in the index are its var_offset/var_shape in the graph's VariableDef (TF parse)."""
    for name in ("dtypes", "partitioned_mod", "partitioned_div"):
        prefix = files(name)
        index = read_index(prefix + ".index")
        theirs = meta_graph_pb2.MetaGraphDef.FromString(open(prefix + ".meta", "rb").read())
        expected: dict = {}
        for raw in theirs.collection_def["variables"].bytes_list.value:
            info = variable_pb2.VariableDef.FromString(raw).save_slice_info_def
            if info.full_name:
                expected.setdefault(info.full_name, set()).add(tuple(zip(info.var_offset, info.var_shape)))
        assert expected
        for full, extents in expected.items():
            got = {tuple((s, d if n == -1 else n) for (s, n), d in zip(e, index.variables[full].shape))
                   for e in index.variables[full].slices}
            assert got == extents, full


def test_latest_checkpoint_equals_tensorflow(files, tmp_path):
    for name in ("seed004", "dtypes"):
        directory = os.path.dirname(files(name))
        assert latest_checkpoint(directory) == tf.train.latest_checkpoint(directory)
    # relative and absolute paths, a prefix whose files are gone, no state file
    prefix = files("seed004")
    (tmp_path / "checkpoint").write_text(f'model_checkpoint_path: "{prefix}"\n')
    assert latest_checkpoint(str(tmp_path)) == tf.train.latest_checkpoint(str(tmp_path)) == prefix
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "gone.ckpt"\n')
    assert latest_checkpoint(str(tmp_path)) is None and tf.train.latest_checkpoint(str(tmp_path)) is None
    (tmp_path / "checkpoint").write_text("model_checkpoint_path: [1, 2\n")
    with pytest.raises(MigrationError, match="checkpoint state file"):
        latest_checkpoint(str(tmp_path))
    (tmp_path / "checkpoint").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(MigrationError, match="checkpoint state file"):
        latest_checkpoint(str(tmp_path))
    os.remove(tmp_path / "checkpoint")
    assert latest_checkpoint(str(tmp_path)) is None


_CHILD = """
import json, sys
from migration.core.tfproto import latest_checkpoint, make_ndarray, read_index, read_meta
prefix = latest_checkpoint(sys.argv[1])
index = read_index(prefix + ".index")
meta = read_meta(prefix + ".meta")
nodes = list(meta.graph_def.node) + [n for f in meta.graph_def.library.function for n in f.node_def]
total = sum(float(make_ndarray(n.attr["value"].tensor).astype(float).sum()) for n in nodes
            if n.op == "Const" and n.attr["value"].tensor.dtype in (1, 2, 3, 9, 19))
print(json.dumps({"shapes": {k: list(v) for k, v in index.shape_map().items()}, "consts": total,
                  "tf": sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tf_keras", "keras"))}))
"""


@pytest.mark.parametrize("name", ["seed004_glove", "dtypes"])
def test_readers_run_without_tensorflow(files, name):
    """A fresh process reads the index, the .meta and every Const, and never imports TensorFlow or Keras; its
    results equal TensorFlow's in this process."""
    prefix = files(name)
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", _CHILD, os.path.dirname(prefix)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["tf"] == []
    reader = tf.train.load_checkpoint(prefix)
    assert result["shapes"] == {k: list(v) for k, v in reader.get_variable_to_shape_map().items()}
    theirs = meta_graph_pb2.MetaGraphDef.FromString(open(prefix + ".meta", "rb").read())
    nodes = list(theirs.graph_def.node) + [n for f in theirs.graph_def.library.function for n in f.node_def]
    expected = sum(float(tf.make_ndarray(n.attr["value"].tensor).astype(float).sum()) for n in nodes
                   if n.op == "Const" and n.attr["value"].tensor.dtype in (1, 2, 3, 9, 19))
    assert result["consts"] == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------------------------------- damaged and hostile

def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def write_table(entries: list[tuple[bytes, bytes]], per_block: int = 3) -> bytes:
    """A table file as TensorFlow's TableBuilder lays it out (uncompressed, a restart at every entry)."""
    out = bytearray()

    def emit(items) -> bytes:
        body = bytearray()
        restarts = []
        for key, value in items:
            restarts.append(len(body))
            body += _varint(0) + _varint(len(key)) + _varint(len(value)) + key + value
        restarts = restarts or [0]
        body += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
        offset = len(out)
        out.extend(body + b"\x00" + struct.pack("<I", masked_crc32c(bytes(body) + b"\x00")))
        return _varint(offset) + _varint(len(body))

    handles = [(items[-1][0], emit(items)) for items in
               (entries[k:k + per_block] for k in range(0, len(entries), per_block))]
    metaindex = emit([])
    footer = metaindex + emit(handles)
    out += footer + b"\x00" * (40 - len(footer)) + struct.pack("<Q", 0xDB4775248B80FB57)
    return bytes(out)


def _index_with(prefix: str, tmp_path, change) -> str:
    """A copy of ``prefix``'s files whose index entries went through ``change(list of (key, value))``."""
    entries = read_table(prefix + ".index")
    change(entries)
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / "model.ckpt"
    out.with_suffix(".ckpt.index").write_bytes(write_table(entries))
    for f in os.listdir(os.path.dirname(prefix)):
        if f.startswith(os.path.basename(prefix) + ".data-"):
            os.symlink(os.path.join(os.path.dirname(prefix), f), str(tmp_path / f.replace(
                os.path.basename(prefix), "model.ckpt")))
    return str(out)


def test_table_writer_round_trip_is_read_by_tensorflow(files, tmp_path):
    """The test's table writer is faithful: TensorFlow reads its re-encoding of a real index (control for the
    hostile indexes below, which differ from it in one defect only)."""
    prefix = _index_with(files("dtypes"), tmp_path, lambda entries: None)
    assert tf.train.load_checkpoint(prefix).get_variable_to_shape_map().keys() == \
        read_index(prefix + ".index").variables.keys()


def _edit(name: str, **fields):
    def change(entries):
        for k, (key, value) in enumerate(entries):
            if key == name.encode():
                proto = BundleEntryProto.FromString(value)
                for field, v in fields.items():
                    setattr(proto, field, v)
                entries[k] = (key, proto.SerializeToString())
    return change


def _drop_piece(entries):
    first_slice = next(k for k, (key, _) in enumerate(entries) if key.startswith(b"\x00"))
    del entries[first_slice]


def _header(entries):
    entries[0] = (b"", BundleHeaderProto(num_shards=0).SerializeToString())


@pytest.mark.parametrize("change, pattern", [
    (_edit("var_float32", size=23), "says 23 bytes, its shape needs 24"),
    (_edit("var_float32", shard_id=7), "shard 7 of 3"),
    (_edit("var_float32", offset=-4), "offset -4"),
    (_drop_piece, "which is not stored"),
    (_header, "0 shards"),
    (lambda entries: entries.pop(0), "no bundle header"),
    (lambda entries: entries.insert(1, (b"\x00bad", b"")), "not a tensor name or slice key"),
    (lambda entries: entries.append((b"zz", b"\xff\xff")), "not a BundleEntryProto"),
])
def test_hostile_index_entries(files, tmp_path, change, pattern):
    prefix = _index_with(files("dtypes"), tmp_path, change)
    with pytest.raises(MigrationError, match=pattern) as info:
        read_index(prefix + ".index")
    assert prefix + ".index" in str(info.value)


def test_slice_outside_shape_and_orphan_slice(files, tmp_path):
    def shrink(entries):  # 'wide' [4, 9] claims to be [4, 8]: its last slice [6, 9) no longer fits
        for k, (key, value) in enumerate(entries):
            if key == b"wide":
                proto = BundleEntryProto.FromString(value)
                proto.shape.dim[1].size = 8
                entries[k] = (key, proto.SerializeToString())
    with pytest.raises(MigrationError, match="lies outside its shape"):
        read_index(_index_with(files("dtypes"), tmp_path / "a", shrink) + ".index")

    def retype(entries):  # the first stored slice claims float64 while its variable is float32
        k = next(k for k, (key, _) in enumerate(entries) if key.startswith(b"\x00"))
        proto = BundleEntryProto.FromString(entries[k][1])
        proto.dtype = 2
        proto.size *= 2
        entries[k] = (entries[k][0], proto.SerializeToString())
    with pytest.raises(MigrationError, match="is stored as float64"):
        read_index(_index_with(files("dtypes"), tmp_path / "c", retype) + ".index")

    def orphan(entries):  # the full entry of 'tall' is gone, its slices stay
        entries[:] = [e for e in entries if e[0] != b"tall"]
    with pytest.raises(MigrationError, match="which no variable entry lists"):
        read_index(_index_with(files("dtypes"), tmp_path / "b", orphan) + ".index")


def test_every_single_byte_flip_is_caught_or_harmless(files, tmp_path):
    """Flip each byte of a real index in turn: the reader raises MigrationError or returns exactly the original
    (the footer's padding is unused); a flip inside any block is always caught (CRC)."""
    data = open(files("partitioned_mod") + ".index", "rb").read()
    original = parse_table(data)
    caught = 0
    for pos in range(len(data)):
        path = tmp_path / "flip.index"
        path.write_bytes(data[:pos] + bytes([data[pos] ^ 0x5A]) + data[pos + 1:])
        try:
            result = read_index(str(path))
        except MigrationError:
            caught += 1
            continue
        assert pos >= len(data) - 48, f"flip at byte {pos} (inside a block) not caught"
        assert parse_table(path.read_bytes()) == original
    assert caught >= len(data) - 48


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzzed_index_only_parses_or_raises(files, tmp_path, data):
    raw = bytearray(open(files("dtypes") + ".index", "rb").read())
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["set", "cut", "insert"]))
        pos = data.draw(st.integers(0, len(raw) - 1))
        if op == "set":
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[pos:pos + data.draw(st.integers(1, 64))]
        elif op == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
        if not raw:
            break
    path = tmp_path / "fuzz.index"
    path.write_bytes(bytes(raw))
    try:
        read_index(str(path))
    except MigrationError:
        pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzzed_meta_only_parses_or_raises(files, tmp_path, data):
    """Mutated .meta bytes: parsed (then every Const read or refused) or MigrationError, nothing else."""
    raw = bytearray(open(files("seed004") + ".meta", "rb").read())
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        del raw[data.draw(st.integers(0, len(raw) - 1)):]
    path = tmp_path / "fuzz.meta"
    path.write_bytes(bytes(raw))
    try:
        meta = read_meta(str(path))
    except MigrationError:
        return
    for node in meta.graph_def.node:
        if node.op == "Const":
            try:
                make_ndarray(node.attr["value"].tensor, max_elements=1 << 22)
            except MigrationError:
                pass


def test_non_regular_and_oversized_files(files, tmp_path):
    fifo = tmp_path / "pipe.index"
    os.mkfifo(fifo)
    with pytest.raises(MigrationError, match="not a regular file"):
        read_index(str(fifo))
    with pytest.raises(MigrationError, match="not a regular file"):
        read_meta(str(fifo))
    with pytest.raises(MigrationError, match="not a regular file"):
        read_meta(str(tmp_path))
    with pytest.raises(MigrationError, match="more than the limit"):
        read_index(files("seed004") + ".index", max_bytes=100)
    with pytest.raises(MigrationError, match="more than the limit"):
        read_meta(files("seed004") + ".meta", max_bytes=1000)
    garbage = tmp_path / "garbage.meta"
    garbage.write_bytes(b"\x0a\xff\xff\xff\xff\x0f" + b"x" * 10)
    with pytest.raises(MigrationError, match="garbage.meta"):
        read_meta(str(garbage))
    with pytest.raises(MigrationError, match=r"as a MetaGraphDef \(.*\)\. Pass --forget-bias\.$"):
        read_meta(str(garbage), remedy="Pass --forget-bias.")


def test_compressed_block_refused(files, tmp_path):
    """A block marked Snappy-compressed (with a valid CRC over the new type byte) is refused by name."""
    data = bytearray(open(files("seed004") + ".index", "rb").read())
    footer = len(data) - 48
    from migration.core.tfproto.table import varint
    _, pos = varint(data, footer, len(data))
    _, pos = varint(data, pos, len(data))
    offset, pos = varint(data, pos, len(data))
    size, _ = varint(data, pos, len(data))
    data[offset + size] = 1
    data[offset + size + 1:offset + size + 5] = struct.pack("<I", masked_crc32c(bytes(data[offset:offset + size + 1])))
    path = tmp_path / "snappy.index"
    path.write_bytes(bytes(data))
    with pytest.raises(MigrationError, match="compressed"):
        read_index(str(path))


def test_slice_keys_decode_like_the_encoder():
    """decode_slice_key inverts the project's independent encoder (stream.slice_key) and TF's -1 (full extent)."""
    from migration.core.bundle_stream import slice_key

    for name, extents in [("emb", [(0, 3), (0, 5)]), ("a\x00b\xffc/d", [(7, 1)]), ("x", []),
                          ("big", [(1 << 40, 3), (63, 64), (64, 8191), (8192, 1 << 20)])]:
        assert decode_slice_key(slice_key(name, extents)) == (name, tuple(extents))
    # OrderedCode::WriteSignedNumIncreasing(-1) is the single byte 0x80 ^ 0xff = 0x7f
    assert decode_slice_key(b"\x00v\x00\x01\x01\x02" + b"\x80\x7f" + b"\x82\x7f") == ("v", ((0, -1), (2, -1)))


@pytest.mark.parametrize("name", ALL)
def test_existing_inspect_code_runs_unchanged_on_these_messages(files, name, monkeypatch):
    """Today's `.meta` reader (migration.checkpoint.meta: node.op, node.attr[...].f/.type/.shape, attr.func.name,
    graph_def.library.function, fdef.signature.name, fdef.node_def, collection_def ...) given this package's
    MetaGraphDef and make_ndarray in place of TensorFlow's gives the same inspect report."""
    import migration.core.tfproto as tp
    from migration.checkpoint.meta import load_meta
    from migration.checkpoint.recognize import inspect_checkpoint

    prefix = files(name)
    expected = inspect_checkpoint(prefix).to_dict()
    monkeypatch.setattr(meta_graph_pb2, "MetaGraphDef", tp.MetaGraphDef)
    monkeypatch.setattr(tf, "make_ndarray", tp.make_ndarray)
    assert all(isinstance(node, tp.NodeDef) for node in load_meta(prefix).main.values())  # really ours
    assert inspect_checkpoint(prefix).to_dict() == expected
