"""A ``.meta`` file (``MetaGraphDef``) and a ``checkpoint`` state file read without TensorFlow.

:func:`read_meta` parses the protobuf only (never imports or executes the graph) into this package's
``MetaGraphDef``, whose fields carry TensorFlow's names: code that walks ``meta.graph_def.node``,
``meta.graph_def.library.function`` or ``meta.collection_def`` works on it unchanged. :func:`slice_infos` reads the
``save_slice_info`` of partitioned variables from the ``VariableDef`` collections.
"""
from __future__ import annotations

import os
from typing import Iterable, Iterator, Optional

from google.protobuf import text_format
from google.protobuf.message import DecodeError

from migration.core.errors import MigrationError
from migration.core.tfproto.messages import CheckpointState, MetaGraphDef, VariableDef

#: Default bound on a ``.meta`` file's size (protobuf itself refuses messages of 2 GiB or more).
MAX_META_BYTES = 1 << 30
MAX_STATE_BYTES = 1 << 20


def _read_regular(path: str, max_bytes: int, what: str) -> bytes:
    try:
        if not os.path.isfile(path):  # a FIFO or device would block or never end; a directory is no file
            raise MigrationError(f"Cannot read {what}: it is not a regular file.")
        size = os.path.getsize(path)
        if size > max_bytes:
            raise MigrationError(f"Refusing to read {what}: {size} bytes is more than the limit of {max_bytes}.")
        with open(path, "rb") as handle:
            return handle.read(max_bytes + 1)
    except OSError as exc:
        raise MigrationError(f"Cannot read {what}: {exc.strerror or exc}.") from None


DEFAULT_META_REMEDY = ("Use the .meta written with the checkpoint, or move the damaged file away to work from the "
                       "checkpoint alone.")


def read_meta(path: str, max_bytes: int = MAX_META_BYTES, remedy: str = DEFAULT_META_REMEDY) -> MetaGraphDef:
    """The ``MetaGraphDef`` in ``path``; :class:`MigrationError` naming the file if it is not a regular file, is
    larger than ``max_bytes`` or does not parse (``remedy``: the sentence that ends the parse error's message)."""
    data = _read_regular(path, max_bytes, f"the graph file {path!r}")
    meta = MetaGraphDef()
    try:
        meta.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:  # upb raises DecodeError; RecursionError is a RuntimeError
        raise MigrationError(f"Cannot parse {path!r} as a MetaGraphDef ({exc}). {remedy}") from None
    return meta


def slice_infos(meta, collections: Iterable[str] = ("variables", "trainable_variables")) -> Iterator[tuple]:
    """``(part node, full name, offsets, part shape, full shape)`` of every partitioned variable (``save_slice_info``)
    in the ``VariableDef`` collections of ``meta`` (this package's ``MetaGraphDef`` or TensorFlow's)."""
    for key in collections:
        if key not in meta.collection_def:
            continue
        for raw in meta.collection_def[key].bytes_list.value:
            vd = VariableDef()
            try:
                vd.ParseFromString(raw)
            except DecodeError as exc:
                raise MigrationError(f"The graph's collection {key!r} holds an entry that is not a VariableDef "
                                     f"({exc}).") from None
            info = vd.save_slice_info_def
            if info.full_name:
                yield (vd.variable_name.split(":")[0], info.full_name, tuple(int(v) for v in info.var_offset),
                       tuple(int(v) for v in info.var_shape), tuple(int(v) for v in info.full_shape))


def latest_checkpoint(directory: str) -> Optional[str]:
    """``tf.train.latest_checkpoint(directory)``: the prefix named by ``directory/checkpoint`` (relative paths taken
    from ``directory``) if its ``.index`` exists, else ``None``; :class:`MigrationError` for a state file that is
    not UTF-8 text or does not parse."""
    state_path = os.path.join(directory, "checkpoint")
    if not os.path.exists(state_path):
        return None
    what = f"the checkpoint state file {state_path!r}"
    raw = _read_regular(state_path, MAX_STATE_BYTES, what)
    state = CheckpointState()
    try:
        text_format.Parse(raw.decode("utf-8"), state)
    except (UnicodeDecodeError, text_format.ParseError) as exc:
        raise MigrationError(f"Cannot parse {what}: {str(exc).splitlines()[0] if str(exc) else exc}. It should "
                             "hold a line `model_checkpoint_path: \"model.ckpt-1000\"`; fix or delete it, or pass "
                             "the checkpoint prefix itself.") from None
    prefix = state.model_checkpoint_path
    if not prefix:
        return None
    if not os.path.isabs(prefix):
        prefix = os.path.join(directory, prefix)
    return prefix if os.path.exists(prefix + ".index") else None
