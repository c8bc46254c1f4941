"""Issue 24: a whole model holding a layer no target takes is refused with a note naming the layer, its class and why.

The whole-model translators (:mod:`migration.targets.whole`) walk the Keras 2 model's functional config; the seq2seq
and decoder layers rnn-migrate writes into ``model.keras`` (a ``TeacherForcedDecoder`` of a ``tf.contrib.seq2seq``
training decoder, attention and legacy_seq2seq models) have no Keras 3 / ONNX twin:
the refusal must say what the layer is and why (:mod:`migration.targets.refusals`), on both targets; a class not
listed keeps the generic reason. Pure config walks (no TensorFlow graph): the survey of the checkpoint suite
(benchmarks/survey_targets.py, docs/targets.md) met the real layers.
"""
from __future__ import annotations

import pytest

from migration.targets.refusals import GENERIC, LAYER_REASONS
from migration.targets.whole import Keras3Whole, NotExportable, OnnxWhole, walk


def _config(class_name: str) -> dict:
    """ids [batch, 5] -> a layer of ``class_name`` named 'decoder' (the model's output)."""
    return {"name": "m", "layers": [
        {"class_name": "InputLayer", "name": "ids", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 5], "dtype": "float32", "name": "ids"}},
        {"class_name": class_name, "name": "decoder", "config": {"name": "decoder"},
         "inbound_nodes": [[["ids", 0, 0, {}]]]}],
        "input_layers": [["ids", 0, 0]], "output_layers": [["decoder", 0, 0]]}


@pytest.mark.parametrize("translator, label", [(Keras3Whole, "Keras 3"), (OnnxWhole, "ONNX")])
@pytest.mark.parametrize("class_name", ["TeacherForcedDecoder", "AttentionDecoderModel",
                                        "LegacyAttentionSeq2SeqModel"])
def test_a_decoder_layer_is_refused_naming_it_and_why(translator, label, class_name):
    with pytest.raises(NotExportable) as err:
        walk(_config(class_name), translator({}, {}))
    message = str(err.value)
    assert f"layer 'decoder' ({class_name}) has no {label} translation yet: " in message, message
    assert message.endswith(LAYER_REASONS[class_name]) and GENERIC not in message, message
    assert "seq2seq" in message or "raw_rnn" in message, message


@pytest.mark.parametrize("translator, label", [(Keras3Whole, "Keras 3"), (OnnxWhole, "ONNX")])
def test_a_decoder_layer_named_like_an_exported_block_is_refused_not_replaced(translator, label):
    """A raw_rnn ``FeedbackDecoder`` holds the decoder cell whose block is exported under the same layer name
    (``block_decoder``): the translator must refuse the decoder layer with its reason, not call the bare block in its
    place (the survey of tests/seq2seq met it: a Keras 3 input-count error as the note)."""
    config = _config("FeedbackDecoder")
    sentinel = object()
    with pytest.raises(NotExportable) as err:  # the decoder's cells not given (tests/targets/test_target_feedback.py
        walk(config, translator({"decoder": sentinel}, {}))  # exports it when they are)
    assert f"layer 'decoder' (FeedbackDecoder) has no {label} translation yet: the raw_rnn decoder 'decoder' has " \
           "no single-direction block of converted cells" in str(err.value), str(err.value)


def test_the_reasons_say_what_the_layer_is_and_what_is_missing():
    assert "FeedbackDecoder" not in LAYER_REASONS  # exported (migration/targets/feedback_export.py)
    assert "TrainingHelper" in LAYER_REASONS["TeacherForcedDecoder"]
    for reason in LAYER_REASONS.values():
        assert "no Keras 3 / ONNX twin" in reason or "no custom twin" in reason, reason


@pytest.mark.parametrize("translator, label", [(Keras3Whole, "Keras 3"), (OnnxWhole, "ONNX")])
def test_an_unlisted_layer_keeps_the_generic_reason(translator, label):
    with pytest.raises(NotExportable, match=rf"layer 'decoder' \(Lambda\) has no {label} translation yet: "
                                            rf"{GENERIC}$"):
        walk(_config("Lambda"), translator({}, {}))


def test_a_checkpoint_whose_rnns_are_all_in_seq2seq_models_is_refused_naming_them():
    """The survey's seq2seq programs (legacy_seq2seq, contrib decoders with a biasless head): no RNN block, only
    seq2seq entries; the up-front refusal names them and why (it said 'no RNN block to export')."""
    from types import SimpleNamespace

    from migration.targets.export import refuse_up_front
    from migration.targets.weights import TargetRefused

    with pytest.raises(TargetRefused) as err:
        refuse_up_front(["keras3", "onnx"], [], [], [SimpleNamespace(name="embedding_attention_seq2seq")])
    message = str(err.value)
    assert message.startswith("--target keras3 --target onnx: the checkpoint's RNNs are all in seq2seq models "
                              "(embedding_attention_seq2seq) "), message
    assert "that the Keras 2 conversion does not convert" in message and "convert without --target" in message, \
        message
    with pytest.raises(TargetRefused, match="has no RNN block to export"):  # nothing at all: the old reason
        refuse_up_front(["onnx"], [], [], [])
    refuse_up_front([], [], [], [SimpleNamespace(name="s")])  # no target requested: nothing to refuse
