"""TF1 graph-mode recurrent code, runnable on TensorFlow 2.21 through ``tf.compat.v1``.

Importing this package first sets ``TF_USE_LEGACY_KERAS=1`` (see :mod:`migration.core.tf_env`) so that
``tf.compat.v1.nn.rnn_cell.*`` exists, then imports TensorFlow. Every public name has a twin of the same name in
:mod:`modern_rnn` (Keras 2, via ``tf_keras``); the two packages read side by side.
"""
from __future__ import annotations

from migration.core.tf_env import check_rnn_cell_available, ensure_legacy_keras

ensure_legacy_keras()

import tensorflow as tf  # noqa: E402

from migration.core.autograph_rules import exclude_own_packages  # noqa: E402

exclude_own_packages()  # our cells and layers are graph code as written: no AutoGraph rewrite of their calls

check_rnn_cell_available()

v1 = tf.compat.v1

from legacy_rnn.cells import (  # noqa: E402
    handwritten_rnn_cell, basic_rnn_cell, basic_lstm_cell, lstm_cell, gru_cell, cell_from_spec, multi_rnn_cell,
    dropout_wrapper, residual_wrapper,
)
from legacy_rnn.rnn import (  # noqa: E402
    manual_rnn, static_rnn, dynamic_rnn, static_bidirectional_rnn, bidirectional_dynamic_rnn, flatten_state,
)
from legacy_rnn.contrib import (  # noqa: E402
    lstm_block_cell, lstm_block_fused_cell, gru_block_cell, gru_block_cell_v2, layer_norm_basic_lstm_cell,
    conv_lstm_cell,
)
from legacy_rnn.cudnn import cudnn_compatible_lstm_cell, cudnn_compatible_gru_cell  # noqa: E402
from legacy_rnn.wrappers import (  # noqa: E402
    output_projection_wrapper, input_projection_wrapper, embedding_wrapper, attention_cell_wrapper,
)
from legacy_rnn.crf import (  # noqa: E402
    crf_sequence_score, crf_log_norm, crf_log_likelihood, crf_decode, viterbi_decode,
)
from legacy_rnn.stack import stack_bidirectional_dynamic_rnn, stack_bidirectional_rnn  # noqa: E402
from legacy_rnn.embedding import glove_embedding, embedding_variable, embedding_lookup  # noqa: E402
from legacy_rnn.session import (  # noqa: E402
    new_graph, placeholder, keep_prob_placeholder, new_session, initialize, save, restore_latest, restore_renamed,
)

#: Public names shared with :mod:`modern_rnn`, in the same order (the mirror test checks both lists).
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
#: Legacy names without a Keras twin, and why.
NO_TWIN: dict[str, str] = {
    "new_graph": "Keras 2 runs eagerly; there is no graph to create",
    "placeholder": "keras.Input plays the role in functional models; eager code passes tensors directly",
    "keep_prob_placeholder": "Keras switches dropout with training=True/False, nothing is fed",
    "new_session": "no Session in Keras 2",
    "initialize": "Keras initialises weights when a layer is built",
    "save": "model.save / tf.train.Checkpoint; `rnn-migrate export` writes TF1 name-based checkpoints",
    "restore_latest": "model.load_weights / tf.train.Checkpoint.restore; `rnn-migrate convert` reads TF1 checkpoints",
    "restore_renamed": "tf-slim name maps are TF1-only; Keras weights are converted with migration.converters",
}
__all__ = list(TWINS) + list(NO_TWIN) + ["v1", "tf"]
