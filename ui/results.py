"""Drawing a finished (or stopped) run: status, warnings, metrics, reconstructions, downloads."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import streamlit as st

import nmdcore

from . import export, figures
from .data import Data

#: A run whose ReLU error ends above this multiple of TSVD's, at the same rank, is flagged:
#: ReLU-NMD exists to do better than TSVD, and the solvers start from it by default.
FAR_ABOVE_TSVD = 1.5
#: What the app calls a run the user stopped with its Stop button.
STOPPED_BY_YOU = "Stopped by you; the result so far is kept."


@st.cache_resource(max_entries=6, show_spinner="Computing the TSVD baseline…")
def tsvd_baseline(key: str, rank: int, _X: np.ndarray) -> dict:
    """TSVD of ``_X`` at ``rank``, cached by the content key of ``_X``: factors and errors."""
    res = nmdcore.decompose(_X, rank, solver="tsvd")
    for name in ("W", "H"):  # shared by every session: never written to
        res.factors[name].setflags(write=False)
    return {"W": res.factors["W"], "H": res.factors["H"], "relu_error": res.relu_error,
            "lra_error": float(res.history["objective"][-1])}


def shared_start(data_key: str, X: np.ndarray, rank: int, solver: str, init):
    """The ``init`` to hand :func:`nmdcore.decompose`: for ``init="tsvd"`` and a solver that starts from
    (W, H), the cached factors of :func:`tsvd_baseline` -- the same start, computed once per data and
    rank instead of in every run; anything else unchanged."""
    if isinstance(init, str) and init == "tsvd" and nmdcore.SOLVERS[solver].shares_tsvd_start:
        base = tsvd_baseline(data_key, rank, X)
        return {"W": base["W"], "H": base["H"]}
    return init


def stop_sentence(stop_reason: str) -> str:
    """Why a run ended, as a sentence; ``"stopped by you"`` is what a stopped run of a sequence records."""
    return STOPPED_BY_YOU if stop_reason == "stopped by you" else nmdcore.describe_stop(stop_reason)


def outcome(label: str, rank: int, n_iter: int, seconds: float, stop_reason: str, stopped: bool) -> str:
    """The status of a finished or stopped run, in sentences (markdown)."""
    why = STOPPED_BY_YOU if stopped else nmdcore.describe_stop(stop_reason)
    took = f"{seconds:.1f} s" if seconds >= 1 else f"{seconds:.2f} s"
    return f"**{label}**, r = {rank}: {n_iter} iterations in {took}. {why}"


def run_warning(stop_reason: str, relu_error: float, tsvd_error: float | None) -> str | None:
    """What is wrong with a run that diverged or ended far above TSVD's error (None when nothing is).

    Parameters
    ----------
    stop_reason : str
    relu_error : float
        The run's final ReLU error.
    tsvd_error : float or None
        ReLU error of TSVD at the same rank (None: unknown).
    """
    if stop_reason == "diverged":
        return nmdcore.describe_stop("diverged")
    if tsvd_error is not None and not relu_error <= FAR_ABOVE_TSVD * tsvd_error:
        return (f"Far above TSVD: this run ended at a ReLU error of {relu_error:.3g}, "
                f"{relu_error / tsvd_error:.1f}× TSVD's {tsvd_error:.3g} at the same rank, so it has not found "
                "a useful Θ. Try the TSVD start, a smaller momentum or step, or more iterations.")
    return None


def relative_errors(X: np.ndarray, approx: np.ndarray, axis=None):
    """‖x − a‖/‖x‖ of the whole matrix (``axis=None``) or per column (``axis=0``; NaN for a zero column).

    Both are divided by max|X| first, so data of any magnitude (1e-300 or 1e300) gives a number.
    """
    top = float(np.max(np.abs(X))) if X.size else 0.0
    if top > 0:
        X, approx = X / top, approx / top
    num = np.linalg.norm(X - approx, axis=axis)
    den = np.linalg.norm(X, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def metrics(record: dict, baseline: dict | None) -> None:
    """Headline numbers of one run."""
    res = record["result"]
    h = res.history
    cols = st.columns(5)
    cols[0].metric("ReLU error", f"{res.relu_error:.4f}",
                   delta=None if baseline is None else f"{res.relu_error - baseline['relu_error']:+.4f} vs TSVD",
                   delta_color="inverse")
    cols[1].metric("TSVD ReLU error", "—" if baseline is None else f"{baseline['relu_error']:.4f}")
    cols[2].metric("Iterations", f"{res.n_iter}")
    cols[3].metric("Time", f"{h['time'][-1]:.2f} s")
    stats = record.get("stats") or {}
    first = stats.get("first_point_s")
    cols[4].metric("First curve point", "—" if first is None else f"{first:.2f} s",
                   help="From Run to the solver's first recorded point (the live curve redraws twice a second).")


@st.cache_data(max_entries=16, show_spinner=False)
def grid_png(rows: list, row_labels: tuple, col_labels: tuple) -> bytes:
    """:func:`ui.export.image_grid` as a PNG, cached by its tiles and labels (pages redraw it on every rerun)."""
    return figure_png(export.image_grid(rows, row_labels=row_labels, col_labels=col_labels))


def figure_png(figure) -> bytes:
    """A matplotlib figure as the PNG shown on a page (150 dpi: sharp at the page's width)."""
    return export.figure_bytes(figure, "png", dpi=150)


def image_reconstructions(data: Data, record: dict, baseline: dict, indices) -> bytes:
    """Original | TSVD | max(0, Θ) for the chosen images, as one labelled grid; returns its PNG."""
    X, res = data.X, record["result"]
    idx = np.asarray(list(indices), dtype=int)
    orig = X[:, idx].astype(np.float64)
    tsvd = np.maximum(baseline["W"] @ baseline["H"][:, idx], 0)
    nmd = np.maximum(np.asarray(res.theta)[:, idx], 0)
    e_tsvd, e_nmd = relative_errors(orig, tsvd, axis=0), relative_errors(orig, nmd, axis=0)
    rows = [[], [], []]
    for c in range(len(idx)):
        top = float(orig[:, c].max()) or 1.0
        for row, a in zip(rows, (orig, tsvd, nmd)):
            row.append(figures.image_tile(a[:, c], data.image_shape, top))
    label = nmdcore.SOLVERS[res.solver].label
    png = grid_png(rows, ("original", f"max(0, TSVD)\nr = {res.rank}", f"max(0, Θ)\n{label}, r = {res.rank}"),
                    tuple(f"#{j}\nTSVD {a:.3f}\nNMD {b:.3f}" for j, a, b in zip(idx, e_tsvd, e_nmd)))
    st.image(png, width="stretch")
    st.caption("Rows: the original images, TSVD at rank r, and max(0, Θ) of the ReLU-NMD at rank r, each "
               "column on the scale of its original. Above each column: the image's index and the relative "
               "error ‖x − x̂‖ / ‖x‖ of each approximation.")
    return png


def whole_image(data: Data, record: dict, baseline: dict) -> bytes:
    """Original | max(0, TSVD) | max(0, Θ) when the matrix is itself one image; returns the PNG."""
    X = np.asarray(data.X, dtype=np.float64)
    top = float(X.max()) or 1.0
    res = record["result"]
    panels = {"original": X, f"max(0, TSVD), r = {res.rank}": np.maximum(baseline["W"] @ baseline["H"], 0),
              f"max(0, Θ), r = {res.rank}": np.maximum(np.asarray(res.theta, dtype=np.float64), 0)}
    titles = tuple(name if name == "original" else f"{name}\nrelative error {relative_errors(X, img):.3f}"
                   for name, img in panels.items())
    png = grid_png([[np.clip(img / top, 0, 1) for img in panels.values()]], (), titles)
    st.image(png, width="stretch")
    return png


def block_heatmaps(data: Data, record: dict, baseline: dict, rows: tuple, cols: tuple) -> None:
    """X, TSVD and max(0, Θ) on a block of the matrix (non-image data)."""
    r0, r1 = rows
    c0, c1 = cols
    X = data.X[r0:r1, c0:c1]
    tsvd = np.maximum(baseline["W"][r0:r1] @ baseline["H"][:, c0:c1], 0)
    nmd = np.maximum(np.asarray(record["result"].theta)[r0:r1, c0:c1], 0)
    fig = figures.heatmaps({"X": X, "max(0, TSVD)": tsvd, "max(0, Θ)": nmd}, clip_quantile=0.99)
    st.plotly_chart(fig, width="stretch", key="block-heatmaps")
    st.caption(f"Block rows {r0}–{r1 - 1}, columns {c0}–{c1 - 1} (white = 0): relative error on the block "
               f"TSVD {relative_errors(X, tsvd):.3f}, ReLU-NMD {relative_errors(X, nmd):.3f}.")


def factors_npz(record: dict) -> bytes:
    """The run's factor arrays plus its settings, as a compressed .npz."""
    res = record["result"]
    buf = io.BytesIO()
    meta = {"solver": res.solver, "rank": res.rank, "params": res.params, "n_iter": res.n_iter,
            "stop_reason": res.stop_reason, "relu_error": res.relu_error,
            "dataset": record.get("dataset"), "seed": record.get("seed")}
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in res.factors.items()},
                        settings=np.array(json.dumps(meta, default=str)))
    return buf.getvalue()


def history_csv(history: dict) -> bytes:
    """The per-iteration history as CSV (one row per entry, entry 0 = the start)."""
    frame = pd.DataFrame({k: np.asarray(v) for k, v in history.items()})
    frame.index.name = "iteration"
    return frame.to_csv().encode()


def chart_downloads(fig, stem: str, key: str, columns=None) -> None:
    """Download buttons for a chart as PNG and PDF, drawn by matplotlib from the figure on screen."""
    columns = columns or st.columns(2)
    for col, fmt in zip(columns, ("png", "pdf")):
        col.download_button(f"Curve (.{fmt})", lambda fmt=fmt: export.figure_bytes(export.chart(fig), fmt),
                            f"{stem}_curve.{fmt}", mime=export.FORMATS[fmt], key=f"{key}-{fmt}",
                            on_click="ignore")


def downloads(record: dict, recon_png: bytes | None, curve) -> None:
    """Download buttons: factors (.npz), history (.csv), the curve as on screen (.png, .pdf), images (.png).

    ``curve`` is the plotly convergence figure the page shows. Files made on click are built
    when asked for; a click does not rerun the page (a rerun would drop such a file before
    the browser fetched it).
    """
    res = record["result"]
    stem = f"{res.solver}_r{res.rank}"
    cols = st.columns(5)
    cols[0].download_button("Factors (.npz)", lambda: factors_npz(record), f"{stem}_factors.npz",
                            mime="application/octet-stream", key="dl-npz", on_click="ignore")
    cols[1].download_button("History (.csv)", lambda: history_csv(res.history), f"{stem}_history.csv",
                            mime="text/csv", key="dl-csv", on_click="ignore")
    chart_downloads(curve, stem, "dl-curve", cols[2:4])
    if recon_png is not None:
        cols[4].download_button("Images (.png)", recon_png, f"{stem}_images.png", mime="image/png",
                                key="dl-images", on_click="ignore")
