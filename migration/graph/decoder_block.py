"""A ``tf.contrib.seq2seq`` training decoder inside the whole model: where its loop's tensors are, by structure.

``dynamic_decode(BasicDecoder(AttentionWrapper(...), TrainingHelper(inputs, lengths), initial_state))`` is one
while loop (a TF 2.x ``While`` node or a TF 1.x ``Enter``/``Exit`` frame) that reads every weight of the wrapper
(cell layers, mechanism, attention layer). For a converted seq2seq entry (manifest ``seq2seq``, its ``graph``
section found by :mod:`migration.checkpoint.seq2seq_graph`) this module finds:

* the loop: the one reading every wrapper weight (the memory layer is applied before the loop) whose results the
  entry's logits need (a greedy or beam decoder on the same weights is another loop);
* the decoder inputs and lengths: the ``TrainingHelper`` the loop reads (its ``transpose`` of the batch-major
  inputs, its ``Size`` of the lengths);
* ``rnn_output``: the loop's first float stacked output (``TensorArrayGatherV3`` of an ``Exit`` /
  ``TensorListStack`` of a ``While`` output), transposed back to batch-major;
* ``impute_finished``: the float output the body writes passes a ``Select`` (``where(finished, zeros, out)``);
* the output layer inside the loop (``BasicDecoder(..., output_layer)``): the loop reads the projection kernel.

The memory, ``memory_sequence_length`` and initial cell state are the entry's (``graph.memory`` / ``lengths`` /
``initial_state``). The result is a :class:`~migration.graph.to_keras.BlockCall` whose model is a
:class:`modern_rnn.seq2seq.teacher_forced.TeacherForcedDecoder` sharing the converted ``AttentionDecoderModel``'s
weights.
"""
from __future__ import annotations

import re
from typing import Any, Optional

from migration.core.errors import MigrationError
from migration.graph.graphdef import ref, through_identity
from migration.graph.to_keras import BlockCall

_HELPER = re.compile(r"(?:^|.*/)TrainingHelper(?:_\d+)?$")
_FLOAT = 1  # DataType DT_FLOAT


def _exit_names(index, loop) -> list[str]:
    return [ref(t)[0] for t in loop.state_candidates] if not loop.v2 else []


def _captured(index, loop) -> set[str]:
    """Main-graph nodes whose values the loop reads (While inputs / the inputs of the frame's Enter nodes)."""
    if loop.v2:
        return {ref(i)[0] for i in index.nodes[loop.node].input if not ref(i)[2]}
    return {ref(n.input[0])[0] for n in index.nodes.values() if n.op in ("Enter", "RefEnter")
            and n.attr["frame_name"].s.decode() == loop.node}


def _the_loop(og, loops, entry: dict):
    keys = {k for k in entry["variables"] if k != entry["memory_layer"]}
    needed = set(og.index.closure([entry["graph"]["logits"]])[0])
    hits = [loop for loop in loops if keys <= loop.variables and
            (loop.node in needed if loop.v2 else bool(needed & set(_exit_names(og.index, loop))))]
    if len(hits) != 1:
        raise MigrationError(f"expected one while loop reading every weight of {entry['scope']!r} before the logits "
                             f"{entry['graph']['logits']!r}, found {[h.node for h in hits] or 'none'}")
    return hits[0]


def _helper(index, loop) -> tuple[str, str]:
    """(batch-major decoder inputs, lengths) of the ``TrainingHelper`` the loop reads."""
    upstream = set(index.closure(sorted(_captured(index, loop)))[0])  # what the loop reads, transitively
    found = []
    for node in index.nodes.values():
        scope = node.name.rsplit("/", 1)[0] if "/" in node.name else ""
        if node.op == "Size" and _HELPER.fullmatch(scope):
            transpose = index.node(scope + "/transpose")
            if (transpose.name if transpose is not None else node.name) in upstream:
                found.append((scope, transpose, node))
    if len(found) != 1:
        raise MigrationError(f"expected one TrainingHelper feeding the decoder loop {loop.node!r}, found "
                             f"{[f[0] for f in found] or 'none'} (only teacher-forced decoders become part of the "
                             "whole model)")
    scope, transpose, size = found[0]
    if transpose is None or transpose.op != "Transpose":
        raise MigrationError(f"the TrainingHelper {scope!r} takes time-major inputs, not translated yet")
    return transpose.input[0], size.input[0]


def _rnn_output(index, loop) -> str:
    """The loop's ``rnn_output``, batch-major (the transpose after the first float stacked output)."""
    if loop.v2:
        stacks = []
        for n in index.nodes.values():  # the stack reads ``while:k``, or an Identity of it
            if n.op == "TensorListStack" and n.attr["element_dtype"].type == _FLOAT:
                node, k, _ = ref(through_identity(index.nodes, n.input[0]))
                if node == loop.node:
                    stacks.append((k, n))
    else:
        exits = {name: k for k, name in enumerate(_exit_names(index, loop))}
        stacks = [(exits[ref(n.input[2])[0]], n) for n in index.nodes.values()
                  if n.op in ("TensorArrayGatherV3", "TensorArrayGatherV2") and ref(n.input[2])[0] in exits
                  and n.attr["dtype"].type == _FLOAT]
    if not stacks:
        raise MigrationError(f"the decoder loop {loop.node!r} stacks no float output")
    stack = min(stacks, key=lambda s: s[0])[1]
    back = [c for c in index.consumers(stack.name) if c.op == "Transpose"]
    if len(back) != 1:
        raise MigrationError(f"the decoder loop {loop.node!r}: its outputs are not transposed back to batch-major "
                             "(output_time_major=True is not translated yet)")
    return f"{back[0].name}:0"


def _body_nodes(index, loop) -> dict:
    if loop.v2:
        fn = index.nodes[loop.node].attr["body"].func.name
        return dict(index.fn_contexts[fn].nodes) if fn in index.fn_contexts else {}
    return {n: node for n, node in index.nodes.items() if n.startswith(loop.scope + "/while/")}


def _impute_finished(index, loop) -> bool:
    """``dynamic_decode(impute_finished=True)``: the float output written each step passes ``where(finished, ...)``."""
    nodes = _body_nodes(index, loop)
    for n in nodes.values():
        if (n.op == "TensorListSetItem" and n.attr["element_dtype"].type == _FLOAT) or \
                (n.op in ("TensorArrayWriteV3", "TensorArrayWriteV2") and n.attr["T"].type == _FLOAT):
            source = n.input[2].split(":")[0]
            for _ in range(6):
                producer = nodes.get(source)
                if producer is None or producer.op != "Identity":
                    break
                source = producer.input[0].split(":")[0]
            producer = nodes.get(source)
            return producer is not None and producer.op in ("Select", "SelectV2")
    return False


def decoder_call(og, loops, entry: dict, model: Any) -> BlockCall:
    """The :class:`BlockCall` of the seq2seq ``entry`` (manifest) whose converted model is ``model`` (an
    ``AttentionDecoderModel``). Raises :class:`MigrationError` naming what was not found."""
    from modern_rnn.seq2seq.teacher_forced import teacher_forced_decoder

    graph = entry.get("graph")
    if not graph:
        raise MigrationError(f"seq2seq {entry['name']}: its decoder was not found in the .meta ({entry.get('graph_note')})")
    index = og.index
    loop = _the_loop(og, loops, entry)
    x, lengths = _helper(index, loop)
    projection: Optional[list] = entry.get("projection")
    inside = bool(projection) and projection[0] in loop.variables
    layer = teacher_forced_decoder(model.wrapper, model.projection if inside else None,
                                   _impute_finished(index, loop), graph["lengths"] is not None,
                                   name=f"decoder_{entry['name']}")
    extra = [graph["memory"]] + ([graph["lengths"]] if graph["lengths"] else []) + list(graph["initial_state"])
    return BlockCall(layer, x, lengths, False, [_rnn_output(index, loop)], 1, entry["name"], extra=extra,
                     kind="seq2seq")
