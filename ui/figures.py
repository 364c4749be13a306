"""Plotly figures shared by the pages, and the one colour of each solver.

Static versions of these figures (downloads, image grids) are drawn by :mod:`ui.export`.
"""
from __future__ import annotations

import math
import re

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import nmdcore

#: One fixed colour per solver key, the same in every chart of the app; TSVD, the
#: baseline, is grey.
SOLVER_COLOURS = {
    "tsvd": "#7f7f7f", "ebcd": "#1f77b4", "nmd_3b": "#ff7f0e", "nmd_tm": "#d62728", "a_nmd": "#2ca02c",
    "bcd": "#9467bd", "naive": "#8c564b", "em": "#e377c2", "a_em": "#bcbd22", "cd": "#17becf",
    "nsmd_apb": "#393b79", "nsmd_aapb": "#d6616b", "sym_anls": "#637939", "sym_hals": "#ce6dbd",
    "gd": "#e7ba52",
}
#: Colours of lines that are not solvers (the ReLU error against the objective, singular values).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22")
_KEY_OF_LABEL = {spec.label: key for key, spec in nmdcore.SOLVERS.items()}


def is_solver(name: str) -> bool:
    """True when ``name`` is a solver key or label (``"eBCD-NMD #2"`` counts)."""
    return name in SOLVER_COLOURS or name.split(" #")[0] in _KEY_OF_LABEL


def solver_colour(name: str, fallback: int = 0) -> str:
    """The colour of a solver given its key or label (``"eBCD-NMD"``, ``"eBCD-NMD #2"``).

    Names that are not solvers get ``PALETTE[fallback]``.
    """
    key = name if name in SOLVER_COLOURS else _KEY_OF_LABEL.get(name.split(" #")[0])
    return SOLVER_COLOURS.get(key, PALETTE[fallback % len(PALETTE)])


def screen_text(label: str) -> str:
    """A label for plotly: ``‖Z − WH‖_F`` with a real subscript (``<sub>F</sub>``)."""
    return re.sub(r"_([A-Za-z0-9]+)", r"<sub>\1</sub>", label)


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
                title: str | None = None, solver: str | None = None,
                tsvd_error: float | None = None) -> go.Figure:
    """ReLU error and the solver's recorded objective on a log scale.

    Parameters
    ----------
    history : dict
        ``relu_error``, ``objective`` and ``time`` sequences of equal length.
    x : {"iteration", "time"}
    objective_label : str
        What the objective is (the solver's ``SolverSpec.objective``).
    title : str, optional
    solver : str, optional
        Registry key: both lines take the solver's colour (:data:`SOLVER_COLOURS`).
    tsvd_error : float, optional
        ReLU error of TSVD at the same rank, drawn as a grey reference line.
    """
    n = len(history["relu_error"])
    xs = iterations(history) if x == "iteration" else np.asarray(history["time"], dtype=float)
    main, second = (solver_colour(solver),) * 2 if solver else (PALETTE[0], PALETTE[1])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=_positive(history["relu_error"]), mode="lines",
                             name=screen_text("ReLU error ‖X − max(0, Θ)‖_F / ‖X‖_F"),
                             line=dict(color=main, width=2)))
    fig.add_trace(go.Scatter(x=xs, y=_positive(history["objective"]), mode="lines",
                             name=screen_text(f"objective: {objective_label}"),
                             line=dict(color=second, width=1.5, dash="dot")))
    if tsvd_error is not None and n:
        fig.add_trace(go.Scatter(x=[xs[0], xs[-1]], y=_positive([tsvd_error, tsvd_error]), mode="lines",
                                 name="ReLU error of TSVD at the same rank",
                                 line=dict(color=SOLVER_COLOURS["tsvd"], width=1.5, dash="dash")))
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
                                 mode="lines", name=label, legendgroup=label.split(" #")[0],
                                 line=dict(color=solver_colour(label, i), width=2, dash="dot" if one_shot else None)))
    ylabel = "ReLU error − best" if subtract_min else "ReLU error"
    _log_layout(fig, "iteration" if x == "iteration" else "time (s)", None, ylabel)
    return fig


def bands(grid: np.ndarray, curves: dict, floor: float, *, x: str = "time") -> go.Figure:
    """Mean and best of several starts per solver, as err(t) − min (the papers' plot).

    Parameters
    ----------
    grid : ndarray
        Common grid of times (s) or iterations.
    curves : dict
        label -> (mean, best) arrays on ``grid``.
    floor : float
        Smallest error reached by any run; subtracted from every curve.
    x : {"time", "iteration"}
        What ``grid`` holds (the axis title).
    """
    fig = go.Figure()
    for i, (label, (mean, best)) in enumerate(curves.items()):
        color = solver_colour(label, i)
        fig.add_trace(go.Scatter(x=grid, y=_positive(best - floor), mode="lines", name=f"{label} best",
                                 line=dict(color=color, width=1, dash="dot"), legendgroup=label))
        fig.add_trace(go.Scatter(x=grid, y=_positive(mean - floor), mode="lines", name=f"{label} mean",
                                 line=dict(color=color, width=2), fill="tonexty", legendgroup=label,
                                 fillcolor=_transparent(color)))
    _log_layout(fig, "iteration" if x == "iteration" else "time (s)", None, "ReLU error − min over all runs")
    return fig


def step_on_grid(times, values, grid) -> np.ndarray:
    """Value reached by time t for each t of ``grid`` (the last entry recorded at or before t)."""
    idx = np.searchsorted(np.asarray(times, dtype=float), grid, side="right") - 1
    return np.asarray(values, dtype=float)[np.clip(idx, 0, len(values) - 1)]


def start_bands(runs_by_solver: dict, points: int = 200, x: str = "time"):
    """Mean and best ReLU error over several starts, per solver, on a common time or iteration grid.

    Parameters
    ----------
    runs_by_solver : dict
        label -> list of histories (``time`` and ``relu_error``).
    points : int
        Points of the time grid (the iteration grid has one per iteration).
    x : {"time", "iteration"}
        A run that ended earlier keeps its last value to the end of the grid.

    Returns
    -------
    grid, curves, floor
        See :func:`bands`.
    """
    def steps(h):
        return np.asarray(h["time"], dtype=float) if x == "time" else np.arange(len(h["relu_error"]), dtype=float)

    end = max(float(steps(h)[-1]) for runs in runs_by_solver.values() for h in runs)
    grid = np.linspace(0.0, max(end, 1e-6), points) if x == "time" else np.arange(int(end) + 1, dtype=float)
    curves = {}
    for label, runs in runs_by_solver.items():
        stack = np.vstack([step_on_grid(steps(h), h["relu_error"], grid) for h in runs])
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


#: Sequential colour scale for nonnegative matrices: zero is white, large values dark.
WHITE_ZERO = [[0.0, "#ffffff"], [0.15, "#c6dbef"], [0.4, "#6baed6"], [0.7, "#2171b5"], [1.0, "#08306b"]]


def heatmaps(panels: dict, *, zmax: float | None = None, colorscale=None, zmin: float = 0.0,
             per_row: int = 3, clip_quantile: float | None = None) -> go.Figure:
    """Square heatmaps side by side (matrices, not images) with one shared colour range.

    Parameters
    ----------
    panels : dict
        title -> 2-D array.
    zmax : float, optional
        Top of the colour range (default: the largest value, or the ``clip_quantile``
        of the positive values, so that a few large entries do not wash out the rest).
    colorscale : plotly colour scale, optional
        Default :data:`WHITE_ZERO` (zero white); pass a diverging scale with ``zmin < 0``.
    zmin : float
    per_row : int
        Panels per row; more wrap onto further rows, so each stays large enough to read.
    clip_quantile : float, optional
        E.g. 0.99: values above that quantile of the positive entries get the darkest colour.
    """
    arrays = [np.asarray(p, dtype=float) for p in panels.values()]
    if zmax is None:
        values = np.concatenate([a[a > 0].ravel() for a in arrays] or [np.ones(1)])
        values = values if values.size else np.ones(1)
        zmax = float(np.quantile(values, clip_quantile) if clip_quantile else values.max())
    cols = min(per_row, max(len(panels), 1))
    rows = math.ceil(len(panels) / cols) if panels else 1
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(panels), horizontal_spacing=0.06,
                        vertical_spacing=0.1 if rows > 1 else 0.02)
    for i, mat in enumerate(arrays):
        r, c = divmod(i, cols)
        fig.add_trace(go.Heatmap(z=mat, zmin=zmin, zmax=zmax, colorscale=colorscale or WHITE_ZERO,
                                 showscale=(i == 0), colorbar=dict(thickness=12, len=0.9 / rows, y=1, yanchor="top")),
                      row=r + 1, col=c + 1)
        # square cells: the y axis keeps the x axis's scale, read top to bottom like a matrix
        fig.update_xaxes(scaleanchor=f"y{i + 1 if i else ''}", constrain="domain", showticklabels=False,
                         row=r + 1, col=c + 1)
        fig.update_yaxes(autorange="reversed", constrain="domain", showticklabels=False, row=r + 1, col=c + 1)
    fig.update_layout(height=60 + 300 * rows, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white")
    return fig


def lines(xs, series: dict, *, xlabel: str, ylabel: str, log_y: bool = False, title=None,
          dashed=()) -> go.Figure:
    """Several named lines over a shared x.

    Solvers get their own colours (:func:`solver_colour`); beside them, other lines are
    black. Names in ``dashed`` are drawn dashed, the k-th of them in the colour of the k-th
    solid line (σ₁(W) and σ₁(H) alike).
    """
    fig = go.Figure()
    with_solvers = any(is_solver(name) for name in series)
    position = {"solid": 0, "dashed": 0}
    for name, ys in series.items():
        group = "dashed" if name in dashed else "solid"
        i = position[group]
        position[group] += 1
        colour = solver_colour(name, i) if is_solver(name) or not with_solvers else "#000000"
        fig.add_trace(go.Scatter(x=xs, y=_positive(ys) if log_y else ys, mode="lines", name=screen_text(name),
                                 line=dict(color=colour, dash="dash" if name in dashed else None)))
    if log_y:
        fig.update_yaxes(type="log", exponentformat="power")
    fig.update_yaxes(title=screen_text(ylabel))
    fig.update_xaxes(title=screen_text(xlabel))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40 if title else 10, b=10), title=title)
    return fig


def image_tile(column: np.ndarray, image_shape, top: float | None = None) -> np.ndarray:
    """One column reshaped to an image and scaled by ``top`` (default its max) into [0, 1]."""
    img = np.asarray(column, dtype=np.float64).reshape(image_shape)
    top = float(img.max()) if top is None else float(top)
    return np.clip(img / top, 0.0, 1.0) if top > 0 else np.zeros_like(img)
