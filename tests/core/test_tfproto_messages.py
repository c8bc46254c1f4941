"""migration.core.tfproto.messages: every field restated there equals TensorFlow's own descriptor (name, number,
type, cardinality, oneof, referenced type), every field left out is on an explicit list, and the classes live in
a private pool that never meets TensorFlow's."""
from __future__ import annotations

import pytest
from google.protobuf import descriptor_pool

from migration.core.tfproto import messages

# Loading these registers TensorFlow's descriptors in the default pool (they are the reference here).
from tensorflow.core.framework import types_pb2  # noqa: E402
from tensorflow.core.protobuf import meta_graph_pb2, tensor_bundle_pb2  # noqa: E402,F401
from tensorflow.python.training import checkpoint_state_pb2  # noqa: E402,F401
from tensorflow.core.framework import variable_pb2  # noqa: E402,F401

#: TensorFlow fields this package leaves as unknown fields on purpose (messages.py's docstring lists them).
SKIPPED = {
    "MetaGraphDef": {"signature_def", "asset_file_def", "object_graph_def"},
    "GraphDef": {"debug_info"},
    "NodeDef": {"experimental_type"},
    "OpDef.ArgDef": {"experimental_full_type"},
    "VariableDef": {"synchronization", "aggregation"},
}


def _tf(name: str):
    return descriptor_pool.Default().FindMessageTypeByName("tensorflow." + name)


def _ours(name: str):
    return messages.POOL.FindMessageTypeByName(f"{messages.PACKAGE}.{name}")


def _type_of(field) -> tuple:
    """A field's type, with the package removed from message/enum names, maps as (key type, value type)."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
        return ("map", _type_of(key), _type_of(value))
    ref = field.message_type or field.enum_type
    name = ref.full_name.replace("tensorflow.", "", 1).replace(messages.PACKAGE + ".", "", 1) if ref else None
    return (field.type, name)


@pytest.mark.parametrize("name", sorted(messages._MESSAGES))
def test_every_field_matches_tensorflow(name):
    ours, theirs = _ours(name), _tf(name)
    for field in ours.fields:
        assert field.name in theirs.fields_by_name, f"{name}.{field.name} is not a TensorFlow field"
        tf_field = theirs.fields_by_name[field.name]
        assert field.number == tf_field.number, (name, field.name)
        assert _type_of(field) == _type_of(tf_field), (name, field.name)
        assert field.is_repeated == tf_field.is_repeated, (name, field.name)
        ours_oneof = field.containing_oneof.name if field.containing_oneof else None
        tf_oneof = tf_field.containing_oneof.name if tf_field.containing_oneof else None
        # TensorFlow's generated code renames the oneof of TensorSliceProto.Extent (has_length -> has_length_hack)
        assert ours_oneof == (tf_oneof.replace("_hack", "") if tf_oneof else None), (name, field.name)
    missing = set(theirs.fields_by_name) - set(ours.fields_by_name)
    assert missing == SKIPPED.get(name, set()), f"{name}: TensorFlow fields not declared here: {missing}"


def test_enums_match_tensorflow():
    assert {v.name: v.number for v in types_pb2.DataType.DESCRIPTOR.values} == messages.DATA_TYPES
    for name in ("SaverDef.CheckpointFormatVersion", "BundleHeaderProto.Endianness"):
        theirs = descriptor_pool.Default().FindEnumTypeByName("tensorflow." + name)
        assert {v.name: v.number for v in theirs.values} == messages._ENUMS[name]


def test_private_pool_and_package():
    assert messages.PACKAGE != "tensorflow" and not messages.PACKAGE.startswith("tensorflow.")
    assert messages.MetaGraphDef.DESCRIPTOR.full_name == "rnn_migrate.tf.MetaGraphDef"
    assert messages.POOL is not descriptor_pool.Default()
    with pytest.raises(KeyError):
        descriptor_pool.Default().FindMessageTypeByName("rnn_migrate.tf.MetaGraphDef")


def test_unknown_fields_survive_a_round_trip():
    """A field this package does not declare (NodeDef.experimental_type) is kept and written back unchanged."""
    from tensorflow.core.framework import node_def_pb2

    node = node_def_pb2.NodeDef(name="x", op="Const")
    node.experimental_type.type_id = 7
    node.experimental_type.args.add(type_id=3)
    raw = node.SerializeToString()
    ours = messages.NodeDef.FromString(raw)
    assert ours.op == "Const" and ours.name == "x"
    assert node_def_pb2.NodeDef.FromString(ours.SerializeToString()) == node
    # negative control: clearing the unknown fields loses them, so the assertion above can fail
    ours.DiscardUnknownFields()
    assert node_def_pb2.NodeDef.FromString(ours.SerializeToString()) != node
