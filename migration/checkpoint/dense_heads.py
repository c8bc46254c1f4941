"""Bias-less dense heads: a 2-D weight with no bias beside it (issue 21, cause 9).

NMT-style code writes the output projection as ``Dense(V, use_bias=False, name="output_projection")`` (the
checkpoint holds ``.../output_projection/kernel`` alone, also as ``output_layer=`` of ``BasicDecoder`` /
``BeamSearchDecoder``), ``tf.layers.dense(h, V, use_bias=False)`` does the same, and language models write
``tf.matmul(h, softmax_w)`` with no bias. Rules, after the paired heads of
:meth:`migration.checkpoint.recognize.Recognizer.dense` took every kernel that has a bias:

* ``<scope>/kernel`` (2-D, not under an RNN-looking scope): what ``tf.layers`` names a Dense kernel (a convolution's
  kernel has more dimensions), a head with the ``.meta`` or without it;
* ``W``/``w``/``weights``/``weight``/``<x>_w``/``<x>_W``/``<x>_weights``: only when the ``.meta`` shows a
  ``MatMul`` reading it as its right operand (``x @ W``); without that evidence the name alone does not make a head;
* a weight the ``.meta`` reads only transposed (``matmul(x, W, transpose_b=True)``) is no Dense kernel as stored:
  left unrecognized, with that reason.

The item is a :class:`migration.checkpoint.items.DenseInfo` with ``bias=None``; the whole-model translator and the
decoder's projection (``seq2seq_graph.locate``) then build ``Dense(use_bias=False)``.
"""
from __future__ import annotations

import re

from migration.checkpoint.cell_table import is_rnn_like
from migration.checkpoint.families import Recognizer
from migration.checkpoint.items import DenseInfo

_KERNEL_NAMES = re.compile(r"(?:.+_)?(?:w|W|weights?)")


def biasless(r: Recognizer) -> list[DenseInfo]:
    """Take the bias-less dense kernels among ``r``'s free variables (never one under an RNN-looking scope)."""
    reads = r.meta.matmul_reads() if r.meta is not None else {}
    out = []
    for key in sorted(r.free()):
        shape = r.vs[key].shape
        last = key.rsplit("/", 1)[-1]
        if len(shape) != 2 or is_rnn_like(key) or not (last == "kernel" or _KERNEL_NAMES.fullmatch(last)):
            continue
        if reads.get(key):
            r.reject(key, f"2-D weight read by a MatMul with transpose_b=True in the .meta (x @ {last}^T): no Dense "
                          "kernel as stored; not migrated (a Dense would need its transpose)")
            continue
        if last != "kernel" and key not in reads:
            continue  # a W/softmax_w name alone, without a MatMul reading it, is no evidence of a head
        name = key.rsplit("/", 1)[0] if last == "kernel" and "/" in key else key
        how = "read by a MatMul in the .meta" if key in reads else "no .meta read found: named like a Dense kernel"
        out.append(DenseInfo(name, key, None, tuple(shape)))
        r.take(key, f"dense {name} kernel (no bias: use_bias=False; {how})")
    return out
