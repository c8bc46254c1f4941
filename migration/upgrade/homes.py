"""Where a TF1 name lives on TensorFlow 2.21: ``tf.compat.v1.X``, a home in this project (``legacy_rnn...``, read from
the family rows through :func:`migration.families.upgrade_homes`), or nowhere (a remedy for a person).

Relative names (``nn.rnn_cell.GRUCell``, relative to ``tensorflow``) throughout. Deep imports of TF 1.x's private
module paths (``tensorflow.contrib.seq2seq.python.ops.attention_wrapper``, ``tensorflow.python.ops.rnn``) are first
mapped to the public module that re-exported them (:func:`public_name`), so they get the same homes, or none. Never
imports TensorFlow.
"""
from __future__ import annotations

import functools

from migration.families import PARTIAL_MODULES, upgrade_homes
from migration.upgrade import symbols
from migration.upgrade.tfspec import spec

LEGACY_SEQ2SEQ = "legacy_rnn.seq2seq.legacy_seq2seq"
SEQ2SEQ = "legacy_rnn.seq2seq"

#: Removed modules and names with no TF 2.21 home: (relative prefix, remedy). Longest prefix wins.
REMEDIES: dict[str, str] = {
    "examples.tutorials.mnist": "tensorflow.examples.tutorials is not in TensorFlow 2.x: load MNIST with "
    "`(x_train, y_train), (x_test, y_test) = tf_keras.datasets.mnist.load_data()` (uint8 28x28 images, integer "
    "labels: scale by 1/255, reshape to 784 and one-hot them to match read_data_sets(one_hot=True)) and batch the "
    "arrays yourself",
    "examples.tutorials": "tensorflow.examples.tutorials is not in TensorFlow 2.x: load the data with "
    "tf_keras.datasets or tensorflow_datasets",
    "contrib.learn.preprocessing.VocabularyProcessor": "use tf_keras.layers.TextVectorization(max_tokens=..., "
    "output_sequence_length=max_document_length) adapted on the training texts (note: its ids start at 2, 0 = "
    "padding, 1 = out-of-vocabulary; VocabularyProcessor used 0 for both) or tf_keras.preprocessing.text.Tokenizer; "
    "embedding rows trained against the old ids must be re-indexed",
    "contrib.learn.datasets": "use tf_keras.datasets or tensorflow_datasets",
    "contrib.learn": "tf.contrib.learn is gone: Estimator-style code -> tf_keras models (model.fit); datasets -> "
    "tf_keras.datasets; preprocessing -> tf_keras.layers.TextVectorization (ModeKeys: legacy_rnn.contrib_learn)",
    "contrib.layers": "not in legacy_rnn.contrib_layers (tf.contrib.layers' home here): use tf_slim or "
    "tf_keras.layers / tf.compat.v1.layers",
    "contrib.slim": "tf.contrib.slim -> the tf_slim package (`import tf_slim as slim`)",
    "contrib.framework": "not in legacy_rnn.contrib_framework (tf.contrib.framework's home here): see the TF 2 "
    "migration guide for this function",
    "contrib.cudnn_rnn": "CudnnLSTM/CudnnGRU -> tf_keras.layers.LSTM/GRU (their weights are stored in a different "
    "layout: convert them)",
    "contrib.tensorboard": "tf.contrib.tensorboard is gone: the projector's home here is legacy_rnn.contrib_projector; "
    "summaries: tf.compat.v1.summary",
    "contrib.legacy_seq2seq": "not rebuilt in legacy_rnn.seq2seq.legacy_seq2seq: port it by hand (its TF 1.15 "
    "source is short) or call the rebuilt pieces (" + ", ".join(("embedding_attention_seq2seq", "sequence_loss"))
    + ") yourself",
    "contrib.seq2seq": "not rebuilt in legacy_rnn.seq2seq: port that part by hand",
    "contrib.rnn": "not rebuilt in legacy_rnn.contrib_rnn (tf.contrib.rnn's home here): rewrite it by hand",
    "contrib": "tf.contrib is gone from TensorFlow 2.x; use tf_keras, tf_slim or rewrite by hand "
    f"(see {symbols.TABLE['contrib'].doc})",
    "python": "a private TensorFlow module (tensorflow.python...) that TensorFlow 2.21 moved or dropped: use the "
    "public tf.* / tf.compat.v1.* name",
}

#: TF 1.x private module paths -> the public module that re-exported them (longest prefix wins).
PRIVATE_MODULES: dict[str, str] = {
    "python.ops.rnn": "nn", "python.layers.core": "layers", "python.layers": "layers", "python.ops.rnn_cell": "nn.rnn_cell", "python.ops.rnn_cell_impl": "nn.rnn_cell",
    "contrib.rnn.python.ops.rnn_cell": "contrib.rnn", "contrib.rnn.python.ops.core_rnn_cell": "contrib.rnn",
    "contrib.rnn.python.ops.lstm_ops": "contrib.rnn", "contrib.rnn.python.ops.gru_ops": "contrib.rnn",
    "contrib.rnn.python.ops.rnn": "contrib.rnn", "contrib.crf.python.ops.crf": "contrib.crf",
    "contrib.seq2seq.python.ops.attention_wrapper": "contrib.seq2seq",
    "contrib.seq2seq.python.ops.basic_decoder": "contrib.seq2seq", "contrib.seq2seq.python.ops.decoder": "contrib.seq2seq",
    "contrib.seq2seq.python.ops.helper": "contrib.seq2seq", "contrib.seq2seq.python.ops.loss": "contrib.seq2seq",
    "contrib.seq2seq.python.ops.beam_search_decoder": "contrib.seq2seq",
    "contrib.legacy_seq2seq.python.ops.seq2seq": "contrib.legacy_seq2seq",
    "contrib.layers.python.layers.layers": "contrib.layers", "contrib.layers.python.layers.initializers": "contrib.layers",
    "contrib.layers.python.layers.regularizers": "contrib.layers",
    "contrib.framework.python.ops.variables": "contrib.framework",
    "contrib.framework.python.ops.arg_scope": "contrib.framework",
}

#: TF 1.x private modules (``tensorflow.python.*``) that TensorFlow 2.21 still ships under the same path; their
#: imports run as written (checked against the installed TensorFlow by ``tests/upgrade/test_homes.py``).
KEPT_PRIVATE: frozenset[str] = frozenset({
    "python.ops.array_ops", "python.ops.math_ops", "python.ops.init_ops", "python.ops.variable_scope",
    "python.ops.nn_ops", "python.ops.nn", "python.ops.control_flow_ops", "python.ops.tensor_array_ops",
    "python.ops.embedding_ops", "python.ops.clip_ops", "python.ops.random_ops", "python.ops.state_ops",
    "python.ops.variables", "python.ops.gen_nn_ops", "python.ops.gen_array_ops", "python.ops.gen_math_ops",
    "python.ops.check_ops", "python.ops.nn_impl", "python.framework.ops", "python.framework.dtypes",
    "python.framework.tensor_shape", "python.framework.constant_op", "python.platform.gfile",
    "python.client.device_lib", "python.debug", "python.util.nest", "python.training.moving_averages",
})

@functools.lru_cache(maxsize=1)
def contrib_homes() -> dict[str, str]:
    """Relative TF1 name (``contrib.rnn.LSTMBlockCell``) -> absolute home (``legacy_rnn.contrib_rnn.LSTMBlockCell``)."""
    return {k[3:]: v for k, v in upgrade_homes().items() if k.startswith("tf.")}


@functools.lru_cache(maxsize=1)
def home_modules() -> frozenset[str]:
    homes = contrib_homes()
    mods = {v for k, v in homes.items() if k.count(".") == 1 or k in ("contrib.legacy_seq2seq",)}
    mods |= {v.rsplit(".", 1)[0] for v in homes.values()}
    return frozenset(mods)


def home_import(home: str) -> str:
    """The module to import for an absolute home (``legacy_rnn.crf.crf_decode`` -> ``legacy_rnn.crf``)."""
    mods = home_modules()
    parts = home.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in mods:
            return ".".join(parts[:n])
    return home.rsplit(".", 1)[0]


def public_name(rel: str) -> str:
    """``contrib.seq2seq.python.ops.attention_wrapper.AttentionWrapper`` -> ``contrib.seq2seq.AttentionWrapper``."""
    parts = rel.split(".")
    for n in range(len(parts), 0, -1):
        public = PRIVATE_MODULES.get(".".join(parts[:n]))
        if public is not None:
            return ".".join([public, *parts[n:]])
    return rel


def is_kept_private(rel: str) -> bool:
    parts = rel.split(".")
    return any(".".join(parts[:n]) in KEPT_PRIVATE for n in range(len(parts), 1, -1))


def remedy(rel: str) -> str | None:
    """The remedy for a removed module or name (longest matching prefix of :data:`REMEDIES`), or None."""
    parts = rel.split(".")
    for n in range(len(parts), 0, -1):
        text = REMEDIES.get(".".join(parts[:n]))
        if text is not None:
            return text
    return None


def compat_home(rel: str) -> str | None:
    """The TF 2.21 home of a relative TF1 name if it moved (``placeholder`` -> ``compat.v1.placeholder``).

    ``None`` when the name exists in TF2 unchanged (``concat``, ``nn.embedding_lookup``) or when it has no home at all.
    """
    row = symbols.row_for(rel)
    if row is not None:
        return None if row.in_tf2 else row.compat_home()
    if rel.startswith("contrib"):
        return None
    s = spec()
    if any(rel == m or rel.startswith(m + ".") for m in symbols.MOVED_MODULES) or (rel in s.renames and rel in s.in_v1):
        return "compat.v1." + rel
    return _class_member_home(rel)


def _class_member_home(rel: str) -> str | None:
    """``profiler.ProfileOptionBuilder.float_operation`` -> ``compat.v1.profiler.ProfileOptionBuilder.float_operation``:
    a static method or attribute after a class that the spec moves under ``tf.compat.v1`` follows its class."""
    s = spec()
    parts = rel.split(".")
    for n in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:n])
        if parts[n - 1][:1].isupper() and s.renames.get(head) == "compat.v1." + head and head in s.in_v1:
            return "compat.v1." + rel
    return None


@functools.lru_cache(maxsize=4096)
def new_home(rel: str) -> str | None:
    """Where a relative TF1 name goes on TF 2.21, as an expression suffix or absolute module path.

    ``compat.v1.X`` (relative to the TensorFlow binding), ``legacy_rnn...`` (absolute: a home of the family rows),
    or None when the name needs no change (it exists in TF2 with the same meaning) or has no home.
    """
    written, rel = rel, public_name(rel)
    if any(part.startswith("_") and not part.startswith("__") for part in rel.split(".")):
        return None  # a private name (``rnn_cell_impl._linear``): TensorFlow 2.21 does not keep those
    if rel.startswith("contrib"):
        return _contrib_home(rel)
    if rel in ("flags", "app.flags") or rel.startswith(("flags.", "app.flags.")):
        return "compat.v1." + rel
    s = spec()
    if rel.startswith("summary.") and rel in s.in_v1 and "compat.v1.summary" in s.warnings.get(rel, ("", ""))[1]:
        return "compat.v1." + rel
    home = compat_home(rel)
    if home is None and written.startswith("python.") and written in PRIVATE_MODULES:
        # a TF 1.x private module imported whole (``from tensorflow.python.ops import rnn``): its public twin under
        # tf.compat.v1, which keeps every TF1 name the module held (``rnn.bidirectional_dynamic_rnn``)
        return "compat.v1." + rel
    return home


def _contrib_home(rel: str) -> str | None:
    homes = contrib_homes()
    if rel.startswith("contrib.rnn."):  # the core cells keep TensorFlow's own compat home (tf_upgrade_v2's rename)
        row = symbols.TABLE.get("contrib.rnn." + rel.split(".")[2])
        if row is not None and row.home is not None:
            return row.compat_home() + rel[len("contrib.rnn." + rel.split(".")[2]):]  # type: ignore[operator]
    parts = rel.split(".")
    for n in range(len(parts), 1, -1):
        home = homes.get(".".join(parts[:n]))
        if home is not None:
            if n < len(parts) and "tf." + ".".join(parts[:n]) in _module_keys():
                break  # a name the home module does not provide: only tf_upgrade_v2's own rename, if any
            return ".".join([home, *parts[n:]])
    s = spec()
    target = s.renames.get(rel)
    if target is not None and rel not in s.transformers and (target in s.in_tf2 or (
            target.startswith("compat.v1.") and target[len("compat.v1."):] in s.in_v1) or (
            target.startswith("compat.v2.") and target[len("compat.v2."):] in s.in_tf2)):
        return target
    return None


@functools.lru_cache(maxsize=1)
def _module_keys() -> frozenset[str]:
    homes = upgrade_homes()
    return frozenset(k for k in homes if any(v.startswith(homes[k] + ".") for v in homes.values())) | {
        "tf." + m[3:] if m.startswith("tf.") else m for m in PARTIAL_MODULES}


def provides(module_rel: str, rel: str) -> bool:
    """True if the home of the module ``module_rel`` holds ``rel``, a name reached through it (``rnn.LSTMBlockCell``
    through ``rnn = tf.contrib.rnn``): rebinding the module must not leave a use pointing at nothing."""
    module_home = new_home(module_rel)
    if module_home is None:
        return False
    if not is_absolute(module_home):
        return new_home(rel) is not None or not rel.startswith(("contrib", "python"))
    rest = rel[len(module_rel):].split(".") if rel.startswith(module_rel + ".") else []
    if len(rest) < 2:
        return False
    return f"{module_home}.{rest[1]}" in set(contrib_homes().values())


def is_absolute(home: str) -> bool:
    """True for a home in this project (``legacy_rnn...``), False for a suffix under the TensorFlow binding."""
    return home.split(".")[0] in ("legacy_rnn", "modern_rnn")


def keras_twin(rel: str) -> str:
    """The Keras 2 twin of a seq2seq name (``modern_rnn.seq2seq.X``)."""
    name = rel.split(".", 2)[2] if rel.count(".") >= 2 else ""
    return f"modern_rnn.seq2seq.{name}" if name else "modern_rnn.seq2seq"
