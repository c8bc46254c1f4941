"""Issue 13 for the examples and the demo, each in a fresh ``python -m migration`` process started in an EMPTY
working directory with ``TF_CPP_MIN_LOG_LEVEL`` unset: default output paths work (directories created), nested
``--plot``/``--logdir`` paths are created, stderr has no TensorFlow noise, the PNGs decode to real images, the
TensorBoard events carry the same tags on both sides and one step axis; the demo gives the same figures twice with
the same seed."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.examples.conftest import KERAS_STEPS, STEPS
from tests.ux import png_pixels, read_events, run_cli, tf_noise

PLOT, LOGDIR = "out/plots/loss.png", "out/tb"

#: reduced sizes (model and data sizes do not change what is checked here: paths, quiet stderr, PNGs, event tags;
#: keras_rnn's default sizes cost ~5 of its ~12 CPU s); every path option at its default (``sentiment`` writes
#: models/sentiment/ by default)
EXAMPLES = {
    "echo": ["--size", "3000", "--impl", "all"],
    "sentiment": ["--steps", "20", "--save-every", "10", "--batch-size", "8", "--max-len", "6"],
    "keras_rnn": ["--limit", "96", "--epochs", "1", "--model", "simplernn", "--units", "4", "--vocab", "300",
                  "--max-len", "6"],
    "keras_api": [],
    "text_prep": [],
}


def _assert_png(path) -> None:
    pixels = png_pixels(path)
    assert pixels.ndim == 3 and pixels.shape[0] >= 300 and pixels.shape[1] >= 600, pixels.shape
    assert float(pixels[..., :3].std()) > 0.02  # not a blank canvas: curves, axes and text were drawn


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_from_an_empty_directory(tmp_path, name: str) -> None:
    curves = name != "text_prep"
    extra = ["--plot", PLOT, "--logdir", LOGDIR] if curves else []
    proc = run_cli("example", name, *EXAMPLES[name], "--json", *extra, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert tf_noise(proc.stderr) == [], proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if name == "sentiment":  # the default --ckpt-dir models/sentiment did not exist: it was created
        assert (tmp_path / "models" / "sentiment" / "checkpoint").is_file()
        assert (tmp_path / "models" / "sentiment" / "model.ckpt-20.index").is_file()
    if not curves:
        assert sorted(p.name for p in tmp_path.iterdir()) == []  # text_prep writes nothing
        return
    _assert_png(tmp_path / PLOT)
    tb = tmp_path / LOGDIR
    if name == "echo":  # one run directory per implementation, one tag, the same steps
        runs = {side: read_events(tb / side) for side in
                ("legacy/handwritten", "legacy/static", "legacy/dynamic", "modern/keras")}
        assert all(set(events) == {"echo/loss"} for events in runs.values()), runs
        steps = {side: [s for s, _ in events["echo/loss"]] for side, events in runs.items()}
        assert all(s == list(range(result["steps"])) for s in steps.values()), steps
        values = [np.array([v for _, v in events["echo/loss"]]) for events in runs.values()]
        assert all(np.max(np.abs(v - values[0])) < 1e-5 for v in values)
        return
    legacy, modern = read_events(tb / "legacy"), read_events(tb / "modern")
    assert set(legacy) == set(modern) and legacy, (legacy.keys(), modern.keys())
    for tag in legacy:
        assert [s for s, _ in legacy[tag]] == [s for s, _ in modern[tag]] == list(range(len(legacy[tag])))


def test_text_prep_no_longer_offers_plot_or_logdir(capsys) -> None:
    from migration.examples import text_prep

    with pytest.raises(SystemExit) as exc:
        text_prep.main(["--plot", "x.png"])
    assert exc.value.code == 2 and "unrecognized arguments: --plot" in capsys.readouterr().err


def _figures(report: dict) -> dict:
    """Every figure of the report except wall-clock times and paths."""
    drop = {"seconds", "checkpoint", "out_dir", "workdir", "workdir_kept"}  # the second run keeps its --workdir

    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in drop}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj
    return strip(report)


@pytest.mark.slow
@pytest.mark.xdist_group("demo")
def test_demo_same_seed_same_figures(demo_pair) -> None:
    for run in demo_pair:
        assert run.proc.returncode == 0, run.proc.stderr[-3000:]
        assert tf_noise(run.proc.stderr) == [], run.proc.stderr[-3000:]
    a, b = (run.report for run in demo_pair)
    assert a["workdir_kept"] is False and b["workdir_kept"] is True
    assert _figures(a) == _figures(b)
    # the figures are real training results, not constants: the model moved away from its start
    assert a["keras_continued"]["held_out_loss"] != a["keras_continued"]["held_out_loss_at_start"]
    assert a["legacy"]["final_train_loss"] > 0


@pytest.mark.slow
@pytest.mark.xdist_group("demo")
def test_demo_removes_its_temporary_directory_and_logs_one_step_axis(demo_pair) -> None:
    proc, cwd, report = demo_pair[0].proc, demo_pair[0].cwd, demo_pair[0].report
    assert report["workdir_kept"] is False and not __import__("os").path.exists(report["workdir"])
    assert "temporary files removed" in proc.stderr
    _assert_png(cwd / PLOT)
    legacy, modern = read_events(cwd / LOGDIR / "legacy"), read_events(cwd / LOGDIR / "modern")
    assert set(legacy) == set(modern) == {"demo/train_loss"}
    assert [s for s, _ in legacy["demo/train_loss"]] == list(range(0, STEPS))
    assert [s for s, _ in modern["demo/train_loss"]] == list(range(STEPS, STEPS + KERAS_STEPS))  # at TF1's last step


def test_examples_leave_op_determinism_as_they_found_it(capsys) -> None:
    """seed_everything turns op determinism on for the run (unseeded random ops then raise); an example called
    in-process switches it off again, so the caller's own unseeded graphs keep working."""
    import legacy_rnn
    from migration.examples import common, keras_api
    from tensorflow.python.framework import config

    assert not config.is_op_determinism_enabled()
    with common.scoped_op_determinism():
        common.seed_everything(1)
        assert config.is_op_determinism_enabled()
        with legacy_rnn.new_graph(), pytest.raises(RuntimeError, match="require a seed"):
            legacy_rnn.v1.get_variable("w", [2, 2])
    assert not config.is_op_determinism_enabled()
    assert keras_api.main([]) == 0
    capsys.readouterr()
    assert not config.is_op_determinism_enabled()
    with legacy_rnn.new_graph():
        legacy_rnn.v1.get_variable("w", [2, 2])  # no seed, no error
