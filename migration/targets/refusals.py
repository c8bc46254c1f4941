"""Why the whole-model translators (:mod:`migration.targets.whole`) take no layer of a given Keras 2 class: the reason
the manifest's note gives after naming the layer and its class (``layer 'decoder' (TeacherForcedDecoder) has no
Keras 3 translation yet: <reason>``). A class without an entry gets the generic reason; its blocks are still
exported and verified either way (docs/targets.md, "Not done yet")."""
from __future__ import annotations

from typing import Optional

GENERIC = "not a layer the targets take"

_ATTENTION = ("a tf.contrib.seq2seq attention decoder (AttentionWrapper over the decoder cell): its Keras 3 twin is "
              "migration.targets.keras3_seq2seq (seq2seq/<name>.keras3.keras, a whole model's TeacherForcedDecoder); "
              "no ONNX translation of the attention step is written yet")
_LEGACY = ("a tf.contrib.legacy_seq2seq model (its encoder, decoder loop and output projection are one Keras 2 "
           "model of rnn-migrate): no Keras 3 / ONNX twin written yet")

#: Keras 2 layer class name -> why no target translation exists (the seq2seq and decoder layers rnn-migrate writes)
LAYER_REASONS = {
    "TeacherForcedDecoder": "a tf.contrib.seq2seq training decoder (dynamic_decode of a BasicDecoder with a "
                            "TrainingHelper over an AttentionWrapper, modern_rnn.seq2seq.TeacherForcedDecoder): "
                            + _ATTENTION.split(": ", 1)[1],
    "FeedbackDecoder": "a raw_rnn decoder that feeds each step's prediction back as the next input "
                       "(modern_rnn.FeedbackDecoder: the next input depends on the previous output, and the loop stops "
                       "at end-of-sequence): no standard Keras 3 layer or ONNX op computes that loop, and no custom "
                       "twin is written yet",
    "AttentionWrapper": _ATTENTION, "AttentionStack": _ATTENTION, "AttentionDecoderModel": _ATTENTION,
    "BahdanauAttention": _ATTENTION, "LuongAttention": _ATTENTION,
    "LegacyAttentionSeq2SeqModel": _LEGACY, "LegacyStackSeq2SeqModel": _LEGACY, "Seq2SeqScope": _LEGACY,
}


def layer_reason(class_name: str) -> str:
    """The reason no target takes a layer of ``class_name`` (the generic one for a class not listed)."""
    return LAYER_REASONS.get(class_name, GENERIC)


#: the layer the whole model's Keras 2 block holds for a TF1 cell wrapper that adds weights -> the TF1 wrapper
#: (migration.graph.wrapper_check: the block model nested in ``<block>_wrapped`` with the wrapper's Dense / Embedding)
WRAPPER_LAYERS = {"input_projection_wrapper": "InputProjectionWrapper",
                  "output_projection_wrapper": "OutputProjectionWrapper", "embedding_wrapper": "EmbeddingWrapper"}


def wrapped_block_reason(layer: dict) -> Optional[str]:
    """Why the whole model's block layer ``layer`` (its Keras 2 config) has no target twin, when it is a block whose
    cell is in a wrapper with weights of its own (the Keras 2 block model nested with the wrapper's ``Dense`` /
    ``Embedding``): the manifest's block, and so its target files, is the bare cell, so replacing the layer by it
    would drop the wrapper (silently when the shapes agree). None for a plain block layer."""
    inner = layer.get("config", {}).get("layers") or []
    extra = [i for i in inner if i.get("class_name") in ("Dense", "Embedding")]
    if not extra or not any(i.get("class_name") in ("Functional", "Model") for i in inner):
        return None
    names = sorted({WRAPPER_LAYERS.get(i["config"].get("name", ""), f"a wrapper ({i['class_name']})") for i in extra})
    return (f"layer {layer['name']!r} is a block whose cell is in tf.contrib.rnn.{', '.join(names)} (its "
            f"{', '.join(i['class_name'] + ' ' + repr(i['config'].get('name')) for i in extra)} runs around the "
            "block's RNN): the target blocks are the bare cells, and no Keras 3 / ONNX twin of the wrapper is "
            "written yet")
