"""``convert --target``: the ``tf.contrib.crf`` transition matrices (the manifest's ``crf`` entries) as Viterbi
decoders, written and checked per target.

Files beside ``crf/<name>.npy``: ``crf/<name>.keras3.keras`` (a Keras 3 model, inputs ``[x potentials [B, T, N],
sequence_length int32 [B]]``, the layer ``rnn_migrate>CRF`` of :mod:`migration.targets.keras3_layers` holding the
transitions unchanged; outputs ``decode_tags [B, T] int32``, ``best_score [B]``) and ``crf/<name>.onnx`` (the same
decode in plain ops, opset 17: a forward ``Scan`` of ``ReduceMax``/``ArgMax`` over ``score + transitions`` frozen past
each length by ``Where``, a backward ``Scan`` of ``GatherElements`` following the backpointers, the tags past each
length 0, TF 1.15's one-step branch by ``Where``; the forward Scan gets one extra step past every length, since
onnxruntime runs no Scan of zero iterations). Listed in the manifest's ``targets.<target>.blocks`` with
``"crf": true``.

Check (:func:`crf_cases`): random potentials ``[4, 6, N]`` with lengths 6, 1, 0 and 4, and a one-step case, against
TF 1.15's ``crf_decode`` equations run in TensorFlow (:func:`migration.core.crf_maths.crf_decode`, the maths of the
Keras 2 ``modern_rnn.CRF``, checked against brute-force enumeration of every tag path): ``reference: crf-ops``. The
original graph is not the reference: a TF1 program often decoded outside the graph (``viterbi_decode`` in NumPy), and
the transitions alone fix the decode.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np

from migration.targets.onnx_graph import Graph

SUFFIXES = {"keras3": ".keras3.keras", "onnx": ".onnx"}
OUTPUTS = ("decode_tags", "best_score")
REFERENCE = "crf-ops"


def keras3_crf_model(transitions: np.ndarray, name: str):
    import keras

    from migration.targets.keras3_layers import CRF

    x = keras.Input((None, transitions.shape[0]), dtype="float32", name="x")
    length = keras.Input((), dtype="int32", name="sequence_length")
    layer = CRF(int(transitions.shape[0]), name="crf")
    tags, score = layer(x, length)
    layer.set_weights([np.asarray(transitions, np.float32)])
    return keras.Model([x, length], [tags, score], name=name)


def _viterbi_forward(g: Graph, transitions: np.ndarray):
    """The forward Scan body: state ``score [B, N]``; scan inputs ``u_t [B, N]``, ``live_t [B]``; scan output the
    backpointers ``[B, N]`` (int64; a step past the length points each tag at itself)."""
    from onnx import TensorProto, helper

    body = Graph()
    body.count = g.count
    score, u_t, live_t = body.name("score"), body.name("u_t"), body.name("live_t")
    cand = body.node("Add", [body.node("Unsqueeze", [score, body.const("axes", np.array([2], np.int64))])[0],
                             body.const("transitions", np.asarray(transitions, np.float32)[None])])[0]
    best = body.node("Add", [body.node("ReduceMax", [cand], axes=[1], keepdims=0)[0], u_t])[0]
    back = body.node("ArgMax", [cand], axis=1, keepdims=0)[0]
    live = body.node("Unsqueeze", [live_t, body.const("axes", np.array([1], np.int64))])[0]
    identity = body.const("identity", np.arange(transitions.shape[0], dtype=np.int64))
    outs = [body.node("Where", [live, best, score])[0], body.node("Where", [live, back, identity])[0]]
    g.count = body.count
    return helper.make_graph(
        body.nodes, "viterbi_forward",
        [helper.make_tensor_value_info(score, TensorProto.FLOAT, None),
         helper.make_tensor_value_info(u_t, TensorProto.FLOAT, None),
         helper.make_tensor_value_info(live_t, TensorProto.BOOL, None)],
        [helper.make_tensor_value_info(outs[0], TensorProto.FLOAT, None),
         helper.make_tensor_value_info(outs[1], TensorProto.INT64, None)], initializer=body.inits)


def _viterbi_backward(g: Graph):
    """The backward Scan body: state ``tag [B]`` (int64), scan input ``back [B, N]``; the tag one step earlier."""
    from onnx import TensorProto, helper

    body = Graph()
    body.count = g.count
    tag, back = body.name("tag"), body.name("back")
    index = body.node("Unsqueeze", [tag, body.const("axes", np.array([1], np.int64))])[0]
    earlier = body.node("GatherElements", [back, index], axis=1)[0]
    earlier = body.node("Squeeze", [earlier, body.const("axes", np.array([1], np.int64))])[0]
    copy = body.node("Identity", [earlier])[0]
    g.count = body.count
    return helper.make_graph(
        body.nodes, "viterbi_backward",
        [helper.make_tensor_value_info(tag, TensorProto.INT64, None),
         helper.make_tensor_value_info(back, TensorProto.INT64, None)],
        [helper.make_tensor_value_info(earlier, TensorProto.INT64, None),
         helper.make_tensor_value_info(copy, TensorProto.INT64, None)], initializer=body.inits)


def onnx_crf_model(transitions: np.ndarray, name: str):
    """The ONNX ``ModelProto`` of the Viterbi decode (see the module docstring)."""
    import onnx
    from onnx import TensorProto, helper

    from migration.targets.onnx_export import OPSET

    g = Graph()

    def op(kind: str, *inputs: str, **attrs) -> str:
        return g.node(kind, list(inputs), **attrs)[0]

    def ints(stem: str, *values: int) -> str:
        return g.const(stem, np.array(values, np.int64))

    x_tm = op("Transpose", "x", perm=[1, 0, 2])  # [T, B, N]
    lengths = op("Cast", "sequence_length", to=TensorProto.INT64)
    steps = op("Squeeze", op("Shape", x_tm, start=0, end=1), ints("axes", 0))
    first = op("Gather", x_tm, g.const("zero", np.int64(0)), axis=0)
    rest = op("Slice", x_tm, ints("starts", 1), ints("ends", 2 ** 62), ints("axes", 0))
    times = op("Range", g.const("one", np.int64(1)), steps, g.const("one", np.int64(1)))
    live = op("Less", op("Unsqueeze", times, ints("axes", 1)), op("Unsqueeze", lengths, ints("axes", 0)))
    # one more step, past every length (score kept, each tag pointing at itself): onnxruntime runs no Scan of zero
    # iterations (T = 1), and the backward Scan then ends on the last tag itself
    one = ints("one", 1)
    rest = op("Concat", rest, op("ConstantOfShape", op("Concat", one, op("Shape", first), axis=0)), axis=0)
    never = helper.make_tensor("never", TensorProto.BOOL, [1], [False])
    live = op("Concat", live, op("ConstantOfShape", op("Concat", one, op("Shape", lengths), axis=0), value=never),
              axis=0)
    final, backs = g.node("Scan", [first, rest, live], 2, body=_viterbi_forward(g, transitions), num_scan_inputs=2)
    last = op("ArgMax", final, axis=1, keepdims=0)
    _, earlier = g.node("Scan", [last, backs], 2, body=_viterbi_backward(g), num_scan_inputs=1,
                        scan_input_directions=[1], scan_output_directions=[1])  # [T, B]: the tag at each t
    path = op("Transpose", earlier, perm=[1, 0])
    positions = op("Range", g.const("zero", np.int64(0)), steps, g.const("one", np.int64(1)))
    inside = op("Less", op("Unsqueeze", positions, ints("axes", 0)), op("Unsqueeze", lengths, ints("axes", 1)))
    path = op("Mul", path, op("Cast", inside, to=TensorProto.INT64))
    zero = g.const("zero", np.float32(0.0))
    best = op("Where", op("Greater", lengths, g.const("zero", np.int64(0))), op("ReduceMax", final, axes=[1],
                                                                                 keepdims=0), zero)
    single = op("Equal", steps, g.const("one", np.int64(1)))  # TF 1.15's one-step branch: the length not read
    path = op("Where", single, op("Unsqueeze", op("ArgMax", first, axis=1, keepdims=0), ints("axes", 1)), path)
    best = op("Where", single, op("ReduceMax", first, axes=[1], keepdims=0), best)
    g.node_named("Cast", [path], [OUTPUTS[0]], to=TensorProto.INT32)
    g.node_named("Identity", [best], [OUTPUTS[1]])
    n = int(transitions.shape[0])
    graph = helper.make_graph(
        g.nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "time", n]),
         helper.make_tensor_value_info("sequence_length", TensorProto.INT32, ["batch"])],
        [helper.make_tensor_value_info(OUTPUTS[0], TensorProto.INT32, ["batch", "time"]),
         helper.make_tensor_value_info(OUTPUTS[1], TensorProto.FLOAT, ["batch"])], initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnn-migrate")
    onnx.checker.check_model(model, full_check=True)
    return model


def write_crf_targets(targets: Sequence[str], tmp: str, entries: Sequence[dict],
                      read_weight: Callable[[str], np.ndarray]) -> dict[str, dict[str, str]]:
    """Write every CRF's target files into ``tmp``: target -> CRF name -> file relative to ``tmp``."""
    files: dict[str, dict[str, str]] = {t: {} for t in targets}
    for entry in entries:
        transitions = np.asarray(read_weight(entry["name"]), np.float32)
        stem = os.path.splitext(entry["file"])[0]
        for target in targets:
            rel = stem + SUFFIXES[target]
            if target == "keras3":
                keras3_crf_model(transitions, "crf").save(os.path.join(tmp, rel))
            else:
                import onnx

                onnx.save_model(onnx_crf_model(transitions, "crf"), os.path.join(tmp, rel))
            files[target][entry["name"]] = rel
    return files


def crf_inputs(num_tags: int, seed: int, steps: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Potentials ``[4, steps, N]`` and lengths ``steps, 1, 0, 4`` (clipped to ``steps``)."""
    x = np.random.default_rng(seed).normal(0.0, 1.5, (4, steps, num_tags)).astype(np.float32)
    return x, np.minimum(np.array([steps, 1, 0, 4], np.int32), steps)


def reference_decode(x: np.ndarray, lengths: np.ndarray, transitions: np.ndarray) -> list[np.ndarray]:
    """TF 1.15's ``crf_decode`` (:mod:`migration.core.crf_maths`): ``[tags, best_score]``."""
    import tensorflow as tf

    from migration.core.crf_maths import crf_decode

    tags, score = crf_decode(tf.constant(x), tf.constant(transitions), tf.constant(lengths))
    return [np.asarray(tags), np.asarray(score)]


def crf_cases(entries: Sequence[dict], files: dict[str, dict[str, str]], read_weight: Callable[[str], np.ndarray],
              seed: int = 200) -> list[tuple]:
    """(check's block, x, lengths, expected, reference, target -> file) per CRF and input case (six steps, one
    step): :func:`migration.targets.verify_targets.verify_blocks`' ``cases``."""
    cases = []
    for k, entry in enumerate(entries):
        transitions = np.asarray(read_weight(entry["name"]), np.float32)
        for steps in (6, 1):
            x, lengths = crf_inputs(int(transitions.shape[0]), seed + k, steps)
            block: dict[str, Any] = {"name": entry["name"], "outputs": list(OUTPUTS),
                                     "what": f"crf {entry['name']} (T={steps})"}
            cases.append((block, x, lengths, reference_decode(x, lengths, transitions), REFERENCE,
                          {t: by[entry["name"]] for t, by in files.items()}))
    return cases
