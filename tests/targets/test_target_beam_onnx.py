"""Issue 24: beam search of the ``tf.contrib.seq2seq`` attention decoders as ONNX (``seq2seq/<name>.beam.onnx``:
:mod:`migration.targets.onnx_beam`, a decoding ``Loop`` with ``TopK`` over beam x vocabulary and a ``gather_tree``
``Loop``).

The TF1 program of test_target_seq2seq_onnx.py (three decoders: an LSTM under Bahdanau(normalize) attention, a GRU
stack under Luong(scale) attention started from the encoder's states, two simple RNNs under Bahdanau without memory
lengths and output_attention=False), converted once per session (tests/targets/conftest.py). Its training ``.meta``
holds no beam decoder: the reference is the Keras 2 model's ``beam_search``, which convert itself checks against a TF1
``BeamSearchDecoder`` rebuilt from legacy_rnn.seq2seq (TF 1.15's code) on the same weights (start 0, end 1, width 3,
6 steps: the ``decoder-rebuilt`` check asserted below), and which the ONNX file must equal exactly (ids and lengths)
for other end tokens, start tokens, beam widths, length penalties and iteration limits; and, for the ``single``
decoder, TF1's own ``BeamSearchDecoder`` built over the user's variables and restored from the user's checkpoint with
Saver (ids and lengths equal, length penalties fed at run time). Negative controls: the file
run with a wrong ``length_penalty_weight``, and a file built without the parent gather of the states, give other ids
and convert's check (:func:`migration.targets.onnx_seq2seq.verify_decoders`) fails on the latter.
"""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from tests.targets.test_target_seq2seq_onnx import B, S, M, V

NAMES = ("single", "stack", "wrapped")

pytestmark = pytest.mark.xdist_group("shared/seq2seq_onnx")  # one worker builds seq2seq_onnx_converted


@pytest.fixture(scope="module")
def converted(seq2seq_onnx_converted) -> dict:
    return seq2seq_onnx_converted


def _entry(converted, name: str) -> dict:
    return next(e for e in converted["manifest"]["seq2seq"] if e["name"] == f"{name}_decoder")


def test_convert_writes_and_checks_a_beam_file_per_decoder(converted) -> None:
    import onnx

    result, manifest = converted["result"], converted["manifest"]
    assert result.ok, result.verification
    onnx_entry = manifest["targets"]["onnx"]
    listed = {b["name"]: b["file"] for b in onnx_entry["blocks"] if b.get("seq2seq")}
    for name in NAMES:
        rel = f"seq2seq/{name}_decoder.beam.onnx"
        assert listed[f"{name}_decoder beam"] == rel and rel in manifest["files"]
        proto = onnx.load(os.path.join(converted["out"], rel))
        assert [o.version for o in proto.opset_import] == [17]
        ops = {n.op_type for n in proto.graph.node}
        body_ops = {n.op_type for n in proto.graph.node if n.op_type == "Loop" for a in n.attribute
                    for n in a.g.node}
        assert ops >= {"Loop", "CumSum", "Transpose"} and body_ops >= {"TopK", "LogSoftmax", "GatherElements", "Pow"}
    checks = {c["what"]: c for c in onnx_entry["verification"]["checks"] if c["what"].endswith(" beam")}
    assert len([c for c in onnx_entry["verification"]["checks"] if c["what"].endswith(" beam")]) == 2 * len(NAMES)
    assert sorted(checks) == [f"seq2seq {n}_decoder beam" for n in NAMES]
    assert all(c["reference"] == "keras2" and c["max_abs_diff"] == 0 for c in onnx_entry["verification"]["checks"]
               if c["what"].endswith(" beam")), checks
    assert not any("seq2seq" in n for n in onnx_entry["not_exported"])
    # the reference itself: convert's Keras 2 check of the same beam search against TF1's rebuilt BeamSearchDecoder
    keras2 = [c for c in manifest["verification"]["checks"] if str(c.get("what", "")).endswith(" beam")]
    assert sorted(c["what"] for c in keras2) == [f"seq2seq {n}_decoder beam" for n in NAMES]
    assert all(c["reference"] in ("decoder-rebuilt", "rebuilt") and c["max_abs_diff"] == 0 for c in keras2), keras2


CASES = [  # end token, beam width, length_penalty_weight, maximum_iterations (4, 6 / 2 / 5: tokens the decoders emit)
    (4, 3, 0.0, 6), (6, 3, 0.8, 7), (4, 4, 1.5, 8), (5, 2, 0.0, 7), (2, 3, 0.6, 7), (V - 1, 1, 0.0, 5)]


def test_beam_loop_equals_the_keras2_beam_search(converted) -> None:
    """Every decoder, six decode-time settings, random start tokens, ragged memory lengths: ids and lengths equal;
    every decoder has beams ending early and at the limit, and the length penalty changes some ids (exercised)."""
    from migration.targets.onnx_beam import run_beam
    from migration.targets.onnx_seq2seq import load_decoder

    rng = np.random.default_rng(7)
    seen, penalised = {}, 0
    for name in NAMES:
        model = load_decoder(converted["out"], _entry(converted, name))
        path = os.path.join(converted["out"], f"seq2seq/{name}_decoder.beam.onnx")
        depth = M if name != "stack" else 4  # the stack attends over the encoder's GRU(4) outputs
        memory = rng.uniform(-1, 1, (B, S, depth)).astype(np.float32)
        lengths = np.full(B, S, np.int32) if name == "wrapped" else np.array([S, 3, 2], np.int32)
        zeros = [np.zeros((B, 4), np.float32)] * (2 if name == "stack" else 0)  # Keras 2: the zero state
        for end, width, penalty, steps in CASES:
            start = rng.integers(0, V, B).astype(np.int32)
            ids, out_lengths = (np.asarray(a) for a in model.beam_search(memory, lengths, start, end, width, steps,
                                                                         length_penalty_weight=penalty))
            got_ids, got_lengths = run_beam(path, memory, lengths, start, end, width, steps, penalty, zeros)
            assert got_ids.shape == ids.shape and np.array_equal(got_ids, ids), (name, end, width, penalty)
            assert got_lengths.dtype == out_lengths.dtype and np.array_equal(got_lengths, out_lengths), (name, end)
            seen.setdefault(name, set()).update(int(n) < steps for n in got_lengths.ravel())
            if penalty:  # the negative control: the same file run without the penalty
                plain = run_beam(path, memory, lengths, start, end, width, steps, 0.0, zeros)[0]
                penalised += plain.shape != ids.shape or not np.array_equal(plain, ids)
    assert all(early == {True, False} for early in seen.values()), seen  # early ends and the limit in every decoder
    assert penalised >= 1, "a wrong length_penalty_weight never changed the ids: the penalty is not exercised"


def test_a_file_without_the_parent_gather_fails_the_check(converted, tmp_path) -> None:
    """Negative control: a beam file whose beams keep their own states and histories (no parent gather) gives other
    ids, and :func:`verify_decoders` (what convert runs) says so; the file convert wrote passes the same check."""
    from migration.targets import onnx_beam, onnx_seq2seq
    from migration.targets.verify_targets import summary

    entry = _entry(converted, "single")
    model = onnx_seq2seq.load_decoder(converted["out"], entry)
    spec = onnx_seq2seq.decoder_spec(model.wrapper, model.projection)
    os.makedirs(tmp_path / "seq2seq")
    teacher, beam = (entry["file"].replace(".keras", suffix) for suffix in (onnx_seq2seq.SUFFIX, onnx_beam.SUFFIX))
    for rel in (entry["file"], teacher):
        shutil.copy(os.path.join(converted["out"], rel), tmp_path / rel)
    proto = onnx_beam.build_beam_file(model.embedding.get_weights()[0], spec, 0, "wrong", gather_parents=False)
    with open(tmp_path / beam, "wb") as f:
        f.write(proto.SerializeToString())
    files = {entry["name"]: teacher, entry["name"] + onnx_seq2seq.BEAM: beam}
    for where, wrong in ((str(tmp_path), True), (converted["out"], False)):  # the control is the file, not the check
        checks, notes = onnx_seq2seq.verify_decoders([entry], files, where, lambda: converted["original"])
        beams = [c for c in checks if c.what.endswith(" beam")]
        assert [c.output for c in beams] == ["predicted_ids", "lengths"] and all(c.reference == "keras2" for c in beams)
        assert any("Keras 2 model's beam search" in n for n in notes)
        if wrong:
            assert beams[0].max_abs_diff > 0 and not summary(checks, [])["onnx"]["ok"], beams
        else:
            assert all(c.max_abs_diff == 0 for c in beams) and summary(checks, [])["onnx"]["ok"], beams


def _tf1_beam_search(prefix: str, width: int):
    """TF1's ``BeamSearchDecoder`` (legacy_rnn.seq2seq, the module the user's program is built with) over the
    ``single`` decoder's variables under the user's own names, restored from the user's checkpoint with Saver: a
    function ``(memory, lengths, start, end, penalty, steps) -> (predicted_ids [B, T, W], lengths [B, W])``."""
    from tests.targets.test_target_seq2seq_onnx import E, h, legacy_s2s, rnn, tf, v1

    graph = tf.Graph()
    with graph.as_default():
        ph = {"memory": v1.placeholder(tf.float32, [B, S, M]), "lengths": v1.placeholder(tf.int32, [B]),
              "start": v1.placeholder(tf.int32, [B]), "end": v1.placeholder(tf.int32, []),
              "penalty": v1.placeholder(tf.float32, []), "steps": v1.placeholder(tf.int32, [])}
        embedding = v1.get_variable("embedding", [V, E])
        with v1.variable_scope("single"):
            mech = legacy_s2s.BahdanauAttention(4, legacy_s2s.tile_batch(ph["memory"], width), normalize=True,
                                                memory_sequence_length=legacy_s2s.tile_batch(ph["lengths"], width))
            cell = legacy_s2s.AttentionWrapper(rnn.LSTMCell(5, forget_bias=0.5), mech, attention_layer_size=4)
            decoder = legacy_s2s.BeamSearchDecoder(cell, embedding, ph["start"], ph["end"],
                                                   cell.zero_state(B * width, tf.float32), width,
                                                   output_layer=v1.layers.Dense(V, name="projection"),
                                                   length_penalty_weight=ph["penalty"])
            out, state, _ = legacy_s2s.dynamic_decode(decoder, maximum_iterations=ph["steps"])
        sess = v1.Session(graph=graph, config=h.FAST)
        v1.train.Saver().restore(sess, prefix)  # every variable of this graph, by the user's names

    def run(memory, lengths, start, end, penalty, steps):
        feeds = {ph["memory"]: memory, ph["lengths"]: lengths, ph["start"]: start, ph["end"]: end,
                 ph["penalty"]: penalty, ph["steps"]: steps}
        return sess.run([out.predicted_ids, state.lengths], feeds)  # batch major (output_time_major False)

    return run, sess


def test_beam_loop_equals_tf1_beam_search_decoder_on_the_users_checkpoint(converted) -> None:
    """A stronger reference than the Keras 2 model: TF1's own BeamSearchDecoder built over the user's ``single``
    variables and restored from the user's checkpoint (the training ``.meta`` holds no beam decoder): ids and lengths
    equal for four settings, the length penalty among them."""
    from migration.targets.onnx_beam import run_beam

    width = 3
    run, sess = _tf1_beam_search(converted["prefix"], width)
    path = os.path.join(converted["out"], "seq2seq/single_decoder.beam.onnx")
    rng = np.random.default_rng(11)
    early = set()
    try:
        for end, penalty, steps in [(4, 0.0, 6), (6, 0.8, 7), (4, 1.5, 8), (1, 0.0, 5)]:
            memory = rng.uniform(-1, 1, (B, S, M)).astype(np.float32)
            lengths, start = np.array([S, 3, 2], np.int32), rng.integers(0, V, B).astype(np.int32)
            ids, out_lengths = run(memory, lengths, start, end, penalty, steps)
            got_ids, got_lengths = run_beam(path, memory, lengths, start, end, width, steps, penalty)
            assert got_ids.shape == ids.shape and np.array_equal(got_ids, ids), (end, penalty, ids, got_ids)
            assert np.array_equal(got_lengths, out_lengths), (end, penalty)
            early.update(int(n) < steps for n in got_lengths.ravel())
    finally:
        sess.close()
    assert early == {True, False}


def test_not_exported_names_only_decoders_without_beam_file() -> None:
    """The manifest's ``not_exported``: nothing for a decoder with its greedy and beam files; a decoder without
    embedding (teacher-forced file only) is named with the reason."""
    from migration.targets.onnx_seq2seq import not_exported

    with_beam = {"a": "seq2seq/a.onnx", "a greedy": "seq2seq/a.greedy.onnx", "a beam": "seq2seq/a.beam.onnx"}
    assert not_exported(with_beam) == []
    (line,) = not_exported({**with_beam, "b": "seq2seq/b.onnx"})
    assert line.startswith("seq2seq b: greedy and beam-search decoding") and "no embedding" in line
