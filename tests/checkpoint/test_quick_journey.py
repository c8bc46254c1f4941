"""The quick subset (``python -m pytest -m quick``, about a minute on 2 cores): every command once, in-process, on
small real inputs, each result checked against ground truth (not "it ran").

A real TF1 checkpoint (seed 004: embedding + BasicLSTMCell in DropoutWrapper + dense head + Adam, written by
``tf.compat.v1.train.Saver`` with its ``.meta``) goes through inspect, convert, verify and export; a TF1 file
through scan and upgrade; a GloVe text file through glove import/info; the echo example and a tiny demo train for a
few steps; doctor checks the installation. The full suite repeats all of this with negative controls and every
layout; this subset is for checking an install or a change in a minute."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from migration.cli import main

pytestmark = [pytest.mark.quick, pytest.mark.xdist_group("quick")]


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_inspect_finds_the_lstm_block_the_embedding_and_the_adam_slots(ckpts, capsys) -> None:
    assert main(["inspect", ckpts["seed004"], "--json"]) == 0
    report = _json(capsys)
    text = json.dumps(report)
    assert "basic_lstm" in text and "embedding" in text and "Adam" in text


def test_convert_then_verify_against_the_original_graph(ckpts, converted, capsys) -> None:
    code, out = converted("seed004")
    assert code == 0 and (Path(out) / "manifest.json").is_file() and (Path(out) / "model.keras").is_file()
    assert main(["verify", ckpts["seed004"], out, "--json"]) == 0
    report = _json(capsys)
    assert report["ok"] is True and 0 <= report["max_abs_diff"] <= 1e-5
    assert report["reference"] == "original-graph"


def test_export_writes_the_checkpoint_values_back(ckpts, converted, tmp_path, capsys) -> None:
    import tensorflow as tf

    _, out = converted("seed004")
    prefix = tmp_path / "tf1" / "model.ckpt"
    assert main(["export", str(Path(out) / "blocks" / "rnn.keras"), str(prefix), "--scope", "rnn",
                 "--forget-bias", "1.0"]) == 0
    original, exported = tf.train.load_checkpoint(ckpts["seed004"]), tf.train.load_checkpoint(str(prefix))
    for name in ("rnn/basic_lstm_cell/kernel", "rnn/basic_lstm_cell/bias"):
        np.testing.assert_allclose(exported.get_tensor(name), original.get_tensor(name), atol=1e-6)


PROGRAM = """import tensorflow as tf
x = tf.placeholder(tf.float32, [None, 5, 3])
cell = tf.nn.rnn_cell.BasicLSTMCell(4)
outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
"""


def test_scan_reports_and_upgrade_rewrites_a_tf1_file(tmp_path, capsys) -> None:
    src = tmp_path / "prog.py"
    src.write_text(PROGRAM)
    assert main(["scan", str(src), "--json"]) == 1  # findings: the code needs work
    symbols = {f["symbol"] for f in _json(capsys)["findings"]}
    assert {"tf.placeholder", "tf.nn.dynamic_rnn"} <= symbols
    dst = tmp_path / "prog_v2.py"
    assert main(["upgrade", str(src), "--to", "compat", "--out", str(dst)]) in (0, 1)
    text = dst.read_text()
    compile(text, str(dst), "exec")
    assert "tf.compat.v1.placeholder" in text and "TF_USE_LEGACY_KERAS" in text
    assert src.read_text() == PROGRAM  # the source is never touched


def test_glove_import_round_trips_the_vectors(tmp_path, capsys) -> None:
    from migration.glove import load_glove_cache

    rng = np.random.default_rng(0)
    words, vectors = ["the", ",", "movie", "ça", "x-y"], rng.normal(0, 1, (5, 4)).astype(np.float32)
    text = tmp_path / "glove.txt"
    text.write_text("".join(w + " " + " ".join(f"{v:.6f}" for v in row) + "\n" for w, row in zip(words, vectors)),
                    encoding="utf-8")
    assert main(["glove", "import", str(text), "--out", str(tmp_path / "cache"), "--quiet"]) == 0
    cache = load_glove_cache(str(tmp_path / "cache"))
    assert list(cache.words) == words
    np.testing.assert_allclose(np.asarray(cache.vectors), vectors, atol=1e-6)
    capsys.readouterr()
    assert main(["glove", "info", str(tmp_path / "cache"), "--json"]) == 0
    assert "5" in json.dumps(_json(capsys))


def test_example_echo_trains_legacy_and_keras_alike(capsys) -> None:
    assert main(["example", "echo", "--impl", "dynamic", "--compare", "--size", "6000", "--json", "--quiet"]) == 0
    runs = _json(capsys)["runs"]
    legacy, modern = runs["dynamic"], runs["keras"]
    assert legacy["steps"] == modern["steps"] == 6
    for key in ("first_step_loss", "final_loss"):  # the same weights, the same batches: the same losses
        assert abs(legacy[key] - modern[key]) < 1e-4, (key, legacy[key], modern[key])
    assert legacy["final_loss"] != legacy["first_step_loss"]  # it trained


def test_tiny_demo_converts_verifies_and_resumes(tmp_path, capsys) -> None:
    assert main(["demo", "--steps", "4", "--keras-steps", "2", "--quiet", "--json", "--workdir",
                 str(tmp_path / "demo")]) == 0
    report = _json(capsys)
    assert report["ok"] is True and report["conversion"]["verified"] is True
    assert report["conversion"]["max_abs_diff"] < 1e-5 and report["keras_continued"]["start_step"] == 4


def test_doctor_reports_a_working_installation(capsys) -> None:
    assert main(["doctor", "--json"]) == 0
    report = _json(capsys)
    assert report["ok"] is True and report["checks"]["tf.compat.v1.nn.rnn_cell"] == "ok"
