"""Greedy decoding of a ``tf.contrib.seq2seq`` attention decoder as an ONNX ``Loop`` (opset 17):
``seq2seq/<name>.greedy.onnx``, TF 1.15's ``GreedyEmbeddingHelper`` + ``BasicDecoder`` + ``dynamic_decode``
(``impute_finished=False``), the twin of :meth:`modern_rnn.seq2seq.models.AttentionDecoderModel.greedy`.

One iteration: the decoder step (:func:`migration.targets.onnx_attention.decoder_step`, the output layer included)
on the embedded previous token; ``sample_id = ArgMax(logits)`` (the first maximum, as TF's ``argmax``); a row is
finished once it emits ``end_token`` (or at ``maximum_iterations``); ``lengths`` count the steps up to and including
the first ``end_token``; the next input is ``Gather(embedding, sample_id)``. The loop stops when every row is finished
or after ``maximum_iterations`` steps, like ``dynamic_decode``; rows finished earlier keep decoding (TF1 does not
impute them), their ids are emitted as they come.

Inputs ``memory``, ``memory_sequence_length``, ``start_tokens`` int32 ``[B]``, ``end_token`` int32 ``[]``,
``maximum_iterations`` int64 ``[]`` (and ``initial_state_<k>`` like the teacher-forced file); outputs ``sample_id``
int32 ``[B, T']`` and ``lengths`` int32 ``[B]``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from migration.targets.onnx_attention import (DecoderSpec, Memory, decoder_step, initial_states, memory_tensors,
                                              used_inits)
from migration.targets.onnx_graph import Graph

SUFFIX = ".greedy.onnx"
INT32, INT64, BOOL, FLOAT = 6, 7, 9, 1


def _body(g: Graph, spec: DecoderSpec, mem: Memory, table: str, n_states: int, name: str):
    """The Loop body: (iteration, condition, states..., x, finished, lengths) -> (condition, states..., x,
    finished, lengths, sample_id)."""
    from onnx import TensorProto, helper

    b = Graph()
    b.count = g.count
    it, cond = b.name("iteration"), b.name("cond")
    states = [b.name("state") for _ in range(n_states)]
    x, finished, lengths = b.name("x"), b.name("finished"), b.name("lengths")
    logits, new_states = decoder_step(b, spec, mem, x, states)
    sample = b.node("ArgMax", [logits], axis=-1, keepdims=0)[0]  # int64 [B]
    sample32 = b.node("Cast", [sample], to=INT32)[0]
    time1 = b.node("Add", [b.node("Cast", [it], to=INT32)[0], b.const("one", np.int32(1))])[0]
    done = b.node("Or", [b.node("Equal", [sample32, "end_token"])[0], finished])[0]
    at_max = b.node("GreaterOrEqual", [b.node("Cast", [time1], to=INT64)[0], "maximum_iterations"])[0]
    done = b.node("Or", [done, at_max])[0]
    new_lengths = b.node("Where", [b.node("Not", [finished])[0], time1, lengths])[0]  # the previous finished
    going = b.node("Greater", [b.node("ReduceMax", [b.node("Cast", [b.node("Not", [done])[0]], to=INT32)[0]],
                                      keepdims=0)[0], b.const("zero", np.int32(0))])[0]
    next_x = b.node("Gather", [table, sample])[0]
    outs = [going] + [b.node("Identity", [s])[0] for s in new_states] + [next_x, done, new_lengths, sample32]
    g.count = b.count
    info = helper.make_tensor_value_info
    inputs = ([info(it, TensorProto.INT64, []), info(cond, TensorProto.BOOL, [])]
              + [info(s, TensorProto.FLOAT, None) for s in states + [x]]
              + [info(finished, TensorProto.BOOL, None), info(lengths, TensorProto.INT32, None)])
    types = [TensorProto.BOOL] + [TensorProto.FLOAT] * (n_states + 1) + [TensorProto.BOOL, TensorProto.INT32,
                                                                       TensorProto.INT32]
    return helper.make_graph(b.nodes, name, inputs, [info(o, t, None) for o, t in zip(outs, types)],
                             initializer=used_inits(b))


def build_greedy_file(embedding: np.ndarray, spec: DecoderSpec, n_initial: int, name: str):
    """The ONNX ``ModelProto`` of greedy decoding (``embedding``: the decoder's ``[V, D]`` table)."""
    import onnx
    from onnx import TensorProto, helper

    from migration.targets.onnx_export import OPSET

    g = Graph()
    info = helper.make_tensor_value_info
    memory_depth = int(spec.attention.memory_kernel.shape[0])
    inputs = [info("memory", TensorProto.FLOAT, ["batch", "memory_time", memory_depth]),
              info("memory_sequence_length", TensorProto.INT32, ["batch"]),
              info("start_tokens", TensorProto.INT32, ["batch"]), info("end_token", TensorProto.INT32, []),
              info("maximum_iterations", TensorProto.INT64, [])]
    sizes = [c.units for c in spec.cells for _ in range(c.state_count)]
    given: Sequence[str] = [f"initial_state_{k}" for k in range(n_initial)]
    inputs += [info(n, TensorProto.FLOAT, ["batch", size]) for n, size in zip(given, sizes)]
    mem = memory_tensors(g, spec, "memory", "memory_sequence_length")
    table = g.const("embedding", np.asarray(embedding, np.float32))
    batch = g.node("Shape", ["start_tokens"])[0]
    states = initial_states(g, spec, batch, given)
    x0 = g.node("Gather", [table, g.node("Cast", ["start_tokens"], to=INT64)[0]])[0]
    finished0 = g.node("Cast", [g.node("ConstantOfShape", [batch])[0]], to=BOOL)[0]
    lengths0 = g.node("Cast", [g.node("ConstantOfShape", [batch])[0]], to=INT32)[0]
    body = _body(g, spec, mem, table, len(states), f"{name}_step")
    outs = g.node("Loop", ["maximum_iterations", g.const("true", np.array(True))] + states
                  + [x0, finished0, lengths0], len(states) + 4, body=body)
    g.node_named("Identity", [outs[-2]], ["lengths"])
    g.node_named("Transpose", [outs[-1]], ["sample_id"], perm=[1, 0])
    graph = helper.make_graph(g.nodes, name, inputs, [info("sample_id", TensorProto.INT32, ["batch", "steps"]),
                                                      info("lengths", TensorProto.INT32, ["batch"])],
                              initializer=g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnn-migrate")
    onnx.checker.check_model(proto, full_check=True)
    return proto


def run_greedy(path: str, memory: np.ndarray, lengths: np.ndarray, start: np.ndarray, end: int,
               maximum_iterations: int, state: Sequence[np.ndarray] = ()) -> tuple[np.ndarray, np.ndarray]:
    """(sample_id [B, T'], lengths [B]) of a ``seq2seq/<name>.greedy.onnx``."""
    from migration.targets.onnx_export import session

    feeds = {"memory": memory, "memory_sequence_length": np.asarray(lengths, np.int32),
             "start_tokens": np.asarray(start, np.int32), "end_token": np.array(end, np.int32),
             "maximum_iterations": np.array(maximum_iterations, np.int64)}
    feeds.update({f"initial_state_{k}": s for k, s in enumerate(state)})
    ids, out_lengths = session(path).run(["sample_id", "lengths"], feeds)
    return ids, out_lengths
