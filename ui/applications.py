"""The Applications page: completion from the positive entries, distance matrix completion and
threshold similarity embedding, each run live (Gillis, Porcelli & Seraghiti 2025, §5).

Every solver call of the page, sweeps included, is a run of :mod:`ui.runs`: Stop, other clicks and
visits to other pages keep it, and each task finds its last run again."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import nmdcore
from nmdcore import applications as app
from nmdcore import synthetic

from . import controls, figures, layout, runs, text
from .state import persistent

TASKS = {
    "completion": "Completion from the positive entries",
    "distances": "Distance matrix completion",
    "embedding": "Threshold similarity embedding",
}

#: The run slots of the page (:func:`ui.runs.start`): one per task, one per sweep.
COMPLETION, DISTANCES, FRACTION_SWEEP = "apps_completion", "apps_distances", "apps_fraction_sweep"
EMBEDDING, RANK_SWEEP = "apps_embedding", "apps_rank_sweep"


# ------------------------------------------------------------------ shared pieces

def _solver_choice(keys: list, key: str, default: list) -> list:
    return persistent(st.multiselect, key, [k for k in default if k in keys], "Solvers", options=keys,
                      format_func=controls.solver_label)


def _jobs(X, rank: int, chosen: list, params: dict, seed: int, run_cfg: dict, *, extra: dict | None = None,
          tsvd: bool) -> list:
    """One job per chosen solver with the page's budgets (and TSVD first, when asked)."""
    jobs = [runs.Job(X, rank, k, {**params[k], **(extra or {})}, init=run_cfg["init"], max_iter=run_cfg["max_iter"],
                     time_limit=run_cfg["time_limit"], seed=seed) for k in chosen]
    if tsvd:
        jobs.insert(0, runs.Job(X, rank, "tsvd", seed=seed, label="TSVD"))
    return jobs


def _x_axis(slot: str, key: str, right) -> str:
    """The x-axis choice of the curves, beside the Stop button of ``slot`` above them."""
    with right, runs.stop_row(slot, f"{key}_stop"):
        return persistent(st.radio, f"{key}_x", "time", "x axis", options=["time", "iteration"], horizontal=True)


def run_section(slot: str, inputs, *, prompt: str, right, x_axis: str, chart_key: str) -> runs.Run:
    """The run of a task for ``inputs``: live curves in ``right`` while it runs; once it has ended, how it
    ended and its curves, and the run is returned (else the page stops here)."""
    def curves(run, histories):
        st.plotly_chart(figures.comparison(dict(histories), x=x_axis), key=chart_key, width="stretch")

    run = runs.section(slot, inputs, prompt=prompt, draw=curves, where=right)
    with right:
        st.success(f"{run.outcome()} at r = {run.jobs[0].rank}.")
        curves(run, run.histories())
    return run


def sweep_section(slot: str, inputs, *, jobs, at: list, value, button: str, prompt: str, draw) -> dict:
    """A sweep: several solver calls as one run, each giving one point ``(series, x)``.

    Parameters
    ----------
    slot : str
    inputs : hashable
        What the sweep is about (its problem and settings).
    jobs : callable
        ``jobs() -> list of runs.Job``, started when the button is pressed.
    at : list
        ``(series, x)`` of each job.
    value : callable
        ``value((series, x), job, result) -> float``: the point of a job (may raise :class:`nmdcore.NMDError`).
    button : str
        Key of the button that starts the sweep (its Stop button is ``button + "_stop"``).
    prompt : str
        Shown before the first sweep.
    draw : callable
        ``draw(points)`` draws ``{(series, x): value}``, live and at the end.

    Returns
    -------
    dict
        The points of the sweep's jobs that ran their full budget; the page stops when there is no sweep.
    """
    c1, c2 = st.columns([3, 1])
    start = c1.button("Compute the curve", key=button)
    with c2:
        runs.stop_button(slot, key=f"{button}_stop")
    if start:
        runs.start(slot, jobs(), inputs=inputs, meta={"at": at})
    run = runs.section(slot, inputs, prompt=prompt, draw=lambda run, histories: draw(sweep_points(run, value)))
    points = sweep_points(run, value)
    draw(points)
    for message in sorted(set(run.meta.get("failed", {}).values())):
        st.error(text.escape_markdown(message))
    if run.stopped_by is not None:
        st.caption(f"Sweep {run.outcome()}: {len(points)} of {len(run.jobs)} points, each from a run that "
                   "used its whole budget.")
    return points


def sweep_points(run: runs.Run, value) -> dict:
    """``{(series, x): value}`` of every job of a sweep run that was not stopped, each computed once."""
    done, failed = run.meta.setdefault("values", {}), run.meta.setdefault("failed", {})
    for i, (job, res) in enumerate(zip(run.jobs, list(run.results))):
        if i in done or i in failed or res.stop_reason == "interrupted":
            continue
        try:
            done[i] = value(run.meta["at"][i], job, res)
        except nmdcore.NMDError as exc:
            failed[i] = f"{job.label}: {exc}"
    return {run.meta["at"][i]: v for i, v in sorted(done.items())}


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
    x_axis = _x_axis(COMPLETION, "apps_comp", right)
    if submitted and chosen:
        runs.start(COMPLETION, _jobs(X, rank, chosen, params, seed, run_cfg, tsvd=True), inputs=problem_key)
    run = run_section(COMPLETION, problem_key, prompt="Choose solvers and press **Run**.", right=right,
                      x_axis=x_axis, chart_key="apps-comp-curves")
    done = list(zip(run.jobs, run.results))
    errors = {job.label: app.relative_error(res.theta, truth) for job, res in done}
    st.session_state["apps_comp_errors"] = errors
    st.dataframe(pd.DataFrame([{"solver": job.label, "ground-truth error ‖Θ − Θ*‖/‖Θ*‖": errors[job.label],
                                "fit ‖X − max(0,Θ)‖/‖X‖": res.relu_error, "iterations": res.n_iter,
                                "stop": run.stop_reason(res)} for job, res in done]), hide_index=True, width="stretch")

    shown = persistent(st.selectbox, "apps_comp_shown", min(errors, key=errors.get), "Recovery shown",
                       options=list(errors))
    theta = next(res.theta for job, res in done if job.label == shown)
    block = slice(0, min(size, 60))
    top = float(np.max(np.abs(truth[block, block])))
    st.plotly_chart(figures.heatmaps({"hidden Θ*": truth[block, block], "observed X = max(0, Θ*)": X[block, block],
                                      f"recovered Θ ({shown})": theta[block, block]},
                                     zmin=-top, zmax=top, colorscale="RdBu"), key="apps-comp-maps", width="stretch")
    st.plotly_chart(figures.heatmaps({f"error |Θ − Θ*| ({shown})": np.abs(theta - truth)[block, block]},
                                     zmax=top, colorscale="Viridis"), key="apps-comp-error", width="stretch")
    st.caption(f"The first {block.stop} rows and columns; one colour scale for Θ*, X and Θ.")

    st.subheader("Ground-truth error versus iterations")
    series, grid = ground_truth_curves(run, X, truth)
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


def ground_truth_curves(run: runs.Run, X, truth) -> tuple[dict, np.ndarray]:
    """Ground-truth error of each job's solver after k iterations, on a grid up to its iteration count."""
    done = list(zip(run.jobs, run.results))
    grid = _budget_grid(max(res.n_iter for _, res in done))
    series = {}
    for job, res in done:
        if job.solver == "tsvd":
            series[job.label] = [app.relative_error(res.theta, truth)] * len(grid)
            continue
        budgets = tuple(int(k) for k in grid if k <= res.n_iter)
        values = _truth_curve(run.inputs, job.solver, tuple(sorted(job.params.items())), job.init, job.seed,
                              job.rank, budgets, X, truth)
        series[job.label] = values + [np.nan] * (len(grid) - len(values))
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
        with_offset = [k for k, s in nmdcore.SOLVERS.items() if s.run_offset is not None]
        chosen = _solver_choice(with_offset, "apps_dist_solvers", ["ebcd", "a_nmd", "nmd_3b"])
        with st.form("apps_dist_form"):
            run_cfg = controls.budgets("apps_dist", max_iter=100_000, time_limit=10.0, starts=("random", "tsvd"))
            params = controls.hyperparameter_expanders(chosen, "apps_dist")
            submitted = st.form_submit_button("Run", type="primary", key="apps_dist_run", width="stretch")
    x_axis = _x_axis(DISTANCES, "apps_dist", right)
    if submitted and chosen:
        runs.start(DISTANCES, _jobs(X, rank, chosen, params, seed, run_cfg, extra={"offset": d}, tsvd=False),
                   inputs=problem_key)
    run = run_section(DISTANCES, problem_key, prompt="Choose solvers and press **Run**.", right=right,
                      x_axis=x_axis, chart_key="apps-dist-curves")
    rows, recovered = [], {}
    for job, res in zip(run.jobs, run.results):
        estimate = -res.theta
        try:
            aligned, residual = app.procrustes(P, app.classical_mds(estimate, dim))
        except nmdcore.NMDError:  # a run that diverged: no points to align
            aligned, residual = np.full_like(P, np.nan), np.nan
        recovered[job.label] = aligned
        rows.append({"solver": job.label, "ground-truth error ‖D̂ − D‖/‖D‖": app.relative_error(estimate, D),
                     "points after alignment ‖P̂ − P‖/‖P − c‖": residual,
                     "latent residual": float(res.history["objective"][-1]), "iterations": res.n_iter,
                     "time (s)": float(res.history["time"][-1]), "stop": run.stop_reason(res)})
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
    plain_label = f"plain rank {dim + 3} ({nmdcore.SOLVERS[plain].label})"
    calls = [(k, nmdcore.SOLVERS[k].label, dim + 2, True) for k in chosen] + [(plain, plain_label, dim + 3, False)]
    thresholds = {f: app.observe_small_distances(D, f) for f in cfg["fractions"]}

    def jobs():
        return [runs.Job(X, rank, solver, {**params[solver], "offset": d if offset else 0.0, "tol": 0,
                                           "tol_stall": 0},
                         init="random", max_iter=1_000_000, time_limit=cfg["time_limit"], seed=cfg["seed"],
                         label=f"{label} at {f:.0%} observed")
                for f, (X, d) in thresholds.items() for solver, label, rank, offset in calls]

    def error(point, job, res):
        d = thresholds[point[1]][1]
        return app.relative_error(-res.theta if job.params["offset"] else d - res.theta, D)

    def draw(points):  # with markers: a sweep in progress has single points
        series = {label: [points.get((label, f), np.nan) for f in cfg["fractions"]] for _, label, _, _ in calls}
        fig = figures.lines(cfg["fractions"], series, xlabel="observed fraction", ylabel="‖D̂ − D‖/‖D‖", log_y=True,
                            dashed=(plain_label,))
        st.plotly_chart(fig.update_traces(mode="lines+markers"), key="apps-dist-sweep", width="stretch")

    settings = tuple((k, tuple(sorted(params[k].items()))) for k in chosen)
    sweep_section(FRACTION_SWEEP, (problem_key, settings, tuple(cfg["fractions"]), cfg["time_limit"]), jobs=jobs,
                  at=[(label, f) for f in cfg["fractions"] for _, label, _, _ in calls], value=error,
                  button="apps_dist_sweep_run", draw=draw,
                  prompt=f"Press **Compute the curve**: each point is a run from the papers' random start with the "
                         f"time budget above ({len(cfg['fractions']) * len(calls)} runs).")
    st.caption(f"The plain model fits X ≈ max(0, Θ) of rank {dim + 3} (the rank of d·11ᵀ − D) without knowing d "
               "in the fit, and estimates D̂ = d − Θ; every error is relative to D.")


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
    x_axis = _x_axis(EMBEDDING, "apps_emb", right)
    if submitted:
        runs.start(EMBEDDING, _jobs(S, rank, [solver], {solver: params}, seed, run_cfg, tsvd=True),
                   inputs=problem_key)
    run = run_section(EMBEDDING, problem_key, prompt="Choose a solver and press **Run**.", right=right,
                      x_axis=x_axis, chart_key="apps-emb-curves")
    points, deviation = {}, {}
    try:
        for job, res in zip(run.jobs, run.results):
            points[job.label] = app.tsm_embedding(res.theta, tau, job.rank)
            deviation[job.label] = app.mean_angular_deviation(Y, points[job.label], tau)
    except nmdcore.NMDError as exc:  # e.g. no pair of images above τ
        st.error(text.escape_markdown(exc))
        st.stop()
    st.session_state["apps_emb_deviation"] = deviation
    for col, (label, value) in zip(st.columns(len(deviation)), deviation.items()):
        col.metric(f"mean angular deviation, {label}", f"{value:.4f} rad")
    st.plotly_chart(embedding_figure(points, labels, dims), key="apps-emb-points", width="stretch")

    st.subheader("Mean angular deviation versus r")
    rank_sweep(Y, S, tau, run.jobs[-1], problem_key)


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


def rank_sweep(Y, S, tau: float, main: runs.Job, problem_key: str) -> None:
    """Mean angular deviation of the ReLU-NMD and TSVD embeddings for several r, with the budgets, start
    and hyperparameters of the run above (``main``: its solver's job)."""
    grid = persistent(st.text_input, "apps_emb_grid", "2, 5, 10, 15, 20, 30", "Ranks")
    ranks = sorted({int(v) for v in grid.replace(";", ",").split(",") if v.strip().isdigit()
                    and 1 <= int(v) < S.shape[0]})
    if not ranks:
        st.info(f"Enter ranks from 1 to {S.shape[0] - 1}, separated by commas.")
        return
    names = ("TSVD", main.label)

    def jobs():
        return [runs.Job(S, r, "tsvd", seed=main.seed, label=f"TSVD, r = {r}") if name == "TSVD"
                else runs.Job(S, r, main.solver, main.params, init=main.init, max_iter=main.max_iter,
                              time_limit=main.time_limit, seed=main.seed, label=f"{name}, r = {r}")
                for r in ranks for name in names]

    def deviation(point, job, res):
        return app.mean_angular_deviation(Y, app.tsm_embedding(res.theta, tau, job.rank), tau)

    def draw(points):
        series = {name: [points.get((name, r), np.nan) for r in ranks] for name in names[::-1]}
        fig = figures.lines(ranks, series, xlabel="rank r", ylabel="mean angular deviation (rad)", dashed=("TSVD",))
        st.plotly_chart(fig.update_traces(mode="lines+markers"), key="apps-emb-sweep", width="stretch")

    inputs = (problem_key, main.solver, tuple(sorted(main.params.items())), main.init, main.max_iter,
              main.time_limit, main.seed, tuple(ranks))
    sweep_section(RANK_SWEEP, inputs, jobs=jobs, at=[(name, r) for r in ranks for name in names], value=deviation,
                  button="apps_emb_sweep_run", draw=draw,
                  prompt=f"Press **Compute the curve**: {main.label} with the budgets of the run above, and TSVD, "
                         f"at each r ({2 * len(ranks)} runs).")
