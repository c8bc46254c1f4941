"""Keras 2 (``tf_keras``) twins of :mod:`legacy_rnn.seq2seq`, name for name: attention mechanisms as layers, an
attention RNN cell wrapper, an eager decoder loop and beam search (and :mod:`.legacy_seq2seq`).

Legacy equivalent: :mod:`legacy_rnn.seq2seq`.
"""
from __future__ import annotations

import modern_rnn  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from modern_rnn.seq2seq.attention_wrapper import (  # noqa: E402
    AttentionWrapper, AttentionWrapperState, BahdanauAttention, LuongAttention,
)
from modern_rnn.seq2seq.decoders import (  # noqa: E402
    BasicDecoder, BasicDecoderOutput, BeamSearchDecoder, BeamSearchDecoderOutput, BeamSearchDecoderState,
    FinalBeamSearchDecoderOutput, GreedyEmbeddingHelper, TrainingHelper, dynamic_decode, gather_tree, sequence_loss,
    tile_batch,
)
from modern_rnn.seq2seq import legacy_seq2seq  # noqa: E402

TWINS: tuple[str, ...] = (
    "BahdanauAttention", "LuongAttention", "AttentionWrapper", "AttentionWrapperState",
    "TrainingHelper", "GreedyEmbeddingHelper", "BasicDecoder", "BasicDecoderOutput", "dynamic_decode",
    "tile_batch", "gather_tree", "BeamSearchDecoder", "BeamSearchDecoderState", "BeamSearchDecoderOutput",
    "FinalBeamSearchDecoderOutput", "sequence_loss",
)
__all__ = list(TWINS) + ["legacy_seq2seq"]
