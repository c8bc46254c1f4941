"""migration.examples.sentiment (seed 004): real TF1 checkpoints, resume, the Keras twin from the same weights, the CLI."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from migration.examples import sentiment, sentiment_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_glove(tmp_path_factory) -> Path:
    """A small GloVe text file (real format) with the 300 most frequent snippet words and random 8-d vectors."""
    from migration import datasets

    data = datasets.load_rotten_tomatoes()
    counts = Counter(w for t in data.texts for w in datasets.clean_sentence(t).split())
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("glove") / "glove.tiny.8d.txt"
    lines = [w + " " + " ".join(f"{v:.5f}" for v in rng.normal(0, 0.5, 8)) for w, _ in counts.most_common(300)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _config(tmp_path: Path, glove: Path, **kw) -> sentiment.SentimentConfig:
    base = dict(steps=4, save_every=2, max_len=8, units=8, ckpt_dir=str(tmp_path / "ckpt"), glove=str(glove), seed=3)
    base.update(kw)
    return sentiment.SentimentConfig(**base)


def test_legacy_writes_a_real_checkpoint_and_resume_continues(tmp_path, tiny_glove):
    import tensorflow as tf

    config = _config(tmp_path, tiny_glove)
    prepared = sentiment.prepare(config)
    first = sentiment.train_legacy(config, prepared)
    ckpt = tmp_path / "ckpt"
    assert first.start_step == 0 and first.global_step == 4 and len(first.losses) == 4
    assert first.checkpoint == str(ckpt / "model.ckpt-4")
    assert (ckpt / "checkpoint").is_file()
    for step in (2, 4):
        assert (ckpt / f"model.ckpt-{step}.index").is_file()
        assert list(ckpt.glob(f"model.ckpt-{step}.data-*-of-*"))
    assert tf.train.latest_checkpoint(str(ckpt)) == first.checkpoint
    keys = dict(tf.train.list_variables(first.checkpoint))
    assert keys["Variable"] == [8, 2] and keys["Variable_1"] == [2]  # the seed's unnamed weight and bias
    assert keys["rnn/basic_lstm_cell/kernel"] == [8 + 8, 32] and keys["global_step"] == []
    assert "rnn/basic_lstm_cell/kernel/Adam" in keys and not any("embedding" in k for k in keys)  # GloVe is a constant
    assert 0.0 <= first.held_out_accuracy <= 1.0

    resumed = sentiment.train_legacy(_config(tmp_path, tiny_glove, steps=3, resume=True), prepared)
    assert resumed.start_step == 4 and resumed.global_step == 7
    assert resumed.checkpoint == str(ckpt / "model.ckpt-7")
    saved = sentiment.read_checkpoint_weights(first.checkpoint)
    for name, value in resumed.initial_weights.items():  # the restore really loaded the step-4 values
        np.testing.assert_array_equal(value, saved[name])
    # resuming evaluates the restored model: the same held-out figures as the end of the first run
    assert resumed.initial_eval["accuracy"] == pytest.approx(first.held_out_accuracy, abs=1e-6)


@pytest.mark.parametrize("use_length", [False, True])
def test_keras_twin_starts_where_the_tf1_graph_starts(tmp_path, tiny_glove, use_length):
    config = _config(tmp_path, tiny_glove, steps=2, save_every=100, use_length=use_length)
    prepared = sentiment.prepare(config)
    legacy = sentiment.train_legacy(config, prepared)
    modern = sentiment.train_modern(config, legacy.initial_weights, prepared)
    assert modern.initial_eval["loss"] == pytest.approx(legacy.initial_eval["loss"], abs=1e-5)
    assert modern.initial_eval["accuracy"] == pytest.approx(legacy.initial_eval["accuracy"], abs=1e-9)
    assert len(modern.losses) == 2 and 0.0 <= modern.held_out_accuracy <= 1.0


def test_restricted_glove_rows_are_the_full_matrix_rows():
    """The graph constant holds only the rows the data uses; every lookup is the full GloVe row of the word."""
    from migration import datasets, glove

    config = sentiment.SentimentConfig(max_len=12)
    prepared = sentiment.prepare(config)
    full = glove.load_default_glove()
    assert prepared.glove_rows == 400_000 and prepared.matrix.shape[0] < 40_000
    _, test = datasets.train_test_split(datasets.load_rotten_tomatoes(), 0.2, seed=0)
    full_ids, _ = datasets.encode(test.texts[:200], full.index, 12, unknown_id=399_999)
    np.testing.assert_array_equal(prepared.matrix[prepared.test_ids[:200]], full.vectors[full_ids])


def test_cli_json_plot_logdir(tmp_path, tiny_glove, capsys):
    """The example's command line in this process (a fresh one is tests/examples/test_ux_examples.py's job)."""
    plot = tmp_path / "s.png"
    code = sentiment_cli.main(["--steps", "6", "--save-every", "3", "--max-len", "8", "--glove", str(tiny_glove),
                               "--ckpt-dir", str(tmp_path / "ck"), "--same-init", "--json", "--quiet",
                               "--plot", str(plot), "--logdir", str(tmp_path / "tb")])
    printed = capsys.readouterr()
    assert code == 0, printed.err[-2000:]
    result = json.loads(printed.out.strip().splitlines()[-1])
    for side in ("legacy", "modern"):
        assert 0.0 <= result[side]["held_out_accuracy"] <= 1.0
    assert result["legacy"]["global_step"] == 6 and Path(result["legacy"]["checkpoint"] + ".index").is_file()
    assert result["modern"]["initial_eval"]["loss"] == pytest.approx(result["legacy"]["initial_eval"]["loss"], abs=1e-5)
    data = plot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    assert list((tmp_path / "tb" / "legacy").glob("events.*")) and list((tmp_path / "tb" / "modern").glob("events.*"))


@pytest.mark.parametrize("flag, fragment", [
    (["--glove", "/nonexistent/glove.6B.50d.txt"], "/nonexistent/glove.6B.50d.txt"),
    (["--data", "/nonexistent/aclImdb"], "/nonexistent/aclImdb"),
])
def test_missing_files_are_named(flag, fragment, capsys):
    assert sentiment_cli.main(flag + ["--json", "--quiet", "--steps", "1"]) == 2
    assert fragment in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, tiny_glove, capsys):
    code = sentiment_cli.main(["--resume", "--side", "legacy", "--ckpt-dir", str(tmp_path / "empty"), "--glove",
                           str(tiny_glove), "--max-len", "8", "--steps", "1", "--json", "--quiet"])
    assert code == 2
    assert "No checkpoint" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]


def test_imdb_npz_without_word_index_is_refused(tmp_path, tiny_glove, capsys):
    from migration.datasets import save_imdb_npz

    npz = save_imdb_npz(tmp_path / "imdb.npz", [[1, 14, 22], [1, 5]], [1, 0], [[1, 7]], [0])
    assert sentiment_cli.main(["--data", str(npz), "--glove", str(tiny_glove), "--json", "--quiet", "--steps", "1"]) == 2
    error = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    assert "imdb_word_index.json" in error and str(npz) in error
