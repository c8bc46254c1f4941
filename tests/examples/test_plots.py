"""Plots a reader can use: keras_rnn --model all has one colour per model and one line style per side with the
legend outside the data; echo names a curve that lies exactly on another one. The PNGs are decoded as images and
the legends read back through matplotlib's own API (the figure is captured when the example closes it)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from migration.examples import common, echo, keras_rnn  # noqa: E402
from tests.ux import png_pixels  # noqa: E402


@pytest.fixture
def figures(monkeypatch):
    """Every figure the code under test closes (plot_curves closes it after saving)."""
    captured = []
    original = plt.close

    def close(fig=None):
        if fig is not None and hasattr(fig, "axes"):
            captured.append(fig)
        return original(fig)

    monkeypatch.setattr(plt, "close", close)
    return captured


def _legend(fig) -> tuple[list[str], dict]:
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    return texts, lines


def test_keras_rnn_all_models_colour_per_model_style_per_side_legend_outside(tmp_path, figures) -> None:
    rng = np.random.default_rng(0)
    curves = {}
    for name in keras_rnn.MODELS:  # the 7 models of --model all, both sides: 14 curves
        base = 0.7 - np.cumsum(rng.uniform(0, 0.01, 40))
        curves[f"{name} TF1"] = list(base)
        curves[f"{name} Keras 2"] = list(base + rng.normal(0, 0.003, 40))
    path = tmp_path / "all.png"
    common.plot_curves(path, curves, title="t", families=keras_rnn.plot_families(curves))
    (fig,) = figures
    texts, lines = _legend(fig)
    assert texts == list(curves)
    for name in keras_rnn.MODELS:
        tf1, k2 = lines[f"{name} TF1"], lines[f"{name} Keras 2"]
        assert tf1.get_color() == k2.get_color() and tf1.get_linestyle() == "-" and k2.get_linestyle() == "--"
    colours = {tuple(np.round(matplotlib.colors.to_rgba(lines[f"{n} TF1"].get_color()), 3)) for n in keras_rnn.MODELS}
    assert len(colours) == len(keras_rnn.MODELS)  # no colour reused across models
    fig.canvas.draw()
    legend_box = fig.axes[0].get_legend().get_window_extent()
    assert legend_box.x0 >= fig.axes[0].get_window_extent().x1  # the legend is outside the data area
    pixels = png_pixels(path)
    assert pixels.shape[1] > pixels.shape[0] >= 300 and pixels[..., :3].std() > 0.02


def test_echo_says_when_a_curve_lies_exactly_on_another(tmp_path, figures, capsys) -> None:
    path = tmp_path / "plots" / "echo.png"
    assert echo.main(["--size", "3000", "--impl", "all", "--quiet", "--plot", str(path)]) == 0
    (fig,) = figures
    texts, _ = _legend(fig)
    assert texts[0] == "handwritten (TF1)"
    for text in texts[1:]:  # the same weights and data: every other implementation coincides with the first
        assert "lies exactly on handwritten (TF1)" in text, texts
    err = capsys.readouterr().err
    assert "plot: keras (Keras 2) lies exactly on handwritten (TF1)" in err
    assert png_pixels(path)[..., :3].std() > 0.02


def test_different_curves_are_not_called_coincident(tmp_path, figures) -> None:
    same = common.plot_curves(tmp_path / "x.png", {"a": [1.0, 0.9, 0.8], "b": [1.0, 0.9, 0.81], "c": [1.0, 0.9, 0.8]},
                              title="t")
    assert same == {"c": ("a", 0.0)}
    texts, lines = _legend(figures[0])
    assert texts[:2] == ["a", "b"] and "lies exactly on a" in texts[2]
    assert lines[texts[2]].get_linestyle() == "--"


def test_x_ticks_are_whole_numbers(tmp_path, figures) -> None:
    """keras_api's 3 time steps were labelled 1.00, 1.25, 1.50 ... (fails on main)."""
    common.plot_curves(tmp_path / "t.png", {"a": [0.1, 0.2, 0.3], "b": [0.1, 0.25, 0.3]}, title="t", xlabel="time step")
    (fig,) = figures
    fig.canvas.draw()
    ticks = [t for t in fig.axes[0].get_xticks() if fig.axes[0].get_xlim()[0] <= t <= fig.axes[0].get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_echo_plot_has_every_window_of_every_epoch() -> None:
    """1,000 steps an epoch: the seed's report has 9 windows (steps 0..100, then 100 each up to 900); the plot adds
    each epoch's remaining steps (fails on main: 9 of 10 windows were drawn)."""
    rng = np.random.default_rng(3)
    losses = list(rng.uniform(0, 1, 2000))  # 2 epochs of 1,000 steps
    seed_windows = []
    for epoch in (losses[:1000], losses[1000:]):
        seed_windows.append([float(np.mean(epoch[:101]))] + [float(np.mean(epoch[a:a + 100])) for a in range(101, 900, 100)])
    plotted = echo.plot_windows(losses, 1000)
    assert len(plotted) == 20
    np.testing.assert_allclose(plotted[:9], seed_windows[0])
    np.testing.assert_allclose(plotted[10:19], seed_windows[1])
    np.testing.assert_allclose([plotted[9], plotted[19]], [np.mean(losses[901:1000]), np.mean(losses[1901:2000])])
    assert echo.plot_windows(losses[:101], 101) == [float(np.mean(losses[:101]))]  # no empty tail window


def test_demo_plot_in_steps_with_the_conversion_line_explained(tmp_path, figures) -> None:
    """The demo's x axis read "step / 25" and the conversion line said only "convert + verify" (fails on main)."""
    from migration import demo

    rng = np.random.default_rng(4)
    demo.plot_loss(tmp_path / "d.png", list(rng.uniform(0.5, 0.7, 100)), list(rng.uniform(0.4, 0.6, 50)), 100,
                   keep_prob=0.75)
    demo.plot_loss(tmp_path / "e.png", [0.5] * 50, [0.4] * 25, 50)  # no dropout: nothing to explain
    fig, no_dropout = figures
    ax = fig.axes[0]
    assert ax.get_xlabel() == "training step"
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    tf1, keras = (lines[k].get_xdata() for k in ("TF1 graph (legacy_rnn)", "Keras 2 from the converted checkpoint"))
    assert list(tf1) == [25, 50, 75, 100] and list(keras) == [125, 150]  # each 25-step mean at its last step
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "step 100: converted + verified" in texts and "same weights" in texts and "Adam state" in texts
    assert "with dropout\n(keep_prob 0.75)" in texts and "converted model has none" in texts  # why the loss drops
    assert "dropout" not in " ".join(t.get_text() for t in no_dropout.axes[0].texts)
