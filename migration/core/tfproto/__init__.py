"""Reading TensorFlow checkpoint indexes, ``.meta`` graphs and tensor protos without importing TensorFlow.

* :mod:`~migration.core.tfproto.messages`: the protobuf messages (``MetaGraphDef``, ``NodeDef``, ``TensorProto``,
  ``BundleEntryProto`` ...) with TensorFlow's field names and numbers, in a private descriptor pool;
* :func:`make_ndarray`: ``tf.make_ndarray`` in NumPy, bounded;
* :func:`read_index`: a checkpoint's ``.index`` (dtype, shape, shard, offset, size, CRC32C, slices per entry),
  CRC-checked;
* :func:`read_meta`: a ``.meta`` file; :func:`slice_infos`: partitioned variables from its collections;
  :func:`latest_checkpoint`: the prefix a ``checkpoint`` state file names.

Imports neither TensorFlow nor tf_keras (a test checks it in a fresh process), only ``google.protobuf``, NumPy,
``google_crc32c`` and :mod:`migration.core.errors`. Every defect of the input is a
:class:`~migration.core.errors.MigrationError` naming the file.
"""
from migration.core.tfproto.bundle import BundleIndex, IndexEntry, read_index
from migration.core.tfproto.files import latest_checkpoint, read_meta, slice_infos
from migration.core.tfproto.messages import (AttrValue, BundleEntryProto, BundleHeaderProto, CheckpointState,
                                             CollectionDef, FunctionDef, FunctionDefLibrary, GraphDef, MetaGraphDef,
                                             NameAttrList, NodeDef, OpDef, SaverDef, SaveSliceInfoDef, TensorProto,
                                             TensorShapeProto, TensorSliceProto, VariableDef, VersionDef)
from migration.core.tfproto.ndarray import DTYPE_NAMES, dtype_name, make_ndarray

__all__ = [
    "AttrValue", "BundleEntryProto", "BundleHeaderProto", "BundleIndex", "CheckpointState", "CollectionDef",
    "DTYPE_NAMES", "FunctionDef", "FunctionDefLibrary", "GraphDef", "IndexEntry", "MetaGraphDef", "NameAttrList",
    "NodeDef", "OpDef", "SaveSliceInfoDef", "SaverDef", "TensorProto", "TensorShapeProto", "TensorSliceProto",
    "VariableDef", "VersionDef", "dtype_name", "latest_checkpoint", "make_ndarray", "read_index", "read_meta",
    "slice_infos",
]
