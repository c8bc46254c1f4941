"""Hostile original graphs of allowlisted ops only (issue 20, finding 3 and 7): real ``.meta`` files next to real
``Saver`` checkpoints, either built with TensorFlow (a hook on the logits or on the RNN's initial state) or edited
afterwards on the saved ``MetaGraphDef`` (function libraries, placeholder shapes), as a hostile user would."""
from __future__ import annotations

import os
from typing import Callable, Optional

import legacy_rnn
from legacy_rnn import tf, v1

T, D, U = 5, 3, 4
FLOAT = 1  # DT_FLOAT


def build(directory, logits_hook: Optional[Callable] = None, state_hook: Optional[Callable] = None) -> str:
    """A BasicRNNCell ``dynamic_rnn`` + dense head; ``logits_hook(x, logits)`` / ``state_hook(x, state)`` put something
    on the logits path / into the RNN's initial state (then the block's own reference run needs it)."""
    os.makedirs(directory, exist_ok=True)
    with legacy_rnn.new_graph(3) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        cell = legacy_rnn.basic_rnn_cell(U)
        init = cell.zero_state(tf.shape(x)[0], tf.float32)
        if state_hook is not None:
            init = state_hook(x, init)
        outputs, _ = v1.nn.dynamic_rnn(cell, x, initial_state=init, dtype=tf.float32)
        logits = v1.layers.dense(outputs[:, -1], 2, name="head")
        if logits_hook is not None:
            logits = logits_hook(x, logits)
        tf.identity(logits, name="logits")
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        prefix = v1.train.Saver().save(sess, os.path.join(str(directory), "model.ckpt"))
        sess.close()
    return prefix


# -- hooks (TensorFlow-built) ---------------------------------------------------------------------------------------

def forever(x, value):
    """A ``while_loop`` that never ends: v starts at |sum(x)| >= 0 and only grows (float32 stops at 2**24), > -1."""
    _, y = v1.while_loop(lambda i, v: v > -1.0, lambda i, v: (i + 1, v + 1.0), [0, tf.abs(tf.reduce_sum(x))],
                         name="forever")
    return value + 0.0 * y


def huge_fill(dims) -> Callable:
    """``Fill(dims)`` with the first size computed at run time (no constant folding)."""
    def hook(x, logits):
        first = tf.cast(tf.reduce_sum(x) * 0.0 + dims[0], tf.int32)  # float: grappler cannot fold it
        big = tf.fill(tf.stack([first, *dims[1:]]), 1.0, name="huge_fill")
        return logits + 0.0 * tf.reduce_sum(big)
    return hook


def huge_constant_fill(x, logits):
    big = tf.fill(tf.constant([2 ** 20, 2 ** 20, 16]), 1.0, name="huge_const_fill")
    return logits + 0.0 * tf.reduce_sum(big)


def huge_range(x, logits):
    """``Range(0, 2**40)`` (int64: 8 TiB)."""
    r = tf.range(tf.constant(0, tf.int64), tf.constant(2 ** 40, tf.int64) + tf.cast(tf.shape(x)[0] * 0, tf.int64),
                 name="huge_range")
    return logits + 0.0 * tf.cast(tf.reduce_sum(r), tf.float32)


def failing_assert(x, logits):
    check = tf.debugging.Assert(tf.reduce_sum(x) < -1e30, ["never true"], name="never_true")
    with tf.control_dependencies([check]):
        return tf.identity(logits)


# -- .meta edits ----------------------------------------------------------------------------------------------------

def edit_meta(prefix: str, edit: Callable) -> None:
    """Apply ``edit(graph_def)`` to ``prefix.meta`` in place (protobuf only)."""
    from tensorflow.core.protobuf import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    with open(prefix + ".meta", "rb") as f:
        meta.ParseFromString(f.read())
    edit(meta.graph_def)
    with open(prefix + ".meta", "wb") as f:
        f.write(meta.SerializeToString())


def function(name: str, callee: Optional[str] = None, op: str = "Identity", callee_attr: Optional[str] = None):
    """A ``FunctionDef`` float x -> float y whose body is ``callee(x)`` (a ``PartitionedCall``), ``op(x)``, or a call
    of the function its caller passes in attribute ``callee_attr``."""
    from tensorflow.core.framework import function_pb2

    fd = function_pb2.FunctionDef()
    fd.signature.name = name
    fd.signature.input_arg.add(name="x", type=FLOAT)
    fd.signature.output_arg.add(name="y", type=FLOAT)
    if callee is not None or callee_attr is not None:
        node = fd.node_def.add(name="call", op="PartitionedCall", input=["x"])
        node.attr["Tin"].list.type.append(FLOAT)
        node.attr["Tout"].list.type.append(FLOAT)
        if callee is not None:
            node.attr["f"].func.name = callee
        else:
            node.attr["f"].placeholder = callee_attr
            fd.signature.attr.add(name=callee_attr, type="func")
        fd.ret["y"] = "call:output:0"
    else:
        node = fd.node_def.add(name="body", op=op, input=["x"])
        node.attr["T"].type = FLOAT
        fd.ret["y"] = "body:output:0"
    return fd


def call_on_logits(graph_def, fname: str, nested: Optional[dict] = None) -> None:
    """Put ``PartitionedCall(f=fname)`` between the head and ``logits``; ``nested``: attr name -> function name
    passed inside the func attribute (a function reached through a func attr nested in another)."""
    logits = next((n for n in graph_def.node if n.name == "logits"), None)
    if logits is None or not logits.input:  # (a fuzzed graph may have lost it)
        return
    node = graph_def.node.add(name="hostile_call", op="PartitionedCall", input=["head/BiasAdd"])
    node.attr["Tin"].list.type.append(FLOAT)
    node.attr["Tout"].list.type.append(FLOAT)
    node.attr["f"].func.name = fname
    for key, inner in (nested or {}).items():
        node.attr["f"].func.attr[key].func.name = inner
    logits.input[0] = "hostile_call"


def chain(depth: int) -> Callable:
    def edit(graph_def):
        graph_def.library.function.extend(function(f"chain_{k}", f"chain_{k + 1}") for k in range(depth - 1))
        graph_def.library.function.append(function(f"chain_{depth - 1}"))
        call_on_logits(graph_def, "chain_0")
    return edit


def recursive(graph_def) -> None:
    graph_def.library.function.append(function("self_recursive", "self_recursive"))
    call_on_logits(graph_def, "self_recursive")


def mutually_recursive(graph_def) -> None:
    graph_def.library.function.extend([function("ping", "pong"), function("pong", "ping")])
    call_on_logits(graph_def, "ping")


def nested_func_attr(graph_def) -> None:
    """``outer`` calls whatever function its caller passes as attribute ``inner``; the caller passes ``evil``, whose
    body is a ``ReadFile`` (off the allowlist)."""
    evil = function("evil", op="ReadFile")
    graph_def.library.function.extend([function("outer", callee_attr="inner"), evil])
    call_on_logits(graph_def, "outer", nested={"inner": "evil"})


def placeholder_shape(dims) -> Callable:
    def edit(graph_def):
        x = next((n for n in graph_def.node if n.name == "x"), None)
        if x is None:
            return
        del x.attr["shape"].shape.dim[:]
        for d in dims:
            x.attr["shape"].shape.dim.add(size=d)
    return edit
