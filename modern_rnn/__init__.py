"""Keras 2 (``tf_keras``) twins of every :mod:`legacy_rnn` construct, name for name.

This package builds on the ``tf_keras`` package explicitly, never on whatever ``tf.keras`` resolves to: ``keras``
below *is* ``tf_keras``.
"""
from __future__ import annotations

from migration.core.tf_env import ensure_legacy_keras

ensure_legacy_keras()

import tensorflow as tf  # noqa: E402

from migration.core.autograph_rules import exclude_own_packages  # noqa: E402

exclude_own_packages()  # our cells and layers are graph code as written: no AutoGraph rewrite of their calls

import tf_keras as keras  # noqa: E402

from modern_rnn.cells import (  # noqa: E402
    handwritten_rnn_cell, basic_rnn_cell, basic_lstm_cell, lstm_cell, gru_cell, cell_from_spec, multi_rnn_cell,
    dropout_wrapper, residual_wrapper,
)
from modern_rnn.rnn import (  # noqa: E402
    manual_rnn, static_rnn, dynamic_rnn, static_bidirectional_rnn, bidirectional_dynamic_rnn, flatten_state,
)
from modern_rnn.contrib import (  # noqa: E402
    lstm_block_cell, lstm_block_fused_cell, gru_block_cell, gru_block_cell_v2, layer_norm_basic_lstm_cell,
    conv_lstm_cell,
)
from modern_rnn.cudnn import cudnn_compatible_lstm_cell, cudnn_compatible_gru_cell  # noqa: E402
from modern_rnn.wrappers import (  # noqa: E402
    output_projection_wrapper, input_projection_wrapper, embedding_wrapper, attention_cell_wrapper,
)
from modern_rnn.crf import (  # noqa: E402
    crf_sequence_score, crf_log_norm, crf_log_likelihood, crf_decode, viterbi_decode,
)
from modern_rnn.stack import stack_bidirectional_dynamic_rnn, stack_bidirectional_rnn  # noqa: E402
from modern_rnn.embedding import glove_embedding, embedding_variable, embedding_lookup  # noqa: E402
from modern_rnn.projection_lstm import ProjectionLSTMCell  # noqa: E402
from modern_rnn.dropout import DropoutCell  # noqa: E402
from modern_rnn.layer_norm_lstm import LayerNormLSTMCell  # noqa: E402
from modern_rnn.contrib import ZeroMaskedConvLSTM  # noqa: E402
from modern_rnn.crf import CRF  # noqa: E402
from modern_rnn.feedback_decoder import FeedbackDecoder  # noqa: E402

TWINS: tuple[str, ...] = (
    "handwritten_rnn_cell", "basic_rnn_cell", "basic_lstm_cell", "lstm_cell", "gru_cell", "cell_from_spec",
    "multi_rnn_cell", "dropout_wrapper", "residual_wrapper",
    "manual_rnn", "static_rnn", "dynamic_rnn", "static_bidirectional_rnn", "bidirectional_dynamic_rnn", "flatten_state",
    "glove_embedding", "embedding_variable", "embedding_lookup",
    "lstm_block_cell", "lstm_block_fused_cell", "gru_block_cell", "gru_block_cell_v2",
    "cudnn_compatible_lstm_cell", "cudnn_compatible_gru_cell", "layer_norm_basic_lstm_cell",
    "conv_lstm_cell", "output_projection_wrapper", "input_projection_wrapper", "embedding_wrapper",
    "attention_cell_wrapper",
    "crf_sequence_score", "crf_log_norm", "crf_log_likelihood", "crf_decode", "viterbi_decode",
    "stack_bidirectional_dynamic_rnn", "stack_bidirectional_rnn",
)
#: Modern names without a legacy twin, and why.
NO_TWIN: dict[str, str] = {
    "ProjectionLSTMCell": "TF1 LSTMCell has these options built in; stock Keras 2 has no peepholes/projection/clipping",
    "DropoutCell": "TF1 DropoutWrapper semantics for Keras cells (tf_keras' own wrapper refuses LSTMCell)",
    "CRF": "the Keras layer owning the CRF transitions (TF1 kept them in a get_variable)",
    "ZeroMaskedConvLSTM": "ConvLSTM*D with TF1's zero outputs past each length (ConvRNN ignores zero_output_for_mask)",
    "LayerNormLSTMCell": "the custom Keras cell behind layer_norm_basic_lstm_cell (no stock Keras equivalent)",
}
__all__ = list(TWINS) + list(NO_TWIN) + ["keras", "tf"]
