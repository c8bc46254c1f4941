"""``rnn-migrate convert`` on OutputProjectionWrapper / InputProjectionWrapper / EmbeddingWrapper programs, with
their ``.meta``, verified against the ORIGINAL graph through the CLI.

The wrappers apply their weights inside every step of the loop, so each block is checked between the wrappers'
own arithmetic (the checkpoint's projection / embedding weights) against the loop's real inputs (raw inputs, ids)
and outputs (projected), and the whole model translates each such loop as the wrappers' Dense / Embedding layers
around the block; the test's independent reference is the original program run by ``import_meta_graph`` +
``Saver.restore``, with the CONVERTED dense/embedding files applied around the converted block. A wrapper nesting the
check does not handle (an embedding then an input projection in one cell) falls back to the rebuilt check and says
so; a wrong ``--forget-bias`` fails against the original graph. Built in TF 1.x graph form (RefVariables,
``Enter``/``Exit`` frames), as TF 1.15 programs wrote their ``.meta``, and in TF 2.x's (``While`` functions).
"""
from __future__ import annotations

import contextlib
import io
import json
import os

import numpy as np
import pytest

import legacy_rnn
from conftest import randomize, run_cli
from families_graph import run_original_program, run_original_program_on
from ground_truth_graphs import tf1_graph_form
from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST

B, T, D, V = 4, 6, 3, 7
LENGTHS = np.array([6, 1, 4, 3], np.int32)
CHECKED = {"a_output_projection_wrapper", "b_input_projection_wrapper", "c_embedding_wrapper"}


@pytest.fixture(scope="module", params=["tf1_form", "tf2_form"])
def wrapped(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("wrappers_" + request.param)
    with tf1_graph_form(request.param == "tf1_form"), legacy_rnn.new_graph(9) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        ids = v1.placeholder(tf.float32, [None, T, 1], name="ids")  # float ids, as the contrib docs fed them
        run = lambda cell, inp, scope: legacy_rnn.dynamic_rnn(  # noqa: E731
            cell, inp, sequence_length=lengths, scope=scope, dtype=tf.float32)[0]
        outs = {"a": run(legacy_rnn.output_projection_wrapper(legacy_rnn.basic_lstm_cell(4, forget_bias=0.5), 2),
                         x, "a"),
                "b": run(legacy_rnn.input_projection_wrapper(legacy_rnn.gru_cell(4), 5), x, "b"),
                "c": run(legacy_rnn.embedding_wrapper(legacy_rnn.gru_cell(4), V, 3), ids, "c"),
                "d": run(legacy_rnn.embedding_wrapper(legacy_rnn.input_projection_wrapper(legacy_rnn.gru_cell(3), 2),
                                                      V, 4), ids, "d")}
        # the head reads a, b and c (d, whose nesting the check does not handle, stays off the whole model's path)
        logits = v1.layers.dense(tf.concat([outs[k][:, -1] for k in "abc"], -1), 3, name="head")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        v1.losses.sparse_softmax_cross_entropy(labels, logits)
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, 9)
            os.makedirs(root / "ckpt")
            prefix = v1.train.Saver().save(sess, str(root / "ckpt" / "model.ckpt"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # what the user reads on the terminal
        code = run_cli("convert", prefix, root / "out")
    names = {"logits": logits.name, "printed": printed.getvalue(), **{k: v.name for k, v in outs.items()}}
    return prefix, str(root / "out"), code, names


def _manifest(out: str) -> dict:
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


def test_wrapped_blocks_verified_against_the_original_graph(wrapped):
    _, out, code, _ = wrapped
    assert code == 0
    m = _manifest(out)
    v = m["verification"]
    assert v["ok"]
    refs = v["references"]
    assert {b: refs[f"block {b}"] for b in CHECKED} == {b: "original-graph" for b in CHECKED}
    assert refs["whole model"] == "original-graph" and m["model"]["file"] == "model.keras"
    checks = {(c["what"][6:], c["output"]): c for c in v["checks"] if c["what"].startswith("block ")}
    assert all(c["max_abs_diff"] <= 1e-5 for c in checks.values())
    assert checks[("a_output_projection_wrapper", "outputs")]["shape"] == [B, T, 2]  # projected inside every step
    assert checks[("a_output_projection_wrapper", "state/c")]["shape"] == [B, 4]  # the state is the cell's
    cells = {c["path"]: c for b in m["blocks"] for c in b["cells"]}
    lstm = cells["a/output_projection_wrapper/basic_lstm_cell"]
    assert lstm["spec"]["forget_bias"] == 0.5 and lstm["hyper_sources"]["forget_bias"] == "meta"


def test_unhandled_nesting_says_rebuilt_weaker(wrapped):
    """EmbeddingWrapper(InputProjectionWrapper(cell)): two pre-processings; the weaker check is said plainly."""
    _, out, _, _ = wrapped
    v = _manifest(out)["verification"]
    (block,) = [r for r in v["references"] if r.startswith("block d_")]
    assert v["references"][block] == "rebuilt" and v["reference"] == "rebuilt"
    (note,) = [n for n in v["notes"] if n.startswith(block[6:] + ":") or n.startswith(block + ":")]
    assert "a cell wrapper's weights applied inside every step" in note
    assert "rebuilt" in note and "(weaker" in note
    printed = wrapped[3]["printed"]  # the terminal says it plainly, not only the manifest
    assert f"rebuilt from our reading of the checkpoint (weaker: a misread hyper-parameter would pass) for {block}" \
        in printed
    assert f"note: {note}" in printed


def test_converted_wrapper_weights_reproduce_the_original_program(wrapped):
    """Independent of the verifier: the converted block between the CONVERTED wrapper files equals the program."""
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    prefix, out, _, names = wrapped
    m = _manifest(out)
    files = {d["name"]: (np.load(os.path.join(out, d["kernel_file"])), np.load(os.path.join(out, d["bias_file"])))
             for d in m["dense"]}
    tables = {e["name"]: np.load(os.path.join(out, e["file"])) for e in m["embeddings"]}
    assert tables and all(e["row_order"] == "as saved" for e in m["embeddings"])  # the .meta says: not partitioned
    blocks = {b["name"]: keras.models.load_model(os.path.join(out, b["file"]), compile=False, safe_mode=True)
              for b in m["blocks"]}
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (B, T, D)).astype(np.float32)
    ids = rng.integers(0, V, (B, T))
    expected = dict(zip("abc", run_original_program(prefix, [names[k] for k in "abc"],
                                                    {"x": x, "ids": ids[..., None].astype(np.float32),
                                                     "lengths": LENGTHS})))
    mask = (np.arange(T)[None, :] < LENGTHS[:, None])[..., None]
    kernel, bias = files["a/output_projection_wrapper"]
    a = np.asarray(blocks["a_output_projection_wrapper"]([x, LENGTHS])[0])
    np.testing.assert_allclose(np.where(mask, a @ kernel + bias, 0.0), expected["a"], atol=1e-5)
    kernel, bias = files["b/input_projection_wrapper"]
    b = np.asarray(blocks["b_input_projection_wrapper"]([x @ kernel + bias, LENGTHS])[0])
    np.testing.assert_allclose(b, expected["b"], atol=1e-5)
    c = np.asarray(blocks["c_embedding_wrapper"]([tables["c/embedding_wrapper/embedding"][ids], LENGTHS])[0])
    np.testing.assert_allclose(c, expected["c"], atol=1e-5)


def test_wrong_forget_bias_fails_against_the_original_graph(wrapped, tmp_path, capsys):
    prefix, _, _, _ = wrapped
    capsys.readouterr()
    assert run_cli("convert", prefix, tmp_path / "wrong", "--forget-bias", "1.0", "--no-model", "--json") == 1
    assert not os.path.exists(tmp_path / "wrong")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    failed = {c["what"]: c["reference"] for c in result["verification"]["checks"] if c["max_abs_diff"] > 1e-5}
    assert failed == {"block a_output_projection_wrapper": "original-graph"}


def test_whole_model_applies_the_wrappers_inside_every_step(wrapped):
    """model.keras (the wrappers' Dense/Embedding layers around each block) equals the original program."""
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    prefix, out, _, names = wrapped
    m = _manifest(out)["model"]
    assert m["outputs"] == [names["logits"]] and sorted(m["inputs"]) == ["ids", "lengths", "x"]
    model = keras.models.load_model(os.path.join(out, m["file"]), compile=False, safe_mode=True)
    rng = np.random.default_rng(5)
    feed_sets = [{"x": rng.normal(0, 1, (B, T, D)).astype(np.float32), "lengths": lengths,
                  "ids": rng.integers(0, V, (B, T, 1)).astype(np.float32)}
                 for lengths in (np.full(B, T, np.int32), LENGTHS)]
    for feeds, (expected,) in zip(feed_sets, run_original_program_on(prefix, m["outputs"], feed_sets)):
        got = np.asarray(model([feeds[k] for k in m["inputs"]], training=False))
        assert np.abs(expected).max() > 0.1  # a real signal reaches the logits
        np.testing.assert_allclose(got, expected, atol=1e-5)
