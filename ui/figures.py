"""Plotly figures shared by the pages."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22")


def _positive(values) -> np.ndarray:
    """Values for a log axis: non-positive and non-finite entries become gaps."""
    a = np.asarray(values, dtype=float)
    return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def iterations(history: dict) -> np.ndarray:
    """Iteration number of each entry: ``history["iteration"]`` when the history was thinned for drawing."""
    if "iteration" in history:
        return np.asarray(history["iteration"])
    return np.arange(len(history["relu_error"] if "relu_error" in history else history["objective"]))


def convergence(history: dict, *, x: str = "iteration", objective_label: str = "objective",
                title: str | None = None) -> go.Figure:
    """ReLU error and the solver's recorded objective on a log scale.

    Parameters
    ----------
    history : dict
        ``relu_error``, ``objective`` and ``time`` sequences of equal length.
    x : {"iteration", "time"}
    """
    xs = iterations(history) if x == "iteration" else np.asarray(history["time"], dtype=float)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=_positive(history["relu_error"]), mode="lines",
                             name="ReLU error ‖X − max(0,Θ)‖/‖X‖", line=dict(color=PALETTE[0], width=2)))
    fig.add_trace(go.Scatter(x=xs, y=_positive(history["objective"]), mode="lines",
                             name=f"objective: {objective_label}",
                             line=dict(color=PALETTE[1], width=1.5, dash="dot")))
    _log_layout(fig, "iteration" if x == "iteration" else "time (s)", title)
    return fig


def comparison(histories: dict, *, x: str = "time", field: str = "relu_error",
               subtract_min: bool = False) -> go.Figure:
    """One curve per solver: ``field`` (minus the best value over all, if asked) versus x."""
    floor = 0.0
    if subtract_min:
        floor = min(float(np.nanmin(h[field])) for h in histories.values()) if histories else 0.0
    fig = go.Figure()
    x_end = max((float(iterations(h)[-1]) if x == "iteration" else float(h["time"][-1])
                 for h in histories.values()), default=1.0) or 1.0
    for i, (label, h) in enumerate(histories.items()):
        xs = iterations(h) if x == "iteration" else np.asarray(h["time"], dtype=float)
        ys = np.asarray(h[field], dtype=float) - floor
        one_shot = len(ys) == 1  # a baseline such as TSVD: a horizontal reference line
        fig.add_trace(go.Scatter(x=[0.0, x_end] if one_shot else xs, y=_positive(np.repeat(ys, 2) if one_shot else ys),
                                 mode="lines", name=label,
                                 line=dict(color=PALETTE[i % len(PALETTE)], width=2, dash="dot" if one_shot else None)))
    ylabel = "ReLU error − best" if subtract_min else "ReLU error"
    _log_layout(fig, "iteration" if x == "iteration" else "time (s)", None, ylabel)
    return fig


def bands(grid: np.ndarray, curves: dict, floor: float) -> go.Figure:
    """Mean and best of several starts per solver, as err(t) − min (the papers' plot).

    Parameters
    ----------
    grid : ndarray
        Common time grid.
    curves : dict
        label -> (mean, best) arrays on ``grid``.
    floor : float
        Smallest error reached by any run; subtracted from every curve.
    """
    fig = go.Figure()
    for i, (label, (mean, best)) in enumerate(curves.items()):
        color = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=grid, y=_positive(best - floor), mode="lines", name=f"{label} best",
                                 line=dict(color=color, width=1, dash="dot"), legendgroup=label))
        fig.add_trace(go.Scatter(x=grid, y=_positive(mean - floor), mode="lines", name=f"{label} mean",
                                 line=dict(color=color, width=2), fill="tonexty", legendgroup=label,
                                 fillcolor=_transparent(color)))
    _log_layout(fig, "time (s)", None, "ReLU error − min over all runs")
    return fig


def step_on_grid(times, values, grid) -> np.ndarray:
    """Value reached by time t for each t of ``grid`` (the last entry recorded at or before t)."""
    idx = np.searchsorted(np.asarray(times, dtype=float), grid, side="right") - 1
    return np.asarray(values, dtype=float)[np.clip(idx, 0, len(values) - 1)]


def start_bands(runs_by_solver: dict, points: int = 200):
    """Mean and best ReLU error over several starts, per solver, on a common time grid.

    Parameters
    ----------
    runs_by_solver : dict
        label -> list of histories (``time`` and ``relu_error``).

    Returns
    -------
    grid, curves, floor
        See :func:`bands`.
    """
    t_end = max(float(h["time"][-1]) for runs in runs_by_solver.values() for h in runs)
    grid = np.linspace(0.0, max(t_end, 1e-6), points)
    curves = {}
    for label, runs in runs_by_solver.items():
        stack = np.vstack([step_on_grid(h["time"], h["relu_error"], grid) for h in runs])
        curves[label] = (stack.mean(axis=0), stack.min(axis=0))
    floor = min(float(np.min(h["relu_error"])) for runs in runs_by_solver.values() for h in runs)
    return grid, curves, floor


def _transparent(hex_color: str, alpha: float = 0.18) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _log_layout(fig: go.Figure, xlabel: str, title: str | None, ylabel: str = "relative error") -> None:
    fig.update_yaxes(type="log", exponentformat="power", title=ylabel)
    fig.update_xaxes(title=xlabel)
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40 if title else 10, b=10), title=title,
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))


def heatmaps(panels: dict, *, zmax: float | None = None, colorscale: str = "Viridis",
             zmin: float = 0.0) -> go.Figure:
    """Side-by-side heatmaps with a shared colour range [zmin, zmax] (matrices, not images)."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels), horizontal_spacing=0.04)
    if zmax is None:
        zmax = max(float(np.max(p)) for p in panels.values()) if panels else 1.0
    for i, mat in enumerate(panels.values(), start=1):
        fig.add_trace(go.Heatmap(z=np.asarray(mat, dtype=float), zmin=zmin, zmax=zmax, colorscale=colorscale,
                                 showscale=(i == len(panels))), row=1, col=i)
        fig.update_yaxes(autorange="reversed", row=1, col=i)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def lines(xs, series: dict, *, xlabel: str, ylabel: str, log_y: bool = False, title=None,
          dashed=()) -> go.Figure:
    """Several named lines over a shared x (names in ``dashed`` drawn dashed, on top)."""
    fig = go.Figure()
    for i, (name, ys) in enumerate(series.items()):
        fig.add_trace(go.Scatter(x=xs, y=_positive(ys) if log_y else ys, mode="lines", name=name,
                                 line=dict(color=PALETTE[i % len(PALETTE)], dash="dash" if name in dashed else None)))
    if log_y:
        fig.update_yaxes(type="log", exponentformat="power")
    fig.update_yaxes(title=ylabel)
    fig.update_xaxes(title=xlabel)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40 if title else 10, b=10), title=title)
    return fig


def convergence_png(history: dict, objective_label: str = "objective", size=(900, 420)) -> bytes:
    """The convergence curve (log scale) as a PNG, drawn with Pillow (no browser or extra package)."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    width, height = size
    left, right, top, bottom = 70, 20, 40, 45
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    series = [("ReLU error", _positive(history["relu_error"]), PALETTE[0]),
              (objective_label[:60], _positive(history["objective"]), PALETTE[1])]
    values = np.concatenate([v[np.isfinite(v)] for _, v, _ in series] or [np.ones(1)])
    values = values if values.size else np.ones(1)
    lo, hi = np.floor(np.log10(values.min())), np.ceil(np.log10(values.max()))
    hi = hi if hi > lo else lo + 1
    n = max(len(history["relu_error"]) - 1, 1)

    def xy(i, v):
        x = left + (width - left - right) * i / n
        y = top + (height - top - bottom) * (hi - np.log10(v)) / (hi - lo)
        return x, y

    for e in range(int(lo), int(hi) + 1):  # decade grid lines and labels
        _, y = xy(0, 10.0 ** e)
        draw.line([(left, y), (width - right, y)], fill="#e5e5e5")
        draw.text((8, y - 6), f"1e{e}", fill="#555555", font=font)
    draw.rectangle([left, top, width - right, height - bottom], outline="#888888")
    for k in range(5):  # iteration ticks
        i = round(n * k / 4)
        x, _ = xy(i, 10.0 ** hi)
        draw.text((x - 8, height - bottom + 6), str(i), fill="#555555", font=font)
    draw.text((width // 2 - 25, height - 18), "iteration", fill="#333333", font=font)
    for j, (name, v, color) in enumerate(series):
        points = [xy(i, val) for i, val in enumerate(v) if np.isfinite(val)]
        if len(points) > 1:
            draw.line(points, fill=color, width=2)
        draw.line([(left + 10 + 330 * j, 18), (left + 40 + 330 * j, 18)], fill=color, width=2)
        draw.text((left + 46 + 330 * j, 12), name, fill="#333333", font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def tiles_png(rows: list, gap: int = 2) -> bytes:
    """A grid of [0, 1] images (a list of rows, each a list of equal-shape arrays) as a PNG."""
    import io

    from PIL import Image

    h, w = rows[0][0].shape
    ncols = max(len(r) for r in rows)
    canvas = np.ones((len(rows) * (h + gap) - gap, ncols * (w + gap) - gap))
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            canvas[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = tile
    img = Image.fromarray(np.round(canvas * 255).astype(np.uint8), mode="L")
    if max(img.size) < 400:
        img = img.resize((img.size[0] * 3, img.size[1] * 3), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def image_tile(column: np.ndarray, image_shape, top: float | None = None) -> np.ndarray:
    """One column reshaped to an image and scaled by ``top`` (default its max) into [0, 1]."""
    img = np.asarray(column, dtype=np.float64).reshape(image_shape)
    top = float(img.max()) if top is None else float(top)
    return np.clip(img / top, 0.0, 1.0) if top > 0 else np.zeros_like(img)
