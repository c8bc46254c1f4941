"""TF 1.15's ``tf.contrib.seq2seq`` (this package) and ``tf.contrib.legacy_seq2seq`` (:mod:`.legacy_seq2seq`), rebuilt
on ``tf.compat.v1`` graph mode for TensorFlow 2.21: same names, signatures, variable names, shapes and maths.

``rnn-migrate upgrade`` rewrites ``tf.contrib.seq2seq.X`` to ``legacy_rnn.seq2seq.X`` and
``tf.contrib.legacy_seq2seq.X`` to ``legacy_rnn.seq2seq.legacy_seq2seq.X``.

Modern equivalent: :mod:`modern_rnn.seq2seq` (tf_keras layers, an eager decoder loop and beam search).
"""
from __future__ import annotations

import legacy_rnn  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from legacy_rnn.seq2seq.attention_wrapper import (  # noqa: E402
    AttentionWrapper, AttentionWrapperState, BahdanauAttention, LuongAttention,
)
from legacy_rnn.seq2seq.decoders import (  # noqa: E402
    BasicDecoder, BasicDecoderOutput, BeamSearchDecoder, BeamSearchDecoderOutput, BeamSearchDecoderState,
    FinalBeamSearchDecoderOutput, GreedyEmbeddingHelper, TrainingHelper, dynamic_decode, gather_tree, sequence_loss,
    tile_batch,
)
from legacy_rnn.seq2seq import legacy_seq2seq  # noqa: E402

#: Public names shared with :mod:`modern_rnn.seq2seq`, in the same order.
TWINS: tuple[str, ...] = (
    "BahdanauAttention", "LuongAttention", "AttentionWrapper", "AttentionWrapperState",
    "TrainingHelper", "GreedyEmbeddingHelper", "BasicDecoder", "BasicDecoderOutput", "dynamic_decode",
    "tile_batch", "gather_tree", "BeamSearchDecoder", "BeamSearchDecoderState", "BeamSearchDecoderOutput",
    "FinalBeamSearchDecoderOutput", "sequence_loss",
)
#: TF 1.15 ``tf.contrib.seq2seq`` names that are not rebuilt here (a program using them needs a manual port).
NOT_REBUILT: tuple[str, ...] = (
    "AttentionMechanism", "BahdanauMonotonicAttention", "LuongMonotonicAttention", "monotonic_attention",
    "safe_cumprod", "hardmax", "Helper", "CustomHelper", "InferenceHelper", "SampleEmbeddingHelper",
    "ScheduledEmbeddingTrainingHelper", "ScheduledOutputTrainingHelper", "Decoder", "BaseDecoder", "SequenceLoss",
)
__all__ = list(TWINS) + ["legacy_seq2seq", "NOT_REBUILT"]


def __getattr__(name: str):
    if name in NOT_REBUILT:
        raise AttributeError(
            f"tf.contrib.seq2seq.{name} is not rebuilt in legacy_rnn.seq2seq (TF 2.21 has no tf.contrib); port that "
            f"part by hand. Rebuilt: {', '.join(TWINS)}.")
    raise AttributeError(f"module 'legacy_rnn.seq2seq' has no attribute {name!r}")
