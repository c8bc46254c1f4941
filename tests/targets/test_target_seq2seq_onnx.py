"""Issue 24: ``convert --target onnx`` of the ``tf.contrib.seq2seq`` attention decoders (``seq2seq/<name>.onnx``) and
of a whole model holding their training loops (``model.onnx``), each against the ORIGINAL TF1 graph.

One real TF1 training graph (placeholders memory / memory_length / targets / target_length, Saver + ``.meta``),
built from the decoder builders of ``tests/seq2seq`` (test_mixed_attention_stack's attention-on-one-layer stack,
test_stacked_attention_wrapper's AttentionWrapper(MultiRNNCell)) plus one plain AttentionWrapper(cell):

* ``single``: AttentionWrapper(LSTMCell(5, forget_bias 0.5), BahdanauAttention(normalize), attention_layer_size 4),
  the projection inside BasicDecoder;
* ``stack``: MultiRNNCell([GRUCell(4), AttentionWrapper(GRUCell(4), LuongAttention(4, scale))]) over the encoder's
  outputs, started from the encoder's final states, impute_finished, projection inside;
* ``wrapped``: AttentionWrapper(MultiRNNCell([BasicRNNCell(4), BasicRNNCell(3)]), BahdanauAttention(5) without
  memory_sequence_length), output_attention=False, no attention layer, the projection after dynamic_decode (a
  regression: convert's checks fed such a decoder ragged memory lengths, so the Keras 2 check itself failed, 0.56).

TF 1.x's graph form. Converted ONCE with ``targets=["onnx"]`` (in-process): convert's own checks (every file against
the original graph in the sandbox; the greedy Loop files against the Keras 2 greedy decode) pass; then,
independently, the files rerun on other inputs against the user's graph re-imported with ``import_meta_graph`` +
``Saver.restore`` (the whole model with ragged decoder lengths: impute_finished zeros); the greedy Loop for every end
token against the Keras 2 decode; negative controls (the attention layer's kernel rows swapped, forget_bias left
unfolded, Luong's scale dropped, a score_mask_value of 0 instead of -inf) are caught by
:func:`migration.targets.onnx_seq2seq.verify_decoders` against the same graph (> 1e-3, check not ok).
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from tests.checkpoint.ground_truth_graphs import tf1_graph_form
from tests.seq2seq import harness as h
from tests.seq2seq import test_mixed_attention_stack as mixed
from tests.seq2seq import test_stacked_attention_wrapper as stacked

tf, v1, legacy_s2s = h.tf, h.v1, h.legacy_s2s
rnn = v1.nn.rnn_cell
B, S, T, M, V, E = mixed.B, mixed.S, mixed.T, mixed.M, mixed.V, mixed.E
TOL = 1e-5

pytestmark = pytest.mark.xdist_group("shared/seq2seq_onnx")  # one worker builds seq2seq_onnx_converted


def _single(ph: dict, embedding, batch):
    """AttentionWrapper(LSTMCell) (no MultiRNNCell): teacher forced on the shifted targets."""
    with v1.variable_scope("single"):
        mech = legacy_s2s.BahdanauAttention(4, ph["memory"], memory_sequence_length=ph["memory_length"],
                                            normalize=True)
        cell = legacy_s2s.AttentionWrapper(rnn.LSTMCell(5, forget_bias=0.5), mech, attention_layer_size=4)
        inputs = tf.nn.embedding_lookup(embedding, tf.concat([tf.fill([batch, 1], 1), ph["targets"][:, :-1]], 1))
        decoder = legacy_s2s.BasicDecoder(cell, legacy_s2s.TrainingHelper(inputs, ph["target_length"]),
                                          cell.zero_state(batch, tf.float32), v1.layers.Dense(V, name="projection"))
        logits = legacy_s2s.dynamic_decode(decoder)[0].rnn_output
        mask = tf.sequence_mask(ph["target_length"], tf.shape(ph["targets"])[1], dtype=tf.float32)
        return logits, legacy_s2s.sequence_loss(logits, ph["targets"], mask)


def build(directory: str) -> dict:
    """TF 1.x's graph form (RefVariables, Enter/Exit frames, as TF 1.15 wrote its ``.meta``): the whole-model
    translator reads TF1's decoder loop in that form."""
    with tf1_graph_form(True), tf.Graph().as_default():
        v1.set_random_seed(3)
        ph, embedding, batch = h.decoder_graph_inputs(M, V, E)
        with v1.variable_scope("encoder"):
            enc_out, enc_state = v1.nn.dynamic_rnn(rnn.MultiRNNCell([rnn.GRUCell(4), rnn.GRUCell(4)]), ph["memory"],
                                                   sequence_length=ph["memory_length"], dtype=tf.float32)
        single = _single(ph, embedding, batch)
        with v1.variable_scope("stack"):
            mech = legacy_s2s.LuongAttention(4, enc_out, memory_sequence_length=ph["memory_length"], scale=True)
        stack = mixed._decoder("stack", [rnn.GRUCell(4), rnn.GRUCell(4)], 1, mech, ph, embedding, batch,
                               initial=enc_state, inside=True, impute=True)
        with v1.variable_scope("wrapped"):
            mech = legacy_s2s.BahdanauAttention(5, ph["memory"])  # no memory_sequence_length: every step attended
        wrapped = stacked._decoder("wrapped", [rnn.BasicRNNCell(4), rnn.BasicRNNCell(3)], mech, ph["targets"],
                                   ph["target_length"], embedding, batch, output_attention=False)
        v1.train.AdamOptimizer(0.01).minimize(single[1] + stack[1] + wrapped[1])
        with v1.Session(config=h.FAST) as sess:
            sess.run(v1.global_variables_initializer())
            h._randomize(sess, seed=5)
            sess.run(v1.variables_initializer([v for v in v1.global_variables() if "Adam" in v.op.name
                                               or "power" in v.op.name]))  # the optimizer's own start
            prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    return {"prefix": prefix, "placeholders": {k: p.name for k, p in ph.items()},
            "logits": {"single": single[0].name, "stack": stack[0].name, "wrapped": wrapped[0].name}}


class Session:
    """The user's graph re-imported from the .meta and restored with Saver (not rnn-migrate's sandbox): the
    ``original()`` :func:`verify_decoders` takes."""

    def __init__(self, prefix: str) -> None:
        self.graph = tf.Graph()
        with self.graph.as_default():
            saver = v1.train.import_meta_graph(prefix + ".meta")
            self.sess = v1.Session(graph=self.graph, config=h.FAST)
            saver.restore(self.sess, prefix)

    def run(self, fetches, feeds) -> list:
        fix = (lambda n: n if ":" in n else n + ":0")
        return self.sess.run([fix(f) for f in fetches], {fix(k): v for k, v in feeds.items()})


@pytest.fixture(scope="module")
def converted(seq2seq_onnx_converted) -> dict:
    """:func:`build` converted once per session (tests/targets/conftest.py; test_target_beam_onnx.py shares it)."""
    return seq2seq_onnx_converted


def _entries(converted) -> dict:
    return {e["name"]: e for e in converted["manifest"]["seq2seq"]}


def test_convert_writes_and_checks_every_decoder_and_the_whole_model(converted) -> None:
    result, manifest = converted["result"], converted["manifest"]
    assert result.ok, result.verification
    onnx = manifest["targets"]["onnx"]
    names = sorted(_entries(converted))
    assert names == ["single_decoder", "stack_decoder", "wrapped_decoder"]
    listed = {b["name"]: b["file"] for b in onnx["blocks"] if b.get("seq2seq")}
    assert listed == {**{n: f"seq2seq/{n}.onnx" for n in names}, **{f"{n} {d}": f"seq2seq/{n}.{d}.onnx"
                                                                    for n in names for d in ("greedy", "beam")}}
    assert all(f in manifest["files"] for f in listed.values())     # in the file record (verify, --force see them)
    assert onnx["model"]["file"] == "model.onnx" and "model.onnx" in manifest["files"]
    checks = onnx["verification"]["checks"]
    seq = {c["what"]: c for c in checks if c["what"].startswith("seq2seq")}
    assert sorted(seq) == sorted([f"seq2seq {n}{d}" for n in names for d in ("", " greedy", " beam")])
    assert all(c["reference"] == ("keras2" if c["what"].endswith(("greedy", "beam")) else "original-graph")
               and c["max_abs_diff"] <= TOL for c in checks if c["what"].startswith("seq2seq")), seq
    whole = [c for c in checks if c["what"] == "whole model"]
    assert len(whole) == 3 and all(c["reference"] == "original-graph" and c["max_abs_diff"] <= TOL for c in whole)
    assert onnx["verification"]["ok"] and not any("seq2seq" in n and "not exported" in n
                                                  for n in manifest["targets"].get("notes", []))
    assert not any("seq2seq" in n for n in onnx["not_exported"])  # beam search too: test_target_beam_onnx.py
    assert not {f"seq2seq {n}" for n in names} & set(onnx["not_exported"])  # listed as not exported before


def _feeds(converted, seed: int, lengths=(T, 2, 3)) -> dict:
    rng = np.random.default_rng(seed)
    ph = converted["placeholders"]
    return {ph["memory"]: rng.uniform(-1, 1, (B, S, M)).astype(np.float32),
            ph["memory_length"]: np.array((S, 2, 4), np.int32),
            ph["targets"]: rng.integers(0, V, (B, T)).astype(np.int32),
            ph["target_length"]: np.array(lengths, np.int32)}


def test_files_rerun_against_the_restored_user_graph_on_other_inputs(converted) -> None:
    """Full decoder lengths for the decoder files (the teacher-forced call decodes every step); ragged ones for the
    whole model (``max(lengths)`` steps; the stack decoder's impute_finished zeros past each row's length)."""
    from migration.targets.onnx_export import session

    original, ph, out = converted["original"], converted["placeholders"], converted["out"]
    feeds = _feeds(converted, 31, lengths=(T, T, T))
    ids = np.concatenate([np.ones((B, 1), np.int32), feeds[ph["targets"]][:, :-1]], 1)  # the shifted targets
    for name, logits in converted["logits"].items():
        graph = _entries(converted)[f"{name}_decoder"]["graph"]
        memory, *state = original.run([graph["memory"]] + graph["initial_state"], feeds)  # stack: the encoder's
        full = np.full(B, memory.shape[1], np.int32)  # a mechanism without memory_sequence_length: every step
        run = {"decoder_inputs": ids, "memory": memory,
               "memory_sequence_length": full if name == "wrapped" else feeds[ph["memory_length"]],
               **{f"initial_state_{k}": s for k, s in enumerate(state)}}
        assert len(state) == (2 if name == "stack" else 0)  # the stack decoder starts from the encoder's states
        got = session(os.path.join(out, f"seq2seq/{name}_decoder.onnx")).run(["logits"], run)[0]
        np.testing.assert_allclose(got, original.run([logits], feeds)[0], atol=TOL)
    feeds = _feeds(converted, 32)
    model = converted["manifest"]["targets"]["onnx"]["model"]
    got = session(os.path.join(out, "model.onnx")).run(None, {n: feeds[p if ":" in p else p + ":0"] for n, p in zip(
        model["model_inputs"], model["inputs"])})
    want = original.run(model["outputs"], feeds)
    assert len(got) == len(want) == 3
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=TOL)
    assert np.all(want[1][2, 3:] == 0) and np.abs(want[1][2, :3]).max() > 0.1  # impute_finished really exercised


def test_greedy_loop_equals_the_keras2_greedy_decode_for_several_end_tokens(converted) -> None:
    """The ``.greedy.onnx`` Loop against the Keras 2 model's greedy decode (checked by convert against a rebuilt TF1
    inference graph) on other inputs: four end tokens and random start tokens, so rows stop at different steps and
    the loop stops early or at maximum_iterations."""
    from migration.targets.onnx_greedy import run_greedy
    from migration.targets.onnx_seq2seq import load_decoder

    rng = np.random.default_rng(41)
    memory = rng.uniform(-1, 1, (B, S, M)).astype(np.float32)
    lengths = np.array([S, 3, 1], np.int32)
    seen_lengths = set()
    for name in ("single", "wrapped"):
        entry = _entries(converted)[f"{name}_decoder"]
        lengths = lengths if name == "single" else np.full(B, S, np.int32)
        model = load_decoder(converted["out"], entry)
        path = os.path.join(converted["out"], f"seq2seq/{name}_decoder.greedy.onnx")
        for end in range(0, V, 3):
            start = rng.integers(0, V, B).astype(np.int32)
            ids, out_lengths = (np.asarray(a) for a in model.greedy(memory, lengths, start, end, 7))
            got_ids, got_lengths = run_greedy(path, memory, lengths, start, end, 7)
            assert got_ids.shape == ids.shape and np.array_equal(got_ids, ids), (name, end)
            assert np.array_equal(got_lengths, out_lengths), (name, end)
            seen_lengths.update(int(n) for n in got_lengths)
    assert len(seen_lengths) >= 3 and 7 in seen_lengths     # early ends and the maximum both happened


def _swap_attention_rows(spec):
    kernel = spec.attention.attention_kernel.copy()
    spec.attention.attention_kernel = kernel[[1, 0] + list(range(2, len(kernel)))]
    return spec


def _unfold_forget_bias(spec):
    cell = spec.attention.cells[0]
    bias = cell.bias.copy()
    bias[cell.units:2 * cell.units] -= 0.5  # Keras i, f, c, o: b_f without TF1's forget_bias 0.5
    spec.attention.cells[0] = dataclasses.replace(cell, bias=bias)
    return spec


def _drop_scale(spec):
    spec.attention.g = None
    return spec


def _zero_score_mask(spec):
    spec.attention.score_mask_value = 0.0  # TF1's -inf replaced: padded memory steps get weight
    return spec


@pytest.mark.parametrize("name, change", [("single", _swap_attention_rows), ("single", _unfold_forget_bias),
                                          ("stack", _drop_scale), ("single", _zero_score_mask)])
def test_negative_controls_fail_the_check_against_the_original_graph(converted, tmp_path, name, change) -> None:
    import shutil

    from migration.targets import onnx_seq2seq
    from migration.targets.verify_targets import summary

    entry = _entries(converted)[f"{name}_decoder"]
    os.makedirs(tmp_path / "seq2seq")
    shutil.copy(os.path.join(converted["out"], entry["file"]), tmp_path / entry["file"])
    notes: list[str] = []
    files = onnx_seq2seq.write_decoders(str(tmp_path), [entry], notes, spec_of=lambda m: change(
        onnx_seq2seq.decoder_spec(m.wrapper, m.projection)))
    assert files == {entry["name"]: entry["file"].replace(".keras", ".onnx"),
                     entry["name"] + " greedy": entry["file"].replace(".keras", ".greedy.onnx"),
                     entry["name"] + " beam": entry["file"].replace(".keras", ".beam.onnx")} and not notes
    checks, _ = onnx_seq2seq.verify_decoders([entry], files, str(tmp_path), lambda: converted["original"])
    (check,) = [c for c in checks if c.output == "logits"]
    assert check.reference == "original-graph" and check.max_abs_diff > 1e-3, check
    assert not summary(checks, [])["onnx"]["ok"]
    # the same check passes on the file convert wrote (the control is the change, not the check)
    good, _ = onnx_seq2seq.verify_decoders([entry], {entry["name"]: files[entry["name"]]}, converted["out"],
                                           lambda: converted["original"])
    assert good[0].max_abs_diff <= TOL


def test_a_checkpoint_of_only_attention_decoders_is_refused_only_for_the_targets_without_them() -> None:
    """Up front (no conversion): a checkpoint whose RNNs are all tf.contrib.seq2seq decoders passes ``--target onnx``;
    a target without a decoder exporter is still refused naming itself alone; a legacy_seq2seq model or a decoder the
    Keras 2 conversion does not convert (``convertible`` False / a ``problem``) gives ONNX nothing to export."""
    from types import SimpleNamespace

    from migration.targets.export import SEQ2SEQ_EXPORTERS, refuse_up_front
    from migration.targets.weights import TargetRefused

    decoder = SimpleNamespace(name="decoder", kind="contrib.seq2seq.AttentionWrapper", problem="", legacy=None)
    refuse_up_front(["onnx"], [], [], [decoder])
    for target in [t for t in ("keras3",) if t not in SEQ2SEQ_EXPORTERS]:
        with pytest.raises(TargetRefused) as refused:
            refuse_up_front([target, "onnx"], [], [], [decoder])
        assert str(refused.value).startswith(f"--target {target}: the checkpoint's RNNs are all in seq2seq models")
    legacy = SimpleNamespace(name="embedding_attention_seq2seq", kind="legacy_seq2seq.embedding_attention_seq2seq",
                             problem="", legacy={"kind": "basic_lstm"}, convertible=False)
    broken = SimpleNamespace(**{**vars(decoder), "problem": "misshapen"})
    for infos in ([legacy], [broken]):
        with pytest.raises(TargetRefused, match="--target onnx: the checkpoint's RNNs are all in seq2seq models"):
            refuse_up_front(["onnx"], [], [], infos)
