"""The target files of a block whose cell is in ``OutputProjectionWrapper`` / ``InputProjectionWrapper`` /
``EmbeddingWrapper``, against the ORIGINAL graph's loop (which applies the wrappers' weights inside every step, so its
boundary is not the block's: :mod:`migration.graph.wrapper_check`).

As the Keras 2 block is checked (:func:`migration.graph.wrapper_check.check_wrapped_block`): the loop is fed ids or
raw inputs, the target block the embedding / input projection of them (the checkpoint's arrays), and the target's
outputs are projected by the checkpoint's output projection (zero past each length) before they are compared with the
loop's outputs; its final states are compared as they are. Keras 3 on the TensorFlow backend and ONNX in onnxruntime
(the JAX run of the same Keras 3 file is compared with the Keras 2 block model, ``reference: keras2``, by
:func:`migration.targets.verify_targets.verify_blocks`).
"""
from __future__ import annotations

import os
from typing import Callable, Optional

from migration.targets.verify_targets import TargetCheck, block_inputs, compare


def _runner(target: str, path: str):
    """A callable ``model([x, lengths], training=False) -> outputs`` of one target file."""
    from migration.targets import keras3, onnx_export

    if target == "keras3":
        return keras3.load_block(path)
    session = onnx_export.session(path)
    return lambda inputs, training=False: onnx_export.run_block(session, *inputs)


def wrapped_block_checks(blocks: list[dict], files: dict[str, dict[str, str]], out_dir: str,
                         original: Optional[Callable], reader, batch: int = 4, steps: int = 6,
                         seed: int = 0) -> list[TargetCheck]:
    """Checks ``block <name> (between its wrappers)`` of every wrapped block's target files (none without a graph)."""
    from migration.graph.wrapper_check import check_wrapped_block, wrapped_loop

    if original is None:
        return []
    checks: list[TargetCheck] = []
    for k, block in enumerate(blocks):
        if not any(block["name"] in by_block for by_block in files.values()):
            continue
        og, loops = original()
        if wrapped_loop(loops, block) is None:
            continue
        x, lengths = block_inputs(batch, steps, block["input_size"], seed + k)
        what = dict(block, what=f"block {block['name']} (between its wrappers)")
        for target, by_block in files.items():
            model = _runner(target, os.path.join(out_dir, by_block[block["name"]]))
            found = check_wrapped_block(og, loops, block, model, reader, x, lengths, seed + k)
            if found is not None:
                backend = "tensorflow" if target == "keras3" else "onnxruntime"
                checks += compare(target, backend, what, "original-graph", found[0], found[1])
    return checks
