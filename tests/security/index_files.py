"""Real TF1 checkpoints and a writer for edited ``.index`` tables (LevelDB table layout, one uncompressed block)."""
from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import numpy as np

from migration.core.bundle_stream import parse_table

_MAGIC = 0xDB4775248B80FB57


def save_checkpoint(directory: Path, seed: int = 0) -> str:
    """A real ``tf.compat.v1.train.Saver`` checkpoint of an embedding, an LSTM kernel/bias and a string; its prefix."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.Variable(rng.normal(0, 1, (7, 3)).astype(np.float32), name="emb")
        tf.compat.v1.Variable(rng.normal(0, 1, (5, 8)).astype(np.float32), name="rnn/basic_lstm_cell/kernel")
        tf.compat.v1.Variable(rng.normal(0, 1, (8,)).astype(np.float32) + 0.5, name="rnn/basic_lstm_cell/bias")
        tf.compat.v1.Variable(np.int64(42), name="global_step")
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return saver.save(sess, str(directory / "model.ckpt"), write_meta_graph=False)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in entries)
    return body + struct.pack("<I", 0) + struct.pack("<I", 1)


def _trailer(block: bytes) -> bytes:
    import google_crc32c

    crc = int.from_bytes(google_crc32c.Checksum(block + b"\x00").digest(), "big")
    masked = ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    return b"\x00" + struct.pack("<I", masked)


def write_table(path: str, table: dict[bytes, bytes]) -> None:
    """A TF table file holding ``table`` (keys sorted) that TensorFlow's reader opens."""
    entries = sorted(table.items())
    data = _block(entries)
    meta = _block([])
    out = bytearray(data + _trailer(data))
    meta_off = len(out)
    out += meta + _trailer(meta)
    index = _block([(entries[-1][0], _varint(0) + _varint(len(data)))])
    index_off = len(out)
    out += index + _trailer(index)
    handles = _varint(meta_off) + _varint(len(meta)) + _varint(index_off) + _varint(len(index))
    out += handles + b"\x00" * (40 - len(handles)) + struct.pack("<Q", _MAGIC)
    with open(path, "wb") as f:
        f.write(bytes(out))


def read_entries(prefix: str) -> dict[bytes, bytes]:
    with open(prefix + ".index", "rb") as f:
        return parse_table(f.read())


def copy_with_index(prefix: str, directory: Path, table: dict[bytes, bytes] | None = None,
                    raw: bytes | None = None) -> str:
    """Copy the checkpoint to ``directory`` with its index replaced by ``table`` (re-encoded) or ``raw`` bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    new = str(directory / os.path.basename(prefix))
    for suffix in (".data-00000-of-00001",):
        shutil.copyfile(prefix + suffix, new + suffix)
    if raw is not None:
        Path(new + ".index").write_bytes(raw)
    else:
        write_table(new + ".index", table if table is not None else read_entries(prefix))
    with open(os.path.join(directory, "checkpoint"), "w") as f:
        f.write(f'model_checkpoint_path: "{os.path.basename(prefix)}"\n')
    return new


def edit_entry(table: dict[bytes, bytes], name: str, **fields) -> dict[bytes, bytes]:
    """``table`` with the ``BundleEntryProto`` of ``name`` changed: ``shape=[...]``, ``offset``, ``size``,
    ``shard_id``, ``dtype``."""
    from tensorflow.core.protobuf import tensor_bundle_pb2 as pb

    entry = pb.BundleEntryProto.FromString(table[name.encode()])
    if "shape" in fields:
        del entry.shape.dim[:]
        for d in fields.pop("shape"):
            entry.shape.dim.add(size=d)
    for key, value in fields.items():
        setattr(entry, key, value)
    return {**table, name.encode(): entry.SerializeToString()}


def edit_header(table: dict[bytes, bytes], **fields) -> dict[bytes, bytes]:
    from tensorflow.core.protobuf import tensor_bundle_pb2 as pb

    header = pb.BundleHeaderProto.FromString(table[b""])
    for key, value in fields.items():
        setattr(header, key, value)
    return {**table, b"": header.SerializeToString()}
