"""A checkpoint holding only cuDNN opaque buffers, converted through their canonical alias: the buffers split into
``cudnn_compatible_*`` variables (:mod:`.cudnn_opaque`) and that alias recognized like any checkpoint
(:func:`migration.checkpoint.recognize.recognize`). Above both, so the recognizer does not import itself back.
"""
from __future__ import annotations

from migration.checkpoint.cudnn_opaque import canonical_alias, note, opaque_layouts
from migration.checkpoint.reader import CheckpointReader
from migration.checkpoint.recognize import recognize


def convert_through_canonical(reader, meta, insp, use_ema: bool = False):
    """For ``convert``: when ``insp`` left opaque buffers that a ``CudnnRNN`` op of ``meta`` describes, write the
    canonical alias (:func:`canonical_alias`) and recognize it; returns ``(alias reader, inspection, notes)`` or
    ``None``. The cells' hyper-parameters are cuDNN's (tanh, no forget_bias, no clip), said so in ``hyper_sources``;
    the caller removes the alias directory."""
    opaque = [u.name for u in insp.unrecognized if u.name.rsplit("/", 1)[-1] == "opaque_kernel"]
    layouts = opaque_layouts(meta, reader.variables, opaque) if opaque else []
    if not layouts:
        return None
    alias = CheckpointReader(canonical_alias(reader, layouts))
    aliased = recognize(alias.prefix, alias.variables, None, use_ema=use_ema)
    for block in aliased.blocks:
        for cell in block.cells:
            if cell.path.rsplit("/", 1)[-1].startswith("cudnn_compatible_"):
                cell.hyper_sources = {k: "cuDNN (CudnnRNN op in the .meta: tanh, no forget_bias, no clip)"
                                      for k in cell.hyper_sources}
    return alias, aliased, [note(layouts)]
