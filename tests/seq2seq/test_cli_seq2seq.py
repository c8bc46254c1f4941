"""seq2seq checkpoints through the product: ``rnn-migrate inspect / convert / verify / export`` (issue 12).

The TF1 side is a real nmt-style training graph on :mod:`legacy_rnn.seq2seq` with placeholders (memory, ragged
``memory_sequence_length``, decoder ids, targets), seeded asymmetric weights with non-zero biases, saved by a real
``tf.compat.v1.train.Saver`` with its ``.meta``. The independent reference of every test is that graph itself,
re-imported with ``import_meta_graph`` and restored with ``Saver`` (not rnn-migrate's sandbox).

Graphs are built in TF 2.x's form (resource variables, ``While`` functions) and, where marked ``form``, also in TF
1.x's own form (:func:`tests.checkpoint.ground_truth_graphs.tf1_graph_form`: reference variables, ``Enter``/``Exit``
frames), as real TF 1.15 nmt-style programs wrote their ``.meta``.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from migration import seq2seq_converters as s2c
from migration.cli import main
from tests.checkpoint.ground_truth_graphs import tf1_graph_form
from tests.seq2seq import harness as h

tf, v1, keras = h.tf, h.v1, h.keras
legacy_s2s = h.legacy_s2s

CONFIGS = {"bahdanau_norm": h.BY_NAME["bahdanau_norm-lstm_fb0.5-layer"], "luong_scale": h.BY_NAME["luong_scale-gru-layer"]}
BATCH, SRC, TGT = 3, 5, 4


def _build(cfg: h.Config, directory: str, adam: bool = False) -> dict:
    """Training graph with placeholders (and an Adam ``minimize`` when ``adam``); seeded weights; Saver checkpoint
    + .meta. Returns tensor names."""
    with tf.Graph().as_default():
        memory = v1.placeholder(tf.float32, [None, None, h.M], "memory")
        lengths = v1.placeholder(tf.int32, [None], "memory_length")
        ids = v1.placeholder(tf.int32, [None, None], "decoder_ids")
        targets = v1.placeholder(tf.int32, [None, None], "targets")
        embedding = v1.get_variable("embedding", [h.V, h.D])
        wrapper = h._legacy_wrapper(cfg, memory, lengths, alignment_history=False)
        batch = tf.shape(ids)[0]
        helper = legacy_s2s.TrainingHelper(tf.nn.embedding_lookup(embedding, ids), tf.fill([batch], tf.shape(ids)[1]))
        decoder = legacy_s2s.BasicDecoder(wrapper, helper, wrapper.zero_state(batch, tf.float32),
                                          output_layer=v1.layers.Dense(h.V, name="output_projection"))
        out, _, _ = legacy_s2s.dynamic_decode(decoder)
        weights = tf.ones_like(targets, tf.float32)
        loss = legacy_s2s.sequence_loss(out.rnn_output, targets, weights)
        train = v1.train.AdamOptimizer(0.01).minimize(loss) if adam else None
        with v1.Session(config=h.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            h._randomize(sess, seed=3)
            if train is not None:  # fresh optimizer state (not the random values), then a few real steps
                sess.run(v1.variables_initializer([v for v in v1.global_variables()
                                                   if "Adam" in v.op.name or "power" in v.op.name]))
                rng = np.random.default_rng(0)
                for _ in range(2):
                    sess.run(train, {memory: rng.uniform(-1, 1, (BATCH, SRC, h.M)), lengths: [SRC, 2, 4],
                                     ids: rng.integers(0, h.V, (BATCH, TGT)),
                                     targets: rng.integers(0, h.V, (BATCH, TGT))})
            prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    return {"prefix": prefix, "logits": out.rnn_output.name, "loss": loss.name,
            "train": train.name if train is not None else None}


def _data(seed: int = 11) -> dict:
    rng = np.random.default_rng(seed)
    return {"memory:0": rng.uniform(-1, 1, (BATCH, SRC, h.M)).astype(np.float32),
            "memory_length:0": np.array([SRC, 2, 4], np.int32),
            "decoder_ids:0": rng.integers(0, h.V, (BATCH, TGT)).astype(np.int32)}


def tf1_logits(prefix: str, logits: str, data: dict) -> np.ndarray:
    """The user's graph, imported from the .meta and restored with Saver: the independent reference."""
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(prefix + ".meta")
        with v1.Session(config=h.FAST) as sess:
            saver.restore(sess, prefix)
            return sess.run(logits, data)


def keras_logits(model, data: dict) -> np.ndarray:
    return model({"decoder_inputs": data["decoder_ids:0"], "memory": data["memory:0"],
                  "memory_sequence_length": data["memory_length:0"]}).numpy()


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def graphs(tmp_path_factory) -> dict:
    return {name: _build(cfg, str(tmp_path_factory.mktemp(name))) for name, cfg in CONFIGS.items()}


@pytest.fixture(scope="module")
def graphs_v1(tmp_path_factory) -> dict:
    """The same training graphs in TF 1.x's own form (RefVariables, Enter/Exit frames)."""
    with tf1_graph_form(True):
        return {name: _build(cfg, str(tmp_path_factory.mktemp(f"{name}_v1"))) for name, cfg in CONFIGS.items()}


def _convert_all(graphs: dict, tmp_path_factory) -> dict:
    """``rnn-migrate convert --json`` of each graph's checkpoint: (exit code, JSON, out_dir)."""
    import contextlib
    import io

    out = {}
    for name, g in graphs.items():
        out_dir = str(tmp_path_factory.mktemp("conv") / name)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main(["convert", g["prefix"], out_dir, "--json", "--quiet"])
        out[name] = (code, json.loads(buf.getvalue().strip().splitlines()[-1]), out_dir)
    return out


@pytest.fixture(scope="module")
def converted(graphs, tmp_path_factory) -> dict:
    return _convert_all(graphs, tmp_path_factory)


@pytest.fixture(scope="module")
def converted_v1(graphs_v1, tmp_path_factory) -> dict:
    return _convert_all(graphs_v1, tmp_path_factory)


def _meta_ops(prefix: str) -> set[str]:
    """The op types of the main graph in ``prefix``'s .meta (to prove which graph form a test really exercised)."""
    from tensorflow.core.protobuf import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    with open(prefix + ".meta", "rb") as f:
        meta.ParseFromString(f.read())
    return {n.op for n in meta.graph_def.node}


def _assert_form(prefix: str, form: str, loops: bool = True) -> None:
    ops = _meta_ops(prefix)
    if form == "v1":
        assert "VariableV2" in ops and "VarHandleOp" not in ops and "While" not in ops
        assert not loops or "Enter" in ops
    else:
        assert "VarHandleOp" in ops and "VariableV2" not in ops and "Enter" not in ops


def _form(request, form: str) -> tuple[dict, dict]:
    """(graphs, converted) of graph form ``form`` ("v2": While functions, "v1": TF 1.x frames)."""
    suffix = "_v1" if form == "v1" else ""
    return request.getfixturevalue("graphs" + suffix), request.getfixturevalue("converted" + suffix)


def test_inspect_reports_the_attention_decoder_as_a_seq2seq_block(graphs, capsys) -> None:
    prefix = graphs["bahdanau_norm"]["prefix"]
    assert main(["inspect", prefix, "--json"]) == 0
    report = _json(capsys)
    assert report["blocks"] == [] and report["unrecognized"] == []       # no wrapped cell mistaken for an RNN block
    (entry,) = report["seq2seq"]
    assert (entry["kind"], entry["mechanism"], entry["normalize"], entry["attention_layer_size"], entry["cell"]) == (
        "contrib.seq2seq.AttentionWrapper", "bahdanau", True, 4, "lstm")
    assert entry["cell_spec"]["forget_bias"] == 0.5 and entry["hyper_sources"]["forget_bias"] == "meta"
    names = dict(tf.train.list_variables(prefix))
    seq2seq_names = set(entry["variables"])
    assert seq2seq_names == {n for n in names if n not in ("embedding", "decoder/output_projection/kernel",
                                                           "decoder/output_projection/bias")}
    assert set(report["consumed"]) == set(names)                           # nothing silently dropped
    assert main(["inspect", graphs["luong_scale"]["prefix"]]) == 0
    text = capsys.readouterr().out
    assert "AttentionWrapper: luong(5, scale=True)" in text and "seq2seq blocks:" in text


@pytest.mark.parametrize("form", ["v2", "v1"])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_convert_verifies_against_the_original_graph(request, name: str, form: str) -> None:
    graphs, converted = _form(request, form)
    _assert_form(graphs[name]["prefix"], form)
    code, result, out_dir = converted[name]
    assert code == 0 and result["ok"] and result["installed"]
    checks = {(c["what"], c["output"]): c for c in result["verification"]["checks"]}
    teacher = checks[("seq2seq decoder", "teacher-forced logits")]
    assert teacher["reference"] == "original-graph" and teacher["max_abs_diff"] <= 1e-5
    assert checks[("seq2seq decoder greedy", "greedy ids (equal)")]["reference"] == "decoder-rebuilt"  # named
    manifest = json.load(open(os.path.join(out_dir, "manifest.json")))
    (entry,) = manifest["seq2seq"]
    assert entry["graph"]["lengths"] == "memory_length" and entry["graph"]["ids"] == "decoder_ids"
    assert set(entry["assumed"]) >= {"cell_input_fn", "probability_fn", "score_mask_value"}
    assert "decode_time_options" in entry["decode"]
    # independent: the Keras file (safe mode) against the user's graph restored with Saver
    import modern_rnn.seq2seq.models  # noqa: F401

    model = keras.models.load_model(os.path.join(out_dir, entry["file"]), safe_mode=True)
    data = _data()
    expected = tf1_logits(graphs[name]["prefix"], graphs[name]["logits"], data)
    np.testing.assert_allclose(keras_logits(model, data), expected, atol=1e-5)
    # the ragged memory matters: the same rows with full lengths give other logits
    full = dict(data, **{"memory_length:0": np.full(BATCH, SRC, np.int32)})
    assert np.abs(keras_logits(model, full)[1:] - expected[1:]).max() > 1e-3


def test_verify_command_reports_original_graph(graphs, converted, capsys) -> None:
    _, _, out_dir = converted["bahdanau_norm"]
    assert main(["verify", graphs["bahdanau_norm"]["prefix"], out_dir, "--json"]) == 0
    report = _json(capsys)
    assert report["references"]["seq2seq decoder"] == "original-graph"


@pytest.mark.parametrize("form", ["v2", "v1"])
def test_wrong_forget_bias_override_fails_and_installs_nothing(request, tmp_path, capsys, form: str) -> None:
    graphs = request.getfixturevalue("graphs_v1" if form == "v1" else "graphs")
    _assert_form(graphs["bahdanau_norm"]["prefix"], form)
    out_dir = tmp_path / "wrong"
    assert main(["convert", graphs["bahdanau_norm"]["prefix"], str(out_dir), "--forget-bias", "0.0", "--json",
                 "--quiet"]) == 1
    result = _json(capsys)
    (teacher,) = [c for c in result["verification"]["checks"] if c["output"] == "teacher-forced logits"]
    assert teacher["reference"] == "original-graph" and teacher["max_abs_diff"] > 1e-3
    assert not out_dir.exists()


def test_mis_converted_weights_fail_verification(graphs, tmp_path, monkeypatch) -> None:
    from migration.checkpoint.convert import convert_checkpoint
    from modern_rnn.seq2seq.models import AttentionDecoderModel

    prefix = graphs["luong_scale"]["prefix"]
    # 1. a wrong cell_input_fn concat order: decoder-input and attention rows of the cell kernel exchanged
    with monkeypatch.context() as m:
        m.setattr(s2c, "attention_wrapper_to_keras", _swap_rows(s2c.attention_wrapper_to_keras))
        result = convert_checkpoint(prefix, tmp_path / "swapped", whole_model=False)
    (teacher,) = [c for c in result.verification["checks"] if c["output"] == "teacher-forced logits"]
    assert not result.ok and teacher["reference"] == "original-graph" and teacher["max_abs_diff"] > 1e-3
    assert not (tmp_path / "swapped").exists()
    # 2. unmasked memory on the Keras side (memory_sequence_length dropped)
    with monkeypatch.context() as m:
        setup = AttentionDecoderModel._setup
        m.setattr(AttentionDecoderModel, "_setup", lambda self, memory, lengths: setup(self, memory, None))
        result = convert_checkpoint(prefix, tmp_path / "unmasked", whole_model=False)
    (teacher,) = [c for c in result.verification["checks"] if c["output"] == "teacher-forced logits"]
    assert not result.ok and teacher["reference"] == "original-graph" and teacher["max_abs_diff"] > 1e-3
    assert not (tmp_path / "unmasked").exists()


def _swap_rows(original):
    """Mis-conversion: the first two input rows of the wrapped cell's kernel exchanged (a wrong concat order)."""
    def wrong(arrays, block, forget_bias=1.0):
        out = original(arrays, block, forget_bias)
        k = out["cell/kernel"].copy()
        d = block.input_depth
        k[[0, d]] = k[[d, 0]]   # decoder input row 0 <-> attention row 0
        out["cell/kernel"] = k
        return out
    return wrong


def _train(model, steps: int = 3) -> None:
    data = _data(seed=5)
    targets = np.random.default_rng(6).integers(0, h.V, (BATCH, TGT))
    optimizer = keras.optimizers.Adam(0.05)
    before = [v.numpy().copy() for v in model.trainable_variables]
    for _ in range(steps):
        with tf.GradientTape() as tape:
            logits = model({"decoder_inputs": data["decoder_ids:0"], "memory": data["memory:0"],
                            "memory_sequence_length": data["memory_length:0"]})
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    assert all(np.abs(b - v.numpy()).max() > 1e-3 for b, v in zip(before, model.trainable_variables))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_keras_trained_model_exports_to_a_checkpoint_the_legacy_graph_restores(graphs, converted, tmp_path,
                                                                                capsys, name: str) -> None:
    import modern_rnn.seq2seq.models  # noqa: F401

    _, _, out_dir = converted[name]
    manifest = json.load(open(os.path.join(out_dir, "manifest.json")))
    model = keras.models.load_model(os.path.join(out_dir, manifest["seq2seq"][0]["file"]), safe_mode=True)
    _train(model)
    trained = tmp_path / "trained.keras"
    model.save(trained)
    prefix = str(tmp_path / "tf1" / "model.ckpt")
    assert main(["export", str(trained), prefix, "--json"]) == 0
    exported = _json(capsys)
    assert set(exported["variables"]) == {n for n, _ in tf.train.list_variables(graphs[name]["prefix"])}
    data = _data(seed=21)
    restored = _restore_in_original(graphs[name], prefix, data)
    np.testing.assert_allclose(restored, keras_logits(model, data), atol=1e-5)
    before = tf1_logits(graphs[name]["prefix"], graphs[name]["logits"], data)
    assert np.abs(restored - before).max() > 1e-3                      # the trained weights, not the original ones


def _restore_in_original(graph: dict, prefix: str, data: dict) -> np.ndarray:
    """The ORIGINAL training graph (its .meta) with ``Saver.restore`` of the exported checkpoint."""
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(graph["prefix"] + ".meta")
        with v1.Session(config=h.FAST) as sess:
            saver.restore(sess, prefix)
            return sess.run(graph["logits"], data)


LEGACY_TE, LEGACY_TD, LEGACY_VIN, LEGACY_VOUT, LEGACY_E, LEGACY_U = 4, 3, 7, 6, 4, 5


@pytest.fixture(scope="module")
def legacy_graph(tmp_path_factory) -> dict:
    return _legacy_build(tmp_path_factory.mktemp("legacy_s2s"), tf1_form=False)


@pytest.fixture(scope="module")
def legacy_graph_v1(tmp_path_factory) -> dict:
    return _legacy_build(tmp_path_factory.mktemp("legacy_s2s_v1"), tf1_form=True)


def _legacy_convert(graph: dict, directory) -> tuple[int, dict, str]:
    """``rnn-migrate convert --json`` of a legacy seq2seq checkpoint, ONCE per module and form: (exit code, the
    JSON line, out_dir). The tests only read what it wrote."""
    import contextlib
    import io

    out_dir = directory / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["convert", graph["prefix"], str(out_dir), "--json", "--quiet"])
    return code, json.loads(buf.getvalue().strip().splitlines()[-1]), str(out_dir)


@pytest.fixture(scope="module")
def legacy_converted(legacy_graph, tmp_path_factory) -> tuple[int, dict, str]:
    return _legacy_convert(legacy_graph, tmp_path_factory.mktemp("legacy_conv"))


@pytest.fixture(scope="module")
def legacy_converted_v1(legacy_graph_v1, tmp_path_factory) -> tuple[int, dict, str]:
    return _legacy_convert(legacy_graph_v1, tmp_path_factory.mktemp("legacy_conv_v1"))


def _legacy_build(directory, tf1_form: bool, adam: bool = False) -> dict:
    """nmt-tutorial style embedding_attention_seq2seq (BasicLSTMCell forget_bias=0.5) with per-step placeholders and
    sequence_loss, seeded weights, Saver checkpoint + .meta; in TF 1.x's graph form (RefVariables) when
    ``tf1_form``; with an Adam ``minimize`` run for 2 real steps when ``adam``."""
    from legacy_rnn.seq2seq import legacy_seq2seq as legacy

    with tf1_graph_form(tf1_form), tf.Graph().as_default():
        enc = [v1.placeholder(tf.int32, [None], f"encoder{t}") for t in range(LEGACY_TE)]
        dec = [v1.placeholder(tf.int32, [None], f"decoder{t}") for t in range(LEGACY_TD)]
        targets = [v1.placeholder(tf.int32, [None], f"target{t}") for t in range(LEGACY_TD)]
        weights = [tf.ones_like(t, tf.float32) for t in targets]
        outputs, _ = legacy.embedding_attention_seq2seq(enc, dec, h.legacy_rnn.basic_lstm_cell(LEGACY_U, 0.5),
                                                        LEGACY_VIN, LEGACY_VOUT, LEGACY_E)
        loss = legacy.sequence_loss(outputs, targets, weights)
        train = v1.train.AdamOptimizer(0.01).minimize(loss) if adam else None
        with v1.Session(config=h.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            h._randomize(sess, seed=8)
            if train is not None:  # fresh optimizer state (not the random values), then two real steps
                sess.run(v1.variables_initializer([v for v in v1.global_variables()
                                                   if "Adam" in v.op.name or "power" in v.op.name]))
                for step in range(2):
                    data = _legacy_data(seed=40 + step)
                    feeds = dict(data["feeds"], **{f"target{t}:0": data["dec"][:, t] for t in range(LEGACY_TD)})
                    sess.run(train, feeds)
            prefix = v1.train.Saver().save(sess, str(directory / "model.ckpt"))
    return {"prefix": prefix, "outputs": [o.name for o in outputs], "loss": loss.name,
            "train": train.name if train is not None else None}


def _legacy_data(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    enc = rng.integers(0, LEGACY_VIN, (BATCH, LEGACY_TE)).astype(np.int32)
    dec = rng.integers(0, LEGACY_VOUT, (BATCH, LEGACY_TD)).astype(np.int32)
    feeds = {f"encoder{t}:0": enc[:, t] for t in range(LEGACY_TE)}
    feeds.update({f"decoder{t}:0": dec[:, t] for t in range(LEGACY_TD)})
    return {"enc": enc, "dec": dec, "feeds": feeds}


def _legacy_tf1(meta_prefix: str, restore: str, outputs: list[str], data: dict) -> np.ndarray:
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(meta_prefix + ".meta")
        with v1.Session(config=h.FAST) as sess:
            saver.restore(sess, restore)
            return np.stack(sess.run(outputs, data["feeds"]), 1)


@pytest.mark.parametrize("form", ["v2", "v1"])
def test_legacy_embedding_attention_seq2seq_converts_against_the_original_graph(request, tmp_path, capsys,
                                                                                form: str) -> None:
    import modern_rnn.seq2seq.models  # noqa: F401

    legacy_graph = request.getfixturevalue("legacy_graph_v1" if form == "v1" else "legacy_graph")
    prefix = legacy_graph["prefix"]
    _assert_form(prefix, form, loops=False)                            # static: no while loop in either form
    assert main(["inspect", prefix, "--json"]) == 0
    report = _json(capsys)
    (entry,) = report["seq2seq"]
    assert report["blocks"] == [] and report["unrecognized"] == [] and report["embeddings"] == []
    assert entry["kind"] == "legacy_seq2seq.embedding_attention_seq2seq" and entry["num_heads"] == 1
    assert entry["legacy"]["spec"]["forget_bias"] == 0.5 and entry["legacy"]["hyper_sources"]["forget_bias"] == "meta"
    assert set(entry["variables"]) == {n for n, _ in tf.train.list_variables(prefix)}
    code, result, out_dir = request.getfixturevalue("legacy_converted_v1" if form == "v1" else "legacy_converted")
    assert code == 0
    (check,) = [c for c in result["verification"]["checks"] if c["what"].startswith("seq2seq")]
    assert check["reference"] == "original-graph" and check["max_abs_diff"] <= 1e-5
    manifest = json.load(open(os.path.join(out_dir, "manifest.json")))
    model = keras.models.load_model(os.path.join(out_dir, manifest["seq2seq"][0]["file"]), safe_mode=True)
    data = _legacy_data(seed=2)
    expected = _legacy_tf1(prefix, prefix, legacy_graph["outputs"], data)
    got = model({"encoder_inputs": data["enc"], "decoder_inputs": data["dec"]}).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # negative control: the forget_bias the graph does not use
    assert main(["convert", prefix, str(tmp_path / "wrong"), "--forget-bias", "1.0", "--quiet"]) == 1
    assert not (tmp_path / "wrong").exists()


def test_legacy_attn_w_transposed_fails_verification(legacy_graph, tmp_path, monkeypatch) -> None:
    """A mis-converted weight: AttnW_0 ([1, 1, A, A] -> [A, A]) transposed is caught by the original-graph check."""
    from migration.checkpoint.convert import convert_checkpoint

    attn_w = s2c._attn_w
    monkeypatch.setattr(s2c, "_attn_w", lambda name, value, to_keras: (
        attn_w(name, value, to_keras).T if to_keras and "AttnW_" in name else attn_w(name, value, to_keras)))
    result = convert_checkpoint(legacy_graph["prefix"], tmp_path / "out", whole_model=False)
    (check,) = [c for c in result.verification["checks"] if c["what"].startswith("seq2seq")]
    assert not result.ok and check["reference"] == "original-graph" and check["max_abs_diff"] > 1e-3
    assert not (tmp_path / "out").exists()


def test_legacy_keras_trained_exports_to_a_checkpoint_the_legacy_graph_restores(legacy_graph, legacy_converted,
                                                                               tmp_path, capsys) -> None:
    import modern_rnn.seq2seq.models  # noqa: F401

    prefix = legacy_graph["prefix"]
    code, _, out_dir = legacy_converted
    assert code == 0
    model = keras.models.load_model(os.path.join(out_dir, "seq2seq", "embedding_attention_seq2seq.keras"),
                                    safe_mode=True)
    data = _legacy_data(seed=3)
    targets = np.random.default_rng(4).integers(0, LEGACY_VOUT, (BATCH, LEGACY_TD))
    optimizer = keras.optimizers.Adam(0.05)
    before = [v.numpy().copy() for v in model.trainable_variables]
    for _ in range(3):
        with tf.GradientTape() as tape:
            logits = model({"encoder_inputs": data["enc"], "decoder_inputs": data["dec"]})
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    assert all(np.abs(b - v.numpy()).max() > 1e-3 for b, v in zip(before, model.trainable_variables))
    model.save(tmp_path / "trained.keras")
    exported = str(tmp_path / "tf1" / "model.ckpt")
    assert main(["export", str(tmp_path / "trained.keras"), exported, "--json"]) == 0
    assert set(_json(capsys)["variables"]) == {n for n, _ in tf.train.list_variables(prefix)}
    restored = _legacy_tf1(prefix, exported, legacy_graph["outputs"], data)
    want = model({"encoder_inputs": data["enc"], "decoder_inputs": data["dec"]}).numpy()
    np.testing.assert_allclose(restored, want, atol=1e-5)
    assert np.abs(restored - _legacy_tf1(prefix, prefix, legacy_graph["outputs"], data)).max() > 1e-3


def test_bare_attention_decoder_is_reported_and_refused_not_half_converted(tmp_path, capsys) -> None:
    """legacy_seq2seq.attention_decoder outside embedding_attention_seq2seq: inspect lists it (exit 1, the reason
    named); convert refuses (exit 2) instead of converting the cell and dropping the attention weights."""
    from legacy_rnn.seq2seq import legacy_seq2seq as legacy

    with tf.Graph().as_default():
        states = v1.placeholder(tf.float32, [None, 3, 4], "states")
        dec = [v1.placeholder(tf.float32, [None, 2], f"dec{t}") for t in range(2)]
        cell = h.legacy_rnn.basic_lstm_cell(4)
        legacy.attention_decoder(dec, cell.zero_state(tf.shape(states)[0], tf.float32), states, cell)
        with v1.Session(config=h.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            prefix = v1.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    assert main(["inspect", prefix, "--json"]) == 1
    report = _json(capsys)
    (entry,) = report["seq2seq"]
    assert entry["kind"] == "legacy_seq2seq.attention_decoder" and not entry["convertible"]
    assert any("AttnW_0" in n for n in entry["variables"])
    assert any("not converted by `convert`" in p for p in report["problems"])
    assert main(["convert", prefix, str(tmp_path / "out")]) == 2
    assert "not converted by `convert`" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_converted_model_runs_teacher_forced_inside_tf_function(converted) -> None:
    """Graph mode: the teacher-forced call traces in ``tf.function`` and equals the eager call (greedy and beam
    search decoding stay eager: their loops stop on Python booleans)."""
    import modern_rnn.seq2seq.models  # noqa: F401

    _, _, out_dir = converted["bahdanau_norm"]
    model = keras.models.load_model(os.path.join(out_dir, "seq2seq", "decoder.keras"), safe_mode=True)
    data = _data(seed=4)
    inputs = {"decoder_inputs": tf.constant(data["decoder_ids:0"]), "memory": tf.constant(data["memory:0"]),
              "memory_sequence_length": tf.constant(data["memory_length:0"])}
    graph = tf.function(lambda x: model(x))
    assert graph.get_concrete_function(inputs).graph.get_operations()          # really traced
    np.testing.assert_allclose(graph(inputs).numpy(), model(inputs).numpy(), atol=1e-6)


@pytest.mark.parametrize("form", ["v2", "v1"])
def test_decoder_started_from_the_encoder_state_verifies_against_the_original_graph(tmp_path, capsys,
                                                                                     form: str) -> None:
    """nmt style: dynamic_rnn encoder (its outputs are the memory, its final state the decoder's initial cell state
    via ``zero_state(...).clone(cell_state=...)``); the batch size comes from ``tf.shape(source)[0]``. In TF 1.x's
    form the initial state is among the frame's Enter inputs, after the TensorArray flows."""
    import modern_rnn.seq2seq.models  # noqa: F401

    legacy_rnn = h.legacy_rnn
    with tf1_graph_form(form == "v1"), tf.Graph().as_default():
        src = v1.placeholder(tf.int32, [None, None], "src")
        src_len = v1.placeholder(tf.int32, [None], "src_len")
        ids = v1.placeholder(tf.int32, [None, None], "dec_ids")
        targets = v1.placeholder(tf.int32, [None, None], "targets")
        enc_emb = v1.get_variable("encoder_embedding", [h.V, h.D])
        memory, enc_state = legacy_rnn.dynamic_rnn(legacy_rnn.basic_lstm_cell(5), tf.nn.embedding_lookup(enc_emb, src),
                                                   sequence_length=src_len, dtype=tf.float32, scope="encoder")
        mech = legacy_s2s.BahdanauAttention(h.N, memory, memory_sequence_length=src_len, normalize=True)
        cell = legacy_s2s.AttentionWrapper(legacy_rnn.basic_lstm_cell(5, forget_bias=0.5), mech, attention_layer_size=4)
        batch = tf.shape(src)[0]
        helper = legacy_s2s.TrainingHelper(tf.nn.embedding_lookup(v1.get_variable("embedding", [h.V, h.D]), ids),
                                           tf.fill([batch], tf.shape(ids)[1]))
        initial = cell.zero_state(batch, tf.float32).clone(cell_state=enc_state)
        out, _, _ = legacy_s2s.dynamic_decode(legacy_s2s.BasicDecoder(
            cell, helper, initial, output_layer=v1.layers.Dense(h.V, name="output_projection")))
        legacy_s2s.sequence_loss(out.rnn_output, targets, tf.ones_like(targets, tf.float32))
        with v1.Session(config=h.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            h._randomize(sess, seed=9)
            prefix = v1.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
        names = [memory.name, enc_state.c.name, enc_state.h.name, out.rnn_output.name]
    _assert_form(prefix, form)
    out_dir = tmp_path / "out"
    assert main(["convert", prefix, str(out_dir), "--json", "--quiet"]) == 0
    refs = _json(capsys)["verification"]["references"]
    assert refs["seq2seq decoder"] == "original-graph" and refs["block encoder"] == "original-graph"
    # independent: the user's graph restored with Saver gives memory, encoder state and logits
    rng = np.random.default_rng(1)
    feeds = {"src:0": rng.integers(0, h.V, (BATCH, SRC)).astype(np.int32), "src_len:0": np.array([SRC, 2, 3], np.int32),
             "dec_ids:0": rng.integers(0, h.V, (BATCH, TGT)).astype(np.int32)}
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(prefix + ".meta")
        with v1.Session(config=h.FAST) as sess:
            saver.restore(sess, prefix)
            mem, c, hh, logits = sess.run(names, feeds)
    model = keras.models.load_model(out_dir / "seq2seq" / "decoder.keras", safe_mode=True)
    inputs = {"decoder_inputs": feeds["dec_ids:0"], "memory": mem, "memory_sequence_length": feeds["src_len:0"]}
    np.testing.assert_allclose(model({**inputs, "initial_cell_state": [hh, c]}).numpy(), logits, atol=1e-5)
    assert np.abs(model(inputs).numpy() - logits).max() > 1e-3       # the encoder state matters


@pytest.fixture(scope="module")
def decoder_in_graph(converted) -> dict:
    """The converted bahdanau decoder (loaded once), its projection bias, and ONE ``tf.function`` of its greedy and
    beam search decodes: each boost below re-runs the same traced graph, which reads the bias variable as it runs."""
    import modern_rnn.seq2seq.models  # noqa: F401

    _, _, out_dir = converted["bahdanau_norm"]
    model = keras.models.load_model(os.path.join(out_dir, "seq2seq", "decoder.keras"), safe_mode=True)
    rng = np.random.default_rng(0)
    memory = rng.uniform(-1, 1, (BATCH, SRC, h.M)).astype(np.float32)
    lengths, start, end, steps = np.array([SRC, 2, 4], np.int32), np.array([0, 2, 4], np.int32), 1, 12
    decode = (lambda: (model.greedy(memory, lengths, start, end, steps),
                       model.beam_search(memory, lengths, start, end, 3, steps, 0.6)))
    return {"model": model, "bias": model.projection.bias.numpy().copy(), "decode": decode,
            "graph": tf.function(decode), "end": end, "steps": steps}


@pytest.mark.parametrize("boost", [1.0, 3.0])
def test_greedy_and_beam_search_run_inside_tf_function(decoder_in_graph, boost: float) -> None:
    """Graph mode (``tf.function``): greedy and beam ids and lengths equal the eager decoders', including a decode
    that stops before ``maximum_iterations`` (the end token's logit raised by ``boost``) and ragged lengths."""
    d = decoder_in_graph
    bias = d["bias"].copy()
    bias[d["end"]] += boost
    d["model"].projection.bias.assign(bias)
    eager, graph = d["decode"](), d["graph"]()
    # the traced graph reads the bias variable when it runs (a bias baked in at the first trace would be stale here)
    assert any(v is d["model"].projection.bias for v in d["graph"].get_concrete_function().variables)
    for (e_ids, e_len), (g_ids, g_len) in zip(eager, graph):
        assert e_ids.shape == g_ids.shape
        np.testing.assert_array_equal(g_ids.numpy(), e_ids.numpy())
        np.testing.assert_array_equal(g_len.numpy(), e_len.numpy())
    greedy_lengths, beam_ids = eager[0][1].numpy(), eager[1][0].numpy()
    assert len(set(greedy_lengths)) > 1 or beam_ids.shape[1] < d["steps"]      # not every row ran to the limit


def test_training_graph_with_adam_verifies_against_the_original_graph(tmp_path, capsys) -> None:
    """A .meta with the optimizer (cond_v2 functions rewritten for gradients: Optional* ops, pure, allowed) and Adam
    slots in the checkpoint: still checked against the original graph; the slots are accounted for, not dropped
    (without --with-optimizer; with it they are converted: tests/seq2seq/test_seq2seq_resume.py)."""
    g = _build(CONFIGS["bahdanau_norm"], str(tmp_path / "adam"), adam=True)
    out_dir = tmp_path / "out"
    assert main(["convert", g["prefix"], str(out_dir), "--json", "--quiet"]) == 0
    assert _json(capsys)["verification"]["references"]["seq2seq decoder"] == "original-graph"
    manifest = json.load(open(out_dir / "manifest.json"))
    slots = {k: v for k, v in manifest["variables"].items() if k.endswith(("/Adam", "/Adam_1"))}
    assert slots and all("not migrated" in v["destination"] for v in slots.values())
    assert any(k.startswith("decoder/attention_wrapper/") for k in slots)
    assert all("pass --with-optimizer" in v["destination"] for k, v in slots.items()
               if k.startswith(("decoder/attention_wrapper/", "memory_layer/")))   # the remedy named


@pytest.mark.parametrize("form", ["v2", "v1"])
def test_graph_with_training_and_greedy_decoders_checks_the_training_one(tmp_path, capsys, form: str) -> None:
    """One .meta holding the training decoder and a greedy inference decoder on the same weights (reuse): the
    training loop (the one whose logits the loss consumes) and its own mechanism are the ones fed and compared; the
    greedy ids are compared with the graph's own greedy loop, in both graph forms."""
    import modern_rnn.seq2seq.models  # noqa: F401

    cfg = CONFIGS["bahdanau_norm"]
    with tf1_graph_form(form == "v1"), tf.Graph().as_default():
        memory = v1.placeholder(tf.float32, [None, None, h.M], "memory")
        lengths = v1.placeholder(tf.int32, [None], "memory_length")
        ids = v1.placeholder(tf.int32, [None, None], "decoder_ids")
        targets = v1.placeholder(tf.int32, [None, None], "targets")
        embedding = v1.get_variable("embedding", [h.V, h.D])
        batch = tf.shape(memory)[0]
        projection = v1.layers.Dense(h.V, name="output_projection")
        wrapper = h._legacy_wrapper(cfg, memory, lengths, alignment_history=False)
        helper = legacy_s2s.TrainingHelper(tf.nn.embedding_lookup(embedding, ids), tf.fill([batch], tf.shape(ids)[1]))
        out, _, _ = legacy_s2s.dynamic_decode(legacy_s2s.BasicDecoder(wrapper, helper, wrapper.zero_state(batch, tf.float32),
                                                                      projection))
        legacy_s2s.sequence_loss(out.rnn_output, targets, tf.ones_like(targets, tf.float32))
        with v1.variable_scope(v1.get_variable_scope(), reuse=True):   # the same cell, re-entered "decoder" scope
            greedy = legacy_s2s.GreedyEmbeddingHelper(embedding, tf.fill([batch], h.START), h.END)
            g_out, _, _ = legacy_s2s.dynamic_decode(legacy_s2s.BasicDecoder(
                wrapper, greedy, wrapper.zero_state(batch, tf.float32), projection), maximum_iterations=5,
                scope="decoder")
        with v1.Session(config=h.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            h._randomize(sess, seed=4)
            prefix = v1.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    names = {n for n, _ in tf.train.list_variables(prefix)}
    assert "memory_layer_1/kernel" not in names                       # really one set of weights
    _assert_form(prefix, form)
    out_dir = tmp_path / "out"
    assert main(["convert", prefix, str(out_dir), "--json", "--quiet"]) == 0
    result = _json(capsys)
    refs = result["verification"]["references"]
    assert refs["seq2seq decoder"] == "original-graph" and refs["seq2seq decoder greedy"] == "original-graph"
    beam = [c for c in result["verification"]["checks"] if c["what"] == "seq2seq decoder beam"]
    assert "seq2seq decoder beam" not in refs and beam[0]["reference"] == "decoder-rebuilt"   # no beam decoder here
    manifest = json.load(open(out_dir / "manifest.json"))
    assert {k: manifest["seq2seq"][0]["graph"]["greedy"][k] for k in ("start", "end", "maximum_iterations")} == {
        "start": h.START, "end": h.END, "maximum_iterations": 5}
    model = keras.models.load_model(out_dir / "seq2seq" / "decoder.keras", safe_mode=True)
    data = _data(seed=8)
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(prefix + ".meta")
        with v1.Session(config=h.FAST) as sess:
            saver.restore(sess, prefix)
            want_logits, want_ids = sess.run([out.rnn_output.name, g_out.sample_id.name], data)
    np.testing.assert_allclose(keras_logits(model, data), want_logits, atol=1e-5)
    ids, _ = model.greedy(data["memory:0"], data["memory_length:0"], np.full(BATCH, h.START), h.END, 5)
    np.testing.assert_array_equal(ids.numpy(), want_ids)              # greedy ids equal the graph's own decoder


def test_malformed_seq2seq_names_get_clear_errors_not_tracebacks(tmp_path, capsys) -> None:
    """seq2seq-looking names with shapes no TF1 program writes: a named error (exit 2) or a refusal with the reason
    (inspect exit 1), never an internal error; a stray 1-D ``AttnW_0`` does not block an ordinary RNN block."""
    from migration.checkpoint.export import write_tf1_checkpoint

    z = lambda *shape: np.zeros(shape, np.float32)  # noqa: E731
    lstm = {"rnn/basic_lstm_cell/kernel": z(6, 8), "rnn/basic_lstm_cell/bias": z(8)}
    cases = {
        "stray": ({"a/AttnW_0": z(3), **lstm}, 0, 0),
        "wrapper_without_memory": ({"d/attention_wrapper/lstm_cell/kernel": z(6, 8),
                                    "d/attention_wrapper/lstm_cell/bias": z(8)}, 2, 2),
        "legacy_missing_bias": ({"x/embedding_attention_seq2seq/embedding_attention_decoder/attention_decoder/AttnW_0":
                                 z(1, 1, 2, 2), "x/embedding_attention_seq2seq/embedding_attention_decoder/"
                                 "attention_decoder/output_projection_wrapper/basic_lstm_cell/kernel": z(3, 8)}, 1, 2),
    }
    for name, (arrays, inspect_code, convert_code) in cases.items():
        prefix = write_tf1_checkpoint(arrays, str(tmp_path / name / "model.ckpt"))
        assert main(["inspect", prefix]) == inspect_code, name
        out_dir = tmp_path / f"{name}_out"
        assert main(["convert", prefix, str(out_dir), "--quiet"]) == convert_code, name
        err = capsys.readouterr().err
        assert "internal error" not in err and "Traceback" not in err, (name, err)
        assert out_dir.exists() == (convert_code == 0), name


@pytest.mark.parametrize("form", ["v2", "v1"])
@pytest.mark.parametrize("output_attention", [True, False])
def test_output_attention_is_read_from_the_graph_when_shapes_cannot_tell(tmp_path, capsys, output_attention: bool,
                                                                          form: str) -> None:
    """nmt's usual set-up: attention_layer_size == cell units, so the projection kernel has the same rows either
    way; ``output_attention`` is read from what the projection's MatMul reads in the decoder loop, not assumed."""
    cfg = h.Config("same_size", "bahdanau", h.CellSpec("lstm", 5, forget_bias=0.5), normalize=True,
                   attention_layer_size=5, output_attention=output_attention)
    with tf1_graph_form(form == "v1"):
        g = _build(cfg, str(tmp_path / "g"))
    _assert_form(g["prefix"], form)
    assert main(["convert", g["prefix"], str(tmp_path / "out"), "--json", "--quiet"]) == 0
    result = _json(capsys)
    assert result["verification"]["references"]["seq2seq decoder"] == "original-graph"
    (entry,) = json.load(open(tmp_path / "out" / "manifest.json"))["seq2seq"]
    assert entry["output_attention"] is output_attention and "output_attention" not in entry["assumed"]
    assert entry["hyper_sources"]["output_attention"].startswith(".meta graph")
