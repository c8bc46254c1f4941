"""ONNX twin of TF 1.15 ``tf.contrib.legacy_seq2seq.embedding_attention_seq2seq`` (``convert --target onnx``): the
statically unrolled TF1 steps as two ``Scan`` s of plain ops (opset 17), so that one graph takes every bucket's
lengths.

Inputs ``encoder_inputs`` / ``decoder_inputs`` int32 ``[batch, time]``; output ``outputs`` float32 ``[batch, Td, O]``
(the TF1 output list stacked on axis 1, as the Keras 2 model returns it). The maths are
:mod:`migration.targets.keras3_legacy`'s, step for step:

* encoder ``Scan`` over the embedded ids (``Gather`` of ``rnn/embedding_wrapper/embedding``): the stack's step on the
  flat TF1-order state (zeros first), its top output scanned out (the attention states ``H``);
* decoder ``Scan`` over the embedded decoder ids, carrying the cell state, the attention reads, the previous output,
  the step number, ``H`` and each head's ``H @ AttnW_k``: with ``feed_previous`` a step ``t > 0`` takes
  ``Gather(embedding, ArgMax(prev [@ w + b]))`` (``Where`` on the step number) instead of its id;
  ``[inp, attns] @ kernel + bias``; the stack; ``output_projection_wrapper``; per head
  ``Softmax(ReduceSum(V * Tanh(H W + query @ Attention_k + b), 2))`` weighing ``H``; ``AttnOutputProjection``.

Cells (Keras layout, gate blocks in the Keras order, forget_bias folded): LSTM ``i, f, c, o``; GRU ``z, r, h`` with
the reset applied to ``h`` before its recurrent MatMul (TF1's GRUCell); a simple RNN.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from migration.targets.onnx_graph import Graph
from migration.targets.weights import ACTIVATIONS, GRU, LSTM

TOP = "embedding_attention_seq2seq"
DEC = TOP + "/embedding_attention_decoder"
ATT = DEC + "/attention_decoder"
INPUTS = ("encoder_inputs", "decoder_inputs")
OUTPUT = "outputs"


class Ops:
    """Small op helpers on a :class:`~migration.targets.onnx_graph.Graph`."""

    def __init__(self, g: Graph) -> None:
        self.g = g

    def __call__(self, kind: str, *inputs: str, **attrs) -> str:
        return self.g.node(kind, list(inputs), **attrs)[0]

    def w(self, stem: str, array) -> str:
        return self.g.const(stem, np.asarray(array, np.float32))

    def ints(self, *values: int) -> str:
        return self.g.const("ints", np.array(values, np.int64))

    def affine(self, args: list[str], kernel, bias) -> str:
        x = args[0] if len(args) == 1 else self("Concat", *args, axis=1)
        return self("Add", self("MatMul", x, self.w("kernel", kernel)), self.w("bias", bias))

    def split(self, a: str, units: int, n: int) -> list[str]:
        return self.g.node("Split", [a, self.ints(*([units] * n))], n, axis=-1)


def cell_step(o: Ops, cell: dict, x: str, states: list[str]) -> tuple[str, list[str]]:
    """One TF1 cell step (``cell``: kind LSTM/GRU/RNN, units, activation, Keras arrays); ``states`` TF1 order."""
    kernel, recurrent, bias = cell["weights"]
    units, act = cell["units"], ACTIVATIONS[cell["activation"]]
    if cell["kind"] == LSTM:
        c, h = states
        z = o("Add", o.affine([x], kernel, bias), o("MatMul", h, o.w("recurrent", recurrent)))
        i, f, g, out = o.split(z, units, 4)
        c2 = o("Add", o("Mul", o("Sigmoid", f), c), o("Mul", o("Sigmoid", i), o(act, g)))
        h2 = o("Mul", o("Sigmoid", out), o(act, c2))
        return h2, [c2, h2]
    (h,) = states
    if cell["kind"] == GRU:
        xz, xr, xh = o.split(o.affine([x], kernel, bias), units, 3)
        hz, hr = o.split(o("MatMul", h, o.w("recurrent", recurrent[:, :2 * units])), units, 2)
        z, r = o("Sigmoid", o("Add", xz, hz)), o("Sigmoid", o("Add", xr, hr))
        hh = o(act, o("Add", xh, o("MatMul", o("Mul", r, h), o.w("recurrent", recurrent[:, 2 * units:]))))
        one = o.w("one", np.float32(1.0))
        h2 = o("Add", o("Mul", z, h), o("Mul", o("Sub", one, z), hh))
        return h2, [h2]
    h2 = o(act, o("Add", o.affine([x], kernel, bias), o("MatMul", h, o.w("recurrent", recurrent))))
    return h2, [h2]


def stack_step(o: Ops, desc: dict, layers: list[int], x: str, flat: list[str]) -> tuple[str, list[str]]:
    new, at = [], 0
    for index in layers:
        cell = desc["cells"][index]
        n = 2 if cell["kind"] == LSTM else 1
        x, states = cell_step(o, cell, x, flat[at:at + n])
        new += states
        at += n
    return x, new


def state_sizes(desc: dict, layers: list[int]) -> list[int]:
    return [desc["cells"][i]["units"] for i in layers for _ in range(2 if desc["cells"][i]["kind"] == LSTM else 1)]


def attention(o: Ops, desc: dict, hidden: str, features: list[str], flat: list[str]) -> list[str]:
    named, query = desc["named"], o("Concat", *flat, axis=1)
    out = []
    for k in range(desc["num_heads"]):
        y = o.affine([query], named[f"{ATT}/Attention_{k}/kernel"], named[f"{ATT}/Attention_{k}/bias"])
        t = o("Tanh", o("Add", features[k], o("Unsqueeze", y, o.ints(1))))
        scores = o("ReduceSum", o("Mul", t, o.w("AttnV", named[f"{ATT}/AttnV_{k}"])), o.ints(2), keepdims=0)
        weights = o("Unsqueeze", o("Softmax", scores, axis=1), o.ints(2))
        out.append(o("ReduceSum", o("Mul", weights, hidden), o.ints(1), keepdims=0))
    return out


def _body(g: Graph, name: str, build) -> Any:
    """A Scan body: ``build(ops) -> (input (name, type) pairs, output (name, type) pairs)``, built in its own
    :class:`Graph` (own initializers) with names unique in ``g``."""
    from onnx import helper

    body = Graph()
    body.count = g.count
    ins, outs = build(Ops(body))
    g.count = body.count
    return helper.make_graph(body.nodes, name, [helper.make_tensor_value_info(n, t, None) for n, t in ins],
                             [helper.make_tensor_value_info(n, t, None) for n, t in outs], initializer=body.inits)


def _encoder_body(g: Graph, desc: dict):
    from onnx import TensorProto

    def build(o: Ops):
        flat = [o.g.name("state") for _ in state_sizes(desc, desc["encoder_layers"])]
        x = o.g.name("x_t")
        top, new = stack_step(o, desc, desc["encoder_layers"], x, flat)
        new = [o("Identity", s) for s in new]
        out = o("Identity", top)
        f = TensorProto.FLOAT
        return [(n, f) for n in flat + [x]], [(n, f) for n in new + [out]]
    return _body(g, "encoder_step", build)


def _decoder_body(g: Graph, desc: dict):
    from onnx import TensorProto

    named, heads = desc["named"], desc["num_heads"]

    def build(o: Ops):
        flat = [o.g.name("state") for _ in state_sizes(desc, desc["decoder_layers"])]
        attns = [o.g.name("attn") for _ in range(heads)]
        prev, step, hidden = o.g.name("prev"), o.g.name("step"), o.g.name("hidden")
        features = [o.g.name("features") for _ in range(heads)]
        emb_t = o.g.name("emb_t")
        inp = emb_t
        if desc["feed_previous"]:
            logits = o.affine([prev], *desc["proj"]) if desc["projection"] else prev
            fed = o("Gather", o.w("embedding", named[f"{DEC}/embedding"]), o("ArgMax", logits, axis=1, keepdims=0),
                    axis=0)
            inp = o("Where", o("Greater", step, o.g.const("zero", np.int64(0))), fed, emb_t)
        x = o.affine([inp] + attns, named[f"{ATT}/kernel"], named[f"{ATT}/bias"])
        cell_out, new = stack_step(o, desc, desc["decoder_layers"], x, flat)
        if not desc["projection"]:
            cell_out = o.affine([cell_out], named[f"{ATT}/output_projection_wrapper/kernel"],
                                named[f"{ATT}/output_projection_wrapper/bias"])
        new_attns = attention(o, desc, hidden, features, new)
        out = o.affine([cell_out] + new_attns, named[f"{ATT}/AttnOutputProjection/kernel"],
                       named[f"{ATT}/AttnOutputProjection/bias"])
        carried = [o("Identity", s) for s in new + new_attns + [out]]
        carried += [o("Add", step, o.g.const("one", np.int64(1))), o("Identity", hidden)]
        carried += [o("Identity", f) for f in features]
        scanned = o("Identity", out)
        f, i = TensorProto.FLOAT, TensorProto.INT64
        ins = [(n, f) for n in flat + attns + [prev]] + [(step, i)] + [(n, f) for n in [hidden] + features + [emb_t]]
        outs = [(n, f) for n in carried[:-2 - heads]] + [(carried[-2 - heads], i)]
        outs += [(n, f) for n in carried[-1 - heads:] + [scanned]]
        return ins, outs
    return _body(g, "decoder_step", build)


def output_size(desc: dict) -> int:
    top = desc["cells"][desc["decoder_layers"][-1]]["units"]
    return top if desc["projection"] else desc["num_decoder_symbols"]


def build_model(desc: dict, name: str):
    """The ONNX ``ModelProto`` (see the module docstring). ``desc``: ``cells`` (kind, units, activation, Keras
    ``weights``), ``encoder_layers``, ``decoder_layers``, ``named`` (TF1-relative name -> array), ``num_heads``,
    ``num_decoder_symbols``, ``projection``, ``proj`` ((w, b) or None), ``project_outputs``, ``feed_previous``,
    ``initial_state_attention``."""
    import onnx
    from onnx import TensorProto, helper

    from migration.targets.onnx_export import OPSET

    g = Graph()
    o = Ops(g)
    named, heads, size = desc["named"], desc["num_heads"], output_size(desc)
    batch = o("Shape", INPUTS[0], start=0, end=1)

    def zeros(width: int) -> str:
        return o("ConstantOfShape", o("Concat", batch, o.ints(width), axis=0))

    enc = o("Gather", o.w("embedding", named[f"{TOP}/rnn/embedding_wrapper/embedding"]),
            o("Transpose", INPUTS[0], perm=[1, 0]), axis=0)
    enc_flat = [zeros(s) for s in state_sizes(desc, desc["encoder_layers"])]
    n_enc = len(enc_flat)
    enc_out = g.node("Scan", enc_flat + [enc], n_enc + 1, body=_encoder_body(g, desc), num_scan_inputs=1)
    state, hidden = enc_out[:n_enc], o("Transpose", enc_out[n_enc], perm=[1, 0, 2])  # [B, Te, A]
    features = [o("MatMul", hidden, o.w("AttnW", named[f"{ATT}/AttnW_{k}"])) for k in range(heads)]
    width = desc["cells"][desc["encoder_layers"][-1]]["units"]
    attns = attention(o, desc, hidden, features, state) if desc["initial_state_attention"] else \
        [zeros(width) for _ in range(heads)]
    dec = o("Gather", o.w("embedding", named[f"{DEC}/embedding"]), o("Transpose", INPUTS[1], perm=[1, 0]), axis=0)
    carried = state + attns + [zeros(size), g.const("step", np.int64(0)), hidden] + features
    dec_out = g.node("Scan", carried + [dec], len(carried) + 1, body=_decoder_body(g, desc), num_scan_inputs=1)
    out = o("Transpose", dec_out[-1], perm=[1, 0, 2])
    if desc["project_outputs"] and desc["proj"] is not None:
        out = o("Add", o("MatMul", out, o.w("proj_w", desc["proj"][0])), o.w("proj_b", desc["proj"][1]))
        size = int(np.shape(desc["proj"][0])[1])
    g.node_named("Identity", [out], [OUTPUT])
    graph = helper.make_graph(
        g.nodes, name, [helper.make_tensor_value_info(n, TensorProto.INT32, ["batch", t])
                        for n, t in zip(INPUTS, ("encoder_time", "decoder_time"))],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", "decoder_time", size])],
        initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnn-migrate")
    onnx.checker.check_model(model, full_check=True)
    return model
