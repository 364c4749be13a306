"""Symmetric: ReLU-NMD of a symmetric matrix, M ≈ max(0, U Uᵀ) (Wang et al. 2025), against SymNMF and TSVD."""
import numpy as np
import pandas as pd
import streamlit as st

import nmdcore
from nmdcore import synthetic
from ui import controls, figures, layout, runs
from ui import data as uidata
from ui.state import persistent
from ui.text import escape_markdown

layout.page("Symmetric", "A sparse symmetric M (a similarity graph, or the synthetic matrix of Wang et al. 2025) approximated "
                         "by max(0, U Uᵀ): NSMD-APB/AAPB against SymANLS/SymHALS and TSVD.")
seed = layout.seed()

keys = controls.solvers_for(("symmetric",), input_kind=("symmetric",))
if not keys:
    layout.say_missing("The symmetric solver family (NSMD-APB/AAPB, SymANLS, SymHALS)")
    st.stop()

SYNTHETIC, GRAPH = "Synthetic (Wang et al. 2025, eq. 11)", "kNN similarity graph of an image set"
source = persistent(st.radio, "sym_source", SYNTHETIC, "Matrix", options=[SYNTHETIC, GRAPH], horizontal=True)
c1, c2, c3 = st.columns(3)
if source == SYNTHETIC:
    n = int(persistent(c1.slider, "sym_n", 150, "n", min_value=20, max_value=500, step=10))
    r_true = int(persistent(c2.slider, "sym_r_true", 8, "rank of U Uᵀ", min_value=1, max_value=30))
    threshold = float(persistent(c3.slider, "sym_threshold", 0.1, "threshold (sparsity)", min_value=0.0,
                                 max_value=0.9, step=0.05))
    M = synthetic.symmetric_relu(n, r_true, threshold, random_state=seed)
    title = f"M = max(0, UUᵀ − {threshold:g}·max(UUᵀ)), n = {n}, rank UUᵀ = {r_true}"
    labels = None
    setting = (source, n, r_true, threshold, seed)
else:
    sets = [e for e in uidata.catalogue() if e.get("kind") == "image_set" and e.get("offline")]
    if not sets:
        layout.say_missing("An offline image set")
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
    with st.form("sym_form"):
        rank = int(persistent(st.slider, "sym_rank", min(8, M.shape[0] - 1), "Rank r", min_value=1,
                              max_value=min(60, M.shape[0] - 1)))
        submitted = st.form_submit_button("Run", type="primary", key="sym_run", width="stretch")
        with_tsvd = persistent(st.checkbox, "sym_tsvd", True, "Also TSVD")
        run_cfg = controls.budgets("sym", max_iter=500, time_limit=10.0, starts=("tsvd", "random"))
        params = {}
        for key in chosen:
            with st.expander(f"{nmdcore.SOLVERS[key].label} hyperparameters"):
                params[key] = controls.hyperparameters(key, prefix="sym")
with right:
    with runs.stop_row(SLOT, "sym_stop"):
        x_axis = persistent(st.radio, "sym_x", "time", "x axis", options=["time", "iteration"], horizontal=True)


def curves_figure(histories):
    return figures.comparison(dict(histories), x=x_axis)


if submitted and chosen:
    jobs = [runs.Job(M, rank, k, params[k], init=run_cfg["init"], max_iter=run_cfg["max_iter"],
                     time_limit=run_cfg["time_limit"], seed=seed) for k in chosen]
    if with_tsvd:
        jobs.insert(0, runs.Job(M, rank, "tsvd", seed=seed, label="TSVD"))
    # the settings that make M name it (its bytes can differ in the last bit from one product to the next)
    runs.start(SLOT, jobs, inputs=setting, meta={"rank": rank})



def live_curves(run, histories):
    st.plotly_chart(curves_figure(histories), key="sym-curves", width="stretch")


run = runs.section(SLOT, setting, prompt="Choose solvers and press **Run**.", draw=live_curves, where=right)
with right:
    st.success(f"{run.outcome()} at r = {run.meta['rank']}.")
    live_curves(run, run.histories())
done = list(zip(run.jobs, run.results))
table = pd.DataFrame([{"solver": job.label, "ReLU error ‖M − max(0,Θ)‖/‖M‖": res.relu_error,
                       "iterations": res.n_iter, "time (s)": float(res.history["time"][-1]),
                       "stop": run.stop_reason(res)}
                      for job, res in done])
st.dataframe(table, hide_index=True, width="stretch")
st.session_state["sym_table"] = table

st.subheader("Heatmaps")
size = M.shape[0]
order = np.argsort(labels, kind="stable") if labels is not None else np.arange(size)
block = int(persistent(st.slider, "sym_block", min(size, 150), "Block shown (first rows/columns)",
                       min_value=10, max_value=size))
idx = order[:block]
panels = {"M": M[np.ix_(idx, idx)]}
for job, res in done:
    panels[job.label] = np.maximum(res.theta[np.ix_(idx, idx)], 0)
st.plotly_chart(figures.heatmaps(panels), key="sym-heatmaps", width="stretch")
if labels is not None:
    st.caption("Items sorted by class, so a block-diagonal pattern means the graph and its approximation "
               "keep the classes apart.")
