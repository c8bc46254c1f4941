"""The TF1 module namespaces ``legacy_rnn`` rebuilds beside its cell families (``tf.contrib.rnn`` as a whole,
``tf.contrib.crf``, ``tf.contrib.seq2seq``, ``tf.contrib.layers`` ...): their homes for ``rnn-migrate upgrade``.

The cell classes' own homes come from the family rows; where this table lists a class too (as part of a whole
namespace), its spelling is kept and must be the very object the row names (a test checks it).
``tests/upgrade/test_homes.py`` imports every home. Never imports TensorFlow.
"""
from __future__ import annotations

#: TF1 module -> (its home module in this project, the TF 1.15 names that home provides).
_MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "tf.contrib.rnn": ("legacy_rnn.contrib_rnn", (
        "BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell", "DropoutWrapper", "ResidualWrapper",
        "DeviceWrapper", "RNNCell", "LSTMStateTuple", "static_rnn", "static_bidirectional_rnn",
        "static_state_saving_rnn", "LSTMBlockCell", "LSTMBlockFusedCell", "GRUBlockCell", "GRUBlockCellV2",
        "LayerNormBasicLSTMCell", "ConvLSTMCell", "OutputProjectionWrapper", "InputProjectionWrapper",
        "EmbeddingWrapper", "AttentionCellWrapper", "stack_bidirectional_dynamic_rnn", "stack_bidirectional_rnn",
        "IndRNNCell", "IndyGRUCell", "IndyLSTMCell", "MinimalRNNCell", "CFNCell", "SRUCell",
        "IntersectionRNNCell",
        "GridLSTMCell", "BidirectionalGridLSTMCell",
        "NASCell", "GLSTMCell",
        "CoupledInputForgetGateLSTMCell", "LayerNormLSTMCell", "WeightNormLSTMCell",
        "PhasedLSTMCell", "TimeFreqLSTMCell")),
    "tf.contrib.crf": ("legacy_rnn.crf", (
        "crf_sequence_score", "crf_log_norm", "crf_log_likelihood", "crf_decode", "viterbi_decode",
        "crf_unary_score", "crf_binary_score", "crf_multitag_sequence_score", "CrfForwardRnnCell",
        "CrfDecodeForwardRnnCell", "CrfDecodeBackwardRnnCell")),
    "tf.contrib.seq2seq": ("legacy_rnn.seq2seq", (
        "BahdanauAttention", "LuongAttention", "AttentionWrapper", "AttentionWrapperState", "TrainingHelper",
        "GreedyEmbeddingHelper", "BasicDecoder", "BasicDecoderOutput", "dynamic_decode", "tile_batch", "gather_tree",
        "BeamSearchDecoder", "BeamSearchDecoderState", "BeamSearchDecoderOutput", "FinalBeamSearchDecoderOutput",
        "sequence_loss", "Decoder", "Helper", "CustomHelper", "InferenceHelper", "SampleEmbeddingHelper",
        "ScheduledEmbeddingTrainingHelper", "ScheduledOutputTrainingHelper", "AttentionMechanism",
        "BahdanauMonotonicAttention", "LuongMonotonicAttention", "monotonic_attention", "safe_cumprod", "hardmax",
        "SequenceLoss")),
    "tf.contrib.legacy_seq2seq": ("legacy_rnn.seq2seq.legacy_seq2seq", (
        "rnn_decoder", "basic_rnn_seq2seq", "tied_rnn_seq2seq", "embedding_rnn_decoder", "embedding_rnn_seq2seq",
        "attention_decoder", "embedding_attention_decoder", "embedding_attention_seq2seq", "sequence_loss_by_example",
        "sequence_loss", "embedding_tied_rnn_seq2seq", "one2many_rnn_seq2seq")),
    "tf.contrib.layers": ("legacy_rnn.contrib_layers", (
        "apply_regularization", "avg_pool2d", "batch_norm", "conv2d", "conv2d_transpose", "dropout", "flatten",
        "fully_connected", "l1_l2_regularizer", "l1_regularizer", "l2_regularizer", "layer_norm", "linear",
        "max_pool2d", "one_hot_encoding", "optimize_loss", "repeat", "separable_conv2d", "stack", "sum_regularizer",
        "summarize_activation", "variance_scaling_initializer", "xavier_initializer", "xavier_initializer_conv2d")),
    "tf.contrib.framework": ("legacy_rnn.contrib_framework", (
        "add_arg_scope", "add_model_variable", "arg_scope", "argsort", "assign_from_checkpoint",
        "assign_from_checkpoint_fn", "get_global_step", "get_model_variables", "get_or_create_global_step",
        "get_trainable_variables", "get_variables", "get_variables_by_name", "get_variables_to_restore", "is_tensor",
        "load_variable", "local_variable", "model_variable", "nest", "sort", "variable")),
    "tf.contrib.learn": ("legacy_rnn.contrib_learn", ("ModeKeys",)),
    "tf.contrib.training": ("legacy_rnn.contrib_training", ("HParams", "checkpoints_iterator")),
    "tf.contrib.tensorboard.plugins.projector": ("legacy_rnn.contrib_projector", (
        "ProjectorConfig", "EmbeddingInfo", "SpriteMetadata", "visualize_embeddings")),
}

#: Single symbols whose home is not a module namespace of :data:`_MODULES` (the defining family module).
_SYMBOLS: dict[str, str] = {
    "tf.contrib.legacy_seq2seq.model_with_buckets": "legacy_rnn.seq2seq.buckets.model_with_buckets",
    "tf.contrib.cudnn_rnn.CudnnCompatibleGRUCell": "legacy_rnn.cudnn.CudnnCompatibleGRUCell",
}

#: TF1 modules whose home holds only some of their names (the rest stay a manual check).
PARTIAL_MODULES = frozenset({"tf.contrib.learn", "tf.contrib.training"})


def namespace_homes() -> dict[str, str]:
    """TF1 public dotted symbol (``tf.contrib.rnn.LSTMBlockCell``) -> its home here (``legacy_rnn.contrib_rnn.
    LSTMBlockCell``); a module maps to its namespace module (``tf.contrib.rnn`` -> ``legacy_rnn.contrib_rnn``) unless
    it is in :data:`PARTIAL_MODULES`."""
    out: dict[str, str] = {}
    for module, (home, names) in _MODULES.items():
        if module not in PARTIAL_MODULES:
            out[module] = home
        out.update({f"{module}.{name}": f"{home}.{name}" for name in names})
    out.update(_SYMBOLS)
    return out


__all__ = ["namespace_homes", "PARTIAL_MODULES"]
