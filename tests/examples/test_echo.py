"""migration.examples.echo (seed 002): the data rule, the four implementations as one model, learning, the CLI contract."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from migration.examples import echo

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def seed_loop_labels(x: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """The seed's ``gen_data`` loop verbatim, with its ``np.random.rand()`` calls replaced by ``uniform[i]``."""
    y = []
    for i in range(len(x)):
        threshold = 0.5
        if x[i - 3] == 1:
            threshold += 0.5
        if x[i - 8] == 1:
            threshold -= 0.25
        y.append(0 if uniform[i] > threshold else 1)
    return np.array(y)


def test_vectorised_labels_equal_the_seed_loop_including_wraparound():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 2, 5000)
    u = rng.random(5000)
    np.testing.assert_array_equal(echo.echo_labels(x, u), seed_loop_labels(x, u))


def test_data_distribution_follows_the_rule():
    x, y = echo.gen_data(400_000, np.random.default_rng(0))
    x3, x8 = np.roll(x, 3), np.roll(x, 8)
    for a, b, p in ((1, 0, 1.0), (1, 1, 0.75), (0, 0, 0.5), (0, 1, 0.25)):
        sel = (x3 == a) & (x8 == b)
        assert abs(y[sel].mean() - p) < 0.01, (a, b)


def test_expected_losses_are_the_seed_figures():
    # Seed 002 publishes 0.66 (no dependency), 0.52 (one), 0.45 (both), rounded to two decimals.
    got = echo.expected_losses()
    assert round(got["no_dependency"], 2) == 0.66
    assert round(got["one_dependency"], 2) == 0.52
    assert round(got["both_dependencies"], 2) == 0.45


def test_batches_continue_each_row_across_segments():
    x = np.arange(4000)
    batches = list(echo.gen_batches((x, x), 200, 5))
    assert len(batches) == 4 and batches[0][0].shape == (200, 5)
    np.testing.assert_array_equal(batches[1][0][:, 0], batches[0][0][:, -1] + 1)  # the state carry is meaningful


def test_four_implementations_are_the_same_model():
    """Same NumPy initial weights + same data: every step's loss agrees, so the state carry, the Adagrad
    accumulators (0.1, no epsilon) and the weight layouts are the same on all four."""
    config = dict(num_steps=5, state_size=4, size=200 * 5 * 6, seed=7)
    weights = echo.initial_weights(4, np.random.default_rng(11))
    runs = {impl: echo.run(echo.EchoConfig(impl=impl, **config), weights) for impl in echo.IMPLS}
    reference = np.array(runs["handwritten"].step_losses)
    assert len(reference) == 6
    for impl, result in runs.items():
        np.testing.assert_allclose(result.step_losses, reference, atol=1e-5, rtol=0, err_msg=impl)
    # and training moved the loss: the steps are not all equal
    assert np.ptp(reference) > 1e-3


def test_keras_twin_learns_both_dependencies_on_a_reduced_size():
    """10 steps / state 16 on 200k samples (100 steps): clearly below the no-dependency 0.66."""
    result = echo.run(echo.EchoConfig(impl="keras", num_steps=10, state_size=16, size=200_000, seed=0))
    assert len(result.step_losses) == 100
    assert result.final_loss < echo.expected_losses()["no_dependency"] - 0.08
    assert result.final_loss > echo.expected_losses()["both_dependencies"] - 0.02  # cannot beat the Bayes rate


def test_too_small_size_is_a_clear_error(capsys):
    assert echo.main(["--size", "300", "--json", "--quiet"]) == 2
    out = capsys.readouterr()
    error = json.loads(out.out.strip().splitlines()[-1])["error"]
    assert "`size`" in error and "at least 1000" in error


def test_cli_json_plot_and_logdir(tmp_path, capsys):
    """The example's command line in this process (a fresh one is tests/examples/test_ux_examples.py's job)."""
    plot, logdir = tmp_path / "echo.png", tmp_path / "tb"
    code = echo.main(["--impl", "static", "--compare", "--size", "120000", "--json", "--quiet", "--plot", str(plot),
                      "--logdir", str(logdir)])
    printed = capsys.readouterr()
    assert code == 0, printed.err[-2000:]
    result = json.loads(printed.out.strip().splitlines()[-1])
    assert result["impl"] == "static" and set(result["runs"]) == {"static", "keras"}
    assert len(result["losses"]) == 1 and result["final_loss"] == pytest.approx(result["runs"]["static"]["final_loss"])
    assert abs(result["runs"]["static"]["final_loss"] - result["runs"]["keras"]["final_loss"]) < 1e-4
    data = plot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    legacy, modern = read_scalars(logdir / "legacy" / "static"), read_scalars(logdir / "modern" / "keras")
    assert set(legacy) == set(modern) == {"echo/loss"}  # one tag: TensorBoard overlays the two runs
    assert len(legacy["echo/loss"]) == len(modern["echo/loss"]) == result["runs"]["static"]["steps"]
    assert legacy["echo/loss"][0] == pytest.approx(result["runs"]["static"]["first_step_loss"])
    assert np.mean(legacy["echo/loss"][:10]) == pytest.approx(result["runs"]["static"]["first_10_steps_loss"])
    assert modern["echo/loss"] == pytest.approx(legacy["echo/loss"], abs=1e-4)


def read_scalars(directory: Path) -> dict[str, list[float]]:
    import tensorflow as tf

    out: dict[str, list[float]] = {}
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                out.setdefault(value.tag, []).append(float(tf.make_ndarray(value.tensor)))
    return out
