"""``convert --target keras3`` for ``tf.contrib.seq2seq`` attention decoders (issue 24): ``seq2seq/<name>.keras3.keras``
(the Keras 3 ``AttentionDecoderModel``, migration/targets/keras3_seq2seq.py) and a whole model's
``TeacherForcedDecoder`` layers in ``model.keras3.keras``, each checked by convert against the ORIGINAL graph on the
TensorFlow backend and on JAX (the child process), then here independently: the files loaded as a user loads them
(``keras.saving.load_model(safe_mode=True)``) against the user's graph re-imported from its ``.meta`` and restored
with ``Saver``.

Programs (built by the seq2seq tests' own builders, one in-process conversion each):

* ``single``: tests/seq2seq/test_cli_seq2seq.py's nmt-style training graph (``AttentionWrapper(LSTMCell,
  BahdanauAttention(normalize), attention_layer_size)``, ``forget_bias=0.5``) trained 2 Adam steps, a checkpoint with
  no other RNN, converted ``--with-optimizer --target keras3 --target onnx``: one Keras 3 Adam step from the
  converted slots equals one more step of the original graph (its own train op); zeroed slots or the step count not
  restored land elsewhere;
* ``mixed``: tests/seq2seq/test_mixed_attention_stack.py's three decoders with attention on one layer of a
  ``MultiRNNCell`` (LSTM / BasicLSTM / GRU; Bahdanau normalize / Luong scale / Bahdanau; encoder state fed;
  ``output_attention=False``; ``impute_finished``) and an encoder block: the seq2seq files and the whole model.

Negative controls: the attention layer kernel's rows swapped and a wrong ``forget_bias`` (the forget-gate bias
shifted) fail convert's own check (``seq2seq_export.check_files``) by > 1e-3 on both backends; the whole model with
a decoder's attention rows swapped
misses the original graph.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from migration.targets import seq2seq_export
from migration.targets.export import target_files
from migration.targets.verify_targets import TOLERANCE
from tests.seq2seq import harness as h
from tests.seq2seq import test_mixed_attention_stack as mixed_program
from tests.seq2seq.test_cli_seq2seq import _data, tf1_logits

tf, v1 = h.tf, h.v1

pytestmark = pytest.mark.xdist_group("shared/attention")  # one worker builds mixed_attention_conversion and attention_adam_conversion


def _checks(manifest: dict, target: str = "keras3") -> list[dict]:
    return manifest["targets"][target]["verification"]["checks"]


@pytest.fixture(scope="module")
def single(attention_adam_conversion) -> dict:
    """tests/seq2seq/test_cli_seq2seq.py's Bahdanau decoder after two Adam steps, converted once for this module and
    tests/seq2seq/test_seq2seq_resume.py with ``--with-optimizer --target keras3 --target onnx``
    (tests/shared_programs.py)."""
    conversion = attention_adam_conversion
    assert conversion["code"] == 0, conversion["report"]
    return conversion


@pytest.fixture(scope="module")
def mixed(mixed_attention_conversion) -> dict:
    """tests/seq2seq/test_mixed_attention_stack.py's program, converted once for both modules with ``--target keras3
    --target onnx`` by the CLI (tests/shared_programs.py)."""
    conversion = mixed_attention_conversion
    assert conversion["code"] == 0, conversion["out"]
    return {"graph": conversion, "out": conversion["conv"], "manifest": conversion["manifest"]}


def _load(path: str):
    import keras

    import migration.targets.keras3_seq2seq  # noqa: F401  (registers rnn_migrate>AttentionDecoderModel, ...)

    return keras.saving.load_model(path, safe_mode=True)


def test_a_seq2seq_only_checkpoint_gets_a_verified_keras3_decoder(single) -> None:
    manifest = single["manifest"]
    assert manifest["verification"]["ok"]
    entry = manifest["targets"]["keras3"]
    assert entry["verification"]["ok"] and entry["not_exported"] == []
    assert entry["blocks"] == [{"name": "decoder", "file": "seq2seq/decoder.keras3.keras", "seq2seq": True}]
    assert manifest["targets"]["onnx"]["verification"]["ok"]  # the ONNX decoder of the same conversion
    assert "seq2seq/decoder.keras3.keras" in target_files(manifest["targets"])
    assert os.path.isfile(os.path.join(single["out"], "seq2seq", "decoder.keras3.keras"))
    checks = _checks(manifest)
    got = {(c["backend"], c["output"], c["reference"]) for c in checks}
    for backend in ("tensorflow", "jax"):
        assert {(backend, "teacher-forced logits", "original-graph"), (backend, "greedy ids (equal)", "keras2"),
                (backend, "beam ids (equal)", "keras2")} <= got
    assert all(c["max_abs_diff"] <= TOLERANCE for c in checks)


def test_the_keras3_decoder_equals_the_user_graph_and_the_keras2_decodes(single) -> None:
    """Independent of convert's check: other inputs, the graph re-imported and restored with Saver; greedy and beam
    (with a length penalty, other start tokens, 12 steps) equal the Keras 2 model's (itself checked against TF1)."""
    import tf_keras

    import modern_rnn.seq2seq.models  # noqa: F401

    model = _load(os.path.join(single["out"], "seq2seq", "decoder.keras3.keras"))
    data = _data(seed=23)
    want = tf1_logits(single["graph"]["prefix"], single["graph"]["logits"], data)
    got = np.asarray(model({"decoder_inputs": data["decoder_ids:0"], "memory": data["memory:0"],
                            "memory_sequence_length": data["memory_length:0"]}))
    np.testing.assert_allclose(got, want, atol=1e-5)
    k2 = tf_keras.models.load_model(os.path.join(single["out"], "seq2seq", "decoder.keras"), safe_mode=True)
    memory, lengths, start = data["memory:0"], data["memory_length:0"], np.array([0, 2, 4], np.int32)
    ids3, len3 = model.greedy(memory, lengths, start, 1, 12)
    ids2, len2 = k2.greedy(memory, lengths, start, 1, 12)
    np.testing.assert_array_equal(ids3, ids2.numpy())
    np.testing.assert_array_equal(len3, len2.numpy())
    beam3, blen3 = model.beam_search(memory, lengths, start, 1, 3, 12, 0.6)
    beam2, blen2 = k2.beam_search(memory, lengths, start, 1, 3, 12, 0.6)
    np.testing.assert_array_equal(beam3, beam2.numpy())
    np.testing.assert_array_equal(blen3, blen2.numpy())


def _tampered(single, tmp_path, how: str) -> str:
    """A copy of the conversion's Keras 3 decoder with one weight changed; returns the copy's directory."""
    model = _load(os.path.join(single["out"], "seq2seq", "decoder.keras3.keras"))
    named = model.named_weights()
    if how == "attention_rows":
        kernel = named["attention_layer/kernel"].numpy()
        named["attention_layer/kernel"].assign(kernel[[1, 0] + list(range(2, kernel.shape[0]))])
    else:  # forget_bias 0.5 read as 1.5: the folded forget-gate bias block shifted by 1
        bias = named["cell/bias"].numpy()
        units = bias.shape[0] // 4
        bias[units:2 * units] += 1.0
        named["cell/bias"].assign(bias)
    out = tmp_path / how
    os.makedirs(out / "seq2seq")
    model.save(str(out / "seq2seq" / "decoder.keras3.keras"))
    return str(out)


def test_tampered_decoders_fail_converts_check_on_both_backends(single, tmp_path) -> None:
    """convert's own check of a seq2seq file (seq2seq_export.check_files: TensorFlow here, JAX in the child) on
    tampered copies, against the original graph's logits (this test's own re-import): every tampered file fails by
    > 1e-3 on both backends; the untampered file passes the same check."""
    data = _data(seed=29)
    want = tf1_logits(single["graph"]["prefix"], single["graph"]["logits"], data)
    case = {"what": "seq2seq decoder", "output": "teacher-forced logits", "reference": "original-graph",
            "inputs": [data["decoder_ids:0"], data["memory:0"], data["memory_length:0"]], "call": None,
            "expected": want}
    rel = os.path.join("seq2seq", "decoder.keras3.keras")
    paths = {how: os.path.join(_tampered(single, tmp_path, how), rel) for how in ("attention_rows", "forget_bias")}
    paths["good"] = os.path.join(single["out"], rel)
    checks, notes = seq2seq_export.check_files(paths, {name: [case] for name in paths})
    assert any("jax" in n for n in notes)
    by_file = {}
    for c in checks:
        by_file.setdefault(c.backend, []).append(c.max_abs_diff)
    for backend in ("tensorflow", "jax"):
        bad_rows, bad_bias, good = by_file[backend]
        assert bad_rows > 1e-3 and bad_bias > 1e-3 and good <= TOLERANCE, (backend, by_file)


def test_mixed_stacks_give_verified_keras3_decoders_and_whole_model(mixed) -> None:
    manifest = mixed["manifest"]
    assert manifest["verification"]["ok"]
    k3 = manifest["targets"]["keras3"]
    names = {"top_decoder", "bottom_decoder", "middle_decoder"}
    assert {b["name"] for b in k3["blocks"] if b.get("seq2seq")} == names and k3["not_exported"] == []
    assert k3["model"]["file"] == "model.keras3.keras"
    checks = _checks(manifest)
    for backend in ("tensorflow", "jax"):
        mine = [c for c in checks if c["backend"] == backend]
        for name in names:
            logits = [c for c in mine if c["what"] == f"seq2seq {name}"]
            assert logits and logits[0]["reference"] == "original-graph"
            assert {c["what"] for c in mine} >= {f"seq2seq {name} greedy", f"seq2seq {name} beam"}
        whole = [c for c in mine if c["what"] == "whole model"]
        assert len(whole) == 3 and all(c["reference"] == "original-graph" for c in whole)
    assert all(c["max_abs_diff"] <= TOLERANCE for c in checks)
    assert manifest["targets"]["onnx"]["verification"]["ok"]  # the ONNX files of the same conversion


def _graph_outputs(graph: dict, feeds: dict) -> list[np.ndarray]:
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(graph["prefix"] + ".meta")
        with v1.Session(config=h.FAST) as sess:
            saver.restore(sess, graph["prefix"])
            return sess.run([graph["logits"][k] for k in ("top", "bottom", "middle")], feeds)


def test_the_keras3_whole_model_equals_the_user_graph_and_catches_swapped_rows(mixed) -> None:
    graph, manifest = mixed["graph"], mixed["manifest"]
    rng = np.random.default_rng(17)
    ph = graph["placeholders"]
    feeds = {ph[k]: v for k, v in mixed_program._feeds(rng, {k: k for k in ph}, lengths=(3, 4, 1)).items()}
    want = _graph_outputs(graph, feeds)
    whole = manifest["targets"]["keras3"]["model"]
    path = os.path.join(mixed["out"], whole["file"])
    model = _load(path)
    by_input = {name: feeds[ph[name]] for name in ph}
    args = [by_input[n] for n in whole["inputs"]]
    labels = [graph["logits"][k] for k in ("top", "bottom", "middle")]
    assert set(labels) == set(whole["outputs"])
    got = dict(zip(whole["outputs"], [np.asarray(o) for o in model(args)]))
    for label, expected in zip(labels, want):
        np.testing.assert_allclose(got[label], expected, atol=1e-5, err_msg=label)
    decoders = [layer for layer in model.layers if type(layer).__name__ == "TeacherForcedDecoder"]
    assert len(decoders) == 3
    core = next(d for d in decoders if "middle" in d.name).core
    kernel = core.wrapper.attention_layer.kernel
    rows = kernel.numpy()
    kernel.assign(rows[[1, 0] + list(range(2, rows.shape[0]))])
    bad = dict(zip(whole["outputs"], [np.asarray(o) for o in model(args)]))
    assert np.abs(bad[graph["logits"]["middle"]] - want[2]).max() > 1e-3


@pytest.fixture(scope="module")
def tf1_step(single) -> dict:
    """One more Adam step of the original graph (its .meta re-imported, its own train op) on one batch."""
    from tests.seq2seq.test_seq2seq_resume import _step_data, tf1_next_step

    data = _step_data()
    loss, after = tf1_next_step(single["graph"], data)
    return {"data": data, "loss": loss, "after": after}


def _keras3_step(single, data: dict, restore: str = "slots") -> tuple[float, dict]:
    import keras

    from migration.checkpoint.optimizer_keras3 import keras3_slots, make_optimizer, restore_slots

    model = _load(os.path.join(single["out"], "seq2seq", "decoder.keras3.keras"))
    opt, info = make_optimizer(single["out"])
    assert info["kind"] == "adam" and info["iterations"] == 2 and type(opt).__module__.startswith("keras.")
    pairs = keras3_slots(single["out"], model)
    assert len(pairs) == len(model.trainable_variables) == len(model.named_weights())
    if restore == "zeroed":
        pairs = [(v, {role: np.zeros_like(a) for role, a in s.items()}) for v, s in pairs]
    restore_slots(opt, pairs, None if restore == "no iterations" else info["iterations"])
    variables = [v for v, _ in pairs]
    with tf.GradientTape() as tape:
        logits = model({"decoder_inputs": data["decoder_ids:0"], "memory": data["memory:0"],
                        "memory_sequence_length": data["memory_length:0"]})
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(data["targets:0"], logits,
                                                                          from_logits=True))
    # the embedding's gradient densified: Keras 3's Adam squares an IndexedSlices gradient slice by slice, so a token
    # repeated in the batch gets sum(g_i^2) where TF1 (which deduplicates first) takes (sum g_i)^2 (measured 3.2e-3)
    grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
    opt.apply_gradients(zip(grads, variables))
    return float(loss), {n: np.asarray(v.numpy()) for n, v in model.named_weights().items()}


def _tf1_in_keras_names(single, arrays: dict) -> dict:
    """TF1 arrays under the Keras twin's weight names (the converter's own layout transform, forget_bias folded)."""
    from migration import seq2seq_converters as s2c
    from migration.checkpoint.seq2seq import block_from_dict

    (entry,) = single["manifest"]["seq2seq"]
    out = s2c.attention_wrapper_to_keras(arrays, block_from_dict(entry["block_shapes"]),
                                         entry["cell_spec"]["forget_bias"])
    kernel, bias = entry["projection"]
    out.update({"embedding": arrays[entry["embedding"]], "output_projection/kernel": arrays[kernel],
                "output_projection/bias": arrays[bias]})
    return out


def test_one_keras3_adam_step_from_converted_slots_equals_one_more_tf1_step(single, tf1_step) -> None:
    loss, weights = _keras3_step(single, tf1_step["data"])
    assert abs(loss - tf1_step["loss"]) <= 1e-5
    want = _tf1_in_keras_names(single, tf1_step["after"])
    before = _tf1_in_keras_names(single, {n: tf.train.load_checkpoint(single["graph"]["prefix"]).get_tensor(n)
                                          for n, _ in tf.train.list_variables(single["graph"]["prefix"])})
    assert set(weights) == set(want)
    for name, value in weights.items():
        np.testing.assert_allclose(value, want[name], atol=1e-5, err_msg=name)
        assert np.abs(want[name] - before[name]).max() > 1e-4, name      # the step really moved every weight


@pytest.mark.parametrize("restore", ["zeroed", "no iterations"])
def test_keras3_step_without_the_converted_state_lands_elsewhere(single, tf1_step, restore: str) -> None:
    _, weights = _keras3_step(single, tf1_step["data"], restore)
    want = _tf1_in_keras_names(single, tf1_step["after"])
    assert max(float(np.abs(weights[n] - want[n]).max()) for n in weights) > 1e-4

