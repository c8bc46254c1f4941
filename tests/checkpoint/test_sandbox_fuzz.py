"""Issue 20: a property-based test over ``.meta`` mutations. A real ``.meta`` next to its real ``Saver`` checkpoint is
mutated (op types, attributes, shapes, inputs, constants, the function library: recursion, deep chains, nested func
attrs, huge placeholder shapes) and taken through what ``verify`` does with it: the whole model's inputs and
outputs, the sandbox check, generated inputs, the reference run in the sandbox child. The outcome is always a result
or a clear :class:`MigrationError`, within the (small) limits: no hang, no native crash, no other exception."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile_graphs as h

OPS = ["Fill", "Range", "Tile", "BroadcastTo", "While", "If", "PartitionedCall", "Assert", "NoOp", "Identity",
       "MatMul", "WriteFile", "PyFunc", "NoSuchOp", "Placeholder", "Const", "Reshape", "ConcatV2"]
DIMS = st.sampled_from([-1, 0, 1, 3, 5, 10 ** 9, 2 ** 40, -7])


class Base:
    def __init__(self, prefix: str) -> None:
        from migration.checkpoint.reader import CheckpointReader

        self.prefix, self.reader = prefix, CheckpointReader(prefix)
        with open(prefix + ".meta", "rb") as f:
            self.raw = f.read()

    def __repr__(self) -> str:  # hypothesis prints the fixture with a failing example
        return f"Base({self.prefix!r})"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return Base(h.build(tmp_path_factory.mktemp("fuzz_base") / "src"))


def _nodes(graph_def) -> list:
    return list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]


@st.composite
def mutation(draw):
    kind = draw(st.sampled_from(["op", "attr_type", "attr_shape", "attr_func", "input", "delete", "const_shape",
                                 "placeholder", "recursive", "mutual", "chain", "nested"]))
    return kind, draw(st.integers(0, 10 ** 6)), draw(st.sampled_from(OPS)), draw(st.lists(DIMS, max_size=4)), \
        draw(st.integers(0, 300))


def _apply(graph_def, m) -> None:
    kind, pick, op, dims, number = m
    nodes = _nodes(graph_def)
    node = nodes[pick % len(nodes)]
    if kind == "op":
        node.op = op
    elif kind == "attr_type":
        node.attr["T" if "T" in node.attr else "dtype"].type = number
    elif kind == "attr_shape":
        node.attr["shape"].shape.Clear()
        for d in dims:
            node.attr["shape"].shape.dim.add(size=d)
    elif kind == "attr_func":
        key = next((k for k, v in node.attr.items() if v.WhichOneof("value") == "func"), "f")
        names = [f.signature.name for f in graph_def.library.function] + ["no_such_function", "WriteFile"]
        node.attr[key].func.name = names[number % len(names)]
    elif kind == "input" and node.input:
        others = [n.name for n in graph_def.node] + ["nowhere:3", "^nowhere"]
        node.input[number % len(node.input)] = others[pick % len(others)]
    elif kind == "delete" and len(graph_def.node) > 1:
        del graph_def.node[pick % len(graph_def.node)]
    elif kind == "const_shape" and node.op == "Const":
        node.attr["value"].tensor.tensor_shape.Clear()
        for d in dims:
            node.attr["value"].tensor.tensor_shape.dim.add(size=d)
    elif kind == "placeholder":
        h.placeholder_shape(dims)(graph_def)
    elif kind in ("recursive", "mutual", "nested") and not any(n.name == "hostile_call" for n in graph_def.node):
        {"recursive": h.recursive, "mutual": h.mutually_recursive, "nested": h.nested_func_attr}[kind](graph_def)
    elif kind == "chain" and not any(n.name == "hostile_call" for n in graph_def.node):
        h.chain(1 + number)(graph_def)


def _verify_path(meta_path: str, reader) -> None:
    """What ``verify`` does with an original graph, through the public pieces."""
    from migration.graph.reference import OriginalGraph
    from migration.graph.whole_model import default_io, sample_feeds

    og = OriginalGraph(meta_path, reader)
    io = default_io(og)
    og.check(io.outputs, io.inputs)
    feeds = sample_feeds(og, io.inputs)
    og.run(io.outputs, feeds)


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(mutation(), min_size=1, max_size=3))
def test_mutated_meta_gives_a_result_or_a_clear_error(base, tmp_path_factory, monkeypatch, mutations):
    from tensorflow.core.protobuf import meta_graph_pb2

    from migration.core.errors import MigrationError

    monkeypatch.setenv("RNN_MIGRATE_SANDBOX_WALL", "15")
    monkeypatch.setenv("RNN_MIGRATE_SANDBOX_CPU", "15")
    monkeypatch.setenv("RNN_MIGRATE_SANDBOX_AS", "4G")
    meta = meta_graph_pb2.MetaGraphDef()
    meta.ParseFromString(base.raw)
    for m in mutations:
        _apply(meta.graph_def, m)
    path = os.path.join(str(tmp_path_factory.mktemp("fuzz")), "model.meta")
    with open(path, "wb") as f:
        f.write(meta.SerializeToString())
    start = time.monotonic()
    try:
        _verify_path(path, base.reader)
    except MigrationError as exc:
        assert str(exc).strip() and "Traceback" not in str(exc)
    assert time.monotonic() - start < 120  # within the limits (15 s wall per run, plus a child restart)
