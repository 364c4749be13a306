"""Drawing a finished (or stopped) run: metrics, reconstructions, downloads, Python snippet."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import streamlit as st

import nmdcore

from . import figures
from .data import Data


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
    if isinstance(init, str) and init == "tsvd" and nmdcore.SOLVERS[solver].start_names[:2] == ("W", "H"):
        base = tsvd_baseline(data_key, rank, X)
        return {"W": base["W"], "H": base["H"]}
    return init


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


def image_reconstructions(data: Data, record: dict, baseline: dict, indices) -> bytes:
    """Original | TSVD | max(0, Θ) for the chosen images; returns the grid as PNG bytes."""
    X, res = data.X, record["result"]
    idx = np.asarray(list(indices), dtype=int)
    orig = X[:, idx].astype(np.float64)
    tsvd = np.maximum(baseline["W"] @ baseline["H"][:, idx], 0)
    nmd = np.maximum(np.asarray(res.theta)[:, idx], 0)
    e_tsvd, e_nmd = relative_errors(orig, tsvd, axis=0), relative_errors(orig, nmd, axis=0)
    rows = [[], [], []]
    cols = st.columns(len(idx)) if len(idx) else []
    for c, j in enumerate(idx):
        top = float(orig[:, c].max()) or 1.0
        tiles = [figures.image_tile(a[:, c], data.image_shape, top) for a in (orig, tsvd, nmd)]
        for row, tile in zip(rows, tiles):
            row.append(tile)
        with cols[c]:
            st.image(np.vstack(tiles), caption=f"#{j}: TSVD {e_tsvd[c]:.3f} · NMD {e_nmd[c]:.3f}",
                     width="stretch", clamp=True)
    st.caption("Each column, top to bottom: original, TSVD at rank r, max(0, Θ) of the ReLU-NMD at rank r; "
               "the numbers are per-image relative errors.")
    return figures.tiles_png(rows)


def whole_image(data: Data, record: dict, baseline: dict) -> bytes:
    """Original | max(0, TSVD) | max(0, Θ) when the matrix is itself one image; returns the PNG."""
    X = np.asarray(data.X, dtype=np.float64)
    top = float(X.max()) or 1.0
    panels = {"original": X, "max(0, TSVD)": np.maximum(baseline["W"] @ baseline["H"], 0),
              "max(0, Θ)": np.maximum(np.asarray(record["result"].theta, dtype=np.float64), 0)}
    cols = st.columns(3)
    tiles = []
    for col, (name, img) in zip(cols, panels.items()):
        tile = np.clip(img / top, 0, 1)
        tiles.append(tile)
        err = relative_errors(X, img)
        col.image(tile, caption=f"{name}" + ("" if name == "original" else f" — relative error {err:.3f}"),
                  width="stretch", clamp=True)
    return figures.tiles_png([tiles])


def block_heatmaps(data: Data, record: dict, baseline: dict, rows: tuple, cols: tuple) -> None:
    """X, TSVD and max(0, Θ) on a block of the matrix (non-image data)."""
    r0, r1 = rows
    c0, c1 = cols
    X = data.X[r0:r1, c0:c1]
    tsvd = np.maximum(baseline["W"][r0:r1] @ baseline["H"][:, c0:c1], 0)
    nmd = np.maximum(np.asarray(record["result"].theta)[r0:r1, c0:c1], 0)
    fig = figures.heatmaps({"X": X, "TSVD": tsvd, "max(0, Θ)": nmd})
    st.plotly_chart(fig, width="stretch", key="block-heatmaps")
    st.caption(f"Block rows {r0}–{r1 - 1}, columns {c0}–{c1 - 1}: relative error on the block "
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


def downloads(record: dict, recon_png: bytes | None) -> None:
    """Download buttons: factors (.npz), history (.csv), figures (.png)."""
    res = record["result"]
    stem = f"{res.solver}_r{res.rank}"
    cols = st.columns(4)
    cols[0].download_button("Factors (.npz)", lambda: factors_npz(record), f"{stem}_factors.npz",
                            mime="application/octet-stream", key="dl-npz")
    cols[1].download_button("History (.csv)", lambda: history_csv(res.history), f"{stem}_history.csv",
                            mime="text/csv", key="dl-csv")
    spec = nmdcore.SOLVERS[res.solver]
    cols[2].download_button("Curve (.png)", lambda: figures.convergence_png(res.history, spec.objective),
                            f"{stem}_curve.png", mime="image/png", key="dl-curve")
    if recon_png is not None:
        cols[3].download_button("Images (.png)", recon_png, f"{stem}_images.png", mime="image/png",
                                key="dl-images")
