"""Checkpoint names, recognition, Keras -> TF1 export restored by the legacy graph, and .keras serialisation."""
from __future__ import annotations

import numpy as np
import pytest

from migration import seq2seq_converters as s2c
from migration.core.errors import MigrationError
from tests.seq2seq import harness as h

tf, v1, keras = h.tf, h.v1, h.keras
CFG = h.BY_NAME["bahdanau_norm-lstm_fb0.5-layer"]


@pytest.fixture(scope="module")
def legacy(tmp_path_factory) -> dict:
    return h.legacy_train(CFG, str(tmp_path_factory.mktemp("legacy")))


def test_checkpoint_names_are_tf_1_15_names(legacy) -> None:
    names = dict(tf.train.list_variables(legacy["checkpoint"]))
    w = "decoder/attention_wrapper/"
    assert names == {
        "embedding": [h.V, h.D], "memory_layer/kernel": [h.M, h.N],
        w + "lstm_cell/kernel": [h.D + 4 + 5, 20], w + "lstm_cell/bias": [20],
        w + "bahdanau_attention/query_layer/kernel": [5, h.N], w + "bahdanau_attention/attention_v": [h.N],
        w + "bahdanau_attention/attention_g": [], w + "bahdanau_attention/attention_b": [h.N],
        w + "attention_layer/kernel": [5 + h.M, 4],
        "decoder/output_projection/kernel": [4, h.V], "decoder/output_projection/bias": [h.V],
    }


def test_recognize_reads_the_hyper_parameters_from_shapes(legacy) -> None:
    (block,) = s2c.recognize_seq2seq(dict(tf.train.list_variables(legacy["checkpoint"])))
    assert isinstance(block, s2c.AttentionWrapperBlock)
    assert (block.prefix, block.memory_layer, block.mechanism, block.num_units, block.normalize, block.scale,
            block.attention_layer_size, block.cell_kind, block.cell_units, block.input_depth, block.memory_depth) == (
        "decoder/", "memory_layer/kernel", "bahdanau", h.N, True, False, 4, "lstm", 5, h.D, h.M)
    conversion = s2c.convert_seq2seq(h.checkpoint_arrays(legacy["checkpoint"]), forget_bias=0.5)
    assert set(conversion.unconverted) == {"embedding", "decoder/output_projection/kernel",
                                           "decoder/output_projection/bias"}
    assert conversion.consumed | set(conversion.unconverted) == set(legacy["variables"])


@pytest.mark.parametrize("name", ["luong_scale-gru-layer", "luong-basic_lstm-cell_output"])
def test_recognize_luong_variants(name: str) -> None:
    cfg = h.BY_NAME[name]
    units = cfg.units
    cell = {"gru": {"gru_cell/gates/kernel": [h.D + cfg.attention_size + units, 2 * units],
                    "gru_cell/gates/bias": [2 * units], "gru_cell/candidate/kernel": [h.D + cfg.attention_size + units, units],
                    "gru_cell/candidate/bias": [units]},
            "basic_lstm": {"basic_lstm_cell/kernel": [h.D + cfg.attention_size + units, 4 * units],
                           "basic_lstm_cell/bias": [4 * units]}}[cfg.cell.kind]
    shapes = {"memory_layer/kernel": [h.M, units], **{"decoder/attention_wrapper/" + k: v for k, v in cell.items()}}
    if cfg.scale:
        shapes["decoder/attention_wrapper/luong_attention/attention_g"] = []
    if cfg.attention_layer_size:
        shapes["decoder/attention_wrapper/attention_layer/kernel"] = [units + h.M, cfg.attention_layer_size]
    (block,) = s2c.recognize_seq2seq(shapes)
    assert (block.mechanism, block.scale, block.cell_kind, block.input_depth, block.attention_layer_size) == (
        "luong", cfg.scale, cfg.cell.kind, h.D, cfg.attention_layer_size)


def test_recognize_refuses_ambiguous_memory_layers() -> None:
    shapes = {"memory_layer/kernel": [3, 4], "memory_layer_1/kernel": [3, 4],
              "decoder/attention_wrapper/bahdanau_attention/attention_v": [4],
              "decoder/attention_wrapper/bahdanau_attention/query_layer/kernel": [5, 4],
              "decoder/attention_wrapper/basic_lstm_cell/kernel": [13, 20],
              "decoder/attention_wrapper/basic_lstm_cell/bias": [20]}
    with pytest.raises(MigrationError, match="memory_layer"):
        s2c.recognize_seq2seq(shapes)


def test_assign_named_refuses_a_different_set_up(legacy) -> None:
    arrays = h.checkpoint_arrays(legacy["checkpoint"])
    (named,) = s2c.convert_seq2seq(arrays, forget_bias=0.5).keras
    wrapper = h.keras_wrapper(h.BY_NAME["bahdanau-basic_lstm"])          # no normalisation, no attention layer
    h.build_keras(CFG, wrapper, h.data()["memory"], h.LENGTHS, h.B)
    with pytest.raises(MigrationError, match="different attention set-ups"):
        s2c.assign_named(wrapper.named_weights(), named)


def _train_keras(steps: int = 3):
    """A fresh Keras twin (Keras initialisers), trained a few Adam steps on the teacher-forced loss."""
    tf.random.set_seed(5)
    d = h.data()
    wrapper = h.keras_wrapper(CFG)
    h.build_keras(CFG, wrapper, d["memory"], h.LENGTHS, h.B)
    embedding, projection = keras.layers.Embedding(h.V, h.D), keras.layers.Dense(h.V)
    embedding.build(None)
    projection.build([None, wrapper.attention_size])
    variables = wrapper.trainable_weights + embedding.trainable_weights + projection.trainable_weights
    before = [v.numpy().copy() for v in variables]
    optimizer = keras.optimizers.Adam(0.05)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = h.keras_teacher(CFG, wrapper, embedding, projection, as_tensor=True)["loss"]
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    assert all(np.abs(b - v.numpy()).max() > 1e-3 for b, v in zip(before, variables))   # every weight trained
    return wrapper, embedding, projection


def test_keras_trained_exports_to_a_tf1_checkpoint_the_legacy_graph_restores(legacy, tmp_path) -> None:
    wrapper, embedding, projection = _train_keras()
    keras_out = h.keras_teacher(CFG, wrapper, embedding, projection)
    (block,) = s2c.recognize_seq2seq(legacy["variables"])
    values = s2c.attention_wrapper_to_tf1({k: v.numpy() for k, v in wrapper.named_weights().items()}, block,
                                          forget_bias=CFG.cell.forget_bias)
    kernel, bias = projection.get_weights()
    values.update({"embedding": embedding.get_weights()[0], "decoder/output_projection/kernel": kernel,
                   "decoder/output_projection/bias": bias})
    exported = h.legacy_train(CFG, str(tmp_path / "export"), values=values)["checkpoint"]
    restored = h.legacy_train(CFG, str(tmp_path / "restored"), restore=exported)       # fresh graph, Saver.restore
    for key in ("logits", "history", "attention", "loss"):
        np.testing.assert_allclose(restored[key], keras_out[key], atol=h_tol())
    for got, want in zip(restored["cell_state"], keras_out["cell_state"]):
        np.testing.assert_allclose(got, want, atol=h_tol())
    # Control: exporting without taking forget_bias back out of the Keras bias is caught.
    wrong = s2c.attention_wrapper_to_tf1({k: v.numpy() for k, v in wrapper.named_weights().items()}, block,
                                         forget_bias=0.0)
    values.update(wrong)
    off = h.legacy_train(CFG, str(tmp_path / "wrong"), values=values)
    assert np.abs(off["logits"] - keras_out["logits"]).max() > 1e-3


def h_tol() -> float:
    return 1e-5


@keras.saving.register_keras_serializable(package="tests.seq2seq")
class _TinyAttentionModel(keras.Model):
    """Embedding -> AttentionWrapper (teacher forced, eager loop) -> Dense; memory passed at call time."""

    def __init__(self, wrapper, **kwargs) -> None:
        super().__init__(**kwargs)
        self.wrapper = keras.layers.deserialize(wrapper) if isinstance(wrapper, dict) else wrapper
        self.embedding, self.projection = keras.layers.Embedding(h.V, h.D), keras.layers.Dense(h.V)

    def call(self, inputs):
        ids, memory = inputs
        self.wrapper.setup_memory(memory)
        state = self.wrapper.get_initial_state(int(ids.shape[0]))
        outs = []
        for t in range(ids.shape[1]):
            out, state = self.wrapper(self.embedding(ids[:, t]), state)
            outs.append(self.projection(out))
        return tf.stack(outs, 1)

    def get_config(self) -> dict:
        return {"wrapper": keras.layers.serialize(self.wrapper)}


@pytest.mark.parametrize("name", ["bahdanau_norm-lstm_fb0.5-layer", "luong_scale-gru-layer"])
def test_keras_file_reloads_with_safe_mode(tmp_path, name: str) -> None:
    cfg = h.BY_NAME[name]
    d = h.data()
    model = _TinyAttentionModel(h.keras_wrapper(cfg, alignment_history=False))
    inputs = (tf.constant(d["ids"]), tf.constant(d["memory"]))
    expected = model(inputs).numpy()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded.wrapper.attention_mechanism, type(model.wrapper.attention_mechanism))
    np.testing.assert_allclose(loaded(inputs).numpy(), expected, atol=1e-6)


def test_name_table_covers_every_consumed_name_and_slots_are_reported(legacy) -> None:
    arrays = h.checkpoint_arrays(legacy["checkpoint"])
    arrays.update({k + "/Adam": v for k, v in list(arrays.items())})       # optimizer slots beside every variable
    conversion = s2c.convert_seq2seq(arrays, forget_bias=0.5)
    assert all(s2c.table_row(n) is not None for n in conversion.consumed)
    assert not any(n.endswith("/Adam") for n in conversion.consumed)
    slots = {n for n, why in conversion.unconverted.items() if why.startswith("optimizer slot")}
    assert slots == {n for n in arrays if n.endswith("/Adam")}
    assert s2c.table_row("decoder/output_projection/kernel") is None


def test_describe_block_is_json_and_names_the_keras_twin(legacy) -> None:
    import json

    (block,) = s2c.recognize_seq2seq(dict(tf.train.list_variables(legacy["checkpoint"])))
    summary = json.loads(json.dumps(s2c.describe_block(block)))
    assert summary["kind"] == "contrib.seq2seq.AttentionWrapper" and summary["scope"] == "decoder/attention_wrapper/"
    assert "BahdanauAttention(4, normalize=True)" in summary["keras"] and "lstm_cell(5" in summary["keras"]
    assert set(summary["variables"]) == set(block.names) and "forget_bias" in summary["note"]
