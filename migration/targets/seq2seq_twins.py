"""The Keras 3 twins (:mod:`migration.targets.keras3_seq2seq`) of rnn-migrate's Keras 2 attention decoders, built
from the Keras 2 objects convert wrote and given the same converted arrays, by name (``named_weights``: the Keras 2
twin's weights are the family converters' output, so nothing is converted twice).

* :func:`decoder_model`: ``seq2seq/<name>.keras`` (``AttentionDecoderModel``) -> the Keras 3 ``AttentionDecoderModel``;
* :func:`teacher_forced`: a whole model's ``TeacherForcedDecoder`` layer -> the Keras 3 ``TeacherForcedDecoder``.

The wrapped cells are Keras 3's own ``LSTMCell`` / ``GRUCell`` (``reset_after`` as the Keras 2 cell) /
``SimpleRNNCell``: the layouts are Keras 2's (gates ``i, f, c, o`` / ``z, r, h``, ``forget_bias`` folded), so the
arrays are the Keras 2 twin's unchanged. A wrapped cell of another class is :class:`NotExportable` with its name.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from migration.targets.glue import NotExportable


def _cell(cell) -> Any:
    import keras

    from migration.targets.keras3_seq2seq import CELLS

    name, cfg = type(cell).__name__, cell.get_config()
    if name not in CELLS:
        raise NotExportable(f"the attention decoder wraps a {name} (Keras 3 twins exist for {', '.join(CELLS)})")
    common = dict(activation=cfg["activation"], use_bias=cfg.get("use_bias", True), name=cfg["name"])
    if name == "LSTMCell":
        return keras.layers.LSTMCell(cfg["units"], recurrent_activation=cfg["recurrent_activation"], **common)
    if name == "GRUCell":
        return keras.layers.GRUCell(cfg["units"], recurrent_activation=cfg["recurrent_activation"],
                                    reset_after=cfg["reset_after"], **common)
    return keras.layers.SimpleRNNCell(cfg["units"], **common)


def _wrapper(k2) -> Any:
    from migration.targets import keras3_seq2seq as k3

    mech = k2.attention_mechanism
    options = dict(probability_fn=mech.probability_fn, score_mask_value=mech.score_mask_value)
    if type(mech).__name__ == "BahdanauAttention":
        mechanism = k3.BahdanauAttention(mech.units, normalize=mech.normalize, **options)
    elif type(mech).__name__ == "LuongAttention":
        mechanism = k3.LuongAttention(mech.units, scale=mech.scale, **options)
    else:
        raise NotExportable(f"attention mechanism {type(mech).__name__}")
    if not isinstance(k2.cell_input_fn, str):
        raise NotExportable("an AttentionWrapper with a callable cell_input_fn")
    cells = k2.cell.cells if type(k2.cell).__name__ == "StackedRNNCells" else [k2.cell]
    return k3.AttentionWrapper([_cell(c) for c in cells], mechanism, k2.attention_layer_size, k2.output_attention,
                               k2.cell_input_fn, name=k2.name)


def core(k2) -> Any:
    """The Keras 3 twin (unbuilt) of a Keras 2 ``AttentionWrapper`` or ``AttentionStack``."""
    from migration.targets import keras3_seq2seq as k3

    if type(k2).__name__ == "AttentionStack":
        return k3.AttentionStack([_cell(c) for c in k2.cells], _wrapper(k2.wrapper), k2.index, name=k2.name)
    if type(k2).__name__ == "AttentionWrapper":
        return _wrapper(k2)
    raise NotExportable(f"the decoder's cell is a {type(k2).__name__}, not an AttentionWrapper / AttentionStack")


def assign(named3: dict, named2: dict) -> None:
    """Every Keras 3 weight from the Keras 2 weight of the same name (both sets must be equal)."""
    if set(named3) != set(named2):
        raise NotExportable(f"the Keras 3 twin's weights {sorted(set(named3) ^ set(named2))} have no Keras 2 "
                            "counterpart (or the other way round)")
    for name, var in named3.items():
        value = np.asarray(named2[name])
        if tuple(var.shape) != value.shape:
            raise NotExportable(f"weight {name}: Keras 3 shape {tuple(var.shape)}, Keras 2 {value.shape}")
        var.assign(value)


def _numpy(named: dict) -> dict:
    return {k: v.numpy() for k, v in named.items()}


def decoder_model(k2) -> Any:
    """The Keras 3 ``AttentionDecoderModel`` of a loaded Keras 2 ``AttentionDecoderModel``, weights assigned."""
    from migration.targets import keras3_seq2seq as k3

    model = k3.AttentionDecoderModel(core(k2.wrapper), k2.vocab_size, k2.embedding_dim, k2.output_size,
                                     k2.output_use_bias, name=k2.name)
    dims = k2.get_build_config()
    model.build_weights(dims["memory_depth"], dims["input_depth"])
    assign(model.named_weights(), _numpy(k2.named_weights()))
    return model


def teacher_forced(k2, input_depth: int, memory_depth: int) -> Any:
    """The Keras 3 ``TeacherForcedDecoder`` of a Keras 2 one (a whole model's layer), built and given its weights."""
    import keras

    from migration.targets import keras3_seq2seq as k3

    out = None
    if k2.output_layer is not None:
        cfg = k2.output_layer.get_config()
        out = keras.layers.Dense(cfg["units"], activation=cfg.get("activation", "linear"),
                                 use_bias=cfg.get("use_bias", True), name=cfg["name"])
    layer = k3.TeacherForcedDecoder(core(k2.wrapper), out, k2.impute_finished, k2.memory_lengths, name=k2.name)
    layer.core.build_for(input_depth, memory_depth)
    named = _numpy(k2.wrapper.named_weights())
    if out is not None:
        out.build((None, layer.core.output_width))
        for var, value in zip(out.weights, k2.output_layer.get_weights()):
            var.assign(value)
    assign(layer.core.named_weights(), named)
    layer.built = True
    return layer
