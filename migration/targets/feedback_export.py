"""A whole model's ``tf.nn.raw_rnn`` decoder (the Keras 2 layer ``modern_rnn.FeedbackDecoder``) for the targets.

The decoder's cell is the cell of a manifest block (``model.layers[<layer>]["block"]``): its cells come from the
family converters as that block's target files do (:func:`migration.targets.weights.block_cells`: forget_bias folded,
Keras gate order), its projection ``kernel``, ``bias`` and feedback ``embeddings`` from the Keras 2 layer (the
checkpoint's arrays unchanged), and its options (``feedback`` ``argmax`` / ``inputs``, ``use_bias``, ``eos_id``,
``vocab_size``, ``input_depth``) from the layer's config.

* Keras 3: :class:`migration.targets.keras3_feedback.FeedbackDecoder` (``rnn_migrate>FeedbackDecoder``) holding
  ``keras.layers.LSTMCell`` / ``GRUCell`` (``reset_after`` as the block) / ``SimpleRNNCell`` or the custom cell of
  :mod:`migration.targets.keras3_cells`, one per layer of the stack.
* ONNX: one ``Loop`` (trip count ``max(max(lengths), 1)``, the ``cond`` output "some row not finished"); loop-carried
  the finished flags, the next input and the states (Keras order), the scan output the step's output (zeros for a
  finished row), stacked time-major by the ``Loop``. The body runs the stack's step: a standard cell as its ONNX
  ``LSTM`` / ``GRU`` / ``RNN`` op over one time step from the carried state (the block's weights,
  :func:`migration.targets.onnx_export.onnx_weights`), a custom cell as its step in plain ops
  (:data:`migration.targets.onnx_cells.STEPS`); then ``Where`` keeps a finished row's state, and the next input is
  ``Gather(E, ArgMax(out @ W + b))`` (``ArgMax``'s first index on ties, as ``tf.argmax``) or ``Gather(sequence,
  min(t + 1, T - 1))``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import numpy as np

from migration.targets import keras3, onnx_cells
from migration.targets.glue import NotExportable
from migration.targets.onnx_graph import Graph
from migration.targets.weights import ACTIVATIONS, CUSTOM, GRU, LSTM, TargetCell

CLASS = "FeedbackDecoder"


@dataclasses.dataclass
class Decoder:
    """One raw_rnn decoder layer for the targets: its cells (bottom to top), own arrays and options."""

    cells: list[TargetCell]
    arrays: dict[str, np.ndarray]  # kernel, bias, embeddings (those the layer has)
    vocab_size: int
    input_depth: int
    feedback: str
    use_bias: bool
    eos_id: Optional[int]

    @property
    def order(self) -> list[int]:
        """``order[i]``: the Keras flat state index of TF1 flat state ``i`` (an LSTM's Keras ``[h, c]`` is TF1's
        ``(c, h)``), as the block files flatten their final states."""
        out, pos = [], 0
        for n, cell in zip(state_counts(self.cells), self.cells):
            out += [pos + 1, pos] if cell.lstm_state and n == 2 else list(range(pos, pos + n))
            pos += n
        return out


def state_counts(cells: list[TargetCell]) -> list[int]:
    return [len(c.spec.tf1_state_sizes) if c.op == CUSTOM else 2 if c.op == LSTM else 1 for c in cells]


def decoders(k2_model, block_of: dict[str, str], cells_of: Optional[Callable[[str], dict]]) -> dict[str, Decoder]:
    """Keras 2 layer name -> :class:`Decoder`, for every ``FeedbackDecoder`` of ``k2_model`` whose block
    (``block_of``: layer -> manifest block name) ``cells_of`` (block name -> :func:`block_cells`) gives."""
    out = {}
    for layer in k2_model.layers:
        if type(layer).__name__ != CLASS or layer.name not in block_of or cells_of is None:
            continue
        directions = cells_of(block_of[layer.name])
        if set(directions) != {""}:
            continue  # raw_rnn decoders are one direction; the translator refuses what is not here
        arrays = {attr: np.asarray(getattr(layer, attr).numpy(), np.float32)
                  for attr in ("kernel", "bias", "embeddings") if getattr(layer, attr, None) is not None}
        out[layer.name] = Decoder(directions[""], arrays, layer.vocab_size, layer.input_depth, layer.feedback,
                                  layer.use_bias, layer.eos_id)
    return out


def missing(name: str) -> NotExportable:
    return NotExportable(f"the raw_rnn decoder {name!r} has no single-direction block of converted cells in the "
                         "manifest (its cell is the block the Keras 2 layer was made from)")


# -- Keras 3 ---------------------------------------------------------------------------------------------------------
keras3_cell = keras3.step_cell  # the Keras 3 cell of a TargetCell (one definition: migration.targets.keras3)


def keras3_call(decoder: Decoder, name: str, inputs: list) -> list:
    """Call the Keras 3 twin of ``decoder`` (named ``name``) on the functional values ``inputs`` and give it the
    converted arrays."""
    from migration.targets.keras3_feedback import FeedbackDecoder

    cells = [keras3_cell(c) for c in decoder.cells]
    layer = FeedbackDecoder(cells, decoder.vocab_size, decoder.input_depth, decoder.order, feedback=decoder.feedback,
                            use_bias=decoder.use_bias, eos_id=decoder.eos_id, name=name)
    out = layer(inputs)
    for keras_cell, cell in zip(cells, decoder.cells):
        keras_cell.set_weights(cell.arrays())
    for attr, array in decoder.arrays.items():
        getattr(layer, attr).assign(array)
    return list(out)


# -- ONNX ------------------------------------------------------------------------------------------------------------
def _standard_step(b: Graph, cell: TargetCell, x: str, states: list[str]) -> tuple[str, list[str]]:
    """One time step of a standard cell as its ONNX op from the carried states (Keras order)."""
    from migration.targets.onnx_export import onnx_weights

    axes0 = b.const("axes0", np.array([0], np.int64))
    w, r, bias = (b.const(stem, a) for stem, a in zip(("W", "R", "B"), onnx_weights(cell)))
    first = [b.node("Unsqueeze", [t, axes0])[0] for t in [x] + states]
    act = ACTIVATIONS[cell.spec.activation]
    if cell.op == LSTM:
        _, y_h, y_c = b.node("LSTM", [first[0], w, r, bias, "", first[1], first[2]], 3, hidden_size=cell.units,
                             activations=["Sigmoid", act, act])
        new = [b.node("Squeeze", [y, axes0])[0] for y in (y_h, y_c)]
    else:
        attrs = dict(linear_before_reset=1 if cell.reset_after else 0, activations=["Sigmoid", act]) \
            if cell.op == GRU else dict(activations=[act])
        _, y_h = b.node(cell.op, [first[0], w, r, bias, "", first[1]], 2, hidden_size=cell.units, **attrs)
        new = [b.node("Squeeze", [y_h, axes0])[0]]
    return new[0], new


def _any_left(b: Graph, finished: str) -> str:
    """bool scalar: some row of ``finished`` is not set."""
    left = b.node("Cast", [b.node("Not", [finished])[0]], to=6)[0]  # int32
    return b.node("Cast", [b.node("ReduceMax", [left], keepdims=0)[0]], to=9)[0]


def _body(g: Graph, decoder: Decoder, outer: dict[str, str], name: str):
    """The Loop body: (iteration, cond, finished, x, *states in Keras order) -> (cond, finished, next x, *states,
    the emitted output)."""
    from onnx import TensorProto, helper

    b = Graph()
    b.count = g.count  # one name sequence: body names never shadow the outer graph's
    it, cond, finished, x = b.name("t"), b.name("cond"), b.name("finished"), b.name("x")
    states = [b.name("state") for _ in range(sum(state_counts(decoder.cells)))]
    out, new, pos = x, [], 0
    for n, cell in zip(state_counts(decoder.cells), decoder.cells):
        mine = states[pos:pos + n]
        out, step = (onnx_cells.STEPS[cell.custom](onnx_cells.Step(b, cell), out, mine) if cell.op == CUSTOM
                     else _standard_step(b, cell, out, mine))
        new += step
        pos += n
    done = b.node("Unsqueeze", [finished, b.const("axes1", np.array([1], np.int64))])[0]
    emitted = b.node("Where", [done, b.const("zero", np.float32(0.0)), out])[0]
    kept = [b.node("Where", [done, old, s])[0] for old, s in zip(states, new)]
    t1 = b.node("Add", [it, b.const("one", np.int64(1))])[0]
    step_done = b.node("GreaterOrEqual", [t1, outer["lengths"]])[0]
    if decoder.feedback == "inputs":
        next_x = b.node("Gather", [outer["sequence"], b.node("Min", [t1, outer["last"]])[0]], axis=0)[0]
    else:
        logits = b.node("MatMul", [out, b.const("kernel", decoder.arrays["kernel"])])[0]
        if "bias" in decoder.arrays:
            logits = b.node("Add", [logits, b.const("bias", decoder.arrays["bias"])])[0]
        prediction = b.node("ArgMax", [logits], axis=1, keepdims=0, select_last_index=0)[0]
        next_x = b.node("Gather", [b.const("embeddings", decoder.arrays["embeddings"]), prediction], axis=0)[0]
        if decoder.eos_id is not None:
            eos = b.node("Equal", [prediction, b.const("eos", np.int64(decoder.eos_id))])[0]
            step_done = b.node("Or", [step_done, eos])[0]
    now = b.node("Or", [finished, step_done])[0]
    left = _any_left(b, now)
    g.count = b.count
    floats = lambda names: [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names]  # noqa: E731
    return helper.make_graph(
        b.nodes, name,
        [helper.make_tensor_value_info(it, TensorProto.INT64, []),
         helper.make_tensor_value_info(cond, TensorProto.BOOL, []),
         helper.make_tensor_value_info(finished, TensorProto.BOOL, None)] + floats([x] + states),
        [helper.make_tensor_value_info(left, TensorProto.BOOL, []),
         helper.make_tensor_value_info(now, TensorProto.BOOL, None)] + floats([next_x] + kept + [emitted]),
        initializer=b.inits)


def onnx_loop(glue, decoder: Decoder, inputs: list, name: str) -> list:
    """The decoder as one ONNX ``Loop`` on ``glue``'s graph (:class:`migration.targets.onnx_glue.OnnxGlue`); returns
    the values ``[outputs [steps, batch, units], *final states in TF1 order]``."""
    from migration.targets.onnx_glue import Value

    g = glue.g
    first, finished, lengths, *rest = inputs
    first = glue.cast(glue.tensor(first), "float32")
    finished = glue.cast(glue.tensor(finished), "bool")
    lengths = glue.cast(glue.tensor(lengths), "int64")
    outer = {"lengths": lengths.name}
    start = first.name
    if decoder.feedback == "inputs":  # the sequence [T, batch, depth]: row 0 first, then row min(t + 1, T - 1)
        outer["sequence"] = first.name
        steps = g.node("Shape", [first.name], start=0, end=1)[0]
        outer["last"] = g.node("Squeeze", [g.node("Sub", [steps, g.const("one", np.array([1], np.int64))])[0]])[0]
        start = g.node("Gather", [first.name, g.const("row0", np.int64(0))], axis=0)[0]
    order = decoder.order
    if len(rest) != len(order):
        raise NotExportable(f"the raw_rnn decoder {name!r} is called with {len(rest)} state tensors, its cells carry "
                            f"{len(order)}")
    flat: list[Any] = [None] * len(order)
    for tf1_index, keras_index in enumerate(order):
        flat[keras_index] = glue.cast(glue.tensor(rest[tf1_index]), "float32").name
    trip = g.node("Max", [g.node("ReduceMax", [lengths.name], keepdims=0)[0], g.const("one", np.int64(1))])[0]
    body = _body(g, decoder, outer, name)
    outs = g.node("Loop", [trip, _any_left(g, finished.name), finished.name, start] + flat, 2 + len(flat) + 1,
                  body=body)
    final, emitted = outs[2:2 + len(flat)], outs[-1]
    return [Value(emitted, 3, "float32")] + [Value(final[k], 2, "float32") for k in order]
