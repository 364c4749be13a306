"""The Applications page: completion from the positive entries, distance matrix completion and
threshold similarity embedding, each run live (Gillis, Porcelli & Seraghiti 2025, §5)."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import nmdcore
from nmdcore import applications as app
from nmdcore import synthetic
from nmdcore.solvers.offset import OFFSET_SOLVERS

from . import controls, figures, layout, live, text
from .state import persistent

TASKS = {
    "completion": "Completion from the positive entries",
    "distances": "Distance matrix completion",
    "embedding": "Threshold similarity embedding",
}


# ------------------------------------------------------------------ shared pieces

def _solver_choice(keys: list, key: str, default: list) -> list:
    return persistent(st.multiselect, key, [k for k in default if k in keys], "Solvers", options=keys,
                      format_func=controls.solver_label)


def _jobs(chosen: list, params: dict, seed: int, init: str, *, extra: dict | None = None, tsvd: bool) -> list:
    jobs = [{"solver": k, "params": {**params[k], **(extra or {})}, "seed": seed, "init": init,
             "label": nmdcore.SOLVERS[k].label} for k in chosen]
    if tsvd:
        jobs.insert(0, {"solver": "tsvd", "params": {}, "seed": seed, "init": "tsvd", "label": "TSVD"})
    return jobs


def run_jobs(X, rank: int, jobs: list, *, run_cfg: dict, state_key: str, problem_key: str, chart, status,
             key: str, extra: dict | None = None) -> None:
    """The one place every task runs its solvers: live curves in ``chart``, results (with Θ) kept in
    ``st.session_state[state_key]`` even when Stop ends the runs."""
    record = {"data_key": problem_key, "rank": rank, "runs": [], "in_flight": True, **(extra or {})}
    st.session_state[state_key] = record
    try:
        live.run_sequence(X, rank, jobs, run=run_cfg, chart=chart, status=status, record=record, key=key,
                          keep_theta=True, x_axis="time")
    except nmdcore.NMDError as exc:
        st.error(text.escape_markdown(exc))
    finally:
        record["in_flight"] = False


#: Longest wait, in seconds, for a stopped run to hand over its result (see :func:`outcome`).
HANDOVER_WAIT_S = 5.0


def outcome(state_key: str, problem_key: str, status, prompt: str) -> dict:
    """The runs kept for this problem, once complete; else the prompt, and the page stops.

    A click during a run makes Streamlit stop that run and start the next one at once, in
    another thread (fast reruns): the stopped run may still be handing its result over
    (``run_jobs`` marks it in flight until then), so wait for it, at most ``HANDOVER_WAIT_S``.
    """
    record = st.session_state.get(state_key)
    deadline = time.monotonic() + HANDOVER_WAIT_S
    while record is not None and record.get("in_flight") and time.monotonic() < deadline:
        time.sleep(0.02)
    return live.sequence_outcome(state_key, problem_key, status, prompt)


def _sweep_progress(state_key: str, key: tuple, total: int):
    """The stored points of a sweep for ``key`` (restarted when the key changed)."""
    sweep = st.session_state.get(state_key)
    if not sweep or sweep["key"] != key:
        sweep = {"key": key, "points": {}, "total": total}
        st.session_state[state_key] = sweep
    return sweep


# ------------------------------------------------------------------ 1. completion

def completion(seed: int) -> None:
    """Only the positive entries of a low-rank Θ* are seen; ReLU-NMD recovers all of Θ*."""
    st.markdown("Θ* = W H is a random matrix of rank r*. Only its **positive entries** are observed: "
                "X = max(0, Θ*). A rank-r* ReLU-NMD of X recovers Θ* itself — the hidden negative entries "
                "too — while the truncated SVD of X does not (Saul (2022); Gillis, Porcelli & Seraghiti "
                "(2025), §5.1).")
    keys = controls.solvers_for("applications")
    c1, c2 = st.columns(2)
    size = int(persistent(c1.slider, "apps_comp_size", 100, "Matrix size m = n", min_value=30, max_value=400,
                          step=10))
    r_true = int(persistent(c2.slider, "apps_comp_rtrue", 5, "Rank r* of Θ*", min_value=1, max_value=20))
    X, W, H = synthetic.relu_lowrank(size, size, r_true, random_state=seed, return_factors=True)
    truth = W @ H
    problem_key = f"completion-{size}-{r_true}-{seed}"
    st.caption(f"X is {size}×{size}, {np.mean(X > 0):.0%} of the entries observed (the positive ones).")

    left, right = st.columns([1, 2])
    with left:
        chosen = _solver_choice(keys, "apps_comp_solvers", ["a_nmd", "ebcd", "nmd_3b"])
        with st.form("apps_comp_form"):
            rank = int(persistent(st.slider, "apps_comp_rank", r_true, "Rank r", min_value=1, max_value=30))
            run_cfg = controls.budgets("apps_comp", max_iter=2000, time_limit=10.0)
            params = controls.hyperparameter_expanders(chosen, "apps_comp")
            submitted = st.form_submit_button("Run", type="primary", key="apps_comp_run", width="stretch")
        st.button("Stop", key="apps_comp_stop", width="stretch")
    with right:
        status, chart = st.empty(), st.empty()
    if submitted and chosen:
        run_jobs(X, rank, _jobs(chosen, params, seed, run_cfg["init"], tsvd=True), run_cfg=run_cfg,
                 state_key="apps_comp_record", problem_key=problem_key, chart=chart, status=status,
                 key="apps-comp")
    record = outcome("apps_comp_record", problem_key, status, "Choose solvers and press **Run**.")
    runs = record["runs"]
    chart.plotly_chart(figures.comparison({r["label"]: r["history"] for r in runs}, x="time"),
                       key="apps-comp-final", width="stretch")
    errors = {r["label"]: app.relative_error(r["theta"], truth) for r in runs}
    st.session_state["apps_comp_errors"] = errors
    st.dataframe(pd.DataFrame([{"solver": r["label"], "ground-truth error ‖Θ − Θ*‖/‖Θ*‖": errors[r["label"]],
                                "fit ‖X − max(0,Θ)‖/‖X‖": r["relu_error"], "iterations": r["n_iter"],
                                "stop": r["stop_reason"]} for r in runs]), hide_index=True, width="stretch")

    labels = [r["label"] for r in runs]
    shown = persistent(st.selectbox, "apps_comp_shown", min(errors, key=errors.get), "Recovery shown",
                       options=labels)
    theta = next(r["theta"] for r in runs if r["label"] == shown)
    block = slice(0, min(size, 60))
    top = float(np.max(np.abs(truth[block, block])))
    st.plotly_chart(figures.heatmaps({"hidden Θ*": truth[block, block], "observed X = max(0, Θ*)": X[block, block],
                                      f"recovered Θ ({shown})": theta[block, block]},
                                     zmin=-top, zmax=top, colorscale="RdBu"), key="apps-comp-maps", width="stretch")
    st.plotly_chart(figures.heatmaps({f"error |Θ − Θ*| ({shown})": np.abs(theta - truth)[block, block]},
                                     zmax=top, colorscale="Viridis"), key="apps-comp-error", width="stretch")
    st.caption(f"The first {block.stop} rows and columns; one colour scale for Θ*, X and Θ.")

    st.subheader("Ground-truth error versus iterations")
    series, grid = ground_truth_curves(record, X, truth)
    st.plotly_chart(figures.lines(grid, series, xlabel="iterations", ylabel="‖Θ − Θ*‖/‖Θ*‖", log_y=True,
                                  dashed=("TSVD",)), key="apps-comp-curve", width="stretch")
    st.caption("Each point reruns the solver from the same start for that many iterations; TSVD is one shot.")


def _budget_grid(n_iter: int, points: int = 12) -> np.ndarray:
    return np.unique(np.geomspace(1, max(n_iter, 1), points).round().astype(int))


@st.cache_data(show_spinner="Rerunning each solver for its ground-truth curve…", max_entries=32)
def _truth_curve(problem_key: str, solver: str, params: tuple, init: str, seed: int, rank: int,
                 budgets: tuple, _X, _truth) -> list:
    out = []
    for k in budgets:
        res = nmdcore.decompose(_X, rank, solver=solver, init=init, max_iter=int(k), tol=0, tol_stall=0,
                                random_state=seed, **dict(params))
        out.append(app.relative_error(res.theta, _truth))
    return out


def ground_truth_curves(record: dict, X, truth) -> tuple[dict, np.ndarray]:
    """Ground-truth error of each run's solver after k iterations, on a grid up to its iteration count."""
    grid = _budget_grid(max(r["n_iter"] for r in record["runs"]))
    series = {}
    for r in record["runs"]:
        if r["solver"] == "tsvd":
            series["TSVD"] = [app.relative_error(r["theta"], truth)] * len(grid)
            continue
        budgets = tuple(int(k) for k in grid if k <= r["n_iter"])
        values = _truth_curve(record["data_key"], r["solver"], tuple(sorted(r["params"].items())), r["init"],
                              r["seed"], record["rank"], budgets, X, truth)
        series[r["label"]] = values + [np.nan] * (len(grid) - len(values))
    return series, grid


# ------------------------------------------------------------------ 2. distances

def distances(seed: int) -> None:
    """Only the squared distances below a threshold are seen; the offset model recovers all of them."""
    st.markdown("Points in R^dim; only the squared distances **below a threshold d** are observed: "
                "X = max(0, d·11ᵀ − D), where D (rank ≤ dim + 2) holds all squared distances. The offset "
                "model X ≈ max(0, Θ + d·11ᵀ) of rank dim + 2 recovers Θ = −D, and classical MDS the points "
                "(Gillis, Porcelli & Seraghiti (2025), §5.2).")
    c1, c2, c3, c4 = st.columns(4)
    kind = persistent(c1.selectbox, "apps_dist_kind", "cube", "Point cloud", options=list(app.POINT_CLOUDS),
                      format_func={"cube": "uniform cube", "spiral": "spiral", "clusters": "clusters"}.get)
    dim = int(persistent(c2.radio, "apps_dist_dim", 3, "Dimension", options=[2, 3], horizontal=True))
    n = int(persistent(c3.slider, "apps_dist_n", 60, "Points n", min_value=20, max_value=200, step=10))
    fraction = float(persistent(c4.slider, "apps_dist_fraction", 0.7, "Observed fraction", min_value=0.1,
                                max_value=0.95, step=0.05))
    P = app.point_cloud(kind, n, dim, random_state=seed)
    D = app.squared_distances(P)
    X, d = app.observe_small_distances(D, fraction)
    rank = dim + 2
    problem_key = f"distances-{kind}-{dim}-{n}-{fraction}-{seed}"
    st.caption(f"{n} points, X is {n}×{n} with {np.mean(X > 0):.0%} of the entries observed, threshold "
               f"d = {d:.4g}; rank dim + 2 = {rank}.")

    left, right = st.columns([1, 2])
    with left:
        chosen = _solver_choice(list(OFFSET_SOLVERS), "apps_dist_solvers", ["ebcd", "a_nmd", "nmd_3b"])
        with st.form("apps_dist_form"):
            run_cfg = controls.budgets("apps_dist", max_iter=100_000, time_limit=10.0, starts=("random", "tsvd"))
            params = controls.hyperparameter_expanders(chosen, "apps_dist")
            submitted = st.form_submit_button("Run", type="primary", key="apps_dist_run", width="stretch")
        st.button("Stop", key="apps_dist_stop", width="stretch")
    with right:
        status, chart = st.empty(), st.empty()
    if submitted and chosen:
        run_jobs(X, rank, _jobs(chosen, params, seed, run_cfg["init"], extra={"offset": d}, tsvd=False),
                 run_cfg=run_cfg, state_key="apps_dist_record", problem_key=problem_key, chart=chart,
                 status=status, key="apps-dist")
    record = outcome("apps_dist_record", problem_key, status, "Choose solvers and press **Run**.")
    runs = record["runs"]
    chart.plotly_chart(figures.comparison({r["label"]: r["history"] for r in runs}, x="time"),
                       key="apps-dist-final", width="stretch")
    rows, recovered = [], {}
    for r in runs:
        estimate = -r["theta"]
        try:
            aligned, residual = app.procrustes(P, app.classical_mds(estimate, dim))
        except nmdcore.NMDError:  # a run that diverged: no points to align
            aligned, residual = np.full_like(P, np.nan), np.nan
        recovered[r["label"]] = aligned
        rows.append({"solver": r["label"], "ground-truth error ‖D̂ − D‖/‖D‖": app.relative_error(estimate, D),
                     "points after alignment ‖P̂ − P‖/‖P − c‖": residual,
                     "latent residual": float(r["history"]["objective"][-1]), "iterations": r["n_iter"],
                     "time (s)": float(r["history"]["time"][-1]), "stop": r["stop_reason"]})
    table = pd.DataFrame(rows)
    st.session_state["apps_dist_table"] = table
    st.dataframe(table, hide_index=True, width="stretch")
    best = rows[int(np.argmin([row["ground-truth error ‖D̂ − D‖/‖D‖"] for row in rows]))]["solver"]
    shown = persistent(st.selectbox, "apps_dist_shown", best, "Recovered points shown", options=list(recovered))
    st.plotly_chart(point_figure(P, recovered[shown], shown), key="apps-dist-points", width="stretch")

    st.subheader("Ground-truth error versus observed fraction")
    fraction_sweep(P, D, dim, chosen, params, run_cfg_sweep(seed), problem_key=f"{kind}-{dim}-{n}-{seed}")


def point_figure(P_true, P_est, label: str) -> go.Figure:
    """True points and the recovered ones (aligned) in one rotatable 3-D scatter (z = 0 in 2-D)."""
    def xyz(P):
        return P if P.shape[0] == 3 else np.vstack([P, np.zeros(P.shape[1])])

    fig = go.Figure()
    for P, name, symbol, color in ((xyz(P_true), "true points", "circle", figures.PALETTE[0]),
                                   (xyz(P_est), f"recovered ({label})", "diamond-open", figures.PALETTE[1])):
        fig.add_trace(go.Scatter3d(x=P[0], y=P[1], z=P[2], mode="markers", name=name,
                                   marker=dict(size=4, symbol=symbol, color=color)))
    fig.update_layout(height=460, margin=dict(l=0, r=0, t=10, b=0), scene=dict(aspectmode="data"))
    return fig


def run_cfg_sweep(seed: int) -> dict:
    c1, c2 = st.columns(2)
    seconds = float(persistent(c1.number_input, "apps_dist_sweep_time", 2.0, "Seconds per run", min_value=0.2,
                               max_value=60.0, step=1.0, help="The authors give each run 10 s or more."))
    grid = persistent(c2.text_input, "apps_dist_sweep_grid", "0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9",
                      "Observed fractions")
    fractions = sorted({float(v) for v in grid.replace(";", ",").split(",") if _is_fraction(v)})
    return {"seed": seed, "time_limit": seconds, "fractions": fractions}


def _is_fraction(text: str) -> bool:
    try:
        return 0.0 < float(text) < 1.0
    except ValueError:
        return False


def fraction_sweep(P, D, dim: int, chosen: list, params: dict, cfg: dict, *, problem_key: str) -> None:
    """Ground-truth error of each offset solver, and of the plain rank-(dim+3) model, per observed fraction."""
    if not chosen or not cfg["fractions"]:
        st.info("Choose solvers and at least one fraction between 0 and 1.")
        return
    plain = chosen[0]
    labels = [nmdcore.SOLVERS[k].label for k in chosen] + [f"plain rank {dim + 3} ({nmdcore.SOLVERS[plain].label})"]
    key = (problem_key, tuple(chosen), tuple(cfg["fractions"]), cfg["time_limit"])
    sweep = _sweep_progress("apps_dist_sweep", key, len(cfg["fractions"]) * len(labels))
    start = st.button("Compute the curve", key="apps_dist_sweep_run")
    st.button("Stop", key="apps_dist_sweep_stop", help="Keeps the points computed so far.")
    if start:
        sweep["points"] = {}
        bar = st.progress(0.0)
        done = 0
        for fraction in cfg["fractions"]:
            X, d = app.observe_small_distances(D, fraction)
            runs = [(k, nmdcore.SOLVERS[k].label, dim + 2, d) for k in chosen] + [(plain, labels[-1], dim + 3, 0.0)]
            for solver, label, rank, offset in runs:
                bar.progress(done / sweep["total"], text=f"{label} at {fraction:.0%} observed")
                res = nmdcore.decompose(X, rank, solver=solver, init="random", random_state=cfg["seed"],
                                        max_iter=1_000_000, time_limit=cfg["time_limit"], tol=0, tol_stall=0,
                                        offset=offset, **params[solver])
                estimate = -res.theta if offset else d - res.theta
                sweep["points"][(label, fraction)] = app.relative_error(estimate, D)
                done += 1
        bar.empty()
    if not sweep["points"]:
        st.caption("Each point is a run from the papers' random start with the time budget above "
                   f"({sweep['total']} runs).")
        return
    series = {label: [sweep["points"].get((label, f), np.nan) for f in cfg["fractions"]] for label in labels}
    st.plotly_chart(figures.lines(cfg["fractions"], series, xlabel="observed fraction", ylabel="‖D̂ − D‖/‖D‖",
                                  log_y=True, dashed=(labels[-1],)), key="apps-dist-sweep", width="stretch")
    st.caption(f"The plain model fits X ≈ max(0, Θ) of rank {dim + 3} (the rank of d·11ᵀ − D) without knowing d "
               "in the fit, and estimates D̂ = d − Θ; every error is relative to D.")
    if len(sweep["points"]) < sweep["total"]:
        st.caption(f"Stopped: {len(sweep['points'])} of {sweep['total']} runs done.")


# ------------------------------------------------------------------ 3. embedding

def embedding(seed: int) -> None:
    """Threshold similarity of images, its rank-r ReLU-NMD, and the r-dimensional embedding from Θ."""
    st.markdown("The similarity S_ij = max(0, ⟨y_i, y_j⟩ − τ‖y_i‖‖y_j‖) of images y_i keeps only the pairs "
                "whose cosine exceeds τ. From a rank-r ReLU-NMD Θ of S, G = Θ + τ/(1 − τ)·u uᵀ "
                "(u = √diag Θ) is the Gram matrix of r-dimensional points whose angles match the close pairs' "
                "(Saul (2022), TMLR; Gillis, Porcelli & Seraghiti (2025), §5.3).")
    data = layout.chosen_data(kinds=("image_set",))
    total = data.X.shape[1]
    keys = controls.solvers_for("applications")
    c1, c2, c3 = st.columns(3)
    count = int(persistent(c1.slider, "apps_emb_count", 300, "Images (evenly spaced)", min_value=20,
                           max_value=800, step=20))
    tau = float(persistent(c2.slider, "apps_emb_tau", 0.6, "Threshold τ", min_value=0.0, max_value=0.95,
                           step=0.05))
    dims = int(persistent(c3.radio, "apps_emb_dims", 2, "Plot", options=[2, 3], horizontal=True,
                          format_func=lambda k: f"{k}-D"))
    if total < 5:
        st.error(f"The embedding needs at least 5 images; {text.escape_markdown(data.title)} has {total}.")
        st.stop()
    pick = np.linspace(0, total - 1, min(count, total)).astype(int)
    Y = np.asarray(data.X[:, pick], dtype=np.float64)
    labels = None if data.labels is None else np.asarray(data.labels)[pick]
    S = app.threshold_similarity(Y, tau)
    problem_key = f"embedding-{data.key}-{len(pick)}-{tau}"
    st.caption(f"S is {len(pick)}×{len(pick)}, {np.mean(S > 0):.1%} nonzero.")

    left, right = st.columns([1, 2])
    with left:
        solver = controls.solver_picker(keys, key="apps_emb_solver", default="ebcd")
        with st.form("apps_emb_form"):
            rank = int(persistent(st.slider, "apps_emb_rank", 10, "Rank r (embedding dimension)", min_value=3,
                                  max_value=min(50, len(pick) - 1)))
            run_cfg = controls.budgets("apps_emb", max_iter=300, time_limit=20.0)
            params = controls.hyperparameters(solver, prefix="apps_emb")
            submitted = st.form_submit_button("Run", type="primary", key="apps_emb_run", width="stretch")
        st.button("Stop", key="apps_emb_stop", width="stretch")
    with right:
        status, chart = st.empty(), st.empty()
    if submitted:
        run_jobs(S, rank, _jobs([solver], {solver: params}, seed, run_cfg["init"], tsvd=True), run_cfg=run_cfg,
                 state_key="apps_emb_record", problem_key=problem_key, chart=chart, status=status, key="apps-emb",
                 extra={"run_cfg": run_cfg})
    record = outcome("apps_emb_record", problem_key, status, "Choose a solver and press **Run**.")
    runs = record["runs"]
    chart.plotly_chart(figures.comparison({r["label"]: r["history"] for r in runs}, x="time"),
                       key="apps-emb-final", width="stretch")
    points, deviation = {}, {}
    try:
        for r in runs:
            points[r["label"]] = app.tsm_embedding(r["theta"], tau, record["rank"])
            deviation[r["label"]] = app.mean_angular_deviation(Y, points[r["label"]], tau)
    except nmdcore.NMDError as exc:  # e.g. no pair of images above τ
        st.error(text.escape_markdown(exc))
        st.stop()
    st.session_state["apps_emb_deviation"] = deviation
    cols = st.columns(len(runs))
    for col, r in zip(cols, runs):
        col.metric(f"mean angular deviation, {r['label']}", f"{deviation[r['label']]:.4f} rad")
    st.plotly_chart(embedding_figure(points, labels, dims), key="apps-emb-points", width="stretch")

    st.subheader("Mean angular deviation versus r")
    rank_sweep(Y, S, tau, solver, params, record["run_cfg"], seed, problem_key)


def embedding_figure(points: dict, labels, dims: int) -> go.Figure:
    """The first ``dims`` coordinates of each embedding, coloured by label."""
    kind = "scene" if dims == 3 else "xy"
    fig = make_subplots(rows=1, cols=len(points), subplot_titles=list(points),
                        specs=[[{"type": kind}] * len(points)])
    groups = np.unique(labels) if labels is not None else [None]
    for col, T in enumerate(points.values(), start=1):
        for i, g in enumerate(groups):
            mask = np.ones(T.shape[1], bool) if g is None else labels == g
            marker = dict(size=3 if dims == 3 else 5, color=figures.PALETTE[i % len(figures.PALETTE)])
            name = "items" if g is None else f"label {g}"
            if dims == 3:
                trace = go.Scatter3d(x=T[0, mask], y=T[1, mask], z=T[2, mask], mode="markers", name=name,
                                     marker=marker, legendgroup=name, showlegend=col == 1)
            else:
                trace = go.Scatter(x=T[0, mask], y=T[1, mask], mode="markers", name=name, marker=marker,
                                   legendgroup=name, showlegend=col == 1)
            fig.add_trace(trace, row=1, col=col)
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def rank_sweep(Y, S, tau: float, solver: str, params: dict, run_cfg: dict, seed: int, problem_key: str) -> None:
    """Mean angular deviation of the ReLU-NMD and TSVD embeddings for several r."""
    grid = persistent(st.text_input, "apps_emb_grid", "2, 5, 10, 15, 20, 30", "Ranks")
    ranks = sorted({int(v) for v in grid.replace(";", ",").split(",") if v.strip().isdigit()
                    and 1 <= int(v) < S.shape[0]})
    label = nmdcore.SOLVERS[solver].label
    key = (problem_key, solver, tuple(sorted(params.items())), tuple(ranks), run_cfg["max_iter"])
    sweep = _sweep_progress("apps_emb_sweep", key, 2 * len(ranks))
    start = st.button("Compute the curve", key="apps_emb_sweep_run",
                      help=f"{label} with the iteration and time budgets above, and TSVD, at each r.")
    st.button("Stop", key="apps_emb_sweep_stop", help="Keeps the points computed so far.")
    if start and ranks:
        sweep["points"] = {}
        bar = st.progress(0.0)
        for i, r in enumerate(ranks):
            bar.progress(i / len(ranks), text=f"r = {r}")
            for name, key_ in (("TSVD", "tsvd"), (label, solver)):
                res = nmdcore.decompose(S, r, solver=key_, init=run_cfg["init"] if key_ != "tsvd" else "tsvd",
                                        max_iter=run_cfg["max_iter"], time_limit=run_cfg["time_limit"],
                                        random_state=seed, **(params if key_ == solver else {}))
                sweep["points"][(name, r)] = app.mean_angular_deviation(Y, app.tsm_embedding(res.theta, tau, r), tau)
        bar.empty()
    if not sweep["points"]:
        return
    series = {name: [sweep["points"].get((name, r), np.nan) for r in ranks] for name in (label, "TSVD")}
    st.plotly_chart(figures.lines(ranks, series, xlabel="rank r", ylabel="mean angular deviation (rad)",
                                  dashed=("TSVD",)), key="apps-emb-sweep", width="stretch")
