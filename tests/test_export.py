"""Static figures for downloads: valid files whose axis labels, legends and row labels are drawn.

The checks read the text the export writes (SVG keeps text as text) and matplotlib's own
artists, never pixels.
"""
import io
import re

import numpy as np
import pytest
from PIL import Image

import nmdcore
from ui import export, figures


@pytest.fixture(scope="module")
def run():
    rng = np.random.default_rng(0)
    X = np.maximum(0, rng.standard_normal((40, 3)) @ rng.standard_normal((3, 30)))
    return nmdcore.decompose(X, 3, solver="nmd_3b", max_iter=40, random_state=0)


def svg_text(figure) -> str:
    """Every <text> of the figure's SVG, joined (matplotlib writes one element per text)."""
    svg = export.figure_bytes(figure, "svg").decode()
    return " ".join(re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text[^>]*>.*?</text>", svg, flags=re.S))


def valid(data: bytes, fmt: str) -> None:
    if fmt == "png":
        Image.open(io.BytesIO(data)).verify()
    elif fmt == "pdf":
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    else:
        assert data.lstrip().startswith(b"<?xml") and b"</svg>" in data


@pytest.mark.parametrize("x, xlabel", [("iteration", "iteration"), ("time", "time (s)")])
def test_curve_export_keeps_the_screen_axes_labels_legend_and_log_scale(run, x, xlabel):
    on_screen = figures.convergence(run.history, x=x, objective_label="latent residual ‖Z − WH‖_F/‖X‖_F",
                                    solver="nmd_3b", tsvd_error=0.5)
    figure = export.chart(on_screen)
    ax = figure.axes[0]
    assert ax.get_xlabel() == xlabel and ax.get_ylabel() == "relative error"
    assert ax.get_yscale() == "log"
    # the same x values as the screen, and the solver's own colour
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.asarray(on_screen.data[0].x, dtype=float))
    assert ax.get_lines()[0].get_color() == figures.SOLVER_COLOURS["nmd_3b"]
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert len(legend) == 3 and legend[0].startswith("ReLU error") and "TSVD" in legend[2]
    assert "$_{F}$" in legend[0]  # the Frobenius subscript is real math, not "_F"
    text = svg_text(figure)
    assert xlabel in text and "relative error" in text and "ReLU error" in text
    for fmt in export.FORMATS:
        valid(export.figure_bytes(figure, fmt), fmt)


def test_comparison_and_band_exports_are_labelled(run):
    histories = {"3B-NMD": run.history, "TSVD": {k: v[:1] for k, v in run.history.items()}}
    figure = export.chart(figures.comparison(histories, x="iteration"))
    assert figure.axes[0].get_xlabel() == "iteration" and figure.axes[0].get_ylabel() == "ReLU error"
    grid, curves, floor = figures.start_bands({"3B-NMD": [run.history, run.history]}, x="iteration")
    figure = export.chart(figures.bands(grid, curves, floor, x="iteration"))
    assert figure.axes[0].get_xlabel() == "iteration"
    assert figure.axes[0].get_ylabel() == "ReLU error − min over all runs"
    assert "iteration" in svg_text(figure)


def test_image_grid_has_row_and_column_labels_gaps_and_no_blur():
    rng = np.random.default_rng(1)
    rows = [[rng.random((8, 8)) for _ in range(4)] for _ in range(3)]
    figure = export.image_grid(rows, row_labels=["original", "max(0, TSVD)", "max(0, Θ)"],
                               col_labels=[f"#{j}" for j in range(4)])
    axes = figure.axes
    assert len(axes) == 12
    assert [a.get_ylabel() for a in axes[::4]] == ["original", "max(0, TSVD)", "max(0, Θ)"]
    assert all(a.images[0].get_interpolation() == "nearest" for a in axes)
    # neighbouring tiles do not touch
    first, second = axes[0].get_position(), axes[1].get_position()
    assert second.x0 - first.x1 > 0.005
    text = svg_text(figure)
    assert "original" in text and "#3" in text
    valid(export.figure_bytes(figure, "png"), "png")


def test_difference_view_shows_error_images_on_one_scale():
    rng = np.random.default_rng(2)
    original = rng.random((16, 16))
    figure = export.difference_view(original, {"TSVD": original * 0.5, "ReLU-NMD": original * 0.9})
    error_images = [a.images[0] for a in figure.axes[:6] if a.images and a.images[0].get_cmap().name == "Reds"]
    assert len(error_images) == 2
    assert error_images[0].get_clim() == error_images[1].get_clim()
    text = svg_text(figure)
    assert "absolute error" in text and "TSVD" in text and "ReLU-NMD" in text
    valid(export.figure_bytes(figure, "png"), "png")


def test_unknown_format_is_a_clear_error(run):
    with pytest.raises(ValueError, match="unknown figure format 'bmp'"):
        export.figure_bytes(export.chart(figures.convergence(run.history)), "bmp")


def test_every_solver_has_its_own_colour():
    assert set(figures.SOLVER_COLOURS) == set(nmdcore.SOLVERS)
    assert len(set(figures.SOLVER_COLOURS.values())) == len(nmdcore.SOLVERS)
    label = nmdcore.SOLVERS["ebcd"].label
    assert figures.solver_colour(f"{label} #3") == figures.solver_colour("ebcd") == figures.SOLVER_COLOURS["ebcd"]


def test_heatmaps_are_square_with_white_zero():
    fig = figures.heatmaps({"a": np.eye(5), "b": np.zeros((5, 5)), "c": np.ones((5, 5)), "d": np.eye(5)})
    assert fig.layout.xaxis.scaleanchor == "y" and fig.layout.xaxis4.scaleanchor == "y4"
    assert fig.data[0].colorscale[0][1] == "#ffffff"
    assert fig.layout.xaxis4.anchor == "y4" and len(fig.data) == 4


def test_large_images_keep_one_pixel_per_image_pixel():
    rows = [[np.zeros((256, 256)), np.ones((256, 256))]]
    figure = export.image_grid(rows, col_labels=["original", "max(0, Θ)"])
    width_px = figure.axes[0].get_position().width * figure.get_size_inches()[0] * 150  # at the page's 150 dpi
    assert width_px >= 256


def test_a_log_axis_narrower_than_a_decade_shows_plain_numbers():
    history = {"relu_error": np.linspace(0.29, 0.26, 20), "objective": np.linspace(0.29, 0.26, 20),
               "time": np.linspace(0, 1, 20)}
    figure = export.chart(figures.convergence(history))
    figure.canvas.draw()
    ticks = [t.get_text() for t in figure.axes[0].get_yticklabels(minor=True) if t.get_text()]
    assert ticks and all(re.fullmatch(r"0\.\d+", t) for t in ticks), ticks


@pytest.mark.parametrize("key", list(nmdcore.SOLVERS))
def test_every_solvers_curve_exports_with_its_objective_in_the_legend(run, key):
    spec = nmdcore.SOLVERS[key]
    figure = export.chart(figures.convergence(run.history, objective_label=spec.objective, solver=key))
    valid(export.figure_bytes(figure, "svg"), "svg")  # drawing it parses every label's mathtext
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend[1].startswith("objective") and "_F" not in legend[1]
