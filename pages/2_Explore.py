"""Explore: one dataset, one solver, a live convergence curve, reconstructions and downloads."""
import time

import numpy as np
import streamlit as st

import nmdcore
from ui import controls, figures, layout, results, runs
from ui import data as uidata
from ui.state import persistent

layout.page("Explore", "Pick a dataset and a solver; the curve grows while the solver runs, Stop keeps "
                       "what it has so far.")
seed = layout.seed()
data = layout.chosen_data()
m, n = data.X.shape

SLOT = "explore"
#: The example run a first visit shows on the default dataset: the page's default solver and rank,
#: a short iteration budget (computed once per server).
EXAMPLE = {"solver": "ebcd", "rank": 20, "max_iter": 50}


@st.cache_resource(show_spinner="Computing the example run (once for this server)…", max_entries=2)
def _example_result(key: str, _X):
    return nmdcore.decompose(_X, EXAMPLE["rank"], solver=EXAMPLE["solver"], init="tsvd",
                             max_iter=EXAMPLE["max_iter"], random_state=0)


def example_run(data) -> runs.Run | None:
    """The example run on the default dataset when this session has no run of its own there."""
    if data.name != uidata.default_dataset_name(uidata.catalogue()) or not data.from_catalogue \
            or EXAMPLE["solver"] not in nmdcore.SOLVERS or EXAMPLE["rank"] >= min(data.X.shape):
        return None
    job = runs.Job(data.X, EXAMPLE["rank"], EXAMPLE["solver"], init="tsvd", max_iter=EXAMPLE["max_iter"],
                   time_limit=None)
    run = {"init": "tsvd", "max_iter": EXAMPLE["max_iter"], "time_limit": None}
    return runs.Run.finished([job], [_example_result(data.key, data.X)], inputs=data.key,
                             meta={"example": True, "dataset": data.name, "seed": 0, "run": run})


keys = controls.solvers_for("explore")
left, right = st.columns([1, 2])
with left:
    solver = controls.solver_picker(keys, key="explore_solver")
    spec = nmdcore.SOLVERS[solver]
    with st.form("explore_form", border=True):
        rank = controls.rank_slider(data.X.shape, inclusive=spec.max_rank_inclusive)
        # Run comes before the longer list of settings below, so it is in view without scrolling
        submitted = st.form_submit_button("Run", type="primary", key="run", width="stretch",
                                          help="Runs the solver with every setting of this box.")
        params = controls.hyperparameters(solver, prefix="explore")
        run_cfg = controls.budgets("explore") if spec.iterative else {"init": "tsvd", "max_iter": 1,
                                                                      "time_limit": 60.0}
        reuse = persistent(st.checkbox, "explore_reuse", True, "Reuse an identical earlier run",
                           help="Results are cached by the SHA-256 of the data and every setting.")

with right:
    with runs.stop_row(SLOT, "stop"):
        x_axis = persistent(st.radio, "explore_x", "iteration", "x axis", options=["iteration", "time"],
                            horizontal=True)

if submitted:
    clicked = time.perf_counter()
    record_key = (data.key, solver, rank, tuple(sorted(params.items())), run_cfg["init"], run_cfg["max_iter"],
                  run_cfg["time_limit"], seed)
    meta = {"record_key": record_key, "dataset": data.name if data.from_catalogue else None, "seed": seed,
            "run": run_cfg}
    job = runs.Job(data.X, rank, solver, params, init=run_cfg["init"], max_iter=run_cfg["max_iter"],
                   time_limit=run_cfg["time_limit"], seed=seed)
    refusal = uidata.memory_refusal(data.X, [solver], rank)
    hit = uidata.stored_result(record_key) if reuse else None
    if refusal:
        st.error(refusal)
    elif hit is not None:
        runs.keep(SLOT, runs.Run.finished([job], [hit], inputs=data.key, meta=dict(meta, cached=True)))
    else:
        try:
            job.init = results.shared_start(data.key, data.X, rank, solver, run_cfg["init"])
            runs.start(SLOT, [job], inputs=data.key, meta=meta, started=clicked)
        except nmdcore.NMDError as exc:
            st.error(str(exc))



def live_curve(run, histories):
    spec = nmdcore.SOLVERS[run.jobs[0].solver]
    st.plotly_chart(figures.convergence(histories[-1][1], x=x_axis, objective_label=spec.objective),
                    key="explore-curve", width="stretch")


run = runs.section(SLOT, data.key, prompt="Set the controls and press **Run**.", draw=live_curve, where=right,
                   fallback=lambda: example_run(data))
res = run.result
spec = nmdcore.SOLVERS[res.solver]
if not run.stopped_by and "record_key" in run.meta:
    uidata.store_result(run.meta["record_key"], res)  # finished runs are reused by identical requests
record = dict(run.meta, result=res, stopped=bool(run.stopped_by), stats={"first_point_s": run.first_point_s})
baseline = results.tsvd_baseline(data.key, res.rank, data.X)
curve = figures.convergence(run.histories()[-1][1], x=x_axis, objective_label=spec.objective, solver=res.solver,
                            tsvd_error=baseline["relu_error"])
with right:
    if run.meta.get("example"):
        st.info(f"An example run, computed once on this server: {spec.label} at r = {res.rank}, "
                f"{res.n_iter} iterations from the TSVD start. Set the controls and press **Run** for your own.")
    else:
        cached = " Reused from an identical earlier run." if run.meta.get("cached") else ""
        closed = " Its browser tab was closed or reloaded during the run." \
            if run.stopped_by == runs.BY_CLOSED_TAB else ""
        st.success(results.outcome(spec.label, res.rank, res.n_iter, res.history["time"][-1], res.stop_reason,
                                   run.stopped_by == runs.BY_YOU) + cached + closed)
    st.plotly_chart(curve, key="explore-curve", width="stretch")
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
