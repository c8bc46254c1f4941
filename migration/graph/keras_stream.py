"""The whole model's large embeddings without holding them: written to ``model.keras`` and read back row by row.

Writing (:func:`save_streamed`): ``tf_keras`` saves a ``.keras`` archive by building every weight in memory, then
the whole ``model.weights.h5`` in a ``BytesIO``, then a copy of it in the zip: three times an embedding's size.
Instead each large ``Embedding`` is built at a stub size of one row (:class:`Streamed` records which checkpoint
tensor it stands for), the model is saved as usual into a scratch archive (small), and the final archive is written
once, in place:

* ``config.json``: the saved config with each stub layer's ``input_dim`` set to the real row count;
* ``model.weights.h5``: the saved weights (copied with ``h5py``) with each stub dataset replaced by a contiguous
  ``float32`` dataset of the real shape, filled in row chunks straight from the checkpoint's bytes
  (:func:`migration.core.bundle_stream.iter_rows`: CRC-checked, ``mod``-partition rows gathered per chunk);
* layout: the archive file IS the HDF5 file, created with a user block (bytes HDF5 reserves at the start of a file
  and never touches) that holds the small members (``metadata.json``, ``config.json``) and the local header of
  ``model.weights.h5``, padded with an extra field to end exactly where the HDF5 data begins; the CRC-32 of the
  HDF5 bytes goes into that header afterwards and the central directory (zip64 when needed) is appended. Every
  member is ``ZIP_STORED``, as ``tf_keras`` writes them. So the weights are written once, never held.

The result loads with ``safe_mode=True`` and holds exactly what ``model.save`` would have written (configs equal,
weights byte-equal: ``tests/checkpoint/test_keras_stream.py``).

Reading (:func:`load_sampled`, for ``verify``): the archive's config is deserialized with each large ``Embedding``
replaced by :class:`SampledEmbedding`, which holds only the rows of a given id set, read from the h5 dataset with
one fancy-indexed ``h5py`` read; every other weight is loaded as ``tf_keras`` does. The h5 member is opened in
place (a stored zip member is a byte range of the archive: :class:`MemberFile`), not through ``zipfile``'s
seek-by-rereading file object. Looking up an id outside the set raises (never a silent zero row).
"""
from __future__ import annotations

import dataclasses
import json
import os
import struct
import zipfile
from typing import Any, Optional, Sequence

import numpy as np

from migration.core.errors import MigrationError

#: Embeddings of at least this many bytes are streamed into ``model.keras`` and sampled by ``verify``.
STREAM_MIN_BYTES = 4 * 1024 * 1024
_WEIGHTS = "model.weights.h5"
_CONFIG = "config.json"


@dataclasses.dataclass
class Streamed:
    """A stub ``Embedding`` layer and the checkpoint rows it stands for (``perm``: ``mod``-partition row order)."""

    layer: Any
    layout: Any  # migration.core.bundle_stream.TensorLayout
    perm: Optional[np.ndarray] = None
    h5_path: str = ""  # "/layers/embedding/vars", recorded while the stub model is saved

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.layout.shape[0]), int(self.layout.shape[1])


def stub_embedding(name: str, output_dim: int, trainable: bool = True):
    """A built one-row ``Embedding`` (zeros) standing for a large one until :func:`save_streamed` writes it."""
    from modern_rnn import keras

    layer = keras.layers.Embedding(1, output_dim, name=name, trainable=trainable, embeddings_initializer="zeros")
    layer.build((None,))
    return layer


def _record_paths(streamed: Sequence[Streamed]) -> list:
    """Wrap each stub layer's ``save_own_variables`` to record the h5 group it is saved to; returns undo info."""
    undo = []
    for s in streamed:
        original = s.layer.save_own_variables

        def record(store, _s=s, _original=original):
            _s.h5_path = store.name
            return _original(store)

        object.__setattr__(s.layer, "save_own_variables", record)
        undo.append(s.layer)
    return undo


def _embedding_nodes(config) -> list[tuple[dict, dict]]:
    """``(layer node, its config)`` of every ``Embedding`` in a saved Keras config, nested models included (found
    first, so callers may edit the nodes)."""
    found: list[tuple[dict, dict]] = []

    def walk(obj) -> None:
        if isinstance(obj, dict):
            cfg = obj.get("config")
            if obj.get("class_name") == "Embedding" and isinstance(cfg, dict):
                found.append((obj, cfg))
            for v in obj.values():
                walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    walk(config)
    return found


def _patch_config(raw: bytes, streamed: Sequence[Streamed]) -> bytes:
    config = json.loads(raw)
    want = {s.layer.name: s.shape for s in streamed}
    found: set[str] = set()

    for _, cfg in _embedding_nodes(config):
        if cfg.get("name") in want:
            rows, dim = want[cfg["name"]]
            if cfg.get("input_dim") != 1 or cfg.get("output_dim") != dim:
                raise MigrationError(f"internal error: stub embedding {cfg['name']!r} saved as "
                                     f"({cfg.get('input_dim')}, {cfg.get('output_dim')})")
            cfg["input_dim"] = rows
            found.add(cfg["name"])
    if found != set(want):
        raise MigrationError(f"internal error: stub embeddings {sorted(set(want) - found)} not in the saved config")
    return json.dumps(config).encode()


def _fill_weights(h5_file: str, streamed: Sequence[Streamed], cancelled=lambda: False) -> None:
    import h5py

    from migration.core import bundle_stream as stream

    with h5py.File(h5_file, "r+") as f:
        for s in streamed:
            group = f[s.h5_path]
            if list(group.keys()) != ["0"] or group["0"].shape != (1, s.shape[1]):
                raise MigrationError(f"internal error: stub embedding {s.layer.name!r} saved as {dict(group)!r}")
            del group["0"]
            ds = group.create_dataset("0", shape=s.shape, dtype="<f4")
            for a, chunk in stream.iter_rows(s.layout, s.perm):
                if cancelled():
                    raise MigrationError("cancelled")
                ds[a:a + len(chunk)] = chunk if chunk.dtype == np.float32 else chunk.astype(np.float32)


def save_streamed(model, path: str, streamed: Sequence[Streamed]) -> None:
    """``model.save(path)`` where each ``streamed`` stub layer holds its real rows (see the module docstring).

    The weights are written once, in place: ``path`` is created as an HDF5 file whose user block (bytes HDF5
    reserves and ignores) holds the zip's first members and the local header of ``model.weights.h5``, whose data
    is then the HDF5 file itself; the zip's central directory is appended after it. A scratch stub archive goes
    next to ``path`` (the caller's staging directory) and is removed."""
    if not streamed:
        model.save(path)
        return
    stub = path + ".stub.keras"
    undo = _record_paths(streamed)
    try:
        model.save(stub)
    finally:
        for layer in undo:
            object.__delattr__(layer, "save_own_variables")
    try:
        with zipfile.ZipFile(stub) as src:
            names = [i.filename for i in src.infolist()]
            if names[-1:] != [_WEIGHTS] or _CONFIG not in names:
                raise MigrationError(f"internal error: unexpected members {names} in a saved .keras archive")
            small = [(n, _patch_config(src.read(n), streamed) if n == _CONFIG else src.read(n)) for n in names[:-1]]
            weights = src.read(_WEIGHTS)  # the stub's weights: small (the large embeddings are one row each)
        _write_archive(path, small, weights, streamed)
    finally:
        if os.path.exists(stub):
            os.remove(stub)


def _local_header(name: str, size: int, crc: int, offset: int, zip64: bool, pad: int = -1) -> tuple[zipfile.ZipInfo,
                                                                                                   bytes]:
    import time

    info = zipfile.ZipInfo(name, time.localtime(time.time())[:6])
    info.compress_type, info.external_attr = zipfile.ZIP_STORED, 0o600 << 16
    info.file_size = info.compress_size = size
    info.CRC, info.header_offset = crc, offset
    if pad >= 0:  # an extra field no reader interprets, to end the header exactly where the HDF5 data starts
        info.extra = struct.pack("<HH", 0x7E57, pad) + bytes(pad)
    header = info.FileHeader(zip64)
    info.extra = b""  # the central directory holds no padding
    return info, header


def _write_archive(path: str, small: list[tuple[str, bytes]], stub_weights: bytes, streamed: Sequence[Streamed]) -> None:
    import io
    import zlib

    import h5py

    infos, prefix = [], b""
    for name, data in small:
        info, header = _local_header(name, len(data), zlib.crc32(data), len(prefix), False)
        infos.append(info)
        prefix += header + data
    base = len(prefix) + len(_local_header(_WEIGHTS, 0, 0, 0, True)[1])
    block = 512
    while block - base not in (0,) and block - base < 4:
        block *= 2
    with h5py.File(path, "w", userblock_size=block) as dst, h5py.File(io.BytesIO(stub_weights), "r") as src:
        dst.attrs.update(src.attrs)
        for key in src:
            src.copy(src[key], dst, name=key)
    _fill_weights(path, streamed)
    size, crc = os.path.getsize(path) - block, 0
    with open(path, "rb") as f:
        f.seek(block)
        for piece in iter(lambda: f.read(1 << 24), b""):
            crc = zlib.crc32(piece, crc)
    zip64 = size > zipfile.ZIP64_LIMIT
    gap = block - len(prefix) - len(_local_header(_WEIGHTS, size, crc, len(prefix), zip64)[1])
    info, header = _local_header(_WEIGHTS, size, crc, len(prefix), zip64, gap - 4 if gap else -1)
    if len(prefix) + len(header) != block:
        raise MigrationError(f"internal error: zip header of {len(prefix) + len(header)} bytes for a {block}-byte "
                             "user block")
    infos.append(info)
    with open(path, "r+b") as f:
        f.write(prefix + header)
        f.seek(0, 2)
        with zipfile.ZipFile(f, "w", allowZip64=True) as zf:  # appends the central directory at the end
            for i in infos:
                zf.filelist.append(i)
                zf.NameToInfo[i.filename] = i


# -- reading ----------------------------------------------------------------------------------------------------

class MemberFile:
    """A read-only file object over a stored (uncompressed) zip member: its bytes are a range of the archive."""

    def __init__(self, path: str, info: zipfile.ZipInfo) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        header = os.pread(self.fd, 30, info.header_offset)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            os.close(self.fd)
            raise MigrationError(f"{path!r}: damaged zip member {info.filename!r}; re-run `rnn-migrate convert`.")
        name_len, extra_len = int.from_bytes(header[26:28], "little"), int.from_bytes(header[28:30], "little")
        self.start = info.header_offset + 30 + name_len + extra_len
        self.size = info.file_size
        self.pos = 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int, whence: int = 0) -> int:
        self.pos = pos if whence == 0 else self.pos + pos if whence == 1 else self.size + pos
        return self.pos

    def readinto(self, buf) -> int:
        view = memoryview(buf).cast("B")
        n = max(0, min(len(view), self.size - self.pos))
        got = 0
        while got < n:
            k = os.preadv(self.fd, [view[got:n]], self.start + self.pos + got)
            if k <= 0:
                break
            got += k
        self.pos += got
        return got

    def read(self, size: int = -1) -> bytes:
        n = self.size - self.pos if size is None or size < 0 else min(size, self.size - self.pos)
        buf = bytearray(max(0, n))
        return bytes(buf[:self.readinto(buf)])

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _sampled_class():
    import tensorflow as tf
    from modern_rnn import keras

    class SampledEmbedding(keras.layers.Embedding):
        """``Embedding`` holding only rows ``rows`` (sorted ids) of its ``input_dim``: for verification only.
        Output is ``Embedding`` s for every id in ``rows``; any other id raises ``InvalidArgumentError``."""

        def __init__(self, *args, rows: Sequence[int] = (), **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.rows = np.asarray(sorted(set(int(r) for r in rows)), np.int64)
            self.h5_path = ""

        def build(self, input_shape=None):
            self.embeddings = self.add_weight(shape=(max(1, len(self.rows)), self.output_dim), initializer="zeros",
                                              name="embeddings", experimental_autocast=False)
            self.built = True

        def call(self, inputs):
            ids = tf.cast(inputs, tf.int64)
            flat = tf.reshape(ids, [-1])
            table = tf.constant(self.rows if len(self.rows) else np.array([-1], np.int64))
            pos = tf.minimum(tf.searchsorted(table, flat), len(table) - 1)
            tf.debugging.assert_equal(tf.gather(table, pos), flat,
                                      message="SampledEmbedding: an id outside the sampled rows was looked up")
            out = tf.gather(self.embeddings, tf.reshape(pos, tf.shape(ids)))
            return tf.cast(out, self.compute_dtype) if out.dtype != self.compute_dtype else out

        def load_own_variables(self, store) -> None:
            ds = store["0"]
            self.h5_path = ds.name  # where the full rows are: verify compares every row from there
            if tuple(ds.shape) != (self.input_dim, self.output_dim):
                raise MigrationError(f"embedding {self.name!r}: model.weights.h5 holds shape {tuple(ds.shape)}, "
                                     f"the config says ({self.input_dim}, {self.output_dim})")
            if len(self.rows):
                if self.rows[0] < 0 or self.rows[-1] >= self.input_dim:
                    raise MigrationError(f"embedding {self.name!r}: sampled ids outside [0, {self.input_dim})")
                self.embeddings.assign(np.asarray(ds[self.rows], np.float32))

    # tf_keras addresses a layer's weights in model.weights.h5 by its class name ("layers/embedding[_k]"): keep it
    SampledEmbedding.__name__ = SampledEmbedding.__qualname__ = "Embedding"
    return SampledEmbedding


class _Store:
    """The part of ``tf_keras``' ``H5IOStore`` that loading uses: ``get(path)`` -> the h5 group of its vars."""

    def __init__(self, h5_file) -> None:
        self.h5_file = h5_file

    def get(self, path: str):
        if not path:
            return self.h5_file["vars"]
        if path in self.h5_file and "vars" in self.h5_file[path]:
            return self.h5_file[path]["vars"]
        return {}


def sampled_layers(path: str, min_bytes: Optional[int] = None) -> dict[str, tuple[int, int]]:
    """Embedding layer name -> (rows, dim) of the archive's Embeddings of at least ``min_bytes`` float32 bytes."""
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read(_CONFIG))
    limit = STREAM_MIN_BYTES if min_bytes is None else min_bytes
    out: dict[str, tuple[int, int]] = {}

    for _, cfg in _embedding_nodes(config):
        if int(cfg.get("input_dim", 0)) * int(cfg.get("output_dim", 0)) * 4 >= limit:
            out[cfg["name"]] = (int(cfg["input_dim"]), int(cfg["output_dim"]))
    return out


def load_sampled(out_dir: str, rel: str, ids: np.ndarray, min_bytes: Optional[int] = None):
    """``(model, {layer name: h5 dataset path})``: the ``.keras`` model at ``out_dir/rel`` with each Embedding of
    at least ``min_bytes`` holding only rows ``ids`` (:class:`SampledEmbedding`); every other weight loaded whole. Safety as
    :func:`migration.safe_io.load_block_model` (confined path, no code-carrying layers, safe mode)."""
    import h5py

    import modern_rnn  # noqa: F401  (registers the custom cells)
    from migration.safe_io import check_keras_archive, confined_path
    from tf_keras.src.saving import saving_lib
    from tf_keras.src.saving.serialization_lib import deserialize_keras_object

    path = confined_path(out_dir, rel, what="model file")
    if not path.endswith(".keras"):
        raise MigrationError(f"Refused model file {rel!r}: conversions hold .keras models only.")
    check_keras_archive(path)
    big = sampled_layers(path, min_bytes)
    if not big:  # nothing large: tf_keras' own loader
        from migration.safe_io import load_block_model

        return load_block_model(out_dir, rel), {}
    cls = _sampled_class()
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read(_CONFIG))
        info = zf.getinfo(_WEIGHTS)
    if info.compress_type != zipfile.ZIP_STORED:
        raise MigrationError(f"{path!r}: {_WEIGHTS} is compressed; re-run `rnn-migrate convert`.")
    rows = np.unique(np.asarray(ids, np.int64).reshape(-1))

    for node, cfg in _embedding_nodes(config):
        if cfg.get("name") in big:
            node["class_name"], node["module"], node["registered_name"] = "SampledEmbedding", None, "SampledEmbedding"
            cfg["rows"] = [int(r) for r in rows if 0 <= r < int(cfg["input_dim"])]
    config["compile_config"] = None
    from modern_rnn import keras

    with keras.utils.custom_object_scope({"SampledEmbedding": cls}):  # nested models deserialize layers too
        model = deserialize_keras_object(config, {"SampledEmbedding": cls}, safe_mode=True)
    member = MemberFile(path, info)
    try:
        with h5py.File(member, "r") as h5:
            saving_lib._load_state(model, weights_store=_Store(h5), assets_store=None, inner_path="",
                                   visited_trackables=set())
    finally:
        member.close()
    return model, {layer.name: layer.h5_path for layer in _all_layers(model) if isinstance(layer, cls)}


def _all_layers(model) -> list:
    out, todo = [], [model]
    while todo:
        layer = todo.pop()
        out.append(layer)
        todo += list(getattr(layer, "layers", []) or [])
    return out
