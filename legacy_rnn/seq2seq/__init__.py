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
__all__ = list(TWINS) + ["legacy_seq2seq"]
