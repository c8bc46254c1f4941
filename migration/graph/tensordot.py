"""``tf.tensordot(x, W, [[rank - 1], [0]])`` (what ``tf.layers.dense``/``keras Dense`` on a 3-D input writes in a TF1
graph): ``Reshape(MatMul(Reshape([Transpose(] x [, identity perm)], [-1, D]), W), [..., U])``, found by structure so
that the translator gives one ``Dense`` on ``x`` (its kernel and bias both weights) instead of a Dense on the 2-D
reshape with the bias folded as a constant.
"""
from __future__ import annotations

from typing import Optional

from migration.graph.graphdef import const_value, ref
from migration.graph.ops import attr_value


def tensordot_matmul(index, reshape) -> Optional[tuple[object, str]]:
    """``(MatMul node, x tensor name)`` when ``reshape`` (a node) is the last ``Reshape`` of a tensordot over ``x``'s
    last axis (the transpose, when present, has the identity permutation), else None. The caller still checks that
    ``x``'s last dimension is the kernel's row count (a contraction over several axes has the same nodes)."""
    if reshape is None or reshape.op != "Reshape" or not reshape.input:
        return None
    matmul = index.node(ref(reshape.input[0])[0])
    if matmul is None or matmul.op != "MatMul" or attr_value(matmul, "transpose_a", False):
        return None
    flat = index.node(ref(matmul.input[0])[0])
    if flat is None or flat.op != "Reshape":
        return None
    x = flat.input[0]
    transpose = index.node(ref(x)[0])
    if transpose is not None and transpose.op == "Transpose":
        order = _int_list(index, transpose.input[1])
        if order is None or order != list(range(len(order))):
            return None
        x = transpose.input[0]
    return matmul, x


def _int_list(index, tensor: str) -> Optional[list[int]]:
    """A ``Const`` int vector, or a ``ConcatV2`` of them (the dynamic-shape tensordot's ``concat([free, axes])``)."""
    node = index.node(ref(tensor)[0])
    if node is None:
        return None
    if node.op == "Const":
        return [int(v) for v in const_value(node).reshape(-1)]
    if node.op == "ConcatV2" and len(node.input) >= 2:
        parts = [_int_list(index, t) for t in node.input[:-1] if not ref(t)[2]]
        if all(p is not None for p in parts):
            return [v for p in parts for v in p]
    return None
