"""Explore: one dataset, one solver, a live convergence curve, reconstructions and downloads."""
import time

import numpy as np
import streamlit as st

import nmdcore
from ui import controls, figures, layout, live, results
from ui import data as uidata
from ui.state import persistent

layout.page("Explore", "Pick a dataset and a solver; the curve grows while the solver runs, Stop keeps "
                       "what it has so far.")
seed = layout.seed()
data = layout.chosen_data()
m, n = data.X.shape

keys = controls.solvers_for("explore")
left, right = st.columns([1, 2])
with left:
    solver = controls.solver_picker(keys, key="explore_solver")
    spec = nmdcore.SOLVERS[solver]
    with st.form("explore_form", border=True):
        rank = controls.rank_slider(data.X.shape, inclusive=spec.max_rank_inclusive)
        params = controls.hyperparameters(solver, prefix="explore")
        run_cfg = controls.budgets("explore") if spec.iterative else {"init": "tsvd", "max_iter": 1,
                                                                      "time_limit": 60.0}
        reuse = persistent(st.checkbox, "explore_reuse", True, "Reuse an identical earlier run",
                           help="Results are cached by the SHA-256 of the data and every setting.")
        submitted = st.form_submit_button("Run", type="primary", key="run", width="stretch")
    st.button("Stop", key="stop", width="stretch",
              help="Stops the running solver; its result so far is kept.")

with right:
    x_axis = persistent(st.radio, "explore_x", "iteration", "x axis", options=["iteration", "time"],
                        horizontal=True)
    status = st.empty()
    chart = st.empty()

record_key = (data.key, solver, rank, tuple(sorted(params.items())), run_cfg["init"], run_cfg["max_iter"],
              run_cfg["time_limit"], seed)


def save(result, stopped, stats):
    record = {"result": result, "stopped": stopped, "data_key": data.key,
              "dataset": data.name if data.from_catalogue else None,
              "seed": seed, "run": run_cfg, "cached": False,
              "stats": {"first_point_s": stats.first_point_s, "update_rate_hz": stats.update_rate_hz,
                        "redraws": stats.redraws}}
    st.session_state["explore_record"] = record
    if not stopped:
        uidata.store_result(record_key, record)


if submitted:
    clicked = time.perf_counter()
    refusal = uidata.memory_refusal(data.X, [solver], rank)
    hit = uidata.stored_result(record_key) if reuse else None
    if refusal:
        st.error(refusal)
    elif hit is not None:
        st.session_state["explore_record"] = dict(hit, cached=True)
    else:
        try:
            start = run_cfg
            if run_cfg["init"] == "tsvd" and spec.shares_tsvd_start:
                # the same start as init="tsvd", shared with the TSVD baseline (cached per data and rank)
                base = results.tsvd_baseline(data.key, rank, data.X)
                start = dict(run_cfg, init={"W": base["W"], "H": base["H"]})
            with right:
                live.run_live(data.X, rank, solver, params=params, run=start, seed=seed, chart=chart,
                              status=status, x_axis=x_axis, key="explore-live", on_done=save, started=clicked)
        except nmdcore.NMDError as exc:
            st.session_state.pop("explore_record", None)
            st.error(str(exc))

record = st.session_state.get("explore_record")
if record is None or record["data_key"] != data.key:
    with right:
        status.info("Set the controls and press **Run**.")
    st.stop()

res = record["result"]
spec = nmdcore.SOLVERS[res.solver]
baseline = results.tsvd_baseline(data.key, res.rank, data.X)
curve = figures.convergence(res.history, x=x_axis, objective_label=spec.objective, solver=res.solver,
                            tsvd_error=baseline["relu_error"])
with right:
    cached = " Reused from an identical earlier run." if record.get("cached") else ""
    status.success(results.outcome(spec.label, res.rank, res.n_iter, res.history["time"][-1], res.stop_reason,
                                   record["stopped"]) + cached)
    chart.plotly_chart(curve, key="explore-final", width="stretch")
    warning = results.run_warning(res.stop_reason, res.relu_error, baseline["relu_error"])
    if warning:
        st.warning(warning, icon=":material/warning:")

results.metrics(record, baseline)

st.subheader("Reconstructions")
recon_png = None
if data.is_images:
    c1, c2, c3 = st.columns([1, 1, 2])
    by_class = data.labels is not None and c3.checkbox("One image per class", value=True, key="per_class")
    count = c2.slider("Images", 1, 12, 6, key="n_images")
    first = c1.number_input("First image", 0, n - 1, 0, key="first_image")
    if by_class:
        labels = np.asarray(data.labels)
        picks = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)][:count]
    else:
        picks = list(range(int(first), min(int(first) + count, n)))
    recon_png = results.image_reconstructions(data, record, baseline, picks)
elif data.kind == "image":
    recon_png = results.whole_image(data, record, baseline)
else:
    c1, c2, c3 = st.columns(3)
    size = c3.slider("Block size", 10, 80, 40, key="block_size")
    r0 = c1.number_input("First row", 0, max(m - 1, 0), 0, key="block_row")
    c0 = c2.number_input("First column", 0, max(n - 1, 0), 0, key="block_col")
    results.block_heatmaps(data, record, baseline, (int(r0), min(int(r0) + size, m)),
                           (int(c0), min(int(c0) + size, n)))

st.subheader("Downloads")
results.downloads(record, recon_png, curve)

with st.expander("The same call in Python"):
    run = record["run"]
    st.code(controls.python_snippet(record["dataset"], res.solver, res.rank, res.params, run, record["seed"]),
            language="python")
