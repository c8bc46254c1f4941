"""``MultiRNNCell([cell, ..., AttentionWrapper(cell), ..., cell])``: attention on ONE layer of a decoder stack (issue 21,
cause 6; GNMT-style and many NMT programs put it on the top layer) converts as ONE block. One TF 1.x-form training
graph (RefVariables, Enter/Exit frames, as TF 1.15 wrote its ``.meta``) with three such decoders, a Saver checkpoint
with its ``.meta``, ONE default ``convert`` (verify included), then independent comparisons with the original graph
re-imported here (``import_meta_graph`` + ``Saver.restore``).

The family (written after how public TF1 programs spell it: ``cells[-1] = AttentionWrapper(cells[-1], ...,
name="attention")`` with the encoder's final states as the initial state, the top layer's through
``zero_state(...).clone(cell_state=...)``):

* ``top``: ``[LSTMCell(5), AttentionWrapper(LSTMCell(4), BahdanauAttention(normalize), attention_layer_size=4,
  alignment_history, name="attention")]``, the encoder's final state fed, the projection inside ``BasicDecoder``;
  attention and cell have the same width, so ``output_attention`` is read from the graph;
* ``bottom``: ``[AttentionWrapper(BasicLSTMCell(5), LuongAttention(5, scale), output_attention=False),
  BasicLSTMCell(4)]`` (``forget_bias=0.5``) without ``attention_layer_size`` (the attention is the 6-wide context),
  the encoder's final state fed too, the projection applied after ``dynamic_decode``, ``impute_finished``;
* ``middle``: 4 ``GRUCell`` layers with ``AttentionWrapper(..., BahdanauAttention, attention_layer_size=3)`` as
  layer 1 (``output_attention`` read from layer 2's kernel rows).

Negative controls: two same-shaped layers in the wrong order, the attention layer's cell swapped with a plain layer's,
``output_attention`` flipped (the attention_layer_size reading), and a verify of a tampered file (exit 1); shapes that
do not chain and GNMT's ``GNMTAttentionMultiCell`` are refused naming why.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from migration.cli import main
from tests.checkpoint.ground_truth_graphs import tf1_graph_form
from tests.seq2seq import harness as h

tf, v1, legacy_s2s = h.tf, h.v1, h.legacy_s2s
rnn = v1.nn.rnn_cell
B, S, T, M, V, E = 3, 5, 4, 6, 11, 3

pytestmark = pytest.mark.xdist_group("shared/attention")  # one worker builds mixed_attention_conversion (with test_keras3_seq2seq)


def _decoder(scope: str, layers, k: int, mechanism, ph: dict, embedding, batch, initial=None, **options):
    """One teacher-forced decoder: ``layers[k]`` wrapped with ``mechanism``; returns (logits, loss)."""
    inside, impute = options.pop("inside", False), options.pop("impute", False)
    targets, target_length = ph["targets"], ph["target_length"]
    with v1.variable_scope(scope):
        layers = list(layers)
        layers[k] = legacy_s2s.AttentionWrapper(layers[k], mechanism, **options)
        cell = rnn.MultiRNNCell(layers)
        inputs = tf.nn.embedding_lookup(embedding, tf.concat([tf.fill([batch, 1], 1), targets[:, :-1]], 1))
        state = cell.zero_state(batch, tf.float32)
        if initial is not None:  # the encoder's final states; the attention layer's through clone(cell_state=...)
            state = tuple(z.clone(cell_state=e) if j == k else e for j, (z, e) in enumerate(zip(state, initial)))
        dense = v1.layers.Dense(V, name="output_projection")
        decoder = legacy_s2s.BasicDecoder(cell, legacy_s2s.TrainingHelper(inputs, target_length), state,
                                          dense if inside else None)
        out = legacy_s2s.dynamic_decode(decoder, impute_finished=impute)[0]
        logits = out.rnn_output if inside else dense(out.rnn_output)
        mask = tf.sequence_mask(target_length, tf.shape(targets)[1], dtype=tf.float32)
        return logits, legacy_s2s.sequence_loss(logits, targets, mask)


def _feeds(rng, ph: dict, lengths=(T, 2, 3)) -> dict:
    return {ph["memory"]: rng.uniform(-1, 1, (B, S, M)).astype(np.float32),
            ph["memory_length"]: np.array((S, 3, 1), np.int32),
            ph["targets"]: rng.integers(2, V, (B, T)).astype(np.int32),
            ph["target_length"]: np.array(lengths, np.int32)}


def _build(directory: str) -> dict:
    rng = np.random.default_rng(6)
    with tf1_graph_form(True), tf.Graph().as_default():
        ph, embedding, batch = h.decoder_graph_inputs(M, V, E)
        memory, lengths = ph["memory"], ph["memory_length"]
        with v1.variable_scope("encoder"):
            enc_out, enc_state = v1.nn.dynamic_rnn(rnn.MultiRNNCell([rnn.LSTMCell(5), rnn.LSTMCell(4)]), memory,
                                                   sequence_length=lengths, dtype=tf.float32)
        with v1.variable_scope("top"):
            mech = legacy_s2s.BahdanauAttention(6, enc_out, memory_sequence_length=lengths, normalize=True)
        top = _decoder("top", [rnn.LSTMCell(5), rnn.LSTMCell(4)], 1, mech, ph, embedding, batch, initial=enc_state,
                       attention_layer_size=4, alignment_history=True, name="attention", inside=True)
        with v1.variable_scope("bottom"):
            mech = legacy_s2s.LuongAttention(5, memory, memory_sequence_length=lengths, scale=True)
        bottom = _decoder("bottom", [rnn.BasicLSTMCell(u, forget_bias=0.5) for u in (5, 4)], 0, mech, ph, embedding,
                          batch, initial=enc_state, output_attention=False, impute=True)
        with v1.variable_scope("middle"):
            mech = legacy_s2s.BahdanauAttention(5, memory, memory_sequence_length=lengths)
        middle = _decoder("middle", [rnn.GRUCell(u) for u in (4, 4, 4, 5)], 1, mech, ph, embedding, batch,
                          attention_layer_size=3)
        train = v1.train.AdamOptimizer(0.01).minimize(top[1] + bottom[1] + middle[1])
        with v1.Session(config=h.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            h._randomize(sess, seed=6)
            sess.run(v1.variables_initializer([v for v in v1.global_variables() if "Adam" in v.op.name
                                               or "power" in v.op.name]))
            sess.run(train, _feeds(rng, ph))
            prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    return {"prefix": prefix, "logits": {"top": top[0].name, "bottom": bottom[0].name, "middle": middle[0].name},
            "placeholders": {k: p.name for k, p in ph.items()}}


def _cli(*argv: str) -> tuple[int, str]:
    from contextlib import redirect_stdout
    from io import StringIO

    buffer = StringIO()
    with redirect_stdout(buffer):
        code = main(list(argv))
    return code, buffer.getvalue()


@pytest.fixture(scope="module")
def mixed(mixed_attention_conversion) -> dict:
    """The program converted once for this module and tests/targets/test_keras3_seq2seq.py (tests/shared_programs.py:
    the CLI's default convert plus ``--target keras3 --target onnx``; the Keras 2 files are the same)."""
    return mixed_attention_conversion


def _original(graph: dict, feeds: dict, exported: str = "", names=()) -> list[dict]:
    """The original graph's logits (its .meta) with its own checkpoint restored, then (``exported``) with the
    ``names`` restored from another checkpoint."""
    out = []
    with tf.Graph().as_default():
        saver = v1.train.import_meta_graph(graph["prefix"] + ".meta")
        by_name = {v.op.name: v for v in v1.global_variables()}
        with v1.Session(config=h.FAST) as sess:
            for prefix in [graph["prefix"]] + ([exported] if exported else []):
                if prefix == exported:
                    sess.run(v1.global_variables_initializer())     # nothing left from the first restore
                    saver = v1.train.Saver(var_list={n: by_name[n] for n in names})
                saver.restore(sess, prefix)
                out.append(dict(zip(graph["logits"], sess.run(list(graph["logits"].values()), feeds))))
    return out


def test_each_mixed_stack_is_one_block_verified_against_the_original_graph(mixed) -> None:
    assert mixed["code"] == 0, mixed["out"]
    manifest = mixed["manifest"]
    entries = {e["name"]: e for e in manifest["seq2seq"]}
    assert sorted(entries) == ["bottom_decoder", "middle_decoder", "top_decoder"]
    assert manifest["blocks"] == [b for b in manifest["blocks"] if b["scope"].startswith("encoder")]  # no stray layer
    top, bottom, middle = entries["top_decoder"], entries["bottom_decoder"], entries["middle_decoder"]
    assert top["stack"] == {"scope": "top/decoder/multi_rnn_cell/", "attention_layer": 1, "units": [5, 4]}
    assert bottom["stack"] == {"scope": "bottom/decoder/multi_rnn_cell/", "attention_layer": 0, "units": [5, 4]}
    assert middle["stack"] == {"scope": "middle/decoder/multi_rnn_cell/", "attention_layer": 1,
                               "units": [4, 4, 4, 5]}
    assert top["scope"] == "top/decoder/multi_rnn_cell/cell_1/attention/"          # the wrapper's own name
    assert (top["mechanism"], top["normalize"], bottom["mechanism"], bottom["scale"]) == \
        ("bahdanau", True, "luong", True)
    assert (top["attention_layer_size"], bottom["attention_layer_size"], middle["attention_layer_size"]) == (4, None, 3)
    assert (top["output_attention"], bottom["output_attention"], middle["output_attention"]) == (True, False, True)
    assert top["hyper_sources"]["output_attention"].startswith(".meta graph")
    assert "cell_1/" in bottom["hyper_sources"]["output_attention"]      # the layer above the wrapper tells
    assert bottom["cell_spec"]["forget_bias"] == 0.5 and bottom["cell"] == "basic_lstm" and middle["cell"] == "gru"
    assert top["decoder_input_depth"] == bottom["decoder_input_depth"] == middle["decoder_input_depth"] == E
    # (c, h) x 2 layers, layer by layer: the wrapper's attention/alignments floats in between are not state
    assert len(top["graph"]["initial_state"]) == len(bottom["graph"]["initial_state"]) == 4
    assert middle["graph"]["initial_state"] == []
    for entry in entries.values():      # every layer's variables are in the block
        layers = len(entry["stack"]["units"])
        assert {f"cell_{j}/" for j in range(layers)} == {v.split("multi_rnn_cell/")[1].split("/")[0] + "/"
                                                        for v in entry["variables"] if "multi_rnn_cell/" in v}
    verification = manifest["verification"]
    for name in entries:
        (check,) = [c for c in verification["checks"] if c["what"] == f"seq2seq {name}"]
        assert check["reference"] == "original-graph" and check["max_abs_diff"] < 1e-5
    assert verification["reference"] == "original-graph" and verification["ok"]
    assert "verified against the original graph" in mixed["out"]


def test_inspect_shows_one_decoder_block_per_stack(mixed) -> None:
    code, out = _cli("inspect", mixed["prefix"])
    assert code == 0
    rnn_section = out.split("RNN blocks:")[1].split("seq2seq blocks:")[0]
    assert "decoder/multi_rnn_cell" not in rnn_section and "encoder/rnn/multi_rnn_cell" in rnn_section  # encoder only
    seq2seq = out.split("seq2seq blocks:")[1].split("embeddings:")[0]
    assert seq2seq.count("AttentionWrapper:") == 3
    assert "one layer of MultiRNNCell middle/decoder/multi_rnn_cell/ (layers [4, 4, 4, 5], attention on cell_1)" \
        in seq2seq
    assert "unrecognized (0)" in out


def test_the_default_whole_model_equals_the_original_graph(mixed) -> None:
    from modern_rnn import keras
    import modern_rnn.seq2seq.models  # noqa: F401

    entry = mixed["manifest"]["model"]
    assert entry, mixed["manifest"]["notes"]
    assert set(entry["inputs"]) == {"memory", "memory_length", "targets", "target_length"}
    model = keras.models.load_model(os.path.join(mixed["conv"], "model.keras"), compile=False, safe_mode=True)
    rng = np.random.default_rng(7)
    feeds = _feeds(rng, mixed["placeholders"], lengths=(2, T, 3))
    (want,) = _original(mixed, feeds)
    got = dict(zip(entry["outputs"], [g.numpy() for g in model([feeds[n + ":0"] for n in entry["inputs"]])]))
    for name, tensor in mixed["logits"].items():
        assert got[tensor].shape == want[name].shape == (B, T, V)
        np.testing.assert_allclose(got[tensor], want[name], atol=1e-5, err_msg=name)
        assert np.abs(want[name]).max() > 0.1
    # impute_finished (bottom): zero rnn_output past row 0's length, so the projection after the loop gives its bias
    # at both steps; top (impute_finished=False) computes them
    assert np.all(want["bottom"][0, 2] == want["bottom"][0, 3]) and np.abs(want["top"][0, 2] - want["top"][0, 3]).max() > 1e-3

    stack = {name: model.get_layer(f"decoder_{name}_decoder").wrapper for name in ("top", "middle")}

    def differs(name: str, swap=(), flip: bool = False) -> float:
        """Exchange the variables of each pair in ``swap`` (or flip the wrapper's ``output_attention``), compare
        decoder ``name`` with the original graph, undo."""
        def exchange():
            for a, b in swap:
                va, vb = a.numpy(), b.numpy()
                a.assign(vb)
                b.assign(va)
            if flip:
                stack[name].wrapper.output_attention = not stack[name].wrapper.output_attention
        exchange()
        try:
            out = dict(zip(entry["outputs"], [g.numpy() for g in model([feeds[n + ":0"] for n in entry["inputs"]])]))
            return float(np.abs(out[mixed["logits"][name]] - want[name]).max())
        finally:
            exchange()

    # negative controls on the middle stack (plain layers 0, 2, 3; the wrapper's GRUCell(4) is layer 1):
    # (1) the attention layer's cell and plain layer 0 exchange their recurrent weights (both [4, 12]);
    # (2) layers 0 and 2 in the wrong order (both read 3 features: the embedding / the 3-wide attention);
    # (3) the top stack's wrapper gives its cell output instead of its attention layer's (both 4 wide)
    plain, attention_cell = stack["middle"].cells, stack["middle"].wrapper.cell
    assert differs("middle", [(attention_cell.recurrent_kernel, plain[0].recurrent_kernel)]) > 1e-3
    assert differs("middle", [(plain[0].kernel, plain[1].kernel), (plain[0].recurrent_kernel, plain[1].recurrent_kernel),
                              (plain[0].bias, plain[1].bias)]) > 1e-3
    assert differs("top", flip=True) > 1e-3
    assert differs("middle") < 1e-5 and differs("top") < 1e-5          # undone


def test_export_writes_the_names_the_original_graph_restores(mixed, tmp_path) -> None:
    """``export model.keras``: every weight of the graph (the three stacks, embedding, projections, encoder) under its
    own checkpoint key, equal to the checkpoint's array; ``Saver`` restores them into the original .meta graph."""
    code, out = _cli("export", os.path.join(mixed["conv"], "model.keras"), str(tmp_path / "tf1" / "model.ckpt"),
                     "--json")
    assert code == 0, out
    exported = json.loads(out)
    assert "original graph's names" in exported["names"]
    original = tf.train.load_checkpoint(mixed["prefix"])
    wanted = sorted(n for n, _ in tf.train.list_variables(mixed["prefix"]) if "Adam" not in n and "power" not in n)
    assert sorted(exported["variables"]) == wanted
    saved = tf.train.load_checkpoint(exported["prefix"])
    for key in wanted:        # a layer exported under another layer's key would differ here
        np.testing.assert_allclose(saved.get_tensor(key), original.get_tensor(key), atol=1e-6, err_msg=key)
    feeds = _feeds(np.random.default_rng(9), mixed["placeholders"])
    want, got = _original(mixed, feeds, exported["prefix"], wanted)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], atol=1e-5, err_msg=name)


def test_verify_fails_on_a_stack_with_its_layers_in_the_wrong_order(mixed, tmp_path) -> None:
    """The checker ``verify`` runs for a seq2seq entry, on a copy of the converted file with layers 0 and 2 of the
    middle stack exchanged: the teacher-forced logits differ from the original graph's (the honest file passed the
    same check in ``convert``: the first test)."""
    import shutil

    import modern_rnn.seq2seq.models  # noqa: F401
    from migration.checkpoint.reader import CheckpointReader
    from migration.checkpoint.seq2seq import verify_entry
    from migration.graph.reference import OriginalGraph
    from modern_rnn import keras

    entry = {e["name"]: e for e in mixed["manifest"]["seq2seq"]}["middle_decoder"]
    os.makedirs(tmp_path / "seq2seq")
    shutil.copy(os.path.join(mixed["conv"], entry["file"]), tmp_path / entry["file"])
    original = OriginalGraph(mixed["prefix"] + ".meta", CheckpointReader(mixed["prefix"]))
    (good,) = [c for c in mixed["manifest"]["verification"]["checks"] if c["what"] == "seq2seq middle_decoder"]
    model = keras.models.load_model(str(tmp_path / entry["file"]), compile=False, safe_mode=True)
    low, high = model.wrapper.cells[0], model.wrapper.cells[1]
    for a, b in zip(low.weights, high.weights):
        va, vb = a.numpy(), b.numpy()
        a.assign(vb)
        b.assign(va)
    model.save(str(tmp_path / entry["file"]))
    bad = _logits_check(verify_entry(entry, str(tmp_path), mixed["prefix"], original)[0])
    assert good["reference"] == bad.reference == "original-graph"
    assert good["max_abs_diff"] < 1e-5 < 1e-3 < bad.max_abs_diff


def _logits_check(checks: list):
    (check,) = [c for c in checks if c.output == "teacher-forced logits"]
    return check


def _names(k: int, layers, wrapper="attention_wrapper", attention=(4, 5), gnmt: bool = False) -> dict:
    """Checkpoint shapes of a 2+-layer LSTM stack with a Bahdanau(5) wrapper on layer ``k`` (``layers``: each
    layer's (input depth, units); ``attention``: the attention_layer kernel's shape); GNMT's scope names."""
    stack = "d/decoder/multi_rnn_cell/"
    out = {"d/memory_layer/kernel": (6, 5)}
    for j, (depth, units) in enumerate(layers):
        scope = (f"{stack}cell_0_attention/{wrapper}/" if gnmt else f"{stack}cell_{j}/{wrapper}/") if j == k \
            else f"{stack}cell_{j}/"
        out[scope + "lstm_cell/kernel"], out[scope + "lstm_cell/bias"] = (depth + units, 4 * units), (4 * units,)
        if j == k:
            out.update({scope + "bahdanau_attention/attention_v": (5,), scope + "attention_layer/kernel": attention,
                        scope + "bahdanau_attention/query_layer/kernel": (units, 5)})
    return out


def test_recognition_refuses_what_it_cannot_read_and_names_why() -> None:
    """Shape-level: a stack whose layers do not chain (the layer above the wrapper reads neither its attention nor its
    cell output: a misread attention_layer_size would be caught here), a second kind of cell, and GNMT's
    GNMTAttentionMultiCell; the good stack is read as one block with the decoder's input depth."""
    from migration import seq2seq_converters as s2c
    from migration.core.errors import MigrationError

    (block,) = s2c.recognize_seq2seq(_names(0, [(3 + 6, 4), (6, 5)], attention=(4 + 6, 6)))   # A = 6 != units 4
    assert (block.input_depth, block.stack_units, block.stack_inputs, block.stack_output_attention) == \
        (3, (4, 5), (9, 6), True)
    (block,) = s2c.recognize_seq2seq(_names(0, [(3 + 6, 4), (4, 5)], attention=(4 + 6, 6)))
    assert block.stack_output_attention is False and block.output_units == 5
    with pytest.raises(MigrationError, match=r"cell_1/lstm_cell/kernel reads 7-wide inputs.*outputs \[4, 6\]"):
        s2c.recognize_seq2seq(_names(0, [(3 + 6, 4), (7, 5)], attention=(4 + 6, 6)))
    with pytest.raises(MigrationError, match=r"cell_1/attention_wrapper/lstm_cell/kernel reads 5-wide .*outputs \[4\]"):
        s2c.recognize_seq2seq(_names(1, [(3, 4), (5 + 6, 5)], attention=(5 + 6, 6)))   # wrapper reads 5, not 4
    gru = {k.replace("cell_0/lstm_cell", "cell_0/gru_cell"): v for k, v in _names(1, [(3, 4), (4 + 6, 4)],
                                                                                  attention=(4 + 6, 6)).items()}
    with pytest.raises(MigrationError, match=r"cell_0/: expected \['lstm_cell'\], found \['gru_cell'\]"):
        s2c.recognize_seq2seq(gru)
    with pytest.raises(MigrationError, match="GNMTAttentionMultiCell"):
        s2c.recognize_seq2seq(_names(0, [(3 + 6, 4), (4 + 6, 5)], wrapper="attention", attention=(4 + 6, 6),
                                     gnmt=True))


def test_convert_refuses_gnmt_attention_multi_cell_naming_it(tmp_path, capsys) -> None:
    """A checkpoint holding GNMT's GNMTAttentionMultiCell names (Saver, real files): exit 2, the structure named,
    nothing written."""
    names = _names(0, [(3 + 6, 4), (4 + 6, 5)], wrapper="attention", attention=(4 + 6, 6), gnmt=True)
    with tf.Graph().as_default():
        rng = np.random.default_rng(10)
        for name, shape in names.items():
            v1.get_variable(name, initializer=rng.uniform(-1, 1, shape).astype(np.float32))
        with v1.Session(config=h.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            prefix = v1.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    assert main(["convert", prefix, str(tmp_path / "conv"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "GNMTAttentionMultiCell" in err and "cell_0_attention" in err and "Traceback" not in err
    assert not (tmp_path / "conv").exists()
