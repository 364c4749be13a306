"""Symmetric: ReLU-NMD of a symmetric matrix, X ≈ max(0, W Wᵀ), against symmetric NMF and TSVD."""
import numpy as np
import pandas as pd
import streamlit as st

from nmdcore import synthetic
from ui import controls, figures, layout, results, runs
from ui import data as uidata
from ui.state import persistent
from ui.text import escape_markdown

layout.page("Symmetric", "A sparse symmetric X (a similarity graph, or the synthetic matrix of Wang (2025)) "
                         "approximated by max(0, Θ) with Θ = W Wᵀ of rank r: NSMD-APB/AAPB against SymANLS/SymHALS "
                         "and TSVD.")
seed = layout.seed()

keys = controls.solvers_for("symmetric")

SYNTHETIC, GRAPH = "Synthetic: a thresholded W Wᵀ (Wang (2025))", "kNN similarity graph of an image set"
source = persistent(st.radio, "sym_source", SYNTHETIC, "Matrix", options=[SYNTHETIC, GRAPH], horizontal=True)
c1, c2, c3 = st.columns(3)
if source == SYNTHETIC:
    n = int(persistent(c1.slider, "sym_n", 150, "n", min_value=20, max_value=500, step=10))
    r_true = int(persistent(c2.slider, "sym_r_true", 8, "rank of W Wᵀ", min_value=1, max_value=30))
    threshold = float(persistent(c3.slider, "sym_threshold", 0.1, "threshold (sparsity)", min_value=0.0,
                                 max_value=0.9, step=0.05))
    M = synthetic.symmetric_relu(n, r_true, threshold, random_state=seed)
    title = f"X = max(0, WWᵀ − {threshold:g}·max(WWᵀ)), n = {n}, rank WWᵀ = {r_true}"
    labels = None
    setting = (source, n, r_true, threshold, seed)
else:
    sets = [e for e in uidata.catalogue() if e.get("kind") == "image_set" and e.get("offline")]
    if not sets:
        st.info("No image set is available offline here; choose the synthetic matrix.")
        st.stop()
    name = persistent(c1.selectbox, "sym_images", sets[0]["name"], "Image set",
                      options=[e["name"] for e in sets],
                      format_func={e["name"]: e["title"] for e in sets}.get)
    count = int(persistent(c2.slider, "sym_count", 300, "images (evenly spaced)", min_value=50, max_value=1000,
                           step=50))
    images = uidata.load_named(name)
    pick = np.linspace(0, images.X.shape[1] - 1, min(count, images.X.shape[1])).astype(int)
    from nmdcore.similarity import knn_similarity

    @st.cache_data(show_spinner="Building the kNN similarity graph…", max_entries=8)
    def graph(key: str, count: int, _X):
        return knn_similarity(_X, items="columns").toarray()

    M = graph(images.key, len(pick), images.X[:, pick])
    labels = None if images.labels is None else np.asarray(images.labels)[pick]
    title = f"self-tuning kNN graph of {len(pick)} images of {images.title}"
    setting = (source, images.key, len(pick))
st.caption(f"{escape_markdown(title)}: {M.shape[0]}×{M.shape[1]}, {1 - np.count_nonzero(M) / M.size:.0%} zeros.")
data = uidata.from_array(M, "symmetric", title)

SLOT = "symmetric"
left, right = st.columns([1, 2])
with left:
    chosen = persistent(st.multiselect, "sym_solvers", keys, "Solvers", options=keys,
                        format_func=controls.solver_label)
    controls.solver_notes(chosen)
    with st.form("sym_form"):
        rank = int(persistent(st.slider, "sym_rank", min(8, M.shape[0] - 1), "Rank r", min_value=1,
                              max_value=min(60, M.shape[0] - 1)))
        submitted = st.form_submit_button("Run", type="primary", key="sym_run", width="stretch")
        with_tsvd = persistent(st.checkbox, "sym_tsvd", True, "Also TSVD")
        run_cfg = controls.budgets("sym", max_iter=500, time_limit=10.0, starts=("tsvd", "random"))
        params = controls.hyperparameter_expanders(chosen, prefix="sym")
with right:
    with runs.stop_row(SLOT, "sym_stop"):
        x_axis = persistent(st.radio, "sym_x", "time", "x axis", options=["time", "iteration"], horizontal=True)


def live_curves(run, histories):
    st.plotly_chart(figures.comparison(dict(histories), x=x_axis), key="sym-curves", width="stretch")

if submitted and chosen:
    jobs = [runs.Job(M, rank, k, params[k], init=run_cfg["init"], max_iter=run_cfg["max_iter"],
                     time_limit=run_cfg["time_limit"], seed=seed) for k in chosen]
    if with_tsvd:
        jobs.insert(0, runs.Job(M, rank, "tsvd", seed=seed, label="TSVD"))
    # the settings that make M name the run (M's bytes can differ in the last bit from one product to the next)
    runs.start(SLOT, jobs, inputs=setting, meta={"rank": rank})

run = runs.section(SLOT, setting, prompt="Choose solvers and press **Run**.", draw=live_curves, where=right)
done = [dict(solver=job.solver, label=job.label, history=res.history, relu_error=res.relu_error,
             n_iter=res.n_iter, stop_reason=run.stop_reason(res), theta=res.theta)
        for job, res in zip(run.jobs, run.results)]
record = dict(run.meta, runs=done)
curves = figures.comparison(dict(run.histories()), x=x_axis)
with right:
    st.success(f"{run.outcome()} at r = {run.meta['rank']}.")
    st.plotly_chart(curves, key="sym-curves", width="stretch")
tsvd_error = results.tsvd_baseline(data.key, record["rank"], M)["relu_error"]
with right:
    for r in done:
        warning = results.run_warning(r["stop_reason"], r["relu_error"], tsvd_error)
        if warning:
            st.warning(f"**{r['label']}**: {warning}", icon=":material/warning:")
    results.chart_downloads(curves, f"symmetric_r{record['rank']}", "sym-dl", st.columns(4)[:2])
table = pd.DataFrame([{"solver": r["label"], "ReLU error ‖X − max(0, Θ)‖/‖X‖": r["relu_error"],
                       "iterations": r["n_iter"], "time (s)": float(r["history"]["time"][-1]),
                       "how it ended": results.stop_sentence(r["stop_reason"])} for r in done])
st.dataframe(table, hide_index=True, width="stretch")
st.session_state["sym_table"] = table

st.subheader("Heatmaps")
size = M.shape[0]
order = np.argsort(labels, kind="stable") if labels is not None else np.arange(size)
block = int(persistent(st.slider, "sym_block", min(size, 150), "Block shown (first rows/columns)",
                       min_value=10, max_value=size))
idx = order[:block]
panels = {"X": M[np.ix_(idx, idx)]}
for r in done:
    panels[f"max(0, Θ): {r['label']}"] = np.maximum(r["theta"][np.ix_(idx, idx)], 0)
st.plotly_chart(figures.heatmaps(panels, clip_quantile=0.99), key="sym-heatmaps", width="stretch")
st.caption("White is zero; the darkest blue is the top 1 % of the positive entries of all panels, so that a few "
           "large values do not wash out the rest."
           + (" Items are sorted by class, so a block-diagonal pattern means the graph and its approximation "
              "keep the classes apart." if labels is not None else ""))
