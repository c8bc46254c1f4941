"""The table of TF1 constructs that ``rnn-migrate scan`` reports and ``rnn-migrate upgrade`` rewrites.

Each :class:`Symbol` row says, for one TF1 name (relative to the ``tensorflow`` package, e.g.
``nn.rnn_cell.BasicLSTMCell``): its Keras 2 (tf_keras) equivalent, what happens to the checkpoint when you move
(gate order, forget_bias, GRU reset_after, state order, masking, dropout), where it lives on TensorFlow 2.21 under
``tf.compat.v1`` (``home``; ``None`` = nowhere, so it needs a manual rewrite), whether the same name still exists in
TF2 (``in_tf2``) and the anchor of its row in ``docs/api-map.md``.

The facts come from ``/work/shared/docs/tf1-keras2-facts.md``; ``tests/upgrade/test_symbols.py`` checks every ``home``
and every ``in_tf2`` flag against the installed TensorFlow. This module never imports TensorFlow.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

API_MAP = "docs/api-map.md"

#: Every anchor this table links to; docs/api-map.md must define ``<a id="ANCHOR"></a>`` for each.
ANCHORS: tuple[str, ...] = (
    "placeholder", "session", "feed_dict", "variable_scope", "get_variable", "basicrnncell", "basiclstmcell",
    "lstmcell", "grucell", "multirnncell", "dropoutwrapper", "residualwrapper", "lstmstatetuple", "static_rnn",
    "dynamic_rnn", "static_bidirectional_rnn", "bidirectional_dynamic_rnn", "embedding_lookup", "optimizers",
    "saver", "initializers", "reset_default_graph", "contrib",
    "lstmblockcell", "lstmblockfusedcell", "grublockcell", "cudnncompatiblelstmcell", "cudnncompatiblegrucell",
    "cudnnlstm", "layernormbasiclstmcell", "convlstmcell", "ema",
    "projectionwrappers", "embeddingwrapper", "crf", "stack_bidirectional_rnn", "attentioncellwrapper",
)

SEVERITIES = ("compat", "rewrite", "manual")


@dataclass(frozen=True)
class Symbol:
    """One TF1 construct. ``name`` is relative to ``tensorflow`` (``"placeholder"``, ``"contrib.rnn.GRUCell"``)."""

    name: str
    anchor: str
    replacement: str
    consequence: str = ""
    home: str | None = ""  # "" = same name under tf.compat.v1; None = no home (manual rewrite)
    in_tf2: bool = False  # the same name works on TF 2.21 without tf.compat.v1

    @property
    def doc(self) -> str:
        return f"{API_MAP}#{self.anchor}"

    def compat_home(self) -> str | None:
        """Where the symbol lives on TF 2.21, relative to ``tensorflow`` (``compat.v1.nn.rnn_cell.GRUCell``)."""
        if self.home is None:
            return None
        return self.home or "compat.v1." + self.name


# --- checkpoint consequences (one sentence each; details in docs/api-map.md) ---------------------------------
_LSTM = ("kernel [D+U, 4U] gate order i,j,f,o -> Keras i,f,c,o (kernel split into kernel/recurrent_kernel); "
         "forget_bias is not stored: fold it into b_f at conversion; state LSTMStateTuple(c, h) vs Keras [h, c]")
_GRU = ("gates [r|u] + candidate kernels -> Keras z,r,h; use GRU(reset_after=False) (the default reset_after=True "
        "can never match a TF1 GRUCell)")
_RNN = "kernel [D+U, U] -> kernel = K[:D], recurrent_kernel = K[D:]"
_MASK = "sequence_length zeroes outputs after each length: pass mask=tf.sequence_mask(lengths, T) with zero_output_for_mask=True"
_DROP = ("no variables, no rename; keep_prob is a keep probability (Keras rate = 1 - keep_prob) and it has no "
         "inference switch: feed 1.0 at inference")
_SAVE = ("name-based TF1 checkpoint: Keras load_weights cannot read TF1 layouts; convert the arrays with "
         "`rnn-migrate convert CKPT OUT_DIR`")

_CELL_ROWS: tuple[tuple[str, str, str, str], ...] = (
    # (class, anchor, Keras 2 replacement, consequence)
    ("BasicRNNCell", "basicrnncell", "tf_keras.layers.SimpleRNN / SimpleRNNCell", _RNN),
    ("BasicLSTMCell", "basiclstmcell", "tf_keras.layers.LSTM / LSTMCell", _LSTM),
    ("LSTMCell", "lstmcell", "tf_keras.layers.LSTM (peepholes/num_proj/cell_clip need a custom cell)",
     _LSTM + "; use_peepholes/num_proj add w_*_diag and projection/kernel that stock Keras lacks"),
    ("GRUCell", "grucell", "tf_keras.layers.GRU(reset_after=False)", _GRU),
    ("MultiRNNCell", "multirnncell", "stacked layers or tf_keras.layers.RNN(StackedRNNCells([...]))",
     "keys multi_rnn_cell/cell_k/...; states ((c0,h0), h1) vs Keras [out, [h0, c0], h1]; [cell]*n shares one weight set"),
    ("DropoutWrapper", "dropoutwrapper", "LSTM(dropout=1-input_keep_prob) + tf_keras.layers.Dropout(1-output_keep_prob)",
     _DROP),
    ("ResidualWrapper", "residualwrapper", "x + SimpleRNN(return_sequences=True)(x)",
     "no variables, no rename; the state is not residual; needs depth == units"),
    ("DeviceWrapper", "contrib", "tf.device(...) around the layer", "no variables, no rename"),
    ("LSTMStateTuple", "lstmstatetuple", "a list [h, c] (Keras order)",
     "TF1 state (c, h); Keras return_state gives [output, h, c] and takes initial_state=[h, c]"),
    ("RNNCell", "contrib", "tf_keras.layers.AbstractRNNCell / a Layer with state_size",
     "custom cell: its variables keep the names it creates"),
)

_ROWS: list[Symbol] = []
for _cls, _anchor, _repl, _cons in _CELL_ROWS:
    _home = f"compat.v1.nn.rnn_cell.{_cls}"
    _ROWS.append(Symbol(f"nn.rnn_cell.{_cls}", _anchor, _repl, _cons, _home))
    _ROWS.append(Symbol(f"contrib.rnn.{_cls}", _anchor, _repl, _cons, _home))

_RNN_FUNCS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("static_rnn", "static_rnn", "tf_keras.layers.RNN/LSTM(return_sequences=True, return_state=True) on tf.stack(inputs, 1)",
     ("nn", "contrib.rnn")),
    ("dynamic_rnn", "dynamic_rnn", "tf_keras.layers.RNN/LSTM(return_sequences=True, return_state=True)", ("nn",)),
    ("static_bidirectional_rnn", "static_bidirectional_rnn", "tf_keras.layers.Bidirectional(..., merge_mode='concat')",
     ("nn", "contrib.rnn")),
    ("bidirectional_dynamic_rnn", "bidirectional_dynamic_rnn",
     "tf_keras.layers.Bidirectional(LSTM(...), merge_mode=None) called with the mask", ("nn",)),
    ("static_state_saving_rnn", "static_rnn", "tf_keras.layers.RNN(stateful=True)", ("nn", "contrib.rnn")),
    ("raw_rnn", "dynamic_rnn", "a custom loop (tf.while_loop) or tf_keras.layers.RNN with a custom cell", ("nn",)),
)
for _fn, _anchor, _repl, _prefixes in _RNN_FUNCS:
    _cons = "scope 'rnn' (or scope=) prefixes the variable names; " + _MASK
    if "bidirectional" in _fn:
        _cons = ("names bidirectional_rnn/fw/..., bidirectional_rnn/bw/...; the Keras backward pass needs the mask "
                 "(TF1 reverses each sequence by its length)")
    for _p in _prefixes:
        _ROWS.append(Symbol(f"{_p}.{_fn}", _anchor, _repl, _cons, f"compat.v1.nn.{_fn}"))

_OPTIMIZERS: dict[str, tuple[str, str]] = {
    "GradientDescent": ("tf_keras.optimizers.SGD", "no slots"),
    "Adam": ("tf_keras.optimizers.Adam(epsilon=1e-8)",
             "slots <var>/Adam, <var>/Adam_1 + beta1_power/beta2_power; Keras eps defaults to 1e-7: set 1e-8 and "
             "restore iterations = global_step"),
    "Adagrad": ("tf_keras.optimizers.Adagrad(initial_accumulator_value=0.1, epsilon=0)",
                "slot <var>/Adagrad (accumulator, starts at 0.1), split like its variable"),
    "Momentum": ("tf_keras.optimizers.SGD(momentum=...)", "slot <var>/Momentum"),
    "RMSProp": ("tf_keras.optimizers.RMSprop", "slots <var>/RMSProp (rms, starts at 1.0), <var>/RMSProp_1 (momentum)"),
    "Adadelta": ("tf_keras.optimizers.Adadelta", "slots <var>/Adadelta, <var>/Adadelta_1"),
    "Ftrl": ("tf_keras.optimizers.Ftrl", "slots <var>/Ftrl, <var>/Ftrl_1"),
    "AdagradDA": ("no stock Keras equivalent", "slots <var>/AdagradDA, <var>/AdagradDA_1"),
    "ProximalGradientDescent": ("no stock Keras equivalent", "no slots"),
    "ProximalAdagrad": ("no stock Keras equivalent", "slot <var>/ProximalAdagrad"),
    "": ("tf_keras.optimizers.Optimizer", "custom optimizer: check its slot names"),
}
for _opt, (_repl, _cons) in _OPTIMIZERS.items():
    _ROWS.append(Symbol(f"train.{_opt}Optimizer", "optimizers", _repl, _cons))

_ROWS += [
    Symbol("placeholder", "placeholder", "tf_keras.Input(shape=..., batch_size=...)", "no variables"),
    Symbol("placeholder_with_default", "placeholder", "a Python default argument / tf_keras.Input", "no variables"),
    Symbol("Session", "session", "eager execution (call the model / model.fit)", ""),
    Symbol("InteractiveSession", "session", "eager execution (call the model / model.fit)", ""),
    Symbol("variable_scope", "variable_scope", "Keras layer name= (or a tf.Module)",
           "the scope prefixes every get_variable name; dynamic_rnn(scope=X) replaces 'rnn'"),
    Symbol("get_variable", "get_variable", "layer.add_weight / tf.Variable",
           "name = scope/name; name_scope is ignored by get_variable"),
    Symbol("get_variable_scope", "variable_scope", "Keras layer names", ""),
    Symbol("AUTO_REUSE", "variable_scope", "reuse the layer object", "shared weights: one set of variables"),
    Symbol("nn.embedding_lookup", "embedding_lookup",
           "tf_keras.layers.Embedding(V, E) (a fixed matrix: embeddings_initializer=Constant(M), trainable=False)",
           "a numpy matrix is a graph constant (not in the checkpoint; watch float64); v1 partition_strategy='mod' "
           "permutes the rows of a partitioned variable", in_tf2=True),
    Symbol("train.Saver", "saver", "tf.train.Checkpoint / model.save_weights", _SAVE),
    Symbol("train.latest_checkpoint", "saver", "tf.train.latest_checkpoint (unchanged)", _SAVE, in_tf2=True),
    Symbol("train.import_meta_graph", "saver", "rebuild the model in Keras", _SAVE),
    Symbol("global_variables_initializer", "initializers", "nothing (Keras layers initialise on build)", ""),
    Symbol("initialize_all_variables", "initializers", "nothing (Keras layers initialise on build)", ""),
    Symbol("local_variables_initializer", "initializers", "nothing", ""),
    Symbol("variables_initializer", "initializers", "nothing", ""),
    Symbol("truncated_normal", "initializers", "tf.random.truncated_normal / tf_keras.initializers.TruncatedNormal",
           "only the initial values"),
    Symbol("random_normal", "initializers", "tf.random.normal / tf_keras.initializers.RandomNormal",
           "only the initial values"),
    Symbol("random_uniform", "initializers", "tf.random.uniform / tf_keras.initializers.RandomUniform",
           "only the initial values"),
    Symbol("glorot_uniform_initializer", "initializers", "tf_keras.initializers.GlorotUniform", "only the initial values"),
    Symbol("constant_initializer", "initializers", "tf_keras.initializers.Constant", "only the initial values",
           in_tf2=True),
    Symbol("truncated_normal_initializer", "initializers", "tf_keras.initializers.TruncatedNormal",
           "only the initial values"),
    Symbol("random_normal_initializer", "initializers", "tf_keras.initializers.RandomNormal",
           "only the initial values", in_tf2=True),
    Symbol("reset_default_graph", "reset_default_graph", "tf_keras.backend.clear_session()", ""),
    # Modules used as values (e.g. ``rnn_cell = tf.nn.rnn_cell``); attribute uses are resolved through them.
    Symbol("nn.rnn_cell", "contrib", "tf_keras.layers (LSTM, GRU, SimpleRNN, RNN)",
           "the module is gone from TF2; its cells live in tf.compat.v1.nn.rnn_cell", "compat.v1.nn.rnn_cell"),
    Symbol("contrib.rnn", "contrib", "tf_keras.layers",
           "split between tf.compat.v1.nn.rnn_cell (cells) and tf.compat.v1.nn (static_rnn): no single home", None),
    Symbol("contrib", "contrib", "no single equivalent (tf_keras.layers, tensorflow_addons, tf_slim)",
           "tf.contrib is gone from TF2: rewrite by hand", None),
]

# tf.contrib.rnn cell families: no TF2 home; legacy_rnn.contrib rebuilds them on TensorFlow's own kernels.
_CONTRIB_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("LSTMBlockCell", "lstmblockcell", "tf_keras.layers.LSTM (legacy_rnn.lstm_block_cell keeps TF1 code running)",
     "same lstm_cell/kernel, bias (+ w_*_diag) as LSTMCell; forget_bias, cell_clip, use_peephole are op attributes"),
    ("LSTMBlockFusedCell", "lstmblockfusedcell", "tf_keras.layers.LSTM(time_major=True)",
     "lstm_fused_cell/kernel, bias converted like LSTMCell; time-major; forget_bias/cell_clip are BlockLSTM attributes"),
    ("GRUBlockCell", "grublockcell", "tf_keras.layers.GRU(reset_after=False)",
     "gru_cell/w_ru, b_ru, w_c, b_c hold GRUCell's gates/candidate arrays: convert like GRUCell"),
    ("GRUBlockCellV2", "grublockcell", "tf_keras.layers.GRU(reset_after=False)", "GRUCell's names and layout"),
    ("LayerNormBasicLSTMCell", "layernormbasiclstmcell", "a custom Keras cell (modern_rnn.LayerNormLSTMCell)",
     "kernel + per-gate gamma/beta, no bias; LayerNormalization after an LSTM computes something else"),
    ("ConvLSTMCell", "convlstmcell", "tf_keras.layers.ConvLSTM2D(padding='same', recurrent_activation='sigmoid')",
     "kernel [*k, C_in + C, 4C] split into kernel/recurrent_kernel, gates reordered; biases + forget_bias"),
    ("OutputProjectionWrapper", "projectionwrappers", "tf_keras.layers.Dense after the RNN layer",
     "output_projection_wrapper/kernel, bias beside the wrapped cell's variables"),
    ("InputProjectionWrapper", "projectionwrappers", "tf_keras.layers.Dense before the RNN layer",
     "input_projection_wrapper/kernel, bias beside the wrapped cell's variables"),
    ("EmbeddingWrapper", "embeddingwrapper", "tf_keras.layers.Embedding before the RNN layer",
     "embedding_wrapper/embedding [V, E] beside the wrapped cell's variables"),
    ("AttentionCellWrapper", "attentioncellwrapper", "a custom Keras cell (modern_rnn.AttentionCell)",
     "attention_cell_wrapper/{kernel, bias, attention/{attn_w, attn_v, kernel, bias}, attn_output_projection/*} "
     "beside the cell: `convert` takes attn_length from the .meta (migration.wrapper_converters); the query "
     "kernel's rows follow TF1's state order (c, h)"),
    ("Conv2DLSTMCell", "convlstmcell", "tf_keras.layers.ConvLSTM2D(padding='same', recurrent_activation='sigmoid')",
     "as ConvLSTMCell, scope conv_2d_lstm_cell"),
)
for _cls, _anchor, _repl, _cons in _CONTRIB_ROWS:
    _ROWS.append(Symbol(f"contrib.rnn.{_cls}", _anchor, _repl, _cons, None))
_CUDNN_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("CudnnCompatibleLSTMCell", "cudnncompatiblelstmcell", "tf_keras.layers.LSTM(unit_forget_bias=False)",
     "cudnn_compatible_lstm_cell/kernel, bias: an LSTMBlockCell with forget_bias fixed to 0"),
    ("CudnnCompatibleGRUCell", "cudnncompatiblegrucell", "tf_keras.layers.GRU(reset_after=True)",
     "gates/* + candidate/{input,hidden}_projection/*: equals GRU(reset_after=True), bias [2, 3U]"),
    ("CudnnLSTM", "cudnnlstm", "tf_keras.layers.LSTM (stacked)",
     "opaque_kernel buffer; TF saved canonical cudnn_compatible_lstm_cell variables beside it"),
    ("CudnnGRU", "cudnnlstm", "tf_keras.layers.GRU(reset_after=True) (stacked)",
     "opaque_kernel buffer; TF saved canonical cudnn_compatible_gru_cell variables beside it"),
)
for _cls, _anchor, _repl, _cons in _CUDNN_ROWS:
    _ROWS.append(Symbol(f"contrib.cudnn_rnn.{_cls}", _anchor, _repl, _cons, None))

for _fn in ("stack_bidirectional_dynamic_rnn", "stack_bidirectional_rnn"):
    _ROWS.append(Symbol(f"contrib.rnn.{_fn}", "stack_bidirectional_rnn",
                        "one tf_keras.layers.Bidirectional per layer, each reading concat(fw, bw) of the layer below",
                        "names stack_bidirectional_rnn/cell_k/bidirectional_rnn/{fw,bw}/...", None))
for _fn in ("crf_log_likelihood", "crf_decode", "crf_sequence_score", "crf_log_norm", "viterbi_decode"):
    _ROWS.append(Symbol(f"contrib.crf.{_fn}", "crf", "modern_rnn.CRF (log_likelihood / Viterbi call)",
                        "transitions [N, N] copies unchanged", None))
_ROWS.append(Symbol("train.ExponentialMovingAverage", "ema", "the averaged weights loaded into the Keras model",
                    "shadows <var>/ExponentialMovingAverage: listed by inspect; convert --use-ema converts them",
                    in_tf2=True))

#: relative TF1 name -> row
TABLE: dict[str, Symbol] = {row.name: row for row in _ROWS}

#: The Keras ``feed_dict`` pseudo-symbol (a keyword of ``Session.run``, not an attribute).
FEED_DICT = Symbol("Session.run(feed_dict=...)", "feed_dict", "call the model (or a tf.function) on tensors",
                   "placeholders fed by feed_dict become model inputs", in_tf2=False)

# Modules that moved wholesale: any attribute under them lives under tf.compat.v1 with the same name.
MOVED_MODULES: tuple[str, ...] = ("nn.rnn_cell", "layers", "logging", "saved_model.loader", "gfile")

_OPTIMIZER_RE = re.compile(r"^train\.\w*Optimizer$")


def lookup(rel: str) -> Symbol | None:
    """The row for a relative TF1 name, trying the name then its parents (``contrib.layers.x`` -> ``contrib``)."""
    if rel in TABLE:
        return TABLE[rel]
    if _OPTIMIZER_RE.match(rel):
        return TABLE["train.Optimizer"]
    parts = rel.split(".")
    for n in range(len(parts) - 1, 0, -1):
        row = TABLE.get(".".join(parts[:n]))
        if row is not None and row.name.startswith(("contrib", "nn.rnn_cell")):
            return row
    return None


def row_for(rel: str) -> Symbol | None:
    """The row of exactly this relative name (every ``train.*Optimizer`` shares the optimizer row), or None."""
    return TABLE.get(rel) or (TABLE["train.Optimizer"] if _OPTIMIZER_RE.match(rel) else None)


def has_no_home(rel: str) -> bool:
    """True for TF1 names that do not exist anywhere on TF 2.21 (``tf.contrib.*`` outside the known RNN homes)."""
    row = lookup(rel)
    return row is not None and row.home is None and not row.in_tf2
