"""Why the whole-model translators (:mod:`migration.targets.whole`) take no layer of a given Keras 2 class: the reason
the manifest's note gives after naming the layer and its class (``layer 'decoder' (TeacherForcedDecoder) has no
Keras 3 translation yet: <reason>``). A class without an entry gets the generic reason; its blocks are still
exported and verified either way (docs/targets.md, "Not done yet"). A raw_rnn ``FeedbackDecoder`` has no entry: the
translators take it (:mod:`migration.targets.feedback_export`)."""
from __future__ import annotations

GENERIC = "not a layer the targets take"

_ATTENTION = ("a tf.contrib.seq2seq attention decoder (AttentionWrapper over the decoder cell): its twins are "
              "built from a whole model's TeacherForcedDecoder layer (Keras 3: migration.targets.keras3_seq2seq; "
              "ONNX: migration.targets.onnx_seq2seq); a layer of this class found elsewhere has no Keras 3 / ONNX "
              "twin")
_LEGACY = ("a tf.contrib.legacy_seq2seq model (its encoder, decoder loop and output projection are one Keras 2 "
           "model of rnn-migrate) nested in a whole model: no Keras 3 / ONNX twin of it as a whole model's layer (its "
           "twins are the separate files seq2seq/<name>.keras3.keras and seq2seq/<name>.onnx, migration.targets."
           "legacy_export; the whole model convert writes rebuilds such a graph op by op instead)")

#: Keras 2 layer class name -> why no target translation exists (the seq2seq and decoder layers rnn-migrate writes)
LAYER_REASONS = {
    "TeacherForcedDecoder": "a tf.contrib.seq2seq training decoder (dynamic_decode of a BasicDecoder with a "
                            "TrainingHelper over an AttentionWrapper, modern_rnn.seq2seq.TeacherForcedDecoder): "
                            + _ATTENTION.split(": ", 1)[1],
    "AttentionWrapper": _ATTENTION, "AttentionStack": _ATTENTION, "AttentionDecoderModel": _ATTENTION,
    "BahdanauAttention": _ATTENTION, "LuongAttention": _ATTENTION,
    "LegacyAttentionSeq2SeqModel": _LEGACY, "LegacyStackSeq2SeqModel": _LEGACY, "Seq2SeqScope": _LEGACY,
}


def layer_reason(class_name: str) -> str:
    """The reason no target takes a layer of ``class_name`` (the generic one for a class not listed)."""
    return LAYER_REASONS.get(class_name, GENERIC)
