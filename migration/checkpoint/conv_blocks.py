"""``tf.contrib.rnn.ConvLSTMCell`` (``Conv1D/2D/3DLSTMCell``) blocks: recognized, converted, verified.

TF 1.15 writes ``<scope>/rnn/<cell>/kernel [*k, C_in + C, 4C]`` (gate blocks i, j, f, o on the last axis; the
inputs' channels first on the second-to-last) and ``biases [4C]`` (plural; absent with ``use_bias=False``), where
``<cell>`` is ``conv_lstm_cell`` (and, before TF 1.5, every subclass), ``conv_1d_lstm_cell``, ``conv_2d_lstm_cell``
or ``conv_3d_lstm_cell``. ``forget_bias`` is a run-time constant (``sigmoid(f + forget_bias)``): read from the
``.meta`` like ``BasicLSTMCell``'s. One cell per ``dynamic_rnn`` (no ``MultiRNNCell``/bidirectional stacks here).

Block model (``blocks/<name>.keras``): inputs ``[x [B, T, *spatial, C_in], sequence_length [B]]``, outputs
``[outputs [B, T, *spatial, C], c, h]`` (TF1's ``tf.nest.flatten((outputs, LSTMStateTuple(c, h)))``, outputs past
each length zero): ``modern_rnn.conv_lstm_cell`` (``ConvLSTM*D``, ``padding='same'``,
``recurrent_activation='sigmoid'``) with the converted weights
(:func:`migration.contrib_converters.conv_lstm_to_keras`).

Verification: the original graph's ``dynamic_rnn`` loop that reads the kernel, fed random inputs of the spatial
shape the graph's input placeholder declares (the cell's zero state has that shape); when the graph does not state it
(or has no ``.meta``), a TF1 graph rebuilt with ``legacy_rnn.conv_lstm_cell`` (weaker, reported as ``rebuilt``).
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Optional

import numpy as np

from migration.checkpoint.checks import Check
from migration.graph.limits import SandboxLimit

_CELL_DIR = re.compile(r"^conv(_[123]d)?_lstm_cell(_\d+)?$")


@dataclasses.dataclass
class ConvBlock:
    scope: str
    path: str  # the cell's variable directory
    kernel: str
    biases: Optional[str]
    conv_ndims: int
    input_channels: int
    output_channels: int
    kernel_shape: tuple[int, ...]
    forget_bias: float
    hyper_source: str
    #: the inputs' spatial shape (tf_keras's masked ConvLSTM needs it static): from the .meta's input placeholder
    spatial_shape: Optional[tuple[int, ...]] = None
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def recognize_conv(r) -> list[ConvBlock]:
    """Take the variables of every ConvLSTMCell under a ``dynamic_rnn`` scope (``Recognizer`` ``r``)."""
    out = []
    free = set(r.free())
    for key in sorted(free):
        path, _, last = key.rpartition("/")
        if last != "kernel" or not _CELL_DIR.match(path.rsplit("/", 1)[-1]):
            continue
        shape = r.vs[key].shape
        scope = path.rsplit("/", 1)[0] if "/" in path else ""
        if len(shape) not in (3, 4, 5) or shape[-1] % 4 or shape[-2] <= shape[-1] // 4 or \
                any(p in ("multi_rnn_cell", "fw", "bw") for p in scope.split("/")):
            continue  # left to leftovers(): refused with the variables named
        channels = shape[-1] // 4
        biases = f"{path}/biases"
        if biases in free and r.vs[biases].shape != (shape[-1],):
            continue
        fb, source = 1.0, "default (no .meta)" if r.meta is None else "default (not found in .meta)"
        if r.meta is not None:
            found = r.meta.cell_hyperparameters(scope, path.rsplit("/", 1)[-1], "basic_lstm", [scope])
            if "forget_bias" in found:
                fb, source = float(found["forget_bias"]), "meta"
        block = ConvBlock(scope, path, key, biases if biases in free else None, len(shape) - 2,
                          shape[-2] - channels, channels, tuple(shape[:-2]), fb, source,
                          _placeholder_spatial(r.meta, len(shape) - 2, shape[-2] - channels))
        r.take(key, f"ConvLSTMCell {path} kernel ({block.conv_ndims}-D conv, {block.input_channels} -> "
                    f"{channels} channels)")
        if block.biases:
            r.take(block.biases, f"ConvLSTMCell {path} biases")
        block.name = re.sub(r"[^A-Za-z0-9_.-]+", "_", scope) or "root"
        out.append(block)
    return out


def _placeholder_spatial(meta, ndims: int, channels: int) -> Optional[tuple[int, ...]]:
    """The spatial shape declared by the graph's placeholders of rank ``ndims + 3`` with ``channels`` channels,
    when they agree on one (``[B, T, *spatial, C_in]``)."""
    if meta is None:
        return None
    found = set()
    for node in meta.main.values():
        if node.op == "Placeholder" and "shape" in node.attr and not node.attr["shape"].shape.unknown_rank:
            dims = [int(d.size) for d in node.attr["shape"].shape.dim]
            if len(dims) == ndims + 3 and dims[-1] == channels and all(d > 0 for d in dims[2:-1]):
                found.add(tuple(dims[2:-1]))
    return found.pop() if len(found) == 1 else None


# -- Keras side ------------------------------------------------------------------------------------------------------

def build_keras_conv_block(block: ConvBlock, kernel: np.ndarray, biases: Optional[np.ndarray]):
    """The block model (see the module docstring) with the converted weights."""
    import modern_rnn
    import tensorflow as tf
    from modern_rnn import keras

    from migration.contrib_converters import conv_lstm_to_keras

    n = block.conv_ndims
    x = keras.Input((None,) + tuple(block.spatial_shape) + (block.input_channels,), dtype="float32", name="x")
    length = keras.Input((), dtype="int32", name="sequence_length")
    layer = modern_rnn.conv_lstm_cell(n, [1] * n + [block.input_channels], block.output_channels,
                                      list(block.kernel_shape), use_bias=True, forget_bias=block.forget_bias,
                                      name="conv_lstm")
    mask = tf.sequence_mask(length, tf.shape(x)[1])
    outputs, h, c = layer(x, mask=mask)
    model = keras.Model([x, length], [outputs, c, h], name=block.name)
    if biases is None:  # use_bias=False: the Keras bias holds forget_bias alone
        biases = np.zeros(kernel.shape[-1], np.float32)
    layer.layer.set_weights(conv_lstm_to_keras(kernel, biases, block.input_channels, block.forget_bias))
    return model


def manifest_entry(block: ConvBlock, file: str) -> dict[str, Any]:
    return {**block.to_dict(), "file": file, "outputs": ["outputs", "state/c", "state/h"],
            "keras": f"modern_rnn.conv_lstm_cell({block.conv_ndims}, ..., {block.output_channels}, "
                     f"{list(block.kernel_shape)}, forget_bias={block.forget_bias}) (ConvLSTM{block.conv_ndims}D, "
                     "padding='same', recurrent_activation='sigmoid')"}


# -- verification ----------------------------------------------------------------------------------------------------

def _declared_spatial(original, loop, ndims: int) -> Optional[tuple[int, ...]]:
    """The spatial shape of the loop's input from its placeholder's declared shape (through identities)."""
    from migration.graph.graphdef import ref

    node = original.index.node(ref(loop.x)[0])
    for _ in range(8):
        if node is None or node.op != "Identity" or not node.input:
            break
        node = original.index.node(ref(node.input[0])[0])
    if node is None or node.op not in ("Placeholder", "PlaceholderWithDefault") or "shape" not in node.attr:
        return None
    dims = [int(d.size) for d in node.attr["shape"].shape.dim]
    spatial = dims[2:-1]  # [B, T, *spatial, C] or [T, B, *spatial, C]
    return tuple(spatial) if len(dims) == ndims + 3 and all(d > 0 for d in spatial) else None


def _rebuilt(prefix: str, entry: dict, x: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    import legacy_rnn
    import tensorflow as tf

    v1 = tf.compat.v1
    with legacy_rnn.new_graph() as graph:
        xp = v1.placeholder(tf.float32, x.shape)
        lp = v1.placeholder(tf.int32, [None])
        cell = legacy_rnn.conv_lstm_cell(entry["conv_ndims"], list(x.shape[2:]), entry["output_channels"],
                                         list(entry["kernel_shape"]), use_bias=entry["biases"] is not None,
                                         forget_bias=entry["forget_bias"])
        # tf.compat.v1.nn.dynamic_rnn itself: legacy_rnn.dynamic_rnn checks for rank-3 inputs
        out, state = v1.nn.dynamic_rnn(cell, xp, sequence_length=lp, dtype=tf.float32, scope="verify_conv")
        names = {v.op.name.rsplit("/", 1)[-1]: v for v in v1.global_variables()}
        name_map = {entry["kernel"]: names["kernel"]}
        if entry["biases"]:
            name_map[entry["biases"]] = names["biases"]
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        legacy_rnn.restore_renamed(sess, prefix, name_map)
        result = sess.run([out, state.c, state.h], {xp: x, lp: lengths})
        sess.close()
    return result


def verify_conv_block(prefix: str, original, loops, entry: dict, out_dir: str, seed: int, batch: int = 3,
                      steps: int = 4) -> tuple[list, list[str]]:
    """Checks of one conv block (see the module docstring) and notes."""
    from migration.graph.blocks import match
    from migration.safe_io import load_block_model

    notes: list[str] = []
    keys = {entry["kernel"]} | ({entry["biases"]} if entry["biases"] else set())
    hits = match(loops, keys) if original is not None else []
    spatial = tuple(entry["spatial_shape"])
    located = False
    if len(hits) == 1 and not hits[0].problems:
        located = _declared_spatial(original, hits[0], entry["conv_ndims"]) == spatial
        if not located:
            notes.append(f"conv block {entry['name']}: the loop's input does not declare the spatial shape "
                         f"{list(spatial)}; compared with a rebuilt TF1 graph instead (weaker)")
    elif original is not None:
        notes.append(f"conv block {entry['name']}: {len(hits)} while loops of the original graph read its kernel; "
                     "compared with a rebuilt TF1 graph instead (weaker: a misread forget_bias would pass)")
    rng = np.random.default_rng(seed)
    shape = (batch, steps) + spatial + (entry["input_channels"],)
    x = rng.normal(0, 1, shape).astype(np.float32)
    lengths = rng.integers(1, steps + 1, batch).astype(np.int32)
    lengths[0] = steps
    reference, expected = "rebuilt", None
    if located:
        loop = hits[0]
        feeds = {loop.x: np.moveaxis(x, 1, 0) if loop.time_major else x}
        if loop.sequence_length is None:
            lengths = np.full(batch, steps, np.int32)
        else:
            feeds[loop.sequence_length] = lengths
        from migration.core.errors import MigrationError

        try:
            expected = original.run([loop.outputs] + loop.states(2), feeds)
        except SandboxLimit:
            raise
        except MigrationError as exc:  # the sandbox refused an op: the weaker check, said so
            notes.append(f"conv block {entry['name']}: {exc}; compared with a rebuilt TF1 graph instead (weaker)")
        else:
            if loop.time_major:
                expected[0] = np.moveaxis(expected[0], 0, 1)
            reference = "original-graph"
    if expected is None:
        expected = _rebuilt(prefix, entry, x, lengths)
    model = load_block_model(out_dir, entry["file"])
    got = [np.asarray(t) for t in model([x, lengths], training=False)]
    checks = [Check(f"conv block {entry['name']}", label, float(np.max(np.abs(a - b))) if a.shape == b.shape
                    else float("inf"), list(a.shape), reference)
              for label, a, b in zip(entry["outputs"], expected, got)]
    return checks, notes


def write_block(tmp: str, block: ConvBlock, read, models: Optional[list] = None) -> dict[str, Any]:
    """Convert and save one block under ``tmp/blocks/``; ``read(key)`` gives a float32 array; the Keras model is
    appended to ``models`` (for the whole model)."""
    from migration.checkpoint.manifest import safe_name
    from migration.core.errors import MigrationError

    if block.spatial_shape is None:
        raise MigrationError(
            f"ConvLSTMCell {block.kernel!r}: the spatial shape of its inputs is unknown (no .meta, or no input "
            f"placeholder of rank {block.conv_ndims + 3} with {block.input_channels} channels and a static shape in "
            "it); tf_keras's masked ConvLSTM needs it. Convert with the .meta the program saved beside the checkpoint.")
    file = f"blocks/conv_{safe_name(block.name)}.keras"
    os.makedirs(os.path.join(tmp, "blocks"), exist_ok=True)
    model = build_keras_conv_block(block, read(block.kernel), read(block.biases) if block.biases else None)
    model.save(os.path.join(tmp, file))
    if models is not None:
        models.append(model)
    return manifest_entry(block, file)
