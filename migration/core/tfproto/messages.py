"""TensorFlow's checkpoint and graph protobuf messages, declared here so that reading them needs no TensorFlow.

The tables below restate, field for field, the messages of TensorFlow's ``.proto`` files that a ``.meta``
(``MetaGraphDef``), a bundle index (``BundleHeaderProto``, ``BundleEntryProto``) and a ``checkpoint`` state file
need: the same field names, numbers, types, cardinalities and oneofs (``proto3``, so repeated scalars are packed as
TensorFlow writes them). The message classes are built at import time with ``descriptor_pb2`` and
``message_factory`` in a **private** descriptor pool under the package ``rnn_migrate.tf``: they never collide with
TensorFlow's own ``tensorflow.*`` descriptors when both are loaded in one process.

Code written against TensorFlow's classes works unchanged on these (``node.op``, ``node.attr["T"].type``,
``attr.func.name``, ``graph_def.library.function``, ``fdef.signature.name``, ``fdef.node_def``, ``HasField``,
``WhichOneof``). Fields left out (``signature_def``, ``asset_file_def``, ``object_graph_def``, ``debug_info``,
``experimental_type``, ``experimental_full_type``, ``VariableDef.synchronization``/``aggregation``) are kept as
unknown fields: parsed, preserved on ``SerializeToString``, never interpreted.

Sources: tensorflow/core/framework/{attr_value,function,graph,node_def,op_def,resource_handle,tensor,
tensor_shape,tensor_slice,types,variable,versions}.proto, tensorflow/core/protobuf/{meta_graph,saver,
tensor_bundle}.proto, tensorflow/python/training/checkpoint_state.proto. ``tests/core/test_tfproto_messages.py``
checks every field here against TensorFlow's generated descriptors.
"""
from __future__ import annotations

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "rnn_migrate.tf"
_FILE = "rnn_migrate/tf_checkpoint.proto"

#: ``tensorflow.DataType`` (types.proto): name -> number. ``_REF`` types are the number + 100.
DATA_TYPES: dict[str, int] = {
    "DT_INVALID": 0, "DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4, "DT_INT16": 5, "DT_INT8": 6,
    "DT_STRING": 7, "DT_COMPLEX64": 8, "DT_INT64": 9, "DT_BOOL": 10, "DT_QINT8": 11, "DT_QUINT8": 12,
    "DT_QINT32": 13, "DT_BFLOAT16": 14, "DT_QINT16": 15, "DT_QUINT16": 16, "DT_UINT16": 17, "DT_COMPLEX128": 18,
    "DT_HALF": 19, "DT_RESOURCE": 20, "DT_VARIANT": 21, "DT_UINT32": 22, "DT_UINT64": 23, "DT_FLOAT8_E5M2": 24,
    "DT_FLOAT8_E4M3FN": 25, "DT_FLOAT8_E4M3FNUZ": 26, "DT_FLOAT8_E4M3B11FNUZ": 27, "DT_FLOAT8_E5M2FNUZ": 28,
    "DT_INT4": 29, "DT_UINT4": 30, "DT_INT2": 31, "DT_UINT2": 32, "DT_FLOAT4_E2M1FN": 33,
}
DATA_TYPES.update({name + "_REF": number + 100 for name, number in list(DATA_TYPES.items()) if number})

_ENUMS: dict[str, dict[str, int]] = {
    "DataType": DATA_TYPES,
    "SaverDef.CheckpointFormatVersion": {"LEGACY": 0, "V1": 1, "V2": 2},
    "BundleHeaderProto.Endianness": {"LITTLE": 0, "BIG": 1},
}

# Field: (name, number, type[, oneof]). Type: a scalar name, a message/enum name of this package (dotted for a
# nested one), "*T" for repeated, "map<K,V>" for a map, "google.protobuf.Any".
_MESSAGES: dict[str, tuple] = {
    # framework/tensor_shape.proto
    "TensorShapeProto": (("dim", 2, "*TensorShapeProto.Dim"), ("unknown_rank", 3, "bool")),
    "TensorShapeProto.Dim": (("size", 1, "int64"), ("name", 2, "string")),
    # framework/resource_handle.proto
    "ResourceHandleProto": (
        ("device", 1, "string"), ("container", 2, "string"), ("name", 3, "string"), ("hash_code", 4, "uint64"),
        ("maybe_type_name", 5, "string"), ("dtypes_and_shapes", 6, "*ResourceHandleProto.DtypeAndShape")),
    "ResourceHandleProto.DtypeAndShape": (("dtype", 1, "DataType"), ("shape", 2, "TensorShapeProto")),
    # framework/tensor.proto
    "TensorProto": (
        ("dtype", 1, "DataType"), ("tensor_shape", 2, "TensorShapeProto"), ("version_number", 3, "int32"),
        ("tensor_content", 4, "bytes"), ("half_val", 13, "*int32"), ("float_val", 5, "*float"),
        ("double_val", 6, "*double"), ("int_val", 7, "*int32"), ("string_val", 8, "*bytes"),
        ("scomplex_val", 9, "*float"), ("int64_val", 10, "*int64"), ("bool_val", 11, "*bool"),
        ("dcomplex_val", 12, "*double"), ("resource_handle_val", 14, "*ResourceHandleProto"),
        ("variant_val", 15, "*VariantTensorDataProto"), ("uint32_val", 16, "*uint32"),
        ("uint64_val", 17, "*uint64"), ("float8_val", 18, "bytes")),
    "VariantTensorDataProto": (("type_name", 1, "string"), ("metadata", 2, "bytes"), ("tensors", 3, "*TensorProto")),
    # framework/attr_value.proto
    "AttrValue": (
        ("s", 2, "bytes", "value"), ("i", 3, "int64", "value"), ("f", 4, "float", "value"),
        ("b", 5, "bool", "value"), ("type", 6, "DataType", "value"), ("shape", 7, "TensorShapeProto", "value"),
        ("tensor", 8, "TensorProto", "value"), ("list", 1, "AttrValue.ListValue", "value"),
        ("func", 10, "NameAttrList", "value"), ("placeholder", 9, "string", "value")),
    "AttrValue.ListValue": (
        ("s", 2, "*bytes"), ("i", 3, "*int64"), ("f", 4, "*float"), ("b", 5, "*bool"), ("type", 6, "*DataType"),
        ("shape", 7, "*TensorShapeProto"), ("tensor", 8, "*TensorProto"), ("func", 9, "*NameAttrList")),
    "NameAttrList": (("name", 1, "string"), ("attr", 2, "map<string,AttrValue>")),
    # framework/node_def.proto (experimental_type: FullTypeDef, left unknown)
    "NodeDef": (
        ("name", 1, "string"), ("op", 2, "string"), ("input", 3, "*string"), ("device", 4, "string"),
        ("attr", 5, "map<string,AttrValue>"), ("experimental_debug_info", 6, "NodeDef.ExperimentalDebugInfo")),
    "NodeDef.ExperimentalDebugInfo": (("original_node_names", 1, "*string"), ("original_func_names", 2, "*string")),
    # framework/op_def.proto (ArgDef.experimental_full_type left unknown)
    "OpDef": (
        ("name", 1, "string"), ("input_arg", 2, "*OpDef.ArgDef"), ("output_arg", 3, "*OpDef.ArgDef"),
        ("control_output", 20, "*string"), ("attr", 4, "*OpDef.AttrDef"), ("deprecation", 8, "OpDeprecation"),
        ("summary", 5, "string"), ("description", 6, "string"), ("is_commutative", 18, "bool"),
        ("is_aggregate", 16, "bool"), ("is_stateful", 17, "bool"), ("allows_uninitialized_input", 19, "bool"),
        ("is_distributed_communication", 21, "bool")),
    "OpDef.ArgDef": (
        ("name", 1, "string"), ("description", 2, "string"), ("type", 3, "DataType"), ("type_attr", 4, "string"),
        ("number_attr", 5, "string"), ("type_list_attr", 6, "string"),
        ("handle_data", 7, "*ResourceHandleProto.DtypeAndShape"), ("is_ref", 16, "bool")),
    "OpDef.AttrDef": (
        ("name", 1, "string"), ("type", 2, "string"), ("default_value", 3, "AttrValue"),
        ("description", 4, "string"), ("has_minimum", 5, "bool"), ("minimum", 6, "int64"),
        ("allowed_values", 7, "AttrValue")),
    "OpDeprecation": (("version", 1, "int32"), ("explanation", 2, "string")),
    "OpList": (("op", 1, "*OpDef"),),
    # framework/function.proto
    "FunctionDefLibrary": (
        ("function", 1, "*FunctionDef"), ("gradient", 2, "*GradientDef"),
        ("registered_gradients", 3, "*RegisteredGradient")),
    "FunctionDef": (
        ("signature", 1, "OpDef"), ("attr", 5, "map<string,AttrValue>"),
        ("arg_attr", 7, "map<uint32,FunctionDef.ArgAttrs>"), ("resource_arg_unique_id", 8, "map<uint32,uint32>"),
        ("node_def", 3, "*NodeDef"), ("ret", 4, "map<string,string>"), ("control_ret", 6, "map<string,string>")),
    "FunctionDef.ArgAttrs": (("attr", 1, "map<string,AttrValue>"),),
    "GradientDef": (("function_name", 1, "string"), ("gradient_func", 2, "string")),
    "RegisteredGradient": (("gradient_func", 1, "string"), ("registered_op_type", 2, "string")),
    # framework/versions.proto, graph.proto (debug_info: GraphDebugInfo, left unknown)
    "VersionDef": (("producer", 1, "int32"), ("min_consumer", 2, "int32"), ("bad_consumers", 3, "*int32")),
    "GraphDef": (
        ("node", 1, "*NodeDef"), ("versions", 4, "VersionDef"), ("version", 3, "int32"),
        ("library", 2, "FunctionDefLibrary")),
    # framework/variable.proto (synchronization, aggregation: enums, left unknown)
    "VariableDef": (
        ("variable_name", 1, "string"), ("initial_value_name", 6, "string"), ("initializer_name", 2, "string"),
        ("snapshot_name", 3, "string"), ("save_slice_info_def", 4, "SaveSliceInfoDef"), ("is_resource", 5, "bool"),
        ("trainable", 7, "bool")),
    "SaveSliceInfoDef": (
        ("full_name", 1, "string"), ("full_shape", 2, "*int64"), ("var_offset", 3, "*int64"),
        ("var_shape", 4, "*int64")),
    # protobuf/saver.proto
    "SaverDef": (
        ("filename_tensor_name", 1, "string"), ("save_tensor_name", 2, "string"), ("restore_op_name", 3, "string"),
        ("max_to_keep", 4, "int32"), ("sharded", 5, "bool"), ("keep_checkpoint_every_n_hours", 6, "float"),
        ("version", 7, "SaverDef.CheckpointFormatVersion")),
    # protobuf/meta_graph.proto (signature_def, asset_file_def, object_graph_def left unknown)
    "MetaGraphDef": (
        ("meta_info_def", 1, "MetaGraphDef.MetaInfoDef"), ("graph_def", 2, "GraphDef"), ("saver_def", 3, "SaverDef"),
        ("collection_def", 4, "map<string,CollectionDef>")),
    "MetaGraphDef.MetaInfoDef": (
        ("meta_graph_version", 1, "string"), ("stripped_op_list", 2, "OpList"),
        ("any_info", 3, "google.protobuf.Any"), ("tags", 4, "*string"), ("tensorflow_version", 5, "string"),
        ("tensorflow_git_version", 6, "string"), ("stripped_default_attrs", 7, "bool"),
        ("function_aliases", 8, "map<string,string>")),
    "CollectionDef": (
        ("node_list", 1, "CollectionDef.NodeList", "kind"), ("bytes_list", 2, "CollectionDef.BytesList", "kind"),
        ("int64_list", 3, "CollectionDef.Int64List", "kind"), ("float_list", 4, "CollectionDef.FloatList", "kind"),
        ("any_list", 5, "CollectionDef.AnyList", "kind")),
    "CollectionDef.NodeList": (("value", 1, "*string"),),
    "CollectionDef.BytesList": (("value", 1, "*bytes"),),
    "CollectionDef.Int64List": (("value", 1, "*int64"),),
    "CollectionDef.FloatList": (("value", 1, "*float"),),
    "CollectionDef.AnyList": (("value", 1, "*google.protobuf.Any"),),
    # framework/tensor_slice.proto, protobuf/tensor_bundle.proto
    "TensorSliceProto": (("extent", 1, "*TensorSliceProto.Extent"),),
    "TensorSliceProto.Extent": (("start", 1, "int64"), ("length", 2, "int64", "has_length")),
    "BundleHeaderProto": (
        ("num_shards", 1, "int32"), ("endianness", 2, "BundleHeaderProto.Endianness"), ("version", 3, "VersionDef")),
    "BundleEntryProto": (
        ("dtype", 1, "DataType"), ("shape", 2, "TensorShapeProto"), ("shard_id", 3, "int32"),
        ("offset", 4, "int64"), ("size", 5, "int64"), ("crc32c", 6, "fixed32"), ("slices", 7, "*TensorSliceProto")),
    # python/training/checkpoint_state.proto (the text file named `checkpoint`)
    "CheckpointState": (
        ("model_checkpoint_path", 1, "string"), ("all_model_checkpoint_paths", 2, "*string"),
        ("all_model_checkpoint_timestamps", 3, "*double"), ("last_preserved_timestamp", 4, "double")),
}

_FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS = {name[5:].lower(): number for name, number in _FDP.Type.items()
            if name not in ("TYPE_GROUP", "TYPE_MESSAGE", "TYPE_ENUM")}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _set_type(field: descriptor_pb2.FieldDescriptorProto, type_name: str) -> None:
    if type_name in _SCALARS:
        field.type = _SCALARS[type_name]
    elif type_name in _ENUMS:
        field.type, field.type_name = _FDP.TYPE_ENUM, f".{PACKAGE}.{type_name}"
    elif type_name == "google.protobuf.Any":
        field.type, field.type_name = _FDP.TYPE_MESSAGE, ".google.protobuf.Any"
    else:
        if type_name not in _MESSAGES:
            raise KeyError(f"no message {type_name!r} in the table")
        field.type, field.type_name = _FDP.TYPE_MESSAGE, f".{PACKAGE}.{type_name}"


def _add_fields(message: descriptor_pb2.DescriptorProto, full: str, fields: tuple) -> None:
    oneofs: list[str] = []
    for name, number, type_name, *oneof in fields:
        field = message.field.add(name=name, number=number, label=_FDP.LABEL_OPTIONAL)
        if type_name.startswith("map<"):
            key, value = type_name[4:-1].split(",")
            entry = message.nested_type.add(name=_camel(name) + "Entry")
            entry.options.map_entry = True
            _set_type(entry.field.add(name="key", number=1, label=_FDP.LABEL_OPTIONAL), key)
            _set_type(entry.field.add(name="value", number=2, label=_FDP.LABEL_OPTIONAL), value)
            field.label, field.type = _FDP.LABEL_REPEATED, _FDP.TYPE_MESSAGE
            field.type_name = f".{PACKAGE}.{full}.{entry.name}"
            continue
        if type_name.startswith("*"):
            field.label, type_name = _FDP.LABEL_REPEATED, type_name[1:]
        _set_type(field, type_name)
        if oneof:
            if oneof[0] not in oneofs:
                oneofs.append(oneof[0])
                message.oneof_decl.add(name=oneof[0])
            field.oneof_index = oneofs.index(oneof[0])


def file_descriptor_proto() -> descriptor_pb2.FileDescriptorProto:
    """The ``FileDescriptorProto`` of every message and enum above (nested ones inside their parents)."""
    fdp = descriptor_pb2.FileDescriptorProto(name=_FILE, package=PACKAGE, syntax="proto3")
    fdp.dependency.append(any_pb2.DESCRIPTOR.name)
    built: dict[str, descriptor_pb2.DescriptorProto] = {}
    for full in sorted(_MESSAGES, key=lambda n: n.count(".")):  # parents before their nested messages
        parent, _, name = full.rpartition(".")
        message = (built[parent].nested_type if parent else fdp.message_type).add(name=name)
        built[full] = message
        _add_fields(message, full, _MESSAGES[full])
    for full, values in _ENUMS.items():
        parent, _, name = full.rpartition(".")
        enum = (built[parent].enum_type if parent else fdp.enum_type).add(name=name)
        for value_name, number in values.items():
            enum.value.add(name=value_name, number=number)
    return fdp


POOL = descriptor_pool.DescriptorPool()
POOL.AddSerializedFile(any_pb2.DESCRIPTOR.serialized_pb)
POOL.AddSerializedFile(file_descriptor_proto().SerializeToString())


def message_class(name: str) -> type:
    """The generated class of message ``name`` (e.g. ``"NodeDef"``, ``"TensorShapeProto.Dim"``)."""
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(f"{PACKAGE}.{name}"))


MetaGraphDef = message_class("MetaGraphDef")
GraphDef = message_class("GraphDef")
NodeDef = message_class("NodeDef")
AttrValue = message_class("AttrValue")
NameAttrList = message_class("NameAttrList")
TensorProto = message_class("TensorProto")
TensorShapeProto = message_class("TensorShapeProto")
FunctionDefLibrary = message_class("FunctionDefLibrary")
FunctionDef = message_class("FunctionDef")
OpDef = message_class("OpDef")
VersionDef = message_class("VersionDef")
SaverDef = message_class("SaverDef")
CollectionDef = message_class("CollectionDef")
VariableDef = message_class("VariableDef")
SaveSliceInfoDef = message_class("SaveSliceInfoDef")
BundleHeaderProto = message_class("BundleHeaderProto")
BundleEntryProto = message_class("BundleEntryProto")
TensorSliceProto = message_class("TensorSliceProto")
CheckpointState = message_class("CheckpointState")
