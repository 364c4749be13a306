"""Compress: the sparse NMF basis of a face set compressed by TSVD and by ReLU-NMD."""
import numpy as np
import streamlit as st

import nmdcore
from nmdcore import metrics
from ui import compress, controls, export, figures, layout, results, runs
from ui import data as uidata
from ui.results import tsvd_baseline
from ui.state import persistent

layout.page("Compress", "An NMF of the face images F ≈ X V (X ≥ 0 sparse, V ≥ 0) gives a basis X of full rank. "
                        "ReLU-NMD stores X as rank-r factors far better than a truncated SVD does (Wang, Cui & Han "
                        "(2024), §III-C).")
seed = layout.seed()

solvers = controls.solvers_for("compress")

offline = {e["name"]: e.get("offline") for e in uidata.catalogue()}
sources = ["olivetti", "mnist5k"]
names = {"olivetti": "ORL / Olivetti faces (64×64)" + ("" if offline.get("olivetti") else " — needs a download"),
         "mnist5k": "MNIST 5k digits (28×28)"}
c1, c2, c3 = st.columns([2, 1, 1])
source = persistent(c1.selectbox, "compress_source", "olivetti" if offline.get("olivetti") else "mnist5k",
                    "Images whose NMF basis is compressed", options=sources, format_func=names.get)
nmf_rank = int(persistent(c2.number_input, "compress_nmf_rank", 100, "NMF rank k", min_value=10, max_value=200,
                          step=10, help="Columns k of the basis X (Wang, Cui & Han use 100 for ORL)."))
sweeps = int(persistent(c3.number_input, "compress_sweeps", 300, "NMF sweeps", min_value=1, max_value=1000,
                        step=50, help="Iterations of the NMF that builds X (it stops earlier once converged)."))

key = (source, nmf_rank, sweeps)
slot = st.empty()  # one place for the whole basis step, so the page below keeps its layout
if not compress.basis_ready(*key):
    with slot.container():
        st.info("The NMF basis is computed once (one to a few minutes), then kept on disk and in memory.")
        if not st.button("Compute the NMF basis", type="primary", key="compress_basis"):
            st.stop()
        bar = st.progress(0.0, text="NMF: starting")
        st.button("Stop", key="compress_basis_stop", help="Stops the NMF at its next progress report.")
        try:
            compress.nmf_basis(source, nmf_rank, sweeps,
                               progress=lambda f, msg: bar.progress(min(max(f, 0.0), 1.0), text=msg))
        except nmdcore.NMDError as exc:
            st.error(str(exc))
            st.stop()
slot.empty()
basis = compress.nmf_basis(source, nmf_rank, sweeps)
U, M, shape = basis["U"], basis["M"], basis["image_shape"]
m, k = U.shape
nnz = int(np.count_nonzero(U))
subset = (f" (the NMF error uses {metrics.COMPRESSED_NMF_MAX_COLUMNS} evenly spaced columns of F)"
          if M.shape[1] > metrics.COMPRESSED_NMF_MAX_COLUMNS else "")
st.caption(f"X (the basis) is {m}×{k}, {1 - nnz / U.size:.0%} zeros, numerical rank {np.linalg.matrix_rank(U)}; "
           f"F (the images) is {M.shape[0]}×{M.shape[1]}{subset}.")

SLOT = "compress"
left, right = st.columns([1, 2])
with left:
    default_solver = next((s for s in ("a_nmd", "ebcd", "nmd_tm") if s in solvers), solvers[0])
    solver = controls.solver_picker(solvers, key="compress_solver", default=default_solver)
    for name in ("compress_rank", "_kept_compress_rank"):  # a rank kept from a larger basis
        if st.session_state.get(name, 0) > k - 1:
            st.session_state[name] = k - 1
    with st.form("compress_form"):
        r = int(persistent(st.slider, "compress_rank", min(55, k - 1), "Rank r", min_value=1, max_value=k - 1))
        submitted = st.form_submit_button("Compress", type="primary", key="compress_run", width="stretch")
        params = controls.hyperparameters(solver, prefix="compress")
        run_cfg = controls.budgets("compress", max_iter=500, time_limit=20.0)
with right:
    runs.stop_row(SLOT, "compress_stop")

data_key = uidata.content_key(U)
if submitted:
    runs.start(SLOT, [runs.Job(U, r, solver, params, init=run_cfg["init"], max_iter=run_cfg["max_iter"],
                               time_limit=run_cfg["time_limit"], seed=seed)], inputs=data_key)


def live_curve(run, histories):
    spec = nmdcore.SOLVERS[run.jobs[0].solver]
    st.plotly_chart(figures.convergence(histories[-1][1], objective_label=spec.objective, solver=spec.key),
                    key="compress-convergence", width="stretch")


run = runs.section(SLOT, data_key, prompt="Choose r and a solver, then press **Compress**.", draw=live_curve,
                   where=right)
res = run.result
r = res.rank
spec = nmdcore.SOLVERS[res.solver]
base = tsvd_baseline(data_key, r, U)
curve = figures.convergence(run.histories()[-1][1], objective_label=spec.objective, solver=res.solver,
                            tsvd_error=base["relu_error"])
with right:
    st.success(results.outcome(spec.label, r, res.n_iter, res.history["time"][-1], res.stop_reason,
                               run.stopped_by == runs.BY_YOU))
    st.plotly_chart(curve, key="compress-convergence", width="stretch")
    warning = results.run_warning(res.stop_reason, res.relu_error, base["relu_error"])
    if warning:
        st.warning(warning, icon=":material/warning:")
    results.chart_downloads(curve, f"compress_{res.solver}_r{r}", "compress-dl", st.columns(4)[:2])
U_tsvd = np.maximum(base["W"] @ base["H"], 0)
U_nmd = np.maximum(res.theta, 0)


@st.cache_data(show_spinner="Solving the nonnegative least squares of eq. (10)…", max_entries=16)
def eq10(data_key: str, which: str, _M, _U_hat) -> float:
    return metrics.compressed_nmf_error(_M, _U_hat)


e_orig = eq10(data_key, "original", M, U)
e_tsvd = eq10(data_key, f"tsvd-{r}", M, U_tsvd)
e_nmd = eq10(data_key, uidata.content_key(U_nmd), M, U_nmd)
store = compress.storage(m, k, r, nnz)
cols = st.columns(3)
cols[0].metric("TSVD: ReLU error ‖X − max(0, Θ)‖/‖X‖", f"{base['relu_error']:.4f}")
cols[1].metric(f"{spec.label}: ReLU error", f"{res.relu_error:.4f}")
cols[2].metric("Storage saved vs dense X", f"{1 - store['rank-r factors'] / store['dense U']:.0%}",
               help=f"dense X: {store['dense U']:,} numbers; sparse X: {store['sparse U']:,} "
                    f"(value + index); rank-{r} factors W, H: {store['rank-r factors']:,}.")
cols = st.columns(3)
nmf_help = (r"$\min_{V \ge 0} \lVert F - \hat X V\rVert_F / \lVert F\rVert_F$: how well the images are rebuilt "
            r"from the basis $\hat X$ (eq. (10) of Wang, Cui & Han (2024)).")
cols[0].metric("NMF error with the original X", f"{e_orig:.4f}", help=nmf_help)
cols[1].metric("NMF error with X̂ = max(0, TSVD)", f"{e_tsvd:.4f}", help=nmf_help)
cols[2].metric(f"NMF error with X̂ = max(0, Θ) of {spec.label}", f"{e_nmd:.4f}", help=nmf_help)

st.subheader("Basis images")
count = int(persistent(st.slider, "compress_count", 10, "Basis images shown", min_value=1, max_value=min(20, k)))
rows = []
for arr in (U, U_tsvd, U_nmd):
    rows.append([figures.image_tile(arr[:, j], shape, float(U[:, j].max()) or 1.0) for j in range(count)])
grid = results.grid_png(rows, ("original X", f"max(0, TSVD)\nr = {r}", f"max(0, Θ)\n{spec.label}, r = {r}"),
                        tuple(f"#{j}" for j in range(count)))
st.image(grid, width="stretch")
st.caption("Each column is one basis image on the scale of its original (as in Wang, Cui & Han (2024), Fig. 7).")

st.subheader("Where they differ")
# the basis image where ReLU-NMD removes the most error (absolute, so that a nearly empty image never wins)
gain = np.linalg.norm(U - U_tsvd, axis=0) - np.linalg.norm(U - U_nmd, axis=0)
best = int(np.argmax(gain))
j = int(st.columns(4)[0].number_input("Basis image", 0, k - 1, best, key="compress_zoom",
                                      help="Starts at the basis image where ReLU-NMD gains most over TSVD."))
top = float(U[:, j].max()) or 1.0
view = export.difference_view(U[:, j].reshape(shape) / top,
                              {f"max(0, TSVD), r = {r}": U_tsvd[:, j].reshape(shape) / top,
                               f"max(0, Θ), {spec.label}": U_nmd[:, j].reshape(shape) / top},
                              title=f"Basis image #{j}, zoomed")
st.image(results.figure_png(view), width="stretch")
st.caption("Top: the basis image and its two rank-r approximations on one grey scale. Bottom: where each "
           "approximation is wrong, on one shared scale (white = exact); the title gives its relative error.")

with st.expander("Errors versus r"):
    grid_text = st.text_input("Ranks", "10, 25, 40, 55, 70, 85", key="compress_grid")
    ranks = sorted({int(v) for v in grid_text.replace(";", ",").split(",") if v.strip().isdigit()
                    and 1 <= int(v) < k})
    if st.button("Compute the curve", key="compress_curve") and ranks:
        bar = st.progress(0.0)
        rows_tsvd, rows_nmd = [], []
        for i, rr in enumerate(ranks):
            bar.progress(i / len(ranks), text=f"r = {rr}")
            out = compress.relu_compress(U, rr, res.solver, max_iter=run_cfg["max_iter"],
                                         time_limit=run_cfg["time_limit"], seed=seed)
            rows_tsvd.append(metrics.compressed_nmf_error(M, out["tsvd"]))
            rows_nmd.append(metrics.compressed_nmf_error(M, out["nmd"]))
        bar.empty()
        st.session_state["compress_curve_data"] = {"key": key, "ranks": ranks, "TSVD": rows_tsvd,
                                                   spec.label: rows_nmd, "original": e_orig}
    curve = st.session_state.get("compress_curve_data")
    if curve and curve["key"] == key:
        series = {name: v for name, v in curve.items() if name not in ("key", "ranks", "original")}
        series["original X"] = [curve["original"]] * len(curve["ranks"])
        st.plotly_chart(figures.lines(curve["ranks"], series, xlabel="rank r",
                                      ylabel="NMF error min ‖F − X̂V‖ / ‖F‖"), key="compress-curve",
                        width="stretch")
