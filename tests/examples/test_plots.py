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
