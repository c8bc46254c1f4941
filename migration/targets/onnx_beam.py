"""Beam search of a ``tf.contrib.seq2seq`` attention decoder as ONNX ``Loop`` s (opset 17, plain ops):
``seq2seq/<name>.beam.onnx``, TF 1.15's ``BeamSearchDecoder`` + ``dynamic_decode`` on ``tile_batch``-ed memory, the
twin of :meth:`modern_rnn.seq2seq.models.AttentionDecoderModel.beam_search` (no coverage penalty: the Keras 2 side
refuses one, as this file does).

The decoding ``Loop`` carries the decoder states tiled to ``[B * W, size]`` (row ``b * W + w``), the embedded inputs,
``log_probs``, ``finished`` and ``lengths`` ``[B, W]``. One iteration (1.15's ``_beam_search_step``)::

    step = LogSoftmax(logits)            finished beams: end_token at 0, every other token at float32's lowest
    total = log_probs + step             [B, W, V];  new_lengths = lengths + (not finished and token != end_token)
    scores = total / ((5 + new_lengths) / 6) ** length_penalty_weight
    TopK(scores [B, W * V], W)           (the lower index first on ties, as tf.math.top_k)
    token = index % V, parent = index // V;  log_probs, finished, lengths and every state gathered by parent

Beams 1..W-1 start finished at -inf, so the first step extends beam 0 only. The loop stops when every beam is
finished or after ``maximum_iterations`` steps; it emits the tokens and parents ``[T, B, W]``. A second ``Loop``
back-tracks them (1.15's ``GatherTree``): from the last step down, ``GatherElements`` by the current parent, steps at
or past each batch row's longest beam are ``end_token``; every position after the first ``end_token`` becomes
``end_token`` (an exclusive ``CumSum``).

Inputs ``memory``, ``memory_sequence_length``, ``start_tokens`` int32 ``[B]``, ``end_token`` int32 ``[]``,
``beam_width`` and ``maximum_iterations`` int64 ``[]``, ``length_penalty_weight`` float32 ``[]`` (and
``initial_state_<k>`` ``[B, size]`` like the teacher-forced file: tiled inside); outputs ``predicted_ids`` int32
``[B, T', W]`` and ``lengths`` int64 ``[B, W]``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from migration.targets.onnx_attention import (DecoderSpec, Memory, decoder_step, initial_states, memory_tensors,
                                              used_inits)
from migration.targets.onnx_graph import Graph

SUFFIX = ".beam.onnx"
INT32, INT64, BOOL, FLOAT = 6, 7, 9, 1


def _i64(g: Graph, stem: str, values) -> str:
    return g.const(stem, np.asarray(values, np.int64))


def _tile(g: Graph, t: str, width: str) -> str:
    """``[B, ...] -> [B * W, ...]``, each row repeated in place (``tile_batch``)."""
    shape = g.node("Shape", [t])[0]
    rank_rest = g.node("Slice", [shape, _i64(g, "one", [1]), _i64(g, "big", [1 << 30])])[0]
    batch = g.node("Slice", [shape, _i64(g, "zero", [0]), _i64(g, "one", [1])])[0]
    wide = g.node("Expand", [g.node("Unsqueeze", [t, _i64(g, "axes", [1])])[0],
                             g.node("Concat", [batch, width, rank_rest], axis=0)[0]])[0]
    return g.node("Reshape", [wide, g.node("Concat", [_i64(g, "minus", [-1]), rank_rest], axis=0)[0]])[0]


def _step(b: Graph, spec: DecoderSpec, mem: Memory, outer: dict, states: list[str], x: str,
          log_probs: str, finished: str, lengths: str, gather_parents: bool):
    """One beam step in ``b`` (the body graph); returns (going, new states, x, log_probs, finished, lengths, token,
    parent)."""
    vocab = spec.output_size
    logits, new_states = decoder_step(b, spec, mem, x, states)
    logits = b.node("Reshape", [logits, outer["bwv"]])[0]  # [B, W, V]
    step = b.node("LogSoftmax", [logits], axis=-1)[0]
    fin3 = b.node("Unsqueeze", [finished, _i64(b, "axes", [2])])[0]
    step = b.node("Where", [fin3, outer["eos_row"], step])[0]
    total = b.node("Add", [b.node("Unsqueeze", [log_probs, _i64(b, "axes", [2])])[0], step])[0]
    grows = b.node("And", [b.node("Not", [fin3])[0], outer["not_end"]])[0]
    new_lengths = b.node("Add", [b.node("Unsqueeze", [lengths, _i64(b, "axes", [2])])[0],
                                 b.node("Cast", [grows], to=INT64)[0]])[0]
    penalty = b.node("Pow", [b.node("Div", [b.node("Add", [b.const("five", np.float32(5.0)),
                                                           b.node("Cast", [new_lengths], to=FLOAT)[0]])[0],
                                            b.const("six", np.float32(6.0))])[0], "length_penalty_weight"])[0]
    scores = b.node("Div", [total, penalty])[0]
    flat = _i64(b, "flat", [0, -1])
    _, index = b.node("TopK", [b.node("Reshape", [scores, flat])[0], outer["k"]], 2, axis=-1, largest=1, sorted=1)
    v = _i64(b, "vocab", vocab)
    token, parent = b.node("Mod", [index, v])[0], b.node("Div", [index, v])[0]
    if not gather_parents:  # a negative control only: every beam keeps its own row
        parent = b.node("Add", [b.node("Mul", [parent, _i64(b, "zero", 0)])[0], outer["beam_ids"]])[0]
    new_log_probs = b.node("GatherElements", [b.node("Reshape", [total, flat])[0], index], axis=1)[0]
    parent_finished = b.node("GatherElements", [finished, parent], axis=1)[0]
    new_finished = b.node("Or", [parent_finished, b.node("Equal", [token, outer["end64"]])[0]])[0]
    new_lengths = b.node("Add", [b.node("GatherElements", [lengths, parent], axis=1)[0],
                                 b.node("Cast", [b.node("Not", [parent_finished])[0]], to=INT64)[0]])[0]
    rows = b.node("Reshape", [b.node("Add", [parent, outer["offsets"]])[0], _i64(b, "minus", [-1])])[0]
    gathered = [b.node("Gather", [s, rows], axis=0)[0] for s in new_states]
    next_x = b.node("Gather", [outer["table"], b.node("Reshape", [token, _i64(b, "minus", [-1])])[0]])[0]
    going = b.node("Not", [b.node("Cast", [b.node("ReduceMin", [b.node("Cast", [new_finished], to=INT32)[0]],
                                                  keepdims=0)[0]], to=BOOL)[0]])[0]
    return (going, gathered, next_x, new_log_probs, new_finished, new_lengths,
            b.node("Cast", [token], to=INT32)[0], b.node("Cast", [parent], to=INT32)[0])


def _body(g: Graph, spec: DecoderSpec, mem: Memory, outer: dict, n_states: int, name: str, gather_parents: bool):
    from onnx import TensorProto, helper

    b = Graph()
    b.count = g.count
    it, cond = b.name("iteration"), b.name("cond")
    states = [b.name("state") for _ in range(n_states)]
    x, log_probs, finished, lengths = b.name("x"), b.name("log_probs"), b.name("finished"), b.name("lengths")
    going, new_states, *rest = _step(b, spec, mem, outer, states, x, log_probs, finished, lengths,
                                     gather_parents)
    outs = [going] + [b.node("Identity", [s])[0] for s in new_states] + rest
    g.count = b.count
    info, T = helper.make_tensor_value_info, TensorProto
    inputs = ([info(it, T.INT64, []), info(cond, T.BOOL, [])] + [info(s, T.FLOAT, None) for s in states + [x]]
              + [info(log_probs, T.FLOAT, None), info(finished, T.BOOL, None), info(lengths, T.INT64, None)])
    types = [T.BOOL] + [T.FLOAT] * (n_states + 2) + [T.BOOL, T.INT64, T.INT32, T.INT32]
    return helper.make_graph(b.nodes, name, inputs, [info(o, t, None) for o, t in zip(outs, types)],
                             initializer=used_inits(b))


def _gather_tree(g: Graph, ids: str, parents: str, lengths: str, beam_ids: str, name: str) -> str:
    """1.15's ``GatherTree`` on ``ids`` / ``parents`` ``[T, B, W]`` (int32): the back-tracked ids ``[T, B, W]``."""
    from onnx import TensorProto, helper

    steps = g.node("Shape", [ids], start=0, end=1)[0]
    max_len = g.node("Unsqueeze", [g.node("ReduceMax", [lengths], axes=[1], keepdims=0)[0],
                                   _i64(g, "axes", [1])])[0]  # [B, 1] int64
    last = g.node("Sub", [g.node("Squeeze", [steps])[0], _i64(g, "one", 1)])[0]
    b = Graph()
    b.count = g.count
    it, cond, idx = b.name("iteration"), b.name("cond"), b.name("idx")
    t = b.node("Sub", [last, it])[0]
    step_ids = b.node("Gather", [ids, t], axis=0)[0]
    step_parents = b.node("Cast", [b.node("Gather", [parents, t], axis=0)[0]], to=INT64)[0]
    valid = b.node("Less", [t, max_len])[0]
    out = b.node("Where", [valid, b.node("GatherElements", [step_ids, idx], axis=1)[0], "end_token"])[0]
    new_idx = b.node("Where", [valid, b.node("GatherElements", [step_parents, idx], axis=1)[0], idx])[0]
    keep = b.node("Identity", [cond])[0]
    g.count = b.count
    info, T = helper.make_tensor_value_info, TensorProto
    body = helper.make_graph(b.nodes, name, [info(it, T.INT64, []), info(cond, T.BOOL, []),
                                             info(idx, T.INT64, None)],
                             [info(keep, T.BOOL, []), info(new_idx, T.INT64, None), info(out, T.INT32, None)],
                             initializer=used_inits(b))
    start = g.node("Expand", [beam_ids, g.node("Shape", [lengths])[0]])[0]
    backwards = g.node("Loop", [g.node("Squeeze", [steps])[0], "", start], 2, body=body)[1]
    forwards = g.node("Slice", [backwards, _i64(g, "start", [-1]), _i64(g, "end", [-(1 << 62)]),
                                _i64(g, "axes", [0]), _i64(g, "step", [-1])])[0]
    is_end = g.node("Cast", [g.node("Equal", [forwards, "end_token"])[0], ], to=INT32)[0]
    seen = g.node("Greater", [g.node("CumSum", [is_end, _i64(g, "axis", 0)], exclusive=1)[0],
                              g.const("zero", np.int32(0))])[0]
    return g.node("Where", [seen, "end_token", forwards])[0]


def _outer(g: Graph, spec: DecoderSpec, table: str, batch: str) -> dict:
    """Outer-scope tensors the step reads."""
    vocab = spec.output_size
    width = g.node("Reshape", ["beam_width", _i64(g, "one", [1])])[0]
    tokens = g.node("Range", [g.const("t0", np.int32(0)), g.const("v", np.int32(vocab)), g.const("dt", np.int32(1))])[0]
    is_end = g.node("Equal", [tokens, "end_token"])[0]
    beam_ids = g.node("Unsqueeze", [g.node("Range", [_i64(g, "zero", 0), "beam_width", _i64(g, "one", 1)])[0],
                                    _i64(g, "axes", [0])])[0]  # [1, W]
    rows = g.node("Range", [_i64(g, "zero", 0), g.node("Squeeze", [batch])[0], _i64(g, "one", 1)])[0]
    return {"bwv": g.node("Concat", [_i64(g, "minus", [-1]), width, _i64(g, "v", [vocab])], axis=0)[0],
            "eos_row": g.node("Where", [is_end, g.const("zero", np.float32(0.0)),
                                        g.const("lowest", np.finfo(np.float32).min)])[0],
            "not_end": g.node("Not", [is_end])[0], "k": width, "table": table, "beam_ids": beam_ids,
            "end64": g.node("Cast", ["end_token"], to=INT64)[0],
            "offsets": g.node("Unsqueeze", [g.node("Mul", [rows, "beam_width"])[0], _i64(g, "axes", [1])])[0]}


def build_beam_file(embedding: np.ndarray, spec: DecoderSpec, n_initial: int, name: str,
                    gather_parents: bool = True):
    """The ONNX ``ModelProto`` of beam search (``embedding``: the decoder's ``[V, D]`` table; ``gather_parents=False``
    builds a wrong file for negative controls only)."""
    import onnx
    from onnx import TensorProto, helper

    from migration.targets.onnx_export import OPSET

    g = Graph()
    info = helper.make_tensor_value_info
    memory_depth = int(spec.attention.memory_kernel.shape[0])
    inputs = [info("memory", TensorProto.FLOAT, ["batch", "memory_time", memory_depth]),
              info("memory_sequence_length", TensorProto.INT32, ["batch"]),
              info("start_tokens", TensorProto.INT32, ["batch"]), info("end_token", TensorProto.INT32, []),
              info("beam_width", TensorProto.INT64, []), info("maximum_iterations", TensorProto.INT64, []),
              info("length_penalty_weight", TensorProto.FLOAT, [])]
    sizes = [c.units for c in spec.cells for _ in range(c.state_count)]
    given: Sequence[str] = [f"initial_state_{k}" for k in range(n_initial)]
    inputs += [info(n, TensorProto.FLOAT, ["batch", size]) for n, size in zip(given, sizes)]
    width = g.node("Reshape", ["beam_width", _i64(g, "one", [1])])[0]
    mem = memory_tensors(g, spec, _tile(g, "memory", width), _tile(g, "memory_sequence_length", width))
    table = g.const("embedding", np.asarray(embedding, np.float32))
    batch = g.node("Shape", ["start_tokens"])[0]
    outer = _outer(g, spec, table, batch)
    states = initial_states(g, spec, batch, given)
    states = [_tile(g, s, width) for s in states]
    x0 = _tile(g, g.node("Gather", [table, g.node("Cast", ["start_tokens"], to=INT64)[0]])[0], width)
    bw = g.node("Concat", [batch, width], axis=0)[0]
    first = g.node("Expand", [g.node("Equal", [outer["beam_ids"], _i64(g, "zero", 0)])[0], bw])[0]
    log_probs0 = g.node("Where", [first, g.const("zero", np.float32(0.0)), g.const("inf", np.float32(-np.inf))])[0]
    finished0 = g.node("Not", [first])[0]
    lengths0 = g.node("Cast", [g.node("ConstantOfShape", [bw])[0]], to=INT64)[0]
    body = _body(g, spec, mem, outer, len(states), f"{name}_step", gather_parents)
    outs = g.node("Loop", ["maximum_iterations", g.const("true", np.array(True))] + states
                  + [x0, log_probs0, finished0, lengths0], len(states) + 6, body=body)
    lengths, ids, parents = outs[-3], outs[-2], outs[-1]
    g.node_named("Identity", [lengths], ["lengths"])
    tree = _gather_tree(g, ids, parents, lengths, outer["beam_ids"], f"{name}_gather_tree")
    g.node_named("Transpose", [tree], ["predicted_ids"], perm=[1, 0, 2])
    graph = helper.make_graph(g.nodes, name, inputs,
                              [info("predicted_ids", TensorProto.INT32, ["batch", "steps", "beam_width"]),
                               info("lengths", TensorProto.INT64, ["batch", "beam_width"])], initializer=g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnn-migrate")
    onnx.checker.check_model(proto, full_check=True)
    return proto


def run_beam(path: str, memory: np.ndarray, lengths: np.ndarray, start: np.ndarray, end: int, beam_width: int,
             maximum_iterations: int, length_penalty_weight: float = 0.0,
             state: Sequence[np.ndarray] = ()) -> tuple[np.ndarray, np.ndarray]:
    """(predicted_ids [B, T', W], lengths [B, W]) of a ``seq2seq/<name>.beam.onnx``."""
    from migration.targets.onnx_export import session

    feeds = {"memory": np.asarray(memory, np.float32), "memory_sequence_length": np.asarray(lengths, np.int32),
             "start_tokens": np.asarray(start, np.int32), "end_token": np.array(end, np.int32),
             "beam_width": np.array(beam_width, np.int64), "maximum_iterations": np.array(maximum_iterations, np.int64),
             "length_penalty_weight": np.array(length_penalty_weight, np.float32)}
    feeds.update({f"initial_state_{k}": s for k, s in enumerate(state)})
    ids, out_lengths = session(path).run(["predicted_ids", "lengths"], feeds)
    return ids, out_lengths
