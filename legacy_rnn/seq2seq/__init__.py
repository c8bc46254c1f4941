"""TF 1.15's ``tf.contrib.seq2seq`` (this package) and ``tf.contrib.legacy_seq2seq`` (:mod:`.legacy_seq2seq`), rebuilt
on ``tf.compat.v1`` graph mode for TensorFlow 2.21: same names, signatures, variable names, shapes and maths.

``rnn-migrate upgrade`` rewrites ``tf.contrib.seq2seq.X`` to ``legacy_rnn.seq2seq.X`` and
``tf.contrib.legacy_seq2seq.X`` to ``legacy_rnn.seq2seq.legacy_seq2seq.X``.

Modern equivalent: :mod:`modern_rnn.seq2seq` (tf_keras layers, an eager decoder loop and beam search).
"""
from __future__ import annotations

import legacy_rnn  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from legacy_rnn.seq2seq.attention_wrapper import (  # noqa: E402
    AttentionMechanism, AttentionWrapper, AttentionWrapperState, BahdanauAttention, BahdanauMonotonicAttention,
    LuongAttention, LuongMonotonicAttention, hardmax, monotonic_attention, safe_cumprod,
)
from legacy_rnn.seq2seq.decoders import (  # noqa: E402
    Decoder, BasicDecoder, BasicDecoderOutput, BeamSearchDecoder, BeamSearchDecoderOutput, BeamSearchDecoderState,
    FinalBeamSearchDecoderOutput, SequenceLoss, dynamic_decode, gather_tree, sequence_loss, tile_batch,
)
from legacy_rnn.seq2seq.helper import (  # noqa: E402
    CustomHelper, GreedyEmbeddingHelper, Helper, InferenceHelper, SampleEmbeddingHelper,
    ScheduledEmbeddingTrainingHelper, ScheduledOutputTrainingHelper, TrainingHelper,
)
from legacy_rnn.seq2seq import legacy_seq2seq  # noqa: E402

#: Public names shared with :mod:`modern_rnn.seq2seq`, in the same order.
TWINS: tuple[str, ...] = (
    "BahdanauAttention", "LuongAttention", "AttentionWrapper", "AttentionWrapperState",
    "TrainingHelper", "GreedyEmbeddingHelper", "BasicDecoder", "BasicDecoderOutput", "dynamic_decode",
    "tile_batch", "gather_tree", "BeamSearchDecoder", "BeamSearchDecoderState", "BeamSearchDecoderOutput",
    "FinalBeamSearchDecoderOutput", "sequence_loss",
)
#: TF 1.15 names rebuilt here without a Keras twin in :mod:`modern_rnn.seq2seq` yet (graph-mode decoding only).
LEGACY_ONLY: tuple[str, ...] = (
    "Helper", "CustomHelper", "InferenceHelper", "SampleEmbeddingHelper", "ScheduledEmbeddingTrainingHelper",
    "ScheduledOutputTrainingHelper", "AttentionMechanism", "BahdanauMonotonicAttention", "LuongMonotonicAttention",
    "monotonic_attention", "safe_cumprod", "hardmax", "SequenceLoss", "Decoder",
)
#: TF 1.15 ``tf.contrib.seq2seq`` names that are not rebuilt here (a program using them needs a manual port).
NOT_REBUILT: tuple[str, ...] = (
    "BaseDecoder", "BasicDecoderV2", "BeamSearchDecoderV2",
)
__all__ = list(TWINS) + list(LEGACY_ONLY) + ["legacy_seq2seq", "NOT_REBUILT"]


def __getattr__(name: str):
    if name in NOT_REBUILT:
        raise AttributeError(
            f"tf.contrib.seq2seq.{name} is not rebuilt in legacy_rnn.seq2seq (TF 2.21 has no tf.contrib); port that "
            f"part by hand. Rebuilt: {', '.join(TWINS + LEGACY_ONLY)}.")
    raise AttributeError(f"module 'legacy_rnn.seq2seq' has no attribute {name!r}")
